//! Daemons sharing one database: each node says it is alive in `nodes`, and a
//! lease in `leases` gives each check to one live node until it expires.
//!
//! A node's heartbeat runs on a connection of its own, so that it never waits
//! behind the writer's queue of results: a node that is busy writing is not
//! taken for dead. Each beat, in one transaction on the database's clock:
//!
//! 1. the node's row gets the time;
//! 2. the node renews the leases it holds and keeps;
//! 3. it gives up those another live node should hold (rendezvous hashing over
//!    the live nodes: every node computes the same owner, and a node that joins
//!    or leaves moves only its share of the checks);
//! 4. it takes those it should hold that are free or whose lease ran out.
//!
//! Only a lease that ran out or was given up is taken, so two live nodes never
//! hold one check; a node killed outright loses its checks when their leases run
//! out ([`LEASE_TTL_MS`]) and the next beat of the node that should have them.

use std::collections::HashSet;
use std::time::Duration;

use rusqlite::params;

use super::sql::{Backend, Db};
use super::{Conn, Result, Store, now_ms};

/// How often a node beats.
pub const HEARTBEAT: Duration = Duration::from_secs(3);
/// A node whose last beat is older than this is taken for gone.
pub const NODE_TTL_MS: i64 = 10_000;
/// How long a lease lasts without being renewed.
pub const LEASE_TTL_MS: i64 = 10_000;
/// Nodes not heard from for this long leave `nodes list`.
const FORGET_NODE_MS: i64 = 7 * 24 * 3600 * 1000;
/// Every this many beats, leases left by nodes that are gone, on checks that are
/// gone, are deleted.
const SWEEP_EVERY: u64 = 100;
/// The lease location of a check that runs from any one location.
const ANY_LOCATION: &str = "";

pub type CheckKey = (i64, String);

/// A check and the locations it runs from (none: any one).
pub type Placed = (CheckKey, Vec<String>);

/// A check and the location of its lease (`""`: any).
type Lease = (CheckKey, String);

/// This daemon as a node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    pub location: String,
    /// Unix ms.
    pub started_at: i64,
}

pub use crate::model::NodeSummary as NodeRow;

/// What one beat found.
#[derive(Debug, Default)]
pub struct Beat {
    /// The checks this node holds now; `None` on SQLite, where it runs them all.
    pub owned: Option<HashSet<CheckKey>>,
    /// Live nodes, this one included.
    pub live_nodes: usize,
    /// The locations of the live nodes.
    pub live_locations: HashSet<String>,
    /// Checks' locations with no live node, by name (`api@us-east`), the first
    /// few; and how many in all.
    pub unplaced: (Vec<String>, usize),
    /// Checks stored, of every tenant.
    pub checks: usize,
    /// Whether checks changed (on any node) since the last beat.
    pub checks_changed: bool,
    /// Leases taken and given up in this beat.
    pub taken: usize,
    pub released: usize,
    /// The digest of the signing key the nodes agreed on (see
    /// [`Store::agree_signing_key`]); `None` on SQLite or before any agreed.
    pub key_fingerprint: Option<String>,
}

/// A node's heartbeat: its connection, and what it remembers between beats.
pub struct Heart {
    store: Store,
    me: NodeInfo,
    conn: Option<Conn>,
    /// The `checks_version` last seen, and the checks as of it.
    checks: Option<(i64, Vec<Placed>)>,
    beats: u64,
    /// Since when beats have succeeded one after the other.
    steady_since: Option<std::time::Instant>,
}

/// A stable 64-bit hash (FNV-1a, then mixed), the same on every node and build.
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finaliser, so that names differing in one byte spread apart.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The live node that should hold `key`: the highest score of node and check.
pub fn owner_of<'a>(key: &CheckKey, live: &'a [String]) -> Option<&'a str> {
    let tenant = key.0.to_le_bytes();
    live.iter()
        .max_by_key(|node| {
            (
                stable_hash(&[node.as_bytes(), &tenant, key.1.as_bytes()]),
                *node,
            )
        })
        .map(String::as_str)
}

