//! Sessions: a CLI login (a family of refresh tokens, each used once) or a console
//! login (a cookie). Only SHA-256 hashes of refresh tokens and cookies are stored.
//! A refresh token presented a second time means it was copied: the whole family
//! ends, the thief's copy and the owner's alike.

use crate::daemon::store::{Db, Optional, Row};
use rusqlite::params;

use super::super::{Result, Store};
use super::users::{UserRow, revoke_sessions_of, user_by_id};

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub tenant_id: i64,
    pub user_id: i64,
    /// `cli` or `console`.
    pub kind: String,
    pub created_at: i64,
    /// Absolute: refreshing does not extend it.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl SessionRow {
    pub fn live(&self, now_ms: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now_ms
    }
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub tenant_id: i64,
    pub user_id: i64,
    pub kind: &'static str,
    pub expires_at: i64,
    pub source: Option<String>,
    /// The first refresh token's hash (CLI sessions).
    pub refresh_hash: Option<String>,
    /// The cookie's hash (console sessions).
    pub cookie_hash: Option<String>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The token was current: it is used now, and `new_hash` is the current one.
    Rotated { session: SessionRow, user: UserRow },
    /// The token had been used already: its session has ended.
    Reused {
        session: SessionRow,
        user: Option<UserRow>,
    },
    /// Unknown, or its session has ended or expired.
    Invalid,
}

/// Live sessions one user may have: a person has a few terminals, machines
/// and browsers, and 50 is generous for that, while it bounds the rows (and the
/// work of ending them all) that one user logging in again and again can make.
/// A login past it ends the user's oldest live session.
pub const MAX_SESSIONS_PER_USER: usize = 50;
/// How long an expired or ended session (with its refresh tokens) and a used,
/// withdrawn or expired invitation are kept before the daemon deletes them: a
/// day, so that what just happened can still be looked at. A token of a deleted
/// session is refused like one of an ended session, so nothing depends on them.
pub const ENDED_LOGINS_KEPT_MS: i64 = 86_400_000;

const SESSION_COLUMNS: &str =
    "id, tenant_id, user_id, kind, created_at, expires_at, revoked_at FROM sessions";

fn session_row(r: &Row<'_>) -> Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        user_id: r.get(2)?,
        kind: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

fn session_by_id(c: &Db<'_>, id: &str) -> Result<Option<SessionRow>> {
    c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} WHERE id = ?1"))?
        .query_row([id], session_row)
        .optional()
}

