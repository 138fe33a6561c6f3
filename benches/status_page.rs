//! A status page of 200 checks over 90 days of rollups: how long one render
//! takes uncached, and how many requests a second the daemon serves from its
//! cache.
//!
//!     cargo bench --bench status_page -- [--checks 200] [--renders 25] [--seconds 10]
//!
//! Sets up a real data directory (the release daemon bootstraps it and takes the
//! checks and the page through its API), writes results every three hours over
//! 91 days straight through the store with their own timestamps, builds the
//! rollups, then: renders the page in this process `--renders` times (the store
//! read and the HTML apart, each median), and starts the daemon on the directory
//! and runs `wrk` against `/status/bench` for `--seconds` (installing the Debian
//! package `wrk` when it is missing and this runs as root). Prints a table.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use uptimeping::daemon::status::html;
use uptimeping::daemon::store::{ResultRow, Store};
use uptimeping::model::ProbeResult;
use uptimeping::spec::{Check, Kind, Spec, StatusPage, remote};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Results every three hours: each day of each check is known, with a few runs.
const STEP: i64 = 3 * HOUR;

struct Options {
    checks: usize,
    renders: usize,
    seconds: u64,
}

fn options() -> Options {
    let mut o = Options {
        checks: 200,
        renders: 25,
        seconds: 10,
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    for pair in args.chunks(2) {
        let v = pair
            .get(1)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("`{}` needs a number", pair[0]));
        match pair[0].as_str() {
            "--checks" => o.checks = v as usize,
            "--renders" => o.renders = v as usize,
            "--seconds" => o.seconds = v,
            other => panic!("unknown argument `{other}`; use --checks N --renders N --seconds S"),
        }
    }
    o
}

