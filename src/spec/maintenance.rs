//! The `Maintenance` resource: windows in which the checks it covers keep running,
//! recording results and incidents, but send no alerts. A window is one-off
//! (`start` and `end`) or recurring (a cron `schedule` and a `duration`), read in
//! an IANA `timezone`.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Check, Duration};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What the window is for; shown to people, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Checks covered, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Checks covered by their labels: a check whose labels include all of these.
    /// With neither `checks` nor `selector`, the window covers every check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// One-off window: when it starts, as RFC 3339 (`2026-12-01T02:00:00Z`) or a
    /// local time read in `timezone` (`2026-12-01T02:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// One-off window: when it ends; written as `start` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Recurring window: when each one starts, a cron expression (5 fields, or 6
    /// with seconds first) in `timezone`, e.g. `0 2 * * SUN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Recurring window: how long each one lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// IANA time zone for `schedule` and for local `start`/`end`, e.g. `Europe/Berlin`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

/// The longest recurring window in days: a year and a day covers yearly windows.
pub(crate) const MAX_WINDOW_DAYS: i64 = 366;

fn max_duration() -> chrono::Duration {
    chrono::Duration::days(MAX_WINDOW_DAYS)
}

fn default_timezone() -> String {
    "UTC".into()
}

/// A window's times, parsed.
#[derive(Debug, Clone)]
pub enum Window {
    Once {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    Recurring {
        cron: Box<Cron>,
        duration: chrono::Duration,
        tz: Tz,
    },
}

/// A rule that a window breaks, with the field (a JSON pointer) to blame.
pub type WindowError = (&'static str, String);

impl Maintenance {
    /// Whether the window applies to `check` at all (whatever the time).
    pub fn covers(&self, check: &Check) -> bool {
        self.covers_named(&check.name, &check.labels)
    }

    /// [`covers`](Self::covers) for a check known by its name and labels only.
    pub fn covers_named(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        if self.checks.is_empty() && self.selector.is_empty() {
            return true;
        }
        self.checks.iter().any(|n| n == name)
            || (!self.selector.is_empty()
                && self.selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }

    /// The next window to start after `now`, with its end. A window that cannot
    /// be read has none.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self.window().ok()? {
            Window::Once { start, end } => (start > now).then_some((start, end)),
            Window::Recurring { cron, duration, tz } => {
                let start = cron
                    .find_next_occurrence(&now.with_timezone(&tz), false)
                    .ok()?
                    .with_timezone(&Utc);
                Some((start, start + duration))
            }
        }
    }

    /// The window's times, or the first rule they break.
    pub fn window(&self) -> Result<Window, WindowError> {
        let tz = Tz::from_str(&self.timezone).map_err(|_| {
            (
                "/timezone",
                format!(
                    "`timezone`: `{}` is not an IANA time zone such as `UTC` or `Europe/Berlin`",
                    self.timezone
                ),
            )
        })?;
        match (&self.start, &self.end, &self.schedule, &self.duration) {
            (Some(start), Some(end), None, None) => {
                let start = parse_time(start, tz).map_err(|e| ("/start", format!("`start`: {e}")))?;
                let end = parse_time(end, tz).map_err(|e| ("/end", format!("`end`: {e}")))?;
                if end <= start {
                    return Err(("/end", "`end`: must be after `start`".into()));
                }
                Ok(Window::Once { start, end })
            }
            (None, None, Some(schedule), Some(duration)) => {
                let parser = CronParser::builder().seconds(Seconds::Optional).build();
                let cron = parser.parse(schedule.trim()).map_err(|e| {
                    (
                        "/schedule",
                        format!("`schedule`: invalid cron expression `{schedule}`: {e}"),
                    )
                })?;
                let duration = chrono::Duration::from_std(duration.get())
                    .ok()
                    .filter(|d| *d > chrono::Duration::zero() && *d <= max_duration())
                    .ok_or((
                        "/duration",
                        "`duration`: must be longer than 0s and at most 366d".into(),
                    ))?;
                Ok(Window::Recurring {
                    cron: Box::new(cron),
                    duration,
                    tz,
                })
            }
            _ => Err((
                "",
                "give either `start` and `end` (one window) or `schedule` and `duration` (a recurring window)".into(),
            )),
        }
    }

    /// Whether a window is open at `now`. A window that cannot be read is never open.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.current(now).is_some()
    }

    /// The open window's start and end at `now`, if one is open.
    pub fn current(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self.window().ok()? {
            Window::Once { start, end } => (start <= now && now < end).then_some((start, end)),
            Window::Recurring { cron, duration, tz } => {
                // The first firing after `now - duration` is the only one whose window
                // can contain `now`: later ones start after it.
                let from = now.checked_sub_signed(duration)?.with_timezone(&tz);
                let start = cron.find_next_occurrence(&from, false).ok()?;
                let start = start.with_timezone(&Utc);
                (start <= now).then_some((start, start + duration))
            }
        }
    }
}

