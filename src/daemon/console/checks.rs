//! The checks overview and a check's page, read through the API's handlers with
//! the session's principal as the caller.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::html::{Nav, Page, Who, esc, time};
use super::{Session, failed, form};
use crate::daemon::api::openapi::{Caller, Named};
use crate::daemon::api::report::{HistorySpan, Span};
use crate::daemon::api::{ApiError, Shared, checks as api, incidents as api_incidents, report};
use crate::daemon::status::html::percent;
use crate::model::{CheckState, CheckSummary, HistoryBucket, Incident, StoredResult};
use crate::spec::Kind;

/// Runs listed on a check's page, newest first: the last few hours of a check
/// run every few minutes.
const RECENT_RUNS: u32 = 20;

/// A check's incidents listed on its page, newest first.
const RECENT_INCIDENTS: u32 = 10;

/// The parameters of `/ui/checks` a next page keeps: all the API's list takes
/// but the cursor.
const FILTERS: &[&str] = &["label", "state", "type", "limit"];

/// The states the overview can be filtered by, in the order shown.
const STATES: &[CheckState] = &[
    CheckState::Down,
    CheckState::Up,
    CheckState::Pending,
    CheckState::Paused,
    CheckState::Disabled,
];

pub(super) fn state_word(s: CheckState) -> &'static str {
    match s {
        CheckState::Pending => "pending",
        CheckState::Up => "up",
        CheckState::Down => "down",
        CheckState::Paused => "paused",
        CheckState::Disabled => "disabled",
    }
}

fn state_badge(s: CheckState) -> String {
    let w = state_word(s);
    let label = match s {
        CheckState::Pending => "Pending",
        CheckState::Up => "Up",
        CheckState::Down => "Down",
        CheckState::Paused => "Paused",
        CheckState::Disabled => "Disabled",
    };
    format!("<span class=\"badge state-{w}\">{label}</span>")
}

/// The link to a check's page.
pub(super) fn check_href(name: &str) -> String {
    format!("/ui/checks/{}", form::encode(name))
}

fn uptime(u: Option<f64>) -> String {
    match u {
        Some(u) => format!(
            "<span class=\"uptime\" data-uptime=\"{u}\">{}</span>",
            percent(u)
        ),
        None => "<span class=\"uptime\" data-uptime=\"\">—</span>".to_string(),
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "—".to_string(),
        // Below 10 ms the tenths say something (a local port, a cache).
        Some(v) if v < 10.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.0} ms"),
    }
}

/// The last result of a check, in a few words.
fn last_result(s: &CheckSummary) -> String {
    let Some(at) = &s.last_run_at else {
        return "<span class=\"muted\">not run yet</span>".to_string();
    };
    let mut out = format!("{} · {}", time(at), ms(s.last_latency_ms));
    if let Some(e) = &s.last_error {
        out.push_str(&format!("<br><span class=\"error\">{}</span>", esc(e)));
    }
    out
}

/// How many of the tenant's checks are in each state (of [`STATES`], in that
/// order), counting those the list's label and type filters in `raw` let
/// through whatever its page or state filter: the overview states the true
/// total and no down check hides on a later page.
async fn tally(
    state: &Shared,
    tenant: i64,
    raw: Option<&str>,
) -> Result<Vec<(CheckState, usize)>, ApiError> {
    let mut labels = Vec::new();
    let mut check_type = None;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "label" => {
                if let Some((lk, lv)) = v.split_once('=') {
                    labels.push((lk.to_string(), lv.to_string()));
                }
            }
            "type" => check_type = Some(v.into_owned()),
            _ => {}
        }
    }
    let resources = state.store.resources(tenant, Some(Kind::Check)).await?;
    let runtimes = state.store.check_runtimes(tenant, None).await?;
    let mut counts: Vec<(CheckState, usize)> = STATES.iter().map(|s| (*s, 0)).collect();
    for r in &resources {
        // Every row of this listing is a check: the store typed it by its kind.
        let Some(c) = r.as_check() else { continue };
        // Labels as the API's list shows and filters them: secret ones masked.
        let shown = api::shown_labels(r, c);
        if !labels
            .iter()
            .all(|(k, v)| shown.get(k).is_some_and(|x| x == v))
            || check_type
                .as_ref()
                .is_some_and(|t| c.check_type.as_str() != t)
        {
            continue;
        }
        // As the API's list derives a check's state.
        let rt = runtimes.get(&r.name);
        let s = if !c.enabled {
            CheckState::Disabled
        } else if rt.is_some_and(|rt| rt.paused) {
            CheckState::Paused
        } else {
            match rt.and_then(|rt| rt.last_up) {
                None => CheckState::Pending,
                Some(true) => CheckState::Up,
                Some(false) => CheckState::Down,
            }
        };
        if let Some((_, n)) = counts.iter_mut().find(|(st, _)| *st == s) {
            *n += 1;
        }
    }
    Ok(counts)
}

