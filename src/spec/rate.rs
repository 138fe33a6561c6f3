//! Rates as people write them: `30/s`, `20/min`, `100/h`, `5/10s`.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Duration;

/// At most `count` events per `per`; a burst of `count` is allowed, then one every
/// `per / count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn new(count: u32, per_secs: u64) -> Self {
        Self {
            count,
            per: Duration::from_secs(per_secs),
        }
    }

    /// The time one event's allowance takes to come back.
    pub fn period(&self) -> std::time::Duration {
        self.per.get() / self.count.max(1)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per.get().as_secs() {
            1 if self.per.get().subsec_nanos() == 0 => write!(f, "{}/s", self.count),
            60 if self.per.get().subsec_nanos() == 0 => write!(f, "{}/min", self.count),
            3600 if self.per.get().subsec_nanos() == 0 => write!(f, "{}/h", self.count),
            _ => write!(f, "{}/{}", self.count, self.per),
        }
    }
}

/// The longest period a rate may name: longer ones limit nothing useful, and
/// the limiter's arithmetic has bounds.
const MAX_PERIOD: std::time::Duration = std::time::Duration::from_secs(86_400);
/// The largest count per period.
const MAX_COUNT: u32 = 100_000;

const EXPECTED: &str = "expected a rate such as `30/s`, `20/min`, `100/h` or `5/10s` (a count, `/`, a unit or a duration)";

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (count, per) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: {EXPECTED}"))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!("`{s}`: the count must be a whole number above 0; {EXPECTED}")
            })?;
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => other.parse().map_err(|_| format!("`{s}`: {EXPECTED}"))?,
        };
        if per.get().is_zero() || per.get() > MAX_PERIOD {
            return Err(format!(
                "`{s}`: the period must be longer than 0s and at most a day"
            ));
        }
        if count > MAX_COUNT {
            return Err(format!("`{s}`: at most {MAX_COUNT} per period"));
        }
        Ok(Rate { count, per })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        use super::duration::{duration_pattern, whitespace_class};
        let ws = whitespace_class();
        // A count of 1 to MAX_COUNT, as `u32` parses it (a `+` and leading zeros
        // allowed), then a unit or a duration.
        let count = format!("\\+?0*(?:{})", super::schema::up_to(MAX_COUNT));
        let per = format!("s|sec|second|m|min|minute|h|hour|{}", duration_pattern());
        let pattern = format!(
            "^{ws}*{count}{ws}*/{ws}*(?:{per}){ws}*$|{}",
            super::schema::INTERPOLATED
        );
        schemars::json_schema!({
            "description": "At most this many per period: `30/s`, `20/min`, `100/h`, `5/10s`; up to 100000 per period of at most a day.",
            "type": "string",
            "pattern": pattern
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_and_print_back() {
        for (text, shown, period_ms) in [
            ("30/s", "30/s", 33),
            ("20/min", "20/min", 3000),
            ("100 / hour", "100/h", 36_000),
            ("5/10s", "5/10s", 2000),
        ] {
            let r: Rate = text.parse().unwrap();
            assert_eq!(r.to_string(), shown);
            assert_eq!(r.period().as_millis(), period_ms, "{text}");
        }
        for bad in [
            "30",
            "0/s",
            "x/s",
            "3/fortnight",
            "3/0s",
            "1/600y",
            "1000000/s",
            "1/2d",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }
}
