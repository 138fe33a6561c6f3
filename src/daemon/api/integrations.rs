//! Button presses from chat apps, acting on incidents. No API key: each request is
//! authenticated by its channel's secret, compared in constant time, and refused with
//! 401 otherwise (also for an unknown tenant or channel, which is not told apart).
//!
//! - `POST /api/v1/integrations/telegram/{tenant}/{channel}`: Telegram's updates,
//!   with the channel's `webhook_secret` in `X-Telegram-Bot-Api-Secret-Token`. A
//!   callback query `ack:<id>` or `resolve:<id>` acknowledges or resolves incident
//!   `id` as `telegram:@username`, answers the press and edits the message to say who
//!   did what. Other updates are accepted and ignored.
//! - `POST /api/v1/integrations/slack/{tenant}/{channel}`: a Slack app's interactivity
//!   requests, signed with the channel's `signing_secret` (`X-Slack-Signature: v0=`
//!   HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`, at most 5 minutes old).
//!   A button press acts as `slack:@username` and replaces the message through the
//!   press's `response_url`.
//!
//! Whoever holds a channel's secret can send any button data, so a press is acted on
//! only when it comes from a message this channel sent about that very incident, as
//! recorded at send time: Telegram's message id, Slack's token in the actions block.

use std::time::Duration;

use aide::axum::ApiRouter;
use aide::axum::routing::post;
use aide::generate::GenContext;
use aide::openapi::{Operation, RequestBody};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use indexmap::IndexMap;
use schemars::{JsonSchema, json_schema};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use super::audit::Source;
use super::{ApiError, Shared, incidents};
use crate::daemon::audit::Event;
use crate::daemon::notify::message::Format;
use crate::daemon::notify::slack;
use crate::daemon::notify::telegram::{self, Action};
use crate::daemon::store::StoreError;
use crate::incident;
use crate::model::Incident;
use crate::spec::template::escape;
use crate::spec::{Channel, Kind, SlackSpec, TelegramSpec};

/// Updates and interaction payloads are a few kilobytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Slack requests older (or newer) than this are refused: a replayed request is stale.
pub const SLACK_MAX_AGE_SECS: i64 = 5 * 60;

pub fn router() -> ApiRouter<Shared> {
    ApiRouter::new()
        .api_route(
            "/api/v1/integrations/telegram/{tenant}/{channel}",
            post(telegram_update),
        )
        .api_route(
            "/api/v1/integrations/slack/{tenant}/{channel}",
            post(slack_interaction),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The `{tenant}/{channel}` of a webhook's route.
#[derive(serde::Deserialize, JsonSchema)]
struct Hook {
    /// The tenant's name.
    tenant: String,
    /// The channel's name.
    channel: String,
}

/// What a webhook answers whenever the request is signed: `{"ok": true}`, also for
/// updates it ignores (the chat app would otherwise retry them).
#[derive(serde::Serialize, JsonSchema)]
struct Ack {
    ok: bool,
}

fn ack() -> axum::Json<Ack> {
    axum::Json(Ack { ok: true })
}

/// The headers Telegram sends with an update.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct TelegramHeaders {
    /// The channel's `telegram.webhook_secret`; 401 when it differs.
    #[serde(rename = "X-Telegram-Bot-Api-Secret-Token")]
    secret: String,
}

/// The headers Slack signs a request with.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SlackHeaders {
    /// `v0=` and the hex HMAC-SHA256, keyed with the channel's `slack.signing_secret`,
    /// of `v0:{timestamp}:{body}`; 401 when it differs.
    #[serde(rename = "X-Slack-Signature")]
    signature: String,
    /// Unix seconds; 401 when more than 5 minutes from now.
    #[serde(rename = "X-Slack-Request-Timestamp")]
    timestamp: String,
}

/// A webhook's body: read as bytes (the signature covers them as sent), shown in
/// the document as the chat app sends it.
struct Body<H>(Bytes, std::marker::PhantomData<H>);

impl<S: Send + Sync, H> FromRequest<S> for Body<H> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(|b| Body(b, std::marker::PhantomData))
            .map_err(ApiError::from)
    }
}

/// What a webhook's document says of its body and headers.
trait Hooked: JsonSchema {
    const MEDIA: &'static str;
    const BODY: &'static str;
}

impl Hooked for TelegramHeaders {
    const MEDIA: &'static str = "application/json";
    const BODY: &'static str = "A Telegram `Update`; only a `callback_query` with `ack:<id>` or `resolve:<id>` is acted on.";
}

impl Hooked for SlackHeaders {
    const MEDIA: &'static str = "application/x-www-form-urlencoded";
    const BODY: &'static str =
        "A Slack interactivity request: `payload`, the JSON of a `block_actions` interaction.";
}

