//! Sample request data, derived from the message descriptors alone: every field
//! gets a plausible value in proto3 JSON form, so the same request is the same
//! in YAML, in the API's answer and in generated Rust.

use std::collections::BTreeSet;

use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

/// How many messages deep a sample goes; deeper message fields are left out.
pub const MAX_DEPTH: usize = 4;
/// How often one message type may appear on the path from the root, so that a
/// recursive message shows its recursion once and stops.
const MAX_REPEATS: usize = 2;
/// How many fields, list items and map entries one sample holds at most: wide
/// messages nested a few levels deep would otherwise multiply into megabytes.
/// Fields past the budget are left out, in definition order, so the same
/// descriptors always give the same sample.
pub const MAX_ENTRIES: usize = 500;

/// The walk's state: the message types on the path from the root, and how
/// many entries may still be added.
struct Walk {
    stack: Vec<String>,
    left: usize,
    /// The files a check of the method compiles: its file and what that imports.
    closure: BTreeSet<String>,
}

/// A sample value with the comments of its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A sampled value: a placeholder.
    Scalar(Value),
    List(Vec<Node>),
    Map(Vec<Entry>),
    /// A value the user gave (`--set`, `--values`), kept as given.
    Given(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Node,
    pub comment: Vec<String>,
}

impl Node {
    /// Paths (`amount.units`, `items.0`) of the sampled values, in order.
    pub fn placeholders(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_placeholders(&mut Vec::new(), &mut out);
        out
    }

    fn collect_placeholders(&self, path: &mut Vec<String>, out: &mut Vec<String>) {
        match self {
            Node::Scalar(_) => out.push(path.join(".")),
            Node::Given(_) => {}
            Node::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    item.collect_placeholders(path, out);
                    path.pop();
                }
            }
            Node::Map(entries) => {
                for e in entries {
                    path.push(e.key.clone());
                    e.value.collect_placeholders(path, out);
                    path.pop();
                }
            }
        }
    }

    /// Whether any value under this node was given by the user.
    pub fn has_given(&self) -> bool {
        match self {
            Node::Given(_) => true,
            Node::Scalar(_) => false,
            Node::List(items) => items.iter().any(Node::has_given),
            Node::Map(entries) => entries.iter().any(|e| e.value.has_given()),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Node::Scalar(v) | Node::Given(v) => v.clone(),
            Node::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The sample for a request message of a method defined in `file`: an `Any`
/// only holds types that `file` imports, as a check compiles nothing else.
pub fn message(desc: &MessageDescriptor, file: &FileDescriptor) -> Node {
    let mut closure = BTreeSet::new();
    let mut todo = vec![file.clone()];
    while let Some(f) = todo.pop() {
        if closure.insert(f.name().to_string()) {
            todo.extend(f.dependencies());
        }
    }
    let mut walk = Walk {
        stack: Vec::new(),
        left: MAX_ENTRIES,
        closure,
    };
    sample_message(desc, &mut walk).unwrap_or(Node::Map(Vec::new()))
}

fn sample_message(desc: &MessageDescriptor, walk: &mut Walk) -> Option<Node> {
    // An `Any` is only its JSON form, or left out: its fields are not JSON.
    if desc.full_name() == "google.protobuf.Any" {
        return any(desc, &walk.closure);
    }
    if let Some(wkt) = well_known(desc) {
        return Some(wkt);
    }
    let name = desc.full_name().to_string();
    if walk.stack.len() >= MAX_DEPTH
        || walk.stack.iter().filter(|s| **s == name).count() >= MAX_REPEATS
    {
        return None;
    }
    walk.stack.push(name);
    let mut entries = Vec::new();
    for field in desc.fields() {
        if walk.left == 0 {
            break;
        }
        // Only the first member of a oneof: the others would replace it.
        if let Some(oneof) = field.containing_oneof()
            && !oneof.is_synthetic()
            && oneof
                .fields()
                .next()
                .is_some_and(|f| f.number() != field.number())
        {
            continue;
        }
        // Taken before the value, so the fields inside it count against what is left.
        walk.left -= 1;
        let Some(value) = sample_field(&field, walk) else {
            continue;
        };
        entries.push(Entry {
            key: field.name().to_string(),
            value,
            comment: super::load::comment(&desc.parent_file(), field.path()),
        });
    }
    walk.stack.pop();
    Some(Node::Map(entries))
}

fn sample_field(field: &FieldDescriptor, walk: &mut Walk) -> Option<Node> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return None;
        };
        let key = match entry.map_entry_key_field().kind() {
            Kind::String => "key".to_string(),
            Kind::Bool => "true".to_string(),
            _ => "1".to_string(),
        };
        // The entry's key is one more entry.
        walk.left = walk.left.saturating_sub(1);
        let value = sample_kind(&entry.map_entry_value_field().kind(), walk)?;
        return Some(Node::Map(vec![Entry {
            key,
            value,
            comment: Vec::new(),
        }]));
    }
    let value = sample_kind(&field.kind(), walk)?;
    if field.is_list() {
        Some(Node::List(vec![value]))
    } else {
        Some(value)
    }
}

