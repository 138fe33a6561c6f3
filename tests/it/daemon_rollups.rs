//! Rollups and reports end to end: a real daemon runs checks every second against
//! servers on 127.0.0.1 that count what they serve, is stopped (gracefully, or with
//! SIGKILL), and its database is read: the report through the real store, the raw
//! results and rollup rows with SQL.
//!
//! The API refuses intervals under `spec::MIN_INTERVAL` (5 s), which would make
//! these tests take minutes; so the checks are written into the stopped daemon's
//! store the way an apply writes them (`transact_state` with an upsert), and the
//! daemon schedules them from there. Everything after that is the daemon's own.
//! The test of disabled and paused checks applies through the API instead, with
//! hour-long intervals and runs made by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use uptimeping::daemon::data_dir::DB_FILE;
use uptimeping::daemon::store::{Edit, Store, StoredResource};
use uptimeping::model::{CheckReport, Report};
use uptimeping::rollup::Bucket;
use uptimeping::rollup::sketch::RELATIVE_ERROR;

use crate::daemon_support::Daemon;
use crate::servers::{Script, Scripted, closed_port, runtime, scripted};

/// The checks' interval, and the longest span one result may stand for (one and
/// a half intervals, as the store allows).
const INTERVAL_MS: i64 = 1_000;
const MAX_SPAN_MS: i64 = INTERVAL_MS * 3 / 2;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// A data directory of its own, kept across daemon restarts.
struct Data {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Data {
    fn db(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }
}

/// A check running every second against `target`.
fn check(name: &str, target: &str) -> Value {
    json!({"kind": "Check", "name": name, "type": "http", "target": target, "schedule": "1s", "timeout": "900ms"})
}

/// A data directory a daemon has set up (tenant, admin key), with `checks` stored
/// while no daemon runs.
fn seeded(checks: Vec<Value>) -> Data {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (code, logs) = Daemon::start_on(&dir, &[]).terminate();
    assert_eq!(code, 0, "the setting-up daemon failed:\n{logs}");
    let data = Data { _tmp: tmp, dir };
    let db = data.db();
    runtime().block_on(async move {
        let (store, tenant) = open_default(&db).await;
        let edits = checks
            .into_iter()
            .map(|spec| {
                Edit::Upsert(StoredResource {
                    source: Some("test".into()),
                    ..StoredResource::from_json(spec).expect("a check that decodes")
                })
            })
            .collect();
        let (outcome, _) = store
            .transact_state(tenant, move |_| Ok(((), edits)))
            .await
            .expect("store the checks");
        outcome.expect("checks stored");
    });
    data
}

/// The daemon's store, opened beside it, and its `default` tenant.
async fn open_default(db: &Path) -> (Store, i64) {
    let store = Store::open(db).expect("open the daemon's store");
    let tenant = store
        .tenant_id("default".into())
        .await
        .expect("read tenant")
        .expect("default tenant");
    (store, tenant)
}

/// Stops `d` with SIGTERM, which must succeed.
fn stop(d: Daemon) {
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "the daemon did not stop cleanly:\n{logs}");
}

/// The report of every check over `[from_ms, to_ms)`, read through the store.
fn report(db: &Path, from_ms: i64, to_ms: i64) -> Report {
    let db = db.to_path_buf();
    runtime().block_on(async move {
        let (store, tenant) = open_default(&db).await;
        store
            .report(tenant, None, from_ms, to_ms, now_ms())
            .await
            .expect("report")
    })
}

fn of<'a>(r: &'a Report, name: &str) -> &'a CheckReport {
    r.checks
        .iter()
        .find(|c| c.check == name)
        .unwrap_or_else(|| panic!("no `{name}` in {r:#?}"))
}

/// One stored result: when its run started, whether it was up, its latency.
#[derive(Debug, Clone, Copy)]
struct Row {
    at: i64,
    up: bool,
    latency: f64,
}

/// A check's stored results, oldest first.
fn rows(db: &Path, name: &str) -> Vec<Row> {
    let c = rusqlite::Connection::open(db).expect("open database");
    let mut stmt = c
        .prepare("SELECT started_at, up, latency_ms FROM results WHERE check_name = ?1 ORDER BY started_at, id")
        .expect("query");
    stmt.query_map([name], |r| {
        Ok(Row {
            at: r.get(0)?,
            up: r.get(1)?,
            latency: r.get(2)?,
        })
    })
    .expect("results")
    .collect::<rusqlite::Result<_>>()
    .expect("results")
}

