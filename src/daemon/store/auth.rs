//! Tenants and API keys. A key is `upk_<id>_<secret>`: the id is public and names the
//! key in logs and events; only a SHA-256 of the 32-character random secret is
//! stored. (A fast hash is enough for a random secret of that length: there is no
//! dictionary to guess from, unlike a password.)

use rand::RngExt;
use rand::distr::Alphanumeric;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_key() -> (String, String, String) {
    let mut rng = rand::rng();
    let id: String = (0..12)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    let secret: String = (&mut rng)
        .sample_iter(Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let full = format!("{KEY_PREFIX}{id}_{secret}");
    (id, hash(&secret), full)
}

fn insert_key(
    tx: &rusqlite::Transaction<'_>,
    tenant_id: i64,
    name: &str,
    role: Role,
) -> Result<String> {
    let (id, secret_hash, full) = new_key();
    tx.execute(
        "INSERT INTO api_keys (id, tenant_id, name, role, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, tenant_id, name, role.as_str(), secret_hash, now_ms()],
    )?;
    Ok(full)
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
            tx.execute(
                "INSERT INTO tenants (name, created_at) VALUES ('default', ?1)",
                [now_ms()],
            )?;
            let tenant = tx.last_insert_rowid();
            let key = insert_key(tx, tenant, "bootstrap-admin", Role::Admin)?;
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
            let exists: Option<i64> = tx
                .query_row("SELECT id FROM tenants WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a tenant named `{name}` exists already"
                )));
            }
            tx.execute(
                "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)",
                params![name, now_ms()],
            )?;
            let id = tx.last_insert_rowid();
            let key = insert_key(tx, id, "admin", Role::Admin)?;
            Ok((id, key))
        })
        .await
    }

    /// The key `presented` stands for, if it is valid and not revoked.
    pub async fn authenticate(&self, presented: String) -> Result<Option<Principal>> {
        let Some((id, secret)) = presented
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        let (id, secret) = (id.to_string(), secret.to_string());
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT tenant_id, name, role, secret_hash FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
                    [&id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
                )
                .optional()?;
            Ok(row.and_then(|(tenant_id, name, role, stored)| {
                let ok: bool = hash(&secret).as_bytes().ct_eq(stored.as_bytes()).into();
                ok.then(|| Principal { id: id.clone(), tenant_id, name, role: Role::parse(&role), kind: PrincipalKind::Key })
            }))
        })
        .await
    }

    /// The id of the tenant called `name`.
    pub async fn tenant_id(&self, name: String) -> Result<Option<i64>> {
        self.read(move |c| {
            Ok(
                c.query_row("SELECT id FROM tenants WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }
}