/// Where in its interval a check's runs fall, the same on every node, so that a
/// check moving to another node keeps its times and is not run twice in one
/// interval: milliseconds after each multiple of the interval since the epoch.
pub fn phase_ms(key: &CheckKey, interval_ms: u64) -> u64 {
    if interval_ms == 0 {
        return 0;
    }
    stable_hash(&[b"phase", &key.0.to_le_bytes(), key.1.as_bytes()]) % interval_ms
}

/// The database's clock in Unix ms: every node's leases are timed by one clock.
fn db_now(db: &Db<'_>) -> Result<i64> {
    match db.backend() {
        Backend::Sqlite => Ok(now_ms()),
        Backend::Postgres => db.query_row(
            "SELECT CAST(floor(extract(epoch from clock_timestamp()) * 1000) AS BIGINT)",
            [],
            |r| r.get(0),
        ),
    }
}

fn live_since(now: i64) -> i64 {
    now - NODE_TTL_MS
}

impl Heart {
    pub fn new(store: Store, me: NodeInfo) -> Heart {
        Heart {
            store,
            me,
            conn: None,
            checks: None,
            beats: 0,
            steady_since: None,
        }
    }

    /// One beat. Blocking: run it off the async threads. A failed beat changes
    /// nothing; the connection is opened again on the next.
    pub fn beat(&mut self) -> Result<Beat> {
        if let Some(Conn::Pg(pg)) = &mut self.conn
            && !pg.is_alive()
        {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.store.own_connection()?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(super::StoreError::Closed);
        };
        self.beats += 1;
        let sweep = self.beats % SWEEP_EVERY == 1;
        // A node back from an outage (or just started) takes no lease another
        // node let run out until it has beaten for as long as a node takes to
        // count as gone: until then, nodes coming back with it are not seen live
        // yet, and it would take all their checks.
        let steady = self
            .steady_since
            .is_some_and(|t| t.elapsed().as_millis() >= NODE_TTL_MS as u128);
        let (me, known) = (&self.me, self.checks.as_ref());
        let (result, _) = conn.transaction_in_any_order(|db| beat(db, me, known, sweep, steady));
        match result {
            Ok((mut beat, fresh)) => {
                // Kept only once committed: a beat that failed after reading the
                // checks must read them again, or it would miss their change.
                if let Some(fresh) = fresh {
                    self.checks = Some(fresh);
                }
                // Checks may have changed before the first beat (an apply on
                // another node while this one started): the scheduler reloads.
                beat.checks_changed |= self.steady_since.is_none();
                self.steady_since
                    .get_or_insert_with(std::time::Instant::now);
                Ok(beat)
            }
            Err(e) => {
                self.steady_since = None;
                if matches!(&self.conn, Some(Conn::Pg(pg)) if pg.is_closed()) {
                    self.conn = None;
                }
                Err(e)
            }
        }
    }

