//! People and access: passwords (argon2id, PHC strings), access tokens (JWT, HS256,
//! signed with a key from the data directory or the environment), refresh tokens
//! and console sessions (stored hashed, revocable), login rate limits, and the
//! resolution of a presented credential into a [`Principal`].
//!
//! The API (`api/auth.rs`, `api/users.rs`, `api/keys.rs`) and the console
//! (`daemon/console`) both go through [`Auth`], so that they log people in, check
//! credentials and count attempts the same way.

mod key;
mod limit;
pub mod password;
pub mod token;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::api::{ApiError, Turns};
use super::store::{
    InvitationRow, KeyCheck, NewSession, Principal, PrincipalKind, Refreshed, Store, UserRow,
    is_api_key, now_ms, random_alnum, secret_hash,
};
use crate::model::{LoginRequest, TokenPair, Whoami};

pub use key::KEY_FILE;
pub use limit::{
    MAX_TRACKED, MIN_PER_EMAIL, PER_ADDRESS, PER_ADDRESS_PER_MINUTE, PER_EMAIL,
    PER_EMAIL_PER_MINUTE,
};
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};

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
    /// Reverse proxies whose `X-Forwarded-For` names the client
    /// (`--trusted-proxy`); none by default.
    pub trusted_proxies: Vec<super::api::client::Cidr>,
    /// Login attempts from one address (`--login-limit-address`).
    pub login_per_address: crate::spec::Rate,
    /// Login attempts for one email (`--login-limit-email`).
    pub login_per_email: crate::spec::Rate,
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
            .field("trusted_proxies", &self.trusted_proxies)
            .field("login_per_address", &self.login_per_address)
            .field("login_per_email", &self.login_per_email)
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
            trusted_proxies: Vec::new(),
            login_per_address: limit::PER_ADDRESS,
            login_per_email: limit::PER_EMAIL,
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

/// Password hashes computed at once: each takes ~19 MiB and tens of milliseconds
/// of a core, so two bound both the memory and the CPU a flood of logins can take.
pub const CONCURRENT_HASHES: usize = 2;
/// The longest email taken (RFC 5321's limit on a path).
pub const MAX_EMAIL_BYTES: usize = 254;
/// The longest tenant name (as `POST /tenants` takes them).
pub const MAX_TENANT_NAME_BYTES: usize = 63;
/// Users one email and password are tried against when the login names no
/// tenant: the same person is rarely in more than a few tenants, and each try
/// costs a hash.
pub const MAX_TENANTS_PER_LOGIN: usize = 5;
/// Sessions whose state is remembered in memory (about 100 bytes each); past it
/// the memory starts over and sessions are read from the store again.
pub const MAX_CACHED_SESSIONS: usize = 100_000;
/// The longest refresh token or cookie looked at: ours are far shorter.
const MAX_OPAQUE_TOKEN_BYTES: usize = 128;
/// A key's use is written at most this often (the list shows it to the minute).
const KEY_USE_EVERY_MS: i64 = 60_000;
/// Keys whose last write of use is remembered; past it the memory starts over.
const MAX_TRACKED_KEYS: usize = 10_000;
/// Random characters in a session id, a refresh token and a cookie (~256 bits).
const RANDOM_CHARS: usize = 43;
pub const REFRESH_PREFIX: &str = "uprt_";
pub const INVITE_PREFIX: &str = "upinv_";

/// What was said to a wrong password and an unknown email alike.
pub const WRONG_LOGIN: &str = "the email or password is wrong";

fn hashing() -> &'static Turns {
    static TURNS: Turns = Turns::new(CONCURRENT_HASHES, "password checks");
    &TURNS
}

/// The daemon's [`CONCURRENT_HASHES`] hashing threads, each reusing its own
/// working memory through a burst of logins and freeing it when idle.
fn hashers() -> Result<&'static password::Hashers, ApiError> {
    static HASHERS: OnceLock<Result<password::Hashers, String>> = OnceLock::new();
    HASHERS
        .get_or_init(|| {
            password::Hashers::start(CONCURRENT_HASHES)
                .map_err(|e| format!("cannot start the password-hashing threads: {e}"))
        })
        .as_ref()
        .map_err(|e| internal(e.clone()))
}

