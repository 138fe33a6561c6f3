//! Writing files that hold secrets (API keys, saved plans, contexts).

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` with mode 0600, replacing the file atomically (temp file,
/// fsync, rename), so that a secret is never readable by others, not even while it
/// is being written, and a crash leaves the old file or the new one, never half.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Mode bits that let anyone but the owner in; a private file or directory has none.
#[cfg(unix)]
const OTHERS: u32 = 0o077;

/// Narrows `path` to `mode` (0600 for a file, 0700 for a directory) if group or others
/// may reach it; returns the old mode when it changed something.
#[cfg(unix)]
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let old = std::fs::symlink_metadata(path)?.permissions().mode() & 0o7777;
    if old & OTHERS == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(Some(old))
}

/// Creates `path` as an empty file with mode 0600 if it does not exist yet; an
/// existing file is left as it is. Returns whether it created the file.
pub fn create_empty(path: &Path) -> std::io::Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}
