//! Reports on a real daemon: a check against a server that answers and one
//! against a port that refuses, run on their schedule; what `GET /report`, the
//! check's report and history, `checks list` and `uptimeping report` make of them.

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, wait_for};
use crate::servers::{self, closed_port};
use uptimeping::model::{CheckSummary, HistoryBucket, Report};

/// What the up check's server waits before answering, so its latency is known
/// to be above zero.
const UP_LATENCY_MS: u64 = 20;

fn start() -> (Daemon, servers::Server) {
    let d = Daemon::start(&[]);
    let server = servers::http();
    let yaml = format!(
        "{}---\n{}",
        servers::check(
            "up",
            &format!("http://{}/slow/{UP_LATENCY_MS}", server.addr),
            "schedule: 5s\ntimeout: 2s\nretries: 0\n"
        ),
        servers::check(
            "down",
            &format!("http://127.0.0.1:{}/", closed_port()),
            "schedule: 5s\ntimeout: 2s\nretries: 0\n"
        ),
    );
    d.apply("repo", &yaml);
    (d, server)
}

fn by_name<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no `{name}` in {report}"))
}

/// Waits until each check has `runs` runs in the last hour's report.
fn wait_runs(d: &Daemon, runs: u64) -> Value {
    wait_for(&format!("{runs} runs of each check in the report"), || {
        let r = d.get("/api/v1/report?window=1h");
        let done = ["up", "down"]
            .iter()
            .all(|n| by_name(&r, n)["runs"].as_u64().unwrap_or(0) >= runs);
        done.then_some(r)
    })
}

/// Records of RFC 4180 text: quoted fields may hold commas, doubled quotes and
/// line breaks; records end in CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "CSV does not end a record with CRLF: {text:?}"
    );
    records
}