/// Runs `f` on a hashing thread once one of the [`CONCURRENT_HASHES`] turns is
/// free (503 `busy` when none is within the turn wait).
async fn hashed<T: Send + 'static>(
    f: impl FnOnce(&mut password::Memory) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let turn = hashing().take().await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let queued = hashers()?.submit(Box::new(move |memory| {
        // Held until the work is done, even if the caller has gone.
        let _turn = turn;
        let _ = tx.send(f(memory));
    }));
    if !queued {
        return Err(internal(
            "the password-hashing threads have stopped; restart the daemon".to_string(),
        ));
    }
    rx.await
        .map_err(|_| internal("the password check failed; see the daemon's log".to_string()))
}

/// An email as stored: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Refuses what cannot be an email address (before anything is stored).
pub fn check_email(email: &str) -> Result<(), ApiError> {
    let ok = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    let hidden = crate::spec::forbidden_char(email).or_else(|| {
        email
            .chars()
            .find(|&c| c.is_whitespace() || is_format_char(c))
    });
    if let Some(c) = hidden {
        return Err(ApiError::invalid(format!(
            "the email holds U+{:04X}, a space, control, invisible or direction-changing character: type the address again without it",
            c as u32
        )));
    }
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "`{}` is not an email address (like `alice@example.com`, at most {MAX_EMAIL_BYTES} bytes)",
            email.chars().take(80).collect::<String>()
        )))
    }
}

/// Whether `c` is an invisible format character (Unicode's `Cf`: zero-width
/// spaces and joiners, word joiners, the byte order mark, bidirectional marks,
/// overrides and isolates): an email holding one looks like another address,
/// or reads reversed, in lists, the audit log and the console.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// A new password against the policy: 400 `invalid` saying what would do.
pub fn check_password(password: &str, email: &str) -> Result<(), ApiError> {
    password::check_policy(password, email).map_err(ApiError::invalid)
}

/// What a session is known to be, kept so that a token's session is read from
/// the store once, not on every request.
#[derive(Debug, Clone, Copy)]
enum Known {
    /// Live until the time given, for that user of that tenant: a token naming
    /// another user or tenant with this session's id is refused.
    LiveUntil {
        until: i64,
        user_id: i64,
        tenant_id: i64,
        role: super::store::Role,
    },
    Ended,
}

/// What a refresh did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    Rotated(Principal, Box<TokenPair>),
    /// A used refresh token came again: its whole session has ended. The
    /// principal it belonged to, when the user still exists.
    Reused(Option<Principal>),
}

pub struct Auth {
    options: Options,
    signer: token::Signer,
    /// HMAC-SHA256 keyed with the signing key, for CSRF tokens.
    csrf: Hmac<Sha256>,
    /// Tells signing keys apart without telling anything of them.
    fingerprint: String,
    /// A hash of nothing anyone knows, verified for unknown emails so that they
    /// cost what a wrong password costs.
    dummy_hash: String,
    limits: limit::LoginLimits,
    sessions: Mutex<HashMap<String, Known>>,
    key_uses: Mutex<HashMap<String, i64>>,
}

fn user_principal(user: &UserRow, session_id: &str) -> Principal {
    Principal {
        id: user.id.to_string(),
        tenant_id: user.tenant_id,
        name: user.email.clone(),
        role: user.role,
        kind: PrincipalKind::User {
            user_id: user.id,
            session_id: session_id.to_string(),
        },
    }
}

fn internal(message: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        message,
    )
}

