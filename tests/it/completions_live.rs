//! Live completions: the binary run the way a shell runs it at <TAB>
//! (`UPTIMEPING_COMPLETE=bash`, the line after `--`) offers the names a real daemon knows,
//! and offers nothing, quickly and silently, when that daemon cannot tell it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::daemon_support::{Daemon, cli};
use super::fake_daemon::FakeDaemon;
use super::support::uptimeping;

/// Far above the completion timeout: enough to prove that nothing hangs on a
/// loaded machine, without asserting on speed.
const NO_HANG: Duration = Duration::from_secs(10);

/// When a completion that still runs is killed, so that a hang fails the test
/// instead of blocking the suite.
const GIVE_UP: Duration = Duration::from_secs(30);

/// `cmd`'s output, or a failed test if it is still running after `limit`.
fn output_within(cmd: &mut std::process::Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run uptimeping");
    let start = Instant::now();
    while child.try_wait().expect("wait for uptimeping").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the completion still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("read uptimeping's output")
}

struct Completed {
    candidates: Vec<String>,
    stderr: String,
    code: i32,
    took: Duration,
}

/// Completes the last of `words` (after `uptimeping`) as bash's registration
/// script would, with only `env` telling the binary where the daemon is and a
/// config directory under `home`.
fn complete(home: &Path, env: &[(&str, &str)], words: &[&str]) -> Completed {
    let mut line = vec!["uptimeping"];
    line.extend_from_slice(words);
    let mut cmd = uptimeping();
    cmd.arg("--")
        .args(&line)
        .env("UPTIMEPING_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (line.len() - 1).to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .env_remove("UPTIMEPING_URL")
        .env_remove("UPTIMEPING_API_KEY")
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .current_dir(home)
        .envs(env.iter().copied());
    let start = Instant::now();
    let out = output_within(&mut cmd, GIVE_UP);
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // At an empty word clap offers the flags too; those are not the daemon's.
    let typed_nothing = line.last().is_some_and(|w| w.is_empty());
    Completed {
        candidates: stdout
            .split('\n')
            .filter(|c| !(c.is_empty() || (typed_nothing && c.starts_with('-'))))
            .map(str::to_string)
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
        took,
    }
}

/// A daemon with checks `pay-api`, `pay-web`, `web-home` (down, with an open
/// incident) and channel `oncall-hook`; returns it and the incident's id.
fn daemon_with_names(dir: &Path) -> (Daemon, i64) {
    let d = Daemon::start(&[]);
    let port = crate::servers::closed_port();
    let check = |name: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: http\ntarget: http://127.0.0.1:{port}/\nschedule: 1h\nalert: {{failure_threshold: 1}}\n"
        )
    };
    let channel = format!(
        "kind: Channel\nname: oncall-hook\ntype: webhook\nwebhook: {{url: \"http://127.0.0.1:{port}/hook\"}}\n"
    );
    let docs = [
        check("pay-api"),
        check("pay-web"),
        check("web-home"),
        channel,
    ];
    std::fs::write(dir.join("c.yaml"), docs.join("---\n")).unwrap();
    let applied = cli(
        &d,
        dir,
        &["apply", "-f", "c.yaml", "--source", "s", "--auto-approve"],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(cli(&d, dir, &["checks", "run", "web-home"]).code, 2);
    let list = cli(&d, dir, &["incidents", "list", "-o", "json"]);
    let id = list.json()[0]["id"].as_i64().unwrap();
    (d, id)
}