#[test]
fn a_report_counts_an_up_check_as_100_and_a_down_one_as_0_over_the_time_they_ran() {
    let (d, _server) = start();
    let report = wait_runs(&d, 2);
    let up = by_name(&report, "up");
    let down = by_name(&report, "down");
    assert_eq!(up["uptime"].as_f64(), Some(100.0), "{up}");
    assert_eq!(down["uptime"].as_f64(), Some(0.0), "{down}");
    assert_eq!(down["failed_runs"], down["runs"], "{down}");
    assert_eq!(up["failed_runs"], 0, "{up}");
    for c in [up, down] {
        let coverage = c["coverage"].as_f64().unwrap();
        // The daemon ran for seconds of the hour: known, but far from all of it.
        assert!(coverage > 0.0 && coverage < 50.0, "{c}");
        assert!(c["unknown_seconds"].as_f64().unwrap() > 1800.0, "{c}");
    }
    let p50 = up["latency"]["p50"].as_f64().unwrap();
    assert!(p50 >= UP_LATENCY_MS as f64 * 0.95, "{up}");
    assert!(up["latency"]["p99"].as_f64().unwrap() >= p50, "{up}");
    assert!(up["down_seconds"].as_f64() == Some(0.0) && up["up_seconds"].as_f64() > Some(0.0));
    let parsed: Report = serde_json::from_value(report.clone()).expect("a Report");
    assert_eq!(parsed.checks.len(), 2);

    let one = d.get("/api/v1/checks/up/report?window=1h");
    assert_eq!(one["checks"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["checks"][0]["uptime"].as_f64(), Some(100.0));
    let named = d.get("/api/v1/report?window=1h&check=down");
    assert_eq!(named["checks"].as_array().map(Vec::len), Some(1), "{named}");
    assert_eq!(named["checks"][0]["check"], "down");

    let history = d.get("/api/v1/checks/up/history?resolution=1m&window=1h");
    let buckets: Vec<HistoryBucket> = serde_json::from_value(history.clone()).expect("buckets");
    assert!(!buckets.is_empty(), "{history}");
    assert!(
        buckets.iter().map(|b| b.runs).sum::<u64>() >= 2,
        "{history}"
    );
    assert!(buckets.iter().all(|b| b.uptime == Some(100.0)), "{history}");
    assert!(
        buckets.windows(2).all(|w| w[0].start < w[1].start),
        "{history}"
    );

    let list = d.get("/api/v1/checks");
    let list: Vec<CheckSummary> = serde_json::from_value(list).expect("summaries");
    let up_summary = list.iter().find(|s| s.name == "up").unwrap();
    assert_eq!(up_summary.uptime_24h, Some(100.0));
    assert!(up_summary.p95_24h_ms.unwrap() >= UP_LATENCY_MS as f64 * 0.95);
    let down_summary = list.iter().find(|s| s.name == "down").unwrap();
    assert_eq!(down_summary.uptime_24h, Some(0.0));
    let detail = d.get("/api/v1/checks/down");
    assert_eq!(detail["uptime_24h"].as_f64(), Some(0.0), "{detail}");
    let status = d.get("/api/v1/checks/up/status");
    assert_eq!(status["uptime_24h"].as_f64(), Some(100.0), "{status}");
}

#[test]
fn unknown_checks_and_spans_that_cannot_be_read_are_refused_with_what_to_give() {
    let (d, _server) = start();
    for path in [
        "/api/v1/checks/ghost/report",
        "/api/v1/checks/ghost/history?resolution=1h",
        "/api/v1/report?check=up&check=ghost",
    ] {
        let (status, body) = d.call("GET", path, None);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`ghost`"),
            "{path}: {body}"
        );
    }
    let cases = [
        (
            "/api/v1/report?window=soon",
            "such as 1h, 24h, 7d, 30d or 90d",
        ),
        ("/api/v1/report?window=0s", "longer than nothing"),
        ("/api/v1/report?window=1000d", "at most 800 days"),
        ("/api/v1/report?from=yesterday", "RFC 3339"),
        (
            "/api/v1/report?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z",
            "must be before `to`",
        ),
        ("/api/v1/checks/up/report?window=soon", "such as 1h"),
        (
            "/api/v1/checks/up/report?check=up",
            "unknown parameter `check`",
        ),
        (
            "/api/v1/checks/up/history?resolution=2m",
            "one of 1m, 5m, 15m, 1h, 1d",
        ),
        (
            "/api/v1/checks/up/history?resolution=1m&window=30d",
            "at most 10000 buckets",
        ),
    ];
    for (path, says) in cases {
        let (status, body) = d.call("GET", path, None);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid")),
            "{path}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path}: {message}");
    }
}

