//! Checks: list, get, status, results, run now, pause, resume, delete.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, Shared, require};
use crate::daemon::store::{ApiKey, CheckRuntime, Role, StoredResource, to_time};
use crate::model::{CheckDetail, CheckState, CheckSummary, ProbeResult, ResultPage};
use crate::spec::secrets::masked;
use crate::spec::{Kind, Spec, remote};

/// Results returned per page when the caller does not say.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1000;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `key=value`
    label: Option<String>,
    state: Option<CheckState>,
    #[serde(rename = "type")]
    check_type: Option<String>,
}

fn summary(r: &StoredResource, rt: Option<&CheckRuntime>) -> Option<CheckSummary> {
    let Ok(Spec::Check(c)) = remote::parse_stored(Kind::Check, &r.spec) else {
        return None;
    };
    let rt = rt.cloned().unwrap_or_default();
    let state = if !c.enabled {
        CheckState::Disabled
    } else if rt.paused {
        CheckState::Paused
    } else {
        match rt.last_up {
            None => CheckState::Pending,
            Some(true) => CheckState::Up,
            Some(false) => CheckState::Down,
        }
    };
    Some(CheckSummary {
        name: c.name.clone(),
        check_type: c.check_type.as_str().into(),
        target: c.target.clone(),
        schedule: c.schedule.to_string(),
        state,
        labels: c.labels.clone(),
        source: r.source.clone(),
        last_run_at: rt.last_run_at.map(to_time),
        last_latency_ms: rt.last_latency_ms,
        last_error: rt.last_error.clone(),
        next_run_at: None,
        open_incident: rt.open_incident,
    })
}

async fn one(
    state: &Shared,
    tenant: i64,
    name: &str,
) -> Result<(StoredResource, CheckSummary), ApiError> {
    let r = state
        .store
        .resource(tenant, Kind::Check, name.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no check named `{name}`")))?;
    let rts = state.store.check_runtimes(tenant).await?;
    let mut s = summary(&r, rts.get(name)).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("stored check `{name}` cannot be read"),
        )
    })?;
    s.next_run_at = state.scheduler.next_run(tenant, name.to_string()).await;
    Ok((r, s))
}

pub async fn list(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Vec<CheckSummary>>, ApiError> {
    let label = match &q.label {
        Some(l) => Some(
            l.split_once('=')
                .ok_or_else(|| ApiError::invalid("`label` takes `key=value`"))?,
        ),
        None => None,
    };
    let resources = state
        .store
        .resources(key.tenant_id, Some(Kind::Check))
        .await?;
    let rts = state.store.check_runtimes(key.tenant_id).await?;
    let out = resources
        .iter()
        .filter_map(|r| summary(r, rts.get(&r.name)))
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k).is_some_and(|x| x == v)))
        .filter(|s| q.state.is_none_or(|st| s.state == st))
        .filter(|s| q.check_type.as_ref().is_none_or(|t| &s.check_type == t))
        .collect();
    Ok(axum::Json(out))
}

pub async fn get(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<CheckDetail>, ApiError> {
    let (r, summary) = one(&state, key.tenant_id, &name).await?;
    let since = chrono::Utc::now().timestamp_millis() - 24 * 3600 * 1000;
    let uptime_24h = state.store.uptime(key.tenant_id, name, since).await?;
    Ok(axum::Json(CheckDetail {
        summary,
        spec: masked(&r.spec, &r.secrets),
        uptime_24h,
    }))
}

pub async fn status(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    Ok(axum::Json(one(&state, key.tenant_id, &name).await?.1))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    limit: Option<u32>,
    before: Option<i64>,
}

pub async fn results(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<axum::Json<ResultPage>, ApiError> {
    one(&state, key.tenant_id, &name).await?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    Ok(axum::Json(
        state
            .store
            .results(key.tenant_id, name, limit, q.before)
            .await?,
    ))
}

pub async fn run(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<ProbeResult>, ApiError> {
    require(&key, Role::Operator)?;
    one(&state, key.tenant_id, &name).await?;
    let result = state
        .scheduler
        .run_now(key.tenant_id, name.clone())
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("check `{name}` could not be run now; the daemon may be stopping"),
            )
        })?;
    Ok(axum::Json(result))
}

async fn set_paused(
    state: Shared,
    key: ApiKey,
    name: String,
    paused: bool,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    require(&key, Role::Operator)?;
    one(&state, key.tenant_id, &name).await?;
    state
        .store
        .set_paused(key.tenant_id, name.clone(), paused)
        .await?;
    state.scheduler.reload().await;
    tracing::info!(tenant = key.tenant_id, check = %name, by = %key.actor(), paused, "check {}", if paused { "paused" } else { "resumed" });
    Ok(axum::Json(one(&state, key.tenant_id, &name).await?.1))
}

pub async fn pause(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    set_paused(state, key, name, true).await
}

pub async fn resume(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    set_paused(state, key, name, false).await
}

pub async fn delete(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require(&key, Role::Admin)?;
    if !state
        .store
        .delete_check(key.tenant_id, name.clone())
        .await?
    {
        return Err(ApiError::not_found(format!("no check named `{name}`")));
    }
    state.scheduler.reload().await;
    Ok(StatusCode::NO_CONTENT)
}
