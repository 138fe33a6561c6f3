//! Contexts and the inspection commands (checks, incidents, channels, tenants)
//! through the real binary against the fake daemon.

use serde_json::{Value, json};

use super::client::{repo, run_in};
use super::fake_daemon::FakeDaemon;
use super::support::{Files, Run};

fn summary(name: &str, state: &str) -> Value {
    json!({
        "name": name, "type": "http", "target": "https://example.com/healthz",
        "schedule": "30s", "state": state, "labels": {"team": "payments"},
        "source": "platform", "last_run_at": null, "last_latency_ms": 42.4,
        "last_error": null, "next_run_at": null, "open_incident": null,
    })
}

fn incident(id: i64, status: &str) -> Value {
    json!({
        "id": id, "check": "api", "status": status, "severity": "error",
        "error": "connection refused", "status_code": null, "count": 3,
        "dedup_hash": "ab", "opened_at": "2026-01-02T03:04:05Z",
        "acknowledged_at": null, "acknowledged_by": null,
        "resolved_at": null, "resolved_by": null,
    })
}

fn with_key(files: &Files, daemon: &FakeDaemon, args: &[&str]) -> Run {
    let url = daemon.url();
    let mut all = args.to_vec();
    all.extend(["--url", &url, "--api-key", "k"]);
    run_in(files.path(), &all, &[])
}

#[test]
fn contexts_round_trip_and_choose_the_key_sent() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.on("GET", "/api/v1/checks", 200, json!([]));
    std::fs::write(files.join("prod.key"), "prod-key\n").expect("key file");
    let url = daemon.url();
    let run = |args: &[&str]| run_in(files.path(), args, &[]);

    run(&[
        "context",
        "set",
        "prod",
        "--url",
        &url,
        "--api-key-file",
        "prod.key",
    ])
    .success();
    run(&[
        "context",
        "set",
        "dev",
        "--url",
        &url,
        "--api-key",
        "dev-key",
    ])
    .success();
    let config = files.join(".config/uptimeping/config.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config)
            .expect("config")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.starts_with("current = \"prod\"\n"), "{text}");

    let r = run(&["context", "list", "-o", "json"]).success();
    let list = r.json();
    assert_eq!(list[0]["name"], "dev");
    assert_eq!(
        list[0]["api_key"], "(sensitive value)",
        "keys are never printed"
    );
    assert_eq!(list[1]["current"], true);
    let table = run(&["context", "list"]).stdout;
    assert!(!table.contains("dev-key") && table.contains("*"), "{table}");

    assert_eq!(run(&["checks", "list"]).code, 0);
    assert_eq!(run(&["context", "use", "dev"]).code, 0);
    assert_eq!(run(&["checks", "list"]).code, 0);
    assert_eq!(run(&["checks", "list", "--context", "prod"]).code, 0);
    let keys: Vec<String> = daemon
        .received()
        .iter()
        .map(|r| r.authorization.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        ["Bearer prod-key", "Bearer dev-key", "Bearer prod-key"]
    );

    run(&["checks", "list"]).success();
    run_in(
        files.path(),
        &["checks", "list"],
        &[("UPTIMEPING_API_KEY", "env-key")],
    )
    .success();
    let last = daemon.received().last().cloned().expect("request");
    assert_eq!(
        last.authorization.as_deref(),
        Some("Bearer env-key"),
        "env wins over the context"
    );

    assert_eq!(run(&["context", "delete", "dev"]).code, 0);
    let r = run(&["context", "use", "dev"]).expect_code(1);
    assert!(
        r.stderr
            .contains("no context named `dev`; known contexts: prod"),
        "{}",
        r.stderr
    );
}

#[test]
fn checks_list_sends_its_filters_and_prints_a_table_or_json() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.on(
        "GET",
        "/api/v1/checks",
        200,
        json!([summary("api", "down")]),
    );
    let r = with_key(
        &files,
        &daemon,
        &[
            "checks",
            "list",
            "--label",
            "team=payments",
            "--state",
            "down",
        ],
    )
    .success();
    assert_eq!(
        daemon.received()[0].uri,
        "/api/v1/checks?label=team%3Dpayments&state=down&limit=1000"
    );
    let lines: Vec<Vec<&str>> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME", "TYPE", "STATE", "TARGET", "LAST", "RUN", "LATENCY", "UPTIME", "24H", "P95",
            "24H", "INCIDENT", "ERROR"
        ]
    );
    assert_eq!(
        lines[1],
        [
            "api",
            "http",
            "down",
            "https://example.com/healthz",
            "-",
            "42ms",
            "-",
            "-",
            "-"
        ]
    );
    let r = with_key(&files, &daemon, &["checks", "list", "-o", "json"]);
    assert_eq!(r.json(), json!([summary("api", "down")]));
    let r = with_key(&files, &daemon, &["checks", "list", "--state", "sideways"]);
    assert_eq!(r.code, 1, "clap rejects an unknown state");
}

