//! `uptimeping completions SHELL`: shell completion scripts, and `--man DIR`: the
//! man pages. Live completions, which ask the daemon, are in `complete_live`.

use std::io::Write;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  uptimeping completions bash > /etc/bash_completion.d/uptimeping
  uptimeping completions zsh > \"${fpath[1]}/_uptimeping\"
  uptimeping completions fish > ~/.config/fish/completions/uptimeping.fish
  uptimeping completions powershell >> $PROFILE
  uptimeping completions --man /usr/local/share/man/man1

Live completions:
  The scripts above complete commands and flags. To also complete the names of
  checks, channels, incidents and contexts from the daemon the command would talk
  to (--url/--api-key on the line, UPTIMEPING_URL/UPTIMEPING_API_KEY, or the
  current context), load them from the binary in your shell's startup file:
    bash:  source <(UPTIMEPING_COMPLETE=bash uptimeping)   # in ~/.bashrc
    zsh:   source <(UPTIMEPING_COMPLETE=zsh uptimeping)    # in ~/.zshrc
    fish:  UPTIMEPING_COMPLETE=fish uptimeping | source    # in ~/.config/fish/config.fish
  A daemon that is down, slow or refuses the key gives no names, silently.";

/// Print a shell completion script, or write the man pages
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum, required_unless_present = "man")]
    shell: Option<clap_complete::Shell>,
    /// Write the man pages, one per command, to DIR (made if missing) instead
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, conflicts_with = "shell")]
    man: Option<PathBuf>,
}

impl Args {
    pub fn run(self, cmd: &mut clap::Command) -> anyhow::Result<u8> {
        if let Some(dir) = self.man {
            let count = super::man::write(cmd.clone(), &dir)?;
            eprintln!("wrote {count} man pages to {}", dir.display());
            return Ok(super::exit::OK);
        }
        let Some(shell) = self.shell else {
            anyhow::bail!("give a shell (bash, zsh, fish, powershell, elvish) or --man DIR");
        };
        // clap_complete panics when its writer fails; writing a buffer ourselves turns
        // a closed pipe into an ordinary I/O error that `run` knows to ignore.
        let mut script = Vec::new();
        clap_complete::generate(shell, cmd, "uptimeping", &mut script);
        std::io::stdout().lock().write_all(&script)?;
        Ok(super::exit::OK)
    }
}
