//! Plain `http://` checks against a server that writes its responses byte by byte as
//! a test scripts them: the framings HTTP/1.1 allows (length, chunked, until close,
//! none for HEAD and 204), interim responses, broken and malformed answers, what the
//! request looks like on the wire, and that a proxy from the environment is used.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::servers::{self, check, probe};
use crate::support::{Files, Test};

/// What the server does for one path: write these pieces with a pause between
/// them, then close the connection or hold it open for a while.
#[derive(Clone)]
struct Answer {
    pieces: Vec<Vec<u8>>,
    hold_open: bool,
}

fn answer(pieces: &[&str], hold_open: bool) -> Answer {
    Answer {
        pieces: pieces.iter().map(|p| p.as_bytes().to_vec()).collect(),
        hold_open,
    }
}

struct Wire {
    addr: SocketAddr,
    /// Each request as received: head and body, raw.
    seen: Arc<Mutex<Vec<String>>>,
}

impl Wire {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request (head, and a body of its `content-length`).
async fn read_request(s: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
}

fn wire(answers: &[(&str, Answer)]) -> Wire {
    let answers: HashMap<String, Answer> = answers
        .iter()
        .map(|(p, a)| (p.to_string(), a.clone()))
        .collect();
    let rt = servers::runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    rt.spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answers = answers.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let Some(request) = read_request(&mut s).await else {
                    return;
                };
                let target = request.split(' ').nth(1).unwrap_or_default().to_string();
                log.lock().unwrap().push(request);
                let path = target
                    .rsplit_once("//")
                    .map_or(target.as_str(), |(_, rest)| {
                        rest.find('/').map_or("/", |i| &rest[i..])
                    });
                let path = path.split('?').next().unwrap_or_default();
                let Some(a) = answers.get(path) else {
                    let _ = s
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                for piece in &a.pieces {
                    if s.write_all(piece).await.is_err() {
                        return;
                    }
                    let _ = s.flush().await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if a.hold_open {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    Wire { addr, seen }
}

#[test]
fn every_framing_of_a_response_body_is_read_as_sent() {
    let server = wire(&[
        (
            "/chunked",
            answer(
                &[
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
                    "5;ext=1\r\n{\"sta\r\n",
                    "9\r\ntus\":\"ok\"\r\n1\r\n}\r\n",
                    "0\r\n\r\n",
                ],
                true,
            ),
        ),
        (
            "/close",
            answer(&["HTTP/1.1 200 OK\r\n\r\n{\"status\":", "\"ok\"}"], false),
        ),
        (
            "/length",
            answer(
                &[
                    "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\"",
                    ":\"ok\"}",
                ],
                true,
            ),
        ),
        (
            "/interim",
            answer(
                &[
                    "HTTP/1.1 100 Continue\r\n\r\n",
                    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nX-Seen: 1\r\nx-seen: 2\r\n\r\n{\"status\":\"ok\"}",
                ],
                true,
            ),
        ),
        (
            "/dribbled",
            answer(
                &[
                    "HTTP/1.1 2",
                    "00 OK\r",
                    "\nContent-Le",
                    "ngth: 15\r\n",
                    "\r",
                    "\n{\"status\":\"ok\"}",
                ],
                true,
            ),
        ),
        (
            "/empty",
            answer(&["HTTP/1.1 204 No Content\r\nX-Kind: none\r\n\r\n"], true),
        ),
        (
            "/head",
            answer(&["HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"], true),
        ),
    ]);
    let ok = "expect:\n  status: 200\n  json_path: {\"$.status\": ok}\n";
    let begun = Instant::now();
    let out = probe(&[
        check("chunked", &server.url("/chunked"), ok),
        check("close", &server.url("/close"), ok),
        check("length", &server.url("/length"), ok),
        check("dribbled", &server.url("/dribbled"), ok),
        check(
            "interim",
            &server.url("/interim"),
            "expect:\n  status: 200\n  json_path: {\"$.status\": ok}\n  headers: {x-seen: \"1, 2\"}\n",
        ),
        check(
            "empty",
            &server.url("/empty"),
            "expect: {status: 204, headers: {x-kind: none}}\n",
        ),
        check(
            "head",
            &server.url("/head"),
            "http: {method: HEAD}\nexpect: {status: 200}\n",
        ),
    ]);
    let took = begun.elapsed();
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    for name in ["chunked", "close", "length", "dribbled", "interim"] {
        let r = out.result(name);
        assert_eq!(r["body_excerpt"], r#"{"status":"ok"}"#, "{r:#}");
        assert_eq!(r["body_truncated"], Value::Null, "{r:#}");
    }
    // Neither waits for a body that never comes on a connection left open.
    assert!(took < Duration::from_secs(5), "the run took {took:?}");
    assert_eq!(out.result("head")["body_excerpt"], Value::Null);
}

#[test]
fn max_body_cuts_every_framing_and_an_exact_fit_is_not_cut() {
    let body = "x".repeat(40);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n{}\r\n",
        &body[..20]
    );
    let rest = format!("14\r\n{}\r\n0\r\n\r\n", &body[20..]);
    let length = format!("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{body}");
    let close = format!("HTTP/1.1 200 OK\r\n\r\n{body}");
    let server = wire(&[
        ("/chunked", answer(&[&chunked, &rest], true)),
        ("/length", answer(&[&length], true)),
        ("/close", answer(&[&close], false)),
    ]);
    let mut docs = Vec::new();
    for (path, cap) in [
        ("/chunked", 30),
        ("/length", 30),
        ("/close", 30),
        ("/chunked", 40),
        ("/length", 40),
        ("/close", 40),
    ] {
        docs.push(check(
            &format!("{}-{cap}", &path[1..]),
            &server.url(path),
            &format!("http: {{max_body: {cap}}}\nexpect: {{status: 200}}\n"),
        ));
    }
    let out = probe(&docs);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    for name in ["chunked", "length", "close"] {
        let cut = out.result(&format!("{name}-30"));
        assert_eq!(cut["body_truncated"], true, "{cut:#}");
        assert_eq!(cut["body_excerpt"], "x".repeat(30), "{cut:#}");
        let whole = out.result(&format!("{name}-40"));
        assert_eq!(whole["body_truncated"], Value::Null, "{whole:#}");
        assert_eq!(whole["body_excerpt"], body, "{whole:#}");
    }
}

#[test]
fn broken_and_malformed_responses_are_protocol_errors_that_say_what_happened() {
    let server = wire(&[
        (
            "/short",
            answer(
                &["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":"],
                false,
            ),
        ),
        (
            "/short-chunk",
            answer(
                &["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"],
                false,
            ),
        ),
        ("/no-head", answer(&["HTTP/1.1 200 OK\r\nContent-"], false)),
        ("/garbage", answer(&["SSH-2.0-OpenSSH_9.6\r\n\r\n"], false)),
        // A banner and then silence: what is not HTTP fails without a blank line.
        ("/banner", answer(&["SSH-2.0-OpenSSH_9.6\r\n"], true)),
        (
            "/bad-length",
            answer(&["HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n"], false),
        ),
        (
            "/bad-chunk",
            answer(
                &["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
                false,
            ),
        ),
        ("/silent", answer(&[], false)),
    ]);
    let docs: Vec<String> = [
        "short",
        "short-chunk",
        "no-head",
        "garbage",
        "banner",
        "bad-length",
        "bad-chunk",
        "silent",
    ]
    .iter()
    .map(|n| check(n, &server.url(&format!("/{n}")), ""))
    .collect();
    let begun = Instant::now();
    let out = probe(&docs);
    let took = begun.elapsed();
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    assert!(took < Duration::from_secs(5), "the run took {took:?}");
    let closed = "connection closed before the response was complete";
    for (name, error) in [
        ("short", closed),
        ("short-chunk", closed),
        ("no-head", closed),
        ("silent", closed),
        ("garbage", "http: malformed response: invalid HTTP version"),
        ("banner", "http: malformed response: invalid HTTP version"),
        ("bad-length", "http: invalid content-length"),
        ("bad-chunk", "http: malformed chunked body"),
    ] {
        let r = out.result(name);
        assert_eq!(r["up"], false, "{r:#}");
        assert_eq!(r["error_kind"], "protocol", "{name}: {r:#}");
        assert_eq!(r["error"], error, "{name}: {r:#}");
        // Not a transient failure of the target's reachability: not retried.
        assert_eq!(r["attempts"], 1, "{r:#}");
    }
}

#[test]
fn the_request_on_the_wire_has_its_line_host_credentials_and_length() {
    let ok = answer(&["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], false);
    let server = wire(&[("/a/b", ok.clone()), ("/post", ok)]);
    let with_user = server
        .url("/a/b?q=1&r=two")
        .replace("http://", "http://deploy:p%40ss@");
    let out = probe(&[
        check("get", &with_user, "expect: {status: 200}\n"),
        check(
            "post",
            &server.url("/post"),
            "http:\n  method: POST\n  body: {n: 1}\n  headers: {X-Trace: abc}\nexpect: {status: 200}\n",
        ),
    ]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    let seen = server.seen();
    let get = seen.iter().find(|r| r.starts_with("GET ")).expect("a GET");
    let lines: Vec<&str> = get.split("\r\n").collect();
    assert_eq!(lines[0], "GET /a/b?q=1&r=two HTTP/1.1", "{get}");
    assert!(
        lines.contains(&format!("host: {}", server.addr).as_str()),
        "{get}"
    );
    // "deploy:p@ss", percent-decoded first, as clients do.
    assert!(
        lines.contains(&"authorization: Basic ZGVwbG95OnBAc3M="),
        "{get}"
    );
    assert!(lines.contains(&"accept: */*"), "{get}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("user-agent: uptimeping/")),
        "{get}"
    );
    assert!(
        !get.contains("content-length"),
        "a GET without a body has no length: {get}"
    );
    let post = seen
        .iter()
        .find(|r| r.starts_with("POST "))
        .expect("a POST");
    assert!(post.contains("\r\nx-trace: abc\r\n"), "{post}");
    assert!(
        post.contains("\r\ncontent-type: application/json\r\n"),
        "{post}"
    );
    assert!(post.contains("\r\ncontent-length: 7\r\n"), "{post}");
    assert!(post.ends_with("\r\n\r\n{\"n\":1}"), "{post}");
}

#[test]
fn a_name_is_looked_up_and_each_of_its_addresses_tried() {
    let server = wire(&[(
        "/",
        answer(&["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], false),
    )]);
    // `localhost` may resolve to ::1 first, where nothing listens: the next address is tried.
    let url = format!("http://localhost:{}/", server.addr.port());
    let out = probe(&[
        check("by-name", &url, "expect: {status: 200}\n"),
        check("no-such-name", "http://no-such-host.invalid/", ""),
    ]);
    let r = out.result("by-name");
    assert_eq!(r["up"], true, "{r:#}");
    let r = out.result("no-such-name");
    assert_eq!(
        (&r["error_kind"], &r["error"]),
        (
            &Value::from("dns"),
            &Value::from("dns: name did not resolve")
        ),
        "{r:#}"
    );
}

#[test]
fn a_proxy_in_the_environment_carries_plain_http_checks() {
    let proxy = wire(&[(
        "/via-proxy",
        answer(
            &["HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}"],
            false,
        ),
    )]);
    // Nothing listens at the target: only the proxy can answer.
    let target = format!("http://127.0.0.1:{}/via-proxy", servers::closed_port());
    let files = Files::new(&[(
        "checks.yaml",
        &check(
            "proxied",
            &target,
            "expect:\n  json_path: {\"$.status\": ok}\n",
        ),
    )]);
    let run = Test::in_dir(files.path())
        .args(["test", "-f", ".", "-o", "json"])
        .env("http_proxy", format!("http://{}", proxy.addr))
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(
        seen[0].starts_with(&format!("GET {target} HTTP/1.1\r\n")),
        "the proxy is asked for the whole URL: {}",
        seen[0]
    );
}

/// How the probe ended a connection, as the server saw it after answering: a reset
/// (nothing left in TIME_WAIT on the monitor) or an orderly end of stream.
#[derive(Debug, PartialEq)]
enum Ending {
    Reset,
    Orderly,
    Other(String),
}

#[test]
fn the_probe_resets_each_connection_once_the_answer_is_read() {
    let rt = servers::runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let endings = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&endings);
    rt.spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let Some(request) = read_request(&mut s).await else {
                    return;
                };
                let reply: &[u8] = if request.starts_with("GET /moved ") {
                    b"HTTP/1.1 302 Found\r\nLocation: /here\r\nContent-Length: 3\r\n\r\nbye"
                } else {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                };
                s.write_all(reply).await.unwrap();
                let mut rest = [0u8; 64];
                let ending = match s.read(&mut rest).await {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ending::Reset,
                    Ok(0) => Ending::Orderly,
                    other => Ending::Other(format!("{other:?}")),
                };
                log.lock().unwrap().push(ending);
            });
        }
    });
    let out = probe(&[
        check(
            "plain",
            &format!("http://{addr}/"),
            "expect: {status: 200}\n",
        ),
        check(
            "redirected",
            &format!("http://{addr}/moved"),
            "expect: {status: 200}\n",
        ),
    ]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    // Three connections: one for the plain check, two for the redirect's hops.
    let deadline = Instant::now() + Duration::from_secs(10);
    while endings.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *endings.lock().unwrap(),
        [Ending::Reset, Ending::Reset, Ending::Reset]
    );
}
