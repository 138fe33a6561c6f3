//! The key access tokens and CSRF tokens are signed with: `UPTIMEPING_JWT_SECRET`
//! when set, else `jwt.key` in the data directory, made (0600, random) on first
//! start. Anyone holding it can sign tokens for any user, so a key file others can
//! read, or one too short to resist guessing, stops the daemon.

use std::path::Path;

use anyhow::{Context, bail};
use rand::RngExt;

use crate::daemon::config::{JWT_SECRET_ENV, MIN_JWT_SECRET_BYTES};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "jwt.key";
/// Random bytes in a key the daemon makes: more than HS256's 32-byte block needs.
pub const NEW_KEY_BYTES: usize = 48;

/// The signing key: `from_env` if given, else the data directory's key file
/// (made if missing).
pub fn load(data_dir: &Path, from_env: Option<&[u8]>) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = from_env {
        if key.len() < MIN_JWT_SECRET_BYTES {
            bail!(
                "{JWT_SECRET_ENV} must be at least {MIN_JWT_SECRET_BYTES} bytes; make one with `head -c 48 /dev/urandom | base64`"
            );
        }
        return Ok(key.to_vec());
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    bail!(
                        "`{}` can be read by group or others (mode {mode:o}), so it may have leaked: anyone who read it can log in as any user of any tenant. Rotate it: delete it and start again (a new key is made; everyone logs in again, API keys keep working). Only if you know no one read it, run `chmod 600 {}` instead. See README, \"The signing key\"",
                        path.display(),
                        path.display()
                    );
                }
            }
            if !meta.is_file() {
                bail!(
                    "`{}` is not a regular file: remove it, and a new key is made at start",
                    path.display()
                );
            }
            let key =
                std::fs::read(&path).with_context(|| format!("reading `{}`", path.display()))?;
            if key.len() < MIN_JWT_SECRET_BYTES {
                bail!(
                    "`{}` holds {} bytes, fewer than {MIN_JWT_SECRET_BYTES}: remove it to have a new key made at start (everyone logs in again), or put at least {MIN_JWT_SECRET_BYTES} random bytes in it (`head -c 48 /dev/urandom > {}`)",
                    path.display(),
                    key.len(),
                    path.display()
                );
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; NEW_KEY_BYTES];
            rand::rng().fill(&mut key[..]);
            crate::private_file::write(&path, &key)
                .with_context(|| format!("writing the new signing key `{}`", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = load(dir.path(), None).expect("made");
        assert_eq!(made.len(), NEW_KEY_BYTES);
        assert_eq!(load(dir.path(), None).expect("read"), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_or_a_short_one_stops_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE);
        load(dir.path(), None).expect("made");
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let err = load(dir.path(), None).expect_err("readable").to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        crate::private_file::write(&path, b"short").expect("write");
        let err = load(dir.path(), None).expect_err("short").to_string();
        assert!(err.contains("fewer than 32"), "{err}");
    }

    #[test]
    fn the_environment_wins_and_must_be_long_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = b"an environment key of more than thirty-two bytes";
        assert_eq!(load(dir.path(), Some(key)).expect("env"), key.to_vec());
        assert!(!dir.path().join(KEY_FILE).exists());
        assert!(load(dir.path(), Some(b"short")).is_err());
    }
}
