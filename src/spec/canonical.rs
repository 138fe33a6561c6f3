//! The canonical form of a resource — defaults filled in, sets sorted, maps in key
//! order — and its content hash. Two files that mean the same thing hash the same.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{CheckType, Spec};

/// The resource as JSON with `kind` added, after normalisation.
pub fn canonical(spec: &Spec) -> Value {
    let mut spec = spec.clone();
    let value = match &mut spec {
        Spec::Check(c) => {
            c.normalize();
            serde_json::to_value(&*c).map(|mut v| {
                own_settings_only(c.check_type, &mut v);
                v
            })
        }
        Spec::Channel(c) => {
            c.normalize();
            serde_json::to_value(&*c)
        }
        Spec::Template(t) => serde_json::to_value(&*t),
        Spec::Maintenance(m) => {
            m.checks.sort();
            m.checks.dedup();
            serde_json::to_value(&*m)
        }
        Spec::StatusPage(p) => serde_json::to_value(&*p),
    };
    // Serialising plain data into a Value cannot fail; fall back to null rather than panic.
    let mut value = value.unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("kind".into(), Value::String(spec.kind().as_str().into()));
    }
    sort_keys(&mut value);
    value
}

/// Drops the `http` settings a check of `check_type` does not use, which its
/// struct carries as defaults: a `tcp` or `grpc` check has no `http` section, and
/// a `graphql` check builds its own method and body. What is left is what the
/// check's file may say, so a spec printed back validates again. Stored specs
/// from before are brought to this form by a store migration.
fn own_settings_only(check_type: CheckType, value: &mut Value) {
    let Value::Object(map) = value else { return };
    match check_type {
        CheckType::Http => {}
        CheckType::Tcp | CheckType::Grpc => {
            map.remove("http");
        }
        CheckType::Graphql => {
            if let Some(Value::Object(http)) = map.get_mut("http") {
                http.remove("method");
                http.remove("body");
            }
        }
    }
}

/// Orders every map by key, whatever map type serde_json was built with.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// SHA-256 of the canonical JSON (keys sorted, no whitespace), as lowercase hex.
pub fn content_hash(spec: &Spec) -> String {
    let text = canonical(spec).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}
