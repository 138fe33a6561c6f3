//! People and access against a real daemon: logging in, access tokens (minted here
//! with the daemon's own signing key, so expiry needs no sleeping), refresh
//! rotation and reuse detection, logout, the login limits, the same answer for an
//! unknown email and a wrong password, signup, invitations and password changes.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::daemon_support::Daemon;

/// The signing key the tests' daemons use: written as their `jwt.key`.
pub const SIGNING_KEY: &[u8] = b"the integration tests' signing key, 48 bytes lg";
pub const PASSWORD: &str = "Tr0ub4dor&3";

/// A daemon whose signing key the test knows, and the directory it lives in.
pub struct Known {
    pub d: Daemon,
    _tmp: tempfile::TempDir,
}

impl std::ops::Deref for Known {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.d
    }
}

pub fn write_key(data: &Path, key: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(data).expect("data dir");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data.join("jwt.key"))
        .expect("jwt.key");
    f.write_all(key).expect("write jwt.key");
}

pub fn daemon(args: &[&str]) -> Known {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    write_key(&data, SIGNING_KEY);
    Known {
        d: Daemon::start_on(&data, args),
        _tmp: tmp,
    }
}

/// An HTTP client whose requests come from `from` (any 127.x address reaches the
/// daemon on 127.0.0.1), so that tests can be told apart by the login limits.
pub fn client_from(from: IpAddr) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .local_address(from)
        .build()
        .expect("client")
}

/// Sends `body` to `path` with `bearer` if given; status, headers, JSON (or null).
pub fn send(
    c: &reqwest::blocking::Client,
    base: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = c.request(method.parse().expect("method"), format!("{base}{path}"));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().expect("request to daemon");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Calls without a credential.
pub fn anon(d: &Daemon, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let (s, _, v) = send(&Daemon::client(), &d.url, method, path, None, body);
    (s, v)
}

/// Adds `email` with `role` and [`PASSWORD`] with the admin key.
pub fn add_user(d: &Daemon, email: &str, role: &str) {
    add_user_as(d, &d.key, email, role);
}

pub fn add_user_as(d: &Daemon, admin: &str, email: &str, role: &str) {
    let (status, body) = d.call_as(
        admin,
        "POST",
        "/api/v1/users",
        Some(&json!({"email": email, "role": role, "password": PASSWORD})),
    );
    assert_eq!(status, 201, "adding {email}: {body}");
}

/// Logs `email` in with [`PASSWORD`]; the token pair.
pub fn login(d: &Daemon, email: &str) -> Value {
    let (status, body) = anon(
        d,
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"email": email, "password": PASSWORD})),
    );
    assert_eq!(status, 200, "login of {email}: {body}");
    body
}

