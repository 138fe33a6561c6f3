//! The `Check` resource: what to probe, how often, what counts as up, whom to tell.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Duration, Schedule};

/// Default time between runs: frequent enough to catch an outage within a
/// minute, rare enough not to load the target.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default limit on one attempt: long enough for a slow but healthy service.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default connect timeout: a healthy target accepts a connection in well under this.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many redirects are followed by default, as browsers and curl do.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;
/// How much of a response body is read by default: enough for any health or API
/// response, small enough that a target streaming gigabytes costs nothing.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
/// The most `http.max_body` may be. Bodies are held in memory and parsed whole
/// (JSON, CEL, regex), several times their size while judged, and many checks
/// run at once; 16 MiB is far beyond any health or API response worth judging.
pub const MAX_HTTP_BODY: u64 = 16 * 1024 * 1024;
/// The most redirects a check may follow: browsers stop at about 20, and a chain
/// longer than that is a loop, each hop a request within one timeout.
pub const MAX_REDIRECTS: u32 = 20;
/// The most retries a check may ask for in one run; more only hides outages.
pub const MAX_RETRIES: u32 = 10;
/// How much a TCP check reads at most: a banner or a short reply fits many times
/// over, and a peer that streams forever costs nothing.
pub const DEFAULT_TCP_MAX_BYTES: u64 = 64 * 1024;
/// The most `tcp.max_bytes` may be: a banner or a protocol's reply is a few
/// hundred bytes, and 1 MiB leaves room for any greeting while a peer that
/// streams forever is cut off before it costs memory or matching time.
pub const MAX_TCP_BYTES: u64 = 1024 * 1024;
/// The most messages a streaming gRPC check may read: each is kept and turned
/// into JSON for `response`; a health or smoke check needs a handful.
pub const MAX_GRPC_MESSAGES: u32 = 100;
/// Consecutive failures before an incident opens: one blip is not an outage.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Consecutive successes before an incident resolves.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;

/// The typed expectations that only some check types judge, with those types;
/// on another type they could never hold or would be ignored, so `validate`
/// refuses them and the JSON Schema leaves them out of that type.
pub const EXPECT_BY_TYPE: [(&str, &[CheckType]); 8] = {
    use CheckType::{Graphql, Grpc, Http, Tcp};
    [
        ("status", &[Http, Graphql]),
        ("json_path", &[Http, Graphql, Grpc]),
        ("body_regex", &[Http, Graphql]),
        ("headers", &[Http, Graphql]),
        ("response", &[Tcp, Grpc]),
        ("code", &[Grpc]),
        ("data", &[Graphql]),
        ("errors", &[Graphql]),
    ]
};

/// The `http` settings a `graphql` check may not give: it builds its own request.
pub const GRAPHQL_REFUSED_HTTP: [&str; 2] = ["method", "body"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Identity of the check: lowercase letters, digits and `-`, at most 63 characters.
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free text shown next to the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub check_type: CheckType,
    /// What to probe: a URL for `http` and `graphql`, `host:port` for `tcp` and `grpc`.
    pub target: String,
    #[serde(default = "default_schedule")]
    pub schedule: Schedule,
    /// Limit on one attempt, connect to last byte. Must be shorter than the interval.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Extra attempts within one run when an attempt fails for a transient reason
    /// (connect error, timeout, HTTP 5xx or 429), with exponential backoff.
    #[serde(default)]
    #[schemars(range(max = 10))]
    pub retries: u32,
    /// `false` keeps the check defined but not scheduled.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Request settings for `http`, and for `graphql` all but `method` and `body`.
    #[serde(default)]
    pub http: HttpSpec,
    // The settings of one check type each, and alerting, are boxed: a check holds
    // one of them at most, and inline they made a stored check 1.5 KB, most of the
    // scheduler's memory per check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<Box<GraphqlSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Box<TcpSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<Box<super::GrpcSpec>>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Box<Alert>>,
    /// Checks this one needs (a gateway, a database): while one of them is down,
    /// this check's alerts are held back, and sent if it is still down once they
    /// are up again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// A service level objective: the share of known time the check should be
    /// up over a rolling window, reported with its error budget and burn rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<super::Slo>,
    /// Locations (the daemons' `--location`) to run from, each on one of its live
    /// nodes; none: from any one node, wherever it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// How many of `locations` must see the check down (their latest runs failed,
    /// within one interval of each other) before it counts as down; it counts as
    /// up again by the same rule. Default: a majority of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
}

