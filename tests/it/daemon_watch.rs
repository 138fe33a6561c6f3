//! Watch mode: a directory applied at start and on every change; a broken change
//! is logged with its position and changes nothing.

use serde_json::Value;

use crate::daemon_support::{Daemon, wait_for};

const CHECK: &str = "kind: Check\nname: watched\ntype: http\ntarget: http://127.0.0.1:9/health\nschedule: 1h\ntimeout: 5s\n";

fn timeout_of(d: &Daemon) -> Option<Value> {
    let (status, body) = d.call("GET", "/api/v1/checks/watched", None);
    (status == 200).then(|| body["spec"]["timeout"].clone())
}

#[test]
fn watch_mode_applies_edits_and_survives_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(&file, CHECK).unwrap();
    let d = Daemon::start(&["--watch", dir.path().to_str().unwrap()]);
    wait_for("the initial apply", || timeout_of(&d).filter(|t| t == "5s"));
    let source = d.get("/api/v1/checks/watched")["source"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(source, format!("watch:{}", dir.path().display()));

    std::fs::write(&file, CHECK.replace("timeout: 5s", "timeout: 7s")).unwrap();
    wait_for("the edit to be applied", || {
        timeout_of(&d).filter(|t| t == "7s")
    });

    std::fs::write(
        &file,
        CHECK.replace("timeout: 5s", "timeout: 7s\ntiemout: 3s"),
    )
    .unwrap();
    let line = d.wait_log("unknown field `tiemout`");
    assert!(line.contains(&format!("{}:7:1:", file.display())), "{line}");
    d.wait_log("not applied; the running state is unchanged");
    assert_eq!(timeout_of(&d), Some(Value::from("7s")));
    assert_eq!(
        d.call("GET", "/healthz", None).0,
        200,
        "the daemon keeps running"
    );

    // Removing the file's check prunes it: the watched directory is the whole truth.
    std::fs::write(&file, "kind: Template\nname: only\nbody: hi\n").unwrap();
    wait_for("the check to be pruned", || {
        (d.call("GET", "/api/v1/checks/watched", None).0 == 404).then_some(())
    });
}
