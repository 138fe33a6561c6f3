//! Login rate limits, by default as the brief sets them: 10 attempts a minute
//! from one address (an IPv6 address by its /64, as the audit log's limits) and
//! 100 a minute for one email, counted whether the email belongs to
//! anyone or not (so the limit says nothing about who exists). Both rates are
//! the daemon's settings (`--login-limit-address`, `--login-limit-email`). The limiters keep a
//! little state per address and per email; past a bound they forget the quiet
//! ones first, and all of them if that is not enough, so a flood of addresses
//! cannot grow the daemon's memory without end.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::daemon::audit::by_network;
use crate::spec::Rate;

/// Login attempts a minute from one address: the brief's number, the default.
pub const PER_ADDRESS_PER_MINUTE: u32 = 10;
/// Login attempts a minute for one email: the brief's number, the default.
pub const PER_EMAIL_PER_MINUTE: u32 = 100;
/// The default of `--login-limit-address`.
pub const PER_ADDRESS: Rate = Rate::new(PER_ADDRESS_PER_MINUTE, 60);
/// The default of `--login-limit-email`.
pub const PER_EMAIL: Rate = Rate::new(PER_EMAIL_PER_MINUTE, 60);
/// The share of an email's attempts (one in this many, at least one) kept for
/// addresses that have not failed a login within the limits' window: whoever
/// floods an email with wrong passwords empties the rest, not these, so its
/// owner can still log in from elsewhere (unless the flood also comes from that
/// many fresh addresses a window). 20 of the default 100 a minute.
const CLEAN_SHARE: u32 = 5;
/// The fewest attempts a window an email's limit may allow: one for clean
/// addresses and one for the rest.
pub const MIN_PER_EMAIL: u32 = 2;
/// Addresses (and, apart, emails) tracked at once, about 100 bytes each: a few
/// MiB at most, more than any real crowd of people logging in within a minute.
pub const MAX_TRACKED: usize = 50_000;

struct Keyed<K: Hash + Eq + Clone> {
    quota: Quota,
    limiter: Mutex<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    /// `count` attempts a `per`, as a burst that comes back one by one.
    fn new(count: u32, per: Duration) -> Self {
        let count = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
        let period = (per / count.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(count))
            .allow_burst(count);
        Keyed {
            quota,
            limiter: Mutex::new(DefaultKeyedRateLimiter::keyed(quota)),
        }
    }

    /// Counts one attempt for `key`; `Err(wait)` when it is over the limit.
    fn check(&self, key: &K, clock: &DefaultClock) -> Result<(), Duration> {
        let mut limiter = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        if limiter.len() >= MAX_TRACKED {
            limiter.retain_recent();
            if limiter.len() >= MAX_TRACKED {
                tracing::warn!(
                    tracked = MAX_TRACKED,
                    "login attempts from too many addresses or emails at once: the login limits start over"
                );
                *limiter = DefaultKeyedRateLimiter::keyed(self.quota);
            }
            limiter.shrink_to_fit();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(clock.now()))
    }

    fn len(&self) -> usize {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The login limits of one daemon.
pub struct LoginLimits {
    clock: DefaultClock,
    by_address: Keyed<IpAddr>,
    by_email: Keyed<String>,
    /// The attempts of an email kept for clean addresses.
    by_email_clean: Keyed<String>,
    /// When each address (an IPv6 one by its /64) last failed a login.
    failed: Mutex<HashMap<IpAddr, Instant>>,
    /// How long a failed login marks its address: the longer window of the two.
    failure_memory: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits::new(PER_ADDRESS, PER_EMAIL)
    }
}

impl LoginLimits {
    /// Limits of `per_address` attempts from one address and `per_email` for
    /// one email (whose count is at least [`MIN_PER_EMAIL`]; a smaller one is
    /// taken as that).
    pub fn new(per_address: Rate, per_email: Rate) -> Self {
        let email_count = per_email.count.max(MIN_PER_EMAIL);
        let clean = (email_count / CLEAN_SHARE).max(1);
        let email_window = per_email.per.get();
        LoginLimits {
            clock: DefaultClock::default(),
            by_address: Keyed::new(per_address.count, per_address.per.get()),
            by_email: Keyed::new(email_count - clean, email_window),
            by_email_clean: Keyed::new(clean, email_window),
            failed: Mutex::new(HashMap::new()),
            failure_memory: per_address.per.get().max(email_window),
        }
    }

