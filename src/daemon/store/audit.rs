//! The audit log's rows: written one per event, read newest first with filters,
//! pruned past their retention. What an event holds and how it is bounded is
//! `daemon::audit`'s business; this module only stores it.

use rusqlite::params;
use rusqlite::types::ToSql;

use super::{Result, Store, to_time};
use crate::model::AuditEntry;

/// Rows deleted per transaction when pruning, so that the writer is never held
/// long and other writes go in between.
const PRUNE_CHUNK: i64 = 5000;

/// One row to write, already bounded and scrubbed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub tenant_id: Option<i64>,
    /// Unix ms.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    pub source: Option<String>,
    /// JSON text.
    pub detail: String,
}

/// Which rows a reader sees, and which of those it asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub tenant_id: i64,
    /// Whether rows of no tenant (requests refused before any tenant was known)
    /// are shown too.
    pub with_no_tenant: bool,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
    /// Exact, or a prefix when it ends in `*`.
    pub actor: Option<String>,
    /// Exact, or a prefix when it ends in `*` (`incident.*`).
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub target: Option<String>,
    /// Only rows older than this id (the previous page's last).
    pub before: Option<i64>,
    pub limit: u32,
}

/// `column = ?` for an exact value, or a prefix test for `value*`.
fn matches(column: &str, value: &str, clauses: &mut Vec<String>, args: &mut Vec<Box<dyn ToSql>>) {
    match value.strip_suffix('*') {
        Some(prefix) => {
            args.push(Box::new(prefix.to_string()));
            clauses.push(format!(
                "substr({column}, 1, length(?{n})) = ?{n}",
                n = args.len()
            ));
        }
        None => {
            args.push(Box::new(value.to_string()));
            clauses.push(format!("{column} = ?{}", args.len()));
        }
    }
}

