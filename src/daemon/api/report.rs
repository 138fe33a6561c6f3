//! Reports: what checks' results add up to over a span (uptime, coverage, SLO,
//! latency, incidents), and one check's history in buckets. Both read rollups.

use std::collections::BTreeSet;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;

use super::openapi::{Caller, Named};
use super::{ApiError, Shared};
use crate::daemon::store::{StoreError, now_ms};
use crate::model::{HistoryBucket, Report};
use crate::spec::{Duration, Kind, millis_i64};

/// The span a report covers when the caller gives no `window`: the day just gone,
/// what `checks list` shows too.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The bucket width of a history when the caller gives no `resolution`: a day's
/// history in 24 rows.
pub const DEFAULT_RESOLUTION_MS: i64 = 3_600_000;

/// Checks one report may name with `check`, counted before anything is read: 500
/// of the longest names (63 characters) make a query string of about 35 KiB,
/// inside the 64 KiB the HTTP stack takes in a request's URI.
pub const MAX_NAMED_CHECKS: usize = 500;

/// The widths a history is built in, as written and in milliseconds: the widths
/// the rollups can be cut into without splitting a stored bucket.
const RESOLUTIONS: &[(&str, i64)] = &[
    ("1m", 60_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("1h", 3_600_000),
    ("1d", 86_400_000),
];

/// Reports and histories read at once; the others wait their turn (then 503
/// `busy`). A report of 10,000 checks over 30 days reads a second and a half of
/// buckets and holds tens of MiB while it merges them: a burst of them must not
/// add up to the process's memory.
const CONCURRENT: usize = 2;

pub(super) fn turns() -> &'static super::Turns {
    static TURNS: super::Turns = super::Turns::new(CONCURRENT, "reports");
    &TURNS
}

const WINDOW_FORMS: &str = "a duration such as 1h, 24h, 7d, 30d or 90d";
const TIME_FORMS: &str = "an RFC 3339 time such as 2026-06-01T00:00:00Z";

/// The query of a report or a history.
#[derive(Debug, Default, PartialEq)]
pub struct SpanQuery {
    window: Option<Duration>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    checks: BTreeSet<String>,
    resolution_ms: Option<i64>,
    location: Option<String>,
}

/// Which parameters a route takes besides `window`, `from` and `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    Nothing,
    Checks,
    Resolution,
}

/// What a route's span query takes, as the document shows it: each is a
/// JsonSchema of its parameters, which [`SpanQuery::parse`] reads.
pub trait SpanParams: JsonSchema {
    const TAKES: Takes;
}

/// The span common to reports and histories.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SpanDoc {
    /// How far back from `to` (or on from `from`): a duration such as 1h, 24h, 7d,
    /// 30d or 90d; default 24h.
    window: Option<String>,
    /// Start, an RFC 3339 time such as 2026-06-01T00:00:00Z.
    #[schemars(with = "Option<DateTime<Utc>>")]
    from: Option<String>,
    /// End, an RFC 3339 time; default now.
    #[schemars(with = "Option<DateTime<Utc>>")]
    to: Option<String>,
}

/// The query of `GET /report`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct TenantSpan {
    #[serde(flatten)]
    span: SpanDoc,
    /// A check to report on; repeatable (at most 500); default every check.
    check: Option<Vec<String>>,
}

impl SpanParams for TenantSpan {
    const TAKES: Takes = Takes::Checks;
}

/// The query of `GET /checks/{name}/report`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct CheckSpan {
    #[serde(flatten)]
    span: SpanDoc,
}

impl SpanParams for CheckSpan {
    const TAKES: Takes = Takes::Nothing;
}

/// The query of `GET /checks/{name}/history`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct HistorySpan {
    #[serde(flatten)]
    span: SpanDoc,
    /// The width of a bucket: 1m, 5m, 15m, 1h (default) or 1d.
    resolution: Option<String>,
    /// Only the runs from this location, of a check that runs from several;
    /// default the check's own history (its quorum's verdict).
    location: Option<String>,
}

impl SpanParams for HistorySpan {
    const TAKES: Takes = Takes::Resolution;
}

/// A span query read as `P` describes it.
pub struct Span<P>(SpanQuery, std::marker::PhantomData<P>);

impl<S: Send + Sync, P: SpanParams> FromRequestParts<S> for Span<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Span(
            SpanQuery::parse(parts.uri.query(), P::TAKES)?,
            std::marker::PhantomData,
        ))
    }
}

impl<P: SpanParams> Span<P> {
    /// The span of the query string `raw`, read as the route reads it, for
    /// callers inside the daemon (the console).
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        Ok(Span(
            SpanQuery::parse(raw, P::TAKES)?,
            std::marker::PhantomData,
        ))
    }
}

