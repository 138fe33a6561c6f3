//! One GraphQL attempt: the query over HTTP with the check's `http` settings,
//! then an optional introspection request; and the GraphQL part of judging:
//! `errors`, and `expect.data` as a subset of `data`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::compiled::{GraphqlProbe, Request};
use super::errors::AttemptError;
use super::expect::{Failure, fail, json_equal};
use super::http::Clients;
use super::observed::Observed;
use crate::spec::{Expect, GraphqlMethod, GraphqlSpec, Introspect};

/// Asks for the fields of one type, input types included.
pub(super) const INTROSPECTION: &str = "query($name: String!) { __type(name: $name) { name fields(includeDeprecated: true) { name } inputFields { name } } }";

pub async fn attempt(
    clients: &Clients,
    probe: &GraphqlProbe,
    target: &str,
    limit: Duration,
) -> Result<Observed, AttemptError> {
    match tokio::time::timeout(limit, exchange(clients, probe, target)).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::timeout(limit)),
    }
}

async fn exchange(
    clients: &Clients,
    probe: &GraphqlProbe,
    target: &str,
) -> Result<Observed, AttemptError> {
    let mut obs = clients.exchange(&probe.conn, &probe.query, target).await?;
    if let Some((request, want)) = &probe.introspect {
        let schema = clients.exchange(&probe.conn, request, target).await?;
        obs.failures.extend(introspection(want, &schema));
    }
    Ok(obs)
}

/// POST with a JSON body, or GET with the same fields as query parameters.
pub(super) fn request(
    target: &str,
    spec: &GraphqlSpec,
    query: &str,
    variables: &BTreeMap<String, Value>,
    operation_name: Option<&str>,
) -> Result<Request, String> {
    let variables: Map<String, Value> = variables
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match spec.method {
        GraphqlMethod::Post => {
            let mut body = Map::new();
            body.insert("query".into(), json!(query));
            if !variables.is_empty() {
                body.insert("variables".into(), Value::Object(variables));
            }
            if let Some(op) = operation_name {
                body.insert("operationName".into(), json!(op));
            }
            Ok(Request {
                method: reqwest::Method::POST,
                url: reqwest::Url::parse(target).ok(),
                body: Some(Value::Object(body).to_string().into()),
                is_json: true,
            })
        }
        GraphqlMethod::Get => {
            let mut url = url::Url::parse(target).map_err(|e| format!("not a URL: {e}"))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("query", query);
                if !variables.is_empty() {
                    q.append_pair("variables", &Value::Object(variables).to_string());
                }
                if let Some(op) = operation_name {
                    q.append_pair("operationName", op);
                }
            }
            Ok(Request {
                method: reqwest::Method::GET,
                url: Some(url),
                body: None,
                is_json: false,
            })
        }
    }
}

fn introspection(want: &Introspect, schema: &Observed) -> Vec<Failure> {
    let what = format!("introspect {}.{}", want.type_name, want.field);
    let expected = format!("type `{}` with field `{}`", want.type_name, want.field);
    let doc: Option<Value> = serde_json::from_slice(&schema.body).ok();
    let Some(ty) = doc.as_ref().and_then(|d| d.pointer("/data/__type")) else {
        let status = schema.status.unwrap_or_default();
        return vec![fail(
            what,
            expected,
            format!("no schema in the answer (status {status})"),
        )];
    };
    if ty.is_null() {
        return vec![fail(what, expected, "no such type")];
    }
    let names: Vec<&str> = ["fields", "inputFields"]
        .iter()
        .filter_map(|k| ty.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|f| f.get("name").and_then(Value::as_str))
        .collect();
    if names.contains(&want.field.as_str()) {
        return Vec::new();
    }
    vec![fail(what, expected, format!("fields {}", names.join(", ")))]
}

/// The GraphQL rules: `errors` make the run down unless `expect.errors: true`
/// (which in turn needs some), and `expect.data` must be a subset of `data`.
pub fn judge(expect: &Expect, doc: Option<&Value>) -> Vec<Failure> {
    let Some(doc) = doc.filter(|d| d.is_object()) else {
        return vec![fail(
            "graphql",
            "a JSON object with `data` or `errors`",
            "a body that is not one",
        )];
    };
    let mut out = Vec::new();
    let errors = doc
        .get("errors")
        .filter(|e| !e.is_null() && e.as_array().is_none_or(|a| !a.is_empty()));
    match (expect.errors.unwrap_or(false), errors) {
        (false, Some(errors)) => out.push(fail("errors", "none", messages(errors))),
        (true, None) => out.push(fail("errors", "at least one", "none")),
        _ => {}
    }
    if let Some(expected) = &expect.data {
        let actual = doc.get("data").unwrap_or(&Value::Null);
        if let Some((path, expected, actual)) = first_difference(expected, actual, "data".into()) {
            out.push(fail(path, expected.to_string(), actual));
        }
    }
    out
}

/// The messages of GraphQL errors as a JSON list, or the errors as sent when they
/// do not have the standard shape.
fn messages(errors: &Value) -> String {
    let list: Option<Vec<&str>> = errors
        .as_array()
        .and_then(|a| a.iter().map(|e| e.get("message")?.as_str()).collect());
    match list {
        Some(list) => json!(list).to_string(),
        None => errors.to_string(),
    }
}

/// The first place where `actual` does not contain `expected`: its path, the
/// expected value there, and what was found (`missing` for an absent key).
pub(super) fn first_difference<'a>(
    expected: &'a Value,
    actual: &Value,
    path: String,
) -> Option<(String, &'a Value, String)> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            want.iter().find_map(|(k, v)| match have.get(k) {
                Some(a) => first_difference(v, a, format!("{path}.{k}")),
                None => Some((format!("{path}.{k}"), v, "missing".into())),
            })
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => want
            .iter()
            .zip(have)
            .enumerate()
            .find_map(|(i, (w, a))| first_difference(w, a, format!("{path}[{i}]"))),
        (Value::Object(_) | Value::Array(_), _) => Some((path, expected, actual.to_string())),
        _ if json_equal(expected, actual) => None,
        _ => Some((path, expected, actual.to_string())),
    }
}
