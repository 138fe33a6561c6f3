//! The audit log: every change and every security event, with who, which tenant,
//! when and from where. Handlers record after the change is committed; refused
//! requests are recorded at a bounded rate per address and tenant, so that a
//! flood of bad keys cannot fill the disk. Each kind of refusal has its own
//! budget, so that one flood cannot hide the others, and what is not written is
//! summarised in one row per kind and tenant a minute.
//!
//! What is written is bounded before it is written (strings, lists, keys, depth and
//! the whole detail), and scrubbed: a field named like a credential (`password`,
//! `authorization`, `token`, …) is left out, and anything that looks like one of
//! this daemon's credentials (an API key, a refresh token, an invitation, a JWT, a
//! `Bearer` value) is masked wherever it appears.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;

use governor::{DefaultKeyedRateLimiter, Quota};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{Map, Value, json};

use super::api::ApiError;
use super::metrics::{AuditDropLabels, Metrics};
use super::store::{AuditRow, Principal, Store, now_ms};
use crate::spec::plan::{Action, Plan};

/// Refused events of one class (bad credentials, failed logins, refusals of a
/// known caller, reuses of a refresh token) written per source address a minute (a
/// burst of this many, then one a second): enough to see who is knocking and how
/// often, while a flood of bad keys from one address writes one row a second at
/// most.
pub const REFUSED_PER_SOURCE_PER_MINUTE: u32 = 60;
/// Refused events of one class written a minute per tenant (those of no tenant
/// count together), from all addresses: a flood from many addresses is bounded
/// too (ten busy addresses' worth), and it uses up only its own class and tenant,
/// so a flood of bad keys cannot hide a failed login or another tenant's refusals.
pub const REFUSED_PER_MINUTE: u32 = 600;
/// Addresses whose refusals are counted one by one, per class; beyond this (after
/// forgetting those that are quiet again) new addresses fall under
/// [`REFUSED_PER_MINUTE`] alone. An entry costs at most about 150 bytes, so the
/// four tables stay under 6 MiB together (measured: full tables of all four
/// classes, with their tenants, add 2.5 MiB to the resident memory).
pub const MAX_TRACKED_SOURCES: usize = 10_000;
/// Tenants whose refusals are counted one by one, per class; beyond this (after
/// forgetting the quiet ones) a new tenant shares the budget of no tenant. Far
/// more tenants than are refused at once in a minute, at about 100 KiB per class.
pub const MAX_TRACKED_TENANTS: usize = 1_000;
/// How long the refused events not written (over the bounds above) are gathered
/// before one row per class and tenant says how many there were and from where,
/// so that the log itself shows its gap; reading the log writes them at once.
pub const GAP_SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Addresses a gap's summary names; more are noted as `more_sources`. They fit in
/// a detail's list ([`MAX_LIST_ITEMS`]) and name the busiest few of a flood.
pub const MAX_GAP_SOURCES: usize = 16;
/// Gaps (class and tenant) open at once; beyond this a tenant's gap is counted in
/// its class's gap of no tenant. Each holds at most [`MAX_GAP_SOURCES`]
/// addresses, about 1 KiB, so all of them stay under 1 MiB.
pub const MAX_OPEN_GAPS: usize = 1_000;
/// Longest string kept in an event's detail, target or actor, in characters: a
/// check or channel name (63), an email (254) and a path fit.
pub const MAX_TEXT_CHARS: usize = 256;
/// Most items of a list kept in an event's detail: an apply's first 50 names.
pub const MAX_LIST_ITEMS: usize = 50;
/// Most keys of an object kept in an event's detail.
pub const MAX_OBJECT_KEYS: usize = 32;
/// Deepest nesting kept in an event's detail; deeper values become `"…"`.
pub const MAX_DETAIL_DEPTH: usize = 4;
/// Largest detail written, as JSON: 50 names of 256 characters fit; anything
/// larger after the other bounds is replaced by a note saying so.
pub const MAX_DETAIL_BYTES: usize = 16 * 1024;

/// What stands where a secret was.
pub const MASK: &str = "(sensitive value)";

/// Field names never written, whatever their value: credentials by name.
const SECRET_FIELDS: &[&str] = &[
    "authorization",
    "password",
    "passwd",
    "secret",
    "token",
    "cookie",
    "api_key",
    "apikey",
    "credential",
];

/// This daemon's credentials and the common forms of others, wherever they appear
/// in a string.
static CREDENTIAL: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)\b(?:upk|uprt|upinv)_[A-Za-z0-9_-]+|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|\b(?:bearer|basic)\s+\S+",
    )
    .expect("the credential pattern is valid")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// 401, 403, 429.
    Refused,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct Event {
    /// None when no tenant can be told (a request with a key that is not valid).
    pub tenant_id: Option<i64>,
    /// [`Principal::actor`], `telegram:@name`, `watch` or `anonymous`.
    pub actor: String,
    /// `apply`, `check.pause`, `incident.ack`, `key.create`, `user.add`, `login`,
    /// `request`… (the list is in `uptimeping audit list --help`).
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub source: Option<IpAddr>,
    pub detail: serde_json::Value,
}

