//! The transactional outbox: notifications are rows written with the incident change
//! that causes them, and sent afterwards by the notifier, which marks each row sent
//! or, after its retries, failed. A daemon killed in between finds them on restart.

use std::collections::BTreeMap;

use super::{Db, Optional, Row};
use rusqlite::params;
use serde_json::{Value, json};

use super::{Result, Store, StoreError, now_ms, to_time};
use crate::incident::EventKind;
use crate::model::{Incident, Notification};
use crate::probe::ProbeResult;
use crate::spec::{Check, Kind};

/// A notification waiting to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub tenant: i64,
    pub channel: String,
    pub event: String,
    pub idempotency_key: String,
    pub payload: Value,
    pub attempts: u32,
}

/// A check as its messages show it.
struct Shown {
    /// As stored: channels, template and labels (for status page selectors).
    check: Check,
    /// What messages show of it, secrets (a target with a token, labels from
    /// variables) masked, since receivers are outside the daemon.
    target: Value,
    labels: Value,
    description: Value,
}

/// The check `name` as messages show it; an unreadable row is
/// [`StoreError::Corrupt`], logged and counted by the reader. Only the fields
/// shown are taken from the masked spec: a masked field need not decode (a
/// duration from a variable), and the typed check keeps the rest.
fn check_spec(c: &Db<'_>, tenant: i64, name: &str) -> Result<Option<Shown>> {
    let Some(stored) = super::resources::one(c, tenant, Kind::Check, name)? else {
        return Ok(None);
    };
    let Some(check) = stored.as_check().cloned() else {
        return Ok(None);
    };
    let masked = stored.masked();
    let field = |key: &str, typed: Value| masked.get(key).cloned().unwrap_or(typed);
    Ok(Some(Shown {
        target: field("target", json!(check.target)),
        labels: field("labels", json!(check.labels)),
        description: field("description", json!(check.description)),
        check,
    }))
}

