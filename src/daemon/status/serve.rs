//! The handlers of the status routes, the directory of pages by slug and domain,
//! the token check of private pages, and the answers' headers (content type,
//! `Cache-Control`, `ETag` and `304`, gzip when the client takes it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aide::generate::GenContext;
use aide::openapi::{Operation, Response as DocResponse, StatusCode as DocStatus};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::cache::{CACHE_TTL, Cache, Key, Rendered};
use super::{badge, feed, html};
use crate::daemon::api::openapi::{error_response, ok, query_params, text};
use crate::daemon::api::{ApiError, Shared};
use crate::daemon::store::{StoreError, now_ms, page_lists};
use crate::spec::StatusPage;

/// The longest query string read: a token and a window fit many times over.
pub const MAX_QUERY_BYTES: usize = 2 * 1024;
/// The widest window an uptime badge takes, in days (and the narrowest is a day).
pub const MAX_BADGE_DAYS: u32 = 90;
/// The window of an uptime badge without `?window=`.
pub const DEFAULT_BADGE_DAYS: u32 = 30;
/// Page renders (store read and encoding) running at once at most: each is CPU
/// and a read connection for a few milliseconds to tens of them; more at once
/// would only slow the API down. Visitors of one page share a render anyway (the
/// cache), so this bounds many pages asked at once.
pub const MAX_PAGE_RENDERS: usize = 3;
/// Badge renders running at once at most, a budget apart from pages': badges
/// are cheap but anyone can ask for many distinct ones (checks × kinds ×
/// windows), and a flood of them must not keep pages from rendering.
pub const MAX_BADGE_RENDERS: usize = 2;
/// The longest a render waits for its turn before the answer is 503 with
/// `Retry-After`: a few renders' time; a queue longer than that only grows.
pub const RENDER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
static PAGE_RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_PAGE_RENDERS);
static BADGE_RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_BADGE_RENDERS);

/// Why a render gave no answer.
#[derive(Debug)]
pub enum RenderError {
    Store(StoreError),
    /// No turn within [`RENDER_WAIT`].
    Busy,
}

impl From<StoreError> for RenderError {
    fn from(e: StoreError) -> Self {
        RenderError::Store(e)
    }
}

/// A turn of `budget`, waited for at most [`RENDER_WAIT`].
async fn turn(
    budget: &'static tokio::sync::Semaphore,
) -> Result<tokio::sync::SemaphorePermit<'static>, RenderError> {
    match tokio::time::timeout(RENDER_WAIT, budget.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(RenderError::Store(StoreError::Closed)),
        Err(_) => Err(RenderError::Busy),
    }
}

/// The window of a latency badge: its p95 over the last day.
const LATENCY_BADGE_MS: i64 = 86_400_000;

/// One page as the directory knows it.
#[derive(Debug)]
pub struct Entry {
    pub tenant: i64,
    pub tenant_name: String,
    pub page: StatusPage,
}

/// Every page by slug, by domain and by tenant, as of one generation of the
/// desired state.
#[derive(Default)]
struct Directory {
    generation: u64,
    by_slug: HashMap<String, Arc<Entry>>,
    by_domain: HashMap<String, Arc<Entry>>,
    by_tenant: HashMap<i64, Vec<Arc<Entry>>>,
}

/// The status routes' state: the directory and the cache of rendered answers.
#[derive(Default)]
pub struct Status {
    directory: Mutex<Option<Arc<Directory>>>,
    refresh: tokio::sync::Mutex<()>,
    pub cache: Cache,
}

impl Status {
    /// The directory of the current generation, read again after any change.
    async fn directory(&self, state: &Shared) -> Result<Arc<Directory>, ApiError> {
        let generation = *state.store.subscribe().borrow();
        let current = |s: &Self| {
            s.directory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .filter(|d| d.generation == generation)
        };
        if let Some(d) = current(self) {
            return Ok(d);
        }
        let _one = self.refresh.lock().await;
        if let Some(d) = current(self) {
            return Ok(d);
        }
        let mut d = Directory {
            generation,
            ..Directory::default()
        };
        for (tenant, tenant_name, page) in state.store.status_pages().await? {
            let e = Arc::new(Entry {
                tenant,
                tenant_name,
                page,
            });
            // Slugs and domains are unique across the daemon once validated; should
            // two pages claim one anyway, the first (by tenant, then name) keeps it.
            d.by_slug
                .entry(e.page.slug.clone())
                .or_insert_with(|| Arc::clone(&e));
            if let Some(domain) = &e.page.domain {
                d.by_domain
                    .entry(domain.to_ascii_lowercase())
                    .or_insert_with(|| Arc::clone(&e));
            }
            d.by_tenant.entry(tenant).or_default().push(e);
        }
        let d = Arc::new(d);
        *self.directory.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&d));
        Ok(d)
    }
}

