//! Documents → typed resources. Collects every problem of every file before
//! giving up, so one run of `validate` shows them all.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::decode::{Positions, decode};
use super::diag::{Diagnostic, Diagnostics, Pos};
use super::expr::quoted_list;
use super::secrets::Redactor;
use super::source::Source;
use super::{Kind, Resource, Spec, references, suggest, validate, yaml};

/// Serde stops at the first error in a document; removing the offending node and
/// trying again finds the next. This many rounds are plenty for a real file.
const MAX_ERRORS_PER_DOCUMENT: usize = 20;

/// Every resource of a set of files, valid as a whole.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub resources: Vec<Resource>,
}

impl Bundle {
    pub fn checks(&self) -> impl Iterator<Item = (&Resource, &super::Check)> {
        self.resources.iter().filter_map(|r| match &r.spec {
            Spec::Check(c) => Some((r, c)),
            _ => None,
        })
    }
}

/// Loads and validates `sources`, resolving `${VAR}` with `lookup`.
pub fn load(
    sources: &[Source],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Bundle, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut loaded = Vec::new();
    let mut seen = Vec::new();
    let mut untyped = Vec::new();
    for source in sources {
        load_source(
            source,
            lookup,
            &mut loaded,
            &mut seen,
            &mut untyped,
            &mut diags,
        );
    }
    references::cross_references(loaded.iter(), &seen, &untyped, &mut diags);
    if diags.is_empty() {
        let mut resources = loaded;
        resources.sort_by(|a, b| (a.kind(), a.name()).cmp(&(b.kind(), b.name())));
        Ok(Bundle { resources })
    } else {
        diags.sort();
        Err(diags)
    }
}

/// Loads with the process environment.
pub fn load_env(sources: &[Source]) -> Result<Bundle, Diagnostics> {
    load(sources, &|name| std::env::var(name).ok())
}

/// A reference by name in a document that could not be typed, checked all the same
/// so that fixing the type error does not reveal a missing channel in the next run.
pub(crate) struct UntypedRef {
    pub file: String,
    pub pos: Pos,
    pub pointer: String,
    pub kind: Kind,
    pub name: String,
}

/// A named document, valid or not.
pub(crate) struct Seen {
    pub kind: Kind,
    pub name: String,
    pub file: String,
    pub pos: Pos,
}

fn load_source(
    source: &Source,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<Resource>,
    seen: &mut Vec<Seen>,
    untyped: &mut Vec<UntypedRef>,
    diags: &mut Diagnostics,
) {
    let file = source.name.as_str();
    let (docs, soft) = match yaml::parse(&source.text) {
        Ok(parsed) => parsed,
        Err(e) => {
            diags.push(Diagnostic::new(file, e.pos, e.message));
            return;
        }
    };
    for e in soft {
        diags.push(Diagnostic::new(file, e.pos, e.message));
    }
    for doc in docs {
        let Some(root) = doc.root else { continue };
        if !matches!(root.value, yaml::NodeValue::Map(_)) {
            diags.push(Diagnostic::new(
                file,
                root.pos,
                "expected a mapping with `kind` and `name` at the top of the document",
            ));
            continue;
        }
        let decoded = decode(&root, lookup);
        for (pos, msg) in &decoded.errors {
            diags.push(Diagnostic::new(file, *pos, msg.clone()));
        }
        let mut value = decoded.value;
        let positions = decoded.positions;
        let kind_value = value.as_object_mut().and_then(|m| m.remove("kind"));
        let kind = match kind_value.as_ref().and_then(Value::as_str) {
            Some(k) => match k.parse::<Kind>() {
                Ok(kind) => kind,
                Err(()) => {
                    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    let hint = suggest(k, names.iter().copied())
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    diags.push(Diagnostic::new(
                        file,
                        positions.value("/kind"),
                        format!(
                            "unknown kind `{k}`{hint}; expected one of {}",
                            quoted_list(&names)
                        ),
                    ));
                    continue;
                }
            },
            None => {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                diags.push(Diagnostic::new(
                    file,
                    root.pos,
                    format!("missing `kind`; expected one of {}", quoted_list(&names)),
                ));
                continue;
            }
        };
        // Messages quote values: none that came from the environment or is a secret.
        let redactor = Redactor::for_document(kind, &value, &decoded.sensitive, &decoded.variables);
        let mut errors = Vec::new();
        if let Some(name) = value.get("name").and_then(Value::as_str) {
            validate::name(name, &positions, &mut errors);
        }
        let spec = match kind {
            Kind::Check => typed(&value, kind, &positions, &mut errors, Spec::Check),
            Kind::Channel => typed(&value, kind, &positions, &mut errors, Spec::Channel),
            Kind::Template => typed(&value, kind, &positions, &mut errors, Spec::Template),
            Kind::Maintenance => typed(&value, kind, &positions, &mut errors, Spec::Maintenance),
            Kind::StatusPage => typed(&value, kind, &positions, &mut errors, Spec::StatusPage),
        };
        // Every named document counts for duplicate and reference checks, valid or not,
        // so one mistake does not cause a cascade of "not found" errors elsewhere.
        if let Some(name) = value.get("name").and_then(Value::as_str) {
            seen.push(Seen {
                kind,
                name: name.to_string(),
                file: file.to_string(),
                pos: positions.value("/name"),
            });
        }
        if spec.is_none() {
            // Serde gave up on the document as a whole (a missing field); the rules
            // that need only part of it still run on what was written.
            validate::untyped(kind, &value, &positions, &mut errors);
            for (pointer, kind, name) in references::untyped_references(kind, &value) {
                untyped.push(UntypedRef {
                    file: file.to_string(),
                    pos: positions.value(&pointer),
                    pointer,
                    kind,
                    name,
                });
            }
        }
        if let Some(mut spec) = spec {
            // A document with type errors is still checked further, as far as what was
            // readable goes, so that one run reports as much as possible.
            validate::resource(&mut spec, &positions, &source.base_dir, &mut errors);
            let pos = positions.value("/name");
            out.push(Resource {
                spec,
                file: file.to_string(),
                pos,
                sensitive: decoded.sensitive,
                variables: decoded.variables,
                positions,
            });
        }
        // A value whose `${...}` failed is empty: errors about that emptiness are noise.
        let interpolation_failed: Vec<Pos> = decoded.errors.iter().map(|(p, _)| *p).collect();
        errors.retain(|(p, _)| !interpolation_failed.contains(p));
        for (pos, msg) in errors {
            diags.push(Diagnostic::new(file, pos, redactor.scrub(&msg)));
        }
    }
}

