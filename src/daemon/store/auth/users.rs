//! Users and invitations. Emails arrive trimmed and lowercased (the callers do
//! that); a user's email is unique within its tenant. The last admin of a tenant
//! can be neither demoted nor removed, so a tenant is never left without one.

use crate::daemon::store::{Db, Optional, Row};
use rusqlite::params;

use super::super::{Result, Store, StoreError};
use super::{Role, insert_tenant};

/// A user as stored, with its tenant's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub tenant_id: i64,
    pub tenant: String,
    pub email: String,
    /// PHC string.
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
    pub created_by: String,
    pub last_login_at: Option<i64>,
}

/// An invitation not yet accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: i64,
}

const USER_COLUMNS: &str = "u.id, u.tenant_id, t.name, u.email, u.password_hash, u.role, u.created_at, u.created_by, u.last_login_at FROM users u JOIN tenants t ON t.id = u.tenant_id";

fn user_row(r: &Row<'_>) -> Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        tenant: r.get(2)?,
        email: r.get(3)?,
        password_hash: r.get(4)?,
        role: Role::parse(&r.get::<String>(5)?),
        created_at: r.get(6)?,
        created_by: r.get(7)?,
        last_login_at: r.get(8)?,
    })
}

pub(super) fn user_by_id(c: &Db<'_>, id: i64) -> Result<Option<UserRow>> {
    c.prepare_cached(&format!("SELECT {USER_COLUMNS} WHERE u.id = ?1"))?
        .query_row([id], user_row)
        .optional()
}

fn user_in(c: &Db<'_>, tenant_id: i64, email: &str) -> Result<Option<UserRow>> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} WHERE u.tenant_id = ?1 AND u.email = ?2"
    ))?
    .query_row(params![tenant_id, email], user_row)
    .optional()
}

fn no_user(email: &str) -> StoreError {
    StoreError::NotFound(format!("no user `{email}` in this tenant"))
}

fn admins(tx: &Db<'_>, tenant_id: i64) -> Result<i64> {
    tx.query_row(
        "SELECT count(*) FROM users WHERE tenant_id = ?1 AND role = 'admin'",
        [tenant_id],
        |r| r.get(0),
    )
}

fn last_admin(email: &str) -> StoreError {
    StoreError::Conflict(format!(
        "`{email}` is the last admin of this tenant: make another user admin first"
    ))
}

fn insert_user(
    tx: &Db<'_>,
    tenant_id: i64,
    email: &str,
    password_hash: &str,
    role: Role,
    created_by: &str,
    now_ms: i64,
) -> Result<UserRow> {
    if user_in(tx, tenant_id, email)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a user `{email}` exists already in this tenant"
        )));
    }
    let id: i64 = tx.query_row(
        "INSERT INTO users (tenant_id, email, password_hash, role, created_at, created_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5) RETURNING id",
        params![tenant_id, email, password_hash, role.as_str(), now_ms, created_by],
        |r| r.get(0),
    )?;
    // Any open invitation of that email is spent now.
    tx.execute(
        "UPDATE invitations SET revoked_at = ?3 WHERE tenant_id = ?1 AND email = ?2 AND accepted_at IS NULL AND revoked_at IS NULL",
        params![tenant_id, email, now_ms],
    )?;
    user_by_id(tx, id)?.ok_or_else(|| StoreError::Corrupt("a user just added is gone".into()))
}

/// Ends every session of `user_id` but `except`, returning their ids.
pub(super) fn revoke_sessions_of(
    tx: &Db<'_>,
    user_id: i64,
    except: Option<&str>,
    why: &str,
    now_ms: i64,
) -> Result<Vec<String>> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL")?
        .query_map([user_id], |r| r.get(0))?
        .collect::<Result<Vec<String>>>()?
        .into_iter()
        .filter(|id| Some(id.as_str()) != except)
        .collect();
    for id in &ids {
        tx.execute(
            "UPDATE sessions SET revoked_at = ?2, revoked_why = ?3 WHERE id = ?1",
            params![id, now_ms, why],
        )?;
    }
    Ok(ids)
}

/// Revokes the live API keys of `tenant_id` that the user `email` made (their
/// `created_by` is `user:<email>`), all of them or only those whose role is above
/// `above`; returns how many. A key must not keep rights its maker has lost.
fn revoke_keys_made_by(
    tx: &Db<'_>,
    tenant_id: i64,
    email: &str,
    above: Option<Role>,
    now_ms: i64,
) -> Result<usize> {
    let actor = format!("user:{email}");
    let mut revoked = 0;
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        if above.is_some_and(|a| role <= a) {
            continue;
        }
        revoked += tx.execute(
            "UPDATE api_keys SET revoked_at = ?4 WHERE tenant_id = ?1 AND created_by = ?2 AND role = ?3 AND revoked_at IS NULL",
            params![tenant_id, actor, role.as_str(), now_ms],
        )?;
    }
    Ok(revoked)
}

