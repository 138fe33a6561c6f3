//! gRPC checks through the daemon, end to end: the real CLI applies a directory
//! of checks described by a `.proto` with imports, the health protocol and
//! server reflection; results, plans, edits and an incident follow. Also the
//! reflection cache, counted at the server, and `test` over every check type.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::daemon_support::{Daemon, plan_request, wait_for};
use crate::grpc_server::{self, Versioned};
use crate::support::Files;

/// The catalog's service, split over two files in two directories.
const CATALOG_PROTO: &str = "syntax = \"proto3\";\npackage shop.v1;\nimport \"shop/v1/item.proto\";\nservice Catalog { rpc GetItem(GetItemRequest) returns (Item); }\n";
const ITEM_PROTO: &str = "syntax = \"proto3\";\npackage shop.v1;\nmessage GetItemRequest { string sku = 1; }\nmessage Item { string sku = 1; string display_name = 2; }\n";

fn shop_checks(target: &str, request: &str) -> String {
    format!(
        "kind: Check
name: item
type: grpc
target: {target}
schedule: 5s
timeout: 2s
grpc:
  service: shop.v1.Catalog
  method: GetItem
  proto: ../api/catalog.proto
  import_paths: [../lib]
  request: {request}
expect:
  response: {{display_name: Widget 1}}
alert: {{failure_threshold: 1}}
---
kind: Check
name: health
type: grpc
target: {target}
schedule: 5s
timeout: 2s
grpc: {{health: true, service: shop.v1.Catalog}}
---
kind: Check
name: reflected
type: grpc
target: {target}
schedule: 5s
timeout: 2s
grpc:
  reflection: true
  service: shop.v1.Catalog
  method: ListItems
  request: {{count: 2}}
expect:
  response: {{sku: sku-1}}
"
    )
}

const NO_CHANGES: &str =
    "No changes. Live state matches the files.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n";

