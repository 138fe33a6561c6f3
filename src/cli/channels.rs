//! `uptimeping channels …`: the notification channels a daemon sends to, with
//! their delivery counts and settings (secrets masked), and a test message through one.

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;
use serde_json::json;

use super::client::{Client, WAIT_TIMEOUT, block_on};
use super::complete_live;
use super::exit;
use super::output::{fields, green, note_more, or_dash, red, show, table};
use crate::model::{ChannelDetail, ChannelSummary, Notification};

const EXAMPLES: &str = "\
Examples:
  uptimeping channels list
  uptimeping channels list -o json
  uptimeping channels get oncall-telegram    # settings (secrets masked) and counts
  uptimeping channels test oncall-slack      # sends a test message now

Exit codes: 0 success, 1 error (for `test`: the message was not delivered at once).";

/// `uptimeping channels …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// List notification channels and send test messages
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// List channels with how many notifications were sent, failed and are pending
    #[command(
        after_help = "Examples:\n  uptimeping channels list\n  uptimeping channels list -o yaml"
    )]
    List {
        /// Show at most this many channels [default: all]
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Show one channel: its settings (secrets masked) and delivery counts
    #[command(
        after_help = "Examples:\n  uptimeping channels get oncall-slack\n  uptimeping channels get team-email -o yaml"
    )]
    Get {
        /// The channel's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::channels))]
        name: String,
    },
    /// Send a test notification through a channel and wait for the outcome (exit 1 if not delivered)
    #[command(
        after_help = "Examples:\n  uptimeping channels test oncall-slack\n  uptimeping channels test team-email -o json\n\nWorks for every channel type: telegram, slack, email and webhook."
    )]
    Test {
        /// The channel's name, as in its file's `name:`
        #[arg(add = ArgValueCompleter::new(complete_live::channels))]
        name: String,
    },
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let client = Client::from_args(&self.connect)?;
        let out = self.output;
        match &self.command {
            Cmd::List { limit } => {
                let want = limit.map(|l| l as usize);
                let listed = block_on(client.get_list(
                    &["channels"],
                    &[],
                    want,
                    |p: Vec<ChannelSummary>| p,
                ))??;
                let list = listed.items;
                show(out, &list, || list_table(&list))?;
                note_more(
                    listed.more,
                    list.len(),
                    "raise --limit, or leave it out for all",
                );
                Ok(exit::OK)
            }
            Cmd::Get { name } => {
                let d: ChannelDetail = block_on(client.get(&["channels", name], &[]))??;
                show(out, &d, || detail_text(&d))?;
                Ok(exit::OK)
            }
            Cmd::Test { name } => {
                eprintln!("sending a test notification through `{name}`");
                let n: Notification =
                    block_on(client.post(&["channels", name, "test"], &json!({}), WAIT_TIMEOUT))??;
                show(out, &n, || {
                    let status = match n.status.as_str() {
                        "sent" => green("sent"),
                        "failed" => red("failed"),
                        other => other.to_string(),
                    };
                    let error = n.last_error.as_ref().map(|e| format!(": {e}"));
                    format!(
                        "Test notification through `{}`: {status}{} ({} {})\n",
                        n.channel,
                        error.unwrap_or_default(),
                        n.attempts,
                        super::files::plural(n.attempts as usize, "attempt", "attempts")
                    )
                })?;
                match n.status.as_str() {
                    "sent" => {}
                    status => {
                        let why = n.last_error.as_deref().unwrap_or("no reason recorded");
                        let later = if status == "pending" {
                            " (the daemon keeps retrying it in the background)"
                        } else {
                            ""
                        };
                        anyhow::bail!(
                            "the test notification through `{name}` was not delivered: {why}{later}; check the channel's settings and that its receiver is reachable from the daemon"
                        );
                    }
                }
                Ok(exit::OK)
            }
        }
    }
}

fn list_table(list: &[ChannelSummary]) -> String {
    if list.is_empty() {
        return "No channels.\n".into();
    }
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.channel_type.clone(),
                or_dash(c.template.as_ref()),
                or_dash(c.source.as_ref()),
                c.sent.to_string(),
                c.failed.to_string(),
                c.pending.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "TYPE", "TEMPLATE", "SOURCE", "SENT", "FAILED", "PENDING",
        ],
        rows,
    )
}

fn detail_text(d: &ChannelDetail) -> String {
    let s = &d.summary;
    let mut text = fields(&[
        ("Name", s.name.clone()),
        ("Type", s.channel_type.clone()),
        ("Template", or_dash(s.template.as_ref())),
        ("Source", or_dash(s.source.as_ref())),
        ("Sent", s.sent.to_string()),
        ("Failed", s.failed.to_string()),
        ("Pending", s.pending.to_string()),
    ]);
    let spec = serde_saphyr::to_string(&d.spec).unwrap_or_else(|_| d.spec.to_string());
    text.push_str("\nSpec:\n");
    for line in spec.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}
