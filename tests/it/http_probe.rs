//! `uptimeping test` against plain HTTP servers on 127.0.0.1: expectations that
//! hold and that fail, the request as sent, connections, and the order of results.

use serde_json::{Value, json};

use crate::servers::{self, OK_BODY, check, f, failures, probe, probe_with};

#[test]
fn every_expectation_holding_is_up() {
    let server = servers::http();
    let target = server.url("/ok");
    let out = probe(&[check(
        "api",
        &target,
        r#"expect:
  status: 200
  json_path:
    $.status: ok
    $.items[0].name: widget
  body_regex: '"version":\s*"1\.\d+'
  headers:
    X-App: ^demo/
  conditions:
    - status == 200
    - body.items[0].id == 2
    - headers["x-app"].startsWith("demo")
    - latency_ms < 5000.0
"#,
    )]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    assert_eq!(out.results.len(), 1);
    let r = &out.results[0];
    assert_eq!(r["name"], "api");
    assert_eq!(r["type"], "http");
    assert_eq!(r["target"], target.as_str());
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["error_kind"], Value::Null);
    assert_eq!(r.get("failures"), None, "no failures are listed when up");
    assert_eq!(r["attempts"], 1);
    assert_eq!(r["body_excerpt"], OK_BODY);
    assert_eq!(r.get("body_truncated"), None);
    assert_eq!(
        r.get("cert_expires_at"),
        None,
        "plain HTTP has no certificate"
    );
    assert!(
        r["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{r:#}"
    );
    let started: chrono::DateTime<chrono::Utc> = r["started_at"]
        .as_str()
        .expect("started_at")
        .parse()
        .expect("RFC 3339");
    let age = chrono::Utc::now() - started;
    assert!(
        age >= chrono::Duration::zero() && age < chrono::Duration::minutes(1),
        "{started}"
    );
}

#[test]
fn each_failed_expectation_is_named_with_the_actual_value() {
    let server = servers::http();
    let ok = server.url("/ok");
    let out = probe(&[
        check(
            "status",
            &server.url("/status/503"),
            "expect:\n  status: 200\n",
        ),
        check(
            "json-path",
            &ok,
            "expect:\n  json_path:\n    $.status: degraded\n",
        ),
        check("body-regex", &ok, "expect:\n  body_regex: maintenance\n"),
        check("header", &ok, "expect:\n  headers:\n    x-app: ^other/\n"),
        check(
            "missing-header",
            &ok,
            "expect:\n  headers:\n    x-region: .\n",
        ),
        check(
            "condition",
            &ok,
            "expect:\n  conditions:\n    - body.items[0].id == 1\n",
        ),
    ]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    for r in &out.results {
        assert_eq!(r["up"], false, "{r:#}");
        assert_eq!(r["error_kind"], "expectation", "{r:#}");
        assert_eq!(r["attempts"], 1, "{r:#}");
    }

    let status = out.result("status");
    assert_eq!(status["status_code"], 503);
    assert_eq!(failures(status), [f("status", "200", "503")]);
    assert_eq!(status["error"], "status: expected 200, got 503");

    let json_path = out.result("json-path");
    assert_eq!(json_path["status_code"], 200);
    assert_eq!(
        failures(json_path),
        [f("json_path $.status", r#""degraded""#, r#""ok""#)]
    );

    assert_eq!(
        failures(out.result("body-regex")),
        [f(
            "body_regex",
            "body to match /maintenance/",
            &format!("`{OK_BODY}`")
        )]
    );
    assert_eq!(
        failures(out.result("header")),
        [f("header x-app", "to match /^other//", "`demo/1`")]
    );
    assert_eq!(
        failures(out.result("missing-header")),
        [f("header x-region", "to match /./", "no such header")]
    );
    assert_eq!(
        failures(out.result("condition")),
        [f(
            "condition `body.items[0].id == 1`",
            "true",
            "false: body.items[0].id is 2"
        )]
    );
}

#[test]
fn several_failures_are_all_listed_and_counted_in_the_error() {
    let server = servers::http();
    let out = probe(&[check(
        "many",
        &server.url("/status/404"),
        "expect:\n  status: [200, 204]\n  body_regex: ^ok$\n",
    )]);
    assert_eq!(out.run.code, 2);
    let r = &out.results[0];
    assert_eq!(
        failures(r),
        [
            f("status", "200 or 204", "404"),
            f("body_regex", "body to match /^ok$/", "`status 404`"),
        ]
    );
    assert_eq!(r["error"], "status: expected 200 or 204, got 404 (+1 more)");
}

#[test]
fn a_slow_response_fails_max_latency() {
    let server = servers::http();
    let out = probe(&[check(
        "slow",
        &server.url("/slow/400"),
        "expect:\n  max_latency: 100ms\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["error_kind"], "expectation");
    let [(expectation, expected, actual)] = failures(r).try_into().expect("one failure");
    assert_eq!(
        (expectation.as_str(), expected.as_str()),
        ("max_latency", "at most 100ms")
    );
    let ms: u64 = actual
        .strip_suffix("ms")
        .and_then(|n| n.parse().ok())
        .expect(&actual);
    assert!(ms >= 400, "the handler took 400ms, reported {actual}");
    assert!(
        r["latency_ms"].as_f64().is_some_and(|l| l >= 400.0),
        "{r:#}"
    );
}

#[test]
fn the_request_is_sent_as_written() {
    let server = servers::http();
    let echo = server.url("/echo");
    let out = probe_with(
        &[
            check(
                "json-body",
                &echo,
                "http:\n  method: PUT\n  headers:\n    X-Token: abc123\n    Accept: application/json\n  body:\n    count: 2\n    name: probe\n    nested: {ok: true}\n    tags: [a, b]\n",
            ),
            check(
                "text-body",
                &echo,
                "http:\n  method: post\n  body: \"plain text, sent as is\"\n",
            ),
            check(
                "own-content-type",
                &echo,
                "http:\n  method: PATCH\n  headers:\n    Content-Type: application/merge-patch+json\n  body: {op: replace}\n",
            ),
        ],
        &[],
    );
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let seen = server.requests();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let by_method = |m: &str| {
        seen.iter()
            .find(|r| r.method == m)
            .unwrap_or_else(|| panic!("no {m} request in {seen:#?}"))
    };

    let json_req = by_method("PUT");
    assert_eq!(json_req.method, "PUT");
    assert_eq!(json_req.headers["x-token"], "abc123");
    assert_eq!(json_req.headers["accept"], "application/json");
    assert_eq!(json_req.headers["content-type"], "application/json");
    assert!(
        json_req.headers["user-agent"].starts_with("uptimeping/"),
        "{json_req:?}"
    );
    assert_eq!(
        json_req.body,
        r#"{"count":2,"name":"probe","nested":{"ok":true},"tags":["a","b"]}"#
    );
    let parsed: Value = serde_json::from_str(&json_req.body).expect("JSON body");
    assert_eq!(
        parsed,
        json!({"count": 2, "name": "probe", "nested": {"ok": true}, "tags": ["a", "b"]})
    );

    let text_req = by_method("POST");
    assert_eq!(text_req.body, "plain text, sent as is");
    assert_eq!(text_req.headers.get("content-type"), None);

    let own = by_method("PATCH");
    assert_eq!(own.headers["content-type"], "application/merge-patch+json");
    assert_eq!(own.body, r#"{"op":"replace"}"#);
}

#[test]
fn every_check_opens_its_own_connection() {
    let server = servers::http();
    let docs = [
        check("one", &server.url("/ok"), ""),
        check("two", &server.url("/ok"), ""),
        check("three", &server.url("/status/204"), ""),
    ];
    let out = probe_with(&docs, &["--concurrency", "1"]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 3);

    let again = probe_with(&docs[..1], &[]);
    assert_eq!(again.run.code, 0, "{}", again.run.stderr);
    assert_eq!(server.requests().len(), 4);
    assert_eq!(server.connections(), 4);
}

#[test]
fn results_come_in_file_order_whatever_finishes_first() {
    let server = servers::http();
    let docs = [
        check("zulu-slow", &server.url("/slow/500"), ""),
        check("alpha-slow", &server.url("/slow/500"), ""),
        check("mike-fast", &server.url("/ok"), ""),
        check("bravo-down", &server.url("/status/500"), ""),
        check("yankee-fast", &server.url("/ok"), ""),
    ];
    let out = probe_with(&docs, &["--concurrency", "2"]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let names: Vec<&str> = out
        .results
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "zulu-slow",
            "alpha-slow",
            "mike-fast",
            "bravo-down",
            "yankee-fast"
        ]
    );
    let up: Vec<bool> = out
        .results
        .iter()
        .filter_map(|r| r["up"].as_bool())
        .collect();
    assert_eq!(up, [true, true, true, false, true]);
    assert_eq!(
        server.max_in_flight(),
        2,
        "two checks ran at the same time, never more"
    );
}