/// What a visitor's request carries that matters here: its query (bounded),
/// headers, and the token it presents.
pub struct Visit {
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            return Err(ApiError::invalid(format!(
                "the query string is longer than {MAX_QUERY_BYTES} bytes; a status page takes only `token` (and badges `window`)"
            )));
        }
        let query: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        // Two of one parameter: a proxy and this daemon might each read another.
        for name in ["token", "window"] {
            if query.iter().filter(|(k, _)| k == name).count() > 1 {
                return Err(ApiError::invalid(format!(
                    "`{name}` is given more than once; give it once"
                )));
            }
        }
        Ok(Visit {
            query,
            headers: parts.headers.clone(),
        })
    }
}

/// The query parameters of the status routes, as the document shows them.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct VisitParams {
    /// A private page's token (also accepted as `Authorization: Bearer <token>`).
    token: Option<String>,
}

/// The query parameters of the uptime badge.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct UptimeParams {
    /// The window: `1d` to `90d` (default `30d`).
    window: Option<String>,
    /// The token of a private page listing the check, when no public page does.
    token: Option<String>,
}

impl aide::OperationInput for Visit {
    fn operation_input(ctx: &mut GenContext, op: &mut Operation) {
        query_params::<VisitParams>(ctx, op);
    }
}

/// [`Visit`] of the uptime badge, which also takes `window`.
pub struct UptimeVisit(Visit);

impl<S: Send + Sync> FromRequestParts<S> for UptimeVisit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        Visit::from_request_parts(parts, s).await.map(UptimeVisit)
    }
}

impl aide::OperationInput for UptimeVisit {
    fn operation_input(ctx: &mut GenContext, op: &mut Operation) {
        query_params::<UptimeParams>(ctx, op);
    }
}

