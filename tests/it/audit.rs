//! The audit log of a real daemon: every action the API hooks is recorded with its
//! actor, tenant, time, source address and outcome; filters and pages; each
//! tenant sees its own; refused requests of no tenant only for the first tenant's
//! admins; a flood of bad keys is bounded; user accounts are counted in /metrics.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Receiver, Target, plan_request};

/// `GET /api/v1/audit?<query>` as `key`: the status, the entries and the next cursor.
pub fn audit_page(d: &Daemon, key: &str, query: &str) -> (u16, Vec<Value>, Option<String>) {
    let res = Daemon::client()
        .get(format!("{}/api/v1/audit?{query}", d.url))
        .bearer_auth(key)
        .send()
        .expect("GET /audit");
    let status = res.status().as_u16();
    let next = res
        .headers()
        .get("x-next-cursor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = res.json().unwrap_or(Value::Null);
    let entries = body.as_array().cloned().unwrap_or_else(|| vec![body]);
    (status, entries, next)
}

/// Every entry `key` sees for `query`, in one page.
pub fn audit(d: &Daemon, key: &str, query: &str) -> Vec<Value> {
    let (status, entries, next) = audit_page(d, key, &format!("limit=1000&{query}"));
    assert_eq!(status, 200, "{entries:?}");
    assert_eq!(next, None);
    entries
}

pub fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("?"))
        .collect()
}

/// The actor an API key is recorded as: `key:<name>(<public id>)`.
pub fn key_actor(name: &str, key: &str) -> String {
    let id = key
        .strip_prefix("upk_")
        .and_then(|k| k.split('_').next())
        .unwrap_or("?");
    format!("key:{name}({id})")
}

const SETUP: &str = "kind: Check\nname: shop\ntype: http\ntarget: {target}\nschedule: 1h\nalert: {channels: [hook], failure_threshold: 1}\n\
---\nkind: Channel\nname: hook\ntype: webhook\nwebhook: {url: \"{hook}\"}\n";

