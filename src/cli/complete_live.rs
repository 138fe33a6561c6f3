//! Live completions (`source <(UPTIMEPING_COMPLETE=bash uptimeping)`): names of checks,
//! channels, incidents and contexts, asked of the daemon the command being
//! completed would talk to. Completing must never get in the way of typing, so
//! every failure (no daemon, a wrong key, a slow answer) gives no candidates and
//! prints nothing: the shell owns the terminal while it completes.

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;
use serde::Deserialize;

use super::client::{Client, ConnectArgs, Connection, shown_url_text};
use super::config::{self, Config};

/// Longest a completion waits for the daemon, connection included: a pause at
/// <TAB> longer than this feels like a hung shell, and a daemon on a reachable
/// network lists thousands of names in far less.
pub const COMPLETION_TIMEOUT: Duration = Duration::from_millis(1500);

/// Most candidates offered: more than anyone reads through in a shell's list,
/// and a bound on what a daemon with a huge (or hostile) list makes the shell hold.
pub const MAX_CANDIDATES: usize = 500;

/// Most items read from the daemon to find those matching the typed prefix (the
/// API filters by labels and states, not by prefix): five of its largest pages.
pub const MAX_SCANNED: usize = 5000;

/// Largest answer read from the daemon while completing: a page of a thousand
/// checks is well under this, and parsing more than this could outlast
/// [`COMPLETION_TIMEOUT`] and hold hundreds of megabytes for a name list.
pub const MAX_COMPLETION_RESPONSE_BYTES: usize = 1024 * 1024;

/// Largest config file read while completing: a config of hundreds of contexts is
/// a few kilobytes; reading and parsing a bigger one is no work to do at <TAB>.
pub const MAX_COMPLETION_CONFIG_BYTES: u64 = 256 * 1024;

/// Largest API key file read while completing: keys are tens of bytes.
pub const MAX_COMPLETION_KEY_BYTES: u64 = 4 * 1024;

/// Longest context name offered (names in the config file are free-form; what a
/// shell can take unquoted is not).
pub const MAX_CONTEXT_NAME_CHARS: usize = 63;

/// Longest description shown next to a candidate (zsh, fish); longer is cut.
pub const MAX_HELP_CHARS: usize = 80;

/// The check names that start with `current`.
pub fn checks(current: &OsStr) -> Vec<CompletionCandidate> {
    #[derive(Deserialize)]
    struct Check {
        name: String,
        #[serde(rename = "type", default)]
        check_type: String,
        #[serde(default)]
        state: String,
    }
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let listed = from_daemon(|client| async move {
        let listed = client
            .get_list(&["checks"], &[], Some(MAX_SCANNED), |p: Vec<Check>| p)
            .await?;
        Ok(listed.items)
    });
    named(
        prefix,
        listed
            .into_iter()
            .map(|c| (c.name, format!("{} {}", c.check_type, c.state))),
    )
}

/// The channel names that start with `current`.
pub fn channels(current: &OsStr) -> Vec<CompletionCandidate> {
    #[derive(Deserialize)]
    struct Channel {
        name: String,
        #[serde(rename = "type", default)]
        channel_type: String,
    }
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let listed = from_daemon(|client| async move {
        let listed = client
            .get_list(&["channels"], &[], Some(MAX_SCANNED), |p: Vec<Channel>| p)
            .await?;
        Ok(listed.items)
    });
    named(prefix, listed.into_iter().map(|c| (c.name, c.channel_type)))
}

/// Ids of incidents in any status, newest first.
pub fn incidents(current: &OsStr) -> Vec<CompletionCandidate> {
    incidents_in(current, &[])
}

/// Ids of open incidents: those that can be acknowledged.
pub fn open_incidents(current: &OsStr) -> Vec<CompletionCandidate> {
    incidents_in(current, &["open"])
}

/// Ids of incidents not yet resolved.
pub fn unresolved_incidents(current: &OsStr) -> Vec<CompletionCandidate> {
    incidents_in(current, &["open", "acknowledged"])
}

