//! `POST /api/v1/forge/generate`: `.proto` sources in, check YAML out, as
//! `uptimeping forge generate` writes it. Nothing is stored.

use axum::Extension;
use axum::http::StatusCode;

use super::{ApiError, ApiJson, require};
use crate::daemon::store::{ApiKey, Role};
use crate::forge::{self, ApiFailure, ApiRequest, ApiResponse};

pub async fn generate(
    Extension(key): Extension<ApiKey>,
    ApiJson(req): ApiJson<ApiRequest>,
) -> Result<axum::Json<ApiResponse>, ApiError> {
    require(&key, Role::Viewer)?;
    // Compiling protos is CPU work; keep it off the request threads.
    let outcome = tokio::task::spawn_blocking(move || forge::generate_api(&req))
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
