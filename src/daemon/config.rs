//! Daemon settings: defaults, then a TOML file (`--config`), then `UPTIMEPING_*`
//! environment variables and flags (the CLI resolves those two, flags winning,
//! and hands them over as [`Settings`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// Loopback by default: exposing the API is a decision, not an accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Relative to the working directory, so a first try needs no root; packages set
/// `/var/lib/uptimeping`.
pub const DEFAULT_DATA_DIR: &str = "data";
/// Checks running at once: enough for 10,000 checks at a 5 s interval on two cores.
pub const DEFAULT_CONCURRENCY: usize = 512;
/// Failed runs and changes of state are kept this long as raw results: the evidence
/// behind recent incidents. What happened further back is in the rollups.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(2 * 24 * 3600);
/// Routine successes (an up run after an up run) are kept this long: they are the
/// bulk of all results (a third of the database at 6 h, for 10,000 checks every
/// 30 s) and say nothing the rollups do not.
pub const DEFAULT_RETENTION_SUCCESSES: Duration = Duration::from_secs(3600);
/// Minute rollups: enough for a 24 h window read to the minute at both ends; a
/// month of 10,000 checks every 30 s stays well under 2 GB with this (the storage
/// benchmark), where two days would come close to it.
pub const DEFAULT_RETENTION_MINUTES: Duration = Duration::from_secs(36 * 3600);
/// Hour rollups: 90 days, the longest SLO window.
pub const DEFAULT_RETENTION_HOURS: Duration = Duration::from_secs(90 * 24 * 3600);
/// Day rollups: two years of daily history.
pub const DEFAULT_RETENTION_DAYS: Duration = Duration::from_secs(730 * 24 * 3600);
/// Minutes are kept at least until their hour is built (it ends, then waits for
/// late results), and hours until their day is: shorter settings are refused.
pub const MIN_RETENTION_MINUTES: Duration = Duration::from_secs(2 * 3600);
pub const MIN_RETENTION_HOURS: Duration = Duration::from_secs(2 * 24 * 3600);
/// Days are kept at least as long as hours: they are what is left of them.
pub const MIN_RETENTION_DAYS: Duration = MIN_RETENTION_HOURS;
/// How long shutdown waits for checks in flight before abandoning them.
/// The shortest `--access-token-ttl`: a token must outlive a request's round
/// trip and the minute or so the CLI refreshes ahead of expiry; a shorter one
/// is dead before it is used (`0s` made every login useless).
pub const MIN_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(30);
/// The shortest `--refresh-token-ttl` and `--console-session-ttl`: a login
/// that ends within minutes is a typo, not a policy.
pub const MIN_SESSION_TTL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where the daemon keeps its state.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// SQLite, in the data directory: the embedded default, for one daemon.
    Sqlite,
    /// A PostgreSQL database, by URL (which may hold a password).
    Postgres(String),
}

impl std::fmt::Debug for StoreUrl {
    /// Without the URL: its password must not reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite => f.write_str("Sqlite"),
            StoreUrl::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

/// A config file that does not parse, by `file:line:col` and the parser's message
/// alone: the parser's own rendering quotes the line, which may be an unquoted
/// `store = postgres://user:password@…` whose password must not reach a log.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> anyhow::Error {
    let at = e.span().map(|span| {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{line}:{col}: ")
    });
    anyhow::anyhow!(
        "config file `{}`:{}{}",
        path.display(),
        at.map_or(" ".into(), |a| a),
        e.message().trim_end()
    )
}

/// The location of a daemon not told its own.
pub const DEFAULT_LOCATION: &str = "default";
/// Longest node or location name.
const MAX_NAME: usize = 63;

/// A node or location name (see [`crate::spec::is_place_name`]).
fn check_name(flag: &str, name: String) -> anyhow::Result<String> {
    if crate::spec::is_place_name(&name) {
        Ok(name)
    } else {
        anyhow::bail!(
            "{flag} `{}` is not a name: give 1 to {MAX_NAME} letters, digits, `-`, `_` or `.`, starting with a letter or digit",
            name.escape_debug()
        )
    }
}

/// This machine's host name, made a valid node name; `uptimeping` when it has none.
fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME)
        .collect();
    if name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name
    } else {
        "uptimeping".into()
    }
}

