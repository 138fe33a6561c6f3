//! The alert policy: whether an incident's message goes out now. Maintenance
//! windows and dependencies that are down hold messages back (the incident is
//! still recorded); a held opening goes out once nothing holds it, if the incident
//! is still open; escalations and reminders come on a timer.

use std::fmt;

use super::{Detail, Effect, EventKind, IncidentState, Policy, escalated};
use crate::model::IncidentStatus;
use crate::spec::{Check, Maintenance};

/// Why a check's messages are held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// A maintenance window (by name) covers the check now.
    Maintenance(String),
    /// A check it depends on (by name) is down.
    DependencyDown(String),
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::Maintenance(w) => write!(f, "maintenance `{w}`"),
            Hold::DependencyDown(d) => write!(f, "`{d}`, which it depends on, is down"),
        }
    }
}

/// What the store knows of a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepState {
    pub paused: bool,
    pub enabled: bool,
    /// Whether its last run was up (none yet: `None`).
    pub last_up: Option<bool>,
    /// Whether it has a `down` incident open.
    pub incident_open: bool,
}

impl DepState {
    /// A paused or disabled dependency says nothing about now: it holds nothing.
    fn down(&self) -> bool {
        !self.paused && self.enabled && (self.last_up == Some(false) || self.incident_open)
    }
}

/// Why the messages of `check` are held back at `now` (Unix ms), if they are: the
/// first of `windows` (the tenant's, in the order to report them) covering it, or
/// else the first of its `depends_on` that is down. `deps` has what the store knows
/// of each dependency by name; one it does not know (deleted, never run) is not down.
pub fn hold(
    check: &Check,
    windows: &[Maintenance],
    deps: &[(String, Option<DepState>)],
    now: i64,
) -> Option<Hold> {
    let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
    if let Some(w) = windows.iter().find(|w| w.covers(check) && w.active_at(at)) {
        return Some(Hold::Maintenance(w.name.clone()));
    }
    check
        .depends_on
        .iter()
        .find(|dep| {
            deps.iter()
                .any(|(name, s)| name == *dep && s.is_some_and(|s| s.down()))
        })
        .map(|dep| Hold::DependencyDown(dep.clone()))
}

/// What the store knows when a message is to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFacts {
    /// Whether the incident's opening went out.
    pub notified: bool,
    /// What holds the check's messages back now; only gathered (and so only
    /// looked at) for a [`holdable`](EventKind::holdable) kind.
    pub hold: Option<Hold>,
    pub send_on_resolved: bool,
}

/// How the incident's `notified` mark changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Its opening is held back: sent later by [`on_tick`].
    Unnotified,
    /// A message went out at `at`: it paces reminders.
    Notified { at: i64 },
}

/// Whether (and how) one message goes out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Recorded as a [`EventKind::Held`] event, for this reason.
    pub held: Option<Hold>,
    pub mark: Option<Mark>,
    /// Queued to the check's channels.
    pub send: bool,
}

/// Whether the `kind` message of an incident goes out at `now`. What follows an
/// opening nobody was told of is not sent either.
pub fn delivery(kind: EventKind, facts: &DeliveryFacts, now: i64) -> Delivery {
    let held = |hold: &super::Hold, mark| Delivery {
        held: Some(hold.clone()),
        mark,
        send: false,
    };
    let send = |send| Delivery {
        send,
        ..Delivery::default()
    };
    match kind {
        EventKind::Opened | EventKind::Escalated | EventKind::Reminder => {
            if let Some(hold) = &facts.hold {
                return held(
                    hold,
                    (kind == EventKind::Opened).then_some(Mark::Unnotified),
                );
            }
            if kind != EventKind::Opened && !facts.notified {
                return send(false);
            }
            Delivery {
                held: None,
                mark: Some(Mark::Notified { at: now }),
                send: true,
            }
        }
        // An update follows the opening: held back in maintenance (and said so in
        // the timeline), and not sent about an opening nobody was told of.
        EventKind::Update => match &facts.hold {
            _ if !facts.notified => send(false),
            Some(hold) => held(hold, None),
            None => send(true),
        },
        EventKind::Acknowledged => send(facts.notified),
        EventKind::Resolved => send(facts.notified && facts.send_on_resolved),
        EventKind::SignatureChanged | EventKind::Held | EventKind::Released => send(false),
    }
}

/// Whether [`on_tick`] may do anything for `incident` at `now`, whatever holds
/// it: the store gathers what holds it only then. `watched` is whether its check
/// runs (enabled, not paused): a check under someone's care pages nobody.
pub fn tick_due(incident: &IncidentState, policy: &Policy, watched: bool, now: i64) -> bool {
    watched
        && incident.status == IncidentStatus::Open
        && (!incident.notified
            || escalation_due(incident, policy, now)
            || reminder_due(policy, incident.notified, last_told(incident), now))
}

/// The timed work for an open incident at `now`, in order: its held opening goes
/// out once nothing holds it; its severity steps up every `escalate_after` since
/// it opened or last stepped (held or not; the message is held like any);
/// reminders every `remind_every` since the last message, skipped quietly while
/// held. An acknowledged or resolved incident is left alone.
pub fn on_tick(
    incident: &IncidentState,
    policy: &Policy,
    watched: bool,
    hold: Option<&Hold>,
    now: i64,
) -> Vec<Effect> {
    let mut out = Vec::new();
    if !watched || incident.status != IncidentStatus::Open {
        return out;
    }
    let (mut notified, mut last) = (incident.notified, last_told(incident));
    if !notified && hold.is_none() {
        out.push(Effect::Release { at: now });
        (notified, last) = (true, now);
    }
    if escalation_due(incident, policy, now) {
        let to = escalated(incident.severity);
        out.push(Effect::Escalate {
            from: incident.severity,
            to,
            at: now,
        });
        out.push(Effect::notify(
            EventKind::Escalated,
            Detail::Escalated {
                from: incident.severity,
                to,
            },
        ));
        if hold.is_none() && notified {
            last = now;
        }
    }
    if hold.is_none() && reminder_due(policy, notified, last, now) {
        out.push(Effect::notify(
            EventKind::Reminder,
            Detail::Reminder {
                open_for_seconds: (now - incident.opened_at) / 1000,
            },
        ));
    }
    out
}

/// When the channels last heard of the incident (its opening, if never since).
fn last_told(incident: &IncidentState) -> i64 {
    incident.last_notified_at.unwrap_or(incident.opened_at)
}

fn escalation_due(incident: &IncidentState, policy: &Policy, now: i64) -> bool {
    incident.severity != crate::spec::Severity::Critical
        && policy.escalate_after_ms.is_some_and(|after| {
            now.saturating_sub(incident.escalated_at.unwrap_or(incident.opened_at)) >= after
        })
}

fn reminder_due(policy: &Policy, notified: bool, last: i64, now: i64) -> bool {
    notified
        && policy
            .remind_every_ms
            .is_some_and(|every| now.saturating_sub(last) >= every)
}
