//! A real PostgreSQL server for tests: `initdb` and `postgres` from the installed
//! server programs, in a temporary directory, on a free port of 127.0.0.1, as an
//! unprivileged user (`initdb` refuses root: a root test process runs them as the
//! `postgres` user that Debian's package creates).
//!
//! Shared by the library's store tests and the integration tests (included by
//! `#[path]`), so it uses the standard library only. The server goes away with the
//! process that started it, however that process ends: a shell between them stops
//! it (fast shutdown) and removes its directory once its standard input closes.
//!
//! Where the programs are: `UPTIMEPING_PG_BIN` if set, else the newest
//! `/usr/lib/postgresql/*/bin` (Debian and Ubuntu), else `initdb` on `PATH`. A
//! machine without them fails the test that asks for a server, saying how to get
//! them: no test skips because PostgreSQL is missing.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The role the tests connect as (a superuser of the test cluster, trusted on
/// 127.0.0.1 only).
pub const USER: &str = "uptimeping";

/// A running server; stopped when the value is dropped (or its process ends).
pub struct Server {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    /// The shell that runs `postgres`; closing its stdin stops the server.
    keeper: Option<Child>,
    run_as: Option<String>,
    databases: AtomicUsize,
}

/// The server shared by every test of this process, started on first use.
pub fn shared() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(Server::start)
}

/// A new empty database on the shared server, as a `postgres://` URL.
pub fn fresh_database() -> String {
    shared().create_database()
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("UPTIMEPING_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("postgres").exists() {
                return dir;
            }
        }
    }
    panic!(
        "PostgreSQL's server programs (initdb, postgres) are not installed: install Debian's `postgresql` \
         (scripts/test does), or set UPTIMEPING_PG_BIN to the directory that holds them"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Server {
    /// Creates a cluster in a new temporary directory and starts it.
    pub fn start() -> Server {
        Self::start_with(None)
    }

    /// As [`Server::start`], serving TLS with the PEM certificate and key given
    /// and refusing TCP connections without it (`hostssl` only).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Server {
        Self::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Server {
        let bin = bin_dir();
        let run_as = is_root().then(|| "postgres".to_string());
        let base = std::env::temp_dir().join(format!(
            "uptimeping-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&base).expect("create the cluster's directory");
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&base)
                .status()
                .expect("run chown");
            assert!(
                status.success(),
                "cannot give `{}` to the `{user}` user (Debian's `postgresql` package creates it)",
                base.display()
            );
        }
        let data = base.join("data");
        let out = Self::command(&run_as, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            let put = |name: &str, text: &str, mode: u32| {
                let path = data.join(name);
                std::fs::write(&path, text).expect("write a server file");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
                if let Some(user) = &run_as {
                    let ok = Command::new("chown")
                        .arg(format!("{user}:"))
                        .arg(&path)
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "chown {}", path.display());
                }
            };
            put("server.crt", cert, 0o644);
            put("server.key", key, 0o600);
            let conf = std::fs::read_to_string(data.join("postgresql.conf"))
                .expect("read postgresql.conf");
            put(
                "postgresql.conf",
                &format!(
                    "{conf}\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                ),
                0o600,
            );
            put(
                "pg_hba.conf",
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
                0o600,
            );
        }
        let mut server = Server {
            port: 0,
            bin,
            dir: base,
            keeper: None,
            run_as,
            databases: AtomicUsize::new(0),
        };
        server.run(free_port());
        server
    }

    fn command(run_as: &Option<String>, program: &Path) -> Command {
        match run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// The cluster's data directory (`postmaster.pid` names the server's process).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Starts `postgres` on `port` under a shell that stops it, and removes the
    /// cluster unless it is only being restarted, when its stdin closes.
    fn run(&mut self, port: u16) {
        let script = r#"
            "$1/postgres" -D "$2/data" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                -c max_connections=200 -c shared_buffers=32MB >>"$2/log" 2>&1 &
            pid=$!
            cat >/dev/null
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            [ -e "$2/keep" ] || rm -rf "$2"
        "#;
        let mut c = Self::command(&self.run_as, Path::new("sh"));
        c.arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&self.bin)
            .arg(&self.dir)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.keeper = Some(c.spawn().expect("start postgres"));
        self.port = port;
        self.wait_ready();
    }

    /// One of the client programs, pointed at this server as [`USER`].
    fn client(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER]);
        c
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = self
                .client("pg_isready")
                .arg("-q")
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start within 60 s; its log:\n{}",
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast shutdown) and waits until it has gone, keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut keeper) = self.keeper.take() {
            let _ = Self::command(&self.run_as, Path::new("touch"))
                .arg(self.dir.join("keep"))
                .status();
            drop(keeper.stdin.take());
            let _ = keeper.wait();
            let _ = std::fs::remove_file(self.dir.join("keep"));
        }
    }

    /// Starts a stopped server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        self.run(port);
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` with `psql` in database `db`; panics on an error.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut child = self
            .client("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", db])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run psql");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(sql.as_bytes())
            .expect("write to psql");
        let out = child.wait_with_output().expect("psql output");
        assert!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates a new empty database and returns its URL.
    pub fn create_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut keeper) = self.keeper.take() {
            drop(keeper.stdin.take());
            let _ = keeper.wait();
        }
    }
}
