//! `POST /api/v1/forge/generate` on a real daemon: sources in, check files out.

use serde_json::{Value, json};

use crate::daemon_support::Daemon;
use crate::forge::{ROOTS, corpus, forge_dir};

fn corpus_sources() -> Value {
    let mut files = serde_json::Map::new();
    for root in ROOTS {
        let name = root.strip_prefix("protos/").unwrap();
        let text = std::fs::read_to_string(forge_dir().join(root)).unwrap();
        files.insert(name.to_string(), json!(text));
    }
    Value::Object(files)
}

#[test]
fn the_api_generates_the_same_checks_as_the_command_line() {
    let daemon = Daemon::start(&[]);
    let body = json!({
        "files": corpus_sources(),
        "roots": ["acme/payments/v1/payments.proto", "acme/wkt/v1/wkt.proto"],
        "target": "payments.internal:443",
        "interval": "30s",
        "proto_dir": "../protos",
        "include_writes": true,
    });
    let res = daemon.post("/api/v1/forge/generate", &body);
    let files = res["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(names, ["payments.yaml", "well-known.yaml"]);
    let warnings = res["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{res}");
    assert_eq!(warnings[0]["file"], "acme/payments/v1/payments.proto");
    assert_eq!(warnings[0]["line"], 18);

    // Written next to the protos, the files are valid checks.
    let dir = corpus();
    for f in files {
        let path = dir.join(&format!("checks/{}", f["path"].as_str().unwrap()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, f["content"].as_str().unwrap()).unwrap();
    }
    let valid = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(valid.code, 0, "{valid:?}");
    // The same names and requests the command line produces for these files.
    let text = files[0]["content"].as_str().unwrap();
    assert!(
        text.contains("name: \"payments-create-payment\"\n"),
        "{text}"
    );
    assert!(
        text.contains("proto: \"../protos/acme/payments/v1/payments.proto\""),
        "{text}"
    );

    let json_res = daemon.post(
        "/api/v1/forge/generate",
        &json!({"files": corpus_sources(), "format": "json", "health": false}),
    );
    let doc: Value =
        serde_json::from_str(json_res["files"][0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(doc[0]["kind"], "Check");
    assert!(doc[0]["grpc"].get("health").is_none());
}

#[test]
fn bad_protos_and_bad_requests_are_json_errors() {
    let daemon = Daemon::start(&[]);
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": {"bad.proto": "syntax = \"proto3\";\npackage x;\nmessage A {\n  strin name = 1;\n}\n"}})),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_proto");
    assert_eq!(
        body["error"]["details"][0],
        "bad.proto:4:3: name 'strin' is not defined"
    );

    for (req, needle) in [
        (json!({"files": {}}), "`files` is empty"),
        (
            json!({"files": corpus_sources(), "timeout": "5m"}),
            "shorter than the interval",
        ),
        (
            json!({"files": corpus_sources(), "roots": ["nope.proto"]}),
            "root `nope.proto`",
        ),
        (
            json!({"files": {"../x.proto": "syntax = \"proto3\";"}}),
            "not a relative import name",
        ),
        (
            json!({"files": {"a.proto": "syntax = \"proto3\";"}}),
            "nothing to generate",
        ),
        (
            json!({"files": {"a\nkind: x.proto": "syntax = \"proto3\";"}}),
            "not a relative import name",
        ),
        (
            json!({"files": {"c:\\x.proto": "syntax = \"proto3\";"}}),
            "not a relative import name",
        ),
        (
            json!({"files": corpus_sources(), "colour": "red"}),
            "unknown field `colour`",
        ),
    ] {
        let (status, body) = daemon.call("POST", "/api/v1/forge/generate", Some(&req));
        assert!(status == 400 || status == 422, "{status} {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle}: {body}");
    }

    let (status, body) = daemon.call_as(
        "not-a-key",
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": corpus_sources()})),
    );
    assert_eq!(status, 401, "{body}");
}

