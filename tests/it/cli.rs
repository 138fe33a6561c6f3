//! The command line as a whole: help, exit codes, colour, error lines, and the
//! machine-readable outputs (schema, `test -o json|yaml`).

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};

use super::support::{Files, Run, Test, run, uptimeping};

/// Runs the binary in `dir` with extra environment changes: `Some` sets a
/// variable, `None` removes it.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut test = Test::in_dir(dir).args(args);
    for (name, value) in env {
        test = match value {
            Some(v) => test.env(name, v),
            None => test.env_remove(name),
        };
    }
    test.run()
}

/// A port on 127.0.0.1 that nothing listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Two checks that are down (connection refused) and nothing else.
fn down_checks() -> Files {
    let port = closed_port();
    let check = |name: &str| {
        format!("kind: Check\nname: {name}\ntype: http\ntarget: http://127.0.0.1:{port}/healthz\n")
    };
    Files::new(&[(
        "checks/down.yaml",
        &format!("{}---\n{}", check("first"), check("second")),
    )])
}

const VALID: &str = "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\n";

fn has_ansi(run: &Run) -> bool {
    run.stdout.contains('\x1b') || run.stderr.contains('\x1b')
}

#[test]
fn help_of_every_command_shows_examples() {
    for args in [
        &["--help"][..],
        &["help"],
        &["validate", "--help"],
        &["test", "--help"],
        &["schema", "--help"],
        &["completions", "--help"],
        &["help", "test"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("\nExamples:\n"),
            "{args:?}:\n{}",
            r.stdout
        );
        assert_eq!(r.stderr, "", "{args:?}");
    }
}

