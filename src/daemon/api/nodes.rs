//! `GET /nodes`: the daemons sharing this one's database, with their heartbeats
//! and how many checks each runs. Nodes serve every tenant, so only callers of the
//! first tenant (the operators') may list them.

use axum::extract::State;

use super::openapi::Caller;
use super::{ApiError, Shared};
use crate::model::NodeSummary;

/// The tenant a fresh daemon creates, whose callers run the daemons.
const FIRST_TENANT: i64 = 1;

pub async fn list(
    State(state): State<Shared>,
    Caller(key): Caller,
) -> Result<axum::Json<Vec<NodeSummary>>, ApiError> {
    if key.tenant_id != FIRST_TENANT {
        return Err(ApiError::forbidden(
            "only callers of the first tenant may list the daemon's nodes",
        ));
    }
    Ok(axum::Json(state.store.nodes().await?))
}