#[test]
fn deeply_nested_protos_are_refused_and_the_daemon_lives_on() {
    let daemon = Daemon::start(&[]);
    let deep = crate::forge::deep_option_proto(2000);
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": {"deep.proto": deep}})),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_proto");
    let detail = body["error"]["details"][0].as_str().unwrap();
    assert!(
        detail.starts_with("deep.proto:5:") && detail.contains("nest more than 64"),
        "{body}"
    );
    // Still answering.
    let res = daemon.post(
        "/api/v1/forge/generate",
        &json!({"files": corpus_sources(), "health": false}),
    );
    assert!(!res["files"].as_array().unwrap().is_empty(), "{res}");
}

#[test]
fn repeated_roots_give_one_file_each() {
    let daemon = Daemon::start(&[]);
    let root = "acme/inventory/v1/inventory.proto";
    let res = daemon.post(
        "/api/v1/forge/generate",
        &json!({"files": corpus_sources(), "roots": [root, root]}),
    );
    let files = res["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(names, ["inventory.yaml", "payments.yaml"], "{res}");
    let text = files[0]["content"].as_str().unwrap();
    assert_eq!(
        text.matches("name: \"inventory-health\"").count(),
        1,
        "{text}"
    );
}

/// `n` files where each imports the next: `f0.proto` holds a service.
pub fn import_chain(n: usize) -> serde_json::Map<String, Value> {
    let mut files = serde_json::Map::new();
    for i in 0..n {
        let mut text = format!("syntax = \"proto3\";\npackage p{i};\n");
        if i + 1 < n {
            text.push_str(&format!(
                "import \"f{}.proto\";\nmessage M{i} {{ p{}.M{} next = 1; }}\n",
                i + 1,
                i + 1,
                i + 1
            ));
        } else {
            text.push_str(&format!("message M{i} {{ string s = 1; }}\n"));
        }
        if i == 0 {
            text.push_str("service S { rpc Get(M0) returns (M0); }\n");
        }
        files.insert(format!("f{i}.proto"), json!(text));
    }
    files
}

#[test]
fn import_chains_up_to_the_file_limit_compile_and_longer_are_refused() {
    let daemon = Daemon::start(&[]);
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": import_chain(500), "roots": ["f0.proto"], "health": false})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"].as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = daemon.call("GET", "/healthz", None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": import_chain(501), "roots": ["f0.proto"]})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 500 files")),
        "{body}"
    );
    let (status, body) = daemon.call("GET", "/healthz", None);
    assert_eq!(status, 200, "{body}");
}

/// One service with `methods` methods, all taking a message of `fields` fields
/// with long names.
fn wide_service(methods: usize, fields: usize) -> String {
    let mut text = String::from("syntax = \"proto3\";\npackage wide;\nmessage Req {\n");
    for f in 0..fields {
        text.push_str(&format!(
            "  string field_with_a_long_descriptive_name_{f} = {};\n",
            f + 1
        ));
    }
    text.push_str("}\nservice Wide {\n");
    for m in 0..methods {
        text.push_str(&format!("  rpc GetThing{m}(Req) returns (Req);\n"));
    }
    text.push_str("}\n");
    text
}

#[test]
fn too_many_checks_or_too_much_output_are_refused_with_the_limit() {
    let daemon = Daemon::start(&[]);
    let started = std::time::Instant::now();
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": {"wide.proto": wide_service(1001, 1)}})),
    );
    eprintln!("1001 methods: refused in {:?}", started.elapsed());
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1001 methods") && message.contains("at most 1000"),
        "{body}"
    );
    let started = std::time::Instant::now();
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": {"wide.proto": wide_service(1000, 500)}})),
    );
    eprintln!(
        "1000 methods × 500 fields: refused in {:?}",
        started.elapsed()
    );
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 16777216"), "{body}");
    // Within both limits, it generates.
    let (status, body) = daemon.call(
        "POST",
        "/api/v1/forge/generate",
        Some(&json!({"files": {"wide.proto": wide_service(1000, 1)}})),
    );
    assert_eq!(status, 200, "{body}");
}
