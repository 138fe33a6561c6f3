//! The expression language of `expect.conditions`: CEL, the Common Expression
//! Language that Kubernetes and blackbox_exporter use.

use cel::Program;

/// Variables a condition may use, with what they hold.
pub const VARIABLES: &[(&str, &str)] = &[
    ("status", "HTTP status code (int)"),
    (
        "headers",
        "response headers, lower-case name → value (map of string)",
    ),
    (
        "body",
        "the body parsed as JSON, or the text when it is not JSON",
    ),
    ("body_text", "the body as text (string)"),
    ("latency", "time to the last byte read (duration)"),
    ("latency_ms", "latency in milliseconds (double)"),
    (
        "cert_expires_in",
        "time until the leaf certificate expires (duration; HTTPS and TLS only)",
    ),
    (
        "data",
        "GraphQL: the `data` of the response (null when absent)",
    ),
    (
        "errors",
        "GraphQL: the `errors` of the response (a list, empty when absent)",
    ),
    ("code", "gRPC: the status code's name, e.g. `OK` (string)"),
    ("message", "gRPC: the status message (string)"),
    (
        "response",
        "gRPC: the response message as JSON with `.proto` field names",
    ),
];

/// The variables that hold the response or a part of it, which may be as large as
/// the body. A macro's per-element part that reads one costs the response's size on
/// every element (`body.filter(x, body_text.contains("z"))` is elements × bytes), and
/// one that builds on it (`body.map(x, body_text + body_text)`) allocates that much
/// per element; so they are refused there and read once outside the macro.
pub const RESPONSE_VARIABLES: &[&str] = &[
    "headers",
    "body",
    "body_text",
    "data",
    "errors",
    "message",
    "response",
];

/// The most conditions one check may have. Each is compiled at load time and on
/// every run; a few dozen already make a check hard to read, and 64 keeps a file of
/// thousands from costing seconds to validate and every run.
pub const MAX_CONDITIONS: usize = 64;

/// The most bytes of body the conditions see. The body is copied into the
/// expression engine as a value (text and parsed JSON); 1 MiB is far above a health
/// endpoint's answer and keeps a run's memory bounded. A larger body makes every
/// condition fail with the reason; `json_path` and `body_regex` still apply.
pub const MAX_CONDITION_BODY_BYTES: usize = 1024 * 1024;

/// The longest condition, in bytes. Real conditions are a line or two; this also
/// caps the string literals, which count as one token each.
pub const MAX_CONDITION_BYTES: usize = 4096;

/// The most tokens a condition may have. The CEL parser and evaluator recurse once
/// per operator of a chain (`a + b + c`, `a.b.c`, `a[0][1]`), so the token count
/// bounds how deep they go; 256 tokens are several lines of conditions joined with
/// `&&`, while one `+` chain of 128 operators needs about 5 MiB of stack in a
/// debug build (0.2 MiB optimised).
pub const MAX_CONDITION_TOKENS: usize = 256;

/// The deepest nesting of `(`, `[` and `{` a condition may have. Each level costs
/// the parser a full pass down the grammar (about 180 KiB of stack in a debug build,
/// 20 KiB optimised); real conditions nest three or four levels.
pub const MAX_CONDITION_NESTING: usize = 12;

/// The stack of the thread that parses and evaluates conditions, whatever thread
/// asked: the worst condition within the bounds above needs under half of it in a
/// debug build. It is reserved address space; only what is used is touched.
pub const CONDITION_STACK: usize = 16 * 1024 * 1024;

/// Compiles a condition and checks that it only uses known variables. The bounds
/// above are checked first, on the text, so that nothing recursive runs on input
/// that could exhaust the stack; the parse then runs on a thread of its own with
/// [`CONDITION_STACK`].
pub fn compile(source: &str) -> Result<Program, String> {
    check_bounds(source)?;
    on_condition_stack(|| compile_here(source))?
}

