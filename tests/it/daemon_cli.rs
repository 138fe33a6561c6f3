//! The real CLI against the real daemon: the GitOps loop as a CI job runs it.

use crate::daemon_support::Daemon;
use crate::support::{Files, Run};

fn check(name: &str, path: &str) -> String {
    format!(
        "kind: Check\nname: {name}\ntype: http\ntarget: http://127.0.0.1:9{path}\nschedule: 1h\ntimeout: 5s\n"
    )
}

/// `uptimeping SUBCOMMAND -f checks --source repo ARGS…`, as the CI job runs it.
fn repo(d: &Daemon, subcommand: &str, args: &[&str]) -> Run {
    d.cli(d.repo())
        .args([subcommand, "-f", "checks", "--source", "repo"])
        .args(args)
        .run()
}

const NO_CHANGES: &str =
    "No changes. Live state matches the files.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n";

#[test]
fn the_gitops_loop_apply_plan_edit_prune() {
    let d = Daemon::builder()
        .file("checks/api.yaml", &check("api", "/api"))
        .file("checks/web.yaml", &check("web", "/web"))
        .start();

    repo(&d, "apply", &["--auto-approve"])
        .success()
        .stdout_ends_with("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.\n");
    repo(&d, "plan", &["--detailed-exitcode"])
        .success()
        .stdout_is(NO_CHANGES);

    d.write(
        "checks/api.yaml",
        &check("api", "/api").replace("timeout: 5s", "timeout: 8s"),
    );
    repo(&d, "plan", &["--detailed-exitcode"])
        .expect_code(2)
        .stdout_is("  ~ Check api (checks/api.yaml:2)\n      ~ timeout = \"5s\" -> \"8s\"\n\nPlan: 0 to add, 1 to change, 0 to destroy.\n");
    let doc = repo(&d, "plan", &["-o", "json"]).json();
    assert_eq!(
        (
            doc["format_version"].as_u64(),
            doc["summary"]["change"].as_u64(),
            doc["absent"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    repo(&d, "apply", &["--auto-approve"]).success();

    // Another source's check stays when this source prunes.
    let other = Files::new(&[("x.yaml", &check("elsewhere", "/x"))]);
    d.cli(other.path())
        .args([
            "apply",
            "-f",
            "x.yaml",
            "--source",
            "other",
            "--auto-approve",
        ])
        .run()
        .success();

    std::fs::remove_file(d.repo().join("checks/web.yaml")).unwrap();
    // Without --prune the removed file is not deleted, but the plan says so.
    repo(&d, "plan", &["--detailed-exitcode"])
        .success()
        .stdout_is("No changes to the resources in the files.\n\n1 resource of source `repo` is not in the files and stays: `--prune` would delete it.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n");
    let doc = repo(&d, "plan", &["-o", "json"]).json();
    assert_eq!(
        (doc["absent"].as_u64(), doc["summary"]["destroy"].as_u64()),
        (Some(1), Some(0))
    );
    let plan = repo(&d, "plan", &["--prune"]);
    assert_eq!(
        plan.stdout, "  - Check web\n\nPlan: 0 to add, 0 to change, 1 to destroy.\n",
        "with --prune the absent resource is a deletion, not a note: {}",
        plan.stderr
    );
    repo(&d, "apply", &["--prune", "--auto-approve"])
        .stdout_ends_with("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.\n");
    let names: Vec<String> = d
        .run(&["checks", "list", "-o", "json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().into())
        .collect();
    assert_eq!(names, ["api", "elsewhere"]);

    // Without a terminal and without --auto-approve, apply refuses at once.
    d.write("checks/new.yaml", &check("fresh", "/fresh"));
    repo(&d, "apply", &[])
        .expect_code(1)
        .stderr_contains("--auto-approve");
}

/// A daemon with `yaml` applied from `c.yaml` through the CLI.
fn applied(yaml: &str) -> Daemon {
    let d = Daemon::builder().file("c.yaml", yaml).start();
    d.run(&["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"])
        .success();
    d
}

#[test]
fn incidents_are_acknowledged_and_resolved_from_the_cli_with_who_did_it() {
    let port = crate::servers::closed_port();
    let d = applied(&format!(
        "kind: Check\nname: gone\ntype: http\ntarget: http://127.0.0.1:{port}/\nschedule: 1h\nalert: {{failure_threshold: 1}}\n"
    ));
    let run = d.run(&["checks", "run", "gone"]);
    assert_eq!(run.code, 2, "a down check exits 2: {}", run.stderr);
    let list = d.run(&["incidents", "list", "--status", "open", "-o", "json"]);
    let id = list.json()[0]["id"].as_i64().unwrap();
    // Lists print `#N`; every command that takes an id accepts what they print.
    let table = d.run(&["incidents", "list"]);
    assert!(
        table.stdout.contains(&format!("#{id} ")),
        "{}",
        table.stdout
    );
    let shown = d.run(&["incidents", "get", &format!("#{id}")]).success();
    assert!(
        shown.stdout.starts_with(&format!("Incident:     #{id}\n")),
        "{}",
        shown.stdout
    );
    d.run(&["incidents", "get", "#x1"])
        .expect_code(1)
        .stderr_contains("`42` or `#42`");
    let id = format!("#{id}");
    d.run(&["incidents", "ack", &id, "--comment", "on it"])
        .success();
    d.run(&["incidents", "resolve", &id]).success();
    let doc = d.run(&["incidents", "get", &id, "-o", "json"]).json();
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
    let port = crate::servers::closed_port();
    let d = applied(&format!(
        "kind: Channel\nname: dead-hook\ntype: webhook\nwebhook: {{url: \"http://127.0.0.1:{port}/hook\"}}\n"
    ));
    for output in ["table", "json"] {
        let r = d.run(&["channels", "test", "dead-hook", "-o", output]);
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
    let path = "a".repeat(120);
    let d = applied(&check("long", &format!("/{path}")));
    let list = d.run(&["checks", "list"]).success();
    assert_eq!(list.stdout.lines().count(), 2, "{}", list.stdout);
    assert!(list.stdout.contains("…"), "{}", list.stdout);
    assert!(!list.stdout.contains(&path), "{}", list.stdout);
    let json = d.run(&["checks", "list", "-o", "json"]);
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
    let port = crate::servers::closed_port();
    let checks: String = (1..=5)
        .map(|i| format!("kind: Check\nname: c{i}\ntype: http\ntarget: http://127.0.0.1:{port}/\nschedule: 1h\nalert: {{failure_threshold: 1}}\n---\n"))
        .collect();
    let d = applied(&checks);
    for i in 1..=3 {
        d.run(&["checks", "run", &format!("c{i}")]).expect_code(2);
    }
    for _ in 0..2 {
        d.run(&["checks", "run", "c1"]).expect_code(2);
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
    let r = d
        .run(&["incidents", "list", "--limit", "2", "-o", "json"])
        .stderr_contains("showing the first 2; there are more");
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = d.run(&["incidents", "list", "--all", "-o", "json"]);
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert!(!r.stderr.contains("there are more"), "{}", r.stderr);
    let r = d.run(&["checks", "list", "--limit", "4"]);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
    let r = d.run(&["checks", "history", "c1", "--all", "-o", "json"]);
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
    let count = uptimeping::daemon::api::MAX_PAGE as usize + 5;
    let yaml: String = (0..count)
        .map(|i| format!("kind: Channel\nname: hook-{i:05}\ntype: webhook\nwebhook: {{url: \"http://127.0.0.1:9/{i}\"}}\n---\n"))
        .collect();
    let d = applied(&yaml);
    let names: Vec<String> = d
        .run(&["channels", "list", "-o", "json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..count).map(|i| format!("hook-{i:05}")).collect();
    assert_eq!(names, expected);
}
