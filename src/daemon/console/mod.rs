//! The web console under `/ui`: server-rendered pages (no build step, no external
//! assets) for people who log in with a password. It reads and acts through the
//! same handlers, roles and audit log as the REST API; a session cookie stands in
//! for the bearer token, and every form carries a CSRF token.
//!
//! The access layer (`api::access`) resolves the session cookie into a
//! [`Principal`] before a handler here runs, refuses a role below the route's
//! rule, and answers refused requests with [`refusal`]. The handlers then call
//! the API's own handlers with that principal as the caller, so that scoping,
//! validation and audit are the API's.

mod checks;
mod form;
mod html;
mod incidents;
mod login;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::api::{ApiError, Shared};
use super::audit::Event;
use super::store::{Principal, PrincipalKind};
use crate::model::Role;

pub use form::MAX_FORM_BYTES;

/// The console's routes (their access rules are in `api::access::RULES`).
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/ui", get(login::home))
        .route("/ui/console.css", get(html::stylesheet))
        .route("/ui/login", get(login::form).post(login::submit))
        .route(
            "/ui/invite/{token}",
            get(login::invite_form).post(login::invite_submit),
        )
        .route("/ui/logout", post(login::logout))
        .route("/ui/checks", get(checks::list))
        .route("/ui/checks/{name}", get(checks::page))
        .route("/ui/incidents", get(incidents::list))
        .route("/ui/incidents/{id}", get(incidents::page))
        .route("/ui/incidents/{id}/ack", post(incidents::ack))
        .route("/ui/incidents/{id}/resolve", post(incidents::resolve))
        .route("/ui/incidents/{id}/updates", post(incidents::update))
        // Any other address under `/ui`: the console's own answer, not the API's.
        .route("/ui/", get(elsewhere).post(not_found))
        .route("/ui/{*rest}", get(elsewhere).post(not_found))
        .layer(axum::middleware::map_response(secured))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// The name of the console's session cookie.
pub const SESSION_COOKIE: &str = "upt_session";

/// What the browser may load on a console page: the stylesheet from here and
/// nothing else; forms post only here; no page may frame the console.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the console's security headers to `res`; pages (anything without a
/// cache policy of its own, like the stylesheet's) are never stored, since
/// they show a tenant's data.
pub fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
    // `Origin: null` with the console's own posts, which then look forged.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn secured(res: Response) -> Response {
    secure(res)
}

/// The longest page (path and query) a login form is told to come back to: a
/// console URL with every filter set is far shorter; anything longer comes back
/// to its path alone rather than to a `Location` of unbounded length.
pub const MAX_NEXT_BYTES: usize = 1024;

/// What a console request is answered with when it is refused before its handler
/// runs: 401 without a session (a page asked for, `path` with its query, is sent
/// to the login form and back), 403 when the session's role is below `needed`.
pub fn refusal(status: StatusCode, needed: Option<Role>, path: &str) -> Response {
    let (bare, _) = path.split_once('?').unwrap_or((path, ""));
    let res = if status == StatusCode::UNAUTHORIZED && !is_action(bare) {
        match [path, bare].into_iter().find(|p| p.len() <= MAX_NEXT_BYTES) {
            Some(back) => see_other(&format!("/ui/login?next={}", form::encode(back))),
            None => see_other("/ui/login"),
        }
    } else if status == StatusCode::UNAUTHORIZED {
        html::message(
            status,
            "Log in again",
            "Your session has ended, so this was not done. Log in again and repeat it.",
            Some(("/ui/login", "Log in")),
        )
    } else if status == StatusCode::FORBIDDEN {
        let body = match needed {
            Some(role) => format!(
                "This needs the {role} role; your login's role is below it. Ask an admin of your tenant for the {role} role."
            ),
            None => "This request was refused.".to_string(),
        };
        html::message(
            status,
            "Not allowed",
            &body,
            Some(("/ui/checks", "Back to checks")),
        )
    } else {
        html::message(
            status,
            status.canonical_reason().unwrap_or("Refused"),
            "This request was refused.",
            Some(("/ui/checks", "Back to checks")),
        )
    };
    secure(res)
}

/// Whether `path` is one of the console's form actions (only ever posted):
/// a refused one is answered with a page, since a redirect to the login form
/// would drop what was posted without saying so.
fn is_action(path: &str) -> bool {
    path == "/ui/logout"
        || (path.starts_with("/ui/incidents/")
            && ["/ack", "/resolve", "/updates"]
                .iter()
                .any(|a| path.ends_with(a)))
}

