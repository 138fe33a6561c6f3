//! `POST /api/v1/forge/generate`: `.proto` sources in, check YAML out, as
//! `uptimeping forge generate` writes it. Nothing is stored.

use axum::Extension;
use axum::http::StatusCode;

use super::{ApiError, ApiJson, require};
use crate::daemon::store::{ApiKey, Role};
use crate::forge::{self, ApiFailure, ApiRequest, ApiResponse};

/// How many requests compile protos at once; the others wait their turn.
const CONCURRENT: usize = 2;
/// How long a request waits for its turn before it is turned away.
const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn turns() -> std::sync::Arc<tokio::sync::Semaphore> {
    static TURNS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    TURNS
        .get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT)))
        .clone()
}

pub async fn generate(
    Extension(key): Extension<ApiKey>,
    ApiJson(req): ApiJson<ApiRequest>,
) -> Result<axum::Json<ApiResponse>, ApiError> {
    require(&key, Role::Viewer)?;
    // Compiling protos is CPU work and memory: a few at a time, off the
    // request threads.
    let busy = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("{CONCURRENT} forge requests are already running; try again shortly"),
        )
    };
    let turn = tokio::time::timeout(WAIT, turns().acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let outcome = tokio::task::spawn_blocking(move || {
        // Held until the work is done, even if the caller has gone.
        let _turn = turn;
        forge::generate_api(&req)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("generating failed: {e}"),
        )
    })?;
    match outcome {
        Ok(res) => Ok(axum::Json(res)),
        Err(ApiFailure::Invalid(m)) => Err(ApiError::invalid(m)),
        Err(ApiFailure::Proto(e)) => {
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_proto",
                format!("the protos do not compile: {e}"),
            );
            err.details = vec![e.to_string()];
            Err(err)
        }
        Err(ApiFailure::Internal(m)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            m,
        )),
    }
}
