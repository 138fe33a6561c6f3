//! Templates: a template that does not render is reported by `validate`, `plan` and
//! `apply` with the file position, template name, field and template line, before
//! anything is applied; a webhook template renders the whole request body. Channel
//! settings Telegram or TLS would refuse are reported by `validate` too.

use serde_json::json;

use super::harness::{Db, quick, receiver, settled, start};
use crate::daemon_support::{Daemon, cli};
use crate::support::Files;

const BROKEN: &str = "\
# How messages read.
kind: Template
name: incident-default
subject: \"{{ check.name }} is {{ event }}\"
html: |
  <b>{{ check.name }}</b>
  {{ incident.error }}
  {{ check.name | uper }}
";

const CHANNEL: &str = "\
kind: Channel
name: hook
type: webhook
webhook: {url: \"http://127.0.0.1:9/hook\"}
template: incident-default
";

#[test]
fn validate_names_the_template_field_and_line() {
    let files = Files::new(&[("templates.yaml", BROKEN), ("channels.yaml", CHANNEL)]);
    let run = files.run(&["validate", "-f", "."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().next(),
        Some(
            "./templates.yaml:6:3: template `incident-default` field `html`, line 3: unknown filter `uper`"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_body_that_is_not_json_and_a_type_error_are_caught_for_each_field() {
    let yaml = "\
kind: Template
name: hook-body
subject: \"{{ incident.count + 'x' }}\"
webhook:
  content_type: application/json
  body: '{\"check\": \"{{ check.name }}\", \"count\": {{ incident.count }}'
";
    let files = Files::new(&[("t.yaml", yaml)]);
    let run = files.run(&["validate", "-f", "t.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "t.yaml:3:10: template `hook-body` field `subject`, line 1: tried to use + operator on unsupported types number and string"
    );
    assert!(
        lines[1].starts_with("t.yaml:6:9: template `hook-body` field `webhook.body`: the body rendered for event `opened` is not valid JSON ("),
        "{}",
        lines[1]
    );
}

#[test]
fn templates_that_could_grow_without_bound_are_refused_at_validate() {
    let yaml = "\
kind: Template
name: greedy
subject: ok
text: |
  {{ check.name }}
  {% macro twice(s) %}{{ twice(s ~ s) }}{% endmacro %}
html: \"{{ 'x' * 100000000 }}\"
";
    let files = Files::new(&[("t.yaml", yaml)]);
    let run = files.run(&["validate", "-f", "t.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "t.yaml:5:3: template `greedy` field `text`, line 2: macros are not allowed in notification templates (they can build text without bound); compute values in the check or use filters\n\
         t.yaml:7:7: template `greedy` field `html`, line 1: the `*` and `**` operators are not allowed in notification templates (they can build text without bound); compute values in the check or use filters\n\
         uptimeping: 2 problems in the check files; fix them and run again\n"
    );
}

#[test]
fn plan_and_apply_refuse_a_broken_template_and_apply_nothing() {
    let d = Daemon::start(&[]);
    let files = Files::new(&[("templates.yaml", BROKEN), ("channels.yaml", CHANNEL)]);
    let expected = "./templates.yaml:6:3: template `incident-default` field `html`, line 3: unknown filter `uper`";
    let plan = cli(&d, files.path(), &["plan", "-f", ".", "--source", "repo"]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert_eq!(
        plan.stderr.lines().next(),
        Some(expected),
        "{}",
        plan.stderr
    );
    let apply = cli(
        &d,
        files.path(),
        &["apply", "-f", ".", "--source", "repo", "--auto-approve"],
    );
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert_eq!(
        apply.stderr.lines().next(),
        Some(expected),
        "{}",
        apply.stderr
    );
    // Nothing was applied: the fixed files still plan both resources as new.
    std::fs::write(
        files.join("templates.yaml"),
        BROKEN.replace("| uper", "| upper"),
    )
    .unwrap();
    let plan = cli(&d, files.path(), &["plan", "-f", ".", "--source", "repo"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .ends_with("Plan: 2 to add, 0 to change, 0 to destroy.\n"),
        "{}",
        plan.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_template_renders_the_whole_body_with_its_content_type() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.put(json!({"kind": "Channel", "name": "hook", "type": "webhook", "template": "chat",
        "webhook": {"url": format!("{url}/chat"), "method": "POST", "format": "json", "secret": "s"}}))
        .await;
    db.put(json!({"kind": "Template", "name": "chat",
        "webhook": {"content_type": "application/vnd.chat+json; charset=utf-8",
                    "body": "{\"text\": {{ (check.name ~ ': ' ~ incident.error) | tojson }}, \"event\": {{ event | tojson }}}"}}))
        .await;
    let id = db.store.queue_test(db.tenant, "hook".into()).await.unwrap();
    let running = start(db.notifier(quick(3)));
    settled(&db.store, id, |n| n.status == "sent").await;
    running.stop().await;
    let seen = rx.seen();
    assert_eq!(
        seen[0].text(),
        "{\"text\": \"uptimeping-test: this is a test message from uptimeping\", \"event\": \"test\"}"
    );
    assert_eq!(
        seen[0].headers["content-type"],
        "application/vnd.chat+json; charset=utf-8"
    );
    assert_eq!(seen[0].headers["x-uptimeping-event"], "test");
    assert!(seen[0].headers["x-uptimeping-signature"].starts_with("sha256="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templated_body_that_is_not_json_fails_without_being_sent() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.put(
        json!({"kind": "Channel", "name": "hook", "type": "webhook", "template": "chat",
        "webhook": {"url": url, "method": "POST", "format": "json"}}),
    )
    .await;
    db.put(json!({"kind": "Template", "name": "chat",
        "webhook": {"body": "{\"text\": \"{{ incident.error }}\"" }}))
        .await;
    let id = db.store.queue_test(db.tenant, "hook".into()).await.unwrap();
    let running = start(db.notifier(quick(3)));
    let n = settled(&db.store, id, |n| n.status == "failed").await;
    running.stop().await;
    assert_eq!(n.attempts, 1);
    assert!(
        n.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("template `chat`: `webhook.body` is not valid JSON (")),
        "{n:?}"
    );
    assert!(rx.seen().is_empty());
}

#[test]
fn a_webhook_secret_telegram_would_refuse_and_a_ca_that_is_not_pem_are_reported() {
    let yaml = "\
kind: Channel
name: tg
type: telegram
telegram: {bot_token: \"1:x\", chat_id: \"5\", webhook_secret: \"has space\"}
---
kind: Channel
name: mail
type: email
email: {smtp_host: smtp.example.com, from: a@example.com, to: [b@example.com], ca: nope}
";
    let files = Files::new(&[("channels.yaml", yaml)]);
    let run = files.run(&["validate", "-f", "channels.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "channels.yaml:4:60: `telegram.webhook_secret`: use 16 to 256 characters of A-Z, a-z, 0-9, `_` and `-` (Telegram's rule, and long enough not to be guessed)\n\
         channels.yaml:9:84: `email.ca`: give CA certificates in PEM (`-----BEGIN CERTIFICATE-----`)\n\
         uptimeping: 2 problems in the check files; fix them and run again\n"
    );
}
