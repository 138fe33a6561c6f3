//! Rollups through the real store on a real SQLite file, with results written at
//! timestamps of the test's choosing (a controllable clock): days of history in a
//! second, and every figure of the report known in advance.

use std::sync::Arc;

use crate::notify::harness::Db;
use serde_json::{Value, json};
use uptimeping::daemon::store::{Edit, ResultRow, StoredResource};
use uptimeping::model::{IncidentKind, IncidentStatus};
use uptimeping::probe::ProbeResult;
use uptimeping::rollup::sketch::RELATIVE_ERROR;
use uptimeping::spec::{Check, Kind, Spec, remote};

const S: i64 = 1_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;
/// Results per transaction, as the writer batches them.
const BATCH: usize = 500;

/// A store on a temp file with the `default` tenant.
async fn db() -> Db {
    Db::new().await
}

/// Applies a check with a 30 s interval (plus `extra` fields), and lets its
/// results stand for time from the distant past on.
async fn check(db: &Db, name: &str, extra: Value) -> Arc<Check> {
    let mut spec = json!({"kind": "Check", "name": name, "type": "http", "target": "http://127.0.0.1:9/", "schedule": "30s"});
    for (k, v) in extra.as_object().expect("object") {
        spec[k] = v.clone();
    }
    let resource = StoredResource::from_json(spec.clone()).expect("a check that decodes");
    put(db, resource).await;
    let name = name.to_string();
    db.store
        .write(move |tx| {
            tx.execute(
                "UPDATE check_state SET covered_from = NULL, created_at = NULL WHERE name = ?1",
                [name],
            )
        })
        .await
        .expect("clear coverage start");
    db.store.set_running_since(i64::MIN);
    let mut plain = spec;
    if let Some(m) = plain.as_object_mut() {
        m.remove("slo");
    }
    match remote::parse_stored(Kind::Check, &plain).expect("valid check") {
        Spec::Check(c) => Arc::new(c),
        other => panic!("not a check: {other:?}"),
    }
}

fn result(name: &str, at: i64, up: bool, latency_ms: f64) -> ProbeResult {
    serde_json::from_value(json!({
        "name": name, "type": "http", "target": "http://127.0.0.1:9/", "up": up,
        "latency_ms": latency_ms, "status_code": if up { Some(200) } else { None },
        "error": if up { None } else { Some("connection refused") }, "error_kind": null,
        "attempts": 1, "started_at": chrono::DateTime::from_timestamp_millis(at).expect("time"),
    }))
    .expect("result")
}

/// Writes results of `check` at `times` (each with its state and latency) in
/// writer-sized batches.
async fn write(db: &Db, check: &Arc<Check>, runs: impl IntoIterator<Item = (i64, bool, f64)>) {
    let mut batch = Vec::new();
    for (at, up, latency) in runs {
        batch.push((
            ResultRow {
                tenant: db.tenant,
                check: check.name.clone(),
                result: result(&check.name, at, up, latency),
            },
            Arc::clone(check),
        ));
        if batch.len() == BATCH {
            db.store
                .record(std::mem::take(&mut batch))
                .await
                .expect("record");
        }
    }
    if !batch.is_empty() {
        db.store.record(batch).await.expect("record");
    }
}

/// Runs every 30 s from `t0`, `n` of them, all up or all down, at `latency_ms`.
fn every_30s(t0: i64, n: i64, up: bool, latency_ms: f64) -> impl Iterator<Item = (i64, bool, f64)> {
    (0..n).map(move |i| (t0 + i * 30 * S, up, latency_ms))
}

/// The report of the first (or only) check over `[from, to)` as of `now`.
async fn report_of(db: &Db, from: i64, to: i64, now: i64) -> uptimeping::model::CheckReport {
    let mut r = db
        .store
        .report(db.tenant, None, from, to, now)
        .await
        .expect("report");
    r.checks.remove(0)
}

/// Stores one resource as an apply would.
async fn put(db: &Db, resource: StoredResource) {
    let (outcome, _) = db
        .store
        .transact_state(db.tenant, move |_| Ok(((), vec![Edit::Upsert(resource)])))
        .await
        .expect("write");
    outcome.expect("applied");
}

