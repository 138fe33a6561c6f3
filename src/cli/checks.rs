//! `uptimeping checks …`: the checks a daemon runs, their state and history, and
//! running, pausing, resuming or deleting one.

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;
use serde_json::json;

use super::client::{Client, REQUEST_TIMEOUT, Span, WAIT_TIMEOUT, block_on};
use super::complete_live;
use super::output::{
    fields, green, millis, note_more, or_dash, percent, red, relative, show, table, word,
};
use super::{OutputFormat, exit};
use crate::model::{CheckDetail, CheckState, CheckSummary, HistoryBucket, ProbeResult, ResultPage};

/// Results shown by `history` unless told otherwise: a screenful.
pub const DEFAULT_HISTORY: u32 = 20;

const EXAMPLES: &str = "\
Examples:
  uptimeping checks list
  uptimeping checks list --label team=payments --state down -o json
  uptimeping checks get payments-api
  uptimeping checks history payments-api --limit 50   # or --all
  uptimeping checks history payments-api --resolution 1h --window 7d
  uptimeping checks run payments-api        # exit 2 if it is down
  uptimeping checks pause payments-api

Exit codes: 0 success, 1 error, 2 `run`: the check is down.";

/// `uptimeping checks …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// Inspect and control the checks a daemon runs
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// List checks with their last state
    #[command(
        after_help = "Examples:\n  uptimeping checks list --state down\n  uptimeping checks list --label team=payments -o json"
    )]
    List {
        /// Only checks with this label. Repeatable; all must match
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = label)]
        labels: Vec<String>,
        /// Only checks in this state
        #[arg(long, value_parser = ["pending", "up", "down", "paused", "disabled"])]
        state: Option<String>,
        /// Only checks of this type
        #[arg(long = "type", value_name = "TYPE")]
        check_type: Option<String>,
        /// Show at most this many checks [default: all]
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Show one check: its state and its spec (secrets masked)
    #[command(
        after_help = "Examples:\n  uptimeping checks get payments-api\n  uptimeping checks get payments-api -o yaml"
    )]
    Get {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
    },
    /// Show one check's current state
    #[command(after_help = "Examples:\n  uptimeping checks status payments-api")]
    Status {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
    },
    /// Show one check's latest results, newest first, or its history in buckets
    #[command(
        after_help = "Examples:\n  uptimeping checks history payments-api --limit 100\n  uptimeping checks history payments-api --resolution 1h   # the last 24h, hour by hour\n  uptimeping checks history payments-api --resolution 1d --window 30d\n  uptimeping checks history payments-api --resolution 1h --location us-east\n\nWith --resolution, each row is a bucket of that width, oldest first: runs, failed\nruns, uptime, coverage (the share of the bucket whose state is known) and latency.\nBuckets with nothing known are left out."
    )]
    History {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
        /// How many results to show
        #[arg(long, default_value_t = DEFAULT_HISTORY, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
        /// Show every result the daemon keeps, following its pages
        #[arg(long, conflicts_with = "limit")]
        all: bool,
        /// Show buckets of this width instead of single runs
        #[arg(long, value_parser = ["1m", "5m", "15m", "1h", "1d"], conflicts_with_all = ["limit", "all"])]
        resolution: Option<String>,
        /// The span of the buckets, ending now: a duration such as 24h or 7d [default: 24h]
        #[arg(long, value_name = "DURATION", value_parser = super::report::window, requires = "resolution")]
        window: Option<crate::spec::Duration>,
        /// Only the runs from this location, of a check that lists several `locations`
        #[arg(long, value_name = "LOCATION", value_parser = location)]
        location: Option<String>,
    },
    /// Run one check now on the daemon and show the result
    #[command(
        after_help = "Examples:\n  uptimeping checks run payments-api        # exit 2 if it is down"
    )]
    Run {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
    },
    /// Stop running a check until it is resumed
    #[command(after_help = "Examples:\n  uptimeping checks pause payments-api")]
    Pause {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
    },
    /// Run a paused check again
    #[command(after_help = "Examples:\n  uptimeping checks resume payments-api")]
    Resume {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
    },
    /// Delete a check from the daemon (an apply of its files brings it back)
    #[command(after_help = "Examples:\n  uptimeping checks delete payments-api")]
    Delete {
        /// The check's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::checks))]
        name: String,
    },
}

