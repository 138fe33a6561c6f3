//! One HTTP(S) attempt: request, a body read up to a cap, the peer certificate.
//!
//! Redirects are followed here rather than by the client, so that a hop to another
//! origin (scheme, host or port) goes without the check's `http.headers`: those
//! carry its credentials (API keys, tokens under any name), meant for the target
//! alone. A hop within the origin sends them again.
//!
//! Each attempt opens its own connection (no idle pool), as a real probe must:
//! a reused keep-alive connection would hide a target that no longer accepts new ones.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Client, redirect};

use super::compiled::{HttpConn, Request};
use super::errors::{AttemptError, ErrorKind};
use super::observed::Observed;
use super::plain::{self, Hop};
use crate::spec::HttpSpec;

/// Sent with every request so that targets can tell probes from users.
pub const USER_AGENT: &str = concat!("uptimeping/", env!("CARGO_PKG_VERSION"));

static LOCATED_USER_AGENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the location this process probes from in every request's `User-Agent`
/// (`uptimeping/VERSION (+location=eu-west)`), so that a target can tell one
/// location's probes from another's. Takes effect for clients built after it; the
/// daemon calls it once, before its first probe. A second call changes nothing.
pub fn set_location(location: &str) {
    let _ = LOCATED_USER_AGENT.set(format!("{USER_AGENT} (+location={location})"));
}

/// The `User-Agent` probes send.
pub fn user_agent() -> &'static str {
    LOCATED_USER_AGENT.get().map_or(USER_AGENT, String::as_str)
}

/// Clients by TLS and connection settings. Building a client loads trust roots, which
/// costs far more than a request, so each distinct setting is built once.
#[derive(Default)]
pub struct Clients {
    cache: Mutex<HashMap<ClientKey, Client>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    insecure: bool,
    ca: Option<String>,
    connect_timeout: Duration,
}

impl ClientKey {
    pub(super) fn of(spec: &HttpSpec) -> Self {
        Self {
            insecure: spec.tls.insecure,
            ca: spec.tls.ca.clone(),
            connect_timeout: spec.connect_timeout.get(),
        }
    }

    fn build(&self) -> Result<Client, AttemptError> {
        let mut builder = Client::builder()
            .user_agent(user_agent())
            // Followed by `send`, which drops the check's headers across origins.
            .redirect(redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .pool_max_idle_per_host(0)
            // A connection lives for one exchange bounded by the check's timeout, so
            // keep-alive probes never start; setting them costs four syscalls per run.
            .tcp_keepalive(None)
            .tcp_keepalive_interval(None)
            .tcp_keepalive_retries(None)
            .tls_info(true)
            .tls_danger_accept_invalid_certs(self.insecure);
        if let Some(pem) = &self.ca {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: CA bundle: {e}")))?;
            builder = builder.tls_certs_only(certs);
        }
        builder
            .build()
            .map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: client setup: {e}")))
    }
}

impl Clients {
    fn get(&self, key: &ClientKey) -> Result<Client, AttemptError> {
        // A poisoned lock only means another probe panicked mid-insert; the map is still usable.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(key) {
            return Ok(c.clone());
        }
        let client = key.build()?;
        cache.insert(key.clone(), client.clone());
        Ok(client)
    }

    /// One attempt, bounded by the check's timeout from connect to the last byte read.
    pub async fn attempt(
        &self,
        conn: &HttpConn,
        req: &Request,
        target: &str,
        limit: Duration,
    ) -> Result<Observed, AttemptError> {
        match tokio::time::timeout(limit, self.exchange(conn, req, target)).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError::timeout(limit)),
        }
    }

    /// `req` with the check's `http` headers and TLS settings, without a timeout of
    /// its own: the caller bounds the whole exchange. `target` is what the request
    /// was made from, for the client to say what is wrong with it if it is not a URL.
    pub async fn exchange(
        &self,
        conn: &HttpConn,
        req: &Request,
        target: &str,
    ) -> Result<Observed, AttemptError> {
        let client = self.get(&conn.client)?;
        send(&client, conn, req, target).await
    }
}