/// A latency pattern with known percentiles: 1, 2, …, 100 ms over and over.
fn latency(i: i64) -> f64 {
    (i % 100 + 1) as f64
}

fn close(actual: f64, expected: f64, rel: f64) -> bool {
    (actual - expected).abs() <= expected.abs() * rel
}

#[tokio::test]
async fn a_report_over_days_matches_what_was_served_whatever_resolution_it_reads() {
    let db = db().await;
    let c = check(&db, "steady", json!({})).await;
    let t0 = 20_000 * D; // a day boundary, 2024-10-04
    // Three days every 30 s; down for the first 10 minutes of every 6 hours.
    let runs = (0..3 * D / (30 * S)).map(|i| {
        let at = t0 + i * 30 * S;
        let up = (at - t0) % (6 * H) >= 10 * M;
        (at, up, latency(i))
    });
    write(&db, &c, runs).await;
    let now = t0 + 3 * D + H;
    let before = db
        .store
        .report(db.tenant, None, t0, t0 + 3 * D, now)
        .await
        .expect("report");
    // Building hours and days changes where the figures come from, not what they are.
    db.store.build_rollups(now).await.expect("build");
    let after = db
        .store
        .report(db.tenant, None, t0, t0 + 3 * D, now)
        .await
        .expect("report");
    for report in [&before, &after] {
        let r = &report.checks[0];
        assert_eq!(r.runs, 8640);
        assert_eq!(r.failed_runs, 12 * 20);
        // Each result stands for the 30 s before it; the first stands for none.
        let down = 12.0 * 10.0 * 60.0;
        assert!((r.down_seconds - down).abs() <= 30.0, "{r:?}");
        let expected = 100.0 * (3.0 * 86_400.0 - down) / (3.0 * 86_400.0);
        assert!((r.uptime.expect("known") - expected).abs() < 0.02, "{r:?}");
        assert!(r.coverage > 99.9 && r.unknown_seconds <= 30.0, "{r:?}");
        let l = r.latency.as_ref().expect("latency");
        assert_eq!((l.min, l.max), (1.0, 100.0));
        for (got, exact) in [(l.p50, 50.0), (l.p90, 90.0), (l.p95, 95.0), (l.p99, 99.0)] {
            assert!(close(got, exact, RELATIVE_ERROR), "{got} vs {exact}");
        }
    }
    assert_eq!(before.checks[0], after.checks[0]);
}

#[tokio::test]
async fn time_the_daemon_was_not_running_is_unknown_never_up() {
    let db = db().await;
    let c = check(&db, "gap", json!({})).await;
    let t0 = 20_000 * D;
    write(&db, &c, every_30s(t0, 120, true, 5.0)).await;
    // The daemon stops for two hours; it starts again at t0 + 3h.
    let restart = t0 + 3 * H;
    db.store.set_running_since(restart);
    write(&db, &c, every_30s(restart + 10 * S, 120, true, 5.0)).await;
    let r = &report_of(&db, t0, t0 + 4 * H, t0 + 4 * H).await;
    assert_eq!(r.uptime, Some(100.0));
    // Known: an hour before the stop and an hour after the restart.
    assert!((r.up_seconds - 7_200.0).abs() <= 60.0, "{r:?}");
    assert!((r.unknown_seconds - 7_200.0).abs() <= 60.0, "{r:?}");
    assert!((r.coverage - 50.0).abs() < 1.0, "{r:?}");
}

#[tokio::test]
async fn maintenance_time_is_excluded_from_uptime() {
    let db = db().await;
    let c = check(&db, "held", json!({})).await;
    let t0 = 20_000 * D;
    let start = chrono::DateTime::from_timestamp_millis(t0 + H)
        .expect("t")
        .to_rfc3339();
    let end = chrono::DateTime::from_timestamp_millis(t0 + 2 * H)
        .expect("t")
        .to_rfc3339();
    let window = StoredResource::from_json(json!({"kind": "Maintenance", "name": "upgrade", "checks": ["held"], "start": start, "end": end, "timezone": "UTC"}))
        .expect("a window that decodes");
    put(&db, window).await;
    // Down through the maintenance hour, up around it.
    let runs = (0..3 * H / (30 * S)).map(|i| {
        let at = t0 + i * 30 * S;
        (at, !(t0 + H..t0 + 2 * H).contains(&at), 5.0)
    });
    write(&db, &c, runs).await;
    let r = &report_of(&db, t0, t0 + 3 * H, t0 + 3 * H).await;
    assert!((r.maintenance_seconds - 3_600.0).abs() <= 30.0, "{r:?}");
    assert!(r.down_seconds <= 30.0, "{r:?}");
    assert!(r.uptime.expect("known") > 99.5, "{r:?}");
    assert_eq!(r.failed_runs, 120);
}