impl Visit {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Authorization: Bearer` credential (the scheme's case aside, as
    /// RFC 9110 has it).
    fn bearer(&self) -> Option<&str> {
        self.headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
    }

    /// The tokens presented: `?token=` and the bearer.
    fn tokens(&self) -> impl Iterator<Item = &str> {
        self.param("token").into_iter().chain(self.bearer())
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether `page` lets this visitor in: a public page always, a private one
    /// when a presented token is its own (compared in constant time, over
    /// hashes, so that neither the content nor the length leaks).
    fn may_see(&self, page: &StatusPage) -> bool {
        match &page.access {
            None => true,
            Some(a) => self.tokens().any(|t| same_secret(t, &a.token)),
        }
    }
}

fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::Digest;
    let (a, b) = (sha2::Sha256::digest(given), sha2::Sha256::digest(expected));
    !expected.is_empty() && bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// The page's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
    Atom,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Json => "json",
            Format::Atom => "atom",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
            Format::Atom => "application/atom+xml; charset=utf-8",
        }
    }

    /// `name`, `name.json` or `name.atom`.
    fn split(file: &str) -> (&str, Format) {
        if let Some(s) = file.strip_suffix(".json") {
            (s, Format::Json)
        } else if let Some(s) = file.strip_suffix(".atom") {
            (s, Format::Atom)
        } else {
            (file, Format::Html)
        }
    }
}

/// An answer of the status routes, described in the document by [`PageDoc`] or
/// [`BadgeDoc`].
pub struct Served<D>(Response, std::marker::PhantomData<D>);

impl<D> IntoResponse for Served<D> {
    fn into_response(self) -> Response {
        self.0
    }
}

/// The policy of every HTML answer: nothing but its own embedded style and
/// `data:`/same-origin images; no script, frame, form target or connection.
pub const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";

/// `r` with the headers every status answer carries: `nosniff`, and for HTML
/// its [`HTML_CSP`].
fn served<D>(mut r: Response) -> Served<D> {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HTML_CSP),
        );
    }
    Served(r, std::marker::PhantomData)
}

/// How a page's answers show in the document.
pub struct PageDoc;
/// How a badge's answers show in the document.
pub struct BadgeDoc;

impl aide::OperationOutput for Served<PageDoc> {
    type Inner = String;

    fn operation_response(_: &mut GenContext, _: &mut Operation) -> Option<DocResponse> {
        Some(text(
            "The page: HTML for `{slug}`, its data as JSON for `{slug}.json`, an Atom feed of its incidents for `{slug}.atom`.",
            &[
                Format::Html.content_type(),
                Format::Json.content_type(),
                Format::Atom.content_type(),
            ],
        ))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, DocResponse)> {
        let mut out = ok(Self::operation_response(ctx, op));
        out.push((
            Some(DocStatus::Code(304)),
            DocResponse {
                description: "Not modified: `If-None-Match` names the page's current ETag.".into(),
                ..DocResponse::default()
            },
        ));
        for (code, what) in [
            (
                401,
                "A private page, and no token or a wrong one (an HTML page, this API's error for `.json`, a small XML `<error>` for `.atom`), with `WWW-Authenticate: Bearer realm=\"status\"`.",
            ),
            (404, "No page with this slug (or for this host)."),
        ] {
            let mut r = text(what, &[Format::Html.content_type()]);
            r.content.extend(error_response(ctx, what).content);
            out.push((Some(DocStatus::Code(code)), r));
        }
        out.push((
            Some(DocStatus::Code(400)),
            error_response(
                ctx,
                "`invalid`: a query string over 2 KiB, a `token` given twice, or two `Host` headers.",
            ),
        ));
        out.push((Some(DocStatus::Code(503)), busy_doc(ctx)));
        out
    }
}

/// The 503 of a render that found no turn in time.
fn busy_doc(ctx: &mut GenContext) -> DocResponse {
    error_response(
        ctx,
        "`busy`: too many renders at once; retry after `Retry-After` seconds.",
    )
}

impl aide::OperationOutput for Served<BadgeDoc> {
    type Inner = String;

    fn operation_response(_: &mut GenContext, _: &mut Operation) -> Option<DocResponse> {
        Some(text("The badge, SVG.", &[BADGE_TYPE]))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, DocResponse)> {
        let mut out = ok(Self::operation_response(ctx, op));
        out.push((
            Some(DocStatus::Code(304)),
            DocResponse {
                description: "Not modified: `If-None-Match` names the badge's current ETag.".into(),
                ..DocResponse::default()
            },
        ));
        out.push((
            Some(DocStatus::Code(400)),
            text(
                "A window outside 1d–90d: a badge reading `badge | bad window`.",
                &[BADGE_TYPE],
            ),
        ));
        out.push((
            Some(DocStatus::Code(404)),
            text(
                "No such check, or it is on no public page and neither a page's token nor a key of its tenant came with the request: a badge reading `badge | not found`.",
                &[BADGE_TYPE],
            ),
        ));
        out.push((Some(DocStatus::Code(503)), busy_doc(ctx)));
        out
    }
}

const BADGE_TYPE: &str = "image/svg+xml; charset=utf-8";

/// The `{slug}` (or `{slug}.json`, `{slug}.atom`) of a page's route.
#[derive(Deserialize, JsonSchema)]
pub struct SlugPath {
    /// The page's slug, optionally with `.json` or `.atom`.
    slug: String,
}

/// The `{tenant}/{check}` of a badge's route.
#[derive(Deserialize, JsonSchema)]
pub struct BadgePath {
    /// The tenant's name.
    tenant: String,
    /// The check's name.
    check: String,
}

