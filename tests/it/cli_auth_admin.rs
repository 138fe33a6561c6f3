//! `uptimeping auth api-key …`, `users …`, `auth passwd`, `auth accept-invite`
//! and `auth register` against the real daemon, as an admin logged in from the CLI.

use crate::cli_auth_support::{Home, PASSWORD, add_user, assert_no_tokens, login, run};
use crate::daemon_support::Daemon;

#[test]
fn api_keys_are_created_listed_used_and_revoked() {
    let d = Daemon::start(&[]);
    add_user(&d, "admin@example.com", "admin");
    let home = Home::new();
    login(&d, &home, "admin@example.com");
    let saved = home.saved();

    let made = run(
        &d,
        &home,
        &[
            "auth",
            "api-key",
            "create",
            "ci-deploy",
            "--role",
            "operator",
            "--expires",
            "90d",
        ],
        None,
        None,
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert!(
        made.stderr.contains("shown only this once"),
        "{}",
        made.stderr
    );
    let key_line = made
        .stdout
        .lines()
        .find(|l| l.starts_with("API key:"))
        .unwrap_or_else(|| panic!("no key in:\n{}", made.stdout));
    let key = key_line["API key:".len()..].trim().to_string();
    assert!(key.starts_with("upk_"), "{key}");
    assert_eq!(made.stdout.matches(&key).count(), 1, "shown once");
    assert_no_tokens(&made, &saved);

    let list = run(
        &d,
        &home,
        &["auth", "api-key", "list", "-o", "json"],
        None,
        None,
    );
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(!list.stdout.contains(&key), "a list never shows secrets");
    let keys = list.json();
    let ours = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci-deploy")
        .unwrap_or_else(|| panic!("{keys}"))
        .clone();
    assert_eq!(
        (&ours["role"], &ours["state"]),
        (&"operator".into(), &"active".into())
    );
    assert!(ours["expires_at"].is_string(), "{ours}");
    let id = ours["id"].as_str().unwrap().to_string();
    let table = run(&d, &home, &["auth", "api-key", "list"], None, None);
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("ci-deploy"),
        "{}",
        table.stdout
    );

    // The key works on its own, without the login.
    let elsewhere = Home::new();
    let used = run(
        &d,
        &elsewhere,
        &["auth", "whoami", "-o", "json"],
        None,
        Some(&key),
    );
    assert_eq!(used.code, 0, "{}", used.stderr);
    assert_eq!(
        (&used.json()["kind"], &used.json()["name"]),
        (&"key".into(), &"ci-deploy".into())
    );

    let revoked = run(&d, &home, &["auth", "api-key", "revoke", &id], None, None);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let refused = run(&d, &elsewhere, &["checks", "list"], None, Some(&key));
    assert_eq!(refused.code, 1, "a revoked key is refused at once");
    assert!(refused.stderr.contains("API key"), "{}", refused.stderr);
    let list = run(
        &d,
        &home,
        &["auth", "api-key", "list", "-o", "json"],
        None,
        None,
    );
    let state = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .map(|k| k["state"].clone());
    assert_eq!(state, Some("revoked".into()));
}

