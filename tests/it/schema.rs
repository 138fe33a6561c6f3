//! The JSON Schema (`uptimeping schema`) against a real validator: ajv in strict
//! mode, which yaml-language-server builds on, run by `tests/schema/ajv.js`.
//! The schema and `validate` must agree on the examples and on the files under
//! `tests/schema/`: `valid/` (both accept), `invalid/` (both refuse), except for
//! the files of [`SCHEMA_CANNOT_SAY`], which `validate` refuses and the schema
//! cannot: each is listed with why, and any other disagreement fails.
//!
//! One case goes the other way and has no file here: a `${VAR}` written where a
//! number or a boolean belongs is text to the schema, though `validate` types the
//! variable's value. Interpolation is documented for string values, where the
//! schema accepts any text with `${` in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use uptimeping::spec::Duration;

use crate::support::{run, run_in};

/// Files of `tests/schema/invalid/` that `validate` refuses and the schema
/// accepts, because what is wrong is beyond what a JSON Schema can say about one
/// document as written: other documents, other languages, files, the
/// environment, sizes after interpolation or in bytes.
const SCHEMA_CANNOT_SAY: &[(&str, &str)] = &[
    (
        "unknown-channel.yaml",
        "references to other documents (`alert.channels`, `depends_on`, templates, maintenance `checks`)",
    ),
    (
        "duplicate-name.yaml",
        "names unique per kind, across documents and files",
    ),
    (
        "dependency-cycle.yaml",
        "cycles in `depends_on`, across documents",
    ),
    (
        "depends-on-itself.yaml",
        "a value compared with another field (`depends_on` naming the check itself)",
    ),
    (
        "bad-condition.yaml",
        "CEL syntax and types of `expect.conditions`",
    ),
    (
        "bad-regex.yaml",
        "regular expressions that do not compile (`body_regex`, `expect.headers`, `/…/` responses)",
    ),
    (
        "bad-json-path.yaml",
        "JSONPath syntax of `expect.json_path` keys",
    ),
    (
        "missing-file.yaml",
        "files named by relative paths (`ca_file`, `proto`, `descriptor_set`)",
    ),
    (
        "bad-pem.yaml",
        "the contents of PEM certificates and keys beyond their header",
    ),
    (
        "duration-over-maximum.yaml",
        "a duration's size written as text: the 10-year maximum and numbers too large",
    ),
    (
        "duration-fraction-too-fine.yaml",
        "fractions finer than the unit allows (`1.001h` is not whole seconds)",
    ),
    (
        "schedule-too-often.yaml",
        "the 5s minimum interval of a schedule written as text or cron",
    ),
    (
        "timeout-not-below-interval.yaml",
        "the timeout compared with the schedule's interval",
    ),
    (
        "timeout-zero-text.yaml",
        "a zero timeout written as text (`0s`)",
    ),
    // Per-field bounds of durations written as text: numbers of seconds are
    // bounded by the schema; a text's size would need a pattern per bound over
    // the whole duration grammar, the kind that backtracks.
    (
        "remind-every-text-too-often.yaml",
        "`alert.remind_every` under 1m written as text",
    ),
    (
        "maintenance-duration-zero-text.yaml",
        "a zero maintenance `duration` written as text (`0s`)",
    ),
    (
        "maintenance-duration-text-too-long.yaml",
        "a maintenance `duration` over 366d written as text",
    ),
    (
        "slo-window-text-too-short.yaml",
        "`slo.window` outside 1d to 90d written as text",
    ),
    (
        "rate-limit-period-zero.yaml",
        "a `rate_limit` period of zero (`5/0s`)",
    ),
    (
        "rate-limit-period-too-long.yaml",
        "a `rate_limit` period over a day (`5/2d`)",
    ),
    (
        "cron-never-fires.yaml",
        "cron fields' ranges and dates that never exist",
    ),
    (
        "window-end-before-start.yaml",
        "times compared with each other, and local times a clock change skips",
    ),
    (
        "template-unknown-filter.yaml",
        "minijinja syntax, filters and rendering of templates",
    ),
    (
        "slo-five-decimals.yaml",
        "at most 4 decimals in `slo.objective` (a float multipleOf is not exact)",
    ),
    (
        "label-value-bytes.yaml",
        "byte lengths of non-ASCII text (the schema counts characters)",
    ),
    (
        "whole-number-with-point.yaml",
        "a whole number written `1.0`, which JSON cannot tell from `1`",
    ),
    ("target-without-host.yaml", "URL syntax beyond the scheme"),
    (
        "grpc-unknown-method.yaml",
        "services, methods and request fields of a `.proto` or descriptor set",
    ),
    (
        "status-page-unknown-check.yaml",
        "references to other documents (a status page's `groups[].checks`)",
    ),
    (
        "status-page-duplicate-slug.yaml",
        "a status page's `slug` and `domain` unique across documents",
    ),
    (
        "status-page-duplicate-group.yaml",
        "one field unique among a list's items (group names within a page): `uniqueItems` compares whole items",
    ),
    (
        "missing-variable.yaml",
        "`${VAR}` without a default and not set: values are checked as written",
    ),
];

