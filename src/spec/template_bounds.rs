//! Limits on notification templates. They come from every tenant and run inside
//! the daemon (and in `validate` on a developer's machine), so a template must not
//! be able to use unbounded memory or time: bounded text, a static bound on every
//! value it builds (refused at validate and plan time, with the line), only filters
//! whose growth is bounded (checked again while rendering), bounded output and a
//! fixed amount of work.

mod analysis;
mod filters;

use std::collections::BTreeMap;

use minijinja::Value;
use minijinja::value::ValueKind;

/// The most text one template field may render to: far more than any message
/// channel takes, and little enough that a template looping over large values
/// stops at once instead of filling the daemon's memory.
pub const MAX_RENDERED_BYTES: usize = 256 * 1024;
/// The longest template text of one field.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;
/// The largest value (string, list, map; measured as written out) one expression
/// or filter may build: four times the rendered text a field may have, so that a
/// message, its escaped form and its JSON all fit, while a value that doubles or
/// multiplies is stopped long before it matters to the daemon's memory.
pub const MAX_VALUE_BYTES: u64 = 1024 * 1024;
/// The most all the values one template builds may add up to, by the static bound
/// (each expression counted once at its largest; a loop's values are dropped
/// between rounds). Bounds the memory one render holds at a time.
pub const MAX_BUILT_BYTES: u64 = 8 * 1024 * 1024;
/// The most the results of all filters and functions in one render may add up to,
/// counted while rendering: the work a template may do besides instructions, since
/// one filter call can build a large value for one unit of fuel.
pub const MAX_RENDER_VALUE_BYTES: u64 = 16 * 1024 * 1024;
/// The most numbers `range` may make: enough to number the lines of a message.
pub const MAX_RANGE_ITEMS: u64 = 1000;
/// The widest `indent` a template may use: deeper than any message needs.
pub const MAX_INDENT_WIDTH: u64 = 16;
/// The widest `tojson(indent=…)` a template may use.
pub const MAX_JSON_INDENT: u64 = 8;
/// How large each value in the context (`check`, `incident`, `result`, …) is taken
/// to be when a template is checked before it is applied: what the daemon puts
/// there (names, targets, error excerpts) is a few hundred bytes; 16 KiB leaves a
/// wide margin, so that a template accepted by `validate` renders for real
/// incidents too. While rendering, the context's actual sizes are used.
pub const NOMINAL_CONTEXT_VALUE_BYTES: u64 = 16 * 1024;
/// Nesting the context's values are taken to have beyond the sample's when a
/// template is checked before it is applied (lists of failures, label maps).
const NOMINAL_EXTRA_DEPTH: u32 = 2;
/// The deepest value measured; anything deeper counts as too large. The context
/// is a handful of levels deep and templates cannot nest further without growing.
const MAX_MEASURED_DEPTH: u32 = 128;

/// An upper bound on a value: bytes as written out (strings quoted, items
/// separated), nesting depth, and how many values it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub bytes: u64,
    pub depth: u32,
    pub nodes: u64,
}

impl Size {
    const ZERO: Size = Size {
        bytes: 0,
        depth: 0,
        nodes: 0,
    };

    fn max(self, other: Size) -> Size {
        Size {
            bytes: self.bytes.max(other.bytes),
            depth: self.depth.max(other.depth),
            nodes: self.nodes.max(other.nodes),
        }
    }

    fn plus(self, other: Size) -> Size {
        Size {
            bytes: self.bytes.saturating_add(other.bytes),
            depth: self.depth.max(other.depth),
            nodes: self.nodes.saturating_add(other.nodes),
        }
    }

    /// A value inside this one (an attribute, an item).
    fn part(self) -> Size {
        Size {
            depth: self.depth.saturating_sub(1),
            ..self
        }
    }
}

/// The size of `value`, measured until it passes `limit` bytes (then the walk
/// stops: the value is too large whatever the rest holds).
pub fn size_of(value: &Value, limit: u64) -> Size {
    let mut size = Size::ZERO;
    measure(value, limit, 0, &mut size);
    size
}

fn measure(value: &Value, limit: u64, depth: u32, size: &mut Size) {
    size.nodes = size.nodes.saturating_add(1);
    size.depth = size.depth.max(depth);
    if depth > MAX_MEASURED_DEPTH {
        size.bytes = size.bytes.max(limit.saturating_add(1));
        return;
    }
    let add = |size: &mut Size, n: u64| size.bytes = size.bytes.saturating_add(n);
    match value.kind() {
        ValueKind::String | ValueKind::Bytes => {
            let len = value
                .as_str()
                .map_or_else(|| value.as_bytes().map_or(0, <[u8]>::len), str::len);
            add(size, len as u64 + 2);
        }
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            add(size, 2);
            let is_map = value.kind() == ValueKind::Map;
            let Ok(iter) = value.try_iter() else {
                return;
            };
            for item in iter {
                if size.bytes > limit {
                    return;
                }
                add(size, 2);
                if is_map {
                    add(size, 2);
                    let v = value.get_item(&item).unwrap_or_default();
                    measure(&item, limit, depth + 1, size);
                    measure(&v, limit, depth + 1, size);
                } else {
                    measure(&item, limit, depth + 1, size);
                }
            }
        }
        ValueKind::Undefined | ValueKind::None | ValueKind::Bool => add(size, 5),
        _ => add(size, filters::SCALAR.bytes),
    }
}