#[test]
fn users_are_added_invited_listed_changed_and_removed() {
    let d = Daemon::start(&[]);
    add_user(&d, "admin@example.com", "admin");
    let home = Home::new();
    login(&d, &home, "admin@example.com");

    let added = run(
        &d,
        &home,
        &[
            "users",
            "add",
            "alice@example.com",
            "--role",
            "operator",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
        None,
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let invited = run(
        &d,
        &home,
        &[
            "users",
            "invite",
            "bob@example.com",
            "--role",
            "viewer",
            "--expires",
            "3d",
            "-o",
            "json",
        ],
        None,
        None,
    );
    assert_eq!(invited.code, 0, "{}", invited.stderr);
    let invitation = invited.json();
    let token = invitation["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("upinv_"), "{invitation}");
    assert!(
        invited.stderr.contains("auth accept-invite"),
        "{}",
        invited.stderr
    );

    let list = run(&d, &home, &["users", "list", "-o", "json"], None, None);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let users = list.json();
    let state_of = |email: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .map(|u| (u["role"].clone(), u["state"].clone()))
    };
    assert_eq!(
        state_of("alice@example.com"),
        Some(("operator".into(), "active".into()))
    );
    assert_eq!(
        state_of("bob@example.com"),
        Some(("viewer".into(), "invited".into()))
    );
    assert!(!list.stdout.contains(&token));

    // Bob accepts in a home of his own and is logged in.
    let bob = Home::new();
    let accepted = run(
        &d,
        &bob,
        &["auth", "accept-invite", &token, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        None,
    );
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let who = run(&d, &bob, &["auth", "whoami", "-o", "json"], None, None);
    assert_eq!(
        (&who.json()["name"], &who.json()["role"]),
        (&"bob@example.com".into(), &"viewer".into())
    );

    let promoted = run(
        &d,
        &home,
        &["users", "set-role", "bob@example.com", "operator"],
        None,
        None,
    );
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    assert!(promoted.stdout.contains("operator"), "{}", promoted.stdout);

    let unasked = run(
        &d,
        &home,
        &["users", "remove", "bob@example.com"],
        None,
        None,
    );
    assert_eq!(unasked.code, 1, "no terminal to confirm on");
    assert!(unasked.stderr.contains("--yes"), "{}", unasked.stderr);
    let removed = run(
        &d,
        &home,
        &["users", "remove", "bob@example.com", "--yes"],
        None,
        None,
    );
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let list = run(&d, &home, &["users", "list"], None, None);
    assert!(!list.stdout.contains("bob@example.com"), "{}", list.stdout);
    let gone = run(&d, &bob, &["checks", "list"], None, None);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("your login has ended"),
        "{}",
        gone.stderr
    );
}

#[test]
fn passwd_reads_the_current_then_the_new_password_from_stdin() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let new = "Battery-Staple-77";
    let changed = run(
        &d,
        &home,
        &["auth", "passwd", "--password-stdin"],
        Some(&format!("{PASSWORD}\n{new}\n")),
        None,
    );
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    let still = run(&d, &home, &["checks", "list"], None, None);
    assert_eq!(still.code, 0, "this login goes on: {}", still.stderr);

    let other = Home::new();
    let old = run(
        &d,
        &other,
        &[
            "auth",
            "login",
            "--email",
            "op@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
        None,
    );
    assert_eq!(old.code, 1, "the old password no longer works");
    let fresh = run(
        &d,
        &other,
        &[
            "auth",
            "login",
            "--email",
            "op@example.com",
            "--password-stdin",
        ],
        Some(&format!("{new}\n")),
        None,
    );
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);

    let one_line = run(
        &d,
        &home,
        &["auth", "passwd", "--password-stdin"],
        Some(&format!("{new}\n")),
        None,
    );
    assert_eq!(one_line.code, 1);
    assert!(one_line.stderr.contains("line 2"), "{}", one_line.stderr);
}

#[test]
fn register_makes_a_tenant_and_logs_in_only_where_signup_is_on() {
    let closed = Daemon::start(&[]);
    let home = Home::new();
    let args = [
        "auth",
        "register",
        "--email",
        "me@example.com",
        "--tenant",
        "acme",
        "--password-stdin",
    ];
    let refused = run(&closed, &home, &args, Some(&format!("{PASSWORD}\n")), None);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("signup is off"),
        "{}",
        refused.stderr
    );
    assert!(home.login_files().is_empty());

    let open = Daemon::start(&["--allow-signup"]);
    let made = run(&open, &home, &args, Some(&format!("{PASSWORD}\n")), None);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let who = run(&open, &home, &["auth", "whoami", "-o", "json"], None, None);
    let who = who.json();
    assert_eq!(
        (&who["name"], &who["tenant"], &who["role"]),
        (&"me@example.com".into(), &"acme".into(), &"admin".into())
    );
}
