//! The one place stored JSON turns back into typed resources. A row that cannot
//! be read is a loud [`StoreError::Corrupt`] naming the resource, never a silent
//! skip: a check whose spec no longer decodes must not quietly drop its alerts.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Result, StoreError};
use crate::spec::Kind;

/// The kind column of a row; an unknown kind is corrupt, not a `Check`.
pub fn kind(s: &str) -> Result<Kind> {
    s.parse()
        .map_err(|()| StoreError::Corrupt(format!("a stored resource has the unknown kind `{s}`")))
}

/// Decodes a stored spec (as kept in the `spec` column, `kind` key included) of
/// resource `kind`/`name` into `T`.
pub fn spec<T: DeserializeOwned>(kind: Kind, name: &str, spec: &Value) -> Result<T> {
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

/// [`spec`] from the column's text.
pub fn spec_str<T: DeserializeOwned>(kind: Kind, name: &str, text: &str) -> Result<T> {
    let v: Value = serde_json::from_str(text).map_err(|e| corrupt(kind, name, &e))?;
    spec(kind, name, &v)
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
}
