//! A real daemon on 127.0.0.1:0 with a temporary data directory, driven over HTTP,
//! and the servers it talks to: a target whose health a test flips, and a webhook
//! receiver that records what it gets.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;

use crate::servers::runtime;
use crate::support::{Run, Test, uptimeping};

/// Runs the real CLI in `dir` against `d` with its admin key (see [`Daemon::cli`]).
pub fn cli(d: &Daemon, dir: &Path, args: &[&str]) -> Run {
    d.cli(dir).args(args).run()
}

/// Longest a test waits for the daemon to do something it should do at once.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Daemon {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub key: String,
    logs: Arc<Mutex<Vec<String>>>,
    _tmp: Option<tempfile::TempDir>,
    /// A directory of files for the CLI, see [`Daemon::repo`].
    repo: tempfile::TempDir,
}

thread_local! {
    /// The database of the test running on this thread when it runs its daemons
    /// on PostgreSQL ([`on_postgres`]); `None` for SQLite in the data directory.
    static STORE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `test` with every daemon it starts (on this thread) keeping its state in
/// one fresh PostgreSQL database of the test server, restarts included.
pub fn on_postgres(test: fn()) {
    let url = crate::postgres_server::fresh_database();
    STORE.with(|s| *s.borrow_mut() = Some(url));
    test();
    STORE.with(|s| *s.borrow_mut() = None);
}

/// A daemon to start, put together step by step:
/// `Daemon::builder().flag("--metrics").file("checks/api.yaml", yaml).start()`.
#[derive(Default)]
pub struct DaemonBuilder {
    flags: Vec<String>,
    files: Vec<(String, String)>,
    applied: Vec<(String, String)>,
}

impl DaemonBuilder {
    /// Adds a flag (or a flag's value) to `uptimeping daemon`.
    pub fn flag(mut self, flag: &str) -> DaemonBuilder {
        self.flags.push(flag.to_string());
        self
    }

    /// Writes `text` to `name` in the daemon's [`Daemon::repo`] before it starts.
    pub fn file(mut self, name: &str, text: &str) -> DaemonBuilder {
        self.files.push((name.to_string(), text.to_string()));
        self
    }

    /// Applies the resources of `yaml` as source `source` over the API once the
    /// daemon is up (see [`Daemon::apply`]).
    pub fn apply(mut self, source: &str, yaml: &str) -> DaemonBuilder {
        self.applied.push((source.to_string(), yaml.to_string()));
        self
    }

    /// Starts the daemon on a fresh data directory.
    pub fn start(self) -> Daemon {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let d = Daemon::start(&flags);
        for (name, text) in &self.files {
            d.write(name, text);
        }
        for (source, yaml) in &self.applied {
            d.apply(source, yaml);
        }
        d
    }
}

impl Daemon {
    /// A daemon to start; see [`DaemonBuilder`].
    pub fn builder() -> DaemonBuilder {
        DaemonBuilder::default()
    }

    /// Starts a daemon on a fresh data directory with extra `args`.
    pub fn start(args: &[&str]) -> Daemon {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let mut d = Daemon::start_on(&data, args);
        d._tmp = Some(tmp);
        d
    }

    /// Starts another node on the database of daemon `first`, with its admin key
    /// (only the first node on a database writes one) and its token signing key
    /// (`jwt.key`, which every node of a database must share).
    pub fn join(args: &[&str], first: &Daemon) -> Daemon {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let key = data.join("jwt.key");
        std::fs::copy(first.data_dir.join("jwt.key"), &key).expect("copy jwt.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut d = Daemon::launch(&data, args, Some(&first.key));
        d._tmp = Some(tmp);
        d
    }

    /// Starts a daemon on `data_dir` (kept by the caller, for restarts).
    pub fn start_on(data_dir: &Path, args: &[&str]) -> Daemon {
        Daemon::launch(data_dir, args, None)
    }

    fn launch(data_dir: &Path, args: &[&str], key: Option<&str>) -> Daemon {
        let mut cmd = uptimeping();
        cmd.args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args);
        if let Some(url) = STORE.with(|s| s.borrow().clone()) {
            cmd.arg("--store").arg(url);
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn daemon");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let url = match rx.recv_timeout(PATIENCE) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "daemon did not start; its log:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        let key = match key {
            Some(key) => key.to_string(),
            None => std::fs::read_to_string(data_dir.join("admin.key"))
                .expect("admin.key")
                .trim()
                .to_string(),
        };
        Daemon {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            key,
            logs,
            _tmp: None,
            repo: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A directory of files of the test's own (check files, plans, a config
    /// directory), where [`Daemon::run`] runs the CLI.
    pub fn repo(&self) -> &Path {
        self.repo.path()
    }

    /// Writes `text` to `name` in [`Daemon::repo`], making directories on the way.
    pub fn write(&self, name: &str, text: &str) {
        let path = self.repo().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write file");
    }

    /// Runs the CLI with `args` in [`Daemon::repo`] against this daemon.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cli(self.repo()).args(args).run()
    }

    /// The real CLI in `dir` against this daemon with its admin key, and a
    /// config directory of its own so that the developer's contexts never leak in.
    pub fn cli(&self, dir: &Path) -> Test {
        Test::in_dir(dir)
            .isolated(dir)
            .env("UPTIMEPING_URL", &self.url)
            .env("UPTIMEPING_API_KEY", &self.key)
    }

    /// Applies the resources of `yaml` as source `source` over the API.
    pub fn apply(&self, source: &str, yaml: &str) -> Value {
        self.post(
            "/api/v1/apply",
            &plan_request(source, yaml, serde_json::json!({})),
        )
    }

    /// Runs check `name` now (`POST /api/v1/checks/{name}/run`); its result.
    pub fn run_check(&self, name: &str) -> Value {
        self.post(
            &format!("/api/v1/checks/{name}/run"),
            &serde_json::json!({}),
        )
    }

    /// The state of check `name` (`up`, `down`, `pending`, …), empty if it has none.
    pub fn state(&self, name: &str) -> String {
        self.get(&format!("/api/v1/checks/{name}/status"))["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until check `name` is in `state`.
    pub fn wait_state(&self, name: &str, state: &str) {
        wait_for(&format!("{name} {state}"), || {
            (self.state(name) == state).then_some(())
        });
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        wait_for(&format!("log line with `{needle}`"), || {
            self.logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
                .cloned()
        })
    }

    pub fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client")
    }

    /// Calls the API with the admin key; returns status and JSON body (null if none).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_as(&self.key.clone(), method, path, body)
    }

    pub fn call_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = Self::client()
            .request(
                method.parse().expect("method"),
                format!("{}{path}", self.url),
            )
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().expect("request to daemon");
        let status = res.status().as_u16();
        let text = res.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub fn post(&self, path: &str, body: &Value) -> Value {
        let (status, res) = self.call("POST", path, Some(body));
        assert!(
            (200..300).contains(&status),
            "POST {path} answered {status}: {res}"
        );
        res
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> (i32, String) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop after SIGTERM:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it returns `Some`, failing the test after [`PATIENCE`].
pub fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_long(what, PATIENCE, f)
}

/// [`wait_for`], for up to `limit`.
pub fn wait_long<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A check as the CLI would send it: canonical JSON from YAML through the library.
pub fn desired(yaml: &str) -> Vec<Value> {
    let source = uptimeping::spec::Source::new("test.yaml", yaml, ".");
    let bundle = uptimeping::spec::load(&[source], &|_| None)
        .unwrap_or_else(|d| panic!("test YAML invalid:\n{d}"));
    bundle
        .resources
        .iter()
        .map(|r| serde_json::to_value(r.desired()).expect("json"))
        .collect()
}

pub fn plan_request(source: &str, yaml: &str, extra: Value) -> Value {
    let mut req = serde_json::json!({"source": source, "resources": desired(yaml)});
    if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    req
}

/// A target whose `/health` answers 200 or 503 as the test says.
pub struct Target {
    pub addr: std::net::SocketAddr,
    healthy: Arc<AtomicBool>,
}

impl Target {
    pub fn start() -> Target {
        let healthy = Arc::new(AtomicBool::new(true));
        let app = Router::new()
            .route(
                "/health",
                get(|State(h): State<Arc<AtomicBool>>| async move {
                    if h.load(Ordering::SeqCst) {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance")
                    }
                }),
            )
            .with_state(Arc::clone(&healthy));
        let addr = serve(app);
        Target { addr, healthy }
    }

    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    pub fn set_healthy(&self, up: bool) {
        self.healthy.store(up, Ordering::SeqCst);
    }
}

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    pub headers: HeaderMap,
    pub body: Value,
}

type ReceiverState = (Arc<Mutex<Vec<Hook>>>, Arc<AtomicBool>);

/// Records webhook deliveries; answers 500 while `failing` is set.
#[derive(Clone)]
pub struct Receiver {
    pub addr: std::net::SocketAddr,
    pub hooks: Arc<Mutex<Vec<Hook>>>,
    pub failing: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
    }

    pub fn start_on(listener: std::net::TcpListener) -> Receiver {
        let hooks: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let state = (Arc::clone(&hooks), Arc::clone(&failing));
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State((hooks, failing)): State<ReceiverState>,
                     headers: HeaderMap,
                     body: String| async move {
                        if failing.load(Ordering::SeqCst) {
                            return StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
                        hooks.lock().unwrap().push(Hook { headers, body });
                        StatusCode::OK
                    },
                ),
            )
            .with_state(state);
        let addr = serve_on(listener, app);
        Receiver {
            addr,
            hooks,
            failing,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// Events received, in order, as `event` fields of the bodies.
    /// The events delivered under each idempotency key, in the order of the keys:
    /// `[["opened"], ["resolved"]]` when each was delivered once.
    pub fn events_by_key(&self) -> Vec<Vec<String>> {
        let mut per_key: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for h in self.hooks() {
            per_key
                .entry(h.headers["idempotency-key"].to_str().unwrap().to_string())
                .or_default()
                .push(h.body["event"].as_str().unwrap_or("?").to_string());
        }
        per_key.into_values().collect()
    }

    pub fn events(&self) -> Vec<String> {
        self.hooks()
            .iter()
            .map(|h| h.body["event"].as_str().unwrap_or("?").to_string())
            .collect()
    }
}

pub fn serve(app: Router) -> std::net::SocketAddr {
    serve_on(
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
        app,
    )
}

fn serve_on(listener: std::net::TcpListener, app: Router) -> std::net::SocketAddr {
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let _ = axum::serve(listener, app).await;
    });
    addr
}
