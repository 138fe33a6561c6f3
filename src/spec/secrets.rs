//! Which values are secrets: those that came from `${...}` (recorded at load time)
//! and fields that hold credentials by their nature. Secrets are stored by the
//! daemon but never printed back: not in plans, API responses or logs.
//!
//! Values are masked where they sit ([`masked`]); free text that may quote them
//! (probe errors and results, validation messages) goes through a [`Redactor`].

mod redact;

use std::collections::BTreeSet;

use serde_json::Value;

use super::Kind;

/// What a secret prints as, in text and in JSON.
pub const MASK: &str = "(sensitive value)";

pub use redact::{MIN_PART_CHARS, Redactor, Variables};

/// Fields that hold credentials whatever their value's origin.
const SECRET_FIELDS: &[(Kind, &str)] = &[
    (Kind::Channel, "/telegram/bot_token"),
    (Kind::Channel, "/telegram/webhook_secret"),
    (Kind::Channel, "/slack/signing_secret"),
    (Kind::Channel, "/slack/webhook_url"),
    (Kind::Channel, "/email/password"),
    (Kind::Channel, "/webhook/url"),
    (Kind::Channel, "/webhook/secret"),
    (Kind::Check, "/grpc/tls/client_key"),
    (Kind::Check, "/tcp/tls/client_key"),
    (Kind::StatusPage, "/access/token"),
];

/// Header names whose values are credentials, in checks and webhooks alike.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "x-auth-token",
    "api-key",
];

/// Every secret pointer of a canonical resource: the built-in secret fields that are
/// present, secret headers, and the pointers in `from_variables`.
pub fn secret_pointers(
    kind: Kind,
    canonical: &Value,
    from_variables: &BTreeSet<String>,
) -> BTreeSet<String> {
    // Pointers were recorded as written; the canonical form lower-cases header names,
    // so look for the pointer as is, then with its last segment lower-cased, then for
    // its nearest ancestor: a secret is masked too widely rather than not at all.
    let mut out: BTreeSet<String> = from_variables
        .iter()
        .filter_map(|p| locate(canonical, p))
        .collect();
    for (k, p) in SECRET_FIELDS {
        if *k == kind && canonical.pointer(p).is_some() {
            out.insert((*p).to_string());
        }
    }
    // Credentials in a URL (`https://user:pass@host`, `https://TOKEN@host`,
    // `?api_key=…`) are secret whatever their origin.
    if kind == Kind::Check
        && let Some(Value::String(target)) = canonical.pointer("/target")
        // Without `@` there is no user or password, without `?` no query: most
        // targets need no parsing (this runs for every check a command loads).
        && (target.contains('@') || target.contains('?'))
        && url::Url::parse(target).is_ok_and(|u| has_credentials(&u))
    {
        out.insert("/target".into());
    }
    for headers in ["/http/headers", "/webhook/headers", "/grpc/metadata"] {
        if let Some(Value::Object(map)) = canonical.pointer(headers) {
            for name in map.keys() {
                if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    out.insert(format!("{headers}/{}", super::decode::escape_segment(name)));
                }
            }
        }
    }
    out
}

/// Query parameters whose values are credentials, by the names services give them.
const SECRET_QUERY_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "password",
    "auth",
    "sig",
    "signature",
];

fn secret_query_param(name: &str) -> bool {
    SECRET_QUERY_PARAMS.contains(&name.to_ascii_lowercase().as_str())
}

fn has_credentials(u: &url::Url) -> bool {
    !u.username().is_empty()
        || u.password().is_some()
        || u.query_pairs().any(|(k, _)| secret_query_param(&k))
}

fn locate(canonical: &Value, pointer: &str) -> Option<String> {
    if canonical.pointer(pointer).is_some() {
        return Some(pointer.to_string());
    }
    let (parent, last) = pointer.rsplit_once('/')?;
    let lowered = format!("{parent}/{}", last.to_ascii_lowercase());
    if canonical.pointer(&lowered).is_some() {
        return Some(lowered);
    }
    let mut p = parent;
    while !p.is_empty() {
        if canonical.pointer(p).is_some() {
            return Some(p.to_string());
        }
        p = p.rsplit_once('/').map_or("", |(head, _)| head);
    }
    None
}

/// Whether `pointer` is a secret or lies inside one.
pub fn is_secret(pointer: &str, secrets: &BTreeSet<String>) -> bool {
    secrets
        .iter()
        .any(|s| pointer == s || pointer.starts_with(&format!("{s}/")))
}

/// A copy of `value` with every secret replaced by [`MASK`].
pub fn masked(value: &Value, secrets: &BTreeSet<String>) -> Value {
    let mut v = value.clone();
    mask(&mut v, secrets);
    v
}

/// Masks in place the values at `secrets` (JSON pointers).
pub fn mask(v: &mut Value, secrets: &BTreeSet<String>) {
    for p in secrets {
        if let Some(slot) = v.pointer_mut(p) {
            *slot = Value::String(MASK.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_secret_fields_headers_and_interpolated_values() {
        let v = json!({"webhook": {"url": "https://x", "headers": {"Authorization": "t", "x-team": "a"}}, "labels": {"k": "v"}});
        let vars: BTreeSet<String> = ["/labels/k".to_string(), "/gone".to_string()].into();
        let s = secret_pointers(Kind::Channel, &v, &vars);
        assert_eq!(
            s,
            [
                "/labels/k",
                "/webhook/headers/Authorization",
                "/webhook/url"
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        );
        let m = masked(&v, &s);
        assert_eq!(m["webhook"]["url"], MASK);
        assert_eq!(m["webhook"]["headers"]["x-team"], "a");
        assert!(is_secret("/webhook/url", &s) && !is_secret("/webhook/urls", &s));
    }

    #[test]
    fn a_secret_header_written_in_mixed_case_stays_masked() {
        let v =
            json!({"http": {"headers": {"private-token": "glpat-x"}}, "target": "https://u:p@h/"});
        let vars: BTreeSet<String> = ["/http/headers/Private-Token".to_string()].into();
        let s = secret_pointers(Kind::Check, &v, &vars);
        assert!(
            s.contains("/http/headers/private-token") && s.contains("/target"),
            "{s:?}"
        );
        assert!(!masked(&v, &s).to_string().contains("glpat"));
    }

    #[test]
    fn client_keys_are_secret() {
        let v = json!({"grpc": {"tls": {"client_cert": "c", "client_key": "k"}}});
        let s = secret_pointers(Kind::Check, &v, &BTreeSet::new());
        assert_eq!(s, ["/grpc/tls/client_key".to_string()].into());
        let v = json!({"tcp": {"tls": {"client_key": "k"}}});
        let s = secret_pointers(Kind::Check, &v, &BTreeSet::new());
        assert!(!masked(&v, &s).to_string().contains("\"k\""));
    }

    #[test]
    fn grpc_credential_metadata_is_secret() {
        let v = json!({"grpc": {"metadata": {"x-api-key": "k", "x-team": "a"}}});
        let s = secret_pointers(Kind::Check, &v, &BTreeSet::new());
        assert_eq!(s, ["/grpc/metadata/x-api-key".to_string()].into());
    }
}
