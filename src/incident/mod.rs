//! The incident core: every decision about incidents and their alerts, as pure
//! functions from what the store knows to a list of [`Effect`]s the store applies
//! in the transaction it read in. No SQL, no stored JSON and no clock here: time
//! comes in as Unix milliseconds, so that any store backend gets the same
//! behaviour from the same code, and every rule is tested without a database.
//!
//! - [`on_result`]: a check's run counts towards opening, deduplicating and
//!   resolving its `down` incident;
//! - [`on_burn`], [`on_removed`]: SLO burn incidents and the checks that go away;
//! - [`on_tick`]: held-back openings released, escalations and reminders;
//! - [`on_action`], [`on_update`]: acknowledging, resolving and updating by hand;
//! - [`hold`], [`delivery`]: the alert policy, whether a message goes out now.

mod action;
mod alert;
mod event;
mod result;
mod signature;
mod text;

#[cfg(test)]
mod tests;

pub use action::{Action, Refused, UpdateFacts, on_action, on_update};
pub use alert::{Delivery, DeliveryFacts, DepState, Hold, Mark, delivery, hold, on_tick, tick_due};
pub use event::{EVENT_KINDS, EventKind, UnknownEventKind};
pub use result::{
    CheckState, Counters, Facts, Outcome, ResultEffects, on_burn, on_removed, on_result,
};
pub use signature::{Signature, burn_hash, dedup_hash};
pub use text::{
    MAX_COMMENT_CHARS, MAX_UPDATE_MESSAGE_CHARS, MAX_UPDATES_PER_INCIDENT, action_comment,
    update_message,
};

use crate::model::{IncidentKind, IncidentStatus};
use crate::spec::{Check, DEFAULT_FAILURE_THRESHOLD, DEFAULT_SUCCESS_THRESHOLD, Severity};

/// Who the daemon acts as when no person does.
pub const SYSTEM: &str = "system";

/// A check's alert settings, as the decisions need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive failures before an incident opens.
    pub failure_threshold: u32,
    /// Consecutive successes before it resolves.
    pub success_threshold: u32,
    /// The severity an incident opens with.
    pub severity: Severity,
    /// Step the severity up after this long (ms) open and unacknowledged.
    pub escalate_after_ms: Option<i64>,
    /// Remind this often (ms) while open and unacknowledged.
    pub remind_every_ms: Option<i64>,
    /// Whether the resolution is sent.
    pub send_on_resolved: bool,
}

impl Policy {
    /// The policy of `check`; a check without `alert` takes the defaults.
    pub fn of(check: &Check) -> Policy {
        let ms = |d: crate::spec::Duration| crate::spec::millis_i64(d.get());
        match &check.alert {
            Some(a) => Policy {
                failure_threshold: a.failure_threshold,
                success_threshold: a.success_threshold,
                severity: a.severity,
                escalate_after_ms: a.escalate_after.map(ms),
                remind_every_ms: a.remind_every.map(ms),
                send_on_resolved: a.send_on_resolved,
            },
            None => Policy::default(),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            success_threshold: DEFAULT_SUCCESS_THRESHOLD,
            severity: Severity::Error,
            escalate_after_ms: None,
            remind_every_ms: None,
            send_on_resolved: true,
        }
    }
}

/// An incident as the decisions see it (open or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentState {
    pub id: i64,
    pub kind: IncidentKind,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub signature: Signature,
    pub acknowledged_by: Option<String>,
    /// Whether its opening went out (false while held back).
    pub notified: bool,
    pub opened_at: i64,
    pub escalated_at: Option<i64>,
    pub last_notified_at: Option<i64>,
}

/// What an event's detail records, rendered by the store into its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// A `down` incident opened after this many failures.
    Opened {
        failures: i64,
        error: String,
    },
    /// An SLO burn incident opened: the burn, in words.
    Burn(String),
    /// Resolved after this many successes.
    Successes(i64),
    /// Resolved by the daemon, for this reason.
    Reason(String),
    /// An action by hand, with its comment if any.
    Comment(Option<String>),
    SignatureChanged {
        from: Signature,
        to: Signature,
    },
    Escalated {
        from: Severity,
        to: Severity,
    },
    Reminder {
        open_for_seconds: i64,
    },
    /// An update's status (as stored: `resolved` on a note afterwards) and message.
    Update {
        status: String,
        message: String,
    },
}

/// One thing the store does, in order, to the incident in hand (the check's open
/// one, the one acted on, or the one [`Effect::Open`] just opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Opens an incident of the check (`status` open, not yet notified unless its
    /// opening goes out).
    Open {
        kind: IncidentKind,
        severity: Severity,
        signature: Signature,
        count: i64,
        at: i64,
    },
    /// One more failure while it is open.
    CountFailure,
    /// The failure is another one now.
    ChangeSignature {
        from: Signature,
        to: Signature,
    },
    Acknowledge {
        by: String,
        at: i64,
    },
    Resolve {
        by: String,
        at: i64,
    },
    /// Counts the check's failures afresh (a resolution by hand), or the next
    /// failure alone would open a new incident.
    ResetFailures,
    Escalate {
        from: Severity,
        to: Severity,
        at: i64,
    },
    /// The opening held back goes out now (as an `opened` message, recorded as
    /// [`EventKind::Released`]).
    Release {
        at: i64,
    },
    /// Records the event and sends it if [`delivery`] says so.
    Notify {
        kind: EventKind,
        actor: String,
        detail: Detail,
    },
    /// Records the event only: nobody is told.
    Record {
        kind: EventKind,
        actor: String,
        detail: Detail,
    },
}

impl Effect {
    fn notify(kind: EventKind, detail: Detail) -> Effect {
        Effect::Notify {
            kind,
            actor: SYSTEM.into(),
            detail,
        }
    }
}

/// The severity an escalation steps up to.
pub fn escalated(s: Severity) -> Severity {
    match s {
        Severity::Warning => Severity::Error,
        _ => Severity::Critical,
    }
}

/// The stored name of a severity.
pub fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Critical => "critical",
    }
}
