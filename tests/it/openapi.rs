//! `GET /api/v1/openapi.json` of a real daemon: a valid OpenAPI 3.1 document (by
//! openapi-spec-validator), naming every route the router has and nothing it does
//! not answer, whose response schemas the daemon's real answers validate against
//! (by Python's `jsonschema`, from the same virtualenv).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Receiver, Target, plan_request};

/// The virtualenv `scripts/test` installs openapi-spec-validator (and with it
/// `jsonschema`) into.
fn venv_bin(tool: &str) -> PathBuf {
    let missing = || -> ! {
        panic!(
            "`{tool}` is missing: run scripts/test, which installs openapi-spec-validator (and jsonschema) into a virtualenv"
        )
    };
    let Some(tools) = std::env::var_os("UPTIMEPING_TEST_TOOLS") else {
        missing()
    };
    let path = PathBuf::from(tools).join("py/bin").join(tool);
    if !path.exists() {
        missing();
    }
    path
}

fn fetch_document(d: &Daemon) -> Value {
    // No key: the document describes shape only.
    let res = Daemon::client()
        .get(format!("{}/api/v1/openapi.json", d.url))
        .send()
        .expect("GET openapi.json");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    res.json().expect("the document is JSON")
}

#[test]
fn the_document_is_openapi_3_1_that_a_real_validator_accepts() {
    let d = Daemon::start(&[]);
    let doc = fetch_document(&d);
    assert_eq!(doc["openapi"], "3.1.0", "{}", doc["openapi"]);
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["components"]["securitySchemes"]["apiKey"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "uptimeping API key or access token",
               "description": doc["components"]["securitySchemes"]["apiKey"]["description"]})
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let out = Command::new(venv_bin("openapi-spec-validator"))
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The validator catches a broken document: a path parameter left undeclared.
    let mut broken = doc.clone();
    let op = &mut broken["paths"]["/api/v1/checks/{name}"]["get"];
    op["parameters"] = json!([]);
    std::fs::write(&file, serde_json::to_vec(&broken).expect("json")).expect("write");
    let out = Command::new(venv_bin("openapi-spec-validator"))
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        !out.status.success(),
        "the validator accepted a path parameter left undeclared"
    );

    // Served from bytes built once: the same document, byte for byte, each time.
    let again = Daemon::client()
        .get(format!("{}/api/v1/openapi.json", d.url))
        .send()
        .and_then(|r| r.bytes())
        .expect("GET again");
    assert_eq!(
        serde_json::from_slice::<Value>(&again).expect("json"),
        doc,
        "the document changed between two requests"
    );
}

/// The `(METHOD, path)` pairs that the router's source registers, read from the
/// source itself, not from the document's builder: every `.route(` and
/// `.api_route(` call, with the prefix of the router they are nested under.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/daemon/api");
    let read = |f: &str| std::fs::read_to_string(root.join(f)).expect("read router source");
    let openapi = read("openapi.rs");
    let doc_path = openapi
        .lines()
        .find_map(|l| l.strip_prefix("pub const PATH: &str = \""))
        .and_then(|l| l.strip_suffix("\";"))
        .expect("openapi::PATH")
        .to_string();
    let mut routes = BTreeSet::new();
    for file in ["mod.rs", "integrations.rs"] {
        let src = read(file);
        // The routes of `let api = ...;` are nested under `/api/v1`.
        let api_block = src.find("let api = ").map(|start| {
            (
                start,
                start + src[start..].find(";\n").expect("end of `let api`"),
            )
        });
        let mut at = 0;
        while let Some(i) = src[at..].find("route(").map(|i| at + i) {
            at = i + 1;
            let before = &src[..i];
            if !(before.ends_with(".api_") || before.ends_with('.')) {
                continue;
            }
            // The call's arguments, up to its closing parenthesis.
            let args_start = i + "route(".len();
            let mut depth = 1;
            let mut end = args_start;
            for (j, c) in src[args_start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = args_start + j;
                    break;
                }
            }
            let args = src[args_start..end].trim();
            let (path, rest) = if let Some(quoted) = args.strip_prefix('"') {
                let close = quoted.find('"').expect("closing quote");
                (quoted[..close].to_string(), &quoted[close + 1..])
            } else if let Some(rest) = args.strip_prefix("openapi::PATH") {
                (doc_path.clone(), rest)
            } else {
                panic!("{file}: a route whose path this test cannot read: {args}");
            };
            let nested = api_block.is_some_and(|(s, e)| i > s && i < e);
            let path = if nested {
                format!("/api/v1{path}")
            } else {
                path
            };
            let mut methods = 0;
            for m in ["get", "post", "put", "patch", "delete"] {
                let mut k = 0;
                while let Some(p) = rest[k..].find(&format!("{m}(")).map(|p| k + p) {
                    k = p + 1;
                    let prev = rest[..p].chars().last().unwrap_or(' ');
                    if matches!(prev, '.' | '(' | ' ' | ',' | ':') {
                        routes.insert((m.to_uppercase(), path.clone()));
                        methods += 1;
                    }
                }
            }
            assert!(methods > 0, "{file}: no method read for {path}: {args}");
        }
    }
    routes
}

