//! The daemon's life around its data directory: one daemon per directory, private
//! files, starts that fail leaving nothing behind, and a disk that fills up and
//! frees again.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::daemon_support::{Daemon, PATIENCE, Target, plan_request};
use crate::support::uptimeping;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs the daemon with `args`, expecting it to refuse to start; returns its exit
/// code and stderr. A daemon still running after [`PATIENCE`] fails the test.
fn refused(args: &[&str]) -> (i32, String) {
    let mut child = uptimeping()
        .arg("daemon")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon started although it should have refused: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_second_daemon_on_the_same_data_directory_refuses_to_start_and_names_the_first() {
    let first = Daemon::start(&[]);
    let data = first.data_dir.to_str().unwrap().to_string();
    let (code, stderr) = refused(&["--listen", "127.0.0.1:0", "--data-dir", &data]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().last().unwrap_or_default(),
        format!(
            "uptimeping: another uptimeping daemon (pid {}) is using the data directory `{data}`; stop it first, or give this one another --data-dir",
            first.child.id()
        ),
        "{stderr}"
    );
    assert_eq!(
        first.call("GET", "/readyz", None).0,
        200,
        "the first runs on"
    );
    let (code, logs) = first.terminate();
    assert_eq!(code, 0, "{logs}");
}

#[test]
fn a_start_that_fails_leaves_no_data_directory_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.to_str().unwrap();

    let missing = tmp.path().join("no-such-checks");
    let (code, stderr) = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_arg,
        "--watch",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("--watch `{}`", missing.display())),
        "{stderr}"
    );
    assert!(
        !data.exists(),
        "a refused --watch created the data directory"
    );

    let file = tmp.path().join("checks.yaml");
    std::fs::write(&file, "").unwrap();
    let (code, stderr) = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_arg,
        "--watch",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = refused(&["--listen", &addr, "--data-dir", data_arg]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("listening on {addr}")), "{stderr}");
    assert!(!data.exists(), "a failed bind created the data directory");

    for bad in ["8080", "localhost:http", "bad host:80"] {
        let (code, stderr) = refused(&["--listen", bad, "--data-dir", data_arg]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(&format!("`listen`: `{bad}` is not host:port")),
            "{stderr}"
        );
    }
    let (code, stderr) = refused(&["--listen", "no-such-host.invalid:0", "--data-dir", data_arg]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot resolve `no-such-host.invalid:0`"),
        "{stderr}"
    );
    assert!(!data.exists());
}

/// A daemon started with a `--listen` of the test's choosing; killed on drop.
struct Bare {
    child: Child,
    url: String,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_listening(listen: &str, data: &Path) -> Bare {
    let mut child = uptimeping()
        .args(["daemon", "--listen", listen, "--data-dir"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on http://") {
                let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
            }
        }
    });
    let url = rx.recv_timeout(PATIENCE).expect("the daemon to listen");
    Bare { child, url }
}

#[test]
fn listen_takes_a_host_name() {
    let tmp = tempfile::tempdir().unwrap();
    let d = start_listening("localhost:0", &tmp.path().join("data"));
    assert!(
        d.url.starts_with("http://127.0.0.1:") || d.url.starts_with("http://[::1]:"),
        "{}",
        d.url
    );
    let res = Daemon::client()
        .get(format!("{}/healthz", d.url))
        .send()
        .expect("healthz");
    assert_eq!(res.status().as_u16(), 200);
}

/// Applies one check at `target` and runs it once, so that the WAL has frames.
fn run_a_check(d: &Daemon, target: &str) {
    let yaml = format!(
        "kind: Check\nname: probe\ntype: http\ntarget: {target}\nschedule: 1h\ntimeout: 2s\nalert: {{failure_threshold: 2}}\n"
    );
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
    d.post("/api/v1/checks/probe/run", &json!({}));
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn the_data_directory_and_every_file_in_it_are_private() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    run_a_check(&d, &target.url());
    assert_eq!(mode(&d.data_dir), 0o700, "{}", d.data_dir.display());
    let names: Vec<String> = data_files(&d.data_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "admin.key",
        "uptimeping.db",
        "uptimeping.db-shm",
        "uptimeping.db-wal",
        "uptimeping.lock",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for path in data_files(&d.data_dir) {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn an_open_data_directory_left_by_an_older_daemon_is_made_private_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start_on(&data, &[]);
    let target = Target::start();
    run_a_check(&d, &target.url());
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");
    // As an older daemon left them: readable by everyone.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for path in data_files(&data) {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let d = Daemon::start_on(&data, &[]);
    assert_eq!(mode(&data), 0o700);
    let db = data.join("uptimeping.db");
    assert_eq!(mode(&db), 0o600);
    for path in data_files(&data) {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    d.wait_log("data directory was mode 0755; made it 0700");
    d.wait_log(&format!("file={}", db.display()));
    assert_eq!(d.get("/api/v1/checks/probe")["name"], "probe", "data kept");
}
