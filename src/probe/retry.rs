//! When an attempt is worth repeating, and how long to wait first. Decided here only;
//! [`Backoff`] is also the one backoff of everything else that retries (notification
//! deliveries, result writes).

use std::time::Duration;

use rand::RngExt;

use super::ErrorKind;
use super::expect::Judged;

/// The first wait between attempts: long enough for a restarting process to bind.
pub const RETRY_BASE: Duration = Duration::from_millis(200);
/// The longest wait between attempts, whatever the attempt number.
pub const RETRY_CAP: Duration = Duration::from_secs(5);
/// The waits between a probe's attempts.
pub const PROBE_BACKOFF: Backoff = Backoff::new(RETRY_BASE, RETRY_CAP);

/// Doublings counted at most: `2^20` times any base in use is far past its cap, and
/// stopping there keeps the multiplication from overflowing.
const MAX_DOUBLINGS: u32 = 20;

/// Exponential backoff: `base * 2^retry`, capped at `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    /// The wait before retry number `retry` (0 for the first), without jitter: for
    /// a single waiter, such as the result writer, that nothing else retries with.
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << retry.min(MAX_DOUBLINGS))
            .min(self.cap)
    }

    /// [`Backoff::ceiling`] scaled by a random factor in [0.5, 1), so that many
    /// waiters failing together spread out instead of retrying together.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor: f64 = rand::rng().random_range(0.5..1.0);
        self.ceiling(retry).mul_f64(factor)
    }
}

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

/// The wait after failed attempt number `attempt` (0 for the first), with jitter.
pub fn backoff(attempt: u32) -> Duration {
    PROBE_BACKOFF.delay(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let ms = Duration::from_millis;
        let expected = [200, 400, 800, 1600, 3200, 5000, 5000];
        for (attempt, want) in expected.into_iter().enumerate() {
            assert_eq!(PROBE_BACKOFF.ceiling(attempt as u32), ms(want), "{attempt}");
        }
        for attempt in [0, 1, 2, 5, 20, 31, 32, 1000, u32::MAX] {
            let ceiling = PROBE_BACKOFF.ceiling(attempt);
            assert!(ceiling <= RETRY_CAP, "attempt {attempt}: {ceiling:?}");
            let d = backoff(attempt);
            assert!(d < ceiling && d >= ceiling / 2, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn a_backoff_with_a_huge_base_saturates_at_its_cap() {
        let b = Backoff::new(Duration::MAX / 2, Duration::from_secs(3600));
        for retry in [0, 1, 40, u32::MAX] {
            assert_eq!(b.ceiling(retry), Duration::from_secs(3600));
        }
    }
}
