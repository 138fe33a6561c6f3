//! `uptimeping daemon`: run checks continuously and serve the API.

use std::path::PathBuf;

use crate::daemon::config::{LogFormat, Settings};
use crate::daemon::{self, Config};

/// `--log-format`: the daemon's [`LogFormat`], as a flag's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

const EXAMPLES: &str = "\
Examples:
  uptimeping daemon --listen 127.0.0.1:8080 --data-dir ./data --watch examples/checks
  uptimeping daemon --config /etc/uptimeping/daemon.toml
  UPTIMEPING_DATA_DIR=/var/lib/uptimeping uptimeping daemon --log-format json
  uptimeping daemon --public-url https://uptime.example.com   # links in notifications
  # several daemons on one PostgreSQL share the checks; each needs its own --node
  UPTIMEPING_STORE=postgres://uptimeping@db/uptimeping uptimeping daemon --node a --location eu-west

A fresh data directory gets a `default` tenant and an admin API key, written to
<data-dir>/admin.key (mode 0600). The directory is kept 0700 and its files 0600,
and one daemon at a time holds it (uptimeping.lock): a second one exits 1 naming
the first's pid, as does a start with a missing --watch directory or a --listen
that cannot be bound; those leave no data directory behind. Settings come from
flags, then UPTIMEPING_* variables, then the --config file (TOML, same names
with `_`), then defaults.
SIGTERM or SIGINT stops scheduling, lets checks in flight finish (up to
--shutdown-grace), writes what is pending and exits 0.";

