//! Incidents as stored: the store's side of the [incident core](crate::incident).
//! Each change reads what the core needs, asks it what to do, and applies the
//! [`Effect`]s it returns in the same transaction; every event's notifications are
//! written to the outbox in that transaction too, so none can be lost between the two.

use super::{Db, Optional, Row};
use rusqlite::params;
use serde_json::{Value, json};

use super::results::{ResultRow, insert as insert_result};
use super::{Result, Store, StoreError, now_ms, outbox, policy, rollups, to_time};
use crate::incident::{
    self, Action, Detail, Effect, EventKind, Facts, IncidentState, Outcome, Signature, UpdateFacts,
};
use crate::model::{Incident, IncidentEvent, IncidentKind, IncidentStatus, UpdateStatus};
use crate::probe::ProbeResult;
use crate::rollup::TimeState;
use crate::spec::{Check, Kind, Maintenance, Severity};

pub use crate::incident::{
    MAX_COMMENT_CHARS, MAX_UPDATE_MESSAGE_CHARS, MAX_UPDATES_PER_INCIDENT, action_comment,
    severity_str, update_message,
};

/// Something that happened to an incident, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub tenant: i64,
    pub incident: i64,
    pub check: String,
    pub event: &'static str,
    pub severity: Severity,
}

fn severity_of(s: &str) -> Severity {
    match s {
        "warning" => Severity::Warning,
        "critical" => Severity::Critical,
        _ => Severity::Error,
    }
}

fn status_of(s: &str) -> IncidentStatus {
    match s {
        "acknowledged" => IncidentStatus::Acknowledged,
        "resolved" => IncidentStatus::Resolved,
        _ => IncidentStatus::Open,
    }
}

/// An incident's columns (table alias `i`), then what the alert policy keeps of it.
pub(super) const INCIDENT_COLUMNS: &str = "i.id, i.check_name, i.status, i.severity, i.error, i.status_code, i.count, i.dedup_hash, i.opened_at, i.acknowledged_at, i.acknowledged_by, i.resolved_at, i.resolved_by, i.kind, i.notified, i.escalated_at, i.last_notified_at";

fn kind_of(s: &str) -> IncidentKind {
    match s {
        "slo_burn" => IncidentKind::SloBurn,
        _ => IncidentKind::Down,
    }
}

/// An incident read from [`INCIDENT_COLUMNS`] starting at column `at`.
fn incident_at(r: &Row<'_>, at: usize) -> Result<Incident> {
    Ok(Incident {
        id: r.get(at)?,
        check: r.get(at + 1)?,
        status: status_of(&r.get::<String>(at + 2)?),
        severity: severity_of(&r.get::<String>(at + 3)?),
        error: r.get(at + 4)?,
        status_code: r.get(at + 5)?,
        count: r.get::<i64>(at + 6)? as u64,
        dedup_hash: r.get(at + 7)?,
        opened_at: to_time(r.get(at + 8)?),
        acknowledged_at: r.get::<Option<i64>>(at + 9)?.map(to_time),
        acknowledged_by: r.get(at + 10)?,
        resolved_at: r.get::<Option<i64>>(at + 11)?.map(to_time),
        resolved_by: r.get(at + 12)?,
        kind: kind_of(&r.get::<String>(at + 13)?),
    })
}

fn incident_row(r: &Row<'_>) -> Result<Incident> {
    incident_at(r, 0)
}

/// An incident and its state for the core, read from [`INCIDENT_COLUMNS`] at `at`.
pub(super) fn stated_at(r: &Row<'_>, at: usize) -> Result<(Incident, IncidentState)> {
    let inc = incident_at(r, at)?;
    let state = IncidentState {
        id: inc.id,
        kind: inc.kind,
        status: inc.status,
        severity: inc.severity,
        signature: Signature {
            error: inc.error.clone(),
            status_code: inc.status_code,
            dedup_hash: inc.dedup_hash.clone(),
        },
        acknowledged_by: inc.acknowledged_by.clone(),
        notified: r.get(at + 14)?,
        opened_at: inc.opened_at.timestamp_millis(),
        escalated_at: r.get(at + 15)?,
        last_notified_at: r.get(at + 16)?,
    };
    Ok((inc, state))
}