impl Event {
    /// An event done by `who`, `ok`, with no target or detail yet.
    pub fn by(who: &Principal, action: &'static str, source: Option<IpAddr>) -> Event {
        Event::as_actor(Some(who.tenant_id), who.actor(), action, source)
    }

    /// An event done by someone who is not a [`Principal`]: a chat app's user
    /// (`telegram:@name`), watch mode (`watch`), or `anonymous`.
    pub fn as_actor(
        tenant_id: Option<i64>,
        actor: impl Into<String>,
        action: &'static str,
        source: Option<IpAddr>,
    ) -> Event {
        Event {
            tenant_id,
            actor: actor.into(),
            action,
            target: None,
            outcome: Outcome::Ok,
            source,
            detail: serde_json::Value::Null,
        }
    }

    /// A request refused with `status` (401, 403, 429) before any handler ran:
    /// `request`, `refused`, detail `{method, path, status}`. `who` is the caller
    /// when one is known (a role too low), else it is `anonymous` of no tenant.
    pub fn refused_request(
        who: Option<&Principal>,
        method: &str,
        path: &str,
        status: u16,
        source: Option<IpAddr>,
    ) -> Event {
        let (tenant, actor) = match who {
            Some(p) => (Some(p.tenant_id), p.actor()),
            None => (None, "anonymous".to_string()),
        };
        Event::as_actor(tenant, actor, "request", source)
            .outcome(Outcome::Refused)
            .detail(json!({"method": method, "path": path, "status": status}))
    }

    pub fn target(mut self, target: impl Into<String>) -> Event {
        self.target = Some(target.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Event {
        self.detail = detail;
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Event {
        self.outcome = outcome;
        self
    }

    /// This event, tried and failed with `e`: outcome `failed`, and the error's
    /// status and code (and how many problems it lists) joined to the detail.
    /// Never its message or details, which may quote what was sent.
    pub fn failed(mut self, e: &ApiError) -> Event {
        let mut detail = match std::mem::take(&mut self.detail) {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => Map::from_iter([("detail".to_string(), other)]),
        };
        detail.insert("status".into(), json!(e.status.as_u16()));
        detail.insert("code".into(), json!(e.code));
        if !e.details.is_empty() {
            detail.insert("problems".into(), json!(e.details.len()));
        }
        self.outcome = Outcome::Failed;
        self.detail = Value::Object(detail);
        self
    }
}

/// The detail of an `apply`: how many resources it creates, updates, deletes and
/// leaves as they are (of `sent`, the resources it was given), and the first
/// [`MAX_LIST_ITEMS`] changes by name (`create Check/api`).
pub fn apply_detail(plan: &Plan, sent: usize) -> Value {
    let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
    let (create, update, delete) = (
        count(Action::Create),
        count(Action::Update),
        count(Action::Delete),
    );
    let names: Vec<String> = plan
        .changes
        .iter()
        .take(MAX_LIST_ITEMS)
        .map(|c| {
            let verb = match c.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
            };
            format!("{verb} {}/{}", c.kind.as_str(), c.name)
        })
        .collect();
    json!({
        "source": plan.source,
        "create": create,
        "update": update,
        "delete": delete,
        "unchanged": sent.saturating_sub(create + update),
        "changes": names,
        "more": plan.changes.len().saturating_sub(MAX_LIST_ITEMS),
    })
}

/// How often, at most, the tables of addresses and tenants are swept of the quiet
/// ones when full: a sweep walks the whole table, so a flood from many addresses
/// must not cause one per request.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Which budget a refused event is held to. Each class has its own, per address
/// and per tenant, so that a flood of one kind (bad keys from a few addresses)
/// cannot hide another (a failed login, a stolen refresh token, a role too low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    /// A request refused for want of a valid credential: a bad, revoked or missing
    /// key or token, a chat press not signed.
    Unauthenticated,
    /// A failed login, from the API or the console, rate limits of them included.
    Login,
    /// Something a known caller was refused: a role too low (403), a wrong
    /// current password.
    Principal,
    /// A used refresh token presented again: its session is ended.
    SessionReuse,
}

impl Class {
    fn of(event: &Event) -> Class {
        match event.action {
            "login" => Class::Login,
            "session.reuse" => Class::SessionReuse,
            "request"
                if event.actor == "anonymous"
                    || event.detail.get("status").and_then(Value::as_u64) == Some(401) =>
            {
                Class::Unauthenticated
            }
            _ => Class::Principal,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Class::Unauthenticated => "unauthenticated",
            Class::Login => "login",
            Class::Principal => "principal",
            Class::SessionReuse => "session.reuse",
        }
    }

