//! `POST /tenants`: creates a tenant with its own admin key. Only admin keys of the
//! first tenant (the one a fresh daemon bootstraps) may do this.

use axum::extract::State;

use super::audit::Source;
use super::openapi::{Caller, Created};
use super::{ApiError, ApiJson, Shared};
use crate::daemon::audit::{Event, Outcome};
use crate::model::{TenantCreated, TenantRequest};

/// The tenant a fresh daemon creates; its admins manage the others.
const FIRST_TENANT: i64 = 1;

pub async fn create(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    ApiJson(req): ApiJson<TenantRequest>,
) -> Result<Created<TenantCreated>, ApiError> {
    let tried = || Event::by(&key, "tenant.create", from);
    if key.tenant_id != FIRST_TENANT {
        let e = ApiError::forbidden("only admins of the first tenant may create tenants");
        state
            .audit
            .record(tried().outcome(Outcome::Refused).detail(
                serde_json::json!({"method": "POST", "path": "/api/v1/tenants", "status": 403}),
            ))
            .await;
        return Err(e);
    }
    // A name that is not valid is not written as the target.
    let name = state.audit.failure(check_name(&req.name), tried).await?;
    let created = state.store.create_tenant(name.clone()).await;
    let (id, api_key) = state
        .audit
        .failure(created.map_err(ApiError::from), || {
            tried().target(name.clone())
        })
        .await?;
    // Before any check of the tenant can run, so that its counters carry its name.
    state.metrics.add_tenant(id, &name);
    state
        .audit
        .record(
            Event::by(&key, "tenant.create", from)
                .target(name.clone())
                .detail(serde_json::json!({"id": id})),
        )
        .await;
    tracing::info!(tenant = id, name = %name, by = %key.actor(), "tenant created");
    Ok(Created(TenantCreated { id, name, api_key }))
}

/// A tenant's name, trimmed, or 400 when it is not 1–63 lowercase letters,
/// digits and `-` (for `POST /tenants` and `POST /auth/register` alike).
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim().to_string();
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ApiError::invalid(
            "a tenant name is 1–63 lowercase letters, digits and `-`",
        ));
    }
    Ok(name)
}
