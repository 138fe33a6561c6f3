//! Incidents: opened after `failure_threshold` consecutive failures, resolved after
//! `success_threshold` successes, one open per check, identified by a failure
//! signature. Every change is an event, and its notifications are written to the
//! outbox in the same transaction, so none can be lost between the two.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::policy::goes_out;
use super::results::{ResultRow, insert as insert_result};
use super::{Result, Store, StoreError, now_ms, outbox, rollups, to_time};
use crate::model::{Incident, IncidentEvent, IncidentKind, IncidentStatus, UpdateStatus};
use crate::probe::{BODY_EXCERPT_BYTES, ProbeResult};
use crate::rollup::TimeState;
use crate::spec::{
    Check, DEFAULT_FAILURE_THRESHOLD, DEFAULT_SUCCESS_THRESHOLD, Maintenance, Severity,
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

/// SHA-256 of what identifies a failure: the normalised error, the status code and
/// the first 100 bytes of the body. Latencies and other varying values are left out.
pub fn dedup_hash(r: &ProbeResult) -> String {
    let error = match (&r.error_kind, r.failures.is_empty()) {
        (Some(crate::probe::ErrorKind::Expectation), false) => {
            format!(
                "expectation: {}",
                r.failures
                    .iter()
                    .map(|f| f.expectation.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        _ => r.error.clone().unwrap_or_default(),
    };
    let body = r.body_excerpt.as_deref().unwrap_or("");
    let body: String = body
        .chars()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= BODY_EXCERPT_BYTES).then_some(c)
        })
        .collect();
    let mut h = Sha256::new();
    h.update(error.as_bytes());
    h.update(b"\n");
    h.update(
        r.status_code
            .map(|c| c.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

pub fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Critical => "critical",
    }
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

const INCIDENT_COLUMNS: &str = "id, check_name, status, severity, error, status_code, count, dedup_hash, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, kind";

fn kind_of(s: &str) -> IncidentKind {
    match s {
        "slo_burn" => IncidentKind::SloBurn,
        _ => IncidentKind::Down,
    }
}

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: r.get(0)?,
        check: r.get(1)?,
        status: status_of(&r.get::<_, String>(2)?),
        severity: severity_of(&r.get::<_, String>(3)?),
        error: r.get(4)?,
        status_code: r.get(5)?,
        count: r.get::<_, i64>(6)? as u64,
        dedup_hash: r.get(7)?,
        opened_at: to_time(r.get(8)?),
        acknowledged_at: r.get::<_, Option<i64>>(9)?.map(to_time),
        acknowledged_by: r.get(10)?,
        resolved_at: r.get::<_, Option<i64>>(11)?.map(to_time),
        resolved_by: r.get(12)?,
        kind: kind_of(&r.get::<_, String>(13)?),
    })
}