    /// The action a gap of this class is recorded under, so that a filter by
    /// action (`--action login`) shows the gap among the rows it hides.
    fn action(self) -> &'static str {
        match self {
            Class::Unauthenticated | Class::Principal => "request",
            Class::Login => "login",
            Class::SessionReuse => "session.reuse",
        }
    }

    /// What the events not recorded were, in a gap's note.
    fn noun(self) -> &'static str {
        match self {
            Class::Unauthenticated => "refused requests without a valid credential",
            Class::Login => "refused logins",
            Class::Principal => "refused requests of known callers",
            Class::SessionReuse => "reuses of refresh tokens",
        }
    }
}

/// The budget of one [`Class`]: per address, and per tenant (events of no tenant
/// share one).
struct Budget {
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    per_tenant: DefaultKeyedRateLimiter<Option<i64>>,
    /// When the tables were last swept.
    swept: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Budget {
    fn new() -> Budget {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Budget {
            per_source: DefaultKeyedRateLimiter::keyed(quota(REFUSED_PER_SOURCE_PER_MINUTE)),
            per_tenant: DefaultKeyedRateLimiter::keyed(quota(REFUSED_PER_MINUTE)),
            swept: std::sync::Mutex::new(None),
        }
    }

    /// Whether a refused event from `source` about `tenant` is written.
    fn admit(&self, source: Option<IpAddr>, tenant: Option<i64>) -> bool {
        let key = source.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), by_network);
        if self.per_source.len() >= MAX_TRACKED_SOURCES
            || self.per_tenant.len() >= MAX_TRACKED_TENANTS
        {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            if swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                self.per_source.retain_recent();
                self.per_tenant.retain_recent();
                *swept = Some(std::time::Instant::now());
            }
        }
        // Full even after forgetting the quiet: a new address is held to its
        // tenant's limit alone, and a new tenant shares the limit of no tenant,
        // rather than grow the tables.
        let tracked = self.per_source.len() < MAX_TRACKED_SOURCES;
        if tracked && self.per_source.check_key(&key).is_err() {
            return false;
        }
        let tenant = tenant.filter(|_| self.per_tenant.len() < MAX_TRACKED_TENANTS);
        self.per_tenant.check_key(&tenant).is_ok()
    }
}

/// Limits on the refused events written: one [`Budget`] per [`Class`].
struct Refusals {
    budgets: [Budget; 4],
}

impl Refusals {
    fn new() -> Refusals {
        Refusals {
            budgets: [Budget::new(), Budget::new(), Budget::new(), Budget::new()],
        }
    }

    fn budget(&self, class: Class) -> &Budget {
        &self.budgets[class as usize]
    }

    /// Whether a refused event of `class` from `source` about `tenant` is written.
    fn admit(&self, class: Class, source: Option<IpAddr>, tenant: Option<i64>) -> bool {
        self.budget(class).admit(source, tenant)
    }
}

/// The key an address is limited by: an IPv6 address by its /64, which one host
/// usually holds whole (so it cannot take a fresh address per request). The
/// login limits key addresses the same way.
pub(crate) fn by_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Refused events of one class and tenant not written since the last summary.
#[derive(Debug, Default)]
struct Gap {
    count: u64,
    /// The first [`MAX_GAP_SOURCES`] addresses (by their network, as limited).
    sources: std::collections::BTreeSet<IpAddr>,
    /// Whether more addresses than those were seen.
    more_sources: bool,
    /// Unix ms of the first event not written.
    since: i64,
}

/// The gaps open now, each to be summarised in one row.
#[derive(Default)]
struct Gaps {
    open: std::collections::HashMap<(Class, Option<i64>), Gap>,
    /// Whether a summary is already due: one task writes them all.
    scheduled: bool,
}

impl Gaps {
    /// Counts one event not written; whether a summary must now be scheduled.
    fn add(&mut self, class: Class, tenant: Option<i64>, source: Option<IpAddr>, at: i64) -> bool {
        let mut key = (class, tenant);
        if !self.open.contains_key(&key) && self.open.len() >= MAX_OPEN_GAPS {
            key = (class, None);
        }
        let gap = self.open.entry(key).or_insert_with(|| Gap {
            since: at,
            ..Gap::default()
        });
        gap.count += 1;
        if let Some(ip) = source.map(by_network)
            && !gap.sources.contains(&ip)
        {
            if gap.sources.len() < MAX_GAP_SOURCES {
                gap.sources.insert(ip);
            } else {
                gap.more_sources = true;
            }
        }
        !std::mem::replace(&mut self.scheduled, true)
    }

    /// The gaps open, closed now.
    fn take(&mut self) -> Vec<((Class, Option<i64>), Gap)> {
        self.scheduled = false;
        let mut taken: Vec<_> = self.open.drain().collect();
        taken.sort_by_key(|(k, _)| *k);
        taken
    }
}

