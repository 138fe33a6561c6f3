//! Judging an attempt: every expectation of the check against the response.
//! Each failure says which expectation, what was expected, and what was found.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::compiled::{CompiledCheck, Probe};
use super::errors::{AttemptError, ErrorKind};
use super::observed::Observed;
use super::{BODY_EXCERPT_BYTES, ProbeResult, conditions, graphql, grpc, tcp};
use crate::spec::Check;

/// Longest actual value quoted in a failure; bodies can be megabytes.
const MAX_ACTUAL_CHARS: usize = 200;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failure {
    /// Which one: `status`, `json_path $.status`, `condition size(body.items) > 0`, …
    pub expectation: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.expectation, self.expected, self.actual
        )
    }
}

/// An attempt with its verdict.
pub struct Judged {
    outcome: Result<Observed, AttemptError>,
    latency: Duration,
    failures: Vec<Failure>,
}

impl Judged {
    pub fn up(&self) -> bool {
        self.outcome.is_ok() && self.failures.is_empty()
    }

    pub fn error_kind(&self) -> Option<ErrorKind> {
        match &self.outcome {
            Err(e) => Some(e.kind),
            // Waiting for an expected reply that never came is a timeout, and is
            // retried as one.
            Ok(r) if r.timed_out && !self.failures.is_empty() => Some(ErrorKind::Timeout),
            Ok(_) if !self.failures.is_empty() => Some(ErrorKind::Expectation),
            Ok(_) => None,
        }
    }

    pub fn status_code(&self) -> Option<u16> {
        self.outcome.as_ref().ok().and_then(|r| r.status)
    }

    pub fn into_result(
        self,
        check: &Check,
        started_at: DateTime<Utc>,
        attempts: u32,
    ) -> ProbeResult {
        let up = self.up();
        let error_kind = self.error_kind();
        let error = match &self.outcome {
            Err(e) => Some(e.message.clone()),
            Ok(_) => self.failures.first().map(|f| {
                let more = self.failures.len() - 1;
                if more > 0 {
                    format!("{f} (+{more} more)")
                } else {
                    f.to_string()
                }
            }),
        };
        let (status_code, cert_expires_at, body_excerpt, body_truncated) = match &self.outcome {
            Ok(r) => {
                let end = r.body.len().min(BODY_EXCERPT_BYTES);
                let excerpt = (!r.body.is_empty())
                    .then(|| String::from_utf8_lossy(&r.body[..end]).into_owned());
                (r.status, r.cert_not_after, excerpt, r.truncated)
            }
            Err(_) => (None, None, None, false),
        };
        let connect_ms = self
            .outcome
            .as_ref()
            .ok()
            .and_then(|r| r.connect)
            .map(millis);
        ProbeResult {
            name: check.name.clone(),
            check_type: check.check_type.as_str().to_string(),
            target: check.target.clone(),
            up,
            latency_ms: millis(self.latency),
            connect_ms,
            status_code,
            grpc_code: self
                .outcome
                .as_ref()
                .ok()
                .and_then(|r| r.grpc.as_ref())
                .map(|g| g.code.to_string()),
            error,
            error_kind,
            failures: self.failures,
            attempts,
            started_at,
            cert_expires_at,
            body_excerpt,
            body_truncated,
        }
    }
}

/// Milliseconds with microsecond precision.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub fn judge(
    check: &CompiledCheck,
    outcome: Result<Observed, AttemptError>,
    latency: Duration,
) -> Judged {
    let failures = match &outcome {
        Ok(resp) => evaluate(check, resp, latency),
        Err(_) => Vec::new(),
    };
    Judged {
        outcome,
        latency,
        failures,
    }
}

pub(super) fn fail(
    expectation: impl Into<String>,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Failure {
    Failure {
        expectation: expectation.into(),
        expected: expected.into(),
        actual: clip(actual.into()),
    }
}

fn clip(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_ACTUAL_CHARS) {
        s.truncate(i);
        s.push('…');
    }
    s
}

