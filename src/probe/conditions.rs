//! Evaluating `expect.conditions` (CEL) against a response. A false comparison
//! reports the value of its left side, so `body.items[0].id == 1` failing says
//! what the id was.

use std::collections::BTreeMap;
use std::time::Duration;

use cel::common::ast::Expr;
use cel::{Context, Program, Value};
use chrono::{DateTime, Utc};

use super::expect::Failure;
use crate::spec::expr;

pub struct Input<'a> {
    pub status: Option<u16>,
    /// Whether `data` and `errors` are taken out of the JSON body.
    pub graphql: bool,
    /// gRPC: the status code's name and message; adds `code`, `message` and `response`.
    pub grpc: Option<(&'a str, &'a str)>,
    pub headers: &'a BTreeMap<String, String>,
    pub json: Option<&'a serde_json::Value>,
    pub text: &'a str,
    pub latency: Duration,
    pub cert_not_after: Option<DateTime<Utc>>,
}

const COMPARISONS: &[&str] = &["_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"];

/// Evaluates every condition. Parsing and evaluating recurse as deep as a condition
/// nests, so both run on a thread with a known stack, after the bounds of
/// [`expr::check_bounds`]; a stored check that predates the bounds fails its run with
/// the reason rather than overflowing the worker's stack.
pub fn evaluate(conditions: &[String], programs: &[Program], input: &Input<'_>) -> Vec<Failure> {
    if input.text.len() > expr::MAX_CONDITION_BODY_BYTES {
        let msg = format!(
            "not evaluated: the body is {} bytes, more than the {} conditions read; check a smaller endpoint, or use `json_path` or `body_regex`, which read any size",
            input.text.len(),
            expr::MAX_CONDITION_BODY_BYTES
        );
        return conditions
            .iter()
            .map(|source| Failure {
                expectation: format!("condition `{source}`"),
                expected: "true".into(),
                actual: msg.clone(),
            })
            .collect();
    }
    match expr::on_condition_stack(|| evaluate_here(conditions, programs, input)) {
        Ok(failures) => failures,
        Err(msg) => conditions
            .iter()
            .map(|source| Failure {
                expectation: format!("condition `{source}`"),
                expected: "true".into(),
                actual: msg.clone(),
            })
            .collect(),
    }
}

fn evaluate_here(conditions: &[String], programs: &[Program], input: &Input<'_>) -> Vec<Failure> {
    let mut ctx = Context::default();
    if let Some(status) = input.status {
        ctx.add_variable_from_value("status", Value::Int(i64::from(status)));
    }
    if input.graphql {
        let field = |name: &str, absent: Value| {
            input
                .json
                .and_then(|j| j.get(name))
                .and_then(|v| cel::to_value(v).ok())
                .unwrap_or(absent)
        };
        ctx.add_variable_from_value("data", field("data", Value::Null));
        ctx.add_variable_from_value("errors", field("errors", Value::List(Vec::new().into())));
    }
    if let Some((code, message)) = input.grpc {
        ctx.add_variable_from_value("code", Value::String(code.to_string().into()));
        ctx.add_variable_from_value("message", Value::String(message.to_string().into()));
        let response = input
            .json
            .and_then(|j| cel::to_value(j).ok())
            .unwrap_or(Value::Null);
        ctx.add_variable_from_value("response", response);
    }
    let headers: std::collections::HashMap<String, String> =
        input.headers.clone().into_iter().collect();
    ctx.add_variable_from_value("headers", headers);
    let body = match input.json {
        Some(v) => cel::to_value(v).unwrap_or(Value::Null),
        None => Value::String(input.text.to_string().into()),
    };
    ctx.add_variable_from_value("body", body);
    ctx.add_variable_from_value("body_text", Value::String(input.text.to_string().into()));
    let latency = chrono::Duration::from_std(input.latency).unwrap_or_default();
    ctx.add_variable_from_value("latency", Value::Duration(latency));
    ctx.add_variable_from_value(
        "latency_ms",
        Value::Float(input.latency.as_secs_f64() * 1000.0),
    );
    if let Some(not_after) = input.cert_not_after {
        ctx.add_variable_from_value("cert_expires_in", Value::Duration(not_after - Utc::now()));
    }

    let mut out = Vec::new();
    for (source, program) in conditions.iter().zip(programs) {
        let failure = |actual: String| Failure {
            expectation: format!("condition `{source}`"),
            expected: "true".into(),
            actual,
        };
        match program.execute(&ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => out.push(failure(explain(program, &ctx))),
            Ok(other) => out.push(failure(format!(
                "a {:?} value, not true or false",
                other.type_of()
            ))),
            Err(e) => out.push(failure(format!("error: {e}"))),
        }
    }
    out
}

