//! `/metrics` of a real daemon probing real servers: the per-check series, tenant
//! names, deletes, the content type, and what Prometheus' own `promtool` says about
//! the body and about the shipped alert rules and dashboard.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Receiver, plan_request, wait_for};
use crate::servers;

const DAY: Duration = Duration::from_secs(86_400);
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `promtool` from Prometheus; a test that needs it fails when it is missing.
fn promtool() -> Command {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "promtool is not installed: run the tests with `scripts/test`, which installs it (Debian package `prometheus`), or install it yourself"
    );
    Command::new("promtool")
}

/// Runs `promtool check metrics` over `body`: its exit code and everything it printed.
pub(crate) fn check_metrics(body: &str) -> (i32, String) {
    let mut child = promtool()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), printed)
}

/// `/metrics` with `accept` (none if `None`): content type and body.
fn scrape(d: &Daemon, accept: Option<&str>) -> (String, String) {
    let mut req = Daemon::client().get(format!("{}/metrics", d.url));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().expect("GET /metrics");
    assert_eq!(res.status().as_u16(), 200);
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (ct, res.text().expect("body"))
}

/// Scrapes `d` until `series` appears (`what` names the wait); returns that body.
fn scrape_until(d: &Daemon, what: &str, series: &str) -> String {
    wait_for(what, || {
        let (_, body) = scrape(d, None);
        sample(&body, series).map(|_| body)
    })
}

/// The value of the sample whose line starts with `series` (name and labels as
/// written), if there is one.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Names of every sample in an exposition.
fn sample_names(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(String::from)
        .collect()
}

/// `uptime_*` names in a file's expressions, found roughly.
fn names_used(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"uptime_[a-z_]+").expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

fn examples(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A daemon with an HTTPS check that is up (its certificate known), a TCP check
/// on a closed port that is down and alerts through a webhook, and a check of a
/// tenant created after the start.
struct World {
    d: Daemon,
    hook: Receiver,
    tenant_key: String,
    not_after: chrono::DateTime<chrono::Utc>,
    _https: servers::Server,
}

fn world() -> World {
    let d = Daemon::start(&[]);
    let pki = servers::pki(10 * DAY);
    let https = servers::https(&pki);
    let hook = Receiver::start();
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nhttp:\n  tls:\n    insecure: true\n\
         ---\nkind: Check\nname: db\ntype: tcp\ntarget: 127.0.0.1:{}\nschedule: 1h\nalert: {{channels: [ops-hook], failure_threshold: 1}}\n\
         ---\nkind: Channel\nname: ops-hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n\
         ---\nkind: Check\nname: search\ntype: tcp\ntarget: {}\nschedule: 1h\nlocations: [default, backup]\n",
        https.https_url("127.0.0.1", "/ok"),
        servers::closed_port(),
        hook.url(),
        https.addr,
    );
    d.apply("repo", &yaml);

    let created = d.post("/api/v1/tenants", &json!({"name": "acme"}));
    let tenant_key = created["api_key"].as_str().expect("api_key").to_string();
    let yaml = format!(
        "kind: Check\nname: storefront\ntype: tcp\ntarget: {}\nschedule: 1h\n",
        https.addr
    );
    let (status, body) = d.call_as(
        &tenant_key,
        "POST",
        "/api/v1/apply",
        Some(&plan_request("repo", &yaml, json!({}))),
    );
    assert_eq!(status, 200, "{body}");
    World {
        d,
        hook,
        tenant_key,
        not_after: pki.not_after.into(),
        _https: https,
    }
}

