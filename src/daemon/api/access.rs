//! Who may call what: one rule for every route the daemon serves, the REST API, the
//! console (`/ui`) and the public pages alike. A route is public, or needs a
//! credential (an API key, a user's access token, or a console session) with at
//! least a role. A route that is not in this table is refused (500, logged), and
//! a test walks the whole router so that a new route without a rule is caught.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, Shared};
use crate::daemon::audit::{Event, Outcome};
use crate::daemon::console;
use crate::daemon::store::{Principal, PrincipalKind};
use crate::model::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential: health, metrics, the OpenAPI document, status pages and
    /// badges, login itself, and the chat apps' webhooks (each signed by its
    /// channel's secret instead).
    Public,
    /// A credential with at least this role.
    Role(Role),
}

use Access::{Public, Role as Needs};
use Role::{Admin, Operator, Viewer};

/// `(method, route as registered, access)`. Paths are axum's route patterns, as
/// `MatchedPath` gives them.
pub const RULES: &[(Method, &str, Access)] = &[
    // Health, metrics, the API's own description.
    (Method::GET, "/healthz", Public),
    (Method::GET, "/readyz", Public),
    (Method::GET, "/metrics", Public),
    (Method::GET, "/api/v1/openapi.json", Public),
    // Status pages and badges.
    (Method::GET, "/", Public),
    (Method::GET, "/index.json", Public),
    (Method::GET, "/index.atom", Public),
    (Method::GET, "/status/{slug}", Public),
    (Method::GET, "/badge/{tenant}/{check}/status.svg", Public),
    (Method::GET, "/badge/{tenant}/{check}/uptime.svg", Public),
    (Method::GET, "/badge/{tenant}/{check}/latency.svg", Public),
    // Chat apps' buttons: signed by the channel's secret.
    (
        Method::POST,
        "/api/v1/integrations/telegram/{tenant}/{channel}",
        Public,
    ),
    (
        Method::POST,
        "/api/v1/integrations/slack/{tenant}/{channel}",
        Public,
    ),
    // Checks and their results.
    (Method::POST, "/api/v1/plan", Needs(Operator)),
    (Method::POST, "/api/v1/apply", Needs(Operator)),
    (Method::GET, "/api/v1/checks", Needs(Viewer)),
    (Method::GET, "/api/v1/checks/{name}", Needs(Viewer)),
    (Method::DELETE, "/api/v1/checks/{name}", Needs(Admin)),
    (Method::GET, "/api/v1/checks/{name}/status", Needs(Viewer)),
    (Method::GET, "/api/v1/checks/{name}/results", Needs(Viewer)),
    (Method::GET, "/api/v1/checks/{name}/report", Needs(Viewer)),
    (Method::GET, "/api/v1/checks/{name}/history", Needs(Viewer)),
    (Method::GET, "/api/v1/report", Needs(Viewer)),
    (Method::POST, "/api/v1/checks/{name}/run", Needs(Operator)),
    (Method::POST, "/api/v1/checks/{name}/pause", Needs(Operator)),
    (
        Method::POST,
        "/api/v1/checks/{name}/resume",
        Needs(Operator),
    ),
    // Incidents.
    (Method::GET, "/api/v1/incidents", Needs(Viewer)),
    (Method::GET, "/api/v1/incidents/{id}", Needs(Viewer)),
    (Method::GET, "/api/v1/incidents/{id}/events", Needs(Viewer)),
    (Method::POST, "/api/v1/incidents/{id}/ack", Needs(Operator)),
    (
        Method::POST,
        "/api/v1/incidents/{id}/resolve",
        Needs(Operator),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/updates",
        Needs(Operator),
    ),
    // Channels.
    (Method::GET, "/api/v1/channels", Needs(Viewer)),
    (Method::GET, "/api/v1/channels/{name}", Needs(Viewer)),
    (
        Method::POST,
        "/api/v1/channels/{name}/test",
        Needs(Operator),
    ),
    // Tenants (admins of the first tenant only, which the handler checks).
    (Method::POST, "/api/v1/tenants", Needs(Admin)),
    (Method::GET, "/api/v1/nodes", Needs(Viewer)),
    (Method::POST, "/api/v1/forge/generate", Needs(Viewer)),
    // Logging in and out.
    (Method::POST, "/api/v1/auth/login", Public),
    (Method::POST, "/api/v1/auth/refresh", Public),
    (Method::POST, "/api/v1/auth/register", Public),
    (Method::POST, "/api/v1/auth/accept-invite", Public),
    (Method::POST, "/api/v1/auth/logout", Needs(Viewer)),
    (Method::GET, "/api/v1/auth/whoami", Needs(Viewer)),
    (Method::POST, "/api/v1/auth/password", Needs(Viewer)),
    // Keys, users, the audit log.
    (Method::GET, "/api/v1/api-keys", Needs(Admin)),
    (Method::POST, "/api/v1/api-keys", Needs(Admin)),
    (Method::DELETE, "/api/v1/api-keys/{id}", Needs(Admin)),
    (Method::GET, "/api/v1/users", Needs(Admin)),
    (Method::POST, "/api/v1/users", Needs(Admin)),
    (Method::POST, "/api/v1/users/invitations", Needs(Admin)),
    (Method::PUT, "/api/v1/users/{email}/role", Needs(Admin)),
    (Method::DELETE, "/api/v1/users/{email}", Needs(Admin)),
    (Method::GET, "/api/v1/audit", Needs(Admin)),
    // The web console: a session cookie instead of a bearer token.
    (Method::GET, "/ui", Public),
    (Method::GET, "/ui/console.css", Public),
    (Method::GET, "/ui/login", Public),
    (Method::POST, "/ui/login", Public),
    (Method::GET, "/ui/invite/{token}", Public),
    (Method::POST, "/ui/invite/{token}", Public),
    (Method::POST, "/ui/logout", Needs(Viewer)),
    (Method::GET, "/ui/checks", Needs(Viewer)),
    (Method::GET, "/ui/checks/{name}", Needs(Viewer)),
    (Method::GET, "/ui/incidents", Needs(Viewer)),
    (Method::GET, "/ui/incidents/{id}", Needs(Viewer)),
    (Method::POST, "/ui/incidents/{id}/ack", Needs(Operator)),
    (Method::POST, "/ui/incidents/{id}/resolve", Needs(Operator)),
    (Method::POST, "/ui/incidents/{id}/updates", Needs(Operator)),
    // Every other address under `/ui`: the console's "Not found" page, or a
    // redirect to the address without its trailing slash; nothing to protect.
    (Method::GET, "/ui/", Public),
    (Method::POST, "/ui/", Public),
    (Method::GET, "/ui/{*rest}", Public),
    (Method::POST, "/ui/{*rest}", Public),
];

