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

/// Prints `doc` as JSON or YAML, or the text `table` makes.
pub fn show<T: serde::Serialize>(
    format: OutputFormat,
    doc: &T,
    table: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => {
            let text = table();
            let mut stdout = anstream::stdout();
            write!(stdout, "{text}")?;
            if !text.ends_with('\n') {
                writeln!(stdout)?;
            }
            Ok(())
        }
        other => other.print_value(doc),
    }
}

/// Longest cell a table shows, in characters: a URL or the start of an error
/// fits, and so does every name (at most 63 characters), which is never cut. The
/// whole text is in `get` and in `-o json`.
pub const MAX_CELL_CHARS: usize = 63;

/// A plain table: a header row and rows of cells, borderless like `kubectl get`.
/// Each record is one line: cells have their line breaks collapsed and are cut
/// to [`MAX_CELL_CHARS`] with an ellipsis.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut b = Builder::default();
    b.push_record(header.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r.iter().map(|c| cell(c)));
    }
    let mut t = b.build();
    t.with(TableStyle::blank());
    t.to_string()
}

/// `text` on one line (every run of whitespace, line breaks included, becomes
/// one space) and at most [`MAX_CELL_CHARS`] characters, the last one `…` when cut.
pub fn cell(text: &str) -> String {
    let one_line = if text.chars().any(char::is_whitespace) {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        text.to_string()
    };
    // Coloured cells are short words; cutting one could split an escape sequence.
    if one_line.contains('\x1b') || one_line.chars().count() <= MAX_CELL_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
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

/// Aligned `Key: value` lines, for one object shown as text.
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{:width$} {v}\n", format!("{k}:")))
        .collect()
}

/// How long ago (or, for a future time, how soon) `t` is, in the largest whole
/// unit, as `kubectl get` shows ages: `42s ago`, `in 3m`.
pub fn relative(t: chrono::DateTime<chrono::Utc>) -> String {
    relative_to(t, chrono::Utc::now())
}

fn relative_to(t: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - t).num_seconds();
    let n = secs.unsigned_abs();
    let span = match n {
        0..120 => format!("{n}s"),
        120..7_200 => format!("{}m", n / 60),
        7_200..172_800 => format!("{}h", n / 3_600),
        _ => format!("{}d", n / 86_400),
    };
    if secs >= 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// A unit enum as its serialised word (`up`, `critical`), for tables.
pub fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Says on stderr that a list goes on after the `shown` items printed, and how to
/// see the rest.
pub fn note_more(more: bool, shown: usize, how: &str) {
    if more {
        eprintln!("showing the first {shown}; there are more: {how}");
    }
}

/// The text of an optional value, or `-`.
pub fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// A percentage as tables show it: at most three decimals, cut rather than
/// rounded so that 99.9996% never reads as 100% (nor 0.0004% as 0%); `-` when
/// unknown.
pub fn percent(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if !v.is_finite() => "-".into(),
        // Known but tiny (seconds of a month) is not nothing.
        Some(v) if v > 0.0 && v < 0.001 => "<0.001%".into(),
        Some(v) => {
            // The nudge keeps 99.95, stored as 99.94999…, from reading as 99.949.
            let cut = (v * 1000.0 + 1e-6).floor() / 1000.0;
            let text = format!("{cut:.3}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            format!("{text}%")
        }
    }
}

/// A latency in whole milliseconds, or `-`.
pub fn millis(ms: Option<f64>) -> String {
    ms.map(|ms| format!("{ms:.0}ms"))
        .unwrap_or_else(|| "-".into())
}

/// A span of seconds in its largest units (`2h5m`, `40s`), or `-`.
pub fn span(secs: Option<f64>) -> String {
    match secs {
        Some(s) if s.is_finite() && s >= 0.0 => {
            crate::spec::Duration::from_secs(s.round() as u64).to_string()
        }
        _ => "-".into(),
    }
}

/// CSV as RFC 4180 writes it: a header record, then one record per row, each
/// line ending in CRLF; a field with a comma, a quote or a line break is quoted.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let mut record = |fields: &mut dyn Iterator<Item = &str>| {
        let line: Vec<String> = fields.map(csv_field).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    record(&mut header.iter().copied());
    for r in rows {
        record(&mut r.iter().map(String::as_str));
    }
    out
}

/// One CSV field, quoted (inner quotes doubled) when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_exactly_the_fields_that_need_it() {
        let text = csv(
            &["name", "note"],
            &[
                vec!["plain".into(), "a, b".into()],
                vec!["say \"hi\"".into(), "two\nlines".into()],
                vec!["".into(), "cr\rhere".into()],
            ],
        );
        assert_eq!(
            text,
            "name,note\r\nplain,\"a, b\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n,\"cr\rhere\"\r\n"
        );
    }

    #[test]
    fn percentages_are_cut_not_rounded_and_unknown_is_a_dash() {
        assert_eq!(percent(Some(100.0)), "100%");
        assert_eq!(percent(Some(0.0)), "0%");
        assert_eq!(percent(Some(99.9996)), "99.999%");
        assert_eq!(percent(Some(99.95)), "99.95%");
        assert_eq!(percent(Some(50.0)), "50%");
        assert_eq!(percent(Some(0.0004)), "<0.001%");
        assert_eq!(percent(Some(-12.5)), "-12.5%");
        assert_eq!(percent(None), "-");
        assert_eq!(percent(Some(f64::NAN)), "-");
    }

    #[test]
    fn spans_are_in_their_largest_units() {
        assert_eq!(span(Some(0.0)), "0s");
        assert_eq!(span(Some(125.4)), "2m5s");
        assert_eq!(span(Some(90_000.0)), "1d1h");
        assert_eq!(span(None), "-");
    }
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn relative_times_use_the_largest_whole_unit() {
        let now = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("time");
        let at = |secs: i64| relative_to(now - Duration::seconds(secs), now);
        assert_eq!(at(5), "5s ago");
        assert_eq!(at(600), "10m ago");
        assert_eq!(at(3 * 3600), "3h ago");
        assert_eq!(at(3 * 86400), "3d ago");
        assert_eq!(at(-30), "in 30s");
    }

    #[test]
    fn table_cells_stay_on_one_line_and_are_cut_with_an_ellipsis() {
        let long = "x".repeat(MAX_CELL_CHARS + 40);
        let text = table(
            &["NAME", "ERROR"],
            vec![
                vec![
                    "a".into(),
                    "connect: refused\n  caused by:\r\n\tno route".into(),
                ],
                vec!["b".into(), long.clone()],
                vec!["c".into(), "x".repeat(MAX_CELL_CHARS)],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "one line per record:\n{text}");
        assert!(
            lines[1].contains("connect: refused caused by: no route"),
            "{text}"
        );
        let cut = format!("{}…", "x".repeat(MAX_CELL_CHARS - 1));
        assert!(lines[2].trim_end().ends_with(&cut), "{text}");
        assert_eq!(cell(&long).chars().count(), MAX_CELL_CHARS);
        assert!(
            lines[3].trim_end().ends_with(&"x".repeat(MAX_CELL_CHARS)),
            "{text}"
        );
        assert_eq!(cell("multi\nline"), "multi line");
    }

    #[test]
    fn fields_align_their_values() {
        assert_eq!(
            fields(&[("Name", "api".into()), ("Target", "x".into())]),
            "Name:   api\nTarget: x\n"
        );
    }
}