/// `/ui/checks` with the filters of `raw` other than the state and the page,
/// and `state` when given.
fn with_state(raw: Option<&str>, state: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if ["label", "type", "limit"].contains(&k.as_ref()) && !v.is_empty() {
            q.append_pair(&k, &v);
        }
    }
    if let Some(s) = state {
        q.append_pair("state", s);
    }
    let q = q.finish();
    if q.is_empty() {
        "/ui/checks".to_string()
    } else {
        format!("/ui/checks?{q}")
    }
}

/// "1 check", "2 checks".
fn checks_word(n: usize) -> String {
    if n == 1 {
        "1 check".to_string()
    } else {
        format!("{n} checks")
    }
}

/// `GET /ui/checks`: every check of the tenant with its state, the last day's
/// uptime and its last result; `?state=` filters as the API's list does.
pub(super) async fn list(
    State(state): State<Shared>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = "/ui/checks";
    let query = match api::ListQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return failed(e, path),
    };
    let chosen = url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned());
    let (checks, next) = match api::list(
        State(state.clone()),
        Caller(session.principal.clone()),
        query,
    )
    .await
    {
        Ok(p) => p.into_parts(),
        Err(e) => return failed(e, path),
    };
    let counts = match tally(&state, session.principal.tenant_id, raw.as_deref()).await {
        Ok(c) => c,
        Err(e) => return failed(e, path),
    };
    let count_of = |s: CheckState| {
        counts
            .iter()
            .find(|(st, _)| *st == s)
            .map_or(0, |(_, n)| *n)
    };
    let all: usize = counts.iter().map(|(_, n)| n).sum();
    let mut body =
        String::from("<h1>Checks</h1>\n<nav aria-label=\"Filter by state\" class=\"filters\"><ul>");
    let link = |value: Option<&str>, label: &str, n: usize| {
        let href = esc(&with_state(raw.as_deref(), value));
        let current = if chosen.as_deref() == value {
            " aria-current=\"page\""
        } else {
            ""
        };
        let state = value.map_or_else(String::new, |v| format!(" data-state=\"{v}\""));
        format!(
            "<li><a href=\"{href}\"{current}{state} data-count=\"{n}\">{label} <span class=\"count\">({n})</span></a></li>"
        )
    };
    body.push_str(&link(None, "All", all));
    for s in STATES {
        let w = state_word(*s);
        let mut label = w.to_string();
        label[..1].make_ascii_uppercase();
        body.push_str(&link(Some(w), &label, count_of(*s)));
    }
    body.push_str("</ul></nav>\n");
    let down = count_of(CheckState::Down);
    if down > 0 && chosen.as_deref() != Some("down") {
        let verb = if down == 1 { "is" } else { "are" };
        body.push_str(&format!(
            "<p class=\"alert\" role=\"alert\" data-down=\"{down}\"><a href=\"{}\">{} {verb} down</a>: see them first.</p>\n",
            esc(&with_state(raw.as_deref(), Some("down"))),
            checks_word(down),
        ));
    }
    // The total of this view: every check, or those in the state chosen.
    let total = match chosen.as_deref() {
        Some(w) => STATES
            .iter()
            .find(|s| state_word(**s) == w)
            .map_or(0, |s| count_of(*s)),
        None => all,
    };
    let caption = if checks.len() >= total && next.is_none() {
        checks_word(total)
    } else if next.is_some() {
        format!(
            "{} of {} shown; more on the next page",
            checks.len(),
            checks_word(total)
        )
    } else {
        format!("{} of {} shown", checks.len(), checks_word(total))
    };
    if checks.is_empty() {
        body.push_str("<p class=\"empty\">No checks here. Apply check files with <code>uptimeping apply -f checks/</code>.</p>\n");
    } else {
        body.push_str(&format!(
            "<div class=\"table-wrap\" role=\"region\" aria-label=\"Table of checks\" tabindex=\"0\">\n\
             <table class=\"checks\">\n<caption>{}</caption>\n\
             <thead><tr><th scope=\"col\">Check</th><th scope=\"col\">State</th><th scope=\"col\">Uptime 24 h</th><th scope=\"col\">Last result</th><th scope=\"col\">Incident</th></tr></thead>\n<tbody>\n",
            esc(&caption)
        ));
        for c in &checks {
            let incident = c.open_incident.map_or_else(String::new, |id| {
                format!("<a href=\"/ui/incidents/{id}\">#{id}</a>")
            });
            body.push_str(&format!(
                "<tr class=\"check\" data-check=\"{name}\" data-state=\"{state}\"><th scope=\"row\"><a href=\"{href}\">{name}</a><br><span class=\"muted target\">{target}</span></th>\
                 <td>{badge}</td><td>{uptime}</td><td>{last}</td><td>{incident}</td></tr>\n",
                name = esc(&c.name),
                state = state_word(c.state),
                href = esc(&check_href(&c.name)),
                target = esc(&c.target),
                badge = state_badge(c.state),
                uptime = uptime(c.uptime_24h),
                last = last_result(c),
            ));
        }
        body.push_str("</tbody>\n</table>\n</div>\n");
    }
    if let Some(cursor) = next {
        let q = form::next_page_query(raw.as_deref(), FILTERS, &cursor);
        body.push_str(&format!(
            "<p class=\"more\"><a href=\"{path}?{}\" rel=\"next\">More checks</a></p>\n",
            esc(&q)
        ));
    }
    render(&state, &session, "Checks", Nav::Checks, body)
}

