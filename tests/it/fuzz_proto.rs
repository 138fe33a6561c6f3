//! Fuzzing the `.proto` paths: random sources from a small grammar (deep
//! nesting, many fields, odd names, options, imports), sometimes damaged, go
//! through Forge's loader and generator and through a check's proto compile
//! path. Nothing may panic or overflow a small stack, each case must finish,
//! and every error must say where in which file.
//!
//! Bounded: a fixed number of cases from a fixed seed, each on its own
//! thread with a small stack; the figures (cases, slowest case) are printed,
//! not asserted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use uptimeping::forge::{self, Filter, Format, ProtoRefs, Settings, load, model, templates};

/// Cases per run: enough to reach every production of the grammar many
/// times, few enough for a couple of seconds on two cores.
const CASES: u32 = 96;
/// The stack each case runs on: that of a tokio worker or blocking thread
/// (2 MiB), where the daemon compiles protos, rather than the main thread's
/// 8 MiB. (In a debug build, an option value nested just under the limit of
/// 64 needs more than 1 MiB.)
const STACK: usize = 2 * 1024 * 1024;
/// How long one case may take before it counts as hung: far above the
/// milliseconds a case takes, it only catches work without a bound.
const HANG: Duration = Duration::from_secs(60);

const HTTP: &str = "syntax = \"proto3\";\npackage google.api;\n\
    import \"google/protobuf/descriptor.proto\";\n\
    extend google.protobuf.MethodOptions { HttpRule http = 72295728; }\n\
    message HttpRule { oneof pattern { string get = 2; string post = 4; string delete = 5; } string body = 7; }\n";

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z][a-z0-9_]{0,10}",
        2 => "[A-Z][A-Za-z0-9]{0,10}",
        1 => "_[0-9A-Za-z_]{0,6}",
        1 => prop::sample::select(vec![
            "message", "service", "true", "null", "option", "rpc", "stream", "map", "x",
        ])
        .prop_map(String::from),
    ]
}

fn method_name() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "Get", "List", "Delete", "Cancel", "Set", "Getaway", "Watch", "Check", "Take", "",
        ]),
        prop::sample::select(vec!["", "Or", "And"]),
        prop::sample::select(vec!["", "Create", "Status", "Set"]),
        "[A-Z][a-z]{0,6}",
    )
        .prop_map(|(a, b, c, d)| format!("{a}{b}{c}{d}"))
}

#[derive(Debug, Clone)]
struct Field {
    label: &'static str,
    ty: String,
    name: String,
    number: i64,
    options: &'static str,
}

fn field(types: Vec<String>) -> impl Strategy<Value = Field> {
    (
        prop::sample::select(vec!["", "", "repeated ", "optional "]),
        prop::sample::select(types),
        ident(),
        // Mostly the field's own number (0 here); sometimes one that is wrong.
        prop_oneof![60 => Just(0i64), 1 => Just(-1i64), 1 => Just(19_000i64), 1 => Just(1i64 << 30), 1 => 1i64..5],
        prop::sample::select(vec![
            "",
            "",
            " [deprecated = true]",
            " [json_name = \"o\\\"dd\"]",
            " [(fz) = { a { a { } } }]",
        ]),
    )
        .prop_map(|(label, ty, name, number, options)| Field {
            label,
            ty,
            name,
            number,
            options,
        })
}

