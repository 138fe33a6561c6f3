//! The `Template` resource: how a notification reads.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Message text in minijinja syntax (`{{ check.name }}`, `{% if %}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Subject line (email) or title (Slack, webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Main text, used where no provider-specific variant is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Template {
    /// Every template text with the field it sits in, for validation.
    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(s) = &self.subject {
            out.push(("subject", s.as_str()));
        }
        if let Some(b) = &self.body {
            out.push(("body", b.as_str()));
        }
        out
    }
}
