//! The filters, tests and functions a notification template may use, and how much
//! each can make its value grow. The same growth rules serve the static bound over
//! the parsed template ([`super::analysis`]) and the checks made while rendering:
//! before a filter runs, its result's largest possible size is computed from its
//! actual input and arguments and refused when over the cap; after, the real size
//! is checked and charged to the render's budget.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, State, Value, filters, tests};

use super::{
    MAX_INDENT_WIDTH, MAX_JSON_INDENT, MAX_RANGE_ITEMS, MAX_RENDER_VALUE_BYTES, MAX_VALUE_BYTES,
    Size, size_of,
};

/// What is known about one argument of a filter or function: its size and, when it
/// is a literal (or, while rendering, always), its value.
#[derive(Debug, Clone)]
pub(super) struct Arg {
    pub size: Size,
    pub value: Option<Value>,
}

impl Arg {
    pub fn known(value: Value) -> Arg {
        Arg {
            size: size_of(&value, MAX_VALUE_BYTES.saturating_add(1)),
            value: Some(value),
        }
    }
}

/// The arguments of one call: positional ones and keyword ones, apart.
#[derive(Debug, Clone, Default)]
pub(super) struct Args {
    pub pos: Vec<Arg>,
    pub kw: Vec<(String, Arg)>,
}

impl Args {
    fn get(&self, index: usize, name: &str) -> Option<&Arg> {
        self.pos
            .get(index)
            .or_else(|| self.kw.iter().find(|(k, _)| k == name).map(|(_, a)| a))
    }
}

/// Filters notification templates may use. Anything else is an unknown filter: the
/// ones left out can build values that grow with their arguments in ways that are
/// hard to bound (`batch`, `format` with widths, `pprint`, `sum` of strings,
/// `map` applying another filter), and none is needed to word a message.
pub(super) const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "bool",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "duration",
    "e",
    "escape",
    "first",
    "float",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "sort",
    "split",
    "string",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
];

/// Functions notification templates may call.
pub(super) const FUNCTIONS: &[&str] = &["range"];

/// Size of a number, a boolean or none written out (at most 20 digits and a sign).
pub(super) const SCALAR: Size = Size {
    bytes: 24,
    depth: 0,
    nodes: 1,
};

fn scalar() -> Result<Size, String> {
    Ok(SCALAR)
}

fn text(bytes: u64) -> Size {
    Size {
        bytes,
        depth: 0,
        nodes: 1,
    }
}

fn literal_len(arg: Option<&Arg>) -> Option<u64> {
    let v = arg?.value.as_ref()?;
    Some(match v.as_str() {
        Some(s) => s.len() as u64,
        None => v.to_string().len() as u64,
    })
}

fn literal_uint(arg: Option<&Arg>, what: &str, max: u64) -> Result<Option<u64>, String> {
    let Some(v) = arg.and_then(|a| a.value.as_ref()) else {
        return Ok(None);
    };
    if let Ok(b) = bool::try_from(v.clone()) {
        // `tojson(indent=true)` means 2, `false` none.
        return Ok(Some(if b { 2 } else { 0 }));
    }
    match i64::try_from(v.clone()) {
        Ok(n) if n >= 0 && (n as u64) <= max => Ok(Some(n as u64)),
        Ok(n) => Err(format!(
            "{what} is {n}; the most a notification template may use is {max}"
        )),
        Err(_) => Ok(None),
    }
}

