//! Live completions (`source <(COMPLETE=bash uptimeping)`): names of checks,
//! channels, incidents and contexts, asked of the daemon the command being
//! completed would talk to. Completing must never get in the way of typing, so
//! every failure (no daemon, a wrong key, a slow answer) gives no candidates and
//! prints nothing: the shell owns the terminal while it completes.

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;
use serde::Deserialize;

use super::client::{Client, ConnectArgs, shown_url_text};
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

/// Longest name offered: longer than any name the spec allows (63), so that only
/// what no check file could hold is dropped.
pub const MAX_NAME_CHARS: usize = 128;

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
    let (hash, digits) = match typed.strip_prefix('#') {
        Some(rest) => ("#", rest),
        None => ("", typed),
    };
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
    named(
        digits,
        listed
            .into_iter()
            .filter(|i| i.id > 0)
            .map(|i| (i.id.to_string(), format!("{} {}", i.check, i.status))),
    )
    .into_iter()
    .map(|c| c.add_prefix(hash))
    .collect()
}

/// The names of the config file's contexts that start with `current`.
pub fn contexts(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Ok(config) = config::path().and_then(|p| Config::load(&p)) else {
        return Vec::new();
    };
    let marked = |name: &str| {
        if config.current.as_deref() == Some(name) {
            "(current) "
        } else {
            ""
        }
    };
    named(
        prefix,
        config.contexts.iter().map(|(name, e)| {
            (
                name.clone(),
                format!("{}{}", marked(name), shown_url_text(&e.url)),
            )
        }),
    )
}

/// The candidates among `items` (name, description) whose name starts with
/// `prefix` and is one a shell can offer, at most [`MAX_CANDIDATES`].
fn named(
    prefix: &str,
    items: impl IntoIterator<Item = (String, String)>,
) -> Vec<CompletionCandidate> {
    items
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix) && is_offerable(name))
        .take(MAX_CANDIDATES)
        .map(|(name, help)| CompletionCandidate::new(name).help(description(&help)))
        .collect()
}

/// Whether a name from the daemon may go to the shell: shells split their
/// candidates on newlines (and bash on vertical tabs), and a terminal obeys
/// escape sequences, so a name with control characters or spaces is no name.
fn is_offerable(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(|c| c.is_control() || c.is_whitespace())
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
fn from_daemon<T, F, Fut>(ask: F) -> Vec<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<T>>>,
{
    let Ok(conn) = connect_args(&line_words()).connection() else {
        return Vec::new();
    };
    let Ok(client) = Client::new(conn) else {
        return Vec::new();
    };
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

    #[test]
    fn only_sane_names_matching_the_prefix_are_offered_and_at_most_the_cap() {
        let items = [
            ("pay-api", "http up"),
            ("pay\u{1b}[2Jx", "escape"),
            ("pay\nrm", "newline"),
            ("pay api", "space"),
            ("web", "http up"),
        ]
        .map(|(n, h)| (n.to_string(), h.to_string()));
        let got: Vec<_> = named("pay", items)
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["pay-api"]);
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(named("", [(long, String::new())]).is_empty());
        let many = (0..MAX_CANDIDATES * 2).map(|i| (format!("c{i}"), String::new()));
        assert_eq!(named("c", many).len(), MAX_CANDIDATES);
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
