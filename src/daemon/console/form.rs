//! What the console reads from a request and writes into cookies: posted forms
//! (bounded before they are parsed), cookies, where a login may send the browser
//! next, and whether a post comes from the console's own pages.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use rand::RngExt;
use rand::distr::Alphanumeric;

use super::html;

/// The largest form body read: an incident update of 2,000 characters of any
/// script, percent-encoded (up to 12 bytes a character), with the other fields.
pub const MAX_FORM_BYTES: usize = 32 * 1024;

/// Most fields a form may have; the console's largest has four.
const MAX_FORM_FIELDS: usize = 16;

/// A posted form's fields; a repeated field keeps its first value.
#[derive(Debug, Default)]
pub(super) struct Form(HashMap<String, String>);

impl Form {
    /// `raw` (`application/x-www-form-urlencoded`) read into fields; too many
    /// fields is a 400 page.
    // The error is the page the browser gets, made once per refused request.
    #[allow(clippy::result_large_err)]
    pub(super) fn parse(raw: &[u8]) -> Result<Form, Response> {
        let mut fields = HashMap::new();
        for (i, (k, v)) in url::form_urlencoded::parse(raw).enumerate() {
            if i >= MAX_FORM_FIELDS {
                return Err(html::message(
                    StatusCode::BAD_REQUEST,
                    "Form not read",
                    "The form has more fields than any of the console's forms.",
                    Some(("/ui/checks", "Back to checks")),
                ));
            }
            fields
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Ok(Form(fields))
    }

    /// Reads `body` (at most [`MAX_FORM_BYTES`], else a 413 page) into fields.
    pub(super) async fn read(body: Body) -> Result<Form, Response> {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                html::message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Form too large",
                    &format!(
                        "The console reads forms of at most {} KiB; shorten what you typed.",
                        MAX_FORM_BYTES / 1024
                    ),
                    Some(("/ui/checks", "Back to checks")),
                )
            })?;
        Form::parse(&bytes)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A field's value, trimmed; none when absent or blank.
    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// The value of cookie `name` in `headers`, if the browser sent one.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A fresh random token of `len` letters and digits (the login form's CSRF value).
pub(super) fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `text` percent-encoded for a query value or a path segment.
pub(super) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The query of the next page of a list: every parameter of `raw` named in
/// `kept` (the list's filters, in the order given, repeats kept), then the
/// `cursor` of the next page; so page 2 lists what page 1 did.
pub(super) fn next_page_query(raw: Option<&str>, kept: &[&str], cursor: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if kept.contains(&k.as_ref()) && !v.is_empty() {
            q.append_pair(&k, &v);
        }
    }
    q.append_pair("cursor", cursor);
    q.finish()
}

/// A `Set-Cookie` value: `name=value` for `path`, HttpOnly and SameSite=Strict
/// always, Secure when the console is reached over https; `max_age` 0 clears it.
pub(super) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: u64,
    secure: bool,
) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether the browser reached the console over https: the daemon's public URL
/// says so, or the proxy in front of it does (`X-Forwarded-Proto: https`).
pub(super) fn is_https(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// Where a login may send the browser: `next` when it is a console page of this
/// daemon (after the URL's own normalisation, so that `//host`, `/\host`,
/// `%2e%2e` and the like cannot leave it), else the checks overview.
pub(super) fn next_page(next: Option<&str>) -> String {
    const HOME: &str = "/ui/checks";
    let Some(next) = next.map(str::trim).filter(|n| n.starts_with('/')) else {
        return HOME.to_string();
    };
    let Ok(base) = url::Url::parse("http://console.invalid/") else {
        return HOME.to_string();
    };
    match base.join(next) {
        Ok(u)
            if u.scheme() == "http"
                && u.host_str() == Some("console.invalid")
                && u.port().is_none()
                && u.username().is_empty()
                && (u.path() == "/ui" || u.path().starts_with("/ui/"))
                && u.path() != "/ui/login"
                && !u.path().starts_with("/ui/logout") =>
        {
            match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            }
        }
        _ => HOME.to_string(),
    }
}

/// Whether a post comes from the console's own pages: refused when the browser
/// says it comes from another site (`Sec-Fetch-Site`) or from another origin
/// (`Origin` not this daemon's: its `Host`, the proxy's `X-Forwarded-Host`, or
/// the public URL). Without either header (older browsers, scripts) the CSRF
/// token alone decides.
pub(super) fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let ok = same_origin_inner(headers, public_url);
    if !ok {
        let value = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        tracing::info!(
            origin = value("origin"),
            sec_fetch_site = value("sec-fetch-site"),
            host = value("host"),
            "console: refused a post from another site"
        );
    }
    ok
}

