//! A check's run against its `down` incident: thresholds, dedup and resolution;
//! and the incidents that end because their cause went (an SLO burn that stopped,
//! a check removed).

use super::{Detail, Effect, IncidentState, Policy, SYSTEM, Signature};
use crate::model::IncidentKind;
use crate::spec::Severity;

/// What the store knows about a check when one of its results comes in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckState {
    /// Consecutive failed runs up to now.
    pub failures: i64,
    /// Consecutive successful runs up to now.
    pub successes: i64,
    /// Whether the last run was up (none yet: `None`).
    pub last_up: Option<bool>,
    /// When the check (under this name) was created, if known (Unix ms).
    pub created_at: Option<i64>,
    /// Its open (or acknowledged) `down` incident.
    pub open: Option<IncidentState>,
}

/// The parts of one result that decide anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// When the run started (Unix ms).
    pub started_at: i64,
    pub outcome: Outcome,
}

/// Up, or down with the failure's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Up,
    Down(Signature),
}

impl Facts {
    /// The facts of a probe's result.
    pub fn of(r: &crate::probe::ProbeResult) -> Facts {
        Facts {
            started_at: r.started_at.timestamp_millis(),
            outcome: if r.up {
                Outcome::Up
            } else {
                Outcome::Down(Signature::of(r))
            },
        }
    }

    pub fn up(&self) -> bool {
        self.outcome == Outcome::Up
    }
}

/// The check's counters after a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub failures: i64,
    pub successes: i64,
}

/// What one result does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultEffects {
    pub counters: Counters,
    /// Whether the result is evidence kept for the longer retention: a failure or
    /// a change of state (routine successes go sooner).
    pub keep: bool,
    /// What happens to the check's incident, in order.
    pub incident: Vec<Effect>,
}

/// What result `facts` of a check in `state` under `policy` does at `now` (Unix
/// ms); `None` when it belongs to no current check: a run of a check deleted while
/// it ran, arriving after one of the same name was created.
pub fn on_result(
    state: &CheckState,
    facts: &Facts,
    policy: &Policy,
    now: i64,
) -> Option<ResultEffects> {
    if state.created_at.is_some_and(|c| facts.started_at < c) {
        return None;
    }
    let up = facts.up();
    let counters = if up {
        Counters {
            failures: 0,
            successes: state.successes + 1,
        }
    } else {
        Counters {
            failures: state.failures + 1,
            successes: 0,
        }
    };
    let mut incident = Vec::new();
    match (&facts.outcome, &state.open) {
        (Outcome::Down(to), Some(open)) => {
            incident.push(Effect::CountFailure);
            if to.dedup_hash != open.signature.dedup_hash {
                let (from, to) = (open.signature.clone(), to.clone());
                incident.push(Effect::ChangeSignature {
                    from: from.clone(),
                    to: to.clone(),
                });
                incident.push(Effect::Record {
                    kind: super::EventKind::SignatureChanged,
                    actor: SYSTEM.into(),
                    detail: Detail::SignatureChanged { from, to },
                });
            }
        }
        (Outcome::Down(signature), None)
            if counters.failures >= i64::from(policy.failure_threshold) =>
        {
            incident.push(Effect::Open {
                kind: IncidentKind::Down,
                severity: policy.severity,
                signature: signature.clone(),
                count: counters.failures,
                at: now,
            });
            incident.push(Effect::notify(
                super::EventKind::Opened,
                Detail::Opened {
                    failures: counters.failures,
                    error: signature.error.clone(),
                },
            ));
        }
        (Outcome::Up, Some(_)) if counters.successes >= i64::from(policy.success_threshold) => {
            incident.push(Effect::Resolve {
                by: SYSTEM.into(),
                at: now,
            });
            incident.push(Effect::notify(
                super::EventKind::Resolved,
                Detail::Successes(counters.successes),
            ));
        }
        _ => {}
    }
    Some(ResultEffects {
        counters,
        keep: !up || state.last_up != Some(up),
        incident,
    })
}

/// What an SLO burn pass does to a check's burn incident: opens one while `burn`
/// (its description) and none is open, resolves the open one for `why` once it
/// stops. Anything else does nothing.
pub fn on_burn(
    open: Option<&IncidentState>,
    burn: Option<&str>,
    severity: Severity,
    why: &str,
    now: i64,
) -> Vec<Effect> {
    match (burn, open) {
        (Some(error), None) => vec![
            Effect::Open {
                kind: IncidentKind::SloBurn,
                severity,
                signature: Signature {
                    error: error.to_string(),
                    status_code: None,
                    dedup_hash: super::burn_hash(),
                },
                count: 1,
                at: now,
            },
            Effect::notify(super::EventKind::Opened, Detail::Burn(error.to_string())),
        ],
        (None, Some(_)) => resolved_by_system(why, now),
        _ => Vec::new(),
    }
}

/// What removing a check does to one of its open incidents: nobody would
/// otherwise ever close it, so it resolves (and its channels are told).
pub fn on_removed(now: i64) -> Vec<Effect> {
    resolved_by_system("check removed", now)
}

fn resolved_by_system(why: &str, now: i64) -> Vec<Effect> {
    vec![
        Effect::Resolve {
            by: SYSTEM.into(),
            at: now,
        },
        Effect::notify(super::EventKind::Resolved, Detail::Reason(why.to_string())),
    ]
}