fn location(s: &str) -> Result<String, String> {
    if crate::spec::is_place_name(s) {
        Ok(s.to_string())
    } else {
        Err(
            "a location's name is 1-63 letters, digits, `-`, `_` or `.`, as a daemon's --location"
                .into(),
        )
    }
}

fn label(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(s.to_string()),
        _ => Err("expected KEY=VALUE, e.g. team=payments".into()),
    }
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let client = Client::from_args(&self.connect)?;
        block_on(self.run_with(&client))?
    }

    async fn run_with(&self, client: &Client) -> anyhow::Result<u8> {
        let out = self.output;
        match &self.command {
            Cmd::List {
                labels,
                state,
                check_type,
                limit,
            } => {
                let mut query: Vec<(&str, String)> =
                    labels.iter().map(|l| ("label", l.clone())).collect();
                query.extend(state.iter().map(|s| ("state", s.clone())));
                query.extend(check_type.iter().map(|t| ("type", t.clone())));
                let want = limit.map(|l| l as usize);
                let listed = client
                    .get_list(&["checks"], &query, want, |p: Vec<CheckSummary>| p)
                    .await?;
                let checks = listed.items;
                show(out, &checks, || summary_table(&checks))?;
                note_more(
                    listed.more,
                    checks.len(),
                    "raise --limit, or leave it out for all",
                );
            }
            Cmd::Get { name } => {
                let detail: CheckDetail = client.get(&["checks", name], &[]).await?;
                show(out, &detail, || detail_text(&detail))?;
            }
            Cmd::Status { name } => {
                let s: CheckSummary = client.get(&["checks", name, "status"], &[]).await?;
                show(out, &s, || summary_table(std::slice::from_ref(&s)))?;
            }
            Cmd::History {
                name,
                resolution: Some(resolution),
                window,
                location,
                ..
            } => {
                let span = Span {
                    window: *window,
                    ..Span::default()
                };
                let buckets = client
                    .history(name, resolution, location.as_deref(), &span)
                    .await?;
                show(out, &buckets, || buckets_table(&buckets))?;
            }
            Cmd::History {
                name,
                limit,
                all,
                location,
                ..
            } => {
                let want = (!all).then_some(*limit as usize);
                let query: Vec<(&str, String)> =
                    location.iter().map(|l| ("location", l.clone())).collect();
                let listed = client
                    .get_list(
                        &["checks", name, "results"],
                        &query,
                        want,
                        |p: ResultPage| p.items,
                    )
                    .await?;
                let page = ResultPage {
                    next_before: listed
                        .more
                        .then(|| listed.items.last().map(|r| r.id))
                        .flatten(),
                    items: listed.items,
                };
                show(out, &page, || history_table(&page))?;
                note_more(
                    listed.more,
                    page.items.len(),
                    "pass --all, or a larger --limit",
                );
            }
            Cmd::Run { name } => {
                eprintln!(
                    "running `{name}` on {}",
                    super::client::shown_url(client.base_url())
                );
                let result: ProbeResult = client
                    .post(&["checks", name, "run"], &json!({}), WAIT_TIMEOUT)
                    .await?;
                match out {
                    OutputFormat::Table => super::test::print_table(std::slice::from_ref(&result))?,
                    other => other.print_value(&result)?,
                }
                return Ok(if result.up { exit::OK } else { exit::DOWN });
            }
            Cmd::Pause { name } | Cmd::Resume { name } => {
                let verb = if matches!(self.command, Cmd::Pause { .. }) {
                    "pause"
                } else {
                    "resume"
                };
                let s: CheckSummary = client
                    .post(&["checks", name, verb], &json!({}), REQUEST_TIMEOUT)
                    .await?;
                show(out, &s, || {
                    format!("Check `{}` is {}.\n", s.name, state_text(s.state))
                })?;
            }
            Cmd::Delete { name } => {
                client.delete(&["checks", name]).await?;
                let doc = json!({"deleted": {"kind": "Check", "name": name}});
                show(out, &doc, || format!("Deleted check `{name}`.\n"))?;
            }
        }
        Ok(exit::OK)
    }
}

fn state_text(state: CheckState) -> String {
    let word = word(&state);
    match state {
        CheckState::Up => green(&word),
        CheckState::Down => red(&word),
        _ => word,
    }
}

fn latency(ms: Option<f64>) -> String {
    millis(ms)
}