/// Whether `n`'s answer in `script` counts as a failed run (the check expects 2xx).
fn fails(script: Script, n: usize) -> bool {
    !(200..300).contains(&script(n).0)
}

/// A moment from which a check's results may stand for time again (a daemon's
/// start, a resume), known to lie within `(lo, hi)` Unix ms.
type Restart = (i64, i64);

/// The least and most up time and down time (ms) the store may give `rows` by
/// its rule: a result stands for the time since the result before, at most
/// [`MAX_SPAN_MS`], and never before the latest restart before it. Only the
/// restarts' moments are uncertain (by how long a start or an API call took).
fn expected_time(rows: &[Row], restarts: &[Restart]) -> [(i64, i64); 2] {
    let mut out = [(0, 0); 2];
    let mut prev: Option<i64> = None;
    for r in rows {
        let restart = restarts.iter().rev().find(|(lo, _)| *lo <= r.at);
        let bound = |from: Option<i64>| {
            [Some(r.at - MAX_SPAN_MS), prev, from]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(r.at)
        };
        let most = r.at - bound(restart.map(|(lo, _)| *lo));
        let least = r.at - bound(restart.map(|(_, hi)| (*hi).min(r.at)));
        let state = usize::from(!r.up);
        out[state].0 += least;
        out[state].1 += most;
        prev = Some(r.at);
    }
    out
}

/// Asserts that `c`'s up and down time is what `rows` stand for.
fn assert_time(c: &CheckReport, rows: &[Row], restarts: &[Restart]) {
    let [up, down] = expected_time(rows, restarts);
    let ms = |s: f64| (s * 1000.0).round() as i64;
    assert!(
        (up.0..=up.1).contains(&ms(c.up_seconds))
            && (down.0..=down.1).contains(&ms(c.down_seconds)),
        "`{}`: up {} s (expected {up:?} ms), down {} s (expected {down:?} ms); restarts {restarts:?}, results {rows:?}",
        c.check,
        c.up_seconds,
        c.down_seconds
    );
}

/// Starts a daemon on `data`, with the moment its store opened.
fn start(data: &Data) -> (Daemon, Restart) {
    let lo = now_ms();
    let d = Daemon::start_on(&data.dir, &[]);
    (d, (lo, now_ms()))
}

