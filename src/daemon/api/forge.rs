//! `POST /api/v1/forge/generate`: `.proto` sources in, check YAML out, as
//! `uptimeping forge generate` writes it. Nothing is stored.

use axum::http::StatusCode;

use super::openapi::Caller;
use super::{ApiError, ApiJson};
use crate::forge::{self, ApiFailure, ApiRequest, ApiResponse};

/// How many requests compile protos at once; the others wait their turn.
const CONCURRENT: usize = 2;

fn turns() -> &'static super::Turns {
    static TURNS: super::Turns = super::Turns::new(CONCURRENT, "forge requests");
    &TURNS
}

pub async fn generate(
    Caller(_caller): Caller,
    ApiJson(req): ApiJson<ApiRequest>,
) -> Result<axum::Json<ApiResponse>, ApiError> {
    // Compiling protos is CPU work and memory: a few at a time, off the
    // request threads.
    let outcome = turns().run(move || forge::generate_api(&req)).await?;
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
