//! The daemon's life around its data directory: one daemon per directory, private
//! files, starts that fail leaving nothing behind, and a disk that fills up and
//! frees again.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::daemon_support::{Daemon, PATIENCE, Target, wait_for};
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
pub(crate) fn refused(args: &[&str]) -> (i32, String) {
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
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (code, stderr) = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        shared.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("sticky bit set"), "{stderr}");
    assert_eq!(mode(&shared), 0o1777, "a shared directory is left as it is");
    assert_eq!(
        std::fs::read_dir(&shared).unwrap().count(),
        0,
        "nothing written in it"
    );

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
    d.apply("repo", &yaml);
    d.run_check("probe");
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
    // As an older daemon left them: readable by everyone, and no signing key yet
    // (a readable one stops the start, as it may have leaked: see the auth tests).
    std::fs::remove_file(data.join("jwt.key")).unwrap();
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

/// A tmpfs of its own, so the test can fill a real filesystem; unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

/// Size of the filesystem: room for the database and its WAL, small to fill fast.
const SMALL_DISK: &str = "size=8m";

impl SmallDisk {
    fn mount(dir: &Path) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", SMALL_DISK, "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        // Not a skip: CI runs as root where mounting works, and a test that quietly
        // does nothing would hide the disk-full behaviour breaking.
        assert!(
            out.status.success(),
            "this test needs to mount a tmpfs (run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes a file until the filesystem has no room left.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        // The last partial block too.
        while f.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn result_count(d: &Daemon) -> usize {
    d.get("/api/v1/checks/probe/results?limit=1000")["items"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn a_full_disk_makes_the_daemon_unready_keeps_its_results_and_it_resumes_once_space_is_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&tmp.path().join("disk"));
    let data = disk.dir.join("data");
    let d = Daemon::start_on(&data, &[]);
    let target = Target::start();
    target.set_healthy(false);
    run_a_check(&d, &target.url());
    assert_eq!(result_count(&d), 1);

    let filler = disk.fill();
    // Runs until the store refuses them; every run's result must survive.
    let mut runs = 1;
    let body = wait_for("/readyz to say the store cannot write", || {
        let (status, _) = d.call("POST", "/api/v1/checks/probe/run", Some(&json!({})));
        assert_eq!(status, 200, "a run on a full disk still answers");
        runs += 1;
        let (status, body) = d.call("GET", "/readyz", None);
        (status == 503).then_some(body)
    });
    assert_eq!(body["status"], "store cannot write", "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "free space on the filesystem that holds `{}`",
            data.display()
        )),
        "{reason}"
    );
    d.wait_log("cannot write check results: the disk is full: free space on");
    // One more failure while the store cannot write: with the ones before, past
    // the threshold, so an incident must open once the results are written.
    d.call("POST", "/api/v1/checks/probe/run", Some(&json!({})));
    runs += 1;

    std::fs::remove_file(&filler).unwrap();
    wait_for("/readyz to be ready again", || {
        (d.call("GET", "/readyz", None).0 == 200).then_some(())
    });
    d.wait_log("the store takes writes again");
    wait_for("every run's result to be written", || {
        (result_count(&d) == runs).then_some(())
    });
    let incidents = d.get("/api/v1/incidents?status=open");
    assert_eq!(incidents.as_array().map(Vec::len), Some(1), "{incidents}");
    assert_eq!(incidents[0]["count"].as_u64(), Some(runs as u64));
    let metrics = Daemon::client()
        .get(format!("{}/metrics", d.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        !metrics.contains("uptime_results_dropped_total{"),
        "nothing was dropped:\n{metrics}"
    );
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");
}

#[test]
fn a_database_held_locked_by_another_program_makes_the_daemon_unready_until_it_lets_go() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    run_a_check(&d, &target.url());
    // An operator's sqlite3 shell in the middle of a write transaction.
    let other = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, _) = d.call("POST", "/api/v1/checks/probe/run", Some(&json!({})));
    assert_eq!(
        status, 200,
        "the run answers although it cannot be written yet"
    );
    let body = wait_for("/readyz to say the store cannot write", || {
        let (status, body) = d.call("GET", "/readyz", None);
        (status == 503).then_some(body)
    });
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("locked for longer than"), "{reason}");
    other.execute_batch("COMMIT").unwrap();
    drop(other);
    wait_for("/readyz to be ready again", || {
        (d.call("GET", "/readyz", None).0 == 200).then_some(())
    });
    wait_for("both runs to be written", || {
        (result_count(&d) == 2).then_some(())
    });
}

