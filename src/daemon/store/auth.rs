//! Tenants and API keys. A key is `upk_<id>_<secret>`: the id is public and names the
//! key in logs and events; only a SHA-256 of the 32-character random secret is
//! stored. (A fast hash is enough for a random secret of that length: there is no
//! dictionary to guess from, unlike a password.)

use super::{Db, Optional};
use rand::RngExt;
use rand::distr::Alphanumeric;
use rusqlite::params;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

mod sessions;
mod users;

pub use sessions::{NewSession, Refreshed, SessionRow};
pub use users::{InvitationRow, UserRow};

use super::{Result, Store, StoreError, now_ms};

/// Length of a key's secret part, as the brief specifies.
const SECRET_LEN: usize = 32;
const KEY_PREFIX: &str = "upk_";

pub use crate::model::Role;

/// Who a request acts as: an API key, or a user logged in (by an access token or a
/// console session). Roles mean the same for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's public id, or the user's id as text.
    pub id: String,
    pub tenant_id: i64,
    /// The key's name, or the user's email.
    pub name: String,
    pub role: Role,
    pub kind: PrincipalKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    Key,
    /// A user, through the session `session_id` (the access token's `sid`, or the
    /// console cookie's session).
    User {
        user_id: i64,
        session_id: String,
    },
}

impl Principal {
    /// How the caller appears as the actor of an event: `key:<name>(<id>)` or
    /// `user:<email>`.
    pub fn actor(&self) -> String {
        match self.kind {
            PrincipalKind::Key => format!("key:{}({})", self.name, self.id),
            PrincipalKind::User { .. } => format!("user:{}", self.name),
        }
    }
}

/// SHA-256 hex of a random secret (a key's secret, a refresh token, a cookie, an
/// invitation token): what is stored instead of it.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `n` random letters and digits.
pub fn random_alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn new_key() -> (String, String, String) {
    let mut rng = rand::rng();
    let id: String = (0..12)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    let secret = random_alnum(SECRET_LEN);
    let full = format!("{KEY_PREFIX}{id}_{secret}");
    (id, hash(&secret), full)
}

/// Adds the tenant `name`; 409 when one of that name exists.
fn insert_tenant(tx: &Db<'_>, name: &str, now_ms: i64) -> Result<i64> {
    let exists: Option<i64> = tx
        .query_row("SELECT id FROM tenants WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::Conflict(format!(
            "a tenant named `{name}` exists already"
        )));
    }
    tx.query_row(
        "INSERT INTO tenants (name, created_at) VALUES (?1, ?2) RETURNING id",
        params![name, now_ms],
        |r| r.get(0),
    )
}

/// What makes a key, besides its tenant.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
    pub expires_at: Option<i64>,
    /// The actor who made it (`user:…`, `key:…`, `bootstrap`).
    pub created_by: String,
}

fn insert_key(tx: &Db<'_>, tenant_id: i64, key: &NewKey, now_ms: i64) -> Result<(String, String)> {
    let (id, secret_hash, full) = new_key();
    tx.execute(
        "INSERT INTO api_keys (id, tenant_id, name, role, secret_hash, created_at, expires_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, tenant_id, key.name, key.role.as_str(), secret_hash, now_ms, key.expires_at, key.created_by],
    )?;
    Ok((id, full))
}

fn admin_key(name: &str, created_by: &str) -> NewKey {
    NewKey {
        name: name.into(),
        role: Role::Admin,
        expires_at: None,
        created_by: created_by.into(),
    }
}

/// A key as stored, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl KeyRow {
    /// `active`, `expired` or `revoked` at `now_ms`.
    pub fn state(&self, now_ms: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| e <= now_ms) {
            "expired"
        } else {
            "active"
        }
    }
}

/// What a presented key turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid {
        principal: Principal,
        last_used_at: Option<i64>,
        expires_at: Option<i64>,
    },
    Expired,
    /// Unknown, revoked, or a wrong secret.
    Invalid,
}