/// The largest size `filter` can give for `input` with `args`, or why it is refused.
/// `actual` is the input value itself while rendering (for exact counts).
pub(super) fn filter_growth(
    filter: &str,
    input: Size,
    args: &Args,
    actual: Option<&Value>,
) -> Result<Size, String> {
    let x = input.bytes;
    let same = Ok(input);
    // Filters that work on text take a list or a map as its written form, where
    // every character of a string may be escaped (`\u{1}`).
    let t = if input.depth == 0 {
        x
    } else {
        x.saturating_mul(6).saturating_add(2)
    };
    match filter {
        "safe" | "reverse" | "first" | "last" | "min" | "max" | "sort" | "unique" | "select"
        | "reject" | "selectattr" | "rejectattr" | "attr" => same,
        "map" => {
            if !args.pos.is_empty() || args.kw.iter().any(|(k, _)| k != "attribute") {
                return Err("`map` may only take `attribute=…` in notification templates; write the loop with `{% for %}` instead".into());
            }
            same
        }
        // `"` becomes `&quot;`.
        "escape" | "e" => Ok(text(t.saturating_mul(6))),
        // A case change can turn one character into three (`ﬃ` → `FFI`).
        "upper" | "lower" | "title" | "capitalize" => Ok(text(t.saturating_mul(3))),
        "trim" => Ok(text(t)),
        "length" | "count" | "int" | "float" | "round" | "abs" | "bool" | "duration" => scalar(),
        // Strings inside lists are written quoted and escaped.
        "string" => Ok(text(x.saturating_mul(6).saturating_add(2))),
        "list" | "items" | "dictsort" => Ok(Size {
            bytes: x.saturating_mul(6).saturating_add(2),
            depth: input.depth.saturating_add(1),
            nodes: input.nodes.saturating_add(x),
        }),
        "split" | "lines" => Ok(Size {
            bytes: t.saturating_mul(6).saturating_add(8),
            depth: 1,
            nodes: t.saturating_add(2),
        }),
        "default" | "d" => {
            let d = args
                .get(0, "default_value")
                .map(|a| a.size)
                .unwrap_or(text(0));
            Ok(input.max(d))
        }
        "join" => {
            let sep = args.get(0, "d").map_or(0, |a| a.size.bytes);
            let items = actual.and_then(Value::len).map_or(x / 2 + 1, |n| n as u64);
            Ok(text(t.saturating_add(items.saturating_mul(sep))))
        }
        "replace" => {
            let from = args.get(0, "from");
            let to = args.get(1, "to").map_or(0, |a| a.size.bytes);
            let slots = match (actual.and_then(Value::as_str), literal_len(from), from) {
                (Some(s), Some(_), Some(Arg { value: Some(f), .. })) => {
                    let f = f.to_string();
                    if f.is_empty() {
                        s.chars().count() as u64 + 1
                    } else {
                        s.matches(f.as_str()).count() as u64
                    }
                }
                (_, Some(len), _) => t / len.max(1) + 1,
                _ => t.saturating_add(1),
            };
            Ok(text(t.saturating_add(slots.saturating_mul(to))))
        }
        "indent" => {
            let width = literal_uint(args.get(0, "width"), "the `indent` width", MAX_INDENT_WIDTH)?
                .unwrap_or(MAX_INDENT_WIDTH);
            let lines = match actual.and_then(Value::as_str) {
                Some(s) => s.lines().count() as u64 + 1,
                None => t.saturating_add(1),
            };
            Ok(text(t.saturating_add(lines.saturating_mul(width))))
        }
        "tojson" => {
            let indent = literal_uint(
                args.get(0, "indent"),
                "the `tojson` indent",
                MAX_JSON_INDENT,
            )?
            .unwrap_or(MAX_JSON_INDENT);
            // Escaping writes a control character as `\u001f`; pretty printing puts
            // every value on its own line, indented once per level.
            let flat = x.saturating_mul(6).saturating_add(2);
            let per_line = 1 + indent.saturating_mul(u64::from(input.depth) + 1);
            let lines = input.nodes.saturating_add(1);
            let pretty = if indent == 0 {
                0
            } else {
                lines.saturating_mul(per_line)
            };
            Ok(text(flat.saturating_add(pretty)))
        }
        other => Err(format!("filter `{other}` is not available")),
    }
}

/// The largest size `range(args)` can give, or why it is refused.
pub(super) fn range_growth(args: &Args) -> Result<Size, String> {
    let int = |i: usize| -> Option<i64> {
        args.pos
            .get(i)
            .and_then(|a| a.value.as_ref())
            .and_then(|v| i64::try_from(v.clone()).ok())
    };
    let known = (0..args.pos.len()).all(|i| int(i).is_some());
    let items = if known && !args.pos.is_empty() {
        let (lo, hi, step) = match args.pos.len() {
            1 => (0, int(0).unwrap_or(0), 1),
            2 => (int(0).unwrap_or(0), int(1).unwrap_or(0), 1),
            _ => (
                int(0).unwrap_or(0),
                int(1).unwrap_or(0),
                int(2).unwrap_or(1),
            ),
        };
        let span = i128::from(hi) - i128::from(lo);
        let step = i128::from(step);
        if step == 0 || span == 0 || (span > 0) != (step > 0) {
            0
        } else {
            ((span.abs() + step.abs() - 1) / step.abs()) as u64
        }
    } else {
        MAX_RANGE_ITEMS
    };
    if items > MAX_RANGE_ITEMS {
        return Err(format!(
            "`range` makes {items} numbers; the most a notification template may use is {MAX_RANGE_ITEMS}"
        ));
    }
    Ok(Size {
        bytes: items.saturating_mul(SCALAR.bytes + 2).saturating_add(2),
        depth: 1,
        nodes: items.saturating_add(1),
    })
}

