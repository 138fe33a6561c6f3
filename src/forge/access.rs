//! Whether a method only reads. A check calls its method on every run, so
//! Forge generates checks only for methods that say they read, and lists the
//! others as skipped unless writes are asked for by name.
//!
//! A method reads when something says so and nothing says otherwise:
//!
//! - says it reads: `option idempotency_level = NO_SIDE_EFFECTS`, a
//!   `google.api.http` binding with `get` (or a custom `GET`/`HEAD`), or a
//!   name whose first word is a reading verb (`Get`, `List`, `Watch`, …);
//! - says it writes, and wins over all of the above: `idempotency_level =
//!   IDEMPOTENT` (the author declared side effects, only repeatable ones), a
//!   `google.api.http` binding with `post`, `put`, `patch`, `delete` or another
//!   custom verb, or a name that starts with a writing verb or has one after
//!   `And`/`Or` (`DeleteOperation`, `GetOrCreateUser`, `CheckAndSet`).
//!
//! Whatever is unsure is a write: skipping a read costs a flag, calling a
//! write every minute costs data.

use std::sync::OnceLock;

use prost_reflect::prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};
use serde::Serialize;

use super::model::words;

/// First words of method names that read.
const READ_VERBS: &[&str] = &[
    "get", "list", "search", "watch", "check", "health", "describe", "read", "query", "find",
    "lookup", "fetch", "count", "stat", "stats", "status", "ping", "show", "view", "inspect",
    "exists", "version", "info", "poll", "wait", "batch",
];

/// Words that start a write: as a name's first word, or after `and`/`or`.
const WRITE_VERBS: &[&str] = &[
    "delete",
    "cancel",
    "create",
    "update",
    "set",
    "remove",
    "purge",
    "reset",
    "put",
    "patch",
    "post",
    "insert",
    "add",
    "write",
    "send",
    "start",
    "stop",
    "restart",
    "kill",
    "drop",
    "truncate",
    "clear",
    "destroy",
    "erase",
    "move",
    "rename",
    "replace",
    "upload",
    "import",
    "approve",
    "reject",
    "submit",
    "commit",
    "rollback",
    "undelete",
    "execute",
    "run",
    "apply",
    "enable",
    "disable",
    "revoke",
    "grant",
    "acquire",
    "release",
    "lock",
    "unlock",
    "reserve",
    "claim",
    "mark",
    "ack",
    "acknowledge",
    "publish",
    "pause",
    "resume",
    "restore",
    "modify",
    "edit",
    "change",
    "assign",
    "unassign",
    "register",
    "unregister",
    "deregister",
    "charge",
    "refund",
    "pay",
    "transfer",
    "mutate",
    "upsert",
    "merge",
    "increment",
    "decrement",
    "save",
    "store",
    "allocate",
    "deallocate",
    "provision",
    "deploy",
    "trigger",
    "invoke",
    "rotate",
    "expire",
    "invalidate",
    "flush",
    "abort",
    "terminate",
    "suspend",
];

/// Field number of the `google.api.http` extension of `MethodOptions`.
const HTTP_EXTENSION: u32 = 72295728;

/// The wire shape of `google.api.HttpRule`, to read the extension's bytes
/// whether or not the user's pool knows the extension. Field numbers are
/// those of `google/api/http.proto`.
const HTTP_RULE_PROTO: &str = r#"syntax = "proto3";
package uptimeping.forge.http;
message CustomHttpPattern { string kind = 1; string path = 2; }
message HttpRule {
  oneof pattern {
    string get = 2; string put = 3; string post = 4; string delete = 5; string patch = 6;
    CustomHttpPattern custom = 8;
  }
}
message Carrier { HttpRule http = 72295728; }
"#;

/// Why a method counts as reading or writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub reads: bool,
    /// For people: what decided it.
    pub reason: String,
}

/// A method left out because it may change data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Skipped {
    /// `package.Service/Method`.
    pub method: String,
    pub reason: String,
}

