//! The alert policy: when an incident's messages go out. Maintenance windows and
//! dependencies that are down hold them back (results and incidents are still
//! recorded); a held opening goes out once nothing holds it, if the incident is
//! still open; escalations and reminders come on a timer.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::incidents::{Transition, add_event, get_incident, notify_at, severity_str, strip_kind};
use super::{Result, Store, now_ms, outbox, to_time};
use crate::model::Incident;
use crate::spec::{Check, Maintenance, Severity};

/// The check as stored, secrets included: labels and dependencies decide policy.
fn stored_check(c: &Connection, tenant: i64, name: &str) -> Result<Option<Check>> {
    let spec: Option<String> = c
        .query_row(
            "SELECT spec FROM resources WHERE tenant_id = ?1 AND kind = 'Check' AND name = ?2",
            params![tenant, name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(spec
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| serde_json::from_value(strip_kind(v)).ok()))
}

/// Why the alerts of `check` are held back at `now` (Unix ms), if they are: a
/// maintenance window covering it, or a check it depends on being down (its last
/// run failed, or it has an incident open; unless it is paused or disabled).
pub fn hold_reason(c: &Connection, tenant: i64, check: &Check, now: i64) -> Result<Option<String>> {
    let at = to_time(now);
    let mut stmt = c.prepare_cached(
        "SELECT spec FROM resources WHERE tenant_id = ?1 AND kind = 'Maintenance' ORDER BY name",
    )?;
    let windows = stmt.query_map([tenant], |r| r.get::<_, String>(0))?;
    for spec in windows {
        let window: Option<Maintenance> = serde_json::from_str::<Value>(&spec?)
            .ok()
            .and_then(|v| serde_json::from_value(strip_kind(v)).ok());
        if let Some(w) = window
            && w.covers(check)
            && w.active_at(at)
        {
            return Ok(Some(format!("maintenance `{}`", w.name)));
        }
    }
    for dep in &check.depends_on {
        // A paused or disabled dependency says nothing about now: it holds nothing.
        let down: bool = c.query_row(
            "SELECT EXISTS(SELECT 1 FROM check_state s
                 JOIN resources r ON r.tenant_id = s.tenant_id AND r.kind = 'Check' AND r.name = s.name
                 WHERE s.tenant_id = ?1 AND s.name = ?2 AND s.paused = 0
                   AND coalesce(json_extract(r.spec, '$.enabled'), 1) = 1
                   AND (s.last_up = 0 OR EXISTS(SELECT 1 FROM incidents i
                        WHERE i.tenant_id = ?1 AND i.check_name = ?2 AND i.kind = 'down' AND i.status != 'resolved')))",
            params![tenant, dep],
            |r| r.get(0),
        )?;
        if down {
            return Ok(Some(format!("`{dep}`, which it depends on, is down")));
        }
    }
    Ok(None)
}

/// Whether the `kind` message of `incident` goes out now. An opening held back is
/// remembered (`notified = 0`) and sent by [`Store::alert_due`] once nothing holds it;
/// what follows an opening nobody was told of is not sent either.
pub(super) fn goes_out(
    tx: &Transaction<'_>,
    tenant: i64,
    incident: &Incident,
    kind: &str,
    now: i64,
) -> Result<bool> {
    let Some(check) = stored_check(tx, tenant, &incident.check)? else {
        return Ok(false);
    };
    let notified: bool = tx.query_row(
        "SELECT notified FROM incidents WHERE id = ?1",
        [incident.id],
        |r| r.get(0),
    )?;
    match kind {
        "opened" | "escalated" | "reminder" => {
            if let Some(reason) = hold_reason(tx, tenant, &check, now)? {
                add_event(
                    tx,
                    tenant,
                    incident.id,
                    "held",
                    "system",
                    json!({"event": kind, "reason": reason}),
                )?;
                if kind == "opened" {
                    tx.execute(
                        "UPDATE incidents SET notified = 0 WHERE id = ?1",
                        [incident.id],
                    )?;
                }
                return Ok(false);
            }
            if kind != "opened" && !notified {
                return Ok(false);
            }
            tx.execute(
                "UPDATE incidents SET notified = 1, last_notified_at = ?2 WHERE id = ?1",
                params![incident.id, now],
            )?;
            Ok(true)
        }
        // An update follows the opening: held back in maintenance (and said so in
        // the timeline), and not sent about an opening nobody was told of.
        "update" => {
            if !notified {
                return Ok(false);
            }
            if let Some(reason) = hold_reason(tx, tenant, &check, now)? {
                add_event(
                    tx,
                    tenant,
                    incident.id,
                    "held",
                    "system",
                    json!({"event": kind, "reason": reason}),
                )?;
                return Ok(false);
            }
            Ok(true)
        }
        "acknowledged" => Ok(notified),
        "resolved" => Ok(notified && check.alert.as_ref().is_none_or(|a| a.send_on_resolved)),
        _ => Ok(true),
    }
}

impl Store {
    /// The alert policy's timed work, as of `now` (Unix ms): openings that were held
    /// back and no longer are, escalations that are due, and reminders.
    pub async fn alert_due(&self, now: i64) -> Result<Vec<Transition>> {
        self.write(move |tx| {
            let mut out = release_held(tx, now)?;
            out.extend(escalate(tx, now)?);
            out.extend(remind(tx, now)?);
            Ok(out)
        })
        .await
    }

