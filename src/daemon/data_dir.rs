//! The data directory: created private (0700, every file in it 0600, since the
//! database holds every secret), tightened at start if an older run left it open,
//! and locked so that only one daemon uses it at a time.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

#[cfg(unix)]
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

/// The admin key file, written on a fresh database.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// The files the daemon writes or reads in the directory: each must be a file of
/// its own, never a link that would make the daemon write (or widen) a file elsewhere.
#[cfg(unix)]
const OWN_FILES: [&str; 5] = [
    DB_FILE,
    "uptimeping.db-wal",
    "uptimeping.db-shm",
    LOCK_FILE,
    ADMIN_KEY_FILE,
];

/// A data directory this process holds the lock on, for as long as it lives.
pub struct DataDir {
    /// The directory with every symbolic link resolved, so that a link swapped
    /// after the start cannot move the daemon's files elsewhere.
    pub path: PathBuf,
    /// The directories this run created (the data directory and any missing
    /// parents, outermost first), so a failed start can remove them again.
    created: Vec<PathBuf>,
    /// A lock on the directory itself: unlike the lock file it cannot be deleted
    /// or replaced under a running daemon. On Windows, an open handle that keeps
    /// the directory from being deleted or renamed.
    _dir_lock: File,
    _lock: File,
}

impl DataDir {
    /// Creates (0700) or tightens `path`, then takes its lock. Fails, naming the
    /// other daemon's pid, if another daemon holds the lock; fails on a directory
    /// or file another user owns, and on a link in place of one of its files.
    /// A failed open removes every directory it created.
    pub fn open(path: &Path) -> anyhow::Result<DataDir> {
        let created = create(path)?;
        match take(path) {
            Ok((real, dir_lock, lock)) => Ok(DataDir {
                path: real,
                created,
                _dir_lock: dir_lock,
                _lock: lock,
            }),
            Err(e) => {
                remove_created(&created);
                Err(e)
            }
        }
    }

    pub fn db(&self) -> PathBuf {
        self.path.join(DB_FILE)
    }

    /// Removes the directories this run created: for a start that failed after.
    pub fn discard(self) {
        let DataDir {
            created,
            _dir_lock,
            _lock,
            ..
        } = self;
        drop((_dir_lock, _lock));
        remove_created(&created);
    }
}

/// Removes `created` (outermost first): the innermost, the data directory, with
/// whatever this run wrote in it; its parents only if empty.
fn remove_created(created: &[PathBuf]) {
    let mut dirs = created.iter().rev();
    if let Some(data) = dirs.next() {
        let _ = std::fs::remove_dir_all(data);
    }
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Creates the directory (missing parents as usual, itself 0700); returns the
/// directories it created, outermost first. On failure it removes them again.
fn create(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let shown = path.display();
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(p) = at.filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::symlink_metadata(p) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(p.to_path_buf()),
            Err(e) => {
                return Err(e).with_context(|| format!("creating data directory `{shown}`"));
            }
        }
        at = p.parent();
    }
    missing.reverse();
    let mut created = Vec::new();
    for dir in &missing {
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        if dir == path {
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        }
        match builder.create(dir) {
            Ok(()) => created.push(dir.clone()),
            // Another process made it meanwhile; the lock decides who uses it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => {
                remove_created(&created);
                return Err(e).with_context(|| format!("creating data directory `{shown}`"));
            }
        }
    }
    Ok(created)
}

/// The effective uid of this process: the owner every file of the directory must have.
#[cfg(unix)]
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Windows' `FILE_FLAG_BACKUP_SEMANTICS`, without which CreateFileW cannot open a
/// directory ("Access is denied").
#[cfg(windows)]
const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
/// Windows' `FILE_SHARE_READ | FILE_SHARE_WRITE`: others may read and write in the
/// directory but, with no `FILE_SHARE_DELETE`, not delete or rename it while the
/// daemon holds it open.
#[cfg(windows)]
const SHARE_ALL_BUT_DELETE: u32 = 0x1 | 0x2;

/// Opens the data directory itself. On Windows the handle keeps the directory from
/// being deleted or renamed; it cannot be locked (LockFileEx takes files only), so
/// there the lock file alone keeps a second daemon out.
fn open_dir(real: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        options
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .share_mode(SHARE_ALL_BUT_DELETE);
    }
    no_follow(&mut options).open(real)
}

/// Options that open a path only if its last part is not a symbolic link.
fn no_follow(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        options,
        rustix::fs::OFlags::NOFOLLOW.bits() as i32,
    );
    options
}