/// The open incident of `kind` of a check, if there is one (at most one of each).
pub(super) fn open_incident_of_kind(
    c: &Db<'_>,
    tenant: i64,
    check: &str,
    kind: IncidentKind,
) -> Result<Option<(Incident, IncidentState)>> {
    c.prepare_cached(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.tenant_id = ?1 AND i.check_name = ?2 AND i.kind = ?3 AND i.status != 'resolved'"))?
        .query_row(params![tenant, check, kind.as_str()], |r| stated_at(r, 0))
        .optional()
}

/// The open `down` incident of a check: the one its results open and resolve.
fn open_incident(c: &Db<'_>, tenant: i64, check: &str) -> Result<Option<Incident>> {
    Ok(open_incident_of_kind(c, tenant, check, IncidentKind::Down)?.map(|(i, _)| i))
}

fn get_stated(c: &Db<'_>, tenant: i64, id: i64) -> Result<(Incident, IncidentState)> {
    c.prepare_cached(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.tenant_id = ?1 AND i.id = ?2"
    ))?
    .query_row(params![tenant, id], |r| stated_at(r, 0))
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))
}

pub(super) fn get_incident(c: &Db<'_>, tenant: i64, id: i64) -> Result<Incident> {
    Ok(get_stated(c, tenant, id)?.0)
}

pub(super) fn add_event(
    tx: &Db<'_>,
    tenant: i64,
    incident: i64,
    kind: EventKind,
    actor: &str,
    detail: Value,
) -> Result<i64> {
    tx.query_row(
        "INSERT INTO incident_events (tenant_id, incident_id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant, incident, now_ms(), kind.as_str(), actor, detail.to_string()],
        |r| r.get(0),
    )
}

/// An event's detail as stored.
fn detail_json(d: &Detail) -> Value {
    let signature = |s: &Signature| json!({"error": s.error, "status_code": s.status_code, "dedup_hash": s.dedup_hash});
    match d {
        Detail::Opened { failures, error } => json!({"failures": failures, "error": error}),
        Detail::Burn(burn) => json!({"burn": burn}),
        Detail::Successes(n) => json!({"successes": n}),
        Detail::Reason(why) => json!({"reason": why}),
        Detail::Comment(comment) => json!({"comment": comment}),
        Detail::SignatureChanged { from, to } => {
            json!({"from": signature(from), "to": signature(to)})
        }
        Detail::Escalated { from, to } => {
            json!({"from": severity_str(*from), "to": severity_str(*to)})
        }
        Detail::Reminder { open_for_seconds } => json!({"open_for_seconds": open_for_seconds}),
        Detail::Update { status, message } => json!({"status": status, "message": message}),
    }
}

/// What effects are applied to.
pub(super) struct Target<'a> {
    pub tenant: i64,
    /// The check whose incident it is (or opens).
    pub check: &'a str,
    /// The incident in hand, if there is one yet.
    pub incident: Option<Incident>,
    /// The result that caused the change, for its messages.
    pub result: Option<&'a ProbeResult>,
}

/// What applying effects did.
pub(super) struct Applied {
    pub transitions: Vec<Transition>,
    /// The incident as it is after them.
    pub incident: Option<Incident>,
    /// The last event recorded.
    pub event: Option<i64>,
}

