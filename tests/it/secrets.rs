//! Secrets never leak from what checks record or print: a target with a password in
//! it, a token in the query (from a variable, and literally under a credential's
//! name) and an auth header from a variable, against a target that echoes them back
//! in its body. Looked for in the daemon's database (every table but the resources
//! themselves), its API answers, its notifications and its log; in `test` output of
//! every format; and in validation messages of the CLI and the daemon.

use std::collections::HashMap;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Receiver, wait_for};
use crate::servers::runtime;
use crate::support::{Files, Run, Test};

/// The secret values, each of a different shape, and the variables that hold some.
const PASSWORD: &str = "hunter2pw";
const QUERY_TOKEN: &str = "qtok-1234567";
const HEADER_TOKEN: &str = "htok-7654321";
const LITERAL_KEY: &str = "litkey-99887766";
/// Not a credential by its name, but from a variable: a secret all the same.
const TENANT: &str = "tenant-5544332";
const ENV: &[(&str, &str)] = &[
    ("QTOKEN", QUERY_TOKEN),
    ("HTOKEN", HEADER_TOKEN),
    ("TENANT", TENANT),
];

fn all_secrets() -> [&'static str; 5] {
    [PASSWORD, QUERY_TOKEN, HEADER_TOKEN, LITERAL_KEY, TENANT]
}

fn assert_no_secret(what: &str, text: &str) {
    for s in all_secrets() {
        assert!(!text.contains(s), "{what} holds `{s}`:\n{text}");
    }
}

/// A target that answers 503 with what it was sent: the path and query, and the
/// `Authorization` header, as debugging endpoints do.
fn echo_target() -> std::net::SocketAddr {
    let app = Router::new().route(
        "/echo",
        get(|uri: Uri, headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("auth={auth} uri={uri}"),
            )
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Five failing checks, one per shape of secret, each alerting `hook`.
fn checks_yaml(addr: std::net::SocketAddr) -> String {
    let check = |name: &str, target: &str, extra: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: http\ntarget: \"{target}\"\nschedule: 1h\n{extra}alert: {{channels: [hook], failure_threshold: 1}}\nexpect: {{body_regex: '^healthy$'}}\n"
        )
    };
    [
        check(
            "password",
            &format!("http://deploy:{PASSWORD}@{addr}/echo"),
            "",
        ),
        check(
            "query",
            &format!("http://{addr}/echo?token=${{QTOKEN}}"),
            "",
        ),
        check(
            "header",
            &format!("http://{addr}/echo"),
            "http: {headers: {Authorization: \"Bearer ${HTOKEN}\"}}\n",
        ),
        check(
            "literal",
            &format!("http://{addr}/echo?api_key={LITERAL_KEY}"),
            "",
        ),
        check(
            "tenant",
            &format!("http://{addr}/echo?tenant=${{TENANT}}"),
            "",
        ),
    ]
    .join("---\n")
}

/// The plan request the CLI would send for `yaml`, variables read from [`ENV`].
fn plan_request(yaml: &str, hook: &str) -> Value {
    let yaml = format!(
        "{yaml}---\nkind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"{hook}\"}}\n"
    );
    let env: HashMap<&str, &str> = ENV.iter().copied().collect();
    let source = uptimeping::spec::Source::new("checks.yaml", &yaml, ".");
    let bundle = uptimeping::spec::load(&[source], &|n| env.get(n).map(|v| v.to_string()))
        .unwrap_or_else(|d| panic!("test YAML invalid:\n{d}"));
    let resources: Vec<Value> = bundle
        .resources
        .iter()
        .map(|r| serde_json::to_value(r.desired()).unwrap())
        .collect();
    json!({"source": "repo", "resources": resources})
}

