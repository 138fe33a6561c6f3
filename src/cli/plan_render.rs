//! What `plan` and `apply` share: the ownership flags, the request built from the
//! files, the saved-plan document, and the plan as text for people.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::files::{FileArgs, Loaded, plural, report};
use super::output::{green, red, yellow};
use crate::model::PlanRequest;
use crate::spec::plan::{Action, Change, Desired, FieldChange, Options, Plan};
use crate::spec::{self, secrets::MASK};

/// Version of the saved-plan file written by `plan --out`.
pub const SAVED_PLAN_VERSION: u32 = 1;

/// The flags that say whose resources these are and what may happen to others.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OwnershipArgs {
    /// Ownership label recorded on what is applied [default: `source` in uptimeping.yaml
    /// next to the files or above them, else the git repository's directory name, else
    /// the files' directory name]
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Delete resources of this source that are no longer in the files
    #[arg(long)]
    pub prune: bool,
    /// With --prune, allow files with no resources to delete everything of this source
    #[arg(long)]
    pub allow_empty: bool,
    /// Take over resources that another source applied
    #[arg(long)]
    pub take_over: bool,
    /// Manage resources that were created outside plan/apply
    #[arg(long)]
    pub adopt: bool,
}

impl OwnershipArgs {
    /// Whether any flag was given, for refusing them next to a saved plan.
    pub fn any(&self) -> bool {
        self.source.is_some() || self.prune || self.allow_empty || self.take_over || self.adopt
    }
}

/// Loads and validates the files locally, then builds the request for the daemon.
/// Invalid files are reported here and nothing is sent.
pub fn build_request(files: &FileArgs, own: &OwnershipArgs) -> anyhow::Result<PlanRequest> {
    let bundle = match files.load()? {
        Loaded::Ok(bundle, _) => bundle,
        Loaded::Invalid(diags) => return Err(report(&diags)),
    };
    let source = match &own.source {
        Some(s) if s.trim().is_empty() => anyhow::bail!("--source must not be empty"),
        Some(s) => s.clone(),
        None => {
            let first = files.files.first().map(PathBuf::as_path);
            super::source_name::default_source(first.unwrap_or(Path::new(".")))?
        }
    };
    let resources = bundle
        .resources
        .iter()
        .map(|r| Desired {
            kind: r.kind(),
            name: r.name().to_string(),
            spec: spec::canonical(&r.spec),
            file: Some(r.file.clone()),
            line: Some(r.pos.line),
            sensitive: r.sensitive.clone(),
        })
        .collect();
    Ok(PlanRequest {
        options: Options {
            source,
            prune: own.prune,
            allow_empty: own.allow_empty,
            take_over: own.take_over,
            adopt: own.adopt,
        },
        resources,
        expected_revision: None,
        expected_tenant: None,
    })
}

/// What `plan --out` writes and `apply PLANFILE` reads. It holds the exact request,
/// secrets included, so it is written readable by its owner only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub saved_plan_version: u32,
    /// The daemon the plan was made against.
    pub url: String,
    pub plan: Plan,
    pub request: PlanRequest,
}

impl SavedPlan {
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self).context("serialising the plan")?;
        super::config::write_private(path, text.as_bytes())
    }

    pub fn read(path: &Path) -> anyhow::Result<SavedPlan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the saved plan `{}`", path.display()))?;
        let saved: SavedPlan = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a plan saved by `uptimeping plan --out`",
                path.display()
            )
        })?;
        anyhow::ensure!(
            saved.saved_plan_version == SAVED_PLAN_VERSION,
            "`{}` was saved by another version of uptimeping (format {}, this one reads {}); make the plan again",
            path.display(),
            saved.saved_plan_version,
            SAVED_PLAN_VERSION
        );
        Ok(saved)
    }
}

/// Says on stderr what is being planned where.
pub fn log_planning(request: &PlanRequest, url: &url::Url) {
    let n = request.resources.len();
    eprintln!(
        "planning {n} {} of source `{}` against {}",
        plural(n, "resource", "resources"),
        request.options.source,
        super::client::shown_url(url)
    );
}

