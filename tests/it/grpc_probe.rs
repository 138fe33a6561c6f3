//! `uptimeping test` on `type: grpc` checks against a real tonic server: the
//! health protocol, unary and server-streaming methods of a service described by
//! a `.proto` file, status codes, timeouts, and the mistakes `validate` reports.

use std::net::SocketAddr;
use std::sync::OnceLock;

use serde_json::Value;

use crate::servers::{self, f, failures, probe_files};
use crate::spec_errors::assert_problems;
use crate::support::Files;

pub const SHOP_PROTO: &str = include_str!("../protos/shop.proto");

/// The test server, started once for the whole test binary.
pub fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| crate::grpc_server::start(true))
}

/// A second server whose reflection speaks only v1alpha.
fn v1alpha_server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| crate::grpc_server::start(false))
}

/// One `type: grpc` check with a one-second timeout, then `extra` as written.
pub fn grpc_check(name: &str, target: &str, extra: &str) -> String {
    format!("kind: Check\nname: {name}\ntype: grpc\ntarget: {target}\ntimeout: 1s\n{extra}")
}

/// A check calling `shop.v1.Catalog/{method}` with the proto at `protos/shop.proto`.
fn shop_check(name: &str, method: &str, rest: &str) -> String {
    grpc_check(
        name,
        &server().to_string(),
        &format!(
            "grpc:\n  service: shop.v1.Catalog\n  method: {method}\n  proto: protos/shop.proto\n{rest}"
        ),
    )
}

/// Runs `uptimeping test` over `docs`, with the test proto next to them.
fn run(docs: &[String]) -> servers::Probed {
    let files = Files::new(&[
        ("checks.yaml", &docs.join("---\n")),
        ("protos/shop.proto", SHOP_PROTO),
    ]);
    probe_files(&files, ".", &[])
}

