//! Plain `http://` exchanges on a bare TCP connection: one request written in a single
//! write, one HTTP/1.1 response parsed with `httparse`, and the connection dropped.
//!
//! A probe opens a connection per attempt and never reuses it, so the general client's
//! pool, connection task, channels and socket bookkeeping (about half of the syscalls of
//! an attempt, and most of its user time) buy nothing here. HTTPS, and HTTP through a
//! proxy from the environment, still go through the general client; what a check sees
//! (status, lower-case headers joined with `, `, the body up to `http.max_body`, error
//! kinds and messages) is the same either way.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::errors::{AttemptError, ErrorKind};
use super::observed::Observed;

/// Headers in a response at most, as the general client allows.
const MAX_HEADERS: usize = 100;
/// Bytes of a response's status line and headers at most, as the general client allows.
const MAX_HEAD_BYTES: usize = 400 * 1024;
/// What one read asks the kernel for.
const READ_CHUNK: usize = 8 * 1024;

/// One request as it goes out on a hop.
pub(super) struct Outgoing<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    /// The check's own headers; `None` on a hop to another origin.
    pub headers: Option<&'a HeaderMap>,
    pub body: Option<&'a Bytes>,
    /// Send `Content-Type: application/json` unless the check's headers set one.
    pub json: bool,
}

/// How a hop ended: a redirect to follow, or the answer.
pub(super) enum Hop {
    Redirect { status: u16, to: Url },
    Answer(Observed),
}

/// Whether `out` can go on a bare connection: plain HTTP with no proxy in the
/// environment, and no framing headers of the check's own for the client to honour.
pub(super) fn applies(out: &Outgoing) -> bool {
    out.url.scheme() == "http"
        && !proxied()
        && out.headers.is_none_or(|h| {
            !h.contains_key(header::CONTENT_LENGTH) && !h.contains_key(header::TRANSFER_ENCODING)
        })
}

/// A proxy for plain HTTP set in the environment: the general client honours it (and
/// `NO_PROXY`), so such requests go through it. Read once, as the client reads it once.
fn proxied() -> bool {
    static PROXIED: OnceLock<bool> = OnceLock::new();
    *PROXIED.get_or_init(|| {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
    })
}

/// One hop: connect within `connect_timeout`, send, read the head and (unless it is a
/// redirect to follow) the body up to `max_body`. The caller bounds the whole exchange.
pub(super) async fn exchange(
    out: &Outgoing<'_>,
    connect_timeout: Duration,
    max_body: usize,
    follow: bool,
) -> Result<Hop, AttemptError> {
    let mut stream = connect(out.url, connect_timeout).await?;
    stream
        .write_all(&request(out))
        .await
        .map_err(|e| AttemptError::from_io(&e, false))?;
    let mut reader = Reader {
        stream,
        buf: Vec::with_capacity(READ_CHUNK),
        pos: 0,
    };
    let head = reader.head().await?;
    if follow
        && let Some(to) = super::http::redirect_to(out.url, head.status, head.location.as_deref())
    {
        reader.abort_on_close();
        return Ok(Hop::Redirect {
            status: head.status,
            to,
        });
    }
    let no_body = *out.method == Method::HEAD
        || matches!(head.status, 101 | 204 | 304)
        || (100..200).contains(&head.status);
    let (body, truncated) = if no_body {
        (Vec::new(), false)
    } else {
        match head.framing {
            Framing::Length(len) => reader.body_of_length(len, max_body).await?,
            Framing::Chunked => reader.chunked_body(max_body).await?,
            Framing::UntilClose => reader.body_until_close(max_body).await?,
        }
    };
    reader.abort_on_close();
    Ok(Hop::Answer(Observed {
        status: Some(head.status),
        headers: head.headers,
        body,
        truncated,
        ..Observed::default()
    }))
}

/// The address of `url`'s host (looked up when it is a name), connected within
/// `limit`, which is shared among the addresses a name has, as the general client does.
async fn connect(url: &Url, limit: Duration) -> Result<TcpStream, AttemptError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let attempt = async {
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::from((ip, port))],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::from((ip, port))],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| AttemptError::from_connect(&e))?
                .collect(),
            None => return Err(AttemptError::new(ErrorKind::Connect, "the URL has no host")),
        };
        let Some(first) = addrs.first() else {
            return Err(AttemptError::new(
                ErrorKind::Dns,
                "dns: name did not resolve",
            ));
        };
        if addrs.len() == 1 {
            return TcpStream::connect(first)
                .await
                .map_err(|e| AttemptError::from_connect(&e));
        }
        let each = limit / u32::try_from(addrs.len()).unwrap_or(u32::MAX);
        let mut last = None;
        for addr in &addrs {
            match tokio::time::timeout(each, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last = Some(AttemptError::from_connect(&e)),
                Err(_) => last = Some(connect_timeout()),
            }
        }
        Err(last.unwrap_or_else(connect_timeout))
    };
    match tokio::time::timeout(limit, attempt).await {
        Ok(result) => result,
        Err(_) => Err(connect_timeout()),
    }
}

