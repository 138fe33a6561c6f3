//! `uptimeping test` when plain HTTP goes wrong on the way: refused connections,
//! a server that never answers, a body too big, redirect chains, and retries.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::servers::{self, BIG_BODY_BYTES, OK_BODY, check, f, failures, probe};

#[test]
fn a_refused_connection_is_a_connect_error_and_is_retried() {
    let port = servers::closed_port();
    let target = format!("http://127.0.0.1:{port}/");
    let out = probe(&[
        check("refused", &target, ""),
        check("refused-retried", &target, "retries: 1\n"),
    ]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    for (name, attempts) in [("refused", 1), ("refused-retried", 2)] {
        let r = out.result(name);
        assert_eq!(r["up"], false);
        assert_eq!(r["error_kind"], "connect", "{r:#}");
        assert_eq!(r["error"], "connection refused");
        assert_eq!(r["status_code"], Value::Null);
        assert_eq!(r.get("failures"), None);
        assert_eq!(r.get("body_excerpt"), None);
        assert_eq!(r["attempts"], attempts, "{r:#}");
    }
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = servers::hanging();
    let begun = Instant::now();
    let out = probe(&[check("hang", &server.url("/"), "timeout: 1s\n")]);
    let took = begun.elapsed();
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "timeout", "{r:#}");
    assert_eq!(r["error"], "timeout after 1s");
    assert_eq!(r["status_code"], Value::Null);
    assert_eq!(r["attempts"], 1);
    assert_eq!(
        server.connections(),
        1,
        "the server did accept the connection"
    );
    assert!(took < Duration::from_secs(10), "the run took {took:?}");
}

#[test]
fn a_huge_body_is_cut_at_max_body() {
    let server = servers::http();
    let begun = Instant::now();
    let out = probe(&[check(
        "big",
        &server.url("/big"),
        "http:\n  max_body: 1024\nexpect:\n  json_path:\n    $.ok: true\n",
    )]);
    let took = begun.elapsed();
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["body_truncated"], true, "{r:#}");
    assert_eq!(r["body_excerpt"], "x".repeat(100));
    assert_eq!(r["error_kind"], "expectation");
    assert_eq!(
        failures(r),
        [f(
            "json_path $.ok",
            "true",
            "body is not JSON (body cut at http.max_body)"
        )]
    );
    assert!(took < Duration::from_secs(10), "the run took {took:?}");
    assert!(
        server.big_bytes_sent() < BIG_BODY_BYTES,
        "the whole body was sent: {} bytes",
        server.big_bytes_sent()
    );
}

#[test]
fn redirects_are_followed_up_to_the_limit() {
    let server = servers::http();
    let chain = server.url("/r/3");
    let out = probe(&[
        check("followed", &chain, ""),
        check(
            "not-followed",
            &chain,
            "http:\n  follow_redirects: false\nexpect:\n  status: 302\n",
        ),
    ]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let followed = out.result("followed");
    assert_eq!(followed["up"], true, "{followed:#}");
    assert_eq!(followed["status_code"], 200);
    assert_eq!(followed["body_excerpt"], OK_BODY);
    let not_followed = out.result("not-followed");
    assert_eq!(not_followed["up"], true, "{not_followed:#}");
    assert_eq!(not_followed["status_code"], 302);
    assert_eq!(server.hits("/ok"), 1, "only the followed chain reaches /ok");
    assert_eq!(server.hits("/r/3"), 2);
    assert_eq!(server.hits("/r/2"), 1);

    let limited = servers::http();
    let out = probe(&[check(
        "too-many",
        &limited.url("/r/3"),
        "http:\n  max_redirects: 2\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "redirect", "{r:#}");
    assert_eq!(r["error"], "too many redirects (limit 2)");
    assert_eq!(r["status_code"], Value::Null);
    assert_eq!(r["attempts"], 1);
    assert_eq!(limited.hits("/ok"), 0);
}

#[test]
fn retries_ride_out_a_server_that_fails_twice() {
    let server = servers::http();
    let out = probe(&[check("flaky", &server.url("/flaky"), "retries: 2\n")]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r["attempts"], 3);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["body_excerpt"], "ready");
    assert_eq!(server.hits("/flaky"), 3);
    assert_eq!(
        server.connections(),
        3,
        "every attempt opens its own connection"
    );
}

#[test]
fn too_few_retries_report_the_last_attempt() {
    let server = servers::http();
    let out = probe(&[check("flaky", &server.url("/flaky"), "retries: 1\n")]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["attempts"], 2);
    assert_eq!(r["status_code"], 503);
    assert_eq!(r["error_kind"], "expectation");
    assert_eq!(failures(r), [f("status", "2xx", "503")]);
    assert_eq!(server.hits("/flaky"), 2);
}

#[test]
fn only_transient_failures_are_retried() {
    let server = servers::http();
    let out = probe(&[
        check("not-found", &server.url("/status/404"), "retries: 3\n"),
        check("overloaded", &server.url("/status/429"), "retries: 1\n"),
        check(
            "wrong-body",
            &server.url("/ok"),
            "retries: 3\nexpect:\n  body_regex: nope\n",
        ),
    ]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    assert_eq!(out.result("not-found")["attempts"], 1);
    assert_eq!(out.result("not-found")["status_code"], 404);
    assert_eq!(server.hits("/status/404"), 1);
    assert_eq!(out.result("overloaded")["attempts"], 2);
    assert_eq!(server.hits("/status/429"), 2);
    assert_eq!(out.result("wrong-body")["attempts"], 1);
    assert_eq!(server.hits("/ok"), 1);
}

/// Answers every request with a 200 whose body never ends: `chunked` sends one
/// byte per chunk, otherwise a huge `Content-Length` is paid one byte at a time.
fn dribbling(chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = servers::runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    rt.spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = if chunked {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n"
                };
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let piece: &[u8] = if chunked { b"1\r\n \r\n" } else { b" " };
                while s.write_all(piece).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }
    });
    format!("http://{addr}/")
}

#[test]
fn a_body_that_dribbles_forever_is_cut_off_at_the_timeout_for_http_and_graphql() {
    for chunked in [false, true] {
        let url = dribbling(chunked);
        let graphql = format!(
            "kind: Check\nname: gql\ntype: graphql\ntarget: {url}\ntimeout: 1s\ngraphql:\n  query: '{{ __typename }}'\n"
        );
        let begun = Instant::now();
        let out = probe(&[check("http", &url, "timeout: 1s\n"), graphql]);
        let took = begun.elapsed();
        assert_eq!(out.run.code, 2, "{}", out.run.stderr);
        for name in ["http", "gql"] {
            let r = out.result(name);
            assert_eq!(r["up"], false, "{r:#}");
            assert_eq!(r["error_kind"], "timeout", "chunked {chunked}: {r:#}");
            assert_eq!(r["error"], "timeout after 1s");
        }
        assert!(
            took < Duration::from_secs(3),
            "chunked {chunked}: the run took {took:?}"
        );
    }
}
