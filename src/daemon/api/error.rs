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
    /// Seconds for a `Retry-After` header (429 `rate_limited`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// 429 `rate_limited`, to be tried again after `seconds`.
    pub fn rate_limited(message: impl Into<String>, seconds: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        e.retry_after = Some(seconds);
        e
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
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        res
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
                            "the request body is over this route's limit ({} MiB for plans and applies, {} KiB for logins, keys and users)",
                            super::MAX_BODY_BYTES / (1024 * 1024),
                            super::MAX_AUTH_BODY_BYTES / 1024
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

    /// The error codes the daemon's source makes: the string literal after the
    /// status in each call of `ApiError::new` (`Self::new` in this file), and the
    /// codes `json_errors` picks.
    fn codes_in_source() -> std::collections::BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
            for entry in std::fs::read_dir(dir).expect("read src/daemon") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read source");
                    out.push((path, text));
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/daemon"),
            &mut files,
        );
        let made =
            regex::Regex::new(r#"(?:ApiError|Self)::new\(\s*[^,]+,\s*"([a-z_]+)""#).expect("regex");
        let picked = regex::Regex::new(r#"=> "([a-z_]+)","#).expect("regex");
        let mut codes = std::collections::BTreeSet::new();
        for (path, text) in &files {
            codes.extend(made.captures_iter(text).map(|c| c[1].to_string()));
            if path.ends_with("api/mod.rs") {
                let start = text.find("async fn json_errors").expect("json_errors");
                let body = &text[start..start + text[start..].find("\n}\n").expect("its end")];
                codes.extend(picked.captures_iter(body).map(|c| c[1].to_string()));
            }
        }
        codes
    }

    #[test]
    fn every_error_code_the_daemon_makes_is_listed_and_in_the_schema() {
        let codes = codes_in_source();
        assert!(codes.len() > 10, "{codes:?}");
        let listed: std::collections::BTreeSet<String> = crate::model::ERROR_CODES
            .iter()
            .map(|c| c.to_string())
            .collect();
        let unlisted: Vec<_> = codes.difference(&listed).collect();
        assert!(unlisted.is_empty(), "add to ERROR_CODES: {unlisted:?}");
        let unused: Vec<_> = listed.difference(&codes).collect();
        assert!(
            unused.is_empty(),
            "no longer made, drop from ERROR_CODES: {unused:?}"
        );
        let schema = serde_json::to_value(schemars::schema_for!(ErrorDetail)).expect("schema");
        assert_eq!(
            schema["properties"]["code"]["enum"],
            serde_json::json!(crate::model::ERROR_CODES)
        );
    }

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
