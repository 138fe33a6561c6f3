//! `uptimeping test`: run every check once, here, and print what happened.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use futures_util::StreamExt;

use super::files::{FileArgs, Loaded, plural, report};
use super::output::{green, red, table};
use super::{OutputFormat, exit};
use crate::probe::{CompiledCheck, ProbeResult, Prober};
use crate::spec::secrets::Redactor;

/// Checks in flight at once by default: plenty for a repo's worth of checks,
/// gentle on the machine running them and on shared targets.
pub const DEFAULT_CONCURRENCY: u16 = 32;

const EXAMPLES: &str = "\
Examples:
  uptimeping test -f checks/
  uptimeping test -f checks/ --check payments-api -o json
  uptimeping test -f checks/ --concurrency 100 -o yaml

Exit codes: 0 every check up, 2 one or more down, 1 the files or the run failed.";

/// Run every check once from this machine and print the results
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    files: FileArgs,
    /// Only run the check with this name. Repeatable.
    #[arg(long = "check", value_name = "NAME")]
    checks: Vec<String>,
    /// How many checks run at the same time.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=10000))]
    concurrency: u16,
    /// Output format: a table, or one object per check as JSON or YAML.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let (bundle, files) = match self.files.load()? {
            Loaded::Ok(bundle, files) => (bundle, files),
            Loaded::Invalid(diags) => return Err(report(&diags)),
        };
        // The bundle is sorted by name; results are reported in the order the files
        // list the checks, which is the order people read them in.
        let mut in_files: Vec<_> = bundle.checks().collect();
        in_files.sort_by_key(|(r, _)| (files.iter().position(|f| *f == r.file), r.pos));
        // Each check with what hides its secrets in what is printed.
        let mut checks: Vec<(crate::spec::Check, Redactor)> = in_files
            .into_iter()
            .map(|(r, c)| (c.clone(), r.probe_redactor()))
            .collect();
        // The files as loaded (sources, positions, every resource) are not read
        // again; freed now, their memory serves the runs instead of fresh pages.
        drop((bundle, files));
        if !self.checks.is_empty() {
            for wanted in &self.checks {
                if !checks.iter().any(|(c, _)| &c.name == wanted) {
                    anyhow::bail!("no check named `{wanted}` in the files given");
                }
            }
            checks.retain(|(c, _)| self.checks.contains(&c.name));
        } else {
            let disabled = checks.iter().filter(|(c, _)| !c.enabled).count();
            if disabled > 0 {
                eprintln!(
                    "skipping {disabled} disabled {} (name them with --check to run them)",
                    plural(disabled, "check", "checks")
                );
            }
            checks.retain(|(c, _)| c.enabled);
        }
        if checks.is_empty() {
            anyhow::bail!("no checks to run in the files given");
        }
        let (checks, redactors): (Vec<_>, Vec<Redactor>) = checks.into_iter().unzip();
        let checks = compile_all(checks, &redactors)?;
        // One thread: the runs are waits on sockets, which one thread keeps far
        // ahead of; a thread pool only adds wake-ups across threads to every event.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let results: Vec<ProbeResult> = runtime
            .block_on(run_all(checks, usize::from(self.concurrency)))
            .into_iter()
            .zip(&redactors)
            .map(|(mut result, redactor)| {
                result.redact(redactor);
                result
            })
            .collect();
        let down = results.iter().filter(|r| !r.up).count();
        match self.output {
            OutputFormat::Table => print_table(&results)?,
            other => other.print_value(&results)?,
        }
        Ok(if down > 0 { exit::DOWN } else { exit::OK })
    }
}

/// Compiles every check once, before any runs; every check that cannot run is
/// named in the error.
fn compile_all(
    checks: Vec<crate::spec::Check>,
    redactors: &[Redactor],
) -> anyhow::Result<Vec<CompiledCheck>> {
    let mut compiled = Vec::with_capacity(checks.len());
    let mut errors = Vec::new();
    for (check, redactor) in checks.into_iter().zip(redactors) {
        match crate::probe::compile_shared(Arc::new(check)) {
            Ok(c) => compiled.push(c),
            // The error may quote a setting that holds a secret.
            Err(e) => errors.push(redactor.scrub(&e.to_string())),
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    Ok(compiled)
}

/// Runs the checks with at most `concurrency` in flight, results in input order.
pub async fn run_all(checks: Vec<CompiledCheck>, concurrency: usize) -> Vec<ProbeResult> {
    let prober = Arc::new(Prober::new());
    let total = checks.len();
    let progress = std::io::stderr().is_terminal();
    let mut results: Vec<Option<ProbeResult>> = vec![None; total];
    let mut stream = futures_util::stream::iter(checks.into_iter().enumerate())
        .map(|(i, check)| {
            let prober = Arc::clone(&prober);
            async move { (i, prober.run(&check).await) }
        })
        .buffer_unordered(concurrency);
    let mut done = 0;
    while let Some((i, result)) = stream.next().await {
        results[i] = Some(result);
        done += 1;
        if progress {
            eprint!("\r\x1b[2Kran {done}/{total} checks");
        }
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    results.into_iter().flatten().collect()
}

pub(super) fn print_table(results: &[ProbeResult]) -> anyhow::Result<()> {
    let rows = results
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.check_type.clone(),
                r.target.clone(),
                if r.up { green("UP") } else { red("DOWN") },
                format!("{:.0}ms", r.latency_ms),
                r.status_code
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = anstream::stdout();
    writeln!(
        out,
        "{}",
        table(
            &[
                "NAME", "TYPE", "TARGET", "RESULT", "LATENCY", "CODE", "ERROR"
            ],
            rows
        )
    )?;
    let down = results.iter().filter(|r| !r.up).count();
    let up = results.len() - down;
    writeln!(out, "\n{up} up, {down} down")?;
    Ok(())
}
