//! Who may call what: one rule for every route the daemon serves, the REST API, the
//! console (`/ui`) and the public pages alike. A route is public, or needs a
//! credential (an API key, a user's access token, or a console session) with at
//! least a role. A route that is not in this table is refused (500, logged), and
//! a test walks the whole router so that a new route without a rule is caught.

use axum::http::Method;

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
}