impl Auth {
    /// Reads (or makes) the signing key in `data_dir` unless the options carry one.
    pub fn open(data_dir: &Path, options: Options) -> anyhow::Result<Auth> {
        let key = key::load(data_dir, options.secret.as_deref())?;
        let dummy_hash = {
            let (tx, rx) = std::sync::mpsc::channel();
            let nobody = random_alnum(RANDOM_CHARS);
            let queued = hashers()
                .map_err(|e| anyhow::anyhow!("{}", e.message))?
                .submit(Box::new(move |memory| {
                    let _ = tx.send(password::hash_in(&nobody, memory));
                }));
            anyhow::ensure!(queued, "the password-hashing threads have stopped");
            rx.recv()
                .map_err(|_| anyhow::anyhow!("the password-hashing thread failed"))?
                .map_err(anyhow::Error::msg)?
        };
        let csrf = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .map_err(|e| anyhow::anyhow!("the signing key cannot key an HMAC: {e}"))?;
        let fingerprint = {
            let mut mac = csrf.clone();
            mac.update(b"uptimeping: which signing key");
            let digest = mac.finalize().into_bytes();
            digest[..16].iter().map(|b| format!("{b:02x}")).collect()
        };
        Ok(Auth {
            signer: token::Signer::new(&key).map_err(anyhow::Error::msg)?,
            csrf,
            fingerprint,
            dummy_hash,
            limits: limit::LoginLimits::new(options.login_per_address, options.login_per_email),
            sessions: Mutex::new(HashMap::new()),
            key_uses: Mutex::new(HashMap::new()),
            options,
        })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A digest of the signing key under a fixed label: equal for equal keys,
    /// and of no use for signing or for finding the key.
    pub fn key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Hashes a new password on a hashing thread (one of [`CONCURRENT_HASHES`]).
    pub async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        hashed(move |memory| password::hash_in(&password, memory))
            .await?
            .map_err(internal)
    }

    /// Whether `password` matches `phc`, on a hashing thread.
    pub async fn verify_password(&self, password: String, phc: String) -> Result<bool, ApiError> {
        hashed(move |memory| password::verify_in(&password, &phc, memory)).await
    }

