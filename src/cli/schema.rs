//! `uptimeping schema`: the JSON Schema of check files, for editors.

use std::io::Write;

const EXAMPLES: &str = "\
Examples:
  uptimeping schema > uptimeping.schema.json
  # then, first line of a check file, for yaml-language-server:
  # yaml-language-server: $schema=./uptimeping.schema.json";

/// Print the JSON Schema of check files
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let schema = crate::spec::schema::document_schema();
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &schema)?;
        writeln!(out)?;
        Ok(super::exit::OK)
    }
}