pub fn access(pair: &Value) -> String {
    pair["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// An API key of `role` made through the API with the admin key.
pub fn key_of(d: &Daemon, name: &str, role: &str, expires_in: Option<&str>) -> Value {
    let mut body = json!({"name": name, "role": role});
    if let Some(e) = expires_in {
        body["expires_in"] = json!(e);
    }
    let (status, created) = d.call("POST", "/api/v1/api-keys", Some(&body));
    assert_eq!(status, 201, "{created}");
    created
}

/// The claims of `token`, read without checking it.
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

pub fn mint(claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key).expect("key"),
    )
    .expect("sign")
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn whoami(d: &Daemon, bearer: &str) -> (u16, Value) {
    d.call_as(bearer, "GET", "/api/v1/auth/whoami", None)
}

#[test]
pub(crate) fn a_user_logs_in_and_the_token_carries_who_they_are() {
    let d = daemon(&[]);
    add_user(&d, "Alice@Example.COM ", "operator");
    let pair = login(&d, " alice@example.com");
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 7 * 86_400);
    assert!(pair["refresh_token"].as_str().unwrap().starts_with("uprt_"));
    let c = claims(&access(&pair));
    assert_eq!(c["iss"], "uptimeping");
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["tenant"], 1);
    assert_eq!(c["tenant_name"], "default");
    assert_eq!(c["roles"], json!(["operator"]));
    assert_eq!(c["permissions"], json!(["read", "operate"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c["sid"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
    let (status, me) = whoami(&d, &access(&pair));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "user");
    assert_eq!(me["name"], "alice@example.com");
    assert_eq!(me["role"], "operator");
    assert_eq!(me["tenant"], "default");
    assert!(me["expires_at"].is_string(), "{me}");
    // A key's whoami says it is a key.
    let (status, me) = whoami(&d, &d.key);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "key");
    assert_eq!(me["role"], "admin");
}

#[test]
fn the_access_token_ttl_follows_the_flag() {
    let d = daemon(&["--access-token-ttl", "2m", "--refresh-token-ttl", "1h"]);
    add_user(&d, "a@example.com", "viewer");
    let pair = login(&d, "a@example.com");
    assert_eq!(pair["expires_in"], 120);
    assert_eq!(pair["refresh_expires_in"], 3600);
}

#[test]
fn an_expired_token_is_token_expired_and_a_foreign_one_unauthorized() {
    let d = daemon(&[]);
    add_user(&d, "a@example.com", "admin");
    let real = claims(&access(&login(&d, "a@example.com")));
    // Minted with the daemon's key: a fresh one works, one past its exp does not.
    let mut fresh = real.clone();
    fresh["exp"] = json!(now_secs() + 600);
    let (status, body) = whoami(&d, &mint(&fresh, SIGNING_KEY));
    assert_eq!(status, 200, "{body}");
    for ago in [1, 60, 86_400] {
        let mut old = real.clone();
        old["iat"] = json!(now_secs() - ago - 900);
        old["exp"] = json!(now_secs() - ago);
        let (status, body) = whoami(&d, &mint(&old, SIGNING_KEY));
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "token_expired", "{body}");
    }
    // Another key, expired or not: not this daemon's token at all.
    for exp in [now_secs() + 600, now_secs() - 600] {
        let mut other = real.clone();
        other["exp"] = json!(exp);
        let token = mint(&other, b"some other key that is long enough to sign with");
        let (status, body) = whoami(&d, &token);
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
    // One changed character breaks the signature.
    let mut tampered = access(&login(&d, "a@example.com"));
    tampered.push('x');
    let (status, body) = whoami(&d, &tampered);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
}

#[test]
fn the_environment_secret_signs_tokens_and_a_short_one_stops_the_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secret = "an environment secret of well over thirty-two bytes";
    let out = crate::support::uptimeping()
        .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("short"))
        .env("UPTIMEPING_JWT_SECRET", "too-short")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run daemon");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 32 bytes"), "{err}");
    let d = EnvDaemon::start(&tmp.path().join("env"), secret);
    let key = std::fs::read_to_string(tmp.path().join("env/admin.key")).expect("admin.key");
    let c = Daemon::client();
    let (status, _, body) = send(
        &c,
        &d.url,
        "POST",
        "/api/v1/users",
        Some(key.trim()),
        Some(&json!({"email": "e@example.com", "role": "viewer", "password": PASSWORD})),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, pair) = send(
        &c,
        &d.url,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"email": "e@example.com", "password": PASSWORD})),
    );
    assert_eq!(status, 200, "{pair}");
    let mut claims = claims(&access(&pair));
    claims["exp"] = json!(now_secs() + 300);
    let token = mint(&claims, secret.as_bytes());
    let (status, _, me) = send(&c, &d.url, "GET", "/api/v1/auth/whoami", Some(&token), None);
    assert_eq!(status, 200, "{me}");
    assert!(
        !tmp.path().join("env/jwt.key").exists(),
        "no key file is made when the environment gives the key"
    );
    claims["exp"] = json!(now_secs() - 1);
    let token = mint(&claims, secret.as_bytes());
    let (status, _, body) = send(&c, &d.url, "GET", "/api/v1/auth/whoami", Some(&token), None);
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("token_expired"))
    );
}

/// A daemon started with `UPTIMEPING_JWT_SECRET` (the shared harness takes no
/// environment).
struct EnvDaemon {
    child: std::process::Child,
    url: String,
}

impl EnvDaemon {
    fn start(data: &Path, secret: &str) -> EnvDaemon {
        use std::io::BufRead;
        let mut child = crate::support::uptimeping()
            .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("UPTIMEPING_JWT_SECRET", secret)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(i) = line.find("listening on http://") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(crate::daemon_support::PATIENCE)
            .expect("the daemon with UPTIMEPING_JWT_SECRET did not start");
        EnvDaemon { child, url }
    }
}

impl Drop for EnvDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn refresh(d: &Daemon, token: &str) -> (u16, Value) {
    anon(
        d,
        "POST",
        "/api/v1/auth/refresh",
        Some(&json!({"refresh_token": token})),
    )
}

