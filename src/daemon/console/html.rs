//! The console's HTML: one layout (header with navigation and who is logged in,
//! main, footer), pages of a message or an error, and the pieces every page
//! uses. All text from a tenant goes through [`esc`]; nothing is inline-styled
//! or scripted, so the content security policy can forbid both.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::super::api::ApiError;
use super::super::status::html::{escape, rfc3339};
use crate::daemon::store::Principal;

/// `text` escaped for HTML text and attribute values.
pub(super) fn esc(text: &str) -> String {
    escape(text)
}

/// A time as people read it, in UTC, inside `<time datetime>`.
pub(super) fn time(t: &DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        rfc3339(t),
        t.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// The hidden CSRF field of a form posted by a logged-in person.
pub(super) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// Which part of the console a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Checks,
    Incidents,
    None,
}

/// Who is logged in, for the header: the principal, the name of its tenant and
/// the CSRF token of the logout form.
pub(super) struct Who<'a> {
    pub principal: &'a Principal,
    pub tenant: &'a str,
    pub csrf: String,
}

/// A whole page.
pub(super) struct Page<'a> {
    pub title: String,
    pub nav: Nav,
    pub who: Option<Who<'a>>,
    pub body: String,
}

impl Page<'_> {
    pub(super) fn render(self, status: StatusCode) -> Response {
        let mut out = String::with_capacity(self.body.len() + 2048);
        out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
        // The tenant in the title too: tabs of two tenants tell themselves apart.
        let tenant = self
            .who
            .as_ref()
            .map_or_else(String::new, |w| format!(" · {}", esc(w.tenant)));
        out.push_str(&format!(
            "<title>{}{tenant} · uptimeping console</title>\n",
            esc(&self.title)
        ));
        out.push_str("<link rel=\"stylesheet\" href=\"/ui/console.css\">\n</head>\n<body>\n");
        out.push_str("<a class=\"skip\" href=\"#main\">Skip to the content</a>\n");
        out.push_str("<header class=\"top\">\n<a class=\"brand\" href=\"/ui\">uptimeping</a>\n");
        if let Some(who) = &self.who {
            out.push_str("<nav aria-label=\"Console\"><ul>");
            for (nav, href, label) in [
                (Nav::Checks, "/ui/checks", "Checks"),
                (Nav::Incidents, "/ui/incidents", "Incidents"),
            ] {
                let current = if nav == self.nav {
                    " aria-current=\"page\""
                } else {
                    ""
                };
                out.push_str(&format!("<li><a href=\"{href}\"{current}>{label}</a></li>"));
            }
            out.push_str("</ul></nav>\n");
            out.push_str(&format!(
                "<div class=\"who\"><span class=\"name\">{}</span> <span aria-hidden=\"true\">·</span> <span class=\"tenant\" data-tenant=\"{tenant}\" title=\"Tenant\">{tenant}</span> <span aria-hidden=\"true\">·</span> <span class=\"role\" data-role=\"{role}\">{role}</span>\n\
                 <form method=\"post\" action=\"/ui/logout\" class=\"logout\">{}<button type=\"submit\">Log out</button></form></div>\n",
                esc(&who.principal.name),
                csrf_field(&who.csrf),
                tenant = esc(who.tenant),
                role = who.principal.role,
            ));
        }
        out.push_str("</header>\n<main id=\"main\">\n");
        out.push_str(&self.body);
        out.push_str("\n</main>\n<footer><p>Times are in UTC.</p></footer>\n</body>\n</html>\n");
        let mut res = (status, out).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        res
    }
}

/// A page with one message and a link onwards.
pub(super) fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let mut body = format!(
        "<section class=\"message\" data-status=\"{}\">\n<h1>{}</h1>\n<p>{}</p>\n",
        status.as_u16(),
        esc(title),
        esc(text)
    );
    if let Some((href, label)) = link {
        body.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            esc(href),
            esc(label)
        ));
    }
    body.push_str("</section>");
    super::secure(
        Page {
            title: title.to_string(),
            nav: Nav::None,
            who: None,
            body,
        }
        .render(status),
    )
}

/// An error of the API, as a page with its status and message.
pub(super) fn error(e: &ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not done",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => "Something went wrong",
        _ => "Not done",
    };
    if e.status.is_server_error() {
        tracing::error!(code = e.code, "console: {}", e.message);
    }
    message(
        e.status,
        title,
        &e.message,
        Some(("/ui/checks", "Back to checks")),
    )
}

/// The stylesheet, embedded in the binary.
const STYLESHEET: &str = include_str!("console.css");

/// How long a browser keeps the stylesheet before asking again (with its ETag):
/// an upgrade's new look shows within the hour.
const STYLESHEET_MAX_AGE_SECS: u32 = 3600;

fn stylesheet_etag() -> &'static str {
    static ETAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ETAG.get_or_init(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(STYLESHEET.as_bytes());
        format!("\"{}\"", hex::encode(&digest[..8]))
    })
}

pub(super) async fn stylesheet(headers: HeaderMap) -> Response {
    let etag = stylesheet_etag();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, STYLESHEET).into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={STYLESHEET_MAX_AGE_SECS}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_utc_and_machine_readable() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 16, 5, 9).unwrap();
        assert_eq!(
            time(&t),
            "<time datetime=\"2026-12-01T16:05:09Z\">2026-12-01 16:05:09 UTC</time>"
        );
    }

    #[test]
    fn a_message_page_escapes_what_it_is_given() {
        let res = message(
            StatusCode::CONFLICT,
            "<t>",
            "incident `<script>alert(1)</script>` \"x\"",
            None,
        );
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let body = body_text(res);
        assert!(!body.contains("<script>"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{body}"
        );
        assert!(body.contains("<title>&lt;t&gt; · uptimeping console</title>"));
    }

    pub(crate) fn body_text(res: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let bytes = rt
            .block_on(axum::body::to_bytes(res.into_body(), usize::MAX))
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }
}