fn parse_store(text: Option<&str>) -> anyhow::Result<StoreUrl> {
    let Some(text) = text.map(str::trim) else {
        return Ok(StoreUrl::Sqlite);
    };
    if text == "sqlite" {
        return Ok(StoreUrl::Sqlite);
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        // Parsed here so that a typo fails at start, not at the first write; the
        // parser's message never quotes the URL, so no password is shown.
        return match crate::daemon::store::pg_url::parse(text) {
            Ok(_) => Ok(StoreUrl::Postgres(text.to_string())),
            Err(e) => anyhow::bail!(
                "--store: {e}; give postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=CA.pem]"
            ),
        };
    }
    anyhow::bail!(
        "--store takes `sqlite` (the default: a database in the data directory) or a postgres://USER@HOST/DATABASE URL"
    )
}

/// Settings as given by flags or environment; `None` where not given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// `sqlite` or a `postgres://` URL.
    pub store: Option<String>,
    /// This daemon's name among the nodes sharing a database.
    pub node: Option<String>,
    /// Where this daemon probes from (`eu-west`).
    pub location: Option<String>,
    #[serde(default)]
    pub watch: Vec<PathBuf>,
    pub concurrency: Option<usize>,
    pub retention: Option<crate::spec::Duration>,
    pub retention_successes: Option<crate::spec::Duration>,
    pub retention_minutes: Option<crate::spec::Duration>,
    pub retention_hours: Option<crate::spec::Duration>,
    pub retention_days: Option<crate::spec::Duration>,
    pub shutdown_grace: Option<crate::spec::Duration>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    /// Each tenant's notification limit (`50/s`), or `none`.
    pub notify_rate_limit: Option<String>,
    pub login_limit_address: Option<String>,
    pub login_limit_email: Option<String>,
    pub public_url: Option<String>,
    pub allow_signup: Option<bool>,
    pub access_token_ttl: Option<crate::spec::Duration>,
    pub refresh_token_ttl: Option<crate::spec::Duration>,
    pub console_session_ttl: Option<crate::spec::Duration>,
    pub retention_audit: Option<crate::spec::Duration>,
    /// Reverse proxies (addresses or blocks) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// The environment variable that may hold the key access tokens are signed with
/// (at least 32 bytes); else the data directory's `jwt.key` is used.
pub const JWT_SECRET_ENV: &str = "UPTIMEPING_JWT_SECRET";
/// Shortest signing key accepted: HS256's own output size.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The audit log is kept 90 days unless told otherwise.
pub const DEFAULT_RETENTION_AUDIT: Duration = Duration::from_secs(90 * 24 * 3600);
/// The audit log is kept at least a day: pruning runs at start, so a typo such as
/// `0` or `1s` (or a stray environment variable) would otherwise delete the whole
/// log the moment the daemon starts, and a day leaves time to read what happened
/// overnight before it goes.
pub const MIN_RETENTION_AUDIT: Duration = Duration::from_secs(24 * 3600);