#[test]
fn names_come_from_the_daemon_of_the_environment_filtered_by_what_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let (d, id) = daemon_with_names(dir.path());
    let env = [
        ("UPTIMEPING_URL", d.url.as_str()),
        ("UPTIMEPING_API_KEY", d.key.as_str()),
    ];
    let got = |words: &[&str]| {
        let c = complete(dir.path(), &env, words);
        assert_eq!((c.code, c.stderr.as_str()), (0, ""), "{words:?}");
        c.candidates
    };
    let timed = complete(dir.path(), &env, &["checks", "get", ""]);
    eprintln!(
        "live completion against a daemon with 3 checks took {:?}",
        timed.took
    );
    let all = got(&["checks", "get", ""]);
    for name in ["pay-api", "pay-web", "web-home"] {
        assert!(all.contains(&name.to_string()), "{all:?}");
    }
    assert_eq!(got(&["checks", "get", "pay"]), ["pay-api", "pay-web"]);
    assert_eq!(got(&["checks", "history", "pay-w"]), ["pay-web"]);
    assert_eq!(
        got(&["checks", "pause", "nothing-like-it"]),
        Vec::<String>::new()
    );
    assert_eq!(got(&["report", "--check", "we"]), ["web-home"]);
    assert_eq!(
        got(&["incidents", "list", "--check=pay-a"]),
        ["--check=pay-api"]
    );
    assert_eq!(got(&["channels", "test", "on"]), ["oncall-hook"]);
    assert_eq!(got(&["channels", "get", "oncall"]), ["oncall-hook"]);

    // Incidents by id, typed as lists print them (`#42`) or bare, and offered
    // bare (an unquoted `#42` is a comment to bash); ack offers open ones,
    // resolve those not resolved yet, get every one.
    let id_text = id.to_string();
    for cmd in ["get", "ack", "resolve"] {
        assert_eq!(
            got(&["incidents", cmd, &id_text]),
            [id_text.as_str()],
            "{cmd}"
        );
        assert_eq!(got(&["incidents", cmd, "#"]), [id_text.as_str()], "{cmd}");
        assert_eq!(
            got(&["incidents", cmd, &format!("#{id_text}")]),
            [id_text.as_str()],
            "{cmd}"
        );
    }
    assert_eq!(cli(&d, dir.path(), &["incidents", "ack", &id_text]).code, 0);
    assert_eq!(got(&["incidents", "ack", ""]), Vec::<String>::new());
    assert_eq!(got(&["incidents", "resolve", ""]), [id_text.as_str()]);
    assert_eq!(
        cli(&d, dir.path(), &["incidents", "resolve", &id_text]).code,
        0
    );
    assert_eq!(got(&["incidents", "resolve", ""]), Vec::<String>::new());
    assert_eq!(got(&["incidents", "get", ""]), [id_text]);
}

#[test]
fn names_come_from_the_daemon_the_line_or_a_context_names() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = daemon_with_names(dir.path());
    let home = dir.path();
    // Flags on the line being completed, in either spelling.
    let line = complete(
        home,
        &[],
        &[
            "checks",
            "get",
            "--url",
            &d.url,
            &format!("--api-key={}", d.key),
            "pay",
        ],
    );
    assert_eq!(line.candidates, ["pay-api", "pay-web"], "{}", line.stderr);
    // The current context, and another one chosen with --context.
    let key_file = home.join("admin.key");
    std::fs::write(&key_file, &d.key).unwrap();
    let closed = format!("http://127.0.0.1:{}", crate::servers::closed_port());
    let set = |args: &[&str]| {
        let r = uptimeping()
            .args(["context", "set"])
            .args(args)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    set(&[
        "prod",
        "--url",
        &d.url,
        "--api-key-file",
        key_file.to_str().unwrap(),
    ]);
    set(&["parked", "--url", &closed, "--api-key", "k"]);
    assert_eq!(
        complete(home, &[], &["channels", "get", ""]).candidates,
        ["oncall-hook"]
    );
    let used = uptimeping()
        .args(["context", "use", "parked"])
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .output()
        .unwrap();
    assert!(used.status.success());
    let parked = complete(home, &[], &["checks", "get", "pay"]);
    assert_eq!((parked.candidates.len(), parked.stderr.as_str()), (0, ""));
    let chosen = complete(home, &[], &["checks", "get", "--context", "prod", "pay"]);
    assert_eq!(
        chosen.candidates,
        ["pay-api", "pay-web"],
        "{}",
        chosen.stderr
    );

    // Context names themselves come from the config file.
    for words in [
        &["context", "use", "p"][..],
        &["context", "delete", "p"],
        &["context", "set", "p"],
        &["checks", "list", "--context", "p"],
    ] {
        assert_eq!(
            complete(home, &[], words).candidates,
            ["parked", "prod"],
            "{words:?}"
        );
    }
    assert_eq!(
        complete(home, &[], &["context", "use", "pr"]).candidates,
        ["prod"]
    );
}