/// Ids of incidents in one of `statuses` (all when empty) that start with
/// `current`; `#4` completes to `#42` as `4` does to `42`, since both are taken.
fn incidents_in(current: &OsStr, statuses: &[&'static str]) -> Vec<CompletionCandidate> {
    #[derive(Deserialize)]
    struct Incident {
        id: i64,
        #[serde(default)]
        check: String,
        #[serde(default)]
        status: String,
    }
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    // Offered bare: the CLI takes `42` as it takes `#42`, and an unquoted `#42`
    // is a comment to an interactive shell.
    let digits = typed.strip_prefix('#').unwrap_or(typed);
    let statuses = statuses.to_vec();
    let mut listed = from_daemon(|client| async move {
        let mut all = Vec::new();
        let queries: Vec<Vec<(&str, String)>> = if statuses.is_empty() {
            vec![Vec::new()]
        } else {
            statuses
                .iter()
                .map(|s| vec![("status", (*s).to_string())])
                .collect()
        };
        for query in queries {
            let left = MAX_SCANNED.saturating_sub(all.len());
            let listed = client
                .get_list(&["incidents"], &query, Some(left), |p: Vec<Incident>| p)
                .await?;
            all.extend(listed.items);
        }
        Ok(all)
    });
    listed.sort_by_key(|i| std::cmp::Reverse(i.id));
    offered(
        digits,
        listed
            .into_iter()
            .filter(|i| i.id > 0)
            .map(|i| (i.id.to_string(), format!("{} {}", i.check, i.status))),
        is_incident_id,
    )
}

/// The names of the config file's contexts that start with `current`.
pub fn contexts(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Some((config, _)) = bounded_config() else {
        return Vec::new();
    };
    let marked = |name: &str| {
        if config.current.as_deref() == Some(name) {
            "(current) "
        } else {
            ""
        }
    };
    offered(
        prefix,
        config.contexts.iter().map(|(name, e)| {
            (
                name.clone(),
                format!("{}{}", marked(name), shown_url_text(&e.url)),
            )
        }),
        is_context_name,
    )
}

/// The candidates among `items` (name, description) whose name starts with
/// `prefix` and is a resource name (see [`named`]).
fn named(
    prefix: &str,
    items: impl IntoIterator<Item = (String, String)>,
) -> Vec<CompletionCandidate> {
    offered(prefix, items, crate::spec::is_valid_name)
}

/// The candidates among `items` (name, description) whose name starts with
/// `prefix` and passes `ok`, at most [`MAX_CANDIDATES`].
///
/// bash puts candidates on the command line as they are, unquoted: a name from
/// a daemon with `;`, `$(…)`, quotes, `*` or invisible characters in it would
/// become shell syntax or a glob when Enter is pressed. So only names that the
/// daemon could have been given by check files (or, for contexts, by hand in
/// a plain spelling) are offered; `ok` says which.
fn offered(
    prefix: &str,
    items: impl IntoIterator<Item = (String, String)>,
    ok: fn(&str) -> bool,
) -> Vec<CompletionCandidate> {
    items
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix) && ok(name))
        .take(MAX_CANDIDATES)
        .map(|(name, help)| CompletionCandidate::new(name).help(description(&help)))
        .collect()
}

/// An incident id as offered: ASCII digits only.
fn is_incident_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A context name a shell takes unquoted: 1–[`MAX_CONTEXT_NAME_CHARS`] ASCII
/// letters, digits, `-`, `_` and `.`, starting with a letter or digit. Contexts
/// named otherwise still work, typed by hand, but are not offered.
fn is_context_name(name: &str) -> bool {
    name.len() <= MAX_CONTEXT_NAME_CHARS
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A description safe to show: control characters dropped, cut to [`MAX_HELP_CHARS`].
fn description(text: &str) -> Option<clap::builder::StyledStr> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_HELP_CHARS)
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    (!clean.is_empty()).then(|| clean.into())
}

/// What `ask` gets from the daemon the line being completed names, or nothing
/// if that daemon is not set up, not there, refuses or takes too long.
///
/// The whole lookup (reading the config and key files, the request, parsing
/// the answer) runs on a thread of its own, waited for at most
/// [`COMPLETION_TIMEOUT`]: a timer inside the request could not stop a slow
/// parse or a read that blocks. A lookup still running when the time is up is
/// left behind; the process exits right after printing.
fn from_daemon<T, F, Fut>(ask: F) -> Vec<T>
where
    T: Send + 'static,
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<Vec<T>>>,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let words = line_words();
    let spawned = std::thread::Builder::new()
        .name("complete".into())
        .spawn(move || {
            let _ = tx.send(lookup(&words, ask));
        });
    if spawned.is_err() {
        return Vec::new();
    }
    rx.recv_timeout(COMPLETION_TIMEOUT).unwrap_or_default()
}

fn lookup<T, F, Fut>(words: &[OsString], ask: F) -> Vec<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<T>>>,
{
    let Ok(conn) = connection(&connect_args(words)) else {
        return Vec::new();
    };
    let Ok(client) = Client::new(conn) else {
        return Vec::new();
    };
    let client = client
        .max_response(MAX_COMPLETION_RESPONSE_BYTES)
        .without_refresh();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let answer =
        runtime.block_on(async { tokio::time::timeout(COMPLETION_TIMEOUT, ask(client)).await });
    // A name lookup still running on a blocking thread must not hold up the shell.
    runtime.shutdown_background();
    match answer {
        Ok(Ok(items)) => items,
        _ => Vec::new(),
    }
}

/// [`ConnectArgs::connection`], reading the config and key files only if they
/// are small regular files (see [`read_small_file`]).
fn connection(args: &ConnectArgs) -> anyhow::Result<Connection> {
    args.resolve(&|name| std::env::var(name).ok(), &|| {
        bounded_config().ok_or_else(|| anyhow::anyhow!("no config to complete from"))
    })
}