fn same_origin_inner(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site")
        && matches!(
            site.trim().to_ascii_lowercase().as_str(),
            "cross-site" | "same-site"
        )
    {
        return false;
    }
    // A browser sends one Origin; several are no browser's, and are refused
    // rather than guessed between.
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let (first, second) = (origins.next(), origins.next());
    if second.is_some() {
        return false;
    }
    let Some(origin) = first else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some((scheme, origin)) = authority(origin) else {
        // `null` (a sandboxed frame, a data: page) or garbage.
        return false;
    };
    let ours = |host: &str| {
        host.split(',')
            .map(str::trim)
            .filter_map(|h| authority(&format!("{scheme}://{h}")))
            .any(|(_, a)| a == origin)
    };
    value(header::HOST.as_str()).is_some_and(ours)
        || value("x-forwarded-host").is_some_and(ours)
        || public_url
            .and_then(authority)
            .is_some_and(|(_, a)| a == origin)
}

/// The scheme and `(host, port)` of an origin or URL, the port filled in from
/// the scheme when left out.
fn authority(origin: &str) -> Option<(String, (String, u16))> {
    let u = url::Url::parse(origin.trim()).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    let port = u.port_or_known_default()?;
    Some((u.scheme().to_string(), (host, port)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_next_page_keeps_the_filters_and_only_them() {
        let q = next_page_query(
            Some("status=open&cursor=old&check=a%26b&check=c&evil=1&status="),
            &["status", "check"],
            "aW5jOjQy",
        );
        assert_eq!(q, "status=open&check=a%26b&check=c&cursor=aW5jOjQy");
        assert_eq!(next_page_query(None, &["state"], "x y"), "cursor=x+y");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn next_stays_on_the_console_of_this_daemon() {
        for (given, want) in [
            ("/ui/checks/api?state=down", "/ui/checks/api?state=down"),
            ("/ui/incidents/4", "/ui/incidents/4"),
            ("/ui", "/ui"),
            // Elsewhere, or elsewhere once the URL is normalised.
            ("https://evil.example/ui/checks", "/ui/checks"),
            ("//evil.example/ui/checks", "/ui/checks"),
            ("/\\evil.example/ui/checks", "/ui/checks"),
            ("\\\\evil.example/ui/checks", "/ui/checks"),
            ("/ui/../api/v1/checks", "/ui/checks"),
            ("/ui/%2e%2e/api/v1/checks", "/ui/checks"),
            ("/ui/%2E%2E/%2e%2e/evil", "/ui/checks"),
            ("/uievil", "/ui/checks"),
            ("/ui/login", "/ui/checks"),
            ("/ui/logout", "/ui/checks"),
            ("javascript:alert(1)", "/ui/checks"),
            (" //evil.example", "/ui/checks"),
            ("/\t/evil.example/ui", "/ui/checks"),
            ("", "/ui/checks"),
        ] {
            assert_eq!(next_page(Some(given)), want, "{given:?}");
        }
        assert_eq!(next_page(None), "/ui/checks");
    }

    #[test]
    fn a_post_from_another_origin_or_site_is_told_apart() {
        let host = ("host", "127.0.0.1:8080");
        assert!(
            same_origin(&headers(&[host]), None),
            "no Origin: the token decides"
        );
        assert!(same_origin(
            &headers(&[host, ("origin", "http://127.0.0.1:8080")]),
            None
        ));
        assert!(same_origin(
            &headers(&[
                host,
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin")
            ]),
            None
        ));
        for bad in [
            vec![host, ("origin", "http://evil.example")],
            vec![host, ("origin", "http://127.0.0.1:8081")],
            vec![host, ("origin", "null")],
            vec![host, ("sec-fetch-site", "cross-site")],
            vec![host, ("sec-fetch-site", "same-site")],
            vec![("origin", "http://127.0.0.1:8080")],
            vec![
                host,
                ("origin", "http://127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ],
        ] {
            assert!(!same_origin(&headers(&bad), None), "{bad:?}");
        }
        // Behind a proxy: its host, or the public URL.
        let proxied = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "status.example.com"),
            ("origin", "https://status.example.com"),
        ]);
        assert!(same_origin(&proxied, None));
        let public = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://status.example.com"),
        ]);
        assert!(same_origin(&public, Some("https://status.example.com/")));
        assert!(!same_origin(&public, None));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[("cookie", "a=1; upt_session_x=2; upt_session=abc ; b=")]);
        assert_eq!(cookie(&h, "upt_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn a_form_keeps_the_first_of_a_repeated_field_and_bounds_the_count() {
        let f = Form::parse(b"csrf=one&csrf=two&msg=a+%3Cb%3E").unwrap();
        assert_eq!(f.get("csrf"), Some("one"));
        assert_eq!(f.get("msg"), Some("a <b>"));
        let many: String = (0..=MAX_FORM_FIELDS).map(|i| format!("f{i}=x&")).collect();
        let res = Form::parse(many.as_bytes()).unwrap_err();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_cookie_is_secure_only_over_https() {
        let c = set_cookie("upt_session", "v", "/ui", 60, false);
        assert_eq!(
            c,
            "upt_session=v; Path=/ui; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert!(set_cookie("a", "v", "/ui", 60, true).ends_with("; Secure"));
        assert!(is_https(&headers(&[("x-forwarded-proto", "https")]), None));
        assert!(is_https(&HeaderMap::new(), Some("https://up.example.com")));
        assert!(!is_https(&HeaderMap::new(), Some("http://up.example.com")));
    }
}
