//! The `Template` resource: how a notification reads.
//!
//! Fields by format: `subject` (one line), `text` (plain text; `body` is its older
//! name), `html` (values HTML-escaped), `markdown` (values escaped for the target:
//! Telegram MarkdownV2 or Slack mrkdwn). A provider section (`telegram`, `slack`,
//! `email`, `webhook`) overrides any of them for that provider only; `webhook` may
//! also render the whole request `body` with its `content_type`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Message text in minijinja syntax (`{{ check.name }}`, `{% if %}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Subject line (email) or title (Slack, Telegram, webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Main plain text, used where no format- or provider-specific variant is given.
    /// The same as `text`; kept for templates written before `text` existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Main plain text, used where no format- or provider-specific variant is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// HTML: the HTML part of emails, Telegram messages in `HTML` parse mode.
    /// Values are HTML-escaped; `| safe` writes one as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Markdown: Slack's mrkdwn, Telegram messages in `MarkdownV2` parse mode.
    /// Values are escaped for the target; `| safe` writes one as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    /// Overrides for Telegram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<Variant>,
    /// Overrides for Slack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<Variant>,
    /// Overrides for email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Variant>,
    /// Overrides for webhooks, and the whole body when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookVariant>,
}

/// One provider's own texts; each replaces the top-level field of the same name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookVariant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The whole request body, instead of uptimeping's JSON document. Values are
    /// written as they are: use `| tojson` inside JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `Content-Type` of a templated `body`; default `application/json`. A JSON
    /// content type makes the rendered body checked for being valid JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// How values are escaped in a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Written as they are.
    Plain,
    Html,
    /// Escaped for Telegram's MarkdownV2.
    TelegramMarkdown,
    /// Escaped for Slack's mrkdwn.
    SlackMarkdown,
}

/// Fields a template can have, for provider lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Subject,
    Text,
    Html,
    Markdown,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Subject => "subject",
            Field::Text => "text",
            Field::Html => "html",
            Field::Markdown => "markdown",
        }
    }
}

/// The provider a text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Telegram,
    Slack,
    Email,
    Webhook,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Telegram => "telegram",
            Provider::Slack => "slack",
            Provider::Email => "email",
            Provider::Webhook => "webhook",
        }
    }
}

impl Template {
    /// The provider's own text for `field`, else the top-level one, with the path of
    /// the field it came from (`telegram.html`, `subject`).
    pub fn lookup(&self, provider: Provider, field: Field) -> Option<(String, &str)> {
        let own = match provider {
            Provider::Telegram => self.telegram.as_ref().and_then(|v| v.get(field)),
            Provider::Slack => self.slack.as_ref().and_then(|v| v.get(field)),
            Provider::Email => self.email.as_ref().and_then(|v| v.get(field)),
            Provider::Webhook => self.webhook.as_ref().and_then(|w| match field {
                Field::Subject => w.subject.as_deref(),
                Field::Text => w.text.as_deref(),
                Field::Html | Field::Markdown => None,
            }),
        };
        if let Some(text) = own {
            return Some((format!("{}.{}", provider.as_str(), field.as_str()), text));
        }
        let top = match field {
            Field::Subject => self.subject.as_deref().map(|s| ("subject", s)),
            Field::Text => self
                .text
                .as_deref()
                .map(|s| ("text", s))
                .or(self.body.as_deref().map(|s| ("body", s))),
            Field::Html => self.html.as_deref().map(|s| ("html", s)),
            Field::Markdown => self.markdown.as_deref().map(|s| ("markdown", s)),
        };
        top.map(|(path, s)| (path.to_string(), s))
    }

