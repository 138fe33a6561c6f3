//! Users of a tenant: `GET /users` (with open invitations), `POST /users` (with
//! a first password), `POST /users/invitations`, `PUT /users/{email}/role` and
//! `DELETE /users/{email}`. Admins only, by the access rules. A role change or a
//! removal ends the user's sessions at once, and revokes the API keys the user
//! made that the user could no longer make (all of them on removal); the audit
//! event says how many (`keys_revoked`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::NoContent;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::openapi::{Caller, Created, Source};
use super::{ApiError, ApiJson, Shared};
use crate::daemon::audit::Event;
use crate::daemon::auth::{INVITE_PREFIX, check_email, check_password, normalize_email};
use crate::daemon::store::{InvitationRow, UserRow, now_ms, random_alnum, secret_hash, to_time};
use crate::model::{InvitationCreated, RoleChange, UserAdd, UserInfo, UserInvite};

/// How long an invitation can be accepted unless the admin says: a week, as long
/// as a refresh token lives.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 86_400);
/// The longest an invitation may be open: a token that lies around longer is
/// more likely found by someone else.
pub const MAX_INVITATION_TTL: Duration = Duration::from_secs(30 * 86_400);
/// Users (and, apart, invitations) one list answers.
pub const MAX_USERS_LISTED: usize = 1000;

/// The `{email}` of a route.
#[derive(Deserialize, JsonSchema)]
pub struct Email {
    /// The user's email (any case).
    pub email: String,
}

fn user_info(u: UserRow) -> UserInfo {
    UserInfo {
        email: u.email,
        role: u.role,
        state: "active".into(),
        created_at: to_time(u.created_at),
        created_by: u.created_by,
        last_login_at: u.last_login_at.map(to_time),
        expires_at: None,
    }
}

fn invitation_info(i: InvitationRow) -> UserInfo {
    UserInfo {
        email: i.email,
        role: i.role,
        state: "invited".into(),
        created_at: to_time(i.created_at),
        created_by: i.created_by,
        last_login_at: None,
        expires_at: Some(to_time(i.expires_at)),
    }
}

pub async fn list(
    State(state): State<Shared>,
    Caller(who): Caller,
) -> Result<axum::Json<Vec<UserInfo>>, ApiError> {
    let (users, invitations) = state
        .store
        .list_users(who.tenant_id, now_ms(), MAX_USERS_LISTED)
        .await?;
    Ok(axum::Json(
        users
            .into_iter()
            .map(user_info)
            .chain(invitations.into_iter().map(invitation_info))
            .collect(),
    ))
}

pub async fn add(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    ApiJson(req): ApiJson<UserAdd>,
) -> Result<Created<UserInfo>, ApiError> {
    let email = normalize_email(&req.email);
    check_email(&email)?;
    check_password(&req.password, &email)?;
    let hash = state.auth.hash_password(req.password).await?;
    let user = state
        .store
        .add_user(who.tenant_id, email, hash, req.role, who.actor(), now_ms())
        .await?;
    state
        .audit
        .record(
            Event::by(&who, "user.add", source)
                .target(user.email.clone())
                .detail(json!({"role": user.role})),
        )
        .await;
    Ok(Created(user_info(user)))
}

pub async fn invite(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    ApiJson(req): ApiJson<UserInvite>,
) -> Result<Created<InvitationCreated>, ApiError> {
    let email = normalize_email(&req.email);
    check_email(&email)?;
    let ttl = match req.expires_in.as_deref() {
        None => INVITATION_TTL,
        Some(text) => text
            .parse::<crate::spec::Duration>()
            .map_err(|e| ApiError::invalid(format!("`expires_in`: {e}")))?
            .get(),
    };
    if ttl.is_zero() || ttl > MAX_INVITATION_TTL {
        return Err(ApiError::invalid(format!(
            "`expires_in` must be more than zero and at most {}d",
            MAX_INVITATION_TTL.as_secs() / 86_400
        )));
    }
    let now = now_ms();
    let expires_at = now + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let token = format!("{INVITE_PREFIX}{}", random_alnum(43));
    let row = state
        .store
        .create_invitation(
            who.tenant_id,
            email,
            req.role,
            secret_hash(&token),
            who.actor(),
            expires_at,
            now,
        )
        .await?;
    state
        .audit
        .record(
            Event::by(&who, "user.invite", source)
                .target(row.email.clone())
                .detail(json!({"role": row.role, "expires_at": to_time(expires_at)})),
        )
        .await;
    let url = state
        .auth
        .options()
        .public_url
        .as_deref()
        .map(|u| format!("{}/ui/invite/{token}", u.trim_end_matches('/')));
    Ok(Created(InvitationCreated {
        email: row.email,
        role: row.role,
        expires_at: to_time(expires_at),
        token,
        url,
    }))
}

pub async fn set_role(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    Path(Email { email }): Path<Email>,
    ApiJson(req): ApiJson<RoleChange>,
) -> Result<axum::Json<UserInfo>, ApiError> {
    let email = normalize_email(&email);
    let (user, ended, keys_revoked) = state
        .store
        .set_role(who.tenant_id, email, req.role, now_ms())
        .await?;
    state.auth.ended(&ended);
    state
        .audit
        .record(
            Event::by(&who, "user.role", source)
                .target(user.email.clone())
                .detail(json!({"role": user.role, "sessions_ended": ended.len(), "keys_revoked": keys_revoked})),
        )
        .await;
    Ok(axum::Json(user_info(user)))
}

pub async fn remove(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    Path(Email { email }): Path<Email>,
) -> Result<NoContent, ApiError> {
    let email = normalize_email(&email);
    let (ended, keys_revoked) = state
        .store
        .remove_user(who.tenant_id, email.clone(), now_ms())
        .await?;
    state.auth.ended(&ended);
    state
        .audit
        .record(
            Event::by(&who, "user.remove", source)
                .target(email)
                .detail(json!({"sessions_ended": ended.len(), "keys_revoked": keys_revoked})),
        )
        .await;
    Ok(NoContent)
}