    /// Why the alerts of check `name` are held back now, if they are.
    pub async fn alerts_held(&self, tenant: i64, name: String) -> Result<Option<String>> {
        self.read(move |c| match stored_check(c, tenant, &name)? {
            Some(check) => hold_reason(c, tenant, &check, now_ms()),
            None => Ok(None),
        })
        .await
    }
}

/// Open incidents of checks still scheduled, with their check; `extra` narrows the
/// rows in SQL, so that each pass parses only the checks it may act on.
fn open_with_checks(tx: &Transaction<'_>, extra: &str) -> Result<Vec<(i64, i64, Check)>> {
    let rows: Vec<(i64, i64, String)> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT i.tenant_id, i.id, r.spec FROM incidents i
             JOIN resources r ON r.tenant_id = i.tenant_id AND r.kind = 'Check' AND r.name = i.check_name
             JOIN check_state s ON s.tenant_id = i.tenant_id AND s.name = i.check_name
             WHERE i.status = 'open' AND s.paused = 0 {extra} ORDER BY i.id"
        ))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    Ok(rows
        .into_iter()
        .filter_map(|(tenant, id, spec)| {
            let check: Check = serde_json::from_str::<Value>(&spec)
                .ok()
                .and_then(|v| serde_json::from_value(strip_kind(v)).ok())?;
            // A disabled check is under someone's care: no paging about it.
            check.enabled.then_some((tenant, id, check))
        })
        .collect())
}

/// Sends the openings that were held back, now that nothing holds them. An incident
/// acknowledged or resolved in the meantime is left alone.
fn release_held(tx: &Transaction<'_>, now: i64) -> Result<Vec<Transition>> {
    let mut out = Vec::new();
    for (tenant, id, check) in open_with_checks(tx, "AND i.notified = 0")? {
        if hold_reason(tx, tenant, &check, now)?.is_some() {
            continue;
        }
        tx.execute(
            "UPDATE incidents SET notified = 1, last_notified_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        let inc = get_incident(tx, tenant, id)?;
        let event_id = add_event(tx, tenant, id, "released", "system", json!({}))?;
        outbox::queue_for_incident(tx, tenant, &inc, event_id, "opened", "system", None)?;
        out.push(Transition {
            tenant,
            incident: id,
            check: inc.check.clone(),
            event: "released",
            severity: inc.severity,
        });
    }
    Ok(out)
}

/// Steps up the severity of open (unacknowledged) incidents whose check asks for
/// escalation after a time that has passed since opening or the last step.
fn escalate(tx: &Transaction<'_>, now: i64) -> Result<Vec<Transition>> {
    let mut out = Vec::new();
    for (tenant, id, check) in open_with_checks(
        tx,
        "AND i.severity != 'critical' AND json_extract(r.spec, '$.alert.escalate_after') IS NOT NULL",
    )? {
        let Some(after) = check.alert.as_ref().and_then(|a| a.escalate_after) else {
            continue;
        };
        let (opened, escalated): (i64, Option<i64>) = tx.query_row(
            "SELECT opened_at, escalated_at FROM incidents WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if now.saturating_sub(escalated.unwrap_or(opened)) < crate::spec::millis_i64(after.get()) {
            continue;
        }
        let inc = get_incident(tx, tenant, id)?;
        let next = match inc.severity {
            Severity::Warning => Severity::Error,
            _ => Severity::Critical,
        };
        tx.execute(
            "UPDATE incidents SET severity = ?2, escalated_at = ?3 WHERE id = ?1",
            params![id, severity_str(next), now],
        )?;
        let inc = get_incident(tx, tenant, id)?;
        let detail = json!({"from": severity_str(inc_prev(next)), "to": severity_str(next)});
        out.push(notify_at(
            tx,
            tenant,
            &inc,
            "escalated",
            "system",
            detail,
            None,
            now,
        )?);
    }
    Ok(out)
}

/// Reminds the channels of open, unacknowledged incidents every `remind_every`
/// since the last message about them. Held-back reminders are skipped quietly.
fn remind(tx: &Transaction<'_>, now: i64) -> Result<Vec<Transition>> {
    let mut out = Vec::new();
    for (tenant, id, check) in open_with_checks(
        tx,
        "AND i.notified = 1 AND json_extract(r.spec, '$.alert.remind_every') IS NOT NULL",
    )? {
        let Some(every) = check.alert.as_ref().and_then(|a| a.remind_every) else {
            continue;
        };
        let last: i64 = tx.query_row(
            "SELECT coalesce(last_notified_at, opened_at) FROM incidents WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if now.saturating_sub(last) < crate::spec::millis_i64(every.get())
            || hold_reason(tx, tenant, &check, now)?.is_some()
        {
            continue;
        }
        let inc = get_incident(tx, tenant, id)?;
        let detail = json!({"open_for_seconds": (now - inc.opened_at.timestamp_millis()) / 1000});
        out.push(notify_at(
            tx, tenant, &inc, "reminder", "system", detail, None, now,
        )?);
    }
    Ok(out)
}

fn inc_prev(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::Error,
        _ => Severity::Warning,
    }
}
