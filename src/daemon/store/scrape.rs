//! What `/metrics` reads from the store at scrape time: per-check state, tenant
//! names, open incidents, user accounts, active API keys and the outbox's depth. Read at scrape
//! time rather than kept in memory, so that deleted checks disappear from the
//! output and every tenant appears by its current name.

use std::collections::HashMap;

use super::{Result, Store, now_ms};

/// One check's last run, as the per-check series show it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSeries {
    pub tenant: String,
    pub name: String,
    /// The check's `type` (`http`, `tcp`, …).
    pub check_type: String,
    /// Whether it is scheduled: enabled in its spec and not paused.
    pub active: bool,
    /// The last run's outcome; `None` before the first run.
    pub last_up: Option<bool>,
    pub last_latency_ms: Option<f64>,
    /// When the certificate seen on the last run that saw one expires (Unix ms).
    pub last_cert_expires_at: Option<i64>,
}

/// One location's last run of a check that runs from several.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationSeries {
    pub tenant: String,
    pub check: String,
    pub location: String,
    pub up: bool,
    /// When that run started (Unix ms).
    pub at_ms: i64,
}

/// Everything a scrape reads, in one pass over one read connection.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub checks: Vec<CheckSeries>,
    /// Of the shown checks (run, scheduled) that list several locations: each
    /// listed location that has run it.
    pub locations: Vec<LocationSeries>,
    /// Every tenant by id, for the labels of counters kept in memory.
    pub tenants: HashMap<i64, String>,
    /// Unresolved incidents per tenant id.
    pub open_incidents: HashMap<i64, i64>,
    /// API keys neither revoked nor expired, per tenant id.
    pub active_keys: HashMap<i64, i64>,
    /// User accounts (rows of `users`), per tenant id.
    pub users: HashMap<i64, i64>,
    /// Outbox rows waiting to be sent and due now.
    pub outbox_due: i64,
    /// Outbox rows waiting for a later attempt (a retry or a rate limit).
    pub outbox_deferred: i64,
}

/// The per-check query: one row per stored check, whatever the number of checks.
/// Checks that never ran have no `check_state` row, hence the left join. A spec
/// that is not JSON would fail the whole query: that check has no series (the
/// store logs and counts it wherever it is read).
const CHECKS: &str = "
    SELECT t.name, r.name,
           coalesce(json_extract(r.spec, '$.type'), ''),
           COALESCE(CAST(json_extract(r.spec, '$.enabled') AS TEXT), 'true') NOT IN ('0', 'false') AND coalesce(s.paused, 0) = 0,
           s.last_up, s.last_latency_ms, s.last_cert_expires_at,
           json_extract(r.spec, '$.locations')
    FROM resources r
    JOIN tenants t ON t.id = r.tenant_id
    LEFT JOIN check_state s ON s.tenant_id = r.tenant_id AND s.name = r.name
    WHERE r.kind = 'Check' AND json_valid(r.spec)";

/// Each location's latest run of each check (kept only for the locations the
/// check lists now, and only while it lists several: a row of a location dropped
/// from the list stays until the check goes).
const LOCATIONS: &str = "
    SELECT t.name, l.check_name, l.location, l.up, l.at
    FROM location_state l JOIN tenants t ON t.id = l.tenant_id";