#[test]
fn checks_run_exits_2_when_the_check_is_down() {
    let files = repo();
    let daemon = FakeDaemon::start();
    let result = |up: bool| {
        json!({"name": "api", "type": "http", "target": "https://example.com/healthz",
            "up": up, "latency_ms": 12.0, "status_code": if up { 200 } else { 503 },
            "error": if up { Value::Null } else { json!("status: expected 2xx, got 503") },
            "error_kind": if up { Value::Null } else { json!("expectation") },
            "attempts": 1, "started_at": "2026-01-02T03:04:05Z"})
    };
    daemon.on("POST", "/api/v1/checks/api/run", 200, result(false));
    let r = with_key(&files, &daemon, &["checks", "run", "api"]).expect_code(2);
    assert!(
        r.stdout.contains("DOWN") && r.stdout.contains("got 503"),
        "{}",
        r.stdout
    );
    daemon.on("POST", "/api/v1/checks/api/run", 200, result(true));
    let r = with_key(&files, &daemon, &["checks", "run", "api", "-o", "json"]).success();
    assert_eq!(r.json()["up"], true);
}

#[test]
fn checks_pause_delete_and_a_missing_check() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.on(
        "POST",
        "/api/v1/checks/api/pause",
        200,
        summary("api", "paused"),
    );
    daemon.on("DELETE", "/api/v1/checks/api", 204, Value::Null);
    let r = with_key(&files, &daemon, &["checks", "pause", "api"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Check `api` is paused.\n"),
        "{}",
        r.stderr
    );
    let r = with_key(&files, &daemon, &["checks", "delete", "api"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Deleted check `api`.\n"),
        "{}",
        r.stderr
    );
    daemon.on(
        "GET",
        "/api/v1/checks/nope",
        404,
        json!({"error": {"code": "not_found", "message": "no check named `nope`"}}),
    );
    let r = with_key(&files, &daemon, &["checks", "get", "nope"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "uptimeping: no check named `nope`\n")
    );
}

#[test]
fn incidents_ack_sends_the_comment_and_get_shows_events() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.on(
        "POST",
        "/api/v1/incidents/12/ack",
        200,
        incident(12, "acknowledged"),
    );
    let r = with_key(
        &files,
        &daemon,
        &["incidents", "ack", "12", "--comment", "on it"],
    )
    .success();
    assert_eq!(r.stdout, "Incident #12 (api) is acknowledged.\n");
    assert_eq!(daemon.received()[0].json(), json!({"comment": "on it"}));

    let mut detail = incident(12, "open");
    detail["events"] = json!([{"id": 1, "incident_id": 12, "at": "2026-01-02T03:04:05Z",
        "kind": "opened", "actor": "system", "detail": null}]);
    detail["notifications"] = json!([{"id": 4, "incident_id": 12, "channel": "oncall-slack",
        "event": "opened", "status": "sent", "attempts": 1, "idempotency_key": "k",
        "last_error": null, "created_at": "2026-01-02T03:04:05Z", "sent_at": null}]);
    daemon.on("GET", "/api/v1/incidents/12", 200, detail);
    let r = with_key(&files, &daemon, &["incidents", "get", "12"]).success();
    for needle in [
        "Incident:",
        "#12",
        "Events:",
        "opened",
        "system",
        "Notifications:",
        "oncall-slack",
    ] {
        assert!(r.stdout.contains(needle), "{needle}:\n{}", r.stdout);
    }
    daemon.on(
        "GET",
        "/api/v1/incidents",
        200,
        json!([incident(12, "open")]),
    );
    with_key(
        &files,
        &daemon,
        &["incidents", "list", "--status", "open", "--check", "api"],
    )
    .success();
    let uri = daemon
        .received()
        .last()
        .map(|r| r.uri.clone())
        .unwrap_or_default();
    assert_eq!(uri, "/api/v1/incidents?status=open&check=api&limit=50");
}

#[test]
fn a_failed_channel_test_exits_1_and_tenants_create_prints_the_key() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.on(
        "POST",
        "/api/v1/channels/oncall-slack/test",
        200,
        json!({
        "id": 5, "incident_id": null, "channel": "oncall-slack", "event": "test",
        "status": "failed", "attempts": 3, "idempotency_key": "k",
        "last_error": "403 Forbidden", "created_at": "2026-01-02T03:04:05Z", "sent_at": null}),
    );
    let r = with_key(&files, &daemon, &["channels", "test", "oncall-slack"]).expect_code(1);
    assert_eq!(
        r.stdout,
        "Test notification through `oncall-slack`: failed: 403 Forbidden (3 attempts)\n"
    );

    daemon.on(
        "POST",
        "/api/v1/tenants",
        200,
        json!({"id": 2, "name": "acme", "api_key": "upk_new"}),
    );
    let r = with_key(
        &files,
        &daemon,
        &["tenants", "create", "acme", "-o", "json"],
    )
    .success();
    assert_eq!(r.json()["api_key"], "upk_new");
    assert_eq!(
        daemon.received().last().map(|r| r.json()),
        Some(json!({"name": "acme"}))
    );
}

#[test]
fn help_of_every_daemon_command_shows_examples() {
    for cmd in [
        "plan",
        "apply",
        "checks",
        "incidents",
        "channels",
        "tenants",
        "context",
    ] {
        let r = run_in(repo().path(), &[cmd, "--help"], &[]);
        assert_eq!(r.code, 0, "{cmd}: {}", r.stderr);
        assert!(r.stdout.contains("\nExamples:\n"), "{cmd}:\n{}", r.stdout);
    }
}