/// Applies `effects` (from the [incident core](crate::incident)) to `target` as
/// of `now` (Unix ms), in order.
pub(super) fn apply(
    tx: &Db<'_>,
    target: Target<'_>,
    effects: &[Effect],
    now: i64,
) -> Result<Applied> {
    let Target {
        tenant,
        check,
        mut incident,
        result,
    } = target;
    let mut stale = false;
    let mut out = Applied {
        transitions: Vec::new(),
        incident: None,
        event: None,
    };
    let id = |inc: &Option<Incident>| {
        inc.as_ref().map(|i| i.id).ok_or_else(|| {
            StoreError::Conflict(format!("check `{check}` has no incident to change"))
        })
    };
    let transition = |inc: &Incident, kind: EventKind| Transition {
        tenant,
        incident: inc.id,
        check: inc.check.clone(),
        event: kind.as_str(),
        severity: inc.severity,
    };
    for effect in effects {
        match effect {
            Effect::Open {
                kind,
                severity,
                signature,
                count,
                at,
            } => {
                let id: i64 = tx.query_row(
                    "INSERT INTO incidents (tenant_id, check_name, status, severity, error, status_code, count, dedup_hash, opened_at, kind)
                     VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                    params![tenant, check, severity_str(*severity), signature.error, signature.status_code, count, signature.dedup_hash, at, kind.as_str()],
                    |r| r.get(0),
                )?;
                incident = Some(get_incident(tx, tenant, id)?);
                stale = false;
            }
            Effect::CountFailure => {
                tx.prepare_cached("UPDATE incidents SET count = count + 1 WHERE id = ?1")?
                    .execute([id(&incident)?])?;
                stale = true;
            }
            Effect::ChangeSignature { to, .. } => {
                tx.execute(
                    "UPDATE incidents SET dedup_hash = ?2, error = ?3, status_code = ?4 WHERE id = ?1",
                    params![id(&incident)?, to.dedup_hash, to.error, to.status_code],
                )?;
                stale = true;
            }
            Effect::Acknowledge { by, at } => {
                tx.execute("UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?2, acknowledged_by = ?3 WHERE id = ?1", params![id(&incident)?, at, by])?;
                stale = true;
            }
            Effect::Resolve { by, at } => {
                tx.execute("UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = ?3 WHERE id = ?1", params![id(&incident)?, at, by])?;
                stale = true;
            }
            Effect::ResetFailures => {
                tx.execute(
                    "UPDATE check_state SET failures = 0 WHERE tenant_id = ?1 AND name = ?2",
                    params![tenant, check],
                )?;
            }
            Effect::Escalate { to, at, .. } => {
                tx.execute(
                    "UPDATE incidents SET severity = ?2, escalated_at = ?3 WHERE id = ?1",
                    params![id(&incident)?, severity_str(*to), at],
                )?;
                stale = true;
            }
            Effect::Release { at } => {
                let id = id(&incident)?;
                policy::mark(tx, id, incident::Mark::Notified { at: *at })?;
                let inc = get_incident(tx, tenant, id)?;
                let event = add_event(
                    tx,
                    tenant,
                    id,
                    EventKind::Released,
                    incident::SYSTEM,
                    json!({}),
                )?;
                outbox::queue_for_incident(
                    tx,
                    tenant,
                    &inc,
                    event,
                    EventKind::Opened,
                    incident::SYSTEM,
                    None,
                )?;
                out.transitions.push(transition(&inc, EventKind::Released));
                out.event = Some(event);
                (incident, stale) = (Some(inc), false);
            }
            Effect::Notify {
                kind,
                actor,
                detail,
            } => {
                let id = id(&incident)?;
                let inc = match incident.take() {
                    Some(inc) if !stale => inc,
                    _ => get_incident(tx, tenant, id)?,
                };
                let event = add_event(tx, tenant, id, *kind, actor, detail_json(detail))?;
                if policy::deliver(tx, tenant, &inc, *kind, now)? {
                    outbox::queue_for_incident(tx, tenant, &inc, event, *kind, actor, result)?;
                }
                out.transitions.push(transition(&inc, *kind));
                out.event = Some(event);
                (incident, stale) = (Some(inc), false);
            }
            Effect::Record {
                kind,
                actor,
                detail,
            } => {
                let Some(inc) = &incident else {
                    id(&incident)?;
                    continue;
                };
                let event = add_event(tx, tenant, inc.id, *kind, actor, detail_json(detail))?;
                out.transitions.push(transition(inc, *kind));
                out.event = Some(event);
            }
        }
    }
    out.incident = match incident {
        Some(inc) if stale => Some(get_incident(tx, tenant, inc.id)?),
        other => other,
    };
    Ok(out)
}

fn event_row(r: &Row<'_>) -> Result<IncidentEvent> {
    Ok(IncidentEvent {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        at: to_time(r.get(2)?),
        kind: r.get(3)?,
        actor: r.get(4)?,
        detail: serde_json::from_str(&r.get::<String>(5)?).unwrap_or(Value::Null),
    })
}

