//! Every ```sh block of README.md runs as written from a fresh copy of the
//! repository, with the built binary on PATH as `uptimeping`.
//!
//! How the commands are run, and the only rewrite made to them:
//!
//! - The repository is copied to a temporary directory (without `target/`, `.git/`
//!   and what a previous run of the quick start leaves: `data/`, `checks/`), and
//!   every command runs there with a fresh `HOME` and no `UPTIMEPING_*` variables.
//! - The one `uptimeping daemon …` command (the quick start's) is started first
//!   and left running, as its first terminal would be; once it has applied its
//!   `--watch` directory (its log says so), the other commands run
//!   in README order in one `sh`, so that an `export` carries over to later blocks.
//! - The address `127.0.0.1:8080` is the one rewrite: in the daemon's command it
//!   becomes `127.0.0.1:0` (a free port, chosen by the system), and everywhere else
//!   the address the daemon says it listens on.
//! - Each command must exit 0 unless [`EXPECTED`] says otherwise; the commands in
//!   [`SKIPPED`] are not run, each for the reason given. Both lists must match
//!   commands of the README, so that neither outlives what it is about.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::daemon_support::PATIENCE;

/// The address the README's examples use for the daemon.
const README_ADDR: &str = "127.0.0.1:8080";

/// Longest the README's commands may take together: a few seconds each, at most.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);

/// Commands not run, by a prefix of their text, with why.
const SKIPPED: &[(&str, &str)] = &[
    (
        "cargo ",
        "builds, benchmarks and the test suite itself: this test runs inside `cargo test`, and puts the built binary on PATH instead of `cargo install`",
    ),
    (
        "scripts/test",
        "the test suite itself (cargo test), which this test runs inside",
    ),
    (
        "UPDATE_GOLDEN=1 cargo ",
        "the test suite itself, rewriting golden files",
    ),
    (
        "scripts/update-completions.sh",
        "runs `cargo build`; tests/it/completions.rs checks what it writes",
    ),
    (
        "sudo ",
        "installs a release's package or manages its systemd service: needs root, the package and systemd; tests/it/packaging.rs builds and checks the packages",
    ),
    (
        "createdb ",
        "creates a database on a PostgreSQL server the reader runs; tests/it/daemon_postgres.rs and tests/it/on_postgres.rs run daemons on one",
    ),
    (
        "UPTIMEPING_STORE=postgres://",
        "starts a daemon on that PostgreSQL server, which this machine need not have; tests/it/daemon_postgres.rs does it on a server of its own",
    ),
    (
        "brew ",
        "installs from a Homebrew tap of a published release: needs Homebrew and the internet",
    ),
    (
        "choco ",
        "installs a published Chocolatey package: needs Windows and the internet",
    ),
    (
        "docker ",
        "needs a Docker engine (none runs in the tests) and, for `run`, a published image; tests/it/packaging.rs lints the Dockerfile and runs its health check",
    ),
    (
        "curl -s \"https://api.telegram.org/",
        "registers a webhook with Telegram's servers: needs a real bot token and the internet",
    ),
];

/// Commands that exit with something else than 0, by a part of their text, with why.
const EXPECTED: &[(&str, i32, &str)] = &[
    (
        "uptimeping test -f examples/checks/",
        2,
        "the examples probe made-up hosts, so some checks are down",
    ),
    (
        "uptimeping plan -f checks/ --detailed-exitcode",
        2,
        "the quick start's first plan has a check to add",
    ),
    (
        "--interactive",
        1,
        "asks on a terminal; without one it fails and names the flags",
    ),
];

/// One command of a block: its text (continuation lines and heredocs included) and
/// the README line it starts on.
#[derive(Debug, Clone)]
struct Command {
    line: usize,
    text: String,
}

