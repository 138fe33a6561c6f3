//! The daemon's client side through the real binary, against a fake daemon with
//! canned answers: plan and apply, saved plans, errors, contexts and listings.

use std::path::Path;

use serde_json::{Value, json};

use super::fake_daemon::{FakeDaemon, create_plan, plan, to_json};
use super::support::{Files, Run, Test};

const CHECK: &str = "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\n";

/// Runs the binary in `dir` with no connection settings from the environment and
/// a config directory of its own (`dir/.config`), plus `env`.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut test = Test::in_dir(dir).isolated(dir).args(args);
    for (k, v) in env {
        test = test.env(k, v);
    }
    test.run()
}

/// Check files in `checks/` of a repository whose uptimeping.yaml names the source.
pub fn repo() -> Files {
    Files::new(&[
        ("uptimeping.yaml", "source: platform\n"),
        ("checks/api.yaml", CHECK),
    ])
}

fn connect(daemon: &FakeDaemon) -> Vec<String> {
    vec![
        "--url".into(),
        daemon.url(),
        "--api-key".into(),
        "test-key".into(),
    ]
}

fn run(files: &Files, daemon: &FakeDaemon, args: &[&str]) -> Run {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(connect(daemon));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    run_in(files.path(), &all, &[])
}

#[test]
fn apply_without_a_terminal_or_auto_approve_exits_1_naming_the_flag() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.plans(&create_plan(3, "api", "checks/api.yaml", 2));
    let r = run(&files, &daemon, &["apply", "-f", "checks"]).expect_code(1);
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
    assert!(
        r.stdout.contains("  + Check api (checks/api.yaml:2)"),
        "{}",
        r.stdout
    );
    assert_eq!(daemon.paths(), vec!["/api/v1/plan"], "never sent /apply");
}

#[test]
fn plan_prints_terraform_style_text_and_detailed_exitcode_2() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.plans(&create_plan(3, "api", "checks/api.yaml", 2));
    let r = run(
        &files,
        &daemon,
        &["plan", "-f", "checks", "--detailed-exitcode"],
    )
    .expect_code(2);
    assert_eq!(
        r.stdout,
        "  + Check api (checks/api.yaml:2)
      + target = \"https://example.com/healthz\"
      + timeout = \"10s\"
      + type = \"http\"

Plan: 1 to add, 0 to change, 0 to destroy.
"
    );
}

#[test]
fn plan_with_no_changes_exits_0_even_with_detailed_exitcode() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.plans(&plan(3, Vec::new()));
    let r = run(
        &files,
        &daemon,
        &["plan", "-f", "checks", "--detailed-exitcode"],
    )
    .success();
    assert_eq!(
        r.stdout,
        "No changes. Live state matches the files.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n"
    );
}

