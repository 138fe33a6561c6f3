//! Servers for the probe tests, on 127.0.0.1 with ports the kernel picks. Every
//! server is bound before it is returned, so a test can start the binary at once.
//! They run on one shared tokio runtime whose worker threads live in the background,
//! which keeps the tests plain `#[test]` functions that spawn the real binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use futures_util::stream;
use serde_json::Value;

use crate::support::{Files, Run};

/// The JSON document `/ok` answers with; short enough to fit in a body excerpt.
pub const OK_BODY: &str = r#"{"status":"ok","items":[{"id":2,"name":"widget"}],"version":"1.2.3"}"#;
/// What `/big` would send if nobody stopped reading: 50 MiB.
pub const BIG_BODY_BYTES: usize = 50 * 1024 * 1024;
static BIG_CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-server")
            .enable_all()
            .build()
            .expect("test server runtime")
    })
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// What a server observed, shared between its handlers and the test.
#[derive(Default)]
pub struct Log {
    connections: AtomicUsize,
    requests: Mutex<Vec<Seen>>,
    flaky_hits: AtomicUsize,
    big_bytes_sent: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running server; stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    log: Arc<Log>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.addr.port())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.log.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.requests.lock().expect("request log").clone()
    }

    /// How many requests asked for exactly `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }

    /// Bytes of `/big` handed to the connection before the client went away.
    pub fn big_bytes_sent(&self) -> usize {
        self.log.big_bytes_sent.load(Ordering::SeqCst)
    }

    /// The most `/slow` requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.log.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn bind() -> StdListener {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    listener
}

/// A port on 127.0.0.1 that was bound a moment ago and is closed now: connecting is refused.
pub fn closed_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The test application:
/// - `/ok`: 200 with [`OK_BODY`] as JSON and `x-app: demo/1`
/// - `/status/{code}`: that status, body `status {code}`
/// - `/slow/{ms}`: 200 after `ms` milliseconds
/// - `/big`: 200 streaming [`BIG_BODY_BYTES`] of `x`
/// - `/r/{n}`: 302 to `/r/{n-1}`, and `/r/1` to `/ok`
/// - `/flaky`: 503 twice, then 200
/// - `/echo`: 200 to any method; the request is logged like every other
fn app(log: Arc<Log>) -> Router {
    Router::new()
        .route("/ok", get(ok))
        .route("/status/{code}", get(status))
        .route("/slow/{ms}", get(slow))
        .route("/big", get(big))
        .route("/r/{n}", get(redirect))
        .route("/flaky", get(flaky))
        .route("/echo", any(|| async { "echoed" }))
        .layer(middleware::from_fn_with_state(log.clone(), record))
        .with_state(log)
}

async fn record(State(log): State<Arc<Log>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    log.requests.lock().expect("request log").push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn ok() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-app"), "demo/1"),
        ],
        OK_BODY,
    )
        .into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (code, format!("status {}", code.as_u16())).into_response()
}

async fn slow(State(log): State<Arc<Log>>, Path(ms): Path<u64>) -> &'static str {
    let now = log.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    log.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    log.in_flight.fetch_sub(1, Ordering::SeqCst);
    "slow"
}

async fn big(State(log): State<Arc<Log>>) -> Body {
    let chunks = BIG_BODY_BYTES / BIG_CHUNK.len();
    Body::from_stream(stream::iter((0..chunks).map(move |_| {
        log.big_bytes_sent
            .fetch_add(BIG_CHUNK.len(), Ordering::SeqCst);
        Ok::<_, Infallible>(Bytes::from_static(&BIG_CHUNK))
    })))
}

