//! Check results: written in batches, read in pages, pruned after the retention.

use super::Db;
use rusqlite::params;

use super::{Result, Store};
use crate::model::{ResultPage, StoredResult};
use crate::probe::ProbeResult;

/// A check's last-run summary, as kept in `check_state`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub tenant: i64,
    pub check: String,
    pub result: ProbeResult,
}

/// Rows deleted per transaction when pruning.
const PRUNE_CHUNK: i64 = 5_000;

/// The rest of a result as compact JSON: the fields without a column of their own,
/// no nulls, and no body excerpt for an up result (it matters only for telling
/// failures apart). Results are the bulk of the database, so every byte per row
/// counts; and one is written per run, so it is serialised straight from the
/// result, without building a JSON tree first.
#[derive(serde::Serialize)]
struct Detail<'a> {
    #[serde(rename = "type")]
    check_type: &'a str,
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<crate::probe::ErrorKind>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    failures: &'a [crate::probe::Failure],
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_excerpt: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    body_truncated: bool,
}

fn detail(r: &ProbeResult) -> Result<String> {
    // Destructured so that a field added to results must be placed here or in a column.
    let ProbeResult {
        name: _,
        check_type,
        target,
        up,
        latency_ms: _,
        connect_ms,
        status_code: _,
        grpc_code,
        error: _,
        error_kind,
        failures,
        attempts,
        started_at: _,
        cert_expires_at,
        body_excerpt,
        body_truncated,
    } = r;
    Ok(serde_json::to_string(&Detail {
        check_type,
        target,
        connect_ms: *connect_ms,
        grpc_code: grpc_code.as_deref(),
        error_kind: *error_kind,
        failures,
        attempts: *attempts,
        cert_expires_at: *cert_expires_at,
        body_excerpt: body_excerpt.as_deref().filter(|_| !up),
        body_truncated: *body_truncated,
    })?)
}

fn from_row(
    check: String,
    started_at: i64,
    up: bool,
    latency_ms: f64,
    status_code: Option<u16>,
    error: Option<String>,
    detail: &str,
) -> Result<ProbeResult> {
    let mut v: serde_json::Value = serde_json::from_str(detail)?;
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("name".into(), check.into());
        m.insert("up".into(), up.into());
        m.insert("latency_ms".into(), latency_ms.into());
        m.insert("status_code".into(), status_code.into());
        m.insert("error".into(), error.into());
        m.insert(
            "started_at".into(),
            serde_json::to_value(super::to_time(started_at))?,
        );
        m.entry("error_kind").or_insert(serde_json::Value::Null);
        m.entry("cert_expires_at")
            .or_insert(serde_json::Value::Null);
    }
    Ok(serde_json::from_value(v)?)
}

/// Stores a result, run from `location` (`""` when the check runs from any);
/// `kept` ones (failures, changes of state) are pruned after the longer retention.
pub fn insert(c: &Db<'_>, row: &ResultRow, location: &str, kept: bool) -> Result<i64> {
    let r = &row.result;
    c.query_row(
        "INSERT INTO results (tenant_id, check_name, started_at, up, latency_ms, status_code, error, detail, kept, location)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![row.tenant, row.check, r.started_at.timestamp_millis(), r.up, r.latency_ms, r.status_code, r.error, detail(r)?, kept, location],
        |r| r.get(0),
    )
}

