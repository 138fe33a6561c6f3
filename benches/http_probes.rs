//! Throughput of `uptimeping test` over many HTTP and gRPC checks against local servers.
//!
//!     cargo bench --bench http_probes -- [--checks N] [--runs R] [--concurrency C]
//!         [--only http] [--binary PATH]... [--wrk PATH]
//!
//! Starts an HTTP server and the tests' tonic server (health + a catalog service
//! from `tests/protos/shop.proto`) in this process (their CPU is not counted), and
//! for each kind — HTTP, gRPC health, gRPC unary `GetItem` from the .proto — writes
//! N checks to a temporary directory and runs the real release binary R times. Every check
//! opens its own connection, as in production. Prints one line per run and the
//! medians: checks per second (wall), CPU seconds of the uptimeping process (user +
//! system), checks per CPU-second, and peak resident memory.
//!
//! `--binary` (repeatable) measures other builds of `uptimeping` in the same run,
//! e.g. one from before a change, each against the same servers. With `wrk` on the
//! `PATH` (or given by `--wrk`), the HTTP target is also measured with `wrk`
//! opening a fresh connection per request (`Connection: close`), R times for as
//! long as one `uptimeping` run took: requests per CPU-second of `wrk` is what the
//! HTTP probe's checks per CPU-second compares to.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::resource::{UsageWho, getrusage};

/// Prometheus' blackbox_exporter on this kind of 2-core machine against a local nginx:
/// about 2,300 probes/s using about 1.7 cores.
const BLACKBOX_PROBES_PER_CPU_SECOND: f64 = 1_400.0;

struct Options {
    checks: usize,
    runs: usize,
    concurrency: usize,
    /// Only the kinds whose label starts with this, case-insensitively (`http`, `grpc`).
    only: Option<String>,
    /// The `uptimeping` binaries to measure; this build's when none is given.
    binaries: Vec<String>,
    /// `wrk`, to measure the HTTP target with; skipped when it is not there.
    wrk: String,
}