#[test]
pub(crate) fn refresh_rotates_and_an_old_refresh_token_again_ends_the_whole_family() {
    let d = daemon(&[]);
    add_user(&d, "a@example.com", "viewer");
    let first = login(&d, "a@example.com");
    let (status, second) = refresh(&d, first["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        claims(&access(&second))["sid"],
        claims(&access(&first))["sid"]
    );
    // The absolute lifetime does not grow with refreshing.
    assert!(second["refresh_expires_in"].as_u64() <= first["refresh_expires_in"].as_u64());
    assert_eq!(whoami(&d, &access(&second)).0, 200);
    let (status, third) = refresh(&d, second["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200, "{third}");
    // The first token again: someone copied it. Everything of the family stops.
    let (status, body) = refresh(&d, first["refresh_token"].as_str().unwrap());
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "session_reused");
    let (status, body) = refresh(&d, third["refresh_token"].as_str().unwrap());
    assert_eq!(
        status, 401,
        "the newest refresh token dies with its family: {body}"
    );
    let (status, body) = whoami(&d, &access(&third));
    assert_eq!(status, 401, "and so does its access token, at once: {body}");
    // Another login of the same user is another family, untouched.
    let other = login(&d, "a@example.com");
    assert_eq!(whoami(&d, &access(&other)).0, 200);
    for junk in [
        "",
        "uprt_",
        "uprt_nothing-like-a-token",
        "x".repeat(10_000).as_str(),
    ] {
        assert_eq!(refresh(&d, junk).0, 401, "{junk:.20}");
    }
}

#[test]
fn logout_ends_the_session_at_once() {
    let d = daemon(&[]);
    add_user(&d, "a@example.com", "operator");
    let pair = login(&d, "a@example.com");
    let other = login(&d, "a@example.com");
    assert_eq!(whoami(&d, &access(&pair)).0, 200);
    let (status, body) = d.call_as(&access(&pair), "POST", "/api/v1/auth/logout", None);
    assert_eq!(status, 204, "{body}");
    let (status, body) = whoami(&d, &access(&pair));
    assert_eq!(status, 401, "{body}");
    assert_eq!(refresh(&d, pair["refresh_token"].as_str().unwrap()).0, 401);
    // The other session goes on; it can end by its refresh token too.
    assert_eq!(whoami(&d, &access(&other)).0, 200);
    let (status, body) = d.call_as(
        &access(&other),
        "POST",
        "/api/v1/auth/logout",
        Some(&json!({"refresh_token": other["refresh_token"]})),
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(whoami(&d, &access(&other)).0, 401);
    // And it stays ended across a restart: the store, not memory, is the truth.
    let data = d.data_dir.clone();
    let Known { d, _tmp } = d;
    d.terminate();
    let d = Daemon::start_on(&data, &[]);
    assert_eq!(whoami(&d, &access(&pair)).0, 401);
    let fresh = login(&d, "a@example.com");
    assert_eq!(whoami(&d, &access(&fresh)).0, 200);
    drop(_tmp);
}

#[test]
fn the_eleventh_login_from_one_address_is_refused_with_retry_after() {
    let d = daemon(&[]);
    add_user(&d, "a@example.com", "viewer");
    let from: IpAddr = "127.0.0.7".parse().unwrap();
    let c = client_from(from);
    let attempt = |c: &reqwest::blocking::Client, password: &str| {
        send(
            c,
            &d.url,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"email": "a@example.com", "password": password})),
        )
    };
    for i in 1..=10 {
        let (status, _, body) = attempt(&c, if i % 2 == 0 { PASSWORD } else { "Wr0ng-pass" });
        assert!(
            status == 200 || status == 401,
            "attempt {i}: {status} {body}"
        );
    }
    // The right password too: the limit counts attempts, not failures.
    let (status, headers, body) = attempt(&c, PASSWORD);
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another address is not held back.
    let (status, _, body) = attempt(&client_from("127.0.0.8".parse().unwrap()), PASSWORD);
    assert_eq!(status, 200, "{body}");
}

