//! People and access against what a hostile reviewer tried: keys that outlive
//! their maker's rights, refused logins and keys recorded for the right tenant
//! and without what a password looks like, forged claims on a live session, and
//! emails with invisible characters.

use serde_json::{Value, json};

use crate::audit::{audit, key_actor};
use crate::auth::{PASSWORD, SIGNING_KEY, access, add_user, anon, claims, daemon, login, mint};

/// Runs `cmd` (a daemon that should refuse to start) for at most 30 s: its
/// standard error, or a failure when it is still running then.
pub fn refused_start(mut cmd: std::process::Command) -> String {
    use std::io::Read;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run daemon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).expect("stderr");
            }
            assert!(!status.success(), "{err}");
            return err;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon started, though it should have refused to");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn whoami(d: &crate::daemon_support::Daemon, bearer: &str) -> u16 {
    d.call_as(bearer, "GET", "/api/v1/auth/whoami", None).0
}

fn key_as(d: &crate::daemon_support::Daemon, bearer: &str, name: &str, role: &str) -> String {
    let (status, body) = d.call_as(
        bearer,
        "POST",
        "/api/v1/api-keys",
        Some(&json!({"name": name, "role": role})),
    );
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().expect("key").to_string()
}

#[test]
fn demoting_or_removing_a_user_revokes_the_keys_they_made_above_their_role() {
    let d = daemon(&[]);
    add_user(&d, "boss@example.com", "admin");
    add_user(&d, "mallory@example.com", "admin");
    let token = access(&login(&d, "mallory@example.com"));
    let admin_key = key_as(&d, &token, "backdoor", "admin");
    let viewer_key = key_as(&d, &token, "dashboard", "viewer");
    let (status, body) = d.call(
        "PUT",
        "/api/v1/users/mallory@example.com/role",
        Some(&json!({"role": "operator"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        whoami(&d, &admin_key),
        401,
        "an admin key of a demoted user"
    );
    assert_eq!(whoami(&d, &viewer_key), 200, "a key within the new role");
    let (status, body) = d.call("DELETE", "/api/v1/users/mallory@example.com", None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(whoami(&d, &viewer_key), 401, "every key of a removed user");
    assert_eq!(whoami(&d, &d.key), 200, "others' keys stay");
    let events = audit(&d, &d.key, "action=user.*");
    let revoked: Vec<(&str, &Value)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                &e["detail"]["keys_revoked"],
            )
        })
        .collect();
    assert_eq!(
        revoked,
        [
            ("user.remove", &json!(1)),
            ("user.role", &json!(1)),
            ("user.add", &Value::Null),
            ("user.add", &Value::Null)
        ]
    );
}

#[test]
fn a_refused_login_keeps_no_password_and_is_recorded_for_the_users_tenants() {
    let d = daemon(&[]);
    let acme = d.post("/api/v1/tenants", &json!({"name": "acme"}))["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    crate::auth::add_user_as(&d, &acme, "carol@acme.io", "viewer");
    for (email, tenant) in [
        ("MyS3cret-Passw0rd!", None),
        ("pass word@x", None),
        ("carol@acme.io", None),
        ("Carol@Acme.io", Some("acme")),
        ("nobody@example.com", None),
    ] {
        let mut body = json!({"email": email, "password": "Wr0ng-passw0rd!"});
        if let Some(t) = tenant {
            body["tenant"] = json!(t);
        }
        let (status, _) = anon(&d, "POST", "/api/v1/auth/login", Some(&body));
        assert_eq!(status, 401);
    }
    let first: Vec<(String, String)> = audit(&d, &d.key, "action=login")
        .iter()
        .map(|e| (e["actor"].to_string(), e["target"].to_string()))
        .collect();
    assert_eq!(
        first,
        [
            ("\"user:nobody@example.com\"", "\"nobody@example.com\""),
            ("\"user:(not an email)\"", "\"(not an email)\""),
            ("\"user:(not an email)\"", "\"(not an email)\""),
        ]
        .map(|(a, t)| (a.to_string(), t.to_string()))
    );
    let theirs = audit(&d, &acme, "action=login");
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    for e in &theirs {
        assert_eq!(
            (&e["actor"], &e["tenant"], &e["outcome"]),
            (
                &json!("user:carol@acme.io"),
                &json!("acme"),
                &json!("refused")
            )
        );
    }
    let text = serde_json::to_string(&audit(&d, &d.key, "")).unwrap();
    assert!(!text.to_lowercase().contains("mys3cret"), "{text}");
}

#[test]
fn a_revoked_or_expired_key_used_again_is_recorded_for_its_tenant() {
    let d = daemon(&[]);
    let acme = d.post("/api/v1/tenants", &json!({"name": "acme"}))["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let old = key_as(&d, &acme, "old-ci", "operator");
    let id = old.split('_').nth(1).expect("id").to_string();
    let (status, body) = d.call_as(&acme, "DELETE", &format!("/api/v1/api-keys/{id}"), None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(whoami(&d, &old), 401);
    // A wrong secret for that id is nobody's.
    let forged = format!("upk_{id}_{}", "x".repeat(32));
    assert_eq!(whoami(&d, &forged), 401);
    let theirs: Vec<Value> = audit(&d, &acme, "action=request")
        .into_iter()
        .filter(|e| e["outcome"] == "refused")
        .collect();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["actor"], key_actor("old-ci", &old).as_str());
    assert_eq!(theirs[0]["detail"]["status"], 401);
    let first = audit(&d, &d.key, "action=request");
    assert!(
        first
            .iter()
            .all(|e| e["tenant"].is_null() && e["actor"] == "anonymous"),
        "{first:?}"
    );
}

/// A change made to a token's claims.
type Change<'a> = dyn Fn(&mut Value) + 'a;

#[test]
fn a_token_whose_claims_are_not_its_sessions_is_refused() {
    let d = daemon(&[]);
    add_user(&d, "view@example.com", "viewer");
    add_user(&d, "boss@example.com", "admin");
    d.post("/api/v1/tenants", &json!({"name": "acme"}));
    let real = claims(&access(&login(&d, "view@example.com")));
    let boss = claims(&access(&login(&d, "boss@example.com")));
    assert_eq!(whoami(&d, &mint(&real, SIGNING_KEY)), 200, "as issued");
    let forge = |change: &dyn Fn(&mut Value)| {
        let mut c = real.clone();
        change(&mut c);
        mint(&c, SIGNING_KEY)
    };
    let cases: [(&str, &Change<'_>); 4] = [
        ("another user", &|c| c["sub"] = boss["sub"].clone()),
        ("no such user", &|c| c["sub"] = json!("999")),
        ("another tenant", &|c| c["tenant"] = json!(2)),
        ("a higher role", &|c| c["roles"] = json!(["admin"])),
    ];
    for (what, change) in cases {
        let token = forge(change);
        assert_eq!(whoami(&d, &token), 401, "{what}");
        assert_eq!(
            d.call_as(&token, "GET", "/api/v1/users", None).0,
            401,
            "{what}"
        );
    }
}

#[test]
fn an_email_with_invisible_or_reversing_characters_is_refused() {
    let d = daemon(&[]);
    for email in [
        "alice\u{200b}@example.com",
        "\u{202e}evil@x.io",
        "al\u{2066}ice@example.com",
        "alice@example.com\u{feff}",
        "ali\u{ad}ce@example.com",
    ] {
        let (status, body) = d.call(
            "POST",
            "/api/v1/users",
            Some(&json!({"email": email, "role": "viewer", "password": PASSWORD})),
        );
        assert_eq!(status, 400, "{email:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("U+"),
            "{body}"
        );
        let (status, body) = d.call(
            "POST",
            "/api/v1/users/invitations",
            Some(&json!({"email": email, "role": "viewer"})),
        );
        assert_eq!(status, 400, "{email:?}: {body}");
    }
}

#[test]
fn login_lifetimes_too_short_to_use_stop_the_start() {
    for (flag, value, says) in [
        (
            "--access-token-ttl",
            "0s",
            "--access-token-ttl must be at least 30s",
        ),
        (
            "--console-session-ttl",
            "10s",
            "--console-session-ttl must be at least 300s",
        ),
        (
            "--refresh-token-ttl",
            "1m",
            "--refresh-token-ttl must be at least 300s",
        ),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cmd = crate::support::uptimeping();
        cmd.args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(tmp.path().join("data"))
            .args([flag, value]);
        let err = refused_start(cmd);
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}

#[test]
fn a_login_past_the_cap_ends_the_oldest_session_at_once() {
    let d = daemon(&[]);
    add_user(&d, "busy@example.com", "viewer");
    let first = access(&login(&d, "busy@example.com"));
    assert_eq!(whoami(&d, &first), 200);
    let cap = 50;
    // From many addresses, so that the login limits do not stop the test.
    for i in 0..cap {
        let from: std::net::IpAddr = format!("127.0.{}.{}", 40 + i / 200, 1 + i % 200)
            .parse()
            .expect("address");
        let (status, _, body) = crate::auth::send(
            &crate::auth::client_from(from),
            &d.url,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"email": "busy@example.com", "password": PASSWORD})),
        );
        assert_eq!(status, 200, "{i}: {body}");
    }
    assert_eq!(whoami(&d, &first), 401, "the oldest of {} ended", cap + 1);
}
