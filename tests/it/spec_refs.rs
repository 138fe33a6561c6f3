//! Mistakes that span documents and files: duplicate names, references to
//! resources that do not exist, and many problems reported together in order.

use super::spec_errors::{HEAD, assert_file_problems, assert_problems};

#[test]
fn duplicate_name_across_files_names_both_places() {
    assert_problems(
        &[
            ("checks/api.yaml", HEAD),
            (
                "checks/team/more.yaml",
                &format!("kind: Template\nname: api\nbody: x\n---\n{HEAD}"),
            ),
        ],
        // A Template may share a Check's name: names are unique per kind.
        &["checks/team/more.yaml:6:7: duplicate Check `api`: also defined at checks/api.yaml:2:7"],
    );
}

#[test]
fn alert_channel_that_does_not_exist() {
    assert_file_problems(
        &format!(
            "{HEAD}alert:\n  channels: [ops-slack, nobody]\n---\n\
             kind: Channel\nname: ops-slak\ntype: slack\nslack:\n  webhook_url: https://hooks.example.com/x\n"
        ),
        &[
            "checks/api.yaml:6:14: `alert.channels[0]`: Channel `ops-slack` is not defined in \
             the files given (did you mean `ops-slak`?)",
            "checks/api.yaml:6:25: `alert.channels[1]`: Channel `nobody` is not defined in the \
             files given",
        ],
    );
}

#[test]
fn template_that_does_not_exist() {
    assert_file_problems(
        &format!(
            "{HEAD}alert:\n  template: outage\n---\n\
             kind: Channel\nname: ops\ntype: slack\nslack:\n  webhook_url: https://hooks.example.com/x\n\
             template: outages\n---\nkind: Template\nname: outage-short\nbody: x\n"
        ),
        &[
            "checks/api.yaml:6:13: `alert.template`: Template `outage` is not defined in the files \
             given (did you mean `outage-short`?)",
            "checks/api.yaml:13:11: `template`: Template `outages` is not defined in the files \
             given (did you mean `outage-short`?)",
        ],
    );
}

#[test]
fn every_problem_of_every_file_in_one_run_sorted() {
    // Files are read in name order but written here out of it; problems within a
    // file are found in another order than their lines (duplicates and missing
    // references come last), and must still come out by position.
    assert_problems(
        &[
            (
                "checks/b.yaml",
                &format!("{HEAD}alert:\n  channels: [pager]\n---\n{HEAD}timeout: soon\n"),
            ),
            (
                "checks/a.yaml",
                "kind: Check\nname: Web\ntype: http\ntarget: ftp://x/\nretries: -1\n",
            ),
        ],
        &[
            "checks/a.yaml:2:7: `name`: `Web` is not a valid name; use 1–63 lowercase letters, \
             digits and `-`, starting and ending with a letter or digit",
            "checks/a.yaml:4:9: `target`: `ftp://x/` is not an http:// or https:// URL (scheme `ftp`)",
            "checks/a.yaml:5:10: `retries`: invalid value: integer `-1`, expected a non-negative \
             whole number",
            "checks/b.yaml:6:14: `alert.channels[0]`: Channel `pager` is not defined in the files \
             given",
            "checks/b.yaml:9:7: duplicate Check `api`: also defined at checks/b.yaml:2:7",
            "checks/b.yaml:12:10: `timeout`: invalid duration `soon`: expected number at 0; \
             expected a number with a unit, such as `500ms`, `30s`, `5m`, `2h` or `14d`",
        ],
    );
}

#[test]
fn an_invalid_resource_still_counts_for_references() {
    // The channel's own mistake is reported; the check naming it is not told that
    // the channel does not exist, which would send the reader looking elsewhere.
    assert_file_problems(
        &format!(
            "{HEAD}alert:\n  channels: [ops]\n---\n\
             kind: Channel\nname: ops\ntype: slack\nslack:\n  webhook_ur: https://hooks.example.com/x\n"
        ),
        &[
            "checks/api.yaml:12:3: unknown field `webhook_ur` in `slack` (did you mean \
           `webhook_url`?); expected one of `webhook_url`, `signing_secret`",
        ],
    );
}

