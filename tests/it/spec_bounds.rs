//! Hostile check files: input that would make a recursive parser or evaluator run
//! out of stack, or an alias expansion run out of memory, is refused with its place.

use serde_json::{Value, json};

use super::daemon_support::{Daemon, desired};
use super::support::Files;

const CHECK: &str = "kind: Check\nname: api\ntype: http\ntarget: https://example.com/\n";

/// Every shape of CEL expression whose parse or evaluation recurses once per link,
/// far past what any stack holds.
fn deep_conditions() -> Vec<(&'static str, String)> {
    let n = 10_000;
    vec![
        ("member chain", format!("body{} == 1", ".b".repeat(n))),
        ("sum", format!("1{} == 1", " + 1".repeat(n))),
        (
            "parentheses",
            format!("{}1{} == 1", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "lists",
            format!("size({}1{}) == 1", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "maps",
            format!("size({}1{}) == 1", "{1: ".repeat(n), "}".repeat(n)),
        ),
        ("negations", format!("{}true", "!".repeat(n))),
        ("minus signs", format!("{}1 == 1", "-".repeat(n))),
        ("ternaries", format!("{}1 == 1", "true ? 1 : ".repeat(n))),
        ("and chain", format!("true{}", " && true".repeat(n))),
        ("or chain", format!("false{}", " || false".repeat(n))),
        ("index chain", format!("body{} == 1", "[0]".repeat(n))),
        (
            "arguments",
            format!("size([{}]) == 1", vec!["1"; n].join(", ")),
        ),
        (
            "calls",
            format!("{}1{} == 1", "int(".repeat(n), ")".repeat(n)),
        ),
        // Short enough for the size bound, deeper than the nesting bound.
        (
            "short parentheses",
            format!("{}1{} == 1", "(".repeat(40), ")".repeat(40)),
        ),
        ("short sum", format!("1{} == 1", " + 1".repeat(300))),
    ]
}

fn check_with_conditions(conditions: &[String]) -> String {
    let mut yaml = format!("{CHECK}expect:\n  conditions:\n");
    for c in conditions {
        yaml.push_str(&format!("    - {}\n", serde_json::to_string(c).unwrap()));
    }
    yaml
}

#[test]
fn deep_conditions_are_refused_at_their_line_by_validate() {
    let cases = deep_conditions();
    let conditions: Vec<String> = cases.iter().map(|(_, c)| c.clone()).collect();
    let files = Files::new(&[("checks/deep.yaml", &check_with_conditions(&conditions))]);
    let run = files.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert!(!run.stderr.contains("overflow"), "{}", run.stderr);
    for (i, (what, _)) in cases.iter().enumerate() {
        let at = format!(
            "checks/deep.yaml:{}:7: `expect.conditions[{i}]`: the condition ",
            7 + i
        );
        assert!(
            run.stderr.contains(&at),
            "{what}: no `{at}` in\n{}",
            run.stderr
        );
    }
}

#[test]
fn conditions_within_the_bounds_still_validate() {
    let realistic = [
        "status == 200 && size(body.items) > 0 && body.items[0].id == 1",
        "body.items.exists(i, i.name == 'api' && (i.state == \"ok\" || i.state == 'degraded'))",
        r#"headers["content-type"].startsWith("application/json") && latency_ms < 800.0"#,
        r"body_text.matches('^\\{.*\\}$') || body_text.contains(r'\d')",
    ];
    let conditions: Vec<String> = realistic.iter().map(|s| s.to_string()).collect();
    let files = Files::new(&[("c.yaml", &check_with_conditions(&conditions))]);
    let run = files.run(&["validate", "-f", "c.yaml"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
}

#[test]
fn deep_json_paths_and_regexes_are_refused_at_their_place() {
    let yaml = format!(
        "{CHECK}expect:\n  json_path:\n    \"$[?{}@.a{}]\": 1\n    \"$[?{}@.a{}]\": 1\n  body_regex: \"{}a{}\"\n",
        "@[?".repeat(40),
        "]".repeat(40),
        "(".repeat(200),
        ")".repeat(200),
        "(".repeat(100),
        ")".repeat(100),
    );
    let files = Files::new(&[("p.yaml", &yaml)]);
    let run = files.run(&["validate", "-f", "p.yaml"]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("p.yaml:7:5: `expect.json_path`:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("p.yaml:8:5: `expect.json_path`:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nests `[` and `(` more than 8 deep"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("p.yaml:9:15: `expect.body_regex`: invalid regular expression:"),
        "{}",
        run.stderr
    );
}

/// A check with `n` conditions, `n` JSONPaths and `n` header patterns, one a line,
/// the keys numbered so that their sorted order is the file's.
fn check_with_many(n: usize) -> String {
    let mut yaml = format!("{CHECK}expect:\n  conditions:\n");
    for _ in 0..n {
        yaml.push_str("    - status == 200\n");
    }
    yaml.push_str("  json_path:\n");
    for i in 0..n {
        yaml.push_str(&format!("    \"$.k{i:05}\": 1\n"));
    }
    yaml.push_str("  headers:\n");
    for i in 0..n {
        yaml.push_str(&format!("    x-h{i:05}: a\n"));
    }
    yaml
}

#[test]
fn too_many_conditions_paths_and_header_patterns_are_refused_at_the_first_one_over() {
    let n = 20_000;
    let files = Files::new(&[("many.yaml", &check_with_many(n))]);
    let run = files.run(&["validate", "-f", "many.yaml"]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    for at in [
        format!(
            "many.yaml:{}:7: `expect.conditions`: {n} conditions, more than the limit of 64",
            7 + 64
        ),
        format!(
            "many.yaml:{}:5: `expect.json_path`: {n} paths, more than the limit of 64",
            8 + n + 64
        ),
        format!(
            "many.yaml:{}:5: `expect.headers`: {n} patterns, more than the limit of 64",
            9 + 2 * n + 64
        ),
    ] {
        assert!(run.stderr.contains(&at), "no `{at}` in\n{}", run.stderr);
    }
    let files = Files::new(&[("enough.yaml", &check_with_many(64))]);
    let run = files.run(&["validate", "-f", "enough.yaml"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
}

#[test]
fn response_reads_in_a_macro_and_repeated_descents_are_refused_at_their_place() {
    let yaml = format!(
        "{CHECK}expect:\n  conditions:\n    - 'body.map(x, body_text + body_text).size() > 0'\n    - 'body.filter(x, body_text.contains(\"zz\")).size() == 0'\n  json_path:\n    \"$..*..*..*..*\": 1\n"
    );
    let files = Files::new(&[("h.yaml", &yaml)]);
    let run = files.run(&["validate", "-f", "h.yaml"]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    for at in [
        "h.yaml:7:7: `expect.conditions[0]`: `body.map(x, body_text + body_text).size() > 0` reads `body_text` inside a macro's body",
        "h.yaml:8:7: `expect.conditions[1]`:",
        "h.yaml:10:5: `expect.json_path`: `$..*..*..*..*` is not a JSONPath: has more than 1 recursive descent `..` (another at byte 4)",
    ] {
        assert!(run.stderr.contains(at), "no `{at}` in\n{}", run.stderr);
    }
}

/// Nested anchors, as lists and as mappings that a `<<` merge would pull in.
fn laughs(merge: bool) -> String {
    let mut yaml = String::from("kind: Check\nname: lol\n");
    if merge {
        yaml.push_str(
            "l0: &l0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol}\n",
        );
        for i in 1..9 {
            let refs: Vec<String> = (0..9).map(|j| format!("k{j}: *l{}", i - 1)).collect();
            yaml.push_str(&format!("l{i}: &l{i} {{{}}}\n", refs.join(", ")));
        }
        yaml.push_str("http:\n  <<: *l8\n");
    } else {
        yaml.push_str("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..9 {
            let refs = vec![format!("*l{}", i - 1); 9].join(", ");
            yaml.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
    }
    yaml
}

#[test]
fn alias_expansion_is_bounded_and_blamed_on_the_alias() {
    for merge in [false, true] {
        let files = Files::new(&[("lol.yaml", &laughs(merge))]);
        let run = files.run(&["validate", "-f", "lol.yaml"]);
        assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
        // Lists: l0 to l3 are 9^4 = 6561 nodes, so the alias that passes 10,000 is in
        // l4's line; mappings count their keys too, and pass it one line earlier.
        let line = if merge { 6 } else { 7 };
        assert!(
            run.stderr.contains(&format!("lol.yaml:{line}:"))
                && run
                    .stderr
                    .contains("aliases in this document expand to more than 10000 nodes"),
            "merge {merge}: {}",
            run.stderr
        );
    }
}

#[test]
fn deep_nesting_is_refused_before_the_tree_is_built() {
    // Flow collections past 10,000 levels already stop at the YAML parser's own
    // limit of a few hundred; between that and ours, ours holds.
    let n = 10_000;
    let cases = [
        (
            "flow lists",
            format!("v: {}{}\n", "[".repeat(100), "]".repeat(100)),
        ),
        (
            "flow maps",
            format!("v: {}1{}\n", "{a: ".repeat(100), "}".repeat(100)),
        ),
        ("block lists", format!("v:\n  {}x\n", "- ".repeat(n))),
        (
            "block maps",
            format!(
                "v:\n{}",
                (0..200)
                    .map(|i| format!("{}a:\n", " ".repeat(i + 1)))
                    .collect::<String>()
            ),
        ),
        (
            "aliases of deep anchors",
            format!(
                "a: &a {}1{}\nb: {}*a{}\n",
                "[".repeat(40),
                "]".repeat(40),
                "[".repeat(40),
                "]".repeat(40)
            ),
        ),
    ];
    for (what, body) in cases {
        let files = Files::new(&[("deep.yaml", &format!("kind: Check\nname: x\n{body}"))]);
        let run = files.run(&["validate", "-f", "deep.yaml"]);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains("deep.yaml:")
                && run
                    .stderr
                    .contains("nested deeper than 64 levels of lists and mappings"),
            "{what}: {}",
            run.stderr
        );
    }
}

#[test]
fn duplicate_keys_among_many_are_found_with_both_places() {
    let mut yaml = String::from("kind: Check\nname: x\nv:\n");
    for i in 0..50_000 {
        yaml.push_str(&format!("  k{i}: 1\n"));
    }
    yaml.push_str("  k7: 2\n");
    let files = Files::new(&[("keys.yaml", &yaml)]);
    let run = files.run(&["validate", "-f", "keys.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("keys.yaml:50004:3: duplicate key `k7` (first at line 11)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_deep_condition_sent_to_the_daemon_is_a_422_and_the_daemon_lives_on() {
    let d = Daemon::start(&[]);
    let base = desired(&format!("{CHECK}schedule: 1m\n"));
    for (what, condition) in deep_conditions() {
        let mut resource = base[0].clone();
        resource["spec"]["expect"]["conditions"] = json!([condition]);
        let (status, body) = d.call(
            "POST",
            "/api/v1/plan",
            Some(&json!({"source": "x", "resources": [resource]})),
        );
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid")),
            "{what}: {body}"
        );
        let details = body.to_string();
        assert!(details.contains("the condition "), "{what}: {details}");
    }
    let (status, _) = d.call("GET", "/api/v1/checks", None);
    assert_eq!(status, 200, "the daemon is still serving");
    let _: Value = d.get("/api/v1/checks");
}
