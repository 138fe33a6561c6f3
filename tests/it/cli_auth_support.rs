//! What the CLI login tests share: the real CLI run with a HOME of its own
//! against a real daemon, users made through the CLI, and access tokens minted
//! with the daemon's own signing key (already expired, so no test sleeps).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::daemon_support::Daemon;
use crate::support::{Run, Test, uptimeping};

/// A password the daemon's rules accept.
pub const PASSWORD: &str = "Correct-Horse-42";

/// A home directory of the CLI's own: its saved logins and its config.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The CLI against `d` in this home, with no credential from the
    /// environment: give one with `.env("UPTIMEPING_API_KEY", key)`.
    pub fn cli(&self, d: &Daemon) -> Test {
        Test::in_dir(self.path())
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join(".config"))
            .env("UPTIMEPING_URL", &d.url)
            .env_remove("UPTIMEPING_API_KEY")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn tokens_dir(&self) -> PathBuf {
        self.path().join(".uptimeping").join("tokens")
    }

    /// The saved login files (`*.json`) in the tokens directory.
    pub fn login_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.tokens_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
    }

    /// The one saved login file.
    pub fn login_file(&self) -> PathBuf {
        let files = self.login_files();
        assert_eq!(files.len(), 1, "saved logins: {files:?}");
        files[0].clone()
    }

    pub fn saved(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.login_file()).unwrap()).unwrap()
    }

    pub fn write_saved(&self, login: &Value) {
        std::fs::write(self.login_file(), serde_json::to_vec_pretty(login).unwrap()).unwrap();
    }
}

/// The CLI against `d` in `home`, with `key` as UPTIMEPING_API_KEY if given and
/// no other credential from the environment.
pub fn command(d: &Daemon, home: &Home, args: &[&str], key: Option<&str>) -> Command {
    let mut cmd = uptimeping();
    cmd.args(args)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("UPTIMEPING_URL", &d.url)
        .env_remove("UPTIMEPING_API_KEY");
    if let Some(key) = key {
        cmd.env("UPTIMEPING_API_KEY", key);
    }
    cmd
}

/// Runs the CLI (see [`command`]) feeding `stdin`, which is empty if `None`.
pub fn run(d: &Daemon, home: &Home, args: &[&str], stdin: Option<&str>, key: Option<&str>) -> Run {
    run_command(command(d, home, args, key), stdin)
}

/// Runs `cmd` feeding `stdin`, which is empty (but open) if `None`.
pub fn run_command(cmd: Command, stdin: Option<&str>) -> Run {
    crate::support::run_command(cmd, Some(stdin.unwrap_or_default()))
}

/// Adds a user through the CLI with the daemon's admin key.
pub fn add_user(d: &Daemon, email: &str, role: &str) {
    let admin = Home::new();
    let r = run(
        d,
        &admin,
        &["users", "add", email, "--role", role, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        Some(&d.key),
    );
    assert_eq!(r.code, 0, "users add {email}: {}", r.stderr);
}

/// Logs in as `email` with [`PASSWORD`] from standard input.
pub fn login(d: &Daemon, home: &Home, email: &str) -> Run {
    let r = run(
        d,
        home,
        &["auth", "login", "--email", email, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        None,
    );
    assert_eq!(r.code, 0, "auth login {email}: {}", r.stderr);
    r
}

/// Saves a context `dev` pointing at `d` and logs in as `email` through it, with
/// no `UPTIMEPING_URL` to fall back on.
pub fn login_in_context(d: &Daemon, home: &Home, email: &str) -> Run {
    let set = run(
        d,
        home,
        &["context", "set", "dev", "--url", &d.url],
        None,
        None,
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    let mut cmd = command(
        d,
        home,
        &["auth", "login", "--email", email, "--password-stdin"],
        None,
    );
    cmd.env_remove("UPTIMEPING_URL");
    let r = run_command(cmd, Some(&format!("{PASSWORD}\n")));
    assert_eq!(r.code, 0, "auth login {email} in context dev: {}", r.stderr);
    r
}

/// `token` re-signed with the daemon's key so that it expired a minute ago.
pub fn expired(d: &Daemon, token: &str) -> String {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let key = std::fs::read(d.data_dir.join("jwt.key")).expect("the daemon's jwt.key");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let mut claims: Value =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(&key).unwrap(), &validation)
            .expect("the saved access token is a JWT of this daemon")
            .claims;
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = (now - 16 * 60).into();
    claims["exp"] = (now - 60).into();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&key).unwrap(),
    )
    .unwrap()
}

/// Makes the saved login's access token one that expired a minute ago; with
/// `known`, the file says so too (else it still claims the old expiry, as a
/// token the daemon ended early would).
pub fn expire_saved(d: &Daemon, home: &Home, known: bool) -> Value {
    let mut saved = home.saved();
    saved["access_token"] = expired(d, saved["access_token"].as_str().unwrap()).into();
    if known {
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        saved["access_expires_at"] = past.to_rfc3339().into();
    }
    home.write_saved(&saved);
    saved
}

/// The daemon's answer to `POST /auth/refresh` with `refresh_token`.
pub fn refresh_status(d: &Daemon, refresh_token: &str) -> u16 {
    Daemon::client()
        .post(format!("{}/api/v1/auth/refresh", d.url))
        .json(&serde_json::json!({ "refresh_token": refresh_token }))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Fails if a token of `saved` shows in what the CLI printed.
pub fn assert_no_tokens(r: &Run, saved: &Value) {
    for field in ["access_token", "refresh_token"] {
        let token = saved[field].as_str().unwrap();
        assert!(
            !r.stdout.contains(token) && !r.stderr.contains(token),
            "the {field} was printed:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
