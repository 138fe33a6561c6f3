//! Desired state: the resources a tenant has applied, their owners, and the
//! tenant's state revision (bumped by every apply that changes something).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::{Result, Store, StoreError, now_ms};
use crate::spec::Kind;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub kind: Kind,
    pub name: String,
    /// Canonical spec, secrets in the clear (they are needed to probe and notify).
    pub spec: Value,
    pub secrets: BTreeSet<String>,
    pub source: Option<String>,
    pub file: Option<String>,
    pub line: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct TenantState {
    pub revision: u64,
    pub resources: Vec<StoredResource>,
    /// The addresses other tenants' status pages hold: `/status/{slug}` and a
    /// `Host` name have no tenant in them, so each belongs to one page of the daemon.
    pub other_pages: Vec<PageAddress>,
}

/// Where a status page is served: its slug, and its host name if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAddress {
    pub slug: String,
    pub domain: Option<String>,
}

fn kind_of(s: &str) -> Kind {
    s.parse().unwrap_or(Kind::Check)
}

/// Loads a tenant's state on `c` (inside a write transaction for a consistent apply).
pub fn load_state(c: &Connection, tenant: i64) -> Result<TenantState> {
    let revision: i64 = c
        .query_row(
            "SELECT revision FROM tenants WHERE id = ?1",
            [tenant],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no tenant {tenant}")))?;
    let resources = list(c, tenant, None, None)?;
    let mut stmt = c.prepare_cached(
        "SELECT json_extract(spec, '$.slug'), json_extract(spec, '$.domain') FROM resources
         WHERE kind = 'StatusPage' AND tenant_id != ?1",
    )?;
    let other_pages = stmt
        .query_map([tenant], |r| {
            Ok(PageAddress {
                slug: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                domain: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(TenantState {
        revision: revision as u64,
        resources,
        other_pages,
    })
}

/// Resources of a tenant, optionally of one kind and one name.
fn list(
    c: &Connection,
    tenant: i64,
    kind: Option<Kind>,
    name: Option<&str>,
) -> Result<Vec<StoredResource>> {
    let mut stmt = c.prepare_cached(
        "SELECT kind, name, spec, secrets, source, file, line FROM resources
         WHERE tenant_id = ?1 AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR name = ?3) ORDER BY kind, name",
    )?;
    let rows = stmt.query_map(params![tenant, kind.map(|k| k.as_str()), name], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, name, spec, secrets, source, file, line) = row?;
        out.push(StoredResource {
            kind: kind_of(&kind),
            name,
            spec: serde_json::from_str(&spec)?,
            secrets: serde_json::from_str(&secrets)?,
            source,
            file,
            line,
        });
    }
    Ok(out)
}

pub fn upsert(c: &Connection, tenant: i64, r: &StoredResource) -> Result<()> {
    // A disabled check that is enabled again starts afresh like a resumed one: the
    // time it was off stays unknown.
    let enabled_again = r.kind == Kind::Check
        && enabled(&r.spec)
        && c.prepare_cached(
            "SELECT coalesce(json_extract(spec, '$.enabled'), 1) = 0 FROM resources
             WHERE tenant_id = ?1 AND kind = 'Check' AND name = ?2",
        )?
        .query_row(params![tenant, r.name], |row| row.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false);
    c.execute(
        "INSERT INTO resources (tenant_id, kind, name, spec, secrets, source, file, line, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant_id, kind, name) DO UPDATE SET
           spec = excluded.spec, secrets = excluded.secrets, source = excluded.source,
           file = excluded.file, line = excluded.line, updated_at = excluded.updated_at",
        params![tenant, r.kind.as_str(), r.name, r.spec.to_string(), serde_json::to_string(&r.secrets)?, r.source, r.file, r.line, now_ms()],
    )?;
    if r.kind == Kind::Check {
        c.execute(
            "INSERT OR IGNORE INTO check_state (tenant_id, name, covered_from, created_at) VALUES (?1, ?2, ?3, ?3)",
            params![tenant, r.name, now_ms()],
        )?;
        if enabled_again {
            c.execute(
                "UPDATE check_state SET covered_from = ?3 WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, r.name, now_ms()],
            )?;
        }
    }
    Ok(())
}

/// Whether a stored check's spec has it scheduled (`enabled` is true unless said).
fn enabled(spec: &Value) -> bool {
    spec.get("enabled").and_then(Value::as_bool).unwrap_or(true)
}

pub fn delete(c: &rusqlite::Transaction<'_>, tenant: i64, kind: Kind, name: &str) -> Result<bool> {
    if kind == Kind::Check {
        super::incidents::resolve_for_removed_check(c, tenant, name)?;
    }
    let n = c.execute(
        "DELETE FROM resources WHERE tenant_id = ?1 AND kind = ?2 AND name = ?3",
        params![tenant, kind.as_str(), name],
    )?;
    if kind == Kind::Check {
        c.execute(
            "DELETE FROM check_state WHERE tenant_id = ?1 AND name = ?2",
            params![tenant, name],
        )?;
        // Its raw results go with it; its rollups stay until their retention,
        // under a series id no check has any more: a check created again under
        // this name starts afresh.
        c.execute(
            "DELETE FROM results WHERE tenant_id = ?1 AND check_name = ?2",
            params![tenant, name],
        )?;
        c.execute(
            "DELETE FROM series WHERE tenant_id = ?1 AND check_name = ?2",
            params![tenant, name],
        )?;
    }
    Ok(n > 0)
}

pub fn bump_revision(c: &Connection, tenant: i64) -> Result<u64> {
    c.execute(
        "UPDATE tenants SET revision = revision + 1 WHERE id = ?1",
        [tenant],
    )?;
    let rev: i64 = c.query_row(
        "SELECT revision FROM tenants WHERE id = ?1",
        [tenant],
        |r| r.get(0),
    )?;
    Ok(rev as u64)
}

impl Store {
    pub async fn resources(&self, tenant: i64, kind: Option<Kind>) -> Result<Vec<StoredResource>> {
        self.read(move |c| list(c, tenant, kind, None)).await
    }

    pub async fn resource(
        &self,
        tenant: i64,
        kind: Kind,
        name: String,
    ) -> Result<Option<StoredResource>> {
        self.read(move |c| Ok(list(c, tenant, Some(kind), Some(&name))?.into_iter().next()))
            .await
    }

    /// Every check of every tenant, for the scheduler.
    pub async fn all_checks(&self) -> Result<Vec<(i64, StoredResource, bool)>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT r.tenant_id, r.name, r.spec, r.secrets, r.source, r.file, r.line, COALESCE(s.paused, 0)
                 FROM resources r LEFT JOIN check_state s ON s.tenant_id = r.tenant_id AND s.name = r.name
                 WHERE r.kind = 'Check'",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get::<_, bool>(7)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (tenant, name, spec, secrets, source, file, line, paused) = row?;
                let res = StoredResource { kind: Kind::Check, name, spec: serde_json::from_str(&spec)?, secrets: serde_json::from_str(&secrets)?, source, file, line };
                out.push((tenant, res, paused));
            }
            Ok(out)
        })
        .await
    }

    /// Deletes one check outside plan/apply (the API's DELETE), bumping the revision.
    pub async fn delete_check(&self, tenant: i64, name: String) -> Result<bool> {
        self.write_changing(move |tx| {
            let gone = delete(tx, tenant, Kind::Check, &name)?;
            if gone {
                bump_revision(tx, tenant)?;
            }
            Ok((gone, gone))
        })
        .await
    }

    pub async fn set_paused(&self, tenant: i64, name: String, paused: bool) -> Result<bool> {
        self.write_changing(move |tx| {
            let changed = tx.execute(
                // A resumed check's first result stands for no time before the
                // resume: the paused span stays unknown.
                // A second pause keeps the first one's moment.
                "UPDATE check_state SET paused = ?3, covered_from = CASE WHEN ?3 THEN covered_from ELSE ?4 END,
                    paused_at = CASE WHEN ?3 THEN coalesce(paused_at, ?4) END
                 WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, name, paused, now_ms()],
            )? > 0;
            Ok((changed, changed))
        })
        .await
    }
}