impl Check {
    /// The locations that must see the check down for it to count as down: 1
    /// without `locations`.
    pub fn quorum(&self) -> usize {
        match self.quorum {
            Some(q) => q as usize,
            None => self.locations.len() / 2 + 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    Http,
    Graphql,
    Tcp,
    Grpc,
}

impl CheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Http => "http",
            CheckType::Graphql => "graphql",
            CheckType::Tcp => "tcp",
            CheckType::Grpc => "grpc",
        }
    }
}

/// A GraphQL request, sent over HTTP with the check's `http` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlSpec {
    /// The GraphQL document to run.
    pub query: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// Which operation of the document to run, when it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    /// `post` sends a JSON body; `get` sends query parameters (for caching servers).
    #[serde(default)]
    pub method: GraphqlMethod,
    /// Also ask the schema whether a type still has a field: catches a breaking
    /// schema change before clients do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspect: Option<Introspect>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GraphqlMethod {
    #[default]
    Post,
    Get,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Introspect {
    /// A type of the schema, e.g. `Query`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// A field that type must have.
    pub field: String,
}

/// A TCP conversation: connect, optionally TLS, optionally send, then read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpSpec {
    /// Text to send once connected, as written (write `\r\n` in a double-quoted string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// Bytes to send once connected, base64-encoded: for binary protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_base64: Option<String>,
    /// Speak TLS right after connecting: `true` trusts the system's roots; a
    /// mapping sets what to trust and a client certificate to present.
    #[serde(default, with = "client_tls", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "TlsSwitchSchema")]
    pub tls: Option<ClientTls>,
    /// The name sent as SNI and verified in the certificate; the target's host by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Bytes read at most, up to 1 MiB.
    #[serde(default = "default_tcp_max_bytes")]
    #[schemars(range(min = 1, max = 1048576))]
    pub max_bytes: u64,
}

impl Default for TcpSpec {
    fn default() -> Self {
        Self {
            send: None,
            send_base64: None,
            tls: None,
            server_name: None,
            max_bytes: DEFAULT_TCP_MAX_BYTES,
        }
    }
}

/// TLS settings of a `grpc` or `tcp` check. Files are read relative to the YAML
/// file when it is loaded and carried inline (`ca`, `client_cert`, `client_key`),
/// so a daemon needs no file system access to run the check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientTls {
    /// Skip certificate verification. The certificate is still read, so
    /// `cert_valid_for` keeps working.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// PEM file with CA certificates to trust instead of the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// CA certificates (PEM) to trust instead of the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// PEM file with the client certificate (and its chain) for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<String>,
    /// The client certificate (PEM) for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// PEM file with the private key of `client_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<String>,
    /// The private key (PEM) of `client_cert`; a secret, never printed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

impl ClientTls {
    /// The PEM texts and switches a client configuration is built from; the
    /// `*_file` fields must have been read into their inline fields first.
    pub fn settings(&self) -> crate::tls::Settings<'_> {
        crate::tls::Settings {
            insecure: self.insecure,
            ca: self.ca.as_deref(),
            client_cert: self.client_cert.as_deref(),
            client_key: self.client_key.as_deref(),
            any_name: false,
        }
    }
}

// How `tls` is written in a `grpc` or `tcp` section; only for the JSON schema.
/// TLS: `true` for the system's trust roots, or a mapping of settings.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Tls")]
#[allow(dead_code)]
pub(super) enum TlsSwitchSchema {
    /// `true`: TLS verified against the system's trust roots.
    On(bool),
    Settings(ClientTls),
}

/// `tls: true | false | {settings}`, read into `Option<ClientTls>`. Written back
/// as `true` when every setting is the default, so `tls: {}` and `tls: true` are
/// one canonical form.
pub mod client_tls {
    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ClientTls;

