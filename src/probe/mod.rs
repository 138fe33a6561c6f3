//! Running checks: one entry point, [`Prober::run`], used by `uptimeping test` and
//! the daemon alike. A run is one or more attempts (retries with backoff) whose
//! last response is judged by the check's expectations.

mod compiled;
mod conditions;
mod errors;
mod expect;
mod graphql;
mod grpc;
mod http;
mod observed;
mod plain;
mod reflection;
mod retry;
mod scan;
pub(crate) mod tcp;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use compiled::{CompileError, CompiledCheck, Probe, compile, compile_shared};
pub use errors::{AttemptError, ErrorKind};
pub use expect::Failure;
pub use http::set_location;
pub use retry::{Backoff, backoff, should_retry};

/// How many bytes of the body a result keeps, for incident de-duplication and display.
pub const BODY_EXCERPT_BYTES: usize = 100;

/// How far past its timeout an attempt may run before it is dropped whatever it
/// is doing. Each probe keeps the deadline itself, so that a timed-out attempt
/// still reports what it saw; this only stops one that failed to, and is short
/// next to any timeout so that a run stays within `(1 + retries) * timeout` and
/// the backoffs.
pub const ATTEMPT_GRACE: Duration = Duration::from_millis(500);

/// The outcome of one run of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeResult {
    pub name: String,
    #[serde(rename = "type")]
    pub check_type: String,
    pub target: String,
    pub up: bool,
    /// Time of the last attempt, from sending the request to the last byte read.
    pub latency_ms: f64,
    /// TCP: time to establish the connection (and TLS), part of `latency_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    pub status_code: Option<u16>,
    /// gRPC: the name of the status code the call ended with, e.g. `NOT_FOUND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
    /// What went wrong, for people: `connection refused`, `status: expected 200, got 503`.
    pub error: Option<String>,
    /// The class of failure, stable across runs: part of an incident's identity.
    pub error_kind: Option<ErrorKind>,
    /// Every expectation that did not hold, with the actual value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    pub attempts: u32,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// The first bytes of the body (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_excerpt: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
}

impl ProbeResult {
    /// This result with the check's secrets hidden wherever it quotes them: the
    /// target, the error (clients put the URL in theirs), every failed expectation
    /// and the body excerpt (a target may echo a header back). Results are stored,
    /// logged, sent and printed; this is done once, before any of that.
    pub fn redact(&mut self, redactor: &crate::spec::secrets::Redactor) {
        if redactor.is_empty() {
            return;
        }
        let scrub = |s: &mut String| *s = redactor.scrub(s);
        // Text cut to a length may end in the start of a secret, which a search for
        // whole secrets misses: actual values (cut with `…`) and the body excerpt.
        let actual = |s: &mut String| {
            *s = if s.ends_with('…') {
                redactor.scrub_clipped(s)
            } else {
                redactor.scrub(s)
            }
        };
        scrub(&mut self.target);
        // The error of a failed expectation quotes the first failure, actual and all.
        let first = self.failures.first().map(|f| f.to_string());
        for f in &mut self.failures {
            scrub(&mut f.expectation);
            scrub(&mut f.expected);
            actual(&mut f.actual);
        }
        if let Some(e) = &mut self.error {
            match (
                first.as_deref().and_then(|f| e.strip_prefix(f)),
                self.failures.first(),
            ) {
                (Some(rest), Some(f)) => *e = format!("{f}{}", redactor.scrub(rest)),
                _ => scrub(e),
            }
        }
        if let Some(b) = &mut self.body_excerpt {
            // Lossy decoding may lengthen it, never shorten it below the cut.
            *b = if b.len() >= BODY_EXCERPT_BYTES {
                redactor.scrub_clipped(b)
            } else {
                redactor.scrub(b)
            };
        }
    }
}

/// Runs checks. Holds what is worth keeping between runs (HTTP clients with their
/// TLS configuration); cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Prober {
    http: http::Clients,
    tls: crate::tls::TlsConfigs,
}

impl Prober {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `compiled` once: up to `1 + retries` attempts, then judges the last one.
    pub async fn run(&self, compiled: &CompiledCheck) -> ProbeResult {
        let check = compiled.source();
        let started_at = Utc::now();
        let limit = check.timeout.get();
        let target = check.target.as_str();
        let mut attempt = 0u32;
        loop {
            let begun = Instant::now();
            let one = async {
                match compiled.probe() {
                    Probe::Http(p) => self.http.attempt(&p.conn, &p.request, target, limit).await,
                    Probe::Graphql(p) => graphql::attempt(&self.http, p, target, limit).await,
                    Probe::Tcp(p) => tcp::attempt(&self.tls, p, target, limit).await,
                    Probe::Grpc(p) => grpc::attempt(&self.tls, p, target, limit).await,
                }
            };
            let outcome = match tokio::time::timeout(limit + ATTEMPT_GRACE, one).await {
                Ok(outcome) => outcome,
                Err(_) => Err(AttemptError::timeout(limit)),
            };
            let latency = begun.elapsed();
            let judged = expect::judge(compiled, outcome, latency);
            if attempt < check.retries && should_retry(&judged) {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return judged.into_result(check, started_at, attempt + 1);
        }
    }
}