#[test]
fn health_protocol_reports_each_serving_status() {
    let target = server().to_string();
    let probed = run(&[
        grpc_check("whole", &target, "grpc: {health: true}\n"),
        grpc_check(
            "catalog",
            &target,
            "grpc: {health: true, service: shop.v1.Catalog}\n",
        ),
        grpc_check(
            "broken",
            &target,
            "grpc: {health: true, service: shop.v1.Broken}\n",
        ),
        grpc_check(
            "unknown",
            &target,
            "grpc: {health: true, service: shop.v1.Nope}\n",
        ),
    ]);
    assert_eq!(probed.run.code, 2, "stderr: {}", probed.run.stderr);
    for name in ["whole", "catalog"] {
        let r = probed.result(name);
        assert_eq!(r["up"], true, "{name}: {r:#}");
        assert_eq!(r["type"], "grpc");
        assert_eq!(r["body_excerpt"], r#"{"status":"SERVING"}"#);
    }
    let broken = probed.result("broken");
    assert_eq!(broken["up"], false);
    assert_eq!(broken["error_kind"], "expectation");
    assert_eq!(broken["error"], "health: expected SERVING, got NOT_SERVING");
    let unknown = probed.result("unknown");
    assert_eq!(
        failures(unknown),
        [f("code", "OK", "NOT_FOUND: service not registered")]
    );
}

#[test]
fn unary_method_matches_the_response() {
    let probed = run(&[
        shop_check(
            "item",
            "GetItem",
            "  request: {sku: abc-1}\n  metadata: {X-Api-Key: secret}\nexpect:\n  response:\n    display_name: Widget 1\n    state: READY\n    price: {cents: \"1250\"}\n    tags: [blue, small]\n  json_path: {\"$.stock.berlin\": 3}\n  conditions:\n    - code == \"OK\"\n    - response.price.currency == \"EUR\"\n  max_latency: 900ms\n",
        ),
        shop_check(
            "wrong",
            "GetItem",
            "  request: {sku: abc-1}\nexpect:\n  response: {display_name: Widget 2}\n",
        ),
    ]);
    let item = probed.result("item");
    assert_eq!(item["up"], true, "{item:#}");
    let excerpt = item["body_excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with(r#"{"display_name":"Widget 1","price":{"cents":"1250""#),
        "{excerpt}"
    );
    let wrong = probed.result("wrong");
    assert_eq!(wrong["up"], false);
    assert_eq!(
        failures(wrong),
        [f("response.display_name", "\"Widget 2\"", "\"Widget 1\"")]
    );
}

#[test]
fn reflection_describes_the_service_in_either_version() {
    let reflect = |name: &str, target: SocketAddr, method: &str, rest: &str| {
        grpc_check(
            name,
            &target.to_string(),
            &format!(
                "grpc:\n  reflection: true\n  service: shop.v1.Catalog\n  method: {method}\n{rest}"
            ),
        )
    };
    let item = "  request: {sku: abc-1}\nexpect:\n  response: {display_name: Widget 1, price: {currency: EUR}}\n";
    let probed = run(&[
        reflect("v1", server(), "GetItem", item),
        reflect("v1alpha", v1alpha_server(), "GetItem", item),
        reflect(
            "empty",
            server(),
            "Fail",
            "expect: {code: PERMISSION_DENIED}\n",
        ),
        reflect("no-method", server(), "GetItems", ""),
        grpc_check(
            "no-service",
            &server().to_string(),
            "grpc: {reflection: true, service: shop.v1.Nope, method: Get}\n",
        ),
    ]);
    for name in ["v1", "v1alpha", "empty"] {
        let r = probed.result(name);
        assert_eq!(r["up"], true, "{name}: {r:#}");
    }
    assert_eq!(
        probed.result("no-method")["error"],
        "grpc: reflection: `shop.v1.Catalog` has no method `GetItems`"
    );
    let none = probed.result("no-service");
    assert_eq!(none["error_kind"], "protocol");
    assert!(
        none["error"]
            .as_str()
            .unwrap()
            .starts_with("grpc: reflection: NOT_FOUND"),
        "{none:#}"
    );
}

#[test]
fn tls_verifies_the_certificate_unless_insecure() {
    let pki = servers::pki(std::time::Duration::from_secs(30 * 86_400));
    let target = crate::grpc_server::start_tls(&pki).to_string();
    let probed = run(&[
        grpc_check(
            "insecure",
            &target,
            "grpc: {health: true, tls: {insecure: true}}\nexpect: {cert_valid_for: 7d}\n",
        ),
        grpc_check(
            "expiring",
            &target,
            "grpc: {health: true, tls: {insecure: true}}\nexpect: {cert_valid_for: 60d}\n",
        ),
        grpc_check("untrusted", &target, "grpc: {health: true, tls: true}\n"),
        grpc_check(
            "plain",
            &server().to_string(),
            "grpc: {health: true, tls: {insecure: true}}\n",
        ),
    ]);
    let ok = probed.result("insecure");
    assert_eq!(ok["up"], true, "{ok:#}");
    assert!(ok["cert_expires_at"].is_string(), "{ok:#}");
    assert_eq!(failures(probed.result("expiring"))[0].0, "cert_valid_for");
    let untrusted = probed.result("untrusted");
    assert_eq!(untrusted["error_kind"], "tls");
    assert_eq!(
        untrusted["error"],
        "tls: certificate not trusted: unknown issuer (UnknownIssuer)"
    );
    assert_eq!(probed.result("plain")["error_kind"], "tls");
}

#[test]
fn status_codes_are_expected_by_name() {
    let probed = run(&[
        shop_check(
            "missing",
            "GetItem",
            "  request: {sku: zzz}\nexpect:\n  code: NOT_FOUND\n  conditions: ['message == \"no item zzz\"']\n",
        ),
        shop_check(
            "found-but-expected-missing",
            "GetItem",
            "  request: {sku: abc-1}\nexpect: {code: not_found}\n",
        ),
        shop_check("closed", "Fail", ""),
    ]);
    assert_eq!(
        probed.result("missing")["up"],
        true,
        "{:#}",
        probed.result("missing")
    );
    assert_eq!(
        failures(probed.result("found-but-expected-missing")),
        [f("code", "NOT_FOUND", "OK")]
    );
    assert_eq!(probed.result("missing")["grpc_code"], "NOT_FOUND");
    assert_eq!(probed.result("missing")["status_code"], Value::Null);
    let closed = probed.result("closed");
    assert_eq!(
        closed["error"],
        "code: expected OK, got PERMISSION_DENIED: catalog is closed"
    );
    assert_eq!(closed["error_kind"], "expectation");
}

#[test]
fn server_streaming_reads_up_to_max_messages() {
    let probed = run(&[
        shop_check(
            "first",
            "ListItems",
            "  request: {count: 3}\nexpect:\n  response: {sku: sku-1}\n",
        ),
        shop_check(
            "two",
            "ListItems",
            "  request: {count: 3}\n  max_messages: 2\nexpect:\n  conditions: ['size(response) == 2', 'response[1].sku == \"sku-2\"']\n",
        ),
    ]);
    for name in ["first", "two"] {
        let r = probed.result(name);
        assert_eq!(r["up"], true, "{name}: {r:#}");
    }
}

#[test]
fn a_slow_method_times_out_and_a_closed_port_is_a_connect_error() {
    let probed = run(&[
        shop_check("slow", "Slow", "  request: {millis: 3000}\n"),
        grpc_check(
            "closed",
            &format!("127.0.0.1:{}", servers::closed_port()),
            "grpc: {health: true}\n",
        ),
    ]);
    let slow = probed.result("slow");
    assert_eq!(slow["up"], false);
    assert_eq!(slow["error_kind"], "timeout");
    assert_eq!(slow["error"], "timeout after 1s");
    assert!(slow["latency_ms"].as_f64().unwrap() < 2000.0, "{slow:#}");
    let closed = probed.result("closed");
    assert_eq!(closed["error_kind"], "connect");
    assert_eq!(closed["error"], "connection refused");
    assert_eq!(closed["body_excerpt"], Value::Null);
}

#[test]
fn imports_resolve_through_import_paths() {
    let files = Files::new(&[
        (
            "checks/pay.yaml",
            "kind: Check\nname: pay\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  service: pay.v1.Payments\n  method: Get\n  proto: ../api/pay.proto\n  import_paths: [../lib]\n  request: {amount: {cents: \"5\"}}\n",
        ),
        (
            "api/pay.proto",
            "syntax = \"proto3\";\npackage pay.v1;\nimport \"common/money.proto\";\nservice Payments { rpc Get(Req) returns (common.Money); }\nmessage Req { common.Money amount = 1; }\n",
        ),
        (
            "lib/common/money.proto",
            "syntax = \"proto3\";\npackage common;\nmessage Money { int64 cents = 1; }\n",
        ),
    ]);
    let run = files.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let moved = Files::new(&[(
        "checks/pay.yaml",
        "kind: Check\nname: pay\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  service: pay.v1.Payments\n  method: Get\n  proto: ../api/pay.proto\n",
    )]);
    let run = moved.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("checks/pay.yaml:8:10: `grpc.proto`: "),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_checks_tls_and_health_settings() {
    let yaml = "kind: Check\nname: a\ntype: grpc\ntarget: localhost:443\ngrpc: {health: true, tls: false, reflection: true}\nexpect: {cert_valid_for: 7d}\n---\nkind: Check\nname: b\ntype: grpc\ntarget: localhost:443\n";
    assert_problems(
        &[("checks/api.yaml", yaml)],
        &[
            "checks/api.yaml:5:34: `grpc.reflection`: does not apply with `health: true`, which \
             calls `grpc.health.v1.Health/Check`",
            "checks/api.yaml:6:26: `expect.cert_valid_for` needs `grpc.tls: true`",
            "checks/api.yaml:10:7: a `grpc` check needs a `grpc:` section with `health: true`, \
             or `service` and `method` with `proto` or `reflection: true`",
        ],
    );
}

#[test]
fn validate_checks_the_call_against_the_proto() {
    let check = |name: &str, grpc: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  proto: ../protos/shop.proto\n{grpc}"
        )
    };
    let yaml = [
        check("svc", "  service: shop.v1.Catalogue\n  method: GetItem\n"),
        check("meth", "  service: shop.v1.Catalog\n  method: GetItems\n"),
        check(
            "field",
            "  service: shop.v1.Catalog\n  method: GetItem\n  request: {sku: a, colour: red}\n",
        ),
        check(
            "nested",
            "  service: shop.v1.Catalog\n  method: ListItems\n  request:\n    count: \"many\"\n",
        ),
        check("upload", "  service: shop.v1.Catalog\n  method: Upload\nexpect: {code: GONE, response: \"x\"}\n"),
        check("both", "  reflection: true\n  service: shop.v1.Catalog\n  method: GetItem\n"),
        "kind: Check\nname: health\ntype: grpc\ntarget: localhost\ngrpc: {health: true, method: Check}\n".to_string(),
    ]
    .join("---\n");
    assert_problems(
        &[
            ("checks/api.yaml", &yaml),
            ("protos/shop.proto", SHOP_PROTO),
        ],
        &[
            "checks/api.yaml:7:12: `grpc.service`: `shop.v1.Catalogue` is not defined in \
             `shop.proto` (did you mean `shop.v1.Catalog`?)",
            "checks/api.yaml:17:11: `grpc.method`: `shop.v1.Catalog` has no method `GetItems`; \
             it has `GetItem`, `ListItems`, `Fail`, `Slow`, `Upload`",
            "checks/api.yaml:27:21: `grpc.request`: `colour` is not a field of \
             `shop.v1.GetItemRequest`",
            "checks/api.yaml:38:5: `grpc.request`: not a valid `shop.v1.ListItemsRequest`: \
             invalid digit found in string",
            "checks/api.yaml:47:11: `grpc.method`: `Upload` is a client-streaming method; only \
             unary and server-streaming methods can be checked",
            "checks/api.yaml:48:16: `expect.code`: `GONE` is not a gRPC status code; expected \
             e.g. `OK` or `NOT_FOUND`",
            "checks/api.yaml:48:32: `expect.response`: a `grpc` check expects a mapping of \
             response fields",
            "checks/api.yaml:55:3: `grpc`: give one of `proto`, `descriptor_set` or \
             `reflection: true` to describe the service",
            "checks/api.yaml:63:9: `target`: `localhost` is not `host:port`; expected e.g. \
             `payments.internal:443`",
            "checks/api.yaml:64:22: `grpc.method`: does not apply with `health: true`, which \
             calls `grpc.health.v1.Health/Check`",
        ],
    );
}

/// `tests/protos/shop.proto` compiled into an encoded `FileDescriptorSet`, as
/// `protoc --include_imports -o` writes it; without `imports`, as plain `-o` does.
pub fn shop_descriptor_set(imports: bool) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/protos");
    let mut compiler = protox::Compiler::new([dir]).unwrap();
    compiler.include_imports(imports);
    compiler.open_file("shop.proto").unwrap();
    compiler.encode_file_descriptor_set()
}

/// `validate -f checks` over `files` plus binary `blobs`: its stderr, line by line.
fn validate_with(files: &[(&str, &str)], blobs: &[(&str, &[u8])]) -> Vec<String> {
    let dir = Files::new(files);
    for (name, bytes) in blobs {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let run = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.stderr.lines().map(str::to_string).collect()
}

#[test]
fn a_descriptor_set_describes_the_call() {
    let files = Files::new(&[(
        "checks.yaml",
        &[
            grpc_check(
                "item",
                &server().to_string(),
                "grpc:\n  service: shop.v1.Catalog\n  method: GetItem\n  descriptor_set: api/shop.pb\n  request: {sku: abc-1}\nexpect:\n  response: {display_name: Widget 1, state: READY}\n",
            ),
            grpc_check(
                "missing",
                &server().to_string(),
                "grpc:\n  service: shop.v1.Catalog\n  method: GetItem\n  descriptor_set: api/shop.pb\n  request: {sku: zzz}\n",
            ),
        ]
        .join("---\n"),
    )]);
    std::fs::create_dir_all(files.path().join("api")).unwrap();
    std::fs::write(files.path().join("api/shop.pb"), shop_descriptor_set(true)).unwrap();
    let probed = probe_files(&files, ".", &[]);
    let item = probed.result("item");
    assert_eq!(item["up"], true, "{item:#}");
    let missing = probed.result("missing");
    assert_eq!(missing["up"], false);
    assert_eq!(
        failures(missing),
        [f("code", "OK", "NOT_FOUND: no item zzz")]
    );
    // The set travels inline: the canonical form carries it, not the path.
    let text = std::fs::read_to_string(files.path().join("checks.yaml")).unwrap();
    let sources = [uptimeping::spec::Source::new(
        "checks.yaml",
        text,
        files.path(),
    )];
    let bundle = uptimeping::spec::load(&sources, &|_: &str| None).unwrap();
    let item = bundle
        .resources
        .iter()
        .find(|r| r.spec.name() == "item")
        .unwrap();
    let grpc = uptimeping::spec::canonical(&item.spec)["grpc"].clone();
    assert_eq!(grpc["descriptor_set"], Value::Null, "{grpc:#}");
    let inline = grpc["descriptor_set_base64"].as_str().unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(inline)
        .unwrap();
    assert_eq!(decoded, shop_descriptor_set(true));
}

#[test]
fn validate_checks_the_call_against_the_descriptor_set() {
    let check = |name: &str, grpc: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  descriptor_set: ../api/shop.pb\n{grpc}"
        )
    };
    let yaml = [
        check("svc", "  service: shop.v1.Catalogue\n  method: GetItem\n"),
        check("meth", "  service: shop.v1.Catalog\n  method: GetItems\n"),
        check(
            "field",
            "  service: shop.v1.Catalog\n  method: GetItem\n  request: {sku: a, colour: red}\n",
        ),
        check(
            "both",
            "  proto: ../api/shop.proto\n  service: shop.v1.Catalog\n  method: GetItem\n",
        ),
        "kind: Check\nname: gone\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  descriptor_set: ../api/gone.pb\n  service: shop.v1.Catalog\n  method: GetItem\n".into(),
        "kind: Check\nname: junk\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  descriptor_set: ../api/junk.pb\n  service: shop.v1.Catalog\n  method: GetItem\n".into(),
        "kind: Check\nname: partial\ntype: grpc\ntarget: localhost:50051\ngrpc:\n  descriptor_set: ../api/partial.pb\n  service: shop.v1.Catalog\n  method: GetItem\n".into(),
    ]
    .join("---\n");
    let full = shop_descriptor_set(true);
    let partial = shop_descriptor_set(false);
    let lines = validate_with(
        &[("checks/api.yaml", &yaml), ("api/shop.proto", SHOP_PROTO)],
        &[
            ("api/shop.pb", &full),
            ("api/junk.pb", b"\x0a\xffnot a descriptor set"),
            ("api/partial.pb", &partial),
        ],
    );
    let expected = [
        "checks/api.yaml:7:12: `grpc.service`: `shop.v1.Catalogue` is not defined in \
         `../api/shop.pb` (did you mean `shop.v1.Catalog`?)",
        "checks/api.yaml:17:11: `grpc.method`: `shop.v1.Catalog` has no method `GetItems`; \
         it has `GetItem`, `ListItems`, `Fail`, `Slow`, `Upload`",
        "checks/api.yaml:27:21: `grpc.request`: `colour` is not a field of \
         `shop.v1.GetItemRequest`",
        "checks/api.yaml:34:3: `grpc`: give one of `proto`, `descriptor_set` or \
         `reflection: true` to describe the service",
    ];
    assert_eq!(lines[..4], expected, "{lines:#?}");
    assert!(
        lines[4].starts_with("checks/api.yaml:44:19: `grpc.descriptor_set`: cannot read `"),
        "{lines:#?}"
    );
    assert!(
        lines[5]
            .starts_with("checks/api.yaml:53:19: `grpc.descriptor_set`: not a FileDescriptorSet: "),
        "{lines:#?}"
    );
    assert!(
        lines[6].starts_with(
            "checks/api.yaml:62:19: `grpc.descriptor_set`: not a complete FileDescriptorSet: "
        ) && lines[6].ends_with("(write it with `protoc --include_imports`)"),
        "{lines:#?}"
    );
    assert_eq!(
        lines[7],
        "uptimeping: 7 problems in the check files; fix them and run again"
    );
}

