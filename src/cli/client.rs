//! The daemon's REST client: which daemon to talk to (flags, environment, contexts),
//! and requests with timeouts, a cap on what is read, and errors that say what to do.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::config::Config;
use super::session;
use crate::model::{ErrorBody, HistoryBucket, Report};

/// Time to open a connection: a daemon on a reachable network answers in far less;
/// longer only delays the message that it is not there.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for an ordinary request, answer included: plans and applies of a few
/// thousand resources take well under this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for requests that wait for work on the daemon (running a check with its
/// retries, sending a test notification), which can take minutes at worst.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(180);
/// Largest answer read: big enough for any listing, small enough that a wrong URL
/// serving a huge file cannot exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Items asked for per request when following a list's pages: the daemon's
/// largest page.
pub const LIST_PAGE: u32 = 1000;
/// Most items gathered by following pages: far more than any tenant lists, and a
/// bound on memory should a daemon hand out cursors without end.
pub const MAX_LISTED: usize = 1_000_000;
/// The response header with the cursor of a list's next page.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

pub const URL_ENV: &str = "UPTIMEPING_URL";
pub const API_KEY_ENV: &str = "UPTIMEPING_API_KEY";

const NO_DAEMON: &str = "no daemon to talk to: pass --url and --api-key, set UPTIMEPING_URL and UPTIMEPING_API_KEY, \
or save a context with `uptimeping context set NAME --url URL --api-key-file PATH` (and log in with `uptimeping auth login`)";

// Which daemon to talk to. Flags win over the environment, which wins over the
// context named by `--context` or else the config file's current one.
// (A plain comment: clap would make a doc comment the `about` of every command
// that flattens these, `Group` ones included, where nothing sets it after.)
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectArgs {
    /// The daemon's base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]
    #[arg(long, value_name = "URL", global = true)]
    pub url: Option<String>,
    /// The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists
    #[arg(long, value_name = "KEY", global = true)]
    pub api_key: Option<String>,
    /// Use this context of the config file instead of the current one
    #[arg(long, value_name = "NAME", global = true, add = clap_complete::engine::ArgValueCompleter::new(super::complete_live::contexts))]
    pub context: Option<String>,
}

/// Resolved connection settings.
#[derive(Clone)]
pub struct Connection {
    pub url: Url,
    pub credential: Credential,
}

impl Connection {
    /// A connection that sends the API key `key`.
    pub fn with_key(url: Url, key: impl Into<String>) -> Connection {
        Connection {
            url,
            credential: Credential::Key(key.into()),
        }
    }

    /// The API key sent, if the credential is one.
    #[cfg(test)]
    pub fn api_key(&self) -> Option<&str> {
        match &self.credential {
            Credential::Key(key) => Some(key),
            Credential::None | Credential::Login(_) => None,
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("url", &shown_url(&self.url))
            .field("credential", &self.credential)
            .finish()
    }
}

impl ConnectArgs {
    /// Resolves the settings from this process's flags, environment and config file.
    pub fn connection(&self) -> anyhow::Result<Connection> {
        self.located()?.connection()
    }

    /// The daemon of this process's flags, environment and config file, before a
    /// credential is chosen.
    pub fn located(&self) -> anyhow::Result<Located> {
        self.locate(&|name| std::env::var(name).ok(), &|| {
            let path = super::config::path()?;
            Ok((Config::load(&path)?, path))
        })
    }

    /// Resolves the settings; `load` reads the config file and is called only when
    /// a context is needed, so a broken file does not stop `--url` and `--api-key`.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        load: &dyn Fn() -> anyhow::Result<(Config, PathBuf)>,
    ) -> anyhow::Result<Connection> {
        self.locate(env, load)?.connection()
    }

