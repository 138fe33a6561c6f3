//! Rules across documents: duplicate names, references to resources that are not
//! defined, and `depends_on` cycles.

use std::collections::HashMap;

use super::diag::{Diagnostic, Diagnostics};
use super::load::{Seen, UntypedRef};
use super::status_page::MAX_GROUP_CHECKS;
use super::{Kind, Resource, Spec};

/// How many unknown references in one run get a "did you mean" hint; the rest
/// are reported without one. A hint costs a comparison with every name of the
/// kind, so hinting all of thousands of references would make validate
/// quadratic, and a person fixes the first hundred before reading further.
pub const MAX_SUGGESTED_REFERENCES: usize = 100;

/// The names a document that could not be typed refers to, with their pointers.
pub(crate) fn untyped_references(
    kind: Kind,
    value: &serde_json::Value,
) -> Vec<(String, Kind, String)> {
    let fields: &[(&str, Kind, bool)] = match kind {
        Kind::Check => &[
            ("/alert/channels", Kind::Channel, true),
            ("/alert/template", Kind::Template, false),
            ("/depends_on", Kind::Check, true),
        ],
        Kind::Channel => &[("/template", Kind::Template, false)],
        Kind::Maintenance => &[("/checks", Kind::Check, true)],
        Kind::StatusPage => &[],
        Kind::Template => &[],
    };
    let mut out = Vec::new();
    if kind == Kind::StatusPage {
        // Checks are named a level down, in each group.
        let groups = value.pointer("/groups").and_then(|g| g.as_array());
        for (g, group) in groups.into_iter().flatten().enumerate() {
            let checks = group.get("checks").and_then(|c| c.as_array());
            for (i, item) in checks.into_iter().flatten().enumerate() {
                if let Some(name) = item.as_str() {
                    out.push((
                        format!("/groups/{g}/checks/{i}"),
                        Kind::Check,
                        name.to_string(),
                    ));
                }
            }
        }
    }
    for (at, target, list) in fields {
        match (value.pointer(at), list) {
            (Some(serde_json::Value::Array(items)), true) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(name) = item.as_str() {
                        out.push((format!("{at}/{i}"), *target, name.to_string()));
                    }
                }
            }
            (Some(serde_json::Value::String(name)), false) => {
                out.push((at.to_string(), *target, name.clone()));
            }
            _ => {}
        }
    }
    out
}

