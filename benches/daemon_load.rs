//! A daemon under load: N HTTP checks at one interval against a local server.
//!
//!     cargo bench --bench daemon_load -- [--checks 10000] [--interval 5] [--seconds 60] [--apply-checks 5000] [--postgres 1] [--nodes 3] [--binary PATH]
//!
//! With `--postgres 1` the daemon keeps its state in a PostgreSQL server the
//! benchmark starts for itself (as the tests do), and the server's CPU (all its
//! processes) and database growth are printed too. `--nodes N` (with
//! `--postgres 1`) starts N daemons on that database, which share the checks;
//! figures are for all of them, with each node's CPU and memory, and then one
//! node at a time is killed with SIGKILL (and started again) five times, timing
//! how long until the others hold all of its checks' leases.
//! `--binary PATH` runs that build of the daemon instead of the one built with the
//! benchmark, e.g. one from before a change, to compare in turns on one machine.
//!
//! Starts an HTTP target in this process, the release daemon on a temporary data
//! directory, times an apply of `--apply-checks` checks, then applies N checks and
//! lets it run for `--seconds` after a warm-up of one interval. Prints: achieved
//! checks per second against the rate the schedule asks for, p50/p99 of how late
//! runs started (from the daemon's `uptime_scheduler_lag_seconds` histogram, so each
//! figure is a bucket's upper bound), daemon CPU (user + system, from /proc), peak
//! resident memory (VmHWM) and resident memory just after the apply and at the end
//! (VmRSS), and SQLite growth (database + WAL) scaled to an hour.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The interval of every check unless `--interval` says otherwise: short, so that a
/// minute of measuring sees many runs of each check.
const INTERVAL_SECS: u64 = 5;

/// The daemon's binary when `--binary` names one (a build from before a change, to
/// compare), else the one built with the benchmark.
static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

struct Options {
    checks: usize,
    interval: u64,
    seconds: u64,
    apply_checks: usize,
    /// Checks per apply request when loading the N checks; 0 for all in one.
    apply_batch: usize,
    postgres: bool,
    nodes: usize,
}

fn options() -> Options {
    let mut o = Options {
        checks: 10_000,
        interval: INTERVAL_SECS,
        seconds: 60,
        apply_checks: 5_000,
        apply_batch: 0,
        postgres: false,
        nodes: 1,
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    for pair in args.chunks(2) {
        if pair[0] == "--binary" {
            let path = pair.get(1).expect("`--binary` needs a path").clone();
            BINARY.set(path).expect("one --binary");
            continue;
        }
        let v = pair
            .get(1)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("`{}` needs a number", pair[0]));
        match pair[0].as_str() {
            "--checks" => o.checks = v as usize,
            "--interval" => {
                assert!(v > 0, "--interval needs a number of seconds above 0");
                o.interval = v;
            }
            "--seconds" => o.seconds = v,
            "--apply-checks" => o.apply_checks = v as usize,
            "--apply-batch" => o.apply_batch = v as usize,
            "--postgres" => o.postgres = v != 0,
            "--nodes" => o.nodes = (v as usize).max(1),
            other => {
                panic!(
                    "unknown argument `{other}`; use --checks N --interval S --seconds S --apply-checks N --apply-batch N --postgres 0|1 --nodes N --binary PATH"
                )
            }
        }
    }
    assert!(
        o.nodes == 1 || o.postgres,
        "--nodes above 1 needs --postgres 1: daemons share checks on PostgreSQL"
    );
    o
}

fn checks(n: usize, interval: u64, addr: std::net::SocketAddr, prefix: &str) -> serde_json::Value {
    checks_in(0..n, interval, addr, prefix, prefix)
}

/// Checks `{prefix}-{i}` for each `i` of `range`, applied as `source`.
fn checks_in(
    range: std::ops::Range<usize>,
    interval: u64,
    addr: std::net::SocketAddr,
    prefix: &str,
    source: &str,
) -> serde_json::Value {
    let resources: Vec<serde_json::Value> = range
        .map(|i| {
            let yaml = format!("kind: Check\nname: {prefix}-{i}\ntype: http\ntarget: http://{addr}/health/{i}\nschedule: {interval}s\ntimeout: 4s\nexpect: {{status: 200}}\n");
            let src = uptimeping::spec::Source::new("bench.yaml", yaml, ".");
            let bundle = uptimeping::spec::load(&[src], &|_| None).expect("valid check");
            serde_json::to_value(bundle.resources[0].desired()).expect("json")
        })
        .collect();
    serde_json::json!({"source": source, "prune": true, "allow_empty": true, "resources": resources})
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

/// A `/proc/PID/status` memory field (`VmHWM:`, `VmRSS:`) in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[path = "../tests/support/postgres.rs"]
mod postgres_server;

/// CPU seconds of a PostgreSQL server: its postmaster and every process it started.
fn server_cpu_seconds(data: &std::path::Path) -> f64 {
    let Some(master) = std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
    else {
        return 0.0;
    };
    let mut total = cpu_seconds(master);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(master) {
            total += cpu_seconds(pid);
        }
    }
    total
}