fn carrier() -> Option<&'static prost_reflect::MessageDescriptor> {
    static CARRIER: OnceLock<Option<prost_reflect::MessageDescriptor>> = OnceLock::new();
    CARRIER
        .get_or_init(|| {
            let files = std::collections::BTreeMap::from([(
                "http_rule.proto".to_string(),
                HTTP_RULE_PROTO.to_string(),
            )]);
            let protos = super::load::from_memory(&["http_rule.proto".to_string()], &files).ok()?;
            let pool: DescriptorPool = protos.pool;
            pool.get_message_by_name("uptimeping.forge.http.Carrier")
        })
        .as_ref()
}

/// The HTTP verb of the method's `google.api.http` binding, upper case.
pub fn http_verb(m: &MethodDescriptor) -> Option<String> {
    let options = m.options();
    // Present as a known extension or as an unknown field, the bytes on the
    // wire are the same: re-encode them and read them with our own shape.
    let has = options
        .extensions()
        .any(|(e, _)| e.number() == HTTP_EXTENSION)
        || options
            .unknown_fields()
            .any(|f| f.number() == HTTP_EXTENSION);
    if !has {
        return None;
    }
    let bytes = options.encode_to_vec();
    let carrier = DynamicMessage::decode(carrier()?.clone(), bytes.as_slice()).ok()?;
    let rule = match carrier.get_field_by_name("http")?.into_owned() {
        Value::Message(rule) => rule,
        _ => return None,
    };
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            return Some(verb.to_ascii_uppercase());
        }
    }
    if rule.has_field_by_name("custom")
        && let Some(Value::Message(custom)) =
            rule.get_field_by_name("custom").map(|v| v.into_owned())
        && let Some(Value::String(kind)) = custom.get_field_by_name("kind").map(|v| v.into_owned())
    {
        return Some(kind.to_ascii_uppercase());
    }
    None
}

