//! The client's config file: named contexts (a daemon URL and how to find its API
//! key) and which one is current. TOML at `$XDG_CONFIG_HOME/uptimeping/config.toml`,
//! falling back to `~/.config/uptimeping/config.toml`:
//!
//! ```toml
//! current = "prod"
//!
//! [contexts.prod]
//! url = "https://uptime.example.com"
//! api_key_file = "/run/secrets/uptimeping"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The context used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, ContextEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextEntry {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Read when used, so a rotated key needs no edit here. Relative paths start at
    /// the config file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
}

impl ContextEntry {
    /// The API key, from `api_key` or the file `api_key_file` (whitespace trimmed).
    pub fn api_key(&self, config_dir: &Path) -> anyhow::Result<Option<String>> {
        if let Some(key) = &self.api_key {
            return Ok(Some(key.clone()));
        }
        let Some(file) = &self.api_key_file else {
            return Ok(None);
        };
        let path = config_dir.join(file);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading the API key file `{}`; fix the path with `uptimeping context set`",
                path.display()
            )
        })?;
        let key = text.trim();
        anyhow::ensure!(
            !key.is_empty(),
            "the API key file `{}` is empty",
            path.display()
        );
        Ok(Some(key.to_string()))
    }
}

/// Where the config file lives, from `XDG_CONFIG_HOME` or `HOME`.
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    // The XDG spec says a relative XDG_CONFIG_HOME is invalid and to be ignored.
    let base = match env("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => match env("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Path::new(&home).join(".config"),
            None => anyhow::bail!(
                "cannot find the config directory: neither XDG_CONFIG_HOME nor HOME is set"
            ),
        },
    };
    Ok(base.join("uptimeping").join("config.toml"))
}

/// The config file of this process's environment.
pub fn path() -> anyhow::Result<PathBuf> {
    default_path(&|name| std::env::var(name).ok())
}

impl Config {
    /// Reads the file at `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("reading `{}`", path.display()));
            }
        };
        toml::from_str(&text).with_context(|| format!("parsing `{}`", path.display()))
    }

    /// Writes the file readable by its owner only: it may hold API keys.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(self).context("serialising the config")?;
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        write_private(path, text.as_bytes())
    }

    /// The context named `name`, or an error listing the ones there are.
    pub fn get(&self, name: &str) -> anyhow::Result<&ContextEntry> {
        self.contexts.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.contexts.keys().map(String::as_str).collect();
            if known.is_empty() {
                anyhow::anyhow!(
                    "no context named `{name}`; there are none yet: create one with `uptimeping context set {name} --url URL --api-key-file PATH`"
                )
            } else {
                anyhow::anyhow!(
                    "no context named `{name}`; known contexts: {}",
                    known.join(", ")
                )
            }
        })
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating `{}`", dir.display()))
}

/// Writes `bytes` to `path` with mode 0600, replacing the file atomically, so that
/// a secret is never readable by others, not even while it is being written.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::private_file::write(path, bytes).with_context(|| format!("writing `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_file_with_owner_only_permissions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("uptimeping/config.toml");
        assert_eq!(
            Config::load(&path).expect("missing is empty"),
            Config::default()
        );
        let mut config = Config {
            current: Some("prod".into()),
            ..Config::default()
        };
        config.contexts.insert(
            "prod".into(),
            ContextEntry {
                url: "https://uptime.example.com".into(),
                api_key: None,
                api_key_file: Some("/run/secrets/key".into()),
            },
        );
        config.contexts.insert(
            "dev".into(),
            ContextEntry {
                url: "http://127.0.0.1:8080".into(),
                api_key: Some("dev-key".into()),
                api_key_file: None,
            },
        );
        config.save(&path).expect("save");
        assert_eq!(Config::load(&path).expect("load"), config);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("current = \"prod\"\n"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn reads_the_key_file_relative_to_the_config_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("key"), "secret-key\n").expect("write");
        let entry = ContextEntry {
            url: "http://x".into(),
            api_key: None,
            api_key_file: Some("key".into()),
        };
        assert_eq!(
            entry.api_key(dir.path()).expect("key").as_deref(),
            Some("secret-key")
        );
    }

    #[test]
    fn xdg_config_home_wins_over_home_unless_relative() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let both = env(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/u")]);
        assert_eq!(
            default_path(&both).expect("path"),
            Path::new("/xdg/uptimeping/config.toml")
        );
        let relative = env(&[("XDG_CONFIG_HOME", "xdg"), ("HOME", "/home/u")]);
        assert_eq!(
            default_path(&relative).expect("path"),
            Path::new("/home/u/.config/uptimeping/config.toml")
        );
        assert!(default_path(&env(&[])).is_err());
    }

    #[test]
    fn unknown_context_names_the_known_ones() {
        let mut config = Config::default();
        config
            .contexts
            .insert("prod".into(), ContextEntry::default());
        let err = config.get("prd").expect_err("unknown").to_string();
        assert_eq!(err, "no context named `prd`; known contexts: prod");
    }
}
