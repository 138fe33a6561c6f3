//! Incidents: the list, an incident's page with its timeline, and, for
//! operators, acknowledging, resolving and posting updates, each through the
//! API's handler of the same action.

use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::checks::{check_href, render};
use super::html::{Nav, csrf_field, esc, time};
use super::{Session, failed, form, posted, see_other};
use crate::daemon::api::audit::Source;
use crate::daemon::api::incidents as api;
use crate::daemon::api::openapi::{Caller, Numbered};
use crate::daemon::api::{ApiError, ApiJson, Shared};
use crate::incident::Action;
use crate::model::Role;
use crate::model::{Incident, IncidentEvent, IncidentStatus, UpdateRequest, UpdateStatus};

/// Incidents listed per page.
const PAGE: u32 = 50;

/// The parameters of `/ui/incidents` a next page keeps: all it takes but the
/// cursor.
const FILTERS: &[&str] = &["status", "check"];

/// The filters of the list, in the order shown.
const STATUSES: &[IncidentStatus] = &[
    IncidentStatus::Open,
    IncidentStatus::Acknowledged,
    IncidentStatus::Resolved,
];

pub(super) fn status_badge(s: IncidentStatus) -> String {
    let label = match s {
        IncidentStatus::Open => "Open",
        IncidentStatus::Acknowledged => "Acknowledged",
        IncidentStatus::Resolved => "Resolved",
    };
    format!(
        "<span class=\"badge incident-{}\">{label}</span>",
        s.as_str()
    )
}

/// An incident's number from its path: anything else is no incident.
fn number(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))
}

/// `GET /ui/incidents`: newest first; `?status=` filters, `?cursor=` pages.
pub(super) async fn list(
    State(state): State<Shared>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = "/ui/incidents";
    let mut filter = serde_json::Map::new();
    filter.insert("limit".into(), json!(PAGE));
    let mut chosen = None;
    for (k, v) in url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "status" if !v.is_empty() => {
                chosen = Some(v.to_string());
                filter.insert("status".into(), json!(v));
            }
            "cursor" | "check" if !v.is_empty() => {
                filter.insert(k.into_owned(), json!(v));
            }
            _ => {}
        }
    }
    let query = match serde_json::from_value(Value::Object(filter)) {
        Ok(q) => q,
        Err(_) => {
            return failed(
                ApiError::invalid("`status` is open, acknowledged or resolved"),
                path,
            );
        }
    };
    let (incidents, next) = match api::list(
        State(state.clone()),
        Caller(session.principal.clone()),
        Query(query),
    )
    .await
    {
        Ok(p) => p.into_parts(),
        Err(e) => return failed(e, path),
    };
    let mut body = String::from(
        "<h1>Incidents</h1>\n<nav aria-label=\"Filter by status\" class=\"filters\"><ul>",
    );
    let link = |value: Option<&str>, label: &str| {
        let href = value.map_or_else(|| path.to_string(), |v| format!("{path}?status={v}"));
        let current = if chosen.as_deref() == value {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<li><a href=\"{href}\"{current}>{label}</a></li>")
    };
    body.push_str(&link(None, "All"));
    for s in STATUSES {
        let mut label = s.as_str().to_string();
        label[..1].make_ascii_uppercase();
        body.push_str(&link(Some(s.as_str()), &label));
    }
    body.push_str("</ul></nav>\n");
    if incidents.is_empty() {
        body.push_str("<p class=\"empty\">No incidents.</p>\n");
    } else {
        body.push_str("<div class=\"table-wrap\" role=\"region\" aria-label=\"Table of incidents\" tabindex=\"0\">\n<table class=\"incidents\">\n\
             <thead><tr><th scope=\"col\">Incident</th><th scope=\"col\">Check</th><th scope=\"col\">Status</th><th scope=\"col\">Severity</th><th scope=\"col\">Opened</th><th scope=\"col\">Error</th></tr></thead>\n<tbody>\n");
        for i in &incidents {
            body.push_str(&format!(
                "<tr class=\"incident\" data-incident=\"{id}\" data-status=\"{status}\"><th scope=\"row\"><a href=\"/ui/incidents/{id}\">#{id}</a></th>\
                 <td><a href=\"{check_href}\">{check}</a></td><td>{badge}</td><td>{severity}</td><td>{opened}</td><td class=\"error\">{error}</td></tr>\n",
                id = i.id,
                status = i.status.as_str(),
                check_href = esc(&check_href(&i.check)),
                check = esc(&i.check),
                badge = status_badge(i.status),
                severity = esc(&severity(i)),
                opened = time(&i.opened_at),
                error = esc(&i.error),
            ));
        }
        body.push_str("</tbody>\n</table>\n</div>\n");
    }
    if let Some(cursor) = next {
        let q = form::next_page_query(raw.as_deref(), FILTERS, &cursor);
        body.push_str(&format!(
            "<p class=\"more\"><a href=\"{path}?{}\" rel=\"next\">Older incidents</a></p>\n",
            esc(&q)
        ));
    }
    render(&state, &session, "Incidents", Nav::Incidents, body)
}