/// The tenant's status page an incident of `check` (with `labels`, as stored: selectors
/// match the real ones) links to (see
/// [`listing_page`](crate::daemon::notify::links::listing_page)), as `{name, slug,
/// incidents_days}` (how long the page keeps resolved incidents). A page that
/// cannot be read is left out; the link then goes to the API as before.
fn status_page_of(
    c: &Db<'_>,
    tenant: i64,
    check: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Value> {
    // Pages that cannot be read are left out, logged and counted by the reader.
    let pages: Vec<crate::spec::StatusPage> =
        super::resources::list(c, tenant, Some(Kind::StatusPage), None)?
            .resources
            .iter()
            .filter_map(|r| r.as_status_page().cloned())
            .collect();
    Ok(
        match crate::daemon::notify::links::listing_page(&pages, check, labels) {
            Some(p) => {
                json!({"name": p.name, "slug": p.slug, "incidents_days": p.show.incidents_days})
            }
            None => Value::Null,
        },
    )
}

/// The status and message of update event `event_id`, for its message.
fn update_of(c: &Db<'_>, event_id: i64) -> Result<Value> {
    let detail: Option<String> = c
        .query_row(
            "SELECT detail FROM incident_events WHERE id = ?1 AND kind = 'update'",
            [event_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(detail
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or(Value::Null))
}

fn insert(
    tx: &Db<'_>,
    tenant: i64,
    incident: Option<i64>,
    channel: &str,
    event: &str,
    key: &str,
    payload: &Value,
) -> Result<Option<i64>> {
    let now = now_ms();
    tx.query_opt(
        "INSERT INTO outbox (tenant_id, incident_id, channel, event, idempotency_key, payload, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT DO NOTHING RETURNING id",
        params![tenant, incident, channel, event, key, payload.to_string(), now],
        |r| r.get(0),
    )
}

/// Queues `event` of `incident` to every channel of its check, with what a message needs.
pub fn queue_for_incident(
    tx: &Db<'_>,
    tenant: i64,
    incident: &Incident,
    event_id: i64,
    event: EventKind,
    actor: &str,
    result: Option<&ProbeResult>,
) -> Result<()> {
    let Some(shown) = check_spec(tx, tenant, &incident.check)? else {
        return Ok(());
    };
    let check = &shown.check;
    let Some(alert) = &check.alert else {
        return Ok(());
    };
    let end = incident.resolved_at.unwrap_or_else(chrono::Utc::now);
    let update = if event == EventKind::Update {
        update_of(tx, event_id)?
    } else {
        Value::Null
    };
    let payload = json!({
        "event": event.as_str(),
        "actor": actor,
        "at": chrono::Utc::now(),
        "check": {"name": check.name, "type": check.check_type.as_str(), "target": shown.target, "labels": shown.labels, "description": shown.description},
        "incident": {
            "id": incident.id, "kind": incident.kind, "status": incident.status, "severity": incident.severity, "error": incident.error,
            "status_code": incident.status_code, "count": incident.count, "dedup_hash": incident.dedup_hash,
            "opened_at": incident.opened_at, "resolved_at": incident.resolved_at,
            "duration_seconds": (end - incident.opened_at).num_seconds().max(0),
        },
        // The result carries the probed target: the check's (masked when secret) instead.
        "result": result.map(|r| ProbeResult { target: shown.target.as_str().unwrap_or(&check.target).to_string(), ..r.clone() }),
        "template": alert.template,
        "update": update,
        // Where `links` point a person; resolved now, so that a retry links the same.
        "status_page": status_page_of(tx, tenant, &incident.check, &check.labels)?,
    });
    for channel in &alert.channels {
        let key = format!("uptimeping-{tenant}-{}-{event_id}-{channel}", incident.id);
        insert(
            tx,
            tenant,
            Some(incident.id),
            channel,
            event.as_str(),
            &key,
            &payload,
        )?;
    }
    Ok(())
}

/// How long a node's claim on an outbox row lasts: longer than one delivery
/// attempt takes with its timeouts, so that a row is sent by one node at a time.
pub const CLAIM_MS: i64 = 60_000;

const OUTBOX_ROW: &str = "id, tenant_id, channel, event, idempotency_key, payload, attempts";

fn outbox_row(r: &Row<'_>) -> Result<OutboxRow> {
    let payload: String = r.get(5)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        tenant: r.get(1)?,
        channel: r.get(2)?,
        event: r.get(3)?,
        idempotency_key: r.get(4)?,
        payload: serde_json::from_str(&payload)?,
        attempts: u32::try_from(r.get::<i64>(6)?).unwrap_or(u32::MAX),
    })
}

fn notification_row(r: &Row<'_>) -> Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        channel: r.get(2)?,
        event: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get::<i64>(5)? as u32,
        idempotency_key: r.get(6)?,
        last_error: r.get(7)?,
        created_at: to_time(r.get(8)?),
        sent_at: r.get::<Option<i64>>(9)?.map(to_time),
    })
}

const NOTIFICATION_COLUMNS: &str = "id, incident_id, channel, event, status, attempts, idempotency_key, last_error, created_at, sent_at";

/// A message a provider sent, as recorded for editing it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub outbox_id: i64,
    pub incident_id: Option<i64>,
    pub chat: String,
    pub message_id: String,
    pub text: String,
}