/// The commands of every ```sh block, in order. Comment-only and empty lines are
/// left out; a line ending in `\` continues on the next; a heredoc runs to its
/// end marker.
fn sh_commands(readme: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut current: Option<Command> = None;
    let mut heredoc_end: Option<String> = None;
    for (i, line) in readme.lines().enumerate() {
        let number = i + 1;
        if !in_block {
            in_block = line.trim_end() == "```sh";
            continue;
        }
        if heredoc_end.is_none() && current.is_none() && line.starts_with("```") {
            in_block = false;
            continue;
        }
        if let Some(end) = &heredoc_end {
            let cmd = current.as_mut().expect("a heredoc belongs to a command");
            cmd.text.push('\n');
            cmd.text.push_str(line);
            if line == end {
                heredoc_end = None;
                commands.extend(current.take());
            }
            continue;
        }
        let trimmed = line.trim();
        if current.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let cmd = current.get_or_insert_with(|| Command {
            line: number,
            text: String::new(),
        });
        if !cmd.text.is_empty() {
            cmd.text.push('\n');
        }
        cmd.text.push_str(line);
        if let Some(end) = heredoc_marker(line) {
            heredoc_end = Some(end);
        } else if !line.trim_end().ends_with('\\') && !in_quotes(&cmd.text) {
            commands.extend(current.take());
        }
    }
    assert!(
        current.is_none() && heredoc_end.is_none(),
        "README.md ends inside a command"
    );
    commands
}

/// Whether `text` ends inside a quoted string (which then goes on on the next
/// line), as `sh` reads quotes: `'…'` literally, `"…"` with `\\` escapes, and a
/// `#` starting a word outside quotes comments out the rest of its line.
fn in_quotes(text: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    let mut word_start = true;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"') | None, '\\') => {
                chars.next();
            }
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if word_start => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            (None, _) => {}
        }
        word_start = c.is_whitespace();
    }
    quote.is_some()
}

/// `EOF` for a line with `<<'EOF'`, `<<"EOF"` or `<<EOF`.
fn heredoc_marker(line: &str) -> Option<String> {
    let rest = line
        .split_once("<<")?
        .1
        .trim_start_matches('-')
        .trim_start();
    let word: String = rest
        .trim_matches(|c| c == '\'' || c == '"')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

fn skip_reason(cmd: &Command) -> Option<&'static str> {
    SKIPPED
        .iter()
        .find(|(prefix, _)| cmd.text.starts_with(prefix))
        .map(|(_, why)| *why)
}

fn expected_code(cmd: &Command) -> i32 {
    EXPECTED
        .iter()
        .find(|(part, _, _)| cmd.text.contains(part))
        .map_or(0, |(_, code, _)| *code)
}

/// Copies the repository as a fresh clone has it.
fn copy_repo(from: &Path, to: &Path) {
    const LEFT_OUT: &[&str] = &["target", ".git", "data", "checks"];
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if LEFT_OUT.iter().any(|n| name == *n) {
            continue;
        }
        copy_tree(&entry.path(), &to.join(&name));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let meta = std::fs::symlink_metadata(from).unwrap();
    if meta.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else if meta.is_file() {
        std::fs::copy(from, to).unwrap();
    }
}

