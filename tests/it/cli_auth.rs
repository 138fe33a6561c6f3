//! `uptimeping auth login` and the saved login against the real daemon: the file
//! it keeps, commands that need no key afterwards, refreshing by itself (also from
//! several processes at once), logging out, and what wins over it.

use std::process::Stdio;

use crate::cli_auth_support::{
    Home, add_user, assert_no_tokens, command, expire_saved, login, refresh_status,
};
use crate::daemon_support::Daemon;

#[test]
fn login_keeps_a_private_file_and_later_commands_need_no_key() {
    let d = Daemon::start(&[]);
    add_user(&d, "Op@Example.com", "operator");
    let home = Home::new();
    let before = home.cli(&d).words("checks list").run();
    assert_eq!(before.code, 1, "no credential yet: {}", before.stdout);
    assert!(
        before.stderr.contains("uptimeping auth login"),
        "{}",
        before.stderr
    );

    let r = login(&d, &home, "op@example.com");
    let file = home.login_file();
    assert!(
        file.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("url-"),
        "a bare URL's login is named after the URL: {file:?}"
    );
    #[cfg(unix)]
    {
        use crate::cli_auth_support::mode;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&home.tokens_dir()), 0o700);
    }
    let saved = home.saved();
    assert_eq!(saved["email"], "op@example.com");
    assert_eq!(saved["url"], format!("{}/", d.url));
    assert!(
        saved["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("uprt_")
    );
    assert_no_tokens(&r, &saved);
    assert_eq!(r.stdout, "");

    let list = home.cli(&d).words("checks list -o json").run();
    assert_eq!(
        (list.code, list.stdout.trim()),
        (0, "[]"),
        "{}",
        list.stderr
    );
    let who = home.cli(&d).words("auth whoami -o json").run().success();
    let who = who.json();
    assert_eq!(
        (&who["kind"], &who["name"], &who["role"]),
        (&"user".into(), &"op@example.com".into(), &"operator".into())
    );
    let table = home.cli(&d).words("auth whoami").run();
    assert!(table.stdout.contains("saved login ("), "{}", table.stdout);
    assert_no_tokens(&table, &saved);
}

#[test]
fn a_context_keeps_its_login_under_its_name() {
    let d = Daemon::start(&[]);
    add_user(&d, "viewer@example.com", "viewer");
    let home = Home::new();
    crate::cli_auth_support::login_in_context(&d, &home, "viewer@example.com");
    assert_eq!(home.login_file(), home.tokens_dir().join("dev.json"));
    let mut cmd = command(&d, &home, &["checks", "list", "--context", "dev"], None);
    cmd.env_remove("UPTIMEPING_URL");
    crate::cli_auth_support::run_command(cmd, None).success();
}

#[test]
fn an_access_token_about_to_expire_is_refreshed_before_use() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    // The token itself still works: only the refresh ahead of its expiry, by
    // the saved time, replaces it.
    let mut old = home.saved();
    old["access_expires_at"] = (chrono::Utc::now() + chrono::Duration::seconds(10))
        .to_rfc3339()
        .into();
    home.write_saved(&old);

    let r = home.cli(&d).words("checks list").run().success();
    let new = home.saved();
    // (The access token may come out the same: it is signed to the second.)
    assert_ne!(new["refresh_token"], old["refresh_token"], "rotated");
    assert_no_tokens(&r, &old);
    assert_no_tokens(&r, &new);

    // With more than 30 s left, nothing is refreshed.
    home.cli(&d).words("checks list").run().success();
    assert_eq!(home.saved(), new);

    assert_eq!(
        refresh_status(&d, old["refresh_token"].as_str().unwrap()),
        401,
        "the old refresh token is spent"
    );
}

#[test]
fn a_token_the_daemon_says_has_expired_is_refreshed_and_the_request_sent_again() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    // The file still says the token is good: only the daemon's 401
    // `token_expired` tells the CLI otherwise.
    let old = expire_saved(&d, &home, false);

    let r = home.cli(&d).words("auth whoami -o json").run().success();
    assert_eq!(r.json()["name"], "op@example.com");
    assert_ne!(home.saved()["refresh_token"], old["refresh_token"]);
}

#[test]
fn processes_refreshing_at_once_rotate_once_and_keep_the_session() {
    const PROCESSES: usize = 6;
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let old = expire_saved(&d, &home, true);

    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            command(&d, &home, &["checks", "list"], None)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent command failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Had two of them both presented the old refresh token, the daemon would
    // have taken it for theft and ended the session: the next refresh works.
    // And the ones that waited took the new tokens from the file rather than
    // rotating again: the session has its login's token and one more.
    let saved = home.saved();
    assert_ne!(saved["refresh_token"], old["refresh_token"]);
    assert_eq!(refresh_tokens_issued(&d), 2, "rotated once");
    expire_saved(&d, &home, true);
    let again = home.cli(&d).words("checks list").run();
    assert_eq!(again.code, 0, "the session survived: {}", again.stderr);
}

