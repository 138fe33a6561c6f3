//! The Slack provider: one POST to the channel's incoming webhook with Block Kit
//! blocks in an attachment coloured by severity, a status emoji in the header, and
//! (when the channel has the Slack app's `signing_secret`) the buttons Acknowledge and
//! Resolve, whose presses come back to `api/integrations.rs`.
//!
//! ```json
//! {"text": "[ERROR] payments-api is down",
//!  "attachments": [{"color": "#e01e5a", "fallback": "[ERROR] payments-api is down", "blocks": [
//!    {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: [ERROR] payments-api is down", "emoji": true}},
//!    {"type": "section", "text": {"type": "mrkdwn", "text": "…"}},
//!    {"type": "context", "elements": [{"type": "mrkdwn", "text": "*payments-api* · http · incident #7 · open · error"}]},
//!    {"type": "actions", "block_id": "uptimeping-actions:<token>", "elements": [buttons]}]}]}
//! ```
//!
//! Incoming webhooks answer `ok` and no message id, so each message with buttons
//! carries a random token of its own in the actions block's id, recorded with the
//! incident it is about before it is sent: a press is acted on only when its token
//! was sent by the same channel about the same incident.

use std::time::Duration;

use serde_json::{Value, json};

use super::message::{Format, Renderer};
use super::retry::DeliveryError;
use super::telegram::{Action, keyboard};
use super::webhook::exchange_within;
use crate::spec::SlackSpec;
use crate::spec::secrets::Redactor;
use crate::spec::template::escape;

/// The `block_id` of the buttons, before `:` and the message's token: to find and
/// replace them after a press.
pub const ACTIONS_BLOCK: &str = "uptimeping-actions";
/// What `sent_messages.chat` holds for Slack messages: an incoming webhook posts to
/// one fixed conversation, which the daemon is not told.
pub const SENT_CHAT: &str = "slack";
/// Random bytes of a message's token: as many as a session id, so that a token
/// cannot be guessed from the ones seen.
const TOKEN_BYTES: usize = 16;
/// Slack's limit on a header block's text.
const HEADER_MAX_CHARS: usize = 150;
/// Slack's limit on a section block's text.
const SECTION_MAX_CHARS: usize = 3000;

/// Emoji and colour of a message: by event, and by severity while the incident is open.
pub fn style(event: &str, severity: &str) -> (&'static str, &'static str) {
    match event {
        "resolved" => (":white_check_mark:", "#2eb67d"),
        "acknowledged" => (":eyes:", "#1d9bd1"),
        "update" => (":speech_balloon:", "#1d9bd1"),
        "test" => (":test_tube:", "#8d8d8d"),
        _ => match severity {
            "warning" => (":warning:", "#ecb22e"),
            "critical" => (":rotating_light:", "#8b0000"),
            _ => (":red_circle:", "#e01e5a"),
        },
    }
}

/// A fresh token for one message's buttons.
pub fn new_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    hex::encode(bytes)
}

/// Whether a message about `incident` gets buttons: the channel can verify presses,
/// and the incident is still open to act on.
pub fn has_buttons(spec: &SlackSpec, incident: Option<(i64, &str)>) -> bool {
    spec.signing_secret.is_some()
        && incident.is_some_and(|(id, status)| keyboard(id, status).is_some())
}

/// The token in the `block_id` of a pressed button, if it is one of ours.
pub fn token_of(block_id: &str) -> Option<&str> {
    block_id
        .strip_prefix(ACTIONS_BLOCK)?
        .strip_prefix(':')
        .filter(|t| !t.is_empty())
}

