//! `uptimeping incidents …`: incidents the daemon opened, their history, and
//! acknowledging, updating or resolving one from the command line.

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;

use super::client::{Client, REQUEST_TIMEOUT, block_on};
use super::complete_live;
use super::exit;
use super::output::{fields, green, note_more, or_dash, red, relative, show, table, word, yellow};
use crate::model::{
    ActionRequest, Incident, IncidentDetail, IncidentEvent, IncidentStatus, UpdateRequest,
    UpdateStatus,
};

/// Incidents listed unless told otherwise: recent ones, without flooding a terminal.
pub const DEFAULT_LIST_LIMIT: u32 = 50;

const EXAMPLES: &str = "\
Examples:
  uptimeping incidents list
  uptimeping incidents list --status open --check payments-api -o json
  uptimeping incidents list --all            # every incident, not only the latest 50
  uptimeping incidents get 42               # with its events and notifications (`#42` works too)
  uptimeping incidents ack 42 --comment \"looking into it\"
  uptimeping incidents update 42 --status identified --message \"a bad deploy; rolling back\"
  uptimeping incidents resolve 42 --comment \"rolled back\"";

/// `uptimeping incidents …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// List, inspect, acknowledge, update and resolve incidents
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// List incidents, newest first
    #[command(
        after_help = "Examples:\n  uptimeping incidents list --status open\n  uptimeping incidents list --check payments-api -o json"
    )]
    List {
        /// Only incidents in this status
        #[arg(long, value_parser = ["open", "acknowledged", "resolved"])]
        status: Option<String>,
        /// Only incidents of this check
        #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(complete_live::checks))]
        check: Option<String>,
        /// How many incidents to show at most
        #[arg(long, default_value_t = DEFAULT_LIST_LIMIT, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
        /// Show every incident, following the daemon's pages
        #[arg(long, conflicts_with = "limit")]
        all: bool,
    },
    /// Show one incident with its events and notifications
    #[command(after_help = "Examples:\n  uptimeping incidents get 42")]
    Get {
        /// The incident's id, as lists show it: `42` or `#42`
        #[arg(value_parser = incident_id, value_name = "ID", add = ArgValueCompleter::new(complete_live::incidents))]
        id: i64,
    },
    /// Acknowledge an incident: someone is on it, escalation stops
    #[command(
        after_help = "Examples:\n  uptimeping incidents ack 42 --comment \"looking into it\""
    )]
    Ack {
        /// The incident's id, as lists show it: `42` or `#42`
        #[arg(value_parser = incident_id, value_name = "ID", add = ArgValueCompleter::new(complete_live::open_incidents))]
        id: i64,
        /// Recorded with the event
        #[arg(long)]
        comment: Option<String>,
    },
    /// Post an update on an incident: its channels get it, status pages show it
    #[command(after_help = UPDATE_EXAMPLES)]
    Update {
        /// The incident's id, as lists show it: `42` or `#42`
        #[arg(value_parser = incident_id, value_name = "ID", add = ArgValueCompleter::new(complete_live::incidents))]
        id: i64,
        /// What is known now (at most 2000 characters)
        #[arg(long, short = 'm')]
        message: String,
        /// Where the work stands; by default the incident's last update's, else investigating
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// Resolve an incident by hand
    #[command(
        after_help = "Examples:\n  uptimeping incidents resolve 42 --comment \"rolled back\""
    )]
    Resolve {
        /// The incident's id, as lists show it: `42` or `#42`
        #[arg(value_parser = incident_id, value_name = "ID", add = ArgValueCompleter::new(complete_live::unresolved_incidents))]
        id: i64,
        /// Recorded with the event
        #[arg(long)]
        comment: Option<String>,
    },
}

const UPDATE_EXAMPLES: &str = "\
Examples:
  uptimeping incidents update 42 --message \"Payments fail for some cards; looking into it\"
  uptimeping incidents update '#42' --status identified --message \"A bad deploy; rolling it back\"
  uptimeping incidents update 42 --status monitoring --message \"Rolled back; watching\" -o json

An update goes out through the incident's channels as its own message (held in
maintenance like the others) and shows on the status pages listing its check. On a
resolved incident it is a note afterwards: shown, sent to nobody, and without --status.";

/// `--status` of an update, as clap reads it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum StatusArg {
    Investigating,
    Identified,
    Monitoring,
}

impl From<StatusArg> for UpdateStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Investigating => UpdateStatus::Investigating,
            StatusArg::Identified => UpdateStatus::Identified,
            StatusArg::Monitoring => UpdateStatus::Monitoring,
        }
    }
}