fn sample_kind(kind: &Kind, walk: &mut Walk) -> Option<Node> {
    let v = match kind {
        Kind::Double | Kind::Float => json!(1.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => json!(1),
        // 64-bit integers are strings in proto3 JSON.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => json!("1"),
        Kind::Bool => json!(true),
        Kind::String => json!("example"),
        Kind::Bytes => json!("ZXhhbXBsZQ=="),
        Kind::Enum(e) => {
            if e.full_name() == "google.protobuf.NullValue" {
                Value::Null
            } else {
                let value = e
                    .values()
                    .find(|v| v.number() != 0)
                    .or_else(|| e.values().next())?;
                json!(value.name())
            }
        }
        Kind::Message(m) => return sample_message(m, walk),
    };
    Some(Node::Scalar(v))
}

/// The well-known types in their proto3 JSON forms.
fn well_known(desc: &MessageDescriptor) -> Option<Node> {
    let scalar = |v: Value| Some(Node::Scalar(v));
    match desc.full_name() {
        "google.protobuf.Timestamp" => scalar(json!("2024-01-01T00:00:00Z")),
        "google.protobuf.Duration" => scalar(json!("30s")),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => scalar(json!(1.5)),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => scalar(json!("1")),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => scalar(json!(1)),
        "google.protobuf.BoolValue" => scalar(json!(true)),
        "google.protobuf.StringValue" => scalar(json!("example")),
        "google.protobuf.BytesValue" => scalar(json!("ZXhhbXBsZQ==")),
        "google.protobuf.Struct" => Some(Node::Map(vec![Entry {
            key: "key".into(),
            value: Node::Scalar(json!("value")),
            comment: Vec::new(),
        }])),
        "google.protobuf.Value" => scalar(json!("value")),
        "google.protobuf.ListValue" => Some(Node::List(vec![Node::Scalar(json!("value"))])),
        "google.protobuf.FieldMask" => scalar(json!("name")),
        "google.protobuf.Empty" => Some(Node::Map(Vec::new())),
        _ => None,
    }
}

/// An `Any` must name a type the reader knows: a well-known type the method's
/// file already imports (`closure`), or nothing when none is there.
fn any(desc: &MessageDescriptor, closure: &BTreeSet<String>) -> Option<Node> {
    let pool = desc.parent_pool();
    let known = |name: &str| {
        pool.get_message_by_name(name)
            .is_some_and(|m| closure.contains(m.parent_file().name()))
    };
    let pick = [
        ("google.protobuf.Duration", json!("30s")),
        ("google.protobuf.Timestamp", json!("2024-01-01T00:00:00Z")),
        ("google.protobuf.StringValue", json!("example")),
    ]
    .into_iter()
    .find(|(name, _)| known(name));
    if let Some((name, value)) = pick {
        return Some(Node::Map(vec![
            Entry {
                key: "@type".into(),
                value: Node::Scalar(json!(format!("type.googleapis.com/{name}"))),
                comment: Vec::new(),
            },
            Entry {
                key: "value".into(),
                value: Node::Scalar(value),
                comment: Vec::new(),
            },
        ]));
    }
    known("google.protobuf.Empty").then(|| {
        Node::Map(vec![Entry {
            key: "@type".into(),
            value: Node::Scalar(json!("type.googleapis.com/google.protobuf.Empty")),
            comment: Vec::new(),
        }])
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::forge::load::from_memory;

    fn sample_of(source: &str, message: &str) -> Value {
        let files = BTreeMap::from([("t.proto".to_string(), source.to_string())]);
        let protos = from_memory(&["t.proto".to_string()], &files).expect("compiles");
        let desc = protos.pool.get_message_by_name(message).expect("message");
        let json = super::message(&desc, &desc.parent_file()).to_json();
        // Whatever is sampled must be a valid message of its type.
        prost_reflect::DynamicMessage::deserialize(desc, json.clone()).expect("valid sample");
        json
    }

    #[test]
    fn an_any_without_a_known_type_to_hold_is_left_out() {
        let json = sample_of(
            "syntax = \"proto3\"; package t; import \"google/protobuf/any.proto\";\n\
             message M { google.protobuf.Any detail = 1; string id = 2; }",
            "t.M",
        );
        assert_eq!(json, serde_json::json!({"id": "example"}));
    }

    #[test]
    fn an_any_holds_only_types_the_methods_file_imports() {
        // Another file in the pool imports Timestamp; the method's file does not.
        let files = BTreeMap::from([
            (
                "t.proto".to_string(),
                "syntax = \"proto3\"; package t; import \"google/protobuf/any.proto\";\n\
                 message M { google.protobuf.Any detail = 1; string id = 2; }"
                    .to_string(),
            ),
            (
                "u.proto".to_string(),
                "syntax = \"proto3\"; package u; import \"google/protobuf/timestamp.proto\";\n\
                 message N { google.protobuf.Timestamp at = 1; }"
                    .to_string(),
            ),
        ]);
        let protos = from_memory(&["t.proto".into(), "u.proto".into()], &files).expect("compiles");
        let desc = protos.pool.get_message_by_name("t.M").expect("message");
        let json = super::message(&desc, &desc.parent_file()).to_json();
        assert_eq!(json, serde_json::json!({"id": "example"}));
    }

    #[test]
    fn an_any_holds_a_timestamp_when_only_that_is_imported() {
        let json = sample_of(
            "syntax = \"proto3\"; package t; import \"google/protobuf/any.proto\";\n\
             import \"google/protobuf/timestamp.proto\";\n\
             message M { google.protobuf.Any detail = 1; google.protobuf.Timestamp at = 2; }",
            "t.M",
        );
        assert_eq!(
            json["detail"],
            serde_json::json!({"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2024-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn deep_and_self_recursive_messages_stop() {
        let json = sample_of(
            "syntax = \"proto3\"; package t;\n\
             message A { B b = 1; string a = 2; } message B { C c = 1; } message C { D d = 1; }\n\
             message D { E e = 1; int32 d = 2; } message E { string e = 1; }\n\
             message Node { Node next = 1; repeated Node kids = 2; map<string, Node> named = 3; }",
            "t.A",
        );
        // A, B, C, D are four levels: E is left out.
        assert_eq!(
            json,
            serde_json::json!({"b": {"c": {"d": {"d": 1}}}, "a": "example"})
        );
        let node = sample_of(
            "syntax = \"proto3\"; package t;\n\
             message Node { Node next = 1; repeated Node kids = 2; map<string, Node> named = 3; }",
            "t.Node",
        );
        assert_eq!(
            node,
            serde_json::json!({"next": {}, "kids": [{}], "named": {"key": {}}})
        );
    }

    fn count(v: &Value) -> usize {
        match v {
            Value::Object(m) => m.len() + m.values().map(count).sum::<usize>(),
            Value::Array(a) => a.iter().map(count).sum(),
            _ => 0,
        }
    }

    #[test]
    fn wide_nested_messages_stay_within_the_entry_budget() {
        let fields = |ty: &str| {
            (1..=30)
                .map(|i| format!("{ty} f{i} = {i};"))
                .collect::<String>()
        };
        let source = format!(
            "syntax = \"proto3\"; package t;\nmessage A {{ {} }} message B {{ {} }} message C {{ {} }}",
            fields("B"),
            fields("C"),
            fields("string")
        );
        let json = sample_of(&source, "t.A");
        let n = count(&json);
        assert!(n <= MAX_ENTRIES, "{n} entries");
        // The budget is spent in definition order: the first fields are whole.
        assert_eq!(json["f1"]["f1"]["f30"], "example");
        assert_eq!(json, sample_of(&source, "t.A"), "the same every time");
    }

    #[test]
    fn oneofs_take_their_first_member_and_optional_fields_are_set() {
        let json = sample_of(
            "syntax = \"proto3\"; package t;\n\
             enum Z { Z_UNSPECIFIED = 0; }\n\
             message M { oneof o { int64 n = 1; string s = 2; } optional bool f = 3; Z z = 4; }",
            "t.M",
        );
        assert_eq!(
            json,
            serde_json::json!({"n": "1", "f": true, "z": "Z_UNSPECIFIED"})
        );
    }
}
