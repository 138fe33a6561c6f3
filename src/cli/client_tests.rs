use std::path::PathBuf;

use super::super::config::{Config, ContextEntry};
use super::super::session::{self, SavedLogin, Slot};
use super::*;

fn config() -> Config {
    let mut c = Config {
        current: Some("prod".into()),
        ..Config::default()
    };
    for (name, url, key) in [
        ("prod", "https://prod.example.com", "prod-key"),
        ("dev", "http://127.0.0.1:8080", "dev-key"),
    ] {
        c.contexts.insert(
            name.into(),
            ContextEntry {
                url: url.into(),
                api_key: Some(key.into()),
                api_key_file: None,
            },
        );
    }
    c
}

fn args(url: Option<&str>, key: Option<&str>, context: Option<&str>) -> ConnectArgs {
    ConnectArgs {
        url: url.map(Into::into),
        api_key: key.map(Into::into),
        context: context.map(Into::into),
    }
}

fn resolve(
    a: &ConnectArgs,
    env: &[(&str, &str)],
    config: Option<Config>,
) -> anyhow::Result<(String, String)> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let load = move || match &config {
        Some(c) => Ok((c.clone(), PathBuf::from("/cfg/uptimeping/config.toml"))),
        None => anyhow::bail!("the config file was read"),
    };
    let conn = a.resolve(&lookup, &load)?;
    Ok((
        conn.url.to_string(),
        conn.api_key().unwrap_or_default().to_string(),
    ))
}

fn pair(url: &str, key: &str) -> (String, String) {
    (url.to_string(), key.to_string())
}

#[test]
fn flags_win_over_environment_and_context() {
    let got = resolve(
        &args(Some("http://flag:1"), Some("flag-key"), None),
        &[(URL_ENV, "http://env:2"), (API_KEY_ENV, "env-key")],
        None,
    )
    .expect("resolves without the config file");
    assert_eq!(got, pair("http://flag:1/", "flag-key"));
}

#[test]
fn environment_wins_over_context() {
    let got = resolve(
        &args(None, None, None),
        &[(URL_ENV, "http://env:2"), (API_KEY_ENV, "env-key")],
        Some(config()),
    )
    .expect("resolves");
    assert_eq!(got, pair("http://env:2/", "env-key"));
}

#[test]
fn current_context_is_used_when_nothing_else_is_given() {
    let got = resolve(&args(None, None, None), &[], Some(config())).expect("resolves");
    assert_eq!(got, pair("https://prod.example.com/", "prod-key"));
}

#[test]
fn a_named_context_wins_over_the_current_one() {
    let got = resolve(&args(None, None, Some("dev")), &[], Some(config())).expect("resolves");
    assert_eq!(got, pair("http://127.0.0.1:8080/", "dev-key"));
}

#[test]
fn flags_fill_in_over_a_context_field_by_field() {
    let got = resolve(
        &args(None, Some("other-key"), Some("dev")),
        &[],
        Some(config()),
    )
    .expect("resolves");
    assert_eq!(got, pair("http://127.0.0.1:8080/", "other-key"));
}

#[test]
fn a_contexts_key_is_never_sent_to_another_url() {
    let err = resolve(
        &args(Some("http://elsewhere:1"), None, None),
        &[],
        Some(config()),
    )
    .expect_err("no key for a foreign URL");
    assert!(
        err.to_string()
            .starts_with("no API key for http://elsewhere:1/"),
        "{err}"
    );
    let same = resolve(
        &args(Some("https://prod.example.com"), None, None),
        &[],
        Some(config()),
    )
    .expect("the context's own URL may use its key");
    assert_eq!(same.1, "prod-key");
}

#[test]
fn nothing_configured_says_how_to_configure() {
    let err = resolve(&args(None, None, None), &[], Some(Config::default())).expect_err("nothing");
    let text = err.to_string();
    assert!(
        text.contains("--url") && text.contains("UPTIMEPING_URL"),
        "{text}"
    );
    assert!(text.contains("uptimeping context set"), "{text}");
}

