//! `uptimeping apply`: make the daemon's state match the files, after showing the
//! plan and (at a terminal) asking; or apply a plan saved by `plan --out`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::client::{ApiError, Client, ConnectArgs, REQUEST_TIMEOUT, block_on};
use super::files::FileArgs;
use super::plan_render::{self, OwnershipArgs, SavedPlan};
use super::{OutputFormat, exit};
use crate::model::{ApplyResponse, PlanRequest};
use crate::spec::plan::Plan;

const EXAMPLES: &str = "\
Examples:
  uptimeping apply -f checks/                          # shows the plan, asks first
  uptimeping apply -f checks/ --prune --auto-approve   # in CI, from the main branch
  uptimeping plan -f checks/ --out plan.json && uptimeping apply plan.json

Without a terminal to ask at, apply refuses unless --auto-approve is given. A saved
plan is applied as it is, without asking, and only if the daemon's state has not
moved since it was made. Either way the apply is all or nothing.

Exit codes: 0 applied (or nothing to do), 1 error or not approved.";

/// Apply the files (or a saved plan) to the daemon
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A plan saved by `uptimeping plan --out`, applied exactly as it was planned
    #[arg(value_name = "PLANFILE", conflicts_with = "files")]
    plan_file: Option<PathBuf>,
    /// A YAML file or a directory (read recursively); `-` reads standard input. Repeatable.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        required_unless_present = "plan_file"
    )]
    files: Vec<PathBuf>,
    #[command(flatten)]
    ownership: OwnershipArgs,
    /// Apply without asking for confirmation
    #[arg(long)]
    auto_approve: bool,
    /// Output format: text (table), or the apply result's JSON or YAML document
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let (client, mut request, plan, saved) = match &self.plan_file {
            Some(path) => {
                anyhow::ensure!(
                    !self.ownership.any(),
                    "--source, --prune, --allow-empty, --take-over and --adopt are fixed in a saved plan; make a new plan to change them"
                );
                let saved = SavedPlan::read(path)?;
                let client = Client::from_args(&self.connect)?;
                anyhow::ensure!(
                    saved.url == client.base_url().as_str(),
                    "`{}` was planned against {}, not {}; apply it with --url {}, or make a new plan",
                    path.display(),
                    super::client::shown_url_text(&saved.url),
                    super::client::shown_url(client.base_url()),
                    super::client::shown_url_text(&saved.url)
                );
                (client, saved.request, saved.plan, true)
            }
            None => {
                let files = FileArgs {
                    files: self.files.clone(),
                };
                // Invalid files are reported before anything else, connection
                // settings included: they need fixing whichever daemon is used.
                let request = plan_render::build_request(&files, &self.ownership)?;
                let client = Client::from_args(&self.connect)?;
                plan_render::log_planning(&request, client.base_url());
                let plan: Plan = block_on(client.post(&["plan"], &request, REQUEST_TIMEOUT))??;
                (client, request, plan, false)
            }
        };
        plan_render::print_diagnostics(&plan);
        let text = plan_render::render(&plan);
        let needs_question = !plan.is_empty() && !saved && !self.auto_approve;
        match self.output {
            OutputFormat::Table => write!(anstream::stdout(), "{text}")?,
            // Only the result goes to stdout; the plan is still shown before asking.
            _ if needs_question => write!(anstream::stderr(), "{text}")?,
            _ => {}
        }
        if plan.is_empty() {
            let state_revision = plan.state_revision;
            return self.finish(&ApplyResponse {
                plan,
                state_revision,
            });
        }
        if needs_question {
            confirm()?;
        }
        request.expected_revision = Some(plan.state_revision);
        request.expected_tenant = plan.tenant;
        let applied = apply(&client, &request, &plan, saved)?;
        self.finish(&applied)
    }

    fn finish(&self, applied: &ApplyResponse) -> anyhow::Result<u8> {
        match self.output {
            OutputFormat::Table => {
                let mut out = anstream::stdout();
                writeln!(out, "\n{}", plan_render::applied_line(&applied.plan))?;
            }
            other => other.print_value(applied)?,
        }
        Ok(exit::OK)
    }
}

/// Sends the apply, pinned to the revision the plan was made at, so that what is
/// applied is what was shown.
fn apply(
    client: &Client,
    request: &PlanRequest,
    plan: &Plan,
    saved: bool,
) -> anyhow::Result<ApplyResponse> {
    eprintln!("applying at state revision {}", plan.state_revision);
    let result = block_on(client.post::<_, ApplyResponse>(&["apply"], request, REQUEST_TIMEOUT))?;
    result.map_err(|err| match err.downcast_ref::<ApiError>() {
        Some(api) if api.code == "revision_moved" => {
            let again = if saved {
                "make a new plan with `uptimeping plan -f … --out FILE` and apply that"
            } else {
                "run apply again to see the new plan"
            };
            anyhow::anyhow!(
                "nothing was applied: the daemon's state changed after the plan was made (at revision {}); {again}\n  {}",
                plan.state_revision,
                api.message
            )
        }
        _ => err,
    })
}

/// Asks on the terminal. Without one (CI, a pipe) it refuses at once rather than
/// wait for an answer that cannot come.
fn confirm() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !(stdin.is_terminal() && std::io::stderr().is_terminal()) {
        anyhow::bail!(
            "not applying: there is no terminal to ask for confirmation; review the plan and pass --auto-approve to apply without asking"
        );
    }
    eprint!("\nDo you want to apply these changes? Only 'yes' will be accepted: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    anyhow::ensure!(
        answer.trim() == "yes",
        "apply cancelled; nothing was changed"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::Args,
    }

    #[test]
    fn a_plan_file_and_files_do_not_mix_and_one_is_needed() {
        assert!(Cli::try_parse_from(["x", "plan.json"]).is_ok());
        assert!(Cli::try_parse_from(["x", "-f", "checks/"]).is_ok());
        assert!(Cli::try_parse_from(["x", "plan.json", "-f", "checks/"]).is_err());
        assert!(Cli::try_parse_from(["x"]).is_err());
    }
}