#[test]
fn the_report_command_prints_tables_csv_json_and_yaml_and_checks_list_shows_the_day() {
    let (d, _server) = start();
    wait_runs(&d, 2);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let table = d.cli(dir).words("report").run().success();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and one line per check:\n{}",
        table.stdout
    );
    for h in [
        "NAME",
        "UPTIME 24H",
        "UPTIME 7D",
        "UPTIME 30D",
        "COVERAGE 30D",
        "SLO",
        "P95 30D",
        "DOWNTIME 30D",
    ] {
        assert!(lines[0].contains(h), "{h}:\n{}", table.stdout);
    }
    let row = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name}:\n{}", table.stdout))
            .split_whitespace()
            .collect()
    };
    assert_eq!(
        &row("up")[..4],
        ["up", "100%", "100%", "100%"],
        "{}",
        table.stdout
    );
    assert_eq!(
        &row("down")[..4],
        ["down", "0%", "0%", "0%"],
        "{}",
        table.stdout
    );

    let csv = d
        .cli(dir)
        .words("report --window 1h -o csv")
        .run()
        .success();
    let records = parse_csv(&csv.stdout);
    assert_eq!(
        records.len(),
        3,
        "a header and a row per check: {:?}",
        csv.stdout
    );
    let header = &records[0];
    assert!(
        records.iter().all(|r| r.len() == header.len()),
        "{records:?}"
    );
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}: {header:?}"))
    };
    let up = records.iter().find(|r| r[col("check")] == "up").unwrap();
    assert_eq!(up[col("uptime")], "100");
    assert!(
        up[col("latency_p50_ms")].parse::<f64>().unwrap() > 0.0,
        "{up:?}"
    );
    assert!(up[col("runs")].parse::<u64>().unwrap() >= 2, "{up:?}");
    assert_eq!(up[col("slo_status")], "", "no SLO: an empty field");
    let down = records.iter().find(|r| r[col("check")] == "down").unwrap();
    assert_eq!(down[col("uptime")], "0");
    let three = d.cli(dir).words("report -o csv").run();
    let records = parse_csv(&three.stdout);
    assert!(
        ["uptime_24h", "uptime_7d", "uptime_30d"]
            .iter()
            .all(|h| records[0].contains(&h.to_string())),
        "{:?}",
        records[0]
    );

    let json = d
        .cli(dir)
        .words("report --check up --window 90d -o json")
        .run()
        .success();
    let report: Report = serde_json::from_str(&json.stdout).expect("a Report");
    assert_eq!(report.checks.len(), 1);
    assert_eq!(report.checks[0].uptime, Some(100.0));
    let json = d.cli(dir).words("report -o json").run();
    let reports: Vec<Report> = serde_json::from_str(&json.stdout).expect("three Reports");
    assert_eq!(reports.len(), 3);
    let yaml = d
        .cli(dir)
        .words("report --window 1h -o yaml")
        .run()
        .success();
    assert!(yaml.stdout.contains("check: up"), "{}", yaml.stdout);

    let bad = d
        .cli(dir)
        .words("report --check ghost")
        .run()
        .expect_code(1);
    assert!(
        bad.stderr.contains("no check named `ghost`"),
        "{}",
        bad.stderr
    );
    let bad = d
        .cli(dir)
        .words("report --window 1h --from 2026-06-01T00:00:00Z --to 2026-06-02T00:00:00Z")
        .run()
        .expect_code(1);
    assert!(bad.stderr.contains("at most two"), "{}", bad.stderr);
    let bad = d.cli(dir).words("report --from June").run().expect_code(1);
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);

    let list = d.cli(dir).words("checks list").run().success();
    let header = list.stdout.lines().next().unwrap();
    assert!(
        header.contains("UPTIME 24H") && header.contains("P95 24H"),
        "{}",
        list.stdout
    );
    let up_line = list
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("up"))
        .unwrap();
    assert!(up_line.contains("100%"), "{}", list.stdout);
    let down_line = list
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("down"))
        .unwrap();
    assert!(down_line.contains(" 0% "), "{}", list.stdout);

    let history = d
        .cli(dir)
        .words("checks history up --resolution 1m")
        .run()
        .success();
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert!(
        lines[0].contains("START (UTC)") && lines[0].contains("COVERAGE"),
        "{}",
        history.stdout
    );
    assert!(lines.len() >= 2, "a bucket at least:\n{}", history.stdout);
    assert!(
        lines[1..].iter().all(|l| l.contains("100%")),
        "{}",
        history.stdout
    );
    let raw = d.cli(dir).words("checks history up").run();
    assert!(
        raw.stdout.lines().next().unwrap().contains("RESULT"),
        "{}",
        raw.stdout
    );
    let bad = d.cli(dir).words("checks history up --window 1h").run();
    assert_eq!(bad.code, 1, "--window needs --resolution: {}", bad.stderr);
}