fn refused(format: Format, status: StatusCode, text: &str) -> Response {
    let mut r = match format {
        Format::Json => ApiError::new(
            status,
            if status == StatusCode::UNAUTHORIZED {
                "unauthorized"
            } else {
                "not_found"
            },
            text,
        )
        .into_response(),
        // A feed reader gets XML it can show, not a page.
        Format::Atom => (
            status,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<error>{}</error>\n",
                html::escape(text)
            ),
        )
            .into_response(),
        Format::Html => (
            status,
            [
                (header::CONTENT_TYPE, Format::Html.content_type()),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html::refusal(
                if status == StatusCode::UNAUTHORIZED {
                    "Private status page"
                } else {
                    "No such status page"
                },
                text,
            ),
        )
            .into_response(),
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"status\""),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    r
}

fn failed(e: RenderError) -> Response {
    match e {
        RenderError::Store(e) => ApiError::from(e).into_response(),
        RenderError::Busy => {
            let mut r = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many status pages and badges are being rendered at once; retry in a few seconds",
            )
            .into_response();
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(RENDER_WAIT.as_secs()),
            );
            r
        }
    }
}

/// `r` as the answer: `304` when `If-None-Match` names it, gzipped when the
/// client takes gzip, with `Cache-Control` for `private` or `public` caches.
fn answer(visit: &Visit, r: &Rendered, public: bool) -> Response {
    let cache_control = if public {
        format!("public, max-age={}", CACHE_TTL.as_secs())
    } else {
        format!("private, max-age={}", CACHE_TTL.as_secs())
    };
    let mut headers = HeaderMap::new();
    let put = |h: &mut HeaderMap, k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put(&mut headers, header::CACHE_CONTROL, &cache_control);
    // The gzipped answer is another representation: an ETag of its own, so a
    // cache never answers one with the other's validator.
    let gzip = r
        .gzip
        .as_ref()
        .filter(|_| takes_gzip(visit.header(header::ACCEPT_ENCODING)));
    let etag = match gzip {
        Some(_) => gzip_etag(&r.etag),
        None => r.etag.clone(),
    };
    put(&mut headers, header::ETAG, &etag);
    put(&mut headers, header::VARY, "Accept-Encoding, Authorization");
    if visit
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| none_match(v, &etag))
    {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    put(&mut headers, header::CONTENT_TYPE, r.content_type);
    match gzip {
        Some(g) => {
            put(&mut headers, header::CONTENT_ENCODING, "gzip");
            (headers, g.clone()).into_response()
        }
        None => (headers, r.body.clone()).into_response(),
    }
}

/// The codings of an `Accept-Encoding` header read at most: real clients send a
/// handful; the rest of a longer header is ignored rather than parsed.
pub const MAX_ACCEPT_ENCODINGS: usize = 16;

/// Whether `Accept-Encoding` takes gzip: `gzip` (or `x-gzip`) with a q-value
/// above zero, else `*` with one; `gzip;q=0` refuses it.
fn takes_gzip(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let mut star = None;
    for item in accept.split(',').take(MAX_ACCEPT_ENCODINGS) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
        // A q-value that does not parse makes the coding unusable, not accepted.
        let accepted = q.is_some_and(|q| q > 0.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => return accepted,
            "*" => star = Some(accepted),
            _ => {}
        }
    }
    star.unwrap_or(false)
}

/// The ETag of the gzipped representation: the identity one's, suffixed.
fn gzip_etag(etag: &str) -> String {
    match etag.strip_suffix('"') {
        Some(open) => format!("{open}-gz\""),
        None => format!("{etag}-gz"),
    }
}

/// The entity tags of an `If-None-Match` header compared at most: a cache sends
/// one or a few; the rest of a longer header is not read.
pub const MAX_IF_NONE_MATCH_TAGS: usize = 64;

/// Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110 says) or is `*`.
fn none_match(header: &str, etag: &str) -> bool {
    header.split(',').take(MAX_IF_NONE_MATCH_TAGS).any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
    })
}

