//! Man pages (`uptimeping completions --man DIR`): one per command and
//! subcommand, made from the same clap tree as `--help`, for packages to install.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap_mangen::roff::{Roff, roman};

/// The manual section of every page: user commands.
const SECTION: &str = "1";

/// Writes every page to `dir`, made if missing; pages already there are replaced.
pub fn write(cmd: clap::Command, dir: &Path) -> anyhow::Result<usize> {
    let pages = pages(cmd).context("rendering the man pages")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    for page in &pages {
        let path = dir.join(&page.file);
        std::fs::write(&path, &page.text)
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(pages.len())
}

/// One rendered page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `uptimeping-checks-get.1`.
    pub file: String,
    /// The page's roff source.
    pub text: Vec<u8>,
}

/// Every page of the tree: the root's and, depth first, each visible subcommand's.
/// No `help` pages: `--help` is on every page already.
pub fn pages(cmd: clap::Command) -> std::io::Result<Vec<Page>> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, &mut out)?;
    Ok(out)
}

fn collect(cmd: &clap::Command, out: &mut Vec<Page>) -> std::io::Result<()> {
    out.push(page(cmd)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, out)?;
    }
    Ok(())
}

fn page(cmd: &clap::Command) -> std::io::Result<Page> {
    let after_help = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(ToString::to_string);
    // clap_mangen would fill the after-help text into one paragraph under
    // `EXTRA`; its headings become sections of their own below instead. The
    // version is in every page's footer, so no VERSION section ends up between.
    let bare = cmd
        .clone()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>)
        .version(None::<&str>);
    // No date: the pages are committed, and a date would change them on every
    // build. Spelled `""`, since a bare empty argument would shift the footer's
    // fields (`.TH` arguments are written as they are).
    let man = clap_mangen::Man::new(bare)
        .section(SECTION)
        .date(r#""""#)
        .source(concat!("uptimeping ", env!("CARGO_PKG_VERSION")))
        .manual("User Commands");
    let file = man.get_filename();
    let mut text = Vec::new();
    man.render(&mut text)?;
    if let Some(after_help) = after_help {
        after_help_sections(&after_help).to_writer(&mut text)?;
    }
    text.flush()?;
    Ok(Page { file, text })
}

