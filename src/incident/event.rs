//! The kinds of event in an incident's timeline, as stored in `incident_events.kind`
//! and `outbox.event`.

use std::fmt;
use std::str::FromStr;

/// Something that happened to an incident. The stored names are the ones events
/// have always had, so every row written before this type existed reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// It opened (its message may be held back: see [`EventKind::Held`]).
    Opened,
    /// Someone took it.
    Acknowledged,
    /// It is over: the check came back, someone resolved it, or its check went.
    Resolved,
    /// The failure changed while it stayed open; recorded, never sent.
    SignatureChanged,
    /// Its severity stepped up.
    Escalated,
    /// It is still open and nobody took it.
    Reminder,
    /// Someone said what is known now.
    Update,
    /// A message about it was held back by the alert policy; recorded, never sent.
    Held,
    /// Its held-back opening went out at last.
    Released,
}

/// Every kind, for tests and for telling the stored names apart.
pub const EVENT_KINDS: [EventKind; 9] = [
    EventKind::Opened,
    EventKind::Acknowledged,
    EventKind::Resolved,
    EventKind::SignatureChanged,
    EventKind::Escalated,
    EventKind::Reminder,
    EventKind::Update,
    EventKind::Held,
    EventKind::Released,
];

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Resolved => "resolved",
            EventKind::SignatureChanged => "signature_changed",
            EventKind::Escalated => "escalated",
            EventKind::Reminder => "reminder",
            EventKind::Update => "update",
            EventKind::Held => "held",
            EventKind::Released => "released",
        }
    }

    /// Whether a maintenance window or a dependency that is down holds its message
    /// back. Acknowledgements and resolutions answer someone who was told, so they
    /// go out (or not) by whether anyone was told.
    pub fn holdable(self) -> bool {
        matches!(
            self,
            EventKind::Opened | EventKind::Escalated | EventKind::Reminder | EventKind::Update
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored name that is no event kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is no incident event kind")]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EVENT_KINDS
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_string()))
    }
}