/// `pem` as a YAML block scalar indented by `indent` spaces.
pub fn pem_block(pem: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let lines: String = pem.lines().map(|l| format!("{pad}{l}\n")).collect();
    format!("|\n{lines}")
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let mutual = crate::grpc_server::mutual_pki();
    let target = crate::grpc_server::start_mutual_tls(&mutual).to_string();
    let plain_tls = servers::pki(std::time::Duration::from_secs(30 * 86_400));
    let one_way = crate::grpc_server::start_tls(&plain_tls).to_string();
    let files = "tls/ca.pem, client_cert_file: tls/client.pem, client_key_file: tls/client.key";
    let inline = format!(
        "grpc:\n  health: true\n  tls:\n    ca: {}    client_cert: {}    client_key: {}",
        pem_block(&mutual.ca_pem, 6),
        pem_block(&mutual.client_cert_pem, 6),
        pem_block(&mutual.client_key_pem, 6),
    );
    let docs = [
        grpc_check(
            "mutual",
            &target,
            &format!("grpc: {{health: true, tls: {{ca_file: {files}}}}}\n"),
        ),
        grpc_check("inline", &target, &inline),
        grpc_check(
            "no-client-cert",
            &target,
            "grpc: {health: true, tls: {ca_file: tls/ca.pem}}\n",
        ),
        grpc_check(
            "system-roots",
            &target,
            "grpc: {health: true, tls: {client_cert_file: tls/client.pem, client_key_file: tls/client.key}}\n",
        ),
        grpc_check(
            "ca-trusted",
            &one_way,
            "grpc: {health: true, tls: {ca_file: tls/one-way-ca.pem}}\n",
        ),
    ];
    let dir = Files::new(&[
        ("checks.yaml", &docs.join("---\n")),
        ("tls/ca.pem", &mutual.ca_pem),
        ("tls/client.pem", &mutual.client_cert_pem),
        ("tls/client.key", &mutual.client_key_pem),
        ("tls/one-way-ca.pem", &plain_tls.ca_pem),
    ]);
    let probed = probe_files(&dir, ".", &[]);
    for name in ["mutual", "inline", "ca-trusted"] {
        let r = probed.result(name);
        assert_eq!(r["up"], true, "{name}: {r:#}");
        assert!(r["cert_expires_at"].is_string(), "{name}: {r:#}");
    }
    let refused = probed.result("no-client-cert");
    assert_eq!(refused["up"], false);
    assert_eq!(
        refused["error_kind"], "tls",
        "{refused:#} {}",
        probed.run.stderr
    );
    assert_eq!(
        refused["error"],
        "tls: the server requires a client certificate (`tls.client_cert_file`)"
    );
    let untrusted = probed.result("system-roots");
    assert_eq!(untrusted["error_kind"], "tls");
    assert_eq!(
        untrusted["error"],
        "tls: certificate not trusted: unknown issuer (UnknownIssuer)"
    );
}