/// A page of the logged-in console.
pub(super) fn render(
    state: &Shared,
    session: &Session,
    title: &str,
    nav: Nav,
    body: String,
) -> Response {
    Page {
        title: title.to_string(),
        nav,
        who: Some(Who {
            principal: &session.principal,
            tenant: &session.tenant,
            csrf: state.auth.csrf_token(&session.session_id),
        }),
        body,
    }
    .render(StatusCode::OK)
}

/// `GET /ui/checks/{name}`: the check, its last day by the hour, its recent runs
/// and its incidents.
pub(super) async fn page(
    State(state): State<Shared>,
    session: Session,
    Path(name): Path<String>,
) -> Response {
    let path = check_href(&name);
    let caller = || Caller(session.principal.clone());
    let named = || Path(Named { name: name.clone() });
    let detail = match api::get(State(state.clone()), caller(), named()).await {
        Ok(d) => d.0,
        Err(e) => return failed(e, &path),
    };
    let runs = match serde_json::from_value(json!({ "limit": RECENT_RUNS })) {
        Ok(q) => match api::results(State(state.clone()), caller(), named(), Query(q)).await {
            Ok(p) => p.into_parts().0.items,
            Err(e) => return failed(e, &path),
        },
        Err(e) => return failed(internal(e), &path),
    };
    let span = match Span::<HistorySpan>::parse(Some("window=24h&resolution=1h")) {
        Ok(s) => s,
        Err(e) => return failed(e, &path),
    };
    let hours = match report::history(State(state.clone()), caller(), named(), span).await {
        Ok(h) => h.0,
        Err(e) => return failed(e, &path),
    };
    let incidents =
        match serde_json::from_value(json!({ "check": name, "limit": RECENT_INCIDENTS })) {
            Ok(q) => match api_incidents::list(State(state.clone()), caller(), Query(q)).await {
                Ok(p) => p.into_parts().0,
                Err(e) => return failed(e, &path),
            },
            Err(e) => return failed(internal(e), &path),
        };
    let s = &detail.summary;
    let mut body = format!(
        "<h1><span class=\"muted\">Check</span> {name}</h1>\n<section class=\"summary\" aria-label=\"Summary\" data-state=\"{state}\">\n<dl class=\"facts\">\n\
         <dt>State</dt><dd>{badge}</dd>\n<dt>Target</dt><dd class=\"target\">{target}</dd>\n<dt>Type</dt><dd>{ty}</dd>\n<dt>Schedule</dt><dd>{schedule}</dd>\n\
         <dt>Uptime 24 h</dt><dd>{uptime}</dd>\n<dt>Latency p95 24 h</dt><dd>{p95}</dd>\n<dt>Last result</dt><dd>{last}</dd>\n",
        name = esc(&s.name),
        state = state_word(s.state),
        badge = state_badge(s.state),
        target = esc(&s.target),
        ty = esc(&s.check_type),
        schedule = esc(&s.schedule),
        uptime = uptime(s.uptime_24h),
        p95 = ms(s.p95_24h_ms),
        last = last_result(s),
    );
    if let Some(next) = &s.next_run_at {
        body.push_str(&format!("<dt>Next run</dt><dd>{}</dd>\n", time(next)));
    }
    if let Some(held) = &detail.alerts_held {
        body.push_str(&format!("<dt>Alerts held</dt><dd>{}</dd>\n", esc(held)));
    }
    if !s.labels.is_empty() {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| {
                format!(
                    "<li class=\"label\"><code>{}={}</code></li>",
                    esc(k),
                    esc(v)
                )
            })
            .collect();
        body.push_str(&format!(
            "<dt>Labels</dt><dd><ul class=\"labels\">{}</ul></dd>\n",
            labels.concat()
        ));
    }
    body.push_str("</dl>\n");
    if let Some(id) = s.open_incident {
        body.push_str(&format!(
            "<p class=\"open-incident\" role=\"status\">An incident is open: <a href=\"/ui/incidents/{id}\">incident #{id}</a>.</p>\n"
        ));
    }
    body.push_str("</section>\n");
    body.push_str(&hour_bars(&day_by_hour(&hours, Utc::now())));
    body.push_str(&runs_table(&runs));
    body.push_str(&incidents_of_check(&incidents));
    render(&state, &session, &s.name, Nav::Checks, body)
}