/// Work done by one render's filters and functions, in bytes of values built.
#[derive(Default)]
struct Budget {
    used: u64,
}

fn refused(what: &str, why: String) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{what}: {why}; notification templates are bounded (see the README's template limits)"
        ),
    )
}

fn split_args(values: &[Value], kwargs: Option<&Kwargs>) -> Args {
    let mut args = Args {
        pos: values.iter().cloned().map(Arg::known).collect(),
        kw: Vec::new(),
    };
    for name in kwargs.into_iter().flat_map(Kwargs::args) {
        if let Some(kwargs) = kwargs
            && let Ok(value) = kwargs.peek::<Value>(name)
        {
            args.kw.push((name.to_string(), Arg::known(value)));
        }
    }
    args
}

/// Checks `result` of `what` against the per-value cap and charges it, with the
/// bytes of input and arguments the call read (`read`), to the render's budget:
/// reading costs time as building does, and fuel counts one unit either way.
fn charge(state: &mut State, what: &str, read: u64, result: Value) -> Result<Value, Error> {
    let size = size_of(&result, MAX_VALUE_BYTES.saturating_add(1));
    if size.bytes > MAX_VALUE_BYTES {
        return Err(refused(
            what,
            format!("its result is larger than {MAX_VALUE_BYTES} bytes"),
        ));
    }
    let budget = state.get_or_insert_extension_with(Budget::default);
    budget.used = budget.used.saturating_add(size.bytes).saturating_add(read);
    if budget.used > MAX_RENDER_VALUE_BYTES {
        return Err(refused(
            what,
            format!(
                "the template's filters read and built more than {MAX_RENDER_VALUE_BYTES} bytes of values in one render"
            ),
        ));
    }
    Ok(result)
}

/// `builtin` wrapped so that it refuses to start when its result could pass the cap,
/// and its real result is checked and charged.
fn bounded_filter(
    name: &'static str,
    builtin: Value,
) -> impl Fn(&mut State, Value, Rest<Value>, Kwargs) -> Result<Value, Error> + Send + Sync + 'static
{
    move |state: &mut State, value: Value, rest: Rest<Value>, kwargs: Kwargs| {
        let what = format!("filter `{name}`");
        let args = split_args(&rest, Some(&kwargs));
        let input = size_of(&value, MAX_VALUE_BYTES.saturating_add(1));
        let most =
            filter_growth(name, input, &args, Some(&value)).map_err(|w| refused(&what, w))?;
        if most.bytes > MAX_VALUE_BYTES {
            return Err(refused(
                &what,
                format!(
                    "it could build {} bytes here; the limit is {MAX_VALUE_BYTES}",
                    most.bytes
                ),
            ));
        }
        let mut all = Vec::with_capacity(rest.len() + 2);
        all.push(value);
        all.extend(rest.0);
        let names: Vec<String> = kwargs.args().map(str::to_string).collect();
        if !names.is_empty() {
            all.push(Value::from(kwargs.clone()));
        }
        let result = builtin.call(state, &all)?;
        // The built-in has taken (and checked) them all.
        for name in &names {
            kwargs.get::<Value>(name)?;
        }
        let read = args
            .pos
            .iter()
            .chain(args.kw.iter().map(|(_, a)| a))
            .fold(input.bytes, |sum, a| sum.saturating_add(a.size.bytes));
        charge(state, &what, read, result)
    }
}