impl Store {
    /// Opens a session (and records the user's login at `now_ms`). Past
    /// [`MAX_SESSIONS_PER_USER`] live sessions the user's oldest end; returns
    /// their ids.
    pub async fn create_session(&self, s: NewSession, now_ms: i64) -> Result<Vec<String>> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sessions (id, tenant_id, user_id, kind, cookie_hash, created_at, expires_at, last_seen_at, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?8)",
                params![s.id, s.tenant_id, s.user_id, s.kind, s.cookie_hash, now_ms, s.expires_at, s.source],
            )?;
            if let Some(h) = &s.refresh_hash {
                tx.execute(
                    "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?1, ?2, ?3)",
                    params![h, s.id, now_ms],
                )?;
            }
            tx.execute(
                "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
                params![s.user_id, now_ms],
            )?;
            let ended: Vec<String> = tx
                .prepare(
                    "SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY created_at DESC, rowid DESC LIMIT 9223372036854775807 OFFSET ?3",
                )?
                .query_map(
                    params![s.user_id, now_ms, MAX_SESSIONS_PER_USER as i64],
                    |r| r.get(0),
                )?
                .collect::<Result<_>>()?;
            for id in &ended {
                tx.execute(
                    "UPDATE sessions SET revoked_at = ?2, revoked_why = 'too_many' WHERE id = ?1",
                    params![id, now_ms],
                )?;
            }
            Ok(ended)
        })
        .await
    }

    /// Deletes sessions (and their refresh tokens) that expired or ended, and
    /// invitations that were used, withdrawn or expired, more than
    /// [`ENDED_LOGINS_KEPT_MS`] before `now_ms`. Returns (sessions,
    /// invitations) deleted.
    pub async fn prune_logins(&self, now_ms: i64) -> Result<(usize, usize)> {
        let cutoff = now_ms.saturating_sub(ENDED_LOGINS_KEPT_MS);
        self.write(move |tx| {
            let old = "SELECT id FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1";
            tx.execute(
                &format!("DELETE FROM refresh_tokens WHERE session_id IN ({old})"),
                [cutoff],
            )?;
            let sessions = tx.execute(&format!("DELETE FROM sessions WHERE id IN ({old})"), [cutoff])?;
            let invitations = tx.execute(
                "DELETE FROM invitations WHERE expires_at < ?1 OR accepted_at < ?1 OR revoked_at < ?1",
                [cutoff],
            )?;
            Ok((sessions, invitations))
        })
        .await
    }

    pub async fn session(&self, id: String) -> Result<Option<SessionRow>> {
        self.read(move |c| session_by_id(c, &id)).await
    }

    /// Exchanges the refresh token hashing to `old_hash` for the one hashing to
    /// `new_hash`, at `now_ms`. A token used before ends its session.
    pub async fn rotate_refresh(
        &self,
        old_hash: String,
        new_hash: String,
        now_ms: i64,
    ) -> Result<Refreshed> {
        self.write(move |tx| {
            let found: Option<(String, Option<i64>)> = tx
                .query_row(
                    "SELECT session_id, used_at FROM refresh_tokens WHERE hash = ?1",
                    [&old_hash],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((session_id, used_at)) = found else {
                return Ok(Refreshed::Invalid);
            };
            let Some(session) = session_by_id(tx, &session_id)? else {
                return Ok(Refreshed::Invalid);
            };
            if !session.live(now_ms) {
                return Ok(Refreshed::Invalid);
            }
            if used_at.is_some() {
                tx.execute(
                    "UPDATE sessions SET revoked_at = ?2, revoked_why = 'reuse' WHERE id = ?1",
                    params![session.id, now_ms],
                )?;
                let user = user_by_id(tx, session.user_id)?;
                return Ok(Refreshed::Reused { session, user });
            }
            let Some(user) = user_by_id(tx, session.user_id)? else {
                return Ok(Refreshed::Invalid);
            };
            tx.execute(
                "UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1",
                params![old_hash, now_ms],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?1, ?2, ?3)",
                params![new_hash, session.id, now_ms],
            )?;
            tx.execute(
                "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1",
                params![session.id, now_ms],
            )?;
            Ok(Refreshed::Rotated { session, user })
        })
        .await
    }

    /// The session a refresh token (current or used) belongs to.
    pub async fn session_of_refresh(&self, hash: String) -> Result<Option<SessionRow>> {
        self.read(move |c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT session_id FROM refresh_tokens WHERE hash = ?1",
                    [&hash],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => session_by_id(c, &id),
                None => Ok(None),
            }
        })
        .await
    }

    /// Ends session `id` at `now_ms`; whether it was live.
    pub async fn revoke_session(&self, id: String, why: &'static str, now_ms: i64) -> Result<bool> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE sessions SET revoked_at = ?2, revoked_why = ?3 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms, why],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Ends every session of `user_id`; returns their ids.
    pub async fn revoke_user_sessions(
        &self,
        user_id: i64,
        why: &'static str,
        now_ms: i64,
    ) -> Result<Vec<String>> {
        self.write(move |tx| revoke_sessions_of(tx, user_id, None, why, now_ms))
            .await
    }

    /// The live console session whose cookie hashes to `cookie_hash`, and its user.
    pub async fn session_by_cookie(
        &self,
        cookie_hash: String,
        now_ms: i64,
    ) -> Result<Option<(SessionRow, UserRow)>> {
        self.read(move |c| {
            let session = c
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} WHERE cookie_hash = ?1 AND kind = 'console'"
                ))?
                .query_row([&cookie_hash], session_row)
                .optional()?;
            let Some(session) = session.filter(|s| s.live(now_ms)) else {
                return Ok(None);
            };
            Ok(user_by_id(c, session.user_id)?.map(|u| (session, u)))
        })
        .await
    }
}
