//! Liveness, readiness and metrics: no key needed, for probes and Prometheus.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

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

/// Scrapes answered at once; more wait for a turn, up to [`super::TURN_WAIT`]. Prometheus
/// scrapes a target one scrape at a time, so two leave room for a person with curl,
/// and the bound keeps this endpoint, which needs no key, from running the store and
/// the CPU hot: a scrape of 10,000 checks is about 2.5 MB of text.
pub const MAX_SCRAPES: usize = 2;
static SCRAPES: Semaphore = Semaphore::const_new(MAX_SCRAPES);

/// OpenMetrics for scrapers that ask for it (Prometheus does), the classic text
/// format otherwise. 503 when the store cannot be read: a scrape without the
/// per-check series would look like every check had been deleted.
pub async fn metrics(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let Ok(Ok(_turn)) = tokio::time::timeout(super::TURN_WAIT, SCRAPES.acquire()).await else {
        return unavailable(format!(
            "{MAX_SCRAPES} scrapes of /metrics are already running; try again shortly"
        ));
    };
    let db_busy = state.store.connections_busy();
    let snapshot = match state.store.scrape().await {
        Ok(snapshot) => snapshot,
        Err(e) => {
            state.metrics.error("metrics", "store_read");
            tracing::error!(error = %e, "cannot read the store for /metrics");
            return unavailable(format!(
                "cannot read the store for the metrics: {e}; see the daemon's log and /readyz"
            ));
        }
    };
    // Encoding thousands of checks is CPU work: off the async threads.
    let metrics = std::sync::Arc::clone(&state.metrics);
    match tokio::task::spawn_blocking(move || metrics.render(&snapshot, db_busy, format)).await {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(e) => unavailable(format!("encoding the metrics failed: {e}")),
    }
}

fn unavailable(message: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}