/// Records an update on incident `id`, as [`incident::on_update`] decides.
fn add_update(
    tx: &Db<'_>,
    tenant: i64,
    id: i64,
    actor: &str,
    message: &str,
    status: Option<UpdateStatus>,
) -> Result<IncidentEvent> {
    let (inc, state) = get_stated(tx, tenant, id)?;
    let count: i64 = tx.query_row(
        "SELECT count(*) FROM incident_events WHERE tenant_id = ?1 AND incident_id = ?2 AND kind = 'update'",
        params![tenant, id],
        |r| r.get(0),
    )?;
    let last_status = if status.is_none() && state.status != IncidentStatus::Resolved {
        tx.query_row(
            "SELECT json_extract(detail, '$.status') FROM incident_events WHERE tenant_id = ?1 AND incident_id = ?2 AND kind = 'update' ORDER BY id DESC LIMIT 1",
            params![tenant, id],
            |r| r.get::<Option<String>>(0),
        )
        .optional()?
        .flatten()
    } else {
        None
    };
    let updates = UpdateFacts { count, last_status };
    let effects = incident::on_update(&state, &updates, actor, message, status)
        .map_err(|e| StoreError::Conflict(e.0))?;
    let check = inc.check.clone();
    let target = Target {
        tenant,
        check: &check,
        incident: Some(inc),
        result: None,
    };
    let event_id = apply(tx, target, &effects, now_ms())?
        .event
        .ok_or_else(|| StoreError::Conflict(format!("incident {id} took no update")))?;
    tx.query_row(
        "SELECT id, incident_id, at, kind, actor, detail FROM incident_events WHERE id = ?1",
        [event_id],
        event_row,
    )
}

/// What every result of one batch is recorded against.
pub(super) struct Context {
    /// Results stand for no time before this (the daemon's start).
    pub running_since: i64,
    pub marks: rollups::Marks,
    /// Every tenant's maintenance windows, read once per batch.
    pub windows: Vec<(i64, Maintenance)>,
    /// Where this node probes from, and the locations with a live node.
    pub places: super::Places,
}

impl Context {
    pub(super) fn read(c: &Db<'_>, running_since: i64, places: super::Places) -> Result<Context> {
        // Refusing every result over a window that cannot be read would lose them
        // all; its time is counted as it was measured instead (the reader logged
        // and counted it).
        let windows = super::resources::every(c, Kind::Maintenance)?
            .0
            .into_iter()
            .filter_map(|(tenant, r)| Some((tenant, r.as_maintenance()?.clone())))
            .collect();
        Ok(Context {
            running_since,
            marks: rollups::marks(c)?,
            windows,
            places,
        })
    }

    fn in_maintenance(&self, tenant: i64, check: &Check, at_ms: i64) -> bool {
        let at = to_time(at_ms);
        self.windows
            .iter()
            .any(|(t, w)| *t == tenant && w.covers(check) && w.active_at(at))
    }
}

/// The time a result at `t` stands for: back to the check's previous result, but
/// never more than [`SPAN_SLACK`] times its interval, nor before the daemon started
/// or the check was created, resumed or enabled again. Time outside every such
/// span is unknown.
fn span(
    check: &Check,
    t: i64,
    last_run: Option<i64>,
    covered_from: Option<i64>,
    since: i64,
) -> Option<(i64, i64)> {
    let interval = match &check.schedule {
        crate::spec::Schedule::Every(d) => crate::spec::millis_i64(d.get()),
        cron => {
            // A calendar schedule's gap varies: the one that led to this run.
            let prev = last_run?;
            let next = cron.next_after(to_time(prev))?.timestamp_millis();
            next.saturating_sub(prev)
        }
    };
    let longest = (interval.saturating_mul(SPAN_SLACK.0) / SPAN_SLACK.1).min(MAX_SPAN_MS);
    let mut start = t.saturating_sub(longest);
    for bound in [last_run, covered_from, Some(since)].into_iter().flatten() {
        start = start.max(bound);
    }
    (start < t).then_some((start, t))
}

/// How much longer than its interval a gap between two results may be and still
/// count as known: runs start late by their jitter and the scheduler's lag, and a
/// gap much longer than the interval means the check was not running.
const SPAN_SLACK: (i64, i64) = (3, 2);
/// The longest time one result stands for, whatever its check's interval: a check
/// run weekly says little about the days between, and the span's rows are bounded
/// (an hour of minutes and 36 hours) however long the schedule.
const MAX_SPAN_MS: i64 = 36 * 3_600_000;