    /// Every template text with its dotted field path and the formats it is rendered
    /// in, for validation.
    pub fn texts<'a>(&'a self) -> Vec<(String, &'a str, &'static [Format])> {
        const PLAIN: &[Format] = &[Format::Plain];
        const HTML: &[Format] = &[Format::Html];
        const MARKDOWN: &[Format] = &[Format::TelegramMarkdown, Format::SlackMarkdown];
        const TG_MARKDOWN: &[Format] = &[Format::TelegramMarkdown];
        const SLACK_MARKDOWN: &[Format] = &[Format::SlackMarkdown];
        let mut out = Vec::new();
        let mut push = |path: String, text: &'a Option<String>, formats: &'static [Format]| {
            if let Some(t) = text {
                out.push((path, t.as_str(), formats));
            }
        };
        push("subject".into(), &self.subject, PLAIN);
        push("body".into(), &self.body, PLAIN);
        push("text".into(), &self.text, PLAIN);
        push("html".into(), &self.html, HTML);
        push("markdown".into(), &self.markdown, MARKDOWN);
        for (name, variant, markdown) in [
            ("telegram", &self.telegram, TG_MARKDOWN),
            ("slack", &self.slack, SLACK_MARKDOWN),
            ("email", &self.email, MARKDOWN),
        ] {
            if let Some(v) = variant {
                push(format!("{name}.subject"), &v.subject, PLAIN);
                push(format!("{name}.text"), &v.text, PLAIN);
                push(format!("{name}.html"), &v.html, HTML);
                push(format!("{name}.markdown"), &v.markdown, markdown);
            }
        }
        if let Some(w) = &self.webhook {
            push("webhook.subject".into(), &w.subject, PLAIN);
            push("webhook.text".into(), &w.text, PLAIN);
            push("webhook.body".into(), &w.body, PLAIN);
        }
        out
    }

    /// The webhook's templated body and its content type, when given.
    pub fn webhook_body(&self) -> Option<(&str, &str)> {
        let w = self.webhook.as_ref()?;
        let body = w.body.as_deref()?;
        Some((
            body,
            w.content_type
                .as_deref()
                .unwrap_or(DEFAULT_BODY_CONTENT_TYPE),
        ))
    }
}

/// `Content-Type` of a templated webhook body that names none.
pub const DEFAULT_BODY_CONTENT_TYPE: &str = "application/json";

/// Whether `content_type` says JSON (`application/json`, `application/x+json`, with
/// parameters or not).
pub fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl Variant {
    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::Subject => self.subject.as_deref(),
            Field::Text => self.text.as_deref(),
            Field::Html => self.html.as_deref(),
            Field::Markdown => self.markdown.as_deref(),
        }
    }
}

/// Events a notification can be about, each with its built-in texts.
pub const EVENTS: &[&str] = &[
    "opened",
    "escalated",
    "reminder",
    "acknowledged",
    "update",
    "resolved",
    "test",
];

/// Work a template may do in one render (minijinja's fuel: about one unit per
/// instruction). Templates come from tenants: a loop nested in a loop must not stall
/// every tenant's notifications. Real messages use a few hundred units at most.
pub const TEMPLATE_FUEL: u64 = 100_000;

/// Seconds as a check file writes durations: `45s`, `3m`, `1h5m`; nothing when absent.
pub(super) fn duration_filter(value: minijinja::Value) -> String {
    match u64::try_from(value) {
        Ok(secs) => super::Duration::from_secs(secs).to_string(),
        Err(_) => String::new(),
    }
}

/// The environment every template renders in: names that do not exist render as
/// nothing, only the filters, tests and functions whose growth is bounded (the
/// `duration` filter among them), bounded work, and values escaped for `format`.
pub fn environment(format: Format) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::empty();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    super::template_bounds::install(&mut env);
    env.set_fuel(Some(TEMPLATE_FUEL));
    if format != Format::Plain {
        env.set_formatter(move |out, _state, value| {
            if value.is_undefined() || value.is_none() {
                return Ok(());
            }
            // Escaping needs the value written out first: one that could not fit
            // in the rendered text anyway is refused before that.
            let max = super::template_bounds::MAX_RENDERED_BYTES as u64;
            if super::template_bounds::size_of(value, max).bytes > max {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("the value written here is longer than the {max} bytes a field may render to"),
                ));
            }
            let text = value.to_string();
            let written = if value.is_safe() {
                text
            } else {
                escape(format, &text)
            };
            out.write_str(&written).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
            })
        });
    }
    env
}