#[test]
fn an_unknown_context_is_an_error_even_with_flags() {
    let err = resolve(
        &args(Some("http://x:1"), Some("k"), Some("prd")),
        &[],
        Some(config()),
    )
    .expect_err("unknown context");
    assert!(
        format!("{err:#}").contains("no context named `prd`"),
        "{err:#}"
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let got = resolve(
        &args(None, None, None),
        &[(URL_ENV, ""), (API_KEY_ENV, " ")],
        Some(config()),
    )
    .expect("resolves");
    assert_eq!(got, pair("https://prod.example.com/", "prod-key"));
}

#[test]
fn urls_must_be_http() {
    assert!(parse_base_url("ftp://x").is_err());
    assert!(parse_base_url("localhost:8080").is_err());
    assert!(parse_base_url("https://x/prefix/").is_ok());
}

#[test]
fn endpoints_keep_a_path_prefix_and_encode_segments() {
    let client = Client::new(Connection::with_key(
        parse_base_url("https://x.example/uptime/").expect("url"),
        "k",
    ))
    .expect("client");
    assert_eq!(
        client
            .endpoint(&["checks", "a b"], &[("label", "team=x".into())])
            .as_str(),
        "https://x.example/uptime/api/v1/checks/a%20b?label=team%3Dx"
    );
    let bare = Client::new(Connection::with_key(
        parse_base_url("http://127.0.0.1:8080").expect("url"),
        "k",
    ))
    .expect("client");
    assert_eq!(
        bare.endpoint(&["plan"], &[]).as_str(),
        "http://127.0.0.1:8080/api/v1/plan"
    );
}

#[test]
fn daemon_errors_print_each_detail_on_its_own_line() {
    let e = ApiError {
        status: 409,
        code: "conflict".into(),
        message: "the plan conflicts with live state".into(),
        details: vec!["one".into(), "two".into()],
    };
    assert_eq!(
        e.to_string(),
        "the plan conflicts with live state\n  one\n  two"
    );
}

#[test]
fn a_daemon_that_never_answers_times_out_naming_the_url() {
    let outcome = block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        // Accepts and then says nothing, like a daemon stuck behind a lock.
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let client = Client::new(Connection::with_key(
            parse_base_url(&url).expect("url"),
            "k",
        ))
        .expect("client");
        let err = client
            .post::<_, serde_json::Value>(
                &["plan"],
                &serde_json::json!({}),
                Duration::from_millis(300),
            )
            .await
            .expect_err("no answer");
        hold.abort();
        (url, err.to_string())
    })
    .expect("runtime");
    let (url, err) = outcome;
    assert!(
        err.starts_with(&format!(
            "the daemon at {url}/ did not answer within 300ms;"
        )),
        "{err}"
    );
}

#[test]
fn printed_daemon_urls_hide_their_credentials() {
    let url = url::Url::parse("http://user:CTXPASS@127.0.0.1:18090/base/?token=CTXTOK#x").unwrap();
    assert_eq!(shown_url(&url), "http://***@127.0.0.1:18090/base/?***");
    assert_eq!(
        shown_url_text("https://uptime.example.com/"),
        "https://uptime.example.com/"
    );
    assert_eq!(shown_url_text("http://onlyuser@h:1/"), "http://***@h:1/");
    assert!(!shown_url_text("not a url with SECRET").contains("SECRET"));
}

#[test]
fn a_span_is_sent_as_the_parameters_the_daemon_takes_and_only_those_given() {
    assert!(Span::default().query().is_empty());
    let span = Span {
        window: Some(crate::spec::Duration::from_secs(7 * 86_400)),
        from: None,
        to: chrono::DateTime::parse_from_rfc3339("2026-06-01T02:00:00+02:00")
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
    };
    assert_eq!(
        span.query(),
        [
            ("window", "7d".to_string()),
            ("to", "2026-06-01T00:00:00Z".to_string())
        ]
    );
}

/// Resolves with `HOME` at `home`, where a saved login for `slot` may be.
fn resolve_with_home(
    a: &ConnectArgs,
    env: &[(&str, &str)],
    home: &std::path::Path,
) -> anyhow::Result<Connection> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("HOME".into(), home.display().to_string()));
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let load = || Ok((config(), PathBuf::from("/cfg/uptimeping/config.toml")));
    a.resolve(&lookup, &load)
}

fn save_login(home: &std::path::Path, slot: Slot, url: &str, refresh_days: i64) {
    let now = chrono::Utc::now();
    let dir = session::tokens_dir(&|n| (n == "HOME").then(|| home.display().to_string()))
        .expect("tokens dir");
    session::Store::new(&dir, slot)
        .save(&SavedLogin {
            url: url.into(),
            access_token: "access".into(),
            access_expires_at: now + chrono::Duration::minutes(15),
            refresh_token: "refresh".into(),
            refresh_expires_at: now + chrono::Duration::days(refresh_days),
            email: "me@example.com".into(),
            tenant: "default".into(),
        })
        .expect("save");
}

