//! Checks: list, get, status, results, run now, pause, resume, delete.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use axum::http::request::Parts;
use axum::response::NoContent;
use schemars::JsonSchema;

use super::audit::Source;
use super::openapi::{Caller, Named};
use super::page::{self, List, Paged};
use super::{ApiError, Shared};
use crate::daemon::audit::Event;
use crate::daemon::store::{CheckRuntime, Principal, StoredResource, now_ms, to_time};
use crate::model::{CheckDetail, CheckState, CheckSummary, ProbeResult, ResultPage};
use crate::spec::secrets::Redactor;
use crate::spec::{Check, Kind};

/// Results returned per page when the caller does not say.
const DEFAULT_PAGE: u32 = 50;

/// The filters of `GET /checks`: `label=k=v` (repeatable, all must match),
/// `state` and `type`; and the page: `limit` (default and most [`page::MAX_PAGE`])
/// and `cursor`.
#[derive(Debug, Default)]
pub struct ListQuery {
    labels: Vec<(String, String)>,
    state: Option<CheckState>,
    check_type: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// The parameters of `GET /checks`, as the document shows them; [`ListQuery`]
/// reads them.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ListParams {
    /// `key=value`: only checks with this label. Repeatable; all must match.
    label: Option<Vec<String>>,
    /// Only checks in this state.
    state: Option<CheckState>,
    /// Only checks of this type: `http`, `grpc`, `graphql`, `tcp`.
    #[serde(rename = "type")]
    check_type: Option<String>,
    /// Most checks in the page (1–1000, default 1000).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `x-next-cursor` of the previous page.
    #[schemars(length(min = 1))]
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        ListQuery::parse(parts.uri.query())
    }
}

impl aide::OperationInput for ListQuery {
    fn operation_input(ctx: &mut aide::generate::GenContext, op: &mut aide::openapi::Operation) {
        super::openapi::query_params::<ListParams>(ctx, op);
    }
}

impl ListQuery {
    pub(crate) fn parse(raw: Option<&str>) -> Result<ListQuery, ApiError> {
        let mut q = ListQuery::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "label" => {
                    let (lk, lv) = v
                        .split_once('=')
                        .ok_or_else(|| ApiError::invalid("`label` takes `key=value`"))?;
                    q.labels.push((lk.to_string(), lv.to_string()));
                }
                "state" => {
                    q.state = Some(serde_json::from_value(serde_json::Value::String(v.to_string())).map_err(|_| ApiError::invalid(format!("unknown state `{v}`; expected pending, up, down, paused or disabled")))?);
                }
                "type" => q.check_type = Some(v.to_string()),
                "limit" => {
                    q.limit = Some(v.parse().map_err(|_| {
                        ApiError::invalid(format!("`limit` takes a number, not `{v}`"))
                    })?);
                }
                "cursor" => q.after = Some(page::decode(List::Checks, &v)?),
                other => {
                    return Err(ApiError::invalid(format!(
                        "unknown parameter `{other}`; expected label, state, type, limit or cursor"
                    )));
                }
            }
        }
        Ok(q)
    }
}

/// What lists and pages show of check `c` (stored as `r`): its typed fields, with
/// those that hold a secret masked as a GET of its spec masks them.
fn summary(r: &StoredResource, c: &Check, rt: Option<&CheckRuntime>) -> CheckSummary {
    let rt = rt.cloned().unwrap_or_default();
    let state = if !c.enabled {
        CheckState::Disabled
    } else if rt.paused {
        CheckState::Paused
    } else {
        match rt.last_up {
            None => CheckState::Pending,
            Some(true) => CheckState::Up,
            Some(false) => CheckState::Down,
        }
    };
    CheckSummary {
        name: c.name.clone(),
        check_type: c.check_type.as_str().into(),
        target: r.shown("/target", &c.target),
        schedule: r.shown("/schedule", &c.schedule.to_string()),
        state,
        labels: shown_labels(r, c),
        source: r.source.clone(),
        last_run_at: rt.last_run_at.map(to_time),
        last_latency_ms: rt.last_latency_ms,
        last_error: rt.last_error.clone(),
        next_run_at: None,
        open_incident: rt.open_incident,
        uptime_24h: None,
        p95_24h_ms: None,
    }
}

/// The labels of check `c`, those from secrets masked.
pub(crate) fn shown_labels(
    r: &StoredResource,
    c: &Check,
) -> std::collections::BTreeMap<String, String> {
    c.labels
        .iter()
        .map(|(k, v)| {
            let pointer = format!("/labels/{}", k.replace('~', "~0").replace('/', "~1"));
            (k.clone(), r.shown(&pointer, v))
        })
        .collect()
}