/// The actor of a gap's summary: the daemon itself.
pub const GAP_ACTOR: &str = "uptimeping";

/// The row summarising `gap` of `class` in `tenant`, closed at `until`.
fn gap_row(class: Class, tenant: Option<i64>, gap: &Gap, until: i64) -> AuditRow {
    let sources: Vec<String> = gap.sources.iter().map(IpAddr::to_string).collect();
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let from = if sources.is_empty() {
        String::new()
    } else {
        let more = if gap.more_sources { ", and others" } else { "" };
        format!(" from these addresses: {}{more}", sources.join(", "))
    };
    let note = format!(
        "{} {} not recorded (the audit log's flood bound){from}",
        gap.count,
        class.noun()
    );
    let event = Event::as_actor(tenant, GAP_ACTOR, class.action(), None)
        .outcome(Outcome::Refused)
        .detail(json!({
            "not_recorded": gap.count,
            "class": class.as_str(),
            "from": time(gap.since),
            "until": time(until),
            "sources": sources,
            "more_sources": gap.more_sources,
            "note": note,
        }));
    row(event, until)
}

/// Writes one summary row per gap of `taken`.
async fn write_gaps(
    store: &Store,
    dropped: &Family<AuditDropLabels, Counter>,
    taken: Vec<((Class, Option<i64>), Gap)>,
) {
    let now = now_ms();
    for ((class, tenant), gap) in taken {
        tracing::warn!(
            class = class.as_str(),
            tenant,
            not_recorded = gap.count,
            "refused events were over the audit log's flood bound; a summary row stands for them"
        );
        if let Err(e) = store.insert_audit(gap_row(class, tenant, &gap, now)).await {
            dropped
                .get_or_create(&AuditDropLabels {
                    reason: "write_failed".into(),
                })
                .inc();
            tracing::error!(error = %e, "cannot write the summary of audit events not recorded");
        }
    }
}

/// Records events in the store.
pub struct Audit {
    store: Store,
    refusals: Refusals,
    gaps: std::sync::Arc<std::sync::Mutex<Gaps>>,
    /// How long a gap stays open before its summary is written.
    gap_every: std::time::Duration,
    dropped: Family<AuditDropLabels, Counter>,
}

impl Audit {
    pub fn new(store: Store) -> Audit {
        Audit {
            store,
            refusals: Refusals::new(),
            gaps: Default::default(),
            gap_every: GAP_SUMMARY_EVERY,
            dropped: Family::default(),
        }
    }

    /// Counts events not written in `metrics` (`uptime_audit_events_dropped_total`).
    pub fn counted_in(mut self, metrics: &Metrics) -> Audit {
        self.dropped = metrics.audit_dropped.clone();
        self
    }

    /// Events not written for `reason` (`rate_limited`, `write_failed`) so far.
    pub fn dropped(&self, reason: &str) -> u64 {
        self.dropped
            .get_or_create(&AuditDropLabels {
                reason: reason.into(),
            })
            .get()
    }

    fn drop_one(&self, reason: &str) {
        self.dropped
            .get_or_create(&AuditDropLabels {
                reason: reason.into(),
            })
            .inc();
    }

    fn gaps(&self) -> std::sync::MutexGuard<'_, Gaps> {
        self.gaps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `event`; a failure to write is logged (the change it records is
    /// already made) and counted, never returned. A refused event over its
    /// class's bound is counted, not written, and summarised with the others of
    /// its class and tenant in one row [`GAP_SUMMARY_EVERY`] later.
    pub async fn record(&self, event: Event) {
        if event.outcome == Outcome::Refused {
            let class = Class::of(&event);
            if !self.refusals.admit(class, event.source, event.tenant_id) {
                self.drop_one("rate_limited");
                let due = self
                    .gaps()
                    .add(class, event.tenant_id, event.source, now_ms());
                if due {
                    self.schedule_gaps();
                }
                return;
            }
        }
        let action = event.action;
        let row = row(event, now_ms());
        if let Err(e) = self.store.insert_audit(row).await {
            self.drop_one("write_failed");
            tracing::error!(error = %e, action, "cannot write an audit event; it is lost, the change it records stands");
        }
    }

    /// Records `event` as failed with the error of `result`, when it is one;
    /// gives `result` back.
    pub async fn failure<T>(
        &self,
        result: Result<T, ApiError>,
        event: impl FnOnce() -> Event,
    ) -> Result<T, ApiError> {
        if let Err(e) = &result {
            self.record(event().failed(e)).await;
        }
        result
    }

    /// Writes the summaries of the gaps open now, when the first of them is
    /// [`GAP_SUMMARY_EVERY`] old.
    fn schedule_gaps(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait in: the next read of the log writes them.
            self.gaps().scheduled = false;
            return;
        };
        let (store, gaps, dropped, every) = (
            self.store.clone(),
            std::sync::Arc::clone(&self.gaps),
            self.dropped.clone(),
            self.gap_every,
        );
        runtime.spawn(async move {
            tokio::time::sleep(every).await;
            let taken = gaps.lock().unwrap_or_else(|p| p.into_inner()).take();
            write_gaps(&store, &dropped, taken).await;
        });
    }