#[test]
fn validate_reads_and_checks_the_tls_files() {
    let mutual = crate::grpc_server::mutual_pki();
    let other = crate::grpc_server::mutual_pki();
    let check = |name: &str, tls: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: grpc\ntarget: localhost:443\ngrpc:\n  health: true\n  tls: {tls}\n"
        )
    };
    let yaml = [
        check("junk-ca", "{ca_file: ../tls/junk.pem}"),
        check(
            "mismatch",
            "{client_cert_file: ../tls/client.pem, client_key_file: ../tls/other.key}",
        ),
        check("no-key", "{client_cert_file: ../tls/client.pem}"),
        check("gone", "{ca_file: ../tls/gone.pem}"),
        check("both", "{insecure: true, ca_file: ../tls/ca.pem}"),
        check("twice", "{ca_file: ../tls/ca.pem, ca: x}"),
        check("typo", "{ca_fil: ../tls/ca.pem}"),
    ]
    .join("---\n");
    let lines = validate_with(
        &[
            ("checks/api.yaml", &yaml),
            ("tls/junk.pem", "not a certificate\n"),
            ("tls/ca.pem", &mutual.ca_pem),
            ("tls/client.pem", &mutual.client_cert_pem),
            ("tls/other.key", &other.client_key_pem),
        ],
        &[],
    );
    let expected = [
        "checks/api.yaml:7:18: `grpc.tls.ca_file`: no PEM certificate found",
        "checks/api.yaml:15:63: `grpc.tls.client_key_file`: the key does not belong to the \
         client certificate",
        "checks/api.yaml:23:27: `grpc.tls.client_cert_file`: needs the certificate's key: \
         `client_key_file` or `client_key`",
    ];
    assert_eq!(lines[..3], expected, "{lines:#?}");
    assert!(
        lines[3].starts_with("checks/api.yaml:31:18: `grpc.tls.ca_file`: cannot read `"),
        "{lines:#?}"
    );
    assert_eq!(
        lines[4..],
        [
            "checks/api.yaml:39:25: `grpc.tls`: `insecure: true` trusts any certificate; remove \
             `insecure` or the CA",
            "checks/api.yaml:47:9: `grpc.tls`: give `ca_file` or `ca`, not both",
            "checks/api.yaml:55:9: unknown field `ca_fil` in `grpc.tls` (did you mean \
             `ca_file`?); expected one of `insecure`, `ca_file`, `ca`, `client_cert_file`, \
             `client_cert`, `client_key_file`, `client_key`",
            "uptimeping: 7 problems in the check files; fix them and run again",
        ],
        "{lines:#?}"
    );
}
