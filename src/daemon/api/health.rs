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
use crate::daemon::supervise::Down;

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
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
pub struct Readiness {
    /// `ready`, `store cannot write`, `store unreachable`, `component down` or
    /// `out of step with the cluster`.
    status: &'static str,
    /// Why the store cannot write, or which components are down, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The long-lived components not running now (the scheduler, the writer, the
    /// notifier, …), each with what happened to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    down: Vec<Down>,
}

/// 200 when ready, 503 when not, with a [`Readiness`] either way.
#[derive(Debug, PartialEq)]
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
            "Ready: the store answers and can write, and every component runs.",
        ))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        _op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, DocResponse)> {
        vec![
            (
                Some(DocStatus::Code(200)),
                json_response::<Readiness>(
                    ctx,
                    "Ready: the store answers and can write, and every component runs.",
                ),
            ),
            (
                Some(DocStatus::Code(503)),
                json_response::<Readiness>(
                    ctx,
                    "Not ready: the store cannot write or does not answer, or a component is down; `reason` says why.",
                ),
            ),
        ]
    }
}

/// Not ready while the store cannot write (results would only pile up in memory),
/// with the reason and what to do; ready again by itself once a write succeeds.
/// Not ready either while a long-lived component is down (it panicked and waits to
/// be started again, or stopped by itself), with its name.
pub async fn readyz(State(state): State<Shared>) -> Ready {
    if let Some(reason) = state.store.cluster_problem() {
        return Ready(
            StatusCode::SERVICE_UNAVAILABLE,
            Readiness {
                status: "out of step with the cluster",
                reason: Some(reason),
                down: state.components.down(),
            },
        );
    }
    let problem = state.store.write_problem();
    let answers = problem.is_none() && state.store.ping().await;
    readiness(problem, answers, state.components.down())
}

/// The answer of `/readyz`, from what the store says and which components are down.
fn readiness(write_problem: Option<String>, store_answers: bool, down: Vec<Down>) -> Ready {
    let not_ready = |status, reason, down| {
        Ready(
            StatusCode::SERVICE_UNAVAILABLE,
            Readiness {
                status,
                reason,
                down,
            },
        )
    };
    if let Some(reason) = write_problem {
        return not_ready("store cannot write", Some(reason), down);
    }
    if !store_answers {
        return not_ready("store unreachable", None, down);
    }
    if !down.is_empty() {
        let names: Vec<String> = down
            .iter()
            .map(|d| format!("the {}: {}", d.component, d.reason))
            .collect();
        let reason = format!("{}; see the daemon's log for the panic", names.join("; "));
        return not_ready("component down", Some(reason), down);
    }
    Ready(
        StatusCode::OK,
        Readiness {
            status: "ready",
            reason: None,
            down,
        },
    )
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
    match tokio::task::spawn_blocking(move || {
        metrics.render(std::sync::Arc::new(snapshot), db_busy, format)
    })
    .await
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_down_makes_the_daemon_not_ready_and_names_it() {
        let down = vec![Down {
            component: "scheduler".into(),
            reason: "panicked: boom; starting again in 2s".into(),
        }];
        let Ready(code, body) = readiness(None, true, down.clone());
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            Readiness {
                status: "component down",
                reason: Some(
                    "the scheduler: panicked: boom; starting again in 2s; see the daemon's log for the panic"
                        .into()
                ),
                down,
            }
        );
        assert_eq!(readiness(None, true, vec![]).0, StatusCode::OK);
    }

    #[test]
    fn the_store_comes_first_and_the_components_down_are_listed_with_it() {
        let down = vec![Down {
            component: "writer".into(),
            reason: "panicked: x; starting again in 1s".into(),
        }];
        let Ready(code, body) = readiness(Some("disk full".into()), true, down.clone());
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            (body.status, body.reason.as_deref(), body.down),
            ("store cannot write", Some("disk full"), down)
        );
        let Ready(code, body) = readiness(None, false, vec![]);
        assert_eq!(
            (code, body.status),
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
        );
    }
}
