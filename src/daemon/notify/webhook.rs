//! The webhook provider: one HTTP request per notification, its body JSON (or XML),
//! signed with HMAC-SHA256 when the channel has a secret.
//!
//! Body (JSON; XML has the same content under a `notification` root element, and
//! `check.labels` as `<label name="k">v</label>` elements):
//!
//! ```json
//! {"idempotency_key": "uptimeping-1-7-12-hook", "event": "opened", "actor": "system",
//!  "at": "2024-05-01T12:03:00Z", "check": {...}, "incident": {...}, "result": {...},
//!  "message": {"subject": "[ERROR] payments-api is down", "text": "..."},
//!  "links": {"incident": "https://…/status/example#incident-7", "status_page": "https://…/status/example", "check": "https://…"}}
//! ```
//!
//! `links` are those templates see, left out when the daemon has no `public_url`.
//!
//! An `update` event also carries `"update": {"status": "identified", "message": "..."}`.
//!
//! Headers: `Content-Type` (`application/json` or `application/xml`), `User-Agent:
//! uptimeping/<version>`, `Idempotency-Key`, `X-Uptimeping-Event`, the channel's own
//! `headers`, and with a secret `X-Uptimeping-Signature: sha256=<hex HMAC of the body>`.
//! The URL and the secret are secrets: an error that quotes them (a receiver echoing
//! the request) shows them masked, by the notifier's channel redactor.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use super::message::Message;
use super::retry::{Cause, DeliveryError, parse_retry_after};
use crate::daemon::store::OutboxRow;
use crate::probe::{AttemptError, ErrorKind};
use crate::spec::{WebhookFormat, WebhookSpec};

/// Who is calling, for the receiver's logs.
pub const USER_AGENT_VALUE: &str = concat!("uptimeping/", env!("CARGO_PKG_VERSION"));
/// Bytes of a failed answer's body read for the error message. More than the
/// message keeps ([`super::retry::ERROR_MESSAGE_CAP`]): the secrets an answer echoes
/// are masked in the whole excerpt first, then the message is cut.
pub const ERROR_BODY_READ: usize = 4 * 1024;

/// What a webhook receives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Body {
    pub idempotency_key: String,
    pub event: String,
    pub actor: Value,
    pub at: Value,
    pub check: Value,
    pub incident: Value,
    pub result: Value,
    /// An update's status and message; only in `update` events.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub update: Value,
    pub message: Message,
    /// Where a person reads more: the `links` templates see; left out when
    /// there are none (without a `public_url`), so such bodies are as before.
    #[serde(skip_serializing_if = "no_links")]
    pub links: Value,
}

fn no_links(links: &Value) -> bool {
    links.is_null() || links.as_object().is_some_and(Map::is_empty)
}

impl Body {
    pub fn new(row: &OutboxRow, message: Message, links: Value) -> Self {
        let field = |key: &str| row.payload.get(key).cloned().unwrap_or(Value::Null);
        Self {
            idempotency_key: row.idempotency_key.clone(),
            event: row.event.clone(),
            actor: field("actor"),
            at: field("at"),
            check: field("check"),
            incident: field("incident"),
            result: field("result"),
            update: field("update"),
            message,
            links,
        }
    }

    /// The body in `format`, with its content type.
    pub fn encode(&self, format: WebhookFormat) -> Result<(Vec<u8>, &'static str), DeliveryError> {
        match format {
            WebhookFormat::Json => serde_json::to_vec(self)
                .map(|b| (b, "application/json"))
                .map_err(|e| DeliveryError::config(format!("webhook: cannot write the body: {e}"))),
            WebhookFormat::Xml => {
                let mut doc = self.clone();
                if let Some(labels) = doc.check.get_mut("labels") {
                    *labels = labels_as_elements(labels);
                }
                for value in [
                    &mut doc.actor,
                    &mut doc.at,
                    &mut doc.check,
                    &mut doc.incident,
                    &mut doc.result,
                    &mut doc.update,
                ] {
                    *value = xml_safe(std::mem::take(value));
                }
                doc.message.subject = xml_safe_text(&doc.message.subject);
                doc.message.text = xml_safe_text(&doc.message.text);
                let xml =
                    quick_xml::se::to_string_with_root("notification", &doc).map_err(|e| {
                        DeliveryError::config(format!("webhook: cannot write the XML body: {e}"))
                    })?;
                let text = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}");
                Ok((text.into_bytes(), "application/xml"))
            }
        }
    }
}