impl<H: Hooked> aide::OperationInput for Body<H> {
    fn operation_input(ctx: &mut GenContext, op: &mut Operation) {
        let schema = ctx.schema.subschema_for::<H>();
        let params = aide::operation::parameters_from_schema(
            ctx,
            schema,
            aide::operation::ParamLocation::Header,
        );
        aide::operation::add_parameters(ctx, op, params);
        let body = if H::MEDIA == "application/json" {
            json_schema!({"type": "object", "description": H::BODY})
        } else {
            json_schema!({
                "type": "object",
                "description": H::BODY,
                "properties": {"payload": {"type": "string"}},
                "required": ["payload"],
            })
        };
        aide::operation::set_body(
            ctx,
            op,
            RequestBody {
                description: Some(H::BODY.into()),
                content: IndexMap::from_iter([(H::MEDIA.into(), super::openapi::media(body))]),
                required: true,
                extensions: IndexMap::default(),
            },
        );
    }

    fn inferred_early_responses(
        ctx: &mut GenContext,
        _op: &mut Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        vec![
            (
                Some(aide::openapi::StatusCode::Code(401)),
                super::openapi::error_response(
                    ctx,
                    "`unauthorized`: not signed with this channel's secret (also for an unknown tenant or channel), or too old.",
                ),
            ),
            (
                Some(aide::openapi::StatusCode::Code(413)),
                super::openapi::error_response(ctx, "`too_large`: the body is over 256 KiB."),
            ),
        ]
    }
}

fn refused() -> ApiError {
    ApiError::unauthorized("the request is not signed with this channel's secret")
}

/// The channel `name` of tenant `tenant`, or 401 whatever is missing.
async fn channel(state: &Shared, tenant: &str, name: &str) -> Result<(i64, Channel), ApiError> {
    let id = state
        .store
        .tenant_id(tenant.to_string())
        .await?
        .ok_or_else(refused)?;
    let stored = match state
        .store
        .resource(id, Kind::Channel, name.to_string())
        .await
    {
        // The caller is not yet known to be the channel's provider: it learns
        // nothing of the row, which the store has logged and counted by name.
        Err(StoreError::Corrupt(_)) => return Err(refused()),
        other => other?.ok_or_else(refused)?,
    };
    match stored.as_channel() {
        Some(c) => Ok((id, c.clone())),
        None => Err(refused()),
    }
}

fn same(given: &[u8], expected: &[u8]) -> bool {
    bool::from(given.ct_eq(expected))
}

/// Acts on the incident, as the API does; the incident after, or why not in words
/// for the presser.
async fn act(
    state: &Shared,
    (tenant, source): (i64, Option<std::net::IpAddr>),
    action: Action,
    id: i64,
    actor: &str,
) -> Result<Incident, String> {
    let who = incidents::Actor {
        tenant,
        name: actor.to_string(),
        source,
    };
    let what = match action {
        Action::Acknowledge => incident::Action::Acknowledge,
        Action::Resolve => incident::Action::Resolve,
    };
    match incidents::act(state, &who, what, id, None).await {
        Ok(incident) => {
            info!(
                incident = id,
                actor,
                action = action.past_tense(),
                "incident changed from a chat button"
            );
            Ok(incident)
        }
        // No such incident, or not in a state for it: the presser is told why.
        Err(e) if matches!(e.code, "not_found" | "conflict") => Err(e.message),
        Err(e) => {
            warn!(incident = id, error = %e.message, "cannot act on a chat button press");
            Err("uptimeping could not record that; try again".into())
        }
    }
}

fn emoji(action: Action) -> &'static str {
    match action {
        Action::Acknowledge => "👀",
        Action::Resolve => "✅",
    }
}

/// A press refused for its signature (401) is a refused request: recorded, within
/// the audit log's bound per address, as of no tenant (none is proven).
async fn audited<T>(
    state: &Shared,
    path: String,
    from: Option<std::net::IpAddr>,
    answer: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Err(e) = &answer
        && e.status == axum::http::StatusCode::UNAUTHORIZED
    {
        let event = Event::refused_request(None, "POST", &path, 401, from);
        state.audit.record(event).await;
    }
    answer
}

async fn telegram_update(
    State(state): State<Shared>,
    Path(hook): Path<Hook>,
    headers: HeaderMap,
    Source(from): Source,
    body: Body<TelegramHeaders>,
) -> Result<axum::Json<Ack>, ApiError> {
    let path = format!(
        "/api/v1/integrations/telegram/{}/{}",
        hook.tenant, hook.channel
    );
    let answer = telegram_press(
        State(state.clone()),
        Path(hook),
        headers,
        Source(from),
        body,
    );
    audited(&state, path, from, answer.await).await
}

