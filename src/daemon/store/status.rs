//! The reads behind a status page: one read transaction that resolves the page's
//! groups to the tenant's checks, their states, daily and hourly rollups (one range
//! scan per resolution for every check), incidents with their public events, and
//! the maintenance windows that cover the checks. Bounded before any work.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Db, Optional};
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Deserialize;
use serde_json::Value;

use super::decode::{self, RAW_COLUMNS, Raw};
use super::report::readable_until;
use super::{Result, Store, resources, rollups, to_time};
use crate::daemon::status::data::{
    CheckData, DayData, EventData, GroupData, IncidentData, LatencyPoint, LocationData,
    MaintenanceData, PageData, PageInfo, day_state, overall,
};
use crate::rollup::plan::{Piece, plan};
use crate::rollup::{Bucket, Resolution, slo};
use crate::spec::{Kind, StatusPage};

/// Checks one page shows at most: a page of a thousand checks is already longer
/// than anyone reads, and the work of a render grows with them.
pub const MAX_PAGE_CHECKS: usize = 1_000;
/// Incidents one page lists at most (open ones first).
pub const MAX_PAGE_INCIDENTS: usize = 100;
/// Events shown per incident at most: the latest ones.
pub const MAX_INCIDENT_EVENTS: usize = 50;
/// The most days of uptime bars or of resolved incidents a page reads: a year and
/// a day, well inside the day rollups' retention.
pub const MAX_PAGE_DAYS: u32 = 366;
/// Hours the latency sparkline covers: the last two days, one point an hour.
pub const LATENCY_HOURS: i64 = 48;
/// How far ahead a maintenance window is announced as upcoming.
pub const UPCOMING_MS: i64 = 7 * 86_400_000;
/// Maintenance resources of a tenant read for one page at most.
const MAX_MAINTENANCE: usize = 1_000;

/// Event kinds shown on a page, with what operators wrote on them (updates,
/// acknowledge and resolve comments). An allow-list: every other kind (failures,
/// changed signatures, held messages, reminders, escalations, releases, and any
/// added later) says things about alerting internals a visitor need not see.
const SHOWN_EVENTS: [&str; 4] = ["opened", "acknowledged", "update", "resolved"];
/// Longest operator-written message shown, in characters.
const MAX_MESSAGE_CHARS: usize = 2_000;

/// The part of a stored check a page needs.
#[derive(Debug, Deserialize)]
struct Listed {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    locations: Vec<String>,
    #[serde(default)]
    schedule: Option<crate::spec::Schedule>,
}

fn yes() -> bool {
    true
}

/// The checks of each group, in the page's order: named ones first (those that
/// exist), then selector matches by name; at most [`MAX_PAGE_CHECKS`] in all.
fn resolve_groups<'a>(page: &StatusPage, checks: &'a [Listed]) -> Vec<(String, Vec<&'a Listed>)> {
    let by_name: HashMap<&str, &Listed> = checks.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut left = MAX_PAGE_CHECKS;
    let mut out = Vec::with_capacity(page.groups.len());
    for g in &page.groups {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut list: Vec<&Listed> = Vec::new();
        for name in &g.checks {
            if let Some(c) = by_name.get(name.as_str())
                && seen.insert(c.name.as_str())
            {
                list.push(c);
            }
        }
        if !g.selector.is_empty() {
            for c in checks {
                if g.selector.iter().all(|(k, v)| c.labels.get(k) == Some(v))
                    && seen.insert(c.name.as_str())
                {
                    list.push(c);
                }
            }
        }
        list.truncate(left);
        left -= list.len();
        out.push((g.name.clone(), list));
    }
    out
}

