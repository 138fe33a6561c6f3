//! Storage and report speed after a month of results.
//!
//!     cargo bench --bench rollup_storage -- [--checks 10000] [--sample 50] [--days 30] [--interval 30]
//!
//! Writes `--days` of results of `--sample` checks every `--interval` seconds through
//! the real results writer (batches, incidents, rollups, all of it) with timestamps
//! of a simulated clock, building hours and days and pruning every tier at its
//! default retention as the daemon does, once per simulated hour. Then it copies
//! the sample's rows (results, rollups, series, checks) until there are `--checks`
//! checks, so the database has the size and shape of that many, and prints:
//! writer throughput, database size (the sample's natural size scaled, and the full
//! copy's size on disk), and report times: one check over 30 days, and every check
//! over 30 days (medians of several runs).
//!
//! Each simulated check has a log-normal latency (median 40 ms, σ 0.3) and one
//! outage of 5 minutes a day at a time of its own, so about 0.35 % of runs fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Notify, mpsc};
use uptimeping::daemon::config::Retention;
use uptimeping::daemon::metrics::Metrics;
use uptimeping::daemon::store::{Edit, Store, StoredResource};
use uptimeping::daemon::writer::{Job, QUEUE, Writer};
use uptimeping::probe::ProbeResult;
use uptimeping::spec::{Check, Kind, Spec, remote};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

struct Options {
    checks: usize,
    sample: usize,
    days: i64,
    interval_s: i64,
}

fn options() -> Options {
    let mut o = Options {
        checks: 10_000,
        sample: 50,
        days: 30,
        interval_s: 30,
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    for pair in args.chunks(2) {
        let v: i64 = pair
            .get(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("`{}` needs a number", pair[0]));
        match pair[0].as_str() {
            "--checks" => o.checks = v as usize,
            "--sample" => o.sample = v as usize,
            "--days" => o.days = v,
            "--interval" => o.interval_s = v,
            other => panic!(
                "unknown argument `{other}`; use --checks N --sample N --days N --interval S"
            ),
        }
    }
    assert!(
        o.sample > 0 && o.checks >= o.sample,
        "--checks must be at least --sample"
    );
    o
}

/// A deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-normal with median 40 ms and σ 0.3 (Box–Muller).
    fn latency(&mut self) -> f64 {
        let (u1, u2) = (self.next().max(1e-12), self.next());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        40.0 * (0.3 * z).exp()
    }
}

