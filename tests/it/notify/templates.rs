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

/// Templates that tried to make the process build a huge value, one per way of
/// growing one, each after a first line so that the reported line is checked:
/// (what it tries, template text, what the refusal says).
const GROWING: &[(&str, &str, &str)] = &[
    (
        "a long range, listed and written as very indented JSON",
        "{{ range(20000)|list|tojson(indent=50000) }}",
        "`range` makes 20000 numbers",
    ),
    (
        "a very deep JSON indent",
        "{{ check|tojson(indent=50000) }}",
        "the `tojson` indent is 50000",
    ),
    (
        "a very wide indent",
        "{{ incident.error|indent(1000000) }}",
        "the `indent` width is 1000000",
    ),
    (
        "centring in a very wide field",
        "{{ check.name|center(1000000) }}",
        "unknown filter `center`",
    ),
    (
        "URL-encoding over and over",
        "{{ check.target|urlencode|urlencode|urlencode|urlencode }}",
        "unknown filter `urlencode`",
    ),
    (
        "a replacement at every character",
        "{{ check.target|replace('', check.target)|replace('', check.target) }}",
        "the filter `replace` could build a value of",
    ),
    (
        "a string doubled by `set` after `set`",
        "{% set a = check.target ~ check.target %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}{% set e = d ~ d %}{% set f = e ~ e %}{% set g = f ~ f %}{{ g }}",
        "this `~` could build a value of",
    ),
    (
        "nested loops each binding the last one's item doubled",
        "{% for a in [check.target ~ check.target] %}{% for b in [a ~ a] %}{% for c in [b ~ b] %}{% for d in [c ~ c] %}{% for e in [d ~ d] %}{% for f in [e ~ e] %}{% for g in [f ~ f] %}{{ g }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
        "could build a value of",
    ),
    (
        "a value rebuilt from itself in every round of a loop",
        "{% set s = check.target %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}",
        "`s` is set inside this loop from its own value",
    ),
    (
        "text captured by a block `set`",
        "{% set x %}{% for i in range(1000) %}{{ check }}{% endfor %}{% endset %}{{ x }}{{ x }}",
        "block `set`s",
    ),
    (
        "text captured by a filter block",
        "{% filter upper %}{% for i in range(1000) %}{{ check }}{% endfor %}{% endfilter %}",
        "`{% filter %}` blocks",
    ),
    (
        "a long range joined",
        "{{ range(100000)|join }}",
        "`range` makes 100000 numbers",
    ),
    (
        "a long `~` chain of large filter results",
        "{{ check|tojson(indent=8) ~ check|tojson(indent=8) ~ check|tojson(indent=8) ~ check|tojson(indent=8) }}",
        "this `~` could build a value of",
    ),
    (
        "case changes piled up",
        "{{ check.target|upper|lower|upper|lower|upper|lower|upper|lower }}",
        "could build a value of",
    ),
    (
        "a list doubled by `+`",
        "{% set a = [check.target, check.target] %}{% set b = a + a %}{% set c = b + b %}{% set d = c + c %}{% set e = d + d %}{% set f = e + e %}{% set g = f + f %}{{ g|join }}",
        "this `+` could build a value of",
    ),
];

/// [`GROWING`], and one template that keeps many large values at once.
fn hostile() -> Vec<(&'static str, String, &'static str)> {
    let mut all: Vec<_> = GROWING
        .iter()
        .map(|(what, text, says)| (*what, text.to_string(), *says))
        .collect();
    let many: String = (0..100)
        .map(|i| format!("{{% set v{i} = check|tojson %}}"))
        .collect();
    all.push((
        "many large values kept at once",
        many,
        "could add up to more than",
    ));
    all
}

/// The highest resident set size `child` reached, in KiB, read from /proc while
/// it runs (the last reading before it exits), and its exit code.
fn peak_rss_kib(mut child: std::process::Child) -> (u64, i32) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(exit) = child.try_wait().expect("wait") {
            return (peak, exit.code().unwrap_or(-1));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// What a small process of ours uses; a template that grew a value to the limits
/// would pass it many times over (the defect this guards reached gigabytes).
const SMALL_RSS_KIB: u64 = 256 * 1024;

fn hostile_yaml(text: &str) -> String {
    format!(
        "kind: Template\nname: hostile\nsubject: ok\ntext: |\n  {{{{ check.name }}}}\n  {text}\n"
    )
}

#[test]
fn every_way_of_growing_a_value_is_refused_at_validate_with_its_line_in_little_memory() {
    for (what, text, says) in hostile() {
        let files = Files::new(&[("t.yaml", &hostile_yaml(&text))]);
        let child = crate::support::uptimeping()
            .args(["validate", "-f", "t.yaml"])
            .current_dir(files.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let (peak, code) = peak_rss_kib(child);
        assert_eq!(code, 1, "{what}: validate should refuse it");
        assert!(peak < SMALL_RSS_KIB, "{what}: validate reached {peak} KiB");
        let run = files.run(&["validate", "-f", "t.yaml"]);
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("t.yaml:5:3: template `hostile` field `text`, line 2: ")
                && first.contains(says),
            "{what}: {first}"
        );
    }
}

#[test]
fn a_hostile_template_sent_to_plan_is_refused_before_the_daemon_grows() {
    let d = Daemon::start(&[]);
    let benign = crate::daemon_support::desired("kind: Template\nname: hostile\ntext: ok\n");
    for (what, text, says) in hostile() {
        let mut resource = benign[0].clone();
        resource["spec"]["text"] = json!(format!("{{{{ check.name }}}}\n{text}"));
        let (status, body) = d.call(
            "POST",
            "/api/v1/plan",
            Some(&json!({"source": "repo", "resources": [resource]})),
        );
        assert_eq!(status, 422, "{what}: {body}");
        assert!(body.to_string().contains("line 2: "), "{what}: {body}");
        assert!(body.to_string().contains(says), "{what}: {body}");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.child.id())).unwrap();
    let peak: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    assert!(peak < SMALL_RSS_KIB, "the daemon reached {peak} KiB");
}

#[test]
fn realistic_templates_still_validate() {
    let yaml = "\
kind: Template
name: rich
subject: \"[{{ incident.severity | upper }}] {{ check.name }} is {{ incident.status }}\"
text: |
  {{ check.name }} ({{ check.target }}): {{ incident.error }}
  {% for k, v in check.labels | items %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}
  {% set who = actor | replace('key:', '') %}by {{ who | default('system') }} after {{ incident.duration_seconds | duration }}
  {% for f in result.failures %}- {{ f | string | indent(2) }}
  {% endfor %}{{ check.labels | dictsort | map(attribute='1') | join(', ') }} {{ (result.body_excerpt or '') | trim | title }}
html: \"<b>{{ check.name }}</b> is {{ incident.status }}: {{ incident.error }}\"
slack:
  markdown: \"*{{ check.name }}* is {{ incident.status }}: `{{ incident.error }}`\"
webhook:
  body: '{\"text\": {{ (check.name ~ \": \" ~ incident.error) | tojson }}, \"check\": {{ check | tojson(indent=2) }}, \"n\": {{ range(3) | list | length }}}'
";
    let files = Files::new(&[("t.yaml", yaml)]);
    let run = files.run(&["validate", "-f", "t.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