/// The repository's root, where `examples/` and `tests/schema/` are.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What ajv said about a set of documents.
struct Answer {
    warnings: Vec<Value>,
    results: Vec<(String, bool, Vec<String>)>,
}

/// The schema as `uptimeping schema` prints it, in a file under `dir`.
fn schema_file(dir: &Path) -> PathBuf {
    let r = run(&["schema"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "uptimeping schema");
    let path = dir.join("uptimeping.schema.json");
    std::fs::write(&path, &r.stdout).expect("write the schema");
    path
}

/// Runs `tests/schema/ajv.js` over `documents` (against the part `reference` of
/// the schema, or all of it).
fn ajv(schema: &Path, documents: &[(String, Value)], reference: Option<&str>) -> Answer {
    let node_path = std::env::var_os("NODE_PATH").unwrap_or_default();
    let has_ajv = std::env::split_paths(&node_path).any(|p| p.join("ajv/dist/2020.js").is_file());
    assert!(
        has_ajv,
        "ajv is not on NODE_PATH: run scripts/test, which installs ajv and ajv-formats and exports NODE_PATH"
    );
    let docs: Vec<Value> = documents
        .iter()
        .map(|(id, value)| json!({"id": id, "value": value}))
        .collect();
    let request = json!({"documents": docs, "ref": reference});
    let mut child = Command::new("node")
        .arg(root().join("tests/schema/ajv.js"))
        .arg(schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node: run scripts/test, which needs Node.js for ajv");
    let stdin = child.stdin.take().expect("stdin");
    let body = request.to_string();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut stdin = stdin;
        stdin.write_all(body.as_bytes()).expect("write to node");
    });
    let out = child.wait_with_output().expect("wait for node");
    writer.join().expect("writer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed: {stderr}");
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ajv.js printed no JSON ({e}); stderr: {stderr}"));
    assert!(
        answer["compile_error"].is_null(),
        "ajv (strict) refuses the schema: {}",
        answer["compile_error"]
    );
    let results = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let errors = r["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .map(|s| s.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default();
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["valid"] == json!(true),
                errors,
            )
        })
        .collect();
    Answer {
        warnings: answer["warnings"].as_array().cloned().unwrap_or_default(),
        results,
    }
}

/// The YAML files of `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every document of `files`, as an editor checks them, named `file#index`.
fn documents_of(files: &[PathBuf]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("read a YAML file");
        let docs = uptimeping::spec::schema::documents(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        for (i, doc) in docs.into_iter().enumerate() {
            out.push((format!("{name}#{i}"), doc));
        }
    }
    out
}

/// Whether `uptimeping validate` accepts `file`, run from its directory so that
/// relative paths resolve as they do for users.
fn validate_accepts(file: &Path) -> (bool, String) {
    let dir = file.parent().expect("a directory");
    let name = file.file_name().and_then(|n| n.to_str()).expect("a name");
    let r = run_in(dir, &["validate", "-f", name], None);
    (r.code == 0, r.stderr)
}

