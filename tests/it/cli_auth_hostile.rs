//! The CLI's login against daemons (or things at the daemon's URL) that answer
//! what they should not: redirects elsewhere, token answers that cannot be kept,
//! a saved login swapped for a link, a home where nothing can be saved, a URL
//! with a password in it, and a refresh token someone else used first.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli_auth_support::{
    Home, PASSWORD, add_user, command, expire_saved, login, refresh_status, run_command,
};
use crate::daemon_support::Daemon;
use crate::fake_daemon::FakeDaemon;
use crate::support::Run;

/// A server on 127.0.0.1 that answers each request with the raw HTTP response
/// `answer` makes of its method and path; returns its URL.
fn raw_server(answer: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let mut words = head.split_whitespace();
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<u64>().ok())?
                })
                .unwrap_or(0);
            let _ = std::io::copy(&mut (&mut stream).take(length), &mut std::io::sink());
            let _ = stream.write_all(answer(method, path).as_bytes());
        }
    });
    url
}

fn redirect(status: u16, location: &str) -> String {
    format!(
        "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

fn json_answer(status: u16, body: &Value) -> String {
    let body = body.to_string();
    format!(
        "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A token answer as the daemon gives one.
fn pair(access: &str, refresh: &str, expires_in: u64, refresh_expires_in: u64) -> Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_expires_in": refresh_expires_in,
        "user": {
            "kind": "user", "id": "1", "name": "me@example.com", "tenant": "default",
            "tenant_id": 1, "role": "operator", "permissions": ["checks:read"]
        }
    })
}

/// The CLI against `url` in `home`, with nothing from the environment.
fn run_at(url: &str, home: &Home, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = crate::support::uptimeping();
    cmd.args(args)
        .args(["--url", url])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env_remove("UPTIMEPING_URL")
        .env_remove("UPTIMEPING_API_KEY");
    run_command(cmd, stdin)
}

const LOGIN: &[&str] = &[
    "auth",
    "login",
    "--email",
    "me@example.com",
    "--password-stdin",
];

#[test]
fn redirects_are_never_followed_so_passwords_and_tokens_stay_at_the_url_given() {
    let elsewhere = FakeDaemon::start();
    let elsewhere_url = elsewhere.url();
    let status = Arc::new(AtomicU16::new(200));
    let answer_with = Arc::clone(&status);
    let target = elsewhere_url.clone();
    let url = raw_server(move |_, path| match answer_with.load(Ordering::SeqCst) {
        200 => json_answer(200, &pair("eyJ.access", "uprt_fake", 0, 3600)),
        code => redirect(code, &format!("{target}{path}")),
    });
    // A login whose access token needs refreshing at once.
    let refreshing = Home::new();
    run_at(&url, &refreshing, LOGIN, Some("My-Real-Passw0rd\n")).success();

    for code in [301, 302, 303, 307, 308] {
        status.store(code, Ordering::SeqCst);
        let home = Home::new();
        let login = run_at(&url, &home, LOGIN, Some("My-Real-Passw0rd\n"));
        let keyed = run_at(&url, &home, &["checks", "list", "--api-key", "upk_k"], None);
        let refresh = run_at(&url, &refreshing, &["checks", "list"], None);
        for (what, r) in [("login", &login), ("key", &keyed), ("refresh", &refresh)] {
            assert_eq!(r.code, 1, "{code} {what}: {}", r.stdout);
            assert!(
                r.stderr.contains("does not follow redirects")
                    && r.stderr.contains(&format!("--url {elsewhere_url}/")),
                "{code} {what}: {}",
                r.stderr
            );
        }
        assert!(home.login_files().is_empty(), "{code}");
    }
    assert!(
        elsewhere.received().is_empty(),
        "the other origin got: {:?}",
        elsewhere.received()
    );
}

#[test]
fn token_answers_that_cannot_be_kept_are_refused_before_saving_and_revoked() {
    let fake = FakeDaemon::start();
    let long = format!("eyJ{}", "a".repeat(9 * 1024));
    let huge = format!("eyJ{}", "a".repeat(200_000));
    for (what, answer, says) in [
        (
            "long token",
            pair(&long, "uprt_a", 900, 3600),
            "longer than",
        ),
        (
            "huge answer",
            pair(&huge, "uprt_a", 900, 3600),
            "larger than",
        ),
        (
            "control",
            pair("eyJ.a\nb", "uprt_a", 900, 3600),
            "not a token",
        ),
        (
            "no lifetime",
            pair("eyJ.a", "uprt_a", 900, 0),
            "ends at once",
        ),
    ] {
        fake.on("POST", "/api/v1/auth/login", 200, answer).on(
            "POST",
            "/api/v1/auth/logout",
            204,
            Value::Null,
        );
        let home = Home::new();
        let r = run_at(&fake.url(), &home, LOGIN, Some("My-Real-Passw0rd\n"));
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains(says) && !r.stderr.contains("internal error"),
            "{what}: {}",
            r.stderr
        );
        assert!(home.login_files().is_empty(), "{what}: nothing is saved");
    }
    // What could be read is ended on the daemon rather than left alive.
    let logouts: Vec<Value> = fake
        .received()
        .iter()
        .filter(|r| r.uri == "/api/v1/auth/logout")
        .map(|r| r.json())
        .collect();
    assert!(
        logouts.iter().all(|l| l["refresh_token"] == "uprt_a") && logouts.len() == 2,
        "{logouts:?}"
    );

    // Lifetimes far past any daemon's are taken as the longest the CLI keeps,
    // with no overflow, at login and at refresh.
    for huge in [1_000_000_000_000_000_000, u64::MAX] {
        fake.on(
            "POST",
            "/api/v1/auth/login",
            200,
            pair("eyJ.a", "uprt_b", huge, huge),
        )
        .on(
            "POST",
            "/api/v1/auth/refresh",
            200,
            pair("eyJ.c", "uprt_d", huge, huge),
        )
        .on("GET", "/api/v1/checks", 200, json!([]));
        let home = Home::new();
        let r = run_at(&fake.url(), &home, LOGIN, Some("My-Real-Passw0rd\n"));
        assert_eq!(r.code, 0, "{huge}: {}", r.stderr);
        let saved = home.saved();
        let at = |f: &str| {
            chrono::DateTime::parse_from_rfc3339(saved[f].as_str().unwrap())
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let years = chrono::Utc::now() + chrono::Duration::days(2 * 366);
        assert!(at("access_expires_at") < years && at("refresh_expires_at") < years);
        let mut expired = saved.clone();
        expired["access_expires_at"] = "2020-01-01T00:00:00Z".into();
        home.write_saved(&expired);
        let list = run_at(&fake.url(), &home, &["checks", "list"], None);
        assert_eq!(list.code, 0, "{huge}: {}", list.stderr);
        assert_eq!(home.saved()["access_token"], "eyJ.c");
    }
    // A refresh answer that cannot be kept ends the login with a reason.
    fake.on(
        "POST",
        "/api/v1/auth/refresh",
        200,
        pair(&long, "uprt_e", 900, 3600),
    );
    let home = Home::new();
    assert_eq!(
        run_at(&fake.url(), &home, LOGIN, Some("My-Real-Passw0rd\n")).code,
        0
    );
    let mut expired = home.saved();
    expired["access_expires_at"] = "2020-01-01T00:00:00Z".into();
    home.write_saved(&expired);
    let list = run_at(&fake.url(), &home, &["checks", "list"], None).expect_code(1);
    assert!(
        list.stderr.contains("longer than") && list.stderr.contains("uptimeping auth login"),
        "{}",
        list.stderr
    );
}

/// Sessions the daemon has opened that are still live.
fn live_sessions(d: &Daemon) -> i64 {
    let db = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    db.query_row(
        "SELECT count(*) FROM sessions WHERE revoked_at IS NULL",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_login_that_cannot_be_saved_is_refused_before_the_daemon_is_asked() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let args = [
        "auth",
        "login",
        "--email",
        "op@example.com",
        "--password-stdin",
    ];
    let stdin = format!("{PASSWORD}\n");

    // The tokens directory cannot be made: a file is in the way.
    let home = Home::new();
    std::fs::write(home.path().join(".uptimeping"), "not a directory").unwrap();
    let r = home.cli(&d).args(args).stdin(&stdin).run().expect_code(1);
    assert!(r.stderr.contains(".uptimeping"), "{}", r.stderr);
    assert_eq!(live_sessions(&d), 0, "the daemon was asked anyway");

    // The login's own file cannot be replaced: a directory is in its place.
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let file = home.login_file();
    home.cli(&d).words("auth logout").run().success();
    std::fs::create_dir_all(file.join("in-the-way")).unwrap();
    let r = home.cli(&d).args(args).stdin(&stdin).run().expect_code(1);
    assert!(r.stderr.contains("not a plain file"), "{}", r.stderr);
    assert_eq!(live_sessions(&d), 0, "the daemon was asked anyway");
}

#[cfg(unix)]
#[test]
fn a_saved_login_that_is_a_link_is_refused_and_what_it_points_at_left_alone() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let file = home.login_file();
    let victim = home.path().join("victim.txt");
    std::fs::copy(&file, &victim).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    std::fs::remove_file(&file).unwrap();
    symlink(&victim, &file).unwrap();
    for args in [
        &["auth", "whoami"][..],
        &["checks", "list"],
        &["auth", "logout"],
    ] {
        let r = home.cli(&d).args(args).run();
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains("is a symbolic link") && r.stderr.contains("remove"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(mode(&victim), 0o644, "{args:?} changed the link's target");
    }

    // A linked tokens directory: never made private by its link, never used.
    let home = Home::new();
    let elsewhere = home.path().join("shared");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(home.path().join(".uptimeping")).unwrap();
    symlink(&elsewhere, home.tokens_dir()).unwrap();
    let r = home
        .cli(&d)
        .words("auth login --email op@example.com --password-stdin")
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .expect_code(1);
    assert!(r.stderr.contains("is a symbolic link"), "{}", r.stderr);
    assert_eq!(mode(&elsewhere), 0o755);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_password_in_the_url_is_never_printed() {
    let unreachable = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let not_api = raw_server(|_, _| {
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops".into()
    });
    let not_api = not_api.trim_start_matches("http://").to_string();
    let home = Home::new();
    for url in [
        format!("http://u:SECRETPW@127.0.0.1:{unreachable}"),
        format!("http://u:SECRETPW@{not_api}"),
        format!("http://{not_api}/?token=SECRETPW"),
        "http://u:SECRETPW@127.0.0.1:99999".to_string(),
        "http://u:SECRETPW@[::1".to_string(),
    ] {
        for args in [
            &["auth", "whoami"][..],
            &["checks", "list", "--api-key", "upk_k"],
            &["auth", "logout"],
            LOGIN,
        ] {
            let r = run_at(&url, &home, args, Some("My-Real-Passw0rd\n"));
            assert!(
                !r.stderr.contains("SECRETPW") && !r.stdout.contains("SECRETPW"),
                "{url} {args:?}: {}",
                r.stderr
            );
        }
    }
}

#[test]
fn a_refresh_token_used_by_someone_else_says_the_login_was_copied() {
    let d = Daemon::start(&[]);
    add_user(&d, "op@example.com", "operator");
    let home = Home::new();
    login(&d, &home, "op@example.com");
    let saved = home.saved();
    // Someone with a copy of the file refreshes first.
    assert_eq!(
        refresh_status(&d, saved["refresh_token"].as_str().unwrap()),
        200
    );
    expire_saved(&d, &home, true);
    let r = run_command(command(&d, &home, &["checks", "list"], None), None).expect_code(1);
    assert!(
        r.stderr.contains("a copy of its refresh token was used")
            && r.stderr.contains("uptimeping auth login")
            && r.stderr.contains("compromised"),
        "{}",
        r.stderr
    );
    assert!(home.login_files().is_empty());
}
