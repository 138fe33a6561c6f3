//! The login limits against a real daemon, from chosen loopback addresses: who a
//! request counts against behind a trusted reverse proxy, and invitations
//! limited per address rather than in one bucket for the whole daemon.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::auth::{PASSWORD, add_user, client_from, daemon, send};

/// A login from `from` with `X-Forwarded-For: xff` when given; status and body.
fn login_via(
    base: &str,
    from: &str,
    xff: Option<&str>,
    email: &str,
    password: &str,
) -> (u16, Value) {
    let from: IpAddr = from.parse().expect("ip");
    let mut req = client_from(from)
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let res = req.send().expect("request to daemon");
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_budget() {
    // Ten attempts an hour: within a minute's window one attempt comes back
    // every 6 s, which ten password hashes on a loaded machine can outlast.
    let d = daemon(&[
        "--trusted-proxy",
        "127.0.3.1",
        "--trusted-proxy",
        "10.0.0.0/8",
        "--login-limit-address",
        "10/h",
    ]);
    add_user(&d, "a@example.com", "viewer");
    // One client behind the proxy uses up its budget, a forged entry on the
    // left changing nothing.
    for i in 0..10 {
        let xff = format!("192.0.2.{i}, 198.51.100.1, 10.1.2.3");
        let (status, body) = login_via(
            &d.url,
            "127.0.3.1",
            Some(&xff),
            "a@example.com",
            "Wr0ng-pass",
        );
        assert_eq!(status, 401, "attempt {i}: {body}");
    }
    let (status, body) = login_via(
        &d.url,
        "127.0.3.1",
        Some("198.51.100.1"),
        "a@example.com",
        PASSWORD,
    );
    assert_eq!(status, 429, "{body}");
    // Another client behind the same proxy is not held back.
    let (status, body) = login_via(
        &d.url,
        "127.0.3.1",
        Some("198.51.100.2"),
        "a@example.com",
        PASSWORD,
    );
    assert_eq!(status, 200, "{body}");
    // The audit log names the client, not the proxy.
    let (_, events) = d.call("GET", "/api/v1/audit?action=login&limit=1", None);
    assert_eq!(events[0]["source"], "198.51.100.2", "{events}");
}

#[test]
fn a_peer_that_is_not_a_trusted_proxy_cannot_pick_its_address() {
    let d = daemon(&[
        "--trusted-proxy",
        "127.0.3.1",
        "--login-limit-address",
        "10/h",
    ]);
    add_user(&d, "a@example.com", "viewer");
    for i in 0..10 {
        let xff = format!("198.51.100.{i}");
        let (status, body) = login_via(
            &d.url,
            "127.0.3.2",
            Some(&xff),
            "a@example.com",
            "Wr0ng-pass",
        );
        assert_eq!(status, 401, "attempt {i}: {body}");
    }
    let (status, body) = login_via(
        &d.url,
        "127.0.3.2",
        Some("198.51.100.99"),
        "a@example.com",
        PASSWORD,
    );
    assert_eq!(status, 429, "{body}");
}

#[test]
fn a_bad_trusted_proxy_stops_the_start_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_uptimeping"))
        .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args(["--trusted-proxy", "10.0.0.0/33"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--trusted-proxy") && err.contains("10.0.0.0/33"),
        "{err}"
    );
}

#[test]
fn invitation_guesses_from_other_addresses_do_not_block_an_invitee() {
    let d = daemon(&[]);
    let (status, inv) = d.call(
        "POST",
        "/api/v1/users/invitations",
        Some(&json!({"email": "bob@example.com", "role": "viewer"})),
    );
    assert_eq!(status, 201, "{inv}");
    let token = inv["token"].as_str().expect("token").to_string();
    // More bogus tokens, from more addresses, than one shared bucket of 100 holds.
    for a in 0..12u8 {
        let c = client_from(IpAddr::from([127, 0, 4, a + 1]));
        for i in 0..10 {
            let bogus = json!({"token": format!("upinv_bogus{a}x{i}"), "password": PASSWORD});
            let (status, _, body) = send(
                &c,
                &d.url,
                "POST",
                "/api/v1/auth/accept-invite",
                None,
                Some(&bogus),
            );
            assert_eq!(status, 401, "{body}");
        }
    }
    let c = client_from("127.0.4.200".parse().expect("ip"));
    let real = json!({"token": token, "password": PASSWORD});
    let (status, _, body) = send(
        &c,
        &d.url,
        "POST",
        "/api/v1/auth/accept-invite",
        None,
        Some(&real),
    );
    assert_eq!(status, 200, "{body}");
    // One address is still held to its own limit.
    let c = client_from("127.0.4.1".parse().expect("ip"));
    let (status, _, body) = send(
        &c,
        &d.url,
        "POST",
        "/api/v1/auth/accept-invite",
        None,
        Some(&real),
    );
    assert_eq!(status, 429, "{body}");
}

#[test]
fn a_flood_of_wrong_passwords_does_not_lock_the_owner_out_from_a_clean_address() {
    // The brief's counts over a day rather than a minute: the flood below takes
    // a hundred password hashes, which on a loaded machine can take longer
    // than a minute, and within a day nothing comes back to the buckets
    // between the flood and the logins after it.
    let d = daemon(&[
        "--login-limit-address",
        "10/1d",
        "--login-limit-email",
        "100/1d",
    ]);
    add_user(&d, "victim@example.com", "viewer");
    // One wrong password from an address marks it for the window.
    let (status, body) = login_via(
        &d.url,
        "127.0.5.150",
        None,
        "victim@example.com",
        "Wr0ng-pass",
    );
    assert_eq!(status, 401, "{body}");
    let mut refused = 0;
    for a in 0..12u8 {
        for _ in 0..10 {
            let from = format!("127.0.5.{}", a + 1);
            let (status, body) = login_via(&d.url, &from, None, "victim@example.com", "Wr0ng-pass");
            assert!(status == 401 || status == 429, "{status} {body}");
            refused += usize::from(status == 429);
        }
    }
    assert!(refused > 0, "the flood reached the email's limit");
    let (status, body) = login_via(&d.url, "127.0.5.200", None, "victim@example.com", PASSWORD);
    assert_eq!(status, 200, "{body}");
    // From an address that failed lately it stays refused, even with its own
    // budget left.
    let res = client_from("127.0.5.150".parse().expect("ip"))
        .post(format!("{}/api/v1/auth/login", d.url))
        .json(&json!({"email": "victim@example.com", "password": PASSWORD}))
        .send()
        .expect("request to daemon");
    assert_eq!(res.status().as_u16(), 429);
    // It waits for the configured window's next attempt, not a minute's.
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry > 60, "Retry-After: {retry}");
}