#[test]
fn the_schema_compiles_in_ajv_strict_mode_without_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(dir.path());
    let answer = ajv(&schema, &[], None);
    assert_eq!(
        answer.warnings,
        Vec::<Value>::new(),
        "ajv logged while compiling"
    );
    let text = std::fs::read_to_string(&schema).expect("read the schema");
    for format in ["uint", "int32", "int64", "double", "float"] {
        assert!(
            !text.contains(&format!("\"format\": \"{format}")),
            "non-standard format {format}"
        );
    }
}

#[test]
fn every_example_document_is_valid_for_the_schema_and_for_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(dir.path());
    let files = yaml_files(&root().join("examples/checks"));
    let docs = documents_of(&files);
    assert!(
        docs.len() >= 20,
        "the examples hold {} documents",
        docs.len()
    );
    let answer = ajv(&schema, &docs, None);
    let refused: Vec<_> = answer.results.iter().filter(|r| !r.1).collect();
    assert!(
        refused.is_empty(),
        "the schema refuses examples: {refused:#?}"
    );
    let r = run_in(&root(), &["validate", "-f", "examples/checks"], None);
    assert_eq!(r.code, 0, "validate refuses the examples: {}", r.stderr);
}

#[test]
fn unusual_but_valid_files_are_accepted_by_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(dir.path());
    let files = yaml_files(&root().join("tests/schema/valid"));
    assert!(files.len() >= 10, "{} valid files", files.len());
    let docs = documents_of(&files);
    let empty: Vec<_> = docs.iter().filter(|(_, d)| d.is_null()).collect();
    assert!(
        empty.len() >= 2,
        "empty documents are checked as null: {empty:?}"
    );
    let answer = ajv(&schema, &docs, None);
    let refused: Vec<_> = answer.results.iter().filter(|r| !r.1).collect();
    assert!(
        refused.is_empty(),
        "the schema refuses valid files: {refused:#?}"
    );
    for file in &files {
        let (ok, stderr) = validate_accepts(file);
        assert!(ok, "validate refuses {}: {stderr}", file.display());
    }
}

