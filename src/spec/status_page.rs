//! The `StatusPage` resource: a public (or token-protected) page of a tenant's
//! checks, grouped, with their daily uptime, open and recent incidents and the
//! maintenance windows that cover them, served by the daemon at `/status/{slug}`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPage {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The page's heading, e.g. `Example Inc. status`.
    pub title: String,
    /// A line under the heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the page is served: `/status/{slug}`. Unique across the daemon.
    pub slug: String,
    /// The page's sections, in order; a check may appear in several.
    pub groups: Vec<StatusGroup>,
    /// What the page shows.
    #[serde(default)]
    pub show: StatusShow,
    /// A notice shown above the groups (Markdown: paragraphs, emphasis, links, code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    /// Without it the page is public; with a token, only requests carrying it see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<StatusAccess>,
    /// A host name the page is also served for, at `/`, when requests carry it in
    /// their `Host` header (e.g. `status.example.com`). Unique across the daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// One section of a page: named checks, checks chosen by labels, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusGroup {
    pub name: String,
    /// Checks shown, by name, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Checks shown by their labels: those whose labels include all of these, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusShow {
    /// A latency sparkline per check.
    #[serde(default)]
    pub latency: bool,
    /// How many days of resolved incidents the page lists.
    #[serde(default = "default_incidents_days")]
    pub incidents_days: u32,
    /// How many days the uptime bars and the uptime figure cover.
    #[serde(default = "default_uptime_days")]
    pub uptime_days: u32,
}

impl Default for StatusShow {
    fn default() -> Self {
        StatusShow {
            latency: false,
            incidents_days: default_incidents_days(),
            uptime_days: default_uptime_days(),
        }
    }
}

fn default_incidents_days() -> u32 {
    14
}

fn default_uptime_days() -> u32 {
    90
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusAccess {
    /// The token a visitor must present (`?token=` or `Authorization: Bearer`);
    /// write it as `${VAR}` so it stays out of git. A secret: never printed.
    pub token: String,
}
