//! `uptimeping nodes list`: the daemons sharing one database, with their location,
//! last heartbeat and the checks each runs.

use clap::Subcommand;

use super::client::{Client, block_on};
use super::exit;
use super::output::{green, red, show, table};
use crate::model::NodeSummary;

const EXAMPLES: &str = "\
Examples:
  uptimeping nodes list
  uptimeping nodes list -o json | jq '.[] | select(.live | not) | .name'

Daemons on one PostgreSQL store (`uptimeping daemon --store postgres://… --node a`)
share the checks: each runs those it holds leases on, and a node that stops
beating (every 3s) loses them to the others within 10s of its last beat. A
daemon on SQLite is the one node, and runs every check. Only callers of the
first tenant may list nodes.";

/// `uptimeping nodes …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// Show the daemons sharing the checks (first tenant only)
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// List nodes: name, location, last heartbeat, checks owned
    #[command(after_help = "Examples:\n  uptimeping nodes list\n  uptimeping nodes list -o yaml")]
    List,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let client = Client::from_args(&self.connect)?;
        match &self.command {
            Cmd::List => {
                let nodes: Vec<NodeSummary> = block_on(client.get(&["nodes"], &[]))??;
                show(self.output, &nodes, || list_table(&nodes))?;
                Ok(exit::OK)
            }
        }
    }
}

fn list_table(nodes: &[NodeSummary]) -> String {
    if nodes.is_empty() {
        return "No nodes.\n".into();
    }
    let now = chrono::Utc::now();
    let rows = nodes
        .iter()
        .map(|n| {
            let ago = (now - n.heartbeat_at).num_seconds().max(0);
            vec![
                n.name.clone(),
                n.location.clone(),
                if n.live { green("live") } else { red("gone") },
                format!(
                    "{} ({ago}s ago)",
                    n.heartbeat_at.format("%Y-%m-%d %H:%M:%S")
                ),
                n.checks.to_string(),
                n.version.clone(),
            ]
        })
        .collect();
    table(
        &[
            "NODE",
            "LOCATION",
            "STATE",
            "LAST HEARTBEAT",
            "CHECKS",
            "VERSION",
        ],
        rows,
    )
}
