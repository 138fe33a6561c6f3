//! The REST API (axum): routes under `/api/v1`, each with its access rule in
//! [`access::RULES`] (API keys and users' access tokens alike), plus the public
//! `/healthz`, `/readyz` and `/metrics`. Every error is JSON
//! `{"error": {"code", "message", "details"}}` with a fitting status.

pub mod access;
pub mod audit;
mod auth;
mod channels;
pub(crate) mod checks;
pub mod client;
mod error;
mod forge;
mod health;
pub(crate) mod incidents;
mod integrations;
mod keys;
mod nodes;
pub mod openapi;
pub(crate) mod page;
pub mod report;
mod resources;
mod tenants;
mod users;

use std::sync::Arc;

use aide::axum::ApiRouter;
use aide::axum::routing::{delete, get, post, put};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

pub(crate) use auth::record_refused_login;
pub use error::{ApiError, ApiJson};
pub use page::{MAX_PAGE, NEXT_CURSOR_HEADER};

use super::metrics::{Metrics, RequestLabels, ServiceMethodLabels, method_label};
use super::scheduler::Handle;
use super::status::serve as status;
use super::store::Store;

/// How long a request waits for a turn of CPU-bound work before it is turned
/// away with 503 `busy`: longer than any one piece of work within the limits
/// takes, short enough that a client is not left hanging.
pub const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A few turns at CPU-bound work (compiling protos, validating checks), run on
/// the blocking pool so that the async threads keep answering (`/healthz`).
pub struct Turns {
    limit: usize,
    what: &'static str,
    semaphore: std::sync::OnceLock<Arc<tokio::sync::Semaphore>>,
}

impl Turns {
    pub const fn new(limit: usize, what: &'static str) -> Self {
        Turns {
            limit,
            what,
            semaphore: std::sync::OnceLock::new(),
        }
    }

    /// Waits for a turn (503 `busy` when none is free within [`TURN_WAIT`]); the
    /// turn lasts as long as the permit is held.
    pub async fn take(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        let busy = || {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "{} {} are already running; try again shortly",
                    self.limit, self.what
                ),
            )
        };
        let semaphore = self
            .semaphore
            .get_or_init(|| Arc::new(tokio::sync::Semaphore::new(self.limit)))
            .clone();
        tokio::time::timeout(TURN_WAIT, semaphore.acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }

    /// Runs `f` on the blocking pool once a turn is free; 503 `busy` when none
    /// is within [`TURN_WAIT`].
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let turn = self.take().await?;
        tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the caller has gone.
            let _turn = turn;
            f()
        })
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the {} failed: {e}", self.what),
            )
        })
    }
}

/// The largest request body accepted: an apply of several thousand checks fits.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The largest body of the people-and-access routes (logins, keys, users): their
/// documents are a few short fields, so anything bigger is refused before it is
/// read.
pub const MAX_AUTH_BODY_BYTES: usize = 16 * 1024;

pub struct AppState {
    pub store: Store,
    pub scheduler: Handle,
    pub metrics: Arc<Metrics>,
    pub notifier: super::notify::Notifier,
    /// The status pages' directory and cache of rendered answers.
    pub status: super::status::Status,
    /// Logging in, tokens, sessions, login limits.
    pub auth: Arc<super::auth::Auth>,
    pub audit: Arc<super::audit::Audit>,
    /// The long-lived components not running now, for `/readyz`.
    pub components: Arc<super::supervise::Components>,
}