/// Checks and locks the created directory; returns its resolved path and the locks.
fn take(path: &Path) -> anyhow::Result<(PathBuf, File, File)> {
    let shown = path.display();
    let real =
        std::fs::canonicalize(path).with_context(|| format!("reading data directory `{shown}`"))?;
    let dir = open_dir(&real).with_context(|| format!("opening data directory `{shown}`"))?;
    #[cfg(unix)]
    {
        let meta = dir
            .metadata()
            .with_context(|| format!("reading data directory `{shown}`"))?;
        refuse_shared(path, &meta)?;
        refuse_foreign(&format!("data directory `{shown}`"), &meta)?;
    }
    #[cfg(not(windows))]
    match dir.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(in_use(path, &real)),
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking data directory `{shown}`"));
        }
    }
    #[cfg(unix)]
    {
        // Private before its files are looked at, so no one else can swap them after.
        if let Some(old) = private_file::restrict(&real, DIR_MODE)
            .with_context(|| format!("making data directory `{shown}` private (0700)"))?
        {
            tracing::warn!(dir = %shown, "data directory was mode {old:04o}; made it 0700, since it holds secrets");
        }
        for name in OWN_FILES {
            let file = real.join(name);
            match std::fs::symlink_metadata(&file) {
                Ok(meta) => refuse_not_own(&file, &meta)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("reading `{}`", file.display())),
            }
        }
    }
    let lock = lock(path, &real)?;
    #[cfg(unix)]
    tighten(&real)?;
    Ok((real, dir, lock))
}

/// Refuses a link, anything but a regular file, and a file another user owns, in
/// place of one of the daemon's files.
#[cfg(unix)]
fn refuse_not_own(file: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    let shown = file.display();
    if meta.file_type().is_symlink() {
        anyhow::bail!(
            "`{shown}` is a symbolic link; the data directory's files must be in it, not linked: replace the link with the file it points to (or remove it)"
        );
    }
    if !meta.is_file() {
        anyhow::bail!("`{shown}` is not a regular file; move it out of the data directory");
    }
    refuse_foreign(&format!("`{shown}`"), meta)
}

/// Refuses what another user owns: they could open it up again at any time.
#[cfg(unix)]
fn refuse_foreign(what: &str, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (owner, me) = (meta.uid(), euid());
    if owner != me {
        anyhow::bail!(
            "{what} belongs to uid {owner}, not to uid {me} that runs the daemon; give the daemon a data directory of its own (or chown it to uid {me})"
        );
    }
    Ok(())
}

/// The error for a directory another daemon holds, naming its pid when the lock file says it.
fn in_use(dir: &Path, real: &Path) -> anyhow::Error {
    let mut text = String::new();
    if let Ok(file) = no_follow(std::fs::OpenOptions::new().read(true)).open(real.join(LOCK_FILE)) {
        let _ = file.take(PID_READ_LIMIT).read_to_string(&mut text);
    }
    let who = match text.trim().parse::<u32>() {
        Ok(pid) => format!("another uptimeping daemon (pid {pid})"),
        Err(_) => "another uptimeping daemon".to_string(),
    };
    anyhow::anyhow!(
        "{who} is using the data directory `{}`; stop it first, or give this one another --data-dir",
        dir.display()
    )
}

fn lock(dir: &Path, real: &Path) -> anyhow::Result<File> {
    let path = real.join(LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = no_follow(&mut options)
        .open(&path)
        .with_context(|| format!("opening the lock file `{}`", path.display()))?;
    #[cfg(unix)]
    refuse_not_own(
        &path,
        &file
            .metadata()
            .with_context(|| format!("reading the lock file `{}`", path.display()))?,
    )?;
    match file.try_lock() {
        Ok(()) => {}
        // An older daemon, which locks only this file.
        Err(TryLockError::WouldBlock) => return Err(in_use(dir, real)),
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
fn refuse_shared(dir: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o1000 != 0 {
        anyhow::bail!(
            "data directory `{}` is a shared directory (sticky bit set); give the daemon a directory of its own inside it",
            dir.display()
        );
    }
    Ok(())
}

/// Narrows every file in the directory to 0600, saying what it changed. Links and
/// other entries that are not files are left alone: none of them is the daemon's.
/// So is the signing key: one others could read may have leaked, which making it
/// private would hide, so the auth check at start refuses it instead.
#[cfg(unix)]
fn tighten(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading data directory `{shown}`"))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading data directory `{shown}`"))?;
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_file())
            || entry.file_name() == crate::daemon::auth::KEY_FILE
        {
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
