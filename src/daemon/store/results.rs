//! Check results: written in batches, read in pages, pruned after the retention.

use rusqlite::{Connection, params};

use super::{Result, Store, now_ms};
use crate::model::{ResultPage, StoredResult};
use crate::probe::ProbeResult;

/// A check's last-run summary, as kept in `check_state`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub tenant: i64,
    pub check: String,
    pub result: ProbeResult,
}

pub fn insert(c: &Connection, row: &ResultRow) -> Result<i64> {
    let r = &row.result;
    c.prepare_cached(
        "INSERT INTO results (tenant_id, check_name, started_at, up, latency_ms, status_code, error, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![row.tenant, row.check, r.started_at.timestamp_millis(), r.up, r.latency_ms, r.status_code, r.error, serde_json::to_string(r)?])?;
    Ok(c.last_insert_rowid())
}

impl Store {
    /// A page of a check's results, newest first, older than `before` when given.
    pub async fn results(
        &self,
        tenant: i64,
        check: String,
        limit: u32,
        before: Option<i64>,
    ) -> Result<ResultPage> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, detail FROM results WHERE tenant_id = ?1 AND check_name = ?2 AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![tenant, check, before, i64::from(limit) + 1], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut items = Vec::new();
            for row in rows {
                let (id, detail) = row?;
                items.push(StoredResult { id, result: serde_json::from_str(&detail)? });
            }
            let next_before = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|r| r.id)
            } else {
                None
            };
            Ok(ResultPage { items, next_before })
        })
        .await
    }

    /// Share of up results of a check since `since_ms`, in percent.
    pub async fn uptime(&self, tenant: i64, check: String, since_ms: i64) -> Result<Option<f64>> {
        self.read(move |c| {
            let (total, up): (i64, i64) = c.query_row(
                "SELECT count(*), COALESCE(sum(up), 0) FROM results WHERE tenant_id = ?1 AND check_name = ?2 AND started_at >= ?3",
                params![tenant, check, since_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((total > 0).then(|| up as f64 * 100.0 / total as f64))
        })
        .await
    }

    /// Deletes results older than `keep_ms`; returns how many.
    pub async fn prune_results(&self, keep_ms: i64) -> Result<usize> {
        let cutoff = now_ms() - keep_ms;
        self.write(move |tx| Ok(tx.execute("DELETE FROM results WHERE started_at < ?1", [cutoff])?))
            .await
    }
}