#[tokio::test]
async fn a_late_result_folds_into_hours_and_days_already_built() {
    let db = db().await;
    let c = check(&db, "late", json!({})).await;
    let t0 = 20_000 * D;
    write(&db, &c, every_30s(t0, 2 * D / (30 * S), true, 5.0)).await;
    let now = t0 + 2 * D + H;
    db.store.build_rollups(now).await.expect("build");
    // A run of the first hour arrives now (a writer that held it through an outage).
    write(&db, &c, [(t0 + 15 * S, false, 7.0)]).await;
    let r = &report_of(&db, t0, t0 + 2 * D, now).await;
    assert_eq!((r.runs, r.failed_runs), (5761, 1));
    assert_eq!(r.latency.as_ref().expect("latency").max, 7.0);
}

#[tokio::test]
async fn pruned_minutes_leave_hours_and_the_edges_round_out() {
    let db = db().await;
    let c = check(&db, "old", json!({})).await;
    let t0 = 20_000 * D;
    write(&db, &c, every_30s(t0, 3 * D / (30 * S), true, 5.0)).await;
    let now = t0 + 3 * D + H;
    db.store.build_rollups(now).await.expect("build");
    // Keep minutes for a day only: the first two days remain as hours and days.
    let pruned = db
        .store
        .prune_rollups(now, [D, 90 * D, 730 * D])
        .await
        .expect("prune");
    assert!(pruned > 0);
    let from = t0 + 30 * M + 10 * S;
    let r = &report_of(&db, from, t0 + 3 * D, now).await;
    assert_eq!(
        r.from.timestamp_millis(),
        t0,
        "the start rounds out to its hour"
    );
    assert_eq!(r.runs, 8640);
    assert_eq!(r.uptime, Some(100.0));
}

/// A check `budget` with an SLO, up for a day from `t0` and then down for 20
/// minutes up to `now`: 20 min of errors in the last hour is a 333x burn over 1h
/// and 1000x over 5m.
async fn burning() -> (Db, Arc<Check>, i64, i64) {
    let db = db().await;
    let slo = json!({"slo": {"objective": 99.9, "window": "30d"}});
    let c = check(&db, "budget", slo).await;
    let t0 = 20_000 * D;
    let mut runs: Vec<_> = (0..D / (30 * S))
        .map(|i| (t0 + i * 30 * S, true, 5.0))
        .collect();
    runs.extend(every_30s(t0 + D, 40, false, 5.0));
    write(&db, &c, runs).await;
    (db, c, t0, t0 + D + 20 * M)
}

#[tokio::test]
async fn an_slo_burn_opens_an_incident_of_its_own_kind_and_resolves_when_it_stops() {
    let (db, c, t0, now) = burning().await;
    let opened = db.store.slo_pass(now).await.expect("pass");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0].event, "opened");
    let incidents = db
        .store
        .incidents(db.tenant, None, None, 10)
        .await
        .expect("incidents");
    let burn: Vec<_> = incidents
        .iter()
        .filter(|i| i.kind == IncidentKind::SloBurn)
        .collect();
    assert_eq!(burn.len(), 1);
    assert!(
        burn[0].error.contains("error budget burning"),
        "{}",
        burn[0].error
    );
    // It does not open twice.
    assert!(db.store.slo_pass(now + M).await.expect("pass").is_empty());
    let r = &report_of(&db, now - D, now, now).await;
    let s = r.slo.as_ref().expect("slo");
    assert!(s.burning && s.burn_rate_1h.expect("burn") > 14.4, "{s:?}");
    // Up again for 30 minutes: both short windows are clean, so no rule holds.
    write(
        &db,
        &c,
        (0..60).map(|i| (t0 + D + 20 * M + i * 30 * S, true, 5.0)),
    )
    .await;
    let resolved = db.store.slo_pass(t0 + D + 50 * M).await.expect("pass");
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0].event, "resolved");
    let inc = db
        .store
        .incident(db.tenant, burn[0].id)
        .await
        .expect("incident");
    assert_eq!(inc.status, IncidentStatus::Resolved);
}