/// The after-help text as sections: a line like `Examples:` starts one; indented
/// lines (examples, tables) are kept as they are, other lines are filled. A
/// paragraph of prose after a blank line goes under NOTES.
fn after_help_sections(text: &str) -> Roff {
    let mut roff = Roff::default();
    // Paths and flags in the prose read badly broken across lines.
    roff.control("nh", []);
    let mut section: Option<String> = None;
    let mut in_block = false;
    let mut after_blank = false;
    let mut section_has_content = false;
    let end_block = |roff: &mut Roff, in_block: &mut bool| {
        if *in_block {
            roff.control("fi", []);
            roff.control("RE", []);
            *in_block = false;
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    // The indentation every line of the current block has: only that goes, so
    // that a block's own structure (a command under its prose) stays.
    let mut block_indent = 0;
    for (i, &line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            end_block(&mut roff, &mut in_block);
            after_blank = true;
            continue;
        }
        if let Some(heading) = heading(line) {
            end_block(&mut roff, &mut in_block);
            roff.control("SH", [heading.as_str()]);
            section = Some(heading);
            section_has_content = false;
            after_blank = false;
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if section.is_none() {
                roff.control("SH", ["NOTES"]);
                section = Some("NOTES".into());
            }
            if !in_block {
                roff.control("RS", ["4"]);
                roff.control("nf", []);
                in_block = true;
                block_indent = lines[i..]
                    .iter()
                    .take_while(|l| !l.trim().is_empty() && l.starts_with(char::is_whitespace))
                    .map(|l| indent(l))
                    .min()
                    .unwrap_or(0);
            }
            let kept = line.get(block_indent..).unwrap_or(line.trim_start());
            roff.text([roman(kept)]);
        } else {
            end_block(&mut roff, &mut in_block);
            let notes = section.as_deref() == Some("NOTES");
            if section.is_none() || (after_blank && section_has_content && !notes) {
                roff.control("SH", ["NOTES"]);
                section = Some("NOTES".into());
            } else if after_blank && section_has_content {
                roff.control("PP", []);
            }
            roff.text([roman(line)]);
        }
        section_has_content = true;
        after_blank = false;
    }
    end_block(&mut roff, &mut in_block);
    roff
}

/// The bytes of leading whitespace of `line`.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `Examples:` → `EXAMPLES`; `Exit codes:` → `EXIT STATUS`, the name man pages use.
fn heading(line: &str) -> Option<String> {
    let name = line.strip_suffix(':')?;
    let is_heading = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.len() <= 30
        && name.chars().all(|c| c.is_ascii_alphabetic() || c == ' ');
    if !is_heading {
        return None;
    }
    Some(match name {
        "Exit codes" => "EXIT STATUS".into(),
        other => other.to_uppercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        after_help_sections(text).render()
    }

    #[test]
    fn headings_become_sections_and_indented_lines_stay_as_they_are() {
        let out = render("Examples:\n  uptimeping checks get api\n  uptimeping checks get web\n");
        assert!(out.contains(".SH EXAMPLES\n.RS 4\n.nf\n"), "{out}");
        assert!(
            out.contains("uptimeping checks get api\nuptimeping checks get web\n.fi\n.RE\n"),
            "{out}"
        );
        assert_eq!(heading("Exit codes:").as_deref(), Some("EXIT STATUS"));
        assert_eq!(heading("Exit codes: 0 success"), None);
        assert_eq!(heading("  Examples:"), None);
    }

    #[test]
    fn a_block_keeps_its_relative_indentation() {
        let out = render(
            "Live completions:\n  Load them in the startup file:\n    bash:  source x\n      (continued)\n  Done.\n",
        );
        assert!(
            out.contains(
                ".nf\nLoad them in the startup file:\n  bash:  source x\n    (continued)\nDone.\n.fi\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn prose_after_a_block_goes_under_notes() {
        let out =
            render("Examples:\n  uptimeping context use prod\n\nContexts live in a file.\nMore.\n");
        let notes = out.find(".SH NOTES\nContexts live in a file.\nMore.\n");
        assert!(notes.is_some(), "{out}");
        let out = render("Exit codes: 0 success, 1 error.\n");
        assert!(
            out.contains(".SH NOTES\nExit codes: 0 success, 1 error.\n"),
            "{out}"
        );
    }

    /// Every command, with its path from the root (`uptimeping checks get`).
    fn every_command() -> Vec<(String, clap::Command)> {
        fn walk(path: String, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(format!("{path} {}", sub.get_name()), sub, out);
            }
            out.push((path, cmd.clone()));
        }
        let mut cmd = crate::cli::command();
        cmd.build();
        let mut out = Vec::new();
        walk("uptimeping".into(), &cmd, &mut out);
        out
    }

    #[test]
    fn every_page_names_what_its_command_does() {
        let pages = pages(crate::cli::command()).expect("pages");
        assert!(pages.len() > 10);
        for page in &pages {
            let text = String::from_utf8_lossy(&page.text);
            let name = text
                .split(".SH NAME\n")
                .nth(1)
                .and_then(|rest| rest.lines().next())
                .unwrap_or_default();
            let what = name.split_once(" \\- ").map(|(_, what)| what.trim());
            assert!(
                what.is_some_and(|w| !w.is_empty()),
                "{}: the NAME line `{name}` says nothing; give the command a doc comment",
                page.file
            );
        }
    }

    #[test]
    fn every_positional_argument_says_what_it_is() {
        let mut missing = Vec::new();
        for (path, cmd) in every_command() {
            for arg in cmd.get_positionals() {
                if arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    missing.push(format!("{path} <{}>", arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "positionals without help: {missing:#?}");
    }
}