/// A check's state and the id of its open `down` incident, in one statement. The
/// subquery is planned once; a join to the same partial index is planned again for
/// every name bound to it (about 100 µs a result against 15 in a debug build), and
/// most checks have no incident to read.
const STATE_SQL: &str = "SELECT s.failures, s.successes, s.last_run_at, s.last_up, s.covered_from, s.paused_at, s.created_at,
        (SELECT i.id FROM incidents i WHERE i.tenant_id = s.tenant_id AND i.check_name = s.name AND i.kind = 'down' AND i.status != 'resolved')
     FROM check_state s WHERE s.tenant_id = ?1 AND s.name = ?2";

/// Applies one result to a check's counters, rollups and incident, returning what changed.
fn record_one(
    tx: &Db<'_>,
    row: &ResultRow,
    check: &Check,
    ctx: &Context,
) -> Result<Vec<Transition>> {
    let (tenant, r) = (row.tenant, &row.result);
    struct Stored {
        state: incident::CheckState,
        open: Option<i64>,
        last_run: Option<i64>,
        covered_from: Option<i64>,
        paused_at: Option<i64>,
    }
    let stored: Option<Stored> = tx
        .prepare_cached(STATE_SQL)?
        .query_row(params![tenant, row.check], |x| {
            Ok(Stored {
                state: incident::CheckState {
                    failures: x.get(0)?,
                    successes: x.get(1)?,
                    last_up: x.get(3)?,
                    created_at: x.get(6)?,
                    open: None,
                },
                open: x.get(7)?,
                last_run: x.get(2)?,
                covered_from: x.get(4)?,
                paused_at: x.get(5)?,
            })
        })
        .optional()?;
    // No state: the check was deleted while it ran, and its results with it: this
    // one goes too, and opens nothing.
    let Some(mut stored) = stored else {
        return Ok(Vec::new());
    };
    let incident = match stored.open {
        Some(id) => {
            let (inc, state) = get_stated(tx, tenant, id)?;
            stored.state.open = Some(state);
            Some(inc)
        }
        None => None,
    };
    let now = now_ms();
    // A check that runs from several locations is as its quorum says, and each
    // location's runs are also counted on their own.
    // A daemon alone on SQLite runs every check, from wherever it is: from a
    // location the check does not list, its run is the check's.
    let several = check.locations.len() > 1 && check.locations.contains(&ctx.places.location);
    let (facts, location_last_run) = if several {
        let (f, last) = quorum(tx, row, check, &ctx.places, Facts::of(r))?;
        (f, Some(last))
    } else {
        (Facts::of(r), None)
    };
    let Some(effects) =
        incident::on_result(&stored.state, &facts, &incident::Policy::of(check), now)
    else {
        return Ok(Vec::new());
    };
    let t = facts.started_at;
    let location = if check.locations.is_empty() {
        ""
    } else {
        ctx.places.location.as_str()
    };
    // A failure is evidence wherever it was seen, even when the quorum was not met.
    insert_result(tx, row, location, effects.keep || !r.up)?;
    let held = ctx.in_maintenance(tenant, check, t);
    let time_state = |up: bool| match (held, up) {
        (true, _) => TimeState::Maintenance,
        (false, true) => TimeState::Up,
        (false, false) => TimeState::Down,
    };
    // A run made by hand while the check is off (paused, or disabled when it
    // started) is counted, but nothing watched the time before it.
    let watched = check.enabled && stored.paused_at.is_none_or(|p| t < p);
    // Folds this run into `series`, standing for the time since `last_run` as
    // `up` says.
    let fold = |series: i64, last_run: Option<i64>, up: bool| {
        let span = watched
            .then(|| span(check, t, last_run, stored.covered_from, ctx.running_since))
            .flatten();
        rollups::fold(
            tx,
            series,
            &ctx.marks,
            &rollups::Fold {
                run: (t, r.up, r.latency_ms),
                span: span.map(|(s, e)| (s, e, time_state(up))),
            },
        )
    };
    fold(
        rollups::series_id(tx, tenant, &row.check)?,
        stored.last_run,
        facts.up(),
    )?;
    if let Some(last) = location_last_run {
        fold(
            rollups::series_id_at(tx, tenant, &row.check, location)?,
            last,
            r.up,
        )?;
    }
    tx.prepare_cached(
        "UPDATE check_state SET failures = ?3, successes = ?4,
            last_run_at = CASE WHEN last_run_at > ?5 THEN last_run_at ELSE ?5 END, last_up = ?6, last_latency_ms = ?7, last_error = ?8,
            last_cert_expires_at = coalesce(?9, last_cert_expires_at)
         WHERE tenant_id = ?1 AND name = ?2",
    )?
    .execute(params![
        tenant,
        row.check,
        effects.counters.failures,
        effects.counters.successes,
        t,
        facts.up(),
        r.latency_ms,
        match &facts.outcome {
            Outcome::Down(s) if several => Some(s.error.clone()).filter(|e| !e.is_empty()),
            _ if several => None,
            _ => r.error.clone(),
        },
        r.cert_expires_at.map(|t| t.timestamp_millis())
    ])?;
    if effects.incident.is_empty() {
        return Ok(Vec::new());
    }
    let target = Target {
        tenant,
        check: &row.check,
        incident,
        result: Some(r),
    };
    Ok(apply(tx, target, &effects.incident, now)?.transitions)
}