/// The address of the client that sent `req`'s request: the listener's peer, or
/// the client a trusted proxy names (see [`client`]).
pub fn source(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    if let Some(client::ClientAddr(ip)) = extensions.get::<client::ClientAddr>() {
        return Some(*ip);
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

pub type Shared = Arc<AppState>;

pub fn router(state: Shared) -> Router {
    let started = openapi::start();
    // Each `api_route` records its operation, from the handler's extractor and
    // return types, as it registers the handler.
    let api = ApiRouter::new()
        .api_route("/plan", post(resources::plan))
        .api_route("/apply", post(resources::apply))
        .api_route("/checks", get(checks::list))
        .api_route("/checks/{name}", get(checks::get).delete(checks::delete))
        .api_route("/checks/{name}/status", get(checks::status))
        .api_route("/checks/{name}/results", get(checks::results))
        .api_route("/checks/{name}/report", get(report::check))
        .api_route("/checks/{name}/history", get(report::history))
        .api_route("/report", get(report::tenant))
        .api_route("/checks/{name}/run", post(checks::run))
        .api_route("/checks/{name}/pause", post(checks::pause))
        .api_route("/checks/{name}/resume", post(checks::resume))
        .api_route("/incidents", get(incidents::list))
        .api_route("/incidents/{id}", get(incidents::get))
        .api_route("/incidents/{id}/events", get(incidents::events))
        .api_route("/incidents/{id}/ack", post(incidents::ack))
        .api_route("/incidents/{id}/resolve", post(incidents::resolve))
        .api_route("/incidents/{id}/updates", post(incidents::update))
        .api_route("/channels", get(channels::list))
        .api_route("/channels/{name}", get(channels::get))
        .api_route("/channels/{name}/test", post(channels::test))
        .api_route("/tenants", post(tenants::create))
        .api_route("/nodes", get(nodes::list))
        .api_route("/forge/generate", post(forge::generate))
        .api_route("/audit", get(audit::list))
        // Logging in, keys and users, with the small body limit of their documents.
        .merge(
            ApiRouter::new()
                .api_route("/auth/login", post(auth::login))
                .api_route("/auth/refresh", post(auth::refresh))
                .api_route("/auth/register", post(auth::register))
                .api_route("/auth/accept-invite", post(auth::accept_invite))
                .api_route("/auth/logout", post(auth::logout))
                .api_route("/auth/whoami", get(auth::whoami))
                .api_route("/auth/password", post(auth::password))
                .api_route("/api-keys", get(keys::list).post(keys::create))
                .api_route("/api-keys/{id}", delete(keys::revoke))
                .api_route("/users", get(users::list).post(users::add))
                .api_route("/users/invitations", post(users::invite))
                .api_route("/users/{email}/role", put(users::set_role))
                .api_route("/users/{email}", delete(users::remove))
                .layer(DefaultBodyLimit::max(MAX_AUTH_BODY_BYTES)),
        );
    let mut doc = aide::openapi::OpenApi::default();
    let app = ApiRouter::new()
        .nest("/api/v1", api)
        .api_route(openapi::PATH, get(openapi::serve))
        .api_route("/healthz", get(health::healthz))
        .api_route("/readyz", get(health::readyz))
        .api_route("/metrics", get(health::metrics))
        // Status pages and badges: public, outside /api/v1 (see daemon::status).
        .api_route("/status/{slug}", get(status::page))
        .api_route("/", get(status::domain_page))
        .api_route("/index.json", get(status::domain_json))
        .api_route("/index.atom", get(status::domain_atom))
        .api_route(
            "/badge/{tenant}/{check}/status.svg",
            get(status::status_badge),
        )
        .api_route(
            "/badge/{tenant}/{check}/uptime.svg",
            get(status::uptime_badge),
        )
        .api_route(
            "/badge/{tenant}/{check}/latency.svg",
            get(status::latency_badge),
        )
        .merge(integrations::router())
        .finish_api(&mut doc);
    let app = app
        .merge(super::console::router())
        // After every route: a route layer covers the routes added before it.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            access::enforce,
        ));
    let doc = openapi::finish(doc, started);
    app.fallback(|| async { ApiError::not_found("no such route; the API is under /api/v1") })
        .method_not_allowed_fallback(|uri: axum::http::Uri| async move {
            if uri.path() == "/ui" || uri.path().starts_with("/ui/") {
                return super::console::method_not_allowed();
            }
            axum::response::IntoResponse::into_response(ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            ))
        })
        .layer(axum::Extension(doc))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            status::page_hosts_only,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            count_requests,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost: every layer and handler sees the same client address.
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            client::client_address,
        ))
        .with_state(state)
}

/// The `service` label of what this router answers.
const SERVICE: &str = "api";

async fn count_requests(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let method = method_label(req.method().as_str()).to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let metrics = &state.metrics;
    metrics
        .request_duration
        .get_or_create(&ServiceMethodLabels {
            service: SERVICE.into(),
            method: method.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    if res.status().is_server_error() {
        metrics.error(SERVICE, "internal");
    }
    metrics
        .requests
        .get_or_create(&RequestLabels {
            service: SERVICE.into(),
            method,
            status: res.status().as_u16().to_string(),
        })
        .inc();
    res
}

/// Errors made outside the handlers (bad path or query parameters, bodies over the
/// limit) come from axum as plain text; every error of this API is JSON.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    // Only axum's own plain-text errors are rewritten: the JSON of the handlers,
    // and the HTML of the status pages' refusals, stay as they are.
    let is_plain = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_plain {
        return res;
    }
    let text = match axum::body::to_bytes(res.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        400 | 415 | 422 => "invalid",
        s if s >= 500 => "internal",
        _ => "error",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    axum::response::IntoResponse::into_response(ApiError::new(status, code, message))
}

/// Whether `headers` say the body is JSON (`application/json`, or a
/// `application/…+json` type), as axum's JSON extractor takes it.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}
