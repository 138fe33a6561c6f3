//! `forge generate --lang rust`: the generated crate builds with cargo (from
//! the registry cache, online only if that fails), its tests pass, and its
//! binary's results against the corpus server match `uptimeping test`.
//!
//! The crate is generated into the target directory and built with a target
//! directory of its own there, so a rerun only rebuilds what changed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::forge::{ROOTS, corpus};

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_uptimeping"))
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in <target>/<profile>/")
        .to_path_buf()
}

/// Runs cargo in `dir`, offline first and online when offline fails.
fn cargo(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // At the lowest priority where `nice` exists: the other tests, which run
    // next to this build, keep the CPU they need.
    let nice = Command::new("nice").arg("--version").output().is_ok();
    let run = |offline: bool| {
        let mut cmd = if nice {
            let mut c = Command::new("nice");
            c.args(["-n", "19", &cargo]);
            c
        } else {
            Command::new(&cargo)
        };
        cmd.args(args);
        if offline {
            cmd.arg("--offline");
        }
        cmd.current_dir(dir)
            .env("CARGO_TARGET_DIR", target_dir().join("forge-crate"))
            // One job: other tests run next to this build on small CI machines.
            .env("CARGO_BUILD_JOBS", "1")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().expect("run cargo")
    };
    let out = run(true);
    if out.status.success() {
        out
    } else {
        eprintln!(
            "offline cargo {args:?} failed, trying online:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        run(false)
    }
}

#[test]
fn the_generated_crate_builds_and_its_checks_match_uptimeping_test() {
    let addr = crate::forge_server::start().to_string();
    let dir = corpus();
    let krate = target_dir().join("forge-e2e").join("corpus-checks");
    let krate_arg = krate.to_string_lossy().into_owned();
    let mut args = vec!["forge", "generate", "--proto"];
    args.extend(ROOTS);
    args.extend(["-I", "protos", "--lang", "rust", "-o", &krate_arg]);
    let run = dir.run(&args);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Cargo.toml"), "{}", run.stdout);
    let readme = std::fs::read_to_string(krate.join("README.md")).unwrap();
    assert!(readme.contains("cargo run -- localhost:50051"), "{readme}");

    let build = cargo(&krate, &["build", "--quiet"], &[]);
    assert!(
        build.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let bin = target_dir().join("forge-crate/debug/corpus-checks");
    let out = Command::new(&bin)
        .arg(&addr)
        .output()
        .expect("run the crate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value = serde_json::from_str(&stdout).expect("JSON results");
    let mut results = results.as_array().unwrap().clone();
    results.sort_by_key(|r| r["name"].as_str().unwrap().to_string());

    // The same checks, by name, as the YAML `uptimeping test` runs.
    let mut yaml_args = vec!["forge", "generate", "--proto"];
    yaml_args.extend(ROOTS);
    yaml_args.extend(["-I", "protos", "--target", &addr, "-o", "checks"]);
    assert_eq!(dir.run(&yaml_args).code, 0);
    let test = dir.run(&["test", "-f", "checks", "-o", "json"]);
    assert_eq!(test.code, 0, "{test:?}");
    let mut expected = test.json().as_array().unwrap().clone();
    expected.sort_by_key(|r| r["name"].as_str().unwrap().to_string());
    let names = |v: &[serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&results), names(&expected));
    // The same selection as the YAML: no check of a method that may change data.
    assert_eq!(results.len(), 10);
    let client = std::fs::read_to_string(krate.join("src/client.rs")).unwrap();
    assert!(!client.contains("CreatePayment"), "{client}");
    assert!(
        readme.contains("- `acme.payments.v1.Payments/CreatePayment`: it may change data"),
        "{readme}"
    );
    for (mine, theirs) in results.iter().zip(&expected) {
        assert_eq!(mine["up"], true, "{mine}");
        for key in [
            "type",
            "target",
            "up",
            "grpc_code",
            "error",
            "error_kind",
            "attempts",
            "status_code",
        ] {
            assert_eq!(mine[key], theirs[key], "{key}: {mine} vs {theirs}");
        }
    }

    // A check that fails: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let out = Command::new(&bin)
        .args([closed_addr.as_str(), "--check", "well-known-ping"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let down: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(down[0]["up"], false);
    assert_eq!(down[0]["error_kind"], "connect");

    // The generated tests: every sample decodes, and every check is up.
    let test = cargo(
        &krate,
        &["test", "--quiet", "--", "--include-ignored"],
        &[("TARGET", &addr)],
    );
    assert!(
        test.status.success(),
        "cargo test failed:\n{}\n{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(stdout.contains("7 passed"), "{stdout}");
}

#[test]
fn rust_keywords_wrappers_and_acronyms_get_prost_and_tonic_names() {
    let dir = crate::support::Files::new(&[(
        "api/names.proto",
        "syntax = \"proto3\";\npackage acme.type.v1;\nimport \"google/protobuf/wrappers.proto\";\n\
         message Item { message Inner { string s = 1; } Inner inner = 1; }\n\
         service HTTPGateway {\n  rpc Move(Item) returns (Item);\n\
           rpc GetS3URL(google.protobuf.StringValue) returns (google.protobuf.StringValue);\n\
           rpc Self(Item.Inner) returns (Item);\n}\n\
         service _1e { rpc _5(Item) returns (Item); }\n",
    )]);
    let krate = target_dir().join("forge-e2e").join("tricky-names");
    let krate_arg = krate.to_string_lossy().into_owned();
    let run = dir.run(&[
        "forge",
        "generate",
        "--proto",
        "api/names.proto",
        "--lang",
        "rust",
        "-o",
        &krate_arg,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    // The sample requests decode (the generated tests that need no server).
    let test = cargo(&krate, &["test", "--quiet"], &[]);
    assert!(
        test.status.success(),
        "cargo test failed:\n{}\n{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
}