    /// Finds the daemon and what may authorise there; see [`ConnectArgs::resolve`].
    pub fn locate(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        load: &dyn Fn() -> anyhow::Result<(Config, PathBuf)>,
    ) -> anyhow::Result<Located> {
        let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let url = set(self.url.clone()).or_else(|| set(env(URL_ENV)));
        let key = set(self.api_key.clone()).or_else(|| set(env(API_KEY_ENV)));
        let context = if self.context.is_some() || url.is_none() || key.is_none() {
            let (config, path) = load()?;
            let name = match (&self.context, &config.current) {
                (Some(name), _) | (None, Some(name)) => Some(name.clone()),
                (None, None) => None,
            };
            match name {
                Some(name) => {
                    let entry = config
                        .get(&name)
                        .with_context(|| format!("choosing a context from `{}`", path.display()))?;
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    Some((name, entry.clone(), dir))
                }
                None => None,
            }
        } else {
            None
        };
        let url_from_context = url.is_none();
        let url = match (url, &context) {
            (Some(url), _) => url,
            (None, Some((_, entry, _))) => entry.url.clone(),
            (None, None) => anyhow::bail!(NO_DAEMON),
        };
        let url = parse_base_url(&url)?;
        // A context's key and login go only to that context's daemon: `--url`
        // pointing elsewhere must not receive them.
        let context = context.filter(|(_, entry, _)| {
            url_from_context || parse_base_url(&entry.url).ok().as_ref() == Some(&url)
        });
        Ok(Located {
            url,
            key,
            context,
            tokens: session::tokens_dir(env),
        })
    }
}

/// A daemon URL as it may be printed: credentials in it (`https://user:pass@host`,
/// `?token=…`) are replaced, since contexts and flags may carry them and output
/// and errors end up in CI logs.
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    let had_credentials = !url.username().is_empty() || url.password().is_some();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if url.query().is_some() {
        shown.set_query(Some(MASKED_PART));
    }
    shown.set_fragment(None);
    let text = shown.to_string();
    match (had_credentials, text.split_once("://")) {
        (true, Some((scheme, rest))) => format!("{scheme}://{MASKED_PART}@{rest}"),
        _ => text,
    }
}

/// [`shown_url`] of a URL given as text; text that is not a URL is not shown.
pub fn shown_url_text(text: &str) -> String {
    Url::parse(text.trim())
        .map(|u| shown_url(&u))
        .unwrap_or_else(|_| crate::spec::secrets::MASK.to_string())
}

/// What stands for the credentials of a URL when it is printed.
const MASKED_PART: &str = "***";

/// Text meant as a URL, as it may be printed when it does not parse: what looks
/// like credentials (`user:pass@`, a query) is masked as [`shown_url`] does.
pub fn shown_unparsed_url(text: &str) -> String {
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{MASKED_PART}@{host}"),
        None => authority.to_string(),
    };
    let path = match path.split_once(['?', '#']) {
        Some((path, _)) => format!("{path}?{MASKED_PART}"),
        None => path.to_string(),
    };
    format!("{scheme}{authority}{path}")
}

/// Parses a base URL such as `https://host:8080` or `https://host/uptime/`.
pub fn parse_base_url(text: &str) -> anyhow::Result<Url> {
    let shown = || shown_unparsed_url(text);
    let url = Url::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "`{}` is not a URL ({e}); give one like https://uptime.example.com",
            shown()
        )
    })?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https") && url.host().is_some(),
        "`{}` is not an http:// or https:// URL; give one like https://uptime.example.com",
        shown()
    );
    Ok(url)
}

/// Runs `fut` on a single-threaded runtime: a command makes one request at a time.
pub fn block_on<F: Future>(fut: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(fut))
}

