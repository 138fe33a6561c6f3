//! `-f` handling shared by every command that reads check files.

use std::path::PathBuf;

use anyhow::Context;

use crate::spec::{self, Bundle, Diagnostics};

#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// A YAML file or a directory (read recursively); `-` reads standard input. Repeatable.
    #[arg(short = 'f', long = "file", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
}

/// What loading produced: resources, or every problem found.
pub enum Loaded {
    /// The resources, and the names of the files they came from in the order read.
    Ok(Bundle, Vec<String>),
    Invalid(Diagnostics),
}

impl FileArgs {
    /// Reads and validates the files. An unreadable path is an error; problems in the
    /// files' content come back as diagnostics.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let sources = spec::read_paths(&self.files).context("reading check files")?;
        Ok(match spec::load_env(&sources) {
            Ok(bundle) => Loaded::Ok(bundle, sources.into_iter().map(|s| s.name).collect()),
            Err(diags) => Loaded::Invalid(diags),
        })
    }
}

/// Prints diagnostics to stderr, one per line, and a summary error to return.
pub fn report(diags: &Diagnostics) -> anyhow::Error {
    for d in diags.iter() {
        anstream::eprintln!("{d}");
    }
    let n = diags.len();
    anyhow::anyhow!(
        "{n} {} in the check files; fix {} and run again",
        plural(n, "problem", "problems"),
        if n == 1 { "it" } else { "them" }
    )
}

pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