#[test]
fn a_daemon_that_refuses_the_key_gives_no_names_and_no_message() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = daemon_with_names(dir.path());
    let env = [
        ("UPTIMEPING_URL", d.url.as_str()),
        ("UPTIMEPING_API_KEY", "not-the-key"),
    ];
    for words in [
        &["checks", "get", "pay"][..],
        &["channels", "test", "on"],
        &["incidents", "get", "1"],
    ] {
        let c = complete(dir.path(), &env, words);
        assert_eq!(
            (c.code, c.candidates.len(), c.stderr.as_str()),
            (0, 0, ""),
            "{words:?}: {:?}",
            c.candidates
        );
    }
}

#[test]
fn an_unreachable_or_silent_daemon_gives_no_names_quickly_and_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("http://127.0.0.1:{}", crate::servers::closed_port());
    let hanging = crate::servers::hanging();
    let silent = format!("http://{}", hanging.addr);
    for (what, url) in [("refused", closed.as_str()), ("silent", silent.as_str())] {
        let env = [("UPTIMEPING_URL", url), ("UPTIMEPING_API_KEY", "k")];
        let c = complete(dir.path(), &env, &["checks", "get", "pay"]);
        eprintln!("live completion against a {what} daemon took {:?}", c.took);
        assert_eq!(
            (c.code, c.candidates.len(), c.stderr.as_str()),
            (0, 0, ""),
            "{what}: {:?}",
            c.candidates
        );
        assert!(c.took < NO_HANG, "{what}: took {:?}", c.took);
    }
    assert!(
        hanging.connections() > 0,
        "the silent daemon was never asked"
    );
    // Nothing configured at all: still nothing, and silent.
    let none = complete(dir.path(), &[], &["checks", "get", "pay"]);
    assert_eq!((none.candidates.len(), none.stderr.as_str()), (0, ""));
}

#[test]
fn names_a_shell_cannot_take_are_dropped_and_long_lists_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeDaemon::start();
    let mut checks: Vec<_> = [
        "pay\u{1b}]0;owned\u{7}",
        "pay\nrm -rf",
        "pay api",
        // bash inserts candidates unquoted: shell syntax, globs and invisible
        // or look-alike characters must not reach the line.
        "pay;touch${IFS}/tmp/PWNED",
        "pay*",
        "pay$(id)",
        "pay`id`",
        "pay'q",
        "pay\"q",
        "pay\u{202e}gpj.exe",
        "pay\u{200b}",
        "pay-\u{430}pi",
        "Pay-api",
    ]
    .iter()
    .map(|n| json!({"name": n, "type": "http", "state": "up"}))
    .collect();
    checks.push(json!({"name": "pay-ok", "type": "http\u{1b}[31m", "state": "up"}));
    checks.extend((0..900).map(|i| json!({"name": format!("bulk-{i:04}")})));
    fake.on("GET", "/api/v1/checks", 200, json!(checks));
    let url = fake.url();
    let env = [
        ("UPTIMEPING_URL", url.as_str()),
        ("UPTIMEPING_API_KEY", "k"),
    ];
    let hostile_channels: Vec<_> = ["on;id", "on$(id)", "on*", "oncall"]
        .iter()
        .map(|n| json!({"name": n, "type": "webhook"}))
        .collect();
    fake.on("GET", "/api/v1/channels", 200, json!(hostile_channels));
    let pay = complete(dir.path(), &env, &["checks", "get", "pay"]);
    assert_eq!(pay.candidates, ["pay-ok"], "{}", pay.stderr);
    let on = complete(dir.path(), &env, &["channels", "test", "on"]);
    assert_eq!(on.candidates, ["oncall"], "{}", on.stderr);
    let bulk = complete(dir.path(), &env, &["checks", "get", "bulk"]);
    assert_eq!(bulk.candidates.len(), 500, "MAX_CANDIDATES");
    assert_eq!(bulk.candidates[0], "bulk-0000");
    // zsh shows descriptions: the escape sequence in the type is not passed on.
    let zsh = uptimeping()
        .args(["--", "uptimeping", "checks", "get", "pay-"])
        .env("UPTIMEPING_COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .env("_CLAP_IFS", "\n")
        .env("UPTIMEPING_URL", &url)
        .env("UPTIMEPING_API_KEY", "k")
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&zsh.stdout);
    assert!(shown.starts_with("pay-ok:http[31m up"), "{shown:?}");
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
}