fn db_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn mib(b: u64) -> f64 {
    b as f64 / 1024.0 / 1024.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn checkpoint(store: &Store) {
    store
        .write(|tx| {
            tx.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .ok();
}

#[tokio::main]
async fn main() {
    let o = options();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let store = Store::open(&db).expect("open store");
    store.bootstrap(|_| Ok(())).await.expect("bootstrap");
    let tenant = store
        .tenant_id("default".into())
        .await
        .expect("tenant")
        .expect("default tenant");
    let retention = Retention::default();
    let ms = |d: Duration| d.as_millis() as i64;

    // The sample's checks, applied as a daemon would.
    let mut checks: Vec<Arc<Check>> = Vec::new();
    let mut edits = Vec::new();
    for i in 0..o.sample {
        let name = format!("check-{i:05}");
        let spec = json!({"kind": "Check", "name": name, "type": "http", "target": format!("http://10.0.0.1/health/{i}"),
            "schedule": format!("{}s", o.interval_s), "timeout": "10s", "slo": {"objective": 99.9, "window": "30d"}});
        let check = match remote::parse_stored(Kind::Check, &spec).expect("valid check") {
            Spec::Check(c) => Arc::new(c),
            _ => unreachable!(),
        };
        edits.push(Edit::Upsert(StoredResource::new(
            Spec::Check((*check).clone()),
            spec,
        )));
        checks.push(check);
    }
    let (outcome, _) = store
        .transact_state(tenant, move |_| Ok(((), edits)))
        .await
        .expect("apply");
    outcome.expect("applied");
    store
        .write(|tx| {
            tx.execute(
                "UPDATE check_state SET covered_from = NULL, created_at = NULL",
                [],
            )
        })
        .await
        .expect("coverage");

    let start = 20_000 * D;
    let end = start + o.days * D;
    store.set_running_since(start);
    let metrics = Arc::new(Metrics::new());
    let writer = Writer {
        store: store.clone(),
        metrics,
        notifier: Arc::new(Notify::new()),
        backlog: uptimeping::daemon::writer::BACKLOG,
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer_task = tokio::spawn(writer.run(rx));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let step = o.interval_s * 1000;
    let outage: Vec<i64> = (0..o.sample)
        .map(|i| (i as i64 * 7_919_000) % (D - 5 * 60_000))
        .collect();
    let total = (o.days * D / step) as usize * o.sample;
    println!(
        "writing {total} results of {} checks over {} simulated days through the writer …",
        o.sample, o.days
    );
    let began = Instant::now();
    let mut busy = Duration::ZERO;
    let mut t = start;
    let mut next_hour = start + H;
    while t < end {
        for (i, check) in checks.iter().enumerate() {
            let in_day = (t - start).rem_euclid(D);
            let up = !(outage[i]..outage[i] + 5 * 60_000).contains(&in_day);
            let at = chrono::DateTime::from_timestamp_millis(t + i as i64 * 97).expect("time");
            let result: ProbeResult = serde_json::from_value(json!({
                "name": check.name, "type": "http", "target": check.target, "up": up,
                "latency_ms": rng.latency(), "status_code": if up { 200 } else { 503 },
                "error": if up { None } else { Some("status: expected 2xx, got 503") }, "error_kind": if up { None } else { Some("expectation") },
                "attempts": 1, "started_at": at,
            }))
            .expect("result");
            tx.send(Job {
                tenant,
                name: check.name.clone(),
                check: Arc::clone(check),
                result,
                reply: None,
            })
            .await
            .expect("writer");
        }
        t += step;
        if t >= next_hour {
            let b = Instant::now();
            store.flush().await.expect("flush");
            store.build_rollups(t).await.expect("build");
            store
                .prune_results(t, ms(retention.results), ms(retention.successes))
                .await
                .expect("prune results");
            store
                .prune_rollups(
                    t,
                    [
                        ms(retention.minutes),
                        ms(retention.hours),
                        ms(retention.days),
                    ],
                )
                .await
                .expect("prune rollups");
            busy += b.elapsed();
            next_hour += H;
            if (next_hour - start) % D == 0 {
                eprint!(
                    "\r  day {} of {} ({:.0} s)",
                    (next_hour - start) / D,
                    o.days,
                    began.elapsed().as_secs_f64()
                );
            }
        }
    }
    drop(tx);
    writer_task.await.expect("writer");
    let elapsed = began.elapsed();
    eprintln!();
    println!(
        "writer: {total} results in {:.1} s = {:.0} results/s (hourly building and pruning took {:.1} s of it)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        busy.as_secs_f64()
    );
    checkpoint(&store).await;
    let counts = store
        .read(|c| {
            let q = |sql: &str| c.query_row(sql, [], |r| r.get::<i64>(0));
            Ok((
                q("SELECT count(*) FROM results")?,
                q("SELECT count(*) FROM rollup_minutes")?,
                q("SELECT count(*) FROM rollup_hours")?,
                q("SELECT count(*) FROM rollup_days")?,
            ))
        })
        .await
        .expect("counts");
    let sample_bytes = db_bytes(dir.path());
    let factor = o.checks as f64 / o.sample as f64;
    println!(
        "sample: {} checks, {:.1} MiB on disk (results {}, minute rows {}, hour rows {}, day rows {}) → {:.0} MiB scaled to {} checks",
        o.sample,
        mib(sample_bytes),
        counts.0,
        counts.1,
        counts.2,
        counts.3,
        mib(sample_bytes) * factor,
        o.checks
    );

    // Copies of the sample up to `--checks`, each with series ids and names of its own.
    let copies = o.checks / o.sample;
    let sample = o.sample as i64;
    println!(
        "copying the sample's rows to {} checks …",
        copies * o.sample
    );
    for k in 1..copies as i64 {
        store
            .write(move |tx| {
                let suffix = format!("-copy{k:03}");
                tx.execute("INSERT INTO series (id, tenant_id, check_name) SELECT id + ?1, tenant_id, check_name || ?2 FROM series WHERE id <= ?3", rusqlite::params![k * sample, suffix, sample])?;
                for table in ["rollup_minutes", "rollup_hours", "rollup_days"] {
                    tx.execute(&format!("INSERT INTO {table} (bucket, series, data) SELECT bucket, series + ?1, data FROM {table} WHERE series <= ?2"), rusqlite::params![k * sample, sample])?;
                }
                tx.execute("INSERT INTO resources (tenant_id, kind, name, spec, secrets, source, file, line, updated_at) SELECT tenant_id, kind, name || ?1, json_set(spec, '$.name', name || ?1), secrets, source, file, line, updated_at FROM resources WHERE kind = 'Check' AND name NOT LIKE '%-copy%'", [&suffix])?;
                tx.execute("INSERT INTO check_state (tenant_id, name, paused, failures, successes, last_run_at, last_up, last_latency_ms, last_error) SELECT tenant_id, name || ?1, paused, failures, successes, last_run_at, last_up, last_latency_ms, last_error FROM check_state WHERE name NOT LIKE '%-copy%'", [&suffix])?;
                tx.execute("INSERT INTO results (tenant_id, check_name, started_at, up, latency_ms, status_code, error, detail, kept) SELECT tenant_id, check_name || ?1, started_at, up, latency_ms, status_code, error, detail, kept FROM results WHERE check_name NOT LIKE '%-copy%'", [&suffix])?;
                Ok(())
            })
            .await
            .expect("copy");
    }
    checkpoint(&store).await;
    let full = db_bytes(dir.path());
    println!(
        "database with {} checks: {:.0} MiB on disk (goal: under 2048 MiB)",
        copies * o.sample,
        mib(full)
    );

    // Reports over the last 30 days, as of an hour after the simulated month.
    let now = end;
    let (from, to) = (end - 30 * D, end);
    let mut one = Vec::new();
    for i in 0..21 {
        let name = format!("check-{:05}", i % o.sample);
        let b = Instant::now();
        let r = store
            .report(tenant, Some(vec![name]), from, to, now)
            .await
            .expect("report");
        one.push(b.elapsed());
        assert_eq!(r.checks.len(), 1);
    }
    let mut all = Vec::new();
    let mut n = 0;
    for _ in 0..5 {
        let b = Instant::now();
        let r = store
            .report(tenant, None, from, to, now)
            .await
            .expect("report");
        all.push(b.elapsed());
        n = r.checks.len();
    }
    let sample_report = store
        .report(tenant, Some(vec!["check-00000".into()]), from, to, now)
        .await
        .expect("report");
    println!(
        "report of one check over 30 days: median {:.2} ms of 21 (goal: under 20 ms)",
        median(one).as_secs_f64() * 1000.0
    );
    println!(
        "report of all {n} checks over 30 days: median {:.0} ms of 5 (goal: under 2000 ms)",
        median(all).as_secs_f64() * 1000.0
    );
    println!(
        "one check's report: {}",
        serde_json::to_string(&sample_report.checks[0]).expect("json")
    );
}
