//! The REST API's documents, shared by the daemon (which serves them) and the CLI
//! (which reads them). Routes, all under `/api/v1` and all needing
//! `Authorization: Bearer <api key>`:
//!
//! | route | body → answer |
//! |---|---|
//! | `POST /plan` | [`PlanRequest`] → [`Plan`](crate::spec::plan::Plan) |
//! | `POST /apply` | [`PlanRequest`] (with `expected_revision` for saved plans) → [`ApplyResponse`] |
//! | `GET /checks?label=k=v&state=up\|down\|pending\|paused&type=http` | → `[CheckSummary]` |
//! | `GET /checks/{name}` | → [`CheckDetail`] |
//! | `DELETE /checks/{name}` | → 204 |
//! | `POST /checks/{name}/run` | → [`ProbeResult`] (runs now, waits for the result) |
//! | `POST /checks/{name}/pause`, `/resume` | → [`CheckSummary`] |
//! | `GET /checks/{name}/status` | → [`CheckSummary`] |
//! | `GET /checks/{name}/results?limit=50&cursor=` (or `before=ID`) | → [`ResultPage`] |
//! | `GET /checks/{name}/report?window=24h` (or `from`, `to`) | → [`Report`] of that check; 404 for an unknown one |
//! | `GET /checks/{name}/history?resolution=1m\|5m\|15m\|1h\|1d&window=24h` (or `from`, `to`) | → `[HistoryBucket]`, oldest first |
//! | `GET /report?window=24h&check=NAME` (or `from`, `to`; `check` repeatable, default every check) | → [`Report`] |
//! | `GET /incidents?status=open\|acknowledged\|resolved&check=NAME&limit=` | → `[Incident]` |
//! | `GET /incidents/{id}` | → [`IncidentDetail`] |
//! | `GET /incidents/{id}/events` | → `[IncidentEvent]` |
//! | `POST /incidents/{id}/ack`, `/resolve` | optional [`ActionRequest`] → [`Incident`] |
//! | `POST /incidents/{id}/updates` | [`UpdateRequest`] → 201 [`IncidentEvent`] (kind `update`) |
//! | `GET /channels` | → `[ChannelSummary]` |
//! | `GET /channels/{name}` | → [`ChannelDetail`] |
//! | `POST /channels/{name}/test` | → [`Notification`] (sent now, waits for the outcome) |
//! | `POST /forge/generate` | [`ForgeRequest`] (`.proto` sources) → [`ForgeResponse`] (check files); 422 when they do not compile |
//! | `POST /tenants` | [`TenantRequest`] → [`TenantCreated`] (admin keys of the first tenant only) |
//!
//! A report's or history's span: `window` is a duration (`1h`, `24h`, `7d`, `30d`,
//! `90d`, `36h`; default 24h) and `from`/`to` are RFC 3339 times. `to` defaults to
//! now and `from` to `to` minus the window; `from` alone runs a window from there
//! (to now without `window`). A span that cannot be read answers 400 `invalid`.
//!
//! Every list takes `limit` and `cursor`; while more follow, the answer carries the
//! next page's cursor in the `x-next-cursor` header.
//!
//! People and access (see [`crate::daemon::api::access`] for the role of every route):
//!
//! | route | body → answer |
//! |---|---|
//! | `POST /auth/login` (no key) | [`LoginRequest`] → [`TokenPair`]; 429 with `Retry-After` past the limits |
//! | `POST /auth/refresh` (no key) | [`RefreshRequest`] → [`TokenPair`] (the refresh token rotates) |
//! | `POST /auth/register` (no key; only with `--allow-signup`) | [`RegisterRequest`] → 201 [`TokenPair`] |
//! | `POST /auth/accept-invite` (no key) | [`AcceptInviteRequest`] → [`TokenPair`] |
//! | `POST /auth/logout` | optional [`LogoutRequest`] → 204 (revokes the session) |
//! | `GET /auth/whoami` | → [`Whoami`] |
//! | `POST /auth/password` | [`PasswordChange`] → 204 (users only; ends the user's other sessions) |
//! | `GET /api-keys` | → `[ApiKeyInfo]` |
//! | `POST /api-keys` | [`ApiKeyCreate`] → 201 [`ApiKeyCreated`] (the secret shown once) |
//! | `DELETE /api-keys/{id}` | → 204 |
//! | `GET /users` | → `[UserInfo]` (users and open invitations) |
//! | `POST /users` | [`UserAdd`] → 201 [`UserInfo`] |
//! | `POST /users/invitations` | [`UserInvite`] → 201 [`InvitationCreated`] (the token shown once) |
//! | `PUT /users/{email}/role` | [`RoleChange`] → [`UserInfo`] |
//! | `DELETE /users/{email}` | → 204 (its sessions end) |
//! | `GET /audit?since=24h&until=&actor=&action=&outcome=&limit=&cursor=` | → `[AuditEntry]`, newest first |
//!
//! `GET /healthz`, `/readyz`, `/metrics` and `/api/v1/openapi.json` (these
//! documents as OpenAPI 3.1) need no key. Errors are
//! [`ErrorBody`] with a 4xx/5xx status.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::forge::{ApiRequest as ForgeRequest, ApiResponse as ForgeResponse};
pub use crate::probe::ProbeResult;
use crate::spec::plan::{Desired, Options, Plan};