#[test]
fn without_the_variable_the_command_runs_as_ever() {
    let dir = tempfile::tempdir().unwrap();
    // Unset, off, a value naming no shell, or a generic `COMPLETE` that some
    // other tool set: the command runs (and fails for want of a daemon).
    let cases: [&[(&str, &str)]; 6] = [
        &[],
        &[("UPTIMEPING_COMPLETE", "")],
        &[("UPTIMEPING_COMPLETE", "0")],
        &[("UPTIMEPING_COMPLETE", "1")],
        &[("UPTIMEPING_COMPLETE", "tcsh")],
        &[("COMPLETE", "bash")],
    ];
    for env in cases {
        let mut cmd = uptimeping();
        cmd.args(["checks", "get", "pay"])
            .env_remove("UPTIMEPING_URL")
            .env_remove("UPTIMEPING_API_KEY")
            .env_remove("UPTIMEPING_COMPLETE")
            .env_remove("COMPLETE")
            .env("XDG_CONFIG_HOME", dir.path().join(".config"))
            .envs(env.iter().copied());
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no daemon to talk to"), "{env:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{env:?}");
    }
    // A shell's variable on an ordinary command line (no `--`) runs it too.
    let ordinary = uptimeping()
        .args(["schema"])
        .env("UPTIMEPING_COMPLETE", "bash")
        .output()
        .unwrap();
    assert_eq!(ordinary.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ordinary.stdout).contains("\"$schema\""));
    // The registration script, only for the program's own variable.
    let script = uptimeping()
        .env("UPTIMEPING_COMPLETE", "bash")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&script.stdout).contains("complete -o nospace"));
    assert!(String::from_utf8_lossy(&script.stdout).contains("UPTIMEPING_COMPLETE"));
    let generic = uptimeping()
        .env_remove("UPTIMEPING_COMPLETE")
        .env("COMPLETE", "bash")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&generic.stdout).contains("complete -o nospace"));
}

