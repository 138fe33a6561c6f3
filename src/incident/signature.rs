//! What identifies a failure, so that repeats of it count on one incident and a
//! different failure is told apart.

use sha2::{Digest, Sha256};

use crate::probe::{BODY_EXCERPT_BYTES, ErrorKind, ProbeResult};

/// A failure as an incident remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signature {
    pub error: String,
    pub status_code: Option<u16>,
    /// [`dedup_hash`] of the failure.
    pub dedup_hash: String,
}

impl Signature {
    /// The signature of a failed result.
    pub fn of(r: &ProbeResult) -> Signature {
        Signature {
            error: r.error.clone().unwrap_or_default(),
            status_code: r.status_code,
            dedup_hash: dedup_hash(r),
        }
    }
}

/// SHA-256 of what identifies a failure: the normalised error, the status code and
/// the first 100 bytes of the body. Latencies and other varying values are left out.
pub fn dedup_hash(r: &ProbeResult) -> String {
    let error = match (&r.error_kind, r.failures.is_empty()) {
        (Some(ErrorKind::Expectation), false) => {
            format!(
                "expectation: {}",
                r.failures
                    .iter()
                    .map(|f| f.expectation.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        _ => r.error.clone().unwrap_or_default(),
    };
    let body = r.body_excerpt.as_deref().unwrap_or("");
    let body: String = body
        .chars()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= BODY_EXCERPT_BYTES).then_some(c)
        })
        .collect();
    let mut h = Sha256::new();
    h.update(error.as_bytes());
    h.update(b"\n");
    h.update(
        r.status_code
            .map(|c| c.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// The dedup hash every SLO burn incident carries: one burn is like another.
pub fn burn_hash() -> String {
    hex::encode(Sha256::digest(b"slo_burn"))
}