/// The config file, if it is missing (an empty config) or a small regular file
/// that parses, with every context's `api_key_file` read (bounded too) into its
/// `api_key`, so that nothing later reads a file unbounded.
fn bounded_config() -> Option<(Config, PathBuf)> {
    let path = config::path().ok()?;
    let mut config: Config = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
        _ => toml::from_str(&read_small_file(&path, MAX_COMPLETION_CONFIG_BYTES)?).ok()?,
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for entry in config.contexts.values_mut() {
        if entry.api_key.is_none()
            && let Some(file) = entry.api_key_file.take()
        {
            entry.api_key = read_small_file(&dir.join(file), MAX_COMPLETION_KEY_BYTES)
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty());
        }
    }
    Some((config, path))
}

/// The text of `path` if it is a regular file of at most `limit` bytes, checked
/// before opening it: a FIFO or a device would block or never end.
fn read_small_file(path: &Path, limit: u64) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > limit {
        return None;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Should the path be swapped for a FIFO after the check, opening it
        // does not wait for a writer.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text).ok()?;
    (text.len() as u64 <= limit).then_some(text)
}

/// The words of the line being completed: the completion protocol runs the
/// binary as `uptimeping -- uptimeping checks get pay`.
fn line_words() -> Vec<OsString> {
    std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .collect()
}

/// The `--url`, `--api-key` and `--context` given on the line being completed, so
/// that names come from the daemon the command would talk to.
fn connect_args(words: &[OsString]) -> ConnectArgs {
    let mut args = ConnectArgs::default();
    let mut words = words.iter().filter_map(|w| w.to_str());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (word, None),
        };
        let slot = match flag {
            "--url" => &mut args.url,
            "--api-key" => &mut args.api_key,
            "--context" => &mut args.context,
            _ => continue,
        };
        let value = match inline {
            Some(v) => Some(v),
            None => words.next(),
        };
        if let Some(v) = value.filter(|v| !v.starts_with('-')) {
            *slot = Some(v.to_string());
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn connection_flags_are_read_from_the_line_in_both_spellings() {
        let a = connect_args(&words(
            "uptimeping checks get --url http://a:1 --api-key=k --context=dev pay",
        ));
        assert_eq!(a.url.as_deref(), Some("http://a:1"));
        assert_eq!(a.api_key.as_deref(), Some("k"));
        assert_eq!(a.context.as_deref(), Some("dev"));
        // A flag still waiting for its value, and words after `--`, name nothing.
        let a = connect_args(&words(
            "uptimeping checks get --url --context -- --api-key k",
        ));
        assert_eq!((a.url, a.api_key, a.context), (None, None, None));
    }

    /// Names a hostile daemon might hand out to become shell syntax, globs or
    /// invisible text once bash puts them on the line unquoted.
    const HOSTILE: &[&str] = &[
        "pay\u{1b}[2Jx",
        "pay\nrm",
        "pay api",
        "pay;touch${IFS}/tmp/PWNED",
        "pay*",
        "pay?",
        "pay[a]",
        "pay$(id)",
        "pay`id`",
        "pay'x",
        "pay\"x",
        "pay\\x",
        "pay|x",
        "pay&x",
        "pay>x",
        "pay{a,b}",
        "pay~",
        "pay#x",
        "pay\u{202e}gpj",
        "pay\u{200b}",
        "pay-\u{430}pi",
        "PAY",
        "pay-",
        "pay_api",
        "pay.api",
    ];

    #[test]
    fn only_resource_names_matching_the_prefix_are_offered_and_at_most_the_cap() {
        let mut items: Vec<(String, String)> = HOSTILE
            .iter()
            .map(|n| (n.to_string(), String::new()))
            .collect();
        items.push(("pay-api".into(), "http up".into()));
        items.push(("web".into(), "http up".into()));
        let got: Vec<_> = named("pay", items)
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["pay-api"]);
        let long = "x".repeat(crate::spec::MAX_NAME_LEN + 1);
        assert!(named("", [(long, String::new())]).is_empty());
        let many = (0..MAX_CANDIDATES * 2).map(|i| (format!("c{i}"), String::new()));
        assert_eq!(named("c", many).len(), MAX_CANDIDATES);
    }

    #[test]
    fn context_names_and_incident_ids_are_offered_only_in_plain_spellings() {
        let plain = |n: &str| {
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        for bad in HOSTILE.iter().filter(|n| !plain(n)) {
            assert!(!is_context_name(bad), "{bad:?}");
            assert!(!is_incident_id(bad), "{bad:?}");
        }
        for good in ["prod", "PROD_eu.1", "a-b"] {
            assert!(is_context_name(good), "{good}");
        }
        assert!(!is_context_name("-x"));
        assert!(!is_context_name(""));
        assert!(!is_context_name(&"a".repeat(MAX_CONTEXT_NAME_CHARS + 1)));
        assert!(is_incident_id("42"));
        for bad in ["", "#42", "-1", "4 2", "4\u{662}"] {
            assert!(!is_incident_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_lose_control_characters_and_are_cut() {
        let help = description("up\u{7}\u{1b}[2J\n http").map(|s| s.to_string());
        assert_eq!(help.as_deref(), Some("up[2J http"));
        let long = description(&"y".repeat(500)).map(|s| s.to_string());
        assert_eq!(long.map(|s| s.chars().count()), Some(MAX_HELP_CHARS));
        assert!(description(" \u{7} ").is_none());
    }
}