fn routes_in_document(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// `path` with its `{params}` filled in with values no resource has.
fn concrete(path: &str) -> String {
    path.replace("{name}", "no-such-thing")
        .replace("{id}", "987654")
        .replace("{tenant}", "no-such-tenant")
        .replace("{channel}", "no-such-channel")
        .replace("{slug}", "no-such-page")
        .replace("{check}", "no-such-check")
}

#[test]
fn every_route_is_in_the_document_and_every_documented_route_is_answered() {
    let d = Daemon::start(&[]);
    let doc = fetch_document(&d);
    let in_source = routes_in_source();
    let documented = routes_in_document(&doc);
    assert!(
        in_source.len() >= 25,
        "reading the router's source found too few routes: {in_source:?}"
    );
    let undocumented: Vec<_> = in_source.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes the router has that the document lacks: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&in_source).collect();
    assert!(
        unrouted.is_empty(),
        "routes the document has that the router's source lacks: {unrouted:?}"
    );

    // And the running daemon answers each documented route (not the router's own
    // 404 or 405), asks for a key exactly where the document says so.
    let client = Daemon::client();
    for (method, path) in &documented {
        let url = format!("{}{}", d.url, concrete(path));
        let send = |key: Option<&str>| {
            let mut req = client.request(method.parse().expect("method"), &url);
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let res = req.send().expect("request");
            let status = res.status().as_u16();
            (status, res.text().unwrap_or_default())
        };
        let (status, body) = send(Some(&d.key));
        assert!(
            !(status == 404 && body.contains("no such route")) && status != 405,
            "{method} {path} is documented but the router does not route it: {status} {body}"
        );
        let op = &doc["paths"][path][method.to_lowercase()];
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("apiKey").is_some()));
        let (status, body) = send(None);
        let asked_for_key = status == 401 && body.contains("Authorization: Bearer");
        assert_eq!(
            asked_for_key,
            secured,
            "{method} {path}: the document says a key is {}needed, the daemon answered {status} {body}",
            if secured { "" } else { "not " }
        );
        if secured {
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} needs a key but its 401 is not documented"
            );
        }
    }

    // A route that does not exist is not answered, so the probe above means something.
    let (status, body) = d.call("GET", "/api/v1/no-such-route", None);
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("no such route"), "{body}");
}

/// The schema of `path`'s `method` answer with `status` as `content`.
fn response_schema(doc: &Value, method: &str, path: &str, status: u16, content: &str) -> Value {
    let schema =
        &doc["paths"][path][method]["responses"][status.to_string()]["content"][content]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path}: no documented {status} {content} response"
    );
    schema.clone()
}

/// The schema of the JSON body `path`'s POST takes.
fn request_schema(doc: &Value, path: &str) -> Value {
    let schema =
        &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "POST {path}: no documented JSON body");
    schema.clone()
}

