//! `uptimeping completions SHELL`: shell completion scripts.

use std::io::Write;

const EXAMPLES: &str = "\
Examples:
  uptimeping completions bash > /etc/bash_completion.d/uptimeping
  uptimeping completions zsh > \"${fpath[1]}/_uptimeping\"
  uptimeping completions fish > ~/.config/fish/completions/uptimeping.fish
  uptimeping completions powershell >> $PROFILE";

/// Print a shell completion script
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl Args {
    pub fn run(self, cmd: &mut clap::Command) -> anyhow::Result<u8> {
        // clap_complete panics when its writer fails; writing a buffer ourselves turns
        // a closed pipe into an ordinary I/O error that `run` knows to ignore.
        let mut script = Vec::new();
        clap_complete::generate(self.shell, cmd, "uptimeping", &mut script);
        std::io::stdout().lock().write_all(&script)?;
        Ok(super::exit::OK)
    }
}