/// A TCP peer that never stops talking: 10 bytes every 10 ms to every connection,
/// so a check reading it for a response that never comes stays in flight.
fn dribbling_peer() -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let _ = tx.send(());
            std::thread::spawn(move || {
                while stream.write_all(b"0123456789").is_ok() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
    });
    (addr, rx)
}

#[test]
fn sigterm_with_a_run_in_flight_stops_within_one_grace_period_and_blames_no_store() {
    let grace = Duration::from_secs(3);
    let d = Daemon::start(&["--shutdown-grace", "3s"]);
    let (addr, connected) = dribbling_peer();
    let yaml = format!(
        "kind: Check\nname: chatty\ntype: tcp\ntarget: \"{addr}\"\nschedule: 1h\ntimeout: 30s\nexpect: {{response: \"/never said/\"}}\n"
    );
    d.apply("repo", &yaml);
    // The run answers only once written, so it is asked for from aside.
    let run_url = format!("{}/api/v1/checks/chatty/run", d.url);
    let token = d.key.clone();
    std::thread::spawn(move || {
        let _ = Daemon::client()
            .post(run_url)
            .bearer_auth(token)
            .json(&json!({}))
            .send();
    });
    connected
        .recv_timeout(PATIENCE)
        .expect("the check to connect to the peer");
    // Let the run settle into reading.
    std::thread::sleep(Duration::from_millis(200));
    let began = Instant::now();
    let (code, logs) = d.terminate();
    let took = began.elapsed();
    assert_eq!(code, 0, "{logs}");
    // Generous, against a loaded machine; before, the daemon took two grace periods.
    assert!(
        took < grace + Duration::from_secs(2),
        "stopping took {took:?} with a {grace:?} grace period:\n{logs}"
    );
    assert!(
        logs.contains("abandoning 1 check run(s) still in flight after the 3s grace period"),
        "{logs}"
    );
    assert!(!logs.contains("store cannot write"), "{logs}");
}

fn refused_on(data: &Path) -> (i32, String) {
    refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ])
}

#[test]
fn a_link_in_place_of_a_data_file_is_refused_and_what_it_points_to_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, name) in [
        "uptimeping.db",
        "uptimeping.db-wal",
        "uptimeping.lock",
        "admin.key",
    ]
    .into_iter()
    .enumerate()
    {
        let data = tmp.path().join(format!("data{i}"));
        std::fs::create_dir(&data).unwrap();
        let victim = tmp.path().join(format!("victim{i}"));
        std::fs::write(&victim, "keep me\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = data.join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let (code, stderr) = refused_on(&data);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("`{}` is a symbolic link", link.display())),
            "{name}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "keep me\n",
            "{name}"
        );
        assert_eq!(mode(&victim), 0o644, "{name}");
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with("-wal") || n.ends_with("-shm"))
            .collect();
        assert!(
            names.is_empty(),
            "{name}: SQLite files beside the victim: {names:?}"
        );
    }
}

#[test]
fn a_deleted_lock_file_does_not_let_a_second_daemon_start() {
    let first = Daemon::start(&[]);
    std::fs::remove_file(first.data_dir.join("uptimeping.lock")).unwrap();
    let (code, stderr) = refused_on(&first.data_dir);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("another uptimeping daemon is using the data directory"),
        "{stderr}"
    );
    assert_eq!(
        first.call("GET", "/readyz", None).0,
        200,
        "the first runs on"
    );
}

const NOBODY: u32 = 65534;

#[test]
fn a_data_directory_or_file_another_user_owns_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&open, Some(NOBODY), None).unwrap();
    let (code, stderr) = refused_on(&open);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("belongs to uid 65534"), "{stderr}");
    assert_eq!(mode(&open), 0o777, "left as it is");
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        0,
        "nothing written in it"
    );

    // The same through a link, as one in a shared directory would be.
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&open, &link).unwrap();
    let (code, stderr) = refused_on(&link);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("belongs to uid 65534"), "{stderr}");

    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    let db = mine.join("uptimeping.db");
    std::fs::write(&db, "").unwrap();
    std::os::unix::fs::chown(&db, Some(NOBODY), None).unwrap();
    let (code, stderr) = refused_on(&mine);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("`{}` belongs to uid 65534", db.display())),
        "{stderr}"
    );
}