/// The rule of `method` on the route pattern `path`; `HEAD` is answered as `GET`.
pub fn rule(method: &Method, path: &str) -> Option<Access> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    RULES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, a)| *a)
}

/// The longest request path written into the audit log of a refused request.
const MAX_AUDITED_PATH: usize = 200;

/// Whether `path` (a route pattern) is the console's: a session cookie, not a
/// bearer token, stands for the caller there.
pub fn is_console(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The value of the cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The `Authorization: Bearer` value of `headers`.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|v| !v.is_empty())
}

/// The refusal of a caller whose role is below `needed`.
pub fn too_low(who: &Principal, needed: Role) -> ApiError {
    let advice = match who.kind {
        PrincipalKind::Key => format!(
            "the key `{}` has {}: use a key with the {needed} role",
            who.name, who.role
        ),
        PrincipalKind::User { .. } => format!(
            "`{}` has {}: ask an admin of the tenant for the {needed} role",
            who.name, who.role
        ),
    };
    ApiError::forbidden(format!("this needs the {needed} role; {advice}"))
}

/// The access layer: one `route_layer` over the whole app. It finds the rule of
/// the route matched, lets public routes through, and for the others resolves the
/// credential (the console's cookie under `/ui`, else the bearer token), refuses
/// a missing or bad one (401) and a role too low (403), both audited, and hands
/// the [`Principal`] to the handler.
pub async fn enforce(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
    else {
        // A route layer runs only for matched routes, which always have a path.
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the access layer ran for a request no route matched; this is a bug",
        )
        .into_response();
    };
    let method = req.method().clone();
    let Some(access) = rule(&method, &route) else {
        tracing::error!(%method, route = %route, "a bug: this route has no access rule in api::access::RULES");
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{method} {route} has no access rule; this is a bug, please report it"),
        )
        .into_response();
    };
    let needed = match access {
        Public => return next.run(req).await,
        Needs(r) => r,
    };
    let source = super::source(req.extensions());
    let console = is_console(&route);
    let found = if console {
        match cookie(req.headers(), console::SESSION_COOKIE) {
            Some(c) => state
                .auth
                .principal_from_cookie(&state.store, c)
                .await
                .and_then(|p| {
                    p.ok_or_else(|| {
                        ApiError::unauthorized("the console session has ended: log in again")
                    })
                }),
            None => Err(ApiError::unauthorized("log in first")),
        }
    } else {
        match bearer(req.headers()) {
            Some(b) => {
                let b = b.to_string();
                state.auth.principal_from_bearer(&state.store, &b).await
            }
            None => Err(ApiError::unauthorized(
                "missing `Authorization: Bearer <api key or access token>` header: log in with `uptimeping auth login` or set UPTIMEPING_API_KEY",
            )),
        }
    };
    let path: String = req.uri().path().chars().take(MAX_AUDITED_PATH).collect();
    // Where a console page refused for want of a session sends the browser back
    // to after login: the page with its query (`console::refusal` bounds it).
    let wanted = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let refused = |status: StatusCode| json!({"method": method.as_str(), "path": path, "status": status.as_u16()});
    match found {
        Ok(who) if who.role >= needed => {
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        Ok(who) => {
            let detail = refused(StatusCode::FORBIDDEN);
            state
                .audit
                .record(
                    Event::by(&who, "request", source)
                        .outcome(Outcome::Refused)
                        .detail(detail),
                )
                .await;
            if console {
                console::refusal(StatusCode::FORBIDDEN, Some(needed), &path)
            } else {
                too_low(&who, needed).into_response()
            }
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            // A revoked or expired key, or an expired token, is still someone's:
            // its tenant's admins should see it used.
            let owner = match bearer(req.headers()).filter(|_| !console) {
                Some(b) => {
                    let b = b.to_string();
                    state.auth.owner_of(&state.store, &b).await
                }
                None => None,
            };
            let (tenant_id, actor) = match owner {
                Some((t, a)) => (Some(t), a),
                None => (None, "anonymous".to_string()),
            };
            state
                .audit
                .record(Event {
                    tenant_id,
                    actor,
                    action: "request",
                    target: None,
                    outcome: Outcome::Refused,
                    source,
                    detail: refused(StatusCode::UNAUTHORIZED),
                })
                .await;
            if console {
                console::refusal(StatusCode::UNAUTHORIZED, Some(needed), &wanted)
            } else {
                e.into_response()
            }
        }
        // The store failing is no refusal of the caller.
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_stated_once() {
        let mut seen = std::collections::HashSet::new();
        for (m, p, _) in RULES {
            assert!(seen.insert((m.clone(), *p)), "{m} {p} has two rules");
        }
    }

    #[test]
    fn head_is_read_as_get_and_unknown_routes_have_no_rule() {
        assert_eq!(rule(&Method::HEAD, "/healthz"), Some(Public));
        assert_eq!(
            rule(&Method::DELETE, "/api/v1/checks/{name}"),
            Some(Needs(Admin))
        );
        assert_eq!(rule(&Method::GET, "/api/v1/nothing"), None);
        assert_eq!(rule(&Method::POST, "/api/v1/checks"), None);
    }

    #[test]
    fn credentials_are_read_from_their_headers() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(AUTHORIZATION, "Bearer  upk_x ".parse().expect("value"));
        h.append(COOKIE, "a=1; upt_session=abc".parse().expect("value"));
        h.append(COOKIE, "b=2".parse().expect("value"));
        assert_eq!(bearer(&h), Some("upk_x"));
        assert_eq!(cookie(&h, "upt_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "upt"), None);
        h.insert(AUTHORIZATION, "Basic abc".parse().expect("value"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Bearer ".parse().expect("value"));
        assert_eq!(bearer(&h), None);
    }
}