impl Store {
    /// Records that outbox row `outbox_id` went out as `message_id` in `chat`.
    pub async fn record_sent_message(
        &self,
        outbox_id: i64,
        chat: String,
        message_id: String,
        text: String,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sent_messages (outbox_id, tenant_id, incident_id, channel, chat, message_id, text, created_at)
                 SELECT id, tenant_id, incident_id, channel, ?2, ?3, ?4, ?5 FROM outbox WHERE id = ?1
                 ON CONFLICT (outbox_id) DO UPDATE SET tenant_id = excluded.tenant_id, incident_id = excluded.incident_id,
                   channel = excluded.channel, chat = excluded.chat, message_id = excluded.message_id, text = excluded.text,
                   created_at = excluded.created_at",
                params![outbox_id, chat, message_id, text, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// The id outbox row `outbox_id` is sent under in `chat`, for providers that do
    /// not return one (Slack's incoming webhooks): `fresh` the first time, and the
    /// same id again on every retry of the row, so that a message that did arrive on
    /// an attempt reported as failed keeps working buttons.
    pub async fn message_token(
        &self,
        outbox_id: i64,
        chat: String,
        fresh: String,
    ) -> Result<String> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sent_messages (outbox_id, tenant_id, incident_id, channel, chat, message_id, text, created_at)
                 SELECT id, tenant_id, incident_id, channel, ?2, ?3, '', ?4 FROM outbox WHERE id = ?1 ON CONFLICT DO NOTHING",
                params![outbox_id, chat, fresh, now_ms()],
            )?;
            tx.query_row(
                "SELECT message_id FROM sent_messages WHERE outbox_id = ?1 AND chat = ?2",
                params![outbox_id, chat],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no notification {outbox_id}")))
        })
        .await
    }

    /// The message `message_id` in `chat` that `channel` of `tenant` sent, if recorded.
    pub async fn sent_message(
        &self,
        tenant: i64,
        channel: String,
        chat: String,
        message_id: String,
    ) -> Result<Option<SentMessage>> {
        self.read(move |c| {
            c.query_row(
                "SELECT outbox_id, incident_id, chat, message_id, text FROM sent_messages
                 WHERE tenant_id = ?1 AND channel = ?2 AND chat = ?3 AND message_id = ?4 ORDER BY outbox_id DESC LIMIT 1",
                params![tenant, channel, chat, message_id],
                |r| Ok(SentMessage { outbox_id: r.get(0)?, incident_id: r.get(1)?, chat: r.get(2)?, message_id: r.get(3)?, text: r.get(4)? }),
            )
            .optional()
        })
        .await
    }

    /// Replaces the recorded text of a message after it was edited.
    pub async fn update_sent_message(&self, outbox_id: i64, text: String) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE sent_messages SET text = ?2 WHERE outbox_id = ?1",
                params![outbox_id, text],
            )?;
            Ok(())
        })
        .await
    }

    /// Queues a test message to `channel`; returns the row's id.
    pub async fn queue_test(&self, tenant: i64, channel: String) -> Result<i64> {
        self.write(move |tx| {
            let exists: Option<i64> = tx.query_row("SELECT 1 FROM resources WHERE tenant_id = ?1 AND kind = 'Channel' AND name = ?2", params![tenant, channel], |r| r.get(0)).optional()?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("no channel named `{channel}`")));
            }
            let nonce: u64 = rand::RngExt::random(&mut rand::rng());
            let key = format!("uptimeping-{tenant}-test-{nonce:016x}-{channel}");
            let payload = json!({"event": "test", "actor": "api", "at": chrono::Utc::now(), "check": {"name": "uptimeping-test", "type": "http", "target": "https://example.com/", "labels": {}}, "incident": {"id": 0, "status": "open", "severity": "warning", "error": "this is a test message from uptimeping", "count": 1, "duration_seconds": 0}});
            insert(tx, tenant, None, &channel, "test", &key, &payload)?
                .ok_or_else(|| StoreError::Conflict(format!("a test message with the key `{key}` exists already")))
        })
        .await
    }

    /// Rows due for sending, oldest first. On PostgreSQL, where several nodes send,
    /// each row returned is claimed for this node for [`CLAIM_MS`]: no other node
    /// lists it meanwhile, and one killed mid-send leaves it to another after that.
    pub async fn due_notifications(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        let Some(node) = self.node().map(str::to_string) else {
            return self
                .read(move |c| {
                    let mut stmt = c.prepare_cached(&format!(
                        "SELECT {OUTBOX_ROW} FROM outbox
                         WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
                    ))?;
                    stmt.query_map(params![now_ms(), limit], outbox_row)?
                        .collect()
                })
                .await;
        };
        self.write(move |tx| {
            let now = now_ms();
            let mut stmt = tx.prepare_cached(&format!(
                "UPDATE outbox SET claimed_by = ?3, claimed_until = ?4 WHERE id IN (
                     SELECT id FROM outbox
                     WHERE status = 'pending' AND next_attempt_at <= ?1
                         AND (claimed_until IS NULL OR claimed_until < ?1 OR claimed_by = ?3)
                     ORDER BY id LIMIT ?2 FOR UPDATE SKIP LOCKED)
                 RETURNING {OUTBOX_ROW}"
            ))?;
            let mut rows: Vec<OutboxRow> = stmt
                .query_map(params![now, limit, node, now + CLAIM_MS], outbox_row)?
                .collect::<Result<_>>()?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
        .await
    }

    /// Row `id` if it is still waiting to be sent, due or not: for sending it now.
    /// On PostgreSQL it is claimed for this node, and `None` while another holds it.
    pub async fn pending_notification(&self, id: i64) -> Result<Option<OutboxRow>> {
        let Some(node) = self.node().map(str::to_string) else {
            return self
                .read(move |c| {
                    c.query_row(
                        &format!(
                            "SELECT {OUTBOX_ROW} FROM outbox WHERE id = ?1 AND status = 'pending'"
                        ),
                        [id],
                        outbox_row,
                    )
                    .optional()
                })
                .await;
        };
        self.write(move |tx| {
            let now = now_ms();
            tx.query_row(
                &format!(
                    "UPDATE outbox SET claimed_by = ?2, claimed_until = ?3
                     WHERE id = ?1 AND status = 'pending'
                         AND (claimed_until IS NULL OR claimed_until < ?4 OR claimed_by = ?2)
                     RETURNING {OUTBOX_ROW}"
                ),
                params![id, node, now + CLAIM_MS, now],
                outbox_row,
            )
            .optional()
        })
        .await
    }

    /// The earliest time a pending row becomes due, to sleep until then; a row
    /// another node has claimed, when its claim runs out.
    pub async fn next_due_at(&self) -> Result<Option<i64>> {
        let node = self.node().unwrap_or_default().to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT min(CASE WHEN claimed_by IS NOT NULL AND claimed_by <> ?1 AND claimed_until > next_attempt_at
                                 THEN claimed_until ELSE next_attempt_at END)
                 FROM outbox WHERE status = 'pending'",
                [node],
                |r| r.get(0),
            )
        })
        .await
    }

    /// `AND`-ed to every outcome written: only this node's claim (or none) is
    /// ended by it, so a node whose claim ran out while it sent does not end the
    /// claim of the node that took the row over.
    fn own_claim(&self) -> String {
        match self.node() {
            Some(node) => format!(
                " AND (claimed_by IS NULL OR claimed_by = '{}')",
                node.replace('\'', "''")
            ),
            None => String::new(),
        }
    }

    pub async fn mark_sent(&self, id: i64) -> Result<()> {
        let own = self.own_claim();
        self.write(move |tx| tx.execute(&format!("UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = ?1{own}"), params![id, now_ms()]).map(|_| ())).await
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up on when `None`.
    /// Holds a pending row back until `at` (Unix ms) without counting an attempt:
    /// a rate limit said to wait.
    pub async fn defer_notification(&self, id: i64, at: i64) -> Result<()> {
        let own = self.own_claim();
        self.write(move |tx| {
            tx.execute(
                &format!("UPDATE outbox SET next_attempt_at = ?2, claimed_by = NULL, claimed_until = NULL WHERE id = ?1 AND status = 'pending'{own}"),
                params![id, at],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn mark_attempt_failed(
        &self,
        id: i64,
        error: String,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let own = self.own_claim();
        self.write(move |tx| {
            match retry_at {
                Some(at) => tx.execute(&format!("UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, claimed_by = NULL, claimed_until = NULL WHERE id = ?1{own}"), params![id, error, at])?,
                None => tx.execute(&format!("UPDATE outbox SET attempts = attempts + 1, last_error = ?2, status = 'failed', claimed_by = NULL, claimed_until = NULL WHERE id = ?1{own}"), params![id, error])?,
            };
            Ok(())
        })
        .await
    }

    pub async fn notification(&self, id: i64) -> Result<Notification> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE id = ?1"),
                [id],
                notification_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no notification {id}")))
        })
        .await
    }

    pub async fn incident_notifications(
        &self,
        tenant: i64,
        incident: i64,
    ) -> Result<Vec<Notification>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE tenant_id = ?1 AND incident_id = ?2 ORDER BY id"))?;
            let rows = stmt.query_map(params![tenant, incident], notification_row)?;
            rows.collect::<Result<_>>()
        })
        .await
    }

    /// Per channel: (sent, failed, pending).
    pub async fn channel_counts(&self, tenant: i64) -> Result<BTreeMap<String, (u64, u64, u64)>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached("SELECT channel, status, count(*) FROM outbox WHERE tenant_id = ?1 GROUP BY channel, status")?;
            let rows = stmt.query_map([tenant], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)))?;
            let mut out: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
            for row in rows {
                let (channel, status, n) = row?;
                let e = out.entry(channel).or_default();
                match status.as_str() {
                    "sent" => e.0 = n as u64,
                    "failed" => e.1 = n as u64,
                    _ => e.2 = n as u64,
                }
            }
            Ok(out)
        })
        .await
    }
}