/// Renders `e`'s page in `format` with links relative to `base`.
pub async fn render_page(
    state: &Shared,
    e: &Entry,
    format: &'static str,
    base: &str,
    query: String,
) -> Result<Rendered, RenderError> {
    let _turn = turn(&PAGE_RENDERS).await?;
    let data = state
        .store
        .status_page(e.tenant, e.page.clone(), now_ms())
        .await?;
    state.metrics.status_renders.inc();
    let base = base.to_string();
    let slug = e.page.slug.clone();
    let public_url = state.notifier.public_url().map(str::to_string);
    tokio::task::spawn_blocking(move || match format {
        "json" => Rendered::new(
            serde_json::to_vec(&data).unwrap_or_default(),
            Format::Json.content_type(),
        ),
        "atom" => {
            let (page_url, self_url) = feed_links(public_url.as_deref(), &base, &slug);
            Rendered::new(
                feed::render(&data, &page_url, &self_url).into_bytes(),
                Format::Atom.content_type(),
            )
        }
        _ => Rendered::new(
            html::render(&data, &base, &query).into_bytes(),
            Format::Html.content_type(),
        ),
    })
    .await
    .map_err(|_| RenderError::Store(StoreError::Closed))
}

/// The feed's links to the page and to itself: absolute under the daemon's
/// `public_url` when it has one (the page is served at `/status/{slug}` there,
/// whatever domain it also has). Without it the daemon does not know the scheme
/// it is reached by, so the links stay root-relative, which RFC 4287 resolves
/// against the feed's own address: the right page for a reader that fetched it.
fn feed_links(public_url: Option<&str>, base: &str, slug: &str) -> (String, String) {
    match public_url {
        Some(u) => {
            let u = u.trim_end_matches('/');
            (
                format!("{u}/status/{slug}"),
                format!("{u}/status/{slug}.atom"),
            )
        }
        None if base == "index" => ("/".to_string(), "/index.atom".to_string()),
        None => (format!("/status/{slug}"), format!("/status/{slug}.atom")),
    }
}

/// Serves `e`, an entry of the directory of `generation`: the page is cached
/// under the generation its spec was read at, so that an apply meanwhile cannot
/// leave the old page cached as the new generation's.
async fn serve_page(
    state: &Shared,
    e: Arc<Entry>,
    generation: u64,
    format: Format,
    base: &str,
    visit: &Visit,
) -> Response {
    if !state.status.may_see(&e.page, visit) {
        return refused(
            format,
            StatusCode::UNAUTHORIZED,
            "This status page is private: open it with its token, as `?token=…` or an `Authorization: Bearer` header.",
        );
    }
    // A private page opened by `?token=` links its JSON and feed with it, or
    // they would answer 401; it is the page's own token (no other gets here).
    let query = match (&e.page.access, visit.param("token")) {
        (Some(a), Some(t)) if format == Format::Html && same_secret(t, &a.token) => {
            format!(
                "?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", &a.token)
                    .finish()
            )
        }
        _ => String::new(),
    };
    let key = Key {
        tenant: e.tenant,
        what: format!(
            "page:{}:{}:{base}:{}",
            e.page.name,
            format.name(),
            !query.is_empty()
        ),
    };
    let rendered = state
        .status
        .cache
        .get_or_render(key, generation, || {
            render_page(state, &e, format.name(), base, query)
        })
        .await;
    match rendered {
        Ok(r) => {
            let mut res = answer(visit, &r, e.page.access.is_none());
            // A private page's address holds its token: no link may pass it on.
            if e.page.access.is_some() {
                res.headers_mut().insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
            }
            res
        }
        Err(err) => failed(err),
    }
}

impl Status {
    fn may_see(&self, page: &StatusPage, visit: &Visit) -> bool {
        visit.may_see(page)
    }
}

/// `GET /status/{slug}` (also `.json` and `.atom`).
pub async fn page(
    State(state): State<Shared>,
    Path(p): Path<SlugPath>,
    visit: Visit,
) -> Served<PageDoc> {
    let (slug, format) = Format::split(&p.slug);
    let dir = match state.status.directory(&state).await {
        Ok(d) => d,
        Err(e) => return served(e.into_response()),
    };
    // What was asked is not echoed: it is anybody's text, of any length.
    let Some(e) = dir.by_slug.get(slug).cloned() else {
        return served(refused(
            format,
            StatusCode::NOT_FOUND,
            "There is no status page at this address; check the link.",
        ));
    };
    served(serve_page(&state, e, dir.generation, format, slug, &visit).await)
}

