//! API keys: `GET /api-keys`, `POST /api-keys` (the secret shown once) and
//! `DELETE /api-keys/{id}` (refused at once). Admins only, by the access rules.

use axum::extract::{Path, State};
use axum::response::NoContent;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::openapi::{Caller, Created, Source};
use super::{ApiError, ApiJson, Shared};
use crate::daemon::audit::Event;
use crate::daemon::store::{KeyRow, NewKey, now_ms, to_time};
use crate::model::{ApiKeyCreate, ApiKeyCreated, ApiKeyInfo};

/// Longest key name: fits a column of `api-key list` and any CI job's name.
pub const MAX_KEY_NAME: usize = 63;
/// Keys one list answers: far more than a tenant keeps; older ones beyond it are
/// still valid, only not listed.
pub const MAX_KEYS_LISTED: usize = 1000;

/// The `{id}` of a key: its public id.
#[derive(Deserialize, JsonSchema)]
pub struct KeyId {
    /// The key's public id (12 hex digits, the part after `upk_`).
    pub id: String,
}

fn info(k: KeyRow, now: i64) -> ApiKeyInfo {
    ApiKeyInfo {
        state: k.state(now).into(),
        id: k.id,
        name: k.name,
        role: k.role,
        created_at: to_time(k.created_at),
        created_by: k.created_by,
        expires_at: k.expires_at.map(to_time),
        last_used_at: k.last_used_at.map(to_time),
        revoked_at: k.revoked_at.map(to_time),
    }
}

fn check_key_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "a key name is 1–{MAX_KEY_NAME} letters, digits, `.`, `_` and `-` (like `ci-deploy`)"
        )))
    }
}

pub async fn list(
    State(state): State<Shared>,
    Caller(who): Caller,
) -> Result<axum::Json<Vec<ApiKeyInfo>>, ApiError> {
    let now = now_ms();
    let keys = state
        .store
        .list_keys(who.tenant_id, MAX_KEYS_LISTED)
        .await?;
    Ok(axum::Json(keys.into_iter().map(|k| info(k, now)).collect()))
}

pub async fn create(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    ApiJson(req): ApiJson<ApiKeyCreate>,
) -> Result<Created<ApiKeyCreated>, ApiError> {
    check_key_name(&req.name)?;
    let now = now_ms();
    let expires_at = match req.expires_in.as_deref() {
        None => None,
        Some(text) => {
            let d: crate::spec::Duration = text
                .parse()
                .map_err(|e: String| ApiError::invalid(format!("`expires_in`: {e}")))?;
            if d.get().is_zero() {
                return Err(ApiError::invalid(
                    "`expires_in` must be longer than zero; leave it out for a key that does not expire",
                ));
            }
            Some(now.saturating_add(i64::try_from(d.get().as_millis()).unwrap_or(i64::MAX)))
        }
    };
    let (row, key) = state
        .store
        .create_key(
            who.tenant_id,
            NewKey {
                name: req.name.clone(),
                role: req.role,
                expires_at,
                created_by: who.actor(),
            },
            now,
        )
        .await?;
    state
        .audit
        .record(
            Event::by(&who, "key.create", source)
                .target(row.id.clone())
                .detail(json!({"name": row.name, "role": row.role, "expires_at": expires_at.map(to_time)})),
        )
        .await;
    Ok(Created(ApiKeyCreated {
        info: info(row, now),
        key,
    }))
}

pub async fn revoke(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    Path(KeyId { id }): Path<KeyId>,
) -> Result<NoContent, ApiError> {
    state
        .store
        .revoke_key(who.tenant_id, id.clone(), now_ms())
        .await?;
    state
        .audit
        .record(Event::by(&who, "key.revoke", source).target(id))
        .await;
    Ok(NoContent)
}