fn connect_timeout() -> AttemptError {
    AttemptError::new(ErrorKind::Connect, "connect timeout")
}

/// The request's bytes: head and body, for one write.
fn request(out: &Outgoing) -> Vec<u8> {
    let body = out.body.map_or(&[][..], |b| &b[..]);
    let mut w = Vec::with_capacity(256 + body.len());
    let own = |name: &header::HeaderName| out.headers.is_some_and(|h| h.contains_key(name));
    w.extend_from_slice(out.method.as_str().as_bytes());
    w.push(b' ');
    w.extend_from_slice(out.url[url::Position::BeforePath..url::Position::AfterQuery].as_bytes());
    w.extend_from_slice(b" HTTP/1.1\r\n");
    if !own(&header::HOST) {
        line(
            &mut w,
            "host",
            out.url[url::Position::BeforeHost..url::Position::AfterPort].as_bytes(),
        );
    }
    if let Some(headers) = out.headers {
        for (name, value) in headers {
            line(&mut w, name.as_str(), value.as_bytes());
        }
    }
    if !own(&header::AUTHORIZATION)
        && let Some(credentials) = basic_credentials(out.url)
    {
        line(&mut w, "authorization", credentials.as_bytes());
    }
    if !own(&header::USER_AGENT) {
        line(&mut w, "user-agent", super::http::user_agent().as_bytes());
    }
    if !own(&header::ACCEPT) {
        line(&mut w, "accept", b"*/*");
    }
    if let Some(b) = out.body {
        if out.json && !own(&header::CONTENT_TYPE) {
            line(&mut w, "content-type", b"application/json");
        }
        line(&mut w, "content-length", b.len().to_string().as_bytes());
    }
    w.extend_from_slice(b"\r\n");
    w.extend_from_slice(body);
    w
}

fn line(w: &mut Vec<u8>, name: &str, value: &[u8]) {
    w.extend_from_slice(name.as_bytes());
    w.extend_from_slice(b": ");
    w.extend_from_slice(value);
    w.extend_from_slice(b"\r\n");
}

/// `Basic …` from the URL's user and password, percent-decoded, as the client sends it.
fn basic_credentials(url: &Url) -> Option<String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    let user = decode(url.username())?;
    let password = match url.password() {
        Some(p) => Some(decode(p)?),
        None => None,
    };
    if user.is_empty() && password.is_none() {
        return None;
    }
    let pair = format!("{user}:{}", password.unwrap_or_default());
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

/// How the body of a response is delimited.
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    headers: BTreeMap<String, String>,
    /// The first `Location`, for a redirect.
    location: Option<String>,
    framing: Framing,
}

fn protocol(message: impl Into<String>) -> AttemptError {
    AttemptError::new(ErrorKind::Protocol, message)
}

fn incomplete() -> AttemptError {
    protocol("connection closed before the response was complete")
}

