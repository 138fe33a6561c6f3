//! `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$$` inside string values.
//!
//! A `$` not followed by `{` or `$` stays as written, so JSONPath (`$.status`) and
//! regular expressions (`ok$`) need no escaping.

/// The result of interpolating one string.
#[derive(Debug, PartialEq, Eq)]
pub struct Interpolated {
    pub text: String,
    /// Whether any `${...}` was replaced: such values are treated as secrets.
    pub used_variable: bool,
    /// Each variable read from the environment, with its value (defaults are not
    /// listed: they are written in the file). For saying `${NAME}` instead of a
    /// value that must not be printed.
    pub variables: Vec<(String, String)>,
}

/// Replaces variable references in `input`, looking names up with `lookup`.
/// Fails with a message naming the first variable that is unset without a default.
pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, String> {
    if !input.contains('$') {
        return Ok(Interpolated {
            text: input.to_string(),
            used_variable: false,
            variables: Vec::new(),
        });
    }
    let mut out = String::with_capacity(input.len());
    let mut used = false;
    let mut variables = Vec::new();
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_start) = after.strip_prefix('{') {
            let end = body_start.find('}').ok_or_else(|| {
                format!("unterminated `${{` in `{input}`; write `$${{` for a literal `${{`")
            })?;
            let (value, from_env) = expand(&body_start[..end], lookup)?;
            out.push_str(&value);
            if let Some(name) = from_env {
                variables.push((name, value));
            }
            used = true;
            rest = &body_start[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Interpolated {
        text: out,
        used_variable: used,
        variables,
    })
}

/// The value of one reference, and the variable's name when the value came from it.
fn expand(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Option<String>), String> {
    let (name, op) = match body.find(':') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "`${{{body}}}` is not a variable reference; names are letters, digits and `_`"
        ));
    }
    let value = lookup(name).filter(|v| !v.is_empty());
    match (value, op) {
        (Some(v), _) => Ok((v, Some(name.to_string()))),
        (None, None) => Err(format!(
            "environment variable `{name}` is not set; set it, or give a default with `${{{name}:-default}}`"
        )),
        (None, Some(op)) => {
            if let Some(default) = op.strip_prefix('-') {
                Ok((default.to_string(), None))
            } else if let Some(msg) = op.strip_prefix('?') {
                let msg = if msg.is_empty() { "required" } else { msg };
                Err(format!("environment variable `{name}` is not set: {msg}"))
            } else {
                Err(format!(
                    "`${{{body}}}`: after `:` expected `-default` or `?message`"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_variables_and_defaults() {
        let r = interpolate("https://${HOST}:${PORT:-443}/", &env).unwrap();
        assert_eq!(r.text, "https://example.com:443/");
        assert!(r.used_variable);
        // The default is written in the file: only the environment's value is listed.
        assert_eq!(
            r.variables,
            [("HOST".to_string(), "example.com".to_string())]
        );
        assert_eq!(interpolate("${EMPTY:-x}", &env).unwrap().text, "x");
    }

    #[test]
    fn keeps_lone_dollars_and_unescapes_double_ones() {
        let r = interpolate("$.status ok$ $${HOST}", &env).unwrap();
        assert_eq!(r.text, "$.status ok$ ${HOST}");
        assert!(!r.used_variable);
    }

    #[test]
    fn missing_variables_are_errors_that_name_them() {
        assert_eq!(
            interpolate("${TOKEN}", &env).unwrap_err(),
            "environment variable `TOKEN` is not set; set it, or give a default with `${TOKEN:-default}`"
        );
        assert_eq!(
            interpolate("${TOKEN:?the CI secret}", &env).unwrap_err(),
            "environment variable `TOKEN` is not set: the CI secret"
        );
        assert!(
            interpolate("${HOST", &env)
                .unwrap_err()
                .contains("unterminated")
        );
    }
}