#[test]
fn version() {
    let r = run(&["--version"]);
    assert_eq!(
        r.stdout,
        format!("uptimeping {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(r.code, 0);
}

#[test]
fn validate_exits_0_when_valid_and_1_when_not() {
    let files = Files::new(&[
        ("good/api.yaml", VALID),
        ("bad/api.yaml", &VALID.replace("https", "ftp")),
    ]);
    let ok = files.run(&["validate", "-f", "good"]);
    assert_eq!(
        (ok.code, ok.stdout.as_str()),
        (0, "Valid: 1 resource in 1 file (1 Check)\n")
    );
    assert_eq!(files.run(&["validate", "-f", "bad"]).code, 1);
    assert_eq!(files.run(&["validate", "-f", "bad", "-o", "json"]).code, 1);
}

#[test]
fn usage_errors_exit_1_with_clap_message() {
    for args in [
        &["validate"][..],
        &["validate", "-f", "x", "--bogus"],
        &["validate", "-f", "x", "-o", "xml"],
        &["--color", "sometimes", "validate", "-f", "x"],
        &["completions", "tcsh"],
        &["test", "-f", "x", "--concurrency", "0"],
        &["frobnicate"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{args:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}:\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}:\n{}", r.stderr);
    }
    // Without a command, the help goes to stderr: it is an error, not a request.
    let r = run(&[]);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert!(
        r.stderr
            .contains("\nUsage: uptimeping [OPTIONS] <COMMAND>\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_exits_2_when_every_check_is_down() {
    let files = down_checks();
    let r = files.run(&["test", "-f", "checks"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.ends_with("\n0 up, 2 down\n"), "{}", r.stdout);
    assert_eq!(r.stderr, "");

    let r = files.run(&["test", "-f", "checks", "-o", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let results = r.json();
    let summary: Vec<Value> = results
        .as_array()
        .expect("a list of results")
        .iter()
        .map(|r| {
            json!([
                r["name"],
                r["up"],
                r["error"],
                r["error_kind"],
                r["status_code"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            json!(["first", false, "connection refused", "connect", null]),
            json!(["second", false, "connection refused", "connect", null]),
        ]
    );
}

#[test]
fn test_output_as_yaml_parses() {
    let files = down_checks();
    let r = files.run(&["test", "-f", "checks", "--check", "second", "-o", "yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let doc = yaml_to_json(&r.stdout);
    let result = &doc[0];
    assert_eq!(doc.as_array().map(Vec::len), Some(1), "{}", r.stdout);
    assert_eq!(result["name"], json!("second"));
    assert_eq!(result["type"], json!("http"));
    assert_eq!(result["up"], json!(false));
    assert_eq!(result["error"], json!("connection refused"));
    assert_eq!(result["attempts"], json!(1));
    assert!(
        result["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("http://127.0.0.1:"))
    );
}

#[test]
fn test_exits_1_on_invalid_files_without_running_anything() {
    let files = Files::new(&[("checks/api.yaml", "kind: Check\nname: api\ntype: http\n")]);
    let r = files.run(&["test", "-f", "checks"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "checks/api.yaml:1:1: missing field `target` in Check\n\
         uptimeping: 1 problem in the check files; fix it and run again\n"
    );
}

#[test]
fn failures_are_one_line_starting_with_the_program_name() {
    let files = Files::new(&[("checks/api.yaml", VALID), ("empty/README.md", "x")]);
    for (args, expected) in [
        (
            &["validate", "-f", "missing"][..],
            "uptimeping: reading check files: cannot read `missing`: No such file or directory \
             (os error 2); check that the path given with -f exists",
        ),
        (
            &["test", "-f", "missing/api.yaml"],
            "uptimeping: reading check files: cannot read `missing/api.yaml`: No such file or \
             directory (os error 2); check that the path given with -f exists",
        ),
        (
            &["validate", "-f", "empty"],
            "uptimeping: reading check files: no .yaml or .yml files found under `empty`",
        ),
        (
            &["test", "-f", "checks", "--check", "web"],
            "uptimeping: no check named `web` in the files given",
        ),
    ] {
        let r = files.run(args);
        assert_eq!(r.stderr, format!("{expected}\n"), "{args:?}");
        assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{args:?}");
    }
}

#[test]
fn no_color_turns_colour_off_even_when_forced() {
    let files = down_checks();
    for args in [
        &["test", "-f", "checks"][..],
        &["validate", "--help"],
        &["validate", "--bogus"],
    ] {
        let env = [("NO_COLOR", Some("1")), ("CLICOLOR_FORCE", Some("1"))];
        let r = run_env(files.path(), args, &env);
        assert!(!has_ansi(&r), "{args:?}:\n{r:?}");
        let env = [("NO_COLOR", None), ("CLICOLOR_FORCE", Some("1"))];
        let r = run_env(
            files.path(),
            &[&["--color", "never"][..], args].concat(),
            &env,
        );
        assert!(!has_ansi(&r), "--color never {args:?}:\n{r:?}");
    }
}

#[test]
fn color_always_colours_output_that_is_not_a_terminal() {
    let files = down_checks();
    let env = [("NO_COLOR", None), ("CLICOLOR_FORCE", None)];
    let plain = run_env(files.path(), &["test", "-f", "checks"], &env);
    assert!(
        !has_ansi(&plain),
        "a pipe gets no colour by default:\n{plain:?}"
    );
    for args in [
        &["--color", "always", "test", "-f", "checks"][..],
        &["--color=always", "validate", "--help"],
        &["validate", "--bogus", "--color", "always"],
    ] {
        let r = run_env(files.path(), args, &env);
        assert!(has_ansi(&r), "{args:?}:\n{r:?}");
    }
    let r = run_env(
        files.path(),
        &["--color", "always", "test", "-f", "checks"],
        &env,
    );
    assert!(r.stdout.contains("\x1b[31mDOWN"), "{}", r.stdout);
}

#[test]
fn schema_is_json_that_describes_checks() {
    let r = run(&["schema"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let schema = r.json();
    // A document is an object, or empty (null): what objects need is in the
    // object branch.
    let object = schema["allOf"]
        .as_array()
        .expect("allOf")
        .iter()
        .filter_map(|s| s["anyOf"].as_array())
        .flatten()
        .find(|s| s["type"] == "object")
        .expect("an object branch")
        .clone();
    assert!(
        schema["allOf"]
            .as_array()
            .expect("allOf")
            .iter()
            .any(|s| s["anyOf"]
                .as_array()
                .is_some_and(|b| b.contains(&json!({"type": "null"})))),
        "empty documents are allowed"
    );
    assert_eq!(object["required"], json!(["kind", "name"]));
    assert_eq!(
        object["properties"]["kind"]["enum"],
        json!(["Check", "Channel", "Template", "Maintenance", "StatusPage"])
    );
    let defs = &schema["$defs"];
    for (def, field) in [
        ("HttpSpec", "method"),
        ("HttpSpec", "headers"),
        ("Expect", "status"),
        ("Expect", "conditions"),
        ("Alert", "channels"),
        ("TlsSpec", "ca_file"),
    ] {
        assert!(
            defs[def]["properties"][field].is_object(),
            "$defs.{def}.{field}"
        );
    }
    let check = schema["allOf"]
        .as_array()
        .expect("allOf")
        .iter()
        .find(|v| v["if"]["properties"]["kind"]["const"] == "Check")
        .expect("a branch for kind: Check");
    let then = &check["then"];
    assert_eq!(then["properties"]["kind"], json!({"const": "Check"}));
    assert_eq!(then["additionalProperties"], json!(false));
    for field in [
        "name", "type", "target", "schedule", "timeout", "http", "expect", "alert",
    ] {
        assert!(then["properties"][field].is_object(), "Check.{field}");
    }
    let required = then["required"].as_array().expect("required");
    for field in ["kind", "name", "type", "target"] {
        assert!(required.contains(&json!(field)), "{field} in {required:?}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let files = Files::new(&[("checks/api.yaml", VALID)]);
    for args in [
        &["completions", "bash"][..],
        &["schema"],
        &["validate", "-f", "checks", "-o", "json"],
        &["--help"],
    ] {
        // The reading end is closed before the program starts: every write fails.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = uptimeping()
            .args(args)
            .current_dir(files.path())
            .stdin(Stdio::null())
            .stdout(writer)
            .output()
            .expect("run uptimeping");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), stderr.as_ref()),
            (Some(0), ""),
            "{args:?}"
        );
    }
}

/// Reads YAML into JSON with the parser the product uses, so that the test does
/// not depend on the serialiser it checks. Enough for `-o yaml` output.
fn yaml_to_json(text: &str) -> Value {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    enum Frame {
        Seq(Vec<Value>),
        Map(serde_json::Map<String, Value>, Option<String>),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = None;
    for event in Parser::new_from_str(text) {
        let (event, _) = event.unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}"));
        let value = match event {
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(serde_json::Map::new(), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Value::Array(items),
                Some(Frame::Map(map, _)) => Value::Object(map),
                None => panic!("unbalanced YAML:\n{text}"),
            },
            Event::Scalar(s, ScalarStyle::Plain, ..) => match s.as_ref() {
                "null" | "~" | "" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => serde_json::from_str::<serde_json::Number>(other)
                    .map(Value::Number)
                    .unwrap_or_else(|_| Value::String(other.to_string())),
            },
            Event::Scalar(s, ..) => Value::String(s.into_owned()),
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items)) => items.push(value),
            Some(Frame::Map(map, key)) => match key.take() {
                None => *key = Some(value.as_str().expect("string keys").to_string()),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
    root.unwrap_or_else(|| panic!("no YAML document in:\n{text}"))
}

#[test]
fn the_example_checks_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/checks");
    let out = crate::support::run(&["validate", "-f", dir]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("Valid: "), "{}", out.stdout);
}
