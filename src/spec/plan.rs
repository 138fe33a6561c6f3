//! The plan: what moving live state to the desired set would do. Computed by the
//! daemon against its live state (one diff for `plan` and `apply`), rendered by the
//! CLI. Both sides are canonical JSON, so only real changes show.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::secrets::{MASK, is_secret, masked};
use super::{Kind, load::dotted};

/// Version of the plan's JSON document; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// One resource of the desired set, as the CLI sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    pub kind: Kind,
    pub name: String,
    /// Canonical JSON of the resource.
    pub spec: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Pointers of values that came from `${...}`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
}

/// One resource as the daemon holds it, borrowed from the loaded state: a tenant
/// of 100,000 resources would otherwise copy every name and owner for each plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live<'a> {
    pub kind: Kind,
    pub name: &'a str,
    /// `Null` for a resource the diff reads by name and owner only.
    pub spec: &'a Value,
    /// Who applied it; `None` for a resource created outside plan/apply.
    pub source: Option<&'a str>,
    /// Every secret pointer of the live spec.
    pub secrets: &'a BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Ownership label of this apply.
    pub source: String,
    /// Delete resources of `source` that are not in the desired set.
    #[serde(default)]
    pub prune: bool,
    /// Allow an empty desired set to prune everything of `source`.
    #[serde(default)]
    pub allow_empty: bool,
    /// Take over resources that another source applied.
    #[serde(default)]
    pub take_over: bool,
    /// Adopt resources that were created outside plan/apply.
    #[serde(default)]
    pub adopt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// One field that differs. Secret values are masked; `sensitive` says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path: `expect.status`, `http.headers.authorization`.
    pub path: String,
    #[serde(default)]
    pub before: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub line: Option<usize>,
    /// The whole resource before and after, secrets masked.
    #[serde(default)]
    pub before: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
    /// For updates: each field that changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// The plan document, as `plan -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub state_revision: u64,
    /// The tenant whose state the plan was made against (its id), so that a saved
    /// plan cannot be applied to another tenant's state by mistake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<i64>,
    pub source: String,
    pub changes: Vec<Change>,
    pub summary: Summary,
    #[serde(default)]
    pub diagnostics: Vec<String>,
    /// Resources of `source` that the files no longer hold and that stay because
    /// the plan was made without `--prune` (with it they are `delete` changes).
    #[serde(default)]
    pub absent: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error(
        "{kind} `{name}` belongs to source `{owner}`; apply it from there, or pass --take-over to move it to `{ours}`"
    )]
    OtherSource {
        kind: Kind,
        name: String,
        owner: String,
        ours: String,
    },
    #[error(
        "{kind} `{name}` exists but was not created by plan/apply; pass --adopt to manage it from `{ours}`"
    )]
    Unmanaged {
        kind: Kind,
        name: String,
        ours: String,
    },
    #[error(
        "the desired set is empty and --prune would delete all {count} resources of source `{ours}`; pass --allow-empty if that is meant"
    )]
    EmptyPrune { ours: String, count: usize },
    #[error("{kind} `{name}` is given twice")]
    Duplicate { kind: Kind, name: String },
}

