//! Rate limits on sending: per provider account (Telegram allows a bot about 30
//! messages a second, a Slack incoming webhook about one), per tenant, and per
//! channel when the channel asks for one. A message over a limit is not dropped:
//! its outbox row waits for the time the limit frees, and later rows of the same
//! limit queue up behind it one period apart, so a burst drains in order at the
//! limit's pace instead of being retried all at once.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use sha2::{Digest, Sha256};

use crate::spec::{Channel, ChannelType, Rate};

/// Telegram's documented ceiling for one bot.
pub const TELEGRAM: Rate = Rate::new(30, 1);
/// Slack's documented pace for one incoming webhook (short bursts are tolerated).
pub const SLACK: Rate = Rate::new(1, 1);
/// What one tenant may send in all, unless the daemon is told otherwise.
pub const DEFAULT_TENANT: Rate = Rate::new(50, 1);

/// The limits in force for the notifier. Cheap to clone.
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

struct Inner {
    clock: DefaultClock,
    tenant: Option<Rate>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    buckets: HashMap<String, Bucket>,
    /// Rows told to come back later, which have their place in the queue.
    booked: HashSet<i64>,
}

struct Bucket {
    rate: Rate,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// When the last row deferred by this limit was told to come back: the next
    /// one comes a period later.
    horizon: Option<std::time::Instant>,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(Some(DEFAULT_TENANT))
    }
}

impl Limits {
    /// `tenant`: each tenant's overall limit, or none.
    pub fn new(tenant: Option<Rate>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: DefaultClock::default(),
                tenant,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The limits a message of `tenant` through `channel` is under, shared ones first:
    /// a limit that admits spends its allowance even when a later one refuses, and
    /// a shared limit loses least by that (one message of many a second), whereas a
    /// channel's own slow limit would wait a whole period again.
    fn keys(&self, tenant: i64, channel: &Channel) -> Vec<(String, Rate)> {
        let mut out = Vec::new();
        if let Some(rate) = self.inner.tenant {
            out.push((format!("tenant/{tenant}"), rate));
        }
        // The provider counts per account, whichever channel or tenant uses it.
        let account = match (channel.channel_type, &channel.telegram, &channel.slack) {
            (ChannelType::Telegram, Some(t), _) => Some((TELEGRAM, &t.bot_token)),
            (ChannelType::Slack, _, Some(s)) => Some((SLACK, &s.webhook_url)),
            _ => None,
        };
        if let Some((rate, secret)) = account {
            let id = hex::encode(&Sha256::digest(secret.as_bytes())[..8]);
            out.push((format!("{}/{id}", channel.channel_type.as_str()), rate));
        }
        if let Some(rate) = channel.rate_limit {
            out.push((format!("channel/{tenant}/{}", channel.name), rate));
        }
        out
    }

    /// Takes one message's allowance under every limit for outbox row `row`, or
    /// says how long it must wait. A wait is booked: the row must come back no
    /// earlier, and a newcomer held by the same limit queues behind it, one period
    /// later, while the booked row itself only waits for the limit to free.
    pub fn admit(&self, row: i64, tenant: i64, channel: &Channel) -> Result<(), Duration> {
        let now = std::time::Instant::now();
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let returning = state.booked.contains(&row);
        for (key, rate) in self.keys(tenant, channel) {
            let bucket = state
                .buckets
                .entry(key)
                .and_modify(|b| {
                    if b.rate != rate {
                        *b = Bucket::new(rate, &self.inner.clock);
                    }
                })
                .or_insert_with(|| Bucket::new(rate, &self.inner.clock));
            let queue = bucket.horizon.filter(|h| *h > now && !returning);
            let free = match queue {
                Some(h) => Err(h - now),
                None => bucket
                    .limiter
                    .check()
                    .map_err(|not_until| not_until.wait_time_from(self.inner.clock.now())),
            };
            if let Err(wait) = free {
                let at = now + wait;
                if !returning {
                    bucket.horizon = Some(at + rate.period());
                }
                state.booked.insert(row);
                return Err(wait);
            }
        }
        state.booked.remove(&row);
        Ok(())
    }
}

impl Bucket {
    fn new(rate: Rate, clock: &DefaultClock) -> Self {
        let burst = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(rate.period().max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self {
            rate,
            limiter: Arc::new(DefaultDirectRateLimiter::direct_with_clock(
                quota,
                clock.clone(),
            )),
            horizon: None,
        }
    }
}