/// Nearest-rank quantile of `values`, as the sketch defines it.
fn nearest_rank(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn up(_: usize) -> (u16, Duration) {
    (200, Duration::ZERO)
}

fn unavailable(_: usize) -> (u16, Duration) {
    (503, Duration::ZERO)
}

/// Two of every three requests up: a share of up runs that is neither 50 nor 100.
fn flapping(n: usize) -> (u16, Duration) {
    (if n % 3 == 2 { 503 } else { 200 }, Duration::ZERO)
}

/// Three requests in four take 20 ms, the fourth 200 ms. By nearest rank the
/// median is in the middle of the fast ones (so one slow outlier among them does
/// not move it out) and p99, with a dozen runs, is the slowest of all.
fn timed(n: usize) -> (u16, Duration) {
    let ms = if n % 4 == 3 { SLOW_MS } else { FAST_MS };
    (200, Duration::from_millis(ms))
}
const FAST_MS: u64 = 20;
const SLOW_MS: u64 = 200;

/// What a probe may add to a server's sleep: loopback connect, request and
/// response handling in a debug build, and the wait for a CPU on a machine busy
/// with other builds and tests. A few ms usually; about 50 ms was seen for a
/// daemon's very first run (setting up its client), more under load. 100 ms
/// keeps the test stable while staying below the 180 ms between the fast and
/// slow requests: a percentile read from the wrong ones fails either bound.
const PROBE_OVERHEAD_MS: f64 = 100.0;

#[test]
fn a_report_of_known_targets_matches_what_the_servers_served() {
    let servers: Vec<(&str, Script, Scripted)> = vec![
        ("steady", up as Script, scripted(up)),
        ("broken", unavailable, scripted(unavailable)),
        ("flapping", flapping, scripted(flapping)),
        ("timed", timed, scripted(timed)),
    ];
    let data = seeded(
        servers
            .iter()
            .map(|(name, _, s)| check(name, &s.url()))
            .collect(),
    );
    let from = now_ms();
    let (d, started) = start(&data);
    sleep_ms(12_000);
    stop(d);
    let r = report(&data.db(), from - 60_000, now_ms() + 60_000);

    for (name, script, server) in &servers {
        let c = of(&r, name);
        let rows = rows(&data.db(), name);
        let served = server.served();
        eprintln!(
            "{name}: served {served}, runs {}, failed {}, up {:.3} s, down {:.3} s, unknown {:.3} s, uptime {:?}, coverage {:.2}",
            c.runs,
            c.failed_runs,
            c.up_seconds,
            c.down_seconds,
            c.unknown_seconds,
            c.uptime,
            c.coverage
        );
        // The rollups hold every stored result, and a graceful stop writes the run
        // in flight: the runs are what the server served (one less at most, should
        // a run have been cut off at the end of the grace period).
        assert_eq!(c.runs as usize, rows.len(), "{name}: {c:?}");
        assert!(
            served >= 10 && (served - 1..=served).contains(&rows.len()),
            "{name}: served {served}, stored {}",
            rows.len()
        );
        // Runs of one check never overlap and make one request each (no retries),
        // so result n is the server's request n.
        for (n, row) in rows.iter().enumerate() {
            assert_eq!(row.up, !fails(*script, n), "{name}: result {n} {row:?}");
        }
        let failed = (0..rows.len()).filter(|&n| fails(*script, n)).count();
        assert_eq!(c.failed_runs as usize, failed, "{name}: {c:?}");

        // Time: what the stored results stand for, to the millisecond but for
        // the daemon's start-up.
        assert_time(c, &rows, &[started]);
        assert_eq!(c.maintenance_seconds, 0.0);
        assert!(
            c.unknown_seconds > 0.0 && c.coverage < 100.0,
            "{name}: {c:?}"
        );
    }

    assert_eq!(of(&r, "steady").uptime, Some(100.0));
    assert_eq!(of(&r, "broken").uptime, Some(0.0));
    assert_eq!(of(&r, "timed").uptime, Some(100.0));

    // The flapping check's uptime by time is the share of up answers it was
    // served: every span is an interval but the first, which may be up to one
    // span short or long, and the scheduler's lateness moves time between
    // neighbours by a few ms (allowed another half interval).
    let flap = of(&r, "flapping");
    let served = scripted_share(flapping, flap.runs as usize);
    let known = flap.up_seconds + flap.down_seconds;
    let bound = 100.0 * (MAX_SPAN_MS as f64 / 1000.0 + 0.5) / known;
    let uptime = flap.uptime.expect("known");
    assert!(
        (uptime - served).abs() <= bound,
        "flapping: uptime {uptime:.2} vs served {served:.2} ± {bound:.2}: {flap:?}"
    );
    eprintln!("flapping: uptime {uptime:.2}, served up {served:.2} (± {bound:.2})");

    // Latency: the sketch's percentiles are within RELATIVE_ERROR of the stored
    // latencies at the same rank, exactly; and those are the server's sleeps
    // plus a probe's overhead.
    let t = of(&r, "timed");
    let latencies: Vec<f64> = rows(&data.db(), "timed")
        .iter()
        .map(|r| r.latency)
        .collect();
    let l = t.latency.as_ref().expect("latency");
    for (q, got) in [(0.5, l.p50), (0.99, l.p99)] {
        let exact = nearest_rank(&latencies, q);
        assert!(
            (got - exact).abs() <= exact * RELATIVE_ERROR,
            "p{}: {got} vs stored {exact}",
            q * 100.0
        );
    }
    for (got, slept) in [(l.p50, FAST_MS), (l.p99, SLOW_MS)] {
        let slept = slept as f64;
        assert!(
            got >= slept * (1.0 - RELATIVE_ERROR)
                && got <= slept * (1.0 + RELATIVE_ERROR) + PROBE_OVERHEAD_MS,
            "{got} ms for a {slept} ms sleep: {l:?}"
        );
    }
    let (min, max) = latencies
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert_eq!((l.min, l.max), (min, max));
    assert!(min >= FAST_MS as f64 && max >= SLOW_MS as f64, "{l:?}");
    let overhead: Vec<f64> = latencies
        .iter()
        .enumerate()
        .map(|(n, ms)| ms - timed(n).1.as_secs_f64() * 1000.0)
        .collect();
    assert!(overhead.iter().all(|&o| o >= 0.0), "{overhead:?}");
    eprintln!(
        "timed: p50 {:.2} ms (stored {:.2}), p99 {:.2} ms (stored {:.2}), min {min:.2}, max {max:.2}, overhead median {:.2} max {:.2} ms",
        l.p50,
        nearest_rank(&latencies, 0.5),
        l.p99,
        nearest_rank(&latencies, 0.99),
        nearest_rank(&overhead, 0.5),
        nearest_rank(&overhead, 1.0)
    );
}

/// The percentage of the first `n` answers of `script` that are up.
fn scripted_share(script: Script, n: usize) -> f64 {
    let ups = (0..n).filter(|&i| !fails(script, i)).count();
    100.0 * ups as f64 / n as f64
}

/// A check's runs and failed runs, summed over its minute rollups and counted in
/// its results.
#[derive(Debug)]
struct Tally {
    name: String,
    rolled: (u64, u64),
    counted: (u64, u64),
    /// Up, down and maintenance time in the minute rollups, ms.
    known_ms: i64,
}

/// The [`Tally`] of every check in the database.
fn in_step(db: &Path) -> Vec<Tally> {
    let c = rusqlite::Connection::open(db).expect("open database");
    let series: Vec<(i64, i64, String)> = c
        .prepare("SELECT id, tenant_id, check_name FROM series ORDER BY id")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("series")
        .collect::<rusqlite::Result<_>>()
        .expect("series");
    let mut out = Vec::new();
    for (id, tenant, name) in series {
        let (mut rolled, mut known_ms) = ((0, 0), 0);
        let mut stmt = c
            .prepare("SELECT data FROM rollup_minutes WHERE series = ?1")
            .expect("query");
        let blobs = stmt
            .query_map([id], |r| r.get::<_, Vec<u8>>(0))
            .expect("minutes");
        for blob in blobs {
            let b = Bucket::decode(&blob.expect("row")).expect("a minute row decodes");
            rolled = (rolled.0 + b.total(), rolled.1 + b.down);
            known_ms += b.up_ms + b.down_ms + b.maintenance_ms;
        }
        let counted: (i64, i64) = c
            .query_row(
                "SELECT count(*), coalesce(sum(up = 0), 0) FROM results WHERE tenant_id = ?1 AND check_name = ?2",
                rusqlite::params![tenant, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("count results");
        out.push(Tally {
            name,
            rolled,
            counted: (counted.0 as u64, counted.1 as u64),
            known_ms,
        });
    }
    out
}

#[test]
fn rollups_stay_in_step_with_results_through_kill_9_at_any_moment() {
    let (steady, flappy) = (scripted(up), scripted(flapping));
    let refused = format!("http://127.0.0.1:{}/", closed_port());
    let data = seeded(vec![
        check("steady", &steady.url()),
        check("flapping", &flappy.url()),
        check("refused", &refused),
        check("steady-too", &steady.url()),
    ]);
    // Killed at different points of the second, so that some kill lands while the
    // writer holds a batch, or in the middle of its transaction. Between daemons
    // longer than a result may stand for, so that time counted across a kill shows.
    let (mut last_total, mut alive_ms) = (0, 0);
    for (round, base_ms) in [2_300u64, 3_100, 1_700].into_iter().enumerate() {
        if round > 0 {
            sleep_ms(MAX_SPAN_MS as u64 + 200);
        }
        let jitter = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .subsec_millis(),
        );
        let born = now_ms();
        let d = Daemon::start_on(&data.dir, &[]);
        sleep_ms(base_ms + jitter % 500);
        d.kill9();
        alive_ms += now_ms() - born;
        let checks = in_step(&data.db());
        eprintln!("round {round}: {checks:?}");
        assert_eq!(checks.len(), 4, "{checks:?}");
        for t in &checks {
            assert_eq!(
                t.rolled, t.counted,
                "round {round}, `{}`: (runs, failed) in rollups vs results",
                t.name
            );
        }
        for t in &checks {
            assert!(
                t.known_ms <= alive_ms,
                "round {round}, `{}`: {} ms known of {alive_ms} ms that daemons lived",
                t.name,
                t.known_ms
            );
        }
        let total: u64 = checks.iter().map(|t| t.counted.0).sum();
        assert!(total > last_total, "round {round}: no run was stored");
        last_total = total;
        let refused = checks
            .iter()
            .find(|t| t.name == "refused")
            .expect("refused");
        assert_eq!(
            refused.counted.0, refused.counted.1,
            "every refused run fails"
        );
    }
}

#[test]
fn time_a_stopped_daemon_missed_is_unknown_never_up() {
    let server = scripted(up);
    let data = seeded(vec![check("steady", &server.url())]);
    let (d, first) = start(&data);
    let first_start = first.0;
    sleep_ms(5_000);
    stop(d);
    let first_stop = now_ms();
    sleep_ms(4_000);
    let (d, second) = start(&data);
    let second_start = second.0;
    sleep_ms(5_000);
    stop(d);
    let second_stop = now_ms();

    let r = report(&data.db(), first_start - 60_000, second_stop + 60_000);
    let c = of(&r, "steady");
    let running = (first_stop - first_start) + (second_stop - second_start);
    let gap = second_start - first_stop;
    let span = (c.to - c.from).num_milliseconds();
    // Time no daemon ran: before the first start, the gap, after the last stop.
    let outside = span - running;
    eprintln!(
        "stopped: span {span} ms, daemons ran {running} ms, gap {gap} ms; up {:.3} s, unknown {:.3} s, coverage {:.2}, runs {}",
        c.up_seconds, c.unknown_seconds, c.coverage, c.runs
    );
    assert_eq!(c.uptime, Some(100.0), "{c:?}");
    assert_eq!(c.down_seconds, 0.0, "{c:?}");
    assert!(c.coverage < 100.0, "{c:?}");
    let served = server.served();
    assert!(
        (served - 1..=served).contains(&(c.runs as usize)),
        "served {served}: {c:?}"
    );
    // Only time a daemon ran can be known. Were the gap counted as up, up time
    // would exceed the daemons' running time by about the gap's 4 s.
    assert!(
        c.up_seconds * 1000.0 <= running as f64,
        "up {} s, daemons ran {running} ms: {c:?}",
        c.up_seconds
    );
    assert!(c.unknown_seconds * 1000.0 >= outside as f64, "{c:?}");
    assert!(c.unknown_seconds * 1000.0 >= gap as f64, "{c:?}");
    // And most of it is known: each daemon misses its start-up and the time after
    // its last run, well under 3 s each.
    assert!(
        c.up_seconds * 1000.0 >= (running - 6_000) as f64,
        "up {} s, daemons ran {running} ms: {c:?}",
        c.up_seconds
    );
    // The first result after the restart stands for no time before it.
    let rows = rows(&data.db(), "steady");
    let after = rows
        .iter()
        .position(|r| r.at >= second_start)
        .expect("a run after the restart");
    assert!(
        after > 0 && rows[after].at - rows[after - 1].at > 4_000,
        "{rows:?}"
    );
    assert_time(c, &rows, &[first, second]);
}

#[test]
fn a_paused_check_is_unknown_while_paused_and_its_sibling_is_not() {
    let server = scripted(up);
    let data = seeded(vec![
        check("held", &server.url()),
        check("free", &server.url()),
    ]);
    let (d, started) = start(&data);
    sleep_ms(3_000);
    let pause_sent = now_ms();
    assert_eq!(
        d.post("/api/v1/checks/held/pause", &json!({}))["state"],
        "paused"
    );
    let paused = now_ms();
    sleep_ms(4_000);
    let resume_sent = now_ms();
    d.post("/api/v1/checks/held/resume", &json!({}));
    let resumed = now_ms();
    let pause_ms = resume_sent - paused;
    sleep_ms(3_000);
    stop(d);

    let r = report(&data.db(), started.0 - 60_000, now_ms() + 60_000);
    let (held, free) = (of(&r, "held"), of(&r, "free"));
    let extra = ((held.unknown_seconds - free.unknown_seconds) * 1000.0).round() as i64;
    eprintln!(
        "paused {pause_ms} ms (at most {} ms): held unknown {:.3} s, runs {}; free unknown {:.3} s, runs {}; extra {extra} ms",
        resumed - pause_sent,
        held.unknown_seconds,
        held.runs,
        free.unknown_seconds,
        free.runs
    );
    assert_eq!((held.uptime, free.uptime), (Some(100.0), Some(100.0)));
    // The held check misses the pause, and the time since its last run before
    // it (under an interval); both miss about the same at start and stop (each
    // within an interval of the other). Had the pause counted as up, `extra`
    // would be near 0.
    assert!(
        extra >= pause_ms - INTERVAL_MS - 500
            && extra <= (resumed - pause_sent) + 2 * INTERVAL_MS + 1_000,
        "extra unknown {extra} ms for a pause of {pause_ms} ms: {held:?} / {free:?}"
    );
    assert!(
        free.runs >= held.runs + 3,
        "held ran {} times, free {}",
        held.runs,
        free.runs
    );
    // No run of the held check started while it was paused.
    let held_rows = rows(&data.db(), "held");
    assert!(
        held_rows
            .iter()
            .all(|r| r.at < paused || r.at >= resume_sent),
        "{held_rows:?}"
    );
    // To the millisecond: the first run after the resume stands for no time
    // before it.
    assert_time(held, &held_rows, &[started, (resume_sent, resumed)]);
    assert_time(free, &rows(&data.db(), "free"), &[started]);
}

/// Runs `name` now through the API; the result is written when this returns.
fn run_now(d: &Daemon, name: &str) {
    let result = d.run_check(name);
    assert_eq!(result["up"], true, "{result}");
}

#[test]
fn time_a_check_was_disabled_or_paused_stays_unknown_even_to_a_run_by_hand() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("data").join(DB_FILE);
    let d = Daemon::start_on(&tmp.path().join("data"), &[]);
    let server = scripted(up);
    // `by-hand` and `reenabled` are disabled for a while, `held` is paused; only
    // `reenabled` is not run while off. An hour apart, so that runs come when the
    // test asks for them (a rare scheduled one only while its check is on).
    let checks = |on: bool| {
        [("by-hand", on), ("reenabled", on), ("held", true)]
            .map(|(name, enabled)| {
                format!(
                    "kind: Check\nname: {name}\ntype: http\ntarget: {}\nschedule: 1h\ntimeout: 2s\nenabled: {enabled}\n",
                    server.url()
                )
            })
            .join("---\n")
    };
    let apply = |on: bool| {
        d.post(
            "/api/v1/apply",
            &crate::daemon_support::plan_request("repo", &checks(on), json!({})),
        )
    };
    let created = now_ms();
    apply(true);
    for name in ["by-hand", "reenabled", "held"] {
        run_now(&d, name);
    }
    apply(false);
    d.post("/api/v1/checks/held/pause", &json!({}));
    let off = now_ms();
    sleep_ms(3_000);
    // Runs by hand while the checks are off: counted, but they saw one moment,
    // not the time since the runs before.
    run_now(&d, "by-hand");
    run_now(&d, "held");
    let on = now_ms();
    apply(true);
    d.post("/api/v1/checks/held/resume", &json!({}));
    for name in ["by-hand", "reenabled", "held"] {
        run_now(&d, name);
    }
    // A resumed check is also scheduled within a second: that run may come too.
    stop(d);
    let last = now_ms();

    let r = report(&db, created - 60_000, last + 60_000);
    // The checks were on from their creation until turned off, and again from
    // when they were turned on; only that time can be known.
    let active = (off - created) + (last - on);
    let wrong: Vec<String> = [("by-hand", 3), ("reenabled", 2), ("held", 3)]
        .into_iter()
        .filter_map(|(name, runs)| {
            let c = of(&r, name);
            eprintln!(
                "{name}: on for {active} ms; up {:.3} s, unknown {:.3} s, runs {}",
                c.up_seconds, c.unknown_seconds, c.runs
            );
            let stored = rows(&db, name).len();
            assert_eq!(c.runs as usize, stored, "{c:?}");
            assert!(
                (runs..=runs + 1).contains(&stored) && c.uptime == Some(100.0),
                "{c:?}"
            );
            (c.up_seconds * 1000.0 > active as f64).then(|| {
                format!(
                    "`{name}` was on for {active} ms, yet up for {} s",
                    c.up_seconds
                )
            })
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "time the checks were off counted as up: {wrong:?}"
    );
}