/// `{"error": {"code": "not_found", "message": "no check named `x`"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Every `code` an API error may have; the daemon's errors use these and no
/// others (a test reads the daemon's source to hold it to that).
pub const ERROR_CODES: &[&str] = &[
    "busy",
    "conflict",
    "rate_limited",
    "error",
    "forbidden",
    "internal",
    "invalid",
    "invalid_proto",
    "method_not_allowed",
    "not_found",
    "revision_moved",
    "session_reused",
    "store_unavailable",
    "token_expired",
    "too_large",
    "unauthorized",
    "unavailable",
    "wrong_tenant",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable; one of [`ERROR_CODES`].
    #[schemars(extend("enum" = ERROR_CODES))]
    pub code: String,
    pub message: String,
    /// For `invalid` and `conflict`: every problem found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanRequest {
    #[serde(flatten)]
    pub options: Options,
    pub resources: Vec<Desired>,
    /// Apply only if the state is still at this revision (saved plans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
    /// Apply only to this tenant (saved plans carry the tenant they were made for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_tenant: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApplyResponse {
    pub plan: Plan,
    /// The revision after the apply (unchanged when there was nothing to do).
    pub state_revision: u64,
}

/// The last known state of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Not run yet.
    Pending,
    Up,
    Down,
    Paused,
    /// `enabled: false` in its file.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub check_type: String,
    pub target: String,
    pub schedule: String,
    pub state: CheckState,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    pub source: Option<String>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_latency_ms: Option<f64>,
    pub last_error: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub open_incident: Option<i64>,
    /// Uptime over the last 24 hours, 0–100, from the check's rollups (as
    /// `GET /report` counts it); absent when nothing is known of that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_24h: Option<f64>,
    /// The 95th percentile of latency over the last 24 hours, in milliseconds;
    /// absent without runs in that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_24h_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckDetail {
    #[serde(flatten)]
    pub summary: CheckSummary,
    /// The check's canonical spec, secrets masked.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub spec: serde_json::Value,
    /// Why the check's alerts are held back now (a maintenance window, a
    /// dependency down), if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts_held: Option<String>,
    /// Each of the check's `locations` with its latest run there, for a check
    /// that runs from several; absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationRun>,
}

/// A check's latest run in one of its locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocationRun {
    pub location: String,
    /// Absent until the check has run there.
    pub up: Option<bool>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StoredResult {
    pub id: i64,
    /// Where it ran, for a check that lists `locations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(flatten)]
    pub result: ProbeResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResultPage {
    pub items: Vec<StoredResult>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }
}

/// What an incident is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The check fails: opened after `failure_threshold` failed runs.
    #[default]
    Down,
    /// The check's SLO error budget burns too fast (multi-window burn-rate alert).
    SloBurn,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Down => "down",
            IncidentKind::SloBurn => "slo_burn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    pub id: i64,
    pub check: String,
    #[serde(default)]
    pub kind: IncidentKind,
    pub status: IncidentStatus,
    pub severity: crate::spec::Severity,
    pub error: String,
    pub status_code: Option<u16>,
    /// Failed runs while the incident was open, the first included.
    pub count: u64,
    /// SHA-256 of the failure signature: normalised error, status code, first 100 bytes of body.
    pub dedup_hash: String,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: Incident,
    pub events: Vec<IncidentEvent>,
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentEvent {
    pub id: i64,
    pub incident_id: i64,
    pub at: DateTime<Utc>,
    /// `opened`, `failure`, `signature_changed`, `acknowledged`, `escalated`, `update`,
    /// `resolved`. An `update`'s detail is `{"status": …, "message": …}`.
    pub kind: String,
    pub actor: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub id: i64,
    pub incident_id: Option<i64>,
    pub channel: String,
    /// `opened`, `resolved`, `escalated`, `acknowledged`, `update`, `test`.
    pub event: String,
    /// `pending`, `sent`, `failed`.
    pub status: String,
    pub attempts: u32,
    pub idempotency_key: String,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionRequest {
    /// Free text recorded with the event.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Where the work on an incident stands, as its updates say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpdateStatus {
    /// The cause is being looked for.
    Investigating,
    /// The cause is known; a fix is being made.
    Identified,
    /// A fix is out; the check is being watched.
    Monitoring,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Investigating => "investigating",
            UpdateStatus::Identified => "identified",
            UpdateStatus::Monitoring => "monitoring",
        }
    }
}