/// How long each tier of results is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw failed runs and changes of state.
    pub results: Duration,
    /// Raw routine successes.
    pub successes: Duration,
    pub minutes: Duration,
    pub hours: Duration,
    pub days: Duration,
    /// The audit log.
    pub audit: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            results: DEFAULT_RETENTION,
            successes: DEFAULT_RETENTION_SUCCESSES,
            minutes: DEFAULT_RETENTION_MINUTES,
            hours: DEFAULT_RETENTION_HOURS,
            days: DEFAULT_RETENTION_DAYS,
            audit: DEFAULT_RETENTION_AUDIT,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` or `ip:port`, checked for shape; resolved when the daemon binds.
    pub listen: String,
    pub data_dir: PathBuf,
    pub store: StoreUrl,
    /// This daemon's name among the nodes sharing a database: the host name unless given.
    pub node: String,
    /// Where this daemon probes from.
    pub location: String,
    pub watch: Vec<PathBuf>,
    pub concurrency: usize,
    pub retention: Retention,
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    pub notify_rate_limit: Option<crate::spec::Rate>,
    /// The daemon's URL as its users reach it (links in notifications); none by default.
    pub public_url: Option<String>,
    /// Logins, tokens and sessions.
    pub auth: crate::daemon::auth::Options,
}

impl Config {
    /// Merges `given` (flags and environment) over the file at `file` over defaults.
    pub fn resolve(given: Settings, file: Option<&Path>) -> anyhow::Result<Config> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file `{}`", path.display()))?;
                toml::from_str::<Settings>(&text).map_err(|e| toml_error(path, &text, &e))?
            }
            None => Settings::default(),
        };
        let listen = given
            .listen
            .or(from_file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        check_listen(&listen)?;
        let concurrency = given
            .concurrency
            .or(from_file.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            anyhow::bail!("`concurrency` must be at least 1");
        }
        let notify_rate_limit = match given
            .notify_rate_limit
            .or(from_file.notify_rate_limit)
            .as_deref()
            .map(str::trim)
        {
            None => Some(crate::daemon::notify::limits::DEFAULT_TENANT),
            Some("none" | "off") => None,
            Some(text) => Some(
                text.parse()
                    .map_err(|e| anyhow::anyhow!("`notify_rate_limit`: {e}, or `none`"))?,
            ),
        };
        let public_url = given.public_url.or(from_file.public_url);
        if let Some(u) = &public_url
            && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            anyhow::bail!("`public_url`: `{u}` is not an http:// or https:// URL");
        }
        let auth = {
            use crate::daemon::auth;
            let pick =
                |a: Option<crate::spec::Duration>,
                 b: Option<crate::spec::Duration>,
                 default: Duration| a.or(b).map_or(default, |d| d.get());
            let secret = match std::env::var(JWT_SECRET_ENV) {
                Ok(s) if s.len() < MIN_JWT_SECRET_BYTES => anyhow::bail!(
                    "{JWT_SECRET_ENV} must be at least {MIN_JWT_SECRET_BYTES} bytes; make one with `head -c 48 /dev/urandom | base64`"
                ),
                Ok(s) => Some(s.into_bytes()),
                Err(_) => None,
            };
            let rate = |key: &str, a: Option<String>, b: Option<String>, default| {
                a.or(b).map_or(Ok(default), |text| {
                    text.parse::<crate::spec::Rate>()
                        .map_err(|e| anyhow::anyhow!("{key}: {e}"))
                })
            };
            let login_per_address = rate(
                "--login-limit-address",
                given.login_limit_address,
                from_file.login_limit_address,
                auth::PER_ADDRESS,
            )?;
            let login_per_email = rate(
                "--login-limit-email",
                given.login_limit_email,
                from_file.login_limit_email,
                auth::PER_EMAIL,
            )?;
            if login_per_email.count < auth::MIN_PER_EMAIL {
                anyhow::bail!(
                    "--login-limit-email must allow at least {} attempts a period (one share is kept for addresses that have not failed); it is {login_per_email}",
                    auth::MIN_PER_EMAIL
                );
            }
            let options = auth::Options {
                login_per_address,
                login_per_email,
                allow_signup: given
                    .allow_signup
                    .or(from_file.allow_signup)
                    .unwrap_or(false),
                secret,
                access_ttl: pick(
                    given.access_token_ttl,
                    from_file.access_token_ttl,
                    auth::ACCESS_TTL,
                ),
                refresh_ttl: pick(
                    given.refresh_token_ttl,
                    from_file.refresh_token_ttl,
                    auth::REFRESH_TTL,
                ),
                console_ttl: pick(
                    given.console_session_ttl,
                    from_file.console_session_ttl,
                    auth::CONSOLE_TTL,
                ),
                public_url: public_url.clone(),
                trusted_proxies: trusted_proxies(if given.trusted_proxies.is_empty() {
                    &from_file.trusted_proxies
                } else {
                    &given.trusted_proxies
                })?,
            };
            for (flag, ttl, min) in [
                (
                    "--access-token-ttl",
                    options.access_ttl,
                    MIN_ACCESS_TOKEN_TTL,
                ),
                ("--refresh-token-ttl", options.refresh_ttl, MIN_SESSION_TTL),
                (
                    "--console-session-ttl",
                    options.console_ttl,
                    MIN_SESSION_TTL,
                ),
            ] {
                if ttl < min {
                    anyhow::bail!(
                        "{flag} must be at least {}s (it is {}s): shorter logins end before they are used",
                        min.as_secs(),
                        ttl.as_secs()
                    );
                }
            }
            if options.access_ttl > options.refresh_ttl {
                anyhow::bail!("--access-token-ttl must not be longer than --refresh-token-ttl");
            }
            options
        };
        Ok(Config {
            auth,
            notify_rate_limit,
            public_url,
            listen,
            store: parse_store(given.store.or(from_file.store).as_deref())?,
            node: match given.node.or(from_file.node) {
                Some(name) => check_name("--node", name)?,
                None => default_node_name(),
            },
            location: check_name(
                "--location",
                given
                    .location
                    .or(from_file.location)
                    .unwrap_or_else(|| DEFAULT_LOCATION.into()),
            )?,
            data_dir: given
                .data_dir
                .or(from_file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            watch: if given.watch.is_empty() {
                from_file.watch
            } else {
                given.watch
            },
            concurrency,
            retention: {
                let pick =
                    |a: Option<crate::spec::Duration>,
                     b: Option<crate::spec::Duration>,
                     default: Duration| a.or(b).map_or(default, |d| d.get());
                let r = Retention {
                    results: pick(given.retention, from_file.retention, DEFAULT_RETENTION),
                    successes: pick(
                        given.retention_successes,
                        from_file.retention_successes,
                        DEFAULT_RETENTION_SUCCESSES,
                    ),
                    minutes: pick(
                        given.retention_minutes,
                        from_file.retention_minutes,
                        DEFAULT_RETENTION_MINUTES,
                    ),
                    hours: pick(
                        given.retention_hours,
                        from_file.retention_hours,
                        DEFAULT_RETENTION_HOURS,
                    ),
                    days: pick(
                        given.retention_days,
                        from_file.retention_days,
                        DEFAULT_RETENTION_DAYS,
                    ),
                    audit: pick(
                        given.retention_audit,
                        from_file.retention_audit,
                        DEFAULT_RETENTION_AUDIT,
                    ),
                };
                if r.minutes < MIN_RETENTION_MINUTES {
                    anyhow::bail!(
                        "--retention-minutes (`retention_minutes` in the config file) must be at least 2h: minutes are kept until the hour they make up is built"
                    );
                }
                if r.hours < MIN_RETENTION_HOURS {
                    anyhow::bail!(
                        "--retention-hours (`retention_hours` in the config file) must be at least 2d: hours are kept until the day they make up is built"
                    );
                }
                if r.days < MIN_RETENTION_DAYS.max(r.hours) {
                    anyhow::bail!(
                        "--retention-days (`retention_days` in the config file) must be at least 2d and at least --retention-hours: days are what is kept of hours"
                    );
                }
                if r.audit < MIN_RETENTION_AUDIT {
                    anyhow::bail!(
                        "--retention-audit (`retention_audit` in the config file) must be at least 1d: a shorter one would delete the audit log as soon as the daemon starts; the default is 90d"
                    );
                }
                r
            },
            shutdown_grace: given
                .shutdown_grace
                .or(from_file.shutdown_grace)
                .map_or(DEFAULT_SHUTDOWN_GRACE, |d| d.get()),
            log_format: given
                .log_format
                .or(from_file.log_format)
                .unwrap_or_default(),
            log_level: given
                .log_level
                .or(from_file.log_level)
                .unwrap_or_else(|| "info".into()),
        })
    }
}

/// Parses the trusted proxies' blocks, naming a bad one.
fn trusted_proxies(list: &[String]) -> anyhow::Result<Vec<crate::daemon::api::client::Cidr>> {
    use crate::daemon::api::client::MAX_TRUSTED_PROXIES;
    if list.len() > MAX_TRUSTED_PROXIES {
        anyhow::bail!(
            "--trusted-proxy (`trusted_proxies` in the config file) takes at most {MAX_TRUSTED_PROXIES} addresses or blocks: give the blocks that hold them"
        );
    }
    list.iter()
        .map(|c| {
            c.parse()
                .map_err(|e| anyhow::anyhow!("--trusted-proxy (`trusted_proxies`): {e}"))
        })
        .collect()
}

/// Accepts `ip:port`, `[ipv6]:port` and `host:port`; the host is resolved at bind time.
fn check_listen(listen: &str) -> anyhow::Result<()> {
    if listen.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let bad = || {
        anyhow::anyhow!(
            "`listen`: `{listen}` is not host:port, like 127.0.0.1:8080, [::1]:8080 or localhost:8080"
        )
    };
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    let host_ok = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !host_ok {
        return Err(bad());
    }
    Ok(())
}

/// Longest host name DNS allows (RFC 1035); anything longer cannot resolve.
const MAX_HOST_LEN: usize = 253;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nconcurrency = 7\nretention = \"2d\"\n",
        )
        .unwrap();
        let given = Settings {
            listen: Some("127.0.0.1:9001".into()),
            ..Settings::default()
        };
        let c = Config::resolve(given, Some(&path)).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9001");
        assert_eq!(c.concurrency, 7);
        assert_eq!(c.retention.results, Duration::from_secs(2 * 86_400));
        assert_eq!(c.shutdown_grace, DEFAULT_SHUTDOWN_GRACE);
    }

    #[test]
    fn retention_tiers_too_short_to_build_from_are_refused_naming_the_flag() {
        let d = |s: &str| Some(s.parse::<crate::spec::Duration>().unwrap());
        for (given, flag) in [
            (
                Settings {
                    retention_minutes: d("1h"),
                    ..Settings::default()
                },
                "--retention-minutes",
            ),
            (
                Settings {
                    retention_hours: d("1d"),
                    ..Settings::default()
                },
                "--retention-hours",
            ),
            (
                Settings {
                    retention_days: d("0s"),
                    ..Settings::default()
                },
                "--retention-days",
            ),
            (
                Settings {
                    retention_hours: d("1000d"),
                    retention_days: d("10d"),
                    ..Settings::default()
                },
                "--retention-days",
            ),
        ] {
            let err = Config::resolve(given, None).unwrap_err().to_string();
            assert!(err.starts_with(flag), "{err}");
        }
        let c = Config::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.retention, Retention::default());
    }

    #[test]
    fn audit_retention_under_a_day_is_refused_naming_the_minimum() {
        let d = |s: &str| Some(s.parse::<crate::spec::Duration>().unwrap());
        for short in ["0s", "1s", "1h", "23h"] {
            let given = Settings {
                retention_audit: d(short),
                ..Settings::default()
            };
            let err = Config::resolve(given, None).unwrap_err().to_string();
            assert!(err.starts_with("--retention-audit"), "{short}: {err}");
            assert!(err.contains("at least 1d"), "{short}: {err}");
        }
        // From the config file too.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "retention_audit = \"0s\"\n").unwrap();
        let err = Config::resolve(Settings::default(), Some(&path))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1d"), "{err}");
        let c = Config::resolve(
            Settings {
                retention_audit: d("1d"),
                ..Settings::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(c.retention.audit, MIN_RETENTION_AUDIT);
    }

    #[test]
    fn login_limits_come_from_flags_or_the_file_and_a_bad_one_is_named() {
        let c = Config::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.auth.login_per_address, crate::daemon::auth::PER_ADDRESS);
        assert_eq!(c.auth.login_per_email, crate::daemon::auth::PER_EMAIL);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "login_limit_address = \"30/h\"\nlogin_limit_email = \"500/1d\"\n",
        )
        .unwrap();
        let c = Config::resolve(Settings::default(), Some(&path)).unwrap();
        assert_eq!(c.auth.login_per_address.to_string(), "30/h");
        assert_eq!(c.auth.login_per_email.to_string(), "500/1d");
        let given = Settings {
            login_limit_address: Some("5/min".into()),
            ..Settings::default()
        };
        let c = Config::resolve(given, Some(&path)).unwrap();
        assert_eq!(c.auth.login_per_address.to_string(), "5/min");
        for (given, flag) in [
            (
                Settings {
                    login_limit_address: Some("ten a minute".into()),
                    ..Settings::default()
                },
                "--login-limit-address",
            ),
            (
                Settings {
                    login_limit_email: Some("100/2d".into()),
                    ..Settings::default()
                },
                "--login-limit-email",
            ),
            (
                Settings {
                    login_limit_email: Some("1/min".into()),
                    ..Settings::default()
                },
                "--login-limit-email",
            ),
        ] {
            let err = Config::resolve(given, None).unwrap_err().to_string();
            assert!(err.starts_with(flag), "{err}");
        }
    }

    #[test]
    fn a_config_file_that_does_not_parse_is_named_by_line_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:8080\"\nstore = postgres://u:hunter2@db/x\n",
        )
        .unwrap();
        let e = Config::resolve(Settings::default(), Some(&path))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("config file `{}`:2:9: ", path.display())),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn node_and_location_names_are_checked_and_the_node_defaults_to_the_host() {
        let c = Config::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.location, "default");
        assert!(!c.node.is_empty() && c.node.len() <= 63, "{}", c.node);
        for bad in ["", "-a", "a b", "ü", &"x".repeat(64)] {
            let given = Settings {
                node: Some(bad.to_string()),
                ..Default::default()
            };
            let e = Config::resolve(given, None).unwrap_err().to_string();
            assert!(e.starts_with("--node "), "{bad}: {e}");
        }
        let given = Settings {
            node: Some("web-1.eu".into()),
            location: Some("eu-west".into()),
            ..Default::default()
        };
        let c = Config::resolve(given, None).unwrap();
        assert_eq!(
            (c.node.as_str(), c.location.as_str()),
            ("web-1.eu", "eu-west")
        );
    }

    #[test]
    fn trusted_proxies_come_from_flags_or_the_file_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let c = Config::resolve(Settings::default(), Some(&path)).unwrap();
        let got: Vec<String> = c
            .auth
            .trusted_proxies
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(got, ["10.0.0.0/8", "::1/128"]);
        let given = Settings {
            trusted_proxies: vec!["127.0.0.1".into()],
            ..Default::default()
        };
        let c = Config::resolve(given, Some(&path)).unwrap();
        assert_eq!(c.auth.trusted_proxies.len(), 1);
        assert!(
            Config::resolve(Settings::default(), None)
                .unwrap()
                .auth
                .trusted_proxies
                .is_empty()
        );
        let given = Settings {
            trusted_proxies: vec!["10.0.0.0/8".into(), "proxy.local".into()],
            ..Default::default()
        };
        let err = Config::resolve(given, None).unwrap_err().to_string();
        assert!(
            err.contains("--trusted-proxy") && err.contains("proxy.local"),
            "{err}"
        );
        let given = Settings {
            trusted_proxies: vec![
                "10.0.0.1".into();
                crate::daemon::api::client::MAX_TRUSTED_PROXIES + 1
            ],
            ..Default::default()
        };
        assert!(Config::resolve(given, None).is_err());
    }

    #[test]
    fn login_lifetimes_too_short_to_use_are_refused_naming_the_flag_and_minimum() {
        let d = |s: &str| Some(s.parse::<crate::spec::Duration>().unwrap());
        for (given, says) in [
            (
                Settings {
                    access_token_ttl: d("0s"),
                    ..Settings::default()
                },
                "--access-token-ttl must be at least 30s",
            ),
            (
                Settings {
                    access_token_ttl: d("29s"),
                    ..Settings::default()
                },
                "--access-token-ttl must be at least 30s",
            ),
            (
                Settings {
                    access_token_ttl: d("30s"),
                    refresh_token_ttl: d("1m"),
                    ..Settings::default()
                },
                "--refresh-token-ttl must be at least 300s",
            ),
            (
                Settings {
                    console_session_ttl: d("0s"),
                    ..Settings::default()
                },
                "--console-session-ttl must be at least 300s",
            ),
        ] {
            let err = Config::resolve(given, None).unwrap_err().to_string();
            assert!(err.starts_with(says), "{err}");
        }
        let c = Config::resolve(
            Settings {
                access_token_ttl: d("30s"),
                refresh_token_ttl: d("5m"),
                console_session_ttl: d("5m"),
                ..Settings::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(c.auth.access_ttl, MIN_ACCESS_TOKEN_TTL);
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listn = \"x\"\n").unwrap();
        let err = format!(
            "{:#}",
            Config::resolve(Settings::default(), Some(&path)).unwrap_err()
        );
        assert!(err.contains("unknown field `listn`"), "{err}");
    }

    #[test]
    fn public_url_comes_from_the_file_and_must_be_http() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "public_url = \"https://uptime.example\"\n").unwrap();
        let c = Config::resolve(Settings::default(), Some(&path)).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://uptime.example"));
        let given = Settings {
            public_url: Some("uptime.example".into()),
            ..Settings::default()
        };
        let err = format!("{:#}", Config::resolve(given, None).unwrap_err());
        assert_eq!(
            err,
            "`public_url`: `uptime.example` is not an http:// or https:// URL"
        );
    }

    #[test]
    fn listen_takes_ip_and_host_names_and_names_a_bad_value() {
        for ok in [
            "127.0.0.1:0",
            "[::1]:8080",
            "localhost:8080",
            "uptime-1.internal:80",
        ] {
            let given = Settings {
                listen: Some(ok.into()),
                ..Settings::default()
            };
            assert_eq!(Config::resolve(given, None).unwrap().listen, ok);
        }
        for bad in [
            "8080",
            "localhost",
            "localhost:99999",
            ":8080",
            "a b:80",
            "host:",
            "::1:80x",
        ] {
            let given = Settings {
                listen: Some(bad.into()),
                ..Settings::default()
            };
            let err = format!("{:#}", Config::resolve(given, None).unwrap_err());
            assert_eq!(
                err,
                format!(
                    "`listen`: `{bad}` is not host:port, like 127.0.0.1:8080, [::1]:8080 or localhost:8080"
                )
            );
        }
    }
}
