//! The words of a notification: a subject and a text, rendered with minijinja from
//! the `Template` the check names, else the channel's, else the built-in default for
//! the event. A template that leaves out `subject` or `body` gets the default for it.
//!
//! What a template sees (the outbox payload, as written with the incident change):
//!
//! | name | value |
//! |---|---|
//! | `event` | `opened`, `resolved`, `escalated`, `acknowledged` or `test` |
//! | `actor` | who caused it: `system`, `api`, `key:<name>(<id>)` |
//! | `at` | when it happened, RFC 3339 |
//! | `check` | `name`, `type`, `target`, `labels` (a map), `description` |
//! | `incident` | `id`, `status`, `severity`, `error`, `status_code`, `count`, `dedup_hash`, `opened_at`, `resolved_at`, `duration_seconds` |
//! | `result` | the probe result that caused the event (`up`, `status_code`, `error`, `latency_ms`, `attempts`, `started_at`, `failures`, `body_excerpt`), or none |
//!
//! Besides minijinja's own filters there is `duration`, which writes seconds the way
//! check files do: `{{ incident.duration_seconds | duration }}` → `1h5m`. Names that
//! do not exist render as nothing (also `result.error` when there is no result), so
//! that a template written for one event still renders for the others.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use super::retry::DeliveryError;
use crate::spec::Template;

/// What every provider sends, in its own form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    pub subject: String,
    pub text: String,
}

/// Built-in texts per event: (event, subject, text). Unknown events read as `opened`.
const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "opened",
        "[{{ incident.severity | upper }}] {{ check.name }} is down",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }} — open for {{ incident.duration_seconds | duration }}, {{ incident.count }} failure{{ '' if incident.count == 1 else 's' }}",
    ),
    (
        "escalated",
        "[{{ incident.severity | upper }}] {{ check.name }} is still down",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }} — open for {{ incident.duration_seconds | duration }}, {{ incident.count }} failure{{ '' if incident.count == 1 else 's' }}; escalated to {{ incident.severity }}",
    ),
    (
        "acknowledged",
        "[ACK] {{ check.name }} is acknowledged by {{ actor }}",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }} — acknowledged by {{ actor }} after {{ incident.duration_seconds | duration }}",
    ),
    (
        "resolved",
        "[RESOLVED] {{ check.name }} is back up",
        "{{ check.name }} ({{ check.target }}) is back up after {{ incident.duration_seconds | duration }}",
    ),
    (
        "test",
        "[TEST] uptimeping test message",
        "{{ incident.error }}",
    ),
];

fn defaults(event: &str) -> (&'static str, &'static str) {
    let (_, subject, text) = DEFAULTS
        .iter()
        .find(|(e, _, _)| *e == event)
        .unwrap_or(&DEFAULTS[0]);
    (subject, text)
}

