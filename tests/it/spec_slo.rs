//! A check's `slo:` section: what loads, what is refused at `file:line:col` and
//! why, its canonical form, its place in a plan and in the JSON Schema.

use serde_json::json;
use uptimeping::spec::{Source, Spec, canonical, content_hash, load};

use crate::daemon_support::{Daemon, cli};
use crate::spec_errors::{HEAD, assert_file_problems};
use crate::support::{Files, run};

/// The one check in `yaml`, loaded and validated.
fn load_one(yaml: &str) -> Spec {
    let sources = [Source::new("checks/api.yaml", yaml, "checks")];
    let bundle = load(&sources, &|_| None).unwrap_or_else(|d| panic!("{d}\n--- in:\n{yaml}"));
    assert_eq!(bundle.resources.len(), 1, "{yaml}");
    bundle.resources[0].spec.clone()
}

fn slo_of(yaml: &str) -> uptimeping::spec::Slo {
    match load_one(yaml) {
        Spec::Check(c) => c.slo.expect("the check has an slo"),
        other => panic!("not a check: {other:?}"),
    }
}

#[test]
fn a_valid_slo_loads_with_its_defaults_and_round_trips() {
    let slo = slo_of(&format!(
        "{HEAD}slo:\n  objective: 99.9\n  window: 30d\n  alert: false\n"
    ));
    assert_eq!(slo.objective, 99.9);
    assert_eq!(
        slo.window.get(),
        std::time::Duration::from_secs(30 * 86_400)
    );
    assert!(!slo.alert);

    // `alert` is on and the window is 30 days unless the file says otherwise.
    let short = load_one(&format!("{HEAD}slo: {{objective: 99.95}}\n"));
    let spelled = load_one(&format!(
        "{HEAD}slo: {{objective: 99.95, window: 720h, alert: true}}\n"
    ));
    assert_eq!(
        canonical(&short)["slo"],
        json!({"objective": 99.95, "window": "30d", "alert": true})
    );
    assert_eq!(content_hash(&short), content_hash(&spelled));

    // The canonical JSON loads back to the same resource.
    let text = serde_json::to_string(&canonical(&short)).expect("canonical JSON");
    assert_eq!(content_hash(&load_one(&text)), content_hash(&short));

    // A whole-number objective and the edges of the window are allowed.
    for (objective, window) in [("99", "1d"), ("0.0001", "90d"), ("99.9999", "24h")] {
        let slo = slo_of(&format!(
            "{HEAD}slo: {{objective: {objective}, window: {window}}}\n"
        ));
        assert_eq!(slo.objective.to_string(), objective);
    }
}

#[test]
fn a_change_of_objective_changes_the_hash() {
    let base = load_one(&format!("{HEAD}slo: {{objective: 99.9}}\n"));
    for other in [
        "slo: {objective: 99.95}",
        "slo: {objective: 99.9, window: 7d}",
        "slo: {objective: 99.9, alert: false}",
    ] {
        let changed = load_one(&format!("{HEAD}{other}\n"));
        assert_ne!(content_hash(&changed), content_hash(&base), "{other}");
    }
}

const OBJECTIVE_RULE: &str = "is not a percentage above 0 and below 100; write the share of \
                              time the check should be up, e.g. `99.9`";
const WINDOW_RULE: &str = "hour rollups are kept 90d by default, so choose a window in that \
                           range, e.g. `30d`";

#[test]
fn objectives_outside_the_open_range_are_refused_at_the_value() {
    for (written, shown) in [
        ("0", "0"),
        ("0.0", "0"),
        ("-1", "-1"),
        ("100", "100"),
        ("100.0", "100"),
        ("250", "250"),
        ("1e300", "1e300"),
    ] {
        assert_file_problems(
            &format!("{HEAD}slo:\n  objective: {written}\n"),
            &[format!(
                "checks/api.yaml:6:14: `slo.objective`: {shown} {OBJECTIVE_RULE}"
            )],
        );
    }
}

#[test]
fn objectives_that_are_not_numbers_are_refused_at_the_value() {
    for (written, found) in [
        (".nan", "string \".nan\""),
        (".inf", "string \".inf\""),
        ("-.inf", "string \"-.inf\""),
        ("1e999", "string \"1e999\""),
        ("'99.9'", "string \"99.9\""),
        ("high", "string \"high\""),
        ("true", "boolean `true`"),
        ("[99.9]", "sequence"),
    ] {
        assert_file_problems(
            &format!("{HEAD}slo:\n  objective: {written}\n"),
            &[format!(
                "checks/api.yaml:6:14: `slo.objective`: invalid type: {found}, expected a number"
            )],
        );
    }
}

#[test]
fn objectives_finer_than_four_decimals_are_refused() {
    for written in ["99.99999", "0.00001", "99.123456"] {
        assert_file_problems(
            &format!("{HEAD}slo: {{objective: {written}}}\n"),
            &[format!(
                "checks/api.yaml:5:18: `slo.objective`: {written} has more than 4 decimals; \
                 round it, e.g. to `99.9999`"
            )],
        );
    }
}

