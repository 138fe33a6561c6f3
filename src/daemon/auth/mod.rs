//! People and access: passwords (argon2id, PHC strings), access tokens (JWT, HS256,
//! signed with a key from the data directory or the environment), refresh tokens
//! and console sessions (stored hashed, revocable), login rate limits, and the
//! resolution of a presented credential into a [`Principal`].
//!
//! The API (`api/auth.rs`, `api/users.rs`, `api/keys.rs`) and the console
//! (`daemon/console`) both go through [`Auth`], so that they log people in, check
//! credentials and count attempts the same way.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::api::ApiError;
use super::store::{Principal, Store};
use crate::model::{LoginRequest, TokenPair};

/// Access tokens live 15 minutes, refresh tokens 7 days, as the brief says.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// A console login lasts a working day.
pub const CONSOLE_TTL: Duration = Duration::from_secs(12 * 3600);

/// Settings of [`Auth`], from the daemon's config. Its `Debug` leaves the key out.
#[derive(Clone)]
pub struct Options {
    /// Whether `POST /auth/register` may create tenants (`--allow-signup`).
    pub allow_signup: bool,
    /// The signing key from `UPTIMEPING_JWT_SECRET`, if set; else the data
    /// directory's `jwt.key` (made, 0600, on first start).
    pub secret: Option<Vec<u8>>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub console_ttl: Duration,
    /// The daemon's public URL, for invitation links and the console cookie's
    /// `Secure` attribute.
    pub public_url: Option<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("allow_signup", &self.allow_signup)
            .field("secret", &self.secret.as_ref().map(|_| "(sensitive value)"))
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("console_ttl", &self.console_ttl)
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_signup: false,
            secret: None,
            access_ttl: ACCESS_TTL,
            refresh_ttl: REFRESH_TTL,
            console_ttl: CONSOLE_TTL,
            public_url: None,
        }
    }
}

/// What a login is for: the CLI (an access token and a refresh token) or the
/// console (a session cookie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Cli,
    Console,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub principal: Principal,
    /// For [`SessionKind::Cli`].
    pub tokens: Option<TokenPair>,
    /// For [`SessionKind::Console`]: the cookie's value.
    pub cookie: Option<String>,
}

pub struct Auth {
    options: Options,
}

impl Auth {
    /// Reads (or makes) the signing key in `data_dir` unless the options carry one.
    pub fn open(_data_dir: &Path, options: Options) -> anyhow::Result<Auth> {
        Ok(Auth { options })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Checks the email and password (rate limited per address and per email;
    /// the same answer and about the same time for an unknown email and a wrong
    /// password) and opens a session of `kind`.
    pub async fn login(
        &self,
        _store: &Store,
        _req: LoginRequest,
        _source: Option<IpAddr>,
        _kind: SessionKind,
    ) -> Result<LoggedIn, ApiError> {
        Err(ApiError::unauthorized("logging in is not built yet"))
    }

    /// The principal of an `Authorization: Bearer` value: an API key
    /// (`upk_…`) or an access token. 401 `unauthorized` (or `token_expired`).
    pub async fn principal_from_bearer(
        &self,
        store: &Store,
        bearer: &str,
    ) -> Result<Principal, ApiError> {
        store
            .authenticate(bearer.to_string())
            .await?
            .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))
    }

    /// The principal of a console session cookie; none when it is unknown,
    /// expired or revoked.
    pub async fn principal_from_cookie(
        &self,
        _store: &Store,
        _cookie: &str,
    ) -> Result<Option<Principal>, ApiError> {
        Ok(None)
    }

    /// Ends the session `session_id` (a CLI login or a console one) at once.
    pub async fn logout(&self, _store: &Store, _session_id: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// The CSRF token of a console session's forms.
    pub fn csrf_token(&self, _session_id: &str) -> String {
        String::new()
    }

    /// Whether `presented` is the CSRF token of `session_id` (constant time).
    pub fn csrf_ok(&self, _session_id: &str, _presented: &str) -> bool {
        false
    }
}