    pub fn serialize<S: Serializer>(v: &Option<ClientTls>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_bool(false),
            Some(t) if *t == ClientTls::default() => s.serialize_bool(true),
            Some(t) => t.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientTls>, D::Error> {
        struct Switch;
        impl<'de> Visitor<'de> for Switch {
            type Value = Option<ClientTls>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`true`, `false`, or a mapping of TLS settings")
            }

            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(on.then(ClientTls::default))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ClientTls::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
            }
        }
        d.deserialize_any(Switch)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body: a string is sent as written; a mapping or list is sent as JSON
    /// (with `Content-Type: application/json` unless a header sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Redirects followed at most, up to 20.
    #[serde(default = "default_max_redirects")]
    #[schemars(range(max = 20))]
    pub max_redirects: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Duration,
    /// Bytes of the response body read at most, up to 16 MiB; the rest is not downloaded.
    #[serde(default = "default_max_body")]
    #[schemars(range(min = 1, max = 16777216))]
    pub max_body: u64,
    #[serde(default)]
    pub tls: TlsSpec,
}

impl Default for HttpSpec {
    fn default() -> Self {
        Self {
            method: default_method(),
            headers: BTreeMap::new(),
            body: None,
            follow_redirects: true,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            tls: TlsSpec::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// Skip certificate verification. The certificate is still read, so
    /// `cert_valid_for` keeps working.
    #[serde(default)]
    pub insecure: bool,
    /// PEM file with CA certificates to trust instead of the system roots, relative
    /// to the YAML file. Read when the file is loaded and carried inline as `ca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// CA certificates (PEM) to trust instead of the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

/// What must hold for a run to count as up. Everything given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Accepted status codes: a code, a class such as `2xx`, or a list of them.
    /// Without it any 2xx is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSet>,
    /// JSONPath (RFC 9535) → expected value of the first match in the JSON body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub json_path: BTreeMap<String, serde_json::Value>,
    /// A regular expression the body must match somewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// Header name → regular expression its value must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The run is down when the response takes longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<Duration>,
    /// HTTPS: the leaf certificate must stay valid at least this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_valid_for: Option<Duration>,
    /// CEL expressions that must all be true, over `status`, `headers`, `body`
    /// (parsed JSON, or text), `body_text`, `latency`, `latency_ms` and `cert_expires_in`;
    /// for `graphql` also `data` and `errors`; for `grpc` `code` (a name such as
    /// `NOT_FOUND`), `message` and `response` (the response message as JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// TCP: what the peer must send, as text: a substring, or a regular expression
    /// when written between slashes (`/^220 /`). gRPC: a subset of the response
    /// message in JSON, keyed by the `.proto` field names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
    /// gRPC: the status code the call must end with, by name; `OK` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// GraphQL: a subset of `data`: every key given must be there with this value;
    /// lists must match element by element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// GraphQL: `true` when the query is meant to fail with `errors`. By default
    /// any `errors` entry makes the run down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<bool>,
}

impl Expect {
    /// `expect.response` as TCP reads it: text.
    pub fn response_text(&self) -> Option<&str> {
        self.response.as_ref().and_then(|v| v.as_str())
    }
}

/// How `expect.response` matches what a TCP peer sent: over its bytes, which need
/// not be UTF-8.
#[derive(Debug, Clone)]
pub enum ResponseMatch {
    Substring(String),
    Regex(regex::bytes::Regex),
}

impl ResponseMatch {
    /// `/…/` is a regular expression, anything else a substring.
    pub fn parse(text: &str) -> Result<Self, regex::Error> {
        match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(pattern) if text.len() >= 2 => super::expr::bytes_regex(pattern).map(Self::Regex),
            _ => Ok(Self::Substring(text.to_string())),
        }
    }

    pub fn is_match(&self, haystack: &[u8]) -> bool {
        match self {
            Self::Substring(s) => memchr::memmem::find(haystack, s.as_bytes()).is_some(),
            Self::Regex(re) => re.is_match(haystack),
        }
    }
}

/// Accepted HTTP status codes, written as one entry or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusSet {
    One(StatusPattern),
    Many(Vec<StatusPattern>),
}

impl StatusSet {
    pub fn patterns(&self) -> &[StatusPattern] {
        match self {
            StatusSet::One(p) => std::slice::from_ref(p),
            StatusSet::Many(v) => v,
        }
    }

    pub fn matches(&self, code: u16) -> bool {
        self.patterns().iter().any(|p| p.matches(code))
    }
}