/// Validates each `(what, schema, instance)` with Python's `jsonschema` (Draft
/// 2020-12, OpenAPI 3.1's dialect), the document's components beside the schema so
/// that its `$ref`s resolve. Every object schema is closed first
/// (`unevaluatedProperties: false`), so a field the handler sends that the document
/// does not name fails as much as a missing or mistyped one.
fn validate_all(doc: &Value, cases: &[(String, Value, Value)]) {
    let python = venv_bin("python");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("cases.json");
    let cases: Vec<Value> = cases
        .iter()
        .map(|(what, schema, instance)| json!({"what": what, "schema": schema, "instance": instance}))
        .collect();
    std::fs::write(
        &input,
        serde_json::to_vec(&json!({"components": doc["components"], "cases": cases}))
            .expect("json"),
    )
    .expect("write cases");
    const SCRIPT: &str = r#"
import json, sys
from jsonschema import Draft202012Validator

def close(s):
    if isinstance(s, dict):
        if "properties" in s and "additionalProperties" not in s and "unevaluatedProperties" not in s:
            s["unevaluatedProperties"] = False
        for v in s.values():
            close(v)
    elif isinstance(s, list):
        for v in s:
            close(v)
    return s

data = json.load(open(sys.argv[1]))
components = close(data["components"])
failed = 0
for case in data["cases"]:
    schema = dict(close(case["schema"]))
    schema["components"] = components
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(case["instance"]))
    for e in errors:
        failed += 1
        print(f"{case['what']}: at {list(e.absolute_path)}: {e.message}")
print(f"validated {len(data['cases'])} answers, {failed} errors")
sys.exit(1 if failed else 0)
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&input)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the daemon's answers do not match the document:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("validated {} answers, 0 errors", cases.len())),
        "{stdout}"
    );
}