fn internal(e: serde_json::Error) -> crate::daemon::api::ApiError {
    crate::daemon::api::ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("the console built a query the API does not take: {e}"),
    )
}

/// Width of one hour's bar and the gap after it, in the SVG's units.
const BAR_WIDTH: usize = 10;
const BAR_GAP: usize = 2;
const BAR_HEIGHT: usize = 32;

/// Hours the history on a check's page shows, the current one last.
const HOURS: i64 = 24;

/// The last [`HOURS`] hours, the current one last: each hour the history has a
/// bucket for, and an empty one for each it has none for (before the check
/// existed, or while the daemon was down).
fn day_by_hour(buckets: &[HistoryBucket], now: DateTime<Utc>) -> Vec<HistoryBucket> {
    const HOUR_SECS: i64 = 3600;
    let current = now.timestamp().div_euclid(HOUR_SECS) * HOUR_SECS;
    (0..HOURS)
        .rev()
        .map(|back| current - back * HOUR_SECS)
        .map(|start| {
            buckets
                .iter()
                .find(|b| b.start.timestamp() == start)
                .cloned()
                .unwrap_or_else(|| HistoryBucket {
                    start: DateTime::from_timestamp(start, 0).unwrap_or(now),
                    runs: 0,
                    failed_runs: 0,
                    uptime: None,
                    coverage: 0.0,
                    latency: None,
                })
        })
        .collect()
}

/// The last day by the hour, as bars (each with its hour and figures as a
/// tooltip), and the same in words for those who cannot see them.
fn hour_bars(hours: &[HistoryBucket]) -> String {
    let up = hours
        .iter()
        .filter(|h| h.runs > 0 && h.failed_runs == 0)
        .count();
    let with_runs = hours.iter().filter(|h| h.runs > 0).count();
    let width = hours.len() * (BAR_WIDTH + BAR_GAP);
    let mut out = format!(
        "<section class=\"history\" aria-labelledby=\"history-h\">\n<h2 id=\"history-h\">Last 24 hours</h2>\n\
         <svg class=\"bars\" role=\"img\" aria-label=\"Uptime by hour: {up} of {with_runs} hours with runs had no failures\" viewBox=\"0 0 {width} {BAR_HEIGHT}\" preserveAspectRatio=\"none\">\n"
    );
    for (i, h) in hours.iter().enumerate() {
        let class = if h.runs == 0 {
            "none"
        } else if h.failed_runs == 0 {
            "up"
        } else if h.failed_runs >= h.runs {
            "down"
        } else {
            "degraded"
        };
        let what = match h.uptime {
            Some(u) if h.runs > 0 => format!(
                "{} up, {} runs, {} failed",
                percent(u),
                h.runs,
                h.failed_runs
            ),
            _ => "no runs".to_string(),
        };
        out.push_str(&format!(
            "<rect class=\"bar {class}\" data-hour=\"{start}\" x=\"{x}\" y=\"0\" width=\"{BAR_WIDTH}\" height=\"{BAR_HEIGHT}\"><title>{hour}: {what}</title></rect>\n",
            start = crate::daemon::status::html::rfc3339(&h.start),
            x = i * (BAR_WIDTH + BAR_GAP),
            hour = h.start.format("%H:00 UTC"),
        ));
    }
    out.push_str("</svg>\n<p class=\"legend\"><span class=\"key up\">no failures</span> <span class=\"key degraded\">some failed</span> <span class=\"key down\">all failed</span> <span class=\"key none\">no runs</span></p>\n</section>\n");
    out
}