/// The median of `xs`.
fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[test]
fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let d = daemon(&[]);
    add_user(&d, "known@example.com", "viewer");
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    let mut answers = std::collections::BTreeSet::new();
    // Ten of each, each from an address of its own (under the limit of ten per
    // address), interleaved so that both see the same machine.
    for i in 0..20u8 {
        let c = client_from(IpAddr::from([127, 0, 1, i]));
        let email = if i % 2 == 0 {
            format!("nobody{i}@example.com")
        } else {
            "known@example.com".to_string()
        };
        let started = Instant::now();
        let (status, _, body) = send(
            &c,
            &d.url,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"email": email, "password": "Wr0ng-password!"})),
        );
        let took = started.elapsed();
        answers.insert((status, body.to_string()));
        if i % 2 == 0 {
            unknown.push(took);
        } else {
            wrong.push(took);
        }
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (status, body) = answers.into_iter().next().unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("the email or password is wrong"), "{body}");
    println!(
        "login refused: unknown email median {:?}, wrong password median {:?}",
        median(unknown),
        median(wrong)
    );
}

#[test]
fn signup_is_off_unless_the_daemon_allows_it() {
    let d = daemon(&[]);
    let req = json!({"email": "me@example.com", "password": PASSWORD, "tenant": "acme"});
    let (status, body) = anon(&d, "POST", "/api/v1/auth/register", Some(&req));
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signup is off"),
        "{body}"
    );
    let d = daemon(&["--allow-signup"]);
    let (status, pair) = anon(&d, "POST", "/api/v1/auth/register", Some(&req));
    assert_eq!(status, 201, "{pair}");
    assert_eq!(pair["user"]["tenant"], "acme");
    assert_eq!(pair["user"]["role"], "admin");
    let (status, users) = d.call_as(&access(&pair), "GET", "/api/v1/users", None);
    assert_eq!(status, 200, "{users}");
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    // The new tenant's admin sees none of the first tenant's keys.
    let (_, keys) = d.call_as(&access(&pair), "GET", "/api/v1/api-keys", None);
    assert_eq!(keys, json!([]));
    // Taken names, bad names and weak passwords are refused.
    let (status, body) = anon(&d, "POST", "/api/v1/auth/register", Some(&req));
    assert_eq!(status, 409, "{body}");
    let bad = json!({"email": "x@example.com", "password": PASSWORD, "tenant": "Not Valid"});
    assert_eq!(anon(&d, "POST", "/api/v1/auth/register", Some(&bad)).0, 400);
    let weak = json!({"email": "x@example.com", "password": "password", "tenant": "beta"});
    assert_eq!(
        anon(&d, "POST", "/api/v1/auth/register", Some(&weak)).0,
        400
    );
}

#[test]
pub(crate) fn an_invitation_becomes_a_user_once() {
    let d = daemon(&["--public-url", "https://uptime.example/"]);
    let (status, inv) = d.call(
        "POST",
        "/api/v1/users/invitations",
        Some(&json!({"email": "Bob@Example.com", "role": "viewer"})),
    );
    assert_eq!(status, 201, "{inv}");
    let token = inv["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("upinv_"), "{inv}");
    assert_eq!(
        inv["url"],
        format!("https://uptime.example/ui/invite/{token}")
    );
    let (_, users) = d.call("GET", "/api/v1/users", None);
    let listed = users.as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|u| u["email"] == "bob@example.com" && u["state"] == "invited"),
        "{users}"
    );
    // The policy holds for an invited user's password, with their email.
    let (status, body) = anon(
        &d,
        "POST",
        "/api/v1/auth/accept-invite",
        Some(&json!({"token": token, "password": "bob@example.com"})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, pair) = anon(
        &d,
        "POST",
        "/api/v1/auth/accept-invite",
        Some(&json!({"token": token, "password": PASSWORD})),
    );
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["user"]["name"], "bob@example.com");
    assert_eq!(pair["user"]["role"], "viewer");
    let (status, body) = anon(
        &d,
        "POST",
        "/api/v1/auth/accept-invite",
        Some(&json!({"token": token, "password": PASSWORD})),
    );
    assert_eq!(status, 401, "an invitation is accepted once: {body}");
    let (_, users) = d.call("GET", "/api/v1/users", None);
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "bob@example.com" && u["state"] == "active"),
        "{users}"
    );
    // Too long an invitation, or a user who exists, is refused.
    let long = json!({"email": "c@example.com", "role": "viewer", "expires_in": "31d"});
    assert_eq!(
        d.call("POST", "/api/v1/users/invitations", Some(&long)).0,
        400
    );
    let again = json!({"email": "bob@example.com", "role": "viewer"});
    assert_eq!(
        d.call("POST", "/api/v1/users/invitations", Some(&again)).0,
        409
    );
}

