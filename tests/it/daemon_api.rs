//! The daemon's API over real sockets: bootstrap, auth, JSON errors, tenants,
//! health and metrics, shutdown.

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Target, plan_request};

fn check_yaml(name: &str, target: &str) -> String {
    format!(
        "kind: Check\nname: {name}\ntype: http\ntarget: {target}\nschedule: 1h\nalert: {{failure_threshold: 1}}\n"
    )
}

#[test]
fn a_fresh_daemon_writes_its_admin_key_privately_and_says_where() {
    let d = Daemon::start(&[]);
    let path = d.data_dir.join("admin.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        d.key.starts_with("upk_") && d.key.len() == 4 + 12 + 1 + 32,
        "{}",
        d.key
    );
    let line = d.wait_log("admin API key");
    assert!(line.contains("admin.key"), "{line}");
    // The key itself never appears in the log.
    assert!(!d.logs().contains(&d.key));
}

#[test]
fn every_api_route_needs_a_valid_key_and_errors_are_json() {
    let d = Daemon::start(&[]);
    let client = Daemon::client();
    let res = client
        .get(format!("{}/api/v1/checks", d.url))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = d.call_as(
        "upk_000000000000_wrongwrongwrongwrongwrongwrong12",
        "GET",
        "/api/v1/checks",
        None,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            client
                .get(format!("{}{path}", d.url))
                .send()
                .unwrap()
                .status()
                .as_u16(),
            200,
            "{path}"
        );
    }
    let (status, body) = d.call("GET", "/api/v1/checks/nope", None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(body["error"]["message"], "no check named `nope`");
    let res = client
        .post(format!("{}/api/v1/plan", d.url))
        .bearer_auth(&d.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(res.json::<Value>().unwrap()["error"]["code"], "invalid");
    let (status, body) = d.call(
        "POST",
        "/api/v1/plan",
        Some(&json!({"source": "x", "resources": [{"kind": "Check"}]})),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid")),
        "{body}"
    );
}

#[test]
fn request_bodies_over_the_limit_are_refused_with_413() {
    let d = Daemon::start(&[]);
    let big = "x".repeat(33 * 1024 * 1024);
    let res = Daemon::client()
        .post(format!("{}/api/v1/plan", d.url))
        .bearer_auth(&d.key)
        .header("content-type", "application/json")
        .body(format!("{{\"source\":\"{big}\"}}"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert_eq!(res.json::<Value>().unwrap()["error"]["code"], "too_large");
}

#[test]
fn two_tenants_never_see_each_others_data() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    let created = d.post("/api/v1/tenants", &json!({"name": "team-b"}));
    let key_b = created["api_key"].as_str().unwrap().to_string();

    d.post(
        "/api/v1/apply",
        &plan_request("a", &check_yaml("only-a", &target.url()), json!({})),
    );
    let (status, _) = d.call_as(
        &key_b,
        "POST",
        "/api/v1/apply",
        Some(&plan_request(
            "b",
            &check_yaml("only-b", &target.url()),
            json!({}),
        )),
    );
    assert_eq!(status, 200);

    let names = |key: &str| -> Vec<String> {
        let (_, list) = d.call_as(key, "GET", "/api/v1/checks", None);
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&d.key), ["only-a"]);
    assert_eq!(names(&key_b), ["only-b"]);
    assert_eq!(
        d.call_as(&key_b, "GET", "/api/v1/checks/only-a", None).0,
        404
    );
    assert_eq!(
        d.call_as(&key_b, "POST", "/api/v1/checks/only-a/run", None)
            .0,
        404
    );

    // An incident of tenant A is invisible to B, by list and by id.
    target.set_healthy(false);
    let run = d.run_check("only-a");
    assert_eq!(run["up"], false);
    let incidents = d.get("/api/v1/incidents");
    let id = incidents[0]["id"].as_i64().unwrap();
    assert_eq!(
        d.call_as(&key_b, "GET", "/api/v1/incidents", None).1,
        json!([])
    );
    assert_eq!(
        d.call_as(&key_b, "GET", &format!("/api/v1/incidents/{id}"), None)
            .0,
        404
    );
    assert_eq!(
        d.call_as(&key_b, "POST", &format!("/api/v1/incidents/{id}/ack"), None)
            .0,
        404
    );
    // B's plan does not see A's resources either: nothing to prune, nothing conflicting.
    let (_, plan) = d.call_as(
        &key_b,
        "POST",
        "/api/v1/plan",
        Some(&plan_request(
            "a",
            "",
            json!({"prune": true, "allow_empty": true}),
        )),
    );
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 0, "destroy": 0})
    );
    // Only the first tenant's admins create tenants.
    assert_eq!(
        d.call_as(
            &key_b,
            "POST",
            "/api/v1/tenants",
            Some(&json!({"name": "team-c"}))
        )
        .0,
        403
    );
}

#[test]
fn sigterm_stops_the_daemon_cleanly_with_exit_code_0() {
    let d = Daemon::start(&[]);
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("shutting down") && logs.contains("stopped"),
        "{logs}"
    );
}