    /// Counts a login attempt from `source` for `email`; `Err(seconds)` to wait
    /// (at least 1) when either limit is reached.
    pub fn attempt(&self, source: Option<IpAddr>, email: &str) -> Result<(), u64> {
        let seconds = |d: Duration| d.as_secs_f64().ceil().max(1.0) as u64;
        if let Some(ip) = source {
            self.by_address
                .check(&by_network(ip), &self.clock)
                .map_err(seconds)?;
        }
        let email = email.to_string();
        match self.by_email.check(&email, &self.clock) {
            Ok(()) => Ok(()),
            Err(wait) if source.is_some_and(|ip| self.clean(ip)) => self
                .by_email_clean
                .check(&email, &self.clock)
                .map_err(|w| seconds(w.min(wait))),
            Err(wait) => Err(seconds(wait)),
        }
    }

    /// Notes that a login from `source` failed (a wrong email or password).
    pub fn failed(&self, source: Option<IpAddr>) {
        let Some(ip) = source else {
            return;
        };
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.len() >= MAX_TRACKED {
            failed.retain(|_, at| at.elapsed() < self.failure_memory);
            if failed.len() >= MAX_TRACKED {
                // Every address counts as failed while they are forgotten:
                // the reserve is then closed, as it would be without it.
                failed.clear();
            }
        }
        failed.insert(by_network(ip), Instant::now());
    }

    /// Whether `ip` has not failed a login lately (and the failures are known).
    fn clean(&self, ip: IpAddr) -> bool {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed
            .get(&by_network(ip))
            .is_none_or(|at| at.elapsed() >= self.failure_memory)
    }