fn builtin_filter(name: &str) -> Option<Value> {
    Some(match name {
        "abs" => Value::from_function(filters::abs),
        "attr" => Value::from_function(filters::attr),
        "bool" => Value::from_function(filters::bool),
        "capitalize" => Value::from_function(filters::capitalize),
        "count" | "length" => Value::from_function(filters::length),
        "d" | "default" => Value::from_function(filters::default),
        "dictsort" => Value::from_function(filters::dictsort),
        "duration" => Value::from_function(super::super::template::duration_filter),
        "e" | "escape" => Value::from_function(filters::escape),
        "first" => Value::from_function(filters::first),
        "float" => Value::from_function(filters::float),
        "indent" => Value::from_function(filters::indent),
        "int" => Value::from_function(filters::int),
        "items" => Value::from_function(filters::items),
        "join" => Value::from_function(filters::join),
        "last" => Value::from_function(filters::last),
        "lines" => Value::from_function(filters::lines),
        "list" => Value::from_function(filters::list),
        "lower" => Value::from_function(filters::lower),
        "map" => Value::from_function(filters::map),
        "max" => Value::from_function(filters::max),
        "min" => Value::from_function(filters::min),
        "reject" => Value::from_function(filters::reject),
        "rejectattr" => Value::from_function(filters::rejectattr),
        "replace" => Value::from_function(filters::replace),
        "reverse" => Value::from_function(filters::reverse),
        "round" => Value::from_function(filters::round),
        "safe" => Value::from_function(filters::safe),
        "select" => Value::from_function(filters::select),
        "selectattr" => Value::from_function(filters::selectattr),
        "sort" => Value::from_function(filters::sort),
        "split" => Value::from_function(filters::split),
        "string" => Value::from_function(filters::string),
        "title" => Value::from_function(filters::title),
        "tojson" => Value::from_function(filters::tojson),
        "trim" => Value::from_function(filters::trim),
        "unique" => Value::from_function(filters::unique),
        "upper" => Value::from_function(filters::upper),
        _ => return None,
    })
}

/// Tests only answer yes or no, so all of minijinja's are kept.
fn add_tests(env: &mut Environment<'static>) {
    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env.add_test("safe", tests::is_safe);
    env.add_test("escaped", tests::is_safe);
    env.add_test("boolean", tests::is_boolean);
    env.add_test("odd", tests::is_odd);
    env.add_test("even", tests::is_even);
    env.add_test("divisibleby", tests::is_divisibleby);
    env.add_test("number", tests::is_number);
    env.add_test("integer", tests::is_integer);
    env.add_test("int", tests::is_integer);
    env.add_test("float", tests::is_float);
    env.add_test("string", tests::is_string);
    env.add_test("sequence", tests::is_sequence);
    env.add_test("iterable", tests::is_iterable);
    env.add_test("mapping", tests::is_mapping);
    env.add_test("startingwith", tests::is_startingwith);
    env.add_test("endingwith", tests::is_endingwith);
    env.add_test("lower", tests::is_lower);
    env.add_test("upper", tests::is_upper);
    env.add_test("true", tests::is_true);
    env.add_test("false", tests::is_false);
    env.add_test("in", tests::is_in);
    for name in ["eq", "equalto", "=="] {
        env.add_test(name, tests::is_eq);
    }
    for name in ["ne", "!="] {
        env.add_test(name, tests::is_ne);
    }
    for name in ["lt", "lessthan", "<"] {
        env.add_test(name, tests::is_lt);
    }
    for name in ["le", "<="] {
        env.add_test(name, tests::is_le);
    }
    for name in ["gt", "greaterthan", ">"] {
        env.add_test(name, tests::is_gt);
    }
    for name in ["ge", ">="] {
        env.add_test(name, tests::is_ge);
    }
}

/// Puts the allowed filters, tests and functions, each bounded, into `env` (which
/// starts empty: minijinja's other built-ins are not there at all).
pub(super) fn install(env: &mut Environment<'static>) {
    for name in FILTERS {
        if let Some(builtin) = builtin_filter(name) {
            env.add_filter(*name, bounded_filter(name, builtin));
        }
    }
    add_tests(env);
    let range = Value::from_function(minijinja::functions::range);
    env.add_function("range", move |state: &mut State, rest: Rest<Value>| {
        let args = split_args(&rest, None);
        range_growth(&args).map_err(|w| refused("function `range`", w))?;
        let result = range.call(state, &rest)?;
        charge(state, "function `range`", 0, result)
    });
}
