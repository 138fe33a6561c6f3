//! Roles on every route, walked from the access rules themselves
//! (`api::access::RULES`): each `/api/v1` route that needs a role is called by
//! viewers, operators and admins, as API keys and as users' access tokens alike,
//! and must refuse (403) exactly those below its role. The OpenAPI document and
//! the rules must name the same routes, so a new route without a rule fails here.
//! Then keys (revoked and expired ones refused at once), the last admin, and two
//! tenants that never see each other.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uptimeping::daemon::api::access::{Access, RULES};
use uptimeping::model::Role;

use crate::auth::{access, add_user, add_user_as, daemon, key_of, login};
use crate::daemon_support::{Daemon, Target, plan_request};

/// `path` with its `{params}` filled in with values no resource has.
fn concrete(path: &str) -> String {
    path.replace("{name}", "no-such-thing")
        .replace("{id}", "987654")
        .replace("{tenant}", "no-such-tenant")
        .replace("{channel}", "no-such-channel")
        .replace("{email}", "nobody@example.com")
        .replace("{token}", "upinv_nothing")
}

/// Rules of routes another part of this change adds to the router (the audit
/// log's): checked to be missing, so that this list fails, and is emptied, as
/// soon as they are there.
const ROUTED_ELSEWHERE: &[&str] = &["/api/v1/audit"];

/// The router's own refusals: no route, or not that method.
fn unrouted(status: u16, body: &Value) -> bool {
    (status == 404 && body.to_string().contains("no such route")) || status == 405
}

#[test]
fn every_route_refuses_exactly_the_roles_below_its_own() {
    let d = daemon(&[]);
    let mut callers: Vec<(String, Role, String)> = Vec::new();
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        let key = key_of(&d, &format!("{role}-key"), role.as_str(), None);
        callers.push((
            format!("{role} key"),
            role,
            key["key"].as_str().unwrap().to_string(),
        ));
        let email = format!("{role}@example.com");
        add_user(&d, &email, role.as_str());
        callers.push((format!("{role} user"), role, access(&login(&d, &email))));
    }
    // Logout ends the caller's session: last, so the other calls keep a token.
    let mut rules: Vec<_> = RULES
        .iter()
        .filter(|(_, path, _)| path.starts_with("/api/v1/"))
        .collect();
    rules.sort_by_key(|(_, path, _)| *path == "/api/v1/auth/logout");
    let mut checked = 0;
    for (method, path, rule) in rules {
        let url = concrete(path);
        if ROUTED_ELSEWHERE.contains(path) {
            let (status, body) = d.call(method.as_str(), &url, None);
            assert!(
                unrouted(status, &body),
                "{method} {path} is routed now: remove it from ROUTED_ELSEWHERE"
            );
            continue;
        }
        match rule {
            Access::Public => {
                let (status, body) = crate::auth::anon(&d, method.as_str(), &url, None);
                assert!(!unrouted(status, &body), "{method} {path}: {status} {body}");
            }
            Access::Role(needed) => {
                for (who, role, credential) in &callers {
                    let (status, body) = d.call_as(credential, method.as_str(), &url, None);
                    assert!(!unrouted(status, &body), "{method} {path}: {status} {body}");
                    if role < needed {
                        assert_eq!(status, 403, "{who} on {method} {path}: {body}");
                        let message = body["error"]["message"].as_str().unwrap_or_default();
                        assert!(
                            message.contains(&format!("needs the {needed} role")),
                            "{who} on {method} {path}: {message}"
                        );
                    } else {
                        assert!(
                            status != 401 && status != 403,
                            "{who} on {method} {path} answered {status}: {body}"
                        );
                    }
                    checked += 1;
                }
                // Without a credential: 401, never the handler.
                let (status, body) = crate::auth::anon(&d, method.as_str(), &url, None);
                assert_eq!(status, 401, "anonymous {method} {path}: {body}");
            }
        }
    }
    let with_roles = RULES
        .iter()
        .filter(|(_, p, a)| {
            p.starts_with("/api/v1/")
                && matches!(a, Access::Role(_))
                && !ROUTED_ELSEWHERE.contains(p)
        })
        .count();
    assert!(with_roles >= 30, "the rules lost routes: {with_roles}");
    assert_eq!(checked, with_roles * callers.len());
}

#[test]
fn the_document_and_the_rules_name_the_same_api_routes() {
    let d = Daemon::start(&[]);
    let doc = d.get("/api/v1/openapi.json");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let ruled: BTreeSet<(String, String)> = RULES
        .iter()
        .filter(|(_, path, _)| !path.starts_with("/ui") && !ROUTED_ELSEWHERE.contains(path))
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let no_rule: Vec<_> = documented.difference(&ruled).collect();
    assert!(
        no_rule.is_empty(),
        "routes without an access rule: {no_rule:?}"
    );
    let no_route: Vec<_> = ruled.difference(&documented).collect();
    assert!(
        no_route.is_empty(),
        "rules of routes the API does not have: {no_route:?}"
    );
    // And the rules' own lookup agrees, HEAD as GET.
    for (m, p) in &documented {
        let method: axum::http::Method = m.parse().unwrap();
        assert!(
            uptimeping::daemon::api::access::rule(&method, p).is_some(),
            "{m} {p}"
        );
    }
}

