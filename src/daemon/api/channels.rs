//! Channels: list with delivery counts, and a real test message.

use axum::Extension;
use axum::extract::{Path, State};

use super::{ApiError, Shared, require};
use crate::daemon::store::{ApiKey, Role};
use crate::model::{ChannelDetail, ChannelSummary, Notification};
use crate::spec::secrets::masked;
use crate::spec::{Kind, Spec, remote};

pub async fn list(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
) -> Result<axum::Json<Vec<ChannelSummary>>, ApiError> {
    let counts = state.store.channel_counts(key.tenant_id).await?;
    let out = state
        .store
        .resources(key.tenant_id, Some(Kind::Channel))
        .await?
        .into_iter()
        .filter_map(|r| {
            let Ok(Spec::Channel(c)) = remote::parse_stored(Kind::Channel, &r.spec) else {
                return None;
            };
            let (sent, failed, pending) = counts.get(&c.name).copied().unwrap_or_default();
            Some(ChannelSummary {
                name: c.name,
                channel_type: c.channel_type.as_str().into(),
                source: r.source,
                template: c.template,
                sent,
                failed,
                pending,
            })
        })
        .collect();
    Ok(axum::Json(out))
}

/// One channel with its delivery counts and its spec, secrets masked.
pub async fn get(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<ChannelDetail>, ApiError> {
    let stored = state
        .store
        .resource(key.tenant_id, Kind::Channel, name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no channel named `{name}`")))?;
    let Ok(Spec::Channel(c)) = remote::parse_stored(Kind::Channel, &stored.spec) else {
        return Err(ApiError::not_found(format!("no channel named `{name}`")));
    };
    let counts = state.store.channel_counts(key.tenant_id).await?;
    let (sent, failed, pending) = counts.get(&c.name).copied().unwrap_or_default();
    let mut spec = masked(&stored.spec, &stored.secrets);
    if let Some(map) = spec.as_object_mut() {
        map.remove("kind");
    }
    Ok(axum::Json(ChannelDetail {
        summary: ChannelSummary {
            name: c.name,
            channel_type: c.channel_type.as_str().into(),
            source: stored.source,
            template: c.template,
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
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<Notification>, ApiError> {
    require(&key, Role::Operator)?;
    let id = state.store.queue_test(key.tenant_id, name).await?;
    Ok(axum::Json(state.notifier.deliver_now(id).await?))
}