#[test]
fn plan_sends_canonical_resources_with_source_options_and_the_key() {
    let files = Files::new(&[
        ("uptimeping.yaml", "source: platform\n"),
        (
            "checks/api.yaml",
            "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\nhttp:\n  headers: {x-token: \"${TOKEN}\"}\n",
        ),
    ]);
    let daemon = FakeDaemon::start();
    daemon.plans(&plan(1, Vec::new()));
    let mut cmd: Vec<String> = ["plan", "-f", "checks", "--prune", "--adopt", "-o", "json"]
        .map(String::from)
        .to_vec();
    cmd.extend(connect(&daemon));
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let r = run_in(files.path(), &cmd, &[("TOKEN", "s3cret")]).success();
    assert_eq!(r.json()["format_version"], 1, "the plan document as is");
    let sent = &daemon.received()[0];
    assert_eq!(sent.authorization.as_deref(), Some("Bearer test-key"));
    let body = sent.json();
    assert_eq!(body["source"], "platform");
    assert_eq!(
        (body["prune"].clone(), body["adopt"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(body["take_over"], false);
    let res = &body["resources"][0];
    assert_eq!(res["kind"], "Check");
    assert_eq!(res["name"], "api");
    assert_eq!(res["file"], "checks/api.yaml");
    assert_eq!(res["line"], 2);
    assert_eq!(res["spec"]["kind"], "Check");
    assert_eq!(res["spec"]["http"]["headers"]["x-token"], "s3cret");
    assert_eq!(res["sensitive"], json!(["/http/headers/x-token"]));
}

#[test]
fn invalid_files_exit_1_and_send_nothing() {
    let files = Files::new(&[("checks/api.yaml", "kind: Check\nname: api\ntype: http\n")]);
    let daemon = FakeDaemon::start();
    for cmd in ["plan", "apply"] {
        let r = run(&files, &daemon, &[cmd, "-f", "checks"]);
        assert_eq!(r.code, 1, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("checks/api.yaml:"), "{cmd}: {}", r.stderr);
    }
    assert!(daemon.received().is_empty());
    for cmd in ["plan", "apply"] {
        let r = run_in(files.path(), &[cmd, "-f", "checks"], &[]);
        assert_eq!(r.code, 1, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("checks/api.yaml:") && !r.stderr.contains("no daemon"),
            "{cmd}: the files are checked before the connection: {}",
            r.stderr
        );
    }
}

#[test]
fn auto_approve_applies_at_the_revision_it_showed() {
    let files = repo();
    let daemon = FakeDaemon::start();
    let planned = create_plan(5, "api", "checks/api.yaml", 2);
    daemon.plans(&planned);
    daemon.on(
        "POST",
        "/api/v1/apply",
        200,
        json!({"plan": to_json(&planned), "state_revision": 6}),
    );
    let r = run(
        &files,
        &daemon,
        &["apply", "-f", "checks", "--auto-approve"],
    )
    .success();
    assert!(
        r.stdout
            .ends_with("\nPlan: 1 to add, 0 to change, 0 to destroy.\n\nApply complete! Resources: 1 added, 0 changed, 0 destroyed.\n"),
        "{}",
        r.stdout
    );
    assert_eq!(daemon.paths(), vec!["/api/v1/plan", "/api/v1/apply"]);
    assert_eq!(daemon.received()[1].json()["expected_revision"], 5);
}

#[test]
fn a_saved_plan_is_private_and_applies_exactly_its_request() {
    let files = repo();
    let daemon = FakeDaemon::start();
    let planned = create_plan(9, "api", "checks/api.yaml", 2);
    daemon.plans(&planned);
    run(
        &files,
        &daemon,
        &["plan", "-f", "checks", "--out", "plan.json"],
    )
    .success();
    let saved = files.join("plan.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved)
            .expect("plan.json")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("read")).expect("JSON");
    assert_eq!(doc["plan"]["state_revision"], 9);
    let planned_request = daemon.received()[0].json();
    assert_eq!(doc["request"], planned_request);

    daemon.on(
        "POST",
        "/api/v1/apply",
        200,
        json!({"plan": to_json(&planned), "state_revision": 10}),
    );
    let r = run(&files, &daemon, &["apply", "plan.json"]).success();
    assert!(
        r.stdout
            .ends_with("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.\n")
    );
    let mut sent = daemon.received()[1].json();
    assert_eq!(sent["expected_revision"], 9);
    sent.as_object_mut()
        .expect("object")
        .remove("expected_revision");
    assert_eq!(sent, planned_request, "the saved request, unchanged");
}

#[test]
fn a_saved_plan_whose_revision_moved_says_to_plan_again() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.plans(&create_plan(9, "api", "checks/api.yaml", 2));
    run(
        &files,
        &daemon,
        &["plan", "-f", "checks", "--out", "plan.json"],
    )
    .success();
    daemon.on(
        "POST",
        "/api/v1/apply",
        409,
        json!({"error": {"code": "revision_moved", "message": "the state moved from revision 9 to 10 since the plan was made; make a new plan"}}),
    );
    let r = run(&files, &daemon, &["apply", "plan.json"]).expect_code(1);
    assert!(
        r.stderr.contains(
            "uptimeping: nothing was applied: the daemon's state changed after the plan was made (at revision 9); make a new plan"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn daemon_errors_show_the_message_then_each_detail() {
    let files = repo();
    let daemon = FakeDaemon::start();
    daemon.on(
        "POST",
        "/api/v1/plan",
        409,
        json!({"error": {"code": "conflict", "message": "the plan conflicts with live state",
            "details": ["Check `api` belongs to source `other`; pass --take-over", "Channel `x` is given twice"]}}),
    );
    let r = run(&files, &daemon, &["plan", "-f", "checks"]).expect_code(1);
    assert!(
        r.stderr.ends_with(
            "uptimeping: the plan conflicts with live state\n  Check `api` belongs to source `other`; pass --take-over\n  Channel `x` is given twice\n"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn an_unreachable_daemon_is_named_with_what_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let files = repo();
    let url = format!("http://127.0.0.1:{port}");
    let r = run_in(
        files.path(),
        &["checks", "list", "--url", &url, "--api-key", "k"],
        &[],
    )
    .expect_code(1);
    assert!(
        r.stderr
            .starts_with(&format!("uptimeping: cannot reach the daemon at {url}/: ")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("check that it is running"),
        "{}",
        r.stderr
    );
}

#[test]
fn without_any_connection_settings_the_error_says_how_to_set_them() {
    let files = repo();
    let r = run_in(files.path(), &["checks", "list"], &[]).expect_code(1);
    assert!(r.stderr.contains("UPTIMEPING_URL"), "{}", r.stderr);
    assert!(r.stderr.contains("uptimeping context set"), "{}", r.stderr);
}

/// A daemon that hands out a cursor with every page, forever: the client stops at
/// the first page that makes no progress instead of asking without end.
#[test]
fn a_list_that_never_ends_is_an_error_not_a_hang() {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/api/v1/channels",
            get(|| async { ([("x-next-cursor", "same")], axum::Json(json!([]))) }),
        )
        .route(
            "/api/v1/incidents",
            get(|| async {
                (
                    [("x-next-cursor", "again")],
                    axum::Json(
                        json!([{"id": 1, "check": "api", "status": "open", "severity": "error",
                        "error": "down", "status_code": null, "count": 1, "dedup_hash": "h",
                        "opened_at": "2026-01-02T03:04:05Z"}]),
                    ),
                )
            }),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    crate::servers::runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = axum::serve(listener, app).await;
    });
    let files = repo();
    let url = format!("http://{addr}");
    for args in [
        &["channels", "list"][..],
        &["incidents", "list", "--all"][..],
    ] {
        let r = run_in(
            files.path(),
            args,
            &[("UPTIMEPING_URL", &url), ("UPTIMEPING_API_KEY", "k")],
        );
        assert_eq!(r.code, 1, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("a page with no progress"),
            "{args:?}: {}",
            r.stderr
        );
    }
}