#[test]
fn grpc_checks_apply_run_change_and_open_an_incident() {
    let (addr, closed) = grpc_server::start_switchable();
    let target = addr.to_string();
    let d = Daemon::builder()
        .file("checks/shop.yaml", &shop_checks(&target, "{sku: abc-1}"))
        .file("api/catalog.proto", CATALOG_PROTO)
        .file("lib/shop/v1/item.proto", ITEM_PROTO)
        .start();
    d.run(&["apply", "-f", "checks", "--auto-approve"])
        .success()
        .stdout_ends_with("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n");
    for name in ["item", "health", "reflected"] {
        d.wait_state(name, "up");
    }
    d.run(&["plan", "-f", "checks", "--detailed-exitcode"])
        .success()
        .stdout_is(NO_CHANGES);

    // The same request spelled otherwise is no change; another one is.
    d.write(
        "checks/shop.yaml",
        &shop_checks(&target, "{\"sku\": \"abc-1\"}"),
    );
    d.run(&["plan", "-f", "checks", "--detailed-exitcode"])
        .success();
    d.write(
        "checks/shop.yaml",
        &shop_checks(&target, "{sku: abc-2}")
            .replace("response: {display_name: Widget 1}", "code: NOT_FOUND"),
    );
    let plan = d
        .run(&["plan", "-f", "checks", "--detailed-exitcode"])
        .expect_code(2);
    assert!(
        plan.stdout
            .starts_with("  ~ Check item (checks/shop.yaml:2)\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("      ~ grpc.request.sku = \"abc-1\" -> \"abc-2\"\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .ends_with("Plan: 0 to add, 1 to change, 0 to destroy.\n"),
        "{}",
        plan.stdout
    );
    d.run(&["apply", "-f", "checks", "--auto-approve"])
        .success()
        .stdout_ends_with("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.\n");
    let run = d.run_check("item");
    assert_eq!(run["up"], true, "{run:#}");
    assert_eq!(run["grpc_code"], "NOT_FOUND");

    // The method starts failing with a status of its own: an incident opens
    // whose error names it.
    closed.store(true, Ordering::SeqCst);
    let run = d.run_check("item");
    assert_eq!(run["up"], false, "{run:#}");
    let incident = wait_for("an open incident", || {
        let list = d.get("/api/v1/incidents?check=item&status=open");
        list.as_array().and_then(|l| l.first().cloned())
    });
    assert_eq!(
        incident["error"],
        "code: expected NOT_FOUND, got UNAVAILABLE: closed for stocktaking"
    );
}

#[test]
fn reflected_descriptions_are_cached_until_the_api_changes() {
    let server = Versioned::start();
    let d = Daemon::start(&[]);
    let yaml = format!(
        "kind: Check\nname: flip\ntype: grpc\ntarget: {}\nschedule: 1h\ntimeout: 2s\ngrpc: {{reflection: true, service: flip.v1.Flip, method: Get}}\n",
        server.addr
    );
    d.apply("repo", &yaml);
    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(d.run_check("flip"));
    }
    for run in &runs {
        assert_eq!(run["up"], true, "{run:#}");
        assert_eq!(run["body_excerpt"], r#"{"name":"one"}"#);
    }
    assert_eq!(server.reflections(), 1);

    // The reply changes shape: the cached description cannot read it, that run
    // fails and drops it, and the next run asks again and reads the new reply.
    server.upgrade();
    let stale = d.run_check("flip");
    assert_eq!(stale["up"], false);
    assert_eq!(stale["error_kind"], "protocol");
    assert!(
        stale["error"]
            .as_str()
            .unwrap()
            .starts_with("grpc: the response is not a `flip.v1.Reply`: "),
        "{stale:#}"
    );
    let fresh = d.run_check("flip");
    assert_eq!(fresh["up"], true, "{fresh:#}");
    assert_eq!(fresh["body_excerpt"], r#"{"count":"7"}"#);
    assert_eq!(server.reflections(), 2);
    let again = d.run_check("flip");
    assert_eq!(again["up"], true, "{again:#}");
    assert_eq!(server.reflections(), 2);
}

#[test]
fn one_test_run_reflects_once_for_checks_sharing_a_service() {
    let server = Versioned::start();
    let docs: Vec<String> = (1..=3)
        .map(|i| {
            format!(
                "kind: Check\nname: flip-{i}\ntype: grpc\ntarget: {}\ntimeout: 2s\ngrpc: {{reflection: true, service: flip.v1.Flip, method: Get}}\n",
                server.addr
            )
        })
        .collect();
    let files = Files::new(&[("checks.yaml", &docs.join("---\n"))]);
    let probed = crate::servers::probe_files(&files, ".", &[]);
    assert_eq!(probed.run.code, 0, "{:#?}", probed.results);
    assert_eq!(probed.results.len(), 3);
    assert_eq!(server.reflections(), 1);
}

#[test]
fn test_runs_every_check_type_from_one_directory() {
    let http = crate::servers::http();
    let tcp = crate::tcp_probe::banner();
    let gql = crate::graphql_probe::graphql_server();
    let grpc = crate::grpc_probe::server();
    let files = Files::new(&[
        (
            "checks/web.yaml",
            &crate::servers::check("web", &http.url("/ok"), "expect:\n  status: 200\n"),
        ),
        (
            "checks/mail.yaml",
            &crate::tcp_probe::tcp_check("mail", tcp, "expect:\n  response: /^220 /\n"),
        ),
        (
            "checks/graphql/catalog.yaml",
            &format!(
                "kind: Check\nname: catalog\ntype: graphql\ntarget: http://{gql}/graphql\ngraphql:\n  query: '{{ item(sku: \"abc-1\") {{ name }} }}'\nexpect:\n  data: {{item: {{name: Widget}}}}\n"
            ),
        ),
        (
            "checks/grpc/shop.yaml",
            &crate::grpc_probe::grpc_check(
                "shop",
                &grpc.to_string(),
                "grpc:\n  service: shop.v1.Catalog\n  method: GetItem\n  proto: ../../protos/shop.proto\n  request: {sku: abc-1}\nexpect:\n  response: {display_name: Widget 1}\n",
            ),
        ),
        ("protos/shop.proto", crate::grpc_probe::SHOP_PROTO),
    ]);
    let out = crate::servers::probe_files(&files, "checks", &[]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    let mut seen: Vec<(String, String, bool)> = out
        .results
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["type"].as_str().unwrap().to_string(),
                r["up"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    let want: Vec<(String, String, bool)> = [
        ("catalog", "graphql"),
        ("mail", "tcp"),
        ("shop", "grpc"),
        ("web", "http"),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string(), true))
    .collect();
    assert_eq!(seen, want);
    let shop: &Value = out.result("shop");
    assert_eq!(shop["grpc_code"], "OK");
}

#[test]
fn a_client_key_is_a_secret_and_never_comes_back() {
    let d = Daemon::start(&[]);
    let pki = grpc_server::mutual_pki();
    let block = crate::grpc_probe::pem_block;
    let yaml = format!(
        "kind: Check\nname: k\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\ntcp:\n  tls:\n    client_cert: {}    client_key: {}",
        block(&pki.client_cert_pem, 6),
        block(&pki.client_key_pem, 6),
    );
    let plan = d.post("/api/v1/plan", &plan_request("repo", &yaml, json!({})));
    d.apply("repo", &yaml);
    let detail = d.get("/api/v1/checks/k");
    let everything = format!("{plan}{detail}");
    let key_body = pki.client_key_pem.lines().nth(1).unwrap();
    assert!(!everything.contains(key_body), "{everything}");
    let tls = &detail["spec"]["tcp"]["tls"];
    assert_eq!(tls["client_key"], "(sensitive value)", "{detail:#}");
    assert_eq!(tls["client_cert"], pki.client_cert_pem.as_str());
}

/// Files where each `.proto` imports the next, as on disk for a check.
fn chain_files(n: usize) -> Vec<(String, String)> {
    crate::forge_api::import_chain(n)
        .into_iter()
        .map(|(k, v)| {
            (
                format!("protos/{k}"),
                v.as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

const CHAIN_CHECK: &str = "kind: Check
name: chain
type: grpc
target: 127.0.0.1:1
schedule: 5s
timeout: 2s
grpc:
  service: p0.S
  method: Get
  proto: ../protos/f0.proto
";

/// Replaces the `grpc` object wherever it is in `v`.
fn set_grpc(v: &mut Value, grpc: &Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("grpc") {
                m.insert("grpc".into(), grpc.clone());
            }
            m.values_mut().for_each(|x| set_grpc(x, grpc));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| set_grpc(x, grpc)),
        _ => {}
    }
}

#[test]
fn deep_import_chains_validate_and_plan_within_the_file_limit_and_are_refused_beyond() {
    let daemon = Daemon::start(&[]);
    let mut files = chain_files(500);
    files.push(("checks/chain.yaml".into(), CHAIN_CHECK.into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = Files::new(&refs);
    dir.run(&["validate", "-f", "checks"]).success();
    let plan = daemon
        .cli(dir.path())
        .words("plan -f checks")
        .run()
        .success();
    assert!(plan.stdout.contains("chain"), "{}", plan.stdout);

    // Far longer chains are refused at the check's `proto:`, not overflowed.
    let mut files = chain_files(3000);
    files.push(("checks/chain.yaml".into(), CHAIN_CHECK.into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = Files::new(&refs);
    let run = dir.run(&["validate", "-f", "checks"]).expect_code(1);
    assert!(
        run.stderr.contains("chain.yaml:10:10:")
            && run.stderr.contains("more than 500 .proto files"),
        "{}",
        run.stderr
    );

    // Inline sources sent to the daemon: 500 compile, 501 are refused.
    let health = "kind: Check\nname: chain\ntype: grpc\ntarget: 127.0.0.1:1\nschedule: 5s\ntimeout: 2s\ngrpc: {health: true}\n";
    for (n, ok) in [(500, true), (501, false)] {
        let mut req = plan_request("chains", health, json!({}));
        let grpc = json!({
            "service": "p0.S", "method": "Get", "proto": "f0.proto",
            "proto_files": crate::forge_api::import_chain(n),
        });
        set_grpc(&mut req, &grpc);
        let (status, body) = daemon.call("POST", "/api/v1/plan", Some(&req));
        if ok {
            assert_eq!(status, 200, "{body}");
        } else {
            assert_eq!(status, 422, "{body}");
            assert!(body.to_string().contains("at most 500"), "{body}");
        }
        let (status, body) = daemon.call("GET", "/healthz", None);
        assert_eq!(status, 200, "{body}");
    }
}