impl<P: SpanParams> aide::OperationInput for Span<P> {
    fn operation_input(ctx: &mut aide::generate::GenContext, op: &mut aide::openapi::Operation) {
        super::openapi::query_params::<P>(ctx, op);
    }
}

impl SpanQuery {
    fn parse(raw: Option<&str>, takes: Takes) -> Result<SpanQuery, ApiError> {
        let mut q = SpanQuery::default();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            // Only `check` may repeat: a second window or time would silently win.
            if k != "check" && !seen.insert(k.to_string()) {
                return Err(ApiError::invalid(format!(
                    "`{k}` is given twice; give it once"
                )));
            }
            match (k.as_ref(), takes) {
                ("window", _) => {
                    let d: Duration = v.parse().map_err(|_| {
                        ApiError::invalid(format!("`window` takes {WINDOW_FORMS}, not `{v}`"))
                    })?;
                    if d.get().is_zero() {
                        return Err(ApiError::invalid(format!(
                            "`window` must be longer than nothing: give {WINDOW_FORMS}"
                        )));
                    }
                    q.window = Some(d);
                }
                ("from", _) => q.from = Some(time("from", &v)?),
                ("to", _) => q.to = Some(time("to", &v)?),
                ("check", Takes::Checks) => {
                    q.checks.insert(v.into_owned());
                    if q.checks.len() > MAX_NAMED_CHECKS {
                        return Err(ApiError::invalid(format!(
                            "a report names at most {MAX_NAMED_CHECKS} checks; leave `check` out for every check"
                        )));
                    }
                }
                ("resolution", Takes::Resolution) => q.resolution_ms = Some(resolution(&v)?),
                ("location", Takes::Resolution) => {
                    if !crate::spec::is_place_name(&v) {
                        return Err(ApiError::invalid(
                            "`location` must name a location: 1-63 letters, digits, `-`, `_` or `.`",
                        ));
                    }
                    q.location = Some(v.into_owned());
                }
                (other, _) => {
                    let expected = match takes {
                        Takes::Nothing => "window, from or to",
                        Takes::Checks => "window, from, to or check",
                        Takes::Resolution => "resolution, location, window, from or to",
                    };
                    return Err(ApiError::invalid(format!(
                        "unknown parameter `{other}`; expected {expected}"
                    )));
                }
            }
        }
        Ok(q)
    }

    /// `[from, to)` in milliseconds: `to` defaults to now (or `from` plus the
    /// window, when both are given), `from` to `to` minus the window.
    fn span(&self, now: i64) -> Result<(i64, i64), ApiError> {
        let window = self.window.map(|w| millis_i64(w.get()));
        let default_window = millis_i64(DEFAULT_WINDOW.get());
        let (from, to) = match (self.from, self.to, window) {
            (Some(_), Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "give at most two of `window`, `from` and `to`: the third follows from them",
                ));
            }
            (Some(f), Some(t), None) => (f.timestamp_millis(), t.timestamp_millis()),
            (Some(f), None, Some(w)) => {
                let f = f.timestamp_millis();
                (f, f.saturating_add(w))
            }
            (Some(f), None, None) => (f.timestamp_millis(), now),
            (None, t, w) => {
                let t = t.map_or(now, |t| t.timestamp_millis());
                (t.saturating_sub(w.unwrap_or(default_window)), t)
            }
        };
        if from >= to {
            return Err(ApiError::invalid(format!(
                "`from` ({}) must be before `to` ({}); a `from` alone must be in the past",
                crate::daemon::store::to_time(from).to_rfc3339(),
                crate::daemon::store::to_time(to).to_rfc3339(),
            )));
        }
        Ok((from, to))
    }
}

fn time(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    let v = v.trim();
    // An offset's `+` left unescaped in a query string arrives as a space.
    let unescaped = v
        .rsplit_once(' ')
        .map(|(time, offset)| format!("{time}+{offset}"));
    DateTime::parse_from_rfc3339(v)
        .or_else(|e| unescaped.map_or(Err(e), |u| DateTime::parse_from_rfc3339(&u)))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(format!("`{name}` takes {TIME_FORMS}, not `{v}`")))
}

fn resolution(v: &str) -> Result<i64, ApiError> {
    let wrong = || {
        let forms: Vec<&str> = RESOLUTIONS.iter().map(|(w, _)| *w).collect();
        ApiError::invalid(format!(
            "`resolution` is one of {}, not `{v}`",
            forms.join(", ")
        ))
    };
    let d: Duration = v.parse().map_err(|_| wrong())?;
    let ms = millis_i64(d.get());
    RESOLUTIONS
        .iter()
        .find(|(_, w)| *w == ms)
        .map(|(_, w)| *w)
        .ok_or_else(wrong)
}