impl Store {
    /// Writes one audit row; its id.
    pub async fn insert_audit(&self, row: AuditRow) -> Result<i64> {
        self.write(move |tx| {
            tx.query_row(
                "INSERT INTO audit (tenant_id, at, actor, action, target, outcome, source, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![
                    row.tenant_id,
                    row.at,
                    row.actor,
                    row.action,
                    row.target,
                    row.outcome,
                    row.source,
                    row.detail
                ],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Up to `q.limit` rows that `q` asks for, newest first, with their tenant's name.
    pub async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        self.read(move |c| {
            let mut clauses = Vec::new();
            let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(q.tenant_id)];
            clauses.push(if q.with_no_tenant {
                "(a.tenant_id = ?1 OR a.tenant_id IS NULL)".to_string()
            } else {
                "a.tenant_id = ?1".to_string()
            });
            for (op, value) in [("a.at >=", q.since), ("a.at <", q.until), ("a.id <", q.before)] {
                if let Some(v) = value {
                    args.push(Box::new(v));
                    clauses.push(format!("{op} ?{}", args.len()));
                }
            }
            if let Some(v) = &q.actor {
                matches("a.actor", v, &mut clauses, &mut args);
            }
            if let Some(v) = &q.action {
                matches("a.action", v, &mut clauses, &mut args);
            }
            for (column, value) in [("a.outcome", &q.outcome), ("a.target", &q.target)] {
                if let Some(v) = value {
                    args.push(Box::new(v.clone()));
                    clauses.push(format!("{column} = ?{}", args.len()));
                }
            }
            args.push(Box::new(q.limit));
            let sql = format!(
                "SELECT a.id, a.at, t.name, a.actor, a.action, a.target, a.outcome, a.source, a.detail
                 FROM audit a LEFT JOIN tenants t ON t.id = a.tenant_id
                 WHERE {} ORDER BY a.id DESC LIMIT ?{}",
                clauses.join(" AND "),
                args.len()
            );
            let mut stmt = c.prepare(&sql)?;
            let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
            let rows = stmt.query_map(refs.as_slice(), |r| {
                Ok((
                    AuditEntry {
                        id: r.get(0)?,
                        at: to_time(r.get(1)?),
                        tenant: r.get(2)?,
                        actor: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        outcome: r.get(6)?,
                        source: r.get(7)?,
                        detail: serde_json::Value::Null,
                    },
                    r.get::<String>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (mut entry, detail) = row?;
                // Written by this daemon as JSON; a row that is not (edited by hand)
                // still shows, with its text as a string.
                entry.detail = serde_json::from_str(&detail)
                    .unwrap_or(serde_json::Value::String(detail));
                out.push(entry);
            }
            Ok(out)
        })
        .await
    }

    /// Deletes audit rows older than `keep_ms` before `now`; how many.
    pub async fn prune_audit(&self, now: i64, keep_ms: i64) -> Result<usize> {
        let cutoff = now.saturating_sub(keep_ms);
        let mut total = 0;
        loop {
            let n = self
                .write(move |tx| {
                    tx.execute(
                        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 LIMIT ?2)",
                        params![cutoff, PRUNE_CHUNK],
                    )
                })
                .await?;
            total += n;
            if n < PRUNE_CHUNK as usize {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::{Backend, on_both_backends};

    const DAY_MS: i64 = 86_400_000;

    async fn store(backend: Backend) -> (tempfile::TempDir, Store) {
        let (dir, store) = crate::daemon::store::test_store(backend);
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        store.create_tenant("acme".into()).await.expect("tenant");
        (dir, store)
    }

    fn row(tenant_id: Option<i64>, at: i64, actor: &str, action: &str) -> AuditRow {
        AuditRow {
            tenant_id,
            at,
            actor: actor.into(),
            action: action.into(),
            target: Some("api".into()),
            outcome: "ok".into(),
            source: Some("127.0.0.1".into()),
            detail: r#"{"n":1}"#.into(),
        }
    }

    fn query(tenant_id: i64) -> AuditQuery {
        AuditQuery {
            tenant_id,
            limit: 100,
            ..AuditQuery::default()
        }
    }

    async fn prune_deletes_only_rows_older_than_the_retention(backend: Backend) {
        let (_dir, store) = store(backend).await;
        let now = 1_800_000_000_000;
        for (age_days, action) in [(91, "old"), (90, "edge"), (89, "young"), (0, "now")] {
            store
                .insert_audit(row(Some(1), now - age_days * DAY_MS, "watch", action))
                .await
                .expect("insert");
        }
        let deleted = store.prune_audit(now, 90 * DAY_MS).await.expect("prune");
        assert_eq!(deleted, 1);
        let left: Vec<String> = store
            .audit(query(1))
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(left, ["now", "young", "edge"]);
        // Again at the same time: nothing more is old enough.
        assert_eq!(store.prune_audit(now, 90 * DAY_MS).await.expect("prune"), 0);
    }

    async fn prune_goes_through_more_rows_than_one_chunk(backend: Backend) {
        let (_dir, store) = store(backend).await;
        let n = PRUNE_CHUNK + 7;
        store
            .write(move |tx| {
                for i in 0..n {
                    tx.execute(
                        "INSERT INTO audit (tenant_id, at, actor, action, outcome) VALUES (1, ?1, 'watch', 'apply', 'ok')",
                        [i],
                    )?;
                }
                Ok(())
            })
            .await
            .expect("rows");
        assert_eq!(
            store.prune_audit(n + DAY_MS, DAY_MS).await.expect("prune"),
            n as usize
        );
        assert!(store.audit(query(1)).await.expect("list").is_empty());
    }

    async fn filters_scope_and_pages_hold(backend: Backend) {
        let (_dir, store) = store(backend).await;
        let t0 = 1_800_000_000_000;
        store
            .insert_audit(row(Some(1), t0, "key:admin(a1)", "check.pause"))
            .await
            .expect("insert");
        store
            .insert_audit(row(
                Some(1),
                t0 + 10,
                "user:ann@example.com",
                "incident.ack",
            ))
            .await
            .expect("insert");
        store
            .insert_audit(row(Some(2), t0 + 20, "key:admin(b2)", "incident.ack"))
            .await
            .expect("insert");
        let mut refused = row(None, t0 + 30, "anonymous", "request");
        refused.outcome = "refused".into();
        store.insert_audit(refused).await.expect("insert");

        let actions = |list: Vec<AuditEntry>| -> Vec<String> {
            list.into_iter()
                .map(|e| format!("{}@{}", e.action, e.tenant.unwrap_or_default()))
                .collect()
        };
        let all = |q| async { actions(store.audit(q).await.expect("list")) };
        assert_eq!(
            all(query(1)).await,
            ["incident.ack@default", "check.pause@default"]
        );
        assert_eq!(all(query(2)).await, ["incident.ack@acme"]);
        assert_eq!(
            all(AuditQuery {
                with_no_tenant: true,
                ..query(1)
            })
            .await,
            ["request@", "incident.ack@default", "check.pause@default"]
        );
        assert_eq!(
            all(AuditQuery {
                action: Some("incident.*".into()),
                ..query(1)
            })
            .await,
            ["incident.ack@default"]
        );
        assert_eq!(
            all(AuditQuery {
                actor: Some("key:*".into()),
                ..query(1)
            })
            .await,
            ["check.pause@default"]
        );
        assert_eq!(
            all(AuditQuery {
                since: Some(t0 + 5),
                until: Some(t0 + 11),
                ..query(1)
            })
            .await,
            ["incident.ack@default"]
        );
        assert_eq!(
            all(AuditQuery {
                with_no_tenant: true,
                outcome: Some("refused".into()),
                ..query(1)
            })
            .await,
            ["request@"]
        );
        // A `%` or `_` in a prefix is taken as itself.
        assert!(
            all(AuditQuery {
                action: Some("incident_%*".into()),
                ..query(1)
            })
            .await
            .is_empty()
        );
        let first = store
            .audit(AuditQuery {
                limit: 1,
                ..query(1)
            })
            .await
            .expect("page");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].detail, serde_json::json!({"n": 1}));
        assert_eq!(
            all(AuditQuery {
                before: Some(first[0].id),
                ..query(1)
            })
            .await,
            ["check.pause@default"]
        );
    }

    on_both_backends!(
        prune_deletes_only_rows_older_than_the_retention,
        prune_goes_through_more_rows_than_one_chunk,
        filters_scope_and_pages_hold,
    );
}
