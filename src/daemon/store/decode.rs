//! The one place stored JSON turns back into typed resources. A row that cannot
//! be read is a loud [`StoreError::Corrupt`] naming the resource, never a silent
//! skip: a check whose spec no longer decodes must not quietly drop its alerts.
//!
//! Rows of `resources` go through [`row`], which every reader of that table uses
//! (see [`super::resources`]); the lower-level [`spec`] and [`spec_str`] are for
//! the few queries that read one column of it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resources::StoredResource;
use super::{Result, Row, StoreError};
use crate::spec::secrets::Redactor;
use crate::spec::{Kind, Spec};

/// Rows read that could not be decoded, since the process started: each one is
/// also logged at error level with the resource named.
static CORRUPT_READS: AtomicU64 = AtomicU64::new(0);

/// How many times a stored resource could not be decoded since the process started.
pub fn corrupt_reads() -> u64 {
    CORRUPT_READS.load(Ordering::Relaxed)
}

/// The kind column of a row; an unknown kind is corrupt, not a `Check`.
pub fn kind(s: &str) -> Result<Kind> {
    s.parse()
        .map_err(|()| StoreError::Corrupt(format!("a stored resource has the unknown kind `{s}`")))
}

/// Decodes a stored spec (as kept in the `spec` column, `kind` key included) of
/// resource `kind`/`name` into `T`. A failure is logged and counted here.
pub fn spec<T: DeserializeOwned>(kind: Kind, name: &str, spec: &Value) -> Result<T> {
    quiet(kind, name, spec).map_err(|e| loud(kind, name, spec, e))
}

/// [`spec`] from the column's text.
pub fn spec_str<T: DeserializeOwned>(kind: Kind, name: &str, text: &str) -> Result<T> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| loud(kind, name, &Value::Null, corrupt(kind, name, &e)))?;
    spec(kind, name, &v)
}

/// Part of a stored spec, from the column's text: `T` reads the fields it names
/// and ignores the others (a page needs a check's name and labels, not all of it).
/// A failure is logged and counted like [`spec`]'s.
pub fn part<T: DeserializeOwned>(kind: Kind, name: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| loud(kind, name, &Value::Null, corrupt(kind, name, &e)))
}

/// [`spec`] without the log: for [`row`], which logs with what it knows.
fn quiet<T: DeserializeOwned>(kind: Kind, name: &str, spec: &Value) -> Result<T> {
    let stripped = match spec {
        Value::Object(m) if m.contains_key("kind") => {
            let mut m = m.clone();
            m.remove("kind");
            Value::Object(m)
        }
        other => other.clone(),
    };
    serde_json::from_value(stripped).map_err(|e| corrupt(kind, name, &e))
}

/// Logs and counts `e`, the failure to decode `kind`/`name` (stored as `spec`),
/// the secrets the kind always has masked in it.
fn loud(kind: Kind, name: &str, spec: &Value, e: StoreError) -> StoreError {
    CORRUPT_READS.fetch_add(1, Ordering::Relaxed);
    let pointers = crate::spec::secrets::secret_pointers(kind, spec, &BTreeSet::new());
    let message = Redactor::masking(spec, &pointers).scrub(&e.to_string());
    tracing::error!(kind = kind.as_str(), name, error = %message, "a stored resource cannot be read");
    StoreError::Corrupt(message)
}

/// The typed resource of kind `kind` that `value` (a stored spec) holds, not
/// logged: callers say what went wrong with what they know.
pub fn typed(kind: Kind, name: &str, value: &Value) -> Result<Spec> {
    let typed = match kind {
        Kind::Check => Spec::Check(quiet(kind, name, value)?),
        Kind::Channel => Spec::Channel(quiet(kind, name, value)?),
        Kind::Template => Spec::Template(quiet(kind, name, value)?),
        Kind::Maintenance => Spec::Maintenance(quiet(kind, name, value)?),
        Kind::StatusPage => Spec::StatusPage(quiet(kind, name, value)?),
    };
    if typed.name() != name {
        return Err(corrupt(
            kind,
            name,
            &format_args!("its spec is named `{}`", typed.name()),
        ));
    }
    Ok(typed)
}

/// A row of `resources` as SQLite holds it, not yet decoded.
#[derive(Debug, Clone)]
pub struct Raw {
    pub tenant: i64,
    pub kind: String,
    pub name: String,
    pub spec: String,
    pub secrets: String,
    pub source: Option<String>,
    pub file: Option<String>,
    pub line: Option<i64>,
}

/// The columns [`Raw::from_row`] reads, in its order, for `SELECT … FROM resources r`.
pub const RAW_COLUMNS: &str =
    "r.tenant_id, r.kind, r.name, r.spec, r.secrets, r.source, r.file, r.line";

