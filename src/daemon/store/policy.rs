//! The alert policy as stored: this module gathers what the [incident
//! core](crate::incident) decides holds and deliveries from (maintenance windows,
//! the state of dependencies, whether an incident's opening went out) and applies
//! what it decides. Escalations, reminders and held openings come on a timer.

use super::{Db, Optional};
use rusqlite::params;
use serde_json::json;

use super::incidents::{Target, Transition, add_event, apply, stated_at};
use super::{Result, Store, StoreError, now_ms};
use super::{decode, resources};
use crate::incident::{self, DeliveryFacts, EventKind, Hold, Mark, Policy};
use crate::model::Incident;
use crate::spec::{Check, Kind, Maintenance};

/// The check as stored, secrets included: labels and dependencies decide policy.
/// An unreadable row is [`StoreError::Corrupt`], already logged and counted.
fn stored_check(c: &Db<'_>, tenant: i64, name: &str) -> Result<Option<Check>> {
    Ok(resources::one(c, tenant, Kind::Check, name)?.and_then(|r| r.as_check().cloned()))
}

/// `read`, or `None` if it is corrupt (which [`decode`] logged and counted): one
/// unreadable stored row must not refuse the transaction it is read in, which
/// holds every other check's results or timed alerts too. Any other error stands.
fn unless_corrupt<T>(read: Result<T>) -> Result<Option<T>> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::Corrupt(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What holds the alerts of `check` back at `now` (Unix ms), if anything: see
/// [`incident::hold`], which decides from the tenant's maintenance windows and the
/// state of the checks it depends on, gathered here.
pub fn hold_of(c: &Db<'_>, tenant: i64, check: &Check, now: i64) -> Result<Option<Hold>> {
    // Windows that cannot be read are left out, logged and counted by the reader.
    let windows: Vec<Maintenance> = resources::list(c, tenant, Some(Kind::Maintenance), None)?
        .resources
        .iter()
        .filter_map(|r| r.as_maintenance().cloned())
        .collect();
    let mut deps = Vec::with_capacity(check.depends_on.len());
    for dep in &check.depends_on {
        let state = c
            .prepare_cached(&format!(
                "SELECT s.paused, CASE WHEN json_valid(r.spec) THEN {} ELSE 1 = 0 END, s.last_up,
                    EXISTS(SELECT 1 FROM incidents i WHERE i.tenant_id = s.tenant_id AND i.check_name = s.name
                           AND i.kind = 'down' AND i.status != 'resolved')
                 FROM check_state s
                 JOIN resources r ON r.tenant_id = s.tenant_id AND r.kind = 'Check' AND r.name = s.name
                 WHERE s.tenant_id = ?1 AND s.name = ?2",
                super::sql::spec_enabled("r.spec")
            ))?
            .query_row(params![tenant, dep], |r| {
                Ok(incident::DepState {
                    paused: r.get::<i64>(0)? != 0,
                    enabled: r.get(1)?,
                    last_up: r.get(2)?,
                    incident_open: r.get(3)?,
                })
            })
            .optional()?;
        deps.push((dep.clone(), state));
    }
    Ok(incident::hold(check, &windows, &deps, now))
}

/// Sets an incident's `notified` mark.
pub(super) fn mark(tx: &Db<'_>, incident: i64, mark: Mark) -> Result<()> {
    match mark {
        Mark::Unnotified => tx.execute(
            "UPDATE incidents SET notified = 0 WHERE id = ?1",
            [incident],
        )?,
        Mark::Notified { at } => tx.execute(
            "UPDATE incidents SET notified = 1, last_notified_at = ?2 WHERE id = ?1",
            params![incident, at],
        )?,
    };
    Ok(())
}

/// Whether the `kind` message of `incident` goes out at `now`, as
/// [`incident::delivery`] decides; records what it holds back and marks what it
/// sends. A check no longer stored sends nothing.
pub(super) fn deliver(
    tx: &Db<'_>,
    tenant: i64,
    incident: &Incident,
    kind: EventKind,
    now: i64,
) -> Result<bool> {
    let Some(check) = unless_corrupt(stored_check(tx, tenant, &incident.check))?.flatten() else {
        return Ok(false);
    };
    let notified: bool = tx
        .prepare_cached("SELECT notified FROM incidents WHERE id = ?1")?
        .query_row([incident.id], |r| r.get(0))?;
    let hold = if kind.holdable() {
        hold_of(tx, tenant, &check, now)?
    } else {
        None
    };
    let facts = DeliveryFacts {
        notified,
        hold,
        send_on_resolved: Policy::of(&check).send_on_resolved,
    };
    let d = incident::delivery(kind, &facts, now);
    if let Some(hold) = &d.held {
        add_event(
            tx,
            tenant,
            incident.id,
            EventKind::Held,
            incident::SYSTEM,
            json!({"event": kind.as_str(), "reason": hold.to_string()}),
        )?;
    }
    if let Some(m) = d.mark {
        mark(tx, incident.id, m)?;
    }
    Ok(d.send)
}

impl Store {
    /// The alert policy's timed work, as of `now` (Unix ms): openings that were held
    /// back and no longer are, escalations that are due, and reminders.
    pub async fn alert_due(&self, now: i64) -> Result<Vec<Transition>> {
        self.write(move |tx| tick(tx, now)).await
    }

    /// Why the alerts of check `name` are held back now, if they are.
    pub async fn alerts_held(&self, tenant: i64, name: String) -> Result<Option<String>> {
        self.read(move |c| match stored_check(c, tenant, &name)? {
            Some(check) => Ok(hold_of(c, tenant, &check, now_ms())?.map(|h| h.to_string())),
            None => Ok(None),
        })
        .await
    }
}

/// Applies [`incident::on_tick`] to every open incident of a stored check that may
/// have timed work. The SQL only narrows the rows read (open, and held back or with
/// a timer set): the core decides.
fn tick(tx: &Db<'_>, now: i64) -> Result<Vec<Transition>> {
    let columns = super::incidents::INCIDENT_COLUMNS;
    let raw = decode::RAW_COLUMNS;
    let rows = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {raw}, s.paused, {columns} FROM incidents i
             JOIN resources r ON r.tenant_id = i.tenant_id AND r.kind = 'Check' AND r.name = i.check_name
             JOIN check_state s ON s.tenant_id = i.tenant_id AND s.name = i.check_name
             WHERE i.status = 'open' AND (i.notified = 0 OR NOT json_valid(r.spec)
                OR json_extract(r.spec, '$.alert.escalate_after') IS NOT NULL
                OR json_extract(r.spec, '$.alert.remind_every') IS NOT NULL)
             ORDER BY i.id"
        ))?;
        stmt.query_map([], |r| {
            Ok((
                decode::Raw::from_row(r, 0)?,
                r.get::<i64>(8)? != 0,
                stated_at(r, 9)?,
            ))
        })?
        .collect::<Result<Vec<_>>>()?
    };
    let mut out = Vec::new();
    for (raw, paused, (inc, state)) in rows {
        let tenant = raw.tenant;
        // A check that cannot be read was logged and counted by the reader; the
        // other incidents' timers go on.
        let Ok(stored) = decode::row(raw) else {
            continue;
        };
        let Some(check) = stored.as_check() else {
            continue;
        };
        let policy = Policy::of(check);
        let watched = check.enabled && !paused;
        if !incident::tick_due(&state, &policy, watched, now) {
            continue;
        }
        let hold = hold_of(tx, tenant, check, now)?;
        let effects = incident::on_tick(&state, &policy, watched, hold.as_ref(), now);
        if effects.is_empty() {
            continue;
        }
        let target = Target {
            tenant,
            check: &check.name,
            incident: Some(inc),
            result: None,
        };
        out.extend(apply(tx, target, &effects, now)?.transitions);
    }
    Ok(out)
}
