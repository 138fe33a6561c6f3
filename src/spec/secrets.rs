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
        if *k == kind && at(canonical, p).is_some() {
            out.insert((*p).to_string());
        }
    }
    // Credentials in a URL (`https://user:pass@host`, `https://TOKEN@host`,
    // `?api_key=…`) are secret whatever their origin.
    if kind == Kind::Check
        && let Some(Value::String(target)) = at(canonical, "/target")
        // Without `@` there is no user or password, without `?` no query: most
        // targets need no parsing (this runs for every check a command loads).
        && (target.contains('@') || target.contains('?'))
        && url::Url::parse(target).is_ok_and(|u| has_credentials(&u))
    {
        out.insert("/target".into());
    }
    for headers in ["/http/headers", "/webhook/headers", "/grpc/metadata"] {
        if let Some(Value::Object(map)) = at(canonical, headers) {
            for name in map.keys() {
                if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    out.insert(format!("{headers}/{}", super::decode::escape_segment(name)));
                }
            }
        }
    }
    out
}

/// Whether a check may hold a secret by its fields alone, read off the typed check:
/// when it is false (and nothing in it came from `${...}`), [`secret_pointers`] of
/// its canonical form is empty. It errs towards true: a target with `@` or `?` is
/// not parsed here.
pub fn check_may_hold_secrets(check: &super::Check) -> bool {
    let client_key =
        |tls: Option<&super::check::ClientTls>| tls.is_some_and(|t| t.client_key.is_some());
    let secret_header =
        |name: &String| SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str());
    client_key(check.tcp.as_ref().and_then(|t| t.tls.as_ref()))
        || client_key(check.grpc.as_ref().and_then(|g| g.tls.as_ref()))
        || check.target.contains('@')
        || check.target.contains('?')
        || check.http.headers.keys().any(secret_header)
        || check
            .grpc
            .as_ref()
            .is_some_and(|g| g.metadata.keys().any(secret_header))
}

/// `value.pointer(pointer)` without an allocation for each segment when no segment
/// is escaped (`~0`, `~1`), as none of the built-in pointers is: this runs several
/// times for every resource a command loads.
fn at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.contains('~') || !pointer.starts_with('/') {
        return value.pointer(pointer);
    }
    pointer
        .split('/')
        .skip(1)
        .try_fold(value, |v, segment| match v {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .filter(|_| segment == "0" || !segment.starts_with(['0', '+']))
                .and_then(|i| items.get(i)),
            _ => None,
        })
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

    /// The checks of `yaml`, loaded as a command loads them.
    fn checks(yaml: &str) -> Vec<crate::spec::Resource> {
        let source = crate::spec::Source {
            name: "checks.yaml".into(),
            text: yaml.into(),
            base_dir: ".".into(),
        };
        match crate::spec::load::load(&[source], &|_| None) {
            Ok(bundle) => bundle.resources,
            Err(d) => panic!("{d:?}"),
        }
    }

    #[test]
    fn a_check_said_to_hold_no_secrets_has_none_and_every_secret_field_is_known() {
        // Adding a check's secret field must teach `check_may_hold_secrets` of it.
        let fields: Vec<&str> = SECRET_FIELDS
            .iter()
            .filter(|(k, _)| *k == Kind::Check)
            .map(|(_, p)| *p)
            .collect();
        assert_eq!(fields, ["/grpc/tls/client_key", "/tcp/tls/client_key"]);
        let pair =
            rcgen::generate_simple_self_signed(vec!["h".to_string()]).expect("a certificate");
        // Inline PEM in a double-quoted YAML string.
        let quoted = |pem: String| pem.replace('\n', "\\n");
        let (cert, key) = (
            quoted(pair.cert.pem()),
            quoted(pair.signing_key.serialize_pem()),
        );
        let cases = [
            ("type: http\ntarget: http://h/\n", false),
            (
                "type: http\ntarget: http://h/\nhttp: {headers: {X-Team: a}}\n",
                false,
            ),
            (
                "type: http\ntarget: http://h/\nhttp: {headers: {X-Api-Key: a}}\n",
                true,
            ),
            (
                "type: http\ntarget: http://h/\nhttp: {headers: {Cookie: a}}\n",
                true,
            ),
            ("type: http\ntarget: http://u:p@h/\n", true),
            ("type: http\ntarget: http://h/?token=t\n", true),
            ("type: tcp\ntarget: h:1\n", false),
            (
                &format!(
                    "type: tcp\ntarget: h:1\ntcp: {{tls: {{client_cert: \"{cert}\", client_key: \"{key}\"}}}}\n"
                ),
                true,
            ),
            (
                "type: grpc\ntarget: h:1\ngrpc: {health: true, metadata: {x-team: a}}\n",
                false,
            ),
            (
                "type: grpc\ntarget: h:1\ngrpc: {health: true, metadata: {authorization: a}}\n",
                true,
            ),
            (
                &format!(
                    "type: grpc\ntarget: h:1\ngrpc: {{health: true, tls: {{client_cert: \"{cert}\", client_key: \"{key}\"}}}}\n"
                ),
                true,
            ),
        ];
        for (body, secret) in cases {
            let yaml = format!("kind: Check\nname: c\n{body}");
            let [r] = &checks(&yaml)[..] else {
                panic!("one check in {yaml}")
            };
            let crate::spec::Spec::Check(c) = &r.spec else {
                panic!("a check")
            };
            assert_eq!(check_may_hold_secrets(c), secret, "{yaml}");
            let pointers =
                secret_pointers(Kind::Check, &crate::spec::canonical(&r.spec), &r.sensitive);
            assert_eq!(!pointers.is_empty(), secret, "{yaml}: {pointers:?}");
            assert_eq!(r.probe_redactor().is_empty(), !secret, "{yaml}");
        }
    }

    #[test]
    fn a_pointer_finds_what_serde_json_finds() {
        let v = json!({"a": {"b": [1, {"c": 2}], "x/y": 3, "t~": 4, "": 5}, "0": 6});
        for p in [
            "",
            "/",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a/b/01",
            "/a/b/+1",
            "/a/b/2",
            "/a/x~1y",
            "/a/t~0",
            "/a/",
            "/0",
            "/a/b/1/c/d",
            "a",
            "/nope",
        ] {
            assert_eq!(at(&v, p), v.pointer(p), "{p}");
        }
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