#[test]
fn every_hooked_action_is_recorded_with_actor_tenant_time_source_and_outcome() {
    let started = Utc::now() - chrono::Duration::seconds(1);
    let d = Daemon::start(&[]);
    let (target, hook) = (Target::start(), Receiver::start());
    let yaml = SETUP
        .replace("{target}", &target.url())
        .replace("{hook}", &hook.url());
    let req = plan_request("repo", &yaml, json!({}));
    d.post("/api/v1/apply", &req);
    d.post("/api/v1/apply", &req);
    target.set_healthy(false);
    d.run_check("shop");
    let incidents = d.get("/api/v1/incidents");
    let id = incidents[0]["id"].as_i64().expect("an incident opened");
    d.post(
        &format!("/api/v1/incidents/{id}/ack"),
        &json!({"comment": "on it"}),
    );
    d.post(
        &format!("/api/v1/incidents/{id}/updates"),
        &json!({"message": "a bad deploy", "status": "identified"}),
    );
    d.post(&format!("/api/v1/incidents/{id}/resolve"), &json!({}));
    d.post("/api/v1/checks/shop/pause", &json!({}));
    d.post("/api/v1/checks/shop/resume", &json!({}));
    d.post("/api/v1/channels/hook/test", &json!({}));
    d.post("/api/v1/tenants", &json!({"name": "acme"}));
    let (status, _) = d.call("DELETE", "/api/v1/checks/shop", None);
    assert_eq!(status, 204);

    let entries = audit(&d, &d.key, "");
    assert_eq!(
        actions(&entries),
        [
            "check.delete",
            "tenant.create",
            "channel.test",
            "check.resume",
            "check.pause",
            "incident.resolve",
            "incident.update",
            "incident.ack",
            "check.run",
            "apply",
            "apply",
        ]
    );
    let actor = key_actor("bootstrap-admin", &d.key);
    let now = Utc::now();
    for e in &entries {
        assert_eq!(e["actor"], actor.as_str(), "{e}");
        assert_eq!(e["tenant"], "default", "{e}");
        assert_eq!(e["source"], "127.0.0.1", "{e}");
        assert_eq!(e["outcome"], "ok", "{e}");
        let at: DateTime<Utc> = e["at"].as_str().expect("at").parse().expect("a time");
        assert!(started <= at && at <= now, "{e}");
    }
    let target_of = |action: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["target"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(target_of("check.pause"), [json!("shop")]);
    assert_eq!(target_of("incident.ack"), [json!(id.to_string())]);
    assert_eq!(target_of("channel.test"), [json!("hook")]);
    assert_eq!(target_of("tenant.create"), [json!("acme")]);
    // The apply's detail is the plan's summary: the first created both, the second
    // changed nothing.
    let applies: Vec<&Value> = entries.iter().filter(|e| e["action"] == "apply").collect();
    assert_eq!(
        applies[1]["detail"],
        json!({"source": "repo", "create": 2, "update": 0, "delete": 0, "unchanged": 0,
               "changes": ["create Check/shop", "create Channel/hook"], "more": 0})
    );
    assert_eq!(applies[0]["detail"]["unchanged"], 2);
    assert_eq!(applies[0]["detail"]["changes"], json!([]));
    assert_eq!(applies[0]["target"], "repo");
    let update = entries
        .iter()
        .find(|e| e["action"] == "incident.update")
        .expect("update");
    assert_eq!(update["detail"]["status"], "identified");
    // Nothing a tenant's key could be rebuilt from: the new tenant's key is not in it.
    let text = serde_json::to_string(&entries).expect("JSON");
    assert!(!text.contains("upk_"), "{text}");

    // Filters: by action (exact and prefix), target, outcome, actor and time.
    assert_eq!(
        actions(&audit(&d, &d.key, "action=incident.*")),
        ["incident.resolve", "incident.update", "incident.ack"]
    );
    assert_eq!(
        actions(&audit(&d, &d.key, "action=check.pause")),
        ["check.pause"]
    );
    assert_eq!(
        actions(&audit(&d, &d.key, "target=shop")),
        ["check.delete", "check.resume", "check.pause", "check.run"]
    );
    assert_eq!(audit(&d, &d.key, "outcome=refused").len(), 0);
    assert_eq!(
        audit(&d, &d.key, &format!("actor={}", urlencode(&actor))).len(),
        11
    );
    assert_eq!(audit(&d, &d.key, "actor=key:*").len(), 11);
    assert_eq!(audit(&d, &d.key, "actor=user:*").len(), 0);
    assert_eq!(audit(&d, &d.key, "since=1h").len(), 11);
    let before_start = (started - chrono::Duration::seconds(5)).to_rfc3339();
    assert_eq!(
        audit(&d, &d.key, &format!("until={}", urlencode(&before_start))).len(),
        0
    );
    let (status, body, _) = audit_page(&d, &d.key, "since=yesterday");
    assert_eq!(status, 400, "{body:?}");
    assert_eq!(body[0]["error"]["code"], "invalid");
    let (status, _, _) = audit_page(&d, &d.key, "outcome=maybe");
    assert_eq!(status, 400);
    let (status, _, _) = audit_page(&d, &d.key, "nonsense=1");
    assert_eq!(status, 400);

    // Pages of 3 follow one another to the same list, each cursor once.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".into(),
        };
        let (status, page, next) = audit_page(&d, &d.key, &query);
        assert_eq!(status, 200);
        assert!(page.len() <= 3);
        paged.extend(page);
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, entries);
    let (status, _, _) = audit_page(&d, &d.key, "cursor=bm90LW91cnM");
    assert_eq!(status, 400);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn each_tenant_sees_its_own_and_refusals_of_no_tenant_only_the_first_tenants_admins() {
    let d = Daemon::start(&[]);
    let acme = d.post("/api/v1/tenants", &json!({"name": "acme"}))["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let yaml = "kind: Check\nname: storefront\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\n";
    let (status, _) = d.call_as(
        &acme,
        "POST",
        "/api/v1/apply",
        Some(&plan_request("acme-repo", yaml, json!({}))),
    );
    assert_eq!(status, 200);
    let (status, _) = d.call_as(&acme, "POST", "/api/v1/checks/storefront/pause", None);
    assert_eq!(status, 200);
    // A key that is not valid: no tenant can be told.
    let (status, _) = d.call_as(
        "upk_000000000000_notavalidsecretnotavalidsecret",
        "GET",
        "/api/v1/checks",
        None,
    );
    assert_eq!(status, 401);

    let mine = audit(&d, &acme, "");
    assert_eq!(actions(&mine), ["check.pause", "apply"]);
    for e in &mine {
        assert_eq!(e["tenant"], "acme");
        assert_eq!(e["actor"], key_actor("admin", &acme).as_str());
    }
    // Not by filtering for them either.
    assert!(audit(&d, &acme, "action=tenant.create").is_empty());
    assert!(audit(&d, &acme, "outcome=refused").is_empty());

    let first = audit(&d, &d.key, "");
    assert_eq!(actions(&first), ["request", "tenant.create"]);
    let refused = &first[0];
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["actor"], "anonymous");
    assert_eq!(refused["source"], "127.0.0.1");
    assert!(refused.get("tenant").is_none(), "{refused}");
    assert_eq!(
        refused["detail"],
        json!({"method": "GET", "path": "/api/v1/checks", "status": 401})
    );
    // The presented key is nowhere in it.
    assert!(!refused.to_string().contains("notavalidsecret"));
}