/// The host name of a request's `Host` header: port, case and a trailing dot
/// aside; empty without one. Two `Host` headers are an error (RFC 9112 says 400):
/// a proxy and this daemon might each read another.
fn host_name(headers: &HeaderMap) -> Result<String, ApiError> {
    let mut all = headers.get_all(header::HOST).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(ApiError::invalid(
            "the request has more than one `Host` header; send one",
        ));
    }
    let h = first.and_then(|v| v.to_str().ok()).unwrap_or("");
    let name = h.rsplit_once(':').map_or(h, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            h
        }
    });
    Ok(name.trim_end_matches('.').to_ascii_lowercase())
}

/// The paths a page's `domain` answers: the page at the root and badges. The
/// rest of the daemon (the API, `/metrics`, `/healthz`…) is not for visitors of
/// a status page's host.
fn status_path(path: &str) -> bool {
    matches!(path, "/" | "/index.json" | "/index.atom") || path.starts_with("/badge/")
}

/// Middleware: refuses a request with two `Host` headers, answers 404 to one
/// whose `Host` is a page's `domain` for anything but [`status_path`], and marks
/// every answer of a status route `nosniff`.
pub async fn page_hosts_only(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = match host_name(req.headers()) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    if !host.is_empty() && !status_path(req.uri().path()) {
        match state.status.directory(&state).await {
            Ok(dir) if dir.by_domain.contains_key(&host) => {
                return ApiError::not_found(
                    "this host serves a status page: `/`, `/index.json`, `/index.atom` and badges only",
                )
                .into_response();
            }
            Ok(_) => {}
            Err(e) => return e.into_response(),
        }
    }
    let status_route = status_path(req.uri().path()) || req.uri().path().starts_with("/status/");
    let mut res = next.run(req).await;
    // Refusals made before a handler runs (a query too long, a token twice) too.
    if status_route {
        res.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    res
}

/// The page whose `domain` the request's `Host` names (port, case and a
/// trailing dot aside).
async fn by_host(state: &Shared, visit: &Visit, format: Format) -> Served<PageDoc> {
    let host = match host_name(&visit.headers) {
        Ok(h) => h,
        Err(e) => return served(e.into_response()),
    };
    let dir = match state.status.directory(state).await {
        Ok(d) => d,
        Err(e) => return served(e.into_response()),
    };
    match dir.by_domain.get(&host).cloned() {
        Some(e) => served(serve_page(state, e, dir.generation, format, "index", visit).await),
        None => served(
            ApiError::not_found("no status page is served for this host; the API is under /api/v1")
                .into_response(),
        ),
    }
}

/// `GET /` for a request whose `Host` is a page's `domain`.
pub async fn domain_page(State(state): State<Shared>, visit: Visit) -> Served<PageDoc> {
    by_host(&state, &visit, Format::Html).await
}

/// `GET /index.json` for a request whose `Host` is a page's `domain`.
pub async fn domain_json(State(state): State<Shared>, visit: Visit) -> Served<PageDoc> {
    by_host(&state, &visit, Format::Json).await
}

/// `GET /index.atom` for a request whose `Host` is a page's `domain`.
pub async fn domain_atom(State(state): State<Shared>, visit: Visit) -> Served<PageDoc> {
    by_host(&state, &visit, Format::Atom).await
}

/// The badges.
#[derive(Debug, Clone, Copy)]
enum BadgeKind {
    Status,
    Uptime(u32),
    Latency,
}

/// A badge saying why there is none, with the refusal's status: an `<img>`
/// shows it where a JSON error would show a broken image.
fn error_badge(status: StatusCode, value: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, BADGE_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        badge::render("badge", value, badge::GREY),
    )
        .into_response()
}

fn no_badge() -> Response {
    error_badge(StatusCode::NOT_FOUND, "not found")
}

/// Whether the check may be shown as a badge to this visitor: it is on a public
/// page of its tenant, or the visitor has the token of a private page listing
/// it, or a key of its tenant. Anything else is answered as if it did not exist.
async fn badge_allowed(
    state: &Shared,
    dir: &Directory,
    tenant: i64,
    check: &str,
    labels: &std::collections::BTreeMap<String, String>,
    visit: &Visit,
) -> Result<bool, StoreError> {
    let pages = dir.by_tenant.get(&tenant).map(Vec::as_slice).unwrap_or(&[]);
    let listing = pages.iter().filter(|e| page_lists(&e.page, check, labels));
    for e in listing {
        if visit.may_see(&e.page) {
            return Ok(true);
        }
    }
    if let Some(key) = visit.bearer() {
        return Ok(state
            .store
            .authenticate(key.to_string())
            .await?
            .is_some_and(|k| k.tenant_id == tenant));
    }
    Ok(false)
}