    /// Writes the summaries of the gaps open now at once, so that whoever reads
    /// the log sees what it does not hold.
    pub async fn write_open_gaps(&self) {
        let taken = {
            let mut gaps = self.gaps();
            if gaps.open.is_empty() {
                return;
            }
            // The task already due finds nothing and writes nothing.
            let scheduled = gaps.scheduled;
            let taken = gaps.take();
            gaps.scheduled = scheduled;
            taken
        };
        write_gaps(&self.store, &self.dropped, taken).await;
    }
}

/// The row `event` is written as at `at`: every string bounded and scrubbed.
fn row(event: Event, at: i64) -> AuditRow {
    let detail = match bounded(&event.detail, 0) {
        Value::Null => Value::Object(Map::new()),
        v => v,
    };
    let mut text = detail.to_string();
    if text.len() > MAX_DETAIL_BYTES {
        text = json!({"truncated": format!("the detail was over {MAX_DETAIL_BYTES} bytes")})
            .to_string();
    }
    AuditRow {
        tenant_id: event.tenant_id,
        at,
        actor: text_of(&event.actor),
        action: event.action.to_string(),
        target: event.target.as_deref().map(text_of),
        outcome: event.outcome.as_str().to_string(),
        source: event.source.map(|s| s.to_string()),
        detail: text,
    }
}

/// `s` with credentials masked and control characters (which could drive the
/// terminal that lists the log) replaced, cut at [`MAX_TEXT_CHARS`].
fn text_of(s: &str) -> String {
    let masked = CREDENTIAL.replace_all(s, MASK);
    let masked: std::borrow::Cow<'_, str> = if masked.chars().any(char::is_control) {
        masked
            .chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        masked
    };
    match masked.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &masked[..cut]),
        None => masked.into_owned(),
    }
}

fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SECRET_FIELDS.iter().any(|f| name.contains(f))
}