/// Deserialises a document into `T`, collecting up to [`MAX_ERRORS_PER_DOCUMENT`]
/// errors. Returns what could be read with the bad parts removed, so that further
/// rules can still be checked on it; the errors make sure it is never applied.
fn typed<T: DeserializeOwned>(
    value: &Value,
    kind: Kind,
    positions: &Positions,
    errors: &mut Vec<(Pos, String)>,
    wrap: fn(T) -> Spec,
) -> Option<Spec> {
    let mut value = value.clone();
    // Fields whose absence is already explained by an error reported above.
    let mut explained: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_ERRORS_PER_DOCUMENT {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => return Some(wrap(t)),
            Err(e) => e,
        };
        let mut pointer = to_pointer(err.path());
        let raw = err.inner().to_string();
        if let Some(field) = raw
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            if !pointer.ends_with(&format!("/{}", super::decode::escape_segment(field))) {
                pointer = format!("{pointer}/{}", super::decode::escape_segment(field));
            }
            // `webhook_ur` for `webhook_url` is one mistake: once the guess is shown,
            // "missing field `webhook_url`" would only repeat it.
            if let Some(guess) = suggest(field, expected_names(&raw)) {
                let parent = pointer.rfind('/').map_or("", |i| &pointer[..i]);
                explained.insert(format!("{parent}/{guess}"));
            }
            errors.push((
                positions.key(&pointer),
                unknown_name("field", field, &raw, kind, &pointer),
            ));
        } else if let Some(missing) = raw
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            let full = format!("{pointer}/{missing}");
            if !explained.contains(&full) {
                let place = if pointer.is_empty() {
                    kind.as_str().to_string()
                } else {
                    format!("`{}`", dotted(&pointer))
                };
                errors.push((
                    positions.key(&pointer),
                    format!("missing field `{missing}` in {place}"),
                ));
            }
            return None;
        } else if let Some(variant) = raw
            .strip_prefix("unknown variant `")
            .and_then(|r| r.split('`').next())
        {
            errors.push((
                positions.value(&pointer),
                unknown_name("value", variant, &raw, kind, &pointer),
            ));
        } else {
            errors.push((
                positions.value(&pointer),
                format!("`{}`: {}", dotted(&pointer), friendly(&raw)),
            ));
        }
        if pointer.is_empty() || !remove_at(&mut value, &pointer) {
            return None;
        }
        explained.insert(pointer);
    }
    None
}

/// The names serde lists after "expected" in an unknown field or variant error.
fn expected_names(raw: &str) -> Vec<&str> {
    raw.split_once("expected")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default()
}

fn unknown_name(what: &str, name: &str, raw: &str, kind: Kind, pointer: &str) -> String {
    let expected = expected_names(raw);
    let hint = suggest(name, expected.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    let parent = match pointer.rfind('/') {
        Some(0) | None => kind.as_str().to_string(),
        Some(i) => format!("`{}`", dotted(&pointer[..i])),
    };
    let expected = if expected.is_empty() {
        String::new()
    } else {
        format!("; expected one of {}", quoted_list(&expected))
    };
    if what == "field" {
        format!("unknown field `{name}` in {parent}{hint}{expected}")
    } else {
        format!(
            "`{}`: unknown value `{name}`{hint}{expected}",
            dotted(pointer)
        )
    }
}

/// Rewrites serde's Rust-flavoured wording for people who write YAML.
fn friendly(raw: &str) -> String {
    let mut s = raw.to_string();
    for (from, to) in [
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a non-negative whole number"),
        ("expected u64", "expected a non-negative whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a mapping"),
        (
            "data did not match any variant of untagged enum StatusSet",
            "expected a status code (`200`), a class (`2xx`) or a list of them",
        ),
        (
            "data did not match any variant of untagged enum StatusPattern",
            "expected a status code (`200`) or a class (`2xx`)",
        ),
    ] {
        s = s.replace(from, to);
    }
    if let Some(i) = s.find("expected struct ") {
        s.replace_range(i.., "expected a mapping");
    }
    s
}

/// `/http/headers/x-api-key` → `http.headers.x-api-key`; `/expect/conditions/0` → `expect.conditions[0]`.
pub(crate) fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.bytes().all(|b| b.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                out.push_str(&format!("/{}", super::decode::escape_segment(key)))
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

fn remove_at(value: &mut Value, pointer: &str) -> bool {
    let Some(i) = pointer.rfind('/') else {
        return false;
    };
    let (parent, last) = (
        &pointer[..i],
        pointer[i + 1..].replace("~1", "/").replace("~0", "~"),
    );
    match value.pointer_mut(parent) {
        Some(Value::Object(m)) => m.remove(&last).is_some(),
        Some(Value::Array(a)) => match last.parse::<usize>() {
            Ok(idx) if idx < a.len() => {
                a.remove(idx);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