/// A config whose current context `prod` points at `d` with its key in the
/// file `key_file`, padded with comments to at least `size` bytes.
fn write_config(home: &Path, url: &str, key_file: &Path, size: usize) {
    let dir = home.join(".config/uptimeping");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!(
        "current = \"prod\"\n\n[contexts.prod]\nurl = \"{url}\"\napi_key_file = \"{}\"\n",
        key_file.display()
    );
    while text.len() < size {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

#[test]
fn config_and_key_files_that_are_no_small_regular_files_give_no_names_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = daemon_with_names(dir.path());
    let home = dir.path();
    let key_file = home.join("admin.key");
    std::fs::write(&key_file, &d.key).unwrap();
    // The same config, small: names come (so the cases below fail only for
    // what they change).
    write_config(home, &d.url, &key_file, 0);
    let small = complete(home, &[], &["checks", "get", "pay"]);
    assert_eq!(small.candidates, ["pay-api", "pay-web"], "{}", small.stderr);
    // A 12 MB config: not read at all.
    write_config(home, &d.url, &key_file, 12 * 1024 * 1024);
    let huge = complete(home, &[], &["checks", "get", "pay"]);
    eprintln!("live completion with a 12 MB config took {:?}", huge.took);
    assert_eq!(
        (huge.code, huge.candidates.len(), huge.stderr.as_str()),
        (0, 0, ""),
        "{:?}",
        huge.candidates
    );
    // A FIFO as the key file: opening it would wait for a writer for ever.
    let fifo = home.join("key.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo is needed for this test (coreutils)");
    assert!(made.success());
    write_config(home, &d.url, &fifo, 0);
    let blocked = complete(home, &[], &["checks", "get", "pay"]);
    eprintln!(
        "live completion with a FIFO key file took {:?}",
        blocked.took
    );
    assert_eq!(
        (
            blocked.code,
            blocked.candidates.len(),
            blocked.stderr.as_str()
        ),
        (0, 0, "")
    );
    assert!(blocked.took < NO_HANG, "took {:?}", blocked.took);
    // A key file too large to be a key.
    let big_key = home.join("big.key");
    std::fs::write(&big_key, "k".repeat(64 * 1024)).unwrap();
    write_config(home, &d.url, &big_key, 0);
    let big = complete(home, &[], &["checks", "get", "pay"]);
    assert_eq!((big.candidates.len(), big.stderr.as_str()), (0, ""));
}

#[test]
fn pages_too_large_or_longer_than_asked_give_no_names() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeDaemon::start();
    let url = fake.url();
    let env = [
        ("UPTIMEPING_URL", url.as_str()),
        ("UPTIMEPING_API_KEY", "k"),
    ];
    // Fewer than a page's worth, but over the completion's answer size.
    let huge: Vec<_> = (0..900)
        .map(|i| json!({"name": format!("big-{i:04}"), "type": "x".repeat(2000)}))
        .collect();
    fake.on("GET", "/api/v1/checks", 200, json!(huge));
    let big = complete(dir.path(), &env, &["checks", "get", "big"]);
    eprintln!("live completion against a ~1.8 MB page took {:?}", big.took);
    assert_eq!(
        (big.code, big.candidates.len(), big.stderr.as_str()),
        (0, 0, "")
    );
    // Small, but more items than the `limit` asked for (at most 1000).
    let long: Vec<_> = (0..1500)
        .map(|i| json!({"name": format!("c-{i:04}")}))
        .collect();
    fake.on("GET", "/api/v1/checks", 200, json!(long));
    let over = complete(dir.path(), &env, &["checks", "get", "c-"]);
    assert_eq!(
        (over.code, over.candidates.len(), over.stderr.as_str()),
        (0, 0, "")
    );
    assert!(
        fake.received().iter().any(|r| r.uri.contains("limit=1000")),
        "{:?}",
        fake.received()
    );
}

#[test]
fn bash_completes_check_names_through_the_script_the_binary_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = daemon_with_names(dir.path());
    let bin = env!("CARGO_BIN_EXE_uptimeping");
    // What `source <(UPTIMEPING_COMPLETE=bash uptimeping)` in ~/.bashrc sets up, then what
    // bash does at `uptimeping checks get pay<TAB>`.
    let script = format!(
        "source <(UPTIMEPING_COMPLETE=bash '{bin}')\n\
         COMP_WORDS=(uptimeping checks get pay); COMP_CWORD=3; COMP_TYPE=9\n\
         _clap_complete_uptimeping uptimeping pay get\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .env("UPTIMEPING_URL", &d.url)
        .env("UPTIMEPING_API_KEY", &d.key)
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .env("NO_COLOR", "1")
        .output()
        .expect("bash is needed for this test: install bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pay-api\npay-web\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
