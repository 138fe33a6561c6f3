//! Logging in and out of the console, and accepting an invitation. The login
//! form has no session yet, so its CSRF token is a double-submit one: a random
//! value in a cookie of its own and in the form, which must match.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::form::{self, Form};
use super::html::{self, Nav, Page, esc};
use super::{Forged, SESSION_COOKIE, Session, cross_site, posted, refused_post, see_other};

use serde_json::json;

use crate::daemon::api::Shared;
use crate::daemon::audit::Event;
use crate::daemon::auth::SessionKind;
use crate::model::LoginRequest;

/// The cookie holding the login and invitation forms' CSRF value.
pub(super) const FORM_COOKIE: &str = "upt_form";

/// Letters and digits of the forms' CSRF value: 190 bits, as unguessable as a
/// session.
const FORM_TOKEN_LEN: usize = 32;

/// How long a login form stays usable: long enough to find a password.
const FORM_COOKIE_SECS: u64 = 3600;

/// `GET /ui`: the checks to someone logged in, the login form to anyone else.
pub(super) async fn home(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if logged_in(&state, &headers).await {
        see_other("/ui/checks")
    } else {
        see_other("/ui/login")
    }
}

async fn logged_in(state: &Shared, headers: &HeaderMap) -> bool {
    match form::cookie(headers, SESSION_COOKIE) {
        Some(c) => matches!(
            state.auth.principal_from_cookie(&state.store, c).await,
            Ok(Some(_))
        ),
        None => false,
    }
}

/// `GET /ui/login`.
pub(super) async fn form(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let next = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    let next = form::next_page(next.as_deref());
    if logged_in(&state, &headers).await {
        return see_other(&next);
    }
    login_page(&state, &headers, StatusCode::OK, &next, "", "", None)
}

/// The form's CSRF value: the one the browser holds, or a fresh one.
fn form_token(headers: &HeaderMap) -> String {
    form::cookie(headers, FORM_COOKIE)
        .filter(|v| v.len() == FORM_TOKEN_LEN && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_string)
        .unwrap_or_else(|| form::random_token(FORM_TOKEN_LEN))
}

