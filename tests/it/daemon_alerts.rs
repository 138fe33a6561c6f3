//! Alerts through the daemon: a webhook receiver on 127.0.0.1 gets exactly the
//! notifications an outage causes, also across a daemon killed with SIGKILL.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::json;

use crate::daemon_support::{Daemon, Receiver, Target, plan_request, wait_for};

fn setup(target: &Target, hook: &Receiver) -> String {
    format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{channels: [ops-hook], failure_threshold: 2}}\n---\nkind: Channel\nname: ops-hook\ntype: webhook\nwebhook: {{url: \"{}\", secret: hush}}\n",
        target.url(),
        hook.url()
    )
}

#[test]
pub(crate) fn an_outage_sends_exactly_one_opened_and_one_resolved() {
    let d = Daemon::start(&[]);
    let (target, hook) = (Target::start(), Receiver::start());
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &setup(&target, &hook), json!({})),
    );
    target.set_healthy(false);
    for _ in 0..4 {
        d.run_check("shop");
    }
    target.set_healthy(true);
    for _ in 0..3 {
        d.run_check("shop");
    }
    wait_for("opened and resolved", || {
        (hook.hooks().len() >= 2).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(hook.events(), ["opened", "resolved"]);
    let hooks = hook.hooks();
    assert_eq!(hooks[0].body["check"]["name"], "shop");
    assert_eq!(hooks[0].body["incident"]["status_code"], 503);
    assert!(
        hooks[0]
            .headers
            .get("x-uptimeping-signature")
            .is_some_and(|v| v.to_str().unwrap().starts_with("sha256="))
    );
    assert_ne!(
        hooks[0].headers["idempotency-key"],
        hooks[1].headers["idempotency-key"]
    );
    // The incident's notification log shows both as sent.
    let id = hooks[0].body["incident"]["id"].as_i64().unwrap();
    let detail = d.get(&format!("/api/v1/incidents/{id}"));
    let log: Vec<(&str, &str)> = detail["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["event"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(log, [("opened", "sent"), ("resolved", "sent")]);
}

#[test]
pub(crate) fn a_daemon_killed_before_delivery_delivers_after_restart_once_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (target, hook) = (Target::start(), Receiver::start());
    hook.failing.store(true, Ordering::SeqCst);
    let d = Daemon::start_on(&data, &[]);
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &setup(&target, &hook), json!({})),
    );
    target.set_healthy(false);
    d.run_check("shop");
    d.run_check("shop");
    target.set_healthy(true);
    d.run_check("shop");
    let incident = d.get("/api/v1/incidents")[0].clone();
    assert_eq!(incident["status"], "resolved");
    // Both notifications are in the outbox, not delivered: the receiver refuses them.
    d.kill9();
    assert!(hook.hooks().is_empty());

    hook.failing.store(false, Ordering::SeqCst);
    let d = Daemon::start_on(&data, &[]);
    wait_for("both notifications after the restart", || {
        (hook.hooks().len() >= 2).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        hook.events_by_key(),
        [vec!["opened".to_string()], vec!["resolved".to_string()]],
        "each key exactly once"
    );
    drop(d);
}

