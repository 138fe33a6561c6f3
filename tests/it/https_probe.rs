//! `uptimeping test` against HTTPS servers on 127.0.0.1 whose certificates come
//! from a CA made for the test: trust, `insecure`, `ca_file` and `cert_valid_for`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::servers::{self, Pki, check, failures, probe, probe_files};
use crate::support::Files;

const DAY: Duration = Duration::from_secs(86_400);

/// `cert_expires_at` of a result, which must be within a few seconds of the leaf's expiry.
fn assert_expiry(result: &Value, pki: &Pki) {
    let at: DateTime<Utc> = result["cert_expires_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no cert_expires_at in {result:#}"))
        .parse()
        .expect("RFC 3339");
    let want = DateTime::<Utc>::from(pki.not_after);
    assert!(
        (at - want).num_seconds().abs() <= 2,
        "cert_expires_at {at}, the certificate expires {want}"
    );
}

#[test]
fn an_untrusted_certificate_is_a_tls_error() {
    let pki = servers::pki(10 * DAY);
    let server = servers::https(&pki);
    let out = probe(&[check(
        "untrusted",
        &server.https_url("127.0.0.1", "/ok"),
        "retries: 2\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "tls", "{r:#}");
    let error = r["error"].as_str().expect("error");
    assert!(
        error.starts_with("tls: ") && error.contains("UnknownIssuer"),
        "{error}"
    );
    assert_eq!(r["status_code"], Value::Null);
    assert_eq!(r["attempts"], 1, "a certificate problem is not retried");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn insecure_accepts_the_certificate_and_still_reads_it() {
    let pki = servers::pki(10 * DAY);
    let server = servers::https(&pki);
    let out = probe(&[check(
        "insecure",
        &server.https_url("127.0.0.1", "/ok"),
        "http:\n  tls:\n    insecure: true\nexpect:\n  json_path:\n    $.status: ok\n",
    )]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["error_kind"], Value::Null);
    assert_expiry(r, &pki);
    assert_eq!(server.hits("/ok"), 1);
}

#[test]
fn ca_file_is_trusted_relative_to_the_check_file() {
    let pki = servers::pki(10 * DAY);
    let server = servers::https(&pki);
    let yaml = check(
        "pinned",
        &server.https_url("localhost", "/ok"),
        "http:\n  tls:\n    ca_file: ca.pem\n",
    );
    let files = Files::new(&[
        ("checks/site.yaml", yaml.as_str()),
        ("checks/ca.pem", pki.ca_pem.as_str()),
    ]);
    let out = probe_files(&files, "checks", &[]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r["status_code"], 200);
    assert_expiry(r, &pki);
}

#[test]
fn an_inline_ca_is_trusted() {
    let pki = servers::pki(10 * DAY);
    let server = servers::https(&pki);
    let pem: String = pki.ca_pem.lines().map(|l| format!("      {l}\n")).collect();
    let out = probe(&[check(
        "inline-ca",
        &server.https_url("127.0.0.1", "/ok"),
        &format!("http:\n  tls:\n    ca: |\n{pem}"),
    )]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r["status_code"], 200);
}

#[test]
fn cert_valid_for_fails_when_the_certificate_expires_sooner() {
    let pki = servers::pki(10 * DAY);
    let server = servers::https(&pki);
    let out = probe(&[check(
        "expiring",
        &server.https_url("127.0.0.1", "/ok"),
        "http:\n  tls:\n    insecure: true\nexpect:\n  cert_valid_for: 14d\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["error_kind"], "expectation");
    let [(expectation, expected, actual)] = failures(r).try_into().expect("one failure");
    assert_eq!(expectation, "cert_valid_for");
    assert!(expected.contains("14d"), "{expected}");
    assert!(
        actual.starts_with("9d left") || actual.starts_with("10d left"),
        "{actual}"
    );
    assert_expiry(r, &pki);
}

#[test]
fn cert_valid_for_holds_when_the_certificate_lasts_longer() {
    let pki = servers::pki(10 * DAY);
    let server = servers::https(&pki);
    let out = probe(&[check(
        "lasting",
        &server.https_url("127.0.0.1", "/ok"),
        "http:\n  tls:\n    insecure: true\nexpect:\n  cert_valid_for: 5d\n  conditions:\n    - cert_expires_in > duration(\"216h\")\n    - cert_expires_in < duration(\"241h\")\n",
    )]);
    assert_eq!(out.run.code, 0, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], true, "{r:#}");
    assert_eq!(r.get("failures"), None);
    assert_expiry(r, &pki);
}

#[test]
fn https_to_a_plain_http_port_is_a_tls_error() {
    let server = servers::http();
    let out = probe(&[check(
        "plain",
        &format!("https://127.0.0.1:{}/ok", server.addr.port()),
        "retries: 1\nhttp:\n  tls:\n    insecure: true\n",
    )]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    let r = &out.results[0];
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "tls", "{r:#}");
    let error = r["error"].as_str().expect("error");
    assert!(error.starts_with("tls: "), "{error}");
    assert_eq!(r["status_code"], Value::Null);
    assert_eq!(r["attempts"], 1, "a handshake failure is not retried");
    assert_eq!(server.requests().len(), 0);
}