struct Daemon {
    child: Child,
    url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(dir: &std::path::Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_uptimeping"))
        .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on http://") {
                let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the daemon did not start");
    Daemon { child, url }
}

fn yaml(checks: usize) -> String {
    let mut y = String::new();
    for i in 0..checks {
        y.push_str(&format!(
            "kind: Check\nname: check-{i:03}\nlabels: {{group: g{}}}\ntype: http\ntarget: http://127.0.0.1:9/{i}\nschedule: 24h\nalert: {{failure_threshold: 1}}\n---\n",
            i % 4
        ));
    }
    y.push_str("kind: StatusPage\nname: bench\ntitle: Bench status\nslug: bench\nshow: {latency: true}\ngroups:\n");
    for g in 0..4 {
        y.push_str(&format!(
            "  - name: Group {g}\n    selector: {{group: g{g}}}\n"
        ));
    }
    y
}

fn result(name: &str, at: i64, up: bool, i: i64) -> ProbeResult {
    serde_json::from_value(json!({
        "name": name, "type": "http", "target": "http://127.0.0.1:9/", "up": up,
        "latency_ms": 20.0 + (i % 50) as f64, "status_code": if up { Some(200) } else { None },
        "error": if up { None } else { Some("connection refused") }, "error_kind": null,
        "attempts": 1, "started_at": chrono::DateTime::from_timestamp_millis(at).expect("time"),
    }))
    .expect("result")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ensure_wrk() -> bool {
    let have = || {
        Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if have() {
        return true;
    }
    eprintln!("wrk is missing: installing the Debian package `wrk` (apt-get install wrk) …");
    let _ = Command::new("apt-get")
        .args(["install", "-y", "-qq", "wrk"])
        .status();
    if !have() {
        eprintln!(
            "wrk is still missing: install it (`apt-get install wrk`) to measure cached throughput"
        );
    }
    have()
}

/// `wrk`'s requests per second and its median latency in ms.
fn run_wrk(url: &str, seconds: u64, headers: &[&str]) -> Option<(f64, String)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    let p50 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("50%"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let non2xx = text.lines().find(|l| l.contains("Non-2xx"));
    if let Some(l) = non2xx {
        eprintln!("wrk saw errors: {l}");
    }
    Some((rps, p50))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    {
        let d = start_daemon(&dir);
        let key = std::fs::read_to_string(dir.join("admin.key")).expect("admin.key");
        let src = uptimeping::spec::Source::new("bench.yaml", yaml(o.checks), ".");
        let bundle = uptimeping::spec::load(&[src], &|_| None).expect("valid resources");
        let resources: Vec<serde_json::Value> = bundle
            .resources
            .iter()
            .map(|r| serde_json::to_value(r.desired()).expect("json"))
            .collect();
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/apply", d.url))
            .bearer_auth(key.trim())
            .json(&json!({"source": "bench", "resources": resources}))
            .send()
            .await
            .expect("apply");
        assert!(
            res.status().is_success(),
            "apply: {}",
            res.text().await.unwrap_or_default()
        );
    }

    let store = Store::open(&dir.join(uptimeping::daemon::data_dir::DB_FILE)).expect("open store");
    store.set_running_since(i64::MIN);
    let tenant = store
        .tenant_id("default".into())
        .await
        .expect("tenant")
        .expect("default tenant");
    store
        .write(|tx| {
            tx.execute(
                "UPDATE check_state SET covered_from = NULL, created_at = NULL",
                [],
            )
        })
        .await
        .expect("coverage");
    let resources = store.resources(tenant, None).await.expect("resources");
    let checks: Vec<Arc<Check>> = resources
        .iter()
        .filter(|r| r.kind == Kind::Check)
        .map(|r| match remote::parse_stored(Kind::Check, &r.spec) {
            Ok(Spec::Check(c)) => Arc::new(c),
            other => panic!("not a check: {other:?}"),
        })
        .collect();
    let page: StatusPage = resources
        .iter()
        .find(|r| r.kind == Kind::StatusPage)
        .and_then(|r| match remote::parse_stored(Kind::StatusPage, &r.spec) {
            Ok(Spec::StatusPage(p)) => Some(p),
            _ => None,
        })
        .expect("the page");

    let now = chrono::Utc::now().timestamp_millis();
    let first = (now - 91 * DAY).div_euclid(STEP) * STEP + 60_000;
    let began = Instant::now();
    let mut batch = Vec::new();
    let mut written = 0usize;
    let mut at = first;
    let mut i = 0i64;
    while at < now - 60_000 {
        for (k, c) in checks.iter().enumerate() {
            // A few outages: each check is down for one run on some day.
            let up = (at / STEP + k as i64) % 97 != 0 && !(k % 50 == 0 && at > now - 4 * HOUR);
            batch.push((
                ResultRow {
                    tenant,
                    check: c.name.clone(),
                    result: result(&c.name, at, up, i),
                },
                Arc::clone(c),
            ));
            i += 1;
        }
        if batch.len() >= 2_000 {
            written += batch.len();
            store
                .record(std::mem::take(&mut batch))
                .await
                .expect("record");
        }
        at += STEP;
    }
    written += batch.len();
    store.record(batch).await.expect("record");
    store.build_rollups(now).await.expect("rollups");
    println!(
        "wrote {written} results of {} checks over 91 days and built their rollups in {:.1}s",
        checks.len(),
        began.elapsed().as_secs_f64()
    );

    let mut reads = Vec::new();
    let mut htmls = Vec::new();
    let mut totals = Vec::new();
    let mut bytes = 0;
    for _ in 0..o.renders.max(1) {
        let t0 = Instant::now();
        let data = store
            .status_page(tenant, page.clone(), chrono::Utc::now().timestamp_millis())
            .await
            .expect("read the page");
        let t1 = Instant::now();
        let body = html::render(&data, "bench", "");
        let t2 = Instant::now();
        bytes = body.len();
        reads.push(t1 - t0);
        htmls.push(t2 - t1);
        totals.push(t2 - t0);
    }
    drop(store);

    let d = start_daemon(&dir);
    let url = format!("{}/status/bench", d.url);
    let client = reqwest::Client::new();
    let first_visit = Instant::now();
    let res = client.get(&url).send().await.expect("GET the page");
    assert!(res.status().is_success());
    let served = res.bytes().await.expect("body").len();
    let first_visit = first_visit.elapsed();
    let gz = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("GET gzipped")
        .bytes()
        .await
        .expect("body")
        .len();

    let mut rows: Vec<(String, String)> = vec![
        ("checks on the page".into(), checks.len().to_string()),
        (
            "page size (HTML / gzip)".into(),
            format!(
                "{:.0} KiB / {:.0} KiB",
                served as f64 / 1024.0,
                gz as f64 / 1024.0
            ),
        ),
        (
            format!("store read, median of {}", reads.len()),
            format!("{:.1} ms", ms(median(reads))),
        ),
        (
            format!("HTML render, median of {}", htmls.len()),
            format!("{:.1} ms", ms(median(htmls))),
        ),
        (
            format!("uncached render (read + HTML), median of {}", totals.len()),
            format!("{:.1} ms (target < 50 ms)", ms(median(totals))),
        ),
        (
            "first visit over HTTP (read, HTML, gzip)".into(),
            format!("{:.1} ms", ms(first_visit)),
        ),
    ];
    let _ = bytes;
    if ensure_wrk() {
        let _ = tokio::task::spawn_blocking({
            let url = url.clone();
            move || run_wrk(&url, 1, &["Accept-Encoding: gzip"])
        })
        .await;
        for (what, headers) in [
            ("cached, gzip (wrk -t2 -c32)", vec!["Accept-Encoding: gzip"]),
            ("cached, identity (wrk -t2 -c32)", vec![]),
        ] {
            let url = url.clone();
            let seconds = o.seconds;
            let got = tokio::task::spawn_blocking(move || run_wrk(&url, seconds, &headers))
                .await
                .ok()
                .flatten();
            rows.push((
                what.into(),
                match got {
                    Some((rps, p50)) => format!("{rps:.0} req/s, p50 {p50} (target > 2000 req/s)"),
                    None => "wrk failed".into(),
                },
            ));
        }
    } else {
        rows.push((
            "cached throughput".into(),
            "not measured: wrk is missing".into(),
        ));
    }
    drop(d);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!();
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}
