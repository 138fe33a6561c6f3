//! The JSON Schema of check files, for editors (yaml-language-server and others).

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Value, json};

use super::{Channel, Check, Kind, Maintenance, Template};

/// One schema for any document: `kind` picks which resource's rules apply.
pub fn document_schema() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut variants = Vec::new();
    for kind in Kind::ALL {
        let schema: Schema = match kind {
            Kind::Check => Check::json_schema(&mut generator),
            Kind::Channel => Channel::json_schema(&mut generator),
            Kind::Template => Template::json_schema(&mut generator),
            Kind::Maintenance => Maintenance::json_schema(&mut generator),
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
        variants.push(json!({
            "if": {"properties": {"kind": {"const": kind.as_str()}}, "required": ["kind"]},
            "then": value,
        }));
    }
    let defs: serde_json::Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://uptimeping.dev/schema/resources.json",
        "title": "uptimeping resource",
        "description": "One YAML document of an uptimeping check file: a Check, Channel, Template or Maintenance.",
        "type": "object",
        "required": ["kind", "name"],
        "properties": {"kind": {"enum": Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()}},
        "allOf": variants,
        "$defs": defs,
    })
}