#[tokio::test]
async fn a_burn_incident_stays_open_while_its_checks_spec_cannot_be_read() {
    let (db, _, _, now) = burning().await;
    assert_eq!(db.store.slo_pass(now).await.expect("pass").len(), 1);
    // The stored spec is spoiled (not even JSON): whether the check still alerts
    // on its SLO is unknown, so its incident is not resolved as if it did not.
    let conn = rusqlite::Connection::open(db.path()).expect("open the database");
    conn.execute(
        "UPDATE resources SET spec = '{not json' WHERE kind = 'Check' AND name = 'budget'",
        [],
    )
    .expect("spoil the row");
    drop(conn);
    let changed = db.store.slo_pass(now + M).await.expect("pass");
    assert!(changed.is_empty(), "{changed:?}");
    let open = db
        .store
        .incidents(db.tenant, None, None, 10)
        .await
        .expect("incidents");
    assert!(
        open.iter()
            .any(|i| i.kind == IncidentKind::SloBurn && i.status != IncidentStatus::Resolved),
        "{open:?}"
    );
}

#[tokio::test]
async fn a_check_run_hourly_or_weekly_costs_few_rows_per_result_and_is_known_at_most_36_hours_back()
{
    let db = db().await;
    let hourly = check(&db, "hourly", json!({"schedule": "1h", "timeout": "10s"})).await;
    let weekly = check(&db, "weekly", json!({"schedule": "7d", "timeout": "10s"})).await;
    let t0 = 20_000 * D + 7 * M;
    write(&db, &hourly, (0..48).map(|i| (t0 + i * H, true, 5.0))).await;
    write(&db, &weekly, (0..3).map(|i| (t0 + i * 7 * D, true, 5.0))).await;
    let now = t0 + 14 * D + H;
    let report = db
        .store
        .report(db.tenant, None, t0, t0 + 47 * H, now)
        .await
        .expect("report");
    let h = report
        .checks
        .iter()
        .find(|c| c.check == "hourly")
        .expect("hourly");
    assert!(h.coverage > 99.9, "{h:?}");
    let rows: i64 = db
        .store
        .read(|c| c.query_row("SELECT count(*) FROM rollup_minutes", [], |r| r.get(0)))
        .await
        .expect("rows");
    // Hourly: its run's minute and the hour before it minute by minute. Weekly:
    // its run, 36 hours of time in 37 rows and at most an hour of minutes, where
    // minute by minute it would be 2,160.
    assert!(
        rows <= 48 * (1 + 61) + 3 * (1 + 37 + 60),
        "{rows} minute rows"
    );
    let report = db
        .store
        .report(db.tenant, None, t0, t0 + 14 * D, now)
        .await
        .expect("report");
    let w = report
        .checks
        .iter()
        .find(|c| c.check == "weekly")
        .expect("weekly");
    assert!((w.up_seconds - 2.0 * 36.0 * 3600.0).abs() < 1.0, "{w:?}");
}

#[tokio::test]
async fn a_report_of_many_checks_scanned_at_once_agrees_with_each_checks_own() {
    let db = db().await;
    let t0 = 20_000 * D + 17 * M;
    let slo = json!({"slo": {"objective": 99.5, "window": "1d"}});
    let mut checks = Vec::new();
    // More checks than a report looks up one by one, so it scans ranges instead.
    for i in 0..40 {
        checks.push(
            check(
                &db,
                &format!("many-{i:02}"),
                if i % 2 == 0 { slo.clone() } else { json!({}) },
            )
            .await,
        );
    }
    for (n, c) in checks.iter().enumerate() {
        let runs = (0..2 * D / (30 * S)).map(|i| {
            (
                t0 + i * 30 * S,
                (i + n as i64) % 17 != 0,
                latency(i + n as i64),
            )
        });
        write(&db, c, runs).await;
    }
    let now = t0 + 2 * D;
    db.store.build_rollups(now).await.expect("build");
    let (from, to) = (t0 + 3 * H + 5 * M, now);
    let all = db
        .store
        .report(db.tenant, None, from, to, now)
        .await
        .expect("report");
    assert_eq!(all.checks.len(), 40);
    for r in &all.checks {
        let one = db
            .store
            .report(db.tenant, Some(vec![r.check.clone()]), from, to, now)
            .await
            .expect("report");
        assert_eq!(&one.checks[0], r);
    }
    assert!(all.checks[0].slo.is_some() && all.checks[1].slo.is_none());
}

