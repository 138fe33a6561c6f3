//! Logging in and out: `POST /auth/login`, `/refresh`, `/register`,
//! `/accept-invite`, `/logout`, `/password` and `GET /auth/whoami`. The work is
//! [`Auth`](crate::daemon::auth::Auth)'s, shared with the console; here are the
//! answers and the audit records.

use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::NoContent;
use serde_json::json;

use super::openapi::{Caller, Created, Source};
use super::{ApiError, ApiJson, Shared};
use crate::daemon::audit::{Event, Outcome};
use crate::daemon::auth::{
    RefreshOutcome, SessionKind, check_email, check_password, normalize_email,
};
use crate::daemon::store::{Principal, PrincipalKind, now_ms, secret_hash};
use crate::model::{
    AcceptInviteRequest, LoginRequest, LogoutRequest, PasswordChange, RefreshRequest,
    RegisterRequest, TokenPair, Whoami,
};

/// The errors of the routes that log in without a credential: those of every
/// route, and 401 (wrong email or password, a spent token) and 429 (the login
/// limits), which the document shows.
pub struct LoginError(ApiError);

impl<E: Into<ApiError>> From<E> for LoginError {
    fn from(e: E) -> Self {
        LoginError(e.into())
    }
}

impl axum::response::IntoResponse for LoginError {
    fn into_response(self) -> axum::response::Response {
        self.0.into_response()
    }
}

impl aide::OperationOutput for LoginError {
    type Inner = crate::model::ErrorBody;

    fn operation_response(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        ApiError::operation_response(ctx, op)
    }

    fn inferred_responses(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        let mut out = ApiError::inferred_responses(ctx, op);
        let mut limited = super::openapi::error_response(
            ctx,
            "`rate_limited`: too many attempts from this address or for this email; `Retry-After` says in how many seconds to try again.",
        );
        limited.headers.insert(
            "Retry-After".into(),
            super::openapi::header("Seconds to wait."),
        );
        out.push((
            Some(aide::openapi::StatusCode::Code(401)),
            super::openapi::error_response(
                ctx,
                "`unauthorized`: the email or password is wrong, or the token is not valid (ended, expired); `session_reused`: a refresh token was presented a second time, so it may have been copied, and its whole session is ended.",
            ),
        ));
        out.push((Some(aide::openapi::StatusCode::Code(429)), limited));
        out
    }
}

/// What a refusal records as the email when what was given is not shaped like
/// one (it may be a password typed into the wrong field).
pub const NOT_AN_EMAIL: &str = "(not an email)";

/// The event of a login `email` tried and was refused, in `tenant_id`'s log (or
/// in no tenant's).
fn refused_as(
    email: &str,
    tenant_id: Option<i64>,
    source: Option<std::net::IpAddr>,
    e: &ApiError,
) -> Event {
    Event {
        tenant_id,
        actor: format!("user:{email}"),
        action: "login",
        target: Some(email.to_string()),
        outcome: Outcome::Refused,
        source,
        detail: json!({"status": e.status.as_u16(), "code": e.code}),
    }
}

/// Records a refused login of `email` (normalised) naming `tenant` or none, as
/// the API and the console do alike. What was typed is kept only when it is
/// shaped like an email: a password pasted into the email field must not end up
/// in the log. When the email is a user of some tenants (at most
/// [`MAX_TENANTS_PER_LOGIN`](crate::daemon::auth::MAX_TENANTS_PER_LOGIN), as a
/// login tries), the refusal is recorded in each of their logs, so that their
/// admins see attempts on their users; else in no tenant's. This runs after the
/// login's answer was decided, and costs one indexed read either way.
pub(crate) async fn record_refused_login(
    state: &Shared,
    email: &str,
    tenant: Option<String>,
    source: Option<std::net::IpAddr>,
    e: &ApiError,
) {
    if check_email(email).is_err() {
        state
            .audit
            .record(refused_as(NOT_AN_EMAIL, None, source, e))
            .await;
        return;
    }
    let tenant = tenant
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && t.len() <= crate::daemon::auth::MAX_TENANT_NAME_BYTES);
    let mut tenants: Vec<i64> = match state
        .store
        .users_by_email(
            email.to_string(),
            tenant,
            crate::daemon::auth::MAX_TENANTS_PER_LOGIN,
        )
        .await
    {
        Ok(users) => users.iter().map(|u| u.tenant_id).collect(),
        Err(err) => {
            tracing::warn!("cannot find the tenants of a refused login's email: {err}");
            Vec::new()
        }
    };
    tenants.dedup();
    if tenants.is_empty() {
        state.audit.record(refused_as(email, None, source, e)).await;
    }
    for t in tenants {
        state
            .audit
            .record(refused_as(email, Some(t), source, e))
            .await;
    }
}