#[test]
fn real_answers_validate_against_the_documents_response_schemas() {
    let target = Target::start();
    let receiver = Receiver::start();
    let d = Daemon::start(&[]);
    let doc = fetch_document(&d);
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nlabels: {{team: web}}\nalert: {{channels: [ops-hook], failure_threshold: 1}}\n---\nkind: Channel\nname: ops-hook\ntype: webhook\nwebhook: {{url: \"{}\", secret: hush}}\n",
        target.url(),
        receiver.url()
    );
    let req = plan_request("openapi-test", &yaml, json!({}));
    let plan = d.post("/api/v1/plan", &req);
    let applied = d.post("/api/v1/apply", &req);
    target.set_healthy(false);
    let run = d.run_check("shop");
    assert_eq!(run["up"], false, "{run}");
    let incidents = d.get("/api/v1/incidents");
    let id = incidents[0]["id"].as_i64().expect("an incident opened");

    let get = |path: &str| (path.to_string(), d.get(path));
    let mut cases = vec![
        (
            "POST /plan".to_string(),
            response_schema(&doc, "post", "/api/v1/plan", 200, "application/json"),
            plan,
        ),
        (
            "POST /apply".into(),
            response_schema(&doc, "post", "/api/v1/apply", 200, "application/json"),
            applied,
        ),
        (
            "POST /checks/{name}/run".into(),
            response_schema(
                &doc,
                "post",
                "/api/v1/checks/{name}/run",
                200,
                "application/json",
            ),
            run,
        ),
    ];
    for (documented, (path, body)) in [
        ("/api/v1/checks", get("/api/v1/checks")),
        ("/api/v1/checks/{name}", get("/api/v1/checks/shop")),
        (
            "/api/v1/checks/{name}/status",
            get("/api/v1/checks/shop/status"),
        ),
        (
            "/api/v1/checks/{name}/results",
            get("/api/v1/checks/shop/results"),
        ),
        (
            "/api/v1/checks/{name}/report",
            get("/api/v1/checks/shop/report"),
        ),
        (
            "/api/v1/checks/{name}/history",
            get("/api/v1/checks/shop/history"),
        ),
        ("/api/v1/report", get("/api/v1/report?window=7d")),
        (
            "/api/v1/incidents",
            ("/api/v1/incidents".into(), incidents.clone()),
        ),
        (
            "/api/v1/incidents/{id}",
            get(&format!("/api/v1/incidents/{id}")),
        ),
        (
            "/api/v1/incidents/{id}/events",
            get(&format!("/api/v1/incidents/{id}/events")),
        ),
        ("/api/v1/channels", get("/api/v1/channels")),
        ("/api/v1/channels/{name}", get("/api/v1/channels/ops-hook")),
        ("/healthz", get("/healthz")),
        ("/readyz", get("/readyz")),
    ] {
        cases.push((
            format!("GET {path}"),
            response_schema(&doc, "get", documented, 200, "application/json"),
            body,
        ));
    }
    let acked = d.post(
        &format!("/api/v1/incidents/{id}/ack"),
        &json!({"comment": "on it"}),
    );
    cases.push((
        "POST /incidents/{id}/ack".into(),
        response_schema(
            &doc,
            "post",
            "/api/v1/incidents/{id}/ack",
            200,
            "application/json",
        ),
        acked,
    ));
    let (status, update) = d.call(
        "POST",
        &format!("/api/v1/incidents/{id}/updates"),
        Some(&json!({"message": "rolling back", "status": "identified"})),
    );
    assert_eq!(status, 201, "{update}");
    cases.push((
        "POST /incidents/{id}/updates".into(),
        response_schema(
            &doc,
            "post",
            "/api/v1/incidents/{id}/updates",
            201,
            "application/json",
        ),
        update,
    ));
    let resolve = format!("/api/v1/incidents/{id}/resolve");
    for (path, documented, body) in [
        (
            "/api/v1/channels/ops-hook/test",
            "/api/v1/channels/{name}/test",
            json!({}),
        ),
        (
            resolve.as_str(),
            "/api/v1/incidents/{id}/resolve",
            json!({}),
        ),
        (
            "/api/v1/forge/generate",
            "/api/v1/forge/generate",
            json!({"files": {"shop/v1/shop.proto": "syntax = \"proto3\";\npackage shop.v1;\nservice Shop { rpc GetItem(GetItemRequest) returns (Item); rpc DeleteItem(GetItemRequest) returns (Item); }\nmessage GetItemRequest { string id = 1; }\nmessage Item { string id = 1; }\n"}}),
        ),
    ] {
        cases.push((
            format!("POST {path}"),
            response_schema(&doc, "post", documented, 200, "application/json"),
            d.post(path, &body),
        ));
    }
    let (status, created) = d.call("POST", "/api/v1/tenants", Some(&json!({"name": "second"})));
    assert_eq!(status, 201, "{created}");
    cases.push((
        "POST /tenants".into(),
        response_schema(&doc, "post", "/api/v1/tenants", 201, "application/json"),
        created,
    ));

    // Errors: one from a handler, one from the authentication layer, one from a
    // rejected body.
    for (method, path, documented, status, body) in [
        (
            "GET",
            "/api/v1/checks/nope",
            "/api/v1/checks/{name}",
            404,
            None,
        ),
        (
            "GET",
            "/api/v1/report?window=yesterday",
            "/api/v1/report",
            400,
            None,
        ),
        (
            "POST",
            "/api/v1/plan",
            "/api/v1/plan",
            422,
            Some(
                json!({"source": "x", "resources": [{"kind": "Check", "name": "bad", "spec": {}}]}),
            ),
        ),
    ] {
        let (got, answer) = d.call(method, path, body.as_ref());
        assert_eq!(got, status, "{method} {path}: {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
        cases.push((
            format!("{method} {path} ({status})"),
            response_schema(
                &doc,
                &method.to_lowercase(),
                documented,
                status,
                "application/json",
            ),
            answer,
        ));
    }
    let (got, answer) = d.call_as("not-a-key", "GET", "/api/v1/checks", None);
    assert_eq!(got, 401, "{answer}");
    cases.push((
        "GET /checks without a valid key".into(),
        response_schema(&doc, "get", "/api/v1/checks", 401, "application/json"),
        answer,
    ));
    // And what the CLI sends is what the document says a plan takes.
    cases.push((
        "the body of POST /plan".into(),
        request_schema(&doc, "/api/v1/plan"),
        req.clone(),
    ));
    cases.push((
        "the body of POST /incidents/{id}/updates".into(),
        request_schema(&doc, "/api/v1/incidents/{id}/updates"),
        json!({"message": "rolling back", "status": "identified"}),
    ));
    validate_all(&doc, &cases);

    // The paging header is documented on every list that sends it, and sent.
    let second = d.run_check("shop");
    assert!(second.is_object());
    let res = Daemon::client()
        .get(format!("{}/api/v1/checks/shop/results?limit=1", d.url))
        .bearer_auth(&d.key)
        .send()
        .expect("results");
    assert!(
        res.headers().get("x-next-cursor").is_some(),
        "no x-next-cursor on a page with more after it"
    );
    for list in [
        "/api/v1/checks",
        "/api/v1/checks/{name}/results",
        "/api/v1/incidents",
        "/api/v1/channels",
    ] {
        assert!(
            doc["paths"][list]["get"]["responses"]["200"]["headers"]["x-next-cursor"].is_object(),
            "{list}: x-next-cursor is not documented"
        );
    }

    // A deletion answers 204 with no body, as documented.
    assert!(
        doc["paths"]["/api/v1/checks/{name}"]["delete"]["responses"]["204"].is_object(),
        "DELETE /checks/{{name}}: 204 is not documented"
    );
    let (status, _) = d.call("DELETE", "/api/v1/checks/shop", None);
    assert_eq!(status, 204);

    // /metrics is text, and documented as such.
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(
        metrics
            .as_object()
            .is_some_and(|c| c.keys().any(|k| k.starts_with("text/plain"))
                && c.keys()
                    .any(|k| k.starts_with("application/openmetrics-text"))),
        "{metrics}"
    );
}

#[test]
fn a_field_the_document_does_not_name_fails_validation() {
    // The validation above means something: an answer with a field the document
    // lacks, or without one it requires, is refused.
    let d = Daemon::start(&[]);
    let doc = fetch_document(&d);
    let error = response_schema(
        &doc,
        "get",
        "/api/v1/checks/{name}",
        404,
        "application/json",
    );
    let (_, mut answer) = d.call("GET", "/api/v1/checks/nope", None);
    answer["error"]["extra"] = json!(1);
    let out = std::panic::catch_unwind(|| {
        validate_all(
            &doc,
            &[("extra field".into(), error.clone(), answer.clone())],
        )
    });
    assert!(out.is_err(), "an undocumented field passed validation");
    let missing = json!({"error": {"code": "x"}});
    let out = std::panic::catch_unwind(|| {
        validate_all(
            &doc,
            &[("missing message".into(), error.clone(), missing.clone())],
        )
    });
    assert!(out.is_err(), "a missing required field passed validation");
}

#[test]
fn bodies_over_the_limit_answer_413_too_large_as_documented() {
    // The extractors that read a body themselves (an incident action, a webhook's
    // signed bytes) keep the API's error for a body over the limit.
    let d = Daemon::start(&[]);
    let doc = fetch_document(&d);
    let mut cases = Vec::new();
    for (path, documented, size) in [
        (
            "/api/v1/incidents/1/ack",
            "/api/v1/incidents/{id}/ack",
            33 * 1024 * 1024,
        ),
        (
            "/api/v1/integrations/telegram/default/nope",
            "/api/v1/integrations/telegram/{tenant}/{channel}",
            300 * 1024,
        ),
        (
            "/api/v1/integrations/slack/default/nope",
            "/api/v1/integrations/slack/{tenant}/{channel}",
            300 * 1024,
        ),
    ] {
        let res = Daemon::client()
            .post(format!("{}{path}", d.url))
            .bearer_auth(&d.key)
            .header("content-type", "application/json")
            .body(format!("{{\"comment\":\"{}\"}}", "x".repeat(size)))
            .send()
            .expect("request");
        assert_eq!(res.status().as_u16(), 413, "{path}");
        let body: Value = res.json().expect("a JSON error");
        assert_eq!(body["error"]["code"], "too_large", "{path}: {body}");
        cases.push((
            format!("POST {path} (413)"),
            response_schema(&doc, "post", documented, 413, "application/json"),
            body,
        ));
    }
    validate_all(&doc, &cases);
}

#[test]
fn unknown_or_out_of_range_query_parameters_are_refused_as_the_document_says() {
    let d = Daemon::start(&[]);
    // A misspelt filter must not answer the whole list as if it were absent.
    for path in [
        "/api/v1/incidents?stauts=resolved",
        "/api/v1/checks/any/results?limt=5",
        "/api/v1/channels?cursr=x",
        "/api/v1/checks?stat=down",
    ] {
        let (status, body) = d.call("GET", path, None);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid")),
            "{path}: {body}"
        );
        let param = path.split(['?', '=']).nth(1).unwrap_or_default();
        assert!(message.contains(param), "{path}: {message}");
    }
    // `limit` outside 1–1000 is refused, not bent into range.
    for list in [
        "/api/v1/incidents",
        "/api/v1/channels",
        "/api/v1/checks",
        "/api/v1/checks/any/results",
    ] {
        for limit in ["0", "1001", "4294967295"] {
            let (status, body) = d.call("GET", &format!("{list}?limit={limit}"), None);
            assert_eq!(status, 400, "{list}?limit={limit}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("limit"),
                "{body}"
            );
        }
        let (status, body) = d.call("GET", &format!("{list}?limit=1000"), None);
        assert_ne!(status, 400, "{list}: {body}");
    }
    let doc = fetch_document(&d);
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .map(|p| p["schema"].clone())
            .unwrap_or(Value::Null)
    };
    for path in [
        "/api/v1/incidents",
        "/api/v1/channels",
        "/api/v1/checks",
        "/api/v1/checks/{name}/results",
    ] {
        let limit = param(path, "limit");
        assert_eq!(
            (&limit["minimum"], &limit["maximum"]),
            (&json!(1), &json!(1000)),
            "{path}: {limit}"
        );
        assert_eq!(param(path, "cursor")["minLength"], json!(1), "{path}");
    }
    let schemas = &doc["components"]["schemas"];
    // Options are flattened into the plan request.
    assert_eq!(
        schemas["PlanRequest"]["properties"]["source"]["minLength"],
        json!(1),
        "{}",
        schemas["PlanRequest"]
    );
    assert_eq!(
        schemas["TenantRequest"]["properties"]["name"]["pattern"],
        json!("^[a-z0-9-]{1,63}$")
    );
}