#[test]
fn alert_policy_mistakes_are_reported_where_they_are() {
    let yaml = "\
kind: Check
name: api
type: http
target: https://example.com/healthz
depends_on: [gateway]
alert:
  remind_every: 30s
---
kind: Check
name: gateway
type: http
target: https://example.com/gw
depends_on: [api, gatway]
---
kind: Check
name: solo
type: http
target: https://example.com/solo
depends_on: [solo]
---
kind: Maintenance
name: upgrade
checks: [api, nobody]
start: 2026-12-01T04:00
end: 2026-12-01T02:00
timezone: Europe/Berlin
---
kind: Maintenance
name: weekly
schedule: \"0 2 * * SUN\"
---
kind: Maintenance
name: mars
schedule: \"0 2 * * SUN\"
duration: 2h
timezone: Mars/Olympus
";
    assert_file_problems(
        yaml,
        &[
            "checks/api.yaml:5:13: `depends_on`: checks may not depend on each other in a circle \
             (api → gateway → api): their alerts would hold each other back for ever",
            "checks/api.yaml:7:17: `alert.remind_every`: 30s is too often; the shortest is 1m",
            "checks/api.yaml:13:19: `depends_on[1]`: Check `gatway` is not defined in the files \
             given (did you mean `gateway`?)",
            "checks/api.yaml:19:14: `depends_on`: a check cannot depend on itself",
            "checks/api.yaml:23:15: `checks[1]`: Check `nobody` is not defined in the files given",
            "checks/api.yaml:25:6: `end`: must be after `start`",
            "checks/api.yaml:29:7: give either `start` and `end` (one window) or `schedule` and \
             `duration` (a recurring window)",
            "checks/api.yaml:36:11: `timezone`: `Mars/Olympus` is not an IANA time zone such as \
             `UTC` or `Europe/Berlin`",
        ],
    );
}

#[test]
fn errors_of_every_phase_come_out_in_one_run() {
    // A document serde cannot type (no `type`) still has its patterns, paths,
    // conditions and references checked; with YAML, typing, expression, reference
    // and cross-document errors elsewhere, all in the same run.
    let untyped = "kind: Check\nname: untyped\ntarget: https://example.com/\nexpect:\n  \
                   body_regex: \"(unclosed\"\n  conditions: [\"stauts == 200\"]\n  \
                   json_path: {\"$[\": 1}\nalert:\n  channels: [pagr]\ndepends_on: [nowhere]\n";
    let typed = "kind: Check\nname: typed\ntype: http\ntarget: https://example.com/\n\
                 tiemout: 5s\nexpect:\n  conditions: [\"size(body) >\"]\nalert:\n  \
                 channels: [ops]\n  template: nope\n---\nkind: Channel\nname: ops\ntype: slack\n\
                 slack: {webhook_url: \"https://hooks.example.com/x\"}\ntemplate: missing-template\n\
                 ---\nkind: Check\nname: typed\ntype: http\ntarget: https://example.com/\n\
                 target: https://example.org/\n";
    let run = super::support::Files::new(&[("checks/a.yaml", untyped), ("checks/b.yaml", typed)])
        .run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 1);
    let expected = [
        "checks/a.yaml:1:1: missing field `type` in Check",
        "checks/a.yaml:5:15: `expect.body_regex`: invalid regular expression: unclosed group",
        "checks/a.yaml:6:16: `expect.conditions[0]`: unknown variable `stauts`",
        "checks/a.yaml:7:15: `expect.json_path`: `$[` is not a JSONPath",
        "checks/a.yaml:9:14: `alert.channels[0]`: Channel `pagr` is not defined",
        "checks/a.yaml:10:14: `depends_on[0]`: Check `nowhere` is not defined",
        "checks/b.yaml:5:1: unknown field `tiemout` in Check",
        "checks/b.yaml:7:16: `expect.conditions[0]`: invalid expression `size(body) >`",
        "checks/b.yaml:10:13: `alert.template`: Template `nope` is not defined",
        "checks/b.yaml:16:11: `template`: Template `missing-template` is not defined",
        "checks/b.yaml:19:7: duplicate Check `typed`: also defined at checks/b.yaml:2:7",
        "checks/b.yaml:22:1: duplicate key `target` (first at line 21)",
    ];
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{}", run.stderr);
    for (line, want) in lines.iter().zip(expected) {
        assert!(line.starts_with(want), "expected `{want}…`, got `{line}`");
    }
}