fn summary_table(checks: &[CheckSummary]) -> String {
    if checks.is_empty() {
        return "No checks.\n".into();
    }
    let rows = checks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.check_type.clone(),
                state_text(c.state),
                c.target.clone(),
                or_dash(c.last_run_at.map(relative)),
                latency(c.last_latency_ms),
                percent(c.uptime_24h),
                latency(c.p95_24h_ms),
                or_dash(c.open_incident.map(|i| format!("#{i}"))),
                c.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "TYPE",
            "STATE",
            "TARGET",
            "LAST RUN",
            "LATENCY",
            "UPTIME 24H",
            "P95 24H",
            "INCIDENT",
            "ERROR",
        ],
        rows,
    )
}

fn detail_text(d: &CheckDetail) -> String {
    let s = &d.summary;
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut text = fields(&[
        ("Name", s.name.clone()),
        ("Type", s.check_type.clone()),
        ("Target", s.target.clone()),
        ("Schedule", s.schedule.clone()),
        ("State", state_text(s.state)),
        ("Source", or_dash(s.source.as_ref())),
        (
            "Labels",
            if labels.is_empty() {
                "-".into()
            } else {
                labels.join(", ")
            },
        ),
        ("Last run", or_dash(s.last_run_at.map(relative))),
        ("Latency", latency(s.last_latency_ms)),
        ("Last error", or_dash(s.last_error.as_ref())),
        ("Next run", or_dash(s.next_run_at.map(relative))),
        (
            "Incident",
            or_dash(s.open_incident.map(|i| format!("#{i}"))),
        ),
        ("Uptime 24h", percent(s.uptime_24h)),
        ("P95 24h", latency(s.p95_24h_ms)),
        ("Alerts held", or_dash(d.alerts_held.as_ref())),
    ]);
    if !d.locations.is_empty() {
        text.push_str("\nLocations:\n");
        for l in &d.locations {
            let state = match l.up {
                Some(true) => green("up"),
                Some(false) => red("down"),
                None => "not run yet".to_string(),
            };
            let when = l.last_run_at.map(relative).unwrap_or_default();
            let error = l
                .last_error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            text.push_str(&format!("  {} {state} {when}{error}\n", l.location));
        }
    }
    let spec = serde_saphyr::to_string(&d.spec).unwrap_or_else(|_| d.spec.to_string());
    text.push_str("\nSpec:\n");
    for line in spec.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

fn history_table(page: &ResultPage) -> String {
    if page.items.is_empty() {
        return "No results yet.\n".into();
    }
    // Where each ran, for a check that lists locations.
    let located = page.items.iter().any(|r| r.location.is_some());
    let rows = page
        .items
        .iter()
        .map(|stored| {
            let r = &stored.result;
            let mut row = vec![r.started_at.format("%Y-%m-%d %H:%M:%S").to_string()];
            if located {
                row.push(stored.location.clone().unwrap_or_else(|| "-".into()));
            }
            row.extend([
                if r.up { green("UP") } else { red("DOWN") },
                format!("{:.0}ms", r.latency_ms),
                or_dash(r.status_code),
                r.attempts.to_string(),
                r.error.clone().unwrap_or_default(),
            ]);
            row
        })
        .collect();
    let mut header = vec!["STARTED (UTC)"];
    if located {
        header.push("LOCATION");
    }
    header.extend(["RESULT", "LATENCY", "CODE", "ATTEMPTS", "ERROR"]);
    table(&header, rows)
}

fn buckets_table(buckets: &[HistoryBucket]) -> String {
    if buckets.is_empty() {
        return "Nothing known of this span yet.\n".into();
    }
    let rows = buckets
        .iter()
        .map(|b| {
            let l = b.latency.as_ref();
            vec![
                b.start.format("%Y-%m-%d %H:%M").to_string(),
                b.runs.to_string(),
                b.failed_runs.to_string(),
                percent(b.uptime),
                percent(Some(b.coverage)),
                latency(l.map(|l| l.p50)),
                latency(l.map(|l| l.p95)),
                latency(l.map(|l| l.p99)),
            ]
        })
        .collect();
    table(
        &[
            "START (UTC)",
            "RUNS",
            "FAILED",
            "UPTIME",
            "COVERAGE",
            "P50",
            "P95",
            "P99",
        ],
        rows,
    )
}
