//! `uptimeping validate`: check files offline, for pre-commit hooks and CI.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use super::files::{FileArgs, Loaded, plural, report};
use super::{OutputFormat, exit};

const EXAMPLES: &str = "\
Examples:
  uptimeping validate -f checks/
  uptimeping validate -f checks/api.yaml -f checks/channels.yaml
  cat check.yaml | uptimeping validate -f -
  uptimeping validate -f checks/ -o json    # diagnostics as JSON for editors and bots

Exit codes: 0 valid, 1 invalid or unreadable.";

/// Check files for errors without running anything
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    files: FileArgs,
    /// Output format of the result.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let loaded = self.files.load()?;
        if self.output != OutputFormat::Table {
            let doc = match &loaded {
                Loaded::Ok(bundle, files) => json!({
                    "valid": true,
                    "files": files.len(),
                    "resources": bundle.resources.iter().map(|r| json!({
                        "kind": r.kind(), "name": r.name(), "file": r.file, "line": r.pos.line, "column": r.pos.col,
                    })).collect::<Vec<_>>(),
                    "diagnostics": [],
                }),
                Loaded::Invalid(diags) => json!({
                    "valid": false,
                    "resources": [],
                    "diagnostics": diags.iter().map(|d| json!({
                        "file": d.file, "line": d.pos.line, "column": d.pos.col, "message": d.message,
                    })).collect::<Vec<_>>(),
                }),
            };
            self.output.print_value(&doc)?;
            return Ok(if matches!(loaded, Loaded::Ok(..)) {
                exit::OK
            } else {
                exit::ERROR
            });
        }
        match loaded {
            Loaded::Ok(bundle, files) => {
                let files = files.len();
                let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
                for r in &bundle.resources {
                    *by_kind.entry(r.kind().as_str()).or_default() += 1;
                }
                let parts: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let n = bundle.resources.len();
                let mut out = anstream::stdout();
                writeln!(
                    out,
                    "Valid: {n} {} in {files} {}{}",
                    plural(n, "resource", "resources"),
                    plural(files, "file", "files"),
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", parts.join(", "))
                    }
                )?;
                Ok(exit::OK)
            }
            Loaded::Invalid(diags) => Err(report(&diags)),
        }
    }
}