/// Whether `presented` looks like an API key (`upk_…`) rather than an access token.
pub fn is_api_key(presented: &str) -> bool {
    presented.starts_with(KEY_PREFIX)
}

impl Store {
    /// On a fresh database: creates the `default` tenant and an admin key, and hands
    /// the key to `save` before committing, so that the key is never committed without
    /// having been saved (it is not stored in the clear anywhere). Returns whether it
    /// bootstrapped.
    pub async fn bootstrap<F>(&self, save: F) -> Result<bool>
    where
        F: FnOnce(&str) -> std::io::Result<()> + Send + 'static,
    {
        self.write(|tx| {
            let count: i64 = tx.query_row("SELECT count(*) FROM tenants", [], |r| r.get(0))?;
            if count > 0 {
                return Ok(false);
            }
            let tenant: i64 = tx.query_row(
                "INSERT INTO tenants (name, created_at) VALUES ('default', ?1) RETURNING id",
                [now_ms()],
                |r| r.get(0),
            )?;
            let (_, key) = insert_key(
                tx,
                tenant,
                &admin_key("bootstrap-admin", "bootstrap"),
                now_ms(),
            )?;
            save(&key).map_err(|e| {
                StoreError::Conflict(format!("cannot save the bootstrap admin key: {e}"))
            })?;
            Ok(true)
        })
        .await
    }

    /// Creates a tenant with an admin key, returning its id and the key.
    pub async fn create_tenant(&self, name: String) -> Result<(i64, String)> {
        self.write(move |tx| {
            let now = now_ms();
            let id = insert_tenant(tx, &name, now)?;
            let (_, key) = insert_key(tx, id, &admin_key("admin", "tenant.create"), now)?;
            Ok((id, key))
        })
        .await
    }

