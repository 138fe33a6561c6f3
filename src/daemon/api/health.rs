//! Liveness, readiness and metrics: no key needed, for probes and Prometheus.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::Shared;
use crate::daemon::metrics::TenantLabels;

pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// Not ready while the store cannot write (results would only pile up in memory),
/// with the reason and what to do; ready again by itself once a write succeeds.
pub async fn readyz(State(state): State<Shared>) -> impl IntoResponse {
    if let Some(reason) = state.store.write_problem() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "store cannot write", "reason": reason})),
        )
    } else if state.store.ping().await {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "store unreachable"})),
        )
    }
}

pub async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    if let (Ok(open), Ok(names)) = (
        state.store.open_incident_count().await,
        state.store.tenant_names().await,
    ) {
        for (id, name) in &names {
            let n = open.iter().find(|(t, _)| t == id).map_or(0, |(_, n)| *n);
            state
                .metrics
                .incidents_open
                .get_or_create(&TenantLabels {
                    tenant: name.clone(),
                })
                .set(n);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
