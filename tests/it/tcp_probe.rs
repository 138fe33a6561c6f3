//! `uptimeping test` on `type: tcp` checks against real listeners on 127.0.0.1:
//! a banner, an echo, a silent peer and a TLS server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::servers::{self, f, failures, probe};

/// One `type: tcp` check with a one-second timeout, then `extra` as written.
pub fn tcp_check(name: &str, addr: SocketAddr, extra: &str) -> String {
    format!("kind: Check\nname: {name}\ntype: tcp\ntarget: {addr}\ntimeout: 1s\n{extra}")
}

/// Accepts connections on 127.0.0.1 and hands each to `serve` on the shared runtime.
fn listen<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = servers::runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("local addr");
    rt.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket));
        }
    });
    addr
}

/// Says `220 ready` and hangs up, as an SMTP server that is full would after its banner.
pub fn banner() -> SocketAddr {
    listen(|mut s| async move {
        let _ = s.write_all(b"220 ready\r\n").await;
    })
}

/// Sends back whatever it reads, and keeps the connection open.
pub fn echo() -> SocketAddr {
    listen(|mut s| async move {
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    })
}

/// Writes `piece` again and again for as long as the connection stays open, each
/// write flushed on its own, as a peer that streams forever or dribbles would.
pub fn forever(piece: &'static [u8], pause: Duration) -> SocketAddr {
    listen(move |mut s| async move {
        let _ = s.set_nodelay(true);
        while s.write_all(piece).await.is_ok() {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    })
}

/// Accepts, then says nothing for longer than any test waits.
pub fn silent() -> SocketAddr {
    listen(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
}

/// TLS with `pki`'s leaf: says `hello over tls` and closes. Records the SNI names seen.
fn tls_server(pki: &servers::Pki) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    tls_server_with(&pki.cert_pem, &pki.key_pem, None)
}

/// [`tls_server`] with any certificate, requiring a client certificate issued
/// by `client_ca` when given.
fn tls_server_with(
    cert_pem: &str,
    key_pem: &str,
    client_ca: Option<&str>,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(ca.as_bytes()).expect("ca"))
                .expect("root");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let names = Arc::new(Mutex::new(Vec::new()));
    let seen = names.clone();
    let addr = listen(move |s| {
        let acceptor = acceptor.clone();
        let seen = seen.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            let sni = tls.get_ref().1.server_name().unwrap_or("").to_string();
            seen.lock().unwrap().push(sni);
            let _ = tls.write_all(b"hello over tls\n").await;
            let _ = tls.shutdown().await;
        }
    });
    (addr, names)
}