async fn redirect(Path(n): Path<u32>) -> Response {
    let to = if n <= 1 {
        "/ok".to_string()
    } else {
        format!("/r/{}", n - 1)
    };
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn flaky(State(log): State<Arc<Log>>) -> Response {
    if log.flaky_hits.fetch_add(1, Ordering::SeqCst) < 2 {
        (StatusCode::SERVICE_UNAVAILABLE, "warming up").into_response()
    } else {
        "ready".into_response()
    }
}

/// The test application over plain HTTP, counting accepted connections.
pub fn http() -> Server {
    let std_listener = bind();
    let addr = std_listener.local_addr().expect("local addr");
    let log = Arc::new(Log::default());
    let rt = runtime();
    let _guard = rt.enter();
    let counter = log.clone();
    let listener = tokio::net::TcpListener::from_std(std_listener)
        .expect("tokio listener")
        .tap_io(move |_| {
            counter.connections.fetch_add(1, Ordering::SeqCst);
        });
    let router = app(log.clone());
    let task = rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { addr, log, task }
}

/// A server that accepts connections and never answers on them.
pub fn hanging() -> Server {
    let std_listener = bind();
    let addr = std_listener.local_addr().expect("local addr");
    let log = Arc::new(Log::default());
    let rt = runtime();
    let _guard = rt.enter();
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
    let counter = log.clone();
    let task = rt.spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.connections.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    Server { addr, log, task }
}

/// The test application over HTTPS with `pki`'s leaf certificate.
pub fn https(pki: &Pki) -> Server {
    let std_listener = bind();
    let addr = std_listener.local_addr().expect("local addr");
    let log = Arc::new(Log::default());
    let rt = runtime();
    let config = rt
        .block_on(axum_server::tls_rustls::RustlsConfig::from_pem(
            pki.cert_pem.clone().into_bytes(),
            pki.key_pem.clone().into_bytes(),
        ))
        .expect("rustls server config");
    let _guard = rt.enter();
    let server = axum_server::from_tcp_rustls(std_listener, config).expect("https server");
    let router = app(log.clone());
    let task = rt.spawn(async move {
        let _ = server.serve(router.into_make_service()).await;
    });
    Server { addr, log, task }
}

/// A CA and a leaf certificate it signed for `localhost` and `127.0.0.1`, as PEM.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// When the leaf expires.
    pub not_after: SystemTime,
}

/// A fresh CA and a leaf that stays valid for `valid_for` from now.
pub fn pki(valid_for: Duration) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "uptimeping test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");

    let now = SystemTime::now();
    let not_after = now + valid_for;
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = (now - Duration::from_secs(86_400)).into();
    params.not_after = not_after.into();
    let cert = params.signed_by(&key, &*ca).expect("leaf certificate");
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after,
    }
}

/// One `Check` document: `name`, `target`, then `extra` lines as written (top level).
pub fn check(name: &str, target: &str, extra: &str) -> String {
    format!("kind: Check\nname: {name}\ntype: http\ntarget: {target}\n{extra}")
}

/// The outcome of `uptimeping test -o json` over some checks.
pub struct Probed {
    pub run: Run,
    pub results: Vec<Value>,
}

impl Probed {
    /// The result of the check called `name`.
    pub fn result(&self, name: &str) -> &Value {
        self.results
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no result for `{name}` in {:#?}", self.results))
    }
}

/// Writes `docs` to `checks.yaml` and runs `uptimeping test` over them, with `args` added.
pub fn probe_with(docs: &[String], args: &[&str]) -> Probed {
    let files = Files::new(&[("checks.yaml", &docs.join("---\n"))]);
    probe_files(&files, ".", args)
}

pub fn probe(docs: &[String]) -> Probed {
    probe_with(docs, &[])
}

/// Runs `uptimeping test -f path -o json` in `files`' directory.
pub fn probe_files(files: &Files, path: &str, args: &[&str]) -> Probed {
    let mut all = vec!["test", "-f", path, "-o", "json"];
    all.extend_from_slice(args);
    let run = files.run(&all);
    let results = match run.json() {
        Value::Array(results) => results,
        other => panic!("expected an array of results, got {other:#}"),
    };
    Probed { run, results }
}

/// A failure as `(expectation, expected, actual)`, to compare with [`failures`].
pub fn f(expectation: &str, expected: &str, actual: &str) -> (String, String, String) {
    (expectation.into(), expected.into(), actual.into())
}

/// `(expectation, expected, actual)` of every failure of a result.
pub fn failures(result: &Value) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    result["failures"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|f| {
                    (
                        text(&f["expectation"]),
                        text(&f["expected"]),
                        text(&f["actual"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a [`scripted`] server does with its n-th request (from 0): the status it
/// answers with and how long it waits first.
pub type Script = fn(usize) -> (u16, Duration);

/// A server whose answers follow a script by request number, so that a test knows
/// what every run of a check against it was served; stopped when dropped.
pub struct Scripted {
    pub addr: SocketAddr,
    served: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Requests received so far (each is answered as `script(n)` says).
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers every request, on any path, as `script` says for its number.
pub fn scripted(script: Script) -> Scripted {
    let std_listener = bind();
    let addr = std_listener.local_addr().expect("local addr");
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    let router = Router::new().fallback(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let (code, wait) = script(n);
            tokio::time::sleep(wait).await;
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (code, format!("request {n}"))
        }
    });
    let rt = runtime();
    let _guard = rt.enter();
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
    let task = rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Scripted { addr, served, task }
}
