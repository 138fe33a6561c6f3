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
//! opening a fresh connection per request (`Connection: close`), for as long as the
//! round's first `uptimeping` run took: requests per CPU-second of `wrk` is what the
//! HTTP probe's checks per CPU-second compares to.
//!
//! The programs take turns, one run each per round, and each HTTP round has a server
//! on a fresh port: the thousands of connections a run leaves in TIME_WAIT make the
//! kernel's connects to the same address dearer for the next run, which measured all
//! of one program's runs before the next would charge to the later program (about
//! 0.1 CPU-second a run at 8,000 checks).

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

/// The kind-specific lines of the i-th check's YAML, given the HTTP server's address.
type CheckBody = Box<dyn Fn(std::net::SocketAddr, usize) -> String>;

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let grpc = grpc_server::start(true);
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/protos/shop.proto");

    let kinds: [(&str, CheckBody); 3] = [
        (
            "HTTP",
            Box::new(|addr, i| {
                format!(
                    "type: http\ntarget: http://{addr}/health/{i}\nexpect:\n  status: 200\n  json_path: {{\"$.status\": ok}}\n"
                )
            }),
        ),
        (
            "gRPC health",
            Box::new(move |_, _| format!("type: grpc\ntarget: {grpc}\ngrpc: {{health: true}}\n")),
        ),
        (
            "gRPC unary",
            Box::new(move |_, _| {
                format!(
                    "type: grpc\ntarget: {grpc}\ngrpc: {{proto: shop.proto, service: shop.v1.Catalog, method: GetItem, request: {{sku: abc-1}}}}\nexpect: {{response: {{display_name: Widget 1}}}}\n"
                )
            }),
        ),
    ];
    let mut summary = Vec::new();
    let mut wrk_figures = None;
    for (label, body) in &kinds {
        if let Some(only) = &o.only
            && !label.to_ascii_lowercase().starts_with(only.as_str())
        {
            continue;
        }
        let http = *label == "HTTP";
        println!();
        println!(
            "uptimeping test: {} {label} checks, concurrency {}, {} rounds{}",
            o.checks,
            o.concurrency,
            o.runs,
            if http { ", then wrk in each" } else { "" }
        );
        for (n, binary) in o.binaries.iter().enumerate() {
            println!("  #{} {binary}", n + 1);
        }
        println!(
            "{:>5} {:>7} {:>10} {:>10} {:>12} {:>14} {:>10}",
            "round", "program", "wall_s", "per_s", "cpu_s", "per_cpu_s", "up"
        );
        let mut tallies: Vec<Tally> = o.binaries.iter().map(|_| Tally::default()).collect();
        let mut wrk_tally = http.then(Tally::default);
        for round in 1..=o.runs {
            let addr = http_server(&runtime);
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::copy(proto, dir.path().join("shop.proto")).expect("copy proto");
            let yaml: String = (0..o.checks)
                .map(|i| {
                    format!(
                        "---\nkind: Check\nname: bench-{i}\ntimeout: 10s\n{}",
                        body(addr, i)
                    )
                })
                .collect();
            std::fs::write(dir.path().join("checks.yaml"), yaml).expect("write checks");
            let mut first_wall = None;
            for (n, binary) in o.binaries.iter().enumerate() {
                let wall = run_once(&o, round, n + 1, binary, dir.path(), &mut tallies[n]);
                first_wall.get_or_insert(wall);
            }
            if let (Some(tally), Some(wall)) = (wrk_tally.as_mut(), first_wall)
                && !wrk_once(&o, round, &format!("http://{addr}/health/0"), wall, tally)
            {
                wrk_tally = None;
            }
        }
        for (binary, tally) in o.binaries.iter().zip(tallies) {
            summary.push((label, binary, tally.medians()));
        }
        if let Some(tally) = wrk_tally {
            let (rate, per_cpu, _) = tally.medians();
            wrk_figures = Some((rate, per_cpu));
        }
    }
    println!();
    println!(
        "{:<12} {:>10} {:>14} {:>10}  binary",
        "kind", "checks/s", "checks/cpu_s", "rss_MiB"
    );
    for (label, binary, (rate, per_cpu, rss)) in &summary {
        println!("{label:<12} {rate:>10.0} {per_cpu:>14.0} {rss:>10.1}  {binary}");
    }
    if let Some((rate, per_cpu)) = wrk_figures {
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
        if let Some((_, wrk_per_cpu)) = wrk_figures {
            println!(
                "HTTP vs wrk, fresh connection per request: {:.2}x  {binary}",
                per_cpu / wrk_per_cpu
            );
        }
    }
    let _ = std::io::stdout().flush();
}

/// One program's runs: rate per second and per CPU-second of each, and the peak RSS.
#[derive(Default)]
struct Tally {
    rates: Vec<f64>,
    per_cpu: Vec<f64>,
    peak_rss_kib: i64,
}

impl Tally {
    /// Medians of the rates, and the peak RSS in MiB.
    fn medians(self) -> (f64, f64, f64) {
        (
            median(self.rates),
            median(self.per_cpu),
            self.peak_rss_kib as f64 / 1024.0,
        )
    }
}

/// The HTTP target on a port of its own; it serves until the process ends.
fn http_server(runtime: &tokio::runtime::Runtime) -> std::net::SocketAddr {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/health/{id}",
        axum::routing::get(|| async { r#"{"status":"ok"}"# }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `wrk` against `url`, each request on a fresh connection, for `secs` (at least one
/// second) with `o.concurrency` connections. False when `wrk` cannot run.
fn wrk_once(o: &Options, round: usize, url: &str, secs: f64, tally: &mut Tally) -> bool {
    let secs = secs.ceil().max(1.0) as u64;
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
            return false;
        }
        Err(e) => {
            eprintln!("cannot run `{}` ({e}); no wrk figures", o.wrk);
            return false;
        }
    };
    let cpu = children_cpu() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    // "  123456 requests in 5.00s, 12.34MB read"
    let requests: Option<f64> = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    let Some(requests) = requests else {
        eprintln!("no request count in wrk's output:\n{text}");
        return false;
    };
    if let Some(e) = text
        .lines()
        .find(|l| l.contains("Socket errors") || l.contains("Non-2xx"))
    {
        eprintln!("wrk round {round}: {}", e.trim());
    }
    let rate = requests / secs as f64;
    println!(
        "{round:>5} {:>7} {secs:>10} {rate:>10.0} {cpu:>12.3} {:>14.0} {requests:>10.0}",
        "wrk",
        requests / cpu
    );
    tally.rates.push(rate);
    tally.per_cpu.push(requests / cpu);
    true
}

/// Runs `uptimeping test` over `dir` once, printing the run's line and adding it to
/// `tally`; returns its wall time in seconds.
fn run_once(
    o: &Options,
    round: usize,
    program: usize,
    binary: &str,
    dir: &std::path::Path,
    tally: &mut Tally,
) -> f64 {
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
    let cpu = children_cpu() - cpu_before;
    tally.peak_rss_kib = tally.peak_rss_kib.max(sampler.join().expect("sampler"));
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("JSON results");
    let up = results.iter().filter(|r| r["up"] == true).count();
    let rate = o.checks as f64 / wall;
    println!(
        "{round:>5} {:>7} {wall:>10.3} {rate:>10.0} {cpu:>12.3} {:>14.0} {up:>10}",
        format!("#{program}"),
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
    tally.rates.push(rate);
    tally.per_cpu.push(o.checks as f64 / cpu);
    wall
}