fn runs_table(runs: &[StoredResult]) -> String {
    let mut out = String::from(
        "<section class=\"runs\" aria-labelledby=\"runs-h\">\n<h2 id=\"runs-h\">Recent runs</h2>\n",
    );
    if runs.is_empty() {
        out.push_str("<p class=\"empty\">No runs yet.</p>\n</section>\n");
        return out;
    }
    out.push_str("<div class=\"table-wrap\" role=\"region\" aria-label=\"Table of recent runs\" tabindex=\"0\">\n<table>\n<thead><tr><th scope=\"col\">Started</th><th scope=\"col\">Result</th><th scope=\"col\">Latency</th><th scope=\"col\">Code</th><th scope=\"col\">Error</th></tr></thead>\n<tbody>\n");
    for r in runs {
        let p = &r.result;
        let code = p
            .status_code
            .map(|c| c.to_string())
            .or_else(|| p.grpc_code.clone())
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr class=\"run\" data-up=\"{up}\"><td>{at}</td><td>{badge}</td><td>{lat}</td><td>{code}</td><td class=\"error\">{err}</td></tr>\n",
            up = p.up,
            at = time(&p.started_at),
            badge = if p.up { state_badge(CheckState::Up) } else { state_badge(CheckState::Down) },
            lat = ms(Some(p.latency_ms)),
            code = esc(&code),
            err = esc(p.error.as_deref().unwrap_or_default()),
        ));
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    out
}

fn incidents_of_check(incidents: &[Incident]) -> String {
    let mut out = String::from(
        "<section class=\"incidents\" aria-labelledby=\"incidents-h\">\n<h2 id=\"incidents-h\">Incidents</h2>\n",
    );
    if incidents.is_empty() {
        out.push_str("<p class=\"empty\">No incidents.</p>\n");
    } else {
        out.push_str("<ul class=\"incident-list\">\n");
        for i in incidents {
            out.push_str(&format!(
                "<li data-incident=\"{id}\" data-status=\"{status}\"><a href=\"/ui/incidents/{id}\">#{id}</a> {badge} opened {at}: <span class=\"error\">{err}</span></li>\n",
                id = i.id,
                status = i.status.as_str(),
                badge = super::incidents::status_badge(i.status),
                at = time(&i.opened_at),
                err = esc(&i.error),
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_day_has_24_hours_whatever_the_history_holds() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 16, 40, 0).unwrap();
        let bucket = |h: u32, runs, failed| HistoryBucket {
            start: Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap(),
            runs,
            failed_runs: failed,
            uptime: Some(if failed == runs { 0.0 } else { 100.0 }),
            coverage: 1.0,
            latency: None,
        };
        let day = day_by_hour(&[bucket(16, 3, 3), bucket(9, 2, 0)], now);
        assert_eq!(day.len(), 24);
        assert_eq!(
            day[23].start,
            Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap()
        );
        assert_eq!(
            day[0].start,
            Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap()
        );
        assert_eq!((day[23].runs, day[16].runs, day[15].runs), (3, 2, 0));
        let svg = hour_bars(&day);
        assert_eq!(svg.matches("<rect ").count(), 24);
        assert_eq!(svg.matches("bar none").count(), 22);
        assert!(
            svg.contains("1 of 2 hours with runs had no failures"),
            "{svg}"
        );
    }
}