#[derive(Debug, Clone)]
struct Case {
    syntax: &'static str,
    package: String,
    /// How many messages deep the innermost one sits.
    nesting: usize,
    /// How deep a custom option's value nests.
    option_depth: usize,
    fields: Vec<Field>,
    methods: Vec<(String, bool, bool, &'static str)>,
    import_http: bool,
    /// Where to damage the text and with what, if at all.
    damage: Option<(prop::sample::Index, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    let types: Vec<String> = [
        "string",
        "int64",
        "uint32",
        "bool",
        "bytes",
        "double",
        "M",
        "E",
        "Inner",
        "google.protobuf.Timestamp",
        "google.protobuf.Any",
        "google.protobuf.Struct",
        "map<string, M>",
        "map<int32, E>",
        "Nope",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    (
        prop::sample::select(vec!["proto2", "proto3"]),
        prop::collection::vec(ident(), 1..4).prop_map(|p| p.join(".")),
        prop_oneof![12 => 0usize..8, 1 => 58usize..66, 1 => 100usize..400],
        prop_oneof![12 => 1usize..4, 1 => 58usize..66, 1 => 200usize..2000],
        prop_oneof![3 => prop::collection::vec(field(types.clone()), 0..8),
                    1 => prop::collection::vec(field(types), 100..400)],
        prop::collection::vec(
            (
                method_name(),
                any::<bool>(),
                any::<bool>(),
                prop::sample::select(vec![
                    "",
                    " { option idempotency_level = NO_SIDE_EFFECTS; }",
                    " { option idempotency_level = IDEMPOTENT; }",
                    " { option (google.api.http) = { get: \"/v1/x\" }; }",
                    " { option (google.api.http) = { post: \"/v1/x\" body: \"*\" }; }",
                ]),
            ),
            0..6,
        ),
        any::<bool>(),
        prop::option::weighted(
            0.3,
            (any::<prop::sample::Index>(), "[{}<>;=\"a-z0-9 \\n]{1,8}"),
        ),
    )
        .prop_map(
            |(syntax, package, nesting, option_depth, fields, methods, import_http, damage)| Case {
                syntax,
                package,
                nesting,
                option_depth,
                fields,
                methods,
                import_http,
                damage,
            },
        )
}

/// The case's files: `fz/main.proto`, `fz/other.proto` it imports, and the
/// HTTP annotation when used.
fn render(c: &Case) -> BTreeMap<String, String> {
    let mut s = String::new();
    let _ = writeln!(s, "syntax = \"{}\";", c.syntax);
    let _ = writeln!(s, "package {};", c.package);
    s.push_str("import \"google/protobuf/descriptor.proto\";\nimport \"google/protobuf/timestamp.proto\";\n");
    s.push_str("import \"google/protobuf/any.proto\";\nimport \"google/protobuf/struct.proto\";\n");
    s.push_str("import \"google/protobuf/empty.proto\";\nimport \"fz/other.proto\";\n");
    if c.import_http {
        s.push_str("import \"google/api/http.proto\";\n");
    }
    s.push_str("message Agg { optional Agg a = 1; }\n");
    let optional = if c.syntax == "proto2" {
        "optional "
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "extend google.protobuf.FieldOptions {{ {optional}Agg fz = 50001; }}\n\
         extend google.protobuf.MessageOptions {{ {optional}Agg fm = 50002; }}"
    );
    s.push_str("enum E { E_ZERO = 0; E_ONE = 1; }\n");
    // A chain of nested messages, the innermost holding the fields.
    s.push_str("message M {\n");
    let _ = writeln!(
        s,
        "  option (fm) = {{{}{} }};",
        " a {".repeat(c.option_depth - 1),
        " }".repeat(c.option_depth - 1)
    );
    let _ = writeln!(s, "  message Inner {{ {optional}string s = 1; }}");
    for i in 0..c.nesting {
        let _ = writeln!(s, "message N{i} {{");
    }
    for (i, f) in c.fields.iter().enumerate() {
        // Unique names and numbers, but for the odd one the case asks for.
        let name = if i == 0 {
            f.name.clone()
        } else {
            format!("{}_{i}", f.name)
        };
        let number = if f.number == 0 {
            i64::try_from(i).unwrap_or(0) + 1
        } else {
            f.number
        };
        let label = if f.label.is_empty() && c.syntax == "proto2" && !f.ty.starts_with("map<") {
            "optional "
        } else if f.ty.starts_with("map<") {
            ""
        } else {
            f.label
        };
        let _ = writeln!(s, "  {label}{} {name} = {number}{};", f.ty, f.options);
    }
    s.push_str("  oneof choice { string left = 900; int32 right = 901; }\n");
    for _ in 0..c.nesting {
        s.push_str("}\n");
    }
    s.push_str("}\n");
    s.push_str("service Svc {\n");
    for (name, client, server, options) in &c.methods {
        let _ = writeln!(
            s,
            "  rpc {name}({}M) returns ({}other.O){options}",
            if *client { "stream " } else { "" },
            if *server { "stream " } else { "" }
        );
        if options.is_empty() {
            s.push_str("  ;\n");
        }
    }
    s.push_str("  rpc GetEmpty(google.protobuf.Empty) returns (google.protobuf.Empty);\n}\n");
    if let Some((at, junk)) = &c.damage {
        let mut i = at.index(s.len() + 1);
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.insert_str(i, junk);
    }
    let mut files = BTreeMap::new();
    files.insert("fz/main.proto".to_string(), s);
    files.insert(
        "fz/other.proto".to_string(),
        "syntax = \"proto3\";\npackage other;\nmessage O { repeated O kids = 1; }\n".to_string(),
    );
    if c.import_http {
        files.insert("google/api/http.proto".to_string(), HTTP.to_string());
    }
    files
}

/// One case, start to end: load, generate, compile as a check would.
fn run_case(files: &BTreeMap<String, String>) -> Result<Outcome, String> {
    let roots = vec!["fz/main.proto".to_string()];
    let protos = match load::from_memory(&roots, files) {
        Ok(p) => p,
        Err(e) => {
            // Every error names a file and a line.
            if e.file.is_empty() || e.line == 0 {
                return Err(format!("an error without a position: {e:?}"));
            }
            if !files.contains_key(&e.file) {
                return Err(format!("an error in an unknown file: {e:?}"));
            }
            // The check compile path refuses it too, also with a position.
            return match spec_compile(files) {
                Ok(()) => Err(format!("a check compiled what Forge refused: {e}")),
                Err(msg) if !msg.contains(".proto:") => Err(format!(
                    "a check's compile error without a position: {msg} (Forge said {e})"
                )),
                Err(_) => Ok(Outcome::Refused),
            };
        }
    };
    let _ = protos.warnings();
    let all = Filter {
        include_writes: true,
        ..Filter::default()
    };
    let services = model::build(&protos, &all, &forge::values::Values::default())?;
    let settings = Settings {
        target: "localhost:1".into(),
        schedule: "1m".into(),
        timeout: "5s".into(),
        tls: false,
        health: true,
    };
    let refs = ProtoRefs {
        protos: protos
            .roots
            .iter()
            .map(|r| (r.clone(), r.clone()))
            .collect(),
        import_paths: vec![".".into()],
    };
    let tpl = templates::Templates::new(None)?;
    let out = forge::yaml::render(&services, &settings, &refs, Format::Yaml, true, &tpl)?;
    for s in &services {
        for m in &s.methods {
            if !out.iter().any(|f| f.content.contains(&m.check_name)) {
                return Err(format!("no check `{}` in the output", m.check_name));
            }
        }
    }
    // Each generated method's check compiles its proto as the daemon would.
    for s in &services {
        for m in &s.methods {
            let spec: uptimeping::spec::GrpcSpec = serde_json::from_value(serde_json::json!({
                "service": s.full_name,
                "method": m.name,
                "proto": "fz/main.proto",
                "proto_files": files,
                "request": m.request,
            }))
            .map_err(|e| e.to_string())?;
            let pool = spec.pool()?;
            let desc = pool
                .get_message_by_name(&m.input_type)
                .ok_or_else(|| format!("no {} in the check's pool", m.input_type))?;
            prost_reflect::DynamicMessage::deserialize(desc, m.request.clone())
                .map_err(|e| format!("{}: the sample does not decode: {e}", m.path))?;
        }
    }
    Ok(Outcome::Generated)
}

/// How a case ended, counted to show the grammar reaches both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Refused,
    Generated,
}

/// A check's compile path on the same sources.
fn spec_compile(files: &BTreeMap<String, String>) -> Result<(), String> {
    let spec: uptimeping::spec::GrpcSpec = serde_json::from_value(serde_json::json!({
        "service": "x.Svc", "method": "GetEmpty", "proto": "fz/main.proto", "proto_files": files,
    }))
    .map_err(|e| e.to_string())?;
    spec.pool().map(|_| ())
}

#[test]
fn random_protos_never_panic_overflow_or_hang_and_errors_have_positions() {
    let mut config = Config::with_cases(CASES);
    config.rng_seed = RngSeed::Fixed(0x0005_eedf_029e);
    config.failure_persistence = None;
    let mut runner = TestRunner::new(config);
    let slowest = std::cell::Cell::new(Duration::ZERO);
    let outcomes = std::cell::RefCell::new(BTreeMap::<Outcome, usize>::new());
    let result = runner.run(&case(), |c| {
        let files = render(&c);
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let outcome = run_case(&files);
                let _ = tx.send(outcome);
            })
            .map_err(|e| TestCaseError::fail(format!("spawn: {e}")))?;
        let outcome = match rx.recv_timeout(HANG) {
            Ok(o) => o,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                return Err(TestCaseError::fail(format!("no answer in {HANG:?}")));
            }
            // The thread died without sending: a panic (or worse).
            Err(_) => {
                let _ = worker.join();
                return Err(TestCaseError::fail("the case panicked"));
            }
        };
        let _ = worker.join();
        slowest.set(slowest.get().max(start.elapsed()));
        let outcome = outcome.map_err(TestCaseError::fail)?;
        *outcomes.borrow_mut().entry(outcome).or_default() += 1;
        Ok(())
    });
    eprintln!(
        "fuzz_proto: {CASES} cases, slowest {:?}, outcomes {:?}",
        slowest.get(),
        outcomes.borrow()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn a_checks_compile_error_names_file_line_and_column() {
    let files = BTreeMap::from([(
        "bad.proto".to_string(),
        "syntax = \"proto3\";\npackage x;\nmessage A {\n  strin name = 1;\n}\n".to_string(),
    )]);
    let err = spec_compile_root("bad.proto", &files).unwrap_err();
    assert!(
        err.starts_with("bad.proto:4:3: name 'strin' is not defined"),
        "{err}"
    );
    let files = BTreeMap::from([(
        "syntax.proto".to_string(),
        "syntax = \"proto3\";\nmessage {\n".to_string(),
    )]);
    let err = spec_compile_root("syntax.proto", &files).unwrap_err();
    assert!(err.starts_with("syntax.proto:2:9: "), "{err}");
}

fn spec_compile_root(root: &str, files: &BTreeMap<String, String>) -> Result<(), String> {
    let spec: uptimeping::spec::GrpcSpec = serde_json::from_value(serde_json::json!({
        "service": "x.S", "method": "Get", "proto": root, "proto_files": files,
    }))
    .map_err(|e| e.to_string())?;
    spec.pool().map(|_| ())
}
