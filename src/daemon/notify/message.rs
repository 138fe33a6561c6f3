//! The words of a notification, rendered with minijinja from the `Template` the
//! check names, else the channel's, else the built-in default for the event. Each
//! field a template leaves out gets the default for it; a provider's own variant
//! (`telegram.html`) wins over the generic field (`html`).
//!
//! What a template sees (the outbox payload, as written with the incident change):
//!
//! | name | value |
//! |---|---|
//! | `event` | `opened`, `escalated`, `reminder`, `acknowledged`, `update`, `resolved` or `test` |
//! | `actor` | who caused it: `system`, `api`, `key:<name>(<id>)`, `telegram:@user`, `slack:@user` |
//! | `at` | when it happened, RFC 3339 |
//! | `check` | `name`, `type`, `target`, `labels` (a map), `description` |
//! | `incident` | `id`, `kind` (`down` or `slo_burn`), `status`, `severity`, `error`, `status_code`, `count`, `dedup_hash`, `opened_at`, `resolved_at`, `duration_seconds`, `duration` (`3m`) |
//! | `update` | in `update` events: `status` (`investigating`, `identified` or `monitoring`) and `message`; none otherwise |
//! | `result` | the probe result that caused the event (`up`, `status_code`, `error`, `latency_ms`, `attempts`, `started_at`, `failures`, `body_excerpt`), or none |
//! | `links` | under the daemon's `public_url`, empty without one: `incident`, the incident on the first public status page (by name) listing its check, `…/status/{slug}#incident-{id}`, else its API URL; `status_page`, that page (only when there is one); `check`, the check's API URL |
//! | `message` | in `html` and `markdown` only: the rendered `subject` and `text` |
//!
//! Besides a bounded subset of minijinja's own filters (`tojson` among them; see
//! `spec::template_bounds`) there is `duration`, which
//! writes seconds the way check files do: `{{ incident.duration_seconds | duration }}`
//! → `1h5m`. Names that do not exist render as nothing (also `result.error` when there
//! is no result), so that a template written for one event still renders for the others.

use serde_json::Value;

use super::retry::DeliveryError;
use crate::spec::Template;
pub use crate::spec::template::{Field, Format, Provider};
use crate::spec::template::{context, describe_error, environment, is_json_content_type};

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
        "[{{ incident.severity | upper }}] {{ check.name }} {{ 'is burning its error budget' if incident.kind == 'slo_burn' else 'is down' }}",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }}{% if incident.kind != 'slo_burn' %} — open for {{ incident.duration_seconds | duration }}, {{ incident.count }} failure{{ '' if incident.count == 1 else 's' }}{% endif %}",
    ),
    (
        "escalated",
        "[{{ incident.severity | upper }}] {{ check.name }} {{ 'still burns its error budget' if incident.kind == 'slo_burn' else 'is still down' }}",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }} — open for {{ incident.duration_seconds | duration }}{% if incident.kind != 'slo_burn' %}, {{ incident.count }} failure{{ '' if incident.count == 1 else 's' }}{% endif %}; escalated to {{ incident.severity }}",
    ),
    (
        "reminder",
        "[{{ incident.severity | upper }}] {{ check.name }} {{ 'still burns its error budget' if incident.kind == 'slo_burn' else 'is still down' }} (reminder)",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }} — {{ incident.status }} for {{ incident.duration_seconds | duration }}{% if incident.kind != 'slo_burn' %}, {{ incident.count }} failure{{ '' if incident.count == 1 else 's' }}{% endif %}",
    ),
    (
        "acknowledged",
        "[ACK] {{ check.name }} is acknowledged by {{ actor }}",
        "{{ check.name }} ({{ check.target }}): {{ incident.error }} — acknowledged by {{ actor }} after {{ incident.duration_seconds | duration }}",
    ),
    (
        "resolved",
        "[RESOLVED] {{ check.name }} {{ 'no longer burns its error budget' if incident.kind == 'slo_burn' else 'is back up' }}",
        "{{ check.name }} ({{ check.target }}) {{ 'no longer burns its error budget' if incident.kind == 'slo_burn' else 'is back up' }} after {{ incident.duration_seconds | duration }}",
    ),
    (
        "update",
        "[UPDATE] {{ check.name }}: {{ update.status }}",
        "{{ update.message }}\n— {{ check.name }} ({{ check.target }}), incident #{{ incident.id }} {{ incident.status }} for {{ incident.duration_seconds | duration }}; update by {{ actor }}",
    ),
    (
        "test",
        "[TEST] uptimeping test message",
        "{{ incident.error }}",
    ),
];