/// `v` within the bounds, without secret fields, credentials masked.
fn bounded(v: &Value, depth: usize) -> Value {
    if depth >= MAX_DETAIL_DEPTH && (v.is_array() || v.is_object()) {
        return Value::String("…".into());
    }
    match v {
        Value::String(s) => Value::String(text_of(s)),
        Value::Array(items) => {
            let mut out: Vec<Value> = items
                .iter()
                .take(MAX_LIST_ITEMS)
                .map(|i| bounded(i, depth + 1))
                .collect();
            if items.len() > MAX_LIST_ITEMS {
                out.push(Value::String(format!(
                    "… {} more",
                    items.len() - MAX_LIST_ITEMS
                )));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let kept = map.iter().filter(|(k, _)| !is_secret_field(k));
            let mut out = Map::new();
            for (k, v) in kept.take(MAX_OBJECT_KEYS) {
                out.insert(text_of(k), bounded(v, depth + 1));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(detail: Value) -> Event {
        Event::as_actor(Some(1), "watch", "apply", None).detail(detail)
    }

    fn written(detail: Value) -> Value {
        serde_json::from_str(&row(event(detail), 0).detail).expect("JSON")
    }

    #[test]
    fn secret_fields_never_reach_the_row_whatever_their_case_or_depth() {
        let d = written(json!({
            "Authorization": "Bearer upk_0123456789ab_secret",
            "headers": {"X-Api-Key": "k", "proxy-authorization": "Basic dXNlcjpwYXNz"},
            "new_password": "hunter2hunter2",
            "refresh_token": "uprt_abc",
            "name": "api",
        }));
        assert_eq!(d, json!({"headers": {}, "name": "api"}));
    }

    #[test]
    fn credentials_inside_any_string_are_masked() {
        let cases = [
            "upk_0123456789ab_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            "/ui/invite/upinv_Zm9vYmFy-baz",
            "refresh with uprt_x1y2z3",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "header was bearer abc.def",
            "Basic dXNlcjpwYXNz",
        ];
        for case in cases {
            let d = written(json!({"note": case, "list": [case]}));
            let text = d.to_string();
            assert!(text.contains(MASK), "{case}: {text}");
            for secret in [
                "ABCDEFGHIJ",
                "Zm9vYmFy",
                "x1y2z3",
                "c2lnbmF0dXJl",
                "abc.def",
                "dXNlcjpwYXNz",
            ] {
                assert!(!text.contains(secret), "{case}: {text}");
            }
        }
        let r = row(
            Event::as_actor(None, "anonymous", "request", None)
                .target("upk_0123456789ab_secretsecret"),
            0,
        );
        assert_eq!(r.target.as_deref(), Some(MASK));
    }

    #[test]
    fn control_characters_never_reach_the_row() {
        let r = row(
            Event::as_actor(None, "user:\u{1b}[2J@x.io", "login", None)
                .target("a\nb\r\u{7}c\u{9b}d")
                .detail(json!({"note": "\u{1b}]0;title\u{7}"})),
            0,
        );
        let text = format!("{} {:?} {}", r.actor, r.target, r.detail);
        assert!(!text.chars().any(char::is_control), "{text}");
        assert_eq!(
            r.target.as_deref(),
            Some("a\u{fffd}b\u{fffd}\u{fffd}c\u{fffd}d")
        );
    }

    #[test]
    fn a_failed_event_carries_the_status_and_code_but_not_the_message() {
        let mut e = ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "conflict",
            "the webhook http://x/s3cr3t is taken",
        );
        e.details = vec!["Channel/hook: s3cr3t".into(), "two".into()];
        let r = row(
            Event::as_actor(Some(1), "watch", "apply", None)
                .detail(json!({"resources": 3}))
                .failed(&e),
            0,
        );
        assert_eq!(r.outcome, "failed");
        let d: Value = serde_json::from_str(&r.detail).expect("JSON");
        assert_eq!(
            d,
            json!({"resources": 3, "status": 409, "code": "conflict", "problems": 2})
        );
    }

    #[test]
    fn detail_is_bounded_in_strings_lists_keys_depth_and_size() {
        let long = "x".repeat(10 * MAX_TEXT_CHARS);
        let d = written(json!({"s": long}));
        assert_eq!(
            d["s"].as_str().map(|s| s.chars().count()),
            Some(MAX_TEXT_CHARS + 1)
        );
        let d = written(json!({"l": (0..500).collect::<Vec<_>>()}));
        let l = d["l"].as_array().expect("list");
        assert_eq!(l.len(), MAX_LIST_ITEMS + 1);
        assert_eq!(l[MAX_LIST_ITEMS], json!("… 450 more"));
        let many: Map<String, Value> = (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
        let d = written(Value::Object(many));
        assert_eq!(d.as_object().map(Map::len), Some(MAX_OBJECT_KEYS));
        let deep = (0..100).fold(json!(1), |v, _| json!([v]));
        let d = written(json!({ "deep": deep }));
        assert_eq!(d["deep"][0][0][0], json!("…"));
        // Every bound at its largest at once: still at most MAX_DETAIL_BYTES.
        let wide: Map<String, Value> = (0..MAX_OBJECT_KEYS)
            .map(|i| (format!("k{i}"), json!(vec![long.clone(); 100])))
            .collect();
        let r = row(event(Value::Object(wide)), 0);
        assert!(r.detail.len() <= MAX_DETAIL_BYTES, "{}", r.detail.len());
        assert!(r.detail.contains("truncated"));
        assert_eq!(row(event(Value::Null), 0).detail, "{}");
    }

    #[test]
    fn ipv6_addresses_are_limited_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(by_network(a), by_network(b));
        assert_ne!(by_network(a), by_network(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(
            by_network(mapped),
            "10.0.0.1".parse::<IpAddr>().expect("ip")
        );
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        (dir, store)
    }

    async fn rows(store: &Store) -> usize {
        store
            .audit(super::super::store::AuditQuery {
                tenant_id: 1,
                with_no_tenant: true,
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("list")
            .len()
    }

    /// One address refused 500 times: at most the burst, plus one a second for the
    /// time the loop took, is written; every other one is counted.
    #[tokio::test]
    async fn a_flood_of_refusals_from_one_address_is_bounded_and_counted() {
        let (_dir, store) = store().await;
        let audit = Audit::new(store.clone());
        let from: IpAddr = "192.0.2.7".parse().expect("ip");
        let started = std::time::Instant::now();
        for _ in 0..500 {
            audit
                .record(Event::refused_request(
                    None,
                    "GET",
                    "/api/v1/checks",
                    401,
                    Some(from),
                ))
                .await;
        }
        let secs = started.elapsed().as_secs() as usize;
        let written = rows(&store).await;
        let bound = REFUSED_PER_SOURCE_PER_MINUTE as usize + secs + 1;
        assert!(
            (REFUSED_PER_SOURCE_PER_MINUTE as usize..=bound).contains(&written),
            "{written} written in {secs}s"
        );
        assert_eq!(audit.dropped("rate_limited") as usize, 500 - written);
        // Another address still gets its own allowance; an ok event is never held.
        let other: IpAddr = "192.0.2.8".parse().expect("ip");
        audit
            .record(Event::refused_request(None, "GET", "/", 401, Some(other)))
            .await;
        audit
            .record(Event::as_actor(Some(1), "watch", "apply", Some(from)))
            .await;
        assert_eq!(rows(&store).await, written + 2);
    }

    /// Resident memory of this process, in KiB, from /proc.
    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn many_addresses_are_held_to_the_overall_bound_with_bounded_tables() {
        let (_dir, store) = store().await;
        let audit = Audit::new(store.clone());
        let n = MAX_TRACKED_SOURCES + 500;
        let before = rss_kib();
        let started = std::time::Instant::now();
        for class in [
            Class::Unauthenticated,
            Class::Login,
            Class::Principal,
            Class::SessionReuse,
        ] {
            for i in 0..n {
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32));
                // The limiter alone, without writing 10,000 rows; bad keys name no
                // tenant, the others a tenant each.
                let tenant = Some(i as i64).filter(|_| class != Class::Unauthenticated);
                let _ = audit.refusals.admit(class, Some(ip), tenant);
            }
            let budget = audit.refusals.budget(class);
            assert!(budget.per_source.len() <= MAX_TRACKED_SOURCES);
            assert!(budget.per_tenant.len() <= MAX_TRACKED_TENANTS + 1);
        }
        eprintln!(
            "4 × {n} refusals from as many addresses and tenants judged in {:?}; resident memory {} KiB more",
            started.elapsed(),
            rss_kib().saturating_sub(before)
        );
        // Of no tenant, the allowance is spent: fresh addresses are refused (but
        // for the few cells it refills meanwhile, one each 100 ms).
        let admitted = (0..50u32)
            .filter(|i| {
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + i));
                audit.refusals.admit(Class::Unauthenticated, Some(ip), None)
            })
            .count();
        assert!(admitted < 50, "{admitted} of 50 admitted");
    }

    #[test]
    fn each_kind_of_refusal_has_its_class() {
        let key = Principal {
            id: "0a1b2c3d4e5f".into(),
            tenant_id: 1,
            name: "ci".into(),
            role: crate::model::Role::Viewer,
            kind: super::super::store::PrincipalKind::Key,
        };
        let cases = [
            (
                Event::refused_request(None, "GET", "/api/v1/checks", 401, None),
                Class::Unauthenticated,
            ),
            (
                // A revoked key whose tenant is known is still no valid credential.
                Event::refused_request(Some(&key), "GET", "/api/v1/checks", 401, None),
                Class::Unauthenticated,
            ),
            (
                Event::refused_request(Some(&key), "POST", "/api/v1/apply", 403, None),
                Class::Principal,
            ),
            (
                Event::as_actor(None, "user:a@b.c", "login", None).outcome(Outcome::Refused),
                Class::Login,
            ),
            (
                Event::by(&key, "session.reuse", None).outcome(Outcome::Refused),
                Class::SessionReuse,
            ),
            (
                Event::by(&key, "password.change", None).outcome(Outcome::Refused),
                Class::Principal,
            ),
        ];
        for (event, class) in cases {
            assert_eq!(Class::of(&event), class, "{event:?}");
        }
    }

    /// The review's case: bad keys from many addresses spend the budget of
    /// refusals without a valid credential; a failed login, a reuse of a refresh
    /// token and a role too low from others are still written, and the gap is
    /// summarised in one row naming a bounded number of addresses.
    #[tokio::test]
    async fn a_flood_of_bad_keys_hides_no_other_kind_of_refusal_and_leaves_a_summary() {
        let (_dir, store) = store().await;
        let audit = Audit::new(store.clone());
        let key = Principal {
            id: "0a1b2c3d4e5f".into(),
            tenant_id: 1,
            name: "ci".into(),
            role: crate::model::Role::Viewer,
            kind: super::super::store::PrincipalKind::Key,
        };
        let flood = REFUSED_PER_MINUTE as usize + 200;
        for i in 0..flood {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32));
            audit
                .record(Event::refused_request(
                    None,
                    "GET",
                    "/api/v1/checks",
                    401,
                    Some(ip),
                ))
                .await;
        }
        let dropped = audit.dropped("rate_limited");
        assert!(dropped > 0, "the flood was not over the bound");
        let flooded = rows(&store).await;
        let from: Option<IpAddr> = Some("192.0.2.61".parse().expect("ip"));
        for event in [
            Event::as_actor(None, "user:carol@acme.io", "login", from).outcome(Outcome::Refused),
            Event::by(&key, "session.reuse", from).outcome(Outcome::Refused),
            Event::refused_request(Some(&key), "POST", "/api/v1/apply", 403, from),
        ] {
            audit.record(event).await;
        }
        assert_eq!(rows(&store).await, flooded + 3);
        assert_eq!(audit.dropped("rate_limited"), dropped);

        audit.write_open_gaps().await;
        let all = store
            .audit(super::super::store::AuditQuery {
                tenant_id: 1,
                with_no_tenant: true,
                actor: Some(GAP_ACTOR.into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(all.len(), 1, "{all:?}");
        let gap = &all[0];
        assert_eq!(
            (gap.action.as_str(), gap.outcome.as_str()),
            ("request", "refused")
        );
        assert_eq!(gap.tenant, None);
        assert_eq!(gap.detail["not_recorded"], json!(dropped));
        assert_eq!(gap.detail["class"], "unauthenticated");
        let sources = gap.detail["sources"].as_array().expect("sources");
        assert_eq!(sources.len(), MAX_GAP_SOURCES);
        assert_eq!(gap.detail["more_sources"], true);
        let note = gap.detail["note"].as_str().expect("note");
        assert!(
            note.starts_with(&format!(
                "{dropped} refused requests without a valid credential not recorded"
            )),
            "{note}"
        );
        // Written once: nothing is open any more.
        audit.write_open_gaps().await;
        assert_eq!(rows(&store).await, flooded + 4);
    }

    #[test]
    fn one_tenants_flood_leaves_other_tenants_their_budget() {
        let refusals = Refusals::new();
        let mut held = 0;
        for i in 0..REFUSED_PER_MINUTE + 100 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            if !refusals.admit(Class::Principal, Some(ip), Some(2)) {
                held += 1;
            }
        }
        assert!(held > 0);
        let fresh = Some("192.0.2.9".parse().expect("ip"));
        assert!(!refusals.admit(Class::Principal, fresh, Some(2)));
        assert!(refusals.admit(Class::Principal, fresh, Some(3)));
        assert!(refusals.admit(Class::Principal, fresh, None));
        assert!(refusals.admit(Class::Login, fresh, Some(2)));
    }

    #[test]
    fn gaps_open_at_once_are_bounded() {
        let mut gaps = Gaps::default();
        let mut due = 0;
        for t in 0..(MAX_OPEN_GAPS as i64 + 500) {
            for i in 0..3u32 {
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + t as u32 * 8 + i));
                if gaps.add(Class::Principal, Some(t), Some(ip), 0) {
                    due += 1;
                }
            }
        }
        assert_eq!(due, 1, "one summary is scheduled for them all");
        assert!(gaps.open.len() <= MAX_OPEN_GAPS + 1);
        let overflow = &gaps.open[&(Class::Principal, None)];
        assert_eq!(overflow.count, 500 * 3);
        assert_eq!(overflow.sources.len(), MAX_GAP_SOURCES);
        assert!(overflow.more_sources);
        let taken = gaps.take();
        assert_eq!(
            taken.iter().map(|(_, g)| g.count).sum::<u64>(),
            (MAX_OPEN_GAPS as u64 + 500) * 3
        );
        assert!(gaps.open.is_empty() && !gaps.scheduled);
    }

    /// Nobody reads the log: the summary is still written, once, after its time.
    #[tokio::test]
    async fn a_gap_is_summarised_after_its_time_without_a_read() {
        let (_dir, store) = store().await;
        let mut audit = Audit::new(store.clone());
        audit.gap_every = std::time::Duration::from_millis(50);
        let from: Option<IpAddr> = Some("192.0.2.7".parse().expect("ip"));
        let n = REFUSED_PER_SOURCE_PER_MINUTE as usize + 20;
        for _ in 0..n {
            audit
                .record(
                    Event::as_actor(Some(1), "user:a@b.c", "login", from).outcome(Outcome::Refused),
                )
                .await;
        }
        let dropped = audit.dropped("rate_limited");
        assert!(dropped > 0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let gap = loop {
            let found = store
                .audit(super::super::store::AuditQuery {
                    tenant_id: 1,
                    actor: Some(GAP_ACTOR.into()),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .expect("list");
            if let Some(g) = found.first() {
                assert_eq!(found.len(), 1);
                break g.clone();
            }
            assert!(std::time::Instant::now() < deadline, "no summary written");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(gap.action, "login");
        assert_eq!(gap.detail["not_recorded"], json!(dropped));
        assert_eq!(gap.detail["sources"], json!(["192.0.2.7"]));
        assert_eq!(gap.detail["more_sources"], false);
        assert!(!audit.gaps().scheduled && audit.gaps().open.is_empty());
    }

    #[tokio::test]
    async fn a_write_that_fails_is_counted_not_returned() {
        let (dir, store) = store().await;
        let audit = Audit::new(store.clone());
        // A table the insert cannot write into.
        store
            .write(|tx| {
                tx.execute_batch(
                    "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no'); END;",
                )?;
                Ok(())
            })
            .await
            .expect("trigger");
        audit
            .record(Event::as_actor(Some(1), "watch", "apply", None))
            .await;
        assert_eq!(audit.dropped("write_failed"), 1);
        drop(dir);
    }
}
