//! The Telegram provider: the Bot API's `sendMessage` to the channel's chat, in HTML
//! or MarkdownV2 with every value escaped, and under a message about an open incident
//! the buttons Acknowledge and Resolve (when the channel has a `webhook_secret` for
//! Telegram's updates to be answered with). A button press comes back as a callback
//! update (see `api/integrations.rs`), which acts on the incident, answers the press
//! (`answerCallbackQuery`) and edits the message (`editMessageText`) to say who did what.
//!
//! Requests go to `{api_url}/bot{token}/{method}` as JSON. Telegram answers
//! `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description",
//! "parameters": {"retry_after"}}`; `retry_after` is honoured like `Retry-After`.
//! The token is part of the URL: errors never show the URL, and a reply that quotes
//! the token is masked with the channel's other secrets.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::message::{Format, Renderer};
use super::retry::{Cause, DeliveryError};
use super::webhook::transport_error;
use crate::spec::secrets::Redactor;
use crate::spec::{TelegramParseMode, TelegramSpec};

/// The largest answer read: Bot API answers are small JSON documents.
const ANSWER_CAP: usize = 256 * 1024;
/// Telegram's limit on a message's text, in characters after entity parsing.
pub const MAX_TEXT_CHARS: usize = 4096;

/// A message as sent, to be edited later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub chat: String,
    pub message_id: String,
    pub text: String,
}

/// What a button does, as carried in its `callback_data` (`ack:7`, `resolve:7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
}

impl Action {
    pub fn parse(data: &str) -> Option<(Action, i64)> {
        let (verb, id) = data.split_once(':')?;
        let action = match verb {
            "ack" => Action::Acknowledge,
            "resolve" => Action::Resolve,
            _ => return None,
        };
        Some((action, id.parse().ok().filter(|id| *id > 0)?))
    }

    pub fn data(self, incident: i64) -> String {
        match self {
            Action::Acknowledge => format!("ack:{incident}"),
            Action::Resolve => format!("resolve:{incident}"),
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            Action::Acknowledge => "Acknowledged",
            Action::Resolve => "Resolved",
        }
    }
}

/// The buttons under a message about incident `id` in `status`: both while it is
/// open, Resolve once acknowledged, none once resolved.
pub fn keyboard(id: i64, status: &str) -> Option<Value> {
    let button = |a: Action, label: &str| json!({"text": label, "callback_data": a.data(id)});
    let row = match status {
        "open" => vec![
            button(Action::Acknowledge, "Acknowledge"),
            button(Action::Resolve, "Resolve"),
        ],
        "acknowledged" => vec![button(Action::Resolve, "Resolve")],
        _ => return None,
    };
    Some(json!({"inline_keyboard": [row]}))
}

pub fn parse_mode(spec: &TelegramSpec) -> &'static str {
    match spec.parse_mode {
        TelegramParseMode::Html => "HTML",
        TelegramParseMode::MarkdownV2 => "MarkdownV2",
    }
}

pub fn format(spec: &TelegramSpec) -> Format {
    match spec.parse_mode {
        TelegramParseMode::Html => Format::Html,
        TelegramParseMode::MarkdownV2 => Format::TelegramMarkdown,
    }
}

/// The `sendMessage` request for a rendered notification. `incident` is the id and
/// status of the incident it is about, for the buttons.
pub fn send_message_body(
    spec: &TelegramSpec,
    renderer: &Renderer<'_>,
    incident: Option<(i64, &str)>,
) -> Result<Value, DeliveryError> {
    let text = match spec.parse_mode {
        TelegramParseMode::Html => renderer.html()?,
        TelegramParseMode::MarkdownV2 => renderer.markdown(Format::TelegramMarkdown)?,
    };
    let mut body = if text.chars().count() <= MAX_TEXT_CHARS {
        json!({
            "chat_id": spec.chat_id,
            "text": text,
            "parse_mode": parse_mode(spec),
            "link_preview_options": {"is_disabled": true},
        })
    } else {
        // Cutting markup could leave a tag open, which Telegram refuses: a message
        // this long goes out as plain text, cut.
        let m = renderer.message();
        let plain = format!("{}\n{}", m.subject, m.text);
        let cut: String = plain.chars().take(MAX_TEXT_CHARS - 1).collect();
        json!({
            "chat_id": spec.chat_id,
            "text": format!("{cut}…"),
            "link_preview_options": {"is_disabled": true},
        })
    };
    if spec.webhook_secret.is_some()
        && let Some((id, status)) = incident
        && let Some(k) = keyboard(id, status)
    {
        body["reply_markup"] = k;
    }
    Ok(body)
}

/// Sends a message; returns it as sent, for editing later.
pub async fn send(
    client: &reqwest::Client,
    spec: &TelegramSpec,
    body: &Value,
    timeout: Duration,
) -> Result<Sent, DeliveryError> {
    let result = call(client, spec, "sendMessage", body, timeout).await?;
    let message_id = match result.get("message_id") {
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(DeliveryError::new(
                Cause::Broken,
                "telegram: the answer to sendMessage has no message_id",
            ));
        }
    };
    let chat = match result.pointer("/chat/id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => spec.chat_id.clone(),
    };
    Ok(Sent {
        chat,
        message_id,
        text: body["text"].as_str().unwrap_or_default().to_string(),
    })
}