fn is_login(conn: &Connection) -> bool {
    matches!(conn.credential, Credential::Login(_))
}

#[test]
fn a_saved_login_comes_after_keys_given_and_before_the_contexts_key() {
    let home = tempfile::tempdir().expect("tempdir");
    save_login(
        home.path(),
        Slot::Context("prod".into()),
        "https://prod.example.com/",
        7,
    );
    let none = args(None, None, None);
    let conn = resolve_with_home(&none, &[], home.path()).expect("resolves");
    assert!(is_login(&conn), "{conn:?}");
    let env_key = resolve_with_home(&none, &[(API_KEY_ENV, "env-key")], home.path()).expect("env");
    assert_eq!(env_key.api_key(), Some("env-key"));
    let flag =
        resolve_with_home(&args(None, Some("flag-key"), None), &[], home.path()).expect("flag");
    assert_eq!(flag.api_key(), Some("flag-key"));
    // Another context has no login: its own key is used.
    let dev = resolve_with_home(&args(None, None, Some("dev")), &[], home.path()).expect("dev");
    assert_eq!(dev.api_key(), Some("dev-key"));
}

#[test]
fn a_saved_login_goes_only_to_the_url_it_was_made_for() {
    let home = tempfile::tempdir().expect("tempdir");
    // The context's URL changed after the login was made.
    save_login(
        home.path(),
        Slot::Context("prod".into()),
        "https://old-prod.example.com/",
        7,
    );
    let conn = resolve_with_home(&args(None, None, None), &[], home.path()).expect("resolves");
    assert_eq!(conn.api_key(), Some("prod-key"), "falls back to the key");
    // A bare URL's login is kept apart from the contexts'.
    let bare = parse_base_url("http://127.0.0.1:9").expect("url");
    save_login(home.path(), Slot::Url(bare.clone()), bare.as_str(), 7);
    let by_url = resolve_with_home(
        &args(Some("http://127.0.0.1:9"), None, None),
        &[],
        home.path(),
    )
    .expect("resolves");
    assert!(is_login(&by_url));
    let err = resolve_with_home(
        &args(Some("http://127.0.0.1:10"), None, None),
        &[],
        home.path(),
    )
    .expect_err("no login for that URL");
    assert!(err.to_string().contains("auth login"), "{err}");
}

#[test]
fn an_ended_login_says_to_log_in_again() {
    let home = tempfile::tempdir().expect("tempdir");
    let bare = parse_base_url("http://127.0.0.1:9").expect("url");
    save_login(home.path(), Slot::Url(bare.clone()), bare.as_str(), -1);
    let err = resolve_with_home(
        &args(Some("http://127.0.0.1:9"), None, None),
        &[],
        home.path(),
    )
    .expect_err("ended");
    assert!(
        err.to_string()
            .starts_with("your login has ended; run `uptimeping auth login`"),
        "{err}"
    );
}

#[test]
fn urls_that_do_not_parse_are_shown_without_their_credentials() {
    for (text, shown) in [
        ("http://u:pw@h:99999", "http://***@h:99999"),
        ("http://u:p@w@[::1", "http://***@[::1"),
        ("h:1/x?token=pw", "h:1/x?***"),
        ("http://h:1/a#frag", "http://h:1/a?***"),
        ("not a url", "not a url"),
    ] {
        assert_eq!(shown_unparsed_url(text), shown, "{text}");
    }
    let err = parse_base_url("http://u:SECRET@h:99999").unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

#[test]
fn a_redirect_names_where_it_points_and_the_base_url_to_use() {
    let client = Client::anonymous(parse_base_url("http://a:1/uptime/").unwrap()).unwrap();
    let requested = client.endpoint(&["auth", "login"], &[]);
    for (location, daemon) in [
        ("https://b:2/up/api/v1/auth/login", "https://b:2/up/"),
        ("/other/api/v1/auth/login", "http://a:1/other/"),
        ("https://u:pw@b:2/?token=pw", "https://***@b:2/"),
    ] {
        let err = client.redirected(StatusCode::TEMPORARY_REDIRECT, &requested, Some(location));
        let text = err.to_string();
        assert!(
            text.contains(&format!("--url {daemon} ")),
            "{location}: {text}"
        );
        assert!(!text.contains("pw"), "{text}");
    }
    let none = client
        .redirected(StatusCode::FOUND, &requested, None)
        .to_string();
    assert!(none.contains("does not follow redirects"), "{none}");
}