/// Run checks on their schedules, open incidents, send alerts, serve the API
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Address for the API, metrics and health endpoints [default: 127.0.0.1:8080]
    #[arg(long, env = "UPTIMEPING_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Where the SQLite database and admin.key live [default: ./data]
    #[arg(long, env = "UPTIMEPING_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite` (in the data directory) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    /// [default: sqlite]; give a password through the environment or the config
    /// file, not on a command line others can read
    #[arg(
        long,
        env = "UPTIMEPING_STORE",
        value_name = "URL",
        hide_env_values = true
    )]
    store: Option<String>,
    /// This daemon's name among the daemons sharing a PostgreSQL store; each needs
    /// its own [default: the host name]
    #[arg(long, env = "UPTIMEPING_NODE", value_name = "NAME")]
    node: Option<String>,
    /// Where this daemon probes from, e.g. eu-west; shown in `nodes list` and sent
    /// in probes' User-Agent [default: default]
    #[arg(long, env = "UPTIMEPING_LOCATION", value_name = "NAME")]
    location: Option<String>,
    /// Apply this directory of check files now and on every change (repeatable).
    #[arg(
        long,
        env = "UPTIMEPING_WATCH",
        value_name = "DIR",
        value_delimiter = ','
    )]
    watch: Vec<PathBuf>,
    /// TOML file with the same settings.
    #[arg(long, env = "UPTIMEPING_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Checks running at once [default: 512]
    #[arg(long, env = "UPTIMEPING_CONCURRENCY")]
    concurrency: Option<usize>,
    /// How long raw failed runs and changes of state are kept, e.g. 7d [default: 2d]
    #[arg(long, env = "UPTIMEPING_RETENTION", value_name = "DURATION")]
    retention: Option<crate::spec::Duration>,
    /// How long raw routine successes are kept [default: 1h]
    #[arg(long, env = "UPTIMEPING_RETENTION_SUCCESSES", value_name = "DURATION")]
    retention_successes: Option<crate::spec::Duration>,
    /// How long minute rollups are kept, at least 2h [default: 36h]
    #[arg(long, env = "UPTIMEPING_RETENTION_MINUTES", value_name = "DURATION")]
    retention_minutes: Option<crate::spec::Duration>,
    /// How long hour rollups are kept, at least 2d [default: 90d]
    #[arg(long, env = "UPTIMEPING_RETENTION_HOURS", value_name = "DURATION")]
    retention_hours: Option<crate::spec::Duration>,
    /// How long day rollups are kept [default: 730d]
    #[arg(long, env = "UPTIMEPING_RETENTION_DAYS", value_name = "DURATION")]
    retention_days: Option<crate::spec::Duration>,
    /// How long shutdown waits for checks in flight [default: 10s]
    #[arg(long, env = "UPTIMEPING_SHUTDOWN_GRACE", value_name = "DURATION")]
    shutdown_grace: Option<crate::spec::Duration>,
    /// Log lines as text or JSON (to stderr) [default: text]
    #[arg(long, env = "UPTIMEPING_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormatArg>,
    /// Log filter, e.g. `info` or `uptimeping=debug` [default: info]
    #[arg(long, env = "UPTIMEPING_LOG", value_name = "FILTER")]
    log_level: Option<String>,
    /// Notifications one tenant may send, e.g. `50/s` or `600/min`, or `none`;
    /// providers' and channels' own limits apply as well [default: 50/s]
    #[arg(long, env = "UPTIMEPING_NOTIFY_RATE_LIMIT", value_name = "RATE")]
    notify_rate_limit: Option<String>,
    /// Login attempts from one address (an IPv6 client by its /64), e.g.
    /// `10/min` or `30/h` [default: 10/min]
    #[arg(long, env = "UPTIMEPING_LOGIN_LIMIT_ADDRESS", value_name = "RATE")]
    login_limit_address: Option<String>,
    /// Login attempts for one email, from anywhere; a fifth is kept for
    /// addresses that have not failed a login within the window [default: 100/min]
    #[arg(long, env = "UPTIMEPING_LOGIN_LIMIT_EMAIL", value_name = "RATE")]
    login_limit_email: Option<String>,
    /// The daemon's URL as its users reach it, for links in notifications,
    /// e.g. https://uptime.example.com
    #[arg(long, env = "UPTIMEPING_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Let anyone register a new tenant with `uptimeping auth register` (off unless given)
    #[arg(long, env = "UPTIMEPING_ALLOW_SIGNUP")]
    allow_signup: bool,
    /// How long an access token works [default: 15m]
    #[arg(long, env = "UPTIMEPING_ACCESS_TOKEN_TTL", value_name = "DURATION")]
    access_token_ttl: Option<crate::spec::Duration>,
    /// How long a refresh token (a CLI login) works [default: 7d]
    #[arg(long, env = "UPTIMEPING_REFRESH_TOKEN_TTL", value_name = "DURATION")]
    refresh_token_ttl: Option<crate::spec::Duration>,
    /// How long a web console login lasts [default: 12h]
    #[arg(long, env = "UPTIMEPING_CONSOLE_SESSION_TTL", value_name = "DURATION")]
    console_session_ttl: Option<crate::spec::Duration>,
    /// How long the audit log is kept, at least 1d [default: 90d]
    #[arg(long, env = "UPTIMEPING_RETENTION_AUDIT", value_name = "DURATION")]
    retention_audit: Option<crate::spec::Duration>,
    /// A reverse proxy (address or block, e.g. 10.0.0.0/8) whose X-Forwarded-For
    /// names the client, for the login limits and the audit log (repeatable)
    #[arg(
        long = "trusted-proxy",
        env = "UPTIMEPING_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let settings = Settings {
            listen: self.listen,
            data_dir: self.data_dir,
            store: self.store,
            node: self.node,
            location: self.location,
            watch: self.watch,
            concurrency: self.concurrency,
            retention: self.retention,
            retention_successes: self.retention_successes,
            retention_minutes: self.retention_minutes,
            retention_hours: self.retention_hours,
            retention_days: self.retention_days,
            shutdown_grace: self.shutdown_grace,
            log_format: self.log_format.map(LogFormat::from),
            log_level: self.log_level,
            notify_rate_limit: self.notify_rate_limit,
            login_limit_address: self.login_limit_address,
            login_limit_email: self.login_limit_email,
            public_url: self.public_url,
            allow_signup: self.allow_signup.then_some(true),
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            console_session_ttl: self.console_session_ttl,
            retention_audit: self.retention_audit,
            trusted_proxies: self.trusted_proxies,
        };
        crate::memory::return_freed_memory_promptly();
        let config = Config::resolve(settings, self.config.as_deref())?;
        init_logging(&config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(daemon::run(config))?;
        Ok(super::exit::OK)
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .map_err(|e| anyhow::anyhow!("log filter `{}`: {e}", config.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match config.log_format {
        LogFormat::Text => builder
            .with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("logging: {e}"))
}
