//! Forge never generates a check that changes things unless asked: over
//! `acme/operations/v1/operations.proto` (shaped like google.longrunning, with
//! `idempotency_level` and `google.api.http` options), the default output has
//! only methods that read, `uptimeping test` never calls a write at the
//! server, and `--include-writes` brings them back with a warning. Request
//! values given with `--set`/`--values` replace the sampled placeholders, and
//! `grpc.proto` paths resolve wherever the output is written.

use std::path::Path;

use serde_json::{Value, json};

use crate::daemon_support::Daemon;
use crate::forge::{corpus, forge_dir};
use crate::forge_server::start_operations;
use crate::support::{Files, Run, run_in};

const OPS: &str = "protos/acme/operations/v1/operations.proto";
const WRITES: [&str; 3] = ["DeleteOperation", "CancelOperation", "GetLease"];
const READS: [&str; 4] = [
    "ListOperations",
    "GetOperation",
    "WaitOperation",
    "OperationTally",
];

fn generate_ops(dir: &Files, extra: &[&str]) -> Run {
    let mut args = vec!["forge", "generate", "--proto", OPS, "-I", "protos"];
    args.extend(extra);
    dir.run(&args)
}

fn methods_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("  method: "))
        .map(|m| m.trim_matches('"').to_string())
        .collect()
}

