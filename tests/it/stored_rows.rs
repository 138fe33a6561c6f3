//! Stored resources that the daemon cannot read back — a row another version
//! wrote, a restore, a hand edit — are named loudly and hide nothing else; and
//! what the daemon stores it can always show.

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, plan_request};

const RESOURCES: &str = "\
kind: Check
name: api
type: http
target: http://127.0.0.1:9/health
schedule: 1h
---
kind: Check
name: web
type: http
target: http://127.0.0.1:9/
schedule: 1h
---
kind: Channel
name: hook
type: webhook
webhook: {url: \"http://127.0.0.1:9/hook\"}
";

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect()
}

/// Spoils rows of tenant 1 in the daemon's own SQLite file, as the daemon runs.
fn spoil(d: &Daemon, statements: &[&str]) {
    let db = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).expect("open db");
    db.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    for s in statements {
        db.execute(s, []).expect("spoil a row");
    }
}

#[test]
fn a_row_that_cannot_be_read_is_named_by_the_api_and_the_log_and_an_apply_mends_it() {
    let d = Daemon::start(&[]);
    d.post("/api/v1/apply", &plan_request("repo", RESOURCES, json!({})));
    spoil(
        &d,
        &[
            // A field gone, as a later version's rename would leave it.
            "UPDATE resources SET spec = json_remove(spec, '$.target') WHERE kind = 'Check' AND name = 'web'",
            // A type this version does not know.
            "UPDATE resources SET spec = json_set(spec, '$.type', 'pigeon') WHERE kind = 'Channel' AND name = 'hook'",
            // Not JSON at all, and no longer in the files.
            "INSERT INTO resources (tenant_id, kind, name, spec, secrets, source, updated_at)
             VALUES (1, 'Check', 'old', '{\"kind\": \"Check\", \"na', '[]', 'repo', 0)",
            // A kind this version does not know.
            "INSERT INTO resources (tenant_id, kind, name, spec, secrets, source, updated_at)
             VALUES (1, 'Gadget', 'g', '{}', '[]', 'repo', 0)",
        ],
    );

    // The one asked for is an error that names it and says what to do.
    let (status, body) = d.call("GET", "/api/v1/checks/web", None);
    assert_eq!(status, 500, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("Check `web`")
            && message.contains("target")
            && message.contains("apply it again"),
        "{body}"
    );
    let (status, body) = d.call("GET", "/api/v1/channels/hook", None);
    assert_eq!(
        status, 500,
        "an unreadable channel is not `no such channel`: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("Channel `hook`"),
        "{body}"
    );
    // The others are served as before.
    assert_eq!(names(&d.get("/api/v1/checks")), ["api"]);
    assert_eq!(d.get("/api/v1/checks/api")["name"], "api");
    // The log names each, with its kind and why.
    let line = d.wait_log("Check `web`");
    assert!(line.contains("a stored resource cannot be read"), "{line}");
    // And counts them.
    let metrics = Daemon::client()
        .get(format!("{}/metrics", d.url))
        .send()
        .and_then(|r| r.text())
        .expect("metrics");
    let counted = metrics
        .lines()
        .find(|l| {
            l.starts_with("uptime_service_errors_total{")
                && l.contains("type=\"unreadable_resource\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no count of unreadable rows in:\n{metrics}"));
    assert!(counted >= 2.0, "{counted}");

    // A plan names what stays unreadable; an apply of the files replaces the rest,
    // and prunes the one that is gone from them. A row of an unknown kind is no
    // check to prune.
    let prune = json!({"prune": true});
    let plan = d.post(
        "/api/v1/plan",
        &plan_request("repo", RESOURCES, prune.clone()),
    );
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 2, "destroy": 1}),
        "{plan}"
    );
    let destroyed: Vec<&Value> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| &c["name"])
        .collect();
    assert_eq!(destroyed, [&json!("old")], "{plan}");
    let diagnostics = plan["diagnostics"].to_string();
    assert!(
        diagnostics.contains("`g`") && diagnostics.contains("unknown kind `Gadget`"),
        "{plan}"
    );
    assert!(
        !diagnostics.contains("`web`"),
        "the plan replaces `web`: {plan}"
    );
    d.wait_log("unknown kind `Gadget`");
    let applied = d.post("/api/v1/apply", &plan_request("repo", RESOURCES, prune));
    assert_eq!(applied["plan"]["summary"]["change"], 2, "{applied}");
    assert_eq!(names(&d.get("/api/v1/checks")), ["api", "web"]);
    assert_eq!(d.get("/api/v1/channels/hook")["name"], "hook");
}

#[test]
fn a_check_with_settings_from_variables_is_listed_with_them_masked() {
    let d = Daemon::start(&[]);
    let mut req = plan_request("repo", RESOURCES, json!({}));
    // As `schedule: ${SCHEDULE}` and `labels: {team: ${TEAM}}` send them: the
    // values are secret, whatever their type.
    req["resources"][0]["sensitive"] = json!(["/schedule", "/labels/team"]);
    req["resources"][0]["spec"]["labels"] = json!({"team": "payments", "tier": "1"});
    d.post("/api/v1/apply", &req);
    let list = d.get("/api/v1/checks");
    assert_eq!(names(&list), ["api", "web"], "{list}");
    let api = &list[0];
    assert_eq!(api["schedule"], "(sensitive value)");
    assert_eq!(
        api["labels"],
        json!({"team": "(sensitive value)", "tier": "1"})
    );
    let one = d.get("/api/v1/checks/api");
    assert_eq!(one["schedule"], "(sensitive value)", "{one}");
    assert_eq!(one["spec"]["schedule"], "(sensitive value)", "{one}");
}
