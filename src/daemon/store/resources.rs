//! Desired state: the resources a tenant has applied, their owners, and the
//! tenant's state revision (bumped by every apply that changes something).
//!
//! Every read of `resources` rows goes through [`decode::row`]: callers get typed
//! resources, and rows that cannot be read come back apart as [`Unreadable`],
//! logged and counted, never as a default or not at all.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Db, Optional};
use rusqlite::params;
use serde_json::Value;

use super::decode::{self, RAW_COLUMNS, Raw, Unreadable};
use super::{Result, Store, StoreError, now_ms};
use crate::spec::{Channel, Check, Kind, Maintenance, Spec, StatusPage, Template};

/// One resource as stored, decoded once by the store's row reader.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub kind: Kind,
    pub name: String,
    /// Canonical spec, secrets in the clear (they are needed to probe and notify).
    /// Kept for what needs the JSON: diffs, masked output, redaction.
    pub spec: Value,
    /// `spec` typed; always of `kind`. Shared, since schedulers and notifiers
    /// keep it while rows come and go.
    pub typed: Arc<Spec>,
    pub secrets: BTreeSet<String>,
    pub source: Option<String>,
    pub file: Option<String>,
    pub line: Option<i64>,
}

impl StoredResource {
    /// A resource to write from its canonical JSON (`kind` and `name` included),
    /// typed as a read would type it: what cannot be read back is not written.
    pub fn from_json(spec: Value) -> Result<StoredResource> {
        let field = |f: &str| {
            spec.get(f)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| StoreError::Corrupt(format!("a resource to store has no `{f}`")))
        };
        let kind = decode::kind(&field("kind")?)?;
        let name = field("name")?;
        let typed = decode::typed(kind, &name, &spec)?;
        Ok(StoredResource::new(typed, spec))
    }

    /// A resource to write from its typed form and the canonical JSON of it.
    pub fn new(typed: Spec, spec: Value) -> StoredResource {
        StoredResource {
            kind: typed.kind(),
            name: typed.name().to_string(),
            spec,
            typed: Arc::new(typed),
            secrets: BTreeSet::new(),
            source: None,
            file: None,
            line: None,
        }
    }

    pub fn as_check(&self) -> Option<&Check> {
        match &*self.typed {
            Spec::Check(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_channel(&self) -> Option<&Channel> {
        match &*self.typed {
            Spec::Channel(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_template(&self) -> Option<&Template> {
        match &*self.typed {
            Spec::Template(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_maintenance(&self) -> Option<&Maintenance> {
        match &*self.typed {
            Spec::Maintenance(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_status_page(&self) -> Option<&StatusPage> {
        match &*self.typed {
            Spec::StatusPage(p) => Some(p),
            _ => None,
        }
    }

    /// The spec with its secrets masked, for output.
    pub fn masked(&self) -> Value {
        crate::spec::secrets::masked(&self.spec, &self.secrets)
    }

    /// Whether the value at JSON pointer `pointer` is (or lies inside) a secret,
    /// so that output built from the typed spec masks what [`masked`](Self::masked) would.
    pub fn is_secret(&self, pointer: &str) -> bool {
        self.secrets.iter().any(|s| {
            pointer == s
                || pointer
                    .strip_prefix(s.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// `value`, the typed value at `pointer`, or the mask if it is secret.
    pub fn shown(&self, pointer: &str, value: &str) -> String {
        if self.is_secret(pointer) {
            crate::spec::secrets::MASK.to_string()
        } else {
            value.to_string()
        }
    }
}

/// A kind's resources: the readable ones, and apart those that cannot be read.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub resources: Vec<StoredResource>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Clone, Default)]
pub struct TenantState {
    pub revision: u64,
    /// Every readable resource of the tenant, whole only where the load asked.
    pub resources: Vec<StateRow>,
    /// Rows of this tenant that cannot be read: a plan shows them, and an apply may
    /// replace or prune them, so that one bad row locks nobody out.
    pub unreadable: Vec<Unreadable>,
    /// The addresses other tenants' status pages hold: `/status/{slug}` and a
    /// `Host` name have no tenant in them, so each belongs to one page of the daemon.
    pub other_pages: Vec<PageAddress>,
}

/// One readable resource of a tenant's state: what an apply weighs of every resource
/// (its name, owner, references and page address), and the whole resource only
/// where the load was asked for it. A tenant of 100,000 checks applying a few
/// would otherwise hold 100,000 parsed specs through the transaction.
#[derive(Debug, Clone)]
pub struct StateRow {
    pub kind: Kind,
    pub name: String,
    pub source: Option<String>,
    /// Every name it refers to, as [`crate::spec::remote::references`] lists them.
    pub references: Vec<(&'static str, Kind, String)>,
    /// Where it is served, for a status page.
    pub page: Option<Box<PageAddress>>,
    /// Boxed, as are pages: most rows have neither, and a state holds a row per
    /// resource of the tenant (at 100,000 checks, 30 MB inline against 10 MB).
    pub full: Option<Box<StoredResource>>,
}

impl StateRow {
    fn of(r: StoredResource, whole: bool) -> StateRow {
        let page = match &*r.typed {
            Spec::StatusPage(p) => Some(Box::new(PageAddress {
                slug: p.slug.clone(),
                domain: p.domain.clone(),
            })),
            _ => None,
        };
        StateRow {
            kind: r.kind,
            name: r.name.clone(),
            source: r.source.clone(),
            references: crate::spec::remote::references(&r.typed),
            page,
            full: whole.then(|| Box::new(r)),
        }
    }
}

/// Which resources a load of a tenant's state reads whole, by kind, name and owner.
pub type Whole = dyn Fn(Kind, &str, Option<&str>) -> bool + Send + Sync;

/// Where a status page is served: its slug, and its host name if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAddress {
    pub slug: String,
    pub domain: Option<String>,
}

/// Loads a tenant's state on `c` (inside a write transaction for a consistent apply),
/// holding whole only the resources `whole` names: each row is decoded, weighed and
/// dropped in turn.
pub fn load_state(c: &Db<'_>, tenant: i64, whole: &Whole) -> Result<TenantState> {
    let revision: i64 = c
        .query_row(
            "SELECT revision FROM tenants WHERE id = ?1",
            [tenant],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no tenant {tenant}")))?;
    let mut resources = Vec::new();
    let mut unreadable = Vec::new();
    each(c, tenant, None, None, |row| match row {
        Ok(r) => {
            let keep = whole(r.kind, &r.name, r.source.as_deref());
            resources.push(StateRow::of(r, keep));
        }
        Err(bad) => unreadable.push(*bad),
    })?;
    let mut stmt = c.prepare_cached(
        // A spec that is not JSON would fail the query, and with it every apply of
        // this tenant: such a page holds no address.
        "SELECT json_extract(spec, '$.slug'), json_extract(spec, '$.domain') FROM resources
         WHERE kind = 'StatusPage' AND tenant_id != ?1 AND json_valid(spec)",
    )?;
    let other_pages = stmt
        .query_map([tenant], |r| {
            Ok(PageAddress {
                slug: r.get::<Option<String>>(0)?.unwrap_or_default(),
                domain: r.get(1)?,
            })
        })?
        .collect::<Result<_>>()?;
    Ok(TenantState {
        revision: revision as u64,
        resources,
        unreadable,
        other_pages,
    })
}

/// Resources of a tenant, optionally of one kind and one name, ordered by kind and name.
pub fn list(c: &Db<'_>, tenant: i64, kind: Option<Kind>, name: Option<&str>) -> Result<Listing> {
    let mut out = Listing::default();
    each(c, tenant, kind, name, |row| match row {
        Ok(r) => out.resources.push(r),
        Err(bad) => out.unreadable.push(*bad),
    })?;
    Ok(out)
}

/// [`list`], handing each row to `f` as it is decoded instead of collecting them.
fn each(
    c: &Db<'_>,
    tenant: i64,
    kind: Option<Kind>,
    name: Option<&str>,
    mut f: impl FnMut(std::result::Result<StoredResource, Box<Unreadable>>),
) -> Result<()> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {RAW_COLUMNS} FROM resources r
         WHERE r.tenant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR r.kind = ?2) AND (CAST(?3 AS TEXT) IS NULL OR r.name = ?3)
         ORDER BY r.kind, r.name"
    ))?;
    let rows = stmt.query_map(params![tenant, kind.map(|k| k.as_str()), name], |r| {
        Raw::from_row(r, 0)
    })?;
    for row in rows {
        f(decode::row(row?));
    }
    Ok(())
}

/// The resource `kind`/`name` of `tenant`, if there is one; a row that cannot be
/// read is [`StoreError::Corrupt`] naming it.
pub fn one(c: &Db<'_>, tenant: i64, kind: Kind, name: &str) -> Result<Option<StoredResource>> {
    let Listing {
        mut resources,
        unreadable,
    } = list(c, tenant, Some(kind), Some(name))?;
    match unreadable.first() {
        Some(bad) => Err(bad.error()),
        None => Ok(resources.pop()),
    }
}

/// A resource with its tenant's id.
pub type OfTenant = (i64, StoredResource);

/// Every resource of `kind` of every tenant, with its tenant; and apart those
/// that cannot be read.
pub fn every(c: &Db<'_>, kind: Kind) -> Result<(Vec<OfTenant>, Vec<Unreadable>)> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {RAW_COLUMNS} FROM resources r WHERE r.kind = ?1 ORDER BY r.tenant_id, r.name"
    ))?;
    let rows = stmt.query_map([kind.as_str()], |r| Raw::from_row(r, 0))?;
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for row in rows {
        let raw = row?;
        let tenant = raw.tenant;
        match decode::row(raw) {
            Ok(r) => good.push((tenant, r)),
            Err(b) => bad.push(*b),
        }
    }
    Ok((good, bad))
}

pub fn upsert(c: &Db<'_>, tenant: i64, r: &StoredResource) -> Result<()> {
    // A disabled check that is enabled again starts afresh like a resumed one: the
    // time it was off stays unknown.
    let enabled_again = r.as_check().is_some_and(|c| c.enabled)
        && c.prepare_cached(&format!(
            // A stored spec that is not JSON is being replaced: it was not disabled.
            "SELECT CASE WHEN json_valid(spec) THEN NOT ({}) ELSE 1 = 0 END FROM resources
             WHERE tenant_id = ?1 AND kind = 'Check' AND name = ?2",
            super::sql::spec_enabled("spec")
        ))?
        .query_row(params![tenant, r.name], |row| row.get::<bool>(0))
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
            "INSERT INTO check_state (tenant_id, name, covered_from, created_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING",
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

pub fn delete(c: &Db<'_>, tenant: i64, kind: Kind, name: &str) -> Result<bool> {
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
        c.execute(
            "DELETE FROM location_state WHERE tenant_id = ?1 AND check_name = ?2",
            params![tenant, name],
        )?;
    }
    Ok(n > 0)
}

pub fn bump_revision(c: &Db<'_>, tenant: i64) -> Result<u64> {
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
    /// The readable resources of a tenant (of one kind, if given). Rows that cannot
    /// be read are logged and counted, and left out: use [`listing`](Self::listing)
    /// to show them.
    pub async fn resources(&self, tenant: i64, kind: Option<Kind>) -> Result<Vec<StoredResource>> {
        Ok(self.listing(tenant, kind).await?.resources)
    }

    /// A tenant's resources (of one kind, if given), readable and not.
    pub async fn listing(&self, tenant: i64, kind: Option<Kind>) -> Result<Listing> {
        self.read(move |c| list(c, tenant, kind, None)).await
    }

    /// One resource; [`StoreError::Corrupt`] naming it if it cannot be read.
    pub async fn resource(
        &self,
        tenant: i64,
        kind: Kind,
        name: String,
    ) -> Result<Option<StoredResource>> {
        self.read(move |c| one(c, tenant, kind, &name)).await
    }

    /// Every readable check of every tenant, for the scheduler, with whether it is
    /// paused. A check that cannot be read is logged and counted and not scheduled:
    /// the others still are.
    pub async fn all_checks(&self) -> Result<Vec<(i64, StoredResource, bool)>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {RAW_COLUMNS}, COALESCE(s.paused, 0)
                 FROM resources r LEFT JOIN check_state s ON s.tenant_id = r.tenant_id AND s.name = r.name
                 WHERE r.kind = 'Check'"
            ))?;
            let rows = stmt.query_map([], |r| Ok((Raw::from_row(r, 0)?, r.get::<bool>(8)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (raw, paused) = row?;
                let tenant = raw.tenant;
                match decode::row(raw) {
                    Ok(res) => out.push((tenant, res, paused)),
                    // Logged and counted by the row reader.
                    Err(_) => continue,
                }
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
                "UPDATE check_state SET paused = ?3, covered_from = CASE WHEN CAST(?3 AS BIGINT) = 1 THEN covered_from ELSE ?4 END,
                    paused_at = CASE WHEN CAST(?3 AS BIGINT) = 1 THEN coalesce(paused_at, ?4) END
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
        self.transact_state_of(tenant, Box::new(|_, _, _| true), decide)
            .await
    }

    /// [`Store::transact_state`] holding whole only the resources `whole` names.
    pub async fn transact_state_of<T, F>(
        &self,
        tenant: i64,
        whole: Box<Whole>,
        decide: F,
    ) -> Result<(std::result::Result<T, T>, u64)>
    where
        T: Send + 'static,
        F: FnOnce(&TenantState) -> Decision<T> + Send + 'static,
    {
        let (value, revision, _) = self.transact_state_keeping(tenant, whole, decide).await?;
        Ok((value, revision))
    }

    /// [`Store::transact_state_of`] that gives back the edits it wrote, in their
    /// order, so that a caller can use what it moved into them.
    pub async fn transact_state_keeping<T, F>(
        &self,
        tenant: i64,
        whole: Box<Whole>,
        decide: F,
    ) -> Result<(std::result::Result<T, T>, u64, Vec<Edit>)>
    where
        T: Send + 'static,
        F: FnOnce(&TenantState) -> Decision<T> + Send + 'static,
    {
        self.write_changing(move |tx| {
            let state = load_state(tx, tenant, &*whole)?;
            match decide(&state) {
                Err(value) => Ok(((Err(value), state.revision, Vec::new()), false)),
                Ok((value, edits)) if edits.is_empty() => {
                    Ok(((Ok(value), state.revision, edits), false))
                }
                Ok((value, edits)) => {
                    // The state is not read again: its rows go before the writes.
                    drop(state);
                    for e in &edits {
                        match e {
                            Edit::Upsert(r) => upsert(tx, tenant, r)?,
                            Edit::Delete(kind, name) => {
                                delete(tx, tenant, *kind, name)?;
                            }
                        }
                    }
                    Ok(((Ok(value), bump_revision(tx, tenant)?, edits), true))
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
                 FROM check_state s WHERE s.tenant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR s.name = ?2)",
            )?;
            let rows = stmt.query_map(params![tenant, only], |r| {
                Ok((r.get::<String>(0)?, CheckRuntime { paused: r.get(1)?, last_run_at: r.get(2)?, last_up: r.get(3)?, last_latency_ms: r.get(4)?, last_error: r.get(5)?, open_incident: r.get(6)? }))
            })?;
            rows.collect::<Result<_>>()
        })
        .await
    }

    /// Names of all tenants by id, for labels.
    pub async fn tenant_names(&self) -> Result<std::collections::HashMap<i64, String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, name FROM tenants")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_>>()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::{Backend, on_both_backends};
    use serde_json::json;

    /// A store with one tenant holding checks `a` and `b` and channel `ch`, then
    /// `b` and `ch` spoilt behind its back and a row of a kind this daemon does not
    /// know added: what another version, a restore or a hand edit leaves.
    async fn spoilt(backend: Backend) -> (tempfile::TempDir, Store, i64) {
        let (dir, store) = crate::daemon::store::test_store(backend);
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        let (tenant, _) = store.create_tenant("acme".into()).await.expect("tenant");
        let check = |name: &str| json!({"kind": "Check", "name": name, "type": "http", "target": "http://127.0.0.1:9/", "schedule": "30s"});
        let edits = [
            check("a"),
            check("b"),
            json!({"kind": "Channel", "name": "ch", "type": "webhook", "webhook": {"url": "https://hooks.example/s3cr3t-path"}}),
        ]
        .into_iter()
        .map(|v| Edit::Upsert(StoredResource::from_json(v).expect("decodes")))
        .collect();
        let (outcome, _) = store
            .transact_state(tenant, move |_| Ok(((), edits)))
            .await
            .expect("apply");
        outcome.expect("applied");
        store
            .write(move |tx| {
                // `target` gone: as a field renamed in a later version would leave it.
                let (remove, set) = match tx.backend() {
                    Backend::Sqlite => (
                        "json_remove(spec, '$.target')",
                        "json_set(spec, '$.type', 'https://hooks.example/s3cr3t-path')",
                    ),
                    Backend::Postgres => (
                        "(spec::jsonb - 'target')::text",
                        "jsonb_set(spec::jsonb, '{type}', '\"https://hooks.example/s3cr3t-path\"')::text",
                    ),
                };
                tx.execute(
                    &format!("UPDATE resources SET spec = {remove} WHERE tenant_id = ?1 AND name = 'b'"),
                    [tenant],
                )?;
                // A field of the wrong type, quoting a secret in serde's words.
                tx.execute(
                    &format!(
                        "UPDATE resources SET spec = {set}, secrets = '[\"/webhook/url\"]'
                         WHERE tenant_id = ?1 AND name = 'ch'"
                    ),
                    [tenant],
                )?;
                tx.execute(
                    "INSERT INTO resources (tenant_id, kind, name, spec, secrets, updated_at)
                     VALUES (?1, 'Gadget', 'g', '{}', '[]', 0)",
                    [tenant],
                )?;
                Ok(())
            })
            .await
            .expect("spoil");
        (dir, store, tenant)
    }

    async fn a_spec_that_no_longer_decodes_is_a_loud_error_naming_it(backend: Backend) {
        let (_dir, store, tenant) = spoilt(backend).await;
        let before = decode::corrupt_reads();
        let err = store
            .resource(tenant, Kind::Check, "b".into())
            .await
            .expect_err("an unreadable check is an error, not a row");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("Check `b`") && m.contains("target") && m.contains("apply it again")),
            "{err}"
        );
        assert!(decode::corrupt_reads() > before, "counted");
        let err = store
            .resource(tenant, Kind::Channel, "ch".into())
            .await
            .expect_err("an unreadable channel is an error");
        let StoreError::Corrupt(m) = &err else {
            panic!("{err}")
        };
        assert!(m.contains("Channel `ch`"), "{m}");
        assert!(!m.contains("s3cr3t"), "the message holds no secret: {m}");
        // Its neighbours are served as ever, typed.
        let a = store
            .resource(tenant, Kind::Check, "a".into())
            .await
            .expect("read")
            .expect("a");
        assert_eq!(
            a.as_check().map(|c| c.target.as_str()),
            Some("http://127.0.0.1:9/")
        );
    }

    async fn listings_serve_the_readable_rows_and_name_the_others(backend: Backend) {
        let (_dir, store, tenant) = spoilt(backend).await;
        let names = |rs: &[StoredResource]| rs.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let checks = store
            .resources(tenant, Some(Kind::Check))
            .await
            .expect("list");
        assert_eq!(names(&checks), ["a"]);
        let all = store.listing(tenant, None).await.expect("list");
        assert_eq!(names(&all.resources), ["a"]);
        let bad: Vec<(Option<Kind>, &str)> = all
            .unreadable
            .iter()
            .map(|u| (u.kind, u.name.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                (Some(Kind::Channel), "ch"),
                (Some(Kind::Check), "b"),
                (None, "g")
            ]
        );
        let scheduled: Vec<String> = store
            .all_checks()
            .await
            .expect("checks")
            .into_iter()
            .map(|(_, r, _)| r.name)
            .collect();
        assert_eq!(scheduled, ["a"], "the readable check is still scheduled");
    }

    async fn a_row_that_is_not_even_json_can_be_replaced(backend: Backend) {
        let (_dir, store, tenant) = spoilt(backend).await;
        store
            .write(move |tx| {
                tx.execute(
                    "UPDATE resources SET spec = '{\"kind\": \"Che' WHERE tenant_id = ?1 AND name = 'b'",
                    [tenant],
                )?;
                Ok(())
            })
            .await
            .expect("spoil");
        let state = store
            .read(move |c| load_state(c, tenant, &|_, _, _| true))
            .await
            .expect("state");
        assert!(
            state
                .unreadable
                .iter()
                .any(|u| u.name == "b" && u.spec.is_null())
        );
        let b = json!({"kind": "Check", "name": "b", "type": "http", "target": "http://127.0.0.1:9/b", "schedule": "30s"});
        let edit = Edit::Upsert(StoredResource::from_json(b).expect("decodes"));
        let (outcome, _) = store
            .transact_state(tenant, move |_| Ok(((), vec![edit])))
            .await
            .expect("an apply over it");
        outcome.expect("applied");
        let b = store
            .resource(tenant, Kind::Check, "b".into())
            .await
            .expect("readable again")
            .expect("b");
        assert_eq!(
            b.as_check().map(|c| c.target.as_str()),
            Some("http://127.0.0.1:9/b")
        );
    }

    async fn a_state_holds_whole_only_what_it_was_asked_for_and_the_references_of_all(
        backend: Backend,
    ) {
        let (_dir, store) = crate::daemon::store::test_store(backend);
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        let (tenant, _) = store.create_tenant("acme".into()).await.expect("tenant");
        let edits = [
            json!({"kind": "Check", "name": "a", "type": "http", "target": "http://127.0.0.1:9/", "schedule": "30s", "depends_on": ["b"]}),
            json!({"kind": "Check", "name": "b", "type": "http", "target": "http://127.0.0.1:9/", "schedule": "30s"}),
            json!({"kind": "StatusPage", "name": "p", "title": "Acme", "slug": "acme", "domain": "status.acme.example", "groups": [{"name": "g", "checks": ["a"]}]}),
        ]
        .into_iter()
        .map(|v| Edit::Upsert(StoredResource::from_json(v).expect("decodes")))
        .collect();
        store
            .transact_state(tenant, move |_| Ok(((), edits)))
            .await
            .expect("apply")
            .0
            .expect("applied");
        let state = store
            .read(move |c| load_state(c, tenant, &|_, name, _| name == "b"))
            .await
            .expect("state");
        let by = |n: &str| state.resources.iter().find(|r| r.name == n).expect(n);
        assert!(by("a").full.is_none() && by("p").full.is_none());
        assert_eq!(by("b").full.as_ref().map(|f| f.name.as_str()), Some("b"));
        assert_eq!(
            by("a").references,
            vec![("depends_on", Kind::Check, "b".to_string())]
        );
        assert_eq!(
            by("p").page,
            Some(Box::new(PageAddress {
                slug: "acme".into(),
                domain: Some("status.acme.example".into())
            }))
        );
        assert_eq!(
            by("p").references,
            vec![("groups.checks", Kind::Check, "a".to_string())]
        );
    }

    async fn an_unknown_kind_is_unreadable_not_a_check(backend: Backend) {
        let (_dir, store, tenant) = spoilt(backend).await;
        let state = store
            .read(move |c| load_state(c, tenant, &|_, _, _| true))
            .await
            .expect("state");
        assert!(
            state.resources.iter().all(|r| r.name != "g"),
            "the row of kind `Gadget` passes for nothing"
        );
        let g = state
            .unreadable
            .iter()
            .find(|u| u.name == "g")
            .expect("named as unreadable");
        assert_eq!((g.kind, g.kind_text.as_str()), (None, "Gadget"));
        assert!(g.message.contains("unknown kind `Gadget`"), "{}", g.message);
    }

    on_both_backends!(
        a_spec_that_no_longer_decodes_is_a_loud_error_naming_it,
        listings_serve_the_readable_rows_and_name_the_others,
        a_row_that_is_not_even_json_can_be_replaced,
        an_unknown_kind_is_unreadable_not_a_check,
        a_state_holds_whole_only_what_it_was_asked_for_and_the_references_of_all,
    );
}