#[test]
fn password_policy_is_held_on_every_way_in() {
    let d = daemon(&[]);
    for (password, why) in [
        ("short1A", "too short"),
        ("carol@example.com", "email"),
        ("Carol", "too short"),
        ("password123", "common"),
        ("12345678", "pattern"),
        ("abcdefgh", "pattern"),
        ("onlylowercase", "too simple"),
    ] {
        let (status, body) = d.call(
            "POST",
            "/api/v1/users",
            Some(&json!({"email": "carol@example.com", "role": "viewer", "password": password})),
        );
        assert_eq!(status, 400, "{password}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{password}: {message}");
        assert!(message.contains("at least 8 characters"), "{message}");
    }
    let (status, body) = d.call(
        "POST",
        "/api/v1/users",
        Some(&json!({"email": "carol@example.com", "role": "viewer", "password": "a long passphrase of words"})),
    );
    assert_eq!(status, 201, "{body}");
    // A body over the small limit of these routes is refused before it is read.
    let huge =
        json!({"email": "d@example.com", "role": "viewer", "password": "A1!".repeat(10_000)});
    assert_eq!(d.call("POST", "/api/v1/users", Some(&huge)).0, 413);
}

#[test]
pub(crate) fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let d = daemon(&[]);
    add_user(&d, "a@example.com", "viewer");
    let mine = login(&d, "a@example.com");
    let other = login(&d, "a@example.com");
    let change = |current: &str, new: &str| {
        d.call_as(
            &access(&mine),
            "POST",
            "/api/v1/auth/password",
            Some(&json!({"current_password": current, "new_password": new})),
        )
    };
    // A wrong current password is 400 `invalid`, not a role's 403 `forbidden`.
    let (status, body) = change("Wr0ng-pass!", "N3w-passw0rd!");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid")),
        "{body}"
    );
    assert_eq!(change(PASSWORD, "weak").0, 400);
    let (status, body) = change(PASSWORD, "N3w-passw0rd!");
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        whoami(&d, &access(&mine)).0,
        200,
        "the session that changed it goes on"
    );
    assert_eq!(whoami(&d, &access(&other)).0, 401, "the others end at once");
    let (status, _) = anon(
        &d,
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"email": "a@example.com", "password": PASSWORD})),
    );
    assert_eq!(status, 401);
    let (status, body) = anon(
        &d,
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"email": "a@example.com", "password": "N3w-passw0rd!"})),
    );
    assert_eq!(status, 200, "{body}");
    // A key has no password.
    let (status, body) = d.call(
        "POST",
        "/api/v1/auth/password",
        Some(&json!({"current_password": "x", "new_password": "N3w-passw0rd!"})),
    );
    assert_eq!((status, &body["error"]["code"]), (400, &json!("invalid")));
}

#[test]
fn a_hash_at_older_settings_logs_in_and_is_made_again_at_the_current_ones() {
    use argon2::password_hash::PasswordHasher;
    let d = daemon(&[]);
    add_user(&d, "old@example.com", "viewer");
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    let conn = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let stored = |conn: &rusqlite::Connection| -> String {
        conn.query_row(
            "SELECT password_hash FROM users WHERE email = 'old@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    conn.execute(
        "UPDATE users SET password_hash = ?1 WHERE email = 'old@example.com'",
        [&weak],
    )
    .unwrap();
    assert!(stored(&conn).contains("m=4096,t=1,p=1"));
    login(&d, "old@example.com");
    let now = stored(&conn);
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    login(&d, "old@example.com");
}

#[test]
fn a_signing_key_others_can_read_stops_the_start_saying_it_may_have_leaked() {
    use std::os::unix::fs::PermissionsExt;
    // The data directory makes its other files private, but not the key: one
    // others could read may have leaked, which narrowing it would hide.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    write_key(&data, SIGNING_KEY);
    let key = data.join("jwt.key");
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut cmd = crate::support::uptimeping();
        cmd.args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data);
        let err = crate::auth_review::refused_start(cmd);
        assert!(err.contains("may have leaked"), "{err}");
        assert!(
            err.contains("Rotate it") && err.contains("chmod 600"),
            "{err}"
        );
        let now = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(now, mode, "left as it was, for the operator to judge");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let d = Daemon::start_on(&data, &[]);
    // Short keys are refused, saying what to do.
    d.terminate();
    std::fs::write(&key, b"short").unwrap();
    let out = crate::support::uptimeping()
        .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run daemon");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("fewer than 32"), "{err}");
}