/// The body of `POST /incidents/{id}/updates`: a note on an incident for the people
/// its channels and status pages reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// What is known now, in a few sentences (1–2000 characters).
    pub message: String,
    /// Where the work stands; by default the incident's last update's, else
    /// `investigating`. Not taken on a resolved incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UpdateStatus>,
}

/// A daemon among those sharing one database, as `GET /nodes` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeSummary {
    /// The daemon's `--node`.
    pub name: String,
    /// The daemon's `--location`.
    pub location: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    /// The last heartbeat, on the database's clock.
    pub heartbeat_at: DateTime<Utc>,
    /// Whether the last heartbeat is recent (within 10 s); a node that stopped
    /// stays listed, not live, for a week.
    pub live: bool,
    /// Checks it holds leases on and runs (with SQLite, the one daemon runs all).
    pub checks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub channel_type: String,
    pub source: Option<String>,
    pub template: Option<String>,
    pub sent: u64,
    pub failed: u64,
    pub pending: u64,
}

/// One channel: its summary and its spec, secrets masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelDetail {
    #[serde(flatten)]
    pub summary: ChannelSummary,
    /// The channel's canonical spec, secrets masked.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub spec: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantRequest {
    /// 1–63 lowercase letters, digits and `-`.
    #[schemars(regex(pattern = r"^[a-z0-9-]{1,63}$"))]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantCreated {
    pub id: i64,
    pub name: String,
    /// The new tenant's admin API key; shown once.
    pub api_key: String,
}

/// `GET /report` and `GET /checks/{name}/report`: what each check's results add up
/// to over a window. Read from rollups, never from raw results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// The window asked for.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckReport {
    pub check: String,
    #[serde(rename = "type")]
    pub check_type: String,
    /// The span actually read: the window's edges rounded to the finest rollups
    /// still kept there (minutes near now, hours and days further back).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Up time over known time (up + down), 0–100; maintenance and unknown time
    /// are left out. `None` when nothing is known.
    pub uptime: Option<f64>,
    /// Share of the window whose state is known (up, down or maintenance), 0–100.
    pub coverage: f64,
    pub up_seconds: f64,
    pub down_seconds: f64,
    pub maintenance_seconds: f64,
    /// Not running, paused, disabled, or not yet created.
    pub unknown_seconds: f64,
    pub runs: u64,
    pub failed_runs: u64,
    pub latency: Option<LatencySummary>,
    /// Present when the check has an `slo`; always over the SLO's own window,
    /// ending at `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloReport>,
    /// Incidents (of any kind) opened within the window.
    pub incidents: u64,
    /// Mean time to resolve, over incidents opened and resolved within the window.
    pub mttr_seconds: Option<f64>,
    /// For a check that runs from several locations, each one's own figures, in
    /// the order the check lists them (the check's own figures above are its
    /// quorum's verdict; its runs and failed runs count every location's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationReport>,
}

/// One location's figures of a check, over the same span as the check's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocationReport {
    pub location: String,
    pub uptime: Option<f64>,
    pub coverage: f64,
    pub up_seconds: f64,
    pub down_seconds: f64,
    pub maintenance_seconds: f64,
    pub unknown_seconds: f64,
    pub runs: u64,
    pub failed_runs: u64,
    pub latency: Option<LatencySummary>,
}