impl Store {
    /// A page of a check's results, newest first, older than `before` when given,
    /// from one `location` when given.
    pub async fn results(
        &self,
        tenant: i64,
        check: String,
        limit: u32,
        before: Option<i64>,
        location: Option<String>,
    ) -> Result<ResultPage> {
        self.read(move |c| {
            let rows = c.query_map(
                "SELECT id, check_name, started_at, up, latency_ms, status_code, error, detail, location FROM results
                 WHERE tenant_id = ?1 AND check_name = ?2 AND (CAST(?3 AS BIGINT) IS NULL OR id < ?3) AND (CAST(?5 AS TEXT) IS NULL OR location = ?5)
                 ORDER BY id DESC LIMIT ?4",
                params![tenant, check, before, i64::from(limit) + 1, location], |r| {
                Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?, r.get::<bool>(3)?, r.get::<f64>(4)?, r.get::<Option<u16>>(5)?, r.get::<Option<String>>(6)?, r.get::<String>(7)?, r.get::<String>(8)?))
            })?;
            let mut items = Vec::new();
            for row in rows {
                let (id, name, started_at, up, latency_ms, status_code, error, detail, location) = row;
                items.push(StoredResult {
                    id,
                    location: Some(location).filter(|l| !l.is_empty()),
                    result: from_row(name, started_at, up, latency_ms, status_code, error, &detail)?,
                });
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

    /// Deletes kept results (failures, changes of state) older than `keep_ms` and
    /// routine successes older than `keep_successes_ms`; returns how many. Deletes
    /// in chunks, each its own short transaction, so that an hour of results to
    /// prune never holds the single writer long enough to stall result batches.
    pub async fn prune_results(
        &self,
        now: i64,
        keep_ms: i64,
        keep_successes_ms: i64,
    ) -> Result<usize> {
        let (kept, routine) = (
            now.saturating_sub(keep_ms),
            now.saturating_sub(keep_successes_ms),
        );
        let mut total = 0;
        loop {
            let n = self
                .write(move |tx| {
                    tx.execute(
                        "DELETE FROM results WHERE id IN (SELECT id FROM results
                           WHERE started_at < ?4 AND (started_at < ?1 OR (kept = 0 AND started_at < ?2)) LIMIT ?3)",
                        // The later cutoff bound on its own: PostgreSQL cannot type
                        // `?1 > ?2` from the parameters alone.
                        params![kept, routine, PRUNE_CHUNK, kept.max(routine)],
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

    #[test]
    fn a_result_survives_the_slim_storage_round_trip() {
        let original: ProbeResult = serde_json::from_value(serde_json::json!({
            "name": "api", "type": "http", "target": "https://x/", "up": false, "latency_ms": 12.5,
            "status_code": 503, "error": "status: expected 2xx, got 503", "error_kind": "expectation",
            "failures": [{"expectation": "status", "expected": "2xx", "actual": "503"}], "attempts": 2,
            "started_at": "2026-11-21T10:00:00.123Z", "body_excerpt": "down"
        }))
        .unwrap();
        let d = detail(&original).unwrap();
        assert!(!d.contains("\"name\"") && !d.contains("started_at"), "{d}");
        let back = from_row(
            "api".into(),
            original.started_at.timestamp_millis(),
            false,
            12.5,
            Some(503),
            original.error.clone(),
            &d,
        )
        .unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn an_up_result_keeps_no_excerpt_and_no_nulls() {
        let up: ProbeResult = serde_json::from_value(serde_json::json!({
            "name": "api", "type": "http", "target": "https://x/", "up": true, "latency_ms": 3.0,
            "status_code": 200, "error": null, "error_kind": null, "attempts": 1,
            "started_at": "2026-11-21T10:00:00Z", "body_excerpt": "ok"
        }))
        .unwrap();
        let d = detail(&up).unwrap();
        assert_eq!(d, r#"{"type":"http","target":"https://x/","attempts":1}"#);
        let back = from_row(
            "api".into(),
            up.started_at.timestamp_millis(),
            true,
            3.0,
            Some(200),
            None,
            &d,
        )
        .unwrap();
        assert_eq!(
            back,
            ProbeResult {
                body_excerpt: None,
                ..up
            }
        );
    }

    /// Pruning: kept results (failures, changes of state) go after the longer
    /// retention, routine successes after the shorter one, in chunks however
    /// many there are; the rest stays.
    async fn old_results_go_by_their_retention_in_chunks(backend: crate::daemon::store::Backend) {
        let (_dir, store) = crate::daemon::store::test_store(backend);
        const NOW: i64 = 10_000_000_000;
        let (keep_ms, keep_successes_ms) = (1_000_000, 100_000);
        let row = |at: i64| {
            ResultRow {
            tenant: 1,
            check: "api".into(),
            result: serde_json::from_value(serde_json::json!({
                "name": "api", "type": "http", "target": "https://x/", "up": true, "latency_ms": 3.0,
                "status_code": 200, "error": null, "error_kind": null, "attempts": 1,
                "started_at": chrono::DateTime::from_timestamp_millis(at).unwrap(),
            }))
            .unwrap(),
        }
        };
        let mut rows: Vec<(i64, bool)> = vec![
            (NOW - 2_000_000, true), // kept, past the longer retention: goes
            (NOW - 500_000, true),   // kept, within it: stays
            (NOW - 500_000, false),  // routine, past the shorter one: goes
            (NOW - 50_000, false),   // routine, within it: stays
        ];
        // More than a chunk of old routine results.
        rows.extend((0..PRUNE_CHUNK + 1).map(|i| (NOW - 3_000_000 - i, false)));
        let rows: Vec<(ResultRow, bool)> =
            rows.into_iter().map(|(at, kept)| (row(at), kept)).collect();
        store
            .write(move |tx| {
                for (r, kept) in &rows {
                    insert(tx, r, "", *kept)?;
                }
                Ok(())
            })
            .await
            .expect("insert");
        let pruned = store
            .prune_results(NOW, keep_ms, keep_successes_ms)
            .await
            .expect("prune");
        assert_eq!(pruned, 2 + PRUNE_CHUNK as usize + 1);
        let left: Vec<(i64, bool)> = store
            .read(|c| {
                c.query_map(
                    "SELECT started_at, kept FROM results ORDER BY started_at",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
            .expect("read");
        assert_eq!(left, [(NOW - 500_000, true), (NOW - 50_000, false)]);
    }

    crate::daemon::store::on_both_backends!(old_results_go_by_their_retention_in_chunks);
}