    /// Gives up this node's leases and says it is gone, as it stops.
    pub fn leave(&mut self) -> Result<()> {
        if self.conn.is_none() {
            self.conn = Some(self.store.own_connection()?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(super::StoreError::Closed);
        };
        let name = self.me.name.clone();
        conn.transaction_in_any_order(|db| {
            db.execute("DELETE FROM leases WHERE owner = ?1", [&name])?;
            db.execute(
                "UPDATE nodes SET heartbeat_at = ?2 WHERE name = ?1",
                params![name, db_now(db)? - NODE_TTL_MS],
            )?;
            Ok(())
        })
        .0
    }
}

/// PostgreSQL's clock now, in Unix ms: lease times are taken from it as each
/// statement runs, so that a beat that takes long does not write leases that are
/// already over.
const PG_NOW_MS: &str = "CAST(floor(extract(epoch from clock_timestamp()) * 1000) AS BIGINT)";

type Checks = (i64, Vec<Placed>);

/// One beat's work in its transaction; with the checks read afresh, when they changed.
fn beat(
    db: &Db<'_>,
    me: &NodeInfo,
    known: Option<&Checks>,
    sweep: bool,
    steady: bool,
) -> Result<(Beat, Option<Checks>)> {
    let now = db_now(db)?;
    db.prepare_cached(
        "INSERT INTO nodes (name, location, version, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET location = excluded.location, version = excluded.version,
             started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
    )?
    .execute(params![
        me.name,
        me.location,
        env!("CARGO_PKG_VERSION"),
        me.started_at,
        now
    ])?;
    if sweep {
        db.execute(
            "DELETE FROM nodes WHERE heartbeat_at < ?1",
            [now - FORGET_NODE_MS],
        )?;
    }
    let (version, key_fingerprint): (i64, Option<String>) = db.query_row(
        "SELECT checks_version, key_fingerprint FROM cluster_state WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let checks_changed = known.is_some_and(|(v, _)| *v != version);
    let mut fresh = None;
    if known.is_none_or(|(v, _)| *v != version) {
        let keys = db
            .prepare(
                "SELECT tenant_id, name, json_extract(spec, '$.locations') FROM resources WHERE kind = 'Check'",
            )?
            .query_map([], |r| {
                let locations = r
                    .get::<Option<String>>(2)?
                    .and_then(|j| serde_json::from_str::<Vec<String>>(&j).ok())
                    .unwrap_or_default();
                Ok(((r.get::<i64>(0)?, r.get::<String>(1)?), locations))
            })?
            .collect::<Result<Vec<_>>>()?;
        fresh = Some((version, keys));
    }
    let live: Vec<(String, String)> = db
        .prepare_cached("SELECT name, location FROM nodes WHERE heartbeat_at > ?1 ORDER BY name")?
        .query_map([live_since(now)], |r| {
            Ok((r.get::<String>(0)?, r.get::<String>(1)?))
        })?
        .collect::<Result<Vec<_>>>()?;
    let live_nodes: Vec<String> = live.iter().map(|(n, _)| n.clone()).collect();
    let mut by_location: std::collections::HashMap<&str, Vec<String>> = Default::default();
    for (name, location) in &live {
        by_location
            .entry(location.as_str())
            .or_default()
            .push(name.clone());
    }
    let placed = fresh
        .as_ref()
        .or(known)
        .map(|(_, k)| k.as_slice())
        .unwrap_or_default();
    let mut unplaced = (Vec::new(), 0);
    for ((_, name), locations) in placed {
        for l in locations {
            if !by_location.contains_key(l.as_str()) {
                if unplaced.0.len() < 5 {
                    unplaced.0.push(format!("{name}@{l}"));
                }
                unplaced.1 += 1;
            }
        }
    }
    let mut beat = Beat {
        owned: None,
        live_nodes: live_nodes.len(),
        live_locations: by_location.keys().map(|l| l.to_string()).collect(),
        unplaced,
        checks: placed.len(),
        checks_changed,
        key_fingerprint,
        ..Beat::default()
    };
    if db.backend() == Backend::Sqlite {
        // One daemon on the file: it runs every check, and needs no lease.
        return Ok((beat, fresh));
    }
    db.prepare_cached(&format!(
        "UPDATE leases SET expires_at = {PG_NOW_MS} + ?1 WHERE owner = ?2"
    ))?
    .execute(params![LEASE_TTL_MS, me.name])?;
    let held: HashSet<Lease> = db
        .prepare_cached("SELECT tenant_id, check_name, location FROM leases WHERE owner = ?1")?
        .query_map([&me.name], |r| {
            Ok(((r.get::<i64>(0)?, r.get::<String>(1)?), r.get::<String>(2)?))
        })?
        .collect::<Result<_>>()?;
    let existing: HashSet<&CheckKey> = placed.iter().map(|(k, _)| k).collect();
    // The one lease of each check this node may hold: any location's, or its
    // own location's when the check lists it.
    let mut mine: Vec<Lease> = placed
        .iter()
        .filter_map(|(key, locations)| {
            let (at, candidates) = if locations.is_empty() {
                (ANY_LOCATION, &live_nodes)
            } else if locations.contains(&me.location) {
                (me.location.as_str(), by_location.get(me.location.as_str())?)
            } else {
                return None;
            };
            (owner_of(key, candidates) == Some(me.name.as_str()))
                .then(|| (key.clone(), at.to_string()))
        })
        .collect();
    // One order on every node, so that two nodes taking leases never wait on
    // each other in a cycle.
    mine.sort();
    let wanted: HashSet<&Lease> = mine.iter().collect();
    let mut owned = HashSet::new();
    {
        let mut release = db.prepare_cached(
            "DELETE FROM leases WHERE tenant_id = ?1 AND check_name = ?2 AND location = ?3 AND owner = ?4",
        )?;
        let mut held: Vec<&Lease> = held.iter().collect();
        held.sort();
        for lease in held {
            let (key, at) = lease;
            if wanted.contains(lease) {
                owned.insert(key.clone());
            } else {
                release.execute(params![key.0, key.1, at, me.name])?;
                if existing.contains(key) {
                    beat.released += 1;
                }
            }
        }
    }
    {
        let mut insert = db.prepare_cached(&format!(
            "INSERT INTO leases (tenant_id, check_name, location, owner, expires_at) VALUES (?1, ?2, ?3, ?4, {PG_NOW_MS} + ?5)
             ON CONFLICT (tenant_id, check_name, location) DO NOTHING"
        ))?;
        // A plain UPDATE locks only rows that match: a lease a live node holds is
        // never waited on.
        let mut take = db.prepare_cached(&format!(
            "UPDATE leases SET owner = ?4, expires_at = {PG_NOW_MS} + ?5
             WHERE tenant_id = ?1 AND check_name = ?2 AND location = ?3 AND expires_at < ?6"
        ))?;
        for lease in &mine {
            if held.contains(lease) {
                continue;
            }
            let (key, at) = lease;
            let took = insert.execute(params![key.0, key.1, at, me.name, LEASE_TTL_MS])? == 1
                || (steady
                    && take.execute(params![key.0, key.1, at, me.name, LEASE_TTL_MS, now])? == 1);
            if took {
                owned.insert(key.clone());
                beat.taken += 1;
            }
        }
    }
    if sweep {
        db.execute(
            "DELETE FROM leases WHERE expires_at < ?1",
            [now - FORGET_NODE_MS.min(3600 * 1000)],
        )?;
    }
    beat.owned = Some(owned);
    Ok((beat, fresh))
}

impl Store {
    /// The latest run of check `name` in each of `locations`, in their order.
    pub async fn location_runs(
        &self,
        tenant: i64,
        name: String,
        locations: Vec<String>,
    ) -> Result<Vec<crate::model::LocationRun>> {
        self.read(move |db| {
            let mut seen = std::collections::HashMap::new();
            db.prepare_cached(
                "SELECT location, up, at, error FROM location_state WHERE tenant_id = ?1 AND check_name = ?2",
            )?
            .for_each(params![tenant, name], |r| {
                let (location, up, at, error): (String, i64, i64, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                seen.insert(location, (up != 0, at, error));
                Ok(())
            })?;
            Ok(locations
                .into_iter()
                .map(|location| {
                    let run = seen.remove(&location);
                    crate::model::LocationRun {
                        up: run.as_ref().map(|(up, _, _)| *up),
                        last_run_at: run.as_ref().map(|(_, at, _)| super::to_time(*at)),
                        last_error: run.and_then(|(_, _, e)| e),
                        location,
                    }
                })
                .collect())
        })
        .await
    }

    /// The nodes heard from within [`FORGET_NODE_MS`], by name.
    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        self.read(|db| {
            let now = db_now(db)?;
            let counted = match db.backend() {
                Backend::Postgres => {
                    "(SELECT count(*) FROM leases l WHERE l.owner = n.name AND l.expires_at > ?1)"
                }
                Backend::Sqlite => {
                    "(SELECT count(*) FROM resources WHERE kind = 'Check' AND ?1 = ?1)"
                }
            };
            db.prepare(&format!(
                "SELECT n.name, n.location, n.version, n.started_at, n.heartbeat_at, {counted}
                 FROM nodes n ORDER BY n.name"
            ))?
            .query_map([now], |r| {
                let heartbeat: i64 = r.get(4)?;
                Ok(NodeRow {
                    name: r.get(0)?,
                    location: r.get(1)?,
                    version: r.get(2)?,
                    started_at: super::to_time(r.get(3)?),
                    heartbeat_at: super::to_time(heartbeat),
                    live: heartbeat > live_since(now),
                    checks: r.get::<i64>(5)?.max(0) as u64,
                })
            })?
            .collect()
        })
        .await
    }
}

/// What [`Store::agree_signing_key`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAgreement {
    /// The key the other nodes use, or the first on this database.
    Agreed,
    /// Another key than the one `was_by` set, with no other node running: this
    /// one is the cluster's from now on.
    Rotated { was_by: String },
}

impl Store {
    /// Makes sure this node signs access tokens with the key the other running
    /// nodes use, by `fingerprint` (a digest of the key that reveals nothing of
    /// it): otherwise a login on one node would be refused by the others. The
    /// first node sets it; a different key is refused while another node runs,
    /// and taken (a rotation) once none does. On success the node is marked
    /// alive, so that a node starting at the same moment sees it. SQLite has one
    /// daemon: nothing to agree on.
    pub async fn agree_signing_key(
        &self,
        me: NodeInfo,
        fingerprint: String,
    ) -> Result<KeyAgreement> {
        if self.backend() == Backend::Sqlite {
            return Ok(KeyAgreement::Agreed);
        }
        self.write(move |db| {
            let now = db_now(db)?;
            let (known, by): (Option<String>, Option<String>) = db.query_row(
                "SELECT key_fingerprint, key_node FROM cluster_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let agreement = match known {
                Some(k) if k == fingerprint => KeyAgreement::Agreed,
                None => KeyAgreement::Agreed,
                Some(_) => {
                    let others: Vec<String> = db.query_map(
                        "SELECT name FROM nodes WHERE name != ?1 AND heartbeat_at > ?2 ORDER BY name",
                        params![me.name, live_since(now)],
                        |r| r.get(0),
                    )?;
                    if !others.is_empty() {
                        return Err(super::StoreError::Conflict(format!(
                            "this node signs access tokens with another key than the running nodes ({}), which would refuse its logins and it theirs: give it the key they use (the same UPTIMEPING_JWT_SECRET, or a copy of their `jwt.key`, mode 0600, in this node's data directory), then start it again",
                            others.join(", ")
                        )));
                    }
                    KeyAgreement::Rotated {
                        was_by: by.unwrap_or_default(),
                    }
                }
            };
            db.execute(
                "UPDATE cluster_state SET key_fingerprint = ?1, key_node = ?2 WHERE id = 1",
                params![fingerprint, me.name],
            )?;
            db.execute(
                "INSERT INTO nodes (name, location, version, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET location = excluded.location, version = excluded.version,
                     started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
                params![me.name, me.location, env!("CARGO_PKG_VERSION"), me.started_at, now],
            )?;
            Ok(agreement)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn owners_spread_evenly_and_a_join_moves_only_the_joiners_share() {
        let keys: Vec<CheckKey> = (0..3000)
            .map(|i| (1 + i % 3, format!("check-{i}")))
            .collect();
        let two = nodes(&["a", "b"]);
        let three = nodes(&["a", "b", "c"]);
        let mut count = std::collections::HashMap::new();
        let mut moved_between_old = 0;
        for k in &keys {
            let before = owner_of(k, &two).unwrap();
            let after = owner_of(k, &three).unwrap();
            *count.entry(after).or_insert(0) += 1;
            if after != "c" && after != before {
                moved_between_old += 1;
            }
        }
        assert_eq!(
            moved_between_old, 0,
            "a join moves checks only to the new node"
        );
        for n in ["a", "b", "c"] {
            let c = count[n];
            assert!((800..1200).contains(&c), "node {n} got {c} of 3000");
        }
        assert_eq!(owner_of(&(1, "x".into()), &[]), None);
    }

    #[test]
    fn phases_are_stable_and_within_the_interval() {
        let k: CheckKey = (1, "api".into());
        assert_eq!(phase_ms(&k, 30_000), phase_ms(&k, 30_000));
        assert!(phase_ms(&k, 30_000) < 30_000);
        assert_eq!(phase_ms(&k, 0), 0);
        let spread: HashSet<u64> = (0..100)
            .map(|i| phase_ms(&(1, format!("c{i}")), 10_000) / 1000)
            .collect();
        assert!(spread.len() >= 8, "phases cluster in {spread:?}");
    }
}