#[test]
fn error_statuses_are_those_each_operation_can_give() {
    let d = Daemon::start(&[]);
    // ack and resolve take an optional comment; one sent as anything but JSON is 415.
    for action in ["ack", "resolve"] {
        let res = Daemon::client()
            .post(format!("{}/api/v1/incidents/1/{action}", d.url))
            .bearer_auth(&d.key)
            .header("content-type", "text/plain")
            .body(r#"{"comment": "x"}"#)
            .send()
            .expect("POST");
        assert_eq!(res.status().as_u16(), 415, "{action}");
        let body: Value = res.json().expect("JSON error");
        assert_eq!(body["error"]["code"], "invalid", "{action}");
        // No body needs no type (the incident does not exist: 404).
        let res = Daemon::client()
            .post(format!("{}/api/v1/incidents/1/{action}", d.url))
            .bearer_auth(&d.key)
            .send()
            .expect("POST");
        assert_eq!(res.status().as_u16(), 404, "{action}");
    }
    let doc = fetch_document(&d);
    let mut webhooks = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let responses = &op["responses"];
            let takes_key = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if takes_key {
                assert!(responses.get("403").is_some(), "{method} {path}");
            } else {
                assert!(
                    responses.get("403").is_none(),
                    "{method} {path}: no key, no role to lack"
                );
            }
            if path.contains("/integrations/") {
                webhooks += 1;
                assert!(!takes_key, "{method} {path}");
            }
        }
    }
    assert!(webhooks > 0, "no webhook operations in the document");
    assert_eq!(
        doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"],
        json!(uptimeping::model::ERROR_CODES)
    );
}

#[test]
fn each_operation_states_the_role_its_route_needs_and_password_documents_429() {
    let d = Daemon::start(&[]);
    let doc = fetch_document(&d);
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    for (method, path, role) in [
        ("get", "/api/v1/checks", "viewer"),
        ("post", "/api/v1/apply", "operator"),
        ("get", "/api/v1/users", "admin"),
        ("post", "/api/v1/auth/login", "public"),
        ("get", "/healthz", "public"),
    ] {
        let o = op(method, path);
        assert_eq!(o["x-uptimeping-role"], role, "{method} {path}: {o}");
        let description = o["description"].as_str().unwrap_or_default();
        let says = if role == "public" {
            "Needs no credential.".to_string()
        } else {
            format!("at least the `{role}` role")
        };
        assert!(
            description.contains(&says),
            "{method} {path}: {description}"
        );
    }
    // Every operation says it.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, o) in item.as_object().expect("item") {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                assert!(o["x-uptimeping-role"].is_string(), "{method} {path}");
            }
        }
    }
    let password = op("post", "/api/v1/auth/password");
    assert!(password["responses"]["429"].is_object(), "{password}");
}
