//! Every class of mistake in a check file, each with the exact line `validate`
//! prints for it: `file:line:col: message`, relative to where the binary runs.

use super::support::Files;

const CHECK_FIELDS: &str = "`name`, `labels`, `description`, `type`, `target`, `schedule`, \
                            `timeout`, `retries`, `enabled`, `http`, `graphql`, `tcp`, `grpc`, `expect`, \
                            `alert`, `depends_on`, `slo`, `locations`, `quorum`";
const HTTP_FIELDS: &str = "`method`, `headers`, `body`, `follow_redirects`, `max_redirects`, \
                           `connect_timeout`, `max_body`, `tls`";
const CEL_VARIABLES: &str = "`status`, `headers`, `body`, `body_text`, `latency`, `latency_ms`, `cert_expires_in`, \
     `data`, `errors`, `code`, `message`, `response`";

/// Runs `validate -f checks` over `files` and asserts that stderr is exactly
/// `lines` followed by the summary, that stdout is empty and that the exit code is 1.
pub fn assert_problems(files: &[(&str, &str)], lines: &[impl AsRef<str>]) {
    let dir = Files::new(files);
    let run = dir.run(&["validate", "-f", "checks"]);
    let mut expected: String = lines.iter().map(|l| format!("{}\n", l.as_ref())).collect();
    expected.push_str(&match lines.len() {
        1 => "uptimeping: 1 problem in the check files; fix it and run again\n".to_string(),
        n => format!("uptimeping: {n} problems in the check files; fix them and run again\n"),
    });
    assert_eq!(run.stderr, expected, "stdout:\n{}", run.stdout);
    assert_eq!(run.stdout, "");
    assert_eq!(run.code, 1);
}

/// [`assert_problems`] for a single file, `checks/api.yaml`.
pub fn assert_file_problems(yaml: &str, lines: &[impl AsRef<str>]) {
    assert_problems(&[("checks/api.yaml", yaml)], lines);
}

/// A valid check; tests append the field under test after line 4.
pub const HEAD: &str = "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\n";

#[test]
fn unknown_top_level_field_suggests_the_closest() {
    assert_file_problems(
        &format!("{HEAD}retrys: 2\n"),
        &[format!(
            "checks/api.yaml:5:1: unknown field `retrys` in Check (did you mean `retries`?); \
             expected one of {CHECK_FIELDS}"
        )],
    );
}

#[test]
fn unknown_nested_fields_name_their_section() {
    assert_file_problems(
        &format!("{HEAD}http:\n  metod: POST\n  tls:\n    insecur: true\n"),
        &[
            format!(
                "checks/api.yaml:6:3: unknown field `metod` in `http` (did you mean `method`?); \
                 expected one of {HTTP_FIELDS}"
            ),
            "checks/api.yaml:8:5: unknown field `insecur` in `http.tls` (did you mean `insecure`?); \
             expected one of `insecure`, `ca_file`, `ca`"
                .to_string(),
        ],
    );
}

#[test]
fn unknown_field_far_from_any_known_one_gets_no_guess() {
    assert_file_problems(
        &format!("{HEAD}metod: GET\n"),
        &[format!(
            "checks/api.yaml:5:1: unknown field `metod` in Check; expected one of {CHECK_FIELDS}"
        )],
    );
}

#[test]
fn wrong_type() {
    assert_file_problems(
        &format!("{HEAD}retries: many\n"),
        &[
            "checks/api.yaml:5:10: `retries`: invalid type: string \"many\", \
           expected a non-negative whole number",
        ],
    );
}

#[test]
fn bad_duration() {
    assert_file_problems(
        &format!("{HEAD}timeout: 5 parsecs\n"),
        &[
            "checks/api.yaml:5:10: `timeout`: invalid duration `5 parsecs`: unknown time unit \
           \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, \
           years (and few variations); expected a number with a unit, such as `500ms`, `30s`, \
           `5m`, `2h` or `14d`",
        ],
    );
}

#[test]
fn unknown_enum_value_suggests_the_closest() {
    assert_file_problems(
        "kind: Check\nname: api\ntype: htp\ntarget: https://example.com/\n",
        &[
            "checks/api.yaml:3:7: `type`: unknown value `htp` (did you mean `http`?); \
           expected one of `http`, `graphql`, `tcp`, `grpc`",
        ],
    );
}

#[test]
fn target_that_is_not_a_url() {
    assert_file_problems(
        "kind: Check\nname: api\ntype: http\ntarget: example.com/healthz\n",
        &[
            "checks/api.yaml:4:9: `target`: `example.com/healthz` is not a valid URL: relative URL \
           without a base; expected e.g. `https://example.com/healthz`",
        ],
    );
}