/// The store refuses a span it will not read (too long, too many buckets) as a
/// conflict; to the caller that is a bad request, and the message says why.
fn span_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) => ApiError::invalid(m),
        other => other.into(),
    }
}

/// `GET /report`: every check of the tenant, or those named by `check`.
pub async fn tenant(
    State(state): State<Shared>,
    Caller(key): Caller,
    Span(q, _): Span<TenantSpan>,
) -> Result<axum::Json<Report>, ApiError> {
    let now = now_ms();
    let (from, to) = q.span(now)?;
    let names = (!q.checks.is_empty()).then(|| q.checks.iter().cloned().collect::<Vec<_>>());
    let _turn = turns().take().await?;
    let report = state
        .store
        .report(key.tenant_id, names, from, to, now)
        .await
        .map_err(span_error)?;
    let missing: Vec<&String> = q
        .checks
        .iter()
        .filter(|n| !report.checks.iter().any(|c| &c.check == *n))
        .collect();
    if let Some(first) = missing.first() {
        return Err(ApiError::not_found(format!(
            "no check named `{first}`{}; `uptimeping checks list` shows the names",
            if missing.len() > 1 {
                format!(" (and {} more)", missing.len() - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(axum::Json(report))
}

/// `GET /checks/{name}/report`: one check's report.
pub async fn check(
    State(state): State<Shared>,
    Caller(key): Caller,
    Path(Named { name }): Path<Named>,
    Span(q, _): Span<CheckSpan>,
) -> Result<axum::Json<Report>, ApiError> {
    let now = now_ms();
    let (from, to) = q.span(now)?;
    let _turn = turns().take().await?;
    let report = state
        .store
        .report(key.tenant_id, Some(vec![name.clone()]), from, to, now)
        .await
        .map_err(span_error)?;
    if report.checks.is_empty() {
        return Err(ApiError::not_found(format!("no check named `{name}`")));
    }
    Ok(axum::Json(report))
}

/// `GET /checks/{name}/history`: one check's buckets, oldest first.
pub async fn history(
    State(state): State<Shared>,
    Caller(key): Caller,
    Path(Named { name }): Path<Named>,
    Span(q, _): Span<HistorySpan>,
) -> Result<axum::Json<Vec<HistoryBucket>>, ApiError> {
    let now = now_ms();
    let (from, to) = q.span(now)?;
    let stored = state
        .store
        .resource(key.tenant_id, Kind::Check, name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no check named `{name}`")))?;
    if let Some(l) = &q.location {
        let listed = stored
            .as_check()
            .map(|c| c.locations.as_slice())
            .unwrap_or_default();
        if listed.len() < 2 || !listed.contains(l) {
            return Err(ApiError::not_found(format!(
                "check `{name}` has no history of its own for location `{l}`: only a check that lists several `locations` has one per location{}",
                if listed.is_empty() {
                    String::new()
                } else {
                    format!(" (it lists {})", listed.join(", "))
                }
            )));
        }
    }
    let width = q.resolution_ms.unwrap_or(DEFAULT_RESOLUTION_MS);
    let _turn = turns().take().await?;
    let location = q.location.clone().unwrap_or_default();
    let buckets = state
        .store
        .history(key.tenant_id, name, location, width, from, to, now)
        .await
        .map_err(span_error)?;
    Ok(axum::Json(buckets))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn span(raw: &str) -> Result<(i64, i64), String> {
        SpanQuery::parse(Some(raw), Takes::Checks)
            .and_then(|q| q.span(NOW))
            .map_err(|e| e.message)
    }

    fn at(ms: i64) -> String {
        crate::daemon::store::to_time(ms)
            .to_rfc3339()
            .replace('+', "%2B")
    }

    #[test]
    fn a_span_is_the_window_up_to_now_unless_from_or_to_say_otherwise() {
        assert_eq!(span(""), Ok((NOW - 24 * HOUR, NOW)));
        assert_eq!(span("window=7d"), Ok((NOW - 7 * 24 * HOUR, NOW)));
        assert_eq!(span("window=36h"), Ok((NOW - 36 * HOUR, NOW)));
        let t = NOW - 10 * HOUR;
        assert_eq!(span(&format!("to={}", at(t))), Ok((t - 24 * HOUR, t)));
        assert_eq!(span(&format!("to={}&window=1h", at(t))), Ok((t - HOUR, t)));
        assert_eq!(span(&format!("from={}", at(t))), Ok((t, NOW)));
        assert_eq!(
            span(&format!("from={}&window=1h", at(t))),
            Ok((t, t + HOUR))
        );
        assert_eq!(
            span(&format!("from={}&to={}", at(t - HOUR), at(t))),
            Ok((t - HOUR, t))
        );
        assert_eq!(
            span("from=2026-06-01T02:00:00%2B02:00&to=2026-06-01T01:00:00Z"),
            Ok((1_780_275_600_000 - HOUR, 1_780_275_600_000)),
            "offsets are honoured"
        );
        assert_eq!(
            span("from=2026-06-01T02:00:00+02:00&to=2026-06-01T01:00:00Z"),
            Ok((1_780_275_600_000 - HOUR, 1_780_275_600_000)),
            "an offset's `+` sent unescaped reads as a space"
        );
    }

    #[test]
    fn a_span_that_cannot_be_read_is_refused_with_the_forms_it_takes() {
        for bad in ["window=yesterday", "window=-1h", "window=", "window=7"] {
            let e = span(bad).expect_err(bad);
            assert!(
                e.contains("`window` takes a duration such as 1h"),
                "{bad}: {e}"
            );
        }
        assert!(
            span("window=0s")
                .expect_err("zero")
                .contains("longer than nothing")
        );
        for bad in ["from=2026-06-01", "to=June", "from=1780275600"] {
            let e = span(bad).expect_err(bad);
            assert!(e.contains("RFC 3339 time such as"), "{bad}: {e}");
        }
        let t = NOW - HOUR;
        let e = span(&format!("from={}&to={}", at(t), at(t))).expect_err("empty");
        assert!(e.contains("must be before `to`"), "{e}");
        let e = span(&format!("from={}&to={}", at(t), at(t - 1000))).expect_err("reversed");
        assert!(e.contains("must be before `to`"), "{e}");
        let e = span(&format!("from={}", at(NOW + HOUR))).expect_err("future");
        assert!(e.contains("must be before `to`"), "{e}");
        let e = span(&format!("from={}&to={}&window=1h", at(t - HOUR), at(t))).expect_err("3");
        assert!(e.contains("at most two"), "{e}");
        for twice in [
            "window=1h&window=2h",
            &format!("to={}&to={}", at(t), at(t - HOUR)),
        ] {
            let e = span(twice).expect_err(twice);
            assert!(e.contains("is given twice"), "{twice}: {e}");
        }
        let e = span("limit=3").expect_err("unknown");
        assert!(e.contains("unknown parameter `limit`"), "{e}");
    }

    #[test]
    fn a_resolution_is_one_of_the_rollup_widths() {
        let q = |raw: &str| SpanQuery::parse(Some(raw), Takes::Resolution).map(|q| q.resolution_ms);
        assert_eq!(q("resolution=1m").ok(), Some(Some(60_000)));
        assert_eq!(q("resolution=60m").ok(), Some(Some(HOUR)));
        assert_eq!(q("resolution=1d").ok(), Some(Some(24 * HOUR)));
        for bad in [
            "resolution=2m",
            "resolution=1w",
            "resolution=x",
            "resolution=0s",
        ] {
            let e = q(bad).expect_err(bad).message;
            assert!(e.contains("one of 1m, 5m, 15m, 1h, 1d"), "{bad}: {e}");
        }
        let e = SpanQuery::parse(Some("check=a"), Takes::Resolution).expect_err("check");
        assert!(
            e.message.contains("unknown parameter `check`"),
            "{}",
            e.message
        );
    }

    fn reads_what_it_documents<P: SpanParams>() {
        let unknown = SpanQuery::parse(Some("no-such=1"), P::TAKES).expect_err("unknown");
        let (documented, read) = super::super::openapi::documented_and_read::<P>(&unknown);
        assert_eq!(documented, read, "{:?}: {}", P::TAKES, unknown.message);
        for name in &documented {
            if let Err(e) = SpanQuery::parse(Some(&format!("{name}=x")), P::TAKES) {
                assert!(
                    !e.message.contains("unknown parameter"),
                    "{name}: {}",
                    e.message
                );
            }
        }
    }

    #[test]
    fn each_span_query_reads_exactly_the_parameters_the_document_shows() {
        reads_what_it_documents::<TenantSpan>();
        reads_what_it_documents::<CheckSpan>();
        reads_what_it_documents::<HistorySpan>();
    }

    #[test]
    fn a_report_names_a_bounded_number_of_checks() {
        let many: Vec<String> = (0..=MAX_NAMED_CHECKS)
            .map(|i| format!("check=c{i}"))
            .collect();
        let e = SpanQuery::parse(Some(&many.join("&")), Takes::Checks).expect_err("too many");
        assert!(e.message.contains("at most"), "{}", e.message);
        let same = vec!["check=a"; MAX_NAMED_CHECKS + 5].join("&");
        let q = SpanQuery::parse(Some(&same), Takes::Checks).expect("repeats count once");
        assert_eq!(q.checks.len(), 1);
    }
}
