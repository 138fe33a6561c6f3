//! A store on a temp file with one tenant, a webhook receiver on 127.0.0.1 that
//! records what it gets and answers as scripted, and a notifier run in the background.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uptimeping::daemon::metrics::Metrics;
use uptimeping::daemon::notify::retry::RetryPolicy;
use uptimeping::daemon::notify::{Notifier, Options};
use uptimeping::daemon::store::{Edit, Store, StoredResource};
use uptimeping::model::Notification;
use uptimeping::spec::Kind;

/// Every wait in these tests ends by this, passing or failing.
pub const WAIT: Duration = Duration::from_secs(15);

/// A request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }
}

/// One scripted answer; when the script runs out the receiver answers 200.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<&'static str>,
    pub body: &'static str,
}

pub const fn reply(status: u16) -> Reply {
    Reply {
        status,
        retry_after: None,
        body: "",
    }
}

#[derive(Default)]
pub struct Receiver {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
}

impl Receiver {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn answer(
    State(r): State<Arc<Receiver>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_string(), v)
        })
        .collect();
    r.seen.lock().expect("lock").push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    let next = r.script.lock().expect("lock").pop_front();
    let Some(reply) = next else {
        return StatusCode::OK.into_response();
    };
    let status = StatusCode::from_u16(reply.status).expect("status");
    match reply.retry_after {
        Some(secs) => (status, [("retry-after", secs)], reply.body).into_response(),
        None => (status, reply.body).into_response(),
    }
}

/// Serves on `listener`, answering with `script` first.
pub fn serve(listener: TcpListener, script: &[Reply]) -> Arc<Receiver> {
    let receiver = Arc::new(Receiver {
        seen: Mutex::default(),
        script: Mutex::new(script.iter().copied().collect()),
    });
    let app = Router::new()
        .fallback(answer)
        .with_state(Arc::clone(&receiver));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    receiver
}

/// A receiver on a fresh port, and its base URL.
pub async fn receiver(script: &[Reply]) -> (Arc<Receiver>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (serve(listener, script), url)
}

/// A database with the `default` tenant.
pub struct Db {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub tenant: i64,
    pub metrics: Arc<Metrics>,
}

impl Db {
    pub async fn new() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state.db")).expect("open store");
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        let tenant = store
            .tenant_id("default".into())
            .await
            .expect("read tenant")
            .expect("default tenant");
        Db {
            dir,
            store,
            tenant,
            metrics: Arc::new(Metrics::new()),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// Applies `spec` (canonical JSON with `kind` and `name`) as one resource.
    pub async fn put(&self, spec: Value) {
        let resource = StoredResource::from_json(spec).expect("a resource that decodes");
        let (outcome, _) = self
            .store
            .transact_state(self.tenant, move |_| Ok(((), vec![Edit::Upsert(resource)])))
            .await
            .expect("write resource");
        outcome.expect("applied");
    }

    pub async fn delete(&self, kind: Kind, name: &str) {
        let edit = Edit::Delete(kind, name.to_string());
        let (outcome, _) = self
            .store
            .transact_state(self.tenant, move |_| Ok(((), vec![edit])))
            .await
            .expect("delete resource");
        outcome.expect("applied");
    }

    /// A webhook channel called `hook`, with `extra` merged into its `webhook:` section.
    pub async fn webhook(&self, url: &str, extra: Value) {
        let mut webhook = json!({"url": url, "method": "POST", "format": "json"});
        for (k, v) in extra.as_object().expect("an object") {
            webhook[k] = v.clone();
        }
        self.put(json!({"kind": "Channel", "name": "hook", "type": "webhook", "webhook": webhook}))
            .await;
    }

    pub fn notifier(&self, options: Options) -> Notifier {
        Notifier::with_options(self.store.clone(), Arc::clone(&self.metrics), options)
            .expect("notifier")
    }
}

/// Options for tests: retries milliseconds apart instead of seconds.
pub fn quick(max_attempts: u32) -> Options {
    Options {
        idle_poll: Duration::from_millis(200),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
        },
        ..Options::default()
    }
}

/// A notifier running in the background until [`Running::stop`].
pub struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub fn start(notifier: Notifier) -> Running {
    let (stop, rx) = watch::channel(false);
    Running {
        stop,
        task: tokio::spawn(notifier.run(rx)),
    }
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the notifier stops in time")
            .expect("the notifier did not panic");
    }
}

/// Polls `probe` until it yields a value; fails the test after [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until notification `id` is in a state `done` accepts.
pub async fn settled(store: &Store, id: i64, done: impl Fn(&Notification) -> bool) -> Notification {
    eventually(&format!("notification {id}"), || async {
        let n = store.notification(id).await.expect("read notification");
        done(&n).then_some(n)
    })
    .await
}