/// An incident id as given or as lists print it: `42` or `#42`.
fn incident_id(s: &str) -> Result<i64, String> {
    let digits = s.trim().strip_prefix('#').unwrap_or(s.trim());
    match digits.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!(
            "`{s}` is not an incident id; give the number a list shows, as `42` or `#42`"
        )),
    }
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let client = Client::from_args(&self.connect)?;
        block_on(self.run_with(&client))??;
        Ok(exit::OK)
    }

    async fn run_with(&self, client: &Client) -> anyhow::Result<()> {
        let out = self.output;
        match &self.command {
            Cmd::List {
                status,
                check,
                limit,
                all,
            } => {
                let mut query = Vec::new();
                query.extend(status.iter().map(|s| ("status", s.clone())));
                query.extend(check.iter().map(|c| ("check", c.clone())));
                let want = (!all).then_some(*limit as usize);
                let listed = client
                    .get_list(&["incidents"], &query, want, |p: Vec<Incident>| p)
                    .await?;
                let list = listed.items;
                show(out, &list, || list_table(&list))?;
                note_more(listed.more, list.len(), "pass --all, or a larger --limit");
                Ok(())
            }
            Cmd::Get { id } => {
                let id = id.to_string();
                let detail: IncidentDetail = client.get(&["incidents", &id], &[]).await?;
                show(out, &detail, || detail_text(&detail))
            }
            Cmd::Update {
                id,
                message,
                status,
            } => {
                let body = UpdateRequest {
                    message: message.clone(),
                    status: status.map(UpdateStatus::from),
                };
                let id = id.to_string();
                let event: IncidentEvent = client
                    .post(&["incidents", &id, "updates"], &body, REQUEST_TIMEOUT)
                    .await?;
                show(out, &event, || {
                    match event.detail["status"].as_str().unwrap_or("-") {
                        "resolved" => format!(
                            "Added a note to resolved incident #{}.\n",
                            event.incident_id
                        ),
                        status => format!(
                            "Incident #{} has an update ({status}).\n",
                            event.incident_id
                        ),
                    }
                })
            }
            Cmd::Ack { id, comment } | Cmd::Resolve { id, comment } => {
                let verb = if matches!(self.command, Cmd::Ack { .. }) {
                    "ack"
                } else {
                    "resolve"
                };
                let body = ActionRequest {
                    comment: comment.clone(),
                };
                let id = id.to_string();
                let incident: Incident = client
                    .post(&["incidents", &id, verb], &body, REQUEST_TIMEOUT)
                    .await?;
                show(out, &incident, || {
                    format!(
                        "Incident #{} ({}) is {}.\n",
                        incident.id,
                        incident.check,
                        status_text(incident.status)
                    )
                })
            }
        }
    }
}

fn status_text(status: IncidentStatus) -> String {
    let w = status.as_str();
    match status {
        IncidentStatus::Open => red(w),
        IncidentStatus::Acknowledged => yellow(w),
        IncidentStatus::Resolved => green(w),
    }
}

fn list_table(list: &[Incident]) -> String {
    if list.is_empty() {
        return "No incidents.\n".into();
    }
    let rows = list
        .iter()
        .map(|i| {
            vec![
                format!("#{}", i.id),
                i.check.clone(),
                status_text(i.status),
                word(&i.severity),
                i.count.to_string(),
                relative(i.opened_at),
                i.error.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "CHECK", "STATUS", "SEVERITY", "FAILURES", "OPENED", "ERROR",
        ],
        rows,
    )
}

fn detail_text(d: &IncidentDetail) -> String {
    let i = &d.incident;
    let by = |at: Option<chrono::DateTime<chrono::Utc>>, who: &Option<String>| match (at, who) {
        (Some(at), Some(who)) => format!("{} by {who}", relative(at)),
        (Some(at), None) => relative(at),
        _ => "-".into(),
    };
    let mut text = fields(&[
        ("Incident", format!("#{}", i.id)),
        ("Check", i.check.clone()),
        ("Status", status_text(i.status)),
        ("Severity", word(&i.severity)),
        ("Error", i.error.clone()),
        ("Status code", or_dash(i.status_code)),
        ("Failures", i.count.to_string()),
        ("Opened", relative(i.opened_at)),
        ("Acknowledged", by(i.acknowledged_at, &i.acknowledged_by)),
        ("Resolved", by(i.resolved_at, &i.resolved_by)),
    ]);
    text.push_str("\nEvents:\n");
    if d.events.is_empty() {
        text.push_str("  none\n");
    } else {
        let rows = d
            .events
            .iter()
            .map(|e| {
                let detail = match &e.detail {
                    d if e.kind == "update" => format!(
                        "{}: {}",
                        d["status"].as_str().unwrap_or("-"),
                        d["message"].as_str().unwrap_or_default()
                    ),
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                vec![
                    e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    e.kind.clone(),
                    e.actor.clone(),
                    detail,
                ]
            })
            .collect();
        text.push_str(&indent(&table(
            &["AT (UTC)", "EVENT", "BY", "DETAIL"],
            rows,
        )));
    }
    text.push_str("\nNotifications:\n");
    if d.notifications.is_empty() {
        text.push_str("  none\n");
    } else {
        let rows = d
            .notifications
            .iter()
            .map(|n| {
                vec![
                    n.channel.clone(),
                    n.event.clone(),
                    n.status.clone(),
                    n.attempts.to_string(),
                    or_dash(n.sent_at.map(relative)),
                    n.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        text.push_str(&indent(&table(
            &["CHANNEL", "EVENT", "STATUS", "ATTEMPTS", "SENT", "ERROR"],
            rows,
        )));
    }
    text
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