/// How large each top-level name of the context can be.
#[derive(Debug, Clone, Default)]
pub struct ContextBounds {
    names: BTreeMap<String, Size>,
}

impl ContextBounds {
    /// The sizes of the values in `context` as they are.
    pub fn of(context: &serde_json::Value) -> ContextBounds {
        let mut names = BTreeMap::new();
        if let Some(map) = context.as_object() {
            for (k, v) in map {
                let v = Value::from(minijinja::value::Serde(v));
                names.insert(k.clone(), size_of(&v, MAX_VALUE_BYTES.saturating_add(1)));
            }
        }
        ContextBounds { names }
    }

    /// The names of `sample`, each taken to be as large as a real one can be
    /// ([`NOMINAL_CONTEXT_VALUE_BYTES`]), for checking a template before use.
    pub fn nominal(sample: &serde_json::Value) -> ContextBounds {
        let mut bounds = ContextBounds::of(sample);
        for size in bounds.names.values_mut() {
            *size = Size {
                bytes: size.bytes.max(NOMINAL_CONTEXT_VALUE_BYTES),
                depth: size.depth + NOMINAL_EXTRA_DEPTH,
                nodes: size.nodes.max(NOMINAL_CONTEXT_VALUE_BYTES / 2),
            };
        }
        bounds
    }

    fn get(&self, name: &str) -> Size {
        self.names.get(name).copied().unwrap_or(Size::ZERO)
    }
}

/// Why `text` may not be used as a template with a context of `context`'s sizes,
/// if it may not: too long, a construct whose growth cannot be bounded, or a value
/// that could grow past the limits (with the template line).
pub fn refusal(text: &str, context: &ContextBounds) -> Option<String> {
    refusal_at(text, context).map(|(line, why)| match line {
        Some(line) => format!("line {line}: {why}"),
        None => why,
    })
}

pub(super) fn refusal_at(text: &str, context: &ContextBounds) -> Option<(Option<usize>, String)> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Some((
            None,
            format!(
                "the template is {} bytes; the limit is {MAX_TEMPLATE_BYTES}",
                text.len()
            ),
        ));
    }
    // A template that does not parse is reported by compiling it, with minijinja's
    // own words.
    let ast = minijinja::machinery::parse(text, "<template>", Default::default()).ok()?;
    analysis::Analysis::new(context).template(&ast).err()
}

/// Puts the filters, tests and functions templates may use into `env` (an empty
/// environment), each bounded.
pub(super) fn install(env: &mut minijinja::Environment<'static>) {
    filters::install(env);
}

/// Renders `template` into a string of at most [`MAX_RENDERED_BYTES`].
pub fn render_bounded(
    template: &minijinja::Template<'_, '_>,
    ctx: minijinja::Value,
) -> Result<String, minijinja::Error> {
    struct Capped(Vec<u8>);
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + buf.len() > MAX_RENDERED_BYTES {
                return Err(std::io::Error::other(format!(
                    "the rendered text is longer than {MAX_RENDERED_BYTES} bytes"
                )));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new());
    template
        .render_captured_to(ctx, &mut out)
        .map_err(|e| match e.kind() {
            minijinja::ErrorKind::WriteFailure => minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("the rendered text is longer than {MAX_RENDERED_BYTES} bytes"),
            ),
            _ => e,
        })?;
    String::from_utf8(out.0)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string()))
}

#[cfg(test)]
mod bounds {
    use super::*;
    use crate::spec::template::{Format, environment};

    fn nominal() -> ContextBounds {
        ContextBounds::nominal(
            &serde_json::json!({"check": {"name": "n"}, "incident": {"error": "e"}}),
        )
    }