impl Store {
    /// Reads what a scrape shows; a handful of statements on one connection, none of
    /// them per check.
    pub async fn scrape(&self) -> Result<Snapshot> {
        let now = now_ms();
        self.read(move |c| {
            let mut out = Snapshot::default();
            // The locations of shown checks that run from several, by tenant and name.
            let mut several: HashMap<(String, String), Vec<String>> = HashMap::new();
            let mut stmt = c.prepare_cached(CHECKS)?;
            let rows = stmt.query_map([], |r| {
                let c = CheckSeries {
                    tenant: r.get(0)?,
                    name: r.get(1)?,
                    check_type: r.get(2)?,
                    active: r.get(3)?,
                    last_up: r.get(4)?,
                    last_latency_ms: r.get(5)?,
                    last_cert_expires_at: r.get(6)?,
                };
                if let Some(listed) = r
                    .get::<Option<String>>(7)?
                    .and_then(|j| serde_json::from_str::<Vec<String>>(&j).ok())
                    .filter(|l| l.len() > 1 && c.active && c.last_up.is_some())
                {
                    several.insert((c.tenant.clone(), c.name.clone()), listed);
                }
                Ok(c)
            })?;
            out.checks = rows.collect::<Result<_>>()?;

            let mut located = Vec::new();
            if !several.is_empty() {
                c.prepare_cached(LOCATIONS)?.for_each([], |r| {
                let (tenant, check, location): (String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                if several
                    .get(&(tenant.clone(), check.clone()))
                    .is_some_and(|listed| listed.contains(&location))
                {
                    located.push(LocationSeries {
                        tenant,
                        check,
                        location,
                        up: r.get(3)?,
                        at_ms: r.get(4)?,
                    });
                }
                Ok(())
            })?;
            }
            out.locations = located;

            let pairs = |sql: &str| -> Result<HashMap<i64, i64>> {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_>>()
            };
            out.open_incidents = pairs(
                "SELECT tenant_id, count(*) FROM incidents WHERE status != 'resolved' GROUP BY tenant_id",
            )?;
            let mut stmt = c.prepare_cached(
                "SELECT tenant_id, count(*) FROM api_keys
                 WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1) GROUP BY tenant_id",
            )?;
            let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
            out.active_keys = rows.collect::<Result<_>>()?;
            // The `users_by_email` index starts with the tenant: counted from it.
            out.users = pairs("SELECT tenant_id, count(*) FROM users GROUP BY tenant_id")?;

            let mut stmt = c.prepare_cached("SELECT id, name FROM tenants")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            out.tenants = rows.collect::<Result<_>>()?;

            // Both counts walk the `outbox_due` index over pending rows only, so they
            // cost the queue's depth, not the outbox's history.
            let mut stmt = c.prepare_cached(
                "SELECT count(*) FILTER (WHERE next_attempt_at <= ?1), count(*) FILTER (WHERE next_attempt_at > ?1)
                 FROM outbox WHERE status = 'pending'",
            )?;
            (out.outbox_due, out.outbox_deferred) =
                stmt.query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::{Backend, on_both_backends};

    async fn store(backend: Backend) -> (tempfile::TempDir, Store) {
        let (dir, store) = crate::daemon::store::test_store(backend);
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        (dir, store)
    }

    fn add_check(tx: &crate::daemon::store::Db<'_>, name: &str, spec: &str) -> Result<()> {
        tx.execute(
            "INSERT INTO resources (tenant_id, kind, name, spec, updated_at) VALUES (1, 'Check', ?1, ?2, 0)",
            rusqlite::params![name, spec],
        )?;
        Ok(())
    }

    async fn a_scrape_joins_checks_with_their_state_type_and_tenant_name(backend: Backend) {
        let (_dir, store) = store(backend).await;
        store
            .write(|tx| {
                add_check(tx, "never", r#"{"type":"tcp","enabled":true}"#)?;
                add_check(tx, "off", r#"{"type":"http","enabled":false}"#)?;
                add_check(tx, "ran", r#"{"type":"http","enabled":true}"#)?;
                add_check(tx, "paused", r#"{"type":"dns","enabled":true}"#)?;
                tx.execute(
                    "INSERT INTO resources (tenant_id, kind, name, spec, updated_at) VALUES (1, 'Channel', 'ran', '{\"type\":\"slack\"}', 0)",
                    [],
                )?;
                tx.execute(
                    "INSERT INTO check_state (tenant_id, name, last_up, last_latency_ms, last_cert_expires_at) VALUES (1, 'ran', 0, 12.5, 1700000000000)",
                    [],
                )?;
                tx.execute(
                    "INSERT INTO check_state (tenant_id, name, paused, last_up, last_latency_ms) VALUES (1, 'paused', 1, 1, 3.0)",
                    [],
                )?;
                // State left behind by a check no longer defined is not shown.
                tx.execute(
                    "INSERT INTO check_state (tenant_id, name, last_up) VALUES (1, 'gone', 1)",
                    [],
                )?;
                Ok(())
            })
            .await
            .expect("rows");
        let mut snap = store.scrape().await.expect("scrape");
        snap.checks.sort_by(|a, b| a.name.cmp(&b.name));
        let row = |name: &str, check_type: &str, active, last_up, latency, cert| CheckSeries {
            tenant: "default".into(),
            name: name.into(),
            check_type: check_type.into(),
            active,
            last_up,
            last_latency_ms: latency,
            last_cert_expires_at: cert,
        };
        assert_eq!(
            snap.checks,
            vec![
                row("never", "tcp", true, None, None, None),
                row("off", "http", false, None, None, None),
                row("paused", "dns", false, Some(true), Some(3.0), None),
                row(
                    "ran",
                    "http",
                    true,
                    Some(false),
                    Some(12.5),
                    Some(1_700_000_000_000)
                ),
            ]
        );
        assert_eq!(snap.tenants.get(&1).map(String::as_str), Some("default"));
        assert_eq!(snap.active_keys.get(&1), Some(&1));
        assert_eq!(snap.users.get(&1), None);
        assert_eq!((snap.outbox_due, snap.outbox_deferred), (0, 0));
    }

    /// The scrape's cost at scale: 10,000 checks come back from the one query. The
    /// time is printed (`--nocapture`), not asserted.
    async fn ten_thousand_checks_are_one_scrape(backend: Backend) {
        const CHECKS: usize = 10_000;
        let (_dir, store) = store(backend).await;
        store
            .write(|tx| {
                let spec = serde_json::json!({
                    "type": "http", "enabled": true, "target": "https://example.com/health",
                    "schedule": "30s", "timeout": "10s", "retries": 2, "labels": {"team": "payments"},
                    "http": {"method": "GET", "headers": {"accept": "application/json"}},
                    "expect": {"status": [200]}, "alert": {"channels": ["ops"], "failure_threshold": 3}
                })
                .to_string();
                for i in 0..CHECKS {
                    let name = format!("check-{i:05}");
                    add_check(tx, &name, &spec)?;
                    tx.execute(
                        "INSERT INTO check_state (tenant_id, name, last_up, last_latency_ms, last_cert_expires_at) VALUES (1, ?1, ?2, 42.0, 1700000000000)",
                        rusqlite::params![name, i % 7 != 0],
                    )?;
                }
                Ok(())
            })
            .await
            .expect("rows");
        let started = std::time::Instant::now();
        let snapshot = store.scrape().await.expect("scrape");
        let read = started.elapsed();
        let metrics = crate::daemon::metrics::Metrics::new();
        assert_eq!(snapshot.checks.len(), CHECKS);
        let body = metrics.render(
            std::sync::Arc::new(snapshot),
            0,
            crate::daemon::metrics::Format::Text,
        );
        let total = started.elapsed();
        let up_lines = body
            .lines()
            .filter(|l| l.starts_with("uptime_check_up{"))
            .count();
        assert_eq!(up_lines, CHECKS);
        eprintln!(
            "scrape of {CHECKS} checks: store read {read:?}, with rendering {total:?}, {} bytes",
            body.len()
        );
    }

    on_both_backends!(
        a_scrape_joins_checks_with_their_state_type_and_tenant_name,
        ten_thousand_checks_are_one_scrape,
    );
}