/// Sets the form cookie on `res` (again, so that it lasts while the form is open).
fn with_form_cookie(
    state: &Shared,
    headers: &HeaderMap,
    token: &str,
    mut res: Response,
) -> Response {
    let secure = form::is_https(headers, state.auth.options().public_url.as_deref());
    let cookie = form::set_cookie(FORM_COOKIE, token, "/ui", FORM_COOKIE_SECS, secure);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn login_page(
    state: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    email: &str,
    tenant: &str,
    problem: Option<&str>,
) -> Response {
    let token = form_token(headers);
    let mut body = String::from(
        "<section class=\"login\" aria-labelledby=\"login-h\">\n<h1 id=\"login-h\">Log in</h1>\n",
    );
    if let Some(p) = problem {
        body.push_str(&format!(
            "<p class=\"problem\" role=\"alert\" id=\"login-problem\">{}</p>\n",
            esc(p)
        ));
    }
    let described = if problem.is_some() {
        " aria-describedby=\"login-problem\""
    } else {
        ""
    };
    body.push_str(&format!(
        "<form method=\"post\" action=\"/ui/login\" class=\"stack\"{described}>\n\
         {csrf}<input type=\"hidden\" name=\"next\" value=\"{next}\">\n\
         <label for=\"email\">Email</label>\n\
         <input id=\"email\" name=\"email\" type=\"text\" inputmode=\"email\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required maxlength=\"254\" value=\"{email}\">\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"256\">\n\
         <label for=\"tenant\">Tenant <span class=\"hint\">(only if your email belongs to several)</span></label>\n\
         <input id=\"tenant\" name=\"tenant\" type=\"text\" autocomplete=\"organization\" maxlength=\"63\" value=\"{tenant}\">\n\
         <button type=\"submit\">Log in</button>\n</form>\n</section>",
        csrf = html::csrf_field(&token),
        next = esc(next),
        email = esc(email),
        tenant = esc(tenant),
    ));
    let res = Page {
        title: "Log in".into(),
        nav: Nav::None,
        who: None,
        body,
    }
    .render(status);
    with_form_cookie(state, headers, &token, res)
}

/// Whether the form's CSRF field matches the form cookie (double submit).
fn form_token_ok(headers: &HeaderMap, form: &Form) -> bool {
    match (form::cookie(headers, FORM_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) if !c.is_empty() => bool::from(c.as_bytes().ct_eq(f.as_bytes())),
        _ => false,
    }
}

fn form_expired() -> Response {
    html::message(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form's security token is missing or wrong, so nothing was done. Open the form again and resend it.",
        Some(("/ui/login", "Log in")),
    )
}

/// What the login form says when the email and password are a user of more
/// than one tenant.
const SEVERAL_TENANTS: &str = "This email and password belong to a user of several tenants: type the name of the tenant to log in to in the Tenant field.";

/// `POST /ui/login`.
pub(super) async fn submit(State(state): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let form = match Form::read(body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    if !form::same_origin(headers, state.auth.options().public_url.as_deref()) {
        refused_post(&state, None, &parts, "/ui/login", Forged::CrossSite).await;
        return cross_site();
    }
    if !form_token_ok(headers, &form) {
        refused_post(&state, None, &parts, "/ui/login", Forged::Csrf).await;
        return form_expired();
    }
    let next = form::next_page(form.get("next"));
    let email = form.text("email").unwrap_or_default();
    let tenant = form.text("tenant");
    let password = form.get("password").unwrap_or_default().to_string();
    let again = |status, problem: &str| {
        login_page(
            &state,
            headers,
            status,
            &next,
            &email,
            tenant.as_deref().unwrap_or_default(),
            Some(problem),
        )
    };
    if email.is_empty() || password.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "Give your email and your password.",
        );
    }
    let source = crate::daemon::api::source(&parts.extensions);
    let request = LoginRequest {
        email: email.clone(),
        password,
        tenant: tenant.clone(),
    };
    match state
        .auth
        .login(&state.store, request, source, SessionKind::Console)
        .await
    {
        Ok(logged) => {
            state
                .audit
                .record(
                    Event::by(&logged.principal, "login", source)
                        .target(logged.principal.name.clone())
                        .detail(json!({"kind": "console"})),
                )
                .await;
            let Some(cookie) = logged.cookie else {
                tracing::error!("console: a console login gave no session cookie");
                return html::message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The login worked but no session was made; try again.",
                    Some(("/ui/login", "Log in")),
                );
            };
            logged_in_as(&state, headers, &cookie, &next)
        }
        Err(e) => {
            if e.status.is_client_error() {
                crate::daemon::api::record_refused_login(
                    &state,
                    &crate::daemon::auth::normalize_email(&email),
                    tenant.clone(),
                    source,
                    &e,
                )
                .await;
            }
            if e.status.is_server_error() {
                return html::error(&e);
            }
            // The API's wording names its field and the CLI's flag; here the
            // form's own field is what to fill in.
            let problem = if e.status == StatusCode::CONFLICT {
                SEVERAL_TENANTS
            } else {
                &e.message
            };
            let mut res = again(e.status, problem);
            if let Some(seconds) = e.retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            res
        }
    }
}

