//! The notifier: sends the outbox's due rows to their channels, a few at a time,
//! and records each outcome: sent, retried later with backoff, or failed for good.
//! Rows survive a restart in the store, so a stopped daemon resends what it had
//! not sent; receivers de-duplicate by the `Idempotency-Key`.
//!
//! Providers: `webhook`, `telegram`, `slack` and `email`, one module each; a channel
//! without the section its `type` needs fails at once, saying so.

mod claims;
pub mod email;
pub mod limits;
pub mod links;
pub mod message;
pub mod retry;
pub mod slack;
pub mod telegram;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use claims::Claims;
use retry::{Cause, DeliveryError, RetryPolicy, Verdict};

use super::metrics::{Metrics, NotificationLabels};
use super::store::{self, OutboxRow, Store, StoredResource, now_ms};
use crate::model::Notification;
use crate::spec::secrets::Redactor;
use crate::spec::template::Provider;
use crate::spec::{Channel, ChannelType, Kind, Template};

pub use retry::MAX_ATTEMPTS;

/// Rows taken from the outbox per round: a burst drains quickly, and a round with
/// slow receivers still ends soon enough to pick up newer rows.
pub const BATCH: u32 = 50;
/// Deliveries in flight at once: one slow receiver does not hold up the others, and
/// a burst does not open a connection per row.
pub const CONCURRENCY: usize = 8;
/// The longest sleep between rounds when nothing is due: rows written without a
/// wake-up (by another process, or before this one started) wait at most this long.
pub const IDLE_POLL: Duration = Duration::from_secs(5);
/// The shortest sleep between rounds that were not full, so that due rows held by a
/// `deliver_now` in progress do not spin the loop.
pub const MIN_PAUSE: Duration = Duration::from_millis(50);
/// One request, connect to the end of the answer: a receiver slower than this is
/// treated as down and tried again later.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting alone: an address that does not answer fails fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the notifier paces itself; `Default` is what the daemon runs with.
#[derive(Debug, Clone)]
pub struct Options {
    pub batch: u32,
    pub concurrency: usize,
    pub idle_poll: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Each tenant's overall sending limit; `None` for none. Providers' and
    /// channels' own limits apply whatever this is.
    pub tenant_rate: Option<crate::spec::Rate>,
    /// The daemon's URL as its users reach it, for `links` in messages.
    pub public_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch: BATCH,
            concurrency: CONCURRENCY,
            idle_poll: IDLE_POLL,
            request_timeout: REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            tenant_rate: Some(limits::DEFAULT_TENANT),
            public_url: None,
        }
    }
}

/// The component that sends notifications. Cheap to clone: the daemon runs one
/// clone with [`Notifier::run`] and gives another to the API for [`Notifier::deliver_now`].
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
    wake: Arc<Notify>,
    options: Arc<Options>,
    claims: Claims,
    limits: limits::Limits,
}

impl Notifier {
    /// The daemon's `public_url`, when it has one: what links to it are built on.
    pub fn public_url(&self) -> Option<&str> {
        self.options.public_url.as_deref()
    }

    pub fn new(store: Store, metrics: Arc<Metrics>) -> reqwest::Result<Self> {
        Self::with_options(store, metrics, Options::default())
    }

