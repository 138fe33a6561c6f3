//! What a request carries: an API key or a saved login, chosen in the order
//! `--api-key`, `UPTIMEPING_API_KEY`, the saved login, the context's key; and the
//! renewal of a saved login's access token, once across processes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use reqwest::Method;
use url::Url;

use super::super::config::ContextEntry;
use super::super::session::{self, SavedLogin, Slot};
use super::{ApiError, Client, ClientError, Connection, REQUEST_TIMEOUT, shown_url};
use crate::model::{RefreshRequest, TokenPair};

/// What requests are authorised with.
#[derive(Clone)]
pub enum Credential {
    /// Nothing: for logging in, registering and accepting an invitation.
    None,
    /// An API key, sent as it is.
    Key(String),
    /// A saved login (`uptimeping auth login`), whose access token is refreshed
    /// when it is about to expire or the daemon says it has.
    Login(Arc<Login>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret itself: this ends up in logs.
        match self {
            Credential::None => f.write_str("None"),
            Credential::Key(_) => f.write_str("Key(..)"),
            Credential::Login(login) => write!(f, "Login({})", login.store.path.display()),
        }
    }
}

/// A saved login in use: the file it lives in and the tokens as last read.
pub struct Login {
    store: session::Store,
    current: tokio::sync::Mutex<SavedLogin>,
}

impl Login {
    pub fn new(store: session::Store, saved: SavedLogin) -> Login {
        Login {
            store,
            current: tokio::sync::Mutex::new(saved),
        }
    }

    pub fn store(&self) -> &session::Store {
        &self.store
    }

    /// When the login ends (its refresh token's lifetime), however often its
    /// access token is renewed until then.
    pub async fn ends_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.current.lock().await.refresh_expires_at
    }
}

/// The daemon a command talks to and what it knows for authorising there,
/// before a credential is chosen: what `auth login` needs.
#[derive(Debug, Clone)]
pub struct Located {
    pub url: Url,
    /// `--api-key` or `UPTIMEPING_API_KEY`.
    pub(super) key: Option<String>,
    /// The context in use, if its URL is `url`: `(name, entry, config dir)`.
    pub(super) context: Option<(String, ContextEntry, PathBuf)>,
    /// The tokens directory; none without a home directory.
    pub(super) tokens: Option<PathBuf>,
}

impl Located {
    /// Which saved login belongs to this daemon: the context's, or the URL's.
    pub fn slot(&self) -> Slot {
        match &self.context {
            Some((name, _, _)) => Slot::Context(name.clone()),
            None => Slot::Url(self.url.clone()),
        }
    }

    /// The files of this daemon's saved login.
    pub fn login_store(&self) -> anyhow::Result<session::Store> {
        let dir = self.tokens.as_ref().context(
            "cannot find the home directory to keep the login in: set HOME, or use an API key instead",
        )?;
        Ok(session::Store::new(dir, self.slot()))
    }

    /// Whether `--api-key` or `UPTIMEPING_API_KEY` is set, which wins over a login.
    pub fn key_given(&self) -> bool {
        self.key.is_some()
    }

    /// The saved login for this daemon, if there is one made for its URL.
    pub fn saved_login(&self) -> anyhow::Result<Option<(session::Store, SavedLogin)>> {
        let Ok(store) = self.login_store() else {
            return Ok(None);
        };
        Ok(store
            .load()?
            .filter(|l| l.is_for(&self.url))
            .map(|l| (store, l)))
    }

    /// The credential, in this order: `--api-key`, `UPTIMEPING_API_KEY`, the saved
    /// login, the context's `api_key` / `api_key_file`.
    pub fn connection(self) -> anyhow::Result<Connection> {
        let url = self.url.clone();
        if let Some(key) = self.key {
            return Ok(Connection::with_key(url, key));
        }
        let slot = self.slot();
        let mut ended = false;
        if let Some(dir) = &self.tokens {
            let store = session::Store::new(dir, slot.clone());
            // A login made for another URL (the context's URL changed since) is
            // not sent: its tokens belong to that daemon.
            match store.load()?.filter(|l| l.is_for(&url)) {
                Some(login) if !login.ended(chrono::Utc::now()) => {
                    return Ok(Connection {
                        url,
                        credential: Credential::Login(Arc::new(Login::new(store, login))),
                    });
                }
                Some(_) => ended = true,
                None => {}
            }
        }
        let login_ended = || ClientError::LoginEnded {
            which: slot.describe(),
            reason: None,
        };
        match self.context {
            Some((name, entry, dir)) => match entry.api_key(&dir)? {
                Some(key) => Ok(Connection::with_key(url, key)),
                None if ended => Err(login_ended().into()),
                None => anyhow::bail!(
                    "context `{name}` has no API key and no saved login; log in with `uptimeping auth login`, \
                     or add a key with `uptimeping context set {name} --url {} --api-key-file PATH`",
                    super::shown_url_text(&entry.url)
                ),
            },
            None if ended => Err(login_ended().into()),
            None => anyhow::bail!(
                "no API key for {shown}: pass --api-key or set UPTIMEPING_API_KEY, or log in with `uptimeping auth login --url {shown}` \
                 (a context's key is only sent to that context's URL)",
                shown = shown_url(&url)
            ),
        }
    }
}