#[test]
fn banner_matched_by_substring_and_by_regex_is_up() {
    let addr = banner();
    let out = probe(&[
        tcp_check("substring", addr, "expect:\n  response: 220 ready\n"),
        tcp_check("regex", addr, "expect:\n  response: /^220 \\w+/\n"),
        tcp_check("connect-only", addr, ""),
    ]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    for name in ["substring", "regex", "connect-only"] {
        let r = out.result(name);
        assert_eq!(r["type"], "tcp");
        assert_eq!(r["target"], addr.to_string());
        assert_eq!(r["up"], true, "{r:#}");
        assert_eq!(r["status_code"], Value::Null);
        assert_eq!(r["error"], Value::Null);
        assert_eq!(r["body_excerpt"], "220 ready\r\n");
        assert_eq!(r["attempts"], 1);
        let connect = r["connect_ms"].as_f64().expect("connect_ms");
        let total = r["latency_ms"].as_f64().expect("latency_ms");
        assert!(connect >= 0.0 && connect <= total, "{r:#}");
    }
}

#[test]
fn peer_that_closes_without_the_response_is_down_with_what_it_said() {
    let addr = banner();
    let out = probe(&[tcp_check(
        "smtp",
        addr,
        "retries: 2\nexpect:\n  response: /^554 /\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = out.result("smtp");
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "expectation");
    assert_eq!(
        r["error"],
        r#"response: expected to match /^554 /, got "220 ready\r\n""#
    );
    assert_eq!(
        failures(r),
        vec![f("response", "to match /^554 /", r#""220 ready\r\n""#)]
    );
    assert_eq!(r["attempts"], 1, "a wrong reply is not retried");
}

#[test]
fn echo_answers_what_was_sent_as_text_or_base64() {
    let addr = echo();
    let out = probe(&[
        tcp_check(
            "text",
            addr,
            "tcp:\n  send: \"PING\\r\\n\"\nexpect:\n  response: PING\n",
        ),
        tcp_check(
            "base64",
            addr,
            "tcp:\n  send_base64: aGVsbG8K\nexpect:\n  response: /(?m)^hello$/\n",
        ),
    ]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    assert_eq!(out.result("text")["up"], true, "{:#}", out.result("text"));
    assert_eq!(out.result("text")["body_excerpt"], "PING\r\n");
    assert_eq!(
        out.result("base64")["up"],
        true,
        "{:#}",
        out.result("base64")
    );
    assert_eq!(out.result("base64")["body_excerpt"], "hello\n");
}

#[test]
fn reply_that_never_matches_times_out_with_the_bytes_seen_and_is_retried() {
    let addr = echo();
    let out = probe(&[tcp_check(
        "pong",
        addr,
        "retries: 1\ntcp:\n  send: PING\nexpect:\n  response: PONG\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = out.result("pong");
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "timeout");
    assert_eq!(
        failures(r),
        vec![f("response", r#"to contain "PONG""#, r#""PING""#)]
    );
    assert_eq!(r["attempts"], 2, "a timeout is transient");
    assert!(r["latency_ms"].as_f64().unwrap() >= 1000.0, "{r:#}");
}

#[test]
fn silent_peer_is_up_once_connected_unless_a_response_is_expected() {
    let addr = silent();
    let out = probe(&[
        tcp_check("port-open", addr, ""),
        tcp_check("banner", addr, "expect:\n  response: \"220\"\n"),
    ]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let open = out.result("port-open");
    assert_eq!(open["up"], true, "{open:#}");
    assert_eq!(open.get("body_excerpt"), None);
    let banner = out.result("banner");
    assert_eq!(banner["up"], false);
    assert_eq!(banner["error_kind"], "timeout");
    assert_eq!(
        failures(banner),
        vec![f("response", r#"to contain "220""#, r#""""#)]
    );
}

#[test]
fn closed_port_is_a_retried_connect_error() {
    let port = servers::closed_port();
    let target: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let out = probe(&[tcp_check("closed", target, "retries: 1\n")]);
    let r = out.result("closed");
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "connect");
    assert_eq!(r["error"], "connection refused");
    assert_eq!(r["attempts"], 2);
    assert_eq!(r.get("connect_ms"), None);
}

#[test]
fn tls_sends_the_server_name_and_reads_the_certificate() {
    let pki = servers::pki(Duration::from_secs(30 * 86_400));
    let (addr, names) = tls_server(&pki);
    let tls = "tcp:\n  tls: {insecure: true}\n  server_name: mail.example.test\n";
    let out = probe(&[
        tcp_check(
            "tls",
            addr,
            &format!("{tls}expect:\n  response: hello over tls\n  cert_valid_for: 14d\n"),
        ),
        tcp_check(
            "short",
            addr,
            &format!("{tls}expect:\n  cert_valid_for: 60d\n"),
        ),
    ]);
    let r = out.result("tls");
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r["body_excerpt"], "hello over tls\n");
    let expires: chrono::DateTime<chrono::Utc> =
        r["cert_expires_at"].as_str().unwrap().parse().unwrap();
    let want: chrono::DateTime<chrono::Utc> = pki.not_after.into();
    assert!(
        (expires - want).num_seconds().abs() <= 1,
        "{expires} vs {want}"
    );
    let short = out.result("short");
    assert_eq!(short["up"], false);
    assert_eq!(failures(short)[0].0, "cert_valid_for");
    assert_eq!(
        names.lock().unwrap().as_slice(),
        ["mail.example.test", "mail.example.test"]
    );
}

#[test]
fn tls_verifies_the_certificate_unless_insecure() {
    let pki = servers::pki(Duration::from_secs(30 * 86_400));
    let (addr, names) = tls_server(&pki);
    let plain = banner();
    let out = probe(&[
        tcp_check("untrusted", addr, "tcp:\n  tls: true\n"),
        tcp_check("not-tls", plain, "tcp:\n  tls: {insecure: true}\n"),
    ]);
    assert_eq!(out.run.code, 2);
    let r = out.result("untrusted");
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "tls");
    assert_eq!(
        r["error"],
        "tls: certificate not trusted: unknown issuer (UnknownIssuer)"
    );
    assert_eq!(
        out.result("not-tls")["error_kind"],
        "tls",
        "{:#}",
        out.result("not-tls")
    );
    assert!(names.lock().unwrap().is_empty(), "no handshake completed");
}

#[test]
fn tls_trusts_the_given_ca_and_presents_a_client_certificate() {
    let pki = servers::pki(Duration::from_secs(30 * 86_400));
    let (addr, _) = tls_server(&pki);
    let mutual = crate::grpc_server::mutual_pki();
    let (mutual_addr, _) = tls_server_with(
        &mutual.server_cert_pem,
        &mutual.server_key_pem,
        Some(&mutual.ca_pem),
    );
    let hello = "expect: {response: hello over tls}\n";
    let docs = [
        tcp_check(
            "inline-ca",
            addr,
            &format!(
                "tcp:\n  tls:\n    ca: {}{hello}",
                crate::grpc_probe::pem_block(&pki.ca_pem, 6)
            ),
        ),
        tcp_check(
            "other-ca",
            addr,
            // Another CA (the mutual one) than the server's.
            &format!("tcp: {{tls: {{ca_file: ca.pem}}}}\n{hello}"),
        ),
        tcp_check(
            "mutual",
            mutual_addr,
            &format!(
                "tcp: {{tls: {{ca_file: ca.pem, client_cert_file: client.pem, client_key_file: client.key}}}}\n{hello}"
            ),
        ),
        tcp_check(
            "no-client-cert",
            mutual_addr,
            "tcp: {tls: {ca_file: ca.pem}}\n",
        ),
    ];
    let files = crate::support::Files::new(&[
        ("checks.yaml", &docs.join("---\n")),
        ("ca.pem", &mutual.ca_pem),
        ("client.pem", &mutual.client_cert_pem),
        ("client.key", &mutual.client_key_pem),
    ]);
    let out = servers::probe_files(&files, ".", &[]);
    for name in ["inline-ca", "mutual"] {
        let r = out.result(name);
        assert_eq!(r["up"], true, "{name}: {r:#}");
    }
    let other = out.result("other-ca");
    assert_eq!(other["error_kind"], "tls");
    assert_eq!(
        other["error"],
        "tls: certificate not trusted: unknown issuer (UnknownIssuer)"
    );
    let refused = out.result("no-client-cert");
    assert_eq!(refused["up"], false);
    assert_eq!(refused["error_kind"], "tls", "{refused:#}");
    assert_eq!(
        refused["error"],
        "tls: the server requires a client certificate (`tls.client_cert_file`)"
    );
}

/// The largest `tcp.max_bytes`, so that the cap does not end the read first.
const MAX_BYTES: &str = "tcp:\n  max_bytes: 1048576\n";

#[test]
fn a_peer_that_writes_forever_is_cut_off_at_the_timeout_by_substring_and_regex() {
    // Fast and in big pieces; then slow, in pieces of a few bytes, so that every
    // read brings little and a matcher that starts over each time does most work.
    let fast = forever(&[b'x'; 16 * 1024], Duration::ZERO);
    let dribble = forever(b"x", Duration::from_micros(50));
    for addr in [fast, dribble] {
        let begun = Instant::now();
        let out = probe(&[
            tcp_check(
                "substring",
                addr,
                &format!("{MAX_BYTES}expect:\n  response: never here\n"),
            ),
            tcp_check(
                "regex",
                addr,
                &format!("{MAX_BYTES}expect:\n  response: /never.*here/\n"),
            ),
        ]);
        let took = begun.elapsed();
        assert_eq!(out.run.code, 2, "{}", out.run.stderr);
        for name in ["substring", "regex"] {
            let r = out.result(name);
            assert_eq!(r["up"], false, "{r:#}");
            assert!(
                matches!(r["error_kind"].as_str(), Some("timeout" | "expectation")),
                "{r:#}"
            );
            assert!(r["latency_ms"].as_f64().unwrap() < 2000.0, "{r:#}");
        }
        // Both checks run side by side, each with a 1 s timeout.
        assert!(took < Duration::from_secs(3), "the run took {took:?}");
    }
}

#[test]
fn a_match_that_arrives_in_pieces_after_much_noise_is_found() {
    let addr = listen(|mut s| async move {
        let _ = s.set_nodelay(true);
        for _ in 0..200 {
            if s.write_all(&[b'.'; 1000]).await.is_err() {
                return;
            }
        }
        for piece in [&b"22"[..], b"0 re", b"ady\r\n"] {
            let _ = s.write_all(piece).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let out = probe(&[
        tcp_check(
            "substring",
            addr,
            &format!("{MAX_BYTES}expect:\n  response: 220 ready\n"),
        ),
        tcp_check(
            "regex",
            addr,
            &format!("{MAX_BYTES}expect:\n  response: /(?m)^\\.*220 re+ady\\r$/\n"),
        ),
        tcp_check(
            "anchored",
            addr,
            &format!("{MAX_BYTES}expect:\n  response: /^220/\n"),
        ),
    ]);
    let r = out.result("substring");
    assert_eq!(r["up"], true, "{r:#}");
    let r = out.result("regex");
    assert_eq!(r["up"], true, "{r:#}");
    // `^220` failed at the first byte: nothing more can make it match, so the
    // read stops there rather than at the timeout.
    let r = out.result("anchored");
    assert_eq!(r["up"], false, "{r:#}");
    assert_eq!(r["error_kind"], "expectation", "{r:#}");
}
