//! The data directory: created private (0700, every file in it 0600, since the
//! database holds every secret), tightened at start if an older run left it open,
//! and locked so that only one daemon uses it at a time.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::private_file;

/// The lock file; it holds the pid of the daemon that has the lock.
pub const LOCK_FILE: &str = "uptimeping.lock";
/// The database file (SQLite adds `-wal` and `-shm` beside it).
pub const DB_FILE: &str = "uptimeping.db";
/// Mode of the data directory: the owner only.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
/// Mode of every file in it: the owner only.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// Bytes of the lock file read for the other daemon's pid: a pid and a newline.
const PID_READ_LIMIT: u64 = 32;

/// A data directory this process holds the lock on, for as long as it lives.
pub struct DataDir {
    pub path: PathBuf,
    /// Whether this run created the directory, so a failed start can remove it again.
    pub created: bool,
    _lock: File,
}

impl DataDir {
    /// Creates (0700) or tightens `path`, then takes its lock. Fails, naming the
    /// other daemon's pid, if another daemon holds the lock.
    pub fn open(path: &Path) -> anyhow::Result<DataDir> {
        let created = create(path)?;
        #[cfg(unix)]
        refuse_shared(path)?;
        let lock = match lock(path) {
            Ok(lock) => lock,
            Err(e) => {
                if created {
                    let _ = std::fs::remove_dir_all(path);
                }
                return Err(e);
            }
        };
        #[cfg(unix)]
        tighten(path)?;
        Ok(DataDir {
            path: path.to_path_buf(),
            created,
            _lock: lock,
        })
    }

    pub fn db(&self) -> PathBuf {
        self.path.join(DB_FILE)
    }

    /// Removes the directory if this run created it: for a start that failed after.
    pub fn discard(self) {
        if self.created {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Creates the directory (its parents as usual, itself 0700); returns whether it was new.
fn create(path: &Path) -> anyhow::Result<bool> {
    let shown = path.display();
    if path.is_dir() {
        return Ok(false);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating data directory `{shown}`"))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(path) {
        Ok(()) => Ok(true),
        // Another process made it meanwhile; the lock decides who uses it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating data directory `{shown}`")),
    }
}

fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("opening the lock file `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = (&file).take(PID_READ_LIMIT).read_to_string(&mut text);
            let who = match text.trim().parse::<u32>() {
                Ok(pid) => format!("another uptimeping daemon (pid {pid})"),
                Err(_) => "another uptimeping daemon".to_string(),
            };
            anyhow::bail!(
                "{who} is using the data directory `{}`; stop it first, or give this one another --data-dir",
                dir.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking `{}`", path.display()));
        }
    }
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()))
        .with_context(|| format!("writing the lock file `{}`", path.display()))?;
    Ok(file)
}

/// Refuses a sticky directory (like /tmp): it is shared by design, and making it
/// private would break everyone else's use of it. Checked before anything is
/// written into it.
#[cfg(unix)]
fn refuse_shared(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let shown = dir.display();
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("reading data directory `{shown}`"))?
        .permissions()
        .mode();
    if mode & 0o1000 != 0 {
        anyhow::bail!(
            "data directory `{shown}` is a shared directory (sticky bit set); give the daemon a directory of its own inside it"
        );
    }
    Ok(())
}

/// Narrows the directory to 0700 and every file in it to 0600, saying what it changed.
#[cfg(unix)]
fn tighten(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    if let Some(old) = private_file::restrict(dir, DIR_MODE)
        .with_context(|| format!("making data directory `{shown}` private (0700)"))?
    {
        tracing::warn!(dir = %shown, "data directory was mode {old:04o}; made it 0700, since it holds secrets");
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading data directory `{shown}`"))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading data directory `{shown}`"))?;
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Some(old) = private_file::restrict(&path, FILE_MODE)
            .with_context(|| format!("making `{}` private (0600)", path.display()))?
        {
            tracing::warn!(file = %path.display(), "file was mode {old:04o}; made it 0600, since the data directory holds secrets");
        }
    }
    Ok(())
}
