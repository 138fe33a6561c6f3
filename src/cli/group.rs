//! The shape shared by the commands made of subcommands that talk to a daemon
//! (`checks`, `incidents`, `channels`, …): a subcommand, and the options every
//! one of those subcommands takes.

use clap::Subcommand;

use super::OutputFormat;
use super::client::ConnectArgs;

// No doc comment on purpose: clap would make it the `about` of every group. Each
// group's help (its `about` and `after_help`) sits on its own subcommand enum
// `C`, where clap applies it to this command.
#[derive(Debug, clap::Args)]
pub struct Group<C: Subcommand> {
    // First, as it was in each command before: the options below keep their
    // place in the help, after the subcommands' own.
    #[command(subcommand)]
    pub command: C,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub connect: ConnectArgs,
}
