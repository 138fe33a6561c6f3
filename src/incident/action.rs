//! What people do to incidents: acknowledge, resolve, post updates.

use super::{Detail, Effect, EventKind, IncidentState, MAX_UPDATES_PER_INCIDENT};
use crate::model::{IncidentKind, IncidentStatus, UpdateStatus};

/// An action on an incident by hand (the API, the console, a chat button).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
}

/// Why an action cannot be done, in words for whoever asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What `actor` doing `action` (with `comment`) to `incident` at `now` does.
pub fn on_action(
    incident: &IncidentState,
    action: Action,
    actor: &str,
    comment: Option<String>,
    now: i64,
) -> Result<Vec<Effect>, Refused> {
    let id = incident.id;
    let (change, kind) = match (action, incident.status) {
        (Action::Acknowledge, IncidentStatus::Open) => (
            Effect::Acknowledge {
                by: actor.to_string(),
                at: now,
            },
            EventKind::Acknowledged,
        ),
        (Action::Acknowledge, IncidentStatus::Acknowledged) => {
            return Err(Refused(format!(
                "incident {id} is already acknowledged by {}",
                incident.acknowledged_by.as_deref().unwrap_or_default()
            )));
        }
        (Action::Acknowledge, IncidentStatus::Resolved) => {
            return Err(Refused(format!("incident {id} is resolved")));
        }
        (Action::Resolve, IncidentStatus::Resolved) => {
            return Err(Refused(format!("incident {id} is resolved already")));
        }
        (Action::Resolve, _) => (
            Effect::Resolve {
                by: actor.to_string(),
                at: now,
            },
            EventKind::Resolved,
        ),
    };
    let mut out = vec![change];
    if kind == EventKind::Resolved && incident.kind == IncidentKind::Down {
        out.push(Effect::ResetFailures);
    }
    out.push(Effect::Notify {
        kind,
        actor: actor.to_string(),
        detail: Detail::Comment(comment),
    });
    Ok(out)
}

/// What the store knows of an incident's updates so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateFacts {
    /// How many it has.
    pub count: i64,
    /// The status of the latest, if it has one.
    pub last_status: Option<String>,
}

/// What an update (`message`, one [`update_message`](super::update_message)
/// accepted) on `incident` does. It goes to the incident's channels under the
/// alert policy; on a resolved incident it is a note afterwards (a post-mortem):
/// stored with status `resolved` and shown, sent to nobody, and it takes no
/// `status`. Without a status it keeps the latest update's (at first
/// `investigating`).
pub fn on_update(
    incident: &IncidentState,
    updates: &UpdateFacts,
    actor: &str,
    message: &str,
    status: Option<UpdateStatus>,
) -> Result<Vec<Effect>, Refused> {
    let id = incident.id;
    let count = updates.count;
    if count >= MAX_UPDATES_PER_INCIDENT {
        return Err(Refused(format!(
            "incident {id} has {count} updates, the most one takes ({MAX_UPDATES_PER_INCIDENT}); resolve it and follow up elsewhere"
        )));
    }
    let resolved = incident.status == IncidentStatus::Resolved;
    let status = match (resolved, status) {
        (true, Some(s)) => {
            return Err(Refused(format!(
                "incident {id} is resolved: a note on it takes no status `{}`; leave the status out",
                s.as_str()
            )));
        }
        (true, None) => IncidentStatus::Resolved.as_str().to_string(),
        (false, Some(s)) => s.as_str().to_string(),
        (false, None) => updates
            .last_status
            .clone()
            .unwrap_or_else(|| UpdateStatus::Investigating.as_str().to_string()),
    };
    let (kind, actor, detail) = (
        EventKind::Update,
        actor.to_string(),
        Detail::Update {
            status,
            message: message.to_string(),
        },
    );
    Ok(vec![if resolved {
        Effect::Record {
            kind,
            actor,
            detail,
        }
    } else {
        Effect::Notify {
            kind,
            actor,
            detail,
        }
    }])
}