/// The response as it arrives: `buf[pos..]` is read and not yet used.
struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    /// Reads more; false at the end of the stream.
    async fn fill(&mut self) -> Result<bool, AttemptError> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| AttemptError::from_io(&e, false))?;
        Ok(n > 0)
    }

    /// Once the answer is read, the connection is closed with a reset instead of the
    /// FIN exchange: nothing is left to say on it, and a graceful close by the side
    /// that closes first leaves the connection in TIME_WAIT for a minute. Those pile
    /// up on the monitor: to one address and port there are only as many as the
    /// local port range (about 28,000), so a few hundred new connections a second to
    /// one load balancer would run out of ports, and each one kept makes the kernel's
    /// choice of a port for the next connect dearer. HAProxy ends its health checks
    /// the same way.
    fn abort_on_close(&self) {
        // Failing to set it only leaves the graceful close.
        let _ = self.stream.set_zero_linger();
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The final response's head; interim (1xx) responses other than 101 are skipped.
    async fn head(&mut self) -> Result<Head, AttemptError> {
        // A head is parsed when it has its blank line, or has doubled since it was
        // last parsed (so that bytes that are not HTTP fail at once): a server that
        // sends it a byte at a time costs a scan of each byte and a few parses, not a
        // parse of the whole head per byte.
        let mut searched = self.pos;
        let mut parsed_len = 0;
        loop {
            let from = searched.saturating_sub(2).max(self.pos);
            let window = &self.buf[from..];
            let ended = memchr::memmem::find(window, b"\n\n").is_some()
                || memchr::memmem::find(window, b"\n\r\n").is_some();
            if !ended && self.unread().len() < 2 * parsed_len.max(1) {
                if self.unread().len() > MAX_HEAD_BYTES {
                    return Err(protocol("http: response head too large"));
                }
                let unread = self.unread().len();
                if !self.fill().await? {
                    return Err(incomplete());
                }
                // `fill` starts afresh only when nothing was left unread.
                searched = self.pos + unread;
                continue;
            }
            parsed_len = self.unread().len();
            let parsed = {
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut slots);
                match response.parse(self.unread()) {
                    Ok(httparse::Status::Complete(len)) => Some((len, head_of(&response)?)),
                    Ok(httparse::Status::Partial) => None,
                    Err(httparse::Error::TooManyHeaders) => {
                        return Err(protocol(format!(
                            "http: more than {MAX_HEADERS} response headers"
                        )));
                    }
                    Err(e) => return Err(protocol(format!("http: malformed response: {e}"))),
                }
            };
            match parsed {
                Some((len, head)) => {
                    self.pos += len;
                    if (100..200).contains(&head.status) && head.status != 101 {
                        (searched, parsed_len) = (self.pos, 0);
                        continue;
                    }
                    return Ok(head);
                }
                None if self.unread().len() > MAX_HEAD_BYTES => {
                    return Err(protocol("http: response head too large"));
                }
                None => {
                    let unread = self.unread().len();
                    if !self.fill().await? {
                        return Err(incomplete());
                    }
                    searched = self.pos + unread;
                }
            }
        }
    }

    /// A body of `len` bytes, of which the first `cap` are kept.
    async fn body_of_length(
        &mut self,
        len: u64,
        cap: usize,
    ) -> Result<(Vec<u8>, bool), AttemptError> {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(cap);
        let mut body = Vec::with_capacity(want.min(1 << 20));
        loop {
            let take = (want - body.len()).min(self.unread().len());
            body.extend_from_slice(&self.unread()[..take]);
            self.pos += take;
            if body.len() == want {
                return Ok((body, len > want as u64));
            }
            if !self.fill().await? {
                return Err(incomplete());
            }
        }
    }

    /// A body that ends when the server closes the connection.
    async fn body_until_close(&mut self, cap: usize) -> Result<(Vec<u8>, bool), AttemptError> {
        let mut body = Vec::new();
        loop {
            let room = cap - body.len();
            let unread = self.unread();
            if unread.len() > room {
                body.extend_from_slice(&unread[..room]);
                return Ok((body, true));
            }
            body.extend_from_slice(unread);
            self.pos = self.buf.len();
            if !self.fill().await? {
                return Ok((body, false));
            }
        }
    }

    /// A chunked body; trailers are not read, since the connection is dropped after it.
    async fn chunked_body(&mut self, cap: usize) -> Result<(Vec<u8>, bool), AttemptError> {
        let mut body = Vec::new();
        loop {
            // The size line.
            let size = loop {
                match httparse::parse_chunk_size(self.unread()) {
                    Ok(httparse::Status::Complete((len, size))) => {
                        self.pos += len;
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.unread().len() > MAX_HEAD_BYTES => {
                        return Err(protocol("http: malformed chunked body"));
                    }
                    Ok(httparse::Status::Partial) => {
                        if !self.fill().await? {
                            return Err(incomplete());
                        }
                    }
                    Err(_) => return Err(protocol("http: malformed chunked body")),
                }
            };
            if size == 0 {
                return Ok((body, false));
            }
            // The data, then its CRLF.
            let mut left = size;
            while left > 0 {
                if self.unread().is_empty() && !self.fill().await? {
                    return Err(incomplete());
                }
                let unread = self.unread();
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(unread.len());
                let room = cap - body.len();
                if take > room {
                    body.extend_from_slice(&unread[..room]);
                    return Ok((body, true));
                }
                body.extend_from_slice(&unread[..take]);
                self.pos += take;
                left -= take as u64;
            }
            while self.unread().len() < 2 {
                if !self.fill().await? {
                    return Err(incomplete());
                }
            }
            if &self.unread()[..2] != b"\r\n" {
                return Err(protocol("http: malformed chunked body"));
            }
            self.pos += 2;
        }
    }
}