/// RFC 3339, or a local date-time (`2026-12-01T02:00[:00]`, a space allowed for
/// the `T`) in `tz`. A local time that a clock change skips is an error; one it
/// repeats means the earlier instant.
fn parse_time(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    // RFC 3339 without seconds (`2026-12-01T02:00Z`), as people often write it.
    let zoned = match text.strip_suffix('Z') {
        Some(rest) => format!("{rest}+00:00"),
        None => text.to_string(),
    };
    if let Ok(t) = DateTime::parse_from_str(&zoned, "%Y-%m-%dT%H:%M%:z") {
        return Ok(t.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .ok_or_else(|| {
            format!(
                "`{text}` is not a time; write RFC 3339 (`2026-12-01T02:00:00Z`) or a local time (`2026-12-01T02:00`) read in `timezone`"
            )
        })?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{text}` does not exist in {tz}: the clocks skip it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(yaml: serde_json::Value) -> Maintenance {
        let mut v = serde_json::json!({"name": "w"});
        v.as_object_mut()
            .unwrap()
            .extend(yaml.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_one_off_window_is_open_from_start_to_just_before_end() {
        let m = window(
            serde_json::json!({"start": "2026-12-01T02:00", "end": "2026-12-01T04:00", "timezone": "Europe/Berlin"}),
        );
        // 02:00 in Berlin in winter is 01:00 UTC.
        assert!(!m.active_at(at("2026-12-01T00:59:59Z")));
        assert!(m.active_at(at("2026-12-01T01:00:00Z")));
        assert!(m.active_at(at("2026-12-01T02:59:59Z")));
        assert!(!m.active_at(at("2026-12-01T03:00:00Z")));
    }

    #[test]
    fn a_recurring_window_follows_its_time_zone_across_a_clock_change() {
        // Sundays 02:30 to 03:30 in New York.
        let m = window(
            serde_json::json!({"schedule": "30 2 * * SUN", "duration": "1h", "timezone": "America/New_York"}),
        );
        // Before the change (EST, UTC-5): 2026-03-01 02:30 local = 07:30 UTC.
        assert!(m.active_at(at("2026-03-01T07:30:00Z")));
        assert!(m.active_at(at("2026-03-01T08:29:00Z")));
        assert!(!m.active_at(at("2026-03-01T08:30:00Z")));
        // After it (EDT, UTC-4): 2026-03-15 02:30 local = 06:30 UTC.
        assert!(m.active_at(at("2026-03-15T06:45:00Z")));
        assert!(!m.active_at(at("2026-03-15T07:45:00Z")));
        // Not on a Monday.
        assert!(!m.active_at(at("2026-03-16T06:45:00Z")));
    }

    #[test]
    fn coverage_by_name_by_labels_or_everything() {
        let check = |name: &str, team: &str| -> Check {
            serde_json::from_value(serde_json::json!({"name": name, "type": "tcp", "target": "h:1", "labels": {"team": team}})).unwrap()
        };
        let all =
            window(serde_json::json!({"start": "2026-01-01T00:00Z", "end": "2026-01-02T00:00Z"}));
        assert!(all.covers(&check("a", "x")));
        let named = window(
            serde_json::json!({"checks": ["a"], "start": "2026-01-01T00:00Z", "end": "2026-01-02T00:00Z"}),
        );
        assert!(named.covers(&check("a", "x")));
        assert!(!named.covers(&check("b", "x")));
        let labelled = window(
            serde_json::json!({"selector": {"team": "db"}, "start": "2026-01-01T00:00Z", "end": "2026-01-02T00:00Z"}),
        );
        assert!(labelled.covers(&check("b", "db")));
        assert!(!labelled.covers(&check("b", "web")));
    }

    #[test]
    fn broken_windows_name_the_field_to_fix() {
        let cases = [
            (
                serde_json::json!({"start": "2026-01-02T00:00Z", "end": "2026-01-01T00:00Z"}),
                "/end",
            ),
            (
                serde_json::json!({"start": "tomorrow", "end": "2026-01-01T00:00Z"}),
                "/start",
            ),
            (
                serde_json::json!({"schedule": "0 2 * * SUN", "duration": "1h", "timezone": "Mars/Olympus"}),
                "/timezone",
            ),
            (
                serde_json::json!({"schedule": "0 99 * * *", "duration": "1h"}),
                "/schedule",
            ),
            (serde_json::json!({"schedule": "0 2 * * *"}), ""),
            (
                serde_json::json!({"schedule": "0 2 * * *", "duration": "3000d"}),
                "/duration",
            ),
            (
                serde_json::json!({"start": "2026-03-08T02:30", "end": "2026-03-08T04:00", "timezone": "America/New_York"}),
                "/start",
            ),
        ];
        for (spec, field) in cases {
            let err = window(spec.clone()).window().unwrap_err();
            assert_eq!(err.0, field, "{spec}: {}", err.1);
        }
    }
}
