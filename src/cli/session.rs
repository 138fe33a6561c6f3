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

/// Longest token the daemon may hand out: its JWTs and refresh tokens are a few
/// hundred bytes; this leaves room for many more claims while keeping a login
/// far below [`MAX_LOGIN_FILE_BYTES`], so that what is saved can be read back.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest email or tenant name kept from a token answer: an email is at most
/// 254 bytes, a tenant name 63; anything longer is not from a daemon.
pub const MAX_NAME_BYTES: usize = 320;

/// Largest token answer read (login, register, accept-invite, refresh): two
/// tokens of [`MAX_TOKEN_BYTES`] and a few short fields fit many times over.
pub const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

/// Longest an access token is taken to last, whatever the daemon says: the
/// daemon's default is 15 minutes; a longer claim only delays the refresh,
/// which the daemon asks for anyway (`token_expired`) when the token is refused.
pub const MAX_ACCESS_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Longest a login is taken to last, whatever the daemon says: its default is
/// 7 days; a year bounds the date saved (no overflow) and asks for a fresh
/// login at least yearly.
pub const MAX_LOGIN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

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
    /// A pair that could not be sent back, saved or read again is refused, and
    /// lifetimes are bounded by [`MAX_ACCESS_LIFETIME`] and [`MAX_LOGIN_LIFETIME`].
    pub fn from_pair(
        url: &Url,
        pair: &TokenPair,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SavedLogin> {
        check_token("access token", &pair.access_token)?;
        check_token("refresh token", &pair.refresh_token)?;
        check_name("email", &pair.user.name)?;
        check_name("tenant name", &pair.user.tenant)?;
        anyhow::ensure!(
            pair.refresh_expires_in > 0,
            "the daemon gave a login that ends at once (refresh_expires_in 0); check the daemon's --refresh-token-ttl"
        );
        let after = |secs: u64, most: Duration| {
            i64::try_from(secs.min(most.as_secs()))
                .ok()
                .and_then(chrono::TimeDelta::try_seconds)
                .and_then(|d| now.checked_add_signed(d))
                .context("the login's lifetime goes past what this clock can count; check this machine's date")
        };
        Ok(SavedLogin {
            url: url.to_string(),
            access_token: pair.access_token.clone(),
            access_expires_at: after(pair.expires_in, MAX_ACCESS_LIFETIME)?,
            refresh_token: pair.refresh_token.clone(),
            refresh_expires_at: after(pair.refresh_expires_in, MAX_LOGIN_LIFETIME)?,
            email: pair.user.name.clone(),
            tenant: pair.user.tenant.clone(),
        })
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

/// A token must be sendable as it is in `Authorization: Bearer` (visible ASCII)
/// and short enough to be kept.
fn check_token(what: &str, token: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        token.len() <= MAX_TOKEN_BYTES,
        "the daemon's {what} is {} bytes, longer than {MAX_TOKEN_BYTES}, the most a saved login keeps; \
         check that --url points at an uptimeping daemon",
        token.len()
    );
    anyhow::ensure!(
        !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()),
        "the daemon's {what} is not a token this client can send (it is empty or has spaces or control characters); \
         check that --url points at an uptimeping daemon"
    );
    Ok(())
}

