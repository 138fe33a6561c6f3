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

/// Every unit the parser (`humantime`) reads after a number, with its length.
/// The JSON Schema's pattern is built from this table, and a test holds the
/// table to the parser, so that editors accept exactly the units `validate` does.
pub(crate) const UNITS: &[(&str, std::time::Duration)] = {
    use std::time::Duration as D;
    const NS: D = D::from_nanos(1);
    const US: D = D::from_micros(1);
    const MS: D = D::from_millis(1);
    const S: D = D::from_secs(1);
    const MIN: D = D::from_secs(60);
    const H: D = D::from_secs(3_600);
    const DAY: D = D::from_secs(86_400);
    const WEEK: D = D::from_secs(7 * 86_400);
    // humantime's month and year: 30.44 and 365.25 days.
    const MONTH: D = D::from_secs(2_630_016);
    const YEAR: D = D::from_secs(31_557_600);
    &[
        ("nanos", NS),
        ("nsec", NS),
        ("ns", NS),
        ("usec", US),
        ("us", US),
        ("\u{b5}s", US),
        ("millis", MS),
        ("msec", MS),
        ("ms", MS),
        ("seconds", S),
        ("second", S),
        ("secs", S),
        ("sec", S),
        ("s", S),
        ("minutes", MIN),
        ("minute", MIN),
        ("mins", MIN),
        ("min", MIN),
        ("m", MIN),
        ("hours", H),
        ("hour", H),
        ("hrs", H),
        ("hr", H),
        ("h", H),
        ("days", DAY),
        ("day", DAY),
        ("d", DAY),
        ("weeks", WEEK),
        ("week", WEEK),
        ("wks", WEEK),
        ("wk", WEEK),
        ("w", WEEK),
        ("months", MONTH),
        ("month", MONTH),
        ("M", MONTH),
        ("years", YEAR),
        ("year", YEAR),
        ("yrs", YEAR),
        ("yr", YEAR),
        ("y", YEAR),
    ]
};

/// A regular expression class of the characters Rust's `char::is_whitespace`
/// (and so `str::trim` and the parser) treats as space: JavaScript's `\s` differs
/// (it has U+FEFF, not U+0085), so the class is spelled out.
pub(crate) fn whitespace_class() -> String {
    let mut class = String::from("[");
    let mut chars = (0..=u32::from(char::MAX))
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
        .peekable();
    while let Some(first) = chars.next() {
        let mut last = first;
        while let Some(&next) = chars.peek() {
            if u32::from(next) != u32::from(last) + 1 {
                break;
            }
            last = next;
            chars.next();
        }
        class.push_str(&format!("\\u{:04x}", u32::from(first)));
        if last != first {
            class.push_str(&format!("-\\u{:04x}", u32::from(last)));
        }
    }
    class.push(']');
    class
}

