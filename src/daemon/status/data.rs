//! What a status page shows, as data: read from the store in one go
//! ([`crate::daemon::store::Store::status_page`]) and then rendered as HTML, JSON
//! or Atom. Holds only what the page lists: check names, states, time figures,
//! incident times and operator-written messages. Never a target, an error text,
//! a label or a check the page does not name.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A day with no down time is `up`; one whose uptime is at least this (percent)
/// is `partial`; below it, `down`. 90 % is about two and a half hours down: a
/// day a visitor would call an outage.
pub const DAY_DOWN_BELOW: f64 = 90.0;

#[derive(Debug, Clone, Serialize)]
pub struct PageData {
    pub page: PageInfo,
    /// `up`, `degraded`, `down`, `maintenance` or `unknown`.
    pub state: &'static str,
    pub generated_at: DateTime<Utc>,
    pub groups: Vec<GroupData>,
    pub incidents: Vec<IncidentData>,
    pub maintenance: Vec<MaintenanceData>,
    /// Whether the page shows latency (the checks carry `latency` then).
    #[serde(skip)]
    pub show_latency: bool,
    #[serde(skip)]
    pub uptime_days: u32,
    #[serde(skip)]
    pub incidents_days: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageInfo {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub slug: String,
    pub announcement: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupData {
    pub name: String,
    pub checks: Vec<CheckData>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckData {
    pub name: String,
    /// `up`, `down`, `paused`, `maintenance` or `unknown`.
    pub state: &'static str,
    /// Percent of known time up over the page's days; `None` when nothing is known.
    pub uptime: Option<f64>,
    /// One per day, oldest first, exactly `show.uptime_days` of them.
    pub days: Vec<DayData>,
    /// Hourly points, oldest first, when the page shows latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Vec<LatencyPoint>>,
    /// For a check that runs from several locations, each one as it saw the
    /// check, in the order the check lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationData>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocationData {
    pub name: String,
    /// Its latest run: `up` or `down`; `unknown` before any; the check's own
    /// state when it is `paused` or in `maintenance`.
    pub state: &'static str,
    /// Percent of known time up over the page's days, as this location saw it.
    pub uptime: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayData {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub uptime: Option<f64>,
    pub up_ms: i64,
    pub down_ms: i64,
    pub maintenance_ms: i64,
    pub unknown_ms: i64,
    /// `up`, `partial`, `down`, `maintenance` or `unknown`.
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyPoint {
    /// The hour's start.
    pub at: DateTime<Utc>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentData {
    pub id: i64,
    pub check: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub events: Vec<EventData>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventData {
    pub at: DateTime<Utc>,
    pub kind: String,
    /// An update's status: `investigating`, `identified` or `monitoring`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// What the page says of the event: an operator's message or comment, or a
    /// fixed sentence for the event's kind.
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceData {
    pub name: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `now` or `upcoming`.
    pub when: &'static str,
    /// The checks of the page it covers (never another check of the tenant).
    pub checks: Vec<String>,
}

/// A day's state from its figures.
pub fn day_state(up_ms: i64, down_ms: i64, maintenance_ms: i64) -> &'static str {
    match crate::rollup::slo::attainment(up_ms, down_ms) {
        None if maintenance_ms > 0 => "maintenance",
        None => "unknown",
        Some(_) if down_ms <= 0 => "up",
        Some(u) if u >= DAY_DOWN_BELOW => "partial",
        Some(_) => "down",
    }
}

/// The page's overall state from its checks' states: down when every check that
/// says something is down, degraded when some are, maintenance when one is held
/// by a window, unknown when none says anything, up otherwise.
pub fn overall(states: impl IntoIterator<Item = &'static str>) -> &'static str {
    let (mut up, mut down, mut maintenance) = (0, 0, 0);
    for s in states {
        match s {
            "up" => up += 1,
            "down" => down += 1,
            "maintenance" => maintenance += 1,
            _ => {}
        }
    }
    match (up, down, maintenance) {
        (0, 0, 0) => "unknown",
        (0, d, 0) if d > 0 => "down",
        (_, d, _) if d > 0 => "degraded",
        (_, _, m) if m > 0 => "maintenance",
        _ => "up",
    }
}

/// The banner's words for an overall state.
pub fn overall_text(state: &str) -> &'static str {
    match state {
        "up" => "All systems operational",
        "degraded" => "Partial outage",
        "down" => "Major outage",
        "maintenance" => "Under maintenance",
        _ => "Status unknown",
    }
}

/// A check's state in words.
pub fn state_text(state: &str) -> &'static str {
    match state {
        "up" => "Operational",
        "down" => "Down",
        "paused" => "Paused",
        "maintenance" => "Maintenance",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_down_below_the_threshold_and_partial_above_it() {
        assert_eq!(day_state(0, 0, 0), "unknown");
        assert_eq!(day_state(0, 0, 5), "maintenance");
        assert_eq!(day_state(10, 0, 5), "up");
        assert_eq!(day_state(95, 5, 0), "partial");
        assert_eq!(day_state(80, 20, 0), "down");
    }

    #[test]
    fn the_overall_state_weighs_every_check() {
        assert_eq!(overall([]), "unknown");
        assert_eq!(overall(["paused", "unknown"]), "unknown");
        assert_eq!(overall(["up", "up"]), "up");
        assert_eq!(overall(["up", "down"]), "degraded");
        assert_eq!(overall(["down", "paused"]), "down");
        assert_eq!(overall(["down", "maintenance"]), "degraded");
        assert_eq!(overall(["up", "maintenance"]), "maintenance");
    }
}