pub async fn login(
    State(state): State<Shared>,
    Source(source): Source,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<axum::Json<TokenPair>, LoginError> {
    let email = normalize_email(&req.email);
    let tenant = req.tenant.clone();
    match state
        .auth
        .login(&state.store, req, source, SessionKind::Cli)
        .await
    {
        Ok(done) => {
            state
                .audit
                .record(
                    Event::by(&done.principal, "login", source)
                        .target(done.principal.name.clone())
                        .detail(json!({"kind": "cli"})),
                )
                .await;
            done.tokens
                .map(axum::Json)
                .ok_or_else(|| ApiError::unauthorized("the login opened no CLI session").into())
        }
        Err(e) => {
            if e.status.is_client_error() {
                record_refused_login(&state, &email, tenant, source, &e).await;
            }
            Err(e.into())
        }
    }
}

pub async fn refresh(
    State(state): State<Shared>,
    Source(source): Source,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<axum::Json<TokenPair>, LoginError> {
    match state.auth.refresh(&state.store, &req.refresh_token).await? {
        RefreshOutcome::Rotated(_, pair) => Ok(axum::Json(*pair)),
        RefreshOutcome::Reused(who) => {
            if let Some(who) = who {
                let sid = match &who.kind {
                    PrincipalKind::User { session_id, .. } => session_id.clone(),
                    PrincipalKind::Key => String::new(),
                };
                state
                    .audit
                    .record(
                        Event::by(&who, "session.reuse", source)
                            .outcome(Outcome::Refused)
                            .target(who.name.clone())
                            .detail(json!({"session": sid})),
                    )
                    .await;
            }
            Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "session_reused",
                "this refresh token was used before, so it may have been copied: the session is ended; log in again",
            )
            .into())
        }
    }
}

pub async fn register(
    State(state): State<Shared>,
    Source(source): Source,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Created<TokenPair>, LoginError> {
    if !state.auth.options().allow_signup {
        return Err(ApiError::forbidden(
            "signup is off on this daemon; ask an admin for an invitation",
        )
        .into());
    }
    let email = normalize_email(&req.email);
    state.auth.count_attempt(source, &email)?;
    check_email(&email)?;
    let tenant = super::tenants::check_name(&req.tenant)?;
    check_password(&req.password, &email)?;
    let hash = state.auth.hash_password(req.password).await?;
    let user = state
        .store
        .register(tenant.clone(), email, hash, now_ms())
        .await?;
    state.metrics.add_tenant(user.tenant_id, &tenant);
    let done = state
        .auth
        .open_session(&state.store, &user, SessionKind::Cli, source)
        .await?;
    state
        .audit
        .record(Event::by(&done.principal, "register", source).target(tenant.clone()))
        .await;
    tracing::info!(tenant = user.tenant_id, name = %tenant, by = %done.principal.actor(), "tenant registered");
    done.tokens
        .map(Created)
        .ok_or_else(|| ApiError::unauthorized("the registration opened no CLI session").into())
}

pub async fn accept_invite(
    State(state): State<Shared>,
    Source(source): Source,
    ApiJson(req): ApiJson<AcceptInviteRequest>,
) -> Result<axum::Json<TokenPair>, LoginError> {
    let done = state
        .auth
        .accept_invite(
            &state.store,
            &req.token,
            req.password,
            source,
            SessionKind::Cli,
        )
        .await?;
    state
        .audit
        .record(
            Event::by(&done.principal, "user.accept_invite", source)
                .target(done.principal.name.clone()),
        )
        .await;
    done.tokens
        .map(axum::Json)
        .ok_or_else(|| ApiError::unauthorized("accepting opened no CLI session").into())
}

/// The optional body of logout: nothing, or a [`LogoutRequest`] as JSON.
pub struct LogoutBody(LogoutRequest);

impl<S: Send + Sync> FromRequest<S> for LogoutBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = super::is_json(req.headers());
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(ApiError::from)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(LogoutBody(LogoutRequest::default()));
        }
        if !json {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        serde_json::from_slice(&body).map(LogoutBody).map_err(|e| {
            ApiError::invalid(format!(
                "the body must be empty or JSON like {{\"refresh_token\": \"uprt_…\"}}: {e}"
            ))
        })
    }
}