/// Resolves the open incidents of a check that is being removed: nobody would
/// otherwise ever close them. Call before the check's row is deleted, so that its
/// channels still get the "resolved" message.
pub fn resolve_for_removed_check(tx: &Db<'_>, tenant: i64, check: &str) -> Result<()> {
    for kind in [IncidentKind::Down, IncidentKind::SloBurn] {
        let Some((inc, _)) = open_incident_of_kind(tx, tenant, check, kind)? else {
            continue;
        };
        let now = now_ms();
        let target = Target {
            tenant,
            check,
            incident: Some(inc),
            result: None,
        };
        apply(tx, target, &incident::on_removed(now), now)?;
    }
    Ok(())
}

/// What a result of a check that runs from several locations says of the check:
/// down when at least its quorum of them saw it down in their latest runs, within
/// one interval of this one (with the failure of this run, or of the latest one
/// that failed), and up otherwise. The quorum counts only locations with a live
/// node, so that losing a location's nodes does not silence the check (that loss
/// is reported by the nodes); each location's run itself is stored as it was.
/// Returns the verdict, and when this location ran the check before.
fn quorum(
    tx: &Db<'_>,
    row: &ResultRow,
    check: &Check,
    places: &super::Places,
    facts: Facts,
) -> Result<(Facts, Option<i64>)> {
    let t = facts.started_at;
    let sig = match &facts.outcome {
        Outcome::Down(s) => Some(s),
        Outcome::Up => None,
    };
    let last: Option<i64> = tx
        .prepare_cached(
            "SELECT at FROM location_state WHERE tenant_id = ?1 AND check_name = ?2 AND location = ?3",
        )?
        .query_row(params![row.tenant, row.check, places.location], |r| r.get(0))
        .optional()?;
    tx.prepare_cached(
        "INSERT INTO location_state (tenant_id, check_name, location, up, at, error, status_code, dedup_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tenant_id, check_name, location) DO UPDATE SET up = excluded.up, at = excluded.at,
             error = excluded.error, status_code = excluded.status_code, dedup_hash = excluded.dedup_hash
         WHERE excluded.at >= location_state.at",
    )?
    .execute(params![
        row.tenant,
        row.check,
        places.location,
        i64::from(sig.is_none()),
        t,
        sig.map(|s| s.error.clone()),
        sig.and_then(|s| s.status_code).map(i64::from),
        sig.map(|s| s.dedup_hash.clone()),
    ])?;
    let window = crate::spec::millis_i64(check.schedule.min_interval());
    let mut down: Vec<(i64, Signature)> = Vec::new();
    tx.prepare_cached(
        "SELECT location, at, error, status_code, dedup_hash FROM location_state
         WHERE tenant_id = ?1 AND check_name = ?2 AND up = 0 AND at >= ?3",
    )?
    .for_each(params![row.tenant, row.check, t - window], |r| {
        let location: String = r.get(0)?;
        if check.locations.contains(&location) {
            let code: Option<i64> = r.get(3)?;
            down.push((
                r.get(1)?,
                Signature {
                    error: r.get::<Option<String>>(2)?.unwrap_or_default(),
                    status_code: code.and_then(|c| u16::try_from(c).ok()),
                    dedup_hash: r.get::<Option<String>>(4)?.unwrap_or_default(),
                },
            ));
        }
        Ok(())
    })?;
    let live = check
        .locations
        .iter()
        .filter(|l| places.live.contains(*l))
        .count()
        .max(1);
    let needed = check.quorum().min(live);
    if down.len() < needed {
        let up = Facts {
            started_at: t,
            outcome: Outcome::Up,
        };
        return Ok((up, last));
    }
    if sig.is_some() {
        return Ok((facts, last));
    }
    down.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let latest = down.swap_remove(0).1;
    let down = Facts {
        started_at: t,
        outcome: Outcome::Down(latest),
    };
    Ok((down, last))
}