/// Whether `m` only reads, and why.
pub fn access(m: &MethodDescriptor) -> Access {
    let mut read_signs: Vec<String> = Vec::new();
    let mut write_signs: Vec<String> = Vec::new();
    // 1 = NO_SIDE_EFFECTS, 2 = IDEMPOTENT in descriptor.proto.
    match m
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.idempotency_level)
    {
        Some(1) => read_signs.push("it is declared `idempotency_level = NO_SIDE_EFFECTS`".into()),
        Some(2) => write_signs.push(
            "it is declared `idempotency_level = IDEMPOTENT`, which allows side effects".into(),
        ),
        _ => {}
    }
    match http_verb(m).as_deref() {
        Some("GET" | "HEAD") => {
            read_signs.push("its `google.api.http` binding is GET".into());
        }
        Some(verb) => write_signs.push(format!("its `google.api.http` binding is {verb}")),
        None => {}
    }
    let w = words(m.name());
    match w.first().map(String::as_str) {
        Some(first) if WRITE_VERBS.contains(&first) => {
            write_signs.push(format!("its name starts with `{}`", capitalised(first)));
        }
        Some(first) if READ_VERBS.contains(&first) => {
            read_signs.push(format!("its name starts with `{}`", capitalised(first)));
        }
        _ => {}
    }
    if let Some(pair) = w.windows(2).find(|p| {
        matches!(p[0].as_str(), "and" | "or" | "then") && WRITE_VERBS.contains(&p[1].as_str())
    }) {
        write_signs.push(format!(
            "its name has `{}{}`",
            capitalised(&pair[0]),
            capitalised(&pair[1])
        ));
    }
    if let Some(why) = write_signs.into_iter().next() {
        return Access {
            reads: false,
            reason: format!("it may change data: {why}"),
        };
    }
    match read_signs.into_iter().next() {
        Some(why) => Access {
            reads: true,
            reason: format!("it reads: {why}"),
        },
        None => Access {
            reads: false,
            reason: "nothing says it only reads (no `idempotency_level = NO_SIDE_EFFECTS`, no GET binding, and its name does not start with a reading verb such as Get or List)".into(),
        },
    }
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::forge::load::from_memory;

    const HTTP: &str = "syntax = \"proto3\"; package google.api;\n\
        import \"google/protobuf/descriptor.proto\";\n\
        extend google.protobuf.MethodOptions { HttpRule http = 72295728; }\n\
        message HttpRule { string selector = 1; oneof pattern { string get = 2; string put = 3;\n\
          string post = 4; string delete = 5; string patch = 6; CustomHttpPattern custom = 8; }\n\
          string body = 7; }\n\
        message CustomHttpPattern { string kind = 1; string path = 2; }\n";

    fn methods(service: &str) -> Vec<(String, Access)> {
        let source = format!(
            "syntax = \"proto3\"; package t; import \"google/api/http.proto\";\n\
             message M {{}}\n{service}"
        );
        let files = BTreeMap::from([
            ("t.proto".to_string(), source),
            ("google/api/http.proto".to_string(), HTTP.to_string()),
        ]);
        let protos = from_memory(&["t.proto".to_string()], &files).expect("compiles");
        let file = protos.pool.get_file_by_name("t.proto").expect("file");
        file.services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .map(|m| (m.name().to_string(), access(&m)))
            .collect()
    }

    fn reads(service: &str) -> Vec<(String, bool)> {
        methods(service)
            .into_iter()
            .map(|(n, a)| (n, a.reads))
            .collect()
    }

    #[test]
    fn names_read_only_at_a_word_boundary_and_writing_verbs_never_read() {
        let got = reads(
            "service S { rpc GetStatus(M) returns (M); rpc Getaway(M) returns (M);\n\
             rpc get_status(M) returns (M); rpc ListThings(M) returns (M); rpc Health(M) returns (M);\n\
             rpc DeleteOperation(M) returns (M); rpc CancelOperation(M) returns (M);\n\
             rpc CreateX(M) returns (M); rpc UpdateX(M) returns (M); rpc SetX(M) returns (M);\n\
             rpc RemoveX(M) returns (M); rpc PurgeX(M) returns (M); rpc GetOrCreateUser(M) returns (M);\n\
             rpc CheckAndSet(M) returns (M); rpc GetUpdateTime(M) returns (M); rpc Frobnicate(M) returns (M);\n\
             rpc GETStatus(M) returns (M); rpc Settle(M) returns (M); }",
        );
        let want = [
            ("GetStatus", true),
            ("Getaway", false),
            ("get_status", true),
            ("ListThings", true),
            ("Health", true),
            ("DeleteOperation", false),
            ("CancelOperation", false),
            ("CreateX", false),
            ("UpdateX", false),
            ("SetX", false),
            ("RemoveX", false),
            ("PurgeX", false),
            ("GetOrCreateUser", false),
            ("CheckAndSet", false),
            ("GetUpdateTime", true),
            ("Frobnicate", false),
            ("GETStatus", true),
            ("Settle", false),
        ];
        let want: Vec<(String, bool)> = want.iter().map(|(n, r)| (n.to_string(), *r)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn options_decide_with_writes_winning() {
        let got = methods(
            "service S {\n\
             rpc Frobnicate(M) returns (M) { option idempotency_level = NO_SIDE_EFFECTS; }\n\
             rpc Tally(M) returns (M) { option idempotency_level = IDEMPOTENT; }\n\
             rpc GetLease(M) returns (M) { option idempotency_level = IDEMPOTENT; }\n\
             rpc Stats(M) returns (M) { option (google.api.http) = { get: \"/v1/stats\" }; }\n\
             rpc GetThing(M) returns (M) { option (google.api.http) = { post: \"/v1/x\" body: \"*\" }; }\n\
             rpc Peek(M) returns (M) { option (google.api.http) = { custom: { kind: \"HEAD\" path: \"/x\" } }; }\n\
             rpc DeleteX(M) returns (M) { option idempotency_level = NO_SIDE_EFFECTS; }\n\
             }",
        );
        let summary: Vec<(&str, bool)> = methods_ref(&got);
        assert_eq!(
            summary,
            [
                ("Frobnicate", true),
                ("Tally", false),
                ("GetLease", false),
                ("Stats", true),
                ("GetThing", false),
                ("Peek", true),
                ("DeleteX", false),
            ]
        );
        assert!(got[1].1.reason.contains("IDEMPOTENT"), "{:?}", got[1]);
        assert!(got[4].1.reason.contains("binding is POST"), "{:?}", got[4]);
        assert!(got[3].1.reason.contains("binding is GET"), "{:?}", got[3]);
    }

    fn methods_ref(got: &[(String, Access)]) -> Vec<(&str, bool)> {
        got.iter().map(|(n, a)| (n.as_str(), a.reads)).collect()
    }
}
