//! Scheduling and incidents on a real daemon: runs on their own, pause and resume,
//! run now, incidents opening and resolving with events, escalation.

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Target, plan_request, wait_for};

fn results(d: &Daemon, name: &str) -> usize {
    d.get(&format!("/api/v1/checks/{name}/results?limit=1000"))["items"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
pub(crate) fn a_check_runs_on_its_schedule_and_pause_and_resume_take_effect_at_once() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    let yaml = format!(
        "kind: Check\nname: steady\ntype: http\ntarget: {}\nschedule: 5s\ntimeout: 2s\n",
        target.url()
    );
    d.apply("repo", &yaml);
    // The first run comes within one interval (jittered), the next one interval later.
    wait_for("two scheduled runs", || {
        (results(&d, "steady") >= 2).then_some(())
    });
    let status = d.get("/api/v1/checks/steady/status");
    assert_eq!(status["state"], "up");
    assert!(status["next_run_at"].is_string(), "{status}");

    let paused = d.post("/api/v1/checks/steady/pause", &json!({}));
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["next_run_at"], Value::Null);
    let before = results(&d, "steady");
    // A check of the same interval applied after the pause runs twice: an interval
    // of the paused check has passed since, in which it would have run.
    let witness = format!(
        "kind: Check\nname: witness\ntype: http\ntarget: {}\nschedule: 5s\ntimeout: 2s\n",
        target.url()
    );
    d.post(
        "/api/v1/apply",
        &plan_request("witness", &witness, json!({})),
    );
    wait_for("two runs of a check applied after the pause", || {
        (results(&d, "witness") >= 2).then_some(())
    });
    assert_eq!(results(&d, "steady"), before, "a paused check must not run");

    d.post("/api/v1/checks/steady/resume", &json!({}));
    wait_for("a run after resume", || {
        (results(&d, "steady") > before).then_some(())
    });
}

#[test]
pub(crate) fn an_incident_opens_after_the_threshold_and_resolves_with_every_step_recorded() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    let yaml = format!(
        "kind: Check\nname: flappy\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{failure_threshold: 2, success_threshold: 2, severity: warning}}\n",
        target.url()
    );
    d.apply("repo", &yaml);
    target.set_healthy(false);
    let run = d.run_check("flappy");
    assert_eq!(
        (run["up"].as_bool(), run["status_code"].as_u64()),
        (Some(false), Some(503))
    );
    assert_eq!(
        d.get("/api/v1/incidents"),
        json!([]),
        "one failure is below the threshold"
    );
    d.run_check("flappy");
    d.run_check("flappy");
    let incidents = d.get("/api/v1/incidents?status=open");
    assert_eq!(
        incidents.as_array().unwrap().len(),
        1,
        "one open incident per check"
    );
    let inc = &incidents[0];
    assert_eq!(
        (
            inc["check"].as_str(),
            inc["severity"].as_str(),
            inc["count"].as_u64(),
            inc["status_code"].as_u64()
        ),
        (Some("flappy"), Some("warning"), Some(3), Some(503))
    );
    assert_eq!(inc["error"], "status: expected 2xx, got 503");
    let id = inc["id"].as_i64().unwrap();

    let acked = d.post(
        &format!("/api/v1/incidents/{id}/ack"),
        &json!({"comment": "looking"}),
    );
    assert_eq!(acked["status"], "acknowledged");
    assert!(
        acked["acknowledged_by"]
            .as_str()
            .unwrap()
            .starts_with("key:bootstrap-admin(")
    );
    let (status, body) = d.call("POST", &format!("/api/v1/incidents/{id}/ack"), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    target.set_healthy(true);
    d.run_check("flappy");
    assert_eq!(
        d.get(&format!("/api/v1/incidents/{id}"))["status"],
        "acknowledged",
        "one success is below the threshold"
    );
    d.run_check("flappy");
    let detail = d.get(&format!("/api/v1/incidents/{id}"));
    assert_eq!(
        (detail["status"].as_str(), detail["resolved_by"].as_str()),
        (Some("resolved"), Some("system"))
    );
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opened", "acknowledged", "resolved"]);
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["at"].is_string())
    );
    assert_eq!(detail["events"][1]["detail"]["comment"], "looking");
}

#[test]
pub(crate) fn a_changed_failure_is_an_event_of_the_same_incident() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    let yaml = format!(
        "kind: Check\nname: shifting\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{failure_threshold: 1}}\n",
        target.url()
    );
    d.apply("repo", &yaml);
    target.set_healthy(false);
    d.run_check("shifting");
    // Same target, now refusing connections: another failure signature.
    let moved = yaml.replace(
        &target.url(),
        &format!("http://127.0.0.1:{}/health", crate::servers::closed_port()),
    );
    d.apply("repo", &moved);
    d.run_check("shifting");
    let incidents = d.get("/api/v1/incidents");
    assert_eq!(incidents.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            incidents[0]["count"].as_u64(),
            incidents[0]["error"].as_str()
        ),
        (Some(2), Some("connection refused"))
    );
    let events = d.get(&format!("/api/v1/incidents/{}/events", incidents[0]["id"]));
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opened", "signature_changed"]);
    assert_eq!(events[1]["detail"]["from"]["status_code"], 503);
    assert_eq!(events[1]["detail"]["to"]["error"], "connection refused");
}

#[test]
pub(crate) fn severity_steps_up_while_an_incident_stays_open() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    target.set_healthy(false);
    let yaml = format!(
        "kind: Check\nname: stuck\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{failure_threshold: 1, severity: warning, escalate_after: 1s}}\n",
        target.url()
    );
    d.apply("repo", &yaml);
    d.run_check("stuck");
    let inc = wait_for("escalation to critical", || {
        let list = d.get("/api/v1/incidents");
        (list[0]["severity"] == "critical").then(|| list[0].clone())
    });
    let events = d.get(&format!("/api/v1/incidents/{}/events", inc["id"]));
    let steps: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "escalated")
        .map(|e| {
            (
                e["detail"]["from"].as_str().unwrap().into(),
                e["detail"]["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("warning".into(), "error".into()),
            ("error".into(), "critical".into())
        ]
    );
}

#[test]
pub(crate) fn removing_a_check_resolves_its_open_incident() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    target.set_healthy(false);
    let yaml = format!(
        "kind: Check\nname: retired\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{failure_threshold: 1}}\n",
        target.url()
    );
    d.apply("repo", &yaml);
    d.run_check("retired");
    assert_eq!(
        d.get("/api/v1/incidents?status=open")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    d.post(
        "/api/v1/apply",
        &plan_request("repo", "", json!({"prune": true, "allow_empty": true})),
    );
    let all = d.get("/api/v1/incidents");
    assert_eq!(
        (all[0]["status"].as_str(), all[0]["resolved_by"].as_str()),
        (Some("resolved"), Some("system"))
    );
    let events = d.get(&format!("/api/v1/incidents/{}/events", all[0]["id"]));
    assert_eq!(events[1]["detail"]["reason"], "check removed");
}