/// Refresh tokens the daemon has issued, over all sessions.
fn refresh_tokens_issued(d: &Daemon) -> i64 {
    let db = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    db.query_row("SELECT count(*) FROM refresh_tokens", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn logout_ends_the_session_on_the_daemon_and_deletes_the_file() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let saved = home.saved();

    let r = home.cli(&d).words("auth logout").run().success();
    assert!(r.stderr.contains("logged out"), "{}", r.stderr);
    assert_no_tokens(&r, &saved);
    assert!(home.login_files().is_empty());
    assert_eq!(
        refresh_status(&d, saved["refresh_token"].as_str().unwrap()),
        401,
        "the session has ended"
    );
    let (status, _) = d.call_as(
        saved["access_token"].as_str().unwrap(),
        "GET",
        "/api/v1/checks",
        None,
    );
    assert_eq!(status, 401, "its access token is refused at once");

    let again = home.cli(&d).words("auth logout").run().success();
    assert!(again.stderr.contains("not logged in"), "{}", again.stderr);
}

#[test]
fn logout_without_a_daemon_deletes_the_login_here_and_says_so() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let url = d.url.clone();
    let (code, _) = d.terminate();
    assert_eq!(code, 0);

    let mut cmd = crate::support::uptimeping();
    cmd.args(["auth", "logout"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("UPTIMEPING_URL", &url)
        .env_remove("UPTIMEPING_API_KEY");
    let r = crate::cli_auth_support::run_command(cmd, None).success();
    assert!(
        r.stderr.contains("could not end the session on the daemon")
            && r.stderr.contains("cannot reach the daemon"),
        "{}",
        r.stderr
    );
    assert!(home.login_files().is_empty());
}

#[test]
fn a_key_from_the_environment_wins_over_a_saved_login() {
    let d = Daemon::start(&[]);
    add_user(&d, "viewer@example.com", "viewer");
    let home = Home::new();
    let r = home
        .cli(&d)
        .words("auth login --email viewer@example.com --password-stdin")
        .stdin(format!("{}\n", crate::cli_auth_support::PASSWORD))
        .env("UPTIMEPING_API_KEY", &d.key)
        .run()
        .success();
    assert!(r.stderr.contains("wins over this login"), "{}", r.stderr);

    let with_key = home
        .cli(&d)
        .words("auth whoami -o json")
        .env("UPTIMEPING_API_KEY", &d.key)
        .run()
        .success();
    assert_eq!(with_key.json()["kind"], "key");
    let flag = home
        .cli(&d)
        .args(["auth", "whoami", "-o", "json", "--api-key", &d.key])
        .run();
    assert_eq!(flag.json()["kind"], "key");
    let login = home.cli(&d).words("auth whoami -o json").run();
    assert_eq!(login.json()["kind"], "user");
}

#[test]
fn a_saved_login_is_never_sent_to_another_url() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    crate::cli_auth_support::login_in_context(&d, &home, "op@example.com");

    // Something else listens where the context now points; it must get nothing.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let other_url = format!("http://{}", other.local_addr().unwrap());
    home.cli(&d)
        .args(["context", "set", "dev", "--url", &other_url])
        .run()
        .success();
    for args in [
        &["checks", "list", "--context", "dev"][..],
        &["checks", "list", "--url", &other_url],
    ] {
        let mut cmd = command(&d, &home, args, None);
        cmd.env_remove("UPTIMEPING_URL");
        let r = crate::cli_auth_support::run_command(cmd, None);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(r.stderr.contains("auth login"), "{args:?}: {}", r.stderr);
        assert!(
            matches!(other.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{args:?} connected to the other URL"
        );
    }
}

#[test]
fn a_session_ended_by_an_admin_says_to_log_in_again() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let admin = Home::new();
    admin
        .cli(&d)
        .words("users set-role op@example.com viewer")
        .env("UPTIMEPING_API_KEY", &d.key)
        .run()
        .success();

    let r = home.cli(&d).words("checks list").run().expect_code(1);
    assert!(
        r.stderr
            .contains("your login has ended; run `uptimeping auth login`"),
        "{}",
        r.stderr
    );
    assert!(home.login_files().is_empty(), "the dead login is dropped");
}

#[test]
fn a_wrong_password_is_refused_without_talk_of_api_keys() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    let r = home
        .cli(&d)
        .words("auth login --email op@example.com --password-stdin")
        .stdin("Wrong-Horse-42\n")
        .run()
        .expect_code(1);
    assert!(
        r.stderr.contains("the email or password is wrong") && !r.stderr.contains("API key"),
        "{}",
        r.stderr
    );
    assert!(home.login_files().is_empty());
    let no_tty = home.cli(&d).words("auth login").run().expect_code(1);
    assert!(no_tty.stderr.contains("--email"), "{}", no_tty.stderr);
}

#[test]
fn logging_in_again_ends_the_session_it_replaces() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let first = home.saved();
    let r = login(&d, &home, "op@example.com");
    assert_no_tokens(&r, &first);
    let second = home.saved();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let (status, _) = d.call_as(
        first["access_token"].as_str().unwrap(),
        "GET",
        "/api/v1/checks",
        None,
    );
    assert_eq!(status, 401, "the replaced session has ended");
    let list = home.cli(&d).words("checks list").run();
    assert_eq!(list.code, 0, "the new one works: {}", list.stderr);
}

#[path = "cli_auth_hostile.rs"]
mod hostile;
