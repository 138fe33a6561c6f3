//! `uptimeping audit list`: who changed what, and which requests were refused, from
//! the daemon's audit log (admin keys and users only).

use clap::Subcommand;

use super::client::{Client, block_on};
use super::exit;
use super::output::{green, note_more, or_dash, red, show, table, yellow};
use crate::model::AuditEntry;

/// Entries listed unless told otherwise: the recent ones, without flooding a terminal.
pub const DEFAULT_LIST_LIMIT: u32 = 50;

const EXAMPLES: &str = "\
Examples:
  uptimeping audit list --since 24h
  uptimeping audit list --action 'incident.*' --since 7d
  uptimeping audit list --actor user:ann@example.com -o json
  uptimeping audit list --outcome refused --since 1h      # bad keys, roles too low, rate limits
  uptimeping audit list --target payments-api --all

Actions:
  apply              an apply (detail: create/update/delete/unchanged counts and up to 50 names)
  check.run          a check run now
  check.pause        a check paused
  check.resume       a check resumed
  check.delete       a check deleted
  incident.ack       an incident acknowledged (also from a Telegram or Slack button)
  incident.resolve   an incident resolved (also from a Telegram or Slack button)
  incident.update    an update posted on an incident
  channel.test       a test message sent through a channel
  tenant.create      a tenant created
  key.create         an API key created
  key.revoke         an API key revoked
  user.add           a user added with a first password
  user.invite        a user invited
  user.role          a user's role changed
  user.remove        a user removed
  user.accept_invite an invitation accepted
  register           a tenant and its admin signed up
  password.change    a user's password changed
  login              a login (outcome ok or refused)
  logout             a logout
  session.reuse      a used refresh token presented again; its session is ended
  request            a request refused (401, 403, 429)

Actors are `user:<email>`, `key:<name>(<id>)`, `telegram:@name`, `slack:@name`,
`watch` (applies of `daemon --watch`), `anonymous`, and `uptimeping` for the summary
of refusals held back. A trailing `*` in --actor or --action matches any rest.
Outcomes are ok, refused and failed. Refusals are written at most 60 a minute per
address for each kind (no valid credential, failed logins, refusals of a known
caller, reused refresh tokens); what is held back is counted in
uptime_audit_events_dropped_total and summed up in one `uptimeping` entry a minute.";

/// `uptimeping audit …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// Read the audit log: changes and security events (admins only)
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// List audit entries, newest first
    #[command(after_help = EXAMPLES)]
    List {
        /// Only entries from this time on: a duration back from now (24h, 7d) or an RFC 3339 time
        #[arg(long, value_parser = when)]
        since: Option<String>,
        /// Only entries before this time: a duration back from now or an RFC 3339 time
        #[arg(long, value_parser = when)]
        until: Option<String>,
        /// Only entries of this actor (`user:ann@example.com`, `key:*`)
        #[arg(long)]
        actor: Option<String>,
        /// Only entries of this action (`incident.ack`, `incident.*`); see the list below
        #[arg(long)]
        action: Option<String>,
        /// Only entries with this outcome
        #[arg(long, value_parser = ["ok", "refused", "failed"])]
        outcome: Option<String>,
        /// Only entries about this target: a check's name, an incident's id, …
        #[arg(long)]
        target: Option<String>,
        /// How many entries to show at most
        #[arg(long, default_value_t = DEFAULT_LIST_LIMIT, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
        /// Show every entry, following the daemon's pages
        #[arg(long, conflicts_with = "limit")]
        all: bool,
    },
}

/// A `--since` or `--until`: a duration back from now or an RFC 3339 time, sent
/// as given (the daemon counts a duration back from its own clock).
fn when(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.parse::<crate::spec::Duration>().is_ok() || chrono::DateTime::parse_from_rfc3339(s).is_ok()
    {
        return Ok(s.to_string());
    }
    Err(format!(
        "`{s}` is neither a duration (24h, 7d) nor an RFC 3339 time (2026-06-01T00:00:00Z)"
    ))
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let client = Client::from_args(&self.connect)?;
        block_on(self.run_with(&client))??;
        Ok(exit::OK)
    }

    async fn run_with(&self, client: &Client) -> anyhow::Result<()> {
        let Cmd::List {
            since,
            until,
            actor,
            action,
            outcome,
            target,
            limit,
            all,
        } = &self.command;
        let mut query = Vec::new();
        for (name, value) in [
            ("since", since),
            ("until", until),
            ("actor", actor),
            ("action", action),
            ("outcome", outcome),
            ("target", target),
        ] {
            query.extend(value.iter().map(|v| (name, v.clone())));
        }
        let want = (!all).then_some(*limit as usize);
        let listed = client
            .get_list(&["audit"], &query, want, |p: Vec<AuditEntry>| p)
            .await?;
        let list = listed.items;
        show(self.output, &list, || list_table(&list))?;
        note_more(listed.more, list.len(), "pass --all, or a larger --limit");
        Ok(())
    }
}

fn outcome_text(outcome: &str) -> String {
    match outcome {
        "ok" => green(outcome),
        "refused" => yellow(outcome),
        _ => red(outcome),
    }
}

/// The detail in one line: an apply's counts first (the cell is cut at its width),
/// else `key=value` for each field of an object.
fn detail_text(detail: &serde_json::Value) -> String {
    let counts = ["create", "update", "delete", "unchanged"];
    if counts.iter().all(|k| detail[k].is_u64()) {
        let mut parts: Vec<String> = counts
            .iter()
            .map(|k| format!("{k}={}", detail[k]))
            .collect();
        if let Some(changes) = detail["changes"].as_array() {
            parts.extend(changes.iter().filter_map(|c| c.as_str()).map(String::from));
        }
        return parts.join(" ");
    }
    match detail {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list_table(list: &[AuditEntry]) -> String {
    if list.is_empty() {
        return "No audit entries.\n".into();
    }
    let rows = list
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                or_dash(e.tenant.clone()),
                e.actor.clone(),
                e.action.clone(),
                or_dash(e.target.clone()),
                outcome_text(&e.outcome),
                or_dash(e.source.clone()),
                detail_text(&e.detail),
            ]
        })
        .collect();
    table(
        &[
            "AT (UTC)", "TENANT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "SOURCE", "DETAIL",
        ],
        rows,
    )
}
