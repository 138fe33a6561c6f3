//! Failures of an attempt, reduced to stable classes and short messages without
//! addresses or ports, so that the same outage always reads the same.

use std::error::Error as _;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The name did not resolve.
    Dns,
    /// No connection: refused, reset, unreachable, connect timeout.
    Connect,
    /// The attempt took longer than the check's timeout.
    Timeout,
    /// The TLS handshake failed: untrusted, expired or mismatched certificate.
    Tls,
    /// More redirects than allowed.
    Redirect,
    /// The connection broke while the response was read, or the response was malformed.
    Protocol,
    /// A response came, but an expectation did not hold.
    Expectation,
}

/// An attempt that produced no response.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AttemptError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn timeout(limit: std::time::Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("timeout after {}", crate::spec::Duration(limit)),
        )
    }

    /// Classifies a socket error; `connecting` tells a failed connection from one
    /// that broke later.
    pub fn from_io(io: &std::io::Error, connecting: bool) -> Self {
        use std::io::ErrorKind as K;
        let msg = match io.kind() {
            K::ConnectionRefused => "connection refused",
            K::ConnectionReset => "connection reset",
            K::ConnectionAborted => "connection aborted",
            K::TimedOut => "connect timeout",
            K::HostUnreachable => "host unreachable",
            K::NetworkUnreachable => "network unreachable",
            K::UnexpectedEof => "connection closed before the response was complete",
            _ => "connection error",
        };
        let kind = if connecting {
            ErrorKind::Connect
        } else {
            ErrorKind::Protocol
        };
        Self::new(kind, msg)
    }

    /// Classifies a failed TCP connect, name lookup included.
    pub fn from_connect(io: &std::io::Error) -> Self {
        let lower = io.to_string().to_ascii_lowercase();
        if lower.contains("lookup") || lower.contains("name or service not known") {
            return Self::new(ErrorKind::Dns, "dns: name did not resolve");
        }
        Self::from_io(io, true)
    }

    /// Classifies a failed TLS handshake over an established connection.
    pub fn from_handshake(io: &std::io::Error) -> Self {
        let io = innermost_io(io);
        match (io.kind(), io.get_ref()) {
            (std::io::ErrorKind::InvalidData, Some(inner)) => Self::new(
                ErrorKind::Tls,
                format!("tls: {}", describe_tls(&inner.to_string())),
            ),
            _ => Self::from_io(io, false),
        }
    }

    /// A chain of redirects longer than the check allows.
    pub fn too_many_redirects(max_redirects: u32) -> Self {
        Self::new(
            ErrorKind::Redirect,
            format!("too many redirects (limit {max_redirects})"),
        )
    }

    /// Classifies a client error by walking its cause chain.
    pub fn from_reqwest(err: &reqwest::Error, max_redirects: u32) -> Self {
        if err.is_redirect() {
            return Self::too_many_redirects(max_redirects);
        }
        let chain = chain_text(err);
        let lower = chain.to_ascii_lowercase();
        if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
        {
            return Self::new(ErrorKind::Dns, "dns: name did not resolve");
        }
        if let Some(tls) = tls_cause(err) {
            return Self::new(ErrorKind::Tls, format!("tls: {tls}"));
        }
        if let Some(io) = io_cause(err) {
            return Self::from_io(io, err.is_connect());
        }
        if err.is_timeout() {
            return Self::new(ErrorKind::Connect, "connect timeout");
        }
        if err.is_connect() {
            return Self::new(ErrorKind::Connect, "connection failed");
        }
        if err.is_body() || err.is_decode() {
            return Self::new(ErrorKind::Protocol, "response body could not be read");
        }
        Self::new(ErrorKind::Protocol, format!("http: {}", last_cause(err)))
    }
}

fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

fn last_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn io_cause(err: &reqwest::Error) -> Option<&std::io::Error> {
    let mut cur = err.source();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // rustls reports handshake failures wrapped in io::Error; those are TLS, not I/O.
            if io.get_ref().is_none_or(|inner| {
                !inner
                    .to_string()
                    .to_ascii_lowercase()
                    .contains("certificate")
            }) {
                return Some(io);
            }
        }
        cur = e.source();
    }
    None
}

fn tls_cause(err: &reqwest::Error) -> Option<String> {
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        // rustls reports every handshake failure while connecting as invalid data
        // wrapping its own error, whatever the words: a peer that does not speak
        // TLS reads `received corrupt message of type InvalidContentType`.
        if err.is_connect()
            && let Some(io) = e.downcast_ref::<std::io::Error>().map(innermost_io)
            && io.kind() == std::io::ErrorKind::InvalidData
            && let Some(inner) = io.get_ref()
        {
            return Some(describe_tls(&inner.to_string()));
        }
        if (lower.contains("certificate")
            || lower.contains("handshake")
            || lower.contains("tls")
            || lower.contains("peer") && lower.contains("alert"))
            && (e.source().is_none() || lower.contains("certificate"))
        {
            return Some(describe_tls(&text));
        }
        cur = e.source();
    }
    None
}

/// The io::Error inside nested ones: connectors wrap the TLS layer's error twice,
/// and `source()` skips over the inner wrapper.
fn innermost_io(io: &std::io::Error) -> &std::io::Error {
    match io
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<std::io::Error>())
    {
        Some(inner) => innermost_io(inner),
        None => io,
    }
}

/// rustls names certificate problems after its enum variants; say them in words,
/// keeping the variant for searching.
fn describe_tls(raw: &str) -> String {
    let detail = raw.trim_start_matches("invalid peer certificate: ");
    const WORDS: &[(&str, &str)] = &[
        ("UnknownIssuer", "certificate not trusted: unknown issuer"),
        ("Expired", "certificate expired"),
        ("NotValidYet", "certificate not valid yet"),
        (
            "NotValidForName",
            "certificate not valid for this host name",
        ),
        ("Revoked", "certificate revoked"),
        ("BadSignature", "certificate has a bad signature"),
        ("InvalidContentType", "the peer does not speak TLS"),
    ];
    match WORDS.iter().find(|(needle, _)| detail.contains(needle)) {
        Some((needle, words)) => format!("{words} ({needle})"),
        None => detail.to_string(),
    }
}
