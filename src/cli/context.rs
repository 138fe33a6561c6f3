//! `uptimeping context …`: named daemons (URL and API key) in the config file, and
//! which one commands use when no `--url` or `--context` is given.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;
use serde_json::json;

use super::client::{parse_base_url, shown_url_text};
use super::complete_live;
use super::config::{self, Config, ContextEntry};
use super::output::{show, table};
use super::{OutputFormat, exit};

const EXAMPLES: &str = "\
Examples:
  uptimeping context set prod --url https://uptime.example.com --api-key-file ~/prod.key
  uptimeping context set dev --url http://127.0.0.1:8080 --api-key \"$KEY\"
  uptimeping context use prod
  uptimeping context list
  uptimeping checks list --context dev       # one command against another context
  uptimeping context delete dev

Contexts live in $XDG_CONFIG_HOME/uptimeping/config.toml (else ~/.config/uptimeping/config.toml),
written readable by you only. --url/--api-key and UPTIMEPING_URL/UPTIMEPING_API_KEY
override the context.";

/// Manage named daemon connections (contexts)
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
    /// Output format of `list`
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table, global = true)]
    output: OutputFormat,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// List contexts; the current one is marked with *
    #[command(
        after_help = "Examples:\n  uptimeping context list\n  uptimeping context list -o json"
    )]
    List,
    /// Make a context the current one
    #[command(after_help = "Examples:\n  uptimeping context use prod")]
    Use {
        /// The context to make current
        #[arg(add = ArgValueCompleter::new(complete_live::contexts))]
        name: String,
    },
    /// Create or change a context; the first one made becomes current
    #[command(
        after_help = "Examples:\n  uptimeping context set prod --url https://uptime.example.com --api-key-file ~/prod.key\n  uptimeping context set prod --api-key-file ~/new.key   # change only the key"
    )]
    Set {
        /// The context to save (made if new, updated if not)
        #[arg(add = ArgValueCompleter::new(complete_live::contexts))]
        name: String,
        /// The daemon's base URL (needed for a new context)
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// A file holding the API key, read each time it is used
        #[arg(long, value_name = "PATH", conflicts_with = "api_key")]
        api_key_file: Option<PathBuf>,
        /// The API key itself, stored in the config file
        #[arg(long, value_name = "KEY")]
        api_key: Option<String>,
    },
    /// Delete a context
    #[command(after_help = "Examples:\n  uptimeping context delete dev")]
    Delete {
        /// The context to remove from the config file
        #[arg(add = ArgValueCompleter::new(complete_live::contexts))]
        name: String,
    },
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let path = config::path()?;
        let mut config = Config::load(&path)?;
        match self.command {
            Cmd::List => list(&config, self.output)?,
            Cmd::Use { name } => {
                config.get(&name)?;
                config.current = Some(name.clone());
                config.save(&path)?;
                eprintln!("switched to context `{name}`");
            }
            Cmd::Set {
                name,
                url,
                api_key_file,
                api_key,
            } => {
                set(&mut config, &name, url, api_key_file, api_key)?;
                config.save(&path)?;
                let current = if config.current.as_deref() == Some(name.as_str()) {
                    " (current)"
                } else {
                    ""
                };
                eprintln!("saved context `{name}`{current} in {}", path.display());
            }
            Cmd::Delete { name } => {
                config.get(&name)?;
                config.contexts.remove(&name);
                if config.current.as_deref() == Some(name.as_str()) {
                    config.current = None;
                }
                config.save(&path)?;
                eprintln!("deleted context `{name}`");
            }
        }
        Ok(exit::OK)
    }
}

fn list(config: &Config, output: OutputFormat) -> anyhow::Result<()> {
    let is_current = |name: &str| config.current.as_deref() == Some(name);
    // Keys are never printed, only where they come from.
    let key_origin = |e: &ContextEntry| match (&e.api_key, &e.api_key_file) {
        (Some(_), _) => "in config".to_string(),
        (None, Some(f)) => f.display().to_string(),
        (None, None) => "-".to_string(),
    };
    let doc: Vec<_> = config
        .contexts
        .iter()
        .map(|(name, e)| {
            json!({
                "name": name,
                "url": shown_url_text(&e.url),
                "current": is_current(name),
                "api_key": e.api_key.as_ref().map(|_| crate::spec::secrets::MASK),
                "api_key_file": e.api_key_file,
            })
        })
        .collect();
    show(output, &doc, || {
        if config.contexts.is_empty() {
            return "No contexts. Create one with `uptimeping context set NAME --url URL --api-key-file PATH`.\n".into();
        }
        let rows = config
            .contexts
            .iter()
            .map(|(name, e)| {
                vec![
                    if is_current(name) { "*" } else { "" }.to_string(),
                    name.clone(),
                    shown_url_text(&e.url),
                    key_origin(e),
                ]
            })
            .collect();
        table(&["CURRENT", "NAME", "URL", "API KEY"], rows)
    })
}

fn set(
    config: &mut Config,
    name: &str,
    url: Option<String>,
    api_key_file: Option<PathBuf>,
    api_key: Option<String>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !name.trim().is_empty() && !name.contains(char::is_whitespace),
        "a context name must not be empty or contain spaces"
    );
    let mut entry = match (config.contexts.get(name), url) {
        (Some(old), url) => ContextEntry {
            url: url.unwrap_or_else(|| old.url.clone()),
            ..old.clone()
        },
        (None, Some(url)) => ContextEntry {
            url,
            ..ContextEntry::default()
        },
        (None, None) => anyhow::bail!("context `{name}` is new: give its --url"),
    };
    parse_base_url(&entry.url)?;
    if let Some(file) = api_key_file {
        let file = absolute(&file)?;
        if std::fs::metadata(&file).is_err() {
            eprintln!(
                "warning: `{}` cannot be read yet; commands using `{name}` will fail until it can",
                file.display()
            );
        }
        entry.api_key_file = Some(file);
        entry.api_key = None;
    }
    if let Some(key) = api_key {
        anyhow::ensure!(!key.trim().is_empty(), "--api-key must not be empty");
        entry.api_key = Some(key);
        entry.api_key_file = None;
    }
    config.contexts.insert(name.to_string(), entry);
    if config.current.is_none() {
        config.current = Some(name.to_string());
    }
    Ok(())
}

/// The file's path from the root, since the config file is read from anywhere.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    Ok(cwd.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_creates_updates_and_switches_key_source() {
        let mut c = Config::default();
        assert!(set(&mut c, "prod", None, None, None).is_err());
        set(
            &mut c,
            "prod",
            Some("https://prod.example".into()),
            Some("/run/key".into()),
            None,
        )
        .expect("create");
        assert_eq!(
            c.current.as_deref(),
            Some("prod"),
            "the first becomes current"
        );
        set(&mut c, "prod", None, None, Some("k".into())).expect("update");
        let e = &c.contexts["prod"];
        assert_eq!(e.url, "https://prod.example");
        assert_eq!(
            (e.api_key.as_deref(), e.api_key_file.as_ref()),
            (Some("k"), None)
        );
        set(&mut c, "dev", Some("http://127.0.0.1:1".into()), None, None).expect("second");
        assert_eq!(c.current.as_deref(), Some("prod"), "current stays");
        assert!(set(&mut c, "bad", Some("nope".into()), None, None).is_err());
    }
}
