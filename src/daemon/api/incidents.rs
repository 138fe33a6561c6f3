//! Incidents: list, get (with events and notifications), events, ack, resolve, and
//! updates posted on them.

use std::net::IpAddr;

use axum::extract::{FromRequest, Path, Query, Request, State};
use schemars::JsonSchema;
use serde::Deserialize;

use super::audit::Source;
use super::openapi::{Caller, Created, Numbered};
use super::page::{self, List, Paged};
use super::{ApiError, ApiJson, Shared};
use crate::daemon::audit::Event;
use crate::daemon::store::{Principal, action_comment, update_message};
use crate::incident::Action as Act;
use crate::model::{
    ActionRequest, Incident, IncidentDetail, IncidentEvent, IncidentStatus, UpdateRequest,
};

/// Incidents per page when the caller does not say: the recent ones.
const DEFAULT_LIMIT: u32 = 100;

/// Filters (`status`, `check`) and the page (`limit`, `cursor`), newest first.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only incidents in this status.
    status: Option<IncidentStatus>,
    /// Only incidents of this check.
    check: Option<String>,
    /// Most incidents in the page (1–1000, default 100), newest first.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `x-next-cursor` of the previous page.
    #[schemars(length(min = 1))]
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<Shared>,
    Caller(key): Caller,
    Query(q): Query<ListQuery>,
) -> Result<Paged<Vec<Incident>>, ApiError> {
    let limit = page::limit(q.limit, DEFAULT_LIMIT)?;
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
    Caller(key): Caller,
    Path(Numbered { id }): Path<Numbered>,
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
    Caller(key): Caller,
    Path(Numbered { id }): Path<Numbered>,
) -> Result<axum::Json<Vec<IncidentEvent>>, ApiError> {
    Ok(axum::Json(
        state.store.incident_events(key.tenant_id, id).await?,
    ))
}

pub async fn ack(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Numbered { id }): Path<Numbered>,
    Action(ActionRequest { comment }): Action,
) -> Result<axum::Json<Incident>, ApiError> {
    let who = Actor::of(&key, from);
    let inc = act(&state, &who, Act::Acknowledge, id, comment.as_deref()).await?;
    Ok(axum::Json(inc))
}

pub async fn resolve(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Numbered { id }): Path<Numbered>,
    Action(ActionRequest { comment }): Action,
) -> Result<axum::Json<Incident>, ApiError> {
    let who = Actor::of(&key, from);
    let inc = act(&state, &who, Act::Resolve, id, comment.as_deref()).await?;
    Ok(axum::Json(inc))
}

/// Who acts on an incident, as the audit log records them.
pub(crate) struct Actor {
    pub tenant: i64,
    /// `key:…`, `user:…`, `telegram:@name`, `slack:@name`.
    pub name: String,
    pub source: Option<IpAddr>,
}

impl Actor {
    pub(crate) fn of(key: &Principal, source: Option<IpAddr>) -> Actor {
        Actor {
            tenant: key.tenant_id,
            name: key.actor(),
            source,
        }
    }
}

/// Acknowledges or resolves incident `id` with `comment` (checked here): the one
/// path the API, the console and chat buttons share, audited either way, and
/// waking the notifier for the message it queues.
pub(crate) async fn act(
    state: &Shared,
    who: &Actor,
    action: Act,
    id: i64,
    comment: Option<&str>,
) -> Result<Incident, ApiError> {
    let what = match action {
        Act::Acknowledge => "incident.ack",
        Act::Resolve => "incident.resolve",
    };
    let event = || {
        Event::as_actor(Some(who.tenant), who.name.clone(), what, who.source).target(id.to_string())
    };
    let done = async {
        let comment = action_comment(comment).map_err(ApiError::invalid)?;
        Ok(state
            .store
            .act(who.tenant, id, action, who.name.clone(), comment)
            .await?)
    }
    .await;
    let inc = state.audit.failure(done, event).await?;
    state
        .audit
        .record(event().detail(serde_json::json!({"check": inc.check})))
        .await;
    state.notifier.wake();
    Ok(inc)
}

/// Posts an update on an incident: stored as its `update` event and sent through
/// its channels (unless it is resolved: then it is a note, sent to nobody).
pub async fn update(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Numbered { id }): Path<Numbered>,
    ApiJson(req): ApiJson<UpdateRequest>,
) -> Result<Created<IncidentEvent>, ApiError> {
    let done = async {
        let message = update_message(&req.message).map_err(ApiError::invalid)?;
        Ok(state
            .store
            .add_update(key.tenant_id, id, key.actor(), message, req.status)
            .await?)
    }
    .await;
    let event = state
        .audit
        .failure(done, || {
            Event::by(&key, "incident.update", from).target(id.to_string())
        })
        .await?;
    state
        .audit
        .record(
            Event::by(&key, "incident.update", from)
                .target(id.to_string())
                .detail(serde_json::json!({"status": event.detail["status"]})),
        )
        .await;
    state.notifier.wake();
    Ok(Created(event))
}

/// The optional body of ack and resolve: nothing, or an [`ActionRequest`] as JSON.
pub struct Action(pub(crate) ActionRequest);

impl<S: Send + Sync> FromRequest<S> for Action {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = super::is_json(req.headers());
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(ApiError::from)?;
        // No body needs no type; a comment is JSON, like every other body here.
        if !json && !body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        action(&body).map(Action)
    }
}

impl aide::OperationInput for Action {
    fn operation_input(ctx: &mut aide::generate::GenContext, op: &mut aide::openapi::Operation) {
        super::openapi::json_body::<ActionRequest>(ctx, op);
        if let Some(aide::openapi::ReferenceOr::Item(body)) = op.request_body.as_mut() {
            body.required = false;
            body.description = Some("Optional: an empty body is no comment.".into());
        }
    }

    fn inferred_early_responses(
        ctx: &mut aide::generate::GenContext,
        _op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        super::openapi::json_body_errors(ctx)
    }
}

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