impl Raw {
    /// Reads the [`RAW_COLUMNS`] starting at column `at`.
    pub fn from_row(r: &Row<'_>, at: usize) -> Result<Raw> {
        Ok(Raw {
            tenant: r.get(at)?,
            kind: r.get(at + 1)?,
            name: r.get(at + 2)?,
            spec: r.get(at + 3)?,
            secrets: r.get(at + 4)?,
            source: r.get(at + 5)?,
            file: r.get(at + 6)?,
            line: r.get(at + 7)?,
        })
    }
}

/// A stored resource that cannot be read: its kind is unknown or its spec no
/// longer decodes. Kept apart from the readable ones so that one such row neither
/// hides the others nor passes for something it is not.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub tenant: i64,
    /// `None` when the kind itself is unknown (written by another version).
    pub kind: Option<Kind>,
    /// The kind column as stored.
    pub kind_text: String,
    pub name: String,
    /// The spec as stored, `Null` when it is not even JSON.
    pub spec: Value,
    pub secrets: BTreeSet<String>,
    pub source: Option<String>,
    /// What is wrong and what to do, naming the resource.
    pub message: String,
}

impl Unreadable {
    /// The error a request that needs this resource fails with.
    pub fn error(&self) -> StoreError {
        StoreError::Corrupt(self.message.clone())
    }
}

/// Decodes one row: the only place a row of `resources` becomes a
/// [`StoredResource`]. A row that cannot be read is logged (kind, name, tenant
/// and why) and counted in [`corrupt_reads`] here, once per read, so that no
/// caller can drop it quietly.
pub fn row(raw: Raw) -> std::result::Result<StoredResource, Box<Unreadable>> {
    let kind = kind(&raw.kind);
    let spec: std::result::Result<Value, _> = serde_json::from_str(&raw.spec);
    let secrets: std::result::Result<BTreeSet<String>, _> = serde_json::from_str(&raw.secrets);
    let decoded = match (&kind, &spec, &secrets) {
        (Ok(k), Ok(v), Ok(_)) => typed(*k, &raw.name, v),
        (Err(_), _, _) => Err(StoreError::Corrupt(format!(
            "the stored resource `{}` has the unknown kind `{}`; remove it with a daemon that knows that kind, or delete its row",
            raw.name, raw.kind
        ))),
        (Ok(k), Err(e), _) => Err(corrupt(*k, &raw.name, e)),
        (Ok(k), _, Err(e)) => Err(corrupt(
            *k,
            &raw.name,
            &format_args!("its secret list: {e}"),
        )),
    };
    match decoded {
        Ok(typed) => Ok(StoredResource {
            kind: typed.kind(),
            name: raw.name,
            spec: spec.unwrap_or_default(),
            typed: Arc::new(typed),
            secrets: secrets.unwrap_or_default(),
            source: raw.source,
            file: raw.file,
            line: raw.line,
        }),
        Err(e) => {
            CORRUPT_READS.fetch_add(1, Ordering::Relaxed);
            let secrets = secrets.unwrap_or_default();
            let spec = spec.unwrap_or_default();
            // Decoding errors may quote values: the secrets among them are masked.
            let mut pointers = secrets.clone();
            if let Ok(k) = &kind {
                pointers.extend(crate::spec::secrets::secret_pointers(*k, &spec, &secrets));
            }
            let message = Redactor::masking(&spec, &pointers).scrub(&e.to_string());
            tracing::error!(
                tenant = raw.tenant,
                kind = %raw.kind,
                name = %raw.name,
                error = %message,
                "a stored resource cannot be read"
            );
            Err(Box::new(Unreadable {
                tenant: raw.tenant,
                // An unknown kind is `None`; its error is in `message`.
                kind: kind.ok(),
                kind_text: raw.kind,
                name: raw.name,
                spec,
                secrets,
                source: raw.source,
                message,
            }))
        }
    }
}

fn corrupt(kind: Kind, name: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!(
        "the stored {} `{name}` cannot be read ({e}); apply it again to replace it",
        kind.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Check, Maintenance};

    #[test]
    fn an_unknown_kind_is_corrupt_not_a_check() {
        assert!(matches!(kind("Gadget"), Err(StoreError::Corrupt(m)) if m.contains("`Gadget`")));
        assert_eq!(kind("Check").ok(), Some(Kind::Check));
    }

    #[test]
    fn a_spec_that_does_not_decode_is_corrupt_and_named() {
        let v = serde_json::json!({"kind": "Check", "name": "api", "type": "http"});
        let err = spec::<Check>(Kind::Check, "api", &v).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("Check `api`")),
            "{err}"
        );
        let err = spec_str::<Maintenance>(Kind::Maintenance, "m", "{not json").unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("Maintenance `m`")),
            "{err}"
        );
    }

    #[test]
    fn a_spec_named_otherwise_than_its_row_is_corrupt() {
        let v = serde_json::json!({"kind": "Check", "name": "other", "type": "http", "target": "http://h/", "schedule": "30s"});
        let err = typed(Kind::Check, "api", &v).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("Check `api`") && m.contains("`other`")),
            "{err}"
        );
    }
}