    #[test]
    fn constructs_that_grow_without_bound_are_refused_with_their_line() {
        for (text, line) in [
            ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}", 1),
            ("a\n{% set ns = namespace(s='x') %}", 2),
            ("a\nb\n{{ 'x' * 100000000 }}", 3),
            ("{% for i in items recursive %}{{ loop(i) }}{% endfor %}", 1),
            ("a\n{% set b %}{{ check }}{% endset %}", 2),
            ("{% filter upper %}\n{{ check }}{% endfilter %}", 1),
            ("\n\n{% include 'x' %}", 3),
            ("{{ check.name.replace('a', 'b') }}", 1),
        ] {
            let why = refusal(text, &nominal()).expect(text);
            assert!(why.starts_with(&format!("line {line}: ")), "{text}: {why}");
        }
        // Checking is bounded too: loops nested deeper than real messages need are
        // refused before the walk, which doubles with every level, gets long.
        let nested = "{% for a in check %}".repeat(40) + &"{% endfor %}".repeat(40);
        let why = refusal(&nested, &nominal()).expect("deep loops");
        assert!(
            why.starts_with("line 1: loops are nested more than 8 deep"),
            "{why}"
        );
        let fine = "{% for a in check %}".repeat(8) + &"{% endfor %}".repeat(8);
        assert_eq!(refusal(&fine, &nominal()), None);
        // In text and in string literals the same characters are fine.
        assert_eq!(
            refusal("*bold* {{ '*' ~ check.name }} macro", &nominal()),
            None
        );
        assert!(refusal(&"x".repeat(MAX_TEMPLATE_BYTES + 1), &nominal()).is_some());
    }

    #[test]
    fn rendering_stops_at_the_output_cap() {
        let env = environment(Format::Plain);
        let t = env
            .template_from_str("{% for i in range(1000) %}{{ big }}{% endfor %}")
            .unwrap();
        let err =
            render_bounded(&t, minijinja::context! { big => "x".repeat(1000) }).expect_err("stops");
        assert!(err.to_string().contains("longer than"), "{err}");
        let small = env.template_from_str("{{ a }}").unwrap();
        assert_eq!(
            render_bounded(&small, minijinja::context! { a => "ok" }).unwrap(),
            "ok"
        );
    }

    fn render(text: &str, ctx: minijinja::Value) -> Result<String, String> {
        let env = environment(Format::Plain);
        let t = env.template_from_str(text).map_err(|e| e.to_string())?;
        render_bounded(&t, ctx).map_err(|e| crate::spec::template::describe_error(&e))
    }

    #[test]
    fn filters_refuse_while_rendering_before_building_a_value_past_the_cap() {
        let big = "x".repeat(4000);
        // Sizes the static bound cannot see (they come from the context) are checked
        // by each filter against its real input and arguments before it runs.
        for (text, says) in [
            (
                "a\n{{ big|replace('', big) }}",
                "line 2: filter `replace`: it could build",
            ),
            (
                "{{ big|tojson(indent=n) }}",
                "line 1: filter `tojson`: the `tojson` indent is 50000",
            ),
            (
                "{{ big|indent(width=n) }}",
                "line 1: filter `indent`: the `indent` width is 50000",
            ),
            (
                "{{ range(n)|join }}",
                "line 1: function `range`: `range` makes 50000 numbers",
            ),
            (
                "{{ big|map('upper') }}",
                "line 1: filter `map`: `map` may only take `attribute=…`",
            ),
        ] {
            let err = render(text, minijinja::context! { big => big.clone(), n => 50000 })
                .expect_err(text);
            assert!(err.starts_with(says), "{text}: {err}");
        }
        // All filter results of one render together are bounded too.
        let err = render(
            "{% for i in range(1000) %}{% set u = big|upper %}{% endfor %}",
            minijinja::context! { big => "x".repeat(200_000) },
        )
        .expect_err("stops");
        assert!(err.contains("read and built more than"), "{err}");
        // Reading counts as well as building: measuring a large value over and over
        // is work too.
        let err = render(
            "{% for i in range(1000) %}{% for j in range(1000) %}{{ big|length }}{% endfor %}{% endfor %}",
            minijinja::context! { big => "x".repeat(500_000) },
        )
        .expect_err("stops");
        assert!(err.contains("read and built more than"), "{err}");
        // What is written is bounded before it is escaped.
        let env = environment(Format::Html);
        let t = env.template_from_str("{{ big }}").unwrap();
        let err = render_bounded(&t, minijinja::context! { big => "<".repeat(300_000) })
            .expect_err("too long");
        assert!(
            err.to_string().contains("longer than the 262144 bytes"),
            "{err}"
        );
    }

    #[test]
    fn the_filters_kept_work_as_minijinja_s_own() {
        let ctx = minijinja::context! {
            labels => minijinja::context! { team => "pay", tier => "1" },
            failures => vec![minijinja::context! { name => "a" }, minijinja::context! { name => "b" }],
            text => "one\ntwo",
        };
        let out = render(
            "{{ labels|dictsort|map(attribute='0')|join(', ') }}|{{ failures|map(attribute='name')|list|tojson }}|\
             {{ labels|tojson(indent=2)|length }}|{{ text|indent(width=2, first=true) }}|{{ 'a-b'|replace('-', ' ')|title }}|\
             {{ range(3)|list|length }}|{{ 95|duration }}|{{ nope|default('d') }}|{{ failures|selectattr('name', 'eq', 'b')|list|length }}",
            ctx,
        )
        .expect("renders");
        assert_eq!(
            out,
            "team, tier|[\"a\", \"b\"]|34|  one\n  two|A B|3|1m35s|d|1"
        );
    }
}
