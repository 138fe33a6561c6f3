//! Reports and bucketed history, read from rollups (never from raw results).
//!
//! Uptime is by time: each result stands for the span since its check's previous
//! result (at most one and a half intervals, never before the daemon started or the
//! check was created or resumed), as up, down, or maintenance when a window held the
//! check. Everything else in the window is unknown. Uptime is up time over up plus
//! down time; coverage is known time over the window.

use std::collections::HashMap;

use super::{Db, Optional};
use rusqlite::params;
use serde::Deserialize;

use super::rollups;
use super::{Result, Store, StoreError, to_time};
use crate::model::{CheckReport, HistoryBucket, LatencySummary, LocationReport, Report, SloReport};
use crate::rollup::plan::Piece;
use crate::rollup::{Bucket, slo};

/// Above this many checks a report scans bucket ranges once for all of them
/// instead of looking up each check's buckets.
const POINT_LOOKUP_CHECKS: usize = 32;
/// The longest window a report or history reads: the day rollups' default
/// retention and a little more. Bounds the work one request can ask for.
pub const MAX_WINDOW_MS: i64 = 800 * 86_400_000;
/// Buckets one history answer holds at most.
pub const MAX_HISTORY_BUCKETS: i64 = 10_000;
/// The end of the minute holding `now`: no rollup holds anything later.
pub(super) fn readable_until(now: i64) -> i64 {
    crate::rollup::Resolution::Minute
        .floor(now)
        .saturating_add(crate::rollup::Resolution::Minute.width_ms())
}

/// The window of the burn rate a report shows.
const BURN_WINDOW_MS: i64 = 3_600_000;

/// The part of a stored check a report needs.
#[derive(Debug, Deserialize)]
struct Stored {
    name: String,
    #[serde(rename = "type")]
    check_type: String,
    #[serde(default)]
    slo: Option<StoredSlo>,
    #[serde(default)]
    locations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct StoredSlo {
    pub objective: f64,
    pub window: crate::spec::Duration,
    #[serde(default = "yes")]
    pub alert: bool,
}

fn yes() -> bool {
    true
}

/// The checks of a tenant (all in name order, or those named that exist).
fn checks(c: &Db<'_>, tenant: i64, names: Option<&[String]>) -> Result<Vec<Stored>> {
    let mut specs: Vec<String> = Vec::new();
    match names {
        Some(names) => {
            let mut stmt = c.prepare_cached(
                "SELECT spec FROM resources WHERE tenant_id = ?1 AND kind = 'Check' AND name = ?2",
            )?;
            for name in names {
                if let Some(spec) = stmt
                    .query_row(params![tenant, name], |r| r.get(0))
                    .optional()?
                {
                    specs.push(spec);
                }
            }
        }
        None => {
            let mut stmt = c.prepare_cached(
                "SELECT spec FROM resources WHERE tenant_id = ?1 AND kind = 'Check' ORDER BY name",
            )?;
            let rows = stmt.query_map([tenant], |r| r.get::<String>(0))?;
            specs = rows.collect::<Result<_>>()?;
        }
    }
    specs.iter().map(|s| Ok(serde_json::from_str(s)?)).collect()
}

/// Merged buckets of each check (in `series` order) over each plan's pieces:
/// `[plan][check]`.
pub(super) fn merged_each(
    c: &Db<'_>,
    series: &[Option<i64>],
    plans: &[&[Piece]],
) -> Result<Vec<Vec<Bucket>>> {
    let mut out = vec![vec![Bucket::new(); series.len()]; plans.len()];
    if series.len() <= POINT_LOOKUP_CHECKS {
        for (k, pieces) in plans.iter().enumerate() {
            for (i, s) in series.iter().enumerate() {
                if let Some(s) = s {
                    out[k][i] = rollups::read_one(c, *s, pieces)?;
                }
            }
        }
    } else {
        let wanted: HashMap<i64, usize> = series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (s, i)))
            .collect();
        rollups::read_many(c, &wanted, plans, &mut out)?;
    }
    Ok(out)
}

/// Merged buckets of each check (in `series` order) over `pieces`.
pub(super) fn merged(c: &Db<'_>, series: &[Option<i64>], pieces: &[Piece]) -> Result<Vec<Bucket>> {
    Ok(merged_each(c, series, &[pieces])?.remove(0))
}

