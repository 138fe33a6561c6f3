//! Human durations (`30s`, `5m`, `1h30m`, `14d`) as they appear in check files.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written the human way. Serialises back to its canonical text
/// (`90s` becomes `1m 30s`), so two spellings of one duration compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

/// The longest duration a check file may give, ten years. Every duration becomes
/// a count of milliseconds in the daemon's clock arithmetic; nothing waits,
/// repeats or is kept for longer than this in practice, and a value near the
/// top of `u64` seconds would wrap negative there and turn "remind every
/// eternity" into "remind every run".
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 86_400);

/// `duration` in whole milliseconds for clock arithmetic, saturating at
/// `i64::MAX` instead of wrapping negative.
pub fn millis_i64(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Refuses a duration above [`MAX_DURATION`], saying what the maximum is.
fn at_most_max(duration: std::time::Duration, written: &str) -> Result<Duration, String> {
    if duration > MAX_DURATION {
        return Err(format!(
            "duration `{written}` is more than the maximum of {} (10 years); lower it",
            Duration(MAX_DURATION)
        ));
    }
    Ok(Duration(duration))
}

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
        let duration = humantime::parse_duration(trimmed).map_err(|e| {
            format!("invalid duration `{trimmed}`: {e}; expected a number with a unit, such as `500ms`, `30s`, `5m`, `2h` or `14d`")
        })?;
        at_most_max(duration, trimmed)
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
        let duration = text_or_seconds(
            deserializer,
            Duration::from_secs,
            "expected a duration such as `30s`, `5m` or `1h30m`",
        )?;
        // Text was bounded as it parsed; a bare number of seconds is bounded here.
        at_most_max(duration.0, &format!("{}s", duration.0.as_secs()))
            .map_err(serde::de::Error::custom)
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
    fn millis_saturate_instead_of_wrapping_negative() {
        assert_eq!(millis_i64(std::time::Duration::from_millis(1_500)), 1_500);
        assert_eq!(
            millis_i64(std::time::Duration::from_secs(u64::MAX)),
            i64::MAX
        );
        let just_over = std::time::Duration::from_millis(i64::MAX as u64 + 1);
        assert_eq!(millis_i64(just_over), i64::MAX);
        assert!(millis_i64(MAX_DURATION) > 0);
    }

    #[test]
    fn durations_above_the_maximum_are_refused_in_either_spelling() {
        let max = Duration(MAX_DURATION).to_string();
        assert_eq!(max.parse::<Duration>(), Ok(Duration(MAX_DURATION)));
        for over in ["18446744073709551615s", "3651d", "87601h"] {
            let err = over.parse::<Duration>().unwrap_err();
            assert!(
                err.contains("more than the maximum of 3650d"),
                "{over}: {err}"
            );
        }
        let seconds: Result<Duration, _> = serde_json::from_str("18446744073709551615");
        assert!(seconds.is_err());
        let at_max: Duration = serde_json::from_str(&MAX_DURATION.as_secs().to_string()).unwrap();
        assert_eq!(at_max, Duration(MAX_DURATION));
    }

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