async fn send(
    client: &Client,
    conn: &HttpConn,
    out: &Request,
    target: &str,
) -> Result<Observed, AttemptError> {
    let mut method = out.method.clone();
    let mut url = out.url.as_ref().map(Cow::Borrowed);
    let mut body = out.body.clone();
    let mut own_headers = true;
    let mut hops = 0u32;
    loop {
        let hop = Outgoing {
            method: &method,
            url: url.as_deref(),
            headers: own_headers.then_some(&conn.headers),
            body: body.as_ref(),
            json: out.is_json,
        };
        let plain = hop.url.map(|url| plain::Outgoing {
            method: hop.method,
            url,
            headers: hop.headers,
            body: hop.body,
            json: hop.json,
        });
        let reply = match plain {
            Some(p) if plain::applies(&p) => {
                plain::exchange(
                    &p,
                    conn.client.connect_timeout,
                    conn.max_body,
                    conn.follow_redirects,
                )
                .await?
            }
            _ => through_client(client, conn, &hop, target).await?,
        };
        let (status, mut next) = match reply {
            Hop::Answer(observed) => return Ok(observed),
            Hop::Redirect { status, to } => (status, to),
        };
        hops += 1;
        if hops > conn.max_redirects {
            return Err(AttemptError::too_many_redirects(conn.max_redirects));
        }
        match url.as_deref() {
            Some(from) if origin(from) == origin(&next) => {
                // The credentials of the URL go along within the origin.
                if next.username().is_empty() && next.password().is_none() {
                    let _ = next.set_username(from.username());
                    let _ = next.set_password(from.password());
                }
            }
            _ => own_headers = false,
        }
        // As browsers do: 303 turns anything but HEAD into GET, and 301 and 302 turn
        // POST into GET; 307 and 308 resend the request as it was.
        if (status == 303 && method != reqwest::Method::HEAD)
            || (matches!(status, 301 | 302) && method == reqwest::Method::POST)
        {
            method = reqwest::Method::GET;
            body = None;
        }
        url = Some(Cow::Owned(next));
    }
}

/// One request as it goes out on a hop; `url` is `None` when the target is not a URL.
struct Outgoing<'a> {
    method: &'a reqwest::Method,
    url: Option<&'a reqwest::Url>,
    /// The check's own headers; `None` on a hop to another origin.
    headers: Option<&'a HeaderMap>,
    body: Option<&'a bytes::Bytes>,
    json: bool,
}

/// One hop through the general client (HTTPS, a proxy, or a target that is not a URL).
async fn through_client(
    client: &Client,
    conn: &HttpConn,
    hop: &Outgoing<'_>,
    target: &str,
) -> Result<Hop, AttemptError> {
    let mut req = match hop.url {
        Some(u) => client.request(hop.method.clone(), u.clone()),
        // Let the client say what is wrong with it.
        None => client.request(hop.method.clone(), target),
    };
    if let Some(headers) = hop.headers {
        req = req.headers(headers.clone());
    }
    if let Some(body) = hop.body {
        let has_content_type = hop
            .headers
            .is_some_and(|h| h.contains_key(reqwest::header::CONTENT_TYPE));
        if hop.json && !has_content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        req = req.body(body.clone());
    }
    let mut resp = req
        .send()
        .await
        .map_err(|e| AttemptError::from_reqwest(&e, conn.max_redirects))?;
    let status = resp.status().as_u16();
    if conn.follow_redirects {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        if let Some(to) = redirect_to(hop.url.unwrap_or(resp.url()), status, location) {
            return Ok(Hop::Redirect { status, to });
        }
    }

    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in resp.headers() {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&v);
            })
            .or_insert(v);
    }
    let cert_not_after = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(cert_not_after);

    let cap = conn.max_body;
    let mut body = Vec::new();
    let mut truncated = false;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(AttemptError::from_reqwest(&e, conn.max_redirects)),
        }
    }
    Ok(Hop::Answer(Observed {
        status: Some(status),
        headers,
        body,
        truncated,
        cert_not_after,
        ..Observed::default()
    }))
}

/// Where a redirect response points, if it is one with a usable `Location`
/// (one that is missing or not a URL leaves the response as the answer).
pub(super) fn redirect_to(
    from: &reqwest::Url,
    status: u16,
    location: Option<&str>,
) -> Option<reqwest::Url> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let next = from.join(location?).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

/// Scheme, host and port: what a redirect must keep for the check's headers to follow.
fn origin(u: &reqwest::Url) -> (&str, Option<&str>, Option<u16>) {
    (u.scheme(), u.host_str(), u.port_or_known_default())
}

pub fn cert_not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
}
