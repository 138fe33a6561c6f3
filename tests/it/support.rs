//! Running the real `uptimeping` binary and writing check files for it: a
//! [`Test`] builder that says how to run it, and the [`Run`] it leaves behind,
//! with assertions that show the whole run when they fail.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the run when it is another one.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code; {self:#?}");
        self
    }

    /// Asserts that the run exited 0.
    #[track_caller]
    pub fn success(self) -> Run {
        self.expect_code(0)
    }

    /// Asserts that standard output is exactly `want`.
    #[track_caller]
    pub fn stdout_is(self, want: &str) -> Run {
        assert_eq!(self.stdout, want, "stdout; stderr:\n{}", self.stderr);
        self
    }

    /// Asserts that standard output ends with `want`.
    #[track_caller]
    pub fn stdout_ends_with(self, want: &str) -> Run {
        assert!(
            self.stdout.ends_with(want),
            "stdout does not end with {want:?}; {self:#?}"
        );
        self
    }

    /// Asserts that standard error contains `want`.
    #[track_caller]
    pub fn stderr_contains(self, want: &str) -> Run {
        assert!(
            self.stderr.contains(want),
            "stderr does not contain {want:?}; {self:#?}"
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A command for the binary under test, with an environment that does not leak
/// the developer's settings into the output (backtraces, colour).
pub fn uptimeping() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uptimeping"));
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env("NO_COLOR", "1");
    cmd
}

/// One run of the binary, put together step by step and started by [`Test::run`]:
///
/// ```ignore
/// Test::in_dir(repo.path())
///     .daemon(&d)
///     .args(["plan", "-f", "checks"])
///     .run()
///     .success()
///     .stdout_ends_with("Plan: 0 to add, 0 to change, 0 to destroy.\n");
/// ```
///
/// Standard input is empty (closed) unless [`Test::stdin`] gives some.
pub struct Test {
    cmd: Command,
    stdin: Option<String>,
    /// A directory of its own, when [`Test::new`] made one; removed on drop.
    _tmp: Option<tempfile::TempDir>,
}

impl Test {
    /// A run in a fresh temporary directory.
    pub fn new() -> Test {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut test = Test::in_dir(tmp.path());
        test._tmp = Some(tmp);
        test
    }

    /// A run in `dir`, so that relative paths in messages are short.
    pub fn in_dir(dir: &Path) -> Test {
        let mut cmd = uptimeping();
        cmd.current_dir(dir);
        Test {
            cmd,
            stdin: None,
            _tmp: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Adds the words of `line`, split at white space: `.words("plan -f checks")`.
    pub fn words(self, line: &str) -> Test {
        self.args(line.split_whitespace())
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.cmd.env(key, value);
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Test
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Test {
        self.cmd.env_remove(key);
        self
    }

    /// Feeds `text` to standard input.
    pub fn stdin(mut self, text: impl Into<String>) -> Test {
        self.stdin = Some(text.into());
        self
    }

    /// No connection settings from the environment and a config directory of
    /// its own (`dir/.config`), so that the developer's contexts never leak in.
    pub fn isolated(self, dir: &Path) -> Test {
        self.env_remove("UPTIMEPING_URL")
            .env_remove("UPTIMEPING_API_KEY")
            .env("XDG_CONFIG_HOME", dir.join(".config"))
    }

    /// Runs the binary to its end.
    pub fn run(self) -> Run {
        run_command(self.cmd, self.stdin.as_deref())
    }
}

/// Runs `cmd` to its end, feeding `stdin` if given (else standard input is
/// closed), and keeps what it printed.
pub fn run_command(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn uptimeping");
    if let Some(text) = stdin {
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for uptimeping");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the binary with `args` in `dir`, feeding `stdin` if given.
pub fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let test = Test::in_dir(dir).args(args);
    match stdin {
        Some(text) => test.stdin(text),
        None => test,
    }
    .run()
}

/// Runs the binary with `args` from a temporary directory.
pub fn run(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    run_in(dir.path(), args, None)
}

/// A temporary directory of check files.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&path, text).expect("write check file");
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the binary in this directory, so relative paths in messages are short.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.path(), args, None)
    }
}