/// `uptime_audit_events_dropped_total{reason="rate_limited"}` from `/metrics`.
fn dropped(d: &Daemon) -> f64 {
    let body = Daemon::client()
        .get(format!("{}/metrics", d.url))
        .send()
        .expect("GET /metrics")
        .text()
        .expect("body");
    body.lines()
        .find_map(|l| {
            l.strip_prefix(r#"uptime_audit_events_dropped_total{reason="rate_limited"} "#)
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_flood_of_bad_keys_writes_at_most_the_bound_and_counts_the_rest() {
    const FLOOD: usize = 500;
    /// The daemon's bound: 60 a minute per address (a burst of 60, then one a second).
    const PER_ADDRESS: usize = 60;
    let d = Daemon::start(&[]);
    let client = Daemon::client();
    let started = std::time::Instant::now();
    for i in 0..FLOOD {
        let res = client
            .get(format!("{}/api/v1/checks", d.url))
            .bearer_auth(format!("upk_{i:012x}_guessguessguessguessguessguess12"))
            .send()
            .expect("request");
        assert_eq!(res.status().as_u16(), 401);
    }
    let secs = started.elapsed().as_secs_f64();
    let written = audit(&d, &d.key, "action=request&actor=anonymous").len();
    let bound = PER_ADDRESS + secs.ceil() as usize + 1;
    eprintln!("{FLOOD} refused requests in {secs:.2}s: {written} written (bound {bound})");
    assert!(
        (PER_ADDRESS..=bound).contains(&written),
        "{written} written in {secs:.2}s"
    );
    assert_eq!(dropped(&d) as usize, FLOOD - written);
    // Good requests are never held back by the flood.
    d.post("/api/v1/tenants", &json!({"name": "after-flood"}));
    assert_eq!(
        actions(&audit(&d, &d.key, "action=tenant.*")),
        ["tenant.create"]
    );
}

#[test]
fn user_accounts_are_counted_per_tenant_and_promtool_accepts_the_series() {
    let d = Daemon::start(&[]);
    d.post("/api/v1/tenants", &json!({"name": "acme"}));
    d.post("/api/v1/tenants", &json!({"name": "empty"}));
    // Rows of `users` as the users API writes them (that API is not this test's).
    let db = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).expect("open db");
    db.busy_timeout(Duration::from_secs(10)).expect("busy");
    for (tenant, email) in [
        (1, "ann@example.com"),
        (1, "bob@example.com"),
        (2, "cy@example.com"),
    ] {
        db.execute(
            "INSERT INTO users (tenant_id, email, password_hash, role, created_at, created_by, updated_at)
             VALUES (?1, ?2, '$argon2id$v=19$m=19456,t=2,p=1$x$y', 'viewer', 0, 'test', 0)",
            rusqlite::params![tenant, email],
        )
        .expect("insert user");
    }
    drop(db);
    let body = Daemon::client()
        .get(format!("{}/metrics", d.url))
        .send()
        .expect("GET /metrics")
        .text()
        .expect("body");
    let has = |line: &str| body.lines().any(|l| l == line);
    assert!(
        has(r#"uptime_users_active_total{tenant="default"} 2"#),
        "{body}"
    );
    assert!(has(r#"uptime_users_active_total{tenant="acme"} 1"#));
    assert!(has(r#"uptime_users_active_total{tenant="empty"} 0"#));
    assert!(has(r#"uptime_api_keys_active{tenant="acme"} 1"#));
    assert!(body.contains("# HELP uptime_users_active_total User accounts per tenant"));
    assert_eq!(
        crate::metrics::check_metrics(&body),
        (0, String::new()),
        "{body}"
    );
}

#[test]
fn the_daemon_prunes_entries_older_than_retention_audit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let d = Daemon::start_on(&data, &[]);
    d.post("/api/v1/tenants", &json!({"name": "acme"}));
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");
    // An entry from 40 days ago, as an older daemon would have left it.
    let db = rusqlite::Connection::open(data.join("uptimeping.db")).expect("open db");
    let old = Utc::now().timestamp_millis() - 40 * 86_400_000;
    db.execute(
        "INSERT INTO audit (tenant_id, at, actor, action, outcome) VALUES (1, ?1, 'watch', 'apply', 'ok')",
        [old],
    )
    .expect("insert");
    drop(db);
    let d = Daemon::start_on(&data, &["--retention-audit", "30d"]);
    // The maintenance loop prunes once when it starts, then every hour.
    let line = d.wait_log("pruned audit events past the retention");
    assert!(line.contains("deleted=1"), "{line}");
    assert_eq!(actions(&audit(&d, &d.key, "")), ["tenant.create"]);
}

/// A client whose requests come from `ip` (any of 127.0.0.0/8 is this host).
fn client_from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// The review's case: hundreds of bad keys from twelve addresses spend the budget
/// of refusals without a valid credential; a failed login, a role too low and a
/// reused refresh token from other addresses are still recorded, and one row says
/// how many refusals were not, and from where.
#[test]
fn a_flood_of_bad_keys_from_many_addresses_hides_no_failed_login_403_or_reuse() {
    const ADDRESSES: u8 = 12;
    const EACH: usize = 100;
    let d = Daemon::start(&[]);
    let viewer = d.post(
        "/api/v1/api-keys",
        &json!({"name": "dashboard", "role": "viewer"}),
    )["key"]
        .as_str()
        .expect("key")
        .to_string();
    d.post(
        "/api/v1/users",
        &json!({"email": "ann@example.com", "role": "viewer", "password": "Correct-Horse-9"}),
    );

    // The flood goes on while the others act, as an attacker's would.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = std::time::Instant::now();
    let flooders: Vec<_> = (0..ADDRESSES)
        .map(|a| {
            let (url, stop) = (d.url.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let client = client_from(&format!("127.0.0.{}", 20 + a));
                let mut sent = 0usize;
                while sent < EACH || !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = client
                        .get(format!("{url}/api/v1/checks"))
                        .bearer_auth(format!("upk_{sent:012x}_badbadbadbadbadbadbadbadbadbadba"))
                        .send()
                        .expect("request");
                    assert_eq!(res.status().as_u16(), 401);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    crate::daemon_support::wait_for("the flood to go over the bound", || {
        (dropped(&d) > 0.0).then_some(())
    });

    // A failed login from another address.
    let res = client_from("127.0.0.61")
        .post(format!("{}/api/v1/auth/login", d.url))
        .json(&json!({"email": "ann@example.com", "password": "Guess-Passw0rd2"}))
        .send()
        .expect("login");
    assert_eq!(res.status().as_u16(), 401);
    // A role too low from another.
    let res = client_from("127.0.0.62")
        .post(format!("{}/api/v1/checks/shop/pause", d.url))
        .bearer_auth(&viewer)
        .send()
        .expect("pause");
    assert_eq!(res.status().as_u16(), 403);
    // A refresh token presented twice, from a third.
    let ann = client_from("127.0.0.63");
    let pair: Value = ann
        .post(format!("{}/api/v1/auth/login", d.url))
        .json(&json!({"email": "ann@example.com", "password": "Correct-Horse-9"}))
        .send()
        .expect("login")
        .json()
        .expect("tokens");
    let refresh = pair["refresh_token"].as_str().expect("refresh token");
    for expected in [200, 401] {
        let res = ann
            .post(format!("{}/api/v1/auth/refresh", d.url))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .expect("refresh");
        assert_eq!(res.status().as_u16(), expected);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flood: usize = flooders
        .into_iter()
        .map(|t| t.join().expect("flood thread"))
        .sum();
    let held = dropped(&d) as usize;
    eprintln!(
        "{flood} bad keys in {:.2}s, {held} not recorded",
        started.elapsed().as_secs_f64()
    );

    let refused = audit(&d, &d.key, "outcome=refused");
    let others: Vec<&Value> = refused
        .iter()
        .filter(|e| e["actor"] != "anonymous")
        .collect();
    let from = |ip: &str, action: &str| {
        refused
            .iter()
            .filter(|e| e["source"] == ip && e["action"] == action)
            .collect::<Vec<_>>()
    };
    let login = from("127.0.0.61", "login");
    assert_eq!(login.len(), 1, "{others:?}");
    assert_eq!(login[0]["actor"], "user:ann@example.com");
    let low = from("127.0.0.62", "request");
    assert_eq!(low.len(), 1, "{others:?}");
    assert_eq!(low[0]["actor"], key_actor("dashboard", &viewer).as_str());
    assert_eq!(low[0]["detail"]["status"], 403);
    assert_eq!(from("127.0.0.63", "session.reuse").len(), 1, "{others:?}");

    // One row stands for the refusals not written, naming flood addresses only.
    let gaps = audit(&d, &d.key, "actor=uptimeping");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let gap = &gaps[0];
    assert_eq!(
        (&gap["action"], &gap["outcome"]),
        (&json!("request"), &json!("refused"))
    );
    assert_eq!(gap["detail"]["not_recorded"], json!(held));
    let sources = gap["detail"]["sources"].as_array().expect("sources");
    assert!(!sources.is_empty());
    for s in sources {
        let last: u8 = s
            .as_str()
            .and_then(|s| s.strip_prefix("127.0.0."))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!((20..20 + ADDRESSES).contains(&last), "{s}");
    }
    let note = gap["detail"]["note"].as_str().expect("note");
    assert!(note.contains(&format!("{held} refused requests")), "{note}");
    assert!(note.contains("from these addresses: 127.0.0."), "{note}");
    // Every bad key is either a row or counted in the summary.
    let written = audit(&d, &d.key, "actor=anonymous&action=request").len();
    assert_eq!(written + held, flood);
}

/// Actions tried and failed are recorded as `failed`, with the error's status and
/// code, never its message or what was sent: a channel test not delivered, applies
/// refused for a conflict, a moved revision or resources that are not valid, acts
/// on checks and incidents that do not exist, tenants that cannot be created.
#[test]
fn actions_tried_and_failed_are_recorded_as_failed_with_their_code_and_no_secret() {
    let d = Daemon::start(&[]);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let yaml = format!(
        "kind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"http://127.0.0.1:{closed}/hook/s3cr3t-path\"}}\n"
    );
    d.apply("repo", &yaml);
    let sent = d.post("/api/v1/channels/hook/test", &json!({}));
    assert_ne!(sent["status"], "sent", "{sent}");

    let call = |method: &str, path: &str, body: Option<&Value>| d.call(method, path, body).0;
    let apply = |source: &str, yaml: &str, extra: Value| {
        call(
            "POST",
            "/api/v1/apply",
            Some(&plan_request(source, yaml, extra)),
        )
    };
    assert_eq!(apply("other-repo", &yaml, json!({})), 409);
    assert_eq!(apply("repo", &yaml, json!({"expected_revision": 999})), 409);
    // A check the daemon's own validation refuses (the CLI would not send it).
    let mut bad = plan_request(
        "repo",
        "kind: Check\nname: shop\ntype: http\ntarget: http://127.0.0.1:9\nschedule: 1h\n",
        json!({}),
    );
    bad["resources"][0]["spec"]["schedule"] = json!("0s");
    assert_eq!(call("POST", "/api/v1/apply", Some(&bad)), 422, "{bad}");
    assert_eq!(call("DELETE", "/api/v1/checks/nope", None), 404);
    assert_eq!(
        call("POST", "/api/v1/checks/nope/pause", Some(&json!({}))),
        404
    );
    assert_eq!(
        call("POST", "/api/v1/checks/nope/run", Some(&json!({}))),
        404
    );
    assert_eq!(
        call("POST", "/api/v1/incidents/999/ack", Some(&json!({}))),
        404
    );
    assert_eq!(
        call(
            "POST",
            "/api/v1/incidents/999/updates",
            Some(&json!({"message": "x", "status": "identified"}))
        ),
        404
    );
    d.post("/api/v1/tenants", &json!({"name": "acme"}));
    assert_eq!(
        call("POST", "/api/v1/tenants", Some(&json!({"name": "acme"}))),
        409
    );
    assert_eq!(
        call(
            "POST",
            "/api/v1/tenants",
            Some(&json!({"name": "Not\u{1b}[31mValid"}))
        ),
        400
    );

    let failed = audit(&d, &d.key, "outcome=failed");
    let seen: Vec<(String, Value, Value, Value)> = failed
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("?").to_string(),
                e.get("target").cloned().unwrap_or(Value::Null),
                e["detail"]["status"].clone(),
                e["detail"]["code"].clone(),
            )
        })
        .collect();
    let row = |action: &str, target: Value, status: u16, code: &str| {
        (action.to_string(), target, json!(status), json!(code))
    };
    assert_eq!(
        seen,
        [
            (
                "channel.test".to_string(),
                json!("hook"),
                sent["status"].clone(),
                Value::Null
            ),
            row("apply", json!("other-repo"), 409, "conflict"),
            row("apply", json!("repo"), 409, "revision_moved"),
            row("apply", json!("repo"), 422, "invalid"),
            row("check.delete", json!("nope"), 404, "not_found"),
            row("check.pause", json!("nope"), 404, "not_found"),
            row("check.run", json!("nope"), 404, "not_found"),
            row("incident.ack", json!("999"), 404, "not_found"),
            row("incident.update", json!("999"), 404, "not_found"),
            row("tenant.create", json!("acme"), 409, "conflict"),
            row("tenant.create", Value::Null, 400, "invalid"),
        ]
    );
    let conflict = &failed[failed.len() - 2];
    assert_eq!(conflict["detail"]["resources"], 1);
    assert!(
        conflict["detail"]["problems"].as_u64() >= Some(1),
        "{conflict}"
    );
    for e in &failed {
        assert_eq!(e["actor"], key_actor("bootstrap-admin", &d.key).as_str());
        assert_eq!(e["source"], "127.0.0.1");
    }
    // No message, URL or secret of what was sent is in any of them.
    let text = serde_json::to_string(&failed).expect("JSON");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!text.contains("message"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    // What worked is still `ok`.
    assert_eq!(
        actions(&audit(&d, &d.key, "outcome=ok")),
        ["tenant.create", "apply"]
    );
}
