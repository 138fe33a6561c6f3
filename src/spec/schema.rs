//! The JSON Schema of check files, for editors (yaml-language-server and others).
//!
//! The types' derived schemas give the shape; [`rules`] adds what `validate`
//! checks beyond serde (names, limits, per-type settings), built from the same
//! constants and tables; [`strict`] makes the result compile under a strict
//! validator (ajv's default strict mode). What no schema can say (references
//! between documents, CEL, regular expressions, files) stays with `validate`;
//! `tests/it/schema.rs` lists those cases.

mod rules;
mod strict;

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Value, json};

use super::{Channel, Check, Kind, Maintenance, StatusPage, Template};

/// A pattern alternative that accepts any text with `${` in it: the schema sees
/// a value as it is written, before `${VAR}` is replaced, so a value built from a
/// variable is left to `validate`.
pub(crate) const INTERPOLATED: &str = "\\$\\{";

/// One schema for any document: `kind` picks which resource's rules apply.
pub fn document_schema() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut variants = Vec::new();
    for kind in Kind::ALL {
        let schema = match kind {
            Kind::Check => Check::json_schema(&mut generator),
            Kind::Channel => Channel::json_schema(&mut generator),
            Kind::Template => Template::json_schema(&mut generator),
            Kind::Maintenance => Maintenance::json_schema(&mut generator),
            Kind::StatusPage => StatusPage::json_schema(&mut generator),
        };
        let mut value = schema.to_value();
        if let Some(obj) = value.as_object_mut() {
            if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("kind".into(), json!({"const": kind.as_str()}));
            }
            if let Some(req) = obj.get_mut("required").and_then(Value::as_array_mut) {
                req.insert(0, json!("kind"));
            }
        }
        variants.push((kind, value));
    }
    let mut defs: serde_json::Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    for (kind, value) in &mut variants {
        rules::resource(*kind, value);
    }
    rules::definitions(&mut defs);
    for (_, value) in &mut variants {
        rules::finish(value, &defs);
    }
    let branches: Vec<Value> = variants
        .into_iter()
        .map(|(kind, value)| {
            json!({
                // `type` too: without it the condition holds for an empty
                // document (null), which has no properties to contradict it.
                "if": {"type": "object", "properties": {"kind": {"const": kind.as_str()}}, "required": ["kind"]},
                "then": value,
            })
        })
        .collect();
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://uptimeping.dev/schema/resources.json",
        "title": "uptimeping resource",
        "description": "One YAML document of an uptimeping check file: a Check, Channel, Template, Maintenance or StatusPage.",
        // An empty document (comments only, or after a final `---`) is no
        // resource, and `validate` skips it.
        "type": ["object", "null"],
        "required": ["kind", "name"],
        "properties": {"kind": {"enum": Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()}},
        "allOf": branches,
        "$defs": defs,
    });
    strict::interpolated_enums(&mut schema);
    strict::apply(&mut schema);
    schema
}

/// The documents of a check file as an editor checks them against the schema:
/// typed as `validate` types YAML (1.2 core schema), each `${VAR}` left as
/// written, empty documents as null. Errors are the file's YAML syntax errors.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let (docs, soft) = super::yaml::parse(text).map_err(|e| e.message)?;
    if let Some(e) = soft.into_iter().next() {
        return Err(e.message);
    }
    let as_written = |name: &str| Some(format!("${{{name}}}"));
    Ok(docs
        .iter()
        .map(|doc| match doc.root.as_ref() {
            Some(root) => super::decode::decode(root, &as_written).value,
            None => Value::Null,
        })
        .collect())
}

/// `word` in a pattern that matches it in any ASCII case (`[Oo][Kk]`), for values
/// the parser upper-cases: JSON Schema patterns have no flags.
pub(crate) fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            let (lower, upper) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
            if lower == upper {
                regex_escape(c)
            } else {
                format!("[{upper}{lower}]")
            }
        })
        .collect()
}

/// A pattern (without anchors) of the decimal numbers 1 to `max`, without
/// leading zeros.
pub(crate) fn up_to(max: impl Into<u64>) -> String {
    let digits: Vec<u32> = max
        .into()
        .to_string()
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let len = digits.len();
    let mut alternatives = Vec::new();
    if len > 1 {
        alternatives.push(format!("[1-9][0-9]{{0,{}}}", len - 2));
    }
    for (i, &digit) in digits.iter().enumerate() {
        let low = u32::from(i == 0);
        if digit > low {
            let prefix: String = digits[..i].iter().map(|d| d.to_string()).collect();
            let rest = len - i - 1;
            alternatives.push(format!("{prefix}[{low}-{}][0-9]{{{rest}}}", digit - 1));
        }
    }
    alternatives.push(digits.iter().map(|d| d.to_string()).collect());
    alternatives.join("|")
}

fn regex_escape(c: char) -> String {
    if "\\^$.|?*+()[]{}/".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule found its place in the derived schema (a missing one panics),
    /// no placeholder or Rust number format is left, and the output is stable.
    #[test]
    fn the_document_schema_is_complete_and_stable() {
        let schema = document_schema();
        let text = schema.to_string();
        assert!(!text.contains("$absent"), "a placeholder is left");
        for format in ["uint", "int8", "int16", "int32", "int64", "double", "float"] {
            assert!(
                !text.contains(&format!("\"format\":\"{format}")),
                "{format}"
            );
        }
        assert!(!text.contains("\"type\":["), "a union type is left");
        assert_eq!(schema, document_schema());
    }

    #[test]
    fn up_to_matches_exactly_one_to_max() {
        for max in [1u64, 9, 10, 20, 59, 100, 599, 65_535, 100_000] {
            let re = regex::Regex::new(&format!("^(?:{})$", up_to(max))).unwrap();
            for n in 0..=max + 20 {
                assert_eq!(
                    re.is_match(&n.to_string()),
                    (1..=max).contains(&n),
                    "{n} ≤ {max}"
                );
            }
            assert!(!re.is_match(&format!("0{max}")));
        }
    }

    #[test]
    fn any_case_matches_every_spelling() {
        let re = regex::Regex::new(&format!("^{}$", any_case("NOT_FOUND"))).unwrap();
        for s in ["NOT_FOUND", "not_found", "Not_Found"] {
            assert!(re.is_match(s), "{s}");
        }
        assert!(!re.is_match("NOT-FOUND"));
    }
}