fn run(d: &Daemon, key: &str, check: &str) -> Value {
    let (status, body) = d.call_as(key, "POST", &format!("/api/v1/checks/{check}/run"), None);
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn per_check_series_follow_runs_tenants_and_deletes_and_promtool_accepts_them() {
    let w = world();
    let d = &w.d;
    // The first delivery fails, so that the notifier's errors and the outbox's
    // deferred rows show; the retry a second later goes through.
    w.hook.failing.store(true, Ordering::SeqCst);
    run(d, &d.key, "shop");
    run(d, &d.key, "db");
    run(d, &w.tenant_key, "storefront");
    run(d, &d.key, "search");

    let (_, body) = scrape(d, None);
    let shop = r#"{tenant="default",check="shop",type="http"}"#;
    let db = r#"{tenant="default",check="db",type="tcp"}"#;
    let storefront = r#"{tenant="acme",check="storefront",type="tcp"}"#;
    assert_eq!(
        sample(&body, &format!("uptime_check_up{shop}")),
        Some(1.0),
        "{body}"
    );
    assert_eq!(sample(&body, &format!("uptime_check_up{db}")), Some(0.0));
    assert_eq!(
        sample(&body, &format!("uptime_check_up{storefront}")),
        Some(1.0)
    );
    for series in [shop, db, storefront] {
        let latency = sample(&body, &format!("uptime_check_latency_seconds{series}"));
        assert!(
            latency.is_some_and(|s| s > 0.0 && s < 60.0),
            "{series}: {latency:?}"
        );
    }
    let expiry = sample(
        &body,
        &format!("uptime_check_cert_expiry_timestamp_seconds{shop}"),
    )
    .expect("the HTTPS check's certificate expiry");
    assert!(
        (expiry - w.not_after.timestamp() as f64).abs() <= 2.0,
        "{expiry}"
    );
    assert_eq!(
        sample(
            &body,
            &format!("uptime_check_cert_expiry_timestamp_seconds{db}")
        ),
        None
    );

    // The tenant created after the start is named in the counters kept in memory too.
    assert_eq!(
        sample(
            &body,
            r#"uptime_checks_total{tenant="acme",type="tcp",status="up"}"#
        ),
        Some(1.0),
        "{body}"
    );
    assert!(!body.contains(r#"tenant="2""#), "{body}");
    // acme has its admin key and no user accounts yet.
    assert_eq!(
        sample(&body, r#"uptime_api_keys_active{tenant="acme"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, r#"uptime_users_active_total{tenant="acme"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&body, r#"uptime_incidents_open{tenant="default"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, r#"uptime_incidents_open{tenant="acme"}"#),
        Some(0.0)
    );
    assert!(
        body.lines().any(|l| l
            .starts_with(r#"uptime_incidents_total{tenant="default",severity=""#)
            && l.ends_with(r#",status="opened"} 1"#)),
        "{body}"
    );

    let failed = scrape_until(
        d,
        "the failed delivery to be counted",
        r#"uptime_service_errors_total{service="notifier",type="delivery"}"#,
    );
    assert!(
        sample(
            &failed,
            r#"uptime_queue_messages_total{queue="outbox",status="deferred"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{failed}"
    );
    w.hook.failing.store(false, Ordering::SeqCst);
    let body = scrape_until(
        d,
        "the retried delivery to be counted",
        r#"uptime_notifications_sent_total{tenant="default",provider="webhook"}"#,
    );
    assert_eq!(
        sample(
            &body,
            r#"uptime_queue_messages_total{queue="outbox",status="deferred"}"#
        ),
        Some(0.0)
    );

    // A check run from several locations: each location that ran it, on its own.
    let (_, body) = scrape(d, None);
    let search = r#"{tenant="default",check="search",location="default"}"#;
    assert_eq!(
        sample(&body, &format!("uptime_check_location_up{search}")),
        Some(1.0),
        "{body}"
    );
    assert!(
        sample(
            &body,
            &format!("uptime_check_location_last_run_timestamp_seconds{search}")
        )
        .is_some_and(|t| t > 1.7e9),
        "{body}"
    );
    assert!(
        !body.contains(r#"location="backup""#),
        "no node there ran it: {body}"
    );

    // What curl and promtool get: the classic text format, clean under promtool.
    let (ct, text) = scrape(d, None);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(check_metrics(&text), (0, String::new()), "{text}");
    // What Prometheus gets: OpenMetrics, the same samples.
    let (ct, om) = scrape(d, Some(PROMETHEUS_ACCEPT));
    assert_eq!(
        ct,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE uptime_checks counter\n"));
    assert!(text.contains("# TYPE uptime_checks_total counter\n"));
    assert_eq!(sample_names(&om), sample_names(&text));

    let (status, _) = d.call_as(&w.tenant_key, "DELETE", "/api/v1/checks/storefront", None);
    assert_eq!(status, 204);
    let (_, body) = scrape(d, None);
    assert!(!body.contains(r#"check="storefront""#), "{body}");
    assert_eq!(sample(&body, &format!("uptime_check_up{shop}")), Some(1.0));
}

#[test]
fn paused_checks_and_checks_that_never_ran_have_no_per_check_series() {
    let d = Daemon::start(&[]);
    let yaml = format!(
        "kind: Check\nname: idle\ntype: tcp\ntarget: 127.0.0.1:{}\nschedule: 1h\n\
         ---\nkind: Check\nname: paused\ntype: tcp\ntarget: 127.0.0.1:{}\nschedule: 1h\n",
        servers::closed_port(),
        servers::closed_port(),
    );
    d.apply("repo", &yaml);
    d.run_check("paused");
    let (_, body) = scrape(&d, None);
    assert!(body.contains(r#"uptime_check_up{tenant="default",check="paused",type="tcp"} 0"#));
    d.post("/api/v1/checks/paused/pause", &json!({}));
    let (_, body) = scrape(&d, None);
    assert!(!body.contains(r#"check="paused""#), "{body}");
    assert!(!body.contains(r#"check="idle""#), "{body}");
}

/// A client may send any token as its method; each would have been a series.
#[test]
fn unknown_http_methods_are_counted_as_other() {
    let d = Daemon::start(&[]);
    for method in ["BREW", "WHEN", "PROPFIND"] {
        let (status, _) = d.call(method, "/api/v1/checks", None);
        assert!(status >= 400, "{method}: {status}");
    }
    let (_, body) = scrape(&d, None);
    assert!(
        !body.contains("BREW") && !body.contains("PROPFIND"),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with(r#"uptime_service_requests_total{service="api",method="other""#)),
        "{body}"
    );
    assert!(body.contains(
        r#"uptime_service_request_duration_seconds_count{service="api",method="other"}"#
    ));
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let out = promtool()
        .args(["check", "rules"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus/alerts.yaml"))
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every series the dashboard and the rules query is one a daemon serves; a rename
/// on either side fails here rather than as an empty panel or a silent rule.
#[test]
fn the_dashboard_and_the_rules_query_only_series_a_daemon_serves() {
    let w = world();
    let d = &w.d;
    w.hook.failing.store(true, Ordering::SeqCst);
    run(d, &d.key, "shop");
    run(d, &d.key, "db");
    run(d, &w.tenant_key, "storefront");
    wait_for("a failed delivery", || {
        let (_, body) = scrape(d, None);
        body.contains("uptime_service_errors_total").then_some(())
    });
    w.hook.failing.store(false, Ordering::SeqCst);
    let body = wait_for("a notification sent", || {
        let (_, body) = scrape(d, None);
        body.contains("uptime_notifications_sent_total")
            .then_some(body)
    });
    let served = sample_names(&body);

    let dashboard: Value = serde_json::from_str(&examples("examples/grafana/uptimeping.json"))
        .expect("the dashboard is JSON");
    let mut exprs = String::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push_str(target["expr"].as_str().unwrap_or_default());
            exprs.push('\n');
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(q) = var["query"].as_str() {
            exprs.push_str(q);
        } else if let Some(q) = var["query"]["query"].as_str() {
            exprs.push_str(q);
        }
        exprs.push('\n');
    }
    let rules = examples("examples/prometheus/alerts.yaml");
    for (file, text) in [("the dashboard", exprs), ("the rules", rules)] {
        let used = names_used(&text);
        assert!(used.len() >= 5, "{file} queries {used:?}");
        let missing: Vec<_> = used.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "{file} queries {missing:?}, which /metrics does not serve:\n{body}"
        );
    }
}
