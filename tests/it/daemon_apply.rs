//! plan/apply through the API: one diff, canonical form, ownership, saved-plan
//! revisions, secrets, atomicity.

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, plan_request};

const TWO_CHECKS: &str = "\
kind: Check
name: api
type: http
target: http://127.0.0.1:9/health
schedule: 1h
timeout: 5s
http:
  headers: {authorization: \"Bearer s3cret-token\"}
---
kind: Check
name: web
type: http
target: http://127.0.0.1:9/
schedule: 1h
";

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
pub(crate) fn plan_after_apply_is_empty_and_an_edit_names_the_field() {
    let d = Daemon::start(&[]);
    let plan = d.post("/api/v1/plan", &plan_request("repo", TWO_CHECKS, json!({})));
    assert_eq!(plan["format_version"], 1);
    assert_eq!(
        plan["summary"],
        json!({"add": 2, "change": 0, "destroy": 0})
    );
    assert_eq!(
        actions(&plan),
        [
            ("create".into(), "api".into()),
            ("create".into(), "web".into())
        ]
    );
    assert_eq!(plan["changes"][0]["file"], "test.yaml");
    assert_eq!(plan["changes"][0]["line"], 2);

    let applied = d.apply("repo", TWO_CHECKS);
    assert_eq!(applied["state_revision"], 1);
    let again = d.post("/api/v1/plan", &plan_request("repo", TWO_CHECKS, json!({})));
    assert_eq!(
        again["changes"],
        json!([]),
        "plan right after apply must be empty"
    );
    assert_eq!(again["state_revision"], 1);
    // Applying nothing new does not move the revision.
    assert_eq!(d.apply("repo", TWO_CHECKS)["state_revision"], 1);

    let edited = TWO_CHECKS.replace("timeout: 5s", "timeout: 7s");
    let plan = d.post("/api/v1/plan", &plan_request("repo", &edited, json!({})));
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 1, "destroy": 0})
    );
    assert_eq!(
        plan["changes"][0]["fields"],
        json!([{"path": "timeout", "before": "5s", "after": "7s"}])
    );
}

#[test]
pub(crate) fn prune_deletes_only_this_sources_resources_and_others_are_conflicts() {
    let d = Daemon::start(&[]);
    d.apply("repo", TWO_CHECKS);
    let theirs =
        "kind: Check\nname: theirs\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\n";
    d.apply("other-repo", theirs);

    let only_api = TWO_CHECKS.split("---").next().unwrap();
    let plan = d.post(
        "/api/v1/apply",
        &plan_request("repo", only_api, json!({"prune": true})),
    )["plan"]
        .clone();
    assert_eq!(actions(&plan), [("delete".into(), "web".into())]);
    let names: Vec<String> = d
        .get("/api/v1/checks")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().into())
        .collect();
    assert_eq!(names, ["api", "theirs"]);

    // Another source's resource is a conflict, unless taken over.
    let (status, body) = d.call(
        "POST",
        "/api/v1/plan",
        Some(&plan_request("repo", theirs, json!({}))),
    );
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(
        body["error"]["details"][0],
        "Check `theirs` belongs to source `other-repo`; apply it from there, or pass --take-over to move it to `repo`"
    );
    let plan = d.post(
        "/api/v1/plan",
        &plan_request("repo", theirs, json!({"take_over": true})),
    );
    assert_eq!(
        plan["changes"][0]["fields"],
        json!([{"path": "(source)", "before": "other-repo", "after": "repo"}])
    );
}

#[test]
pub(crate) fn an_empty_input_never_prunes_everything_without_allow_empty() {
    let d = Daemon::start(&[]);
    d.apply("repo", TWO_CHECKS);
    let (status, body) = d.call(
        "POST",
        "/api/v1/apply",
        Some(&plan_request("repo", "", json!({"prune": true}))),
    );
    assert_eq!(status, 409);
    assert!(
        body["error"]["details"][0]
            .as_str()
            .unwrap()
            .contains("--allow-empty"),
        "{body}"
    );
    assert_eq!(d.get("/api/v1/checks").as_array().unwrap().len(), 2);
    let res = d.post(
        "/api/v1/apply",
        &plan_request("repo", "", json!({"prune": true, "allow_empty": true})),
    );
    assert_eq!(res["plan"]["summary"]["destroy"], 2);
}

#[test]
pub(crate) fn a_saved_plan_is_refused_once_the_state_moved() {
    let d = Daemon::start(&[]);
    let plan = d.post("/api/v1/plan", &plan_request("repo", TWO_CHECKS, json!({})));
    let rev = plan["state_revision"].as_u64().unwrap();
    // Someone else applies in between.
    d.post(
        "/api/v1/apply",
        &plan_request(
            "other",
            "kind: Check\nname: x\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\n",
            json!({}),
        ),
    );
    let (status, body) = d.call(
        "POST",
        "/api/v1/apply",
        Some(&plan_request(
            "repo",
            TWO_CHECKS,
            json!({"expected_revision": rev}),
        )),
    );
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "revision_moved");
    assert_eq!(
        body["error"]["message"],
        "the state moved from revision 0 to 1 since the plan was made; make a new plan"
    );
    let fresh = d.post("/api/v1/plan", &plan_request("repo", TWO_CHECKS, json!({})));
    d.post(
        "/api/v1/apply",
        &plan_request(
            "repo",
            TWO_CHECKS,
            json!({"expected_revision": fresh["state_revision"]}),
        ),
    );
}

