//! `uptimeping plan`: what applying the files would change, computed by the daemon
//! against its live state.

use std::io::Write;
use std::path::PathBuf;

use super::client::{Client, ConnectArgs, REQUEST_TIMEOUT, block_on};
use super::files::FileArgs;
use super::plan_render::{self, OwnershipArgs, SAVED_PLAN_VERSION, SavedPlan};
use super::{OutputFormat, exit};
use crate::spec::plan::Plan;

const EXAMPLES: &str = "\
Examples:
  uptimeping plan -f checks/
  uptimeping plan -f checks/ --prune --detailed-exitcode   # in pull requests
  uptimeping plan -f checks/ --out plan.json && uptimeping apply plan.json
  uptimeping plan -f checks/ -o json | jq .summary

Output: for each change, sorted by kind then name, `+` create, `~` update (one line
per changed field), `-` delete; then `Plan: X to add, Y to change, Z to destroy.`
`-o json` prints the plan document (with format_version) instead.

Exit codes: 0 success, 1 error (invalid files, conflicts, daemon unreachable);
with --detailed-exitcode: 0 no changes, 2 changes, 1 error.";

/// Show what apply would change, without changing anything
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    ownership: OwnershipArgs,
    /// Exit 0 when there are no changes, 2 when there are, 1 on errors
    #[arg(long)]
    detailed_exitcode: bool,
    /// Save the plan, with the request that made it, for `uptimeping apply FILE`.
    /// It holds the secrets of the files, so it is written readable by you only
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Output format: the plan as text (table), or its JSON or YAML document
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let request = plan_render::build_request(&self.files, &self.ownership)?;
        let client = Client::from_args(&self.connect)?;
        plan_render::log_planning(&request, client.base_url());
        let plan: Plan = block_on(client.post(&["plan"], &request, REQUEST_TIMEOUT))??;
        plan_render::print_diagnostics(&plan);
        match self.output {
            OutputFormat::Table => {
                let mut out = anstream::stdout();
                write!(out, "{}", plan_render::render(&plan))?;
            }
            other => other.print_value(&plan)?,
        }
        if let Some(path) = &self.out {
            SavedPlan {
                saved_plan_version: SAVED_PLAN_VERSION,
                url: client.base_url().to_string(),
                plan: plan.clone(),
                request,
            }
            .write(path)?;
            eprintln!(
                "saved the plan to {}; apply exactly it with `uptimeping apply {}`",
                path.display(),
                path.display()
            );
        }
        Ok(if self.detailed_exitcode && !plan.is_empty() {
            exit::CHANGES
        } else {
            exit::OK
        })
    }
}