/// Compiles every condition of a check on one thread with [`CONDITION_STACK`]
/// rather than one thread each: the answer for each, in order. A check without
/// conditions starts no thread: validating thousands of checks would otherwise
/// start and stop as many threads, most of what validation costs.
pub fn compile_each(sources: &[&str]) -> Vec<Result<(), String>> {
    if sources.is_empty() {
        return Vec::new();
    }
    let run = || {
        sources
            .iter()
            .map(|s| compile_on_condition_stack(s).map(|_| ()))
            .collect::<Vec<_>>()
    };
    match on_condition_stack(run) {
        Ok(results) => results,
        Err(msg) => sources.iter().map(|_| Err(msg.clone())).collect(),
    }
}

/// [`compile`] on the calling thread, for code already inside
/// [`on_condition_stack`].
pub(crate) fn compile_on_condition_stack(source: &str) -> Result<Program, String> {
    check_bounds(source)?;
    compile_here(source)
}

/// Runs `f` on a thread with [`CONDITION_STACK`], so that parsing or evaluating a
/// condition within the bounds fits whatever the calling thread's stack is.
pub fn on_condition_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("condition".into())
            .stack_size(CONDITION_STACK)
            .spawn_scoped(scope, f)
            .map_err(|e| format!("cannot start a thread to evaluate conditions: {e}"))?;
        worker
            .join()
            .map_err(|_| "the expression engine failed on this condition; simplify it".to_string())
    })
}

fn compile_here(source: &str) -> Result<Program, String> {
    let program = Program::compile(source).map_err(|e| {
        let text = e.to_string();
        format!(
            "invalid expression `{source}`: {}",
            text.lines().next().unwrap_or("syntax error").trim()
        )
    })?;
    let names: Vec<&str> = VARIABLES.iter().map(|(n, _)| *n).collect();
    let mut bound = Vec::new();
    bound_names(program.expression(), &mut bound);
    if nested_comprehension(program.expression(), false) {
        return Err(format!(
            "`{source}` runs a macro (`all`, `exists`, `exists_one`, `map`, `filter`) inside another one's body, which costs the product of the two lists' sizes on every run; compute one list at a time, e.g. `a.all(x, …) && b.all(y, …)`"
        ));
    }
    if let Some(var) = response_in_loop(program.expression(), &[], false) {
        return Err(format!(
            "`{source}` reads `{var}` inside a macro's body (`all`, `exists`, `exists_one`, `map`, `filter`), which costs the whole response on every element; compute it once outside the macro, e.g. `body_text.contains(\"z\") && body.all(x, x > 0)`"
        ));
    }
    for var in program.references().variables() {
        if !names.contains(&var) && !bound.contains(&var) {
            let hint = super::suggest(var, names.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown variable `{var}` in `{source}`; {hint}expected one of {}",
                quoted_list(&names)
            ));
        }
    }
    Ok(program)
}

/// The names that macros such as `exists(i, …)` bind, which the parser's list of
/// references counts as variables. Recursion is bounded by [`check_bounds`].
fn bound_names<'a>(e: &'a cel::common::ast::IdedExpr, out: &mut Vec<&'a str>) {
    use cel::common::ast::{EntryExpr, Expr};
    let entry = |entry: &'a EntryExpr, out: &mut Vec<&'a str>| match entry {
        EntryExpr::StructField(f) => bound_names(&f.value, out),
        EntryExpr::MapEntry(m) => {
            bound_names(&m.key, out);
            bound_names(&m.value, out);
        }
    };
    match &e.expr {
        Expr::Comprehension(c) => {
            out.push(&c.iter_var);
            out.extend(c.iter_var2.as_deref());
            out.push(&c.accu_var);
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                bound_names(part, out);
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                bound_names(target, out);
            }
            call.args.iter().for_each(|a| bound_names(a, out));
        }
        Expr::List(list) => list.elements.iter().for_each(|a| bound_names(a, out)),
        Expr::Map(map) => map.entries.iter().for_each(|x| entry(&x.expr, out)),
        Expr::Struct(st) => st.entries.iter().for_each(|x| entry(&x.expr, out)),
        Expr::Select(sel) => bound_names(&sel.operand, out),
        _ => {}
    }
}

