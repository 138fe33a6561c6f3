//! Channels: list with delivery counts, and a real test message.

use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{ApiError, Shared, require};
use crate::daemon::store::{ApiKey, Role};
use crate::model::{ChannelSummary, Notification};
use crate::spec::{Kind, Spec, remote};

/// How long `test` waits for the notifier to deliver (or give up on) the message.
const TEST_WAIT: Duration = Duration::from_secs(20);

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

/// Queues a test message through the outbox (the same path as real alerts) and
/// waits for its outcome.
pub async fn test(
    State(state): State<Shared>,
    Extension(key): Extension<ApiKey>,
    Path(name): Path<String>,
) -> Result<axum::Json<Notification>, ApiError> {
    require(&key, Role::Operator)?;
    let id = state.store.queue_test(key.tenant_id, name).await?;
    state.notifier.notify_one();
    let deadline = tokio::time::Instant::now() + TEST_WAIT;
    loop {
        let n = state.store.notification(id).await?;
        // One attempt is enough to know: a retry later would say the same.
        if n.status != "pending" || n.attempts > 0 {
            return Ok(axum::Json(n));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "the test message was queued (notification {id}) but not sent within {}s",
                    TEST_WAIT.as_secs()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
