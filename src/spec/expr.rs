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

/// Compiles a condition and checks that it only uses known variables.
pub fn compile(source: &str) -> Result<Program, String> {
    let program = Program::compile(source).map_err(|e| {
        let text = e.to_string();
        format!(
            "invalid expression `{source}`: {}",
            text.lines().next().unwrap_or("syntax error").trim()
        )
    })?;
    let names: Vec<&str> = VARIABLES.iter().map(|(n, _)| *n).collect();
    for var in program.references().variables() {
        if !names.contains(&var) {
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
        let err = compile("stauts == 200").unwrap_err();
        assert!(err.starts_with("unknown variable `stauts`"), "{err}");
        assert!(err.contains("did you mean `status`?"), "{err}");
        assert!(
            compile("status ==")
                .unwrap_err()
                .starts_with("invalid expression")
        );
    }
}