pub(super) fn latency(b: &Bucket) -> Option<LatencySummary> {
    let n = b.total();
    if n == 0 {
        return None;
    }
    let q = |q: f64| b.quantile(q).unwrap_or(b.latency_max);
    Some(LatencySummary {
        min: b.latency_min,
        mean: b.latency_sum / n as f64,
        max: b.latency_max,
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
    })
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Known and unknown time of `b` over a span of `span_ms`.
fn coverage(b: &Bucket, span_ms: i64) -> (f64, i64) {
    let known = b.up_ms + b.down_ms + b.maintenance_ms;
    let unknown = span_ms.saturating_sub(known).max(0);
    let pct = if span_ms > 0 {
        (known as f64 * 100.0 / span_ms as f64).min(100.0)
    } else {
        0.0
    };
    (pct, unknown)
}

fn uptime(b: &Bucket) -> Option<f64> {
    slo::attainment(b.up_ms, b.down_ms)
}

/// Incidents opened in `[from, to)` per check: how many, and the mean time to
/// resolve of those resolved.
fn incidents(
    c: &Db<'_>,
    tenant: i64,
    from: i64,
    to: i64,
) -> Result<HashMap<String, (u64, Option<f64>)>> {
    let mut stmt = c.prepare_cached(
        // Only incidents of the check as it is now: one deleted and created again
        // under the same name starts afresh (its series is new).
        "SELECT i.check_name, count(*), CAST(avg(CASE WHEN i.resolved_at IS NOT NULL THEN i.resolved_at - i.opened_at END) AS DOUBLE PRECISION)
         FROM incidents i JOIN series s ON s.tenant_id = i.tenant_id AND s.check_name = i.check_name AND s.location = ''
         WHERE i.tenant_id = ?1 AND i.opened_at >= ?2 AND i.opened_at < ?3 AND i.opened_at >= s.created_at
         GROUP BY i.check_name",
    )?;
    let rows = stmt.query_map(params![tenant, from, to], |r| {
        Ok((
            r.get::<String>(0)?,
            r.get::<i64>(1)? as u64,
            r.get::<Option<f64>>(2)?,
        ))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (name, n, mttr_ms) = row?;
        out.insert(name, (n, mttr_ms.map(|ms| ms / 1000.0)));
    }
    Ok(out)
}

/// Checks with a burn-rate incident open.
fn burning(c: &Db<'_>, tenant: i64) -> Result<std::collections::HashSet<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT check_name FROM incidents WHERE tenant_id = ?1 AND kind = 'slo_burn' AND status != 'resolved'",
    )?;
    let rows = stmt.query_map([tenant], |r| r.get::<String>(0))?;
    rows.collect::<Result<_>>()
}

pub(super) fn slo_report(
    s: &StoredSlo,
    window: &Bucket,
    burn: &Bucket,
    burning: bool,
) -> SloReport {
    let attainment = uptime(window);
    let budget = slo::budget(s.objective, window.up_ms, window.down_ms);
    let status = match (attainment, budget.left_percent) {
        (None, _) | (_, None) => "unknown",
        (Some(_), Some(left)) if left < 0.0 => "breached",
        _ => "met",
    };
    SloReport {
        objective: s.objective,
        window: s.window.to_string(),
        attainment,
        budget_seconds: budget.total_ms / 1000.0,
        budget_left_seconds: budget.left_ms / 1000.0,
        budget_left_percent: budget.left_percent,
        burn_rate_1h: slo::burn_rate(s.objective, burn.up_ms, burn.down_ms),
        status: status.into(),
        burning,
    }
}

/// The report of `names` (or every check) of a tenant over `[from, to)`.
pub(super) fn report(
    c: &Db<'_>,
    tenant: i64,
    names: Option<&[String]>,
    from: i64,
    to: i64,
    now: i64,
) -> Result<Report> {
    if to <= from || to - from > MAX_WINDOW_MS {
        return Err(StoreError::Conflict(format!(
            "a report's window must be longer than nothing and at most {} days",
            MAX_WINDOW_MS / 86_400_000
        )));
    }
    let checks = checks(c, tenant, names)?;
    let series: Vec<Option<i64>> = checks
        .iter()
        .map(|k| rollups::series_of(c, tenant, &k.name))
        .collect::<Result<_>>()?;
    let a = rollups::availability(c)?;
    // The report's window, and the burn window and each distinct SLO window, which
    // end at the report's end or now if that is earlier; read in one pass: they
    // end together, so they share most of their buckets. Nothing is known past
    // now: no read goes beyond the end of the current minute, however far a
    // window reaches into the future.
    let known_to = to.min(readable_until(now));
    let end = to.min(now);
    let mut spans: Vec<(i64, i64)> = vec![(from, known_to.max(from)), (end - BURN_WINDOW_MS, end)];
    for k in &checks {
        if let Some(s) = &k.slo {
            let w = crate::spec::millis_i64(s.window.get());
            if !spans.contains(&(end - w, end)) {
                spans.push((end - w, end));
            }
        }
    }
    let plans: Vec<crate::rollup::plan::ReadPlan> = spans
        .iter()
        .map(|(f, t)| crate::rollup::plan::plan(*f, *t, &a))
        .collect();
    let pieces: Vec<&[Piece]> = plans.iter().map(|p| p.pieces.as_slice()).collect();
    let read = merged_each(c, &series, &pieces)?;
    let plan = &plans[0];
    let span = plan.to_ms.min(now.max(plan.from_ms)) - plan.from_ms;
    let burns = &read[spans
        .iter()
        .position(|s| *s == (end - BURN_WINDOW_MS, end))
        .unwrap_or(1)];
    let buckets = &read[0];
    let slo_of = |w: i64, i: usize| -> &Bucket {
        let k = spans.iter().position(|s| *s == (end - w, end)).unwrap_or(0);
        &read[k][i]
    };
    let incidents = incidents(c, tenant, plan.from_ms, plan.to_ms)?;
    let burning = burning(c, tenant)?;
    // Each location of the checks that run from several, read over the report's
    // window alone.
    let mut places: Vec<(usize, &str)> = Vec::new();
    let mut place_series: Vec<Option<i64>> = Vec::new();
    for (i, k) in checks.iter().enumerate() {
        if k.locations.len() > 1 {
            for l in &k.locations {
                places.push((i, l));
                place_series.push(rollups::series_of_at(c, tenant, &k.name, l)?);
            }
        }
    }
    let place_buckets = if places.is_empty() {
        Vec::new()
    } else {
        merged(c, &place_series, &plan.pieces)?
    };
    let mut by_check: HashMap<usize, Vec<LocationReport>> = HashMap::new();
    for ((i, l), b) in places.iter().zip(&place_buckets) {
        let (coverage, unknown) = coverage(b, span);
        by_check.entry(*i).or_default().push(LocationReport {
            location: (*l).to_string(),
            uptime: uptime(b),
            coverage,
            up_seconds: secs(b.up_ms),
            down_seconds: secs(b.down_ms),
            maintenance_seconds: secs(b.maintenance_ms),
            unknown_seconds: secs(unknown),
            runs: b.total(),
            failed_runs: b.down,
            latency: latency(b),
        });
    }
    let mut out = Vec::with_capacity(checks.len());
    for (i, k) in checks.into_iter().enumerate() {
        let b = &buckets[i];
        let (coverage, unknown) = coverage(b, span);
        let (n, mttr) = incidents.get(&k.name).copied().unwrap_or((0, None));
        let slo = k.slo.as_ref().map(|s| {
            let w = crate::spec::millis_i64(s.window.get());
            slo_report(s, slo_of(w, i), &burns[i], burning.contains(&k.name))
        });
        out.push(CheckReport {
            check: k.name,
            check_type: k.check_type,
            from: to_time(plan.from_ms),
            to: to_time(plan.to_ms.min(now.max(plan.from_ms))),
            uptime: uptime(b),
            coverage,
            up_seconds: secs(b.up_ms),
            down_seconds: secs(b.down_ms),
            maintenance_seconds: secs(b.maintenance_ms),
            unknown_seconds: secs(unknown),
            runs: b.total(),
            failed_runs: b.down,
            latency: latency(b),
            slo,
            incidents: n,
            mttr_seconds: mttr,
            locations: by_check.remove(&i).unwrap_or_default(),
        });
    }
    Ok(Report {
        from: to_time(from),
        to: to_time(to),
        checks: out,
    })
}

/// One check's buckets of `width_ms` (a minute, 5 or 15 minutes, an hour or a
/// day) over `[from, to)`, oldest first; buckets with nothing known are left out.
#[allow(clippy::too_many_arguments)]
pub(super) fn history(
    c: &Db<'_>,
    tenant: i64,
    check: &str,
    location: &str,
    width_ms: i64,
    from: i64,
    to: i64,
    now: i64,
) -> Result<Vec<HistoryBucket>> {
    match width_ms {
        60_000 | 300_000 | 900_000 | 3_600_000 | 86_400_000 => {}
        _ => {
            return Err(StoreError::Conflict(
                "a resolution is one of 1m, 5m, 15m, 1h, 1d".into(),
            ));
        }
    }
    if to <= from || to - from > MAX_WINDOW_MS || (to - from) / width_ms > MAX_HISTORY_BUCKETS {
        return Err(StoreError::Conflict(format!(
            "a history holds at most {MAX_HISTORY_BUCKETS} buckets: give a shorter window or a coarser resolution"
        )));
    }
    let Some(series) = rollups::series_of_at(c, tenant, check, location)? else {
        return Ok(Vec::new());
    };
    let a = rollups::availability(c)?;
    let mut out = Vec::new();
    let mut start = from.div_euclid(width_ms) * width_ms;
    // Buckets past now hold nothing: they are not read.
    while start < to.min(readable_until(now)) {
        let end = start + width_ms;
        // Each bucket is read at the finest resolution that still holds it: an
        // hour not built yet comes from its minutes.
        let plan = crate::rollup::plan::plan(start, end, &a);
        let mut b = Bucket::new();
        for p in &plan.pieces {
            // A piece coarser than the bucket (minutes pruned) would count its
            // time many times over.
            if p.res.width_ms() > width_ms {
                continue;
            }
            b.merge(&rollups::read_one(c, series, std::slice::from_ref(p))?);
        }
        let span = end.min(now.max(start)) - start;
        let (cov, _) = coverage(&b, span);
        if b.total() > 0 || cov > 0.0 {
            out.push(HistoryBucket {
                start: to_time(start),
                runs: b.total(),
                failed_runs: b.down,
                uptime: uptime(&b),
                coverage: cov,
                latency: latency(&b),
            });
        }
        start = end;
    }
    Ok(out)
}

impl Store {
    /// What the results of `names` (or every check) of a tenant add up to over
    /// `[from_ms, to_ms)`, as of `now_ms`.
    pub async fn report(
        &self,
        tenant: i64,
        names: Option<Vec<String>>,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<Report> {
        self.read(move |c| report(c, tenant, names.as_deref(), from_ms, to_ms, now_ms))
            .await
    }

    /// A check's history in buckets of `width_ms` over `[from_ms, to_ms)`: of its
    /// runs from one `location`, or (`""`) of the check itself.
    #[allow(clippy::too_many_arguments)]
    pub async fn history(
        &self,
        tenant: i64,
        check: String,
        location: String,
        width_ms: i64,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<HistoryBucket>> {
        self.read(move |c| {
            history(
                c, tenant, &check, &location, width_ms, from_ms, to_ms, now_ms,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::daemon::store::{Backend, Edit, ResultRow, StoredResource, on_both_backends};
    use crate::probe::ProbeResult;
    use crate::spec::{Check, Kind, Spec, remote};

    const S: i64 = 1_000;

    fn result(at: i64, up: bool, latency_ms: f64) -> ProbeResult {
        serde_json::from_value(json!({
            "name": "api", "type": "http", "target": "http://127.0.0.1:9/", "up": up,
            "latency_ms": latency_ms, "status_code": if up { Some(200) } else { None },
            "error": if up { None } else { Some("connection refused") }, "error_kind": null,
            "attempts": 1, "started_at": chrono::DateTime::from_timestamp_millis(at).expect("time"),
        }))
        .expect("result")
    }

    /// A store with the `default` tenant holding check `api` of `spec` (extra
    /// fields over a 30 s HTTP check), and that check as the scheduler has it.
    struct Fixture {
        _dir: tempfile::TempDir,
        store: crate::daemon::store::Store,
        tenant: i64,
        check: Arc<Check>,
    }

    impl Fixture {
        async fn new(backend: Backend, extra: serde_json::Value) -> Fixture {
            let (dir, store) = crate::daemon::store::test_store(backend);
            store.bootstrap(|_| Ok(())).await.expect("bootstrap");
            let tenant = store
                .tenant_id("default".into())
                .await
                .expect("tenant")
                .expect("default");
            let mut spec = json!({"kind": "Check", "name": "api", "type": "http",
                                  "target": "http://127.0.0.1:9/", "schedule": "30s"});
            for (k, v) in extra.as_object().expect("fields") {
                spec[k] = v.clone();
            }
            let resource = StoredResource::from_json(spec.clone()).expect("decodes");
            let (outcome, _) = store
                .transact_state(tenant, move |_| Ok(((), vec![Edit::Upsert(resource)])))
                .await
                .expect("apply");
            outcome.expect("applied");
            let check = match remote::parse_stored(Kind::Check, &spec).expect("valid") {
                Spec::Check(c) => Arc::new(c),
                other => panic!("not a check: {other:?}"),
            };
            Fixture {
                _dir: dir,
                store,
                tenant,
                check,
            }
        }

        /// Records a run from `place` at `at`.
        async fn run(&self, place: &str, at: i64, up: bool, latency_ms: f64) {
            self.store.set_location(place);
            let row = ResultRow {
                tenant: self.tenant,
                check: "api".into(),
                result: result(at, up, latency_ms),
            };
            self.store
                .record(vec![(row, Arc::clone(&self.check))])
                .await
                .expect("record");
        }

        /// The check's `last_up` and `last_error`.
        async fn state(&self) -> (Option<bool>, Option<String>) {
            self.store
                .read(|c| {
                    c.query_row("SELECT last_up, last_error FROM check_state", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                })
                .await
                .expect("state")
        }
    }

    /// A check run from `eu` and `us` with a quorum of two: `eu` fails for 30
    /// runs, `us` passes 20 and then fails 10 (each a second after `eu`). The
    /// check is down only once both are; each location's figures are its own.
    async fn each_location_has_its_own_figures_and_the_check_its_quorums(backend: Backend) {
        let f = Fixture::new(backend, json!({"locations": ["eu", "us"], "quorum": 2})).await;
        let (store, tenant) = (&f.store, f.tenant);
        store
            .write(|tx| {
                tx.execute(
                    "UPDATE check_state SET covered_from = NULL, created_at = NULL",
                    [],
                )
            })
            .await
            .expect("cover from the past");
        store.set_running_since(i64::MIN);
        let now = super::super::now_ms();
        let t0 = (now - 3_600_000) / 60_000 * 60_000;
        for i in 0..30 {
            f.run("eu", t0 + i * 30 * S, false, 10.0).await;
            f.run("us", t0 + S + i * 30 * S, i < 20, 100.0).await;
        }
        let end = t0 + S + 29 * 30 * S;
        let report = store
            .report(tenant, None, t0, end, now)
            .await
            .expect("report");
        let api = &report.checks[0];
        let near = |got: f64, want: f64| (got - want).abs() < 0.5;
        // The check: down from `eu`'s run before `us` failed too (600 s in, the
        // span `us`'s failure stands for) to the end.
        assert_eq!((api.runs, api.failed_runs), (60, 40), "{api:#?}");
        assert!(near(api.down_seconds, 271.0), "{api:#?}");
        assert!(near(api.up_seconds, 600.0), "{api:#?}");
        let places: Vec<&str> = api.locations.iter().map(|l| l.location.as_str()).collect();
        assert_eq!(places, ["eu", "us"]);
        let (eu, us) = (&api.locations[0], &api.locations[1]);
        assert_eq!(
            (eu.runs, eu.failed_runs, eu.uptime),
            (30, 30, Some(0.0)),
            "{eu:#?}"
        );
        assert!(near(eu.down_seconds, 870.0), "{eu:#?}");
        assert_eq!((us.runs, us.failed_runs), (30, 10), "{us:#?}");
        assert!(
            near(us.up_seconds, 571.0) && near(us.down_seconds, 300.0),
            "{us:#?}"
        );
        let p50 = |l: &crate::model::LocationReport| l.latency.as_ref().map(|l| l.p50.round());
        assert_eq!((p50(eu), p50(us)), (Some(10.0), Some(100.0)));

        // Each location's history, and its results, on their own.
        let eu_buckets = store
            .history(tenant, "api".into(), "eu".into(), 60_000, t0, end, now)
            .await
            .expect("history");
        let failed: u64 = eu_buckets.iter().map(|b| b.failed_runs).sum();
        assert_eq!(failed, 30);
        let page = store
            .results(tenant, "api".into(), 100, None, Some("eu".into()))
            .await
            .expect("results");
        assert_eq!(page.items.len(), 30);
        assert!(
            page.items
                .iter()
                .all(|r| r.location.as_deref() == Some("eu"))
        );
        // A failure is kept as evidence though the quorum was not met.
        let kept: i64 = store
            .read(|c| {
                c.query_row(
                    "SELECT count(*) FROM results WHERE location = 'eu' AND kept = 1",
                    [],
                    |r| r.get(0),
                )
            })
            .await
            .expect("count");
        assert_eq!(kept, 30);

        // A status page shows each location as it saw the check.
        let page = || -> crate::spec::StatusPage {
            serde_json::from_value(json!({
                "name": "p", "title": "P", "slug": "p", "groups": [{"name": "API", "checks": ["api"]}]
            }))
            .expect("a page")
        };
        let data = store.status_page(tenant, page(), now).await.expect("page");
        let shown = &data.groups[0].checks[0];
        assert_eq!(shown.state, "down", "both locations see it down");
        let seen: Vec<(&str, &str)> = shown
            .locations
            .iter()
            .map(|l| (l.name.as_str(), l.state))
            .collect();
        // Their last runs are an hour old, many intervals: nothing said of now.
        assert_eq!(seen, [("eu", "unknown"), ("us", "unknown")]);
        let eu_up = shown.locations[0].uptime.expect("known");
        let us_up = shown.locations[1].uptime.expect("known");
        // The day holds the 44 s `us`'s first run stands for before `t0` too.
        assert!(
            eu_up < 0.1 && (us_up - 615.0 / 915.0 * 100.0).abs() < 0.1,
            "{shown:#?}"
        );
        // Fresh runs: each location as it sees the check now.
        f.run("eu", now, false, 5.0).await;
        f.run("us", now, true, 5.0).await;
        let data = store.status_page(tenant, page(), now).await.expect("page");
        let shown = &data.groups[0].checks[0];
        let seen: Vec<(&str, &str)> = shown
            .locations
            .iter()
            .map(|l| (l.name.as_str(), l.state))
            .collect();
        assert_eq!(seen, [("eu", "down"), ("us", "up")]);
        assert_eq!(shown.state, "up", "one location of a quorum of two");
    }

    /// While only one location of a quorum of two sees it down, the check is up:
    /// in its state (which dependants and pages read) and its last error.
    async fn one_location_down_leaves_the_check_up(backend: Backend) {
        let f = Fixture::new(backend, json!({"locations": ["eu", "us"], "quorum": 2})).await;
        let now = super::super::now_ms();
        f.run("us", now, true, 5.0).await;
        f.run("eu", now, false, 5.0).await;
        assert_eq!(f.state().await, (Some(true), None));
    }

    /// A daemon alone on SQLite runs every check, also from a location the check
    /// does not list: there its run is the check's, down when it fails.
    async fn a_run_from_an_unlisted_location_is_the_checks_own(backend: Backend) {
        let f = Fixture::new(backend, json!({"locations": ["eu", "us"]})).await;
        f.run("default", super::super::now_ms(), false, 5.0).await;
        let (up, error) = f.state().await;
        assert_eq!(
            (up, error.as_deref()),
            (Some(false), Some("connection refused"))
        );
        let page = f
            .store
            .results(f.tenant, "api".into(), 10, None, None)
            .await
            .expect("results");
        assert_eq!(
            page.items[0].location.as_deref(),
            Some("default"),
            "where it ran"
        );
    }

    on_both_backends!(
        each_location_has_its_own_figures_and_the_check_its_quorums,
        one_location_down_leaves_the_check_up,
        a_run_from_an_unlisted_location_is_the_checks_own,
    );
}
