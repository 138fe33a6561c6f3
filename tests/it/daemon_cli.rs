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

/// GETs `path` with the admin key: status, the next-page cursor, and the body.
fn page(d: &Daemon, path: &str) -> (u16, Option<String>, serde_json::Value) {
    let res = Daemon::client()
        .get(format!("{}{path}", d.url))
        .bearer_auth(&d.key)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    let next = res
        .headers()
        .get("x-next-cursor")
        .map(|v| v.to_str().unwrap().to_string());
    (status, next, res.json().unwrap())
}

/// Every list answers `limit` + `cursor` the same way, following a list page by
/// page gives each item once, and `before` still pages results.
#[test]
fn every_list_pages_with_limit_and_cursor() {
    let d = Daemon::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let port = crate::servers::closed_port();
    let checks: String = (1..=5)
        .map(|i| format!("kind: Check\nname: c{i}\ntype: http\ntarget: http://127.0.0.1:{port}/\nschedule: 1h\nalert: {{failure_threshold: 1}}\n---\n"))
        .collect();
    std::fs::write(dir.path().join("c.yaml"), checks).unwrap();
    let applied = cli(
        &d,
        dir.path(),
        &["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    for i in 1..=3 {
        assert_eq!(
            cli(&d, dir.path(), &["checks", "run", &format!("c{i}")]).code,
            2
        );
    }
    for _ in 0..2 {
        assert_eq!(cli(&d, dir.path(), &["checks", "run", "c1"]).code, 2);
    }

    // Follows `path` two items at a time; returns what `key` says of each item.
    let follow = |path: &str, items: &dyn Fn(&serde_json::Value) -> Vec<serde_json::Value>| {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=2&cursor={c}"),
                None => format!("{path}{sep}limit=2"),
            };
            let (status, next, body) = page(&d, &url);
            assert_eq!(status, 200, "{url}: {body}");
            let these = items(&body);
            assert!(these.len() <= 2, "{url}: {body}");
            got.extend(these);
            match next {
                Some(n) => cursor = Some(n),
                None => return got,
            }
        }
        panic!("{path} did not end");
    };
    let names = follow("/api/v1/checks", &|b| {
        b.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect()
    });
    assert_eq!(names, ["c1", "c2", "c3", "c4", "c5"]);
    let ids = follow("/api/v1/incidents", &|b| {
        b.as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect()
    });
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[0].as_i64() > w[1].as_i64()),
        "newest first, each once: {ids:?}"
    );
    let results = follow("/api/v1/checks/c1/results", &|b| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    });
    assert_eq!(results.len(), 3, "{results:?}");
    // The older parameter still pages results.
    let (_, _, first) = page(&d, "/api/v1/checks/c1/results?limit=1");
    let before = first["next_before"].as_i64().unwrap();
    let (_, _, older) = page(
        &d,
        &format!("/api/v1/checks/c1/results?limit=5&before={before}"),
    );
    assert_eq!(older["items"].as_array().unwrap().len(), 2, "{older}");

    // A cursor of another list, or made up, is refused and says what to do.
    let (_, next, _) = page(&d, "/api/v1/checks?limit=1");
    let (status, _, body) = page(&d, &format!("/api/v1/incidents?cursor={}", next.unwrap()));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-next-cursor")
    );
    let (status, _, _) = page(&d, "/api/v1/channels?cursor=%21%21");
    assert_eq!(status, 400);

    // The CLI: --limit stops early and says so; --all follows to the end.
    let r = cli(
        &d,
        dir.path(),
        &["incidents", "list", "--limit", "2", "-o", "json"],
    );
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    assert!(
        r.stderr.contains("showing the first 2; there are more"),
        "{}",
        r.stderr
    );
    let r = cli(
        &d,
        dir.path(),
        &["incidents", "list", "--all", "-o", "json"],
    );
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert!(!r.stderr.contains("there are more"), "{}", r.stderr);
    let r = cli(&d, dir.path(), &["checks", "list", "--limit", "4"]);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
    let r = cli(
        &d,
        dir.path(),
        &["checks", "history", "c1", "--all", "-o", "json"],
    );
    assert_eq!(
        r.json()["items"].as_array().unwrap().len(),
        3,
        "{}",
        r.stdout
    );
}

/// More channels than one page holds: the CLI follows the cursor and lists each once.
#[test]
fn channels_list_follows_the_pages_of_a_long_list() {
    let d = Daemon::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let count = uptimeping::daemon::api::MAX_PAGE as usize + 5;
    let yaml: String = (0..count)
        .map(|i| format!("kind: Channel\nname: hook-{i:05}\ntype: webhook\nwebhook: {{url: \"http://127.0.0.1:9/{i}\"}}\n---\n"))
        .collect();
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    let applied = cli(
        &d,
        dir.path(),
        &["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let r = cli(&d, dir.path(), &["channels", "list", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..count).map(|i| format!("hook-{i:05}")).collect();
    assert_eq!(names, expected);
}