/// Status, headers and framing of a parsed head.
fn head_of(response: &httparse::Response) -> Result<Head, AttemptError> {
    let status = response.code.unwrap_or_default();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut location = None;
    let mut length: Option<u64> = None;
    let mut chunked = None;
    for h in response.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            "content-length" => {
                let parsed = std::str::from_utf8(h.value)
                    .ok()
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok());
                match (parsed, length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => return Err(protocol("http: invalid content-length")),
                }
            }
            "transfer-encoding" => {
                // Only the last coding decides; a later header overrides an earlier one.
                let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            "location" if location.is_none() => {
                location = Some(String::from_utf8_lossy(h.value).into_owned());
            }
            _ => {}
        }
        let value = String::from_utf8_lossy(h.value);
        headers
            .entry(name)
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let framing = match (chunked, length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::UntilClose,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::UntilClose,
    };
    Ok(Head {
        status,
        headers,
        location,
        framing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out<'a>(
        method: &'a Method,
        url: &'a Url,
        headers: Option<&'a HeaderMap>,
        body: Option<&'a Bytes>,
        json: bool,
    ) -> Outgoing<'a> {
        Outgoing {
            method,
            url,
            headers,
            body,
            json,
        }
    }

    #[test]
    fn the_request_carries_host_defaults_credentials_and_length() {
        let url = Url::parse("http://al%20ice:p%40ss@example.test:8080/a/b?x=1&y=2#frag").unwrap();
        let body = Bytes::from_static(b"{\"k\":1}");
        let text =
            String::from_utf8(request(&out(&Method::POST, &url, None, Some(&body), true))).unwrap();
        assert_eq!(
            text,
            "POST /a/b?x=1&y=2 HTTP/1.1\r\nhost: example.test:8080\r\nauthorization: Basic YWwgaWNlOnBAc3M=\r\n\
             user-agent: uptimeping/".to_string() + env!("CARGO_PKG_VERSION") + "\r\naccept: */*\r\n\
             content-type: application/json\r\ncontent-length: 7\r\n\r\n{\"k\":1}"
        );
    }

    #[test]
    fn the_checks_own_headers_replace_the_defaults() {
        let url = Url::parse("http://u:p@[::1]/").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
        h.insert(header::USER_AGENT, "mine".parse().unwrap());
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let body = Bytes::new();
        let text = String::from_utf8(request(&out(
            &Method::PUT,
            &url,
            Some(&h),
            Some(&body),
            true,
        )))
        .unwrap();
        assert_eq!(
            text,
            "PUT / HTTP/1.1\r\nhost: [::1]\r\nauthorization: Bearer t\r\nuser-agent: mine\r\n\
             accept: application/json\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n"
        );
        // Without a body, no length is sent.
        let text = String::from_utf8(request(&out(&Method::GET, &url, None, None, false))).unwrap();
        assert!(!text.contains("content-length"), "{text}");
        assert!(text.contains("authorization: Basic dTpw\r\n"), "{text}");
    }

    fn parsed(raw: &str) -> Result<Head, AttemptError> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Response::new(&mut slots);
        assert!(r.parse(raw.as_bytes()).unwrap().is_complete());
        head_of(&r)
    }

    #[test]
    fn heads_name_their_framing_and_join_repeated_headers() {
        let h = parsed(
            "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.headers["set-cookie"], "a=1, b=2");
        assert!(matches!(h.framing, Framing::Length(5)));
        let h = parsed(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        )
        .unwrap();
        assert!(matches!(h.framing, Framing::Chunked));
        let h = parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").unwrap();
        assert!(matches!(h.framing, Framing::UntilClose));
        let h = parsed("HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n\r\n").unwrap();
        assert_eq!(h.location.as_deref(), Some("/a"));
        assert!(matches!(h.framing, Framing::UntilClose));
        for bad in [
            "Content-Length: 5\r\nContent-Length: 6",
            "Content-Length: -1",
            "Content-Length: 1e3",
            "Content-Length: ",
        ] {
            let e = parsed(&format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n"))
                .err()
                .unwrap();
            assert_eq!(
                (e.kind, e.message.as_str()),
                (ErrorKind::Protocol, "http: invalid content-length"),
                "{bad}"
            );
        }
        assert!(
            parsed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n").is_ok()
        );
    }
}