/// Whether a comprehension (the macros `all`, `exists`, `map`, …) runs inside the
/// per-element part of another: over a response of n items that costs n² steps (n³
/// for three), and a body of a few MiB makes that hours of CPU on every run. One
/// list after another, or one macro over another's result, stays linear. Recursion
/// is bounded by [`check_bounds`].
fn nested_comprehension(e: &cel::common::ast::IdedExpr, in_loop: bool) -> bool {
    use cel::common::ast::{EntryExpr, Expr};
    let entry = |entry: &EntryExpr| match entry {
        EntryExpr::StructField(f) => nested_comprehension(&f.value, in_loop),
        EntryExpr::MapEntry(m) => {
            nested_comprehension(&m.key, in_loop) || nested_comprehension(&m.value, in_loop)
        }
    };
    match &e.expr {
        Expr::Comprehension(c) => {
            in_loop
                || nested_comprehension(&c.iter_range, false)
                || nested_comprehension(&c.accu_init, false)
                || nested_comprehension(&c.loop_cond, true)
                || nested_comprehension(&c.loop_step, true)
                || nested_comprehension(&c.result, false)
        }
        Expr::Call(call) => {
            call.target
                .as_deref()
                .is_some_and(|t| nested_comprehension(t, in_loop))
                || call.args.iter().any(|a| nested_comprehension(a, in_loop))
        }
        Expr::List(list) => list
            .elements
            .iter()
            .any(|a| nested_comprehension(a, in_loop)),
        Expr::Map(map) => map.entries.iter().any(|x| entry(&x.expr)),
        Expr::Struct(st) => st.entries.iter().any(|x| entry(&x.expr)),
        Expr::Select(sel) => nested_comprehension(&sel.operand, in_loop),
        _ => false,
    }
}

/// The first of [`RESPONSE_VARIABLES`] read in a comprehension's per-element part
/// (`loop_cond`, `loop_step`), unless a macro variable of that name shadows it.
/// Comprehensions do not nest (see [`nested_comprehension`]), so `bound` holds only
/// the current one's variables. Recursion is bounded by [`check_bounds`].
fn response_in_loop<'a>(
    e: &'a cel::common::ast::IdedExpr,
    bound: &[&str],
    in_loop: bool,
) -> Option<&'a str> {
    use cel::common::ast::{EntryExpr, Expr};
    let entry = |entry: &'a EntryExpr| match entry {
        EntryExpr::StructField(f) => response_in_loop(&f.value, bound, in_loop),
        EntryExpr::MapEntry(m) => response_in_loop(&m.key, bound, in_loop)
            .or_else(|| response_in_loop(&m.value, bound, in_loop)),
    };
    match &e.expr {
        Expr::Ident(name) => (in_loop
            && RESPONSE_VARIABLES.contains(&name.as_str())
            && !bound.contains(&name.as_str()))
        .then_some(name.as_str()),
        Expr::Comprehension(c) => {
            let mut inner: Vec<&str> = vec![c.iter_var.as_str(), c.accu_var.as_str()];
            inner.extend(c.iter_var2.as_deref());
            response_in_loop(&c.iter_range, bound, in_loop)
                .or_else(|| response_in_loop(&c.accu_init, bound, in_loop))
                .or_else(|| response_in_loop(&c.loop_cond, &inner, true))
                .or_else(|| response_in_loop(&c.loop_step, &inner, true))
                .or_else(|| response_in_loop(&c.result, &inner, in_loop))
        }
        Expr::Call(call) => call
            .target
            .as_deref()
            .and_then(|t| response_in_loop(t, bound, in_loop))
            .or_else(|| {
                call.args
                    .iter()
                    .find_map(|a| response_in_loop(a, bound, in_loop))
            }),
        Expr::List(list) => list
            .elements
            .iter()
            .find_map(|a| response_in_loop(a, bound, in_loop)),
        Expr::Map(map) => map.entries.iter().find_map(|x| entry(&x.expr)),
        Expr::Struct(st) => st.entries.iter().find_map(|x| entry(&x.expr)),
        Expr::Select(sel) => response_in_loop(&sel.operand, bound, in_loop),
        _ => None,
    }
}