#[test]
fn windows_outside_one_to_ninety_days_are_refused_at_the_value() {
    for (written, shown) in [
        ("23h", "23h"),
        ("1d", ""),
        ("86399", "23h59m59s"),
        ("0", "0s"),
        ("90d", ""),
        ("90d1s", "90d1s"),
        ("365d", "365d"),
    ] {
        let yaml = format!("{HEAD}slo:\n  objective: 99.9\n  window: {written}\n");
        if shown.is_empty() {
            load_one(&yaml);
            continue;
        }
        assert_file_problems(
            &yaml,
            &[format!(
                "checks/api.yaml:7:11: `slo.window`: {shown} is outside 1d to 90d; {WINDOW_RULE}"
            )],
        );
    }
    assert_file_problems(
        &format!("{HEAD}slo:\n  objective: 99.9\n  window: soon\n"),
        &[
            "checks/api.yaml:7:11: `slo.window`: invalid duration `soon`: expected number at 0; \
           expected a number with a unit, such as `500ms`, `30s`, `5m`, `2h` or `14d`",
        ],
    );
}

#[test]
fn unknown_keys_missing_objective_and_wrong_shapes_are_refused() {
    assert_file_problems(
        &format!("{HEAD}slo:\n  objective: 99.9\n  windw: 30d\n"),
        &[
            "checks/api.yaml:7:3: unknown field `windw` in `slo` (did you mean `window`?); \
           expected one of `objective`, `window`, `alert`",
        ],
    );
    assert_file_problems(
        &format!("{HEAD}slo:\n  window: 30d\n"),
        &["checks/api.yaml:5:1: missing field `objective` in `slo`"],
    );
    assert_file_problems(
        &format!("{HEAD}slo: 99.9\n"),
        &["checks/api.yaml:5:6: `slo`: invalid type: floating point `99.9`, expected a mapping"],
    );
    assert_file_problems(
        &format!("{HEAD}slo:\n  objective: 99.9\n  alert: sometimes\n"),
        &[
            "checks/api.yaml:7:10: `slo.alert`: invalid type: string \"sometimes\", expected a boolean",
        ],
    );
}

#[test]
fn every_slo_problem_of_a_file_is_reported_at_once() {
    assert_file_problems(
        &format!("{HEAD}slo:\n  objective: 100\n  window: 91d\n"),
        &[
            format!("checks/api.yaml:6:14: `slo.objective`: 100 {OBJECTIVE_RULE}"),
            format!("checks/api.yaml:7:11: `slo.window`: 91d is outside 1d to 90d; {WINDOW_RULE}"),
        ],
    );
}

#[test]
fn a_valid_slo_passes_validate() {
    let files = Files::new(&[(
        "checks/api.yaml",
        &format!("{HEAD}slo: {{objective: 99.9, window: 30d}}\n"),
    )]);
    let r = files.run(&["validate", "-f", "checks"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{}", r.stdout);
}

#[test]
fn plan_shows_a_changed_objective_as_an_update() {
    let d = Daemon::start(&[]);
    let check = "kind: Check\nname: api\ntype: http\ntarget: http://127.0.0.1:9/health\n\
                 schedule: 1h\nslo:\n  objective: 99.9\n  window: 30d\n";
    let repo = Files::new(&[("checks/api.yaml", check)]);
    let apply = [
        "apply",
        "-f",
        "checks",
        "--source",
        "repo",
        "--auto-approve",
    ];
    let applied = cli(&d, repo.path(), &apply);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let plan = [
        "plan",
        "-f",
        "checks",
        "--source",
        "repo",
        "--detailed-exitcode",
    ];
    let same = cli(&d, repo.path(), &plan);
    assert_eq!(same.code, 0, "plan after apply is empty: {}", same.stdout);

    std::fs::write(
        repo.join("checks/api.yaml"),
        check.replace("99.9\n", "99.95\n"),
    )
    .unwrap();
    let changed = cli(&d, repo.path(), &plan);
    assert_eq!(changed.code, 2, "{}", changed.stderr);
    assert_eq!(
        changed.stdout,
        "  ~ Check api (checks/api.yaml:2)\n      ~ slo.objective = 99.9 -> 99.95\n\n\
         Plan: 0 to add, 1 to change, 0 to destroy.\n"
    );
}

#[test]
fn the_schema_describes_slo() {
    let r = run(&["schema"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let schema = r.json();
    let check = schema["allOf"]
        .as_array()
        .expect("allOf")
        .iter()
        .find(|v| v["if"]["properties"]["kind"]["const"] == "Check")
        .expect("a branch for kind: Check");
    assert!(check["then"]["properties"]["slo"].is_object(), "Check.slo");
    let slo = &schema["$defs"]["Slo"];
    assert_eq!(slo["additionalProperties"], json!(false));
    assert_eq!(slo["required"], json!(["objective"]));
    assert_eq!(slo["properties"]["objective"]["exclusiveMinimum"], json!(0));
    assert_eq!(
        slo["properties"]["objective"]["exclusiveMaximum"],
        json!(100)
    );
    for field in ["window", "alert"] {
        assert!(slo["properties"][field].is_object(), "Slo.{field}");
    }
}