#[test]
fn target_with_another_scheme() {
    assert_file_problems(
        "kind: Check\nname: api\ntype: http\ntarget: ftp://example.com/file\n",
        &[
            "checks/api.yaml:4:9: `target`: `ftp://example.com/file` is not an http:// or https:// \
           URL (scheme `ftp`)",
        ],
    );
}

#[test]
fn name_that_is_not_a_dns_label() {
    let rule =
        "use 1–63 lowercase letters, digits and `-`, starting and ending with a letter or digit";
    let long = "a".repeat(64);
    assert_problems(
        &[
            (
                "checks/a.yaml",
                "kind: Template\nname: Payments_API\nbody: x\n",
            ),
            ("checks/b.yaml", "kind: Template\nname: -api\nbody: x\n"),
            (
                "checks/c.yaml",
                &format!("kind: Template\nname: {long}\nbody: x\n"),
            ),
        ],
        &[
            format!("checks/a.yaml:2:7: `name`: `Payments_API` is not a valid name; {rule}"),
            format!("checks/b.yaml:2:7: `name`: `-api` is not a valid name; {rule}"),
            format!("checks/c.yaml:2:7: `name`: `{long}` is not a valid name; {rule}"),
        ],
    );
}

#[test]
fn interval_under_five_seconds() {
    assert_file_problems(
        &format!(
            "{HEAD}schedule: 2s\n---\n{}schedule: '*/2 * * * * *'\n",
            HEAD.replace("api", "cron")
        ),
        &[
            "checks/api.yaml:5:11: `schedule`: `2s` runs every 2s, more often than the minimum of 5s",
            "checks/api.yaml:11:11: `schedule`: `*/2 * * * * *` runs every 2s, more often than the \
             minimum of 5s",
        ],
    );
}

#[test]
fn timeout_not_below_the_interval() {
    assert_file_problems(
        &format!("{HEAD}schedule: '@every 30s'\ntimeout: 30s\n"),
        &[
            "checks/api.yaml:6:10: `timeout`: 30s is not shorter than the interval of 30s; lower \
           the timeout or run less often",
        ],
    );
}

#[test]
fn unknown_kind() {
    assert_file_problems(
        "kind: Chek\nname: api\n---\nkind: Monitor\nname: api\n",
        &[
            "checks/api.yaml:1:7: unknown kind `Chek` (did you mean `Check`?); expected one of \
             `Check`, `Channel`, `Template`, `Maintenance`, `StatusPage`",
            "checks/api.yaml:4:7: unknown kind `Monitor`; expected one of `Check`, `Channel`, \
             `Template`, `Maintenance`, `StatusPage`",
        ],
    );
}

#[test]
fn missing_kind() {
    assert_file_problems(
        &format!("{HEAD}---\nname: other\ntype: http\n"),
        &[
            "checks/api.yaml:6:1: missing `kind`; expected one of `Check`, `Channel`, `Template`, \
          `Maintenance`, `StatusPage`",
        ],
    );
}

#[test]
fn missing_required_field() {
    assert_file_problems(
        "kind: Check\nname: api\ntype: http\n---\n\
         kind: Channel\nname: ops\ntype: email\nemail:\n  smtp_host: smtp.example.com\n  to: [a@example.com]\n",
        &[
            "checks/api.yaml:1:1: missing field `target` in Check",
            "checks/api.yaml:8:1: missing field `from` in `email`",
        ],
    );
}

#[test]
fn invalid_regular_expressions() {
    assert_file_problems(
        &format!("{HEAD}expect:\n  body_regex: 'ok('\n  headers:\n    Content-Type: '[json'\n"),
        &[
            "checks/api.yaml:6:15: `expect.body_regex`: invalid regular expression: unclosed group",
            "checks/api.yaml:8:19: `expect.headers.Content-Type`: invalid regular expression: \
             unclosed character class",
        ],
    );
}

#[test]
fn invalid_jsonpath_key() {
    assert_file_problems(
        &format!("{HEAD}expect:\n  json_path:\n    $.status: ok\n    $.[: 1\n"),
        &[
            "checks/api.yaml:8:5: `expect.json_path`: `$.[` is not a JSONPath: at position 2, in dot \
           member name, must start with lowercase alpha or '_'; expected e.g. `$.status`",
        ],
    );
}