fn severity(i: &Incident) -> String {
    serde_json::to_value(i.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `GET /ui/incidents/{id}`.
pub(super) async fn page(
    State(state): State<Shared>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let path = format!("/ui/incidents/{}", form::encode(&id));
    let id = match number(&id) {
        Ok(n) => n,
        Err(e) => return failed(e, &path),
    };
    let detail = match api::get(
        State(state.clone()),
        Caller(session.principal.clone()),
        Path(Numbered { id }),
    )
    .await
    {
        Ok(d) => d.0,
        Err(e) => return failed(e, &path),
    };
    let i = &detail.incident;
    let mut body = format!(
        "<h1>Incident #{id} <span class=\"muted\">of</span> <a href=\"{href}\">{check}</a></h1>\n\
         <section class=\"summary\" aria-label=\"Summary\" data-status=\"{status}\">\n<dl class=\"facts\">\n\
         <dt>Status</dt><dd class=\"status\">{badge}</dd>\n<dt>Severity</dt><dd>{severity}</dd>\n<dt>Kind</dt><dd>{kind}</dd>\n\
         <dt>Error</dt><dd class=\"error\">{error}</dd>\n<dt>Failed runs</dt><dd>{count}</dd>\n<dt>Opened</dt><dd>{opened}</dd>\n",
        href = esc(&check_href(&i.check)),
        check = esc(&i.check),
        status = i.status.as_str(),
        badge = status_badge(i.status),
        severity = esc(&severity(i)),
        kind = i.kind.as_str(),
        error = esc(&i.error),
        count = i.count,
        opened = time(&i.opened_at),
    );
    if let Some(at) = &i.acknowledged_at {
        body.push_str(&format!(
            "<dt>Acknowledged</dt><dd class=\"acknowledged\">{} by {}</dd>\n",
            time(at),
            esc(i.acknowledged_by.as_deref().unwrap_or("?"))
        ));
    }
    if let Some(at) = &i.resolved_at {
        body.push_str(&format!(
            "<dt>Resolved</dt><dd class=\"resolved\">{} by {}</dd>\n",
            time(at),
            esc(i.resolved_by.as_deref().unwrap_or("?"))
        ));
    }
    body.push_str("</dl>\n</section>\n");
    if session.operates() {
        body.push_str(&actions(&state, &session, i));
    }
    body.push_str(&timeline(&detail.events));
    render(
        &state,
        &session,
        &format!("Incident #{id}"),
        Nav::Incidents,
        body,
    )
}

/// The forms of an operator: acknowledge (while open), resolve and post an
/// update (while not resolved; a note on a resolved one is still an update).
fn actions(state: &Shared, session: &Session, i: &Incident) -> String {
    let csrf = csrf_field(&state.auth.csrf_token(&session.session_id));
    let id = i.id;
    let mut out = String::from(
        "<section class=\"actions\" aria-labelledby=\"actions-h\">\n<h2 id=\"actions-h\">Act on it</h2>\n",
    );
    if i.status == IncidentStatus::Open {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/ui/incidents/{id}/ack\" class=\"stack action\" id=\"ack\">{csrf}\n\
             <label for=\"ack-comment\">Comment <span class=\"hint\">(optional)</span></label>\n\
             <input id=\"ack-comment\" name=\"comment\" type=\"text\" maxlength=\"2000\">\n\
             <button type=\"submit\">Acknowledge</button>\n</form>\n"
        ));
    }
    if i.status != IncidentStatus::Resolved {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/ui/incidents/{id}/resolve\" class=\"stack action\" id=\"resolve\">{csrf}\n\
             <label for=\"resolve-comment\">Comment <span class=\"hint\">(optional)</span></label>\n\
             <input id=\"resolve-comment\" name=\"comment\" type=\"text\" maxlength=\"2000\">\n\
             <button type=\"submit\">Resolve</button>\n</form>\n"
        ));
    }
    let statuses = if i.status == IncidentStatus::Resolved {
        String::new()
    } else {
        let options: Vec<String> = [
            UpdateStatus::Investigating,
            UpdateStatus::Identified,
            UpdateStatus::Monitoring,
        ]
        .iter()
        .map(|s| format!("<option value=\"{0}\">{0}</option>", s.as_str()))
        .collect();
        format!(
            "<label for=\"update-status\">Where the work stands</label>\n\
             <select id=\"update-status\" name=\"status\"><option value=\"\">as before</option>{}</select>\n",
            options.concat()
        )
    };
    out.push_str(&format!(
        "<form method=\"post\" action=\"/ui/incidents/{id}/updates\" class=\"stack action\" id=\"update\">{csrf}\n\
         <label for=\"update-message\">Update for the people its channels reach</label>\n\
         <textarea id=\"update-message\" name=\"message\" required maxlength=\"2000\" rows=\"3\"></textarea>\n\
         {statuses}<button type=\"submit\">Post the update</button>\n</form>\n</section>\n"
    ));
    out
}

