//! Status pages through plan and apply on a real daemon: addresses unique across
//! tenants, checks that must exist in the tenant, prune, and the access token
//! never printed.

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, plan_request};

fn check(name: &str) -> String {
    format!("kind: Check\nname: {name}\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\n")
}

fn page(name: &str, slug: &str, domain: &str, checks: &str) -> String {
    format!(
        "kind: StatusPage\nname: {name}\ntitle: Status\nslug: {slug}\ndomain: {domain}\ngroups: [{{name: All, checks: [{checks}]}}]\n"
    )
}

/// The plan request of `yaml`'s pages alone: a client may send a page without
/// the checks it names, which the library's loading would refuse.
fn pages_only(source: &str, yaml: &str, extra: Value) -> Value {
    let mut req = plan_request(source, &format!("{}---\n{yaml}", check("web")), extra);
    if let Some(Value::Array(resources)) = req.get_mut("resources") {
        resources.retain(|r| r["kind"] == "StatusPage");
    }
    req
}

fn details(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|s| s.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_slug_or_a_domain_belongs_to_one_page_of_the_whole_daemon() {
    let d = Daemon::start(&[]);
    let key_b = d.post("/api/v1/tenants", &json!({"name": "team-b"}))["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let ours = format!(
        "{}---\n{}",
        check("web"),
        page("public", "example", "status.example.com", "web")
    );
    d.apply("repo", &ours);

    // The other tenant may not take either address, by plan or by apply, and is
    // not told whose page holds it.
    for (yaml, field, value) in [
        (
            page("mine", "example", "status.b.example.com", "web"),
            "slug",
            "example",
        ),
        (
            page("mine", "b", "status.example.com", "web"),
            "domain",
            "status.example.com",
        ),
    ] {
        let yaml = format!("{}---\n{yaml}", check("web"));
        for route in ["/api/v1/plan", "/api/v1/apply"] {
            let (status, body) = d.call_as(
                &key_b,
                "POST",
                route,
                Some(&plan_request("b", &yaml, json!({}))),
            );
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (409, Some("conflict")),
                "{body}"
            );
            assert_eq!(
                details(&body),
                [format!(
                    "StatusPage `mine`: `{field}` `{value}` is taken by a page of another tenant; choose another"
                )]
            );
            let text = body.to_string();
            assert!(
                !text.contains("public") && !text.contains("default"),
                "{text}"
            );
        }
    }
    let (_, checks) = d.call_as(&key_b, "GET", "/api/v1/checks", None);
    assert_eq!(checks, json!([]), "a refused apply applies nothing");

    // Addresses of their own are fine.
    let theirs = format!(
        "{}---\n{}",
        check("web"),
        page("mine", "b", "status.b.example.com", "web")
    );
    let (status, body) = d.call_as(
        &key_b,
        "POST",
        "/api/v1/apply",
        Some(&plan_request("b", &theirs, json!({}))),
    );
    assert_eq!(status, 200, "{body}");

    // Within a tenant, a page of another source cannot take them either; the
    // tenant's own page is named.
    let (status, body) = d.call(
        "POST",
        "/api/v1/apply",
        Some(&pages_only(
            "other-repo",
            &page("second", "example", "other.example.com", "web"),
            json!({}),
        )),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        details(&body),
        [
            "StatusPage `second`: `slug` `example` is also the slug of StatusPage `public`; each page needs its own"
        ]
    );

    // Once the first tenant's page moves, the old slug is free for the other.
    let moved = ours.replace("slug: example", "slug: example-new");
    d.apply("repo", &moved);
    let taken = format!(
        "{}---\n{}",
        check("web"),
        page("mine", "example", "status.b.example.com", "web")
    );
    let (status, body) = d.call_as(
        &key_b,
        "POST",
        "/api/v1/apply",
        Some(&plan_request("b", &taken, json!({}))),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_page_needs_its_checks_in_the_tenant_and_keeps_them_until_it_goes() {
    let d = Daemon::start(&[]);
    let key_b = d.post("/api/v1/tenants", &json!({"name": "team-b"}))["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &check("web"), json!({})),
    );
    // Another tenant's check of that name does not count: the page sends only
    // the page, as a client may.
    let req = pages_only(
        "b",
        &page("p", "b-page", "status.b.example.com", "web"),
        json!({}),
    );
    let (status, body) = d.call_as(&key_b, "POST", "/api/v1/apply", Some(&req));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid")),
        "{body}"
    );
    assert_eq!(
        details(&body),
        ["StatusPage `p`: `groups.checks` names Check `web`, which would not exist"]
    );

    // A check that a page names cannot go while the page stays, as for maintenance.
    let both = format!(
        "{}---\n{}",
        check("web"),
        page("p", "a-page", "status.a.example.com", "web")
    );
    d.apply("repo", &both);
    let page_only = page("p", "a-page", "status.a.example.com", "web");
    let (status, body) = d.call(
        "POST",
        "/api/v1/apply",
        Some(&pages_only("repo", &page_only, json!({"prune": true}))),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        details(&body),
        ["StatusPage `p`: `groups.checks` names Check `web`, which would not exist"]
    );
}

#[test]
fn prune_removes_a_page_that_left_the_files() {
    let d = Daemon::builder()
        .file("checks/web.yaml", &check("web"))
        .file(
            "checks/page.yaml",
            &page("public", "example", "status.example.com", "web"),
        )
        .start();
    d.cli(d.repo())
        .words("apply -f checks --auto-approve --source repo")
        .run()
        .success();
    std::fs::remove_file(d.repo().join("checks/page.yaml")).unwrap();
    let plan = d
        .cli(d.repo())
        .words("plan -f checks --prune --source repo -o json")
        .run()
        .success();
    let plan = plan.json();
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 0, "destroy": 1})
    );
    assert_eq!(
        (
            plan["changes"][0]["kind"].as_str(),
            plan["changes"][0]["name"].as_str()
        ),
        (Some("StatusPage"), Some("public"))
    );
    d.cli(d.repo())
        .words("apply -f checks --prune --auto-approve --source repo")
        .run()
        .success();
    let again = d
        .cli(d.repo())
        .words("plan -f checks --prune --source repo -o json")
        .run();
    assert_eq!(
        again.json()["summary"],
        json!({"add": 0, "change": 0, "destroy": 0})
    );
    // Its slug is free again, for another tenant too.
    let key_b = d.post("/api/v1/tenants", &json!({"name": "team-b"}))["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = format!(
        "{}---\n{}",
        check("web"),
        page("x", "example", "status.example.com", "web")
    );
    let (status, body) = d.call_as(
        &key_b,
        "POST",
        "/api/v1/apply",
        Some(&plan_request("b", &theirs, json!({}))),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_access_token_is_never_printed_by_plan_apply_or_their_errors() {
    const FROM_ENV: &str = "env-token-0123456789abcdef";
    const LITERAL: &str = "literal-token-fedcba9876543210";
    let page_with = |token: &str, checks: &str| {
        format!(
            "kind: StatusPage\nname: private\ntitle: Internal status\nslug: internal\ngroups: [{{name: All, checks: [{checks}]}}]\naccess: {{token: \"{token}\"}}\n"
        )
    };
    let d = Daemon::builder()
        .file("checks/web.yaml", &check("web"))
        .file("checks/page.yaml", &page_with("${STATUS_TOKEN}", "web"))
        .start();
    let with_env = |line: &str| {
        d.cli(d.repo())
            .words(line)
            .env("STATUS_TOKEN", FROM_ENV)
            .run()
            .success()
    };
    let mut seen = String::new();
    for line in [
        "plan -f checks --source repo",
        "plan -f checks --source repo -o json",
        "apply -f checks --source repo --auto-approve",
    ] {
        let run = with_env(line);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
    }
    assert!(seen.contains("(sensitive value)"), "{seen}");
    // A literal token is a secret too: its change shows as a change, not its value.
    d.write("checks/page.yaml", &page_with(LITERAL, "web"));
    let run = with_env("plan -f checks --source repo -o json");
    seen.push_str(&run.stderr);
    let plan = run.json();
    assert_eq!(
        plan["changes"][0]["fields"],
        json!([{"path": "access.token", "before": "(sensitive value)", "after": "(sensitive value)", "sensitive": true}])
    );
    seen.push_str(&run.stdout);
    // The daemon's own refusal of a page (a check it lacks) does not quote it.
    let bad = pages_only("repo", &page_with(LITERAL, "web"), json!({}));
    let mut bad_page = bad["resources"][0].clone();
    bad_page["spec"]["groups"][0]["checks"] = json!(["ghost"]);
    let (status, body) = d.call(
        "POST",
        "/api/v1/plan",
        Some(&json!({"source": "repo", "resources": [bad_page]})),
    );
    assert_eq!(status, 422, "{body}");
    seen.push_str(&body.to_string());
    // Nor does a token too short for the daemon's rules.
    let mut short = bad["resources"][0].clone();
    short["spec"]["access"]["token"] = json!("short-tok");
    let (status, body) = d.call(
        "POST",
        "/api/v1/plan",
        Some(&json!({"source": "repo", "resources": [short]})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(!body.to_string().contains("short-tok"), "{body}");
    seen.push_str(&d.logs());
    for secret in [FROM_ENV, LITERAL] {
        assert!(!seen.contains(secret), "`{secret}` was printed:\n{seen}");
    }
}

#[test]
fn a_page_may_not_claim_the_host_of_the_daemons_own_public_url() {
    let d = Daemon::start(&["--public-url", "https://Uptime.Example.com:8443/base"]);
    // (A trailing dot the spec refuses already; case and port do not matter.)
    {
        let domain = "uptime.example.com";
        let yaml = format!(
            "{}---\n{}",
            check("web"),
            page("public", "example", domain, "web")
        );
        for route in ["/api/v1/plan", "/api/v1/apply"] {
            let (status, body) =
                d.call("POST", route, Some(&plan_request("repo", &yaml, json!({}))));
            assert_eq!(status, 409, "{route} {domain}: {body}");
            assert_eq!(
                details(&body),
                [format!(
                    "StatusPage `public`: `domain` `{domain}` is the host of this daemon's `public_url`, where its API and pages are served; give the page a host name of its own"
                )],
                "{body}"
            );
        }
    }
    let (_, checks) = d.call("GET", "/api/v1/checks", None);
    assert_eq!(checks, json!([]), "a refused apply applies nothing");
    // Another host under the same domain is the page's own.
    let yaml = format!(
        "{}---\n{}",
        check("web"),
        page("public", "example", "status.example.com", "web")
    );
    let (status, body) = d.call(
        "POST",
        "/api/v1/apply",
        Some(&plan_request("repo", &yaml, json!({}))),
    );
    assert_eq!(status, 200, "{body}");
}
