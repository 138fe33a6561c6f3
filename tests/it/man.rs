//! The committed man pages are exactly what the binary writes, one per visible
//! command, and each renders with the real `man` without a warning.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::support::run;

const REGENERATE: &str = "scripts/update-completions.sh";

/// What `uptimeping completions --man DIR` writes: file name → contents.
fn generated() -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man");
    let r = run(&["completions", "--man", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "completions --man: {}", r.stderr);
    let pages = read_dir(&dir);
    (tmp, pages)
}

fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// Every visible command of the tree by its page name, with its after-help text.
fn commands() -> BTreeMap<String, String> {
    fn walk(cmd: &clap::Command, name: &str, out: &mut BTreeMap<String, String>) {
        let after = cmd
            .get_after_long_help()
            .or_else(|| cmd.get_after_help())
            .map(|s| s.to_string())
            .unwrap_or_default();
        out.insert(format!("{name}.1"), after);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, &format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&uptimeping::cli::command(), "uptimeping", &mut out);
    out
}

/// The indented lines under `Examples:` of an after-help text.
fn examples(after_help: &str) -> Vec<String> {
    let mut lines = after_help.lines().skip_while(|l| *l != "Examples:").skip(1);
    let mut out = Vec::new();
    for line in lines.by_ref() {
        if !line.starts_with(' ') {
            break;
        }
        out.push(line.trim().to_string());
    }
    out
}

#[test]
fn committed_man_pages_are_up_to_date() {
    let (_tmp, generated) = generated();
    let committed = read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("man"));
    let mut wrong = Vec::new();
    for (name, text) in &generated {
        match committed.get(name) {
            None => wrong.push(format!("man/{name} is missing")),
            Some(c) if c != text => wrong.push(format!("man/{name} is out of date")),
            Some(_) => {}
        }
    }
    for name in committed.keys().filter(|n| !generated.contains_key(*n)) {
        wrong.push(format!("man/{name} is not a page the binary writes"));
    }
    assert!(
        wrong.is_empty(),
        "{}; regenerate them with `{REGENERATE}`",
        wrong.join(", ")
    );
}

#[test]
fn there_is_one_page_per_visible_command_and_no_help_pages() {
    let (_tmp, generated) = generated();
    let pages: Vec<&String> = generated.keys().collect();
    let commands = commands();
    let wanted: Vec<&String> = commands
        .keys()
        .filter(|n| !n.ends_with("-help.1"))
        .collect();
    assert_eq!(pages, wanted);
    for name in [
        "uptimeping.1",
        "uptimeping-checks.1",
        "uptimeping-checks-get.1",
        "uptimeping-forge-templates-export.1",
    ] {
        assert!(generated.contains_key(name), "{name}");
    }
    // Committed pages must not change with the day they were made.
    for (name, text) in &generated {
        let th = String::from_utf8_lossy(text)
            .lines()
            .find(|l| l.starts_with(".TH "))
            .map(str::to_string)
            .unwrap_or_default();
        let stem = name.trim_end_matches(".1");
        assert_eq!(
            th,
            format!(
                ".TH {stem} 1 \"\" \"uptimeping {}\" \"User Commands\"",
                env!("CARGO_PKG_VERSION")
            ),
            "{name}"
        );
    }
}

#[test]
fn every_page_renders_with_man_and_shows_its_examples() {
    let has_man = Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_man,
        "`man` is not installed: run scripts/test, which installs man-db"
    );
    let (tmp, generated) = generated();
    let commands = commands();
    let mut checked_examples = 0;
    for name in generated.keys() {
        let path = tmp.path().join("man").join(name);
        let out = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-P", "cat", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("MANPAGER")
            .env_remove("PAGER")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "man -l {name}: {stderr}");
        assert_eq!(stderr, "", "man -l {name} warned");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION"] {
            assert!(
                stdout.lines().any(|l| l == section),
                "{name} has no {section} section:\n{stdout}"
            );
        }
        let shown: Vec<&str> = stdout.lines().map(str::trim).collect();
        let after_help = &commands[name];
        for example in examples(after_help) {
            assert!(
                shown.contains(&example.as_str()),
                "{name} does not show the example `{example}`:\n{stdout}"
            );
            checked_examples += 1;
        }
        if after_help.contains("Examples:") {
            assert!(
                stdout.lines().any(|l| l == "EXAMPLES"),
                "{name}: no EXAMPLES section"
            );
        }
    }
    assert!(
        checked_examples > 100,
        "only {checked_examples} examples seen"
    );
}