/// Label names are free text, not XML names: each label becomes `<label name="k">v</label>`.
fn labels_as_elements(labels: &Value) -> Value {
    let Value::Object(map) = labels else {
        return labels.clone();
    };
    let items: Vec<Value> = map
        .iter()
        .map(|(k, v)| {
            let mut item = Map::new();
            item.insert("@name".into(), Value::String(k.clone()));
            item.insert("$text".into(), v.clone());
            Value::Object(item)
        })
        .collect();
    let mut out = Map::new();
    out.insert("label".into(), Value::Array(items));
    Value::Object(out)
}

/// XML 1.0 cannot carry most control characters, even escaped; body excerpts may.
fn xml_safe(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(xml_safe_text(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(xml_safe).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, xml_safe(v))).collect())
        }
        other => other,
    }
}

fn xml_safe_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// `sha256=<hex>` of HMAC-SHA256 over exactly the bytes sent.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn headers(
    spec: &WebhookSpec,
    key: &str,
    event: &str,
    bytes: &[u8],
    content_type: &str,
) -> Result<HeaderMap, DeliveryError> {
    let mut map = HeaderMap::new();
    let content_type = HeaderValue::from_str(content_type).map_err(|_| {
        DeliveryError::config("webhook: the content type is not a valid header value")
    })?;
    map.insert(CONTENT_TYPE, content_type);
    map.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    // The channel's own headers may replace the two above, not the ones below, which
    // the receiver relies on to de-duplicate and to verify.
    for (name, value) in &spec.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| DeliveryError::config(format!("webhook: invalid header name `{name}`")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            DeliveryError::config(format!("webhook: invalid value for header `{name}`"))
        })?;
        map.insert(header, value);
    }
    let text = |v: &str, what: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            DeliveryError::config(format!("webhook: {what} is not a valid header value"))
        })
    };
    map.insert("idempotency-key", text(key, "the idempotency key")?);
    map.insert("x-uptimeping-event", text(event, "the event")?);
    if let Some(secret) = &spec.secret {
        map.insert(
            "x-uptimeping-signature",
            text(&signature(secret, bytes), "the signature")?,
        );
    }
    Ok(map)
}

/// Sends `body` to the channel; `Ok` when the receiver answered 2xx within `timeout`.
pub async fn send(
    client: &reqwest::Client,
    spec: &WebhookSpec,
    body: &Body,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let (bytes, content_type) = body.encode(spec.format)?;
    send_bytes(
        client,
        spec,
        (&body.idempotency_key, &body.event),
        bytes,
        content_type,
        timeout,
    )
    .await
}

/// Sends a body rendered by the channel's template (`webhook.body`) as it is, with
/// the same headers and signature as the built-in body.
pub async fn send_bytes(
    client: &reqwest::Client,
    spec: &WebhookSpec,
    (key, event): (&str, &str),
    bytes: Vec<u8>,
    content_type: &str,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let method = reqwest::Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| DeliveryError::config(format!("webhook: invalid method `{}`", spec.method)))?;
    let url = reqwest::Url::parse(&spec.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| DeliveryError::config("webhook: the URL is not a valid http(s) URL"))?;
    let headers = headers(spec, key, event, &bytes, content_type)?;
    let request = client.request(method, url).headers(headers).body(bytes);
    exchange_within(timeout, request, "webhook").await
}

/// [`exchange`] bounded by `timeout`, for receivers whose answer is not needed.
pub(super) async fn exchange_within(
    timeout: Duration,
    request: reqwest::RequestBuilder,
    label: &str,
) -> Result<(), DeliveryError> {
    match tokio::time::timeout(timeout, exchange(request, label)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(DeliveryError::new(
            Cause::Timeout,
            format!("{label}: timeout after {}", crate::spec::Duration(timeout)),
        )),
    }
}

/// Sends `request`; a 2xx is success at once, its body unread (the message was
/// taken, and an answer that breaks off must not make it be sent again); any other
/// status is an error in `label`'s words, with `Retry-After` when given.
async fn exchange(request: reqwest::RequestBuilder, label: &str) -> Result<(), DeliveryError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| transport_error(e, label))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut excerpt = Vec::new();
    while excerpt.len() <= ERROR_BODY_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            // The status says enough; a body that breaks off adds nothing.
            Ok(None) | Err(_) => break,
        }
    }
    let cut = excerpt.len() > ERROR_BODY_READ;
    excerpt.truncate(ERROR_BODY_READ);
    let reason = String::from_utf8_lossy(&excerpt)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let code = status.as_u16();
    let message = if reason.is_empty() {
        format!("{label}: HTTP {code}")
    } else {
        format!("{label}: HTTP {code}: {reason}")
    };
    Err(DeliveryError::new(Cause::Status { code, retry_after }, message).cut_short(cut))
}

