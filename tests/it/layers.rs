//! The shared core stays a core: `spec`, and the leaves `tls` and `proto`, use
//! nothing of `probe`, `forge`, `daemon` or `cli`, so that any of those can use
//! them without a cycle. Read from the sources, since Rust lets any module of a
//! crate name any other.

use std::path::{Path, PathBuf};

/// The modules that must not be reached from the core.
const OUTER: &[&str] = &["probe", "forge", "daemon", "cli"];

/// The core's sources: module path (as the file's place gives it) and text.
fn core_sources() -> Vec<(Vec<String>, PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for root in ["spec", "proto", "tls.rs"] {
        let mut files = Vec::new();
        collect(&src.join(root), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            out.push((module_path(&src, &file), file, text));
        }
    }
    assert!(
        out.len() > 20,
        "the core's files were not found under {src:?}"
    );
    out
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect(&entry.unwrap().path(), files);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        files.push(path.to_path_buf());
    }
}

/// `src/spec/schema/rules.rs` → `[spec, schema, rules]`; `mod.rs` names its
/// directory.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// `text` without comments and with whitespace around `::` and inside paths
/// removed, so that `crate :: probe` and a path split over lines are seen as
/// written in one piece. String literals are kept: a path inside one is rare and
/// flagging it is the safe mistake.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // A string is copied whole, so that `//` in a URL starts no comment.
            '"' => {
                out.push(c);
                while let Some(n) = chars.next() {
                    out.push(n);
                    if n == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if n == '"' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut depth = 1;
                let mut prev = '\0';
                for n in chars.by_ref() {
                    match (prev, n) {
                        ('*', '/') => {
                            depth -= 1;
                            prev = '\0';
                            if depth == 0 {
                                break;
                            }
                            continue;
                        }
                        ('/', '*') => {
                            depth += 1;
                            prev = '\0';
                            continue;
                        }
                        _ => {}
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    // Join `a :: b`, `a ::\n b` and `{ probe , x }` into tight forms.
    let mut tight = String::with_capacity(out.len());
    for token in out.split_whitespace() {
        let glue = tight.ends_with("::")
            || tight.ends_with('{')
            || tight.ends_with(',')
            || token.starts_with("::")
            || token.starts_with('}')
            || token.starts_with(',');
        if !tight.is_empty() && !glue {
            tight.push(' ');
        }
        tight.push_str(token);
    }
    tight
}

/// The first name of every path `code` reaches at the crate's root: after
/// `crate::`, inside `crate::{…}` groups (at their top level), and after
/// `super::` chains that climb out of `module` to the root.
fn root_names(code: &str, module: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let ident_at = |i: usize| -> String {
        bytes[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect()
    };
    let boundary = |i: usize| i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
    let mut i = 0;
    while i < bytes.len() {
        if !boundary(i) {
            i += 1;
            continue;
        }
        let word = ident_at(i);
        if word.is_empty() {
            i += 1;
            continue;
        }
        let after = i + word.len();
        let rest: String = bytes[after..].iter().take(2).collect();
        match word.as_str() {
            "crate" | "uptimeping" if rest == "::" => {
                names.extend(path_heads(&bytes, after + 2));
            }
            // `use crate as c;` would hide every later path from this scan.
            "crate" if bytes[after..].iter().take(4).collect::<String>() == " as " => {
                names.push("crate as".into());
            }
            "super" if rest == "::" => {
                // Climb one level per `super`; inline `mod`s are not counted, so
                // a climb is seen reaching the root early, never late.
                let mut level = module.len();
                let mut j = i;
                loop {
                    let w = ident_at(j);
                    let next: String = bytes[j + w.len()..].iter().take(2).collect();
                    if w == "super" && next == "::" {
                        level = level.saturating_sub(1);
                        j += w.len() + 2;
                    } else {
                        break;
                    }
                }
                if level == 0 {
                    names.extend(path_heads(&bytes, j));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i = after;
    }
    names
}

/// The names a path starts with at `at`: one name, or each top-level name of a
/// `{…}` group.
fn path_heads(bytes: &[char], at: usize) -> Vec<String> {
    if bytes.get(at) != Some(&'{') {
        let name: String = bytes[at..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        return vec![name];
    }
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    let mut fresh = true;
    for &c in &bytes[at..] {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    fresh = true;
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                fresh = true;
                continue;
            }
            _ => {}
        }
        if depth == 1 && fresh {
            if c.is_alphanumeric() || c == '_' {
                current.push(c);
                continue;
            }
            if !current.is_empty() {
                heads.push(std::mem::take(&mut current));
            }
            fresh = false;
        }
    }
    if !current.is_empty() {
        heads.push(current);
    }
    heads
}

/// What `text`, the file of `module`, reaches outside the core, as found.
fn escapes(text: &str, module: &[String]) -> Vec<String> {
    root_names(&code_of(text), module)
        .into_iter()
        .filter(|n| OUTER.contains(&n.as_str()) || n == "self" || n == "crate as")
        .collect()
}

#[test]
fn spec_tls_and_proto_use_nothing_of_probe_forge_daemon_or_cli() {
    let mut found = Vec::new();
    for (module, file, text) in core_sources() {
        for name in escapes(&text, &module) {
            found.push(format!("{}: reaches `{name}`", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "the core must not depend on the outer modules; move what is shared into spec, tls or proto:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layer_scan_sees_every_way_of_writing_an_import() {
    let spec = |s: &str| vec!["spec".to_string(), s.to_string()];
    let bad = [
        "use crate::probe::tcp::build_config;",
        "use crate :: forge\n    ::load;",
        "use crate::{model, daemon::store};",
        "use crate::{\n    model,\n    cli::{self, exit},\n};",
        "fn f() { crate::probe::run(); }",
        "use super::super::forge::load;",
        "use uptimeping::daemon::Config;",
        "use crate::{self as c};",
        "use crate as c;",
        "let u = \"http://x\"; use crate::cli::run;",
    ];
    for line in bad {
        assert!(!escapes(line, &spec("grpc")).is_empty(), "not seen: {line}");
    }
    // `super::` from a file of the module itself stays inside it.
    assert!(escapes("use super::probe_like;", &spec("grpc")).is_empty());
    assert_eq!(
        escapes("use super::probe::x;", &["spec".into()]),
        ["probe"],
        "from spec/mod.rs, one `super` is the root"
    );
    assert!(escapes("use super::super::duration::D;", &spec("schema")).is_empty());
    let fine = [
        "use crate::spec::Check; // crate::probe is not used",
        "/* use crate::forge; */ use crate::{model, spec::{Check, Kind}};",
        "use crate::proto::{self, compile};",
        "let probe = crate::tls::provider();",
    ];
    for line in fine {
        assert!(
            escapes(line, &spec("grpc")).is_empty(),
            "wrongly seen: {line}: {:?}",
            escapes(line, &spec("grpc"))
        );
    }
}