/// Telegram in HTML mode: the subject in bold, the text, a link to the incident.
const TELEGRAM_HTML: &str = "<b>{{ message.subject }}</b>\n{{ message.text }}{% if links.incident %}\n<a href=\"{{ links.incident }}\">Incident #{{ incident.id }}</a>{% endif %}";
/// Telegram in MarkdownV2 mode, the same.
const TELEGRAM_MARKDOWN: &str = "*{{ message.subject }}*\n{{ message.text }}{% if links.incident %}\n[Incident \\#{{ incident.id }}]({{ links.incident | safe }}){% endif %}";
/// Slack's mrkdwn section under the header block.
const SLACK_MARKDOWN: &str = "{{ message.text }}{% if links.incident %}\n<{{ links.incident | safe }}|Incident #{{ incident.id }}>{% endif %}";
/// The HTML part of emails: the text, then the facts as a table.
const EMAIL_HTML: &str = r#"<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{ message.subject }}</h2>
<p>{{ message.text }}</p>
<table cellpadding="4">
<tr><th align="left">Check</th><td>{{ check.name }}</td></tr>
<tr><th align="left">Target</th><td>{{ check.target }}</td></tr>
{%- if update.status %}
<tr><th align="left">Update</th><td>{{ update.status }}</td></tr>
{%- endif %}
{%- if incident.id %}
<tr><th align="left">Incident</th><td>#{{ incident.id }}, {{ incident.status }}, {{ incident.severity }}</td></tr>
<tr><th align="left">Error</th><td>{{ incident.error }}</td></tr>
<tr><th align="left">Open for</th><td>{{ incident.duration }}</td></tr>
{%- endif %}
</table>
{%- if links.incident %}
<p><a href="{{ links.incident }}">Incident #{{ incident.id }}</a></p>
{%- endif %}
{%- if links.status_page %}
<p><a href="{{ links.status_page }}">Status page</a></p>
{%- endif %}
</body></html>"#;

fn defaults(event: &str) -> (&'static str, &'static str) {
    let (_, subject, text) = DEFAULTS
        .iter()
        .find(|(e, _, _)| *e == event)
        .unwrap_or(&DEFAULTS[0]);
    (subject, text)
}

/// Renders one notification's texts for one provider.
pub struct Renderer<'a> {
    template: Option<&'a Template>,
    provider: Provider,
    context: Value,
    message: Message,
}

impl<'a> Renderer<'a> {
    /// Renders the subject and the text at once: every provider needs them.
    pub fn new(
        payload: &Value,
        template: Option<&'a Template>,
        provider: Provider,
        public_url: Option<&str>,
    ) -> Result<Self, DeliveryError> {
        let mut r = Renderer {
            template,
            provider,
            context: context(payload, public_url),
            message: Message {
                subject: String::new(),
                text: String::new(),
            },
        };
        let event = payload.get("event").and_then(Value::as_str).unwrap_or("");
        let (subject, text) = defaults(event);
        let subject = r.render(Field::Subject, Format::Plain, subject)?;
        let text = r.render(Field::Text, Format::Plain, text)?;
        r.message = Message {
            // A subject is one line wherever it goes (mail headers, titles).
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: text.trim_end().to_string(),
        };
        r.context["message"] = serde_json::to_value(&r.message).unwrap_or(Value::Null);
        Ok(r)
    }

    pub fn message(&self) -> &Message {
        &self.message
    }

    pub fn context(&self) -> &Value {
        &self.context
    }

    /// HTML for this provider: the template's, else its text escaped (when the
    /// template gives a text but no HTML), else the built-in default.
    pub fn html(&self) -> Result<String, DeliveryError> {
        let default = match self.provider {
            Provider::Email => EMAIL_HTML,
            _ => TELEGRAM_HTML,
        };
        self.render(Field::Html, Format::Html, default)
            .map(|s| s.trim_end().to_string())
    }

    /// Markdown for this provider, escaped for `format`.
    pub fn markdown(&self, format: Format) -> Result<String, DeliveryError> {
        let default = match format {
            Format::SlackMarkdown => SLACK_MARKDOWN,
            _ => TELEGRAM_MARKDOWN,
        };
        self.render(Field::Markdown, format, default)
            .map(|s| s.trim_end().to_string())
    }

    /// A webhook's templated body and its content type, when the template has one.
    /// A JSON content type makes a body that is not JSON a template error.
    pub fn webhook_body(&self) -> Option<Result<(String, String), DeliveryError>> {
        let template = self.template?;
        let (source, content_type) = template.webhook_body()?;
        let rendered = self.render_source(&template.name, "webhook.body", source, Format::Plain);
        Some(rendered.and_then(|body| {
            if is_json_content_type(content_type)
                && let Err(e) = serde_json::from_str::<Value>(&body)
            {
                return Err(DeliveryError::config(format!(
                    "template `{}`: `webhook.body` is not valid JSON ({e})",
                    template.name
                )));
            }
            Ok((body, content_type.to_string()))
        }))
    }

