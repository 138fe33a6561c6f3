//! Incidents: list, get (with events and notifications), events, ack, resolve.

use axum::Extension;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::page::{self, List};
use super::{ApiError, Shared, require};
use crate::daemon::store::{ApiKey, Role};
use crate::model::{ActionRequest, Incident, IncidentDetail, IncidentEvent, IncidentStatus};

/// Incidents per page when the caller does not say: the recent ones.
const DEFAULT_LIMIT: u32 = 100;

/// Filters (`status`, `check`) and the page (`limit`, `cursor`), newest first.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<IncidentStatus>,
    check: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Query(q): Query<ListQuery>,
) -> Result<axum::response::Response, ApiError> {
    let limit = page::limit(q.limit, DEFAULT_LIMIT);
    let before = q
        .cursor
        .as_deref()
        .map(|c| page::decode_id(List::Incidents, c))
        .transpose()?;
    let list = state
        .store
        .incidents_before(key.tenant_id, q.status, q.check, limit + 1, before)
        .await?;
    let (list, next) = page::cut(list, limit, List::Incidents, |i| i.id.to_string());
    Ok(page::respond(list, next))
}

pub async fn get(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<i64>,
) -> Result<axum::Json<IncidentDetail>, ApiError> {
    let incident = state.store.incident(key.tenant_id, id).await?;
    let events = state.store.incident_events(key.tenant_id, id).await?;
    let notifications = state
        .store
        .incident_notifications(key.tenant_id, id)
        .await?;
    Ok(axum::Json(IncidentDetail {
        incident,
        events,
        notifications,
    }))
}

pub async fn events(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<IncidentEvent>>, ApiError> {
    Ok(axum::Json(
        state.store.incident_events(key.tenant_id, id).await?,
    ))
}

pub async fn ack(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Incident>, ApiError> {
    require(&key, Role::Operator)?;
    let comment = action(&body)?.comment;
    let inc = state
        .store
        .acknowledge(key.tenant_id, id, key.actor(), comment)
        .await?;
    state.notifier.wake();
    Ok(axum::Json(inc))
}

pub async fn resolve(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Incident>, ApiError> {
    require(&key, Role::Operator)?;
    let comment = action(&body)?.comment;
    let inc = state
        .store
        .resolve(key.tenant_id, id, key.actor(), comment)
        .await?;
    state.notifier.wake();
    Ok(axum::Json(inc))
}

/// The optional body of ack and resolve: nothing, or an [`ActionRequest`].
fn action(body: &[u8]) -> Result<ActionRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!(
            "the body must be JSON like {{\"comment\": \"…\"}}: {e}"
        ))
    })
}