/// A `303 See Other` to `location` (a path on this daemon).
pub(crate) fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// `GET` of an address under `/ui` that is no console page: one with trailing
/// slashes is sent on to the address without them (`/ui/` to `/ui`,
/// `/ui/checks/` to `/ui/checks`, the query kept); anything else is the
/// console's "Not found" page.
async fn elsewhere(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let canonical = path.trim_end_matches('/');
    // Only ever a path under `/ui` of this daemon: `/ui//host/` stays here.
    if canonical.len() < path.len() && (canonical == "/ui" || canonical.starts_with("/ui/")) {
        let location = match uri.query() {
            Some(q) => format!("{canonical}?{q}"),
            None => canonical.to_string(),
        };
        let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        return res;
    }
    not_found().await
}

/// The console's answer to a method one of its addresses does not take (a
/// `GET` of a form action such as `/ui/logout`): a page, not the API's JSON.
pub fn method_not_allowed() -> Response {
    secure(html::message(
        StatusCode::METHOD_NOT_ALLOWED,
        "Not here",
        "This address takes only the console's own forms. Every check is listed on the checks page.",
        Some(("/ui/checks", "Go to the checks")),
    ))
}

/// The console's "Not found" page, for an address under `/ui` it has no page at.
async fn not_found() -> Response {
    html::message(
        StatusCode::NOT_FOUND,
        "Not found",
        "The console has no page at this address. Every check is listed on the checks page.",
        Some(("/ui/checks", "Go to the checks")),
    )
}

/// The logged-in person of a console request: the principal the access layer
/// found for the session cookie (or, where no layer ran, the cookie's own).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub principal: Principal,
    pub session_id: String,
    /// The name of the principal's tenant: someone in several tenants must see
    /// whose checks and incidents they act on.
    pub tenant: String,
}

impl Session {
    /// Refuses (403 page) a session whose role is below `needed`; the access
    /// layer refuses first, this keeps a handler safe on its own.
    #[allow(clippy::result_large_err)] // the error is the page answered
    fn require(&self, needed: Role, path: &str) -> Result<(), Response> {
        if self.principal.role >= needed {
            Ok(())
        } else {
            Err(refusal(StatusCode::FORBIDDEN, Some(needed), path))
        }
    }

    /// Whether this session may act (acknowledge, resolve, post updates).
    fn operates(&self) -> bool {
        self.principal.role >= Role::Operator
    }
}

impl FromRequestParts<Shared> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
        let principal = match parts.extensions.get::<Principal>() {
            Some(p) => Some(p.clone()),
            None => match form::cookie(&parts.headers, SESSION_COOKIE) {
                Some(c) => state
                    .auth
                    .principal_from_cookie(&state.store, c)
                    .await
                    .map_err(|e| html::error(&e))?,
                None => None,
            },
        };
        match principal {
            Some(
                ref p @ Principal {
                    kind: PrincipalKind::User { ref session_id, .. },
                    ..
                },
            ) => {
                let tenant = state
                    .store
                    .tenant_name(p.tenant_id)
                    .await
                    .map_err(|e| html::error(&ApiError::from(e)))?
                    .unwrap_or_else(|| format!("tenant {}", p.tenant_id));
                Ok(Session {
                    session_id: session_id.clone(),
                    principal: p.clone(),
                    tenant,
                })
            }
            _ => Err(refusal(StatusCode::UNAUTHORIZED, None, &path)),
        }
    }
}