/// The quick start's daemon, killed when dropped.
struct QuickStartDaemon {
    child: Child,
    addr: String,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl QuickStartDaemon {
    fn start(cmd: &Command, dir: &Path, env: &[(String, String)]) -> QuickStartDaemon {
        let words: Vec<&str> = cmd.text.split_whitespace().collect();
        assert_eq!(words[..2], ["uptimeping", "daemon"], "{cmd:?}");
        assert!(
            !cmd.text.contains(['\\', '#', '$', '\'', '"']),
            "the quick start's daemon command is run without a shell; keep it plain: {cmd:?}"
        );
        let args = words[1..]
            .iter()
            .map(|w| w.replace(README_ADDR, "127.0.0.1:0"));
        let mut child = crate::support::uptimeping()
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the quick start's daemon");
        let stderr = child.stderr.take().expect("stderr");
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&logs);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    let _ = tx.send(line[i + "listening on http://".len()..].trim().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let Ok(addr) = rx.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            panic!(
                "README.md:{}: the daemon did not start; its log:\n{}",
                cmd.line,
                logs.lock().unwrap().join("\n")
            );
        };
        // The watched directory is applied once at start; a plan made before that
        // lands would be refused as out of date, as it would be for someone who
        // types faster than the daemon starts.
        if cmd.text.contains("--watch") {
            let started = Instant::now();
            while !logs.lock().unwrap().iter().any(|l| l.contains("applied: ")) {
                if started.elapsed() > PATIENCE {
                    let _ = child.kill();
                    panic!(
                        "README.md:{}: the daemon did not apply its --watch directory; its log:\n{}",
                        cmd.line,
                        logs.lock().unwrap().join("\n")
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        QuickStartDaemon { child, addr, logs }
    }
}

impl Drop for QuickStartDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `sh` script running `commands` in order, each followed by a check of its
/// exit status that stops the script with status 100 and names the README line.
fn script(commands: &[Command], addr: &str) -> String {
    let mut text = String::new();
    for cmd in commands {
        let expected = expected_code(cmd);
        text.push_str(&format!("echo '+ README.md:{}' >&2\n", cmd.line));
        text.push_str(&cmd.text.replace(README_ADDR, addr));
        text.push_str(&format!(
            "\n__status=$?\nif [ \"$__status\" -ne {expected} ]; then echo \"README.md:{}: exited $__status, expected {expected}\" >&2; exit 100; fi\n",
            cmd.line
        ));
    }
    text
}

#[test]
fn every_sh_block_of_the_readme_runs_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = sh_commands(&readme);

    for (prefix, why) in SKIPPED {
        assert!(
            commands.iter().any(|c| c.text.starts_with(prefix)),
            "SKIPPED lists `{prefix}` ({why}), which no README command starts with any more"
        );
    }
    for (part, _, why) in EXPECTED {
        assert!(
            commands
                .iter()
                .any(|c| skip_reason(c).is_none() && c.text.contains(part)),
            "EXPECTED lists `{part}` ({why}), which no README command run holds any more"
        );
    }
    let (daemons, run): (Vec<Command>, Vec<Command>) = commands
        .into_iter()
        .filter(|c| skip_reason(c).is_none())
        .partition(|c| c.text.starts_with("uptimeping daemon "));
    let [daemon] = daemons.as_slice() else {
        panic!("expected one `uptimeping daemon` command in README.md, found {daemons:?}");
    };
    assert!(
        daemon.text.contains(README_ADDR),
        "the quick start's daemon must listen on {README_ADDR}, the address the other commands use: {daemon:?}"
    );

    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("uptimeping");
    let home = work.path().join("home");
    let bin = work.path().join("bin");
    for dir in [&repo, &home, &bin] {
        std::fs::create_dir_all(dir).unwrap();
    }
    copy_repo(&root, &repo);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_uptimeping"), bin.join("uptimeping")).unwrap();
    let path = match std::env::var_os("PATH") {
        Some(p) => format!("{}:{}", bin.display(), p.to_string_lossy()),
        None => bin.display().to_string(),
    };
    let env: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("HOME".into(), home.display().to_string()),
        (
            "XDG_CONFIG_HOME".into(),
            home.join(".config").display().to_string(),
        ),
        ("NO_COLOR".into(), "1".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];

    let d = QuickStartDaemon::start(daemon, &repo, &env);
    let text = script(&run, &d.addr);
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&text)
        .current_dir(&repo)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sh");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > SCRIPT_DEADLINE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the README's commands stopped (after {:?}):\nstderr:\n{stderr}\nstdout:\n{}\ndaemon log:\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stdout),
        d.logs.lock().unwrap().join("\n")
    );
    eprintln!(
        "ran {} README commands in {:?}",
        run.len(),
        started.elapsed()
    );
}

#[test]
fn readme_commands_are_split_at_lines_continuations_and_heredocs() {
    let text = "intro\n```sh\n# a comment\na --x   # it's a note\nb \\\n  c\ncat > f <<'EOF'\nkind: Check\nEOF\n\nd -d '{\n  \"a\": \"x\\\"y\"}'\n```\n```yaml\nnot: run\n```\n";
    let got: Vec<(usize, String)> = sh_commands(text)
        .into_iter()
        .map(|c| (c.line, c.text))
        .collect();
    assert_eq!(
        got,
        [
            (4, "a --x   # it's a note".to_string()),
            (5, "b \\\n  c".into()),
            (7, "cat > f <<'EOF'\nkind: Check\nEOF".into()),
            (11, "d -d '{\n  \"a\": \"x\\\"y\"}'".into()),
        ]
    );
}