async fn one(
    state: &Shared,
    tenant: i64,
    name: &str,
) -> Result<(StoredResource, CheckSummary), ApiError> {
    let r = state
        .store
        .resource(tenant, Kind::Check, name.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no check named `{name}`")))?;
    let rts = state
        .store
        .check_runtimes(tenant, Some(name.to_string()))
        .await?;
    let c = r.as_check().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the stored check `{name}` is not a check"),
        )
    })?;
    let mut s = summary(&r, c, rts.get(name));
    s.next_run_at = state.scheduler.next_run(tenant, name.to_string()).await;
    Ok((r, s))
}

/// The span `checks list` and `checks get` show uptime and latency over.
const SUMMARY_WINDOW_MS: i64 = 24 * 3_600_000;

/// Fills in the last 24 hours of `summaries` from one report over all of them,
/// so a page of checks costs one read of rollups, not one per check.
async fn with_day(
    state: &Shared,
    tenant: i64,
    summaries: &mut [CheckSummary],
) -> Result<(), ApiError> {
    if summaries.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let names = summaries.iter().map(|s| s.name.clone()).collect();
    let _turn = super::report::turns().take().await?;
    let report = state
        .store
        .report(tenant, Some(names), now - SUMMARY_WINDOW_MS, now, now)
        .await?;
    let by_name: std::collections::HashMap<&str, &crate::model::CheckReport> = report
        .checks
        .iter()
        .map(|c| (c.check.as_str(), c))
        .collect();
    for s in summaries {
        if let Some(c) = by_name.get(s.name.as_str()) {
            s.uptime_24h = c.uptime;
            s.p95_24h_ms = c.latency.as_ref().map(|l| l.p95);
        }
    }
    Ok(())
}

pub async fn list(
    State(state): State<Shared>,
    Caller(key): Caller,
    q: ListQuery,
) -> Result<Paged<Vec<CheckSummary>>, ApiError> {
    let limit = page::limit(q.limit, page::MAX_PAGE)?;
    let resources = state
        .store
        .resources(key.tenant_id, Some(Kind::Check))
        .await?;
    let rts = state.store.check_runtimes(key.tenant_id, None).await?;
    let out: Vec<CheckSummary> = resources
        .iter()
        .filter(|r| q.after.as_ref().is_none_or(|after| r.name > *after))
        // Every row of this listing is a check: the store typed it by its kind.
        .filter_map(|r| Some(summary(r, r.as_check()?, rts.get(&r.name))))
        .filter(|s| {
            q.labels
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == v))
        })
        .filter(|s| q.state.is_none_or(|st| s.state == st))
        .filter(|s| q.check_type.as_ref().is_none_or(|t| &s.check_type == t))
        .take(limit as usize + 1)
        .collect();
    let (mut out, next) = page::cut(out, limit, List::Checks, |s| s.name.clone());
    with_day(&state, key.tenant_id, &mut out).await?;
    Ok(page::respond(out, next))
}

pub async fn get(
    State(state): State<Shared>,
    Caller(key): Caller,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<CheckDetail>, ApiError> {
    let (r, mut summary) = one(&state, key.tenant_id, &name).await?;
    with_day(&state, key.tenant_id, std::slice::from_mut(&mut summary)).await?;
    let alerts_held = state.store.alerts_held(key.tenant_id, name.clone()).await?;
    let listed = r
        .as_check()
        .map(|c| c.locations.clone())
        .unwrap_or_default();
    let locations = if listed.len() > 1 {
        state
            .store
            .location_runs(key.tenant_id, name, listed)
            .await?
    } else {
        Vec::new()
    };
    Ok(axum::Json(CheckDetail {
        summary,
        spec: r.masked(),
        alerts_held,
        locations,
    }))
}

pub async fn status(
    State(state): State<Shared>,
    Caller(key): Caller,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    let mut s = one(&state, key.tenant_id, &name).await?.1;
    with_day(&state, key.tenant_id, std::slice::from_mut(&mut s)).await?;
    Ok(axum::Json(s))
}

/// A page of results: `limit` and `cursor`, or the older `before` (a result id).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Most results in the page (1–1000, default 50), newest first.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `x-next-cursor` of the previous page.
    #[schemars(length(min = 1))]
    cursor: Option<String>,
    /// Results older than this result id (the page's `next_before`).
    before: Option<i64>,
    /// Only the runs from this location (of a check that lists `locations`).
    #[schemars(length(min = 1, max = 63))]
    location: Option<String>,
}