#[test]
fn metrics_count_runs_by_type_and_result_and_open_incidents() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    d.post(
        "/api/v1/apply",
        &plan_request("m", &check_yaml("metered", &target.url()), json!({})),
    );
    d.run_check("metered");
    target.set_healthy(false);
    d.run_check("metered");
    let text = Daemon::client()
        .get(format!("{}/metrics", d.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains(r#"uptime_checks_total{tenant="default",type="http",status="up"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"uptime_checks_total{tenant="default",type="http",status="down"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"uptime_incidents_open{tenant="default"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("uptime_check_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"uptime_incidents_total{tenant="default",severity="error",status="opened"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn bad_path_and_query_parameters_get_json_errors_and_labels_filter_together() {
    let d = Daemon::start(&[]);
    for path in [
        "/api/v1/incidents/abc",
        "/api/v1/checks?state=bogus",
        "/api/v1/checks/x/results?limit=-1",
    ] {
        let (status, body) = d.call("GET", path, None);
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{path}: {body}"
        );
    }
    let yaml = "kind: Check\nname: a\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\nlabels: {team: x, tier: \"1\"}\n---\nkind: Check\nname: b\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\nlabels: {team: x, tier: \"2\"}\n";
    d.apply("repo", yaml);
    let list = d.get("/api/v1/checks?label=team=x&label=tier=2");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b"]);
}

#[test]
fn a_secret_in_a_target_or_a_mixed_case_header_never_comes_back() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    let url = target.url().replace("http://", "http://user:hunter2@");
    let yaml = format!(
        "kind: Check\nname: s\ntype: http\ntarget: {url}\nschedule: 1h\nhttp: {{headers: {{Private-Token: \"${{TOKEN:-glpat-sekrit}}\"}}}}\n"
    );
    let plan = d.post("/api/v1/plan", &plan_request("repo", &yaml, json!({})));
    d.apply("repo", &yaml);
    let run = d.run_check("s");
    let everything = format!(
        "{plan}{}{}{}{run}",
        d.get("/api/v1/checks"),
        d.get("/api/v1/checks/s"),
        d.get("/api/v1/checks/s/results")
    );
    assert!(
        !everything.contains("hunter2") && !everything.contains("glpat-sekrit"),
        "{everything}"
    );
    assert_eq!(run["target"], "(sensitive value)");
}

/// A key of `role` in the default tenant, written straight into the daemon's database
/// (the API creates admin keys only). Returns the key as a client presents it.
pub fn key_with_role(d: &Daemon, role: &str) -> String {
    use sha2::Digest;
    let id: String = format!("{:012x}", rand::random::<u32>());
    let secret: String = format!("{:032x}", rand::random::<u128>());
    let conn = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn.execute(
        "INSERT INTO api_keys (id, tenant_id, name, role, secret_hash, created_at)
         SELECT ?1, id, ?2, ?2, ?3, 0 FROM tenants WHERE name = 'default'",
        rusqlite::params![
            id,
            role,
            hex::encode(sha2::Sha256::digest(secret.as_bytes()))
        ],
    )
    .unwrap();
    format!("upk_{id}_{secret}")
}

#[test]
fn planning_needs_the_role_that_applies_so_viewers_cannot_test_guesses_of_secrets() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    // A secret applied by the admin; a viewer that could plan would learn whether a
    // guess is right from `(sensitive value changed)` being there or not.
    let yaml = |token: &str| {
        format!(
            "kind: Check\nname: s\ntype: http\ntarget: {}\nschedule: 1h\nhttp: {{headers: {{Authorization: \"Bearer {token}\"}}}}\n",
            target.url()
        )
    };
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &yaml("right"), json!({})),
    );
    // Operators plan and apply (they manage checks); viewers do neither.
    for role in ["viewer"] {
        let key = key_with_role(&d, role);
        for guess in ["right", "wrong"] {
            let (status, body) = d.call_as(
                &key,
                "POST",
                "/api/v1/plan",
                Some(&plan_request("repo", &yaml(guess), json!({}))),
            );
            assert_eq!(status, 403, "{role}: {body}");
            assert_eq!(body["error"]["code"], "forbidden");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("needs the operator role") && message.contains(role),
                "{message}"
            );
            assert!(body["changes"].is_null(), "{body}");
        }
        // What a viewer may read shows the secret masked, so it tells nothing either.
        let (status, check) = d.call_as(&key, "GET", "/api/v1/checks/s", None);
        assert_eq!(status, 200);
        assert!(!check.to_string().contains("right"), "{check}");
    }
    let operator = key_with_role(&d, "operator");
    for key in [&d.key, &operator] {
        let (status, plan) = d.call_as(
            key,
            "POST",
            "/api/v1/plan",
            Some(&plan_request("repo", &yaml("wrong"), json!({}))),
        );
        assert_eq!(status, 200, "{plan}");
        assert_eq!(plan["summary"]["change"], 1);
    }
}

/// `n` checks whose body regexes each take a while to compile.
fn slow_checks(n: usize, salt: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "kind: Check\nname: slow-{i}\ntype: http\ntarget: http://127.0.0.1:1/\nschedule: 1m\nexpect:\n  body_regex: '(?:\\w{{60}}\\s{{20}}){{{}}}'\n",
                1 + (i + salt) % 3
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn healthz_answers_while_plans_validate_slow_checks() {
    let d = std::sync::Arc::new(Daemon::start(&[]));
    let requests: Vec<Value> = (0..2)
        .map(|k| crate::daemon_support::plan_request("slow", &slow_checks(30, k), json!({})))
        .collect();
    let started = std::time::Instant::now();
    let planners: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let d = d.clone();
            std::thread::spawn(move || d.call("POST", "/api/v1/plan", Some(&req)))
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut slowest = std::time::Duration::ZERO;
    let mut probes = 0;
    while !planners.iter().all(|p| p.is_finished()) {
        let t = std::time::Instant::now();
        let (status, _) = d.call("GET", "/healthz", None);
        assert_eq!(status, 200);
        slowest = slowest.max(t.elapsed());
        probes += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let planned = started.elapsed();
    for p in planners {
        let (status, body) = p.join().unwrap();
        assert_eq!(status, 200, "{body}");
    }
    eprintln!("plans took {planned:?}; slowest of {probes} /healthz: {slowest:?}");
    assert!(
        slowest < std::time::Duration::from_secs(2),
        "/healthz took {slowest:?} while plans validated"
    );
}
