//! Saved logins: the tokens `uptimeping auth login` gets, one file per context
//! under `~/.uptimeping/tokens/` (a directory of mode 0700, files of mode 0600),
//! and the lock that lets only one process at a time rotate them.
//!
//! A login is kept for the context it was made with (`<context>.json`), or, for a
//! bare `--url` / `UPTIMEPING_URL`, in a file named after a hash of the URL. The
//! file says which URL it was made for, and it is sent to no other.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use url::Url;

use super::client::parse_base_url;
use crate::model::TokenPair;

/// Refresh the access token when it has less than this left: a request sent with
/// it must still reach the daemon in time, even over a slow link.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(30);

/// Longest a command waits for another process that is refreshing the same
/// login: longer than that process's refresh request may take (60 s), so that
/// waiting never gives up on a refresh still under way.
pub const LOCK_WAIT: Duration = Duration::from_secs(75);

/// How often a waiting command tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(25);

/// Largest saved-login file read: a few tokens fit in far less; anything larger
/// is not ours.
pub const MAX_LOGIN_FILE_BYTES: u64 = 64 * 1024;

/// Where logins live, under the home directory.
const TOKENS_DIR: &[&str] = &[".uptimeping", "tokens"];

/// What a saved login holds. Its `Debug` leaves the tokens out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedLogin {
    /// The daemon the tokens were issued by; they are sent to no other.
    pub url: String,
    pub access_token: String,
    /// When the access token stops working, by this machine's clock at login
    /// (now plus the lifetime the daemon gave), so clock skew does not matter.
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub email: String,
    pub tenant: String,
}

impl std::fmt::Debug for SavedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedLogin")
            .field("url", &super::client::shown_url_text(&self.url))
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("email", &self.email)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl SavedLogin {
    /// The login a token pair from `url` makes, its expiries counted from `now`.
    pub fn from_pair(url: &Url, pair: &TokenPair, now: DateTime<Utc>) -> SavedLogin {
        let after = |secs: u64| {
            now + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
        };
        SavedLogin {
            url: url.to_string(),
            access_token: pair.access_token.clone(),
            access_expires_at: after(pair.expires_in),
            refresh_token: pair.refresh_token.clone(),
            refresh_expires_at: after(pair.refresh_expires_in),
            email: pair.user.name.clone(),
            tenant: pair.user.tenant.clone(),
        }
    }

    /// Whether the access token should be refreshed before it is used at `now`.
    pub fn access_expiring(&self, now: DateTime<Utc>) -> bool {
        self.access_expires_at - now < chrono::Duration::from_std(REFRESH_AHEAD).unwrap_or_default()
    }

    /// Whether the refresh token is past its lifetime: the login has ended.
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        self.refresh_expires_at <= now
    }

    /// Whether the login was made for the daemon at `url`.
    pub fn is_for(&self, url: &Url) -> bool {
        parse_base_url(&self.url).ok().as_ref() == Some(url)
    }
}

/// Which login a command uses: the context's, or the bare URL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Context(String),
    Url(Url),
}

impl Slot {
    /// The file's name in the tokens directory. A context's name is used as it
    /// is when it is a plain file name; any other (with `/`, `..`, or odd
    /// characters) is hashed, so no name can point outside the directory.
    pub fn file_name(&self) -> String {
        let hash = |text: &str| hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8]);
        match self {
            Slot::Context(name) if plain_name(name) => format!("{name}.json"),
            Slot::Context(name) => format!("context-{}.json", hash(name)),
            Slot::Url(url) => format!("url-{}.json", hash(url.as_str())),
        }
    }

    /// How the login is named in messages: `context `prod`` or the URL.
    pub fn describe(&self) -> String {
        match self {
            Slot::Context(name) => format!("context `{name}`"),
            Slot::Url(url) => super::client::shown_url(url),
        }
    }
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The tokens directory of this environment, from `HOME` (or `USERPROFILE`);
/// `None` without either, so that no login is used or saved.
pub fn tokens_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let home = env("HOME")
        .or_else(|| env("USERPROFILE"))
        .filter(|h| !h.is_empty())?;
    let mut dir = PathBuf::from(home);
    dir.extend(TOKENS_DIR);
    Some(dir)
}