/// A failure with no answer, in the probe's words (which carry no addresses), after
/// dropping the URL that reqwest would otherwise print.
pub(super) fn transport_error(err: reqwest::Error, label: &str) -> DeliveryError {
    let err = err.without_url();
    if err.is_builder() {
        return DeliveryError::config(format!("{label}: the request could not be built"));
    }
    let attempt = AttemptError::from_reqwest(&err, 0);
    let cause = match attempt.kind {
        ErrorKind::Dns | ErrorKind::Connect | ErrorKind::Tls => Cause::Connect,
        ErrorKind::Timeout => Cause::Timeout,
        ErrorKind::Redirect | ErrorKind::Protocol | ErrorKind::Expectation => Cause::Broken,
    };
    DeliveryError::new(cause, format!("{label}: {}", attempt.message))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body() -> Body {
        Body {
            idempotency_key: "uptimeping-1-7-12-hook".into(),
            event: "opened".into(),
            actor: json!("system"),
            at: json!("2024-05-01T12:03:00Z"),
            check: json!({"name": "payments-api", "labels": {"team": "payments", "app.kubernetes.io/name": "pay"}}),
            incident: json!({"id": 7, "error": "bad \u{1} byte", "status_code": null}),
            result: Value::Null,
            update: Value::Null,
            message: Message {
                subject: "[ERROR] payments-api is down".into(),
                text: "a < b & c".into(),
            },
            links: json!({"incident": "https://up.example/status/example#incident-7"}),
        }
    }

    #[test]
    fn the_body_carries_the_links() {
        let (json, _) = body().encode(WebhookFormat::Json).expect("encodes");
        let v: Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(
            v["links"]["incident"],
            "https://up.example/status/example#incident-7"
        );
        let mut b = body();
        b.links = json!({});
        let (json, _) = b.encode(WebhookFormat::Json).expect("encodes");
        let v: Value = serde_json::from_slice(&json).expect("JSON");
        assert!(v.get("links").is_none(), "{v}");
    }

    #[test]
    fn an_update_carries_its_status_and_message_and_other_events_do_not() {
        let (json, _) = body().encode(WebhookFormat::Json).expect("encodes");
        let v: Value = serde_json::from_slice(&json).expect("JSON");
        assert!(v.get("update").is_none(), "{v}");
        let mut b = body();
        b.event = "update".into();
        b.update = json!({"status": "identified", "message": "rolling back \u{2} now"});
        let (json, _) = b.encode(WebhookFormat::Json).expect("encodes");
        let v: Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(v["update"]["status"], "identified");
        let (xml, _) = b.encode(WebhookFormat::Xml).expect("encodes");
        let xml = String::from_utf8(xml).expect("UTF-8");
        assert!(
            xml.contains("<update><status>identified</status><message>rolling back \u{FFFD} now</message></update>")
                || xml.contains("<update><message>rolling back \u{FFFD} now</message><status>identified</status></update>"),
            "{xml}"
        );
    }

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn xml_body_has_a_notification_root_and_label_elements() {
        let (bytes, content_type) = body().encode(WebhookFormat::Xml).expect("encodes");
        assert_eq!(content_type, "application/xml");
        let xml = String::from_utf8(bytes).expect("utf-8");
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<notification><idempotency_key>uptimeping-1-7-12-hook</idempotency_key><event>opened</event>"),
            "{xml}"
        );
        assert!(
            xml.contains("<idempotency_key>uptimeping-1-7-12-hook</idempotency_key>"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<label name="app.kubernetes.io/name">pay</label>"#),
            "{xml}"
        );
        assert!(xml.contains("<text>a &lt; b &amp; c</text>"), "{xml}");
        assert!(xml.contains("<error>bad \u{FFFD} byte</error>"), "{xml}");
        assert!(xml.ends_with("</notification>"), "{xml}");
    }

    #[test]
    fn json_body_keeps_payload_values() {
        let (bytes, content_type) = body().encode(WebhookFormat::Json).expect("encodes");
        assert_eq!(content_type, "application/json");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["check"]["labels"]["team"], "payments");
        assert_eq!(v["result"], Value::Null);
        assert_eq!(v["message"]["subject"], "[ERROR] payments-api is down");
    }
}