async fn badge(state: Shared, p: BadgePath, visit: Visit, kind: BadgeKind) -> Response {
    let dir = match state.status.directory(&state).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let tenant = match state.store.tenant_id(p.tenant.clone()).await {
        Ok(Some(t)) => t,
        Ok(None) => return no_badge(),
        Err(e) => return failed(e.into()),
    };
    let labels = match state.store.check_labels(tenant, p.check.clone()).await {
        Ok(Some(l)) => l,
        Ok(None) => return no_badge(),
        Err(e) => return failed(e.into()),
    };
    match badge_allowed(&state, &dir, tenant, &p.check, &labels, &visit).await {
        Ok(true) => {}
        Ok(false) => return no_badge(),
        Err(e) => return failed(e.into()),
    }
    let generation = dir.generation;
    let key = Key {
        tenant,
        what: format!("badge:{}:{kind:?}", p.check),
    };
    let check = p.check.clone();
    let rendered = state
        .status
        .cache
        .get_or_render(key, generation, || {
            render_badge(&state, tenant, check, kind)
        })
        .await;
    match rendered {
        // A badge is cached publicly only when a public page shows the check.
        Ok(r) => answer(
            &visit,
            &r,
            visit.param("token").is_none() && visit.bearer().is_none(),
        ),
        Err(e) => failed(e),
    }
}

async fn render_badge(
    state: &Shared,
    tenant: i64,
    check: String,
    kind: BadgeKind,
) -> Result<Rendered, RenderError> {
    let _turn = turn(&BADGE_RENDERS).await?;
    state.metrics.status_renders.inc();
    let now = now_ms();
    let svg = match kind {
        BadgeKind::Status => {
            let page = single_check_page(&check);
            let data = state.store.status_page(tenant, page, now).await?;
            let s = data
                .groups
                .first()
                .and_then(|g| g.checks.first())
                .map_or("unknown", |c| c.state);
            let (text, color) = match s {
                "up" => ("up", badge::GREEN),
                "down" => ("down", badge::RED),
                "maintenance" => ("maintenance", badge::BLUE),
                "paused" => ("paused", badge::GREY),
                _ => ("unknown", badge::GREY),
            };
            badge::render(&check, text, color)
        }
        BadgeKind::Uptime(days) => {
            let r = state
                .store
                .report(
                    tenant,
                    Some(vec![check.clone()]),
                    now - i64::from(days) * 86_400_000,
                    now,
                    now,
                )
                .await?;
            match r.checks.first().and_then(|c| c.uptime) {
                Some(u) => badge::render(
                    &format!("uptime {days}d"),
                    &html::percent(u),
                    badge::uptime_color(u),
                ),
                None => badge::render(&format!("uptime {days}d"), "unknown", badge::GREY),
            }
        }
        BadgeKind::Latency => {
            let r = state
                .store
                .report(
                    tenant,
                    Some(vec![check.clone()]),
                    now - LATENCY_BADGE_MS,
                    now,
                    now,
                )
                .await?;
            match r.checks.first().and_then(|c| c.latency.as_ref()) {
                Some(l) => badge::render("p95 24h", &format!("{:.0} ms", l.p95), badge::BLUE),
                None => badge::render("p95 24h", "unknown", badge::GREY),
            }
        }
    };
    Ok(Rendered::new(svg.into_bytes(), BADGE_TYPE))
}

/// A page of one check, to read its state as a page would show it.
fn single_check_page(check: &str) -> StatusPage {
    StatusPage {
        name: "badge".into(),
        labels: Default::default(),
        title: String::new(),
        description: None,
        slug: String::new(),
        groups: vec![crate::spec::StatusGroup {
            name: String::new(),
            checks: vec![check.to_string()],
            selector: Default::default(),
        }],
        show: crate::spec::StatusShow {
            latency: false,
            incidents_days: 0,
            uptime_days: 1,
        },
        announcement: None,
        access: None,
        domain: None,
    }
}

