//! `uptimeping forge`: validate and generate over the corpus in
//! `tests/forge/protos`, golden files in `tests/forge/golden` (rewrite them with
//! `UPDATE_GOLDEN=1 cargo test --test it forge`), and the generated checks run
//! with `uptimeping test` against a server implementing the corpus.

use std::path::{Path, PathBuf};

use crate::support::{Files, Run, run_in};

/// The corpus's files, as given on the command line from a copy's root.
pub const ROOTS: [&str; 4] = [
    "protos/acme/common/v1/types.proto",
    "protos/acme/inventory/v1/inventory.proto",
    "protos/acme/payments/v1/payments.proto",
    "protos/acme/wkt/v1/wkt.proto",
];

pub fn forge_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/forge")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A temporary directory holding a copy of the corpus under `protos/`.
pub fn corpus() -> Files {
    let files = Files::new(&[]);
    copy_dir(&forge_dir().join("protos"), &files.join("protos"));
    files
}

pub fn generate(dir: &Files, extra: &[&str]) -> Run {
    let mut args = vec!["forge", "generate", "--proto"];
    args.extend(ROOTS);
    args.extend(["-I", "protos"]);
    args.extend(extra);
    dir.run(&args)
}

/// Compares `actual` with the golden file `name`, or rewrites it with UPDATE_GOLDEN=1.
fn golden(name: &str, actual: &str) {
    let path = forge_dir().join("golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_GOLDEN=1 cargo test --test it forge",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the output (UPDATE_GOLDEN=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn read_dir_sorted(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn validate_reports_services_and_warns_about_what_it_skips() {
    let dir = corpus();
    let mut args = vec!["forge", "validate", "--proto"];
    args.extend(ROOTS);
    args.extend(["-I", "protos"]);
    let run = dir.run(&args).success();
    assert_eq!(
        run.stdout,
        "Valid: 4 files, 4 services, 10 methods (8 can be checked)\n"
    );
    assert!(
        run.stderr.contains(
            "protos/acme/common/v1/types.proto:4:1: warning: `acme/common/v1/types.proto` defines no service"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("protos/acme/payments/v1/payments.proto:18:3: warning: `acme.payments.v1.Payments/UploadReceipts` is skipped: it is client streaming"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("payments.proto:21:3: warning: `acme.payments.v1.Payments/Chat` is skipped: it is bidirectional streaming"),
        "{}",
        run.stderr
    );

    args.push("--strict");
    assert_eq!(dir.run(&args).code, 1, "warnings fail with --strict");

    args.pop();
    args.extend(["-o", "json"]);
    let doc = dir.run(&args).json();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 3);
    let chat = &doc["services"][2]["methods"][3];
    assert_eq!(chat["name"], "Chat");
    assert_eq!(chat["checkable"], false);
}

#[test]
fn validate_places_errors_at_file_line_and_column() {
    let dir = Files::new(&[
        (
            "api/bad.proto",
            "syntax = \"proto3\";\npackage x;\nmessage A {\n  strin name = 1;\n}\n",
        ),
        (
            "api/missing.proto",
            "syntax = \"proto3\";\npackage y;\nimport \"nowhere/z.proto\";\n",
        ),
        ("api/syntax.proto", "syntax = \"proto3\";\nmessage {\n"),
        ("elsewhere/keep.txt", ""),
    ]);
    let run = dir
        .run(&["forge", "validate", "--proto", "api/bad.proto", "-I", "api"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("api/bad.proto:4:3: name 'strin' is not defined"),
        "{}",
        run.stderr
    );
    let run = dir
        .run(&["forge", "validate", "--proto", "api/missing.proto"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("api/missing.proto:3:1: import 'nowhere/z.proto' not found"),
        "{}",
        run.stderr
    );
    let run = dir
        .run(&[
            "forge",
            "validate",
            "--proto",
            "api/syntax.proto",
            "-o",
            "json",
        ])
        .expect_code(1);
    let err = &run.json()["errors"][0];
    assert_eq!(err["file"], "api/syntax.proto");
    assert_eq!(err["line"], 2);
    assert_eq!(err["column"], 9, "{err}");

    let run = dir
        .run(&[
            "forge",
            "validate",
            "--proto",
            "api/bad.proto",
            "-I",
            "elsewhere",
        ])
        .expect_code(1);
    assert!(
        run.stderr.contains("not under any import path"),
        "{}",
        run.stderr
    );
}

#[test]
fn generated_files_match_the_golden_files_and_validate() {
    let dir = corpus();
    let run = generate(&dir, &["-o", "checks"]).success();
    assert_eq!(
        run.stdout,
        "wrote checks/inventory.yaml\nwrote checks/acme-inventory-v1-payments.yaml\nwrote checks/acme-payments-v1-payments.yaml\nwrote checks/well-known.yaml\n"
    );
    for (name, text) in read_dir_sorted(&dir.join("checks")) {
        golden(&format!("checks/{name}"), &text);
    }
    let valid = dir.run(&["validate", "-f", "checks"]).success();
    assert_eq!(valid.stdout, "Valid: 10 resources in 4 files (10 Check)\n");

    // The same from another directory: paths stay relative to the output.
    generate(&dir, &["-o", "deploy/checks/grpc"]).success();
    let text = std::fs::read_to_string(dir.join("deploy/checks/grpc/well-known.yaml")).unwrap();
    assert!(
        text.contains("proto: \"../../../protos/acme/wkt/v1/wkt.proto\""),
        "{text}"
    );
    dir.run(&["validate", "-f", "deploy"]).success();
}

#[test]
fn standard_output_with_options_matches_the_golden_file() {
    let dir = corpus();
    // With the writes, so the golden file shows a sample of every kind of field.
    let opts = [
        "--include-writes",
        "--target",
        "payments.internal:443",
        "--tls",
        "--interval",
        "30s",
        "--timeout",
        "3s",
    ];
    let run = generate(&dir, &opts).success();
    golden("stdout-tls.yaml", &run.stdout);
    std::fs::write(dir.join("all.yaml"), &run.stdout).unwrap();
    dir.run(&["validate", "-f", "all.yaml"]).success();

    let mut json_opts = opts.to_vec();
    json_opts.extend(["--format", "json"]);
    let run = generate(&dir, &json_opts).success();
    golden("stdout-tls.json", &run.stdout);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 12);
    assert_eq!(doc[0]["grpc"]["tls"], true);
    // JSON is YAML too: the same documents validate.
    let docs: Vec<String> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::to_string(d).unwrap())
        .collect();
    std::fs::write(dir.join("from-json.yaml"), docs.join("\n---\n")).unwrap();
    dir.run(&["validate", "-f", "from-json.yaml"]).success();
}

#[test]
fn output_is_byte_for_byte_deterministic() {
    let dir = corpus();
    let a = generate(&dir, &["-o", "a"]);
    let b = generate(&dir, &["-o", "b"]);
    assert_eq!(a.code, 0);
    assert_eq!(b.code, 0);
    assert_eq!(
        read_dir_sorted(&dir.join("a")),
        read_dir_sorted(&dir.join("b"))
    );
    let one = generate(&dir, &["--format", "json"]);
    let two = generate(&dir, &["--format", "json"]);
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn filters_choose_services_and_methods() {
    let dir = corpus();
    let run = generate(
        &dir,
        &[
            "--service",
            "acme.payments.v1.Payments",
            "--method",
            "GetStatus",
            "--interval",
            "30s",
        ],
    )
    .success();
    assert_eq!(
        run.stdout.matches("kind: Check").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("name: \"acme-payments-v1-payments-get-status\"\n")
    );
    assert!(run.stdout.contains("schedule: \"30s\"\n"));
    assert!(!run.stdout.contains("health: true"));

    // A short service name; the health check stays without --method.
    let run = generate(&dir, &["--service", "WellKnown"]).success();
    assert_eq!(run.stdout.matches("kind: Check").count(), 3);
    let run = generate(&dir, &["--service", "WellKnown", "--no-health"]);
    assert_eq!(run.stdout.matches("kind: Check").count(), 2);

    let run = generate(&dir, &["--service", "Nope"]).expect_code(1);
    assert!(
        run.stderr
            .contains("no service `Nope` in the protos; they define `acme.inventory.v1.Inventory`"),
        "{}",
        run.stderr
    );
    let run = generate(&dir, &["--method", "Chat"]).expect_code(1);
    assert!(
        run.stderr.contains("no method `Chat` that can be checked"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_options_are_refused_before_anything_is_written() {
    let dir = corpus();
    for (flags, needle) in [
        (vec!["--timeout", "2m"], "shorter than the interval"),
        (vec!["--interval", "1s"], "shorter than the minimum"),
        (vec!["--interval", "soon"], "interval `soon`"),
        (vec!["--target", "no-port"], "is not `host:port`"),
    ] {
        let mut args = flags.clone();
        args.extend(["-o", "out"]);
        let run = generate(&dir, &args);
        assert_eq!(run.code, 1, "{flags:?}");
        assert!(run.stderr.contains(needle), "{flags:?}: {}", run.stderr);
        assert!(!dir.join("out").exists());
    }
}

#[test]
fn generated_checks_pass_against_a_server_implementing_the_protos() {
    let addr = crate::forge_server::start();
    let dir = corpus();
    let target = addr.to_string();
    // With the writes: CreatePayment's server checks that every kind of
    // sampled field arrived.
    generate(
        &dir,
        &[
            "--target",
            &target,
            "--timeout",
            "10s",
            "--include-writes",
            "-o",
            "checks",
        ],
    )
    .success();
    let test = dir.run(&["test", "-f", "checks", "-o", "json"]);
    let results = test.json();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 12);
    for r in results {
        assert_eq!(r["up"], true, "{r}");
        assert_eq!(r["grpc_code"], "OK", "{r}");
    }
    assert_eq!(test.code, 0, "{}", test.stderr);
}

#[test]
fn templates_export_and_an_edited_copy_is_used() {
    let dir = corpus();
    let run = dir.run(&["forge", "templates", "export", "tpl"]).success();
    assert!(
        run.stdout.contains("wrote tpl/checks.yaml.j2"),
        "{}",
        run.stdout
    );
    let again = dir
        .run(&["forge", "templates", "export", "tpl"])
        .expect_code(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    // The exported templates render exactly what the built-in ones do.
    let builtin = generate(&dir, &[]);
    let exported = generate(&dir, &["--template-dir", "tpl"]);
    assert_eq!(builtin.stdout, exported.stdout);

    let path = dir.join("tpl/checks.yaml.j2");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("kind: Check\n", "kind: Check\nlabels: {team: payments}\n");
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
    generate(&dir, &["--template-dir", "tpl", "-o", "checks"]).success();
    let out = std::fs::read_to_string(dir.join("checks/well-known.yaml")).unwrap();
    assert_eq!(out.matches("labels: {team: payments}").count(), 3, "{out}");
    dir.run(&["validate", "-f", "checks"]).success();
}

#[test]
fn a_broken_template_is_named_with_its_line() {
    let dir = corpus();
    assert_eq!(dir.run(&["forge", "templates", "export", "tpl"]).code, 0);
    let path = dir.join("tpl/checks.yaml.j2");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(9, "{% if %}");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let run = generate(&dir, &["--template-dir", "tpl"]).expect_code(1);
    assert!(
        run.stderr
            .contains("template `checks.yaml.j2` line 10: syntax error"),
        "{}",
        run.stderr
    );

    // A filter that does not exist fails when rendering, also with its line.
    lines.remove(9);
    lines.insert(12, "{{ s.name | shout }}");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let run = generate(&dir, &["--template-dir", "tpl"]).expect_code(1);
    assert!(
        run.stderr.contains("template `checks.yaml.j2` line 13:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("shout"), "{}", run.stderr);
}

#[test]
fn forge_help_has_examples() {
    for args in [
        vec!["forge", "--help"],
        vec!["forge", "generate", "--help"],
        vec!["forge", "validate", "--help"],
        vec!["forge", "templates", "export", "--help"],
    ] {
        let run = run_in(&forge_dir(), &args, None).success();
        assert!(run.stdout.contains("Examples:"), "{args:?}");
    }
}

/// A proto whose custom option value nests `depth` messages deep, on line 5.
pub fn deep_option_proto(depth: usize) -> String {
    format!(
        "syntax = \"proto2\";\npackage deep;\nimport \"google/protobuf/descriptor.proto\";\n\
         message N {{ optional N a = 1; }} extend google.protobuf.MessageOptions {{ optional N my = 50000; }}\n\
         message R {{ option (my) = {}{}; }}\n\
         service S {{ rpc Get(R) returns (R); }}\n",
        "{ a ".repeat(depth),
        "} ".repeat(depth)
    )
}

#[test]
fn deeply_nested_option_values_are_refused_not_a_crash() {
    let deep = deep_option_proto(2000);
    // Brackets in comments and strings do not count.
    let shallow = format!(
        "syntax = \"proto3\";\npackage ok;\n// {}\nmessage M {{ string s = 1 [json_name = \"{}\"]; }}\n",
        "{".repeat(500),
        "[".repeat(500)
    );
    let check = "kind: Check\nname: deep\ntype: grpc\ntarget: localhost:1\nschedule: 1m\n\
                 grpc:\n  proto: api/deep.proto\n  service: deep.S\n  method: Get\n";
    let dir = Files::new(&[
        ("api/deep.proto", &deep),
        ("api/ok.proto", &shallow),
        ("check.yaml", check),
    ]);
    let run = dir
        .run(&[
            "forge",
            "validate",
            "--proto",
            "api/deep.proto",
            "-I",
            "api",
        ])
        .expect_code(1);
    assert!(
        run.stderr.contains("api/deep.proto:5:") && run.stderr.contains("nest more than 64 levels"),
        "{}",
        run.stderr
    );
    dir.run(&["forge", "generate", "--proto", "api/deep.proto"])
        .expect_code(1);
    dir.run(&["forge", "validate", "--proto", "api/ok.proto"])
        .success();
    // A check's proto is guarded the same way.
    let run = dir.run(&["validate", "-f", "check.yaml"]).expect_code(1);
    assert!(
        run.stderr.contains("deep.proto:5:") && run.stderr.contains("nest more than 64"),
        "{}",
        run.stderr
    );
}

#[test]
fn names_that_look_like_yaml_values_stay_strings() {
    let dir = Files::new(&[(
        "api/odd.proto",
        "syntax = \"proto3\";\npackage odd;\nmessage M {}\n\
         service Null { rpc null(M) returns (M); rpc true(M) returns (M); rpc FALSE(M) returns (M); }\n\
         service _1e { rpc _5(M) returns (M); }\n",
    )]);
    dir.run(&[
        "forge",
        "generate",
        "--proto",
        "api/odd.proto",
        "-o",
        "checks",
        "--interval",
        "1m",
        // The names say nothing about reading; they are here for their spelling.
        "--include-writes",
    ])
    .success();
    let text = std::fs::read_to_string(dir.join("checks/null.yaml")).unwrap();
    for needle in [
        "method: \"null\"\n",
        "method: \"true\"\n",
        "method: \"FALSE\"\n",
        "service: \"odd.Null\"\n",
        "schedule: \"1m\"\n",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let text = std::fs::read_to_string(dir.join("checks/1e.yaml")).unwrap();
    assert!(text.contains("name: \"1e-5\"\n"), "{text}");
    dir.run(&["validate", "-f", "checks"]).success();
}

#[test]
fn carriage_returns_in_comments_stay_inside_the_comment() {
    let dir = Files::new(&[(
        "api/cr.proto",
        "syntax = \"proto3\";\npackage cr;\nmessage M {\n  // The id.\u{feff}\rid: 7\n  string id = 1;\n}\n\
         service S {\n  // Returns the status.\renabled: false\n  rpc Get(M) returns (M);\n}\n",
    )]);
    dir.run(&[
        "forge",
        "generate",
        "--proto",
        "api/cr.proto",
        "-o",
        "checks",
    ])
    .success();
    let text = std::fs::read_to_string(dir.join("checks/s.yaml")).unwrap();
    assert!(!text.contains('\r'), "{text:?}");
    assert!(
        text.contains("# Returns the status.\n# enabled: false\n"),
        "{text}"
    );
    assert!(text.contains("    # id: 7\n"), "{text}");
    let run = dir
        .run(&["validate", "-f", "checks", "-o", "json"])
        .success();
    assert!(!run.stdout.contains("enabled"), "{}", run.stdout);

    dir.run(&[
        "forge",
        "generate",
        "--proto",
        "api/cr.proto",
        "--lang",
        "rust",
        "-o",
        "crate",
    ])
    .success();
    let client = std::fs::read_to_string(dir.join("crate/src/client.rs")).unwrap();
    assert!(!client.contains('\r'), "{client:?}");
    assert!(client.contains("/// enabled: false"), "{client}");
}

#[test]
fn two_files_with_the_same_import_name_are_refused() {
    let proto = |pkg: &str| {
        format!(
            "syntax = \"proto3\";\npackage {pkg};\nmessage M {{}}\nservice S {{ rpc Get(M) returns (M); }}\n"
        )
    };
    let dir = Files::new(&[("p/a/x.proto", &proto("a")), ("p/b/x.proto", &proto("b"))]);
    let run = dir
        .run(&["forge", "generate", "--proto", "p/a/x.proto", "p/b/x.proto"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("p/b/x.proto: its import name `x.proto` is also that of `p/a/x.proto`")
            && run.stderr.contains("-I p"),
        "{}",
        run.stderr
    );
    // With the common parent as import path, both are generated.
    let run = dir
        .run(&[
            "forge",
            "generate",
            "--proto",
            "p/a/x.proto",
            "p/b/x.proto",
            "-I",
            "p",
        ])
        .success();
    assert!(run.stdout.contains("service: \"a.S\"") && run.stdout.contains("service: \"b.S\""));
}

#[test]
fn files_from_several_directories_without_import_paths_validate() {
    let dir = Files::new(&[
        (
            "p/a/x.proto",
            "syntax = \"proto3\";\npackage a;\nimport \"y.proto\";\nservice S { rpc Get(b.M) returns (b.M); }\n",
        ),
        (
            "p/b/y.proto",
            "syntax = \"proto3\";\npackage b;\nmessage M { string id = 1; }\n",
        ),
    ]);
    dir.run(&[
        "forge",
        "generate",
        "--proto",
        "p/a/x.proto",
        "p/b/y.proto",
        "-o",
        "checks",
    ])
    .success();
    let text = std::fs::read_to_string(dir.join("checks/s.yaml")).unwrap();
    assert!(text.contains("    - \"../p/b\"\n"), "{text}");
    dir.run(&["validate", "-f", "checks"]).success();
}

#[test]
fn methods_taking_a_well_known_type_validate() {
    let dir = Files::new(&[(
        "api/wk.proto",
        "syntax = \"proto3\";\npackage wk;\nimport \"google/protobuf/any.proto\";\n\
         import \"google/protobuf/struct.proto\";\nimport \"google/protobuf/duration.proto\";\n\
         service S {\n  rpc TakeAny(google.protobuf.Any) returns (google.protobuf.Struct);\n\
           rpc TakeStruct(google.protobuf.Struct) returns (google.protobuf.Struct);\n}\n",
    )]);
    dir.run(&[
        "forge",
        "generate",
        "--proto",
        "api/wk.proto",
        "-o",
        "checks",
        // `Take…` does not say it reads; the requests are what is tested.
        "--include-writes",
    ])
    .success();
    let text = std::fs::read_to_string(dir.join("checks/s.yaml")).unwrap();
    assert!(
        text.contains("\"@type\": \"type.googleapis.com/google.protobuf.Duration\""),
        "{text}"
    );
    dir.run(&["validate", "-f", "checks"]).success();
}

#[test]
fn missing_template_and_import_directories_are_errors() {
    let dir = corpus();
    let run = generate(&dir, &["--template-dir", "no-such-templates"]).expect_code(1);
    assert!(
        run.stderr
            .contains("template directory `no-such-templates`"),
        "{}",
        run.stderr
    );
    let run = generate(&dir, &["--template-dir", ROOTS[0]]).expect_code(1);
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
    let run = generate(&dir, &["-I", "no-such-dir"]).expect_code(1);
    assert!(
        run.stderr.contains("no-such-dir: import path (-I):"),
        "{}",
        run.stderr
    );
    let run = generate(&dir, &["-I", ROOTS[0]]).expect_code(1);
    assert!(
        run.stderr.contains("import path (-I): not a directory"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_proto_whose_name_holds_a_line_break_is_refused() {
    let dir = Files::new(&[(
        "api/x\nkind: y.proto",
        "syntax = \"proto3\";\npackage x;\nmessage M {}\nservice S { rpc Get(M) returns (M); }\n",
    )]);
    let run = dir
        .run(&["forge", "generate", "--proto", "api/x\nkind: y.proto"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("api/x\\nkind: y.proto: the file's name has control characters"),
        "{}",
        run.stderr
    );
}