fn evaluate(compiled: &CompiledCheck, resp: &Observed, latency: Duration) -> Vec<Failure> {
    let check = compiled.source();
    let e = &check.expect;
    let c = &compiled.expect;
    let mut out = Vec::new();

    if let Some(status) = resp.status {
        match &e.status {
            Some(set) if !set.matches(status) => {
                let expected = set
                    .patterns()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ");
                out.push(fail("status", expected, status.to_string()));
            }
            None if !(200..300).contains(&status) => {
                out.push(fail("status", "2xx", status.to_string()))
            }
            _ => {}
        }
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    match compiled.probe() {
        Probe::Http(_) => {}
        Probe::Graphql(_) => out.extend(graphql::judge(e, json.as_ref())),
        Probe::Tcp(probe) => out.extend(tcp::judge(probe, e, resp)),
        Probe::Grpc(_) => out.extend(grpc::judge(e, resp, json.as_ref())),
    }
    if let Some(max) = e.max_latency
        && latency > max.get()
    {
        out.push(fail(
            "max_latency",
            format!("at most {max}"),
            format!("{}ms", latency.as_millis()),
        ));
    }
    if let Some(min_left) = e.cert_valid_for {
        match resp.cert_not_after {
            None => out.push(fail(
                "cert_valid_for",
                format!("a certificate valid for {min_left}"),
                "no certificate",
            )),
            Some(not_after) => {
                let left = (not_after - Utc::now()).to_std().unwrap_or_default();
                if left < min_left.get() {
                    let days = left.as_secs() / 86_400;
                    out.push(fail(
                        "cert_valid_for",
                        format!("at least {min_left} left"),
                        format!(
                            "{days}d left (expires {})",
                            not_after.format("%Y-%m-%d %H:%M UTC")
                        ),
                    ));
                }
            }
        }
    }
    for ((name, pattern), (lower, re)) in e.headers.iter().zip(&c.headers) {
        match resp.headers.get(&**lower) {
            Some(v) if re.is_match(v) => {}
            Some(v) => out.push(fail(
                format!("header {name}"),
                format!("to match /{pattern}/"),
                format!("`{v}`"),
            )),
            None => out.push(fail(
                format!("header {name}"),
                format!("to match /{pattern}/"),
                "no such header",
            )),
        }
    }
    let text = String::from_utf8_lossy(&resp.body);
    if let (Some(pattern), Some(re)) = (&e.body_regex, &c.body_regex)
        && !re.is_match(&text)
    {
        out.push(fail(
            "body_regex",
            format!("body to match /{pattern}/"),
            format!("`{}`", text.trim()),
        ));
    }
    let truncated_note = if resp.truncated {
        " (body cut at http.max_body)"
    } else {
        ""
    };
    for ((path, expected), query) in e.json_path.iter().zip(&c.json_path) {
        let Some(doc) = &json else {
            out.push(fail(
                format!("json_path {path}"),
                expected.to_string(),
                format!("body is not JSON{truncated_note}"),
            ));
            continue;
        };
        match query.query(doc).first() {
            Some(actual) if json_equal(actual, expected) => {}
            Some(actual) => out.push(fail(
                format!("json_path {path}"),
                expected.to_string(),
                actual.to_string(),
            )),
            None => out.push(fail(
                format!("json_path {path}"),
                expected.to_string(),
                "no match",
            )),
        }
    }
    if !e.conditions.is_empty() {
        let input = conditions::Input {
            status: resp.status,
            graphql: matches!(compiled.probe(), Probe::Graphql(_)),
            grpc: resp.grpc.as_ref().map(|g| (g.code, g.message.as_str())),
            headers: &resp.headers,
            json: json.as_ref(),
            text: &text,
            latency,
            cert_not_after: resp.cert_not_after,
        };
        out.extend(conditions::evaluate(&e.conditions, &c.conditions, &input));
    }
    out.extend(resp.failures.iter().cloned());
    out
}

/// JSON equality where `1` and `1.0` are the same number, and a YAML string such as
/// `"42"` matches JSON `42` only when written so: no other coercion.
pub(super) fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::Number;
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::expr;

    /// Far longer than any of these takes once bounded, and far shorter than the
    /// unbounded work they stand for, so a regression fails here instead of hanging.
    const GUARD: Duration = Duration::from_secs(120);

    /// Compiles `expect` (as a stored check holds it, unvalidated) and judges it
    /// against `body` on a thread of its own, failing the test if that takes
    /// longer than [`GUARD`].
    fn judged(expect: serde_json::Value, body: Vec<u8>) -> Result<Vec<Failure>, String> {
        let check: Check = serde_json::from_value(serde_json::json!({
            "name": "hostile", "type": "http", "target": "http://127.0.0.1:1/", "expect": expect,
        }))
        .expect("a check");
        let resp = Observed {
            status: Some(200),
            body,
            ..Observed::default()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let judged = super::super::compiled::compile(&check)
                .map(|c| evaluate(&c, &resp, Duration::from_millis(5)))
                .map_err(|e| e.to_string());
            let _ = tx.send(judged);
        });
        rx.recv_timeout(GUARD)
            .expect("judging ended within the guard")
    }

    fn zeros(n: usize) -> Vec<u8> {
        serde_json::to_vec(&vec![0; n]).expect("json")
    }

    #[test]
    fn a_macro_reading_the_response_per_element_fails_instead_of_exhausting_memory_or_cpu() {
        let body = zeros(100_000);
        for hostile in [
            "body.map(x, body_text + body_text).size() > 0",
            "body.filter(x, body_text.contains(\"zz\")).size() == 0",
            "body.exists(x, headers.size() > 100)",
        ] {
            let err = judged(serde_json::json!({"conditions": [hostile]}), body.clone())
                .expect_err(hostile);
            assert!(err.starts_with("check `hostile`: "), "{hostile}: {err}");
            assert!(err.contains("inside a macro's body"), "{hostile}: {err}");
        }
    }

    #[test]
    fn conditions_over_a_body_larger_than_the_cap_fail_with_the_reason() {
        let body = zeros(expr::MAX_CONDITION_BODY_BYTES / 2 + 1);
        assert!(body.len() > expr::MAX_CONDITION_BODY_BYTES);
        let failures = judged(
            serde_json::json!({"conditions": ["status == 200", "body.size() > 0"]}),
            body,
        )
        .expect("compiles");
        assert_eq!(failures.len(), 2);
        for f in failures {
            assert!(f.actual.contains("more than the 1048576"), "{}", f.actual);
        }
        let small = judged(
            serde_json::json!({"conditions": ["body.size() == 3"]}),
            zeros(3),
        )
        .expect("compiles");
        assert!(small.is_empty(), "{small:?}");
    }

    #[test]
    fn a_json_path_with_several_recursive_descents_fails_instead_of_exhausting_memory() {
        // A chain 100 deep with a few leaves at each level, about 20 KB.
        let mut doc = serde_json::json!(0);
        for _ in 0..100 {
            doc = serde_json::json!({"n": doc, "v": vec![0; 80]});
        }
        let body = serde_json::to_vec(&doc).expect("json");
        for hostile in ["$..*..*..*..*", "$..*..*..*", "$..n..v"] {
            let err = judged(serde_json::json!({"json_path": {hostile: 1}}), body.clone())
                .expect_err(hostile);
            assert!(err.starts_with("check `hostile`: "), "{hostile}: {err}");
            assert!(err.contains("recursive descent"), "{hostile}: {err}");
        }
        let found = judged(serde_json::json!({"json_path": {"$..v[0]": 0}}), body);
        assert_eq!(found, Ok(Vec::new()));
    }
}