/// What an event's detail says, in words: an update's status and message, an
/// action's comment, an escalation's severities; anything else as JSON.
fn detail_text(e: &IncidentEvent) -> String {
    let Some(obj) = e.detail.as_object() else {
        return String::new();
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut parts = Vec::new();
    if let Some(s) = text("status") {
        parts.push(format!("<span class=\"update-status\">{}</span>", esc(s)));
    }
    for key in ["message", "comment", "error"] {
        if let Some(m) = text(key) {
            parts.push(format!("<span class=\"{key}\">{}</span>", esc(m)));
        }
    }
    if let (Some(from), Some(to)) = (text("from"), text("to")) {
        parts.push(format!("{} → {}", esc(from), esc(to)));
    }
    if parts.is_empty() {
        let rest: serde_json::Map<String, Value> = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            parts.push(format!(
                "<code>{}</code>",
                esc(&Value::Object(rest).to_string())
            ));
        }
    }
    parts.join(" — ")
}

fn timeline(events: &[IncidentEvent]) -> String {
    let mut out = String::from(
        "<section class=\"timeline\" aria-labelledby=\"timeline-h\">\n<h2 id=\"timeline-h\">Timeline</h2>\n<ol class=\"timeline\">\n",
    );
    for e in events {
        let detail = detail_text(e);
        out.push_str(&format!(
            "<li data-event=\"{kind}\">{at} <strong>{kind}</strong> <span class=\"actor\">{actor}</span>{sep}{detail}</li>\n",
            kind = esc(&e.kind),
            at = time(&e.at),
            actor = esc(&e.actor),
            sep = if detail.is_empty() { "" } else { ": " },
        ));
    }
    out.push_str("</ol>\n</section>\n");
    out
}

/// What an operator's post on an incident does, once its form is read.
enum Act {
    /// Acknowledge or resolve, as the API and chat buttons do.
    Do(Action),
    Update,
}

async fn act(state: Shared, session: Session, id: String, req: Request, what: Act) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let from = crate::daemon::api::source(&parts.extensions);
    let form = match posted(&state, &session, &parts, body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    if let Err(res) = session.require(Role::Operator, &path) {
        return res;
    }
    let id = match number(&id) {
        Ok(n) => n,
        Err(e) => return failed(e, &path),
    };
    let caller = Caller(session.principal.clone());
    let at = Path(Numbered { id });
    let comment = form.text("comment");
    let done = match what {
        Act::Do(action) => {
            let who = api::Actor::of(&session.principal, from);
            api::act(&state, &who, action, id, comment.as_deref())
                .await
                .map(|_| ())
        }
        Act::Update => {
            let status = match form.text("status").map(|s| {
                serde_json::from_value::<UpdateStatus>(Value::String(s.clone())).map_err(|_| {
                    ApiError::invalid(format!(
                        "unknown status `{s}`; expected investigating, identified or monitoring"
                    ))
                })
            }) {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => return failed(e, &path),
            };
            let message = form.get("message").unwrap_or_default().to_string();
            api::update(
                State(state.clone()),
                caller,
                Source(from),
                at,
                ApiJson(UpdateRequest { message, status }),
            )
            .await
            .map(|_| ())
        }
    };
    match done {
        Ok(()) => see_other(&format!("/ui/incidents/{id}")),
        Err(e) => failed(e, &path),
    }
}

/// `POST /ui/incidents/{id}/ack`.
pub(super) async fn ack(
    State(state): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    act(state, session, id, req, Act::Do(Action::Acknowledge)).await
}

/// `POST /ui/incidents/{id}/resolve`.
pub(super) async fn resolve(
    State(state): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    act(state, session, id, req, Act::Do(Action::Resolve)).await
}

/// `POST /ui/incidents/{id}/updates`.
pub(super) async fn update(
    State(state): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    act(state, session, id, req, Act::Update).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn event(kind: &str, detail: Value) -> IncidentEvent {
        IncidentEvent {
            id: 1,
            incident_id: 1,
            at: chrono::Utc::now(),
            kind: kind.into(),
            actor: "user:<b>@example.com".into(),
            detail,
        }
    }

    #[test]
    fn the_timeline_escapes_messages_comments_and_actors() {
        let html = timeline(&[
            event(
                "update",
                json!({"status": "investigating", "message": "<script>alert(1)</script>"}),
            ),
            event(
                "acknowledged",
                json!({"comment": "\"><img src=x onerror=alert(1)>"}),
            ),
            event("<odd>", json!({"weird": "<x>"})),
        ]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("<odd>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("data-event=\"&lt;odd&gt;\""), "{html}");
        assert!(html.contains("&lt;x&gt;"), "{html}");
    }

    #[test]
    fn only_positive_numbers_name_incidents() {
        assert_eq!(number("12").ok(), Some(12));
        for bad in ["0", "-1", "1e3", "x", "", "99999999999999999999"] {
            assert_eq!(
                number(bad).map_err(|e| e.status).err(),
                Some(StatusCode::NOT_FOUND),
                "{bad}"
            );
        }
    }
}
