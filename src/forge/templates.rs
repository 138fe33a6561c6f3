//! Every file Forge writes comes from a minijinja template. The templates are
//! compiled into the binary; `forge templates export DIR` writes them out and
//! `--template-dir DIR` renders with edited copies instead.

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Name (a path, relative to a template directory) → built-in text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("checks.yaml.j2", include_str!("templates/checks.yaml.j2")),
    ("checks.json.j2", include_str!("templates/checks.json.j2")),
    (
        "rust/Cargo.toml.j2",
        include_str!("templates/rust/Cargo.toml.j2"),
    ),
    (
        "rust/build.rs.j2",
        include_str!("templates/rust/build.rs.j2"),
    ),
    ("rust/lib.rs.j2", include_str!("templates/rust/lib.rs.j2")),
    (
        "rust/client.rs.j2",
        include_str!("templates/rust/client.rs.j2"),
    ),
    ("rust/main.rs.j2", include_str!("templates/rust/main.rs.j2")),
    (
        "rust/tests.rs.j2",
        include_str!("templates/rust/tests.rs.j2"),
    ),
    (
        "rust/README.md.j2",
        include_str!("templates/rust/README.md.j2"),
    ),
    (
        "rust/health.proto.j2",
        include_str!("templates/rust/health.proto.j2"),
    ),
    (
        "rust/gitignore.j2",
        include_str!("templates/rust/gitignore.j2"),
    ),
];

/// Steps a template may take before it is stopped: far more than any real
/// output needs, and a bound on a runaway loop in an edited template.
const FUEL: u64 = 50_000_000;

/// The templates, built in or from a directory.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name under
    /// `dir` when there is one.
    pub fn new(dir: Option<&Path>) -> Result<Templates, String> {
        if let Some(d) = dir {
            match std::fs::metadata(d) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(format!(
                        "template directory `{}` is not a directory",
                        d.display()
                    ));
                }
                Err(e) => return Err(format!("template directory `{}`: {e}", d.display())),
            }
        }
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        // The templates quote what they write themselves (the `json` filter); the
        // auto-escaping minijinja picks for `.yaml`/`.json` names would quote twice.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.add_filter(
            "json",
            |v: minijinja::Value| -> Result<String, minijinja::Error> {
                serde_json::to_string(&v).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })
            },
        );
        env.add_filter(
            "json_pretty",
            |v: minijinja::Value| -> Result<String, minijinja::Error> {
                serde_json::to_string_pretty(&v).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })
            },
        );
        // A Rust string literal: Debug escapes are valid Rust.
        env.add_filter("rust_str", |s: String| format!("{s:?}"));
        for (name, builtin) in BUILTIN {
            let text = match dir {
                Some(d) => {
                    let path = d.join(name);
                    match std::fs::read_to_string(&path) {
                        Ok(t) => t,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin.to_string(),
                        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
                    }
                }
                None => builtin.to_string(),
            };
            env.add_template_owned(name.to_string(), text)
                .map_err(|e| describe(&e))?;
        }
        Ok(Templates { env })
    }

    /// Renders the template `name` with `ctx`.
    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<String, String> {
        let t = self.env.get_template(name).map_err(|e| describe(&e))?;
        t.render(minijinja::value::Serde(ctx))
            .map_err(|e| describe(&e))
    }
}

/// `template `checks.yaml.j2` line 12: unknown filter: …`, following the
/// chain of causes (an error in an included template names that one).
pub fn describe(e: &minijinja::Error) -> String {
    let mut out = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        if let Some(m) = err.downcast_ref::<minijinja::Error>() {
            if !out.is_empty() {
                out.push_str("; caused by ");
            }
            match (m.name(), m.line()) {
                (Some(n), Some(l)) => out.push_str(&format!("template `{n}` line {l}: ")),
                (Some(n), None) => out.push_str(&format!("template `{n}`: ")),
                _ => {}
            }
            out.push_str(&m.kind().to_string());
            if let Some(d) = m.detail() {
                out.push_str(&format!(": {d}"));
            }
        }
        cur = err.source();
    }
    out
}

/// Writes the built-in templates under `dir`; returns the paths written.
/// Existing files are kept unless `force`.
pub fn export(dir: &Path, force: bool) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for (name, _) in BUILTIN {
        let path = dir.join(name);
        if path.exists() && !force {
            return Err(format!(
                "`{}` exists; pass --force to overwrite the templates in `{}`",
                path.display(),
                dir.display()
            ));
        }
    }
    for (name, text) in BUILTIN {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