    /// Checks the email and password (rate limited per address and per email;
    /// the same answer and about the same time for an unknown email and a wrong
    /// password) and opens a session of `kind`.
    pub async fn login(
        &self,
        store: &Store,
        req: LoginRequest,
        source: Option<IpAddr>,
        kind: SessionKind,
    ) -> Result<LoggedIn, ApiError> {
        let email = normalize_email(&req.email);
        self.count_attempt(source, &email)?;
        if email.len() > MAX_EMAIL_BYTES
            || req.password.chars().count() > MAX_PASSWORD_CHARS
            || req
                .tenant
                .as_ref()
                .is_some_and(|t| t.len() > MAX_TENANT_NAME_BYTES)
        {
            return Err(ApiError::unauthorized(WRONG_LOGIN));
        }
        let tenant = req
            .tenant
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let users = store
            .users_by_email(email, tenant, MAX_TENANTS_PER_LOGIN)
            .await?;
        let hashes: Vec<String> = if users.is_empty() {
            vec![self.dummy_hash.clone()]
        } else {
            users.iter().map(|u| u.password_hash.clone()).collect()
        };
        let given = req.password.clone();
        let verdicts: Vec<bool> = hashed(move |memory| {
            hashes
                .iter()
                .map(|h| password::verify_in(&given, h, memory))
                .collect()
        })
        .await?;
        let mut matched = users
            .into_iter()
            .zip(verdicts)
            .filter(|(_, ok)| *ok)
            .map(|(u, _)| u);
        let Some(user) = matched.next() else {
            self.limits.failed(source);
            return Err(ApiError::unauthorized(WRONG_LOGIN));
        };
        if matched.next().is_some() {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "conflict",
                "this email and password are a user of several tenants: name the tenant (`tenant` in the request, `--tenant` on the command line)",
            ));
        }
        if password::needs_rehash(&user.password_hash) {
            let fresh = self.hash_password(req.password).await?;
            store.set_password(user.id, fresh, now_ms()).await?;
            tracing::info!(
                user = user.id,
                "password hash made again at the current settings"
            );
        }
        self.open_session(store, &user, kind, source).await
    }

    /// Opens a session of `kind` for `user` (after a login, an accepted
    /// invitation or a registration).
    pub async fn open_session(
        &self,
        store: &Store,
        user: &UserRow,
        kind: SessionKind,
        source: Option<IpAddr>,
    ) -> Result<LoggedIn, ApiError> {
        let now = now_ms();
        let id = random_alnum(RANDOM_CHARS);
        let (ttl, kind_name) = match kind {
            SessionKind::Cli => (self.options.refresh_ttl, "cli"),
            SessionKind::Console => (self.options.console_ttl, "console"),
        };
        let expires_at = now.saturating_add(ttl.as_millis().try_into().unwrap_or(i64::MAX));
        let refresh = format!("{REFRESH_PREFIX}{}", random_alnum(RANDOM_CHARS));
        let cookie = random_alnum(RANDOM_CHARS);
        let cli = kind == SessionKind::Cli;
        let crowded = store
            .create_session(
                NewSession {
                    id: id.clone(),
                    tenant_id: user.tenant_id,
                    user_id: user.id,
                    kind: kind_name,
                    expires_at,
                    source: source.map(|s| s.to_string()),
                    refresh_hash: cli.then(|| secret_hash(&refresh)),
                    cookie_hash: (!cli).then(|| secret_hash(&cookie)),
                },
                now,
            )
            .await?;
        self.ended(&crowded);
        self.know(
            &id,
            Known::LiveUntil {
                until: expires_at,
                user_id: user.id,
                tenant_id: user.tenant_id,
                role: user.role,
            },
        );
        let tokens = if cli {
            Some(self.pair(user, &id, refresh, expires_at, now)?)
        } else {
            None
        };
        Ok(LoggedIn {
            principal: user_principal(user, &id),
            tokens,
            cookie: (!cli).then_some(cookie),
        })
    }

    /// An access token for `user` in session `session_id` and the refresh token
    /// given, as answered.
    fn pair(
        &self,
        user: &UserRow,
        session_id: &str,
        refresh_token: String,
        session_expires_at: i64,
        now: i64,
    ) -> Result<TokenPair, ApiError> {
        let now_secs = now.div_euclid(1000);
        let ttl = i64::try_from(self.options.access_ttl.as_secs()).unwrap_or(i64::MAX);
        let exp = now_secs
            .saturating_add(ttl)
            .min(session_expires_at.div_euclid(1000));
        let claims = token::Claims {
            iss: token::ISSUER.into(),
            sub: user.id.to_string(),
            email: user.email.clone(),
            tenant: user.tenant_id,
            tenant_name: user.tenant.clone(),
            roles: vec![user.role],
            permissions: user.role.permissions(),
            sid: session_id.to_string(),
            iat: now_secs,
            exp,
        };
        let access_token = self.signer.sign(&claims).map_err(internal)?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: u64::try_from(exp - now_secs).unwrap_or(0),
            refresh_expires_in: u64::try_from((session_expires_at - now).div_euclid(1000))
                .unwrap_or(0),
            user: Whoami {
                kind: "user".into(),
                id: user.id.to_string(),
                name: user.email.clone(),
                tenant: user.tenant.clone(),
                tenant_id: user.tenant_id,
                role: user.role,
                permissions: user.role.permissions(),
                expires_at: chrono::DateTime::from_timestamp(exp, 0),
            },
        })
    }

    /// Exchanges a refresh token for a new pair. A token used before ends its
    /// session ([`RefreshOutcome::Reused`]); an unknown or ended one is 401.
    pub async fn refresh(
        &self,
        store: &Store,
        refresh_token: &str,
    ) -> Result<RefreshOutcome, ApiError> {
        let refused = || {
            ApiError::unauthorized(
                "the refresh token is not valid (used, ended or expired): log in again",
            )
        };
        if refresh_token.len() > MAX_OPAQUE_TOKEN_BYTES
            || !refresh_token.starts_with(REFRESH_PREFIX)
        {
            return Err(refused());
        }
        let now = now_ms();
        let fresh = format!("{REFRESH_PREFIX}{}", random_alnum(RANDOM_CHARS));
        match store
            .rotate_refresh(secret_hash(refresh_token), secret_hash(&fresh), now)
            .await?
        {
            Refreshed::Invalid => Err(refused()),
            Refreshed::Reused { session, user } => {
                self.know(&session.id, Known::Ended);
                tracing::warn!(session = %session.id, user = session.user_id, "a used refresh token came again: its session is ended");
                Ok(RefreshOutcome::Reused(
                    user.map(|u| user_principal(&u, &session.id)),
                ))
            }
            Refreshed::Rotated { session, user } => {
                let pair = self.pair(&user, &session.id, fresh, session.expires_at, now)?;
                Ok(RefreshOutcome::Rotated(
                    user_principal(&user, &session.id),
                    Box::new(pair),
                ))
            }
        }
    }

    /// The principal of an `Authorization: Bearer` value: an API key
    /// (`upk_…`) or an access token. 401 `unauthorized` (or `token_expired`).
    pub async fn principal_from_bearer(
        &self,
        store: &Store,
        bearer: &str,
    ) -> Result<Principal, ApiError> {
        let now = now_ms();
        if is_api_key(bearer) {
            return match store.check_key(bearer.to_string(), now).await? {
                KeyCheck::Valid {
                    principal,
                    last_used_at,
                    ..
                } => {
                    self.note_key_use(store, &principal.id, last_used_at, now);
                    Ok(principal)
                }
                KeyCheck::Expired => Err(ApiError::unauthorized(
                    "the API key has expired: an admin can make a new one with `uptimeping auth api-key create`",
                )),
                KeyCheck::Invalid => Err(ApiError::unauthorized("the API key is not valid")),
            };
        }
        let claims = self
            .signer
            .check(bearer, now.div_euclid(1000))
            .map_err(|why| match why {
                token::Refused::Expired => ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "token_expired",
                    "the access token has expired: refresh it (`POST /api/v1/auth/refresh`) or log in again",
                ),
                token::Refused::Invalid => ApiError::unauthorized(
                    "the bearer credential is neither a valid API key nor a valid access token: log in again (`uptimeping auth login`)",
                ),
            })?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("the access token is not valid"))?;
        let Some(live) = self.session_live(store, &claims.sid, now).await? else {
            return Err(ApiError::unauthorized(
                "the session of this access token has ended (logout, a password or role change): log in again",
            ));
        };
        // The claims must be the session's: a token is trusted no further than
        // the session it names and the user's role when it opened (a role change
        // ends the user's sessions).
        if live != (user_id, claims.tenant, claims.role()) {
            tracing::warn!(session = %claims.sid, "an access token's user or tenant is not its session's");
            return Err(ApiError::unauthorized("the access token is not valid"));
        }
        Ok(Principal {
            id: claims.sub.clone(),
            tenant_id: claims.tenant,
            name: claims.email.clone(),
            role: claims.role(),
            kind: PrincipalKind::User {
                user_id,
                session_id: claims.sid,
            },
        })
    }

    /// Whose a refused bearer credential is, for the audit: the tenant and actor
    /// of an API key with the right secret (revoked or expired), or of an access
    /// token signed with this daemon's key (expired, or of an ended session).
    /// None for what is nobody's.
    pub async fn owner_of(&self, store: &Store, bearer: &str) -> Option<(i64, String)> {
        if is_api_key(bearer) {
            return store.key_owner(bearer.to_string()).await.ok().flatten();
        }
        self.signer
            .check(bearer, i64::MIN)
            .ok()
            .map(|c| (c.tenant, format!("user:{}", c.email)))
    }

    /// When a bearer access token expires (Unix seconds), for `whoami`; none for
    /// what is not a token of this daemon.
    pub fn token_expiry(&self, bearer: &str) -> Option<i64> {
        self.signer.check(bearer, i64::MIN).ok().map(|c| c.exp)
    }

    /// The principal of a console session cookie; none when it is unknown,
    /// expired or revoked.
    pub async fn principal_from_cookie(
        &self,
        store: &Store,
        cookie: &str,
    ) -> Result<Option<Principal>, ApiError> {
        if cookie.is_empty() || cookie.len() > MAX_OPAQUE_TOKEN_BYTES {
            return Ok(None);
        }
        let found = store
            .session_by_cookie(secret_hash(cookie), now_ms())
            .await?;
        Ok(found.map(|(session, user)| user_principal(&user, &session.id)))
    }

    /// Ends the session `session_id` (a CLI login or a console one) at once.
    pub async fn logout(&self, store: &Store, session_id: &str) -> Result<(), ApiError> {
        store
            .revoke_session(session_id.to_string(), "logout", now_ms())
            .await?;
        self.know(session_id, Known::Ended);
        Ok(())
    }

    /// Takes note that the sessions `ids` have ended (the store has ended them):
    /// their tokens are refused from now on.
    pub fn ended(&self, ids: &[String]) {
        for id in ids {
            self.know(id, Known::Ended);
        }
    }

    /// The CSRF token of a console session's forms.
    pub fn csrf_token(&self, session_id: &str) -> String {
        hex::encode(self.csrf_mac(session_id))
    }

    /// Whether `presented` is the CSRF token of `session_id` (constant time).
    pub fn csrf_ok(&self, session_id: &str, presented: &str) -> bool {
        let Ok(bytes) = hex::decode(presented.trim()) else {
            return false;
        };
        self.csrf_mac(session_id).as_slice().ct_eq(&bytes).into()
    }

    fn csrf_mac(&self, session_id: &str) -> Vec<u8> {
        let mut mac = self.csrf.clone();
        mac.update(b"csrf:");
        mac.update(session_id.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Counts an attempt at something that guesses a secret (a login, a current
    /// password, an invitation token) against the login limits: 429 past them.
    pub fn count_attempt(&self, source: Option<IpAddr>, email: &str) -> Result<(), ApiError> {
        let bounded: String = email.chars().take(MAX_EMAIL_BYTES + 1).collect();
        self.limits.attempt(source, &bounded).map_err(|seconds| {
            ApiError::rate_limited(
                format!("too many attempts; try again in {seconds} s"),
                seconds,
            )
        })
    }

    /// The invitation open now with the token `token`, and its tenant's name.
    pub async fn invitation(
        &self,
        store: &Store,
        token: &str,
    ) -> Result<Option<(InvitationRow, String)>, ApiError> {
        if token.len() > MAX_OPAQUE_TOKEN_BYTES || !token.starts_with(INVITE_PREFIX) {
            return Ok(None);
        }
        Ok(store.invitation(secret_hash(token), now_ms()).await?)
    }

    /// Accepts the invitation `token` with the invited user's first `password`
    /// (rate limited like logins, held to the policy) and opens a session of
    /// `kind`.
    pub async fn accept_invite(
        &self,
        store: &Store,
        token: &str,
        password: String,
        source: Option<IpAddr>,
        kind: SessionKind,
    ) -> Result<LoggedIn, ApiError> {
        // Tokens are 256-bit random values, so guessing is hopeless anyway; a
        // bucket shared by all would let one client block every invitee.
        self.limits.attempt_from(source).map_err(|seconds| {
            ApiError::rate_limited(
                format!("too many attempts; try again in {seconds} s"),
                seconds,
            )
        })?;
        let refused = || {
            ApiError::unauthorized(
                "the invitation is not valid: it was used, withdrawn or has expired; ask an admin for a new one",
            )
        };
        let (invitation, _) = self.invitation(store, token).await?.ok_or_else(refused)?;
        check_password(&password, &invitation.email)?;
        let hash = self.hash_password(password).await?;
        let user = store
            .accept_invitation(secret_hash(token), hash, now_ms())
            .await?
            .ok_or_else(refused)?;
        self.open_session(store, &user, kind, source).await
    }

    /// Login attempts tracked now (addresses, emails), for tests and metrics.
    pub fn login_attempts_tracked(&self) -> (usize, usize) {
        self.limits.tracked()
    }

    fn know(&self, id: &str, state: Known) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_CACHED_SESSIONS {
            let now = now_ms();
            sessions.retain(|_, k| matches!(k, Known::LiveUntil { until, .. } if *until > now));
            if sessions.len() >= MAX_CACHED_SESSIONS {
                sessions.clear();
            }
        }
        sessions.insert(id.to_string(), state);
    }

    /// The user, tenant and role of session `id` when it is live at `now`: from
    /// memory, or read once from the store (after a restart, or for a session
    /// another daemon process opened).
    async fn session_live(
        &self,
        store: &Store,
        id: &str,
        now: i64,
    ) -> Result<Option<(i64, i64, super::store::Role)>, ApiError> {
        let known = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied();
        let known = match known {
            Some(k) => k,
            None => {
                let session = store
                    .session(id.to_string())
                    .await?
                    .filter(|s| s.revoked_at.is_none());
                let user = match &session {
                    Some(s) => store.user(s.user_id).await?,
                    None => None,
                };
                let k = match (session, user) {
                    (Some(s), Some(u)) => Known::LiveUntil {
                        until: s.expires_at,
                        user_id: s.user_id,
                        tenant_id: s.tenant_id,
                        role: u.role,
                    },
                    _ => Known::Ended,
                };
                self.know(id, k);
                k
            }
        };
        Ok(match known {
            Known::LiveUntil {
                until,
                user_id,
                tenant_id,
                role,
            } if until > now => Some((user_id, tenant_id, role)),
            _ => None,
        })
    }

    /// Writes that key `id` was used, at most once a minute, without making the
    /// request wait for it.
    fn note_key_use(&self, store: &Store, id: &str, stored: Option<i64>, now: i64) {
        if stored.is_some_and(|t| now - t < KEY_USE_EVERY_MS) {
            return;
        }
        {
            let mut uses = self.key_uses.lock().unwrap_or_else(|p| p.into_inner());
            if uses.get(id).is_some_and(|t| now - t < KEY_USE_EVERY_MS) {
                return;
            }
            if uses.len() >= MAX_TRACKED_KEYS {
                uses.clear();
            }
            uses.insert(id.to_string(), now);
        }
        let store = store.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(id.clone(), now).await {
                tracing::warn!(key = %id, "cannot record the key's use: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn hashes_run_on_a_fixed_set_of_threads_that_reuse_their_memory() {
        let runs: Vec<_> = (0..12)
            .map(|_| {
                tokio::spawn(hashed(|memory| {
                    let phc = password::hash_in("Tr0ub4dor&3", memory).expect("hash");
                    let ok = password::verify_in("Tr0ub4dor&3", &phc, memory)
                        && !password::verify_in("Tr0ub4dor&4", &phc, memory);
                    (std::thread::current().id(), memory.address(), ok)
                }))
            })
            .collect();
        let mut threads = std::collections::HashSet::new();
        let mut buffers = std::collections::HashSet::new();
        for run in runs {
            let (thread, buffer, ok) = run.await.expect("join").expect("a turn");
            assert!(ok, "hash and verify in reused memory");
            threads.insert(thread);
            buffers.insert(buffer);
        }
        assert!(threads.len() <= CONCURRENT_HASHES, "{threads:?}");
        assert!(buffers.len() <= CONCURRENT_HASHES, "{buffers:?}");
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session_and_one_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Auth::open(dir.path(), Options::default()).expect("open");
        let token = auth.csrf_token("s1");
        assert_eq!(token.len(), 64);
        assert!(auth.csrf_ok("s1", &token));
        assert!(!auth.csrf_ok("s2", &token));
        for bad in ["", "00", "not hex", &token[..62]] {
            assert!(!auth.csrf_ok("s1", bad), "{bad}");
        }
        let other = tempfile::tempdir().expect("tempdir");
        let elsewhere = Auth::open(other.path(), Options::default()).expect("open");
        assert!(!elsewhere.csrf_ok("s1", &token), "another daemon's key");
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Alice@Example.COM "), "alice@example.com");
        assert!(check_email("alice@example.com").is_ok());
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "a b@c.d",
            &format!("{}@x.io", "a".repeat(260)),
            "alice\u{200b}@example.com",
            "\u{202e}evil@x.io",
            "alice@exa\u{2060}mple.com",
            "\u{feff}alice@example.com",
            "alice@example.com\u{2067}",
            "al\u{ad}ice@example.com",
            "alice\u{1b}@example.com",
            "alice\u{a0}@example.com",
            "alice\u{3000}@example.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        let said = check_email("alice\u{200b}@example.com").expect_err("zero-width");
        assert_eq!(said.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(said.message.contains("U+200B"), "{}", said.message);
    }
}