    fn render(&self, field: Field, format: Format, default: &str) -> Result<String, DeliveryError> {
        if let Some(t) = self.template
            && let Some((path, source)) = t.lookup(self.provider, field)
        {
            return self.render_source(&t.name, &path, source, format);
        }
        self.render_source("built-in", field.as_str(), default, format)
    }

    fn render_source(
        &self,
        name: &str,
        path: &str,
        source: &str,
        format: Format,
    ) -> Result<String, DeliveryError> {
        // The static bound again, with the sizes of this notification's values: a
        // template checked against nominal sizes must still hold for real ones.
        let bounds = crate::spec::template_bounds::ContextBounds::of(&self.context);
        if let Some(why) = crate::spec::template_bounds::refusal(source, &bounds) {
            return Err(DeliveryError::config(format!(
                "template `{name}`: `{path}` {why}"
            )));
        }
        let env = environment(format);
        let ctx = minijinja::Value::from(minijinja::value::Serde(&self.context));
        let full = format!("{name}.{path}");
        env.template_from_named_str(&full, source)
            .and_then(|t| crate::spec::template_bounds::render_bounded(&t, ctx))
            .map_err(|e| {
                DeliveryError::config(format!(
                    "template `{name}`: `{path}` {}",
                    describe_error(&e)
                ))
            })
    }
}

