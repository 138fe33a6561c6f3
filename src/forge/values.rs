//! Request values the user gives (`--set`, `--values FILE`), which replace the
//! sampled ones. A sampled `"example"` makes most checks of a real server
//! fail with NOT_FOUND; a given id makes them useful.
//!
//! `--set [METHOD:]FIELD.PATH=VALUE`: `METHOD` is `GetStatus`, `Payments/GetStatus`
//! or `pkg.Payments/GetStatus`; without it the value goes to every method whose
//! request has that field. `FIELD.PATH` is field names (as in the `.proto` or in
//! lowerCamelCase) joined by `.`, with a list index (`items.0`) or a map key
//! (`labels.env`) where the field is one. `VALUE` is a YAML scalar (`5`, `true`,
//! `abc`, `"007"`) or flow collection (`[a, b]`, `{units: 5}`).
//!
//! `--values FILE` is a YAML mapping from a method (as above, or `"*"` for
//! every method) to a mapping of its request's fields. File values come first,
//! then `--set`; for each, the ones for every method before a method's own.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::Value;

use super::sample::{Entry, Node};
use crate::spec::yaml::{self, NodeValue};

/// The largest values file read: a few values per method, far below this.
pub const MAX_VALUES_BYTES: u64 = 1024 * 1024;
/// How many values may be given in all: a bound on work per method.
pub const MAX_VALUES: usize = 10_000;
/// How many fields deep a value's path may go: sampled requests stop at a few
/// levels, and this bounds the walk for hostile paths.
pub const MAX_PATH_DEPTH: usize = 32;

/// One value to set.
#[derive(Debug, Clone)]
struct Rule {
    /// `None`: every method whose request has the field.
    method: Option<String>,
    path: Vec<String>,
    value: Value,
    /// Where it came from, for errors: `--set …` or `file:line:col`.
    origin: String,
}

/// The values given, in the order they apply.
#[derive(Debug, Default)]
pub struct Values {
    rules: Vec<Rule>,
    /// Rules that were applied to at least one method.
    used: RefCell<BTreeSet<usize>>,
}