#[test]
fn a_revoked_or_expired_key_is_refused_at_once() {
    let d = daemon(&[]);
    let ci = key_of(&d, "ci-deploy", "operator", Some("90d"));
    let secret = ci["key"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with(&format!("upk_{}_", ci["id"].as_str().unwrap())),
        "{ci}"
    );
    assert_eq!(secret.rsplit('_').next().unwrap().len(), 32);
    assert_eq!(ci["state"], "active");
    assert_eq!(
        ci["created_by"],
        json!(format!("key:bootstrap-admin({})", &d.key[4..16]))
    );
    assert_eq!(d.call_as(&secret, "GET", "/api/v1/checks", None).0, 200);
    let (status, list) = d.call("GET", "/api/v1/api-keys", None);
    assert_eq!(status, 200);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == ci["id"])
        .cloned()
        .unwrap();
    assert!(
        listed.get("key").is_none(),
        "a listed key never shows its secret: {listed}"
    );
    assert!(!list.to_string().contains(&secret[17..]), "{list}");
    assert!(
        listed["last_used_at"].is_string(),
        "its use is recorded: {listed}"
    );
    // Revoked: the next request is refused.
    let path = format!("/api/v1/api-keys/{}", ci["id"].as_str().unwrap());
    assert_eq!(d.call("DELETE", &path, None).0, 204);
    let (status, body) = d.call_as(&secret, "GET", "/api/v1/checks", None);
    assert_eq!(status, 401, "{body}");
    let (_, list) = d.call("GET", "/api/v1/api-keys", None);
    assert!(list.to_string().contains("\"revoked\""), "{list}");
    assert_eq!(
        d.call("DELETE", "/api/v1/api-keys/000000000000", None).0,
        404
    );
    // Expired: made to expire in the database, refused on the next request.
    let short = key_of(&d, "short-lived", "viewer", Some("1h"));
    let secret = short["key"].as_str().unwrap();
    assert_eq!(d.call_as(secret, "GET", "/api/v1/checks", None).0, 200);
    let conn = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn.execute(
        "UPDATE api_keys SET expires_at = ?1 WHERE id = ?2",
        rusqlite::params![
            chrono::Utc::now().timestamp_millis() - 1,
            short["id"].as_str().unwrap()
        ],
    )
    .unwrap();
    let (status, body) = d.call_as(secret, "GET", "/api/v1/checks", None);
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    // Names and expiries are checked.
    for bad in [
        json!({"name": "", "role": "viewer"}),
        json!({"name": "has space", "role": "viewer"}),
        json!({"name": "x", "role": "viewer", "expires_in": "soon"}),
    ] {
        assert_eq!(
            d.call("POST", "/api/v1/api-keys", Some(&bad)).0,
            400,
            "{bad}"
        );
    }
}

#[test]
fn the_last_admin_can_be_neither_demoted_nor_removed_and_changes_end_sessions() {
    let d = daemon(&[]);
    add_user(&d, "root@example.com", "admin");
    add_user(&d, "op@example.com", "operator");
    let root = access(&login(&d, "root@example.com"));
    let op = access(&login(&d, "op@example.com"));
    let role = |email: &str, r: &str| {
        d.call_as(
            &root,
            "PUT",
            &format!("/api/v1/users/{email}/role"),
            Some(&json!({"role": r})),
        )
    };
    let (status, body) = role("root@example.com", "viewer");
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last admin"),
        "{body}"
    );
    let (status, body) = d.call_as(&root, "DELETE", "/api/v1/users/root@example.com", None);
    assert_eq!(status, 409, "{body}");
    // A role change ends the user's sessions at once: their token names the old role.
    let (status, body) = role("OP@example.com", "admin");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "admin");
    assert_eq!(d.call_as(&op, "GET", "/api/v1/auth/whoami", None).0, 401);
    let op = access(&login(&d, "op@example.com"));
    assert_eq!(d.call_as(&op, "GET", "/api/v1/users", None).0, 200);
    // Now there are two admins: root may step down, and is then below admin.
    assert_eq!(role("root@example.com", "viewer").0, 200);
    let (status, body) = d.call_as(&op, "DELETE", "/api/v1/users/root@example.com", None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(d.call_as(&root, "GET", "/api/v1/auth/whoami", None).0, 401);
    assert_eq!(
        d.call_as(&op, "DELETE", "/api/v1/users/root@example.com", None)
            .0,
        404
    );
    let (status, _) = crate::auth::anon(
        &d,
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"email": "root@example.com", "password": crate::auth::PASSWORD})),
    );
    assert_eq!(status, 401);
}