/// One slot's files: the login and its lock.
#[derive(Debug, Clone)]
pub struct Store {
    pub path: PathBuf,
    lock_path: PathBuf,
    pub slot: Slot,
}

impl Store {
    pub fn new(dir: &Path, slot: Slot) -> Store {
        let name = slot.file_name();
        Store {
            path: dir.join(&name),
            lock_path: dir.join(format!("{}.lock", name.trim_end_matches(".json"))),
            slot,
        }
    }

    /// The saved login, if there is one.
    pub fn load(&self) -> anyhow::Result<Option<SavedLogin>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("reading `{}`", self.path.display()));
            }
        };
        // A file opened to others by hand (or by a copy) goes back to its owner
        // only before its tokens are used.
        #[cfg(unix)]
        if let Some(old) = crate::private_file::restrict(&self.path, 0o600)
            .with_context(|| format!("restricting `{}` to its owner", self.path.display()))?
        {
            eprintln!(
                "warning: `{}` could be read by others (mode {old:o}); it is 0600 now, \
                 but if someone read it, run `uptimeping auth logout` and log in again",
                self.path.display()
            );
        }
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(file, MAX_LOGIN_FILE_BYTES + 1),
            &mut text,
        )
        .with_context(|| format!("reading `{}`", self.path.display()))?;
        anyhow::ensure!(
            text.len() as u64 <= MAX_LOGIN_FILE_BYTES,
            "`{}` is larger than a saved login can be; delete it and run `uptimeping auth login`",
            self.path.display()
        );
        serde_json::from_str(&text).map(Some).with_context(|| {
            format!(
                "`{}` is not a saved login; delete it and run `uptimeping auth login`",
                self.path.display()
            )
        })
    }

    /// Writes the login with mode 0600 (in a directory of mode 0700), replacing the
    /// old one atomically.
    pub fn save(&self, login: &SavedLogin) -> anyhow::Result<()> {
        self.make_dir()?;
        let json = serde_json::to_vec_pretty(login).context("serialising the login")?;
        crate::private_file::write(&self.path, &json)
            .with_context(|| format!("writing `{}`", self.path.display()))
    }

    /// Deletes the saved login; returns whether there was one.
    pub fn delete(&self) -> anyhow::Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("deleting `{}`", self.path.display())),
        }
    }

    /// Takes this slot's lock, waiting up to [`LOCK_WAIT`] for another process
    /// that holds it. The lock is a file of its own, since the login file is
    /// replaced (a new inode) on every save; it is released when dropped.
    pub async fn lock(&self) -> anyhow::Result<File> {
        self.make_dir()?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&self.lock_path)
            .with_context(|| format!("opening `{}`", self.lock_path.display()))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(LOCK_POLL).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                    "another uptimeping process has held `{}` for over {}s while refreshing the login; \
                     if none is running, delete that file and try again",
                    self.lock_path.display(),
                    LOCK_WAIT.as_secs()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e)
                        .with_context(|| format!("locking `{}`", self.lock_path.display()));
                }
            }
        }
    }

    fn make_dir(&self) -> anyhow::Result<()> {
        let Some(dir) = self.path.parent() else {
            return Ok(());
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating `{}`", dir.display()))?;
        // A directory made earlier by hand may be open to others.
        #[cfg(unix)]
        crate::private_file::restrict(dir, 0o700)
            .with_context(|| format!("restricting `{}` to its owner", dir.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(url: &str) -> SavedLogin {
        let now = Utc::now();
        SavedLogin {
            url: url.into(),
            access_token: "ACCESS-SECRET".into(),
            access_expires_at: now + chrono::Duration::minutes(15),
            refresh_token: "REFRESH-SECRET".into(),
            refresh_expires_at: now + chrono::Duration::days(7),
            email: "me@example.com".into(),
            tenant: "default".into(),
        }
    }

    #[test]
    fn file_names_never_leave_the_tokens_directory() {
        let url = parse_base_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(Slot::Context("prod".into()).file_name(), "prod.json");
        for hostile in ["../x", "a/b", ".hidden", "..", "a\\b", "ünï", ""] {
            let name = Slot::Context(hostile.into()).file_name();
            assert!(
                name.starts_with("context-") && !name.contains('/'),
                "{name}"
            );
        }
        let by_url = Slot::Url(url.clone()).file_name();
        assert!(by_url.starts_with("url-") && by_url.ends_with(".json"));
        assert_ne!(
            by_url,
            Slot::Url(parse_base_url("http://127.0.0.1:8081").unwrap()).file_name()
        );
    }

    #[test]
    fn saves_owner_only_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join(".uptimeping/tokens");
        let store = Store::new(&tokens, Slot::Context("prod".into()));
        assert_eq!(store.load().unwrap(), None);
        let saved = login("http://127.0.0.1:8080/");
        store.save(&saved).unwrap();
        assert_eq!(store.load().unwrap(), Some(saved.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&store.path), 0o600);
            assert_eq!(mode(&tokens), 0o700);
        }
        assert!(store.delete().unwrap());
        assert!(!store.delete().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_login_file_open_to_others_is_narrowed_before_use() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), Slot::Context("prod".into()));
        let saved = login("http://127.0.0.1:8080/");
        store.save(&saved).unwrap();
        for loose in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&store.path, std::fs::Permissions::from_mode(loose)).unwrap();
            assert_eq!(store.load().unwrap(), Some(saved.clone()));
            let mode = std::fs::metadata(&store.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "from {loose:o}");
        }
    }

    #[test]
    fn debug_never_shows_the_tokens() {
        let text = format!("{:?}", login("http://u:PASS@h:1/"));
        assert!(!text.contains("SECRET") && !text.contains("PASS"), "{text}");
    }

    #[test]
    fn a_login_is_for_its_own_url_only() {
        let l = login("http://127.0.0.1:8080/");
        assert!(l.is_for(&parse_base_url("http://127.0.0.1:8080").unwrap()));
        assert!(!l.is_for(&parse_base_url("http://127.0.0.1:8081").unwrap()));
        assert!(!l.is_for(&parse_base_url("https://127.0.0.1:8080").unwrap()));
    }

    #[test]
    fn expiring_and_ended_are_judged_by_the_saved_times() {
        let mut l = login("http://h:1/");
        let now = Utc::now();
        assert!(!l.access_expiring(now) && !l.ended(now));
        l.access_expires_at = now + chrono::Duration::seconds(29);
        assert!(l.access_expiring(now));
        l.refresh_expires_at = now;
        assert!(l.ended(now));
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), Slot::Context("prod".into()));
        crate::cli::client::block_on(async {
            let first = store.lock().await.unwrap();
            let again = File::open(&store.lock_path).unwrap();
            assert!(matches!(
                again.try_lock(),
                Err(std::fs::TryLockError::WouldBlock)
            ));
            drop(first);
            assert!(again.try_lock().is_ok());
        })
        .unwrap();
    }

    #[test]
    fn an_oversized_or_foreign_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), Slot::Context("prod".into()));
        std::fs::write(&store.path, "{\"not\": \"a login\"}").unwrap();
        let err = format!("{:#}", store.load().unwrap_err());
        assert!(err.contains("uptimeping auth login"), "{err}");
        std::fs::write(&store.path, vec![b' '; MAX_LOGIN_FILE_BYTES as usize + 1]).unwrap();
        let err = format!("{:#}", store.load().unwrap_err());
        assert!(err.contains("larger than"), "{err}");
    }
}
