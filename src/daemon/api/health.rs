//! Liveness, readiness and metrics: no key needed, for probes and Prometheus.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use crate::daemon::metrics::Format;

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

/// OpenMetrics for scrapers that ask for it (Prometheus does), the classic text
/// format otherwise. 503 when the store cannot be read: a scrape without the
/// per-check series would look like every check had been deleted.
pub async fn metrics(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let db_busy = state.store.connections_busy();
    match state.store.scrape().await {
        Ok(snapshot) => (
            [(header::CONTENT_TYPE, format.content_type())],
            state.metrics.render(&snapshot, db_busy, format),
        )
            .into_response(),
        Err(e) => {
            state.metrics.error("metrics", "store_read");
            tracing::error!(error = %e, "cannot read the store for /metrics");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!(
                    "cannot read the store for the metrics: {e}; see the daemon's log and /readyz\n"
                ),
            )
                .into_response()
        }
    }
}