/// The incoming-webhook body for a rendered notification; `token` is the message's
/// (see the module docs), without which there are no buttons.
pub fn body(
    spec: &SlackSpec,
    renderer: &Renderer<'_>,
    payload: &Value,
    incident: Option<(i64, &str)>,
    token: Option<&str>,
) -> Result<Value, DeliveryError> {
    let event = payload["event"].as_str().unwrap_or_default();
    let severity = payload
        .pointer("/incident/severity")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let (emoji, colour) = style(event, severity);
    let subject = &renderer.message().subject;
    let header: String = format!("{emoji} {subject}")
        .chars()
        .take(HEADER_MAX_CHARS)
        .collect();
    let mut text = renderer.markdown(Format::SlackMarkdown)?;
    if text.chars().count() > SECTION_MAX_CHARS {
        text = text.chars().take(SECTION_MAX_CHARS - 1).collect::<String>() + "…";
    }
    let md = |s: &str| escape(Format::SlackMarkdown, s);
    let mut facts = Vec::new();
    if let Some(name) = payload.pointer("/check/name").and_then(Value::as_str) {
        facts.push(format!("*{}*", md(name)));
    }
    if let Some(t) = payload.pointer("/check/type").and_then(Value::as_str) {
        facts.push(md(t));
    }
    if let Some((id, status)) = incident {
        facts.push(format!("incident #{id}"));
        facts.push(md(status));
        facts.push(md(severity));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": facts.join(" · ")}]}),
    ];
    if spec.signing_secret.is_some()
        && let (Some((id, status)), Some(token)) = (incident, token)
        && let Some(actions) = buttons(id, status, token)
    {
        blocks.push(actions);
    }
    // The top-level text (notifications, and clients without blocks) is mrkdwn too.
    let plain = md(subject);
    Ok(json!({
        "text": plain,
        "attachments": [{"color": colour, "fallback": plain, "blocks": blocks}],
    }))
}

/// The actions block for incident `id` in `status`, as for Telegram: both buttons
/// while open, Resolve once acknowledged, none once resolved.
pub fn buttons(id: i64, status: &str, token: &str) -> Option<Value> {
    let k = keyboard(id, status)?;
    let elements: Vec<Value> = k["inline_keyboard"][0]
        .as_array()?
        .iter()
        .map(|b| {
            let data = b["callback_data"].as_str().unwrap_or_default();
            let (action, _) = Action::parse(data).unwrap_or((Action::Acknowledge, id));
            let (action_id, style) = match action {
                Action::Acknowledge => ("acknowledge", "primary"),
                Action::Resolve => ("resolve", "danger"),
            };
            json!({"type": "button", "action_id": action_id, "style": style, "value": data,
                   "text": {"type": "plain_text", "text": b["text"]}})
        })
        .collect();
    let block_id = format!("{ACTIONS_BLOCK}:{token}");
    Some(json!({"type": "actions", "block_id": block_id, "elements": elements}))
}

/// Posts `body` to the incoming webhook (Slack answers `ok`).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let url = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| DeliveryError::config("slack: the URL is not a valid http(s) URL"))?;
    exchange_within(
        timeout,
        client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string()),
        "slack",
    )
    .await
    .map(drop)
}

/// The redactor for errors of a reply to a button press: the `response_url` Slack
/// gave carries a token, as the channel's webhook URL does.
pub fn reply_redactor(response_url: &str) -> Redactor {
    let channel = json!({"slack": {"webhook_url": response_url}});
    Redactor::for_channel(&channel, &std::collections::BTreeSet::new())
}

/// The message after a button press: the original attachment with the buttons
/// replaced by the ones still useful, and a line saying who did what. Sent to the
/// press's `response_url` with `replace_original`. The buttons keep the message's token.
pub fn replacement(
    original: &Value,
    line: &str,
    (incident, status): (i64, &str),
    token: &str,
) -> Value {
    let mut attachments = original
        .get("attachments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let done = json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]});
    if let Some(first) = attachments.first_mut() {
        let mut blocks: Vec<Value> = first["blocks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|b| {
                !b["block_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(ACTIONS_BLOCK))
            })
            .collect();
        blocks.push(done);
        if let Some(actions) = buttons(incident, status, token) {
            blocks.push(actions);
        }
        if status == "resolved" {
            first["color"] = json!(style("resolved", "").1);
        }
        first["blocks"] = Value::Array(blocks);
    } else {
        attachments.push(json!({"blocks": [done]}));
    }
    let text = original
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!({"replace_original": true, "text": text, "attachments": attachments})
}
