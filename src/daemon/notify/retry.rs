//! Why a delivery failed, and whether to try it again and when. Decided here only,
//! in [`decide`].

use std::time::Duration;

use crate::spec::secrets::Redactor;

/// Attempts per notification, the first included, before it is marked failed. With
/// the backoff below, the eleven waits between twelve attempts add up to 9–18
/// minutes: long enough to ride out a receiver's restart or deploy, short enough that
/// an alert is not delivered when it no longer means anything.
pub const MAX_ATTEMPTS: u32 = 12;
/// The first wait before a retry: a receiver that refused one request is often back
/// within a second.
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// The longest wait between two attempts, whatever the attempt number.
pub const RETRY_CAP: Duration = Duration::from_secs(5 * 60);
/// The longest `Retry-After` obeyed: a receiver asking for more is treated as if it
/// had asked for this, so that one header cannot park a notification for days.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60 * 60);

/// How many attempts, and how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: MAX_ATTEMPTS,
            base: RETRY_BASE,
            cap: RETRY_CAP,
        }
    }
}

/// Characters of a delivery error kept, after its secrets are masked: enough for the
/// provider's words and a receiver's one-line reason, not a whole error page.
pub const ERROR_MESSAGE_CAP: usize = 300;

/// What went wrong with one attempt, in a class and in words. The words may quote
/// what a receiver answered, which may echo the channel's URL, token or password:
/// they pass through [`DeliveryError::redacted`] before they are stored, logged or
/// shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub cause: Cause,
    pub message: String,
    /// The message ends where a bounded read of an answer stopped, perhaps inside
    /// a secret.
    pub cut_short: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// No connection: refused, reset, unreachable, DNS, TLS handshake.
    Connect,
    /// No complete answer within the request timeout.
    Timeout,
    /// The connection broke while the answer was read.
    Broken,
    /// The receiver answered with a status that is not 2xx.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// The daemon could not read what it needs (the store failed); try again later.
    Internal,
    /// The notification cannot be sent as configured: the channel or template is
    /// missing or invalid, the provider is not available, the template does not render.
    Config,
}

impl DeliveryError {
    pub fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self {
            cause,
            message: message.into(),
            cut_short: false,
        }
    }

    /// An error quoting an answer that was read only up to a cap.
    pub fn cut_short(mut self, cut: bool) -> Self {
        self.cut_short = cut;
        self
    }

    /// The error with the channel's secrets masked in its words, then cut to
    /// [`ERROR_MESSAGE_CAP`], so that a secret cannot straddle the cut.
    pub fn redacted(self, redactor: &Redactor) -> Self {
        Self {
            cause: self.cause,
            message: redactor.scrub_within(&self.message, ERROR_MESSAGE_CAP, self.cut_short),
            cut_short: false,
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Cause::Config, message)
    }
}

/// What to do with a row after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    RetryIn(Duration),
    /// It would fail the same way again.
    Permanent,
    /// Transient, but tried [`RetryPolicy::max_attempts`] times already.
    Exhausted,
}

/// The one retry decision. `attempts` counts the attempts made so far, the failed
/// one included. Transient failures are retried: no connection, a timeout, a broken
/// answer, 408, 429 (after its `Retry-After`, when given in seconds) and 5xx. Any
/// other status and every configuration problem would fail the same way again.
pub fn decide(err: &DeliveryError, attempts: u32, policy: &RetryPolicy) -> Verdict {
    let transient = match err.cause {
        Cause::Connect | Cause::Timeout | Cause::Broken | Cause::Internal => true,
        Cause::Status { code, .. } => code == 408 || code == 429 || (500..600).contains(&code),
        Cause::Config => false,
    };
    if !transient {
        return Verdict::Permanent;
    }
    if attempts >= policy.max_attempts {
        return Verdict::Exhausted;
    }
    let asked = match err.cause {
        Cause::Status {
            retry_after: Some(wait),
            ..
        } => Some(wait.min(RETRY_AFTER_CAP)),
        _ => None,
    };
    Verdict::RetryIn(asked.unwrap_or_else(|| backoff(attempts.saturating_sub(1), policy)))
}

/// The policy's backoff with jitter, so that notifications failing together do
/// not retry together.
pub fn backoff(retry: u32, policy: &RetryPolicy) -> Duration {
    crate::probe::Backoff::new(policy.base, policy.cap).delay(retry)
}

/// `Retry-After` in seconds; the HTTP-date form is not honoured (backoff applies).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> DeliveryError {
        DeliveryError::new(
            Cause::Status {
                code,
                retry_after: None,
            },
            format!("webhook: HTTP {code}"),
        )
    }

    fn retried(err: &DeliveryError) -> bool {
        matches!(decide(err, 1, &RetryPolicy::default()), Verdict::RetryIn(_))
    }

    #[test]
    fn transient_failures_are_retried() {
        for cause in [Cause::Connect, Cause::Timeout, Cause::Broken] {
            assert!(retried(&DeliveryError::new(cause, "x")), "{cause:?}");
        }
        for code in [408, 429, 500, 502, 503, 504, 599] {
            assert!(retried(&status(code)), "HTTP {code}");
        }
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        for code in [300, 301, 400, 401, 403, 404, 405, 409, 410, 413, 422] {
            assert!(!retried(&status(code)), "HTTP {code}");
        }
        let missing = DeliveryError::config("no channel named `x`");
        assert_eq!(
            decide(&missing, 1, &RetryPolicy::default()),
            Verdict::Permanent
        );
        let unavailable =
            DeliveryError::config("provider telegram is not available in this version");
        assert_eq!(
            decide(&unavailable, 1, &RetryPolicy::default()),
            Verdict::Permanent
        );
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let policy = RetryPolicy::default();
        let err = status(503);
        assert!(matches!(
            decide(&err, MAX_ATTEMPTS - 1, &policy),
            Verdict::RetryIn(_)
        ));
        assert_eq!(decide(&err, MAX_ATTEMPTS, &policy), Verdict::Exhausted);
        assert_eq!(decide(&err, MAX_ATTEMPTS + 3, &policy), Verdict::Exhausted);
        assert_eq!(
            decide(&status(404), MAX_ATTEMPTS, &policy),
            Verdict::Permanent
        );
    }

    #[test]
    fn retry_after_seconds_are_honoured_and_bounded() {
        let policy = RetryPolicy::default();
        let asked = |secs| {
            DeliveryError::new(
                Cause::Status {
                    code: 429,
                    retry_after: Some(Duration::from_secs(secs)),
                },
                "webhook: HTTP 429",
            )
        };
        assert_eq!(
            decide(&asked(7), 1, &policy),
            Verdict::RetryIn(Duration::from_secs(7))
        );
        assert_eq!(
            decide(&asked(86_400), 1, &policy),
            Verdict::RetryIn(RETRY_AFTER_CAP)
        );
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_five_minutes() {
        let policy = RetryPolicy::default();
        for retry in 0..30 {
            let d = backoff(retry, &policy);
            let ceiling = RETRY_BASE
                .saturating_mul(1u32 << retry.min(20))
                .min(RETRY_CAP);
            assert!(d < ceiling && d >= ceiling / 2, "retry {retry}: {d:?}");
        }
        let first = decide(&status(500), 1, &policy);
        assert!(
            matches!(first, Verdict::RetryIn(d) if d >= Duration::from_millis(500) && d < RETRY_BASE),
            "{first:?}"
        );
    }
}
