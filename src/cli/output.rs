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
        let mut out = std::io::stdout().lock();
        match self {
            OutputFormat::Json | OutputFormat::Table => {
                serde_json::to_writer_pretty(&mut out, value)?;
                writeln!(out)?;
            }
            OutputFormat::Yaml => {
                let text = serde_saphyr::to_string(value)?;
                out.write_all(text.as_bytes())?;
                if !text.ends_with('\n') {
                    writeln!(out)?;
                }
            }
        }
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

pub fn red(s: &str) -> String {
    paint(Style::new().fg_color(Some(AnsiColor::Red.into())).bold(), s)
}

/// Wraps `s` in ANSI codes; anstream strips them again when colour is off
/// (not a terminal, `NO_COLOR`, `--color never`).
fn paint(style: Style, s: &str) -> String {
    format!("{style}{s}{style:#}")
}
