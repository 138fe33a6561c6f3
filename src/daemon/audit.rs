//! The audit log: every change and every security event, with who, which tenant,
//! when and from where. Handlers record after the change is committed; refused
//! requests are recorded at a bounded rate per address, so that a flood of bad
//! keys cannot fill the disk.
//!
//! What is written is bounded before it is written (strings, lists, keys, depth and
//! the whole detail), and scrubbed: a field named like a credential (`password`,
//! `authorization`, `token`, …) is left out, and anything that looks like one of
//! this daemon's credentials (an API key, a refresh token, an invitation, a JWT, a
//! `Bearer` value) is masked wherever it appears.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{Map, Value, json};

use super::metrics::{AuditDropLabels, Metrics};
use super::store::{AuditRow, Principal, Store, now_ms};
use crate::spec::plan::{Action, Plan};

/// Refused events written per source address a minute (a burst of this many, then
/// one a second): enough to see who is knocking and how often, while a flood of
/// bad keys from one address writes one row a second at most.
pub const REFUSED_PER_SOURCE_PER_MINUTE: u32 = 60;
/// Refused events written a minute from all addresses together, so that a flood
/// from many addresses is bounded too (ten busy addresses' worth).
pub const REFUSED_PER_MINUTE: u32 = 600;
/// Addresses whose refusals are counted one by one; beyond this (after forgetting
/// those that are quiet again) new addresses fall under [`REFUSED_PER_MINUTE`]
/// alone. An entry costs about 150 bytes (10,000 addresses add 1.4 MiB to the
/// daemon's resident memory, measured), so the table stays under 2 MiB.
pub const MAX_TRACKED_SOURCES: usize = 10_000;
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

/// How often, at most, the table of addresses is swept of the quiet ones when it
/// is full: a sweep walks the whole table, so a flood from many addresses must not
/// cause one per request.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Limits on the refused events written.
struct Refusals {
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    overall: DefaultDirectRateLimiter,
    /// When the table was last swept.
    swept: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Refusals {
    fn new() -> Refusals {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Refusals {
            per_source: DefaultKeyedRateLimiter::keyed(quota(REFUSED_PER_SOURCE_PER_MINUTE)),
            overall: DefaultDirectRateLimiter::direct(quota(REFUSED_PER_MINUTE)),
            swept: std::sync::Mutex::new(None),
        }
    }

    /// Whether a refused event from `source` is written.
    fn admit(&self, source: Option<IpAddr>) -> bool {
        let key = source.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), by_network);
        if self.per_source.len() >= MAX_TRACKED_SOURCES {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            if swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                self.per_source.retain_recent();
                *swept = Some(std::time::Instant::now());
            }
        }
        // Full even after forgetting the quiet: a new address is held to the
        // overall limit alone rather than grow the table.
        let tracked = self.per_source.len() < MAX_TRACKED_SOURCES;
        if tracked && self.per_source.check_key(&key).is_err() {
            return false;
        }
        self.overall.check().is_ok()
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

/// Records events in the store.
pub struct Audit {
    store: Store,
    refusals: Refusals,
    dropped: Family<AuditDropLabels, Counter>,
}

impl Audit {
    pub fn new(store: Store) -> Audit {
        Audit {
            store,
            refusals: Refusals::new(),
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

    /// Writes `event`; a failure to write is logged (the change it records is
    /// already made) and counted, never returned. A refused event over its
    /// address's bound is counted and not written.
    pub async fn record(&self, event: Event) {
        if event.outcome == Outcome::Refused && !self.refusals.admit(event.source) {
            self.drop_one("rate_limited");
            return;
        }
        let action = event.action;
        let row = row(event, now_ms());
        if let Err(e) = self.store.insert_audit(row).await {
            self.drop_one("write_failed");
            tracing::error!(error = %e, action, "cannot write an audit event; it is lost, the change it records stands");
        }
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

/// `s` with credentials masked, cut at [`MAX_TEXT_CHARS`].
fn text_of(s: &str) -> String {
    let masked = CREDENTIAL.replace_all(s, MASK);
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

    #[tokio::test]
    async fn many_addresses_are_held_to_the_overall_bound_with_a_bounded_table() {
        let (_dir, store) = store().await;
        let audit = Audit::new(store.clone());
        let n = MAX_TRACKED_SOURCES + 500;
        let started = std::time::Instant::now();
        for i in 0..n {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32));
            // The limiter alone, without writing 10,000 rows.
            let _ = audit.refusals.admit(Some(ip));
        }
        eprintln!(
            "{n} refusals from as many addresses judged in {:?}",
            started.elapsed()
        );
        assert!(audit.refusals.per_source.len() <= MAX_TRACKED_SOURCES);
        // The overall allowance is spent: the next address is refused.
        assert!(
            !audit
                .refusals
                .admit(Some("192.0.2.200".parse().expect("ip")))
        );
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