#[test]
fn by_default_only_methods_that_read_get_checks_and_the_rest_are_listed() {
    let dir = corpus();
    let run = generate_ops(&dir, &["-o", "checks"]).success();
    let text = std::fs::read_to_string(dir.join("checks/operations.yaml")).unwrap();
    assert_eq!(methods_in(&text), READS, "{text}");
    for (method, reason) in [
        (
            "DeleteOperation",
            "it may change data: its `google.api.http` binding is DELETE",
        ),
        (
            "CancelOperation",
            "it may change data: its `google.api.http` binding is POST",
        ),
        (
            "GetLease",
            "it may change data: it is declared `idempotency_level = IDEMPOTENT`, which allows side effects",
        ),
    ] {
        let line = format!("#   acme.operations.v1.Operations/{method}: {reason}\n");
        assert!(text.contains(&line), "{line}: {text}");
        let err = format!(
            "skipped acme.operations.v1.Operations/{method}: {reason}; --include-writes generates it\n"
        );
        assert!(run.stderr.contains(&err), "{err}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("warning: --include-writes"));
    assert!(text.contains("--include-writes"), "{text}");
    dir.run(&["validate", "-f", "checks"]).success();

    // `forge validate -o json` says the same.
    let doc = dir
        .run(&[
            "forge", "validate", "--proto", OPS, "-I", "protos", "-o", "json",
        ])
        .json();
    let skipped: Vec<&str> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        WRITES.map(|m| format!("acme.operations.v1.Operations/{m}"))
    );
    let methods = doc["services"][0]["methods"].as_array().unwrap();
    assert_eq!(methods[0]["reads"], true);
    assert_eq!(methods[2]["reads"], false);
}

#[test]
fn include_writes_generates_them_with_a_warning_and_method_needs_it_too() {
    let dir = corpus();
    let run = generate_ops(&dir, &["--include-writes"]).success();
    let methods = methods_in(&run.stdout);
    for m in READS.iter().chain(&WRITES) {
        assert!(methods.contains(&m.to_string()), "{m}: {}", run.stdout);
    }
    assert!(
        run.stderr.contains("warning: --include-writes: these checks call methods that may change data on every run: acme.operations.v1.Operations/DeleteOperation (it may change data: its `google.api.http` binding is DELETE), acme.operations.v1.Operations/CancelOperation"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("# WARNING: it may change data: its `google.api.http` binding is DELETE.\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("skipped "), "{}", run.stderr);

    // Naming a write is not enough.
    let run = generate_ops(&dir, &["--method", "DeleteOperation"]).expect_code(1);
    assert!(
        run.stderr.contains("--method names a method that may change data: `acme.operations.v1.Operations/DeleteOperation`")
            && run.stderr.contains("pass --include-writes"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = generate_ops(&dir, &["--method", "DeleteOperation", "--include-writes"]).success();
    assert_eq!(methods_in(&run.stdout), ["DeleteOperation"]);

    // Only writes and no health checks: nothing to generate, and why.
    let writes_only = Files::new(&[(
        "api/w.proto",
        "syntax = \"proto3\";\npackage w;\nmessage M {}\nservice S { rpc DeleteThing(M) returns (M); }\n",
    )]);
    let run = writes_only
        .run(&["forge", "generate", "--proto", "api/w.proto", "--no-health"])
        .expect_code(1);
    assert!(
        run.stderr.contains("nothing to generate: every method that can be checked may change data (`w.S/DeleteThing`); include them with --include-writes"),
        "{}",
        run.stderr
    );
}

#[test]
fn uptimeping_test_never_calls_a_write_method_by_default() {
    let (addr, calls) = start_operations();
    let dir = corpus();
    let target = addr.to_string();
    generate_ops(&dir, &["--target", &target, "-o", "checks"]).success();
    let test = dir.run(&["test", "-f", "checks", "-o", "json"]);
    let results = test.json();
    assert_eq!(results.as_array().unwrap().len(), 5, "{results}");
    for m in WRITES {
        assert_eq!(calls.get(m), 0, "{m} was called: {:?}", calls.all());
    }
    for m in READS {
        assert_eq!(calls.get(m), 1, "{m}: {:?}", calls.all());
    }

    // The counting works: with --include-writes the server sees the writes.
    generate_ops(
        &dir,
        &["--target", &target, "--include-writes", "-o", "writes"],
    )
    .success();
    dir.run(&["test", "-f", "writes", "-o", "json"]).json();
    for m in WRITES {
        assert_eq!(calls.get(m), 1, "{m}: {:?}", calls.all());
    }
}

#[test]
fn set_values_make_a_check_pass_where_the_placeholder_is_not_found() {
    let (addr, _calls) = start_operations();
    let dir = corpus();
    let target = addr.to_string();
    let by_name = |results: &Value, name: &str| -> Value {
        results
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {results}"))
    };

    generate_ops(
        &dir,
        &[
            "--target",
            &target,
            "--method",
            "GetOperation",
            "-o",
            "sampled",
        ],
    )
    .success();
    let text = std::fs::read_to_string(dir.join("sampled/operations.yaml")).unwrap();
    assert!(
        text.contains("    name: \"example\"  # placeholder\n"),
        "{text}"
    );
    assert!(
        text.contains("`--set GetOperation:name=VALUE` or `--values FILE`"),
        "{text}"
    );
    let results = dir.run(&["test", "-f", "sampled", "-o", "json"]).json();
    let r = by_name(&results, "operations-get-operation");
    assert_eq!(r["grpc_code"], "NOT_FOUND", "{r}");

    generate_ops(
        &dir,
        &[
            "--target",
            &target,
            "--set",
            "GetOperation:name=operations/known",
            "--set",
            "page_size=50",
            "-o",
            "given",
        ],
    )
    .success();
    let text = std::fs::read_to_string(dir.join("given/operations.yaml")).unwrap();
    assert!(text.contains("    name: \"operations/known\"\n"), "{text}");
    assert!(text.contains("    page_size: 50\n"), "{text}");
    let results = dir.run(&["test", "-f", "given", "-o", "json"]).json();
    let r = by_name(&results, "operations-get-operation");
    assert_eq!(r["up"], true, "{r}");

    // A values file does the same, by method or for every method.
    std::fs::write(
        dir.join("values.yaml"),
        "acme.operations.v1.Operations/GetOperation:\n  name: operations/known\n\"*\":\n  filter: \"done=true\"\n",
    )
    .unwrap();
    let run = generate_ops(&dir, &["--values", "values.yaml", "--target", &target]).success();
    assert!(run.stdout.contains("    name: \"operations/known\"\n"));
    assert!(run.stdout.contains("    filter: \"done=true\"\n"));

    // Unknown fields and methods are errors that name them.
    for (flag, value, needle) in [
        (
            "--set",
            "GetOperation:nmae=x",
            "--set GetOperation:nmae=x: acme.operations.v1.Operations/GetOperation: acme.operations.v1.GetOperationRequest has no field `nmae`; it has `name`",
        ),
        ("--set", "NoSuch:name=x", "no method `NoSuch` in the protos"),
        (
            "--set",
            "nothing.here=1",
            "no method's request has the field `nothing.here`",
        ),
        (
            "--set",
            "ListOperations:page_size=many",
            "not a valid acme.operations.v1.ListOperationsRequest",
        ),
    ] {
        let run = generate_ops(&dir, &[flag, value]);
        assert_eq!(run.code, 1, "{value}: {run:?}");
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    std::fs::write(
        dir.join("bad.yaml"),
        "GetOperation:\n  name: x\n  colour: red\n",
    )
    .unwrap();
    let run = generate_ops(&dir, &["--values", "bad.yaml"]).expect_code(1);
    assert!(
        run.stderr.contains("bad.yaml:3:11: acme.operations.v1.Operations/GetOperation: acme.operations.v1.GetOperationRequest has no field `colour`"),
        "{}",
        run.stderr
    );
}

/// Writes `files` under `root`.
fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn proto_paths_resolve_from_any_output_directory() {
    // Three unrelated trees: the protos, the output, and where the command runs.
    let protos = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let shop = "syntax = \"proto3\";\npackage shop.v1;\nimport \"shop/v1/types.proto\";\n\
                service Shop { rpc GetItem(shop.v1.Item) returns (shop.v1.Item); }\n";
    let types = "syntax = \"proto3\";\npackage shop.v1;\nmessage Item { string sku = 1; }\n";
    write_tree(
        protos.path(),
        &[
            ("api/shop/v1/shop.proto", shop),
            ("api/shop/v1/types.proto", types),
        ],
    );
    // The output is reached through a symlink into a deeper directory, so `..`
    // from the link's path and from the real directory lead to different places.
    let real = out.path().join("deep/er/real");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, out.path().join("link")).unwrap();
    // The import path is reached through a symlink too, with `..` after it.
    std::os::unix::fs::symlink(protos.path().join("api"), cwd.path().join("vendored")).unwrap();
    std::fs::create_dir_all(cwd.path().join("sub")).unwrap();

    let proto_abs = protos.path().join("api/shop/v1/shop.proto");
    let proto_abs = proto_abs.to_str().unwrap();
    let api_abs = protos.path().join("api");
    let api_abs = api_abs.to_str().unwrap();
    let link_out = out.path().join("link/checks");
    let link_out = link_out.to_str().unwrap();
    let rel_out = format!(
        "../{}/rel/checks",
        out.path().file_name().unwrap().to_str().unwrap()
    );
    for (proto, include, o) in [
        // Absolute protos, absolute output through the symlink.
        (proto_abs, api_abs, link_out),
        // Relative protos through a symlinked import path, relative output
        // outside the current directory.
        (
            "vendored/shop/v1/shop.proto",
            "sub/../vendored",
            rel_out.as_str(),
        ),
    ] {
        run_in(
            cwd.path(),
            &[
                "forge", "generate", "--proto", proto, "-I", include, "-o", o,
            ],
            None,
        )
        .success();
        let written = cwd.path().join(o).join("shop.yaml");
        let text = std::fs::read_to_string(&written).unwrap();
        // The files validate from anywhere, by any path to them.
        for from in [cwd.path(), out.path(), protos.path(), Path::new("/")] {
            let run = run_in(from, &["validate", "-f", written.to_str().unwrap()], None);
            assert_eq!(run.code, 0, "{o} from {}: {run:?}\n{text}", from.display());
        }
    }
    // Through the link and through the real path alike.
    let real_file = real.join("checks/shop.yaml");
    run_in(
        out.path(),
        &["validate", "-f", real_file.to_str().unwrap()],
        None,
    )
    .success();
    run_in(out.path(), &["validate", "-f", "link/checks"], None).success();
}

#[test]
fn the_api_skips_writes_unless_asked_and_says_which() {
    let daemon = Daemon::start(&[]);
    let mut files = serde_json::Map::new();
    for name in [
        "acme/operations/v1/operations.proto",
        "google/api/annotations.proto",
        "google/api/http.proto",
    ] {
        let text = std::fs::read_to_string(forge_dir().join("protos").join(name)).unwrap();
        files.insert(name.to_string(), json!(text));
    }
    let body = json!({
        "files": files,
        "roots": ["acme/operations/v1/operations.proto"],
        "set": ["GetOperation:name=operations/known"],
    });
    let res = daemon.post("/api/v1/forge/generate", &body);
    let skipped: Vec<&str> = res["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        WRITES.map(|m| format!("acme.operations.v1.Operations/{m}"))
    );
    assert!(
        res["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("DELETE")
    );
    assert_eq!(res["writes"], json!([]));
    let text = res["files"][0]["content"].as_str().unwrap();
    assert_eq!(methods_in(text), READS, "{text}");
    assert!(text.contains("name: \"operations/known\"\n"), "{text}");

    let mut with = body.clone();
    with["include_writes"] = json!(true);
    let res = daemon.post("/api/v1/forge/generate", &with);
    assert_eq!(res["skipped"], json!([]));
    assert_eq!(res["writes"].as_array().unwrap().len(), 3, "{res}");
    let text = res["files"][0]["content"].as_str().unwrap();
    assert_eq!(methods_in(text).len(), 7, "{text}");

    let mut bad = body.clone();
    bad["set"] = json!(["GetOperation:nope=1"]);
    let (status, err) = daemon.call("POST", "/api/v1/forge/generate", Some(&bad));
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no field `nope`"),
        "{err}"
    );
}