/// An error the daemon answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// One of [`crate::model::ERROR_CODES`] (`unauthorized`, `not_found`, `invalid`, …).
    pub code: String,
    pub message: String,
    pub details: Vec<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for d in &self.details {
            write!(f, "\n  {d}")?;
        }
        if self.code == "unauthorized" {
            f.write_str("\n  check the API key: --api-key, UPTIMEPING_API_KEY, or the context's api_key / api_key_file")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the daemon at {url}: {cause}; check that it is running and that --url, UPTIMEPING_URL or the context points at it"
    )]
    Unreachable { url: String, cause: String },
    #[error(
        "the daemon at {url} did not answer within {after}; check that it is running and not overloaded, then try again"
    )]
    Timeout { url: String, after: String },
    #[error(
        "{url} answered {status} with {what}; check that --url points at an uptimeping daemon of the same version"
    )]
    NotApi {
        url: String,
        status: StatusCode,
        what: String,
    },
    #[error("the daemon's answer is larger than {limit} bytes; narrow the request")]
    TooLarge { limit: usize },
    #[error(
        "{url} answered {status}, a redirect to {location}; uptimeping does not follow redirects, since they \
         could carry passwords and tokens to another server: if the daemon is at {daemon}, pass --url {daemon} \
         (or set it in UPTIMEPING_URL or the context)"
    )]
    Redirected {
        url: String,
        status: StatusCode,
        location: String,
        daemon: String,
    },
    #[error(
        "your login has ended; run `uptimeping auth login` (for {which}) and try again, or use an API key{}",
        said(.reason)
    )]
    LoginEnded {
        which: String,
        /// What the daemon said when it refused the login, if it did.
        reason: Option<String>,
    },
    #[error(
        "the daemon ended your login to {which} because a copy of its refresh token was used: someone may \
         have a copy of `{file}`. That file is deleted: log in again with `uptimeping auth login`, and treat \
         any copy of it (in backups, shared or synced folders) as compromised; an admin sees the `session.reuse` \
         event in `uptimeping audit list`\n  the daemon said: {reason}"
    )]
    LoginCopied {
        which: String,
        file: String,
        reason: String,
    },
}

/// The daemon's words after a message of the CLI's own.
fn said(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!("\n  the daemon said: {r}"))
        .unwrap_or_default()
}

/// The span of a report or a history as the API takes it; what is left out the
/// daemon fills in (a 24 h window ending now).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span {
    pub window: Option<crate::spec::Duration>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

impl Span {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let at = |t: &chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        };
        let mut q = Vec::new();
        q.extend(self.window.map(|w| ("window", w.to_string())));
        q.extend(self.from.as_ref().map(|t| ("from", at(t))));
        q.extend(self.to.as_ref().map(|t| ("to", at(t))));
        q
    }
}

/// A 2xx answer.
struct Answer {
    status: StatusCode,
    /// The cursor of a list's next page, if the answer is a page with more after it.
    next: Option<String>,
    body: Vec<u8>,
}

/// Items gathered from a list's pages.
#[derive(Debug)]
pub struct Listed<T> {
    pub items: Vec<T>,
    /// Whether the list goes on after them.
    pub more: bool,
}

/// A connection to one daemon.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credential: Credential,
    /// Whether a saved login's access token may be refreshed; see
    /// [`Client::without_refresh`].
    refresh: bool,
    /// Largest answer read, [`MAX_RESPONSE_BYTES`] unless made smaller.
    max_response: usize,
}

impl Client {
    pub fn new(conn: Connection) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("uptimeping/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect is answered as an error naming where it points: a
            // request re-sent there would carry the password or refresh token
            // in its body to whatever server it names.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("setting up the HTTP client")?;
        Ok(Client {
            http,
            base: conn.url,
            credential: conn.credential,
            refresh: true,
            max_response: MAX_RESPONSE_BYTES,
        })
    }

    /// A client that sends no credential, for the routes that need none.
    pub fn anonymous(url: Url) -> anyhow::Result<Client> {
        Client::new(Connection {
            url,
            credential: Credential::None,
        })
    }

