//! The real CLI against the real daemon: the GitOps loop as a CI job runs it.

use crate::daemon_support::{Daemon, cli};

fn check(name: &str, path: &str) -> String {
    format!(
        "kind: Check\nname: {name}\ntype: http\ntarget: http://127.0.0.1:9{path}\nschedule: 1h\ntimeout: 5s\n"
    )
}

#[test]
fn the_gitops_loop_apply_plan_edit_prune() {
    let d = Daemon::start(&[]);
    let repo = tempfile::tempdir().unwrap();
    let checks = repo.path().join("checks");
    std::fs::create_dir_all(&checks).unwrap();
    std::fs::write(checks.join("api.yaml"), check("api", "/api")).unwrap();
    std::fs::write(checks.join("web.yaml"), check("web", "/web")).unwrap();

    let applied = cli(
        &d,
        repo.path(),
        &[
            "apply",
            "-f",
            "checks",
            "--source",
            "repo",
            "--auto-approve",
        ],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(
        applied
            .stdout
            .ends_with("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.\n"),
        "{}",
        applied.stdout
    );

    let plan = cli(
        &d,
        repo.path(),
        &[
            "plan",
            "-f",
            "checks",
            "--source",
            "repo",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(
        (plan.code, plan.stdout.as_str()),
        (
            0,
            "No changes. Live state matches the files.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n"
        ),
        "{}",
        plan.stderr
    );

    std::fs::write(
        checks.join("api.yaml"),
        check("api", "/api").replace("timeout: 5s", "timeout: 8s"),
    )
    .unwrap();
    let plan = cli(
        &d,
        repo.path(),
        &[
            "plan",
            "-f",
            "checks",
            "--source",
            "repo",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert_eq!(
        plan.stdout,
        "  ~ Check api (checks/api.yaml:2)\n      ~ timeout = \"5s\" -> \"8s\"\n\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
    );
    let plan_json = cli(
        &d,
        repo.path(),
        &["plan", "-f", "checks", "--source", "repo", "-o", "json"],
    );
    let doc: serde_json::Value = serde_json::from_str(&plan_json.stdout).unwrap();
    assert_eq!(
        (
            doc["format_version"].as_u64(),
            doc["summary"]["change"].as_u64(),
            doc["absent"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(
        cli(
            &d,
            repo.path(),
            &[
                "apply",
                "-f",
                "checks",
                "--source",
                "repo",
                "--auto-approve"
            ]
        )
        .code,
        0
    );

    // Another source's check stays when this source prunes.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("x.yaml"), check("elsewhere", "/x")).unwrap();
    assert_eq!(
        cli(
            &d,
            other.path(),
            &[
                "apply",
                "-f",
                "x.yaml",
                "--source",
                "other",
                "--auto-approve"
            ]
        )
        .code,
        0
    );

    std::fs::remove_file(checks.join("web.yaml")).unwrap();
    // Without --prune the removed file is not deleted, but the plan says so.
    let plan = cli(
        &d,
        repo.path(),
        &[
            "plan",
            "-f",
            "checks",
            "--source",
            "repo",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(
        (plan.code, plan.stdout.as_str()),
        (
            0,
            "No changes to the resources in the files.\n\n1 resource of source `repo` is not in the files and stays: `--prune` would delete it.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n"
        ),
        "{}",
        plan.stderr
    );
    let plan_json = cli(
        &d,
        repo.path(),
        &["plan", "-f", "checks", "--source", "repo", "-o", "json"],
    );
    let doc: serde_json::Value = serde_json::from_str(&plan_json.stdout).unwrap();
    assert_eq!(
        (doc["absent"].as_u64(), doc["summary"]["destroy"].as_u64()),
        (Some(1), Some(0))
    );
    let plan = cli(
        &d,
        repo.path(),
        &["plan", "-f", "checks", "--source", "repo", "--prune"],
    );
    assert_eq!(
        plan.stdout, "  - Check web\n\nPlan: 0 to add, 0 to change, 1 to destroy.\n",
        "with --prune the absent resource is a deletion, not a note: {}",
        plan.stderr
    );
    let applied = cli(
        &d,
        repo.path(),
        &[
            "apply",
            "-f",
            "checks",
            "--source",
            "repo",
            "--prune",
            "--auto-approve",
        ],
    );
    assert!(
        applied
            .stdout
            .ends_with("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.\n"),
        "{}",
        applied.stdout
    );
    let list = cli(&d, repo.path(), &["checks", "list", "-o", "json"]);
    let names: Vec<String> = serde_json::from_str::<serde_json::Value>(&list.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().into())
        .collect();
    assert_eq!(names, ["api", "elsewhere"]);

    // Without a terminal and without --auto-approve, apply refuses at once.
    std::fs::write(checks.join("new.yaml"), check("fresh", "/fresh")).unwrap();
    let refused = cli(
        &d,
        repo.path(),
        &["apply", "-f", "checks", "--source", "repo"],
    );
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("--auto-approve"),
        "{}",
        refused.stderr
    );
}

#[test]
fn incidents_are_acknowledged_and_resolved_from_the_cli_with_who_did_it() {
    let d = Daemon::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let port = crate::servers::closed_port();
    std::fs::write(dir.path().join("c.yaml"), format!("kind: Check\nname: gone\ntype: http\ntarget: http://127.0.0.1:{port}/\nschedule: 1h\nalert: {{failure_threshold: 1}}\n")).unwrap();
    assert_eq!(
        cli(
            &d,
            dir.path(),
            &["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"]
        )
        .code,
        0
    );
    let run = cli(&d, dir.path(), &["checks", "run", "gone"]);
    assert_eq!(run.code, 2, "a down check exits 2: {}", run.stderr);
    let list = cli(
        &d,
        dir.path(),
        &["incidents", "list", "--status", "open", "-o", "json"],
    );
    let id = serde_json::from_str::<serde_json::Value>(&list.stdout).unwrap()[0]["id"]
        .as_i64()
        .unwrap();
    // Lists print `#N`; every command that takes an id accepts what they print.
    let table = cli(&d, dir.path(), &["incidents", "list"]);
    assert!(
        table.stdout.contains(&format!("#{id} ")),
        "{}",
        table.stdout
    );
    let shown = cli(&d, dir.path(), &["incidents", "get", &format!("#{id}")]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.starts_with(&format!("Incident:     #{id}\n")),
        "{}",
        shown.stdout
    );
    let bad = cli(&d, dir.path(), &["incidents", "get", "#x1"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("`42` or `#42`"), "{}", bad.stderr);
    let id = format!("#{id}");
    assert_eq!(
        cli(
            &d,
            dir.path(),
            &["incidents", "ack", &id, "--comment", "on it"]
        )
        .code,
        0
    );
    assert_eq!(cli(&d, dir.path(), &["incidents", "resolve", &id]).code, 0);
    let got = cli(&d, dir.path(), &["incidents", "get", &id, "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(doc["status"], "resolved");
    assert!(
        doc["resolved_by"]
            .as_str()
            .unwrap()
            .starts_with("key:bootstrap-admin(")
    );
    let kinds: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opened", "acknowledged", "resolved"]);
}

#[test]
fn a_channel_test_that_cannot_be_delivered_exits_1_and_says_why() {
    let d = Daemon::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let port = crate::servers::closed_port();
    std::fs::write(
        dir.path().join("c.yaml"),
        format!("kind: Channel\nname: dead-hook\ntype: webhook\nwebhook: {{url: \"http://127.0.0.1:{port}/hook\"}}\n"),
    )
    .unwrap();
    let applied = cli(
        &d,
        dir.path(),
        &["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    for output in ["table", "json"] {
        let r = cli(
            &d,
            dir.path(),
            &["channels", "test", "dead-hook", "-o", output],
        );
        assert_eq!(r.code, 1, "{output}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("the test notification through `dead-hook` was not delivered: "),
            "{output}: {}",
            r.stderr
        );
        assert!(r.stderr.to_lowercase().contains("refused"), "{}", r.stderr);
    }
}

#[test]
fn table_rows_stay_one_line_with_long_cells_cut() {
    let d = Daemon::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = "a".repeat(120);
    std::fs::write(
        dir.path().join("c.yaml"),
        check("long", &format!("/{path}")),
    )
    .unwrap();
    let applied = cli(
        &d,
        dir.path(),
        &["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let list = cli(&d, dir.path(), &["checks", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.stdout.lines().count(), 2, "{}", list.stdout);
    assert!(list.stdout.contains("…"), "{}", list.stdout);
    assert!(!list.stdout.contains(&path), "{}", list.stdout);
    let json = cli(&d, dir.path(), &["checks", "list", "-o", "json"]);
    assert!(json.stdout.contains(&path), "JSON keeps the whole value");
}