/// Renders the subject and text of `payload` with `template` (or the defaults), as a
/// webhook shows them. A template that does not render is a permanent failure whose
/// message names the template, field and line.
pub fn render(payload: &Value, template: Option<&Template>) -> Result<Message, DeliveryError> {
    Renderer::new(payload, template, Provider::Webhook, None).map(|r| r.message)
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

    #[test]
    fn built_in_texts_name_a_burn_rate_incident_for_what_it_is() {
        for (event, subject, text) in [
            (
                "opened",
                "[ERROR] payments-api is burning its error budget",
                "payments-api (https://payments.example/health): error budget burning 20.0× over 1h",
            ),
            (
                "escalated",
                "[ERROR] payments-api still burns its error budget",
                "error budget burning 20.0× over 1h",
            ),
            (
                "reminder",
                "[ERROR] payments-api still burns its error budget (reminder)",
                "error budget burning",
            ),
            (
                "resolved",
                "[RESOLVED] payments-api no longer burns its error budget",
                "no longer burns its error budget after 3m",
            ),
        ] {
            let mut p = payload(event);
            p["incident"]["kind"] = json!("slo_burn");
            p["incident"]["error"] = json!("error budget burning 20.0× over 1h");
            let m = render(&p, None).expect("renders");
            assert_eq!(m.subject, subject);
            assert!(m.text.contains(text), "{event}: {}", m.text);
            assert!(!m.text.contains("failure"), "{event}: {}", m.text);
        }
        let m = render(&payload("opened"), None).expect("renders");
        assert_eq!(m.subject, "[ERROR] payments-api is down");
    }

    fn template(subject: Option<&str>, body: Option<&str>) -> Template {
        Template {
            name: "incident-default".into(),
            labels: Default::default(),
            subject: subject.map(str::to_string),
            body: body.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel_instead_of_stalling() {
        let t = template(
            None,
            Some("{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}"),
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
    fn an_update_has_its_own_texts_and_links_to_the_status_page_listing_its_check() {
        let mut p = payload("update");
        p["actor"] = json!("key:ops(1a2b)");
        p["update"] = json!({"status": "identified", "message": "A bad deploy & a fix."});
        p["status_page"] = json!({"name": "public", "slug": "example"});
        let m = render(&p, None).expect("renders");
        assert_eq!(m.subject, "[UPDATE] payments-api: identified");
        assert_eq!(
            m.text,
            "A bad deploy & a fix.\n— payments-api (https://payments.example/health), incident #7 open for 3m; update by key:ops(1a2b)"
        );
        let base = Some("https://up.example/");
        let r = Renderer::new(&p, None, Provider::Telegram, base).expect("renders");
        assert_eq!(
            r.context()["links"],
            json!({"incident": "https://up.example/status/example#incident-7", "status_page": "https://up.example/status/example", "check": "https://up.example/api/v1/checks/payments-api"})
        );
        let html = r.html().expect("html");
        assert!(html.contains("A bad deploy &amp; a fix."), "{html}");
        assert!(
            html.contains(
                "<a href=\"https://up.example/status/example#incident-7\">Incident #7</a>"
            ),
            "{html}"
        );
        let r = Renderer::new(&p, None, Provider::Slack, base).expect("renders");
        let md = r.markdown(Format::SlackMarkdown).expect("mrkdwn");
        assert!(md.contains("A bad deploy &amp; a fix."), "{md}");
        assert!(
            md.contains("<https://up.example/status/example#incident-7|Incident #7>"),
            "{md}"
        );
        let r = Renderer::new(&p, None, Provider::Email, base).expect("renders");
        let html = r.html().expect("html");
        assert!(
            html.contains("<th align=\"left\">Update</th><td>identified</td>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://up.example/status/example\">Status page</a>"),
            "{html}"
        );
        // Without a listing page, the link is the API's, and no status page is named.
        p["status_page"] = Value::Null;
        let r = Renderer::new(&p, None, Provider::Telegram, base).expect("renders");
        assert_eq!(
            r.context()["links"]["incident"],
            "https://up.example/api/v1/incidents/7"
        );
        assert!(r.context()["links"].get("status_page").is_none());
    }

    #[test]
    fn a_resolved_incident_a_page_no_longer_shows_links_to_the_page_itself() {
        let base = Some("https://up.example");
        let mut p = payload("resolved");
        p["incident"]["status"] = json!("resolved");
        p["status_page"] = json!({"name": "public", "slug": "example", "incidents_days": 0});
        let r = Renderer::new(&p, None, Provider::Telegram, base).expect("renders");
        assert_eq!(
            r.context()["links"]["incident"],
            "https://up.example/status/example"
        );
        // A page that keeps resolved incidents shows it: the anchor stays.
        p["status_page"]["incidents_days"] = json!(14);
        let r = Renderer::new(&p, None, Provider::Telegram, base).expect("renders");
        assert_eq!(
            r.context()["links"]["incident"],
            "https://up.example/status/example#incident-7"
        );
        // Open incidents are on the page whatever the window.
        let mut p = payload("opened");
        p["status_page"] = json!({"name": "public", "slug": "example", "incidents_days": 0});
        let r = Renderer::new(&p, None, Provider::Telegram, base).expect("renders");
        assert_eq!(
            r.context()["links"]["incident"],
            "https://up.example/status/example#incident-7"
        );
    }

    #[test]
    fn templates_see_the_update() {
        let mut p = payload("update");
        p["update"] = json!({"status": "monitoring", "message": "watching"});
        let t = template(
            Some("{{ event }} {{ update.status }}"),
            Some("{{ update.message }}"),
        );
        let m = render(&p, Some(&t)).expect("renders");
        assert_eq!(
            (m.subject.as_str(), m.text.as_str()),
            ("update monitoring", "watching")
        );
        // Other events have no update: it renders as nothing.
        let m = render(&payload("opened"), Some(&t)).expect("renders");
        assert_eq!(m.subject, "opened");
    }

    #[test]
    fn test_event_has_its_own_default() {
        let p = json!({"event": "test", "actor": "api", "check": {"name": "uptimeping-test"}, "incident": {"error": "this is a test message from uptimeping"}});
        let m = render(&p, None).expect("renders");
        assert_eq!(m.subject, "[TEST] uptimeping test message");
        assert_eq!(m.text, "this is a test message from uptimeping");
    }

    #[test]
    fn built_in_defaults_render_for_every_event_and_provider() {
        use crate::spec::template::{EVENTS, sample_payload};
        for event in EVENTS {
            for provider in [
                Provider::Telegram,
                Provider::Slack,
                Provider::Email,
                Provider::Webhook,
            ] {
                let r =
                    Renderer::new(&sample_payload(event), None, provider, None).expect("renders");
                assert!(!r.message().subject.is_empty(), "{event}");
                r.html().expect("html");
                r.markdown(Format::TelegramMarkdown).expect("markdown");
                r.markdown(Format::SlackMarkdown).expect("mrkdwn");
            }
        }
        let m = render(&payload("reminder"), None).expect("renders");
        assert_eq!(m.subject, "[ERROR] payments-api is still down (reminder)");
        assert_eq!(
            m.text,
            "payments-api (https://payments.example/health): connection refused — open for 3m, 4 failures"
        );
    }

    #[test]
    fn text_given_without_html_is_escaped_into_the_default_html() {
        let t = template(Some("<{{ check.name }}>"), Some("a & b"));
        let r =
            Renderer::new(&payload("opened"), Some(&t), Provider::Telegram, None).expect("renders");
        assert_eq!(
            r.html().expect("html"),
            "<b>&lt;payments-api&gt;</b>\na &amp; b"
        );
    }
}