fn db_bytes(dir: &std::path::Path) -> u64 {
    ["uptimeping.db", "uptimeping.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// (runs counted, lag histogram buckets as (upper bound, cumulative count)).
fn scrape(client: &reqwest::blocking::Client, url: &str) -> (f64, Vec<(f64, f64)>) {
    let text = client
        .get(format!("{url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    let mut runs = 0.0;
    let mut buckets = Vec::new();
    for line in text.lines() {
        if line.starts_with("uptime_checks_total{") {
            runs += line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        } else if let Some(rest) = line.strip_prefix("uptime_scheduler_lag_seconds_bucket{le=\"") {
            let (le, count) = rest.split_once("\"} ").unwrap_or(("", ""));
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(0.0)
            };
            buckets.push((le, count.parse().unwrap_or(0.0)));
        }
    }
    (runs, buckets)
}

fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> f64 {
    let counts: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, c)| {
            (
                *le,
                c - before
                    .iter()
                    .find(|(l, _)| l == le)
                    .map_or(0.0, |(_, b)| *b),
            )
        })
        .collect();
    let total = counts.last().map_or(0.0, |(_, c)| *c);
    counts
        .iter()
        .find(|(_, c)| *c >= total * q)
        .map_or(f64::NAN, |(le, _)| *le)
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route("/health/{id}", axum::routing::get(|| async { "ok" }));
    runtime.spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().expect("tempdir");
    let server = o.postgres.then(postgres_server::Server::start);
    let store = server.as_ref().map(|s| (s.create_database(), s.data_dir()));
    let store_url = store.as_ref().map(|(url, _)| url.clone());
    let first = Node::start(dir.path(), store_url.as_deref(), "n0");
    let key = std::fs::read_to_string(dir.path().join("admin.key"))
        .expect("key")
        .trim()
        .to_string();
    let mut nodes = vec![first];
    let node_dirs: Vec<tempfile::TempDir> = (1..o.nodes)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    for (i, d) in node_dirs.iter().enumerate() {
        nodes.push(Node::start(
            d.path(),
            store_url.as_deref(),
            &format!("n{}", i + 1),
        ));
    }
    let (pid, url) = (nodes[0].pid, nodes[0].url.clone());
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client");
    let apply = |body: &serde_json::Value| {
        let started = Instant::now();
        let res = client
            .post(format!("{url}/api/v1/apply"))
            .bearer_auth(&key)
            .json(body)
            .send()
            .expect("apply");
        assert!(
            res.status().is_success(),
            "apply failed: {}",
            res.text().unwrap_or_default()
        );
        started.elapsed().as_secs_f64()
    };

    let apply_secs = apply(&checks(o.apply_checks, o.interval, addr, "apply"));
    let remove_secs = apply(
        &serde_json::json!({"source": "apply", "prune": true, "allow_empty": true, "resources": []}),
    );
    println!(
        "apply of {} checks: {apply_secs:.2} s (and {remove_secs:.2} s to prune them again)",
        o.apply_checks
    );

    // One request holds at most `--apply-batch` checks: a daemon's request body is
    // bounded, and a very large set of checks is applied from several sources.
    let batch = if o.apply_batch == 0 {
        o.checks.max(1)
    } else {
        o.apply_batch
    };
    let mut load_secs = 0.0;
    for (k, start) in (0..o.checks).step_by(batch).enumerate() {
        let range = start..(start + batch).min(o.checks);
        load_secs += apply(&checks_in(
            range,
            o.interval,
            addr,
            "load",
            &format!("load-{k}"),
        ));
    }
    let (peak_applied, rss_applied) = (status_mib(pid, "VmHWM:"), status_mib(pid, "VmRSS:"));
    let interval = o.interval;
    let wanted = o.checks as f64 / interval as f64;
    println!(
        "{} checks every {interval}s (applied in {load_secs:.1} s; peak RSS {peak_applied:.1} MiB, RSS {rss_applied:.1} MiB just after): the schedule asks for {wanted:.0} checks/s; warming up for one interval",
        o.checks
    );
    std::thread::sleep(Duration::from_secs(interval + 1));

    let scrape_all = || {
        let mut runs = 0.0;
        let mut lag: Vec<(f64, f64)> = Vec::new();
        for n in &nodes {
            let (r, l) = scrape(&client, &n.url);
            runs += r;
            for (le, c) in l {
                match lag.iter_mut().find(|(x, _)| *x == le) {
                    Some((_, total)) => *total += c,
                    None => lag.push((le, c)),
                }
            }
        }
        (runs, lag)
    };
    let cpu_all = || nodes.iter().map(|n| cpu_seconds(n.pid)).collect::<Vec<_>>();
    let (runs0, lag0) = scrape_all();
    let db_size = || match (&server, &store) {
        (Some(s), Some((url, _))) => s
            .psql(
                url.rsplit('/').next().unwrap_or(""),
                "SELECT pg_database_size(current_database())",
            )
            .parse::<u64>()
            .unwrap_or(0),
        _ => db_bytes(dir.path()),
    };
    let server_cpu = || {
        store
            .as_ref()
            .map_or(0.0, |(_, data)| server_cpu_seconds(data))
    };
    let (cpus0, db0, pg0, t0) = (cpu_all(), db_size(), server_cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(o.seconds));
    let (runs1, lag1) = scrape_all();
    let (cpus1, db1, pg1, elapsed) = (
        cpu_all(),
        db_size(),
        server_cpu(),
        t0.elapsed().as_secs_f64(),
    );
    let (cpu0, cpu1): (f64, f64) = (cpus0.iter().sum(), cpus1.iter().sum());

    let rate = (runs1 - runs0) / elapsed;
    println!("measured over {elapsed:.0} s");
    println!(
        "achieved:        {rate:.0} checks/s ({:.1}% of the schedule)",
        rate * 100.0 / wanted
    );
    println!(
        "start lateness:  p50 <= {:.4} s, p99 <= {:.4} s",
        quantile(&lag0, &lag1, 0.5),
        quantile(&lag0, &lag1, 0.99)
    );
    println!(
        "daemon CPU:      {:.2} cores ({:.0} checks per CPU-second)",
        (cpu1 - cpu0) / elapsed,
        (runs1 - runs0) / (cpu1 - cpu0)
    );
    println!(
        "peak RSS:        {:.1} MiB (RSS at the end {:.1} MiB)",
        status_mib(pid, "VmHWM:"),
        status_mib(pid, "VmRSS:")
    );
    if nodes.len() > 1 {
        for (i, n) in nodes.iter().enumerate() {
            println!(
                "node {}:          {:.2} cores, peak RSS {:.1} MiB, RSS {:.1} MiB, {} checks held",
                n.name,
                (cpus1[i] - cpus0[i]) / elapsed,
                status_mib(n.pid, "VmHWM:"),
                status_mib(n.pid, "VmRSS:"),
                gauge(&client, &n.url, "uptime_node_checks_owned"),
            );
        }
    }
    if store.is_some() {
        println!(
            "PostgreSQL CPU:  {:.2} cores (daemon and server together: {:.0} checks per CPU-second)",
            (pg1 - pg0) / elapsed,
            (runs1 - runs0) / ((cpu1 - cpu0) + (pg1 - pg0))
        );
    }
    println!(
        "{} growth: {:.0} MiB/hour",
        if store.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        (db1.saturating_sub(db0)) as f64 / elapsed * 3600.0 / (1024.0 * 1024.0)
    );

    if nodes.len() > 1 {
        // Kill the last node outright, time until the others hold every check,
        // then start it again and let the checks spread back; five times.
        let mut times = Vec::new();
        let last = nodes.len() - 1;
        let last_dir = node_dirs
            .last()
            .expect("a node's directory")
            .path()
            .to_path_buf();
        for _ in 0..5 {
            let killed = nodes.pop().expect("a node");
            let name = killed.name.clone();
            let t = Instant::now();
            killed.kill9();
            loop {
                let held: f64 = nodes
                    .iter()
                    .map(|n| gauge(&client, &n.url, "uptime_node_checks_owned"))
                    .sum();
                if held >= o.checks as f64 {
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(120),
                    "the checks of a killed node did not move"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            times.push(t.elapsed().as_secs_f64());
            nodes.push(Node::start(&last_dir, store_url.as_deref(), &name));
            let back = Instant::now();
            while gauge(&client, &nodes[last].url, "uptime_node_checks_owned") < 1.0 {
                assert!(
                    back.elapsed() < Duration::from_secs(60),
                    "a node that came back took no checks"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_secs(interval));
        }
        times.sort_by(f64::total_cmp);
        println!(
            "failover:        leases of a node killed with SIGKILL held by the others after {:.1} s (median of 5: {})",
            times[2],
            times
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for n in nodes {
        n.stop();
    }
}

/// One daemon of the benchmark.
struct Node {
    child: std::process::Child,
    pid: u32,
    url: String,
    name: String,
}

impl Node {
    fn start(dir: &std::path::Path, store: Option<&str>, name: &str) -> Node {
        let binary = BINARY
            .get()
            .map_or(env!("CARGO_BIN_EXE_uptimeping"), String::as_str);
        let mut daemon = Command::new(binary);
        daemon
            .args([
                "daemon",
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "info",
                "--data-dir",
            ])
            .arg(dir);
        if let Some(url) = store {
            // Nodes of one database sign tokens with one key.
            daemon.arg("--store").arg(url).args(["--node", name]).env(
                "UPTIMEPING_JWT_SECRET",
                "daemon-load-benchmark-shared-signing-key",
            );
        }
        let mut child = daemon.stderr(Stdio::piped()).spawn().expect("start daemon");
        let pid = child.id();
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let url = loop {
            let line = lines.next().expect("daemon log").expect("log line");
            if let Some(i) = line.find("listening on http://") {
                break line[i + 13..].trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Node {
            child,
            pid,
            url,
            name: name.to_string(),
        }
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// A gauge without labels from `/metrics` (0 when absent).
fn gauge(client: &reqwest::blocking::Client, url: &str, name: &str) -> f64 {
    let text = client
        .get(format!("{url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