async fn telegram_press(
    State(state): State<Shared>,
    Path(Hook {
        tenant,
        channel: name,
    }): Path<Hook>,
    headers: HeaderMap,
    Source(from): Source,
    Body(body, _): Body<TelegramHeaders>,
) -> Result<axum::Json<Ack>, ApiError> {
    let (tenant_id, channel) = channel(&state, &tenant, &name).await?;
    let Some(spec) = channel.telegram.as_ref() else {
        return Err(refused());
    };
    let Some(secret) = spec.webhook_secret.as_deref() else {
        return Err(refused());
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same(given, secret.as_bytes()) {
        return Err(refused());
    }
    let update: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("the update is not JSON: {e}")))?;
    let Some(query) = update.get("callback_query") else {
        return Ok(ack());
    };
    let callback_id = query["id"].as_str().unwrap_or_default().to_string();
    let who = match (
        query.pointer("/from/username").and_then(Value::as_str),
        query.pointer("/from/id"),
    ) {
        (Some(u), _) => format!("@{u}"),
        (None, Some(id)) => id.to_string(),
        (None, None) => "someone".into(),
    };
    let actor = format!("telegram:{who}");
    let client = state.notifier.http().clone();
    let timeout = state.notifier.request_timeout();
    let Some((action, id)) = query["data"].as_str().and_then(Action::parse) else {
        answer(
            &client,
            spec,
            &callback_id,
            "This button is not one of uptimeping's",
            timeout,
        )
        .await;
        return Ok(ack());
    };
    let chat = match query.pointer("/message/chat/id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let message_id = query
        .pointer("/message/message_id")
        .and_then(Value::as_i64)
        .map(|m| m.to_string());
    // A client can send any button data: act only on the incident the pressed
    // message was about, as recorded when it was sent.
    let sent = match (&chat, &message_id) {
        (Some(chat), Some(m)) => state
            .store
            .sent_message(tenant_id, name.clone(), chat.clone(), m.clone())
            .await
            .ok()
            .flatten(),
        _ => None,
    };
    if sent.as_ref().and_then(|s| s.incident_id) != Some(id) {
        answer(
            &client,
            spec,
            &callback_id,
            "This button does not belong to a message uptimeping sent about that incident",
            timeout,
        )
        .await;
        return Ok(ack());
    }
    let incident = match act(&state, (tenant_id, from), action, id, &actor).await {
        Ok(incident) => incident,
        Err(why) => {
            answer(&client, spec, &callback_id, &why, timeout).await;
            return Ok(ack());
        }
    };
    answer(
        &client,
        spec,
        &callback_id,
        &format!("{} incident #{id}", action.past_tense()),
        timeout,
    )
    .await;
    if let (Some(chat), Some(message_id)) = (chat, message_id) {
        edit_telegram(
            &state,
            tenant_id,
            &name,
            spec,
            (chat, message_id),
            query,
            (action, &who),
            &incident,
        )
        .await;
    }
    Ok(ack())
}

async fn answer(
    client: &reqwest::Client,
    spec: &TelegramSpec,
    id: &str,
    text: &str,
    timeout: Duration,
) {
    if let Err(e) = telegram::answer_callback(client, spec, id, text, timeout).await {
        let e = e.redacted(&telegram::redactor(spec));
        warn!(error = %e.message, "telegram: cannot answer a button press");
    }
}