/// Every row of every table but `resources` (which holds the secrets by design, to
/// probe with) as text.
fn database_text(d: &Daemon) -> String {
    let conn = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'resources'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            out.push_str(&format!("{t}:"));
            for i in 0..n {
                let cell = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    other => format!("{other:?}"),
                };
                out.push_str(&format!(" {cell}"));
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn results_incidents_notifications_and_logs_of_the_daemon_hold_no_secret() {
    let d = Daemon::start(&[]);
    let addr = echo_target();
    let hook = Receiver::start();
    d.post(
        "/api/v1/apply",
        &plan_request(&checks_yaml(addr), &hook.url()),
    );
    let names = ["password", "query", "header", "literal", "tenant"];
    for name in names {
        for _ in 0..2 {
            let run = d.run_check(name);
            assert_eq!(run["up"], false, "{run}");
            assert_no_secret("a run's answer", &run.to_string());
            // The target did get the secret: what it echoed is hidden, not missing.
            assert!(
                run["body_excerpt"]
                    .as_str()
                    .is_some_and(|b| b.contains("uri=/echo")),
                "{run}"
            );
        }
    }
    wait_for("the notifications", || {
        (hook.hooks().len() >= names.len()).then_some(())
    });

    let mut api = String::new();
    for name in names {
        for path in ["", "/status", "/results"] {
            api.push_str(&d.get(&format!("/api/v1/checks/{name}{path}")).to_string());
        }
    }
    let incidents = d.get("/api/v1/incidents");
    assert_eq!(incidents.as_array().unwrap().len(), names.len());
    for i in incidents.as_array().unwrap() {
        let id = i["id"].as_i64().unwrap();
        api.push_str(&d.get(&format!("/api/v1/incidents/{id}")).to_string());
        api.push_str(&d.get(&format!("/api/v1/incidents/{id}/events")).to_string());
    }
    api.push_str(&d.get("/api/v1/checks").to_string());
    assert_no_secret("the API", &api);
    // Where a secret was, it says so.
    let query = d.get("/api/v1/checks/query/results");
    assert_eq!(query["items"][0]["target"], "(sensitive value)");
    let header = d.get("/api/v1/checks/header/results");
    let excerpt = header["items"][0]["body_excerpt"].as_str().unwrap();
    assert!(excerpt.starts_with("auth=(sensitive value)"), "{excerpt}");

    let sent: String = hook.hooks().iter().map(|h| h.body.to_string()).collect();
    assert_no_secret("the notifications", &sent);
    assert_no_secret("the database", &database_text(&d));
    assert_no_secret("the log", &d.logs());
}

fn test_run(files: &Files, format: &str) -> Run {
    Test::in_dir(files.path())
        .args(["test", "-f", "checks.yaml", "-o", format])
        .envs(ENV.iter().copied())
        .run()
}

#[test]
fn uptimeping_test_prints_no_secret_in_any_format() {
    let addr = echo_target();
    let yaml = checks_yaml(addr).replace("alert: {channels: [hook], failure_threshold: 1}\n", "");
    let files = Files::new(&[("checks.yaml", &yaml)]);
    for format in ["table", "json", "yaml"] {
        let run = test_run(&files, format);
        assert_eq!(run.code, 2, "{format}: {}{}", run.stdout, run.stderr);
        assert_no_secret(&format!("`test -o {format}`"), &run.stdout);
        assert_no_secret(&format!("`test -o {format}` stderr"), &run.stderr);
    }
    // A value from a variable is shown as that variable; a URL with credentials in
    // it (a password, a parameter named like one) is masked whole.
    let results = test_run(&files, "json").json();
    let by_name = |name: &str| {
        results
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("query")["target"], "(sensitive value)");
    assert_eq!(by_name("password")["target"], "(sensitive value)");
    assert_eq!(by_name("literal")["target"], "(sensitive value)");
    let echoed = by_name("header")["body_excerpt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        echoed.starts_with("auth=(sensitive value) uri=/echo"),
        "{echoed}"
    );
    assert_eq!(
        by_name("tenant")["target"],
        format!("http://{addr}/echo?tenant=${{TENANT}}")
    );
    let echoed = by_name("tenant")["body_excerpt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(echoed.ends_with("uri=/echo?tenant=${TENANT}"), "{echoed}");
}

/// Values that make validation fail, each quoted by its message.
const BAD: &str = "\
kind: Check
name: from-a-variable
type: http
target: \"${BAD_TARGET}\"
---
kind: Check
name: part-from-a-variable
type: tcp
target: \"db.internal:${DB_PORT}\"
---
kind: Check
name: method-from-a-variable
type: http
target: https://example.com/
http: {method: \"${METHOD}\"}
---
kind: Check
name: password-in-the-file
type: http
target: \"ftp://deploy:hunter2pw@example.com/\"
";

const BAD_ENV: &[(&str, &str)] = &[
    ("BAD_TARGET", "SEKRITu1 not a url"),
    ("DB_PORT", "SEKRITport"),
    ("METHOD", "SEKRIT METHOD"),
];

fn cli_with_bad_env(files: &Files, args: &[&str]) -> Run {
    Test::in_dir(files.path())
        .args(args)
        .envs(BAD_ENV.iter().copied())
        .env("UPTIMEPING_URL", "http://127.0.0.1:9")
        .env(
            "UPTIMEPING_API_KEY",
            "upk_000000000000_00000000000000000000000000000000",
        )
        .env("XDG_CONFIG_HOME", files.join(".config"))
        .run()
}

#[test]
fn validation_messages_name_the_variable_instead_of_echoing_its_value() {
    let files = Files::new(&[("checks.yaml", BAD)]);
    for args in [
        &["validate", "-f", "checks.yaml"][..],
        &["validate", "-f", "checks.yaml", "-o", "json"],
        &["plan", "-f", "checks.yaml"],
        &["apply", "-f", "checks.yaml", "--auto-approve"],
    ] {
        let run = cli_with_bad_env(&files, args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains("SEKRIT") && !all.contains(PASSWORD),
            "{args:?}:\n{all}"
        );
    }
    let run = cli_with_bad_env(&files, &["validate", "-f", "checks.yaml"]);
    for expected in [
        "`target`: `${BAD_TARGET}` is not a valid URL",
        "`target`: `db.internal:${DB_PORT}` is not `host:port`",
        "`http.method`: `${METHOD}` is not an HTTP method",
        "`target`: `(sensitive value)` is not an http:// or https:// URL",
    ] {
        assert!(
            run.stderr.contains(expected),
            "no `{expected}` in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn the_daemon_does_not_echo_secrets_in_its_validation_errors() {
    let d = Daemon::start(&[]);
    let resource = |name: &str, target: &str, sensitive: &[&str]| {
        json!({"kind": "Check", "name": name, "sensitive": sensitive,
               "spec": {"kind": "Check", "name": name, "type": "http", "target": target}})
    };
    let request = json!({"source": "repo", "resources": [
        resource("from-a-variable", "SEKRITu1 not a url", &["/target"]),
        resource("password", &format!("ftp://deploy:{PASSWORD}@example.com/"), &[]),
    ]});
    for route in ["/api/v1/plan", "/api/v1/apply"] {
        let (status, body) = d.call("POST", route, Some(&request));
        assert_eq!(status, 422, "{body}");
        let text = body.to_string();
        assert!(text.contains("(sensitive value)"), "{text}");
        assert!(
            !text.contains("SEKRIT") && !text.contains(PASSWORD),
            "{text}"
        );
    }
}
