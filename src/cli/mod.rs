//! The command line: one file per command, a shared way to read check files and
//! to print results, and the mapping of outcomes to exit codes.

mod completions;
mod daemon;
mod files;
mod forge;
mod man;
mod output;
mod schema;
mod test;
mod validate;

// Commands that talk to a daemon, and what they share.
mod apply;
mod audit;
mod auth;
mod channels;
mod checks;
mod client;
mod complete_live;
mod config;
mod context;
mod group;
mod incidents;
mod nodes;
mod plan;
mod plan_render;
mod report;
mod session;
mod source_name;
mod tenants;
mod users;

use std::process::ExitCode;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use output::OutputFormat;

/// Exit codes, the same for every command.
pub mod exit {
    /// Success: files valid, every check up.
    pub const OK: u8 = 0;
    /// Failure: invalid files or flags, or the command itself failed.
    pub const ERROR: u8 = 1;
    /// `test`: at least one check is down.
    pub const DOWN: u8 = 2;
    /// `plan --detailed-exitcode`: there are changes to apply.
    pub const CHANGES: u8 = 2;
}

const AFTER_HELP: &str = "\
Exit codes:
  0  success (files valid; every check up)
  1  error (invalid files or flags, unreadable input, internal failure)
  2  `test`, `checks run`: a check is down; `plan --detailed-exitcode`: there are changes

Environment:
  NO_COLOR             set to anything to turn colour off
  UPTIMEPING_URL       the daemon's URL, instead of --url or a context
  UPTIMEPING_API_KEY   the API key, instead of --api-key, a saved login (`auth login`) or a context's key

Examples:
  uptimeping validate -f checks/
  uptimeping test -f checks/ -o json
  uptimeping plan -f checks/ --detailed-exitcode
  uptimeping apply -f checks/ --auto-approve
  uptimeping auth login --context prod
  uptimeping report --window 30d
  uptimeping schema > uptimeping.schema.json
  uptimeping completions zsh > ~/.zfunc/_uptimeping";

#[derive(Debug, Parser)]
#[command(name = "uptimeping", version, about = "Uptime checks kept as YAML in git: validate them, run them, ship them to a daemon", after_help = AFTER_HELP)]
pub struct Cli {
    /// When to colour output; NO_COLOR in the environment turns it off too.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::Args),
    Test(test::Args),
    Plan(plan::Args),
    Apply(apply::Args),
    Checks(checks::Args),
    Incidents(incidents::Args),
    Report(report::Args),
    Channels(channels::Args),
    Tenants(tenants::Args),
    Nodes(nodes::Args),
    Audit(audit::Args),
    #[command(mut_args(auth::output_help))]
    Auth(auth::Args),
    Users(users::Args),
    Context(context::Args),
    Schema(schema::Args),
    Forge(forge::Args),
    Completions(completions::Args),
    // Boxed: its many settings make it the largest by far.
    Daemon(Box<daemon::Args>),
}

/// Parses the command line, runs the command, and turns the outcome into an exit code.
pub fn run() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(code) = complete(&args) {
        return code;
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "uptimeping: internal error: {info}; this is a bug, please report it with the command you ran"
        );
    }));
    // clap prints help and usage errors before `--color` is known, with its own
    // auto-detection; look for the flag first so that those obey it too.
    let clap_color = match color_flag(&args) {
        Some(ColorWhen::Always) => clap::ColorChoice::Always,
        Some(ColorWhen::Never) => clap::ColorChoice::Never,
        Some(ColorWhen::Auto) | None => clap::ColorChoice::Auto,
    };
    let parsed = Cli::command()
        .color(clap_color)
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.color {
        ColorWhen::Auto => {}
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
    }
    let result = std::panic::catch_unwind(|| dispatch(cli.command));
    match result {
        Ok(Ok(code)) => ExitCode::from(code),
        // `uptimeping schema | head` closing the pipe early is not a failure.
        Ok(Err(err)) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Ok(Err(err)) => {
            anstream::eprintln!("uptimeping: {err:#}");
            ExitCode::from(exit::ERROR)
        }
        Err(_) => ExitCode::from(exit::ERROR),
    }
}

/// The variable that makes the binary answer its shell's completion requests
/// (see `completions --help`); named after the program so that a `COMPLETE`
/// some other tool set in the environment does not change what commands do.
pub const COMPLETE_ENV: &str = "UPTIMEPING_COMPLETE";

/// Answers the shell when it asks for completions (`UPTIMEPING_COMPLETE=bash
/// uptimeping …`, see `completions --help`); `None` when it does not, which
/// changes nothing.
fn complete(args: &[OsString]) -> Option<ExitCode> {
    let shell = std::env::var_os(COMPLETE_ENV)?;
    // Only a shell's own requests are answered: the registration script (no
    // arguments) and completions (the line after `--`). A value that names no
    // shell, or a command line of the usual kind, runs as ever.
    let shell_name = std::path::Path::new(&shell)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let known = clap_complete::env::Shells::builtins()
        .completer(&shell_name)
        .is_some();
    let asked = args.len() <= 1 || args.iter().skip(1).any(|a| a == "--");
    if !known || !asked {
        return None;
    }
    // The shell shows whatever is printed while it completes: even a bug must not
    // print there, so a panic only fails the completion.
    std::panic::set_hook(Box::new(|_| {}));
    let cwd = std::env::current_dir().ok();
    let answered = std::panic::catch_unwind(|| {
        clap_complete::CompleteEnv::with_factory(command)
            .var(COMPLETE_ENV)
            .try_complete(args, cwd.as_deref())
    });
    let _ = std::panic::take_hook();
    match answered {
        Ok(Ok(true)) => Some(ExitCode::from(exit::OK)),
        Ok(Ok(false)) => None,
        Ok(Err(_)) | Err(_) => Some(ExitCode::from(exit::ERROR)),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The value of `--color` on the command line, if given and valid.
fn color_flag(args: &[OsString]) -> Option<ColorWhen> {
    let mut found = None;
    let mut args = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        let value = match arg {
            "--" => break,
            "--color" => args.next(),
            other => other.strip_prefix("--color="),
        };
        if let Some(v) = value {
            found = ColorWhen::from_str(v, true).ok().or(found);
        }
    }
    found
}

fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Validate(args) => args.run(),
        Command::Test(args) => args.run(),
        Command::Plan(args) => args.run(),
        Command::Apply(args) => args.run(),
        Command::Checks(args) => args.run(),
        Command::Incidents(args) => args.run(),
        Command::Report(args) => args.run(),
        Command::Channels(args) => args.run(),
        Command::Tenants(args) => args.run(),
        Command::Nodes(args) => args.run(),
        Command::Audit(args) => args.run(),
        Command::Auth(args) => args.run(),
        Command::Users(args) => args.run(),
        Command::Context(args) => args.run(),
        Command::Schema(args) => args.run(),
        Command::Forge(args) => args.run(),
        Command::Completions(args) => args.run(&mut Cli::command()),
        Command::Daemon(args) => args.run(),
    }
}

/// The clap command tree, for completions and man pages.
pub fn command() -> clap::Command {
    Cli::command()
}