/// Edits the pressed message: its text as sent (or as Telegram shows it, escaped),
/// a line saying who did what, and the buttons still useful.
#[allow(clippy::too_many_arguments)]
async fn edit_telegram(
    state: &Shared,
    tenant: i64,
    channel: &str,
    spec: &TelegramSpec,
    (chat, message_id): (String, String),
    query: &Value,
    (action, who): (Action, &str),
    incident: &Incident,
) {
    let format = telegram::format(spec);
    let recorded = state
        .store
        .sent_message(
            tenant,
            channel.to_string(),
            chat.clone(),
            message_id.clone(),
        )
        .await
        .ok()
        .flatten();
    let original = match &recorded {
        Some(m) => m.text.clone(),
        None => escape(
            format,
            query
                .pointer("/message/text")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
    };
    let line = escape(
        format,
        &format!("{} {} by {who}", emoji(action), action.past_tense()),
    );
    let text = format!("{original}\n\n{line}");
    let keyboard = telegram::keyboard(incident.id, incident.status.as_str());
    let client = state.notifier.http();
    let timeout = state.notifier.request_timeout();
    match telegram::edit_message(client, spec, (&chat, &message_id), &text, keyboard, timeout).await
    {
        Ok(()) => {
            if let Some(m) = recorded
                && let Err(e) = state.store.update_sent_message(m.outbox_id, text).await
            {
                warn!(error = %e, "cannot record the edited Telegram message");
            }
        }
        Err(e) => {
            let e = e.redacted(&telegram::redactor(spec));
            warn!(error = %e.message, "telegram: cannot edit the message");
        }
    }
}

/// `v0=<hex HMAC-SHA256 of v0:{timestamp}:{body}>`, as Slack signs requests.
pub fn slack_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn verify_slack(spec: &SlackSpec, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    // An empty secret would let anyone sign: treat it as none.
    let secret = spec
        .signing_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(refused)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let timestamp = header("x-slack-request-timestamp");
    let at: i64 = timestamp.trim().parse().map_err(|_| refused())?;
    if chrono::Utc::now().timestamp().abs_diff(at) > SLACK_MAX_AGE_SECS.unsigned_abs() {
        return Err(ApiError::unauthorized(
            "the request timestamp is more than 5 minutes away from now",
        ));
    }
    let expected = slack_signature(secret, timestamp, body);
    if !same(header("x-slack-signature").as_bytes(), expected.as_bytes()) {
        return Err(refused());
    }
    Ok(())
}

async fn slack_interaction(
    State(state): State<Shared>,
    Path(hook): Path<Hook>,
    headers: HeaderMap,
    Source(from): Source,
    body: Body<SlackHeaders>,
) -> Result<axum::Json<Ack>, ApiError> {
    let path = format!(
        "/api/v1/integrations/slack/{}/{}",
        hook.tenant, hook.channel
    );
    let answer = slack_press(
        State(state.clone()),
        Path(hook),
        headers,
        Source(from),
        body,
    );
    audited(&state, path, from, answer.await).await
}

async fn slack_press(
    State(state): State<Shared>,
    Path(Hook {
        tenant,
        channel: name,
    }): Path<Hook>,
    headers: HeaderMap,
    Source(from): Source,
    Body(body, _): Body<SlackHeaders>,
) -> Result<axum::Json<Ack>, ApiError> {
    let (tenant_id, channel) = channel(&state, &tenant, &name).await?;
    let Some(spec) = channel.slack.as_ref() else {
        return Err(refused());
    };
    verify_slack(spec, &headers, &body)?;
    let payload = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::invalid("the body has no `payload` field"))?;
    let payload: Value = serde_json::from_str(&payload)
        .map_err(|e| ApiError::invalid(format!("`payload` is not JSON: {e}")))?;
    if payload["type"] != "block_actions" {
        return Ok(ack());
    }
    let user = &payload["user"];
    let who = ["username", "name", "id"]
        .iter()
        .find_map(|k| user[k].as_str())
        .map_or_else(|| "someone".to_string(), |u| format!("@{u}"));
    let actor = format!("slack:{who}");
    let pressed = payload["actions"].as_array().and_then(|a| {
        a.iter().find_map(|a| {
            let (action, id) = a["value"].as_str().and_then(Action::parse)?;
            Some((action, id, a["block_id"].as_str().unwrap_or_default()))
        })
    });
    let Some((action, id, block_id)) = pressed else {
        return Ok(ack());
    };
    let ephemeral =
        |text: &str| json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    let sent = match slack::token_of(block_id) {
        Some(token) => state
            .store
            .sent_message(
                tenant_id,
                name.clone(),
                slack::SENT_CHAT.into(),
                token.into(),
            )
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let reply = match sent {
        Some(sent) if sent.incident_id == Some(id) => {
            match act(&state, (tenant_id, from), action, id, &actor).await {
                Ok(incident) => {
                    let line = format!(
                        "{} {} by {}",
                        emoji(action),
                        action.past_tense(),
                        escape(Format::SlackMarkdown, &who)
                    );
                    slack::replacement(
                        &payload["message"],
                        &line,
                        (id, incident.status.as_str()),
                        &sent.message_id,
                    )
                }
                Err(why) => ephemeral(&why),
            }
        }
        _ => {
            warn!(
                tenant = tenant_id,
                channel = %name,
                incident = id,
                "slack: a press not from a message this channel sent about that incident; ignored"
            );
            ephemeral(
                "This button does not belong to a message uptimeping sent about that incident",
            )
        }
    };
    if let Some(url) = payload["response_url"].as_str() {
        let url = url.to_string();
        let client = state.notifier.http().clone();
        let timeout = state.notifier.request_timeout();
        // Slack wants the answer to the request within 3 seconds; the message is
        // replaced on the side.
        tokio::spawn(async move {
            if let Err(e) = slack::send(&client, &url, &reply, timeout).await {
                let e = e.redacted(&slack::reply_redactor(&url));
                warn!(error = %e.message, "slack: cannot replace the message");
            }
        });
    }
    Ok(ack())
}
