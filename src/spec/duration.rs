//! Human durations (`30s`, `5m`, `1h30m`, `14d`) as they appear in check files.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written the human way. Serialises back to its canonical text
/// (`90s` becomes `1m 30s`), so two spellings of one duration compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl fmt::Display for Duration {
    /// Compact units only (`14d`, `1h30m`, `1m30s`, `250ms`), so that a duration
    /// prints the same way whichever spelling it was written in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0;
        if total.is_zero() {
            return f.write_str("0s");
        }
        let secs = total.as_secs();
        let nanos = total.subsec_nanos();
        let parts = [
            (secs / 86_400, "d"),
            (secs / 3_600 % 24, "h"),
            (secs / 60 % 60, "m"),
            (secs % 60, "s"),
            (u64::from(nanos / 1_000_000), "ms"),
            (u64::from(nanos / 1_000 % 1_000), "us"),
            (u64::from(nanos % 1_000), "ns"),
        ];
        for (n, unit) in parts {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(
                "expected a duration such as `30s`, `5m` or `1h30m`, found an empty string".into(),
            );
        }
        humantime::parse_duration(trimmed).map(Duration).map_err(|e| {
            format!("invalid duration `{trimmed}`: {e}; expected a number with a unit, such as `500ms`, `30s`, `5m`, `2h` or `14d`")
        })
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads a value written as text (parsed with `FromStr`) or as a bare number of
/// seconds, which is how durations and schedules may both be given.
pub(crate) fn text_or_seconds<'de, D, T>(
    deserializer: D,
    from_secs: fn(u64) -> T,
    expected: &str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Seconds(u64),
    }
    match Raw::deserialize(deserializer) {
        Ok(Raw::Text(s)) => s.parse().map_err(serde::de::Error::custom),
        Ok(Raw::Seconds(n)) => Ok(from_secs(n)),
        Err(_) => Err(serde::de::Error::custom(expected)),
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        text_or_seconds(
            deserializer,
            Duration::from_secs,
            "expected a duration such as `30s`, `5m` or `1h30m`",
        )
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: a number with a unit (ms, s, m, h, d), e.g. `30s`, `5m`, `1h30m`; a bare integer means seconds.",
            "oneOf": [
                {"type": "string", "pattern": "^\\s*([0-9]+\\s*(ns|us|ms|s|sec|m|min|h|hr|d|day|days|w)\\s*)+$"},
                {"type": "integer", "minimum": 0}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_duration_print_the_same() {
        let a: Duration = "90s".parse().unwrap();
        let b: Duration = "1m 30s".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "1m30s");
        assert_eq!("14 days".parse::<Duration>().unwrap().to_string(), "14d");
        assert_eq!(
            "1d 2h 500ms".parse::<Duration>().unwrap().to_string(),
            "1d2h500ms"
        );
    }

    #[test]
    fn rejects_a_bare_word() {
        let err = "soon".parse::<Duration>().unwrap_err();
        assert!(err.contains("invalid duration `soon`"), "{err}");
    }
}