impl Client {
    /// The login's access token, refreshed first if it expires within
    /// [`session::REFRESH_AHEAD`].
    pub(super) async fn access_token(&self, login: &Login) -> anyhow::Result<String> {
        let (token, expiring) = {
            let current = login.current.lock().await;
            (
                current.access_token.clone(),
                current.access_expiring(chrono::Utc::now()),
            )
        };
        if expiring && self.refresh {
            self.refresh_login(login, &token).await
        } else {
            Ok(token)
        }
    }

    /// Exchanges the login's refresh token for a new pair and saves it, under the
    /// login's file lock. The file is read again once the lock is held: if another
    /// process refreshed meanwhile (its access token differs from `stale`, the one
    /// that needed replacing), that one is used and the daemon is not asked, since
    /// presenting the old refresh token again would look like theft to it and end
    /// the session.
    pub(super) async fn refresh_login(&self, login: &Login, stale: &str) -> anyhow::Result<String> {
        let store = login.store();
        let _lock = store.lock().await?;
        let mut current = login.current.lock().await;
        let now = chrono::Utc::now();
        let on_disk = match store.load()? {
            Some(saved) if saved.is_for(&self.base) => saved,
            // Logged out (or in elsewhere) by another command meanwhile.
            _ => return Err(self.login_ended(login).into()),
        };
        if on_disk.access_token != stale && !on_disk.access_expiring(now) {
            let token = on_disk.access_token.clone();
            *current = on_disk;
            return Ok(token);
        }
        if on_disk.ended(now) {
            store.delete()?;
            return Err(self.login_ended(login).into());
        }
        let url = self.endpoint(&["auth", "refresh"], &[]);
        let req = RefreshRequest {
            refresh_token: on_disk.refresh_token.clone(),
        };
        let json = serde_json::to_vec(&req).context("serialising the request")?;
        let small = self.clone().max_response(session::MAX_TOKEN_ANSWER_BYTES);
        let answer = small
            .send_once(Method::POST, url, Some(json), REQUEST_TIMEOUT, None)
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) if is_refused(&e) => {
                // Expired, revoked (logout, password or role change) or reused:
                // the daemon will not take it again.
                store.delete()?;
                return Err(self.refused(login, e).into());
            }
            Err(e) => return Err(e.context("refreshing the saved login")),
        };
        // The daemon has rotated the token: the old one cannot be used again,
        // so an answer that cannot be kept ends the login here.
        let fresh = self
            .parse::<TokenPair>(answer)
            .and_then(|pair| SavedLogin::from_pair(&self.base, &pair, now));
        let mut fresh = match fresh {
            Ok(fresh) => fresh,
            Err(e) => {
                store.delete()?;
                return Err(e.context(format!(
                    "refreshing the saved login, whose old token is used up: run `uptimeping auth login` (for {})",
                    store.slot.describe()
                )));
            }
        };
        // The refresh does not extend the login: it ends when it would have.
        fresh.refresh_expires_at = fresh.refresh_expires_at.min(on_disk.refresh_expires_at);
        store.save(&fresh)?;
        let token = fresh.access_token.clone();
        *current = fresh;
        Ok(token)
    }

    pub(super) fn login_ended(&self, login: &Login) -> ClientError {
        ClientError::LoginEnded {
            which: login.store().slot.describe(),
            reason: None,
        }
    }

    /// Why the daemon refused a refresh, in the user's terms: a reused refresh
    /// token means someone else holds a copy of the login.
    fn refused(&self, login: &Login, e: anyhow::Error) -> ClientError {
        let which = login.store().slot.describe();
        match e.downcast::<ApiError>().ok() {
            Some(api) if api.code == REUSED_CODE => ClientError::LoginCopied {
                which,
                file: login.store().path.display().to_string(),
                reason: api.message,
            },
            api => ClientError::LoginEnded {
                which,
                reason: api.map(|a| a.message),
            },
        }
    }
}

/// The code of the daemon's refusal of a refresh whose token was presented
/// before (`POST /auth/refresh`): the one sign that a copy of the login was used.
const REUSED_CODE: &str = "session_reused";

/// Whether a refresh was refused for good (rather than failing on the way).
fn is_refused(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|e| matches!(e.status, 401 | 403))
}