/// `200` or a class written `2xx`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusPattern {
    Code(u16),
    Class(String),
}

impl<'de> Deserialize<'de> for StatusPattern {
    /// A quoted code (`"200"`) is still a code: YAML users quote freely, and as a
    /// class it would be rejected with a message that suggests writing `200`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u16),
            Text(String),
        }
        match Raw::deserialize(deserializer) {
            Ok(Raw::Code(c)) => Ok(StatusPattern::Code(c)),
            Ok(Raw::Text(t)) => Ok(match t.parse::<u16>() {
                Ok(c) => StatusPattern::Code(c),
                Err(_) => StatusPattern::Class(t),
            }),
            Err(_) => Err(serde::de::Error::custom(
                "expected a status code (`200`) or a class (`2xx`)",
            )),
        }
    }
}

impl StatusPattern {
    pub fn matches(&self, code: u16) -> bool {
        match self {
            StatusPattern::Code(c) => *c == code,
            StatusPattern::Class(c) => c
                .chars()
                .next()
                .and_then(|d| d.to_digit(10))
                .is_some_and(|d| u32::from(code / 100) == d),
        }
    }

    /// `Some(reason)` when the pattern is not a code 100–599 or a class `1xx`–`5xx`.
    pub fn problem(&self) -> Option<String> {
        match self {
            StatusPattern::Code(c) if (100..=599).contains(c) => None,
            StatusPattern::Code(c) => Some(format!("status code {c} is outside 100–599")),
            StatusPattern::Class(c) => {
                let b = c.as_bytes();
                let ok = b.len() == 3
                    && (b'1'..=b'5').contains(&b[0])
                    && b[1..].eq_ignore_ascii_case(b"xx");
                (!ok).then(|| {
                    format!("`{c}` is not a status code or class; expected e.g. `200` or `2xx`")
                })
            }
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => f.write_str(&c.to_ascii_lowercase()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Names of `Channel` resources to notify.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1))]
    pub failure_threshold: u32,
    #[serde(default = "default_success_threshold")]
    #[schemars(range(min = 1))]
    pub success_threshold: u32,
    /// Step the severity up while an incident stays open this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<Duration>,
    /// Name of a `Template` resource for the messages; channels' own templates otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Send a message when the incident resolves.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub send_on_resolved: bool,
    /// Remind the channels this often while the incident stays open and nobody
    /// has acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_every: Option<Duration>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    #[default]
    Error,
    Critical,
}

fn default_schedule() -> Schedule {
    Schedule::every(DEFAULT_INTERVAL)
}
fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}
fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
fn default_true() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn default_method() -> String {
    "GET".into()
}
fn default_max_redirects() -> u32 {
    DEFAULT_MAX_REDIRECTS
}
fn default_max_body() -> u64 {
    DEFAULT_MAX_BODY
}
fn default_tcp_max_bytes() -> u64 {
    DEFAULT_TCP_MAX_BYTES
}
fn default_failure_threshold() -> u32 {
    DEFAULT_FAILURE_THRESHOLD
}
fn default_success_threshold() -> u32 {
    DEFAULT_SUCCESS_THRESHOLD
}

impl Check {
    /// Puts sets in a canonical order so that two spellings of one check compare
    /// and hash equal: status codes sorted and deduplicated, channels sorted,
    /// the method upper-cased, header names lower-cased.
    pub fn normalize(&mut self) {
        self.http.method = self.http.method.to_ascii_uppercase();
        self.http.headers = std::mem::take(&mut self.http.headers)
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        self.expect.headers = std::mem::take(&mut self.expect.headers)
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        if let Some(status) = self.expect.status.take() {
            let mut pats: Vec<StatusPattern> = status
                .patterns()
                .iter()
                .map(|p| match p {
                    StatusPattern::Class(c) => StatusPattern::Class(c.to_ascii_lowercase()),
                    other => other.clone(),
                })
                .collect();
            pats.sort();
            pats.dedup();
            self.expect.status = Some(if pats.len() == 1 {
                StatusSet::One(pats.remove(0))
            } else {
                StatusSet::Many(pats)
            });
        }
        // A tcp check without a `tcp:` section means the defaults; spell them out so
        // that writing `tcp: {}` is not a change.
        if self.check_type == CheckType::Tcp && self.tcp.is_none() {
            self.tcp = Some(Box::default());
        }
        if let Some(grpc) = &mut self.grpc {
            grpc.metadata = std::mem::take(&mut grpc.metadata)
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
        }
        if let Some(code) = &mut self.expect.code {
            *code = code.to_ascii_uppercase();
        }
        if let Some(alert) = &mut self.alert {
            alert.channels.sort();
            alert.channels.dedup();
        }
        self.depends_on.sort();
        self.depends_on.dedup();
    }
}