    pub fn with_options(
        store: Store,
        metrics: Arc<Metrics>,
        options: Options,
    ) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(webhook::USER_AGENT_VALUE)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirected POST loses its body or changes method; receivers must be
            // configured with their final URL.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            store,
            metrics,
            http,
            wake: Arc::new(Notify::new()),
            limits: limits::Limits::new(options.tenant_rate),
            options: Arc::new(options),
            claims: Claims::default(),
        })
    }

    /// Wakes the loop: call after writing outbox rows, so they go out at once.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The HTTP client deliveries use, for provider calls made outside deliveries
    /// (answering a button press).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// How long one provider request may take.
    pub fn request_timeout(&self) -> Duration {
        self.options.request_timeout
    }

    /// The store deliveries are recorded in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The wake-up handle, for components that write outbox rows.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Delivers due rows until `shutdown` turns true (or its sender is dropped).
    /// Deliveries in flight then are abandoned: their rows stay pending and are
    /// sent again after a restart.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        info!("notifier started");
        loop {
            let full = tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => break,
                full = self.round() => full,
            };
            if full {
                continue;
            }
            let pause = self.pause().await;
            tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        info!("notifier stopped");
    }

    /// Sends row `id` now, whether or not it is due, and returns it as recorded
    /// afterwards. A row already sent or failed is returned as it is.
    pub async fn deliver_now(&self, id: i64) -> store::Result<Notification> {
        let claim = self.claims.claim(id).await;
        if let Some(row) = self.store.pending_notification(id).await? {
            self.attempt(row, Pace::Wait).await;
        }
        drop(claim);
        self.store.notification(id).await
    }

    /// Attempts `listed` unless someone else has since it was listed as due: read
    /// again under the caller's claim, as `deliver_now` may have sent or retried it.
    async fn attempt_unless_taken(&self, listed: OutboxRow) -> store::Result<()> {
        match self.store.pending_notification(listed.id).await? {
            Some(row) if row.attempts == listed.attempts => self.attempt(row, Pace::Defer).await,
            _ => {}
        }
        Ok(())
    }

    /// One batch of due rows; true when the batch was full (more are likely due).
    async fn round(&self) -> bool {
        let rows = match self.store.due_notifications(self.options.batch).await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(error = %e, "notifier: cannot read the outbox");
                return false;
            }
        };
        let claimed: Vec<_> = rows
            .into_iter()
            .filter_map(|row| self.claims.try_claim(row.id).map(|claim| (claim, row)))
            .collect();
        let full = claimed.len() >= self.options.batch as usize;
        stream::iter(claimed)
            .map(|(claim, row)| async move {
                if let Err(e) = self.attempt_unless_taken(row).await {
                    warn!(id = claim.id(), error = %e, "notifier: cannot read the outbox");
                }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect::<()>()
            .await;
        full
    }

    /// Until the next row is due, within [`MIN_PAUSE`, idle poll].
    async fn pause(&self) -> Duration {
        let idle = self.options.idle_poll;
        match self.store.next_due_at().await {
            Ok(Some(at)) => {
                let wait = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                wait.clamp(MIN_PAUSE.min(idle), idle)
            }
            Ok(None) => idle,
            Err(e) => {
                warn!(error = %e, "notifier: cannot read the outbox");
                idle
            }
        }
    }

    /// Waits for the rate limits `row` is under, or, with [`Pace::Defer`], puts it
    /// back in the outbox for when they free; false when it was put back.
    async fn within_limits(&self, row: &OutboxRow, channel: &Channel, pace: Pace) -> bool {
        loop {
            let wait = match self.limits.admit(row.id, row.tenant, channel) {
                Ok(()) => return true,
                Err(wait) => wait,
            };
            if pace == Pace::Wait {
                tokio::time::sleep(wait).await;
                continue;
            }
            let labels = NotificationLabels {
                tenant: self.metrics.tenant(row.tenant),
                provider: channel.channel_type.as_str().to_string(),
            };
            self.metrics
                .notifications_rate_limited
                .get_or_create(&labels)
                .inc();
            // Rounded up, so that the row is not due a moment before the limit frees.
            let at = now_ms().saturating_add(crate::spec::millis_i64(wait).saturating_add(1));
            if let Err(e) = self.store.defer_notification(row.id, at).await {
                warn!(id = row.id, error = %e, "notifier: cannot record the outcome");
            }
            return false;
        }
    }

    /// Counts a failed delivery and decides what happens to it next.
    fn failed(&self, err: &DeliveryError, attempts: u32) -> Verdict {
        self.metrics.error("notifier", "delivery");
        retry::decide(err, attempts, &self.options.retry)
    }

    /// One attempt at `row`, and its outcome recorded.
    async fn attempt(&self, row: OutboxRow, pace: Pace) {
        // A channel that cannot be read fails below, saying why.
        let (channel, redactor) = self.channel(&row).await;
        if let Ok(c) = &channel
            && !self.within_limits(&row, c, pace).await
        {
            return;
        }
        let (provider, outcome) = match &channel {
            Ok(c) => (c.channel_type.as_str(), self.send_through(&row, c).await),
            Err(_) => ("unknown", channel.map(drop)),
        };
        // The one place delivery errors pass before they are logged, stored or shown.
        let outcome = outcome.map_err(|e| e.redacted(&redactor));
        let labels = NotificationLabels {
            tenant: self.metrics.tenant(row.tenant),
            provider: provider.to_string(),
        };
        let attempts = row.attempts + 1;
        let recorded = match outcome {
            Ok(()) => {
                self.metrics.notifications_sent.get_or_create(&labels).inc();
                info!(id = row.id, channel = %row.channel, event = %row.event, attempts, "notification sent");
                self.store.mark_sent(row.id).await
            }
            Err(err) => match self.failed(&err, attempts) {
                Verdict::RetryIn(wait) => {
                    warn!(id = row.id, channel = %row.channel, attempts, error = %err.message, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "notification not sent; will retry");
                    let at = now_ms().saturating_add(crate::spec::millis_i64(wait));
                    self.store
                        .mark_attempt_failed(row.id, err.message, Some(at))
                        .await
                }
                verdict @ (Verdict::Permanent | Verdict::Exhausted) => {
                    self.metrics
                        .notifications_failed
                        .get_or_create(&labels)
                        .inc();
                    let message = if verdict == Verdict::Exhausted {
                        format!("{} (gave up after {attempts} attempts)", err.message)
                    } else {
                        err.message
                    };
                    warn!(id = row.id, channel = %row.channel, attempts, error = %message, "notification failed");
                    self.store.mark_attempt_failed(row.id, message, None).await
                }
            },
        };
        if let Err(e) = recorded {
            // The row stays as it was: pending rows are tried again, at worst once more.
            warn!(id = row.id, error = %e, "notifier: cannot record the outcome");
        }
    }

    /// Sends `row` through `channel`'s provider.
    async fn send_through(&self, row: &OutboxRow, channel: &Channel) -> Result<(), DeliveryError> {
        let missing = || {
            let section = channel.channel_type.as_str();
            DeliveryError::config(format!(
                "channel `{}` has no `{section}:` section",
                channel.name
            ))
        };
        let template = self.template(row, channel).await?;
        let public_url = self.options.public_url.as_deref();
        let timeout = self.options.request_timeout;
        let incident = incident_of(&row.payload);
        match channel.channel_type {
            ChannelType::Webhook => {
                let spec = channel.webhook.as_ref().ok_or_else(missing)?;
                let r = message::Renderer::new(
                    &row.payload,
                    template.as_ref(),
                    Provider::Webhook,
                    public_url,
                )?;
                if let Some(rendered) = r.webhook_body() {
                    let (body, content_type) = rendered?;
                    let ids = (row.idempotency_key.as_str(), row.event.as_str());
                    return webhook::send_bytes(
                        &self.http,
                        spec,
                        ids,
                        body.into_bytes(),
                        &content_type,
                        timeout,
                    )
                    .await;
                }
                let links = r
                    .context()
                    .get("links")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
                let body = webhook::Body::new(row, r.message().clone(), links);
                webhook::send(&self.http, spec, &body, timeout).await
            }
            ChannelType::Telegram => {
                let spec = channel.telegram.as_ref().ok_or_else(missing)?;
                let r = message::Renderer::new(
                    &row.payload,
                    template.as_ref(),
                    Provider::Telegram,
                    public_url,
                )?;
                let incident = incident.as_ref().map(|(id, status)| (*id, status.as_str()));
                let body = telegram::send_message_body(spec, &r, incident)?;
                let sent = telegram::send(&self.http, spec, &body, timeout).await?;
                // Sent is sent: without the record the buttons still work, only the
                // edit after a press shows less of the original text.
                if let Err(e) = self
                    .store
                    .record_sent_message(row.id, sent.chat, sent.message_id, sent.text)
                    .await
                {
                    warn!(id = row.id, error = %e, "notifier: cannot record the Telegram message");
                }
                Ok(())
            }
            ChannelType::Slack => {
                let spec = channel.slack.as_ref().ok_or_else(missing)?;
                let r = message::Renderer::new(
                    &row.payload,
                    template.as_ref(),
                    Provider::Slack,
                    public_url,
                )?;
                let incident = incident.as_ref().map(|(id, status)| (*id, status.as_str()));
                // Recorded before sending, so that no press can come before the record;
                // a retry of the row reuses its token.
                let token = if slack::has_buttons(spec, incident) {
                    let token = self
                        .store
                        .message_token(row.id, slack::SENT_CHAT.into(), slack::new_token())
                        .await
                        .map_err(|e| {
                            DeliveryError::new(
                                Cause::Internal,
                                format!("cannot record the Slack message: {e}"),
                            )
                        })?;
                    Some(token)
                } else {
                    None
                };
                let body = slack::body(spec, &r, &row.payload, incident, token.as_deref())?;
                slack::send(&self.http, &spec.webhook_url, &body, timeout).await
            }
            ChannelType::Email => {
                let spec = channel.email.as_ref().ok_or_else(missing)?;
                let r = message::Renderer::new(
                    &row.payload,
                    template.as_ref(),
                    Provider::Email,
                    public_url,
                )?;
                let message = email::build(spec, &r, &row.idempotency_key)?;
                email::send(spec, message, timeout).await
            }
        }
    }

    /// The row's channel, with the redactor for its delivery errors. A channel the
    /// store cannot read fails the delivery with the store's message, which names
    /// it and holds none of its secrets.
    async fn channel(&self, row: &OutboxRow) -> (Result<Channel, DeliveryError>, Redactor) {
        let stored = match self.stored(row.tenant, Kind::Channel, &row.channel).await {
            Ok(stored) => stored,
            Err(e) => return (Err(e), Redactor::default()),
        };
        let redactor = Redactor::for_channel(&stored.spec, &stored.secrets);
        let channel = match stored.as_channel() {
            Some(c) => Ok(c.clone()),
            None => Err(DeliveryError::config(format!(
                "`{}` is not a channel",
                row.channel
            ))),
        };
        (channel, redactor)
    }

    /// The template the check names, else the channel's; `None` for the defaults.
    async fn template(
        &self,
        row: &OutboxRow,
        channel: &Channel,
    ) -> Result<Option<Template>, DeliveryError> {
        let named = row.payload.get("template").and_then(|t| t.as_str());
        let Some(name) = named.or(channel.template.as_deref()) else {
            return Ok(None);
        };
        match self
            .stored(row.tenant, Kind::Template, name)
            .await?
            .as_template()
        {
            Some(t) => Ok(Some(t.clone())),
            None => Err(DeliveryError::config(format!("`{name}` is not a template"))),
        }
    }

    async fn stored(
        &self,
        tenant: i64,
        kind: Kind,
        name: &str,
    ) -> Result<StoredResource, DeliveryError> {
        let what = kind.as_str().to_ascii_lowercase();
        self.store
            .resource(tenant, kind, name.to_string())
            .await
            .map_err(|e| match e {
                // Stays so until someone applies it again: no retry mends it. The
                // message names it, its secrets already scrubbed by the store.
                store::StoreError::Corrupt(m) => DeliveryError::config(m),
                e => DeliveryError::new(Cause::Internal, format!("reading {what} `{name}`: {e}")),
            })?
            .ok_or_else(|| DeliveryError::config(format!("no {what} named `{name}`")))
    }
}

/// What a delivery does when a rate limit says to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Put the row back in the outbox for later: the delivery loop.
    Defer,
    /// Wait here: someone is waiting for this one row's outcome.
    Wait,
}

/// The incident a payload is about, with its status then: none for test messages.
fn incident_of(payload: &serde_json::Value) -> Option<(i64, String)> {
    let id = payload
        .pointer("/incident/id")?
        .as_i64()
        .filter(|id| *id > 0)?;
    let status = payload.pointer("/incident/status")?.as_str()?.to_string();
    Some((id, status))
}

/// Resolves once shutdown is asked for, or once nobody can ask any more.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
