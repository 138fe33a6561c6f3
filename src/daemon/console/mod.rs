//! The web console under `/ui`: server-rendered pages (no build step, no external
//! assets) for people who log in with a password. It reads and acts through the
//! same handlers, roles and audit log as the REST API; a session cookie stands in
//! for the bearer token, and every form carries a CSRF token.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::api::Shared;
use crate::model::Role;

/// The console's routes (their access rules are in `api::access::RULES`).
pub fn router() -> Router<Shared> {
    Router::new()
}

/// The name of the console's session cookie.
pub const SESSION_COOKIE: &str = "upt_session";

/// What a console request is answered with when it is refused before its handler
/// runs: 401 without a session (a page asked for is sent to the login form),
/// 403 when the session's role is below `needed`.
pub fn refusal(status: StatusCode, needed: Option<Role>, path: &str) -> Response {
    let _ = (needed, path);
    (status, "refused").into_response()
}