impl Values {
    /// From `--values` files (first) and `--set` flags (after).
    pub fn new(files: &[&Path], sets: &[String]) -> Result<Values, String> {
        let mut file_rules = Vec::new();
        for f in files {
            file_rules.extend(read_file(f)?);
        }
        let mut set_rules = Vec::new();
        for s in sets {
            set_rules.push(parse_set(s)?);
        }
        // For each source, values for every method before a method's own, so
        // the more specific one wins.
        let mut rules = Vec::new();
        for group in [file_rules, set_rules] {
            let (all, own): (Vec<Rule>, Vec<Rule>) =
                group.into_iter().partition(|r| r.method.is_none());
            rules.extend(all);
            rules.extend(own);
        }
        if rules.len() > MAX_VALUES {
            return Err(format!(
                "{} values given; at most {MAX_VALUES}",
                rules.len()
            ));
        }
        Ok(Values {
            rules,
            used: RefCell::default(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `sampled` with the values for the method `path` (`pkg.Service/Method`)
    /// set, checked against its request type `input`.
    pub fn apply(
        &self,
        path: &str,
        input: &MessageDescriptor,
        sampled: Node,
    ) -> Result<Node, String> {
        let mut node = sampled;
        let mut changed = false;
        for (i, rule) in self.rules.iter().enumerate() {
            let global = match &rule.method {
                None => true,
                Some(m) if names(m, path) => false,
                Some(_) => continue,
            };
            match set(&mut node, input, &rule.path, &rule.value) {
                Ok(()) => {
                    changed = true;
                    self.used.borrow_mut().insert(i);
                }
                // A value for every method skips those without the field.
                Err(_) if global => {}
                Err(e) => return Err(format!("{}: {path}: {e}", rule.origin)),
            }
        }
        if changed {
            let json = node.to_json();
            if let Err(e) = prost_reflect::DynamicMessage::deserialize(input.clone(), json) {
                return Err(format!(
                    "{path}: the request with the values given is not a valid {}: {e}; check the values' types (64-bit integers may be strings, enums are names)",
                    input.full_name()
                ));
            }
        }
        Ok(node)
    }

    /// Fails for a value naming a method not in `known` (`pkg.Service/Method`),
    /// or one for every method that no method's request has a field for.
    pub fn check_methods(&self, known: &[&str]) -> Result<(), String> {
        let used = self.used.borrow();
        for (i, rule) in self.rules.iter().enumerate() {
            match &rule.method {
                Some(m) if !known.iter().any(|k| names(m, k)) => {
                    return Err(format!(
                        "{}: no method `{m}` in the protos; they have {}",
                        rule.origin,
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                None if !used.contains(&i) => {
                    return Err(format!(
                        "{}: no method's request has the field `{}`; prefix the method (`METHOD:{}=…`) to see what its request has",
                        rule.origin,
                        rule.path.join("."),
                        rule.path.join(".")
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether `wanted` (`GetStatus`, `Service/GetStatus`, `pkg.Service/GetStatus`) names `path`.
fn names(wanted: &str, path: &str) -> bool {
    wanted == path
        || path.ends_with(&format!(".{wanted}"))
        || path.rsplit('/').next() == Some(wanted) && !wanted.contains('/')
}

/// `[METHOD:]FIELD.PATH=VALUE`.
fn parse_set(s: &str) -> Result<Rule, String> {
    let origin = format!("--set {s}");
    let Some((left, value)) = s.split_once('=') else {
        return Err(format!(
            "{origin}: expected FIELD=VALUE or METHOD:FIELD=VALUE, e.g. `--set GetStatus:payment_id=p-123`"
        ));
    };
    let (method, field) = match left.split_once(':') {
        Some((m, f)) => (Some(m.trim().to_string()), f.trim()),
        None => (None, left.trim()),
    };
    if method.as_deref().is_some_and(str::is_empty) {
        return Err(format!("{origin}: the method before `:` is empty"));
    }
    let path = split_path(field).map_err(|e| format!("{origin}: {e}"))?;
    let value = parse_value(value).map_err(|e| format!("{origin}: {e}"))?;
    Ok(Rule {
        method,
        path,
        value,
        origin,
    })
}

fn split_path(field: &str) -> Result<Vec<String>, String> {
    let path: Vec<String> = field.split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(format!(
            "`{field}` is not a field path such as `payment_id` or `amount.units`"
        ));
    }
    if path.len() > MAX_PATH_DEPTH {
        return Err(format!(
            "the field path is deeper than {MAX_PATH_DEPTH} fields"
        ));
    }
    Ok(path)
}

/// A value as YAML reads it: `5` a number, `true` a bool, `abc` a string.
fn parse_value(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::String(String::new()));
    }
    let (docs, soft) =
        yaml::parse(text).map_err(|e| format!("the value is not YAML: {}", e.message))?;
    if let Some(e) = soft.first() {
        return Err(format!("the value is not YAML: {}", e.message));
    }
    let root = docs.into_iter().next().and_then(|d| d.root);
    Ok(root.map_or(Value::Null, |n| to_json(&n, 0)))
}

fn to_json(node: &yaml::Node, depth: usize) -> Value {
    if depth > MAX_PATH_DEPTH {
        return Value::Null;
    }
    match &node.value {
        NodeValue::Scalar { text, quoted: true } => Value::String(text.clone()),
        NodeValue::Scalar {
            text,
            quoted: false,
        } => crate::spec::resolve_plain(text),
        NodeValue::Seq(items) => {
            Value::Array(items.iter().map(|i| to_json(i, depth + 1)).collect())
        }
        NodeValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap_or_default().to_string(),
                        to_json(v, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

/// The rules of a values file: each leaf of each method's mapping.
fn read_file(path: &Path) -> Result<Vec<Rule>, String> {
    let shown = path.display().to_string();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{shown}: cannot read the values file: {e}"))?
        .len();
    if size > MAX_VALUES_BYTES {
        return Err(format!(
            "{shown}: the values file is {size} bytes; at most {MAX_VALUES_BYTES}"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{shown}: cannot read the values file: {e}"))?;
    let at = |pos: crate::spec::Pos| format!("{shown}:{}:{}", pos.line, pos.col);
    let (docs, soft) = yaml::parse(&text).map_err(|e| format!("{}: {}", at(e.pos), e.message))?;
    if let Some(e) = soft.first() {
        return Err(format!("{}: {}", at(e.pos), e.message));
    }
    let Some(root) = docs.into_iter().next().and_then(|d| d.root) else {
        return Ok(Vec::new());
    };
    let NodeValue::Map(methods) = &root.value else {
        return Err(format!(
            "{}: expected a mapping from method to fields, e.g. `GetStatus: {{payment_id: p-123}}`",
            at(root.pos)
        ));
    };
    let mut rules = Vec::new();
    for (k, v) in methods {
        let Some(name) = k.as_str() else {
            return Err(format!("{}: expected a method name", at(k.pos)));
        };
        let method = (name != "*").then(|| name.to_string());
        let NodeValue::Map(_) = &v.value else {
            return Err(format!(
                "{}: expected a mapping of `{name}`'s request fields, e.g. `payment_id: p-123`",
                at(v.pos)
            ));
        };
        leaves(v, &mut Vec::new(), &mut |path, node| {
            if rules.len() >= MAX_VALUES {
                return Err(format!("{}: more than {MAX_VALUES} values", at(node.pos)));
            }
            rules.push(Rule {
                method: method.clone(),
                path: path.to_vec(),
                value: to_json(node, 0),
                origin: at(node.pos),
            });
            Ok(())
        })?;
    }
    Ok(rules)
}

/// What [`leaves`] calls with each value and its path.
type Visit<'a> = dyn FnMut(&[String], &yaml::Node) -> Result<(), String> + 'a;

/// Calls `f` with every non-mapping value under `node` and its path.
fn leaves(node: &yaml::Node, path: &mut Vec<String>, f: &mut Visit<'_>) -> Result<(), String> {
    match &node.value {
        NodeValue::Map(entries) if !entries.is_empty() || path.is_empty() => {
            if path.len() >= MAX_PATH_DEPTH {
                return Err(format!(
                    "{}:{}: nested deeper than {MAX_PATH_DEPTH} fields",
                    node.pos.line, node.pos.col
                ));
            }
            for (k, v) in entries {
                path.push(k.as_str().unwrap_or_default().to_string());
                leaves(v, path, f)?;
                path.pop();
            }
            Ok(())
        }
        _ => f(path, node),
    }
}

/// Sets `path` in the request `node` of type `desc` to `value`.
fn set(
    node: &mut Node,
    desc: &MessageDescriptor,
    path: &[String],
    value: &Value,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        *node = Node::Given(value.clone());
        return Ok(());
    };
    let field = desc
        .get_field_by_name(first)
        .or_else(|| desc.get_field_by_json_name(first))
        .ok_or_else(|| {
            let fields: Vec<String> = desc.fields().map(|f| format!("`{}`", f.name())).collect();
            format!(
                "{} has no field `{first}`; it has {}",
                desc.full_name(),
                if fields.is_empty() {
                    "none".into()
                } else {
                    fields.join(", ")
                }
            )
        })?;
    let entries = match node {
        Node::Map(entries) => entries,
        _ => {
            return Err(format!(
                "`{first}` is inside a value given whole or a well-known type; set the enclosing field whole"
            ));
        }
    };
    // Another member of the same oneof would make the request invalid.
    if let Some(oneof) = field.containing_oneof()
        && !oneof.is_synthetic()
    {
        let others: Vec<String> = oneof
            .fields()
            .filter(|f| f.number() != field.number())
            .map(|f| f.name().to_string())
            .collect();
        entries.retain(|e| !others.contains(&e.key));
    }
    let pos = match entries.iter().position(|e| e.key == field.name()) {
        Some(p) => p,
        None => {
            entries.push(Entry {
                key: field.name().to_string(),
                value: Node::Map(Vec::new()),
                comment: Vec::new(),
            });
            entries.len() - 1
        }
    };
    let slot = &mut entries[pos].value;
    if rest.is_empty() {
        *slot = Node::Given(value.clone());
        return Ok(());
    }
    set_in_field(slot, &field, rest, value)
}

/// `path` continues inside the value of `field`.
fn set_in_field(
    slot: &mut Node,
    field: &FieldDescriptor,
    path: &[String],
    value: &Value,
) -> Result<(), String> {
    let (first, rest) = path.split_first().ok_or("empty path")?;
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return Err("a map without an entry type".into());
        };
        if !matches!(slot, Node::Map(_)) {
            *slot = Node::Map(Vec::new());
        }
        let Node::Map(entries) = slot else {
            return Err("unreachable".into());
        };
        // The sampled entry (`key`) is a placeholder: a real key replaces it.
        entries.retain(|e| e.value.has_given());
        let pos = match entries.iter().position(|e| e.key == *first) {
            Some(p) => p,
            None => {
                entries.push(Entry {
                    key: first.clone(),
                    value: Node::Map(Vec::new()),
                    comment: Vec::new(),
                });
                entries.len() - 1
            }
        };
        return set_kind(
            &mut entries[pos].value,
            &entry.map_entry_value_field().kind(),
            rest,
            value,
        );
    }
    if field.is_list() {
        let index: usize = first.parse().map_err(|_| {
            format!(
                "`{}` is a list: give an index (`{}.0`) or set it whole",
                field.name(),
                field.name()
            )
        })?;
        if !matches!(slot, Node::List(_)) {
            *slot = Node::List(Vec::new());
        }
        let Node::List(items) = slot else {
            return Err("unreachable".into());
        };
        if index > items.len() {
            return Err(format!(
                "`{}` has {} items; index {index} would leave a gap",
                field.name(),
                items.len()
            ));
        }
        if index == items.len() {
            items.push(Node::Map(Vec::new()));
        }
        return set_kind(&mut items[index], &field.kind(), rest, value);
    }
    set_kind(slot, &field.kind(), path, value)
}

fn set_kind(slot: &mut Node, kind: &Kind, path: &[String], value: &Value) -> Result<(), String> {
    if path.is_empty() {
        *slot = Node::Given(value.clone());
        return Ok(());
    }
    match kind {
        Kind::Message(m) => {
            if matches!(slot, Node::Given(_)) {
                *slot = Node::Map(Vec::new());
            }
            set(slot, m, path, value)
        }
        _ => Err(format!(
            "`{}` goes inside a value that has no fields",
            path.join(".")
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn request(sets: &[&str]) -> Result<(Value, Vec<String>), String> {
        let source = "syntax = \"proto3\"; package t;\n\
            message Money { int64 units = 1; string currency = 2; }\n\
            message R { string id = 1; Money amount = 2; repeated string tags = 3;\n\
              map<string, int32> counts = 4; oneof pay { string card = 5; string iban = 6; }\n\
              uint32 limit = 7; }\n\
            service S { rpc GetR(R) returns (R); }";
        let files = BTreeMap::from([("t.proto".to_string(), source.to_string())]);
        let protos =
            super::super::load::from_memory(&["t.proto".into()], &files).expect("compiles");
        let desc = protos.pool.get_message_by_name("t.R").expect("R");
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let values = Values::new(&[], &sets)?;
        let node = values.apply(
            "t.S/GetR",
            &desc,
            super::super::sample::message(&desc, &desc.parent_file()),
        )?;
        values.check_methods(&["t.S/GetR"])?;
        Ok((node.to_json(), node.placeholders()))
    }

    #[test]
    fn set_values_replace_samples_and_are_not_placeholders() {
        let (json, placeholders) = request(&[
            "GetR:id=p-123",
            "amount.units=250",
            "t.S/GetR:tags=[a, b]",
            "counts.apples=3",
            "iban=DE00",
            "limit=\"7\"",
        ])
        .expect("applies");
        assert_eq!(
            json,
            json!({"id": "p-123", "amount": {"units": 250, "currency": "example"},
                   "tags": ["a", "b"], "counts": {"apples": 3}, "iban": "DE00", "limit": "7"})
        );
        assert_eq!(placeholders, ["amount.currency"]);
    }

    #[test]
    fn unknown_fields_and_methods_are_errors_that_name_them() {
        let err = request(&["GetR:idd=x"]).unwrap_err();
        assert!(
            err.contains("--set GetR:idd=x")
                && err.contains("t.S/GetR")
                && err.contains("no field `idd`"),
            "{err}"
        );
        let err = request(&["GetNope:id=x"]).unwrap_err();
        assert!(err.contains("no method `GetNope`"), "{err}");
        let err = request(&["nowhere=x"]).unwrap_err();
        assert!(
            err.contains("no method's request has the field `nowhere`"),
            "{err}"
        );
        let err = request(&["GetR:amount.units=lots"]).unwrap_err();
        assert!(err.contains("not a valid t.R"), "{err}");
        let err = request(&["GetR:tags.5=x"]).unwrap_err();
        assert!(err.contains("would leave a gap"), "{err}");
        let err = request(&["id"]).unwrap_err();
        assert!(err.contains("expected FIELD=VALUE"), "{err}");
    }
}