    /// Counts an attempt from `source` alone (an address not known counts as
    /// one address): for guesses at secrets no one can target, such as
    /// invitation tokens, which a shared bucket would only let one client
    /// block for everyone.
    pub fn attempt_from(&self, source: Option<IpAddr>) -> Result<(), u64> {
        let seconds = |d: Duration| d.as_secs_f64().ceil().max(1.0) as u64;
        let ip = source.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), by_network);
        self.by_address.check(&ip, &self.clock).map_err(seconds)
    }

    /// Addresses and emails tracked now.
    pub fn tracked(&self) -> (usize, usize) {
        (self.by_address.len(), self.by_email.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_attempt_from_one_address_waits() {
        let l = LoginLimits::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for i in 0..PER_ADDRESS_PER_MINUTE {
            assert_eq!(
                l.attempt(Some(ip), &format!("u{i}@x")),
                Ok(()),
                "attempt {i}"
            );
        }
        let wait = l.attempt(Some(ip), "other@x").expect_err("11th");
        assert!((1..=60).contains(&wait), "{wait}");
        // Another address is not held back.
        assert_eq!(
            l.attempt(Some("192.0.2.2".parse().expect("ip")), "x@x"),
            Ok(())
        );
    }

    #[test]
    fn one_email_is_limited_across_addresses() {
        let l = LoginLimits::default();
        for i in 0..PER_EMAIL_PER_MINUTE {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert_eq!(l.attempt(Some(ip), "victim@x"), Ok(()), "attempt {i}");
        }
        assert!(
            l.attempt(Some("10.9.9.9".parse().expect("ip")), "victim@x")
                .is_err()
        );
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_64() {
        let l = LoginLimits::default();
        for i in 0..PER_ADDRESS_PER_MINUTE {
            let ip: IpAddr = format!("2001:db8:1:2:{i:x}::{i:x}").parse().expect("ip");
            assert_eq!(l.attempt(Some(ip), &format!("u{i}@x")), Ok(()), "{ip}");
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff:eeee:dddd:cccc".parse().expect("ip");
        assert!(l.attempt(Some(same_64), "other@x").is_err());
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(l.attempt(Some(other_64), "other@x"), Ok(()));
        // An IPv4 address in IPv6 form is that IPv4 address.
        for i in 0..PER_ADDRESS_PER_MINUTE {
            assert_eq!(
                l.attempt(Some("192.0.2.7".parse().expect("ip")), &format!("v{i}@x")),
                Ok(())
            );
        }
        assert!(
            l.attempt(Some("::ffff:192.0.2.7".parse().expect("ip")), "w@x")
                .is_err()
        );
    }

    #[test]
    fn attempts_by_address_alone_share_no_bucket_across_addresses() {
        let l = LoginLimits::default();
        for i in 0..(PER_ADDRESS_PER_MINUTE * 10) {
            let ip = IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]);
            let _ = l.attempt_from(Some(ip));
        }
        let a: IpAddr = "10.2.0.1".parse().expect("ip");
        for _ in 0..PER_ADDRESS_PER_MINUTE {
            assert_eq!(l.attempt_from(Some(a)), Ok(()));
        }
        assert!(l.attempt_from(Some(a)).is_err());
        assert!(
            l.attempt_from(Some("10.2.0.2".parse().expect("ip")))
                .is_ok()
        );
    }

    #[test]
    fn a_flood_of_failures_leaves_the_email_open_to_a_clean_address() {
        let l = LoginLimits::default();
        // Ten addresses fail against one email until it is refused to them.
        let mut refused = 0;
        for i in 0..(PER_EMAIL_PER_MINUTE * 2) {
            let ip = IpAddr::from([10, 3, 0, (i % 10) as u8]);
            let ip2 = IpAddr::from([10, 3, 1, (i % 10) as u8]);
            let from = if i < 100 { ip } else { ip2 };
            match l.attempt(Some(from), "victim@x") {
                Ok(()) => l.failed(Some(from)),
                Err(_) => refused += 1,
            }
        }
        assert!(refused > 0);
        // Its owner, from an address that has not failed, still gets in.
        assert_eq!(
            l.attempt(Some("192.0.2.50".parse().expect("ip")), "victim@x"),
            Ok(())
        );
        // An address that failed does not.
        assert!(
            l.attempt(Some(IpAddr::from([10, 3, 0, 0])), "victim@x")
                .is_err()
        );
        // Clean addresses too are held to the brief's 100 a minute in all.
        let mut allowed = 0;
        for i in 0..(PER_EMAIL_PER_MINUTE * 2) {
            let ip = IpAddr::from([10, 4, (i / 256) as u8, (i % 256) as u8]);
            if l.attempt(Some(ip), "other@x").is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, PER_EMAIL_PER_MINUTE);
    }

    #[test]
    fn configured_rates_set_the_counts_the_window_and_the_wait() {
        let l = LoginLimits::new(Rate::new(3, 3600), Rate::new(10, 3600));
        let ip: IpAddr = "192.0.2.9".parse().expect("ip");
        for i in 0..3 {
            assert_eq!(l.attempt(Some(ip), &format!("a{i}@x")), Ok(()));
        }
        // The next of the address's attempts comes back in 20 minutes.
        let wait = l.attempt(Some(ip), "b@x").expect_err("4th");
        assert!((1100..=1200).contains(&wait), "{wait}");
        // Of an email's 10, 8 go to addresses that fail and 2 are kept.
        let mut allowed = 0;
        for i in 0..20u8 {
            let from = IpAddr::from([10, 5, 0, i]);
            l.failed(Some(from));
            if l.attempt(Some(from), "victim@x").is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 8);
        for i in 0..2u8 {
            let clean = IpAddr::from([10, 6, 0, i]);
            assert_eq!(l.attempt(Some(clean), "victim@x"), Ok(()));
        }
        assert!(
            l.attempt(Some("10.6.0.9".parse().expect("ip")), "victim@x")
                .is_err()
        );
        // An address that failed stays marked for the window, not a minute.
        assert!(!l.clean(IpAddr::from([10, 5, 0, 0])));
        assert_eq!(l.failure_memory, Duration::from_secs(3600));
    }

    #[test]
    fn memory_is_bounded_under_a_flood_of_addresses() {
        let l = LoginLimits::default();
        for i in 0..(MAX_TRACKED as u32 + 5_000) {
            let _ = l.attempt(Some(IpAddr::from(i.to_be_bytes())), "x@x");
        }
        let (addresses, _) = l.tracked();
        assert!(addresses <= MAX_TRACKED, "{addresses}");
    }
}