/// Prints the daemon's remarks on the plan to stderr.
pub fn print_diagnostics(plan: &Plan) {
    for d in &plan.diagnostics {
        anstream::eprintln!("warning: {d}");
    }
}

/// The plan as text, Terraform-style: one block per change, sorted by kind then
/// name, and the summary line last. Colour codes are stripped by anstream when
/// colour is off.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mut changes: Vec<&Change> = plan.changes.iter().collect();
    changes.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    if changes.is_empty() && plan.absent == 0 {
        out.push_str("No changes. Live state matches the files.\n");
    } else if changes.is_empty() {
        out.push_str("No changes to the resources in the files.\n");
    }
    for c in changes {
        let place = match (&c.file, c.line) {
            (Some(f), Some(l)) => format!(" ({f}:{l})"),
            (Some(f), None) => format!(" ({f})"),
            _ => String::new(),
        };
        match c.action {
            Action::Create => {
                let _ = writeln!(out, "  {} {} {}{place}", green("+"), c.kind, c.name);
                let mut fields = Vec::new();
                if let Some(after) = &c.after {
                    leaves("", after, &mut fields);
                }
                for (path, value) in fields {
                    let _ = writeln!(out, "      {} {path} = {}", green("+"), show(value));
                }
            }
            Action::Update => {
                let _ = writeln!(out, "  {} {} {}{place}", yellow("~"), c.kind, c.name);
                for f in &c.fields {
                    out.push_str(&field_line(f));
                }
            }
            Action::Delete => {
                let _ = writeln!(out, "  {} {} {}", red("-"), c.kind, c.name);
            }
        }
    }
    if plan.absent > 0 {
        let n = plan.absent;
        let _ = writeln!(
            out,
            "\n{n} {} of source `{}` {} not in the files and {}: `--prune` would delete {}.",
            plural(n, "resource", "resources"),
            plan.source,
            if n == 1 { "is" } else { "are" },
            if n == 1 { "stays" } else { "stay" },
            if n == 1 { "it" } else { "them" },
        );
    }
    let s = plan.summary;
    let _ = writeln!(
        out,
        "\nPlan: {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    );
    out
}

/// The line after a successful apply.
pub fn applied_line(plan: &Plan) -> String {
    let s = plan.summary;
    format!(
        "Apply complete! Resources: {} added, {} changed, {} destroyed.",
        s.add, s.change, s.destroy
    )
}

fn field_line(f: &FieldChange) -> String {
    let present = |v: &Option<Value>| v.as_ref().filter(|v| !v.is_null()).cloned();
    let (before, after) = (present(&f.before), present(&f.after));
    let path = &f.path;
    match (before, after) {
        (Some(_), Some(_)) if f.sensitive => {
            format!("      {} {path} = (sensitive value changed)\n", yellow("~"))
        }
        (Some(b), Some(a)) => format!(
            "      {} {path} = {} -> {}\n",
            yellow("~"),
            show(&b),
            show(&a)
        ),
        (None, Some(a)) => format!("      {} {path} = {}\n", green("+"), show(&a)),
        (Some(b), None) => format!("      {} {path} = {}\n", red("-"), show(&b)),
        (None, None) => String::new(),
    }
}

/// Every leaf of a new resource as `(dotted.path, value)`; lists stay whole, as in
/// field changes, and `kind`, `name` and nulls are left out: the header shows the
/// first two, the last are defaults that say nothing.
fn leaves<'a>(prefix: &str, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                if prefix.is_empty() && (k == "kind" || k == "name") {
                    continue;
                }
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        Value::Null => {}
        other => out.push((prefix.to_string(), other)),
    }
}

/// A value as compact JSON; the secret marker as it is, without quotes.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) if s == MASK => MASK.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "plan_render_tests.rs"]
mod tests;