/// The open incident of `kind` of a check, if there is one (at most one of each).
pub(super) fn open_incident_of_kind(
    c: &Connection,
    tenant: i64,
    check: &str,
    kind: IncidentKind,
) -> Result<Option<Incident>> {
    Ok(c.query_row(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant_id = ?1 AND check_name = ?2 AND kind = ?3 AND status != 'resolved'"), params![tenant, check, kind.as_str()], incident_row).optional()?)
}

/// The open `down` incident of a check: the one its results open and resolve.
fn open_incident(c: &Connection, tenant: i64, check: &str) -> Result<Option<Incident>> {
    open_incident_of_kind(c, tenant, check, IncidentKind::Down)
}

pub(super) fn get_incident(c: &Connection, tenant: i64, id: i64) -> Result<Incident> {
    c.query_row(
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant_id = ?1 AND id = ?2"),
        params![tenant, id],
        incident_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))
}

pub(super) fn add_event(
    tx: &Transaction<'_>,
    tenant: i64,
    incident: i64,
    kind: &str,
    actor: &str,
    detail: Value,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO incident_events (tenant_id, incident_id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![tenant, incident, now_ms(), kind, actor, detail.to_string()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Records an event and queues its notification to each of the check's channels,
/// unless the alert policy holds it back.
fn notify(
    tx: &Transaction<'_>,
    tenant: i64,
    incident: &Incident,
    kind: &'static str,
    actor: &str,
    detail: Value,
    result: Option<&ProbeResult>,
) -> Result<Transition> {
    notify_at(tx, tenant, incident, kind, actor, detail, result, now_ms())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn notify_at(
    tx: &Transaction<'_>,
    tenant: i64,
    incident: &Incident,
    kind: &'static str,
    actor: &str,
    detail: Value,
    result: Option<&ProbeResult>,
    now: i64,
) -> Result<Transition> {
    let event_id = add_event(tx, tenant, incident.id, kind, actor, detail)?;
    if kind != "signature_changed" && goes_out(tx, tenant, incident, kind, now)? {
        outbox::queue_for_incident(tx, tenant, incident, event_id, kind, actor, result)?;
    }
    Ok(Transition {
        tenant,
        incident: incident.id,
        check: incident.check.clone(),
        event: kind,
        severity: incident.severity,
    })
}

/// The longest update message, in characters: a few paragraphs, which with the
/// subject and links stay within every provider's message size (Telegram's 4096
/// characters, Slack's 3000 per section) and read on a phone.
pub const MAX_UPDATE_MESSAGE_CHARS: usize = 2000;
/// Most updates one incident takes: a status page shows each in the incident's
/// timeline and every channel gets each, so an endless stream of them (a script
/// gone wrong) is stopped here rather than in every receiver.
pub const MAX_UPDATES_PER_INCIDENT: i64 = 200;

/// An update's message as stored (trimmed), or why it cannot be one.
pub fn update_message(message: &str) -> std::result::Result<String, String> {
    let message = message.trim();
    if message.is_empty() {
        return Err("an update needs a message: say what is known now".into());
    }
    let chars = message.chars().count();
    if chars > MAX_UPDATE_MESSAGE_CHARS {
        return Err(format!(
            "an update's message is at most {MAX_UPDATE_MESSAGE_CHARS} characters; this one has {chars}: shorten it, or post it as several updates"
        ));
    }
    if let Some(c) = crate::spec::forbidden_char(message) {
        return Err(format!(
            "an update's message may not hold the character U+{:04X} (control characters but new lines and tabs, U+FFFE/U+FFFF, bidirectional overrides); write plain text (new lines are fine)",
            u32::from(c)
        ));
    }
    Ok(message.to_string())
}

/// The longest comment on an acknowledgement or a resolution, in characters: as
/// long as an update's message, for the same reasons (it is sent and shown alike).
pub const MAX_COMMENT_CHARS: usize = MAX_UPDATE_MESSAGE_CHARS;

/// An acknowledgement's or resolution's `comment` as stored (trimmed; blank is
/// none), or why it cannot be one.
pub fn action_comment(comment: Option<&str>) -> std::result::Result<Option<String>, String> {
    let Some(comment) = comment.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let chars = comment.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(format!(
            "`comment` is at most {MAX_COMMENT_CHARS} characters; this one has {chars}: shorten it, or post the rest as an update"
        ));
    }
    if let Some(c) = crate::spec::forbidden_char(comment) {
        return Err(format!(
            "`comment` may not hold the character U+{:04X} (control characters but new lines and tabs, U+FFFE/U+FFFF, bidirectional overrides); write plain text (new lines are fine)",
            u32::from(c)
        ));
    }
    Ok(Some(comment.to_string()))
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentEvent> {
    Ok(IncidentEvent {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        at: to_time(r.get(2)?),
        kind: r.get(3)?,
        actor: r.get(4)?,
        detail: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or(Value::Null),
    })
}

/// Records an update on incident `id` and queues it to the incident's channels as
/// its own `update` message, under the alert policy like the other events. On a
/// resolved incident it is a note afterwards (a post-mortem): stored with status
/// `resolved` and shown, but sent to nobody, and it takes no `status`. `message` is
/// one [`update_message`] accepted.
fn add_update(
    tx: &Transaction<'_>,
    tenant: i64,
    id: i64,
    actor: &str,
    message: &str,
    status: Option<UpdateStatus>,
) -> Result<IncidentEvent> {
    let inc = get_incident(tx, tenant, id)?;
    let count: i64 = tx.query_row(
        "SELECT count(*) FROM incident_events WHERE tenant_id = ?1 AND incident_id = ?2 AND kind = 'update'",
        params![tenant, id],
        |r| r.get(0),
    )?;
    if count >= MAX_UPDATES_PER_INCIDENT {
        return Err(StoreError::Conflict(format!(
            "incident {id} has {count} updates, the most one takes ({MAX_UPDATES_PER_INCIDENT}); resolve it and follow up elsewhere"
        )));
    }
    let resolved = inc.status == IncidentStatus::Resolved;
    let status = match (resolved, status) {
        (true, Some(s)) => {
            return Err(StoreError::Conflict(format!(
                "incident {id} is resolved: a note on it takes no status `{}`; leave the status out",
                s.as_str()
            )));
        }
        (true, None) => "resolved".to_string(),
        (false, Some(s)) => s.as_str().to_string(),
        (false, None) => tx
            .query_row(
                "SELECT json_extract(detail, '$.status') FROM incident_events WHERE tenant_id = ?1 AND incident_id = ?2 AND kind = 'update' ORDER BY id DESC LIMIT 1",
                params![tenant, id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten()
            .unwrap_or_else(|| UpdateStatus::Investigating.as_str().to_string()),
    };
    let event_id = add_event(
        tx,
        tenant,
        id,
        "update",
        actor,
        json!({"status": status, "message": message}),
    )?;
    if !resolved && goes_out(tx, tenant, &inc, "update", now_ms())? {
        outbox::queue_for_incident(tx, tenant, &inc, event_id, "update", actor, None)?;
    }
    Ok(tx.query_row(
        "SELECT id, incident_id, at, kind, actor, detail FROM incident_events WHERE id = ?1",
        [event_id],
        event_row,
    )?)
}

/// What every result of one batch is recorded against.
pub(super) struct Context {
    /// Results stand for no time before this (the daemon's start).
    pub running_since: i64,
    pub marks: rollups::Marks,
    /// Every tenant's maintenance windows, read once per batch.
    pub windows: Vec<(i64, Maintenance)>,
}

impl Context {
    pub(super) fn read(c: &Connection, running_since: i64) -> Result<Context> {
        let mut stmt =
            c.prepare_cached("SELECT tenant_id, spec FROM resources WHERE kind = 'Maintenance'")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut windows = Vec::new();
        for row in rows {
            let (tenant, spec) = row?;
            let window = serde_json::from_str::<Value>(&spec)
                .and_then(|v| serde_json::from_value::<Maintenance>(strip_kind(v)));
            match window {
                Ok(w) => windows.push((tenant, w)),
                // Refusing every result over it would lose them all; the window's
                // time is counted as it was measured instead, and this said loudly.
                Err(e) => {
                    tracing::error!(tenant, error = %e, "a stored maintenance window cannot be read; its time counts as up or down")
                }
            }
        }
        Ok(Context {
            running_since,
            marks: rollups::marks(c)?,
            windows,
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

/// Applies one result to a check's counters, rollups and incident, returning what changed.
fn record_one(
    tx: &Transaction<'_>,
    row: &ResultRow,
    check: &Check,
    ctx: &Context,
) -> Result<Vec<Transition>> {
    let (tenant, r) = (row.tenant, &row.result);
    type Prev = (
        i64,
        i64,
        Option<i64>,
        Option<bool>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let prev: Option<Prev> = tx
        .prepare_cached("SELECT failures, successes, last_run_at, last_up, covered_from, paused_at, created_at FROM check_state WHERE tenant_id = ?1 AND name = ?2")?
        .query_row(params![tenant, row.check], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?, x.get(4)?, x.get(5)?, x.get(6)?)))
        .optional()?;
    let t = r.started_at.timestamp_millis();
    let Some((failures, successes, last_run, last_up, covered_from, paused_at, created_at)) = prev
    else {
        // The check was deleted while it ran, and its results with it: this one
        // goes too, and opens nothing.
        return Ok(Vec::new());
    };
    if created_at.is_some_and(|c| t < c) {
        // A run of a check deleted while it ran, arriving after one of the same
        // name was created: it is not the new check's.
        return Ok(Vec::new());
    }
    // Failures and changes of state are the evidence worth keeping longer.
    insert_result(tx, row, !r.up || last_up != Some(r.up))?;
    let state = if ctx.in_maintenance(tenant, check, t) {
        TimeState::Maintenance
    } else if r.up {
        TimeState::Up
    } else {
        TimeState::Down
    };
    let series = rollups::series_id(tx, tenant, &row.check)?;
    rollups::fold(
        tx,
        series,
        &ctx.marks,
        &rollups::Fold {
            run: (t, r.up, r.latency_ms),
            // A run made by hand while the check is off (paused, or disabled when
            // it started) is counted, but nothing watched the time before it.
            span: (check.enabled && paused_at.is_none_or(|p| t < p))
                .then(|| span(check, t, last_run, covered_from, ctx.running_since))
                .flatten()
                .map(|(s, e)| (s, e, state)),
        },
    )?;
    let (failures, successes) = if r.up {
        (0, successes + 1)
    } else {
        (failures + 1, 0)
    };
    tx.prepare_cached(
        "UPDATE check_state SET failures = ?3, successes = ?4,
            last_run_at = max(coalesce(last_run_at, ?5), ?5), last_up = ?6, last_latency_ms = ?7, last_error = ?8,
            last_cert_expires_at = coalesce(?9, last_cert_expires_at)
         WHERE tenant_id = ?1 AND name = ?2",
    )?
    .execute(params![
        tenant,
        row.check,
        failures,
        successes,
        t,
        r.up,
        r.latency_ms,
        r.error,
        r.cert_expires_at.map(|t| t.timestamp_millis())
    ])?;
    let failure_threshold = check
        .alert
        .as_ref()
        .map_or(DEFAULT_FAILURE_THRESHOLD, |a| a.failure_threshold);
    let success_threshold = check
        .alert
        .as_ref()
        .map_or(DEFAULT_SUCCESS_THRESHOLD, |a| a.success_threshold);
    let severity = check.alert.as_ref().map_or(Severity::Error, |a| a.severity);
    let open = open_incident(tx, tenant, &row.check)?;
    let mut out = Vec::new();
    match (r.up, open) {
        (false, Some(inc)) => {
            let hash = dedup_hash(r);
            tx.execute(
                "UPDATE incidents SET count = count + 1 WHERE id = ?1",
                [inc.id],
            )?;
            if hash != inc.dedup_hash {
                let error = r.error.clone().unwrap_or_default();
                tx.execute("UPDATE incidents SET dedup_hash = ?2, error = ?3, status_code = ?4 WHERE id = ?1", params![inc.id, hash, error, r.status_code])?;
                let detail = json!({"from": {"error": inc.error, "status_code": inc.status_code, "dedup_hash": inc.dedup_hash}, "to": {"error": error, "status_code": r.status_code, "dedup_hash": hash}});
                out.push(notify(
                    tx,
                    tenant,
                    &inc,
                    "signature_changed",
                    "system",
                    detail,
                    Some(r),
                )?);
            }
        }
        (false, None) if failures >= i64::from(failure_threshold) => {
            let error = r.error.clone().unwrap_or_default();
            tx.execute(
                "INSERT INTO incidents (tenant_id, check_name, status, severity, error, status_code, count, dedup_hash, opened_at)
                 VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?6, ?7, ?8)",
                params![tenant, row.check, severity_str(severity), error, r.status_code, failures, dedup_hash(r), now_ms()],
            )?;
            let inc = get_incident(tx, tenant, tx.last_insert_rowid())?;
            out.push(notify(
                tx,
                tenant,
                &inc,
                "opened",
                "system",
                json!({"failures": failures, "error": error}),
                Some(r),
            )?);
        }
        (true, Some(inc)) if successes >= i64::from(success_threshold) => {
            let now = now_ms();
            tx.execute("UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = 'system' WHERE id = ?1", params![inc.id, now])?;
            let inc = get_incident(tx, tenant, inc.id)?;
            out.push(notify(
                tx,
                tenant,
                &inc,
                "resolved",
                "system",
                json!({"successes": successes}),
                Some(r),
            )?);
        }
        _ => {}
    }
    Ok(out)
}

/// Resolves the open incident of a check that is being removed: nobody would
/// otherwise ever close it. Call before the check's row is deleted, so that its
/// channels still get the "resolved" message.
pub fn resolve_for_removed_check(tx: &Transaction<'_>, tenant: i64, check: &str) -> Result<()> {
    for kind in [IncidentKind::Down, IncidentKind::SloBurn] {
        let Some(inc) = open_incident_of_kind(tx, tenant, check, kind)? else {
            continue;
        };
        tx.execute("UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = 'system' WHERE id = ?1", params![inc.id, now_ms()])?;
        let inc = get_incident(tx, tenant, inc.id)?;
        notify(
            tx,
            tenant,
            &inc,
            "resolved",
            "system",
            json!({"reason": "check removed"}),
            None,
        )?;
    }
    Ok(())
}

impl Store {
    /// Writes a batch of results in one transaction, with every incident change and
    /// notification they cause.
    pub async fn record(
        &self,
        batch: Vec<(ResultRow, std::sync::Arc<Check>)>,
    ) -> Result<Vec<Transition>> {
        let since = self.running_since();
        self.write(move |tx| {
            let ctx = Context::read(tx, since)?;
            let mut out = Vec::new();
            for (row, check) in &batch {
                out.extend(record_one(tx, row, check, &ctx)?);
            }
            Ok(out)
        })
        .await
    }

    pub async fn acknowledge(
        &self,
        tenant: i64,
        id: i64,
        actor: String,
        comment: Option<String>,
    ) -> Result<Incident> {
        self.write(move |tx| {
            let inc = get_incident(tx, tenant, id)?;
            match inc.status {
                IncidentStatus::Open => {}
                IncidentStatus::Acknowledged => return Err(StoreError::Conflict(format!("incident {id} is already acknowledged by {}", inc.acknowledged_by.unwrap_or_default()))),
                IncidentStatus::Resolved => return Err(StoreError::Conflict(format!("incident {id} is resolved"))),
            }
            tx.execute("UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?2, acknowledged_by = ?3 WHERE id = ?1", params![id, now_ms(), actor])?;
            let inc = get_incident(tx, tenant, id)?;
            notify(tx, tenant, &inc, "acknowledged", &actor, json!({"comment": comment}), None)?;
            Ok(inc)
        })
        .await
    }

    pub async fn resolve(
        &self,
        tenant: i64,
        id: i64,
        actor: String,
        comment: Option<String>,
    ) -> Result<Incident> {
        self.write(move |tx| {
            let inc = get_incident(tx, tenant, id)?;
            if inc.status == IncidentStatus::Resolved {
                return Err(StoreError::Conflict(format!("incident {id} is resolved already")));
            }
            tx.execute("UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = ?3 WHERE id = ?1", params![id, now_ms(), actor])?;
            // Count failures afresh, or the next failure alone would open a new incident.
            if inc.kind == IncidentKind::Down {
                tx.execute("UPDATE check_state SET failures = 0 WHERE tenant_id = ?1 AND name = ?2", params![tenant, inc.check])?;
            }
            let inc = get_incident(tx, tenant, id)?;
            notify(tx, tenant, &inc, "resolved", &actor, json!({"comment": comment}), None)?;
            Ok(inc)
        })
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
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR check_name = ?3) AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![tenant, status.map(|s| s.as_str()), check, limit, before], incident_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
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
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    pub async fn open_incident_count(&self) -> Result<Vec<(i64, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT tenant_id, count(*) FROM incidents WHERE status != 'resolved' GROUP BY tenant_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

/// Stored specs carry `kind`; the typed resource does not.
pub fn strip_kind(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("kind");
    }
    v
}
