//! `uptimeping schema`: the JSON Schema of check files, for editors.

use std::io::Write;

const EXAMPLES: &str = "\
Examples:
  uptimeping schema > uptimeping.schema.json
  # then map a glob to it in the editor (yaml-language-server's `yaml.schemas`,
  # paths from the workspace root), which checks every document of a file; a
  # modeline checks only the first, its path relative to the YAML file
  # (here checks/api.yaml):
  # yaml-language-server: $schema=../uptimeping.schema.json";

/// Print the JSON Schema of check files
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let schema = crate::spec::schema::document_schema();
        // Serialised first so that a write error stays an io::Error (a closed pipe is
        // not a failure) instead of being wrapped in a serde_json::Error.
        let text = serde_json::to_string_pretty(&schema)?;
        writeln!(std::io::stdout().lock(), "{text}")?;
        Ok(super::exit::OK)
    }
}