/// For a top-level comparison, the left side's value; otherwise just `false`.
fn explain(program: &Program, ctx: &Context<'_, '_>) -> String {
    let top = program.expression();
    if let Expr::Call(call) = &top.expr
        && COMPARISONS.contains(&call.func_name.as_str())
        && call.args.len() == 2
        && let Ok(left) = ctx.resolve(&call.args[0])
    {
        return format!("false: {} is {}", left_text(program, top.id), show(&left));
    }
    "false".into()
}

/// The source text left of the top-level operator, whose offset the parser records.
fn left_text(program: &Program, call_id: u64) -> String {
    let info = program.source_info();
    info.offset_for(call_id)
        .and_then(|(start, _)| info.source.get(..start as usize))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "the left side".into())
}

fn show(v: &Value) -> String {
    match v {
        Value::Duration(d) => format!("{}s", d.num_milliseconds() as f64 / 1000.0),
        Value::String(s) => format!("{:?}", s.as_str()),
        other => other
            .json()
            .map(|j| j.to_string())
            .unwrap_or_else(|_| format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack smaller than any worker's, so that recursion on the caller's stack
    /// would show as an overflow here.
    const SMALL_STACK: usize = 256 * 1024;

    /// Compiles `conditions` as a stored check's, then evaluates them, all from a
    /// thread with [`SMALL_STACK`]; a compile error comes back as its message.
    fn on_small_stack(conditions: Vec<String>) -> Result<Vec<Failure>, String> {
        std::thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn(move || {
                let check: crate::spec::Check = serde_json::from_value(serde_json::json!({
                    "name": "deep", "type": "http", "target": "http://127.0.0.1:1/",
                    "expect": {"conditions": conditions},
                }))
                .expect("a check");
                let compiled =
                    super::super::compiled::compile(&check).map_err(|e| e.to_string())?;
                let headers = BTreeMap::new();
                let json = serde_json::json!({"b": 1, "items": [1, 2]});
                let input = Input {
                    status: Some(200),
                    graphql: false,
                    grpc: None,
                    headers: &headers,
                    json: Some(&json),
                    text: "",
                    latency: Duration::from_millis(5),
                    cert_not_after: None,
                };
                Ok(evaluate(
                    &check.expect.conditions,
                    &compiled.expect.conditions,
                    &input,
                ))
            })
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn stored_deep_conditions_fail_to_compile_instead_of_overflowing() {
        // As a check applied before the bounds existed would hold them.
        let deep = [
            format!("1{} == 1", " + 1".repeat(3000)),
            format!("body{} == 1", ".b".repeat(3000)),
            format!("{}true{}", "(".repeat(500), ")".repeat(500)),
            format!("size({}1{}) == 1", "[".repeat(500), "]".repeat(500)),
        ];
        for c in deep {
            let err = on_small_stack(vec![c]).expect_err("a compile error");
            assert!(err.starts_with("check `deep`: "), "{err}");
            assert!(err.contains(": the condition "), "{err}");
        }
    }

    #[test]
    fn conditions_at_the_bounds_evaluate_on_a_small_calling_stack() {
        let sum = format!("1{} == 126", " + 1".repeat(125));
        let nested = format!("{}true{}", "(".repeat(12), ")".repeat(12));
        let lists = format!("size({}1{}) == 1", "[".repeat(11), "]".repeat(11));
        for c in [&sum, &nested, &lists] {
            assert!(expr::check_bounds(c).is_ok(), "{c}");
        }
        let failures = on_small_stack(vec![sum, nested, lists, "size(body.items) == 2".into()])
            .expect("compiles");
        assert!(
            failures.is_empty(),
            "{:?}",
            failures.iter().map(|f| &f.actual).collect::<Vec<_>>()
        );
    }
}