/// Latency in milliseconds; percentiles within the sketch's relative error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencySummary {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SloReport {
    /// Target uptime, percent.
    pub objective: f64,
    /// The SLO's window, as written (`30d`).
    pub window: String,
    /// Uptime over the SLO window, percent; `None` when nothing is known.
    pub attainment: Option<f64>,
    /// Down time the objective allows over the known part of the window.
    pub budget_seconds: f64,
    pub budget_left_seconds: f64,
    /// Of the budget, percent; negative once overspent.
    pub budget_left_percent: Option<f64>,
    /// Error rate over the last hour divided by the rate the objective allows
    /// (1 spends the budget exactly over the window).
    pub burn_rate_1h: Option<f64>,
    /// `met`, `breached` (budget spent) or `unknown`.
    pub status: String,
    /// A burn-rate incident is open now.
    pub burning: bool,
}

/// A bucket of a check's history: `checks history --resolution 1h`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryBucket {
    pub start: DateTime<Utc>,
    pub runs: u64,
    pub failed_runs: u64,
    pub uptime: Option<f64>,
    pub coverage: f64,
    pub latency: Option<LatencySummary>,
}

/// What a user or an API key may do; each role may do all that the ones below it may.
/// `viewer` reads; `operator` also applies checks, runs, pauses and resumes them and
/// acknowledges, resolves and updates incidents; `admin` also manages users, keys and
/// tenants, deletes checks and reads the audit log.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// A stored role; anything unknown is the least one.
    pub fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "operator" => Role::Operator,
            _ => Role::Viewer,
        }
    }

    /// The permissions an access token lists for this role (the brief's
    /// `permissions` claim): `read`, then `operate`, then `admin`.
    pub fn permissions(self) -> Vec<String> {
        let all = ["read", "operate", "admin"];
        let n = match self {
            Role::Viewer => 1,
            Role::Operator => 2,
            Role::Admin => 3,
        };
        all[..n].iter().map(|p| (*p).to_string()).collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /auth/login`. `tenant` is needed only when the same email and password
/// belong to users of several tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `POST /auth/register`: a new tenant named `tenant` with this user as its admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub tenant: String,
}

/// `POST /auth/refresh`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /auth/logout`: ends the session of the access token used, or the one
/// `refresh_token` belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `POST /auth/accept-invite`: sets the invited user's password and logs them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    pub token: String,
    pub password: String,
}

/// `POST /auth/password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// What login, refresh, register and accept-invite answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenPair {
    /// A JWT (HS256) for `Authorization: Bearer`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque; exchanged once at `POST /auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub user: Whoami,
}

/// `GET /auth/whoami`: who the credential used stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Whoami {
    /// `user` or `key`.
    pub kind: String,
    /// The user's id, or the key's public id.
    pub id: String,
    /// The user's email, or the key's name.
    pub name: String,
    pub tenant: String,
    pub tenant_id: i64,
    pub role: Role,
    pub permissions: Vec<String>,
    /// When the credential used stops working (an access token's or a key's
    /// expiry); none for a key that does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api-keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// 1–63 characters: letters, digits, `-`, `_`, `.`.
    pub name: String,
    pub role: Role,
    /// How long the key works (`90d`, `12h`); none for a key that does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyInfo {
    /// The public id (the part after `upk_` and before the next `_`).
    pub id: String,
    pub name: String,
    pub role: Role,
    /// `active`, `expired` or `revoked`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute: uses are recorded at most once a minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// `POST /api-keys` answers the key once, whole: `upk_<id>_<32-character secret>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    pub key: String,
}

/// `POST /users`: a user with a first password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAdd {
    pub email: String,
    pub role: Role,
    pub password: String,
}

/// `POST /users/invitations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInvite {
    pub email: String,
    pub role: Role,
    /// How long the invitation can be accepted (default `7d`, at most `30d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// `POST /users/invitations` answers the token once; `url` is the console page that
/// accepts it, when the daemon knows its public URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InvitationCreated {
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `PUT /users/{email}/role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

/// A user (or an open invitation) as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserInfo {
    pub email: String,
    pub role: Role,
    /// `active`, or `invited` for an invitation not yet accepted.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// An invitation's expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The tenant's name; none for requests refused before any tenant was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `user:<email>`, `key:<name>(<id>)`, `telegram:@name`, `watch`, or
    /// `anonymous`.
    pub actor: String,
    /// What was done, e.g. `apply`, `check.pause`, `incident.ack`, `key.create`,
    /// `user.add`, `login`, `request` (see `uptimeping audit list --help`).
    pub action: String,
    /// What it was done to: a check's name, an incident's id, a key's id, an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `ok`, `refused` (401, 403, 429) or `failed`.
    pub outcome: String,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// More about it (a plan's summary, a refused request's method and path…).
    #[serde(default)]
    pub detail: serde_json::Value,
}