    /// What the key `presented` is at `now_ms`: valid (and whose), expired, or not
    /// a key at all (unknown, revoked, wrong secret).
    pub async fn check_key(&self, presented: String, now_ms: i64) -> Result<KeyCheck> {
        let Some((id, secret)) = presented
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(KeyCheck::Invalid);
        };
        if id.len() != 12 || secret.len() != SECRET_LEN {
            return Ok(KeyCheck::Invalid);
        }
        let (id, secret) = (id.to_string(), secret.to_string());
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT tenant_id, name, role, secret_hash, expires_at, last_used_at FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .query_row([&id], |r| {
                    Ok((
                        r.get::<i64>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<String>(3)?,
                        r.get::<Option<i64>>(4)?,
                        r.get::<Option<i64>>(5)?,
                    ))
                })
                .optional()?;
            let Some((tenant_id, name, role, stored, expires_at, last_used_at)) = row else {
                return Ok(KeyCheck::Invalid);
            };
            let ok: bool = hash(&secret).as_bytes().ct_eq(stored.as_bytes()).into();
            if !ok {
                return Ok(KeyCheck::Invalid);
            }
            if expires_at.is_some_and(|e| e <= now_ms) {
                return Ok(KeyCheck::Expired);
            }
            Ok(KeyCheck::Valid {
                principal: Principal {
                    id: id.clone(),
                    tenant_id,
                    name,
                    role: Role::parse(&role),
                    kind: PrincipalKind::Key,
                },
                last_used_at,
                expires_at,
            })
        })
        .await
    }

    /// The tenant and actor (`key:<name>(<id>)`) of the key `presented` when its
    /// secret is right, whether or not it is revoked or expired: a refused use of
    /// an ended key is its tenant's business. None for a wrong secret.
    pub async fn key_owner(&self, presented: String) -> Result<Option<(i64, String)>> {
        let Some((id, secret)) = presented
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        if id.len() != 12 || secret.len() != SECRET_LEN {
            return Ok(None);
        }
        let (id, secret) = (id.to_string(), secret.to_string());
        self.read(move |c| {
            let row = c
                .prepare_cached("SELECT tenant_id, name, secret_hash FROM api_keys WHERE id = ?1")?
                .query_row([&id], |r| {
                    Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
                })
                .optional()?;
            Ok(row.and_then(|(tenant_id, name, stored)| {
                bool::from(hash(&secret).as_bytes().ct_eq(stored.as_bytes()))
                    .then(|| (tenant_id, format!("key:{name}({id})")))
            }))
        })
        .await
    }

    /// The key `presented` stands for, if it is valid now (not revoked, not
    /// expired).
    pub async fn authenticate(&self, presented: String) -> Result<Option<Principal>> {
        Ok(match self.check_key(presented, now_ms()).await? {
            KeyCheck::Valid { principal, .. } => Some(principal),
            KeyCheck::Expired | KeyCheck::Invalid => None,
        })
    }

    /// Records that key `id` was used at `now_ms` (callers do it at most once a
    /// minute per key).
    pub async fn touch_key(&self, id: String, now_ms: i64) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
                params![id, now_ms],
            )?;
            Ok(())
        })
        .await
    }

    /// Makes a key in `tenant_id`; returns it as listed and whole (the secret is in
    /// no other place). 409 when an active key of that name exists.
    pub async fn create_key(
        &self,
        tenant_id: i64,
        key: NewKey,
        now_ms: i64,
    ) -> Result<(KeyRow, String)> {
        self.write(move |tx| {
            let taken: i64 = tx.query_row(
                "SELECT count(*) FROM api_keys WHERE tenant_id = ?1 AND name = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)",
                params![tenant_id, key.name, now_ms],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(StoreError::Conflict(format!(
                    "an active key named `{}` exists already: revoke it first or pick another name",
                    key.name
                )));
            }
            let (id, full) = insert_key(tx, tenant_id, &key, now_ms)?;
            Ok((
                KeyRow {
                    id,
                    name: key.name,
                    role: key.role,
                    created_at: now_ms,
                    created_by: key.created_by,
                    expires_at: key.expires_at,
                    last_used_at: None,
                    revoked_at: None,
                },
                full,
            ))
        })
        .await
    }

    /// The keys of `tenant_id`, oldest first, at most `limit`.
    pub async fn list_keys(&self, tenant_id: i64, limit: usize) -> Result<Vec<KeyRow>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, name, role, created_at, created_by, expires_at, last_used_at, revoked_at FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![tenant_id, limit as i64], |r| {
                    Ok(KeyRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        role: Role::parse(&r.get::<String>(2)?),
                        created_at: r.get(3)?,
                        created_by: r.get(4)?,
                        expires_at: r.get(5)?,
                        last_used_at: r.get(6)?,
                        revoked_at: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    /// Revokes key `id` of `tenant_id` (again is fine); 404 for a key of no such id
    /// in that tenant.
    pub async fn revoke_key(&self, tenant_id: i64, id: String, now_ms: i64) -> Result<()> {
        self.write(move |tx| {
            let found: Option<Option<i64>> = tx
                .query_row(
                    "SELECT revoked_at FROM api_keys WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant_id, id],
                    |r| r.get(0),
                )
                .optional()?;
            match found {
                None => Err(StoreError::NotFound(format!(
                    "no API key with the id `{id}`"
                ))),
                Some(Some(_)) => Ok(()),
                Some(None) => {
                    tx.execute(
                        "UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
                        params![tenant_id, id, now_ms],
                    )?;
                    Ok(())
                }
            }
        })
        .await
    }

    /// The name of tenant `id`.
    pub async fn tenant_name(&self, id: i64) -> Result<Option<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT name FROM tenants WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()
        })
        .await
    }

    /// The id of the tenant called `name`.
    pub async fn tenant_id(&self, name: String) -> Result<Option<i64>> {
        self.read(move |c| {
            c.query_row("SELECT id FROM tenants WHERE name = ?1", [&name], |r| {
                r.get(0)
            })
            .optional()
        })
        .await
    }
}

#[cfg(test)]
mod tests;