/// `?window=Nd`, `N` from 1 to [`MAX_BADGE_DAYS`].
fn window_days(visit: &Visit) -> Result<u32, ApiError> {
    let Some(w) = visit.param("window") else {
        return Ok(DEFAULT_BADGE_DAYS);
    };
    // Digits only, no sign and no leading zero: one spelling per window, so one
    // cache entry per window.
    w.strip_suffix('d')
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_BADGE_DAYS).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "`window` takes days from 1d to {MAX_BADGE_DAYS}d, such as `30d`; not `{w}`"
            ))
        })
}

/// `GET /badge/{tenant}/{check}/status.svg`.
pub async fn status_badge(
    State(state): State<Shared>,
    Path(p): Path<BadgePath>,
    visit: Visit,
) -> Served<BadgeDoc> {
    served(badge(state, p, visit, BadgeKind::Status).await)
}

/// `GET /badge/{tenant}/{check}/uptime.svg?window=30d`.
pub async fn uptime_badge(
    State(state): State<Shared>,
    Path(p): Path<BadgePath>,
    UptimeVisit(visit): UptimeVisit,
) -> Served<BadgeDoc> {
    match window_days(&visit) {
        Ok(days) => served(badge(state, p, visit, BadgeKind::Uptime(days)).await),
        Err(_) => served(error_badge(StatusCode::BAD_REQUEST, "bad window")),
    }
}

/// `GET /badge/{tenant}/{check}/latency.svg`.
pub async fn latency_badge(
    State(state): State<Shared>,
    Path(p): Path<BadgePath>,
    visit: Visit,
) -> Served<BadgeDoc> {
    served(badge(state, p, visit, BadgeKind::Latency).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_only_with_a_q_value_above_zero() {
        for yes in [
            "gzip",
            "gzip, deflate, br",
            "br;q=1, GZIP;q=0.5",
            "*",
            "deflate, *;q=0.1",
            "x-gzip",
        ] {
            assert!(takes_gzip(Some(yes)), "{yes}");
        }
        for no in [
            "gzip;q=0",
            "gzip; q=0.000",
            "br, gzip;q=0, *",
            "*;q=0",
            "identity",
            "gzipfoo",
            "gzip;q=nonsense",
            "",
        ] {
            assert!(!takes_gzip(Some(no)), "{no}");
        }
        assert!(!takes_gzip(None));
        // Past the bound, a coding is not read.
        let long = format!("{}gzip", "br, ".repeat(super::MAX_ACCEPT_ENCODINGS));
        assert!(!takes_gzip(Some(&long)));
    }

    #[test]
    fn the_gzipped_answer_has_an_etag_of_its_own() {
        assert_eq!(gzip_etag("\"abc\""), "\"abc-gz\"");
        assert!(none_match("\"abc-gz\"", "\"abc-gz\""));
        assert!(!none_match("\"abc\"", "\"abc-gz\""));
        assert!(!none_match("\"abc-gz\"", "\"abc\""));
        assert!(none_match("\"x\", W/\"abc\"", "\"abc\""));
        assert!(none_match("*", "\"abc\""));
    }

    #[tokio::test]
    async fn a_render_waits_a_bounded_time_and_badges_have_their_own_budget() {
        // Every page turn taken, as a flood of pages would.
        let held = PAGE_RENDERS
            .acquire_many(MAX_PAGE_RENDERS as u32)
            .await
            .expect("page turns");
        // Badges still render: a budget of their own.
        drop(turn(&BADGE_RENDERS).await.expect("a badge's turn"));
        // A page gives up after RENDER_WAIT, as 503 with Retry-After.
        let started = std::time::Instant::now();
        let e = turn(&PAGE_RENDERS).await.expect_err("no page turn is free");
        assert!(matches!(e, RenderError::Busy), "{e:?}");
        eprintln!("gave up after {:?}", started.elapsed());
        let r = failed(e);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            r.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some(RENDER_WAIT.as_secs().to_string().as_str())
        );
        drop(held);
        drop(turn(&PAGE_RENDERS).await.expect("a turn once freed"));
    }
}
