//! Setting the page up and looking at it once: the daemon, its targets and
//! resources, and one run of `tests/browser/status_page.js`, whose answer every
//! test of `status_browser` reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Target, wait_for};

/// Debian's Chromium, the browser `scripts/test` installs.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// What `scripts/test` installs, for the messages when something is missing.
pub(crate) const INSTALLS: &str = "run scripts/test, which installs Debian's chromium and the npm packages playwright-core and axe-core (and exports NODE_PATH)";

/// The page's slug, and the private page's slug and token.
pub(super) const SLUG: &str = "example";
pub(super) const PRIVATE_SLUG: &str = "internal";
pub(super) const TOKEN: &str = "s3cret-status-token";

/// The day bars a page shows by default (`show.uptime_days`).
pub(super) const DAYS: usize = 90;

/// Runs of each check made by hand: the down check's three reach the default
/// failure threshold, which opens its incident.
const RUNS: usize = 3;

/// The resources applied: checks of two teams, one not on the page, one run
/// from two locations, a window
/// covering `checkout` now and one covering `payments-api` tomorrow, the page
/// (two groups: by names, by labels) and a private page.
fn resources(up: &Target, down: &Target, now: DateTime<Utc>) -> String {
    let at = |d: chrono::Duration| (now + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let check = |name: &str, target: &Target, team: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: http\ntarget: {}\nschedule: 1h\nlabels: {{team: {team}}}\n---\n",
            target.url()
        )
    };
    let mut yaml = String::new();
    yaml += &check("homepage", up, "web");
    yaml += &check("api-health", down, "web");
    yaml += &check("checkout", up, "payments");
    yaml += &check("payments-api", up, "payments");
    yaml += &check("internal-db", down, "internal");
    // Run from this daemon's location and from one with no node.
    yaml += &format!(
        "kind: Check\nname: search\ntype: http\ntarget: {}\nschedule: 1h\nlocations: [default, backup]\n---\n",
        up.url()
    );
    yaml += &format!(
        "kind: Maintenance\nname: db-upgrade\ndescription: Database upgrade in progress\nchecks: [checkout]\nstart: {}\nend: {}\n---\n",
        at(-chrono::Duration::minutes(10)),
        at(chrono::Duration::hours(2))
    );
    yaml += &format!(
        "kind: Maintenance\nname: payments-move\ndescription: Moving the payments service\nchecks: [payments-api]\nstart: {}\nend: {}\n---\n",
        at(chrono::Duration::days(1)),
        at(chrono::Duration::days(1) + chrono::Duration::hours(1))
    );
    yaml += &format!(
        "kind: StatusPage\nname: public\ntitle: Example Inc. status\ndescription: Live status of our public services\nslug: {SLUG}\n\
         groups:\n  - name: Web\n    checks: [homepage, api-health, search]\n  - name: Payments\n    selector: {{team: payments}}\n\
         show: {{latency: true}}\nannouncement: \"Scheduled database upgrade on **Sunday** 02:00 UTC\"\n---\n"
    );
    yaml += &format!(
        "kind: StatusPage\nname: internal\ntitle: Internal status\nslug: {PRIVATE_SLUG}\n\
         groups:\n  - name: Databases\n    checks: [internal-db]\naccess: {{token: \"${{STATUS_TOKEN}}\"}}\n"
    );
    yaml
}

/// The resources as the CLI sends them, with `STATUS_TOKEN` set.
fn apply_request(yaml: &str) -> Value {
    let source = uptimeping::spec::Source::new("status.yaml", yaml, ".");
    let lookup = |name: &str| (name == "STATUS_TOKEN").then(|| TOKEN.to_string());
    let bundle = uptimeping::spec::load(&[source], &lookup)
        .unwrap_or_else(|d| panic!("the test's resources are invalid:\n{d}"));
    let resources: Vec<Value> = bundle
        .resources
        .iter()
        .map(|r| serde_json::to_value(r.desired()).expect("json"))
        .collect();
    json!({"source": "repo", "resources": resources})
}

/// Where the screenshots go: `test-output/status_browser/` in the target directory.
fn output_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_uptimeping"));
    let target = bin
        .parent()
        .and_then(Path::parent)
        .expect("the binary lies in target/<profile>/");
    target.join("test-output").join("status_browser")
}