#[tokio::test]
async fn history_buckets_of_every_width_add_up_to_the_runs_and_skip_what_was_pruned() {
    let db = db().await;
    let c = check(&db, "hist", json!({})).await;
    let t0 = 20_000 * D;
    // Two days every 30 s, down during 10:00–10:15 of each day.
    let runs = (0..2 * D / (30 * S)).map(|i| {
        let at = t0 + i * 30 * S;
        let in_day = (at - t0) % D;
        (at, !(10 * H..10 * H + 15 * M).contains(&in_day), latency(i))
    });
    write(&db, &c, runs).await;
    let now = t0 + 2 * D + H;
    db.store.build_rollups(now).await.expect("build");
    for (width, buckets) in [(5 * M, 12 * 24), (15 * M, 4 * 24), (H, 24), (D, 1)] {
        let h = db
            .store
            .history(
                db.tenant,
                "hist".into(),
                String::new(),
                width,
                t0 + D,
                t0 + 2 * D,
                now,
            )
            .await
            .expect("history");
        assert_eq!(h.len(), buckets as usize, "width {width}");
        assert_eq!(h.iter().map(|b| b.runs).sum::<u64>(), 2880, "width {width}");
        assert_eq!(
            h.iter().map(|b| b.failed_runs).sum::<u64>(),
            30,
            "width {width}"
        );
        let down: Vec<_> = h.iter().filter(|b| b.uptime != Some(100.0)).collect();
        // The outage is 10:00–10:15, and the first up run after it stands for its
        // 30 s before as up: only buckets overlapping it fall below 100.
        assert!(
            !down.is_empty() && down.len() as i64 <= (15 * M / width).max(1) + 1,
            "width {width}: {down:?}"
        );
    }
    // With minutes pruned, a day read by the minute has nothing to say, while
    // its hours still do.
    db.store
        .prune_rollups(now, [2 * H, 90 * D, 730 * D])
        .await
        .expect("prune");
    let by_minute = db
        .store
        .history(db.tenant, "hist".into(), String::new(), M, t0, t0 + H, now)
        .await
        .expect("history");
    assert!(by_minute.is_empty(), "{by_minute:?}");
    let by_hour = db
        .store
        .history(db.tenant, "hist".into(), String::new(), H, t0, t0 + D, now)
        .await
        .expect("history");
    assert_eq!(by_hour.len(), 24);
    // Too many buckets for one answer is refused before anything is read.
    let err = db
        .store
        .history(
            db.tenant,
            "hist".into(),
            String::new(),
            M,
            t0,
            t0 + 30 * D,
            now,
        )
        .await
        .expect_err("too many");
    assert!(err.to_string().contains("at most 10000 buckets"), "{err}");
}

#[tokio::test]
async fn a_check_run_every_10_minutes_is_known_minute_by_minute_across_the_hour() {
    let db = db().await;
    let c = check(&db, "ten", json!({"schedule": "10m"})).await;
    let t0 = 20_000 * D + 50 * M + 35 * S;
    write(&db, &c, (0..3).map(|i| (t0 + i * 10 * M, true, 5.0))).await;
    let now = t0 + 30 * M;
    // One minute inside the first span, and the eight minutes after it.
    let r = report_of(&db, 20_000 * D + 51 * M, 20_000 * D + 52 * M, now).await;
    assert_eq!((r.up_seconds, r.coverage), (60.0, 100.0), "{r:?}");
    let r = report_of(&db, 20_000 * D + 52 * M, 20_000 * D + H, now).await;
    assert_eq!((r.up_seconds, r.unknown_seconds), (480.0, 0.0), "{r:?}");
}

