//! One formatter per output format: tables for people, JSON and YAML for programs.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style as TableStyle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

impl OutputFormat {
    /// Prints a serialisable document in this format (a table caller handles `Table` itself).
    pub fn print_value<T: Serialize>(self, value: &T) -> anyhow::Result<()> {
        // Serialised first so that a write error stays an io::Error (a closed pipe is
        // not a failure) instead of being wrapped in a serde_json::Error.
        let mut text = match self {
            OutputFormat::Json | OutputFormat::Table => serde_json::to_string_pretty(value)?,
            OutputFormat::Yaml => serde_saphyr::to_string(value)?,
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        std::io::stdout().lock().write_all(text.as_bytes())?;
        Ok(())
    }
}

/// A plain table: a header row and rows of cells, borderless like `kubectl get`.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut b = Builder::default();
    b.push_record(header.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r);
    }
    let mut t = b.build();
    t.with(TableStyle::blank());
    t.to_string()
}

pub fn green(s: &str) -> String {
    paint(
        Style::new().fg_color(Some(AnsiColor::Green.into())).bold(),
        s,
    )
}

pub fn yellow(s: &str) -> String {
    paint(
        Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
        s,
    )
}

pub fn red(s: &str) -> String {
    paint(Style::new().fg_color(Some(AnsiColor::Red.into())).bold(), s)
}

/// Wraps `s` in ANSI codes; anstream strips them again when colour is off
/// (not a terminal, `NO_COLOR`, `--color never`).
fn paint(style: Style, s: &str) -> String {
    format!("{style}{s}{style:#}")
}