#[test]
fn a_start_that_fails_removes_the_parent_directories_it_created() {
    let tmp = tempfile::tempdir().unwrap();
    // A full disk: the directories can be made, but not the files in them.
    let disk = SmallDisk::mount(&tmp.path().join("disk"));
    let filler = disk.fill();
    let (code, stderr) = refused_on(&disk.dir.join("x/y/data"));
    assert_eq!(code, 1, "{stderr}");
    std::fs::remove_file(filler).unwrap();
    let left: Vec<_> = std::fs::read_dir(&disk.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind {left:?}: {stderr}");
}

/// Huge pages would make every first touch of memory zero 2 MiB and count it whole
/// as resident; the daemon runs without them, whatever the kernel's default.
#[cfg(target_os = "linux")]
#[test]
fn the_daemon_runs_without_transparent_huge_pages() {
    let d = Daemon::start(&[]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.child.id())).unwrap();
    let thp = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled in /proc/PID/status:\n{status}"));
    assert_eq!(thp.trim(), "0", "{status}");
    let mine = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        mine.lines().any(|l| l == "THP_enabled:\t1"),
        "the test process itself has huge pages, so the daemon's 0 is its own doing:\n{mine}"
    );
}

#[test]
fn a_second_daemon_by_the_same_node_name_is_refused_and_no_password_is_shown() {
    let url = crate::postgres_server::fresh_database();
    let url = url.replacen("uptimeping@", "uptimeping:hunter2-not-shown@", 1);
    let first = Daemon::start(&["--store", &url, "--node", "web-1"]);
    let other = tempfile::tempdir().expect("tempdir");
    let data = other.path().join("data");
    let (code, stderr) = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--store",
        &url,
        "--node",
        "web-1",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let shown = url.rsplit('@').next().unwrap();
    assert!(
        stderr.contains(&format!(
            "another uptimeping daemon is running as node `web-1` on the database {shown}; give this one another name with --node"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        first.logs().contains(&format!("database={shown}")),
        "{}",
        first.logs()
    );
    assert_eq!(
        first.call("GET", "/readyz", None).0,
        200,
        "the first runs on"
    );
    // Its state is in PostgreSQL: no SQLite database in its data directory.
    assert!(
        !first.data_dir.join("uptimeping.db").exists(),
        "{:?}",
        std::fs::read_dir(&first.data_dir)
            .unwrap()
            .collect::<Vec<_>>()
    );

    // Another name, but a signing key of its own (a fresh `jwt.key`): its logins
    // would be refused by the first and the first's by it, so it stops.
    let web2 = ["--store", url.as_str(), "--node", "web-2"];
    let mut flags = vec![
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    flags.extend(web2);
    let (code, stderr) = refused(&flags);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "this node signs access tokens with another key than the running nodes (web-1)"
        ) && stderr.contains("UPTIMEPING_JWT_SECRET"),
        "{stderr}"
    );
    // Another key agreed behind the first's back (as when one started while the
    // first's heartbeats failed): the first says it is out of step, until the
    // agreed key is its own again.
    let db = url.rsplit('/').next().unwrap();
    let server = crate::postgres_server::shared();
    let agreed = server.psql(db, "SELECT key_fingerprint FROM cluster_state");
    server.psql(db, "UPDATE cluster_state SET key_fingerprint = 'another'");
    let d = &first;
    let ready = |want: u16| {
        move || {
            let (code, body) = d.call("GET", "/readyz", None);
            (code == want).then_some(body)
        }
    };
    let body = crate::daemon_support::wait_for("readyz to say out of step", ready(503));
    assert_eq!(body["status"], "out of step with the cluster", "{body}");
    assert!(
        first
            .logs()
            .contains("restart this node with the key they use")
    );
    server.psql(
        db,
        &format!("UPDATE cluster_state SET key_fingerprint = '{agreed}'"),
    );
    crate::daemon_support::wait_for("readyz to recover", ready(200));

    let admin_key = std::fs::read(first.data_dir.join("admin.key")).unwrap();
    let (code, logs) = first.terminate();
    assert_eq!(code, 0, "{logs}");
    assert!(!logs.contains("hunter2"), "{logs}");

    // With no node running, its key is a rotation: taken, and said so.
    std::fs::write(data.join("admin.key"), admin_key).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(data.join("admin.key"), private).unwrap();
    }
    let second = Daemon::start_on(&data, &web2);
    let (code, logs) = second.terminate();
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("it is the cluster's key from now on"),
        "{logs}"
    );
}

#[test]
fn a_store_that_is_not_sqlite_nor_a_reachable_postgres_url_stops_the_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data = data.to_str().unwrap();
    let (code, stderr) = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--store",
        "mysql://db/x",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--store takes `sqlite` (the default: a database in the data directory) or a postgres://USER@HOST/DATABASE URL"),
        "{stderr}"
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://u:hunter2-not-shown@127.0.0.1:{free}/x");
    let (code, stderr) = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--store",
        &url,
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("opening the PostgreSQL store"), "{stderr}");
    assert!(stderr.to_lowercase().contains("connect"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