fn options() -> Options {
    let mut o = Options {
        checks: 2_000,
        runs: 5,
        concurrency: 256,
        only: None,
        binaries: Vec::new(),
        wrk: "wrk".into(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let text = args.get(i + 1).cloned();
        let value = text.as_deref().and_then(|v| v.parse().ok());
        match (args[i].as_str(), value, text) {
            ("--checks", Some(v), _) => o.checks = v,
            ("--runs", Some(v), _) => o.runs = v,
            ("--concurrency", Some(v), _) => o.concurrency = v,
            ("--only", _, Some(t)) => o.only = Some(t.to_ascii_lowercase()),
            ("--binary", _, Some(t)) => o.binaries.push(t),
            ("--wrk", _, Some(t)) => o.wrk = t,
            ("--bench", _, _) => {
                i += 1;
                continue;
            }
            (other, _, _) => {
                eprintln!(
                    "unknown or incomplete argument `{other}`; use --checks N --runs R --concurrency C --only KIND --binary PATH --wrk PATH"
                );
                std::process::exit(1);
            }
        }
        i += 2;
    }
    if o.binaries.is_empty() {
        o.binaries.push(env!("CARGO_BIN_EXE_uptimeping").into());
    }
    o
}

fn children_cpu() -> f64 {
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(u.user_time()) + secs(u.system_time())
}

/// The peak resident memory of a running process in KiB (`VmHWM`); `None` once it
/// has exited (a zombie has no memory fields).
fn hwm_kib(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(dead_code, clippy::unwrap_used)]
#[path = "../tests/it/grpc_server.rs"]
mod grpc_server;
#[allow(clippy::unwrap_used)]
#[path = "../tests/it/servers.rs"]
mod servers;
/// The test servers, shared with the integration tests.
#[allow(clippy::unwrap_used)]
#[path = "../tests/it/support.rs"]
mod support;

/// The kind-specific lines of the i-th check's YAML.
type CheckBody = Box<dyn Fn(usize) -> String>;

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/health/{id}",
        axum::routing::get(|| async { r#"{"status":"ok"}"# }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    let grpc = grpc_server::start(true);
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/protos/shop.proto");

    let kinds: [(&str, CheckBody); 3] = [
        (
            "HTTP",
            Box::new(move |i| {
                format!(
                    "type: http\ntarget: http://{addr}/health/{i}\nexpect:\n  status: 200\n  json_path: {{\"$.status\": ok}}\n"
                )
            }),
        ),
        (
            "gRPC health",
            Box::new(move |_| format!("type: grpc\ntarget: {grpc}\ngrpc: {{health: true}}\n")),
        ),
        (
            "gRPC unary",
            Box::new(move |_| {
                format!(
                    "type: grpc\ntarget: {grpc}\ngrpc: {{proto: shop.proto, service: shop.v1.Catalog, method: GetItem, request: {{sku: abc-1}}}}\nexpect: {{response: {{display_name: Widget 1}}}}\n"
                )
            }),
        ),
    ];
    let mut summary = Vec::new();
    let mut http_wall = None;
    for (label, body) in &kinds {
        if let Some(only) = &o.only
            && !label.to_ascii_lowercase().starts_with(only.as_str())
        {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(proto, dir.path().join("shop.proto")).expect("copy proto");
        let yaml: String = (0..o.checks)
            .map(|i| {
                format!(
                    "---\nkind: Check\nname: bench-{i}\ntimeout: 10s\n{}",
                    body(i)
                )
            })
            .collect();
        std::fs::write(dir.path().join("checks.yaml"), yaml).expect("write checks");
        for binary in &o.binaries {
            let m = measure(&o, label, binary, dir.path());
            if *label == "HTTP" {
                http_wall.get_or_insert(o.checks as f64 / m.0);
            }
            summary.push((label, binary, m));
        }
    }
    let wrk = http_wall.and_then(|wall| wrk(&o, &format!("http://{addr}/health/0"), wall));
    println!();
    println!(
        "{:<12} {:>10} {:>14} {:>10}  binary",
        "kind", "checks/s", "checks/cpu_s", "rss_MiB"
    );
    for (label, binary, (rate, per_cpu, rss)) in &summary {
        println!("{label:<12} {rate:>10.0} {per_cpu:>14.0} {rss:>10.1}  {binary}");
    }
    if let Some((rate, per_cpu)) = wrk {
        println!(
            "{:<12} {rate:>10.0} {per_cpu:>14.0} {:>10}  {}",
            "wrk", "-", o.wrk
        );
    }
    for (label, binary, (_, per_cpu, _)) in &summary {
        if **label != "HTTP" {
            continue;
        }
        println!(
            "HTTP vs blackbox_exporter (~{BLACKBOX_PROBES_PER_CPU_SECOND:.0} probes per CPU-s): {:.1}x  {binary}",
            per_cpu / BLACKBOX_PROBES_PER_CPU_SECOND
        );
        if let Some((_, wrk_per_cpu)) = wrk {
            println!(
                "HTTP vs wrk, fresh connection per request: {:.2}x  {binary}",
                per_cpu / wrk_per_cpu
            );
        }
    }
    let _ = std::io::stdout().flush();
}

/// `wrk` against `url`, each request on a fresh connection, `o.runs` times for
/// `secs` each (at least one second) with `o.concurrency` connections: the medians
/// of requests per second and per CPU-second of `wrk`. `None` when `wrk` cannot run.
fn wrk(o: &Options, url: &str, secs: f64) -> Option<(f64, f64)> {
    let secs = secs.ceil().max(1.0) as u64;
    println!();
    println!(
        "wrk: {url}, Connection: close, {} connections, {secs}s, {} runs",
        o.concurrency, o.runs
    );
    println!(
        "{:>4} {:>10} {:>10} {:>12} {:>14}",
        "run", "requests", "req/s", "cpu_s", "req/cpu_s"
    );
    let (mut rates, mut per_cpu) = (Vec::new(), Vec::new());
    for run in 1..=o.runs {
        let cpu_before = children_cpu();
        let out = Command::new(&o.wrk)
            .args(["-t", "2", "-c", &o.concurrency.to_string()])
            .args(["-d", &format!("{secs}s"), "-H", "Connection: close", url])
            .stderr(Stdio::inherit())
            .output();
        let out = match out {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                eprintln!("`{}` failed ({}); no wrk figures", o.wrk, out.status);
                return None;
            }
            Err(e) => {
                eprintln!("cannot run `{}` ({e}); no wrk figures", o.wrk);
                return None;
            }
        };
        let cpu_after = children_cpu();
        let text = String::from_utf8_lossy(&out.stdout);
        // "  123456 requests in 5.00s, 12.34MB read"
        let requests: Option<f64> = text
            .lines()
            .find(|l| l.contains(" requests in "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        let Some(requests) = requests else {
            eprintln!("no request count in wrk's output:\n{text}");
            return None;
        };
        let errors = text
            .lines()
            .find(|l| l.contains("Socket errors") || l.contains("Non-2xx"));
        if let Some(e) = errors {
            eprintln!("wrk run {run}: {}", e.trim());
        }
        let cpu = cpu_after - cpu_before;
        let rate = requests / secs as f64;
        println!(
            "{run:>4} {requests:>10.0} {rate:>10.0} {cpu:>12.3} {:>14.0}",
            requests / cpu
        );
        rates.push(rate);
        per_cpu.push(requests / cpu);
    }
    Some((median(rates), median(per_cpu)))
}

/// Runs `uptimeping test` over `dir` `o.runs` times; returns the medians of checks
/// per second and per CPU-second, and the peak RSS in MiB.
fn measure(o: &Options, label: &str, binary: &str, dir: &std::path::Path) -> (f64, f64, f64) {
    println!();
    println!(
        "uptimeping test: {} {label} checks, concurrency {}, {} runs, {binary}",
        o.checks, o.concurrency, o.runs
    );
    println!(
        "{:>4} {:>10} {:>10} {:>12} {:>14} {:>10}",
        "run", "wall_s", "checks/s", "cpu_s", "checks/cpu_s", "up"
    );
    let (mut rates, mut per_cpu) = (Vec::new(), Vec::new());
    let mut peak_rss_kib = 0;
    for run in 1..=o.runs {
        let cpu_before = children_cpu();
        let started = Instant::now();
        let child = Command::new(binary)
            .args(["test", "-f"])
            .arg(dir)
            .args(["-o", "json", "--concurrency", &o.concurrency.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run uptimeping");
        // The children's rusage keeps the largest of every child so far, whichever
        // binary it was: this run's peak is read from its own /proc entry instead.
        let pid = child.id();
        let sampler = std::thread::spawn(move || {
            let mut peak = 0;
            while let Some(hwm) = hwm_kib(pid) {
                peak = peak.max(hwm);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak
        });
        let out = child.wait_with_output().expect("run uptimeping");
        let wall = started.elapsed().as_secs_f64();
        let cpu_after = children_cpu();
        peak_rss_kib = peak_rss_kib.max(sampler.join().expect("sampler"));
        let results: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("JSON results");
        let up = results.iter().filter(|r| r["up"] == true).count();
        let cpu = cpu_after - cpu_before;
        let rate = o.checks as f64 / wall;
        println!(
            "{run:>4} {wall:>10.3} {rate:>10.0} {cpu:>12.3} {:>14.0} {up:>10}",
            o.checks as f64 / cpu
        );
        if up != o.checks {
            let first_down = results
                .iter()
                .find(|r| r["up"] != true)
                .map(|r| r["error"].to_string())
                .unwrap_or_default();
            eprintln!(
                "only {up} of {} checks were up ({first_down}); the figures of this run are not comparable",
                o.checks
            );
        }
        rates.push(rate);
        per_cpu.push(o.checks as f64 / cpu);
    }
    (median(rates), median(per_cpu), peak_rss_kib as f64 / 1024.0)
}