/// Duplicate names within a kind, references to resources that are not defined
/// (of typed documents and of those that could not be typed), and `depends_on` cycles.
pub(crate) fn cross_references<'a>(
    resources: impl Iterator<Item = &'a Resource>,
    seen: &[Seen],
    untyped: &[UntypedRef],
    diags: &mut Diagnostics,
) {
    let mut first: HashMap<(Kind, &str), &Seen> = HashMap::new();
    for s in seen {
        if let Some(prev) = first.get(&(s.kind, s.name.as_str())) {
            diags.push(Diagnostic::new(
                &s.file,
                s.pos,
                format!(
                    "duplicate {} `{}`: also defined at {}:{}:{}",
                    s.kind, s.name, prev.file, prev.pos.line, prev.pos.col
                ),
            ));
        } else {
            first.insert((s.kind, s.name.as_str()), s);
        }
    }
    let exists = |kind: Kind, name: &str| first.contains_key(&(kind, name));
    let names_of = |kind: Kind| {
        seen.iter()
            .filter(move |s| s.kind == kind)
            .map(|s| s.name.as_str())
    };
    // Each suggestion compares one name with every name of its kind, so only the
    // first few unknown references of a run get one.
    let hinted = std::cell::Cell::new(0usize);
    let missing = |kind: Kind, name: &str| {
        let hint = if hinted.get() < MAX_SUGGESTED_REFERENCES {
            hinted.set(hinted.get() + 1);
            super::suggest(name, names_of(kind))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        format!("{kind} `{name}` is not defined in the files given{hint}")
    };
    let resources: Vec<&Resource> = resources.collect();
    dependency_cycles(&resources, diags);
    page_addresses(&resources, diags);
    for r in resources {
        let mut refs: Vec<(String, Kind, &str)> = Vec::new();
        match &r.spec {
            Spec::Check(c) => {
                if let Some(alert) = &c.alert {
                    for (i, ch) in alert.channels.iter().enumerate() {
                        refs.push((format!("/alert/channels/{i}"), Kind::Channel, ch));
                    }
                    if let Some(t) = &alert.template {
                        refs.push(("/alert/template".into(), Kind::Template, t));
                    }
                }
                for (i, dep) in c.depends_on.iter().enumerate() {
                    refs.push((format!("/depends_on/{i}"), Kind::Check, dep));
                }
            }
            Spec::Maintenance(m) => {
                for (i, check) in m.checks.iter().enumerate() {
                    refs.push((format!("/checks/{i}"), Kind::Check, check));
                }
            }
            Spec::Channel(c) => {
                if let Some(t) = &c.template {
                    refs.push(("/template".into(), Kind::Template, t));
                }
            }
            Spec::StatusPage(p) => {
                // A group over its limit is reported as such, not name by name.
                let groups = p.groups.iter().enumerate();
                for (g, group) in groups.filter(|(_, g)| g.checks.len() <= MAX_GROUP_CHECKS) {
                    for (i, check) in group.checks.iter().enumerate() {
                        refs.push((format!("/groups/{g}/checks/{i}"), Kind::Check, check));
                    }
                }
            }
            Spec::Template(_) => {}
        }
        for (at, kind, name) in refs {
            if !exists(kind, name) {
                let field = super::load::dotted(&at);
                diags.push(Diagnostic::new(
                    &r.file,
                    r.positions.value(&at),
                    format!("`{field}`: {}", missing(kind, name)),
                ));
            }
        }
    }
    for u in untyped {
        if !exists(u.kind, &u.name) {
            let field = super::load::dotted(&u.pointer);
            diags.push(Diagnostic::new(
                &u.file,
                u.pos,
                format!("`{field}`: {}", missing(u.kind, &u.name)),
            ));
        }
    }
}

/// Two pages at one address: the same `slug`, or the same `domain`. The daemon
/// holds them unique across all tenants; here, across the files given.
fn page_addresses(resources: &[&Resource], diags: &mut Diagnostics) {
    let mut first: HashMap<(&str, &str), (&Resource, &str)> = HashMap::new();
    for r in resources {
        let Spec::StatusPage(p) = &r.spec else {
            continue;
        };
        let fields = [
            ("slug", Some(p.slug.as_str())),
            ("domain", p.domain.as_deref()),
        ];
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let at = format!("/{field}");
            match first.get(&(field, value)) {
                Some((other, name)) => {
                    let there = other.positions.value(&at);
                    diags.push(Diagnostic::new(
                        &r.file,
                        r.positions.value(&at),
                        format!(
                            "`{field}`: `{value}` is also the {field} of StatusPage `{name}` at {}:{}:{}; each page needs its own",
                            other.file, there.line, there.col
                        ),
                    ));
                }
                None => {
                    first.insert((field, value), (r, p.name.as_str()));
                }
            }
        }
    }
}

/// A `depends_on` cycle, reported at the first check of it.
fn dependency_cycles(resources: &[&Resource], diags: &mut Diagnostics) {
    let mut edges = std::collections::BTreeMap::new();
    let mut at = HashMap::new();
    for r in resources {
        if let Spec::Check(c) = &r.spec {
            edges.insert(
                c.name.as_str(),
                c.depends_on.iter().map(String::as_str).collect(),
            );
            at.insert(c.name.as_str(), *r);
        }
    }
    if let Some(cycle) = super::dependency_cycle(&edges)
        && let Some(r) = at.get(cycle[0])
    {
        diags.push(Diagnostic::new(
            &r.file,
            r.positions.value("/depends_on"),
            format!(
                "`depends_on`: checks may not depend on each other in a circle ({}): their alerts would hold each other back for ever",
                cycle.join(" → ")
            ),
        ));
    }
}