    /// This client, never refreshing a saved login: for callers that may be
    /// stopped at any moment (shell completion), since a refresh cut off after
    /// the daemon rotated the token but before it was saved ends the login.
    pub fn without_refresh(mut self) -> Client {
        self.refresh = false;
        self
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// This client, reading answers of at most `bytes` (and never more than
    /// [`MAX_RESPONSE_BYTES`]).
    pub fn max_response(mut self, bytes: usize) -> Client {
        self.max_response = bytes.min(MAX_RESPONSE_BYTES);
        self
    }

    /// Resolves the connection from the flags and environment and makes a client.
    pub fn from_args(args: &ConnectArgs) -> anyhow::Result<Client> {
        Client::new(args.connection()?)
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `base/api/v1/<segments>?<query>`, each segment percent-encoded.
    pub fn endpoint(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url.set_query(None);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        Ok(self.get_page(segments, query).await?.0)
    }

    /// GETs one page of a list: the document and the cursor of the next page.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<(T, Option<String>)> {
        let url = self.endpoint(segments, query);
        let answer = self.send(Method::GET, url, None, REQUEST_TIMEOUT).await?;
        let next = answer.next.clone();
        Ok((self.parse(answer)?, next))
    }

    /// Follows a list's pages from the first until `want` items are gathered
    /// (`None`: all of them). `items` takes a page's document apart.
    pub async fn get_list<P: DeserializeOwned, T>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        want: Option<usize>,
        items: impl Fn(P) -> Vec<T>,
    ) -> anyhow::Result<Listed<T>> {
        let want = want.unwrap_or(MAX_LISTED).min(MAX_LISTED);
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let left = want - all.len();
            let limit = left.min(LIST_PAGE as usize);
            let mut q = query.to_vec();
            q.push(("limit", limit.to_string()));
            q.extend(cursor.iter().map(|c| ("cursor", c.clone())));
            let (page, next): (P, _) = self.get_page(segments, &q).await?;
            let page = items(page);
            anyhow::ensure!(
                page.len() <= limit,
                "the daemon answered a page of {} items when {limit} were asked for; check that --url points at an uptimeping daemon of the same version",
                page.len()
            );
            // Either would have the loop ask for pages without end.
            anyhow::ensure!(
                next.is_none() || (next != cursor && !page.is_empty()),
                "the daemon answered a page with no progress (an empty page or the same cursor again); report this as a bug"
            );
            all.extend(page);
            match next {
                Some(next) if all.len() < want => cursor = Some(next),
                next => {
                    all.truncate(want);
                    return Ok(Listed {
                        items: all,
                        more: next.is_some(),
                    });
                }
            }
        }
    }

    /// POSTs `body` as JSON and waits up to `timeout` for the answer.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let url = self.endpoint(segments, &[]);
        let json = serde_json::to_vec(body).context("serialising the request")?;
        let body = self.send(Method::POST, url, Some(json), timeout).await?;
        self.parse(body)
    }

    /// POSTs `body` as JSON to a route that answers 204 No Content.
    pub async fn post_empty<B: Serialize>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> anyhow::Result<()> {
        let url = self.endpoint(segments, &[]);
        let json = serde_json::to_vec(body).context("serialising the request")?;
        self.send(Method::POST, url, Some(json), REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    /// PUTs `body` as JSON.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> anyhow::Result<T> {
        let url = self.endpoint(segments, &[]);
        let json = serde_json::to_vec(body).context("serialising the request")?;
        let body = self
            .send(Method::PUT, url, Some(json), REQUEST_TIMEOUT)
            .await?;
        self.parse(body)
    }

    /// `GET /report` over `span`: every check, or those in `checks`.
    pub async fn report(&self, checks: &[String], span: &Span) -> anyhow::Result<Report> {
        let mut query = span.query();
        query.extend(checks.iter().map(|c| ("check", c.clone())));
        self.get(&["report"], &query).await
    }

    /// `GET /checks/{name}/history`: the check's buckets of `resolution` over `span`.
    pub async fn history(
        &self,
        name: &str,
        resolution: &str,
        location: Option<&str>,
        span: &Span,
    ) -> anyhow::Result<Vec<HistoryBucket>> {
        let mut query = span.query();
        query.push(("resolution", resolution.to_string()));
        query.extend(location.map(|l| ("location", l.to_string())));
        self.get(&["checks", name, "history"], &query).await
    }

    pub async fn delete(&self, segments: &[&str]) -> anyhow::Result<()> {
        let url = self.endpoint(segments, &[]);
        self.send(Method::DELETE, url, None, REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    fn parse<T: DeserializeOwned>(&self, answer: Answer) -> anyhow::Result<T> {
        serde_json::from_slice(&answer.body).map_err(|e| {
            ClientError::NotApi {
                url: shown_url(&self.base),
                status: answer.status,
                what: format!("a document this client does not understand ({e})"),
            }
            .into()
        })
    }

    /// Sends one request and returns a 2xx answer; anything else is an error.
    /// With a saved login, the access token is refreshed first when it is about
    /// to expire, and once more (then the request sent again) when the daemon
    /// refuses it: expired early, or signed with a key since rotated.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> anyhow::Result<Answer> {
        let Credential::Login(login) = &self.credential else {
            let bearer = match &self.credential {
                Credential::Key(key) => Some(key.as_str()),
                Credential::None | Credential::Login(_) => None,
            };
            return self.send_once(method, url, body, timeout, bearer).await;
        };
        let token = self.access_token(login).await?;
        let first = self
            .send_once(
                method.clone(),
                url.clone(),
                body.clone(),
                timeout,
                Some(&token),
            )
            .await;
        match first {
            Err(e) if is_unauthorized(&e) => {
                if !self.refresh {
                    return Err(self.login_ended(login).into());
                }
                let token = self.refresh_login(login, &token).await?;
                self.send_once(method, url, body, timeout, Some(&token))
                    .await
                    .map_err(|e| {
                        if is_unauthorized(&e) {
                            self.login_ended(login).into()
                        } else {
                            e
                        }
                    })
            }
            other => other,
        }
    }

    /// Sends one request with `bearer`, if any, as its credential.
    async fn send_once(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        timeout: Duration,
        bearer: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let requested = url.clone();
        let mut req = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout);
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let result = async {
            let mut resp = req.send().await?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                return Ok(Err(self.redirected(
                    status,
                    &requested,
                    location.as_deref(),
                )));
            }
            let next = resp
                .headers()
                .get(NEXT_CURSOR_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                if bytes.len() + chunk.len() > self.max_response {
                    return Ok(Err(ClientError::TooLarge {
                        limit: self.max_response,
                    }));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Ok((status, next, bytes)))
        }
        .await;
        let (status, next, bytes) = match result {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(self.transport_error(&e, timeout).into()),
        };
        if status.is_success() {
            return Ok(Answer {
                status,
                next,
                body: bytes,
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(ErrorBody { error }) => Err(ApiError {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
                details: error.details,
            }
            .into()),
            Err(_) => Err(ClientError::NotApi {
                url: shown_url(&self.base),
                status,
                what: excerpt(&bytes),
            }
            .into()),
        }
    }

    /// The error for a redirect from `requested` to `location`, naming the base
    /// URL it points at when the path it gives is the same request's.
    fn redirected(
        &self,
        status: StatusCode,
        requested: &Url,
        location: Option<&str>,
    ) -> ClientError {
        let target = location.and_then(|l| requested.join(l).ok());
        let (location, daemon) = match target {
            Some(target) => {
                let tail = requested
                    .path()
                    .strip_prefix(self.base.path().trim_end_matches('/'))
                    .unwrap_or_default();
                let mut base = target.clone();
                base.set_query(None);
                base.set_fragment(None);
                if let Some(prefix) = target
                    .path()
                    .strip_suffix(tail)
                    .filter(|_| !tail.is_empty())
                {
                    base.set_path(&format!("{}/", prefix.trim_end_matches('/')));
                }
                (shown_url(&target), shown_url(&base))
            }
            None => (
                "nowhere this client can read".into(),
                "the URL it should name".into(),
            ),
        };
        ClientError::Redirected {
            url: shown_url(&self.base),
            status,
            location,
            daemon,
        }
    }

    fn transport_error(&self, e: &reqwest::Error, timeout: Duration) -> ClientError {
        let url = shown_url(&self.base);
        if e.is_timeout() {
            return ClientError::Timeout {
                url,
                after: humantime::format_duration(timeout).to_string(),
            };
        }
        // reqwest's own message only repeats the URL; the innermost cause says what
        // happened (connection refused, no such host, certificate not trusted).
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        ClientError::Unreachable {
            url,
            cause: cause.to_string(),
        }
    }
}

/// Whether the daemon answered 401: the credential is not (or no longer) taken.
fn is_unauthorized(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == 401)
}

/// A short quote of a body that is not an API document, for the error message.
fn excerpt(bytes: &[u8]) -> String {
    const SHOWN: usize = 120;
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "an empty body".into();
    }
    let cut: String = text.chars().take(SHOWN).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("`{cut}{more}`")
}

#[path = "client_credentials.rs"]
mod credentials;
pub use credentials::{Credential, Located, Login};

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
