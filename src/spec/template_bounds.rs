//! Limits on notification templates. They come from every tenant and run inside
//! the daemon, so a template must not be able to fill its memory: bounded text,
//! bounded output, and no constructs that build text without writing it.

/// The most text one template field may render to: far more than any message
/// channel takes, and little enough that a template looping over large values
/// stops at once instead of filling the daemon's memory.
pub const MAX_RENDERED_BYTES: usize = 256 * 1024;
/// The longest template text of one field.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

/// Constructs that let a template build text without bound before writing any
/// (macros calling themselves, namespaces accumulating across a loop, recursive
/// loops, string repetition), with why they are refused.
const REFUSED: &[(&str, &str)] = &[
    ("macro", "macros"),
    ("call", "call blocks"),
    ("namespace(", "namespaces"),
    ("recursive", "recursive loops"),
    ("*", "the `*` and `**` operators"),
];

/// Why `text` may not be used as a template, if it may not: too long, or using a
/// construct that could make it use unbounded memory (with the template line).
pub fn refusal(text: &str) -> Option<String> {
    refusal_at(text).map(|(line, why)| match line {
        Some(line) => format!("line {line}: {why}"),
        None => why,
    })
}

pub(super) fn refusal_at(text: &str) -> Option<(Option<usize>, String)> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Some((
            None,
            format!(
                "the template is {} bytes; the limit is {MAX_TEMPLATE_BYTES}",
                text.len()
            ),
        ));
    }
    for (line, code) in code_parts(text) {
        for (word, what) in REFUSED {
            let found = if word.chars().all(|c| c.is_ascii_alphabetic()) {
                code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|w| w == *word)
            } else {
                code.contains(word)
            };
            if found {
                return Some((
                    Some(line),
                    format!(
                        "{what} are not allowed in notification templates (they can build text without bound); compute values in the check or use filters"
                    ),
                ));
            }
        }
    }
    None
}

/// The code inside `{{ }}` and `{% %}` of a template, with the line it starts on,
/// string literals blanked out.
fn code_parts(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find(['{']) {
        let tail = &rest[start..];
        let close = if tail.starts_with("{{") {
            "}}"
        } else if tail.starts_with("{%") {
            "%}"
        } else {
            offset += start + 1;
            rest = &rest[start + 1..];
            continue;
        };
        let Some(end) = tail[2..].find(close) else {
            break;
        };
        let code = &tail[2..2 + end];
        let line = text[..offset + start].matches('\n').count() + 1;
        let mut cleaned = String::with_capacity(code.len());
        let mut quote: Option<char> = None;
        for c in code.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None => cleaned.push(c),
            }
        }
        out.push((line, cleaned));
        let used = start + 2 + end + 2;
        offset += used;
        rest = &rest[used..];
    }
    out
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

    #[test]
    fn constructs_that_grow_without_bound_are_refused_with_their_line() {
        for (text, line) in [
            ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}", 1),
            ("a\n{% set ns = namespace(s='x') %}", 2),
            ("a\nb\n{{ 'x' * 100000000 }}", 3),
            ("{% for i in items recursive %}{{ loop(i) }}{% endfor %}", 1),
        ] {
            let why = refusal(text).expect(text);
            assert!(why.starts_with(&format!("line {line}: ")), "{text}: {why}");
        }
        // In text and in string literals the same characters are fine.
        assert_eq!(refusal("*bold* {{ '*' ~ check.name }} macro"), None);
        assert!(refusal(&"x".repeat(MAX_TEMPLATE_BYTES + 1)).is_some());
    }

    #[test]
    fn rendering_stops_at_the_output_cap() {
        let env = environment(Format::Plain);
        let t = env
            .template_from_str("{% for i in range(100000) %}{{ big }}{% endfor %}")
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
}