/// `text` escaped so that it shows as it is in `format`.
pub fn escape(format: Format, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match (format, c) {
            (Format::Html, '&') | (Format::SlackMarkdown, '&') => out.push_str("&amp;"),
            (Format::Html, '<') | (Format::SlackMarkdown, '<') => out.push_str("&lt;"),
            (Format::Html, '>') | (Format::SlackMarkdown, '>') => out.push_str("&gt;"),
            (Format::Html, '"') => out.push_str("&quot;"),
            (
                Format::TelegramMarkdown,
                '_' | '*' | '[' | ']' | '(' | ')' | '~' | '`' | '>' | '#' | '+' | '-' | '=' | '|'
                | '{' | '}' | '.' | '!' | '\\',
            ) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A render error in words: `line 3: unknown filter `uper``.
pub fn describe_error(err: &minijinja::Error) -> String {
    let (line, detail) = error_parts(err);
    match line {
        Some(l) => format!("line {l}: {detail}"),
        None => detail,
    }
}

/// The template line of a render error, and what went wrong.
pub fn error_parts(err: &minijinja::Error) -> (Option<usize>, String) {
    let detail = match err.detail() {
        Some(d) => d.to_string(),
        None => err.kind().to_string(),
    };
    // minijinja says `filter uper is unknown`; name the culprit in quotes.
    let words: Vec<&str> = detail.split(' ').collect();
    let detail = match words.as_slice() {
        [
            what @ ("filter" | "test" | "function" | "method"),
            name,
            "is",
            "unknown",
        ] => {
            format!("unknown {what} `{name}`")
        }
        _ => detail,
    };
    (err.line(), detail)
}

/// A payload as the daemon writes it for `event`, with every documented field, for
/// rendering templates before they are used.
pub fn sample_payload(event: &str) -> serde_json::Value {
    let resolved = event == "resolved";
    serde_json::json!({
        "event": event,
        "actor": if event == "acknowledged" { "key:ops(1a2b3c)" } else { "system" },
        "at": "2024-05-01T12:03:00Z",
        "check": {"name": "payments-api", "type": "http", "target": "https://payments.example/health",
                  "labels": {"team": "payments"}, "description": "Payments API health"},
        "incident": {"id": 7, "status": if resolved { "resolved" } else if event == "acknowledged" { "acknowledged" } else { "open" },
                     "severity": "error", "error": "status: expected 200, got 503", "status_code": 503, "count": 4,
                     "dedup_hash": "9f2c", "opened_at": "2024-05-01T12:00:00Z",
                     "resolved_at": if resolved { serde_json::json!("2024-05-01T12:05:00Z") } else { serde_json::Value::Null },
                     "duration_seconds": 180},
        "result": {"up": resolved, "status_code": if resolved { 200 } else { 503 }, "error": if resolved { serde_json::Value::Null } else { serde_json::json!("status: expected 200, got 503") },
                   "latency_ms": 12.5, "attempts": 1, "started_at": "2024-05-01T12:03:00Z", "failures": [], "body_excerpt": "down"},
        "update": if event == "update" { serde_json::json!({"status": "identified", "message": "A bad deploy; rolling it back."}) } else { serde_json::Value::Null },
        "links": {"incident": "https://uptimeping.example/status/example#incident-7", "status_page": "https://uptimeping.example/status/example", "check": "https://uptimeping.example/api/v1/checks/payments-api"},
    })
}

/// What a template sees, from an outbox payload: `event`, `actor`, `at`, `check`,
/// `incident` (with `duration` written out), `update`, `result`, and `links` when the
/// daemon knows its public URL (`{}` otherwise): to the incident on the status page
/// the payload names (`status_page.slug`), else to the API.
pub fn context(payload: &serde_json::Value, public_url: Option<&str>) -> serde_json::Value {
    use serde_json::{Value, json};
    let field = |key: &str| payload.get(key).cloned().unwrap_or(Value::Null);
    let mut incident = field("incident");
    if let Some(map) = incident.as_object_mut()
        && let Some(secs) = map.get("duration_seconds").and_then(Value::as_u64)
    {
        map.insert(
            "duration".into(),
            Value::String(super::Duration::from_secs(secs).to_string()),
        );
    }
    let links = match (payload.get("links"), public_url) {
        (Some(given), _) => given.clone(),
        (None, Some(base)) => {
            let base = base.trim_end_matches('/');
            let mut links = serde_json::Map::new();
            let page = payload
                .pointer("/status_page/slug")
                .and_then(Value::as_str)
                .map(|slug| {
                    let slug =
                        url::form_urlencoded::byte_serialize(slug.as_bytes()).collect::<String>();
                    format!("{base}/status/{slug}")
                });
            if let Some(id) = incident
                .get("id")
                .and_then(Value::as_i64)
                .filter(|id| *id > 0)
            {
                // A page keeping no resolved incidents (`incidents_days: 0`)
                // no longer shows a resolved one: link to the page itself.
                let gone = incident.get("status").and_then(Value::as_str) == Some("resolved")
                    && payload
                        .pointer("/status_page/incidents_days")
                        .and_then(Value::as_u64)
                        == Some(0);
                let url = match &page {
                    Some(page) if gone => page.clone(),
                    Some(page) => format!("{page}#incident-{id}"),
                    None => format!("{base}/api/v1/incidents/{id}"),
                };
                links.insert("incident".into(), json!(url));
            }
            if let Some(page) = page {
                links.insert("status_page".into(), json!(page));
            }
            if let Some(name) = payload.pointer("/check/name").and_then(Value::as_str)
                && payload.get("event").and_then(Value::as_str) != Some("test")
            {
                let name =
                    url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>();
                links.insert(
                    "check".into(),
                    json!(format!("{base}/api/v1/checks/{name}")),
                );
            }
            Value::Object(links)
        }
        (None, None) => json!({}),
    };
    json!({
        "event": field("event"),
        "actor": field("actor"),
        "at": field("at"),
        "check": field("check"),
        "incident": incident,
        "update": field("update"),
        "result": field("result"),
        "links": links,
    })
}

/// The context a template sees for `event`, from the sample payload, with a sample
/// `message`.
fn sample_context(event: &str) -> serde_json::Value {
    let mut ctx = context(&sample_payload(event), None);
    ctx["message"] = serde_json::json!({"subject": "[ERROR] payments-api is down", "text": "payments-api: status: expected 200, got 503"});
    ctx
}

/// Renders every text of `template` for every event against a sample context, as the
/// notifier would; returns (field path, template line, error) for each field that
/// does not render.
pub fn check_renders(template: &Template) -> Vec<(String, Option<usize>, String)> {
    let mut out = Vec::new();
    let bounds = super::template_bounds::ContextBounds::nominal(&sample_context(EVENTS[0]));
    for (path, text, formats) in template.texts() {
        if let Some((line, why)) = super::template_bounds::refusal_at(text, &bounds) {
            out.push((path.clone(), line, why));
            continue;
        }
        'formats: for format in formats {
            let env = environment(*format);
            let compiled = match env.template_from_named_str(path.as_str(), text) {
                Ok(t) => t,
                Err(e) => {
                    let (line, detail) = error_parts(&e);
                    out.push((path.clone(), line, detail));
                    break 'formats;
                }
            };
            for event in EVENTS {
                let ctx = sample_context(event);
                match super::template_bounds::render_bounded(
                    &compiled,
                    minijinja::Value::from(minijinja::value::Serde(&ctx)),
                ) {
                    Err(e) => {
                        let (line, detail) = error_parts(&e);
                        out.push((path.clone(), line, detail));
                        break 'formats;
                    }
                    Ok(rendered) if path == "webhook.body" => {
                        let content_type = template
                            .webhook_body()
                            .map_or(DEFAULT_BODY_CONTENT_TYPE, |(_, ct)| ct);
                        if is_json_content_type(content_type)
                            && let Err(e) = serde_json::from_str::<serde_json::Value>(&rendered)
                        {
                            out.push((
                                path.clone(),
                                None,
                                format!("the body rendered for event `{event}` is not valid JSON ({e}); write values with `| tojson`"),
                            ));
                            break 'formats;
                        }
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escaping_per_format() {
        let nasty = "a<b>&\"c\" _*[x](y)~`#+-=|{}.!\\";
        assert_eq!(
            escape(Format::Html, nasty),
            "a&lt;b&gt;&amp;&quot;c&quot; _*[x](y)~`#+-=|{}.!\\"
        );
        assert_eq!(
            escape(Format::SlackMarkdown, nasty),
            "a&lt;b&gt;&amp;\"c\" _*[x](y)~`#+-=|{}.!\\"
        );
        assert_eq!(
            escape(Format::TelegramMarkdown, nasty),
            "a<b\\>&\"c\" \\_\\*\\[x\\]\\(y\\)\\~\\`\\#\\+\\-\\=\\|\\{\\}\\.\\!\\\\"
        );
        assert_eq!(escape(Format::Plain, nasty), nasty);
    }

    #[test]
    fn values_are_escaped_but_safe_ones_and_the_template_text_are_not() {
        let env = environment(Format::Html);
        let out = env
            .render_str(
                "<b>{{ a }}</b> {{ b | safe }} [{{ none }}]{{ missing.deeper }}",
                minijinja::context! { a => "<i>", b => "<u>x</u>", none => () },
            )
            .expect("renders");
        assert_eq!(out, "<b>&lt;i&gt;</b> <u>x</u> []");
    }

    #[test]
    fn links_come_from_the_public_url() {
        let payload = json!({"event": "opened", "check": {"name": "pay api"}, "incident": {"id": 7, "duration_seconds": 3900}});
        let ctx = context(&payload, Some("https://uptime.example/"));
        assert_eq!(
            ctx["links"],
            json!({"incident": "https://uptime.example/api/v1/incidents/7", "check": "https://uptime.example/api/v1/checks/pay+api"})
        );
        assert_eq!(ctx["incident"]["duration"], "1h5m");
        assert_eq!(context(&payload, None)["links"], json!({}));
    }

    #[test]
    fn provider_variants_win_over_the_generic_fields() {
        let t = Template {
            name: "t".into(),
            body: Some("generic".into()),
            html: Some("<b>generic</b>".into()),
            telegram: Some(Variant {
                html: Some("<i>telegram</i>".into()),
                ..Variant::default()
            }),
            ..Template::default()
        };
        assert_eq!(
            t.lookup(Provider::Telegram, Field::Html),
            Some(("telegram.html".into(), "<i>telegram</i>"))
        );
        assert_eq!(
            t.lookup(Provider::Email, Field::Html),
            Some(("html".into(), "<b>generic</b>"))
        );
        assert_eq!(
            t.lookup(Provider::Slack, Field::Text),
            Some(("body".into(), "generic"))
        );
        assert_eq!(t.lookup(Provider::Slack, Field::Markdown), None);
    }

    #[test]
    fn every_event_sample_renders_the_built_in_checks() {
        let t = Template {
            name: "t".into(),
            subject: Some("{{ incident.severity | upper }} {{ links.incident }}".into()),
            markdown: Some("{{ check.name | nope }}".into()),
            ..Template::default()
        };
        assert_eq!(
            check_renders(&t),
            [(
                "markdown".to_string(),
                Some(1),
                "unknown filter `nope`".to_string()
            )]
        );
        assert!(is_json_content_type("application/json; charset=utf-8"));
        assert!(is_json_content_type("application/vnd.api+json"));
        assert!(!is_json_content_type("text/plain"));
    }
}
