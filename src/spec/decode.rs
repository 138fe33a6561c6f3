//! YAML nodes → JSON values, with `${VAR}` interpolation, YAML 1.2 scalar typing,
//! and a map from every JSON pointer back to its place in the file.

use std::collections::BTreeSet;

use serde_json::{Map, Number, Value};

use super::diag::Pos;
use super::interpolate::interpolate;
use super::yaml::{Node, NodeValue};

/// Where each value (and each mapping key) of a document sits in its file.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    values: super::FastMap<String, Pos>,
    keys: super::FastMap<String, Pos>,
}

impl Positions {
    /// The position of the value at `pointer`, or of its nearest ancestor that exists.
    pub fn value(&self, pointer: &str) -> Pos {
        self.lookup(&self.values, pointer)
    }

    /// The position of the key that names `pointer`, falling back to its value.
    pub fn key(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }

    /// Whether the file gives a value at `pointer` itself (not only a parent).
    pub fn has(&self, pointer: &str) -> bool {
        self.values.contains_key(pointer)
    }

    fn lookup(&self, map: &super::FastMap<String, Pos>, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = map.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos::default(),
            }
        }
    }
}

/// A document turned into JSON, with what was learned on the way.
#[derive(Debug)]
pub struct Decoded {
    pub value: Value,
    pub positions: Positions,
    /// Pointers of values that came from `${...}`: they are secrets.
    pub sensitive: BTreeSet<String>,
    /// The environment's variables each of those values was built from.
    pub variables: super::secrets::Variables,
    /// Problems found on the way, by pointer position.
    pub errors: Vec<(Pos, String)>,
}

pub fn decode(root: &Node, lookup: &dyn Fn(&str) -> Option<String>) -> Decoded {
    let mut d = Decoded {
        value: Value::Null,
        positions: Positions::default(),
        sensitive: BTreeSet::new(),
        variables: Default::default(),
        errors: Vec::new(),
    };
    d.value = walk(root, String::new(), lookup, &mut d);
    d
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    // Almost no key needs escaping; this runs for every key of every document.
    if !s.contains(['~', '/']) {
        return s.to_string();
    }
    s.replace('~', "~0").replace('/', "~1")
}

fn walk(
    node: &Node,
    pointer: String,
    lookup: &dyn Fn(&str) -> Option<String>,
    d: &mut Decoded,
) -> Value {
    d.positions.values.insert(pointer.clone(), node.pos);
    match &node.value {
        NodeValue::Scalar { text, quoted } => {
            let (text, used) = match interpolate(text, lookup) {
                Ok(r) => {
                    if !r.variables.is_empty() {
                        d.variables.insert(pointer.clone(), r.variables);
                    }
                    (r.text, r.used_variable)
                }
                Err(msg) => {
                    d.errors.push((node.pos, msg));
                    (String::new(), true)
                }
            };
            if used {
                d.sensitive.insert(pointer);
            }
            if *quoted {
                Value::String(text)
            } else {
                resolve_plain(&text)
            }
        }
        NodeValue::Seq(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| walk(item, format!("{pointer}/{i}"), lookup, d))
                .collect(),
        ),
        NodeValue::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match &k.value {
                    NodeValue::Scalar { text, .. } => text.clone(),
                    _ => {
                        d.errors
                            .push((k.pos, "mapping keys must be plain strings".into()));
                        continue;
                    }
                };
                let child = format!("{pointer}/{}", escape_segment(&key));
                d.positions.keys.insert(child.clone(), k.pos);
                let value = walk(v, child, lookup, d);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }
}

/// Types a plain scalar by the YAML 1.2 core schema: `yes`/`no`/`on`/`off`
/// stay strings, unlike YAML 1.1.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
            return Value::String(text.into());
        }
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.trim_start_matches('+').parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = text.trim_start_matches('+').parse::<u64>() {
            return Value::Number(n.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(n) = u64::from_str_radix(hex, 16)
    {
        return Value::Number(n.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(n) = u64::from_str_radix(oct, 8)
    {
        return Value::Number(n.into());
    }
    let looks_float = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml::parse;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn types_plain_scalars_by_the_core_schema() {
        assert_eq!(resolve_plain("42"), Value::from(42));
        assert_eq!(resolve_plain("1.5"), Value::from(1.5));
        assert_eq!(resolve_plain("yes"), Value::from("yes"));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("200ms"), Value::from("200ms"));
    }

    #[test]
    fn quoted_numbers_stay_strings_and_interpolated_plain_values_are_typed() {
        let env = |n: &str| (n == "N").then(|| "3".to_string());
        let (docs, _) = parse("a: \"42\"\nb: ${N}\n").unwrap();
        let d = decode(docs[0].root.as_ref().unwrap(), &env);
        assert_eq!(d.value["a"], Value::from("42"));
        assert_eq!(d.value["b"], Value::from(3));
        assert!(d.sensitive.contains("/b"));
    }

    #[test]
    fn positions_fall_back_to_the_parent() {
        let (docs, _) = parse("http:\n  headers:\n    x: 1\n").unwrap();
        let d = decode(docs[0].root.as_ref().unwrap(), &no_env);
        assert_eq!(d.positions.value("/http/headers/x").line, 3);
        assert_eq!(d.positions.key("/http/headers").line, 2);
        assert_eq!(d.positions.value("/http/nothing").line, 2);
    }
}
