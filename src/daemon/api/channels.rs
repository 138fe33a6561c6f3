//! Channels: list with delivery counts, and a real test message.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::Deserialize;

use super::audit::Source;
use super::openapi::{Caller, Named};
use super::page::{self, List, Paged};
use super::{ApiError, Shared};
use crate::daemon::audit::{Event, Outcome};
use crate::model::{ChannelDetail, ChannelSummary, Notification};
use crate::spec::Kind;

/// A page of channels: `limit` (default and most [`page::MAX_PAGE`]) and `cursor`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Most channels in the page (1–1000, default 1000).
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
) -> Result<Paged<Vec<ChannelSummary>>, ApiError> {
    let limit = page::limit(q.limit, page::MAX_PAGE)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| page::decode(List::Channels, c))
        .transpose()?;
    let counts = state.store.channel_counts(key.tenant_id).await?;
    let out: Vec<ChannelSummary> = state
        .store
        .resources(key.tenant_id, Some(Kind::Channel))
        .await?
        .into_iter()
        .filter(|r| after.as_ref().is_none_or(|after| r.name > *after))
        // Every row of this listing is a channel: the store typed it by its kind.
        .filter_map(|r| {
            let c = r.as_channel()?;
            let (sent, failed, pending) = counts.get(&c.name).copied().unwrap_or_default();
            Some(ChannelSummary {
                name: c.name.clone(),
                channel_type: c.channel_type.as_str().into(),
                source: r.source.clone(),
                template: c.template.clone(),
                sent,
                failed,
                pending,
            })
        })
        .take(limit as usize + 1)
        .collect();
    let (out, next) = page::cut(out, limit, List::Channels, |c| c.name.clone());
    Ok(page::respond(out, next))
}

/// One channel with its delivery counts and its spec, secrets masked.
pub async fn get(
    State(state): State<Shared>,
    Caller(key): Caller,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<ChannelDetail>, ApiError> {
    let stored = state
        .store
        .resource(key.tenant_id, Kind::Channel, name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no channel named `{name}`")))?;
    let c = stored.as_channel().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the stored channel `{name}` is not a channel"),
        )
    })?;
    let counts = state.store.channel_counts(key.tenant_id).await?;
    let (sent, failed, pending) = counts.get(&c.name).copied().unwrap_or_default();
    let mut spec = stored.masked();
    if let Some(map) = spec.as_object_mut() {
        map.remove("kind");
    }
    Ok(axum::Json(ChannelDetail {
        summary: ChannelSummary {
            name: c.name.clone(),
            channel_type: c.channel_type.as_str().into(),
            source: stored.source.clone(),
            template: c.template.clone(),
            sent,
            failed,
            pending,
        },
        spec,
    }))
}

/// Queues a test message through the outbox (the same path as real alerts) and
/// delivers it at once, returning the outcome.
pub async fn test(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<Notification>, ApiError> {
    let tried = || Event::by(&key, "channel.test", from).target(name.clone());
    let done = async {
        let id = state.store.queue_test(key.tenant_id, name.clone()).await?;
        Ok(state.notifier.deliver_now(id).await?)
    }
    .await;
    let sent = state.audit.failure(done, tried).await?;
    // Not delivered (yet): the test failed, though the message waits for a retry.
    // The error is not written: it may quote the channel's URL, a secret.
    let outcome = if sent.status == "sent" {
        Outcome::Ok
    } else {
        Outcome::Failed
    };
    state
        .audit
        .record(
            tried()
                .outcome(outcome)
                .detail(serde_json::json!({"status": sent.status, "attempts": sent.attempts})),
        )
        .await;
    Ok(axum::Json(sent))
}