/// A cycle in `depends_on` (`a → b → a`), if there is one. A cycle would let checks
/// hold back each other's alerts for ever, so it is refused.
pub fn dependency_cycle<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    // Depth-first search with an explicit stack instead of recursion: a
    // `depends_on` chain is as long as the file (or request) makes it, and a
    // recursive walk overflows the thread's stack on a long one. Each frame is
    // a node on the current path and the index of its next edge to follow, so
    // the visiting order, and the cycle reported, are those of the recursive
    // walk.
    let mut marks: BTreeMap<&'a str, Mark> = BTreeMap::new();
    for root in edges.keys() {
        if marks.contains_key(root) {
            continue;
        }
        let mut path: Vec<&'a str> = vec![root];
        let mut next_edge: Vec<usize> = vec![0];
        marks.insert(root, Mark::Visiting);
        while let (Some(&node), Some(index)) = (path.last(), next_edge.last_mut()) {
            let next = edges
                .get(node)
                .and_then(|targets| targets.get(*index))
                .copied();
            *index += 1;
            match next {
                None => {
                    path.pop();
                    next_edge.pop();
                    marks.insert(node, Mark::Done);
                }
                Some(next) => match marks.get(next) {
                    Some(Mark::Done) => {}
                    Some(Mark::Visiting) => {
                        let from = path.iter().position(|n| *n == next).unwrap_or(0);
                        let mut cycle = path[from..].to_vec();
                        cycle.push(next);
                        return Some(cycle);
                    }
                    None => {
                        marks.insert(next, Mark::Visiting);
                        path.push(next);
                        next_edge.push(0);
                    }
                },
            }
        }
    }
    None
}

#[cfg(test)]
mod dependency_tests {
    #[test]
    fn a_check_holds_the_settings_of_other_types_and_alerting_out_of_line() {
        // The scheduler keeps one per check; inline these made it 1,496 bytes.
        let size = std::mem::size_of::<Check>();
        assert!(size <= 700, "a Check takes {size} bytes");
    }

    use super::*;

    #[test]
    fn cycles_are_found_and_chains_are_not_cycles() {
        let chain = BTreeMap::from([("a", vec!["b"]), ("b", vec!["c"]), ("c", vec![])]);
        assert_eq!(dependency_cycle(&chain), None);
        let looped = BTreeMap::from([("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]);
        assert_eq!(dependency_cycle(&looped), Some(vec!["a", "b", "c", "a"]));
        let diamond = BTreeMap::from([("a", vec!["b", "c"]), ("b", vec!["d"]), ("c", vec!["d"])]);
        assert_eq!(dependency_cycle(&diamond), None);
        let self_loop = BTreeMap::from([("a", vec!["a"])]);
        assert_eq!(dependency_cycle(&self_loop), Some(vec!["a", "a"]));
        let tail = BTreeMap::from([("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["b"])]);
        assert_eq!(dependency_cycle(&tail), Some(vec!["b", "c", "b"]));
    }

    /// A chain far longer than any stack could recurse through is walked in
    /// constant stack, and a loop closing at its far end is still found.
    #[test]
    fn very_long_chains_do_not_exhaust_the_stack() {
        let names: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
        let mut chain: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for pair in names.windows(2) {
            chain.insert(&pair[0], vec![&pair[1]]);
        }
        assert_eq!(dependency_cycle(&chain), None);
        chain.insert(&names[names.len() - 1], vec![&names[0]]);
        let cycle = dependency_cycle(&chain).expect("the closed chain is a cycle");
        assert_eq!(cycle.len(), names.len() + 1);
        assert_eq!(cycle.first(), cycle.last());
    }
}