/// An email or tenant name is printed: no control characters (which could
/// drive the terminal), and no longer than a real one.
fn check_name(what: &str, name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name.len() <= MAX_NAME_BYTES && !name.chars().any(char::is_control),
        "the daemon's {what} for this login is longer than {MAX_NAME_BYTES} bytes or has control characters; \
         check that --url points at an uptimeping daemon"
    );
    Ok(())
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

    /// The saved login, if there is one. The file is opened without following a
    /// link and must be a plain file; it is narrowed to 0600 through the opened
    /// file, never by its path.
    pub fn load(&self) -> anyhow::Result<Option<SavedLogin>> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        let file = match no_follow(&mut options).open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                refuse_link(&self.path)?;
                return Err(e).with_context(|| format!("reading `{}`", self.path.display()));
            }
        };
        let meta = file
            .metadata()
            .with_context(|| format!("reading `{}`", self.path.display()))?;
        anyhow::ensure!(meta.is_file(), not_plain(&self.path));
        // A file opened to others by hand (or by a copy) goes back to its owner
        // only before its tokens are used.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let old = meta.permissions().mode() & 0o7777;
            if old & 0o077 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .with_context(|| {
                        format!("restricting `{}` to its owner", self.path.display())
                    })?;
                eprintln!(
                    "warning: `{}` could be read by others (mode {old:o}); it is 0600 now, \
                     but if someone read it, run `uptimeping auth logout` and log in again",
                    self.path.display()
                );
            }
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

    /// Checks, before a daemon is asked for a login, that one can be saved here:
    /// the directory is made (and private), a file can be written in it, and
    /// nothing but a plain file is where the login goes.
    pub fn check_can_save(&self) -> anyhow::Result<()> {
        self.make_dir()?;
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => refuse_link(&self.path)?,
            Ok(meta) if !meta.is_file() => anyhow::bail!(not_plain(&self.path)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading `{}`", self.path.display())),
        }
        let probe = self
            .path
            .with_extension(format!("probe-{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&probe).with_context(|| {
            format!(
                "cannot write in `{}`, so no login could be kept there; make it writable by you, or use an API key",
                probe.parent().unwrap_or(Path::new(".")).display()
            )
        })?;
        std::fs::remove_file(&probe).with_context(|| format!("deleting `{}`", probe.display()))
    }

    /// Writes the login with mode 0600 (in a directory of mode 0700), replacing the
    /// old one atomically.
    pub fn save(&self, login: &SavedLogin) -> anyhow::Result<()> {
        self.make_dir()?;
        let json = serde_json::to_vec_pretty(login).context("serialising the login")?;
        // What could not be read back is not written.
        anyhow::ensure!(
            json.len() as u64 <= MAX_LOGIN_FILE_BYTES,
            "the login is {} bytes, more than a saved login can be ({MAX_LOGIN_FILE_BYTES}); \
             check that --url points at an uptimeping daemon",
            json.len()
        );
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
        let file = match no_follow(&mut options).open(&self.lock_path) {
            Ok(file) => file,
            Err(e) => {
                refuse_link(&self.lock_path)?;
                return Err(e).with_context(|| format!("opening `{}`", self.lock_path.display()));
            }
        };
        let meta = file
            .metadata()
            .with_context(|| format!("reading `{}`", self.lock_path.display()))?;
        anyhow::ensure!(meta.is_file(), not_plain(&self.lock_path));
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

    /// Makes the tokens directory, refusing a link in its place (whose target
    /// would be made private and filled), and narrows it to 0700 through the
    /// opened directory.
    fn make_dir(&self) -> anyhow::Result<()> {
        let Some(dir) = self.path.parent() else {
            return Ok(());
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        let made = builder.create(dir);
        refuse_link(dir)?;
        made.with_context(|| format!("creating `{}`", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
            let mut options = std::fs::OpenOptions::new();
            options.read(true).custom_flags(
                (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::DIRECTORY).bits() as i32,
            );
            let opened = options.open(dir);
            if opened.is_err() {
                refuse_link(dir)?;
            }
            let opened = opened.with_context(|| format!("opening `{}`", dir.display()))?;
            let meta = opened
                .metadata()
                .with_context(|| format!("reading `{}`", dir.display()))?;
            anyhow::ensure!(
                meta.uid() == rustix::process::geteuid().as_raw(),
                "`{}` belongs to another user, who could read or swap your logins; \
                 remove it (or set HOME to a directory of yours) and log in again",
                dir.display()
            );
            // A directory made earlier by hand may be open to others.
            if meta.permissions().mode() & 0o077 != 0 {
                opened
                    .set_permissions(std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("restricting `{}` to its owner", dir.display()))?;
            }
        }
        Ok(())
    }
}

/// Options that open a path only if its last part is not a symbolic link, and
/// without waiting should it be a FIFO.
fn no_follow(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        options,
        (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
    );
    options
}

/// Refuses `path` if it is a symbolic link: the tokens directory and its files
/// are the CLI's own, and a link would have it read, write or narrow another
/// file or directory.
fn refuse_link(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        anyhow::bail!(
            "`{0}` is a symbolic link; saved logins are kept in a plain directory and plain files of yours, \
             not through links: remove the link (`rm {0}`) and log in again with `uptimeping auth login`",
            path.display()
        );
    }
    Ok(())
}

fn not_plain(path: &Path) -> String {
    format!(
        "`{0}` is not a plain file; remove it (`rm -r {0}`) and log in again with `uptimeping auth login`",
        path.display()
    )
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
