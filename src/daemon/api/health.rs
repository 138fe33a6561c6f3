//! Liveness, readiness and metrics: no key needed, for probes and Prometheus.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response as DocResponse, StatusCode as DocStatus};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::Shared;
use super::openapi::{json_response, ok, text};
use crate::daemon::metrics::Format;

/// The answer of `/healthz`: the process answers.
#[derive(Serialize, JsonSchema)]
pub struct Health {
    /// `ok`.
    status: &'static str,
}

pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// The answer of `/readyz`.
#[derive(Serialize, JsonSchema)]
pub struct Readiness {
    /// `ready`, `store cannot write` or `store unreachable`.
    status: &'static str,
    /// Why the store cannot write, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// 200 when ready, 503 when not, with a [`Readiness`] either way.
pub struct Ready(StatusCode, Readiness);

impl IntoResponse for Ready {
    fn into_response(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

impl OperationOutput for Ready {
    type Inner = Readiness;

    fn operation_response(ctx: &mut GenContext, _op: &mut Operation) -> Option<DocResponse> {
        Some(json_response::<Readiness>(
            ctx,
            "Ready: the store answers and can write.",
        ))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        _op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, DocResponse)> {
        vec![
            (
                Some(DocStatus::Code(200)),
                json_response::<Readiness>(ctx, "Ready: the store answers and can write."),
            ),
            (
                Some(DocStatus::Code(503)),
                json_response::<Readiness>(
                    ctx,
                    "Not ready: the store cannot write or does not answer; `reason` says why.",
                ),
            ),
        ]
    }
}

/// Not ready while the store cannot write (results would only pile up in memory),
/// with the reason and what to do; ready again by itself once a write succeeds.
pub async fn readyz(State(state): State<Shared>) -> Ready {
    let answer = |status, reason| Readiness { status, reason };
    if let Some(reason) = state.store.write_problem() {
        Ready(
            StatusCode::SERVICE_UNAVAILABLE,
            answer("store cannot write", Some(reason)),
        )
    } else if state.store.ping().await {
        Ready(StatusCode::OK, answer("ready", None))
    } else {
        Ready(
            StatusCode::SERVICE_UNAVAILABLE,
            answer("store unreachable", None),
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
pub async fn metrics(State(state): State<Shared>, headers: HeaderMap) -> Scrape {
    Scrape(scrape(state, headers).await)
}

/// The metrics as text: OpenMetrics or the classic format, as asked; 503 in plain
/// text when they cannot be read.
pub struct Scrape(Response);

impl IntoResponse for Scrape {
    fn into_response(self) -> Response {
        self.0
    }
}

impl OperationOutput for Scrape {
    type Inner = String;

    fn operation_response(_ctx: &mut GenContext, _op: &mut Operation) -> Option<DocResponse> {
        Some(text(
            "The metrics: OpenMetrics when `Accept` asks for it, the classic text format otherwise.",
            &[
                Format::OpenMetrics.content_type(),
                Format::Text.content_type(),
            ],
        ))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, DocResponse)> {
        let mut out = ok(Self::operation_response(ctx, op));
        out.push((
            Some(DocStatus::Code(503)),
            text(
                "Too many scrapes at once, or the store cannot be read; the text says which.",
                &[UNAVAILABLE_TYPE],
            ),
        ));
        out
    }
}

/// The type of the plain-text 503 of `/metrics`.
const UNAVAILABLE_TYPE: &str = "text/plain; charset=utf-8";

async fn scrape(state: Shared, headers: HeaderMap) -> Response {
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
        [(header::CONTENT_TYPE, UNAVAILABLE_TYPE)],
        format!("{message}\n"),
    )
        .into_response()
}