/// Checks a condition's size, token count and nesting without parsing it, by a scan
/// that follows CEL's lexical rules. A string literal the scan cannot close, or an
/// escape it does not know, is an error here: CEL's lexer would skip over it and go
/// on reading its contents as tokens that the scan had not counted.
pub fn check_bounds(source: &str) -> Result<(), String> {
    if source.len() > MAX_CONDITION_BYTES {
        return Err(format!(
            "the condition is {} bytes long, more than the limit of {MAX_CONDITION_BYTES}; split it into several conditions",
            source.len()
        ));
    }
    let b = source.as_bytes();
    let (mut i, mut tokens, mut depth) = (0, 0usize, 0usize);
    // Where the last identifier began, to tell a string prefix (`r`, `b`, `br`) from a name.
    let mut ident: Option<usize> = None;
    while i < b.len() {
        let c = b[i];
        let prefix = ident.take().map(|start| &b[start..i]);
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        tokens += 1;
        if tokens > MAX_CONDITION_TOKENS {
            return Err(format!(
                "the condition has more than {MAX_CONDITION_TOKENS} tokens (at byte {i}); split it into several conditions"
            ));
        }
        match c {
            b'"' | b'\'' => {
                let raw = prefix
                    .is_some_and(|p| matches!(p, b"r" | b"R" | b"br" | b"bR" | b"Br" | b"BR"));
                i = string_end(b, i, raw).ok_or_else(|| {
                    format!("unterminated string or invalid escape in the string at byte {i}; close the quote, and escape `\\` as `\\\\`")
                })?;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_CONDITION_NESTING {
                    return Err(format!(
                        "the condition nests `(`, `[` and `{{` more than {MAX_CONDITION_NESTING} deep (at byte {i}); simplify it"
                    ));
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                ident = Some(start);
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The index just past the string literal whose quote is at `start`, by CEL's rules;
/// `None` when it is not closed or has an escape CEL does not accept.
fn string_end(b: &[u8], start: usize, raw: bool) -> Option<usize> {
    let q = b[start];
    let triple = b.get(start..start + 3) == Some(&[q, q, q][..]);
    let mut i = start + if triple { 3 } else { 1 };
    loop {
        let c = *b.get(i)?;
        if triple && b.get(i..i + 3) == Some(&[q, q, q][..]) {
            return Some(i + 3);
        }
        if !triple && c == q {
            return Some(i + 1);
        }
        if !triple && (c == b'\n' || c == b'\r') {
            return None;
        }
        if c == b'\\' && !raw {
            i += escape_len(&b[i..])?;
        } else {
            i += 1;
        }
    }
}

/// The length of the escape sequence at the start of `b` (which begins with `\`).
fn escape_len(b: &[u8]) -> Option<usize> {
    let hex = |n: usize| {
        b.get(2..2 + n)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .map(|_| 2 + n)
    };
    match *b.get(1)? {
        b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'"' | b'\'' | b'\\' | b'?' | b'`' => {
            Some(2)
        }
        b'0'..=b'3' => b
            .get(2..4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|_| 4),
        b'x' | b'X' => hex(2),
        b'u' => hex(4),
        b'U' => hex(8),
        _ => None,
    }
}

/// The longest JSONPath in `expect.json_path`, in bytes.
pub const MAX_JSON_PATH_BYTES: usize = 1024;

/// The deepest nesting of `[` and `(` in a JSONPath. Its parser recurses into every
/// filter and sub-query (about 120 KiB of stack per level in a debug build) and runs
/// on the calling thread; real paths nest two or three levels.
pub const MAX_JSON_PATH_NESTING: usize = 8;

/// The most recursive-descent segments (`..`) a JSONPath may have. Each one visits
/// every node under each node the path has reached so far, so two multiply (`$..*..*`
/// lists every pair of ancestor and descendant) and four on a 20 KB nested body take
/// gigabytes; one is linear in the body.
pub const MAX_JSON_PATH_DESCENTS: usize = 1;

/// Parses a JSONPath after checking its length and nesting. Brackets are counted in
/// quoted names too: one that holds more than a few is not worth telling apart.
pub fn json_path(path: &str) -> Result<serde_json_path::JsonPath, String> {
    if path.len() > MAX_JSON_PATH_BYTES {
        return Err(format!(
            "{} bytes long, more than the limit of {MAX_JSON_PATH_BYTES}",
            path.len()
        ));
    }
    let mut descents = 0usize;
    let mut from = 0;
    while let Some(at) = path.get(from..).and_then(|rest| rest.find("..")) {
        descents += 1;
        if descents > MAX_JSON_PATH_DESCENTS {
            return Err(format!(
                "has more than {MAX_JSON_PATH_DESCENTS} recursive descent `..` (another at byte {}); each one multiplies the work by the body's size, so name the steps before it, e.g. `$.items..id`",
                from + at
            ));
        }
        from += at + 2;
    }
    let mut depth = 0usize;
    for (i, c) in path.bytes().enumerate() {
        match c {
            b'[' | b'(' => {
                depth += 1;
                if depth > MAX_JSON_PATH_NESTING {
                    return Err(format!(
                        "nests `[` and `(` more than {MAX_JSON_PATH_NESTING} deep (at byte {i})"
                    ));
                }
            }
            b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_json_path::JsonPath::parse(path).map_err(|e| e.to_string())
}

/// The deepest nesting of groups and classes in a regular expression; the regex
/// crate's own limit (250) is more than its compiler's recursion fits in a small
/// stack (a debug build overflows 512 KiB at 249 groups).
pub const MAX_REGEX_NESTING: u32 = 32;

/// The most memory a compiled regular expression may take: the regex crate's
/// default, made explicit. A Unicode `\w{1,64}` takes a few MiB and is a real
/// pattern; `\w{1000}` would take well over 100 MiB.
pub const MAX_REGEX_BYTES: usize = 10 * 1024 * 1024;

/// Compiles a regular expression of a check within [`MAX_REGEX_NESTING`] and
/// [`MAX_REGEX_BYTES`].
pub fn regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .nest_limit(MAX_REGEX_NESTING)
        .size_limit(MAX_REGEX_BYTES)
        .build()
}

/// [`regex`] over bytes, for what need not be UTF-8 (a TCP peer's reply), with the
/// same bounds.
pub fn bytes_regex(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .nest_limit(MAX_REGEX_NESTING)
        .size_limit(MAX_REGEX_BYTES)
        .build()
}

pub(crate) fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_variables_and_rejects_others() {
        assert!(compile("status == 200 && size(body.items) > 0").is_ok());
        assert!(compile("body.items.exists(i, i.id == 1) && body.items.all(x, x.ok)").is_ok());
        assert!(compile("body.items.map(x, x.id).size() > 0").is_ok());
        let err = compile("stauts == 200").unwrap_err();
        assert!(err.starts_with("unknown variable `stauts`"), "{err}");
        assert!(err.contains("did you mean `status`?"), "{err}");
        assert!(
            compile("status ==")
                .unwrap_err()
                .starts_with("invalid expression")
        );
    }

    #[test]
    fn a_macro_inside_another_macros_body_is_refused_and_one_after_another_is_not() {
        for nested in [
            "body.items.all(a, body.items.all(b, a == b))",
            "body.items.exists(a, body.items.map(b, b.id).size() > 0)",
            "body.items.filter(a, [body.items.exists(b, b == a)][0])",
            "body.items.map(a, {'k': body.items.all(b, b.ok)})",
        ] {
            let err = compile(nested).unwrap_err();
            assert!(err.contains("inside another one's body"), "{nested}: {err}");
        }
        for flat in [
            "body.items.all(a, a.ok) && body.items.exists(b, b.id == 1)",
            "body.items.map(a, a.id).filter(b, b > 1).size() > 0",
            "body.items.map(a, a.id).all(b, b > 0)",
        ] {
            assert!(compile(flat).is_ok(), "{flat}: {:?}", compile(flat).err());
        }
    }

    #[test]
    fn the_scan_counts_tokens_and_nesting_outside_strings_only() {
        let long_string = format!("body_text == '{}'", "(".repeat(100));
        assert!(check_bounds(&long_string).is_ok());
        let raw = format!(
            "body_text == r'\\' && {}true{}",
            "(".repeat(20),
            ")".repeat(20)
        );
        assert!(
            check_bounds(&raw)
                .unwrap_err()
                .contains("more than 12 deep")
        );
        // A string CEL's lexer would give up on, and then read on as tokens.
        for bad in ["'unclosed ((((", "'bad \\q escape' + ((((", "'line\nbreak'"] {
            assert!(
                check_bounds(bad)
                    .unwrap_err()
                    .starts_with("unterminated string"),
                "{bad}"
            );
        }
        assert!(check_bounds("\"\"\"a \"quoted\" (((( text\"\"\" == body_text").is_ok());
        assert!(
            check_bounds(&format!("true{}", " && true".repeat(200)))
                .unwrap_err()
                .contains("tokens")
        );
    }

    #[test]
    fn regexes_and_json_paths_have_explicit_bounds() {
        assert!(regex(&format!("{}a{}", "(".repeat(33), ")".repeat(33))).is_err());
        assert!(regex("^\\w{1,64}-[0-9a-f]{8}(\\.\\w+)*$").is_ok());
        assert!(regex("\\w{1000}").is_err());
        assert!(json_path("$.items[?(@.state == 'ok')].id").is_ok());
        let deep = format!("$[?{}@.a{}]", "@[?".repeat(8), "]".repeat(8));
        assert!(json_path(&deep).unwrap_err().contains("more than 8 deep"));
    }

    #[test]
    fn a_macros_body_may_not_read_the_response_but_its_own_variables_and_scalars() {
        for hostile in [
            "body.map(x, body_text + body_text).size() > 0",
            "body.filter(x, body_text.contains('zz')).size() == 0",
            "body.all(x, x in body)",
            "[1, 2].exists(x, headers['a'] == 'b')",
            "body.items.map(x, {'k': data}).size() > 0",
            "errors.exists_one(e, response.x == e)",
            "body.all(x, [message][0] == x)",
            "body.all(x, x == 0 || errors.size() > 0)",
        ] {
            let err = compile(hostile).unwrap_err();
            assert!(
                err.contains("inside a macro's body") && err.contains("outside the macro"),
                "{hostile}: {err}"
            );
        }
        for fine in [
            "body.all(x, x == 0 && status == 200 && latency_ms < 100.0)",
            "body_text.contains('zz') && body.all(x, x > 0)",
            "body.map(body, body + 1).size() > 0",
            "body.filter(x, x.id > 0).map(y, y.name).size() == headers.size()",
            "errors.all(e, e.message != 'x')",
        ] {
            assert!(compile(fine).is_ok(), "{fine}: {:?}", compile(fine).err());
        }
    }

    #[test]
    fn a_json_path_has_at_most_one_recursive_descent() {
        for hostile in ["$..*..*", "$..*..*..*..*", "$..a[?@..b]", "$.a..b..c"] {
            let err = json_path(hostile).unwrap_err();
            assert!(
                err.contains("recursive descent") && err.contains("at byte"),
                "{hostile}: {err}"
            );
        }
        assert!(json_path("$..*..*").unwrap_err().contains("at byte 4"));
        for fine in ["$..id", "$.items..id", "$..*", "$.a[?@.b == 1]"] {
            assert!(json_path(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn every_condition_of_a_check_compiles_on_one_thread_with_an_answer_each() {
        let sources = ["status == 200", "nope == 1", "body.all(x, body_text == x)"];
        let got = compile_each(&sources);
        assert_eq!(got.len(), 3);
        assert!(got[0].is_ok());
        assert!(
            got[1]
                .as_ref()
                .unwrap_err()
                .contains("unknown variable `nope`")
        );
        assert!(
            got[2]
                .as_ref()
                .unwrap_err()
                .contains("inside a macro's body")
        );
    }
}