/// Computes the changes from `live` to `desired` under `opts`. All conflicts are
/// returned together; no partial plan is made.
pub fn diff(
    desired: &[(Desired, BTreeSet<String>)],
    live: &[Live<'_>],
    opts: &Options,
) -> Result<Vec<Change>, Vec<Conflict>> {
    diff_with(desired, live, opts, true)
}

/// [`diff`], leaving out the `after` of creates and updates unless `afters`: an
/// apply writes the desired specs and then moves each into its change, instead of
/// holding a masked copy of every one through the write.
pub fn diff_with(
    desired: &[(Desired, BTreeSet<String>)],
    live: &[Live<'_>],
    opts: &Options,
    afters: bool,
) -> Result<Vec<Change>, Vec<Conflict>> {
    let mut conflicts = Vec::new();
    let live_by: BTreeMap<(Kind, &str), &Live> =
        live.iter().map(|l| ((l.kind, l.name), l)).collect();
    let mut wanted: BTreeSet<(Kind, &str)> = BTreeSet::new();
    let mut changes = Vec::new();

    for (d, secrets) in desired {
        if !wanted.insert((d.kind, d.name.as_str())) {
            conflicts.push(Conflict::Duplicate {
                kind: d.kind,
                name: d.name.clone(),
            });
            continue;
        }
        // Built only for a resource that changes: an apply of every file of a repo
        // names thousands that do not, and a masked copy of each is its spec again.
        let base = || Change {
            kind: d.kind,
            name: d.name.clone(),
            action: Action::Create,
            file: d.file.clone(),
            line: d.line,
            before: None,
            after: afters.then(|| masked(&d.spec, secrets)),
            fields: Vec::new(),
        };
        match live_by.get(&(d.kind, d.name.as_str())) {
            None => changes.push(base()),
            Some(l) => {
                match l.source {
                    Some(owner) if owner != opts.source && !opts.take_over => {
                        conflicts.push(Conflict::OtherSource {
                            kind: d.kind,
                            name: d.name.clone(),
                            owner: owner.to_string(),
                            ours: opts.source.clone(),
                        });
                        continue;
                    }
                    None if !opts.adopt => {
                        conflicts.push(Conflict::Unmanaged {
                            kind: d.kind,
                            name: d.name.clone(),
                            ours: opts.source.clone(),
                        });
                        continue;
                    }
                    _ => {}
                }
                let all_secrets: BTreeSet<String> = secrets.union(l.secrets).cloned().collect();
                let mut fields = Vec::new();
                field_diff("", l.spec, &d.spec, &all_secrets, &mut fields);
                // A value that became secret (a literal replaced by `${VAR}` with the same
                // value) must be stored as secret from now on: that is a change too.
                for p in secrets.difference(l.secrets) {
                    if d.spec.pointer(p).is_some()
                        && !fields.iter().any(|f: &FieldChange| f.path == dotted(p))
                    {
                        fields.push(FieldChange {
                            path: dotted(p),
                            before: Some(Value::String(MASK.into())),
                            after: Some(Value::String(MASK.into())),
                            sensitive: true,
                        });
                    }
                }
                if l.source != Some(opts.source.as_str()) {
                    fields.push(FieldChange {
                        path: "(source)".into(),
                        before: l.source.map(|s| Value::String(s.to_string())),
                        after: Some(Value::String(opts.source.clone())),
                        sensitive: false,
                    });
                }
                if !fields.is_empty() {
                    changes.push(Change {
                        action: Action::Update,
                        before: Some(masked(l.spec, &all_secrets)),
                        fields,
                        ..base()
                    });
                }
            }
        }
    }

    if opts.prune {
        let doomed = absent_from(&wanted, live, &opts.source);
        if desired.is_empty() && !doomed.is_empty() && !opts.allow_empty {
            conflicts.push(Conflict::EmptyPrune {
                ours: opts.source.clone(),
                count: doomed.len(),
            });
        }
        for l in doomed {
            changes.push(Change {
                kind: l.kind,
                name: l.name.to_string(),
                action: Action::Delete,
                file: None,
                line: None,
                before: Some(masked(l.spec, l.secrets)),
                after: None,
                fields: Vec::new(),
            });
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    changes.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    Ok(changes)
}

/// The live resources of `source` that `wanted` does not hold: what `--prune` deletes.
fn absent_from<'a, 'b>(
    wanted: &BTreeSet<(Kind, &str)>,
    live: &'a [Live<'b>],
    source: &str,
) -> Vec<&'a Live<'b>> {
    live.iter()
        .filter(|l| l.source == Some(source) && !wanted.contains(&(l.kind, l.name)))
        .collect()
}

/// How many resources of `opts.source` are live but not in `desired` and stay,
/// since the plan does not prune (0 when it does: they are its deletions).
pub fn absent(desired: &[(Desired, BTreeSet<String>)], live: &[Live<'_>], opts: &Options) -> usize {
    if opts.prune {
        return 0;
    }
    let wanted: BTreeSet<(Kind, &str)> = desired
        .iter()
        .map(|(d, _)| (d.kind, d.name.as_str()))
        .collect();
    absent_from(&wanted, live, &opts.source).len()
}

pub fn summarize(changes: &[Change]) -> Summary {
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    Summary {
        add: count(Action::Create),
        change: count(Action::Update),
        destroy: count(Action::Delete),
    }
}

/// Field-level differences. Objects recurse; lists and scalars compare whole.
fn field_diff(
    pointer: &str,
    before: &Value,
    after: &Value,
    secrets: &BTreeSet<String>,
    out: &mut Vec<FieldChange>,
) {
    if before == after {
        return;
    }
    if let (Value::Object(b), Value::Object(a)) = (before, after) {
        let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        for k in keys {
            let child = format!("{pointer}/{}", super::decode::escape_segment(k));
            match (b.get(k), a.get(k)) {
                (Some(x), Some(y)) => field_diff(&child, x, y, secrets, out),
                (x, y) => push_field(&child, x, y, secrets, out),
            }
        }
        return;
    }
    push_field(pointer, Some(before), Some(after), secrets, out);
}

fn push_field(
    pointer: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    secrets: &BTreeSet<String>,
    out: &mut Vec<FieldChange>,
) {
    let sensitive = is_secret(pointer, secrets)
        || secrets
            .iter()
            .any(|s| s.starts_with(&format!("{pointer}/")));
    let show = |v: Option<&Value>| {
        v.map(|v| {
            if sensitive {
                Value::String(MASK.into())
            } else {
                v.clone()
            }
        })
    };
    out.push(FieldChange {
        path: dotted(pointer),
        before: show(before),
        after: show(after),
        sensitive,
    });
}

impl super::Resource {
    /// This resource as the desired state sent to a daemon.
    pub fn desired(&self) -> Desired {
        Desired {
            kind: self.kind(),
            name: self.name().to_string(),
            spec: super::canonical(&self.spec),
            file: Some(self.file.clone()),
            line: Some(self.pos.line),
            sensitive: self.sensitive.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Tests' live resources borrow from nothing that goes away: leaked, a few bytes each.
    fn live(name: &str, spec: Value, source: Option<&str>) -> Live<'static> {
        static NONE: BTreeSet<String> = BTreeSet::new();
        Live {
            kind: Kind::Check,
            name: Box::leak(name.to_string().into_boxed_str()),
            spec: Box::leak(Box::new(spec)),
            source: source.map(|s| &*Box::leak(s.to_string().into_boxed_str())),
            secrets: &NONE,
        }
    }

    fn want(name: &str, spec: Value) -> (Desired, BTreeSet<String>) {
        (
            Desired {
                kind: Kind::Check,
                name: name.into(),
                spec,
                file: None,
                line: None,
                sensitive: BTreeSet::new(),
            },
            BTreeSet::new(),
        )
    }

    fn opts(prune: bool) -> Options {
        Options {
            source: "repo".into(),
            prune,
            ..Options::default()
        }
    }

    #[test]
    fn unchanged_resources_make_no_change_and_edits_name_the_field() {
        let l = [live("a", json!({"timeout": "5s", "x": [1]}), Some("repo"))];
        assert!(
            diff(
                &[want("a", json!({"timeout": "5s", "x": [1]}))],
                &l,
                &opts(false)
            )
            .unwrap()
            .is_empty()
        );
        let c = diff(
            &[want("a", json!({"timeout": "10s", "x": [1]}))],
            &l,
            &opts(false),
        )
        .unwrap();
        assert_eq!(c[0].action, Action::Update);
        assert_eq!(
            c[0].fields,
            vec![FieldChange {
                path: "timeout".into(),
                before: Some(json!("5s")),
                after: Some(json!("10s")),
                sensitive: false
            }]
        );
    }

    #[test]
    fn prune_touches_only_its_own_source() {
        let l = [
            live("mine", json!({}), Some("repo")),
            live("theirs", json!({}), Some("other")),
        ];
        let c = diff(&[want("new", json!({}))], &l, &opts(true)).unwrap();
        let got: Vec<(Action, &str)> = c.iter().map(|c| (c.action, c.name.as_str())).collect();
        assert_eq!(got, vec![(Action::Delete, "mine"), (Action::Create, "new")]);
    }

    #[test]
    fn without_prune_the_absent_resources_of_this_source_are_counted() {
        let l = [
            live("kept", json!({}), Some("repo")),
            live("gone", json!({}), Some("repo")),
            live("gone-too", json!({}), Some("repo")),
            live("theirs", json!({}), Some("other")),
            live("by-hand", json!({}), None),
        ];
        let d = [want("kept", json!({}))];
        assert_eq!(absent(&d, &l, &opts(false)), 2);
        assert_eq!(
            absent(&d, &l, &opts(true)),
            0,
            "with --prune they are deletions"
        );
        assert_eq!(diff(&d, &l, &opts(true)).unwrap().len(), 2);
    }

    #[test]
    fn another_sources_resource_is_a_conflict_unless_taken_over() {
        let l = [live("a", json!({}), Some("other"))];
        let err = diff(&[want("a", json!({}))], &l, &opts(false)).unwrap_err();
        assert!(matches!(err[0], Conflict::OtherSource { .. }));
        let o = Options {
            take_over: true,
            ..opts(false)
        };
        let c = diff(&[want("a", json!({}))], &l, &o).unwrap();
        assert_eq!(c[0].fields[0].path, "(source)");
    }

    #[test]
    fn empty_input_never_prunes_everything_by_accident() {
        let l = [live("a", json!({}), Some("repo"))];
        assert!(matches!(
            diff(&[], &l, &opts(true)).unwrap_err()[0],
            Conflict::EmptyPrune { count: 1, .. }
        ));
        let o = Options {
            allow_empty: true,
            ..opts(true)
        };
        assert_eq!(diff(&[], &l, &o).unwrap()[0].action, Action::Delete);
    }

    #[test]
    fn a_changed_secret_shows_that_it_changed_and_nothing_more() {
        let secrets: BTreeSet<String> = ["/url".to_string()].into();
        let l = [Live {
            secrets: Box::leak(Box::new(secrets.clone())),
            ..live("a", json!({"url": "https://old"}), Some("repo"))
        }];
        let d = (
            Desired {
                kind: Kind::Check,
                name: "a".into(),
                spec: json!({"url": "https://new"}),
                file: None,
                line: None,
                sensitive: secrets.clone(),
            },
            secrets,
        );
        let c = diff(&[d], &l, &opts(false)).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("https://"), "{text}");
        assert!(c[0].fields[0].sensitive);
    }
}