/// The form of a post by `session`, once it has shown that it comes from the
/// console's own pages: not from another site, and with the session's CSRF
/// token. Anything else is a 403 page, before anything is done, and is audited
/// as a refused request of the session's user.
async fn posted(
    state: &Shared,
    session: &Session,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<form::Form, Response> {
    let form = form::Form::read(body).await?;
    if !form::same_origin(&parts.headers, state.auth.options().public_url.as_deref()) {
        refused_post(
            state,
            Some(&session.principal),
            parts,
            parts.uri.path(),
            Forged::CrossSite,
        )
        .await;
        return Err(cross_site());
    }
    let presented = form.get("csrf").unwrap_or_default();
    if presented.is_empty() || !state.auth.csrf_ok(&session.session_id, presented) {
        refused_post(
            state,
            Some(&session.principal),
            parts,
            parts.uri.path(),
            Forged::Csrf,
        )
        .await;
        return Err(html::message(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form's security token is missing or wrong, so nothing was done. Reload the page and try again.",
            Some(("/ui/checks", "Back to checks")),
        ));
    }
    Ok(form)
}

/// Why a post was refused as not the console's own.
#[derive(Debug, Clone, Copy)]
enum Forged {
    /// From another site or origin.
    CrossSite,
    /// Without the form's CSRF token, or with a wrong one.
    Csrf,
}

impl Forged {
    fn as_str(self) -> &'static str {
        match self {
            Forged::CrossSite => "cross-site",
            Forged::Csrf => "csrf",
        }
    }
}

/// The longest request path written into the audit log of a refused post, as
/// the access layer writes its refusals.
const MAX_AUDITED_PATH: usize = 200;

/// Audits a post refused as forged, as the access layer audits its refusals
/// (`request`, `refused`, `{method, path, status, reason}`): by `who` when the
/// session is known, else by `anonymous`. `path` is what is written: the
/// invitation form gives its route, so that no live token reaches the log.
async fn refused_post(
    state: &Shared,
    who: Option<&Principal>,
    parts: &Parts,
    path: &str,
    why: Forged,
) {
    let path: String = path.chars().take(MAX_AUDITED_PATH).collect();
    let mut event = Event::refused_request(
        who,
        parts.method.as_str(),
        &path,
        StatusCode::FORBIDDEN.as_u16(),
        crate::daemon::api::source(&parts.extensions),
    );
    if let Some(detail) = event.detail.as_object_mut() {
        detail.insert("reason".into(), why.as_str().into());
    }
    state.audit.record(event).await;
}

/// The answer to a post from another site.
fn cross_site() -> Response {
    html::message(
        StatusCode::FORBIDDEN,
        "Not from this console",
        "This form was posted from another site, so nothing was done. Use the console's own pages.",
        Some(("/ui/checks", "Back to checks")),
    )
}

/// An API error as a console answer: a lost session goes to the login form,
/// anything else is a page saying what went wrong.
fn failed(e: ApiError, path: &str) -> Response {
    if e.status == StatusCode::UNAUTHORIZED {
        refusal(e.status, None, path)
    } else {
        html::error(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_a_session_goes_to_the_login_form_and_comes_back() {
        let res = refusal(StatusCode::UNAUTHORIZED, None, "/ui/checks/api-health");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            res.headers()[header::LOCATION],
            "/ui/login?next=%2Fui%2Fchecks%2Fapi-health"
        );
        assert_eq!(
            res.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }

    #[test]
    fn the_login_form_brings_the_browser_back_with_the_query_when_it_is_short() {
        let res = refusal(StatusCode::UNAUTHORIZED, None, "/ui/checks?state=down");
        assert_eq!(
            res.headers()[header::LOCATION],
            "/ui/login?next=%2Fui%2Fchecks%3Fstate%3Ddown"
        );
        let long = format!("/ui/checks?type={}", "x".repeat(MAX_NEXT_BYTES));
        let res = refusal(StatusCode::UNAUTHORIZED, None, &long);
        assert_eq!(
            res.headers()[header::LOCATION],
            "/ui/login?next=%2Fui%2Fchecks"
        );
        let huge = format!("/ui/checks/{}", "x".repeat(MAX_NEXT_BYTES));
        let res = refusal(StatusCode::UNAUTHORIZED, None, &huge);
        assert_eq!(res.headers()[header::LOCATION], "/ui/login");
        // An action with a query is still an action: a page, not a redirect.
        let res = refusal(StatusCode::UNAUTHORIZED, None, "/ui/incidents/7/ack?x=1");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_refused_action_is_a_page_not_a_redirect() {
        for path in [
            "/ui/logout",
            "/ui/incidents/7/ack",
            "/ui/incidents/7/updates",
        ] {
            let res = refusal(StatusCode::UNAUTHORIZED, None, path);
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert!(res.headers().get(header::LOCATION).is_none(), "{path}");
        }
        let res = refusal(
            StatusCode::FORBIDDEN,
            Some(Role::Operator),
            "/ui/incidents/7/ack",
        );
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    }
}
