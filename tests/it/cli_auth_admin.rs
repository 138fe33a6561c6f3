//! `uptimeping auth api-key …`, `users …`, `auth passwd`, `auth accept-invite`
//! and `auth register` against the real daemon, as an admin logged in from the CLI.

use crate::cli_auth_support::{Home, PASSWORD, add_user, assert_no_tokens, login};
use crate::daemon_support::Daemon;

#[test]
fn api_keys_are_created_listed_used_and_revoked() {
    let d = Daemon::start(&[]);
    add_user(&d, "admin@example.com", "admin");
    let home = Home::new();
    login(&d, &home, "admin@example.com");
    let saved = home.saved();

    let made = home
        .cli(&d)
        .words("auth api-key create ci-deploy --role operator --expires 90d")
        .run()
        .success();
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

    let list = home
        .cli(&d)
        .words("auth api-key list -o json")
        .run()
        .success();
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
    let table = home.cli(&d).words("auth api-key list").run();
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("ci-deploy"),
        "{}",
        table.stdout
    );

    // The key works on its own, without the login.
    let elsewhere = Home::new();
    let used = elsewhere
        .cli(&d)
        .words("auth whoami -o json")
        .env("UPTIMEPING_API_KEY", &key)
        .run()
        .success();
    assert_eq!(
        (&used.json()["kind"], &used.json()["name"]),
        (&"key".into(), &"ci-deploy".into())
    );

    home.cli(&d)
        .args(["auth", "api-key", "revoke", &id])
        .run()
        .success();
    let refused = elsewhere
        .cli(&d)
        .words("checks list")
        .env("UPTIMEPING_API_KEY", &key)
        .run();
    assert_eq!(refused.code, 1, "a revoked key is refused at once");
    assert!(refused.stderr.contains("API key"), "{}", refused.stderr);
    let list = home.cli(&d).words("auth api-key list -o json").run();
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

    home.cli(&d)
        .words("users add alice@example.com --role operator --password-stdin")
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .success();
    let invited = home
        .cli(&d)
        .words("users invite bob@example.com --role viewer --expires 3d -o json")
        .run()
        .success();
    let invitation = invited.json();
    let token = invitation["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("upinv_"), "{invitation}");
    assert!(
        invited.stderr.contains("auth accept-invite"),
        "{}",
        invited.stderr
    );

    let list = home.cli(&d).words("users list -o json").run().success();
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
    bob.cli(&d)
        .args(["auth", "accept-invite", &token, "--password-stdin"])
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .success();
    let who = bob.cli(&d).words("auth whoami -o json").run();
    assert_eq!(
        (&who.json()["name"], &who.json()["role"]),
        (&"bob@example.com".into(), &"viewer".into())
    );

    let promoted = home
        .cli(&d)
        .words("users set-role bob@example.com operator")
        .run()
        .success();
    assert!(promoted.stdout.contains("operator"), "{}", promoted.stdout);

    let unasked = home.cli(&d).words("users remove bob@example.com").run();
    assert_eq!(unasked.code, 1, "no terminal to confirm on");
    assert!(unasked.stderr.contains("--yes"), "{}", unasked.stderr);
    home.cli(&d)
        .words("users remove bob@example.com --yes")
        .run()
        .success();
    let list = home.cli(&d).words("users list").run();
    assert!(!list.stdout.contains("bob@example.com"), "{}", list.stdout);
    let gone = bob.cli(&d).words("checks list").run().expect_code(1);
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
    home.cli(&d)
        .words("auth passwd --password-stdin")
        .stdin(format!("{PASSWORD}\n{new}\n"))
        .run()
        .success();
    let still = home.cli(&d).words("checks list").run();
    assert_eq!(still.code, 0, "this login goes on: {}", still.stderr);

    let other = Home::new();
    let old = other
        .cli(&d)
        .words("auth login --email op@example.com --password-stdin")
        .stdin(format!("{PASSWORD}\n"))
        .run();
    assert_eq!(old.code, 1, "the old password no longer works");
    other
        .cli(&d)
        .words("auth login --email op@example.com --password-stdin")
        .stdin(format!("{new}\n"))
        .run()
        .success();

    let one_line = home
        .cli(&d)
        .words("auth passwd --password-stdin")
        .stdin(format!("{new}\n"))
        .run()
        .expect_code(1);
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
    let refused = home
        .cli(&closed)
        .args(args)
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .expect_code(1);
    assert!(
        refused.stderr.contains("signup is off"),
        "{}",
        refused.stderr
    );
    assert!(home.login_files().is_empty());

    let open = Daemon::start(&["--allow-signup"]);
    home.cli(&open)
        .args(args)
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .success();
    let who = home.cli(&open).words("auth whoami -o json").run();
    let who = who.json();
    assert_eq!(
        (&who["name"], &who["tenant"], &who["role"]),
        (&"me@example.com".into(), &"acme".into(), &"admin".into())
    );
}
