//! API errors as JSON, and a JSON body extractor whose rejections are JSON too.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::daemon::apply::ApplyError;
use crate::daemon::store::StoreError;
use crate::model::{ErrorBody, ErrorDetail};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            // The disk, not the request: the same request succeeds once the operator
            // frees space or lets go of the lock, so clients may retry.
            other if other.is_storage() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!(
                    "the store cannot write ({other}); nothing was changed: retry once the disk has room (see /readyz)"
                ),
            ),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        let message = e.to_string();
        match e {
            ApplyError::Invalid(d) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_details(d)
            }
            ApplyError::Conflict(d) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message).with_details(d)
            }
            ApplyError::RevisionMoved { .. } => {
                ApiError::new(StatusCode::CONFLICT, "revision_moved", message)
            }
            ApplyError::WrongTenant => ApiError::new(StatusCode::CONFLICT, "wrong_tenant", message),
            ApplyError::Store(s) => s.into(),
        }
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    /// A body that cannot be read: over the limit (413 `too_large`) or cut short.
    fn from(e: axum::extract::rejection::BytesRejection) -> Self {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "invalid"
        };
        ApiError::new(status, code, e.body_text())
    }
}

/// `Json<T>` whose errors are this API's JSON errors.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match &rejection {
                JsonRejection::BytesRejection(_)
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        format!(
                            "the request body is larger than {} MiB",
                            super::MAX_BODY_BYTES / (1024 * 1024)
                        ),
                    )
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "invalid",
                    "send the body as JSON with `Content-Type: application/json`",
                ),
                _ => ApiError::new(rejection.status(), "invalid", rejection.body_text()),
            }),
        }
    }
}

impl<T: schemars::JsonSchema> aide::OperationInput for ApiJson<T> {
    fn operation_input(ctx: &mut aide::generate::GenContext, op: &mut aide::openapi::Operation) {
        super::openapi::json_body::<T>(ctx, op);
    }

    fn inferred_early_responses(
        ctx: &mut aide::generate::GenContext,
        _op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        super::openapi::json_body_errors(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::ffi::c_int) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn a_store_that_cannot_write_answers_503_and_other_failures_500() {
        for code in [
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_IOERR,
            rusqlite::ffi::SQLITE_BUSY,
            rusqlite::ffi::SQLITE_READONLY,
        ] {
            let e = ApiError::from(sqlite(code));
            assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE, "{code}: {e:?}");
            assert_eq!(e.code, "store_unavailable");
        }
        let e = ApiError::from(sqlite(rusqlite::ffi::SQLITE_FULL));
        assert!(e.message.contains("database or disk is full"), "{e:?}");
        let e = ApiError::from(sqlite(rusqlite::ffi::SQLITE_CONSTRAINT));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR, "{e:?}");
    }
}