#[tokio::test]
async fn a_check_deleted_and_created_again_starts_with_no_history() {
    let db = db().await;
    let c = check(&db, "again", json!({})).await;
    let t0 = 20_000 * D;
    write(&db, &c, every_30s(t0, 100, true, 5.0)).await;
    let (outcome, _) = db
        .store
        .transact_state(db.tenant, |_| {
            Ok(((), vec![Edit::Delete(Kind::Check, "again".into())]))
        })
        .await
        .expect("delete");
    outcome.expect("deleted");
    // Created again now (as an apply does, not back-dated like the others here).
    let spec = json!({"kind": "Check", "name": "again", "type": "http", "target": "http://127.0.0.1:9/", "schedule": "30s"});
    put(
        &db,
        StoredResource::from_json(spec).expect("a check that decodes"),
    )
    .await;
    // A run of the old check that was still in flight arrives now: not the new one's.
    write(&db, &c, every_30s(t0 + H, 1, false, 5.0)).await;
    let now = chrono::Utc::now().timestamp_millis() + 1_000;
    write(&db, &c, [(now, false, 5.0), (now + 30 * S, false, 5.0)]).await;
    let r = report_of(&db, t0, now + M, now + M).await;
    assert_eq!((r.runs, r.failed_runs), (2, 2), "{r:?}");
    assert_eq!(r.uptime, Some(0.0), "{r:?}");
    let results = db
        .store
        .results(db.tenant, "again".into(), 1000, None, None)
        .await
        .expect("results");
    assert_eq!(
        results.items.len(),
        2,
        "the old check's raw results went with it"
    );
}

#[tokio::test]
async fn a_burn_incident_resolves_when_its_check_stops_alerting_on_its_slo() {
    let db = db().await;
    let t0 = 20_000 * D;
    let mut runs: Vec<_> = every_30s(t0, D / (30 * S), true, 5.0).collect();
    runs.extend(every_30s(t0 + D, 40, false, 5.0));
    let now = t0 + D + 20 * M;
    let slo = json!({"objective": 99.9, "window": "30d"});
    for (name, changed) in [
        ("off", json!({"slo": slo, "enabled": false})),
        (
            "quiet",
            json!({"slo": {"objective": 99.9, "window": "30d", "alert": false}}),
        ),
        ("plain", json!({})),
    ] {
        let c = check(&db, name, json!({"slo": slo})).await;
        write(&db, &c, runs.clone()).await;
        let opened = db.store.slo_pass(now).await.expect("pass");
        assert_eq!(opened.len(), 1, "{name}: {opened:?}");
        check(&db, name, changed).await;
        let resolved = db.store.slo_pass(now + M).await.expect("pass");
        assert_eq!(resolved.len(), 1, "{name}: {resolved:?}");
        assert_eq!(resolved[0].event, "resolved", "{name}");
        let events = db
            .store
            .incident_events(db.tenant, resolved[0].incident)
            .await
            .expect("events");
        let last = events.last().expect("an event");
        assert_eq!(
            last.detail["reason"], "the check no longer alerts on its SLO",
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_window_reaching_far_into_the_future_reads_only_up_to_now() {
    let db = db().await;
    let c = check(
        &db,
        "future",
        json!({"slo": {"objective": 99.9, "window": "1d"}}),
    )
    .await;
    let t0 = 20_000 * D;
    write(&db, &c, every_30s(t0, 120, true, 5.0)).await;
    let now = t0 + H;
    // Before, every minute of the 799 days ahead was looked up one by one.
    let ahead = report_of(&db, now - D, now + 799 * D, now).await;
    let until_now = report_of(&db, now - D, now, now).await;
    assert_eq!(ahead.to, until_now.to);
    assert_eq!(
        (ahead.up_seconds, ahead.runs),
        (until_now.up_seconds, until_now.runs)
    );
    // The SLO and burn figures are those of the window ending now, not of one
    // ending where the report's does.
    assert!(
        until_now
            .slo
            .as_ref()
            .is_some_and(|s| s.attainment == Some(100.0))
    );
    assert_eq!(ahead.slo, until_now.slo);
    let h = db
        .store
        .history(
            db.tenant,
            "future".into(),
            String::new(),
            D,
            now - D,
            now + 799 * D,
            now,
        )
        .await
        .expect("history");
    // The first run stands for 45 s before it, in the day before; nothing after now.
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[1].start.timestamp_millis(), t0, "{h:?}");
}
