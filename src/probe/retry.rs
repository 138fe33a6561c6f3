//! When an attempt is worth repeating, and how long to wait first. Decided here only.

use std::time::Duration;

use rand::RngExt;

use super::ErrorKind;
use super::expect::Judged;

/// The first wait between attempts: long enough for a restarting process to bind.
pub const RETRY_BASE: Duration = Duration::from_millis(200);
/// The longest wait between attempts, whatever the attempt number.
pub const RETRY_CAP: Duration = Duration::from_secs(5);

/// Transient failures are retried: the connection could not be made or timed out,
/// or the server said it is overloaded or broken (429, 5xx). A wrong body is not
/// transient, and neither is an expected 503.
pub fn should_retry(j: &Judged) -> bool {
    if j.up() {
        return false;
    }
    match j.error_kind() {
        Some(ErrorKind::Connect | ErrorKind::Dns | ErrorKind::Timeout) => true,
        _ => j
            .status_code()
            .is_some_and(|s| s == 429 || (500..600).contains(&s)),
    }
}

/// Exponential backoff with jitter: `base * 2^attempt`, capped, then scaled by a
/// random factor in [0.5, 1) so that many checks failing together spread out.
pub fn backoff(attempt: u32) -> Duration {
    let exp = RETRY_BASE.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(RETRY_CAP);
    let factor: f64 = rand::rng().random_range(0.5..1.0);
    capped.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let ceiling = RETRY_BASE
                .saturating_mul(1u32 << attempt.min(16))
                .min(RETRY_CAP);
            assert!(d < ceiling && d >= ceiling / 2, "attempt {attempt}: {d:?}");
        }
    }
}
