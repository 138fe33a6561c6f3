//! Rewrites what a strict validator refuses in the derived schemas into
//! standard JSON Schema that means the same: Rust's number formats (`uint32`,
//! `double`) become bounds, and union types (`["string", "null"]`) become
//! `anyOf`, each branch with the keywords of its own type.

use serde_json::{Map, Value, json};

use super::INTERPOLATED;

/// The enums left as they are by [`interpolated_enums`]: the discriminators
/// (`kind`, and a check's or channel's `type`) pick which rules apply, so the
/// schema needs them written out. `validate` takes `${VAR}` there too; an
/// editor flags it.
const LITERAL_ENUMS: [&str; 3] = ["/properties/kind", "/$defs/CheckType", "/$defs/ChannelType"];

/// Lets every string enum (`severity`, `timezone`, `format`, …) but those of
/// [`LITERAL_ENUMS`] also take a value with `${VAR}` in it, as `validate`
/// does: the schema sees values before interpolation.
pub(super) fn interpolated_enums(schema: &mut Value) {
    fn walk(value: &mut Value, pointer: &mut String) {
        let Value::Object(obj) = value else { return };
        // What it made is not walked again: its first branch is the enum.
        if !LITERAL_ENUMS.contains(&pointer.as_str()) && interpolated_enum(obj) {
            return;
        }
        for (key, child) in obj.iter_mut() {
            let len = pointer.len();
            match key.as_str() {
                "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                    if let Value::Object(map) = child {
                        for (name, sub) in map.iter_mut() {
                            pointer.push_str(&format!("/{key}/{name}"));
                            walk(sub, pointer);
                            pointer.truncate(len);
                        }
                    }
                }
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                    if let Value::Array(list) = child {
                        for (i, sub) in list.iter_mut().enumerate() {
                            pointer.push_str(&format!("/{key}/{i}"));
                            walk(sub, pointer);
                            pointer.truncate(len);
                        }
                    }
                }
                "additionalProperties"
                | "items"
                | "not"
                | "if"
                | "then"
                | "else"
                | "propertyNames"
                | "contains" => {
                    pointer.push_str(&format!("/{key}"));
                    walk(child, pointer);
                    pointer.truncate(len);
                }
                _ => {}
            }
        }
    }
    walk(schema, &mut String::new());
}

/// `{"type": "string", "enum": [...]}` → `{"anyOf": [{"type": "string", "enum":
/// [...]}, {"type": "string", "pattern": "\\$\\{"}]}`.
/// Whether it rewrote `obj`.
fn interpolated_enum(obj: &mut Map<String, Value>) -> bool {
    let all_strings = obj
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty() && e.iter().all(Value::is_string));
    let typed_string = obj.get("type").is_none_or(|t| t == "string");
    if !all_strings || !typed_string {
        return false;
    }
    let Some(values) = obj.remove("enum") else {
        return false;
    };
    obj.remove("type");
    let union = json!([
        {"type": "string", "enum": values},
        {"type": "string", "pattern": INTERPOLATED},
    ]);
    if obj.contains_key("anyOf") {
        let all = obj.entry("allOf").or_insert_with(|| json!([]));
        if let Value::Array(all) = all {
            all.push(json!({"anyOf": union}));
        }
    } else {
        obj.insert("anyOf".into(), union);
    }
    true
}

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

    #[test]
    fn string_enums_take_interpolation_except_the_discriminators() {
        let mut s = json!({
            "properties": {"kind": {"enum": ["Check"]}, "n": {"type": "integer", "enum": [1]}},
            "$defs": {
                "CheckType": {"type": "string", "enum": ["http"]},
                "Severity": {"type": "string", "enum": ["error"], "description": "d"},
            },
        });
        interpolated_enums(&mut s);
        assert_eq!(s["properties"]["kind"], json!({"enum": ["Check"]}));
        assert_eq!(
            s["properties"]["n"],
            json!({"type": "integer", "enum": [1]})
        );
        assert_eq!(
            s["$defs"]["CheckType"],
            json!({"type": "string", "enum": ["http"]})
        );
        assert_eq!(
            s["$defs"]["Severity"],
            json!({"description": "d", "anyOf": [
                {"type": "string", "enum": ["error"]},
                {"type": "string", "pattern": INTERPOLATED},
            ]})
        );
    }
}
