//! `GET /audit`: the audit log of the caller's tenant, newest first, with filters
//! and pages; and [`Source`], the client's address that handlers record with.
//!
//! Rows of no tenant (requests refused before any tenant could be told) are shown
//! only to admins of the first tenant, who run the daemon.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use super::openapi::Caller;
use super::page::{self, List, Paged};
use super::{ApiError, Shared};
use crate::daemon::store::{AuditQuery, now_ms};
use crate::model::AuditEntry;

/// The tenant a fresh daemon creates: its admins see what no tenant can be told for.
const FIRST_TENANT: i64 = 1;
/// Entries per page when the caller does not say: the recent ones.
const DEFAULT_LIMIT: u32 = 100;
/// Longest filter value taken, in bytes: an actor is at most a prefix, an email
/// (254) and an id; anything longer matches nothing that was written.
const MAX_FILTER_BYTES: usize = 512;

/// The address of the client, as the listener saw it; none when the daemon is
/// served without connection info (tests of the router alone).
pub struct Source(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(super::source(&parts.extensions)))
    }
}

impl aide::OperationInput for Source {}

/// Filters and the page, newest first.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only entries from this time on: a duration back from now (`24h`, `7d`) or
    /// an RFC 3339 time.
    since: Option<String>,
    /// Only entries before this time: a duration back from now or an RFC 3339 time.
    until: Option<String>,
    /// Only entries of this actor (`user:ann@example.com`, `key:ci(0a1b…)`,
    /// `watch`); a trailing `*` matches any rest (`key:*`).
    actor: Option<String>,
    /// Only entries of this action (`incident.ack`); a trailing `*` matches any
    /// rest (`incident.*`).
    action: Option<String>,
    /// Only entries with this outcome: `ok`, `refused` or `failed`.
    outcome: Option<String>,
    /// Only entries about this target: a check's name, an incident's id, …
    target: Option<String>,
    /// Most entries in the page (1–1000, default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `x-next-cursor` of the previous page.
    #[schemars(length(min = 1))]
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<Shared>,
    Caller(key): Caller,
    Query(q): Query<ListQuery>,
) -> Result<Paged<Vec<AuditEntry>>, ApiError> {
    let limit = page::limit(q.limit, DEFAULT_LIMIT)?;
    let now = now_ms();
    let since = q
        .since
        .as_deref()
        .map(|v| time("since", v, now))
        .transpose()?;
    let until = q
        .until
        .as_deref()
        .map(|v| time("until", v, now))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(ApiError::invalid(
            "`since` must be before `until`; a duration is counted back from now (`since=24h&until=1h`)",
        ));
    }
    let outcome = q.outcome.map(|o| o.trim().to_ascii_lowercase());
    if let Some(o) = &outcome
        && !["ok", "refused", "failed"].contains(&o.as_str())
    {
        return Err(ApiError::invalid(format!(
            "`outcome` is ok, refused or failed, not `{o}`"
        )));
    }
    for (name, value) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("target", &q.target),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > MAX_FILTER_BYTES) {
            return Err(ApiError::invalid(format!(
                "`{name}` is longer than {MAX_FILTER_BYTES} bytes; no entry has one that long"
            )));
        }
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| page::decode_id(List::Audit, c))
        .transpose()?;
    // What the flood bound held back so far is in the log before it is read.
    state.audit.write_open_gaps().await;
    let entries = state
        .store
        .audit(AuditQuery {
            tenant_id: key.tenant_id,
            with_no_tenant: key.tenant_id == FIRST_TENANT,
            since,
            until,
            actor: q.actor,
            action: q.action,
            outcome,
            target: q.target,
            before,
            limit: limit + 1,
        })
        .await?;
    let (entries, next) = page::cut(entries, limit, List::Audit, |e| e.id.to_string());
    Ok(page::respond(entries, next))
}

/// `v` as Unix ms: a duration back from `now`, or an RFC 3339 time.
fn time(name: &str, v: &str, now: i64) -> Result<i64, ApiError> {
    let v = v.trim();
    if let Ok(d) = v.parse::<crate::spec::Duration>() {
        return Ok(now.saturating_sub(crate::spec::millis_i64(d.get())));
    }
    // An offset's `+` left unescaped in a query string arrives as a space.
    let unescaped = v.replacen(' ', "+", 1);
    DateTime::parse_from_rfc3339(v)
        .or_else(|_| DateTime::parse_from_rfc3339(&unescaped))
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| {
            ApiError::invalid(format!(
                "`{name}` takes a duration back from now (`24h`, `7d`) or an RFC 3339 time (`2026-11-30T09:00:00Z`), not `{v}`"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_durations_back_from_now_or_rfc3339() {
        let now = 1_800_000_000_000;
        assert_eq!(time("since", "24h", now).ok(), Some(now - 86_400_000));
        assert_eq!(
            time("since", "2027-01-15T08:00:00Z", now).ok(),
            Some(1_800_000_000_000)
        );
        assert_eq!(
            time("until", "2027-01-15T09:00:00 01:00", now).ok(),
            Some(1_800_000_000_000)
        );
        let e = time("since", "yesterday", now).expect_err("bad");
        assert!(e.message.contains("`since`"), "{}", e.message);
    }
}