/// Does `action` as `actor` to incident `id`, as [`incident::on_action`] decides.
fn act(
    tx: &Db<'_>,
    tenant: i64,
    id: i64,
    action: Action,
    actor: &str,
    comment: Option<String>,
) -> Result<Incident> {
    let (inc, state) = get_stated(tx, tenant, id)?;
    let now = now_ms();
    let effects = incident::on_action(&state, action, actor, comment, now)
        .map_err(|e| StoreError::Conflict(e.0))?;
    let check = inc.check.clone();
    let target = Target {
        tenant,
        check: &check,
        incident: Some(inc),
        result: None,
    };
    apply(tx, target, &effects, now)?
        .incident
        .ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))
}

impl Store {
    /// Writes a batch of results in one transaction, with every incident change and
    /// notification they cause.
    pub async fn record(
        &self,
        batch: Vec<(ResultRow, std::sync::Arc<Check>)>,
    ) -> Result<Vec<Transition>> {
        let (since, places) = (self.running_since(), self.places());
        self.write(move |tx| {
            let ctx = Context::read(tx, since, places)?;
            let mut out = Vec::new();
            for (row, check) in &batch {
                out.extend(record_one(tx, row, check, &ctx)?);
            }
            Ok(out)
        })
        .await
    }

    /// Acknowledges or resolves incident `id` as `actor`: the one way every caller
    /// (the API, the console, chat buttons) acts on an incident.
    pub async fn act(
        &self,
        tenant: i64,
        id: i64,
        action: Action,
        actor: String,
        comment: Option<String>,
    ) -> Result<Incident> {
        self.write(move |tx| act(tx, tenant, id, action, &actor, comment))
            .await
    }

    /// Records an update on incident `id`: see [`add_update`].
    pub async fn add_update(
        &self,
        tenant: i64,
        id: i64,
        actor: String,
        message: String,
        status: Option<UpdateStatus>,
    ) -> Result<IncidentEvent> {
        self.write(move |tx| add_update(tx, tenant, id, &actor, &message, status))
            .await
    }

    pub async fn incidents(
        &self,
        tenant: i64,
        status: Option<IncidentStatus>,
        check: Option<String>,
        limit: u32,
    ) -> Result<Vec<Incident>> {
        self.incidents_before(tenant, status, check, limit, None)
            .await
    }

    /// Like [`Store::incidents`], only those with an id below `before` when given:
    /// the page after the one that ended there.
    pub async fn incidents_before(
        &self,
        tenant: i64,
        status: Option<IncidentStatus>,
        check: Option<String>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<Incident>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE tenant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) AND (CAST(?3 AS TEXT) IS NULL OR check_name = ?3) AND (CAST(?5 AS BIGINT) IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![tenant, status.map(|s| s.as_str()), check, limit, before], incident_row)?;
            rows.collect::<Result<_>>()
        })
        .await
    }

    pub async fn incident(&self, tenant: i64, id: i64) -> Result<Incident> {
        self.read(move |c| get_incident(c, tenant, id)).await
    }

    pub async fn open_incident_of(&self, tenant: i64, check: String) -> Result<Option<Incident>> {
        self.read(move |c| open_incident(c, tenant, &check)).await
    }

    pub async fn incident_events(&self, tenant: i64, id: i64) -> Result<Vec<IncidentEvent>> {
        self.read(move |c| {
            get_incident(c, tenant, id)?;
            let mut stmt = c.prepare_cached("SELECT id, incident_id, at, kind, actor, detail FROM incident_events WHERE tenant_id = ?1 AND incident_id = ?2 ORDER BY id")?;
            let rows = stmt.query_map(params![tenant, id], event_row)?;
            rows.collect::<Result<_>>()
        })
        .await
    }

    pub async fn open_incident_count(&self) -> Result<Vec<(i64, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT tenant_id, count(*) FROM incidents WHERE status != 'resolved' GROUP BY tenant_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_>>()
        })
        .await
    }
}
