//! The `Channel` resource: where notifications go.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "type")]
    pub channel_type: ChannelType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// Name of a `Template` resource for this channel's messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// At most this many messages through this channel (`20/min`); more wait in
    /// the outbox, in order. The provider's own limit applies as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<super::Rate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    Telegram,
    Slack,
    Email,
    Webhook,
}

impl ChannelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Telegram => "telegram",
            ChannelType::Slack => "slack",
            ChannelType::Email => "email",
            ChannelType::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelegramSpec {
    /// Secret.
    pub bot_token: String,
    pub chat_id: String,
    /// Bot API base URL; a self-hosted Bot API server may be named here.
    #[serde(default = "default_telegram_api")]
    pub api_url: String,
    #[serde(default)]
    pub parse_mode: TelegramParseMode,
    /// Secret token Telegram sends back in `X-Telegram-Bot-Api-Secret-Token` with
    /// each update (set with `setWebhook`). With it, messages about an incident get
    /// Acknowledge and Resolve buttons, answered at
    /// `/api/v1/integrations/telegram/{tenant}/{channel}`. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TelegramParseMode {
    #[default]
    #[serde(rename = "HTML")]
    Html,
    MarkdownV2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackSpec {
    /// Incoming webhook URL. Secret.
    pub webhook_url: String,
    /// The Slack app's signing secret. With it, messages about an incident get
    /// Acknowledge and Resolve buttons, answered at the app's interactivity Request
    /// URL `/api/v1/integrations/slack/{tenant}/{channel}`. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSpec {
    pub smtp_host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// CA certificates (PEM) to trust instead of the system roots, for a relay with
    /// a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Skip certificate verification (`starttls` and `tls`). For test relays only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Secret: webhook URLs often carry tokens.
    pub url: String,
    #[serde(default = "default_post")]
    pub method: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Signs each body with HMAC-SHA256. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default)]
    pub format: WebhookFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Xml,
}

/// Telegram's public Bot API.
pub const DEFAULT_TELEGRAM_API: &str = "https://api.telegram.org";

fn default_telegram_api() -> String {
    DEFAULT_TELEGRAM_API.into()
}
fn default_post() -> String {
    "POST".into()
}

impl Channel {
    /// The section named by `type` must be present, and no other provider's.
    pub fn section_problems(&self) -> Vec<(String, String)> {
        let present = [
            ("telegram", self.telegram.is_some()),
            ("slack", self.slack.is_some()),
            ("email", self.email.is_some()),
            ("webhook", self.webhook.is_some()),
        ];
        let want = self.channel_type.as_str();
        let mut out = Vec::new();
        for (section, is_there) in present {
            if section == want && !is_there {
                out.push((
                    "type".to_string(),
                    format!("a `{want}` channel needs a `{want}:` section with its settings"),
                ));
            } else if section != want && is_there {
                out.push((section.to_string(), format!("section `{section}` does not belong to a `{want}` channel; remove it or change `type`")));
            }
        }
        out
    }

    pub fn normalize(&mut self) {
        if let Some(w) = &mut self.webhook {
            w.method = w.method.to_ascii_uppercase();
            w.headers = std::mem::take(&mut w.headers)
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
        }
        if let Some(e) = &mut self.email {
            e.to.sort();
            e.to.dedup();
        }
    }
}
