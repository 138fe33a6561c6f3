//! The documented maximums of counts and lengths in a check file: labels,
//! headers and metadata, `target` and `depends_on`. Refused one over them at
//! `validate` with `file:line:col`, accepted at them.

use super::spec_errors::{HEAD, assert_file_problems};
use super::support::Files;

const TCP: &str = "kind: Check\nname: api\ntype: tcp\ntarget: example.com:25\n";
const GRPC: &str =
    "kind: Check\nname: api\ntype: grpc\ntarget: example.com:443\ngrpc:\n  health: true\n";

/// A YAML mapping under `key` (indented by `indent`) of `n` entries.
fn mapping(key: &str, indent: &str, n: usize, value: &str) -> String {
    let mut text = format!("{key}:\n");
    for i in 0..n {
        text.push_str(&format!("{indent}  k{i}: \"{value}\"\n"));
    }
    text
}

fn accepted(yaml: &str) {
    let dir = Files::new(&[("checks/api.yaml", yaml)]);
    let run = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn labels_are_bounded_in_count_key_and_value() {
    assert_file_problems(
        &format!("{HEAD}{}", mapping("labels", "", 65, "v")),
        &["checks/api.yaml:5:1: `labels`: 65 labels is more than the maximum of 64; remove some"],
    );
    accepted(&format!("{HEAD}{}", mapping("labels", "", 64, "v")));
    let key = "k".repeat(64);
    assert_file_problems(
        &format!("{HEAD}labels:\n  {key}: v\n"),
        &[
            "checks/api.yaml:6:3: `labels`: a key of 64 bytes is more than the maximum of 63; shorten it",
        ],
    );
    accepted(&format!("{HEAD}labels:\n  {}: v\n", "k".repeat(63)));
    assert_file_problems(
        &format!("{HEAD}labels:\n  team: {}\n", "v".repeat(257)),
        &[
            "checks/api.yaml:6:9: `labels.team`: 257 bytes is more than the maximum of 256; shorten it",
        ],
    );
    accepted(&format!("{HEAD}labels:\n  team: {}\n", "v".repeat(256)));
}

#[test]
fn headers_and_metadata_are_bounded_in_count_and_value_length() {
    assert_file_problems(
        &format!("{HEAD}{}", mapping("http:\n  headers", "  ", 65, "v")),
        &[
            "checks/api.yaml:6:3: `http.headers`: 65 headers is more than the maximum of 64; remove some",
        ],
    );
    accepted(&format!(
        "{HEAD}{}",
        mapping("http:\n  headers", "  ", 64, "v")
    ));
    let long = "v".repeat(8 * 1024 + 1);
    assert_file_problems(
        &format!("{HEAD}http:\n  headers:\n    x-a: {long}\n"),
        &[
            "checks/api.yaml:7:10: `http.headers.x-a`: 8193 bytes is more than the maximum of 8192; shorten it",
        ],
    );
    accepted(&format!(
        "{HEAD}http:\n  headers:\n    x-a: {}\n",
        "v".repeat(8192)
    ));
    assert_file_problems(
        &format!("{GRPC}{}", mapping("  metadata", "  ", 65, "v")),
        &[
            "checks/api.yaml:7:3: `grpc.metadata`: 65 entries is more than the maximum of 64; remove some",
        ],
    );
    accepted(&format!("{GRPC}{}", mapping("  metadata", "  ", 64, "v")));
    assert_file_problems(
        &format!("{GRPC}  metadata:\n    x-a: {long}\n"),
        &[
            "checks/api.yaml:8:10: `grpc.metadata.x-a`: 8193 bytes is more than the maximum of 8192; shorten it",
        ],
    );
}

#[test]
fn target_and_depends_on_are_bounded() {
    let path = "a".repeat(2048 - "https://example.com/".len() + 1);
    assert_file_problems(
        &format!("kind: Check\nname: api\ntype: http\ntarget: https://example.com/{path}\n"),
        &["checks/api.yaml:4:9: `target`: 2049 bytes is more than the maximum of 2048; shorten it"],
    );
    accepted(&format!(
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/{}\n",
        &path[1..]
    ));
    let deps = |n: usize| {
        let mut text = String::from(TCP);
        text.push_str("depends_on:\n");
        let mut others = String::new();
        for i in 0..n {
            text.push_str(&format!("  - d{i}\n"));
            others.push_str(&format!(
                "---\nkind: Check\nname: d{i}\ntype: tcp\ntarget: example.com:25\n"
            ));
        }
        text + &others
    };
    assert_file_problems(
        &deps(65),
        &[
            "checks/api.yaml:5:1: `depends_on`: 65 entries is more than the maximum of 64; remove some",
        ],
    );
    accepted(&deps(64));
}
