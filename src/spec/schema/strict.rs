//! Rewrites what a strict validator refuses in the derived schemas into
//! standard JSON Schema that means the same: Rust's number formats (`uint32`,
//! `double`) become bounds, and union types (`["string", "null"]`) become
//! `anyOf`, each branch with the keywords of its own type.

use serde_json::{Map, Value, json};

/// Walks every subschema of `schema` (never into `default`, `const` or `enum`,
/// which are data) and rewrites it.
pub(super) fn apply(schema: &mut Value) {
    let Value::Object(obj) = schema else { return };
    number_format(obj);
    union_type(obj);
    for (key, value) in obj.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                if let Value::Object(map) = value {
                    map.values_mut().for_each(apply);
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                if let Value::Array(list) = value {
                    list.iter_mut().for_each(apply);
                }
            }
            "additionalProperties"
            | "items"
            | "not"
            | "if"
            | "then"
            | "else"
            | "propertyNames"
            | "contains"
            | "unevaluatedProperties"
            | "unevaluatedItems" => apply(value),
            _ => {}
        }
    }
}

/// The bounds each of schemars' Rust number formats stands for; `double` and
/// `float` say nothing a validator checks.
fn number_format(obj: &mut Map<String, Value>) {
    let Some(format) = obj.get("format").and_then(Value::as_str) else {
        return;
    };
    let bounds: Option<(Value, Value)> = match format {
        "uint8" => Some((json!(0), json!(u8::MAX))),
        "uint16" => Some((json!(0), json!(u16::MAX))),
        "uint32" | "uint" => Some((json!(0), json!(u32::MAX))),
        "uint64" => Some((json!(0), json!(u64::MAX))),
        "int8" => Some((json!(i8::MIN), json!(i8::MAX))),
        "int16" => Some((json!(i16::MIN), json!(i16::MAX))),
        "int32" | "int" => Some((json!(i32::MIN), json!(i32::MAX))),
        "int64" => Some((json!(i64::MIN), json!(i64::MAX))),
        "double" | "float" => None,
        _ => return,
    };
    obj.remove("format");
    if let Some((min, max)) = bounds {
        obj.entry("minimum").or_insert(min);
        obj.entry("maximum").or_insert(max);
    }
}

/// Keywords that describe rather than constrain: they stay with the union.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "default",
    "title",
    "examples",
    "deprecated",
    "$comment",
    "$id",
];

/// Which instance type a keyword applies to, if only one.
fn keyword_type(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => "number",
        "pattern" | "minLength" | "maxLength" | "format" | "contentEncoding" => "string",
        "properties"
        | "additionalProperties"
        | "required"
        | "propertyNames"
        | "minProperties"
        | "maxProperties"
        | "patternProperties"
        | "dependentRequired"
        | "dependentSchemas"
        | "unevaluatedProperties" => "object",
        "items" | "prefixItems" | "minItems" | "maxItems" | "uniqueItems" | "contains"
        | "unevaluatedItems" => "array",
        _ => return None,
    })
}

/// `{"type": ["integer", "null"], "minimum": 0}` →
/// `{"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}`.
fn union_type(obj: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = obj.get("type") else {
        return;
    };
    let types: Vec<String> = types
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    obj.remove("type");
    let keys: Vec<String> = obj.keys().cloned().collect();
    let mut moved = Map::new();
    for key in keys {
        if keyword_type(&key).is_some()
            && let Some(v) = obj.remove(&key)
        {
            moved.insert(key, v);
        }
    }
    let branches: Vec<Value> = types
        .iter()
        .map(|t| {
            let mut branch = Map::new();
            branch.insert("type".into(), json!(t));
            for (k, v) in &moved {
                let applies =
                    keyword_type(k).is_some_and(|kt| kt == t || (kt == "number" && t == "integer"));
                if applies {
                    branch.insert(k.clone(), v.clone());
                }
            }
            Value::Object(branch)
        })
        .collect();
    let rest: Vec<String> = obj
        .keys()
        .filter(|k| !ANNOTATIONS.contains(&k.as_str()))
        .cloned()
        .collect();
    if rest.is_empty() && !obj.contains_key("anyOf") {
        obj.insert("anyOf".into(), Value::Array(branches));
    } else {
        // Other constraints stay beside the union, which joins them in an `allOf`.
        let all = obj.entry("allOf").or_insert_with(|| json!([]));
        if let Value::Array(all) = all {
            all.push(json!({"anyOf": branches}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_split_by_type_and_formats_become_bounds() {
        let mut s = json!({
            "description": "d",
            "type": ["integer", "null"],
            "format": "uint16",
            "properties": {"x": {"type": "string", "format": "uint32"}},
            "default": {"format": "uint8"},
        });
        apply(&mut s);
        assert_eq!(
            s,
            json!({
                "description": "d",
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": 65535},
                    {"type": "null"},
                ],
                "default": {"format": "uint8"},
            })
        );
    }
}