/// Merged buckets `[plan][check]` over every plan's pieces, one range scan per
/// resolution for all checks; each row is decoded once and looked up by index.
/// Plans from `latency_from` on need latency; a row only earlier plans read is
/// decoded for its times alone.
fn read_plans(
    c: &Db<'_>,
    series: &[Option<i64>],
    plans: &[Vec<Piece>],
    latency_from: usize,
) -> Result<Vec<Vec<Bucket>>> {
    let mut out = vec![vec![Bucket::new(); series.len()]; plans.len()];
    let wanted: HashMap<i64, usize> = series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (s, i)))
        .collect();
    if wanted.is_empty() {
        return Ok(out);
    }
    for res in Resolution::ALL {
        let mut at: HashMap<i64, Vec<usize>> = HashMap::new();
        for (k, pieces) in plans.iter().enumerate() {
            for p in pieces.iter().filter(|p| p.res == res) {
                for idx in p.first..p.end {
                    at.entry(idx).or_default().push(k);
                }
            }
        }
        let (Some(lo), Some(hi)) = (at.keys().min().copied(), at.keys().max().copied()) else {
            continue;
        };
        let mut stmt = c.prepare_cached(&format!(
            "SELECT bucket, series, data FROM {} WHERE bucket >= ?1 AND bucket <= ?2",
            rollups::table(res)
        ))?;
        stmt.for_each(params![lo, hi], |row| {
            let series: i64 = row.get(1)?;
            let Some(&i) = wanted.get(&series) else {
                return Ok(());
            };
            let idx: i64 = row.get(0)?;
            let Some(ks) = at.get(&idx) else {
                return Ok(());
            };
            let data = row.get_blob(2)?;
            let bucket = if ks.iter().any(|&k| k >= latency_from) {
                rollups::decode(data)?
            } else {
                rollups::decode_times(data)?
            };
            for &k in ks {
                out[k][i].merge(&bucket);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn day_string(start_ms: i64) -> String {
    to_time(start_ms).format("%Y-%m-%d").to_string()
}

/// The page's maintenance windows covering any of `checks`, now or within
/// [`UPCOMING_MS`], and the names of the checks held by one now.
fn maintenance(
    c: &Db<'_>,
    tenant: i64,
    checks: &[&Listed],
    now: DateTime<Utc>,
) -> Result<(Vec<MaintenanceData>, HashSet<String>)> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {RAW_COLUMNS} FROM resources r WHERE r.tenant_id = ?1 AND r.kind = 'Maintenance' ORDER BY r.name LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![tenant, MAX_MAINTENANCE as i64], |r| {
        Raw::from_row(r, 0)
    })?;
    let mut out = Vec::new();
    let mut held = HashSet::new();
    let horizon = now + chrono::Duration::milliseconds(UPCOMING_MS);
    for row in rows {
        // A public page shows what can be read; the row reader has logged and
        // counted the window that cannot, by name.
        let Ok(stored) = decode::row(row?) else {
            continue;
        };
        let Some(w) = stored.as_maintenance().cloned() else {
            continue;
        };
        let covered: Vec<&&Listed> = checks
            .iter()
            .filter(|k| w.covers_named(&k.name, &k.labels))
            .collect();
        if covered.is_empty() {
            continue;
        }
        let (when, times) = match w.current(now) {
            Some(t) => ("now", t),
            None => match w.next_after(now) {
                Some(t) if t.0 <= horizon => ("upcoming", t),
                _ => continue,
            },
        };
        if when == "now" {
            held.extend(covered.iter().map(|k| k.name.clone()));
        }
        out.push(MaintenanceData {
            checks: covered.iter().map(|k| k.name.clone()).collect(),
            name: w.name,
            description: w.description,
            starts_at: times.0,
            ends_at: times.1,
            when,
        });
    }
    out.sort_by_key(|m| (m.when != "now", m.starts_at));
    Ok((out, held))
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// What the page says of one event: what an operator wrote, or a fixed sentence.
fn event(at: i64, kind: String, detail: &Value) -> EventData {
    let text = |k: &str| {
        detail
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(bounded)
    };
    let status = if kind == "update" {
        text("status")
    } else {
        None
    };
    let message = text("message")
        .or_else(|| text("comment"))
        .unwrap_or_else(|| {
            match kind.as_str() {
                "opened" => "The problem was detected.",
                "acknowledged" => "We are aware of the problem and are looking into it.",
                "resolved" => "The problem is resolved.",
                "update" => "",
                _ => "",
            }
            .to_string()
        });
    EventData {
        at: to_time(at),
        kind,
        status,
        message,
    }
}

/// Open incidents of `names`, then those resolved since `since`; at most
/// [`MAX_PAGE_INCIDENTS`], each with its latest public events.
fn incidents(
    c: &Db<'_>,
    tenant: i64,
    names: &HashSet<&str>,
    since: i64,
) -> Result<Vec<IncidentData>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, check_name, status, kind, opened_at, resolved_at FROM incidents
         WHERE tenant_id = ?1 AND (status != 'resolved' OR resolved_at >= ?2)
         ORDER BY status = 'resolved', opened_at DESC, id DESC",
    )?;
    let mut out = Vec::new();
    stmt.for_each(params![tenant, since], |r| {
        if out.len() == MAX_PAGE_INCIDENTS {
            return Ok(());
        }
        let check: String = r.get(1)?;
        if !names.contains(check.as_str()) {
            return Ok(());
        }
        let kind: String = r.get(3)?;
        let summary = match kind.as_str() {
            "slo_burn" => format!("{check} is failing more often than its objective allows"),
            _ => format!("{check} is down"),
        };
        out.push(IncidentData {
            id: r.get(0)?,
            check,
            status: r.get(2)?,
            opened_at: to_time(r.get(4)?),
            resolved_at: r.get::<Option<i64>>(5)?.map(to_time),
            summary,
            events: Vec::new(),
        });
        Ok(())
    })?;
    let shown = SHOWN_EVENTS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut events = c.prepare_cached(&format!(
        "SELECT at, kind, detail FROM incident_events
         WHERE tenant_id = ?1 AND incident_id = ?2 AND kind IN ({shown})
         ORDER BY id DESC LIMIT ?3"
    ))?;
    for inc in &mut out {
        let rows = events.query_map(params![tenant, inc.id, MAX_INCIDENT_EVENTS as i64], |r| {
            Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
        })?;
        let mut list = Vec::new();
        for row in rows {
            let (at, kind, detail) = row?;
            let detail: Value = serde_json::from_str(&detail).unwrap_or(Value::Null);
            list.push(event(at, kind, &detail));
        }
        list.reverse();
        inc.events = list;
    }
    Ok(out)
}

/// The locations of those of `checks` that run from several (by index), each with
/// its latest run's state (`unknown` once three intervals old) and its series;
/// uptimes are left for the caller.
type PlaceList = Vec<(LocationData, Option<i64>)>;
fn locations(
    c: &Db<'_>,
    tenant: i64,
    checks: &[&Listed],
    states: &[&'static str],
    now: i64,
) -> Result<BTreeMap<usize, PlaceList>> {
    let mut out = BTreeMap::new();
    if checks.iter().all(|k| k.locations.len() < 2) {
        return Ok(out);
    }
    let mut latest: HashMap<(String, String), (bool, i64)> = HashMap::new();
    c.prepare_cached(
        "SELECT check_name, location, up, at FROM location_state WHERE tenant_id = ?1",
    )?
    .for_each([tenant], |r| {
        latest.insert((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?));
        Ok(())
    })?;
    for (i, k) in checks.iter().enumerate() {
        if k.locations.len() < 2 {
            continue;
        }
        // A location that has not run the check for three intervals (its
        // nodes gone) says nothing of it now.
        let fresh_since = k.schedule.as_ref().map_or(i64::MIN, |s| {
            now.saturating_sub(crate::spec::millis_i64(s.min_interval()).saturating_mul(3))
        });
        let mut list = Vec::with_capacity(k.locations.len());
        for l in &k.locations {
            let state = match states[i] {
                held @ ("paused" | "maintenance") => held,
                _ => match latest.get(&(k.name.clone(), l.clone())) {
                    Some((_, at)) if *at < fresh_since => "unknown",
                    Some((true, _)) => "up",
                    Some((false, _)) => "down",
                    None => "unknown",
                },
            };
            let data = LocationData {
                name: l.clone(),
                state,
                uptime: None,
            };
            list.push((data, rollups::series_of_at(c, tenant, &k.name, l)?));
        }
        out.insert(i, list);
    }
    Ok(out)
}

/// Everything `page` (of `tenant`) shows, as of `now` (Unix ms).
pub(super) fn read_page(c: &Db<'_>, tenant: i64, page: &StatusPage, now: i64) -> Result<PageData> {
    let days = page.show.uptime_days.clamp(1, MAX_PAGE_DAYS);
    let incidents_days = page.show.incidents_days.min(MAX_PAGE_DAYS);
    // A page of named checks only (as a badge's is) reads those checks; one
    // with a selector needs every check of the tenant to match against.
    let by_name = page.groups.iter().all(|g| g.selector.is_empty());
    let listed: Vec<Listed> = if by_name {
        let names: std::collections::BTreeSet<&str> = page
            .groups
            .iter()
            .flat_map(|g| g.checks.iter().map(String::as_str))
            .collect();
        let mut stmt = c.prepare_cached(
            "SELECT spec FROM resources WHERE tenant_id = ?1 AND kind = 'Check' AND name = ?2",
        )?;
        let mut out = Vec::new();
        // In name order, as the query of all of them gives them.
        for name in names {
            let spec: Option<String> = stmt
                .query_row(params![tenant, name], |r| r.get(0))
                .optional()?;
            if let Some(l) = spec.and_then(|s| listed(name, &s)) {
                out.push(l);
            }
        }
        out
    } else {
        let mut stmt = c.prepare_cached(
            "SELECT name, spec FROM resources WHERE tenant_id = ?1 AND kind = 'Check' ORDER BY name",
        )?;
        let rows = stmt.query_map([tenant], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, spec) = row?;
            if let Some(l) = listed(&name, &spec) {
                out.push(l);
            }
        }
        out
    };
    let groups = resolve_groups(page, &listed);
    // Each check once, in the order it first appears.
    let mut order: Vec<&Listed> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (_, list) in &groups {
        for k in list {
            if !index.contains_key(k.name.as_str()) {
                index.insert(k.name.as_str(), order.len());
                order.push(k);
            }
        }
    }
    let at = to_time(now);
    let (windows, held) = maintenance(c, tenant, &order, at)?;

    // States: paused or disabled, held by a window, down (last run failed or a
    // down incident open), up, or unknown before any run.
    let mut runtime: HashMap<String, (bool, Option<bool>, bool)> = HashMap::new();
    {
        let mut stmt = c.prepare_cached(
            "SELECT s.name, s.paused, s.last_up,
                    EXISTS(SELECT 1 FROM incidents i WHERE i.tenant_id = s.tenant_id AND i.check_name = s.name AND i.kind = 'down' AND i.status != 'resolved')
             FROM check_state s WHERE s.tenant_id = ?1",
        )?;
        let rows = stmt.query_map([tenant], |r| {
            Ok((
                r.get::<String>(0)?,
                (
                    r.get::<bool>(1)?,
                    r.get::<Option<bool>>(2)?,
                    r.get::<bool>(3)?,
                ),
            ))
        })?;
        for row in rows {
            let (name, rt) = row?;
            if index.contains_key(name.as_str()) {
                runtime.insert(name, rt);
            }
        }
    }
    let states: Vec<&'static str> = order
        .iter()
        .map(|k| {
            let (paused, last_up, open) = runtime.get(&k.name).copied().unwrap_or_default();
            if paused || !k.enabled {
                "paused"
            } else if held.contains(&k.name) {
                "maintenance"
            } else if open || last_up == Some(false) {
                "down"
            } else if last_up == Some(true) {
                "up"
            } else {
                "unknown"
            }
        })
        .collect();

    // One plan per day (today's up to now), then one per hour of the sparkline.
    let series: Vec<Option<i64>> = order
        .iter()
        .map(|k| rollups::series_of(c, tenant, &k.name))
        .collect::<Result<_>>()?;
    let a = rollups::availability(c)?;
    let day_ms = Resolution::Day.width_ms();
    let hour_ms = Resolution::Hour.width_ms();
    let today = Resolution::Day.floor(now);
    let known_to = readable_until(now);
    let day_starts: Vec<i64> = (0..days as i64).rev().map(|d| today - d * day_ms).collect();
    let mut plans: Vec<Vec<Piece>> = day_starts
        .iter()
        .map(|s| plan(*s, (s + day_ms).min(known_to), &a).pieces)
        .collect();
    let hour_starts: Vec<i64> = if page.show.latency {
        let this_hour = Resolution::Hour.floor(now);
        (0..LATENCY_HOURS)
            .rev()
            .map(|h| this_hour - h * hour_ms)
            .collect()
    } else {
        Vec::new()
    };
    plans.extend(
        hour_starts
            .iter()
            .map(|s| plan(*s, (s + hour_ms).min(known_to), &a).pieces),
    );
    let read = read_plans(c, &series, &plans, day_starts.len())?;
    let mut locations = locations(c, tenant, &order, &states, now)?;
    if !locations.is_empty() {
        // Each location's uptime over the page's days, in one span.
        let first = day_starts.first().copied().unwrap_or(today);
        let whole = vec![plan(first, known_to, &a).pieces];
        let ids: Vec<Option<i64>> = locations
            .values()
            .flat_map(|list| list.iter().map(|(_, id)| *id))
            .collect();
        let read = read_plans(c, &ids, &whole, 1)?;
        let mut uptimes = read[0].iter().map(|b| slo::attainment(b.up_ms, b.down_ms));
        for list in locations.values_mut() {
            for (l, _) in list {
                l.uptime = uptimes.next().flatten();
            }
        }
    }

    let checks: Vec<CheckData> = order
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut total = Bucket::new();
            let days: Vec<DayData> = day_starts
                .iter()
                .enumerate()
                .map(|(d, start)| {
                    let b = &read[d][i];
                    total.merge(b);
                    let span = (start + day_ms).min(now.max(*start)) - start;
                    let known = b.up_ms + b.down_ms + b.maintenance_ms;
                    DayData {
                        day: day_string(*start),
                        uptime: slo::attainment(b.up_ms, b.down_ms),
                        up_ms: b.up_ms,
                        down_ms: b.down_ms,
                        maintenance_ms: b.maintenance_ms,
                        unknown_ms: span.saturating_sub(known).max(0),
                        state: day_state(b.up_ms, b.down_ms, b.maintenance_ms),
                    }
                })
                .collect();
            let latency = page.show.latency.then(|| {
                hour_starts
                    .iter()
                    .enumerate()
                    .map(|(h, start)| {
                        let b = &read[day_starts.len() + h][i];
                        let has = b.total() > 0;
                        LatencyPoint {
                            at: to_time(*start),
                            p50_ms: has.then(|| b.quantile(0.5).unwrap_or(b.latency_max)),
                            p95_ms: has.then(|| b.quantile(0.95).unwrap_or(b.latency_max)),
                        }
                    })
                    .collect()
            });
            CheckData {
                name: k.name.clone(),
                state: states[i],
                uptime: slo::attainment(total.up_ms, total.down_ms),
                days,
                latency,
                locations: locations
                    .remove(&i)
                    .map(|list| list.into_iter().map(|(l, _)| l).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();

    let names: HashSet<&str> = order.iter().map(|k| k.name.as_str()).collect();
    let incidents = incidents(c, tenant, &names, now - i64::from(incidents_days) * day_ms)?;
    let groups = groups
        .into_iter()
        .map(|(name, list)| GroupData {
            name,
            checks: list
                .iter()
                .map(|k| checks[index[k.name.as_str()]].clone())
                .collect(),
        })
        .collect();
    Ok(PageData {
        page: PageInfo {
            name: page.name.clone(),
            title: page.title.clone(),
            description: page.description.clone(),
            slug: page.slug.clone(),
            announcement: page.announcement.clone(),
        },
        state: overall(states.iter().copied()),
        generated_at: at,
        groups,
        incidents,
        maintenance: windows,
        show_latency: page.show.latency,
        uptime_days: days,
        incidents_days,
    })
}

/// The status pages of every tenant: `(tenant id, tenant name, page)`. A page
/// that cannot be read is not served (its visitors get no page, the others theirs);
/// the row reader has logged and counted it by name.
fn pages(c: &Db<'_>) -> Result<Vec<(i64, String, StatusPage)>> {
    let mut stmt = c.prepare_cached("SELECT id, name FROM tenants")?;
    let tenants: HashMap<i64, String> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_>>()?;
    let (readable, _unreadable) = resources::every(c, Kind::StatusPage)?;
    Ok(readable
        .into_iter()
        .filter_map(|(tenant, r)| {
            let page = r.as_status_page()?.clone();
            Some((tenant, tenants.get(&tenant)?.clone(), page))
        })
        .collect())
}

/// The part of stored check `name` a page needs; `None` if it cannot be read,
/// which [`decode::part`] has logged and counted by name. A public page leaves
/// that check out rather than fail for all its visitors.
fn listed(name: &str, spec: &str) -> Option<Listed> {
    // Logged and counted by `part` already.
    decode::part::<Listed>(Kind::Check, name, spec).ok()
}

impl Store {
    /// What `page` of `tenant` shows as of `now_ms`.
    pub async fn status_page(
        &self,
        tenant: i64,
        page: StatusPage,
        now_ms: i64,
    ) -> Result<PageData> {
        self.read(move |c| read_page(c, tenant, &page, now_ms))
            .await
    }

    /// Every stored status page, with its tenant's id and name.
    pub async fn status_pages(&self) -> Result<Vec<(i64, String, StatusPage)>> {
        self.read(pages).await
    }

    /// Whether `check` of `tenant` exists, and its name-and-labels, for badges.
    pub async fn check_labels(
        &self,
        tenant: i64,
        check: String,
    ) -> Result<Option<BTreeMap<String, String>>> {
        self.read(move |c| {
            let spec: Option<String> = Optional::optional(c.query_row(
                "SELECT spec FROM resources WHERE tenant_id = ?1 AND kind = 'Check' AND name = ?2",
                params![tenant, check],
                |r| r.get(0),
            ))?;
            // The badge asked for needs it: one that cannot be read fails the request.
            spec.map(|s| decode::part::<Listed>(Kind::Check, &check, &s).map(|l| l.labels))
                .transpose()
        })
        .await
    }
}

/// Whether `page` lists a check named `name` with `labels`.
pub fn page_lists(page: &StatusPage, name: &str, labels: &BTreeMap<String, String>) -> bool {
    page.groups.iter().any(|g| {
        g.checks.iter().any(|n| n == name)
            || (!g.selector.is_empty() && g.selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
    })
}