#[test]
pub(crate) fn secrets_never_come_back_but_a_changed_secret_shows_as_changed() {
    let d = Daemon::start(&[]);
    let plan = d.post("/api/v1/plan", &plan_request("repo", TWO_CHECKS, json!({})));
    assert!(!plan.to_string().contains("s3cret-token"), "{plan}");
    assert_eq!(
        plan["changes"][0]["after"]["http"]["headers"]["authorization"],
        "(sensitive value)"
    );
    d.apply("repo", TWO_CHECKS);
    let got = d.get("/api/v1/checks/api");
    assert_eq!(
        got["spec"]["http"]["headers"]["authorization"],
        "(sensitive value)"
    );
    let rotated = TWO_CHECKS.replace("s3cret-token", "n3w-token");
    let plan = d.post("/api/v1/plan", &plan_request("repo", &rotated, json!({})));
    assert_eq!(
        plan["changes"][0]["fields"],
        json!([{"path": "http.headers.authorization", "before": "(sensitive value)", "after": "(sensitive value)", "sensitive": true}])
    );
    let all = format!("{plan}{}", d.logs());
    assert!(!all.contains("n3w-token") && !all.contains("s3cret-token"));
}

#[test]
pub(crate) fn apply_is_all_or_nothing() {
    let d = Daemon::start(&[]);
    // The second resource is invalid (schedule under the minimum): nothing is applied.
    let mut req = plan_request("repo", TWO_CHECKS, json!({}));
    req["resources"][1]["spec"]["schedule"] = json!("1s");
    let (status, body) = d.call("POST", "/api/v1/apply", Some(&req));
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"][0],
        "Check `web`: `schedule`: `1s` runs every 1s, more often than the minimum of 5s"
    );
    assert_eq!(d.get("/api/v1/checks"), json!([]));
    // A reference to a channel that would not exist fails the whole apply too.
    let dangling = format!(
        "{TWO_CHECKS}---\nkind: Check\nname: alerting\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\nalert: {{channels: [pager]}}\n---\nkind: Channel\nname: pager\ntype: webhook\nwebhook: {{url: http://127.0.0.1:9/hook}}\n"
    );
    let mut req = plan_request("repo", &dangling, json!({}));
    req["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["kind"] != "Channel");
    let (status, body) = d.call("POST", "/api/v1/apply", Some(&req));
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"][0],
        "Check `alerting`: `alert.channels` names Channel `pager`, which would not exist"
    );
    assert_eq!(d.get("/api/v1/checks"), json!([]));
}

#[test]
pub(crate) fn a_saved_plan_made_for_one_tenant_is_refused_by_another() {
    let d = Daemon::start(&[]);
    let created = d.post("/api/v1/tenants", &json!({"name": "team-b"}));
    let key_b = created["api_key"].as_str().unwrap().to_string();
    // Both tenants are at revision 0: only the tenant tells the plans apart.
    let plan = d.post("/api/v1/plan", &plan_request("repo", TWO_CHECKS, json!({})));
    assert_eq!(plan["state_revision"], 0);
    let request = plan_request(
        "repo",
        TWO_CHECKS,
        json!({"expected_revision": 0, "expected_tenant": plan["tenant"]}),
    );
    let (status, body) = d.call_as(&key_b, "POST", "/api/v1/apply", Some(&request));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "wrong_tenant");
    let (_, listed) = d.call_as(&key_b, "GET", "/api/v1/checks", None);
    assert_eq!(listed, json!([]), "nothing applied to the other tenant");
    // The tenant it was made for takes it.
    let (status, _) = d.call("POST", "/api/v1/apply", Some(&request));
    assert_eq!(status, 200);
}

/// An apply fills each write's `after` from the spec it stored, not from a copy
/// made while planning: what it answers must still be the plan, secrets masked.
#[test]
pub(crate) fn an_apply_answers_with_the_changes_its_plan_showed_secrets_masked() {
    let d = Daemon::start(&[]);
    let edited = TWO_CHECKS.replace("timeout: 5s", "timeout: 7s");
    for yaml in [TWO_CHECKS, edited.as_str()] {
        let plan = d.post("/api/v1/plan", &plan_request("repo", yaml, json!({})));
        let applied = d.post("/api/v1/apply", &plan_request("repo", yaml, json!({})));
        assert!(!applied.to_string().contains("s3cret-token"), "{applied}");
        assert_eq!(applied["plan"]["changes"], plan["changes"], "{applied:#}");
        let api = &applied["plan"]["changes"][0];
        assert_eq!(api["name"], "api");
        assert_eq!(
            api["after"]["http"]["headers"]["authorization"],
            "(sensitive value)"
        );
        assert_eq!(
            api["after"]["timeout"],
            plan["changes"][0]["after"]["timeout"]
        );
    }
}