/// Replaces the text (and buttons) of a message sent before.
pub async fn edit_message(
    client: &reqwest::Client,
    spec: &TelegramSpec,
    (chat, message_id): (&str, &str),
    text: &str,
    keyboard: Option<Value>,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let mut body = json!({
        "chat_id": chat,
        "message_id": message_id.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(message_id)),
        "text": text,
        "parse_mode": parse_mode(spec),
        "link_preview_options": {"is_disabled": true},
        // Without a keyboard the buttons go away.
        "reply_markup": keyboard.unwrap_or_else(|| json!({"inline_keyboard": []})),
    });
    if let Ok(chat) = chat.parse::<i64>() {
        body["chat_id"] = Value::from(chat);
    }
    call(client, spec, "editMessageText", &body, timeout)
        .await
        .map(drop)
}

/// Answers a button press, showing `text` to whoever pressed it.
pub async fn answer_callback(
    client: &reqwest::Client,
    spec: &TelegramSpec,
    callback_id: &str,
    text: &str,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let body = json!({"callback_query_id": callback_id, "text": text});
    call(client, spec, "answerCallbackQuery", &body, timeout)
        .await
        .map(drop)
}

/// The redactor for errors of calls made outside deliveries (answering a button
/// press), which pass no outbox row: the channel's Telegram secrets.
pub fn redactor(spec: &TelegramSpec) -> Redactor {
    let channel = json!({"telegram": spec});
    Redactor::for_channel(&channel, &BTreeSet::new())
}

/// One Bot API call; the `result` of a successful answer.
async fn call(
    client: &reqwest::Client,
    spec: &TelegramSpec,
    method: &str,
    body: &Value,
    timeout: Duration,
) -> Result<Value, DeliveryError> {
    let base = spec.api_url.trim_end_matches('/');
    let url = reqwest::Url::parse(&format!("{base}/bot{}/{method}", spec.bot_token))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            DeliveryError::config("telegram: `api_url` and `bot_token` do not make a valid URL")
        })?;
    let request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    match tokio::time::timeout(timeout, exchange(request, method)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(DeliveryError::new(
            Cause::Timeout,
            format!(
                "telegram: {method}: timeout after {}",
                crate::spec::Duration(timeout)
            ),
        )),
    }
}

async fn exchange(request: reqwest::RequestBuilder, method: &str) -> Result<Value, DeliveryError> {
    let label = format!("telegram: {method}");
    let mut response = request
        .send()
        .await
        .map_err(|e| transport_error(e, &label))?;
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(transport_error(e, &label)),
        }
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if (200..300).contains(&status) && answer["ok"] == Value::Bool(true) {
        return Ok(answer.get("result").cloned().unwrap_or(Value::Null));
    }
    // Telegram puts the status in `error_code` too; a proxy in front may not.
    let code = answer["error_code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
        .unwrap_or(if status < 400 { 502 } else { status });
    let retry_after = answer
        .pointer("/parameters/retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs);
    let full = answer["description"].as_str().unwrap_or_default();
    let description: String = full.chars().take(super::webhook::ERROR_BODY_READ).collect();
    let cut = description.len() < full.len();
    let message = if description.is_empty() {
        format!("{label}: HTTP {code}")
    } else {
        format!("{label}: HTTP {code}: {description}")
    };
    Err(DeliveryError::new(Cause::Status { code, retry_after }, message).cut_short(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_round_trips() {
        assert_eq!(Action::parse("ack:7"), Some((Action::Acknowledge, 7)));
        assert_eq!(Action::parse("resolve:12"), Some((Action::Resolve, 12)));
        assert_eq!(
            Action::parse(&Action::Resolve.data(3)),
            Some((Action::Resolve, 3))
        );
        for bad in ["ack", "ack:", "ack:x", "ack:0", "mute:7", ""] {
            assert_eq!(Action::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn buttons_follow_the_incident_status() {
        let open = keyboard(7, "open").expect("buttons");
        assert_eq!(open["inline_keyboard"][0][0]["callback_data"], "ack:7");
        assert_eq!(open["inline_keyboard"][0][1]["callback_data"], "resolve:7");
        let acked = keyboard(7, "acknowledged").expect("buttons");
        assert_eq!(
            acked["inline_keyboard"][0].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(keyboard(7, "resolved"), None);
    }

    #[test]
    fn a_message_over_telegrams_limit_goes_out_as_plain_text_cut() {
        let spec = TelegramSpec {
            bot_token: "1:x".into(),
            chat_id: "42".into(),
            api_url: crate::spec::DEFAULT_TELEGRAM_API.into(),
            parse_mode: TelegramParseMode::Html,
            webhook_secret: None,
        };
        let mut payload = crate::spec::template::sample_payload("opened");
        payload["incident"]["error"] = json!("<".repeat(5000));
        let r = Renderer::new(
            &payload,
            None,
            super::super::message::Provider::Telegram,
            None,
        )
        .expect("renders");
        let body = send_message_body(&spec, &r, Some((7, "open"))).expect("body");
        let text = body["text"].as_str().expect("text");
        assert_eq!(text.chars().count(), MAX_TEXT_CHARS);
        assert!(text.starts_with(
            "[ERROR] payments-api is down\npayments-api (https://payments.example/health): <<<"
        ));
        assert!(text.ends_with("<…"));
        assert_eq!(body.get("parse_mode"), None);
    }
}