#[test]
fn checks_get_list_and_the_report_agree_on_the_uptime_of_a_day_by_time_not_by_runs() {
    let d = Daemon::start(&[]);
    let target = crate::daemon_support::Target::start();
    let yaml = servers::check("flip", &target.url(), "schedule: 1h\nretries: 0\n");
    d.apply("repo", &yaml);
    // Two short up spans, then a longer down one: two runs of three are up, but
    // far less than two thirds of the time.
    d.run_check("flip");
    std::thread::sleep(std::time::Duration::from_millis(200));
    d.run_check("flip");
    target.set_healthy(false);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    d.run_check("flip");
    let report = wait_for("three runs in the report", || {
        let r = d.get("/api/v1/checks/flip/report");
        (r["checks"][0]["runs"].as_u64() >= Some(3)).then_some(r)
    });
    let by_time = report["checks"][0]["uptime"].as_f64().unwrap();
    assert!(by_time < 50.0, "{report}");
    let detail = d.get("/api/v1/checks/flip");
    assert_eq!(detail["uptime_24h"].as_f64(), Some(by_time), "{detail}");
    let list = d.get("/api/v1/checks");
    assert_eq!(list[0]["uptime_24h"].as_f64(), Some(by_time), "{list}");
}

#[test]
fn a_viewer_reads_reports_and_another_tenant_sees_none_of_these_checks() {
    let (d, _server) = start();
    let viewer = crate::daemon_api::key_with_role(&d, "viewer");
    for path in [
        "/api/v1/report",
        "/api/v1/checks/up/report?window=1h",
        "/api/v1/checks/up/history?resolution=5m",
    ] {
        let (status, body) = d.call_as(&viewer, "GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let other = d.post("/api/v1/tenants", &json!({"name": "team-b"}));
    let other = other["api_key"].as_str().unwrap();
    let (status, body) = d.call_as(other, "GET", "/api/v1/report", None);
    assert_eq!((status, &body["checks"]), (200, &json!([])), "{body}");
    for path in [
        "/api/v1/checks/up/report",
        "/api/v1/checks/up/history",
        "/api/v1/report?check=up",
    ] {
        let (status, body) = d.call_as(other, "GET", path, None);
        assert_eq!(status, 404, "{path}: {body}");
    }
}

#[test]
fn a_check_summary_from_a_daemon_without_the_day_columns_still_reads() {
    let older = json!({
        "name": "api", "type": "http", "target": "http://x/", "schedule": "30s",
        "state": "up", "labels": {}, "source": null, "last_run_at": null,
        "last_latency_ms": null, "last_error": null, "next_run_at": null, "open_incident": null
    });
    let s: CheckSummary = serde_json::from_value(older).expect("older summary");
    assert_eq!((s.uptime_24h, s.p95_24h_ms), (None, None));
}

#[test]
fn a_check_with_an_slo_reports_its_attainment_budget_and_status_in_every_format() {
    let d = Daemon::start(&[]);
    let yaml = servers::check(
        "budgeted",
        &format!("http://127.0.0.1:{}/", closed_port()),
        "schedule: 5s\ntimeout: 2s\nretries: 0\nslo: {objective: 99.9, window: 7d}\n",
    );
    d.apply("repo", &yaml);
    let report = wait_for("two runs of the check with an SLO", || {
        let r = d.get("/api/v1/checks/budgeted/report?window=1h");
        (by_name(&r, "budgeted")["runs"].as_u64().unwrap_or(0) >= 2).then_some(r)
    });
    let slo = &by_name(&report, "budgeted")["slo"];
    assert_eq!(slo["objective"], 99.9, "{slo}");
    assert_eq!(slo["window"], "7d", "{slo}");
    assert_eq!(slo["attainment"], 0.0, "{slo}");
    assert_eq!(slo["status"], "breached", "{slo}");
    assert!(slo["budget_left_percent"].as_f64().unwrap() < 0.0, "{slo}");
    assert!(slo["burn_rate_1h"].as_f64().unwrap() > 900.0, "{slo}");
    let dir = tempfile::tempdir().expect("tempdir");
    let table = d
        .cli(dir.path())
        .words("report --window 1h --check budgeted")
        .run()
        .success();
    assert!(
        table.stdout.contains("0%/99.9% breached"),
        "{}",
        table.stdout
    );
    let csv = d.cli(dir.path()).words("report --window 1h -o csv").run();
    let rows = parse_csv(&csv.stdout);
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", rows[0]))
    };
    assert_eq!(rows[1][col("slo_objective")], "99.9");
    assert_eq!(rows[1][col("slo_status")], "breached");
}
