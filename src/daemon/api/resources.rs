//! `POST /plan` and `POST /apply`: one engine, one diff.

use axum::extract::State;

use super::audit::Source;
use super::openapi::Caller;
use super::{ApiError, ApiJson, Shared};
use crate::daemon::apply;
use crate::daemon::audit::{Event, apply_detail};
use crate::model::{ApplyResponse, PlanRequest};
use crate::spec::plan::Plan;
use crate::spec::remote;

/// How many plans or applies validate at once (regexes, protos and conditions
/// are CPU work); the others wait their turn, then answer 503 `busy`.
const CONCURRENT: usize = 2;

fn turns() -> &'static super::Turns {
    static TURNS: super::Turns = super::Turns::new(CONCURRENT, "plans or applies");
    &TURNS
}

/// Validates `req`'s resources off the async threads.
async fn checked(req: &mut PlanRequest) -> Result<Vec<remote::Checked>, ApiError> {
    let resources = std::mem::take(&mut req.resources);
    Ok(turns().run(move || apply::check_all(resources)).await??)
}

/// Planning needs the role that applies (operator, in `access::RULES`): a plan
/// says whether a secret sent differs from the stored one (`(sensitive value
/// changed)`), so a caller that could plan but not apply could test guesses of
/// secrets one per request, and learn nothing it could act on anyway.
pub async fn plan(
    State(state): State<Shared>,
    Caller(key): Caller,
    ApiJson(mut req): ApiJson<PlanRequest>,
) -> Result<axum::Json<Plan>, ApiError> {
    check_source(&req)?;
    let checked = checked(&mut req).await?;
    let (plan, _) = apply::run_checked(&state.store, key.tenant_id, checked, req, false).await?;
    Ok(axum::Json(plan))
}

pub async fn apply(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    ApiJson(mut req): ApiJson<PlanRequest>,
) -> Result<axum::Json<ApplyResponse>, ApiError> {
    let sent = req.resources.len();
    let tried = || Event::by(&key, "apply", from).detail(serde_json::json!({"resources": sent}));
    // A source that is not valid is not written as the target.
    state.audit.failure(check_source(&req), tried).await?;
    let source = req.options.source.clone();
    let done = async {
        let checked = checked(&mut req).await?;
        Ok(apply::run_checked(&state.store, key.tenant_id, checked, req, true).await?)
    }
    .await;
    let (plan, state_revision) = state
        .audit
        .failure(done, || tried().target(source.clone()))
        .await?;
    state
        .audit
        .record(
            Event::by(&key, "apply", from)
                .target(source.clone())
                .detail(apply_detail(&plan, sent)),
        )
        .await;
    if !plan.is_empty() {
        tracing::info!(tenant = key.tenant_id, source = %source, by = %key.actor(), add = plan.summary.add, change = plan.summary.change, destroy = plan.summary.destroy, revision = state_revision, "applied");
    }
    Ok(axum::Json(ApplyResponse {
        plan,
        state_revision,
    }))
}

fn check_source(req: &PlanRequest) -> Result<(), ApiError> {
    let s = &req.options.source;
    if s.is_empty() || s.len() > 200 || s.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "`source` must be 1–200 printable characters naming who applies (e.g. the repository)",
        ));
    }
    Ok(())
}