/// The text of a duration as the parser reads it, for a JSON Schema pattern
/// (ECMA-262), without anchors: numbers with a unit from [`UNITS`], several in a
/// row (`1h30m`, `1h 30m`), spaces allowed around and inside numbers (`5 seconds`,
/// `1 000ms`), a fraction (`1.5h`) on any unit longer than a nanosecond, or `0`
/// alone. Bounds (the maximum, fractions finer than the unit allows) are for
/// `validate`.
pub(crate) fn duration_pattern() -> String {
    let ws = whitespace_class();
    let mut units: Vec<&str> = UNITS.iter().map(|(u, _)| *u).collect();
    // Longest first, so that the first alternative that fits is the whole unit.
    units.sort_by_key(|u| std::cmp::Reverse(u.chars().count()));
    let fractional: Vec<&str> = units
        .iter()
        .copied()
        .filter(|u| UNITS.iter().any(|(n, d)| n == u && d.as_nanos() > 1))
        .collect();
    let all = units.join("|");
    let fractional = fractional.join("|");
    let int = format!("[0-9](?:{ws}*[0-9])*");
    let component = format!("{int}(?:{ws}*\\.(?:{ws}*[0-9])+{ws}*(?:{fractional})|{ws}*(?:{all}))");
    format!("(?:0|{component}(?:{ws}*{component})*)")
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ws = whitespace_class();
        let pattern = format!("^{ws}*{}{ws}*$|\\$\\{{", duration_pattern());
        schemars::json_schema!({
            "description": "A duration: numbers with units (ns, us, ms, s, m, h, d, w, M, y and their long names), e.g. `30s`, `5 seconds`, `1h30m`, `1.5h`; a bare whole number means seconds. At most 10 years.",
            "anyOf": [
                {"type": "string", "pattern": pattern},
                {"type": "integer", "minimum": 0, "maximum": MAX_DURATION.as_secs()}
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

    /// The schema's units are exactly the parser's: each unit of the table reads
    /// as its length, and no other short word (every ASCII-letter word of up to 3
    /// letters, every lowercase one of 4, and longer spellings people try) is a unit.
    #[test]
    fn the_unit_table_is_the_parsers() {
        for (unit, length) in UNITS {
            let parsed = humantime::parse_duration(&format!("1{unit}"));
            assert_eq!(parsed.as_ref(), Ok(length), "1{unit}");
        }
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').chain(['\u{b5}']).collect();
        let mut words: Vec<String> = letters.iter().map(|c| c.to_string()).collect();
        for _ in 0..2 {
            let longer: Vec<String> = words
                .iter()
                .filter(|w| w.chars().count() == words.last().map_or(0, |l| l.chars().count()))
                .flat_map(|w| letters.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(longer);
        }
        let lower: Vec<char> = ('a'..='z').collect();
        for a in &lower {
            for b in &lower {
                for c in &lower {
                    for d in &lower {
                        words.push([a, b, c, d].into_iter().collect());
                    }
                }
            }
        }
        for long in [
            "nanosecond",
            "nanoseconds",
            "microsecond",
            "microseconds",
            "micros",
            "millisecond",
            "milliseconds",
            "msecs",
            "usecs",
            "nsecs",
            "sec",
            "seconds",
            "minutes",
            "hours",
            "weeks",
            "fortnight",
            "months",
            "years",
            "Seconds",
            "Minutes",
            "Hours",
            "Days",
            "MS",
            "Ms",
            "\u{3bc}s",
        ] {
            words.push(long.to_string());
        }
        for word in &words {
            let known = UNITS.iter().any(|(u, _)| u == word);
            let parsed = humantime::parse_duration(&format!("1{word}")).is_ok();
            assert_eq!(parsed, known, "unit `{word}`: parser and table disagree");
        }
    }

    /// The pattern and the parser agree on every text of a grammar that mixes
    /// numbers, units, spaces, points and stray characters, except where the
    /// parser refuses a value for its size (too large, or a fraction finer than
    /// its unit), which no pattern can say.
    #[test]
    fn the_pattern_accepts_what_the_parser_does() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let ws = whitespace_class();
        let anchored = format!("^{ws}*{}{ws}*$", duration_pattern());
        let re = regex::Regex::new(&anchored).expect("the duration pattern compiles");
        let piece = prop_oneof![
            "[0-9]{1,3}",
            Just("0".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\u{a0}".to_string()),
            Just("\u{feff}".to_string()),
            Just(".".to_string()),
            Just("-".to_string()),
            Just("x".to_string()),
            Just("S".to_string()),
            proptest::sample::select(UNITS.iter().map(|(u, _)| u.to_string()).collect::<Vec<_>>()),
        ];
        let text = proptest::collection::vec(piece, 0..7).prop_map(|p| p.concat());
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 20_000,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
        );
        runner
            .run(&text, |text| {
                let parsed = text.parse::<Duration>();
                let size = matches!(&parsed, Err(e) if e.contains("too large") || e.contains("more than the maximum"));
                if !size {
                    prop_assert_eq!(re.is_match(&text), parsed.is_ok(), "{:?}: {:?}", text, parsed);
                }
                Ok(())
            })
            .expect("pattern and parser agree");
        for ok in [
            "5 seconds",
            "1h30m",
            "1h 30m",
            "1.5h",
            "1 000ms",
            " 0 ",
            "2\u{b5}s",
            "90 s",
        ] {
            assert!(re.is_match(ok) && ok.parse::<Duration>().is_ok(), "{ok}");
        }
        for bad in [
            "5", "1.5ns", "5 S", "1h x", ".5s", "1.s", "00", "-1s", "5 μs",
        ] {
            assert!(
                !re.is_match(bad) && bad.parse::<Duration>().is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_a_bare_word() {
        let err = "soon".parse::<Duration>().unwrap_err();
        assert!(err.contains("invalid duration `soon`"), "{err}");
    }
}