#[test]
pub(crate) fn channels_test_sends_a_real_message_and_reports_the_outcome() {
    let d = Daemon::start(&[]);
    let (target, hook) = (Target::start(), Receiver::start());
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &setup(&target, &hook), json!({})),
    );
    let sent = d.post("/api/v1/channels/ops-hook/test", &json!({}));
    assert_eq!(
        (sent["status"].as_str(), sent["event"].as_str()),
        (Some("sent"), Some("test"))
    );
    assert_eq!(hook.events(), ["test"]);
    hook.failing.store(true, Ordering::SeqCst);
    let failed = d.post("/api/v1/channels/ops-hook/test", &json!({}));
    assert_eq!(failed["status"], "pending", "a 500 is retried later");
    assert_eq!(failed["last_error"], "webhook: HTTP 500");
    let list = d.get("/api/v1/channels");
    assert_eq!(
        (
            list[0]["name"].as_str(),
            list[0]["sent"].as_u64(),
            list[0]["pending"].as_u64()
        ),
        (Some("ops-hook"), Some(1), Some(1))
    );
    let (status, body) = d.call("POST", "/api/v1/channels/nope/test", None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[test]
pub(crate) fn a_daemon_killed_mid_burst_sends_the_rest_after_restart_once_per_key() {
    const CHECKS: usize = 500;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (target, hook) = (Target::start(), Receiver::start());
    target.set_healthy(false);
    let mut yaml = format!(
        "kind: Channel\nname: ops-hook\ntype: webhook\nrate_limit: 100/s\nwebhook: {{url: \"{}\"}}\n",
        hook.url()
    );
    for i in 0..CHECKS {
        yaml.push_str(&format!(
            "---\nkind: Check\nname: svc-{i:03}\ntype: http\ntarget: {}\nschedule: 5s\ntimeout: 2s\nalert: {{channels: [ops-hook], failure_threshold: 1}}\n",
            target.url()
        ));
    }
    let d = Daemon::start_on(&data, &[]);
    d.apply("repo", &yaml);
    // Killed while the rate limit still holds most of the burst in the outbox.
    wait_for("the burst under way", || {
        (hook.hooks().len() >= 150).then_some(())
    });
    d.kill9();
    let before = hook.hooks().len();
    assert!(before < CHECKS, "killed mid-burst: {before} sent");

    let d = Daemon::start_on(&data, &[]);
    let keys = |hooks: &[crate::daemon_support::Hook]| -> BTreeMap<String, usize> {
        let mut per_key = BTreeMap::new();
        for h in hooks {
            *per_key
                .entry(h.headers["idempotency-key"].to_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
        per_key
    };
    wait_for("every incident's message after the restart", || {
        (keys(&hook.hooks()).len() >= CHECKS).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let hooks = hook.hooks();
    let per_key = keys(&hooks);
    assert_eq!(per_key.len(), CHECKS, "one message per incident");
    assert!(hooks.iter().all(|h| h.body["event"] == "opened"));
    // Only a message in flight at the moment of the kill can arrive twice (the
    // receiver drops it by its key): at most one per concurrent delivery.
    let repeated = hooks.len() - CHECKS;
    eprintln!("killed after {before} of {CHECKS} sent; {repeated} sent again after the restart");
    assert!(
        repeated <= uptimeping::daemon::notify::CONCURRENCY,
        "{repeated} repeated"
    );
    let incidents = d.get("/api/v1/incidents?limit=1000");
    assert_eq!(incidents.as_array().unwrap().len(), CHECKS);
    drop(d);
}

#[test]
pub(crate) fn a_maintenance_window_applied_from_files_holds_alerts_but_not_results() {
    let d = Daemon::start(&[]);
    let (target, hook) = (Target::start(), Receiver::start());
    let now = chrono::Utc::now();
    let window = format!(
        "---\nkind: Maintenance\nname: deploy\ndescription: release 4.2\nchecks: [shop]\nstart: {}\nend: {}\n",
        (now - chrono::Duration::minutes(1)).to_rfc3339(),
        (now + chrono::Duration::hours(1)).to_rfc3339()
    );
    let yaml = format!("{}{window}", setup(&target, &hook));
    let plan = d.post("/api/v1/plan", &plan_request("repo", &yaml, json!({})));
    let created: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        created.contains(&"Maintenance deploy".to_string()),
        "{created:?}"
    );
    d.apply("repo", &yaml);

    target.set_healthy(false);
    for _ in 0..3 {
        d.run_check("shop");
    }
    let detail = d.get("/api/v1/checks/shop");
    assert_eq!(detail["alerts_held"], "maintenance `deploy`");
    assert_eq!(detail["state"], "down");
    let incident = d.get("/api/v1/incidents")[0].clone();
    let id = incident["id"].as_i64().unwrap();
    let kinds: Vec<String> = d
        .get(&format!("/api/v1/incidents/{id}/events"))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["opened", "held"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(hook.hooks().is_empty(), "no alert inside the window");

    // Removing the window releases the alert for the outage that is still on.
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &setup(&target, &hook), json!({"prune": true})),
    );
    wait_for("the held alert released", || {
        (!hook.hooks().is_empty()).then_some(())
    });
    assert_eq!(hook.events(), ["opened"]);
}