pub async fn results(
    State(state): State<Shared>,
    Caller(key): Caller,
    Path(Named { name }): Path<Named>,
    Query(q): Query<PageQuery>,
) -> Result<Paged<ResultPage>, ApiError> {
    let limit = page::limit(q.limit, DEFAULT_PAGE)?;
    let (r, _) = one(&state, key.tenant_id, &name).await?;
    let before = match &q.cursor {
        Some(c) => Some(page::decode_id(List::Results, c)?),
        None => q.before,
    };
    if let Some(l) = &q.location {
        if !crate::spec::is_place_name(l) {
            return Err(ApiError::invalid(
                "`location` must name a location: 1-63 letters, digits, `-`, `_` or `.`",
            ));
        }
        // Only a location the check runs from: its runs are a share of the check's.
        let listed = r
            .as_check()
            .map(|c| c.locations.as_slice())
            .unwrap_or_default();
        if !listed.contains(l) {
            return Err(ApiError::not_found(format!(
                "check `{name}` does not run from location `{l}`{}",
                if listed.is_empty() {
                    ": it lists no `locations`".to_string()
                } else {
                    format!("; it runs from {}", listed.join(", "))
                }
            )));
        }
    }
    let mut results = state
        .store
        .results(key.tenant_id, name, limit, before, q.location)
        .await?;
    // Results are redacted when run; again here for rows stored before that was so.
    let redactor = redactor(&r);
    for item in &mut results.items {
        item.result.redact(&redactor);
    }
    let next = results
        .next_before
        .map(|id| page::encode(List::Results, &id.to_string()));
    Ok(page::respond(results, next))
}

/// What hides the secrets of check `r` in its results.
fn redactor(r: &StoredResource) -> Redactor {
    Redactor::for_probe(&r.spec, &r.secrets, &Default::default())
}

pub async fn run(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<ProbeResult>, ApiError> {
    // The scheduler hides the check's secrets in the result before handing it back.
    let done = async {
        one(&state, key.tenant_id, &name).await?;
        state
            .scheduler
            .run_now(key.tenant_id, name.clone())
            .await
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("check `{name}` could not be run now; the daemon may be stopping"),
                )
            })
    }
    .await;
    let result = state
        .audit
        .failure(done, || {
            Event::by(&key, "check.run", from).target(name.clone())
        })
        .await?;
    state
        .audit
        .record(
            Event::by(&key, "check.run", from)
                .target(name)
                .detail(serde_json::json!({"up": result.up})),
        )
        .await;
    Ok(axum::Json(result))
}

async fn set_paused(
    state: Shared,
    (key, from): (Principal, Option<std::net::IpAddr>),
    name: String,
    paused: bool,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    let action = if paused {
        "check.pause"
    } else {
        "check.resume"
    };
    let done = async {
        one(&state, key.tenant_id, &name).await?;
        Ok(state
            .store
            .set_paused(key.tenant_id, name.clone(), paused)
            .await?)
    }
    .await;
    state
        .audit
        .failure(done, || Event::by(&key, action, from).target(name.clone()))
        .await?;
    state
        .audit
        .record(Event::by(&key, action, from).target(name.clone()))
        .await;
    tracing::info!(tenant = key.tenant_id, check = %name, by = %key.actor(), paused, "check {}", if paused { "paused" } else { "resumed" });
    Ok(axum::Json(one(&state, key.tenant_id, &name).await?.1))
}

pub async fn pause(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    set_paused(state, (key, from), name, true).await
}

pub async fn resume(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Named { name }): Path<Named>,
) -> Result<axum::Json<CheckSummary>, ApiError> {
    set_paused(state, (key, from), name, false).await
}

pub async fn delete(
    State(state): State<Shared>,
    Caller(key): Caller,
    Source(from): Source,
    Path(Named { name }): Path<Named>,
) -> Result<NoContent, ApiError> {
    let done = match state.store.delete_check(key.tenant_id, name.clone()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::not_found(format!("no check named `{name}`"))),
        Err(e) => Err(e.into()),
    };
    state
        .audit
        .failure(done, || {
            Event::by(&key, "check.delete", from).target(name.clone())
        })
        .await?;
    state
        .audit
        .record(Event::by(&key, "check.delete", from).target(name))
        .await;
    Ok(NoContent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_reads_exactly_the_parameters_the_document_shows() {
        let unknown = ListQuery::parse(Some("no-such=1")).expect_err("unknown");
        let (documented, read) = super::super::openapi::documented_and_read::<ListParams>(&unknown);
        assert_eq!(documented, read, "{}", unknown.message);
        for name in &documented {
            if let Err(e) = ListQuery::parse(Some(&format!("{name}=x"))) {
                assert!(
                    !e.message.contains("unknown parameter"),
                    "{name}: {}",
                    e.message
                );
            }
        }
    }
}
