//! A stand-in for the daemon's REST API with canned answers, for testing the
//! client side on its own: it records every request and answers those it knows.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use uptimeping::spec::Kind;
use uptimeping::spec::plan::{Action, Change, FORMAT_VERSION, Plan, summarize};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fake-daemon")
            .enable_all()
            .build()
            .expect("fake daemon runtime")
    })
}

/// A request as the fake daemon received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query: `/api/v1/checks?state=down`.
    pub uri: String,
    pub authorization: Option<String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

type Answers = BTreeMap<(String, String), (u16, Value)>;

#[derive(Default)]
struct Shared {
    answers: Mutex<Answers>,
    received: Mutex<Vec<Received>>,
}

/// A running fake daemon; stopped when dropped.
pub struct FakeDaemon {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDaemon {
    pub fn start() -> FakeDaemon {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let rt = runtime();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeDaemon { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `method path` (path without the query) with `status` and `body`.
    pub fn on(&self, method: &str, path: &str, status: u16, body: Value) -> &Self {
        self.shared
            .answers
            .lock()
            .expect("answers")
            .insert((method.into(), path.into()), (status, body));
        self
    }

    /// Answers `POST /api/v1/plan` with `planned`.
    pub fn plans(&self, planned: &Plan) -> &Self {
        self.on("POST", "/api/v1/plan", 200, to_json(planned))
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received").clone()
    }

    /// The paths of every request received, in order, without their queries.
    pub fn paths(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.uri.split('?').next().unwrap_or_default().to_string())
            .collect()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_string();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = to_bytes(req.into_body(), 16 * 1024 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    shared.received.lock().expect("received").push(Received {
        method: method.clone(),
        uri,
        authorization,
        body,
    });
    let canned = shared
        .answers
        .lock()
        .expect("answers")
        .get(&(method, path.clone()))
        .cloned();
    let (status, body) = canned.unwrap_or_else(|| {
        (
            404,
            json!({"error": {"code": "not_found", "message": format!("no route {path}")}}),
        )
    });
    let status = StatusCode::from_u16(status).expect("status");
    if status == StatusCode::NO_CONTENT {
        return Response::builder()
            .status(status)
            .body(Body::empty())
            .expect("response");
    }
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("response")
}

/// A plan at revision `revision` with the given changes.
pub fn plan(revision: u64, changes: Vec<Change>) -> Plan {
    Plan {
        format_version: FORMAT_VERSION,
        state_revision: revision,
        tenant: None,
        source: "repo".into(),
        summary: summarize(&changes),
        changes,
        diagnostics: Vec::new(),
        absent: 0,
    }
}

/// A plan that creates the check `name` defined at `file:line`.
pub fn create_plan(revision: u64, name: &str, file: &str, line: usize) -> Plan {
    plan(
        revision,
        vec![Change {
            kind: Kind::Check,
            name: name.into(),
            action: Action::Create,
            file: Some(file.into()),
            line: Some(line),
            before: None,
            after: Some(json!({
                "kind": "Check", "name": name, "type": "http",
                "target": "https://example.com/healthz", "timeout": "10s",
            })),
            fields: Vec::new(),
        }],
    )
}

pub fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialise")
}