#[test]
fn broken_files_are_refused_by_both_except_the_listed_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(dir.path());
    let files = yaml_files(&root().join("tests/schema/invalid"));
    let names: Vec<&str> = files
        .iter()
        .filter_map(|f| f.file_name().and_then(|n| n.to_str()))
        .collect();
    for (listed, _) in SCHEMA_CANNOT_SAY {
        assert!(names.contains(listed), "{listed} is listed but missing");
    }
    assert!(
        files.len() >= SCHEMA_CANNOT_SAY.len() + 15,
        "{} broken files",
        files.len()
    );
    let mut disagreements = Vec::new();
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let (ok, stderr) = validate_accepts(file);
        assert!(!ok, "validate accepts the broken {name}");
        let answer = ajv(&schema, &documents_of(std::slice::from_ref(file)), None);
        let schema_refuses = answer.results.iter().any(|r| !r.1);
        let listed = SCHEMA_CANNOT_SAY.iter().any(|(f, _)| *f == name);
        if schema_refuses == listed {
            disagreements.push(format!(
                "{name}: validate refuses ({}), the schema {}",
                stderr.lines().next().unwrap_or(""),
                if schema_refuses {
                    "refuses too: take it off SCHEMA_CANNOT_SAY"
                } else {
                    "accepts"
                }
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// A deterministic sample of texts around the duration grammar: numbers, every
/// kind of space the parser skips (and U+FEFF, which it does not), units, points.
fn duration_texts() -> Vec<String> {
    let pieces = [
        "0", "1", "5", "30", "250", " ", "  ", "\t", "\u{a0}", "\u{85}", "\u{feff}", ".", "5.",
        ".5", "s", "ms", "m", "min", "mins", "h", "hr", "d", "days", "w", "M", "y", "us", "µs",
        "ns", "seconds", "second", "S", "sec ", "x", "-", "1h30m", "@",
    ];
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut out = vec![
        "5 seconds".to_string(),
        "1h30m".into(),
        "1h 30m".into(),
        "1.5h".into(),
        "1 000 ms".into(),
        "2 weeks".into(),
    ];
    for _ in 0..3_000 {
        let n = next() % 6 + 1;
        out.push((0..n).map(|_| pieces[next() % pieces.len()]).collect());
    }
    out
}

#[test]
fn durations_match_the_parser_in_the_editors_regex_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(dir.path());
    let texts = duration_texts();
    let docs: Vec<(String, Value)> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| (i.to_string(), json!(t)))
        .collect();
    let answer = ajv(&schema, &docs, Some("#/$defs/Duration"));
    let mut wrong = Vec::new();
    let mut accepted = 0;
    for ((_, schema_ok, _), text) in answer.results.iter().zip(&texts) {
        let parsed = text.parse::<Duration>();
        accepted += usize::from(parsed.is_ok());
        // Sizes (too large, finer than the unit) are `validate`'s: see SCHEMA_CANNOT_SAY.
        let size = matches!(&parsed, Err(e) if e.contains("too large") || e.contains("more than the maximum"));
        if !size && *schema_ok != parsed.is_ok() {
            wrong.push(format!("{text:?}: schema {schema_ok}, parser {parsed:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(accepted > 100, "only {accepted} of the sample parse");
}

/// Length of the hostile texts: a long value, as a pasted key or certificate
/// is, and long enough that a pattern which backtracks over it quadratically
/// takes seconds where a linear one takes a millisecond.
const HOSTILE_TEXT_CHARS: usize = 100_000;

/// Longest a pattern of the schema may take over one adversarial text in
/// JavaScript's regex engine (yaml-language-server's): far above what any
/// linear pattern needs, so that only runaway backtracking fails.
const PATTERN_TIME_LIMIT_MS: u64 = 1000;

#[test]
fn no_pattern_backtracks_without_end_on_long_hostile_texts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(dir.path());
    // Every `pattern` and `patternProperties` key, compiled with `u` as ajv does,
    // against long repetitions of the pieces the schema's grammars are made of,
    // each ending in a character that makes the match fail late.
    let script = format!(
        r#"
const fs = require("fs");
const schema = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const patterns = new Set();
(function walk(v) {{
  if (Array.isArray(v)) return v.forEach(walk);
  if (v && typeof v === "object") {{
    for (const [k, x] of Object.entries(v)) {{
      if (k === "pattern" && typeof x === "string") patterns.add(x);
      if (k === "patternProperties") Object.keys(x).forEach(p => patterns.add(p));
      if (k !== "enum" && k !== "const" && k !== "default") walk(x);
    }}
  }}
}})(schema);
const pieces = ["1", "1-", "1-1-", "1:", "0", " ", "\t", "\u00a0", "a", "-", ".", "1.", "1 ", "1h", "h",
  "1 s", "*", "*/", "1,", "x-", "a@", "<", "${{", "+", "/", "ab", "2xx", "=", "_"];
const prefixes = ["", "1-1-", "2026-12-01T", "2026-12-01 1", "http://", "1 ", "0 3 * * ", "a", "-1"];
const ends = ["x", "\u0000"];
const LEN = {len}, LIMIT = {limit};
let slowest = {{ms: 0}}, over = [];
for (const p of patterns) {{
  const re = new RegExp(p, "u");
  for (const piece of pieces) for (const prefix of prefixes) for (const end of ends) {{
    const text = prefix + piece.repeat(Math.ceil(LEN / piece.length)) + end;
    const t0 = process.hrtime.bigint();
    re.test(text);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > slowest.ms) slowest = {{ms, pattern: p.slice(0, 120), text: JSON.stringify(text.slice(0, 30))}};
    if (ms > LIMIT) {{ over.push({{ms, pattern: p.slice(0, 200), text: JSON.stringify(text.slice(0, 30))}}); break; }}
  }}
}}
console.log(JSON.stringify({{patterns: patterns.size, slowest, over}}));
"#,
        limit = PATTERN_TIME_LIMIT_MS,
        len = HOSTILE_TEXT_CHARS
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(&script)
        .arg(&schema)
        .output()
        .expect("run node: run scripts/test, which needs Node.js for ajv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed: {stderr}");
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the script printed no JSON ({e}); stderr: {stderr}"));
    eprintln!(
        "{} patterns; slowest over a hostile text: {}",
        answer["patterns"], answer["slowest"]
    );
    assert!(answer["patterns"].as_u64().unwrap_or(0) > 20, "{answer}");
    assert_eq!(
        answer["over"],
        json!([]),
        "patterns that backtrack without end"
    );
}