/// Runs the browser driver `script` of `tests/browser/` with `request` on its
/// standard input, in a fresh temporary directory for the browser's profile, and
/// gives its JSON answer, also written to `out/answer.json`. A driver that fails
/// fails the test with its output and the daemon's log (`logs`).
pub(crate) fn run_driver(
    script: &str,
    request: &Value,
    out: &Path,
    logs: &dyn Fn() -> String,
) -> Value {
    let profiles = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("node")
        .arg(root.join("tests/browser").join(script))
        // playwright-core puts the browser's fresh profile under the temporary directory.
        .env("TMPDIR", profiles.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run node ({e}): {INSTALLS}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("write to node");
    }
    let started = std::time::Instant::now();
    let done = child.wait_with_output().expect("wait for node");
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(
        done.status.success(),
        "the browser driver {script} failed: {stderr}\ndaemon log:\n{}",
        logs()
    );
    let answer: Value = serde_json::from_slice(&done.stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}); stderr: {stderr}"));
    eprintln!(
        "{script}: Chromium {} took {:.1} s; screenshots in {}",
        answer["browser"].as_str().unwrap_or("?"),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    std::fs::write(out.join("answer.json"), answer.to_string()).expect("write answer.json");
    answer
}

/// Fails (never skips) when the browser or the npm packages are missing.
pub(crate) fn require_tools() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: {INSTALLS}"
    );
    let node_path = std::env::var_os("NODE_PATH").unwrap_or_default();
    for package in ["playwright-core/package.json", "axe-core/axe.min.js"] {
        assert!(
            std::env::split_paths(&node_path).any(|p| p.join(package).is_file()),
            "{} is not on NODE_PATH: {INSTALLS}",
            package.split('/').next().unwrap_or(package)
        );
    }
}

/// Sets the daemon up, waits for its results, and runs the driver once.
fn visit() -> Value {
    require_tools();
    let d = Daemon::start(&[]);
    let (up, down) = (Target::start(), Target::start());
    down.set_healthy(false);
    let now = Utc::now();
    d.post("/api/v1/apply", &apply_request(&resources(&up, &down, now)));
    let checks = [
        "homepage",
        "api-health",
        "checkout",
        "payments-api",
        "internal-db",
        "search",
    ];
    for _ in 0..RUNS {
        for name in checks {
            d.post(&format!("/api/v1/checks/{name}/run"), &json!({}));
        }
    }
    // The page reads rollups: wait until the report (which reads them too) has
    // every run, and the down check's incident is open.
    wait_for("every run in the rollups", || {
        let report = d.get("/api/v1/report?window=1h");
        let runs = |name: &str| {
            report["checks"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["check"] == name))
                .and_then(|c| c["runs"].as_u64())
                .unwrap_or(0)
        };
        checks
            .iter()
            .all(|name| runs(name) >= RUNS as u64)
            .then_some(())
    });
    let incident = wait_for("the open incident of api-health", || {
        d.get("/api/v1/incidents")
            .as_array()
            .and_then(|is| {
                is.iter()
                    .find(|i| i["check"] == "api-health" && i["status"] == "open")
            })
            .cloned()
    });

    let out = output_dir();
    std::fs::create_dir_all(&out).expect("create the output directory");
    let request = json!({
        "chromium": CHROMIUM,
        "origin": d.url,
        "page": format!("/status/{SLUG}"),
        "private": format!("/status/{PRIVATE_SLUG}"),
        "token": TOKEN,
        "out": out,
    });
    let mut answer = run_driver("status_page.js", &request, &out, &|| d.logs());
    answer["test"] = json!({
        "incident": incident["id"],
        "targets": [up.addr.to_string(), down.addr.to_string()],
        "origin": d.url,
        "now": now.to_rfc3339(),
    });
    answer
}

/// The driver's answer, made once for every test here. A failure to make it is
/// kept and reported by each test rather than run again.
pub(super) fn answer() -> &'static Value {
    static ANSWER: OnceLock<Result<Value, String>> = OnceLock::new();
    let got = ANSWER.get_or_init(|| {
        std::panic::catch_unwind(visit).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "setting the page up failed".into())
        })
    });
    match got {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// The answer, after checking that the page was served at all (so that a
/// missing page fails every test with that, not with a missing element).
pub(super) fn served() -> &'static Value {
    let a = answer();
    for part in ["light", "nojs", "phone"] {
        assert_eq!(
            a[part]["status"], 200,
            "GET /status/{SLUG} ({part}) answered {}: {}",
            a[part]["status"], a[part]["visible_text"]
        );
    }
    a
}