impl Store {
    /// The users whose email is `email`, in the tenant named `tenant` or in any
    /// (at most `limit`, lowest id first).
    pub async fn users_by_email(
        &self,
        email: String,
        tenant: Option<String>,
        limit: usize,
    ) -> Result<Vec<UserRow>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} WHERE u.email = ?1 AND (CAST(?2 AS TEXT) IS NULL OR t.name = ?2) ORDER BY u.id LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(params![email, tenant, limit as i64], user_row)?
                .collect::<Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn user(&self, id: i64) -> Result<Option<UserRow>> {
        self.read(move |c| user_by_id(c, id)).await
    }

    /// Adds a user to `tenant_id`; 409 when the email is taken there.
    pub async fn add_user(
        &self,
        tenant_id: i64,
        email: String,
        password_hash: String,
        role: Role,
        created_by: String,
        now_ms: i64,
    ) -> Result<UserRow> {
        self.write(move |tx| {
            insert_user(
                tx,
                tenant_id,
                &email,
                &password_hash,
                role,
                &created_by,
                now_ms,
            )
        })
        .await
    }

    /// A new tenant named `tenant` with `email` as its admin, in one transaction.
    pub async fn register(
        &self,
        tenant: String,
        email: String,
        password_hash: String,
        now_ms: i64,
    ) -> Result<UserRow> {
        self.write(move |tx| {
            let id = insert_tenant(tx, &tenant, now_ms)?;
            insert_user(
                tx,
                id,
                &email,
                &password_hash,
                Role::Admin,
                "register",
                now_ms,
            )
        })
        .await
    }

    /// Replaces a user's password hash (a password change or a rehash at
    /// stronger settings); sessions are the caller's business.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: String,
        now_ms: i64,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
                params![user_id, password_hash, now_ms],
            )?;
            Ok(())
        })
        .await
    }

    /// A password change: the new hash, and every other session of the user ends.
    /// Returns the ids of the sessions ended.
    pub async fn change_password(
        &self,
        user_id: i64,
        password_hash: String,
        keep_session: Option<String>,
        now_ms: i64,
    ) -> Result<Vec<String>> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
                params![user_id, password_hash, now_ms],
            )?;
            revoke_sessions_of(tx, user_id, keep_session.as_deref(), "password", now_ms)
        })
        .await
    }

    /// The users of `tenant_id` (by email) and its open invitations at `now_ms`.
    pub async fn list_users(
        &self,
        tenant_id: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<(Vec<UserRow>, Vec<InvitationRow>)> {
        self.read(move |c| {
            let users = c
                .prepare(&format!(
                    "SELECT {USER_COLUMNS} WHERE u.tenant_id = ?1 ORDER BY u.email LIMIT ?2"
                ))?
                .query_map(params![tenant_id, limit as i64], user_row)?
                .collect::<Result<Vec<_>>>()?;
            let invitations = c
                .prepare(
                    "SELECT email, role, created_at, created_by, expires_at FROM invitations WHERE tenant_id = ?1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 ORDER BY email LIMIT ?3",
                )?
                .query_map(params![tenant_id, now_ms, limit as i64], |r| {
                    Ok(InvitationRow {
                        email: r.get(0)?,
                        role: Role::parse(&r.get::<String>(1)?),
                        created_at: r.get(2)?,
                        created_by: r.get(3)?,
                        expires_at: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>>>()?;
            Ok((users, invitations))
        })
        .await
    }

    /// Gives `email` of `tenant_id` the role `role` and ends its sessions (their
    /// tokens carry the old role); the API keys the user made with a role above
    /// the new one are revoked. Returns the user, the sessions ended and how
    /// many keys were revoked.
    pub async fn set_role(
        &self,
        tenant_id: i64,
        email: String,
        role: Role,
        now_ms: i64,
    ) -> Result<(UserRow, Vec<String>, usize)> {
        self.write(move |tx| {
            let user = user_in(tx, tenant_id, &email)?.ok_or_else(|| no_user(&email))?;
            if user.role == role {
                return Ok((user, Vec::new(), 0));
            }
            if user.role == Role::Admin && admins(tx, tenant_id)? <= 1 {
                return Err(last_admin(&email));
            }
            tx.execute(
                "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1",
                params![user.id, role.as_str(), now_ms],
            )?;
            let ended = revoke_sessions_of(tx, user.id, None, "role", now_ms)?;
            let keys = revoke_keys_made_by(tx, tenant_id, &user.email, Some(role), now_ms)?;
            Ok((UserRow { role, ..user }, ended, keys))
        })
        .await
    }

    /// Removes `email` from `tenant_id` with its sessions, and revokes the API
    /// keys it made; returns the sessions' ids and how many keys were revoked.
    pub async fn remove_user(
        &self,
        tenant_id: i64,
        email: String,
        now_ms: i64,
    ) -> Result<(Vec<String>, usize)> {
        self.write(move |tx| {
            let Some(user) = user_in(tx, tenant_id, &email)? else {
                // An open invitation of that email is withdrawn instead.
                let withdrawn = tx.execute(
                    "UPDATE invitations SET revoked_at = ?3 WHERE tenant_id = ?1 AND email = ?2 AND accepted_at IS NULL AND revoked_at IS NULL",
                    params![tenant_id, email, now_ms],
                )?;
                return if withdrawn > 0 {
                    Ok((Vec::new(), 0))
                } else {
                    Err(no_user(&email))
                };
            };
            if user.role == Role::Admin && admins(tx, tenant_id)? <= 1 {
                return Err(last_admin(&email));
            }
            let ended: Vec<String> = tx
                .prepare("SELECT id FROM sessions WHERE user_id = ?1")?
                .query_map([user.id], |r| r.get(0))?
                .collect::<Result<_>>()?;
            tx.execute(
                "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?1)",
                [user.id],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user.id])?;
            tx.execute("DELETE FROM users WHERE id = ?1", [user.id])?;
            let keys = revoke_keys_made_by(tx, tenant_id, &user.email, None, now_ms)?;
            Ok((ended, keys))
        })
        .await
    }

    /// Invites `email` to `tenant_id` as `role` with the token whose hash is
    /// `token_hash`, replacing an open invitation of the same email. 409 when the
    /// email is a user there already.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_invitation(
        &self,
        tenant_id: i64,
        email: String,
        role: Role,
        token_hash: String,
        created_by: String,
        expires_at: i64,
        now_ms: i64,
    ) -> Result<InvitationRow> {
        self.write(move |tx| {
            if user_in(tx, tenant_id, &email)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "`{email}` is a user of this tenant already"
                )));
            }
            tx.execute(
                "UPDATE invitations SET revoked_at = ?3 WHERE tenant_id = ?1 AND email = ?2 AND accepted_at IS NULL AND revoked_at IS NULL",
                params![tenant_id, email, now_ms],
            )?;
            tx.execute(
                "INSERT INTO invitations (tenant_id, email, role, token_hash, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![tenant_id, email, role.as_str(), token_hash, created_by, now_ms, expires_at],
            )?;
            Ok(InvitationRow {
                email,
                role,
                created_at: now_ms,
                created_by,
                expires_at,
            })
        })
        .await
    }

    /// The invitation open at `now_ms` whose token hashes to `token_hash`, with
    /// its tenant's name.
    pub async fn invitation(
        &self,
        token_hash: String,
        now_ms: i64,
    ) -> Result<Option<(InvitationRow, String)>> {
        self.read(move |c| {
            c
                .query_row(
                    "SELECT i.email, i.role, i.created_at, i.created_by, i.expires_at, t.name FROM invitations i JOIN tenants t ON t.id = i.tenant_id WHERE i.token_hash = ?1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?2",
                    params![token_hash, now_ms],
                    |r| {
                        Ok((
                            InvitationRow {
                                email: r.get(0)?,
                                role: Role::parse(&r.get::<String>(1)?),
                                created_at: r.get(2)?,
                                created_by: r.get(3)?,
                                expires_at: r.get(4)?,
                            },
                            r.get(5)?,
                        ))
                    },
                )
                .optional()
        })
        .await
    }

    /// Turns the open invitation whose token hashes to `token_hash` into a user
    /// with `password_hash`. `None` when there is no such invitation open at
    /// `now_ms` (unknown, used, withdrawn or expired).
    pub async fn accept_invitation(
        &self,
        token_hash: String,
        password_hash: String,
        now_ms: i64,
    ) -> Result<Option<UserRow>> {
        self.write(move |tx| {
            let found: Option<(i64, i64, String, String, String)> = tx
                .query_row(
                    "SELECT id, tenant_id, email, role, created_by FROM invitations WHERE token_hash = ?1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
                    params![token_hash, now_ms],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((id, tenant_id, email, role, created_by)) = found else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE invitations SET accepted_at = ?2 WHERE id = ?1",
                params![id, now_ms],
            )?;
            let user = insert_user(
                tx,
                tenant_id,
                &email,
                &password_hash,
                Role::parse(&role),
                &created_by,
                now_ms,
            )?;
            Ok(Some(user))
        })
        .await
    }
}
