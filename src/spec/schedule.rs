//! When a check runs: a fixed interval (`30s`, `@every 30s`) or a calendar
//! schedule (`@hourly`, `@daily`, cron with an optional seconds field).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Duration;

/// The shortest interval a check may run at. Probing more often than this loads
/// targets without telling anyone anything new.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// How many upcoming cron firings are inspected to find the shortest gap of a
/// calendar schedule. Enough to see through `*/2`-style steps and minute wrap-around.
const CRON_GAP_SAMPLES: usize = 240;

#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every fixed interval, relative to the check's first run.
    Every(Duration),
    /// On calendar times. Keeps the text as written (after trimming) for display.
    Cron { expr: String, cron: Box<Cron> },
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Schedule {
    pub fn every(d: Duration) -> Self {
        Self::Every(d)
    }

    /// The next time the schedule fires strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => chrono::Duration::from_std(d.get())
                .ok()
                .and_then(|step| after.checked_add_signed(step)),
            Schedule::Cron { cron, .. } => cron.find_next_occurrence(&after, false).ok(),
        }
    }

    /// The shortest time between two runs, used to enforce [`MIN_INTERVAL`] and
    /// to check that a timeout fits inside an interval.
    pub fn min_interval(&self) -> std::time::Duration {
        match self {
            Schedule::Every(d) => d.get(),
            Schedule::Cron { cron, .. } => {
                let start = cron_epoch();
                let mut prev: Option<DateTime<Utc>> = None;
                let mut min = std::time::Duration::MAX;
                for t in cron.iter_after(start).take(CRON_GAP_SAMPLES) {
                    if let Some(p) = prev
                        && let Ok(gap) = (t - p).to_std()
                    {
                        min = min.min(gap);
                    }
                    prev = Some(t);
                }
                min
            }
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "{d}"),
            Schedule::Cron { expr, .. } => f.write_str(expr),
        }
    }
}

/// Where calendar schedules are sampled from: 2026-01-01, a fixed instant so that
/// validation gives the same answer whenever it runs.
fn cron_epoch() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Some(rest) = text.strip_prefix("@every") {
            return rest
                .trim()
                .parse()
                .map(Schedule::Every)
                .map_err(|e| format!("`@every` takes a duration: {e}"));
        }
        if text.starts_with('@') || text.split_whitespace().count() >= 5 {
            let parser = CronParser::builder().seconds(Seconds::Optional).build();
            return match parser.parse(text) {
                // A date that does not exist (`30 2`: 30 February) parses but
                // never comes; a check on it would be valid and never run.
                Ok(cron) if cron.find_next_occurrence(&cron_epoch(), false).is_err() => {
                    Err(format!(
                        "this schedule never fires: `{text}` names no date that exists; check the day of the month against the months"
                    ))
                }
                Ok(cron) => Ok(Schedule::Cron {
                    expr: text.split_whitespace().collect::<Vec<_>>().join(" "),
                    cron: Box::new(cron),
                }),
                Err(e) => Err(format!(
                    "invalid schedule `{text}`: {e}; expected a duration (`30s`), `@every 30s`, `@hourly`, `@daily`, or a cron expression such as `*/30 * * * * *`"
                )),
            };
        }
        text.parse().map(Schedule::Every).map_err(|_| {
            format!(
                "invalid schedule `{text}`: expected a duration (`30s`), `@every 30s`, `@hourly`, `@daily`, or a cron expression such as `*/30 * * * * *`"
            )
        })
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::duration::text_or_seconds(
            deserializer,
            |n| Schedule::Every(Duration::from_secs(n)),
            "expected a schedule: a duration (`30s`), `@every 30s`, `@hourly`, `@daily` or a cron expression",
        )
    }
}

/// A cron expression as croner reads it, for a JSON Schema pattern without
/// anchors: a nickname (`@daily`), or 5 to 7 fields of its characters and
/// day and month names, in any case. Which field takes which value is for `validate`.
pub(crate) fn cron_pattern() -> String {
    use super::schema::any_case;
    let ws = super::duration::whitespace_class();
    let nicknames = ["yearly", "annually", "monthly", "weekly", "daily", "hourly"]
        .map(any_case)
        .join("|");
    let names = [
        "sun", "mon", "tue", "wed", "thu", "fri", "sat", "jan", "feb", "mar", "apr", "may", "jun",
        "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .map(any_case)
    .join("|");
    let field = format!("(?:[0-9*/,#?LWlw-]|{names})+");
    format!("(?:@(?:{nicknames})|{field}(?:{ws}+{field}){{4,6}})")
}

impl JsonSchema for Schedule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Schedule".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        use super::duration::{duration_pattern, whitespace_class};
        use super::schema::INTERPOLATED;
        let ws = whitespace_class();
        let field = format!("[^{}", &ws[1..]);
        let duration = duration_pattern();
        // As `from_str` tells them apart: `@every` and a duration; `@` or 5 to 7
        // fields, a cron expression; anything else, a duration.
        let cron_fields = format!("{field}+(?:{ws}+{field}+){{4}}");
        let pattern = [
            format!("^(?!{ws}*{cron_fields}){ws}*{duration}{ws}*$"),
            format!("^{ws}*@every{ws}*{duration}{ws}*$"),
            format!("^{ws}*{}{ws}*$", cron_pattern()),
            INTERPOLATED.to_string(),
        ]
        .join("|");
        schemars::json_schema!({
            "description": "When the check runs: a duration (`30s`), `@every 30s`, `@hourly`, `@daily`, or a cron expression with an optional seconds field. At least 5s between runs.",
            "anyOf": [
                {"type": "string", "pattern": pattern},
                {"type": "integer", "minimum": MIN_INTERVAL.as_secs()}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_and_plain_duration_are_the_same_schedule() {
        let a: Schedule = "@every 30s".parse().unwrap();
        let b: Schedule = "30s".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.min_interval().as_secs(), 30);
    }

    #[test]
    fn cron_with_seconds_reports_its_shortest_gap() {
        let s: Schedule = "*/2 * * * * *".parse().unwrap();
        assert_eq!(s.min_interval().as_secs(), 2);
        let hourly: Schedule = "@hourly".parse().unwrap();
        assert_eq!(hourly.min_interval().as_secs(), 3600);
    }

    #[test]
    fn a_calendar_schedule_on_no_existing_date_is_refused() {
        for never in [
            "0 0 0 30 2 *",
            "0 0 0 31 2,4,6,9,11 *",
            "0 0 31 4 *",
            "0 0 30,31 2 *",
        ] {
            let err = never.parse::<Schedule>().unwrap_err();
            assert!(
                err.starts_with("this schedule never fires"),
                "{never}: {err}"
            );
        }
        // 29 February exists every fourth year; 31 of some listed month exists.
        for rare in ["0 0 0 29 2 *", "0 0 0 31 2,4,6,9,12 *"] {
            assert!(rare.parse::<Schedule>().is_ok(), "{rare}");
        }
    }

    #[test]
    fn next_after_follows_the_calendar() {
        let s: Schedule = "0 */5 * * * *".parse().unwrap();
        let t = DateTime::<Utc>::from_timestamp(1_767_225_601, 0).unwrap();
        let next = s.next_after(t).unwrap();
        assert_eq!(next.timestamp(), 1_767_225_600 + 300);
    }
}
