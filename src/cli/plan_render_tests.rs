use serde_json::json;

use super::*;
use crate::spec::Kind;
use crate::spec::plan::{FORMAT_VERSION, Summary, summarize};

fn plan(changes: Vec<Change>) -> Plan {
    Plan {
        format_version: FORMAT_VERSION,
        state_revision: 7,
        tenant: None,
        source: "repo".into(),
        summary: summarize(&changes),
        changes,
        diagnostics: Vec::new(),
        absent: 0,
    }
}

fn change(kind: Kind, name: &str, action: Action) -> Change {
    Change {
        kind,
        name: name.into(),
        action,
        file: None,
        line: None,
        before: None,
        after: None,
        fields: Vec::new(),
    }
}

fn field(path: &str, before: Option<Value>, after: Option<Value>, sensitive: bool) -> FieldChange {
    FieldChange {
        path: path.into(),
        before,
        after,
        sensitive,
    }
}

/// The text as printed without colour.
fn text(p: &Plan) -> String {
    anstream::adapter::strip_str(&render(p)).to_string()
}

#[test]
fn a_create_lists_every_field_with_plus() {
    let mut c = change(Kind::Check, "api", Action::Create);
    c.file = Some("checks/api.yaml".into());
    c.line = Some(2);
    c.after = Some(json!({
        "kind": "Check", "name": "api", "type": "http",
        "target": "https://example.com/healthz",
        "expect": {"status": [200, 204], "body_regex": null},
        "http": {"headers": {"authorization": MASK}},
        "labels": {},
    }));
    assert_eq!(
        text(&plan(vec![c])),
        r#"  + Check api (checks/api.yaml:2)
      + expect.status = [200,204]
      + http.headers.authorization = (sensitive value)
      + labels = {}
      + target = "https://example.com/healthz"
      + type = "http"

Plan: 1 to add, 0 to change, 0 to destroy.
"#
    );
}

#[test]
fn an_update_shows_each_changed_field() {
    let mut c = change(Kind::Check, "web", Action::Update);
    c.file = Some("checks/web.yaml".into());
    c.line = Some(9);
    c.fields = vec![
        field(
            "expect.status",
            Some(json!([200])),
            Some(json!([200, 204])),
            false,
        ),
        field("timeout", Some(json!("5s")), Some(json!("10s")), false),
        field("labels.team", None, Some(json!("payments")), false),
        field("expect.body_regex", Some(json!("ok")), None, false),
        field("http.body", Some(Value::Null), Some(json!("ping")), false),
    ];
    assert_eq!(
        text(&plan(vec![c])),
        r#"  ~ Check web (checks/web.yaml:9)
      ~ expect.status = [200] -> [200,204]
      ~ timeout = "5s" -> "10s"
      + labels.team = "payments"
      - expect.body_regex = "ok"
      + http.body = "ping"

Plan: 0 to add, 1 to change, 0 to destroy.
"#
    );
}

#[test]
fn a_changed_secret_says_only_that_it_changed() {
    let mut c = change(Kind::Channel, "oncall-slack", Action::Update);
    c.file = Some("channels.yaml".into());
    c.line = Some(1);
    c.fields = vec![
        field(
            "slack.webhook_url",
            Some(json!(MASK)),
            Some(json!(MASK)),
            true,
        ),
        field("http.headers.x-api-key", None, Some(json!(MASK)), true),
    ];
    assert_eq!(
        text(&plan(vec![c])),
        r#"  ~ Channel oncall-slack (channels.yaml:1)
      ~ slack.webhook_url = (sensitive value changed)
      + http.headers.x-api-key = (sensitive value)

Plan: 0 to add, 1 to change, 0 to destroy.
"#
    );
}

#[test]
fn deletes_show_only_the_name_and_everything_is_sorted_by_kind_then_name() {
    let mut created = change(Kind::Check, "b-new", Action::Create);
    created.after = Some(json!({"kind": "Check", "name": "b-new", "target": "tcp:1"}));
    let p = plan(vec![
        change(Kind::Template, "old-template", Action::Delete),
        change(Kind::Channel, "old-slack", Action::Delete),
        created,
        change(Kind::Check, "a-gone", Action::Delete),
    ]);
    assert_eq!(
        text(&p),
        r#"  - Check a-gone
  + Check b-new
      + target = "tcp:1"
  - Channel old-slack
  - Template old-template

Plan: 1 to add, 0 to change, 3 to destroy.
"#
    );
}

#[test]
fn no_changes_says_so_and_still_ends_with_the_plan_line() {
    assert_eq!(
        text(&plan(Vec::new())),
        "No changes. Live state matches the files.\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n"
    );
}

#[test]
fn symbols_are_coloured_when_colour_is_on() {
    let mut c = change(Kind::Check, "x", Action::Update);
    c.fields = vec![field(
        "timeout",
        Some(json!("5s")),
        Some(json!("6s")),
        false,
    )];
    let raw = render(&plan(vec![c, change(Kind::Check, "y", Action::Delete)]));
    assert!(raw.contains("\x1b[1m\x1b[33m~"), "{raw:?}");
    assert!(raw.contains("\x1b[1m\x1b[31m-"), "{raw:?}");
}

#[test]
fn the_apply_line_counts_what_was_done() {
    let mut p = plan(Vec::new());
    p.summary = Summary {
        add: 2,
        change: 1,
        destroy: 0,
    };
    assert_eq!(
        applied_line(&p),
        "Apply complete! Resources: 2 added, 1 changed, 0 destroyed."
    );
}
