//! What `-f` accepts and what interpolation produces, on files that are valid.

use serde_json::json;
use uptimeping::spec::{Source, Spec, load};

use super::spec_errors::assert_problems;
use super::support::{Files, Run, run_in, uptimeping};

const CHECK: &str = "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\n";
const CHANNEL: &str =
    "kind: Channel\nname: ops\ntype: slack\nslack:\n  webhook_url: https://hooks.example.com/x\n";

fn assert_valid(run: &Run, summary: &str) {
    assert_eq!(
        run.stdout,
        format!("{summary}\n"),
        "stderr:\n{}",
        run.stderr
    );
    assert_eq!(run.stderr, "");
    assert_eq!(run.code, 0);
}

#[test]
fn defaults_and_double_dollars_interpolate() {
    let yaml = "\
kind: Template
name: price
subject: \"${SERVICE} at ${REGION:-eu-west-1}\"
body: 'costs $$5, matches ok$ and $.status, literal $${SERVICE}, empty ${EMPTY:-fallback}'
";
    let env = |name: &str| match name {
        "SERVICE" => Some("payments".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let bundle = load(&[Source::new("t.yaml", yaml, ".")], &env).unwrap_or_else(|d| panic!("{d}"));
    let Spec::Template(t) = &bundle.resources[0].spec else {
        panic!("not a template: {:?}", bundle.resources[0].spec);
    };
    assert_eq!(t.subject.as_deref(), Some("payments at eu-west-1"));
    assert_eq!(
        t.body.as_deref(),
        Some("costs $5, matches ok$ and $.status, literal ${SERVICE}, empty fallback")
    );
    // Values that came from variables are secrets, the others are not.
    let sensitive: Vec<&str> = bundle.resources[0]
        .sensitive
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(sensitive, ["/body", "/subject"]);
}

#[test]
fn the_binary_uses_defaults_and_the_environment() {
    let files = Files::new(&[(
        "checks/api.yaml",
        "kind: Check\nname: api\ntype: http\n\
         target: ${UPTIMEPING_TEST_UNSET_URL:-https://example.com/healthz}\n\
         http:\n  headers:\n    Authorization: Bearer ${UPTIMEPING_TEST_TOKEN}\n",
    )]);
    let out = uptimeping()
        .args(["validate", "-f", "checks", "-o", "json"])
        .env("UPTIMEPING_TEST_TOKEN", "t0ken")
        .current_dir(files.path())
        .output()
        .expect("run uptimeping");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        doc,
        json!({
            "valid": true,
            "files": 1,
            "resources": [{"kind": "Check", "name": "api", "file": "checks/api.yaml", "line": 2, "column": 7}],
            "diagnostics": [],
        })
    );
}

#[test]
fn dash_reads_standard_input() {
    let dir = Files::new(&[]);
    let run = run_in(dir.path(), &["validate", "-f", "-"], Some(CHECK));
    assert_valid(&run, "Valid: 1 resource in 1 file (1 Check)");

    let broken = CHECK.replace("https://", "gopher://");
    let run = run_in(dir.path(), &["validate", "-f", "-"], Some(broken.as_str()));
    assert_eq!(
        run.stderr,
        "<stdin>:4:9: `target`: `gopher://example.com/healthz` is not an http:// or https:// URL \
         (scheme `gopher`)\nuptimeping: 1 problem in the check files; fix it and run again\n"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn dash_may_be_given_only_once() {
    let dir = Files::new(&[]);
    let run = run_in(dir.path(), &["validate", "-f", "-", "-f", "-"], Some(CHECK));
    assert_eq!(
        run.stderr,
        "uptimeping: reading check files: `-f -` may be given only once\n"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn f_may_be_repeated_and_references_cross_files() {
    let check = format!("{CHECK}alert:\n  channels: [ops]\n");
    let files = Files::new(&[
        ("checks/api.yaml", &check),
        ("shared/channels.yaml", CHANNEL),
    ]);
    let run = files.run(&["validate", "-f", "checks/api.yaml", "--file", "shared"]);
    assert_valid(&run, "Valid: 2 resources in 2 files (1 Channel, 1 Check)");
    // Without the second file the reference is dangling.
    let run = files.run(&["validate", "-f", "checks/api.yaml"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "checks/api.yaml:6:14: `alert.channels[0]`: Channel `ops` is not defined in the files \
         given\nuptimeping: 1 problem in the check files; fix it and run again\n"
    );
}

#[test]
fn hidden_and_non_yaml_files_in_a_directory_are_ignored() {
    let broken = "kind: [\n";
    let files = Files::new(&[
        ("checks/api.yaml", CHECK),
        ("checks/team/channels.yml", CHANNEL),
        ("checks/.draft.yaml", broken),
        ("checks/.git/config.yaml", broken),
        ("checks/README.md", broken),
        ("checks/api.yaml.bak", broken),
        ("checks/notes.txt", broken),
    ]);
    let run = files.run(&["validate", "-f", "checks"]);
    assert_valid(&run, "Valid: 2 resources in 2 files (1 Channel, 1 Check)");
}

#[test]
fn a_directory_without_yaml_is_an_error() {
    let files = Files::new(&[("checks/README.md", "# checks\n")]);
    let run = files.run(&["validate", "-f", "checks"]);
    assert_eq!(
        run.stderr,
        "uptimeping: reading check files: no .yaml or .yml files found under `checks`\n"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn empty_documents_are_skipped() {
    let text = format!("---\n---\n# nothing here\n---\n{CHECK}---\n...\n---\n{CHANNEL}---\n");
    let files = Files::new(&[("checks/all.yaml", &text), ("checks/empty.yaml", "")]);
    let run = files.run(&["validate", "-f", "checks"]);
    assert_valid(&run, "Valid: 2 resources in 2 files (1 Channel, 1 Check)");
}

#[test]
fn a_document_that_is_not_a_mapping_is_an_error() {
    assert_problems(
        &[(
            "checks/list.yaml",
            "- kind: Check\n  name: api\n---\njust text\n",
        )],
        &[
            "checks/list.yaml:1:1: expected a mapping with `kind` and `name` at the top of the document",
            "checks/list.yaml:4:1: expected a mapping with `kind` and `name` at the top of the document",
        ],
    );
}

#[test]
fn json_output_lists_every_diagnostic() {
    let files = Files::new(&[(
        "checks/api.yaml",
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/\nretries: 11\n",
    )]);
    let run = files.run(&["validate", "-f", "checks", "-o", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.json(),
        json!({
            "valid": false,
            "resources": [],
            "diagnostics": [{
                "file": "checks/api.yaml",
                "line": 5,
                "column": 10,
                "message": "`retries`: 11 is more than the maximum of 10",
            }],
        })
    );
}