impl aide::OperationInput for LogoutBody {
    fn operation_input(ctx: &mut aide::generate::GenContext, op: &mut aide::openapi::Operation) {
        super::openapi::json_body::<LogoutRequest>(ctx, op);
        if let Some(aide::openapi::ReferenceOr::Item(body)) = op.request_body.as_mut() {
            body.required = false;
            body.description =
                Some("Optional: an empty body ends the session of the access token used.".into());
        }
    }

    fn inferred_early_responses(
        ctx: &mut aide::generate::GenContext,
        _op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        super::openapi::json_body_errors(ctx)
    }
}

/// The session of `who`'s credential, if it is a user's.
fn session_of(who: &Principal) -> Option<&str> {
    match &who.kind {
        PrincipalKind::User { session_id, .. } => Some(session_id),
        PrincipalKind::Key => None,
    }
}

pub async fn logout(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    LogoutBody(req): LogoutBody,
) -> Result<NoContent, ApiError> {
    let session = match req.refresh_token {
        Some(token) => {
            let found = state.store.session_of_refresh(secret_hash(&token)).await?;
            // Only a session of the caller's own, or of its tenant for an admin key.
            let mine = found.filter(|s| match &who.kind {
                PrincipalKind::User { user_id, .. } => s.user_id == *user_id,
                PrincipalKind::Key => {
                    s.tenant_id == who.tenant_id && who.role == crate::model::Role::Admin
                }
            });
            mine.map(|s| s.id)
                .ok_or_else(|| ApiError::not_found("no session of yours has this refresh token"))?
        }
        None => session_of(&who).map(str::to_string).ok_or_else(|| {
            ApiError::invalid(
                "an API key has no session to end: revoke it (`uptimeping auth api-key revoke ID`) instead",
            )
        })?,
    };
    state.auth.logout(&state.store, &session).await?;
    state
        .audit
        .record(Event::by(&who, "logout", source).target(who.name.clone()))
        .await;
    Ok(NoContent)
}

pub async fn whoami(
    State(state): State<Shared>,
    Caller(who): Caller,
    headers: HeaderMap,
) -> Result<axum::Json<Whoami>, ApiError> {
    let tenant = state
        .store
        .tenant_name(who.tenant_id)
        .await?
        .unwrap_or_default();
    let expires_at = match &who.kind {
        PrincipalKind::User { .. } => super::access::bearer(&headers)
            .and_then(|b| state.auth.token_expiry(b))
            .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0)),
        PrincipalKind::Key => state
            .store
            .list_keys(who.tenant_id, super::MAX_PAGE as usize)
            .await?
            .into_iter()
            .find(|k| k.id == who.id)
            .and_then(|k| k.expires_at)
            .map(crate::daemon::store::to_time),
    };
    Ok(axum::Json(Whoami {
        kind: match who.kind {
            PrincipalKind::User { .. } => "user",
            PrincipalKind::Key => "key",
        }
        .into(),
        id: who.id.clone(),
        name: who.name.clone(),
        tenant,
        tenant_id: who.tenant_id,
        role: who.role,
        permissions: who.role.permissions(),
        expires_at,
    }))
}

pub async fn password(
    State(state): State<Shared>,
    Caller(who): Caller,
    Source(source): Source,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<NoContent, LoginError> {
    let PrincipalKind::User {
        user_id,
        session_id,
    } = &who.kind
    else {
        return Err(ApiError::invalid(
            "an API key has no password: log in as a user (`uptimeping auth login`) to change yours",
        )
        .into());
    };
    state.auth.count_attempt(source, &who.name)?;
    let user = state
        .store
        .user(*user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this user no longer exists"))?;
    if req.current_password.chars().count() > crate::daemon::auth::MAX_PASSWORD_CHARS
        || !state
            .auth
            .verify_password(req.current_password, user.password_hash.clone())
            .await?
    {
        // 400, not 403: a 403 says the role is too low, which this is not.
        let e = ApiError::invalid("the current password is wrong: give it as it is now");
        state
            .audit
            .record(
                Event::by(&who, "password.change", source)
                    .outcome(Outcome::Refused)
                    .target(who.name.clone()),
            )
            .await;
        return Err(e.into());
    }
    check_password(&req.new_password, &user.email)?;
    let hash = state.auth.hash_password(req.new_password).await?;
    let ended = state
        .store
        .change_password(user.id, hash, Some(session_id.clone()), now_ms())
        .await?;
    state.auth.ended(&ended);
    state
        .audit
        .record(
            Event::by(&who, "password.change", source)
                .target(who.name.clone())
                .detail(json!({"sessions_ended": ended.len()})),
        )
        .await;
    Ok(NoContent)
}