fn apply(d: &Daemon, credential: &str, yaml: &str) {
    let (status, body) = d.call_as(
        credential,
        "POST",
        "/api/v1/apply",
        Some(&plan_request("repo", yaml, json!({}))),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn two_tenants_users_never_see_each_other() {
    let d = daemon(&[]);
    let target = Target::start();
    target.set_healthy(false);
    let (status, b) = d.call("POST", "/api/v1/tenants", Some(&json!({"name": "team-b"})));
    assert_eq!(status, 201, "{b}");
    let key_b = b["api_key"].as_str().unwrap().to_string();
    add_user(&d, "same@example.com", "operator");
    add_user(&d, "only-a@example.com", "viewer");
    add_user_as(&d, &key_b, "same@example.com", "operator");
    add_user_as(&d, &key_b, "b-admin@example.com", "admin");
    let check = |name: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{failure_threshold: 1}}\n",
            target.url()
        )
    };
    apply(&d, &d.key, &check("a-only"));
    apply(&d, &key_b, &check("b-only"));
    // The same email and password in two tenants: the login must name one.
    let (status, body) = crate::auth::anon(
        &d,
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"email": "same@example.com", "password": crate::auth::PASSWORD})),
    );
    assert_eq!(status, 409, "{body}");
    let tenant_login = |tenant: &str| {
        let (status, pair) = crate::auth::anon(
            &d,
            "POST",
            "/api/v1/auth/login",
            Some(
                &json!({"email": "same@example.com", "password": crate::auth::PASSWORD, "tenant": tenant}),
            ),
        );
        assert_eq!(status, 200, "{pair}");
        access(&pair)
    };
    let a = tenant_login("default");
    let b_user = tenant_login("team-b");
    let b_admin = access(&login(&d, "b-admin@example.com"));
    // Each runs its check into an incident.
    for (who, name) in [(&a, "a-only"), (&b_user, "b-only")] {
        let (status, run) = d.call_as(who, "POST", &format!("/api/v1/checks/{name}/run"), None);
        assert_eq!(status, 200, "{run}");
        assert_eq!(run["up"], false, "{run}");
    }
    let names = |who: &str, path: &str, field: &str| -> Vec<String> {
        let (status, list) = d.call_as(who, "GET", path, None);
        assert_eq!(status, 200, "{path}: {list}");
        list.as_array()
            .unwrap()
            .iter()
            .map(|x| x[field].to_string())
            .collect()
    };
    assert_eq!(names(&a, "/api/v1/checks", "name"), vec!["\"a-only\""]);
    assert_eq!(names(&b_user, "/api/v1/checks", "name"), vec!["\"b-only\""]);
    assert_eq!(names(&a, "/api/v1/incidents", "check"), vec!["\"a-only\""]);
    assert_eq!(
        names(&b_user, "/api/v1/incidents", "check"),
        vec!["\"b-only\""]
    );
    let (_, a_incidents) = d.call_as(&a, "GET", "/api/v1/incidents", None);
    let a_incident = a_incidents[0]["id"].as_i64().unwrap();
    for (method, path) in [
        ("GET", "/api/v1/checks/a-only".to_string()),
        ("POST", "/api/v1/checks/a-only/pause".to_string()),
        ("GET", format!("/api/v1/incidents/{a_incident}")),
        ("POST", format!("/api/v1/incidents/{a_incident}/ack")),
    ] {
        let (status, body) = d.call_as(&b_user, method, &path, None);
        assert_eq!(status, 404, "{method} {path} across tenants: {body}");
    }
    let b_emails = names(&b_admin, "/api/v1/users", "email");
    assert!(
        b_emails
            .iter()
            .all(|e| e.contains("same@") || e.contains("b-admin@")),
        "{b_emails:?}"
    );
    let a_keys = names(&d.key, "/api/v1/api-keys", "id");
    let b_keys = names(&b_admin, "/api/v1/api-keys", "id");
    assert!(
        a_keys.iter().all(|k| !b_keys.contains(k)),
        "{a_keys:?} {b_keys:?}"
    );
    // Nor can an admin of one touch the other's users or keys.
    let a_key_id = a_keys[0].trim_matches('"').to_string();
    assert_eq!(
        d.call_as(
            &b_admin,
            "DELETE",
            &format!("/api/v1/api-keys/{a_key_id}"),
            None
        )
        .0,
        404
    );
    let (status, body) = d.call_as(
        &b_admin,
        "PUT",
        "/api/v1/users/only-a@example.com/role",
        Some(&json!({"role": "viewer"})),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        d.call("GET", "/api/v1/checks/a-only", None).0,
        200,
        "a's check is untouched"
    );
}