/// Seconds as a check file writes durations: `45s`, `3m`, `1h5m`; nothing when absent.
fn duration(value: minijinja::Value) -> String {
    match u64::try_from(value) {
        Ok(secs) => crate::spec::Duration::from_secs(secs).to_string(),
        Err(_) => String::new(),
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.add_filter("duration", duration);
    // Templates come from tenants: a loop nested in a loop must not stall every
    // tenant's notifications. Real messages use a few hundred units at most.
    env.set_fuel(Some(TEMPLATE_FUEL));
    env
}

/// Work a template may do in one render (minijinja's fuel: about one unit per instruction).
const TEMPLATE_FUEL: u64 = 100_000;

/// Renders `payload` with `template` (or the defaults). A template that does not
/// render is a permanent failure whose message names the template, field and line.
pub fn render(payload: &Value, template: Option<&Template>) -> Result<Message, DeliveryError> {
    let event = payload.get("event").and_then(Value::as_str).unwrap_or("");
    let field = |key: &str| payload.get(key).cloned().unwrap_or(Value::Null);
    let context = minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
        "event": event,
        "actor": field("actor"),
        "at": field("at"),
        "check": field("check"),
        "incident": field("incident"),
        "result": field("result"),
    })));
    let env = environment();
    let (default_subject, default_text) = defaults(event);
    let pick = |own: Option<&String>, default: &'static str| match (template, own) {
        (Some(t), Some(text)) => (t.name.as_str(), text.clone()),
        _ => ("built-in", default.to_string()),
    };
    let render_field = |field: &str, (name, source): (&str, String)| {
        env.render_named_str(&format!("{name}.{field}"), &source, &context)
            .map_err(|e| {
                let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
                let detail = e
                    .detail()
                    .map_or_else(|| e.kind().to_string(), str::to_string);
                DeliveryError::config(format!("template `{name}`: `{field}`{line}: {detail}"))
            })
    };
    let subject = render_field(
        "subject",
        pick(template.and_then(|t| t.subject.as_ref()), default_subject),
    )?;
    let text = render_field(
        "body",
        pick(template.and_then(|t| t.body.as_ref()), default_text),
    )?;
    Ok(Message {
        // A subject is one line wherever it goes (mail headers, titles).
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text: text.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload(event: &str) -> Value {
        json!({
            "event": event,
            "actor": "system",
            "at": "2024-05-01T12:03:00Z",
            "check": {"name": "payments-api", "type": "http", "target": "https://payments.example/health", "labels": {"team": "payments"}, "description": null},
            "incident": {"id": 7, "status": "open", "severity": "error", "error": "connection refused", "status_code": null, "count": 4, "dedup_hash": "ab", "opened_at": "2024-05-01T12:00:00Z", "resolved_at": null, "duration_seconds": 180},
            "result": null,
            "template": null,
        })
    }

    fn template(subject: Option<&str>, body: Option<&str>) -> Template {
        Template {
            name: "incident-default".into(),
            labels: Default::default(),
            subject: subject.map(str::to_string),
            body: body.map(str::to_string),
        }
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel_instead_of_stalling() {
        let t = template(
            None,
            Some(
                "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            ),
        );
        let err = render(&payload("opened"), Some(&t)).expect_err("must stop");
        assert!(format!("{err:?}").contains("fuel"), "{err:?}");
    }

    #[test]
    fn default_messages_per_event() {
        let m = render(&payload("opened"), None).expect("renders");
        assert_eq!(m.subject, "[ERROR] payments-api is down");
        assert_eq!(
            m.text,
            "payments-api (https://payments.example/health): connection refused — open for 3m, 4 failures"
        );
        let mut resolved = payload("resolved");
        resolved["incident"]["duration_seconds"] = json!(300);
        let m = render(&resolved, None).expect("renders");
        assert_eq!(m.subject, "[RESOLVED] payments-api is back up");
        assert_eq!(
            m.text,
            "payments-api (https://payments.example/health) is back up after 5m"
        );
        let mut ack = payload("acknowledged");
        ack["actor"] = json!("key:ops(1a2b)");
        assert_eq!(
            render(&ack, None).expect("renders").subject,
            "[ACK] payments-api is acknowledged by key:ops(1a2b)"
        );
        let mut one = payload("escalated");
        one["incident"]["count"] = json!(1);
        one["incident"]["severity"] = json!("critical");
        let m = render(&one, None).expect("renders");
        assert_eq!(m.subject, "[CRITICAL] payments-api is still down");
        assert!(
            m.text.ends_with("1 failure; escalated to critical"),
            "{}",
            m.text
        );
    }

    #[test]
    fn template_sees_the_documented_context() {
        let mut p = payload("opened");
        p["result"] = json!({"status_code": 503, "latency_ms": 12.5, "error": "status: expected 200, got 503"});
        let t = template(
            Some(
                "{{ event }}/{{ actor }}: {{ check.name }} [{{ check.labels.team }}] {{ incident.severity | upper }}",
            ),
            Some(
                "#{{ incident.id }} {{ result.status_code }} after {{ incident.duration_seconds | duration }} at {{ at }}\n",
            ),
        );
        let m = render(&p, Some(&t)).expect("renders");
        assert_eq!(m.subject, "opened/system: payments-api [payments] ERROR");
        assert_eq!(m.text, "#7 503 after 3m at 2024-05-01T12:03:00Z");
    }

    #[test]
    fn missing_values_render_empty_and_missing_fields_use_defaults() {
        let t = template(
            Some("{{ check.name }}: {{ result.error }}{{ nope.deeper }}"),
            None,
        );
        let m = render(&payload("opened"), Some(&t)).expect("renders");
        assert_eq!(m.subject, "payments-api:");
        assert!(m.text.starts_with("payments-api (https://"), "{}", m.text);
    }

    #[test]
    fn render_error_names_template_field_and_line() {
        let t = template(None, Some("line one\n{{ check.name | no_such_filter }}"));
        let err = render(&payload("opened"), Some(&t)).expect_err("fails");
        assert_eq!(err.cause, super::super::retry::Cause::Config);
        assert!(
            err.message
                .starts_with("template `incident-default`: `body` line 2: "),
            "{}",
            err.message
        );
        assert!(err.message.contains("no_such_filter"), "{}", err.message);
    }

    #[test]
    fn test_event_has_its_own_default() {
        let p = json!({"event": "test", "actor": "api", "check": {"name": "uptimeping-test"}, "incident": {"error": "this is a test message from uptimeping"}});
        let m = render(&p, None).expect("renders");
        assert_eq!(m.subject, "[TEST] uptimeping test message");
        assert_eq!(m.text, "this is a test message from uptimeping");
    }
}