/// A change to desired state, made by an apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Upsert(StoredResource),
    Delete(Kind, String),
}

/// What an apply's decision function found: a value to return, and the edits to make.
pub type Decision<T> = std::result::Result<(T, Vec<Edit>), T>;

impl Store {
    /// Loads a tenant's state and lets `decide` compute edits from it, inside one write
    /// transaction: the state cannot move between the decision and the edits. `Ok`
    /// edits are written and bump the revision (when there are any); `Err` writes nothing.
    /// Returns the decision's value and the revision afterwards.
    pub async fn transact_state<T, F>(
        &self,
        tenant: i64,
        decide: F,
    ) -> Result<(std::result::Result<T, T>, u64)>
    where
        T: Send + 'static,
        F: FnOnce(&TenantState) -> Decision<T> + Send + 'static,
    {
        self.write_changing(move |tx| {
            let state = load_state(tx, tenant)?;
            match decide(&state) {
                Err(value) => Ok(((Err(value), state.revision), false)),
                Ok((value, edits)) if edits.is_empty() => Ok(((Ok(value), state.revision), false)),
                Ok((value, edits)) => {
                    for e in &edits {
                        match e {
                            Edit::Upsert(r) => upsert(tx, tenant, r)?,
                            Edit::Delete(kind, name) => {
                                delete(tx, tenant, *kind, name)?;
                            }
                        }
                    }
                    Ok(((Ok(value), bump_revision(tx, tenant)?), true))
                }
            }
        })
        .await
    }
}

/// What the daemon knows of a check's runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckRuntime {
    pub paused: bool,
    pub last_run_at: Option<i64>,
    pub last_up: Option<bool>,
    pub last_latency_ms: Option<f64>,
    pub last_error: Option<String>,
    /// The incident not yet resolved, if any.
    pub open_incident: Option<i64>,
}

impl Store {
    /// Runtime state of every check of a tenant, or of the one named `only`.
    pub async fn check_runtimes(
        &self,
        tenant: i64,
        only: Option<String>,
    ) -> Result<std::collections::HashMap<String, CheckRuntime>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.name, s.paused, s.last_run_at, s.last_up, s.last_latency_ms, s.last_error,
                        (SELECT id FROM incidents i WHERE i.tenant_id = s.tenant_id AND i.check_name = s.name AND i.status != 'resolved' ORDER BY i.kind != 'down', i.id LIMIT 1)
                 FROM check_state s WHERE s.tenant_id = ?1 AND (?2 IS NULL OR s.name = ?2)",
            )?;
            let rows = stmt.query_map(params![tenant, only], |r| {
                Ok((r.get::<_, String>(0)?, CheckRuntime { paused: r.get(1)?, last_run_at: r.get(2)?, last_up: r.get(3)?, last_latency_ms: r.get(4)?, last_error: r.get(5)?, open_incident: r.get(6)? }))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Names of all tenants by id, for labels.
    pub async fn tenant_names(&self) -> Result<std::collections::HashMap<i64, String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, name FROM tenants")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}