#[test]
fn invalid_cel_conditions() {
    assert_file_problems(
        &format!(
            "{HEAD}expect:\n  conditions:\n    - status == 200\n    - 'status =='\n    - stauts < 300\n    - size(bdy) > 0\n"
        ),
        &[
            "checks/api.yaml:8:7: `expect.conditions[1]`: invalid expression `status ==`: ERROR: \
             <input>:1:10: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', \
             '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, \
             IDENTIFIER}"
                .to_string(),
            format!(
                "checks/api.yaml:9:7: `expect.conditions[2]`: unknown variable `stauts` in \
                 `stauts < 300`; did you mean `status`? expected one of {CEL_VARIABLES}"
            ),
            format!(
                "checks/api.yaml:10:7: `expect.conditions[3]`: unknown variable `bdy` in \
                 `size(bdy) > 0`; did you mean `body`? expected one of {CEL_VARIABLES}"
            ),
        ],
    );
}

#[test]
fn bad_status_patterns_point_at_the_entry() {
    assert_file_problems(
        &format!(
            "{HEAD}expect:\n  status: [200, 99, 6xx, 2xx]\n---\n{}expect:\n  status: 2OO\n",
            HEAD.replace("api", "one")
        ),
        &[
            "checks/api.yaml:6:17: `expect.status`: status code 99 is outside 100–599",
            "checks/api.yaml:6:21: `expect.status`: `6xx` is not a status code or class; expected \
             e.g. `200` or `2xx`",
            "checks/api.yaml:13:11: `expect.status`: `2OO` is not a status code or class; expected \
             e.g. `200` or `2xx`",
        ],
    );
}

#[test]
fn template_syntax_error_names_the_template_line() {
    assert_file_problems(
        "kind: Template\nname: outage\nsubject: '{{ check.name }} is down'\nbody: |\n  Check {{ check.name }}\n  failed: {{ error\n",
        &[
            "checks/api.yaml:5:3: template `outage` field `body`, line 2: unexpected end of \
           input, expected end of variable block",
        ],
    );
}

#[test]
fn yaml_syntax_error() {
    assert_file_problems(
        &format!("{HEAD}expect:\n  status: [200\n"),
        &[
            "checks/api.yaml:7:1: invalid YAML: while parsing a flow sequence, expected ',' \
           or ']'",
        ],
    );
}

#[test]
fn duplicate_key() {
    assert_file_problems(
        &format!("{HEAD}http:\n  method: GET\n  method: POST\ntarget: https://example.org/\n"),
        &[
            "checks/api.yaml:7:3: duplicate key `method` (first at line 6)",
            "checks/api.yaml:8:1: duplicate key `target` (first at line 4)",
        ],
    );
}

#[test]
fn missing_environment_variables() {
    // Names no real environment sets: the binary inherits the test's environment.
    assert_file_problems(
        "kind: Check\nname: api\ntype: http\ntarget: https://${UPTIMEPING_TEST_UNSET_HOST}/\n\
         http:\n  headers:\n    Authorization: \"Bearer ${UPTIMEPING_TEST_UNSET_TOKEN:?the API token from CI}\"\n",
        &[
            "checks/api.yaml:4:9: environment variable `UPTIMEPING_TEST_UNSET_HOST` is not set; \
             set it, or give a default with `${UPTIMEPING_TEST_UNSET_HOST:-default}`",
            "checks/api.yaml:7:20: environment variable `UPTIMEPING_TEST_UNSET_TOKEN` is not set: \
             the API token from CI",
        ],
    );
}

#[test]
fn channel_without_its_provider_section() {
    assert_file_problems(
        "kind: Channel\nname: ops\ntype: webhook\n---\n\
         kind: Channel\nname: chat\ntype: slack\nslack:\n  webhook_url: https://hooks.example.com/x\n\
         telegram:\n  bot_token: t\n  chat_id: c\n",
        &[
            "checks/api.yaml:3:7: a `webhook` channel needs a `webhook:` section with its settings",
            "checks/api.yaml:10:1: section `telegram` does not belong to a `slack` channel; remove \
             it or change `type`",
        ],
    );
}

#[test]
fn locations_are_names_listed_once_and_the_quorum_fits_them() {
    assert_file_problems(
        &format!("{HEAD}locations: [eu-west, \"us east\", eu-west]\nquorum: 4\n"),
        &[
            "checks/api.yaml:5:22: `locations`: `us east` is not a location name; use 1–63 letters, digits, `-`, `_` or `.`, as in a daemon's --location",
            "checks/api.yaml:5:33: `locations`: `eu-west` is listed twice",
            "checks/api.yaml:6:9: `quorum`: 4 is not between 1 and the 3 location(s) listed",
        ],
    );
    assert_file_problems(
        &format!("{HEAD}quorum: 1\n"),
        &[
            "checks/api.yaml:5:9: `quorum` needs `locations`: list the locations the check runs from",
        ],
    );
}