/// The answer that starts a console session: its cookie set, the form's
/// cookie cleared, and the browser sent on to `next`.
fn logged_in_as(state: &Shared, headers: &HeaderMap, cookie: &str, next: &str) -> Response {
    let secure = form::is_https(headers, state.auth.options().public_url.as_deref());
    let ttl = state.auth.options().console_ttl.as_secs();
    let mut res = see_other(next);
    for c in [
        form::set_cookie(SESSION_COOKIE, cookie, "/ui", ttl, secure),
        form::set_cookie(FORM_COOKIE, "", "/ui", 0, secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// `POST /ui/logout`: ends the session at once, clears its cookie.
pub(super) async fn logout(
    State(state): State<Shared>,
    session: Session,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(res) = posted(&state, &session, &parts, body).await {
        return res;
    }
    if let Err(e) = state.auth.logout(&state.store, &session.session_id).await {
        return html::error(&e);
    }
    let source = crate::daemon::api::source(&parts.extensions);
    state
        .audit
        .record(
            Event::by(&session.principal, "logout", source).target(session.principal.name.clone()),
        )
        .await;
    let secure = form::is_https(&parts.headers, state.auth.options().public_url.as_deref());
    let mut res = see_other("/ui/login");
    if let Ok(v) = HeaderValue::from_str(&form::set_cookie(SESSION_COOKIE, "", "/ui", 0, secure)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `GET /ui/invite/{token}`: the form that sets an invited person's password.
pub(super) async fn invite_form(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match state.auth.invitation(&state.store, &token).await {
        Ok(Some(_)) => invite_page(&state, &headers, StatusCode::OK, &token, None),
        Ok(None) => html::message(
            StatusCode::NOT_FOUND,
            "Invitation not valid",
            "This invitation was used, withdrawn or has expired. Ask an admin of your tenant for a new one.",
            Some(("/ui/login", "Log in")),
        ),
        Err(e) => html::error(&e),
    }
}

fn invite_page(
    state: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    invitation: &str,
    problem: Option<&str>,
) -> Response {
    let token = form_token(headers);
    let mut body = String::from(
        "<section class=\"login\" aria-labelledby=\"invite-h\">\n<h1 id=\"invite-h\">Accept the invitation</h1>\n<p>Choose the password you will log in with: at least 8 characters, with three of lower case, upper case, digits and other characters (or 16 characters of any kind).</p>\n",
    );
    if let Some(p) = problem {
        body.push_str(&format!(
            "<p class=\"problem\" role=\"alert\">{}</p>\n",
            esc(p)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/ui/invite/{path}\" class=\"stack\">\n{csrf}\n\
         <label for=\"password\">New password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"256\">\n\
         <label for=\"confirm\">The same password again</label>\n\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"256\">\n\
         <button type=\"submit\">Set the password</button>\n</form>\n</section>",
        path = esc(&form::encode(invitation)),
        csrf = html::csrf_field(&token),
    ));
    let res = Page {
        title: "Accept the invitation".into(),
        nav: Nav::None,
        who: None,
        body,
    }
    .render(status);
    with_form_cookie(state, headers, &token, res)
}

/// `POST /ui/invite/{token}`: sets the password, then sends the person to log in.
pub(super) async fn invite_submit(
    State(state): State<Shared>,
    Path(invitation): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let form = match Form::read(body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    // The route, not the path: the log keeps no live invitation token.
    let audited = "/ui/invite/{token}";
    if !form::same_origin(headers, state.auth.options().public_url.as_deref()) {
        refused_post(&state, None, &parts, audited, Forged::CrossSite).await;
        return cross_site();
    }
    if !form_token_ok(headers, &form) {
        refused_post(&state, None, &parts, audited, Forged::Csrf).await;
        return form_expired();
    }
    let password = form.get("password").unwrap_or_default();
    if password != form.get("confirm").unwrap_or_default() {
        return invite_page(
            &state,
            headers,
            StatusCode::BAD_REQUEST,
            &invitation,
            Some("The two passwords differ; type the same one twice."),
        );
    }
    let source = crate::daemon::api::source(&parts.extensions);
    match state
        .auth
        .accept_invite(
            &state.store,
            &invitation,
            password.to_string(),
            source,
            SessionKind::Console,
        )
        .await
    {
        Ok(done) => {
            state
                .audit
                .record(
                    Event::by(&done.principal, "user.accept_invite", source)
                        .target(done.principal.name.clone()),
                )
                .await;
            match done.cookie {
                Some(cookie) => logged_in_as(&state, headers, &cookie, "/ui/checks"),
                // The password is set; only the session is missing.
                None => see_other("/ui/login"),
            }
        }
        Err(e) if e.status.is_server_error() => html::error(&e),
        Err(e) => {
            let mut res = invite_page(&state, headers, e.status, &invitation, Some(&e.message));
            if let Some(seconds) = e.retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            res
        }
    }
}
