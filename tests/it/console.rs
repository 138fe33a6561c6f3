//! The web console over real HTTP against a real daemon: logging in and out
//! (the cookie's attributes, wrong passwords, the login form's CSRF cookie,
//! `next`), the CSRF token and origin checks of every form, what viewers and
//! operators may see and do, hostile text escaped, and every `/ui` rule of the
//! access table answered as its role says.

use std::collections::HashMap;

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::daemon_support::{Daemon, plan_request, wait_for};
use uptimeping::daemon::api::access::{Access, RULES};
use uptimeping::model::Role;

/// The passwords of the test's people: long enough and mixed, as the rules ask.
pub const PASSWORD: &str = "Correct-Horse-42";
pub const OPERATOR: &str = "olga@example.com";
pub const VIEWER: &str = "viktor@example.com";

/// The check that fails: a TCP check of a port nothing listens on.
pub const CHECK: &str = "db";

/// Text a tenant controls, meant to break out of HTML if it were not escaped.
const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;";

/// A port on 127.0.0.1 that refuses connections: bound, then let go.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// An answer read whole.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    fn from(res: Response) -> Answer {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    /// The `Set-Cookie` of `name`, if the answer sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A browser without JavaScript: keeps its cookies, follows no redirect.
pub struct Browser {
    origin: String,
    client: Client,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new(d: &Daemon) -> Browser {
        Browser {
            origin: d.url.clone(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("client"),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, a: &Answer) {
        for c in a.set_cookies() {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
    }

    pub fn get(&mut self, path: &str) -> Answer {
        let res = self
            .client
            .get(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .send()
            .expect("GET");
        let a = Answer::from(res);
        self.keep(&a);
        a
    }

    /// Posts `fields` as a form, as the console's own page would (with its
    /// `Origin`), plus `extra` headers.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)], extra: &[(&str, &str)]) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut req = self
            .client
            .post(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        // The page's own origin, unless the test forges another.
        if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("origin")) {
            req = req.header("origin", &self.origin);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let a = Answer::from(req.send().expect("POST"));
        self.keep(&a);
        a
    }

    /// Logs in through the form; the answer to the post.
    pub fn login_with(&mut self, email: &str, password: &str, next: Option<&str>) -> Answer {
        let page = self.get("/ui/login");
        assert_eq!(page.status, 200, "GET /ui/login: {}", page.body);
        let csrf = csrf_of(&page.body);
        let mut fields = vec![("email", email), ("password", password), ("csrf", &csrf)];
        if let Some(n) = next {
            fields.push(("next", n));
        }
        self.post("/ui/login", &fields, &[])
    }

    pub fn login(&mut self, email: &str) {
        let a = self.login_with(email, PASSWORD, None);
        assert_eq!(a.status, 303, "login of {email}: {}", a.body);
    }

    /// The CSRF token of this session's forms, from a page's logout form.
    pub fn csrf(&mut self) -> String {
        let page = self.get("/ui/checks");
        assert_eq!(page.status, 200, "{}", page.body);
        csrf_of(&page.body)
    }
}

/// The value of the first hidden `csrf` field of `html`.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in:\n{html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

/// A daemon with an operator and a viewer, the failing check (with hostile
/// labels), and its open incident; the incident's id.
pub struct Setup {
    pub d: Daemon,
    pub incident: i64,
}

pub fn setup() -> Setup {
    let d = Daemon::start(&[]);
    for (email, role) in [(OPERATOR, "operator"), (VIEWER, "viewer")] {
        d.post(
            "/api/v1/users",
            &json!({"email": email, "role": role, "password": PASSWORD}),
        );
    }
    let yaml = format!(
        "kind: Check\nname: {CHECK}\ntype: tcp\ntarget: 127.0.0.1:{}\nschedule: 1h\nlabels:\n  note: {}\n",
        closed_port(),
        serde_json::to_string(HOSTILE).unwrap()
    );
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
    let incident = wait_for("the check's incident to open", || {
        d.post(&format!("/api/v1/checks/{CHECK}/run"), &json!({}));
        d.get("/api/v1/incidents")
            .as_array()
            .and_then(|is| {
                is.iter()
                    .find(|i| i["check"] == CHECK && i["status"] == "open")
            })
            .and_then(|i| i["id"].as_i64())
    });
    Setup { d, incident }
}

fn incident_status(d: &Daemon, id: i64) -> Value {
    d.get(&format!("/api/v1/incidents/{id}"))["status"].clone()
}

#[test]
fn login_sets_a_strict_http_only_cookie_for_the_console_only() {
    let s = setup();
    let mut b = Browser::new(&s.d);
    let a = b.login_with(OPERATOR, PASSWORD, None);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location(), "/ui/checks");
    let cookie = a.set_cookie("upt_session").expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(
            cookie.split("; ").any(|p| p == attr),
            "{attr} missing: {cookie}"
        );
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure: {cookie}"
    );
    let page = b.get("/ui/checks");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(OPERATOR),
        "the header names who is logged in"
    );

    // Behind a proxy that says the browser came over https, the cookie is Secure.
    let mut b = Browser::new(&s.d);
    let page = b.get("/ui/login");
    let csrf = csrf_of(&page.body);
    let a = b.post(
        "/ui/login",
        &[("email", VIEWER), ("password", PASSWORD), ("csrf", &csrf)],
        &[("x-forwarded-proto", "https")],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let cookie = a.set_cookie("upt_session").expect("a session cookie");
    assert!(cookie.split("; ").any(|p| p == "Secure"), "{cookie}");
}

#[test]
fn a_wrong_password_or_unknown_email_shows_the_form_again_without_a_cookie() {
    let s = setup();
    let mut answers = Vec::new();
    for (email, password) in [
        (OPERATOR, "Wrong-Horse-42"),
        ("nobody@example.com", PASSWORD),
    ] {
        let mut b = Browser::new(&s.d);
        let a = b.login_with(email, password, None);
        assert_eq!(a.status, 401, "{}", a.body);
        assert!(
            a.set_cookie("upt_session").is_none(),
            "{:?}",
            a.set_cookies()
        );
        assert!(
            a.body.contains("role=\"alert\""),
            "the error is announced: {}",
            a.body
        );
        assert!(a.body.contains("name=\"password\""), "the form again");
        assert!(
            a.body.contains(&format!("value=\"{email}\"")),
            "the email kept"
        );
        assert_eq!(b.get("/ui/checks").status, 303, "still not logged in");
        let problem = a
            .body
            .split("role=\"alert\"")
            .nth(1)
            .unwrap_or("")
            .to_string();
        answers.push(problem[..problem.find("</p>").unwrap_or(0)].to_string());
    }
    assert_eq!(
        answers[0], answers[1],
        "the same answer: no user enumeration"
    );
}

#[test]
fn the_login_form_refuses_a_post_without_its_cookie_or_from_another_site() {
    let s = setup();
    // No form cookie (a login CSRF: another site posting its own credentials).
    let mut b = Browser::new(&s.d);
    let a = b.post(
        "/ui/login",
        &[
            ("email", OPERATOR),
            ("password", PASSWORD),
            ("csrf", "x".repeat(32).as_str()),
        ],
        &[],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.set_cookie("upt_session").is_none());
    // The right cookie and field, but from another origin.
    let mut b = Browser::new(&s.d);
    let csrf = csrf_of(&b.get("/ui/login").body);
    for extra in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let a = b.post(
            "/ui/login",
            &[("email", OPERATOR), ("password", PASSWORD), ("csrf", &csrf)],
            &[extra],
        );
        assert_eq!(a.status, 403, "{extra:?}: {}", a.body);
        assert!(a.set_cookie("upt_session").is_none(), "{extra:?}");
    }
}

#[test]
fn next_brings_the_browser_back_only_to_a_console_page() {
    let s = setup();
    // A page asked for without a session goes to the login form and comes back.
    let mut b = Browser::new(&s.d);
    let a = b.get(&format!("/ui/incidents/{}", s.incident));
    assert_eq!(a.status, 303);
    assert_eq!(
        a.location(),
        format!("/ui/login?next=%2Fui%2Fincidents%2F{}", s.incident)
    );
    let a = b.login_with(
        OPERATOR,
        PASSWORD,
        Some(&format!("/ui/incidents/{}", s.incident)),
    );
    assert_eq!(a.location(), format!("/ui/incidents/{}", s.incident));
    for evil in [
        "https://evil.example/ui/checks",
        "//evil.example/ui/checks",
        "/\\evil.example",
        "/ui/%2e%2e/api/v1/checks",
    ] {
        let mut b = Browser::new(&s.d);
        let form = b.get(&format!(
            "/ui/login?next={}",
            url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
        ));
        assert!(!form.body.contains("evil.example"), "{evil}: {}", form.body);
        let a = b.login_with(VIEWER, PASSWORD, Some(evil));
        assert_eq!((a.status, a.location()), (303, "/ui/checks"), "{evil}");
    }
}

#[test]
fn logout_ends_the_session_and_its_old_cookie_goes_to_the_login_form() {
    let s = setup();
    let mut b = Browser::new(&s.d);
    assert_eq!(b.get("/ui").location(), "/ui/login");
    b.login(VIEWER);
    assert_eq!(b.get("/ui").location(), "/ui/checks");
    let old = b.cookies["upt_session"].clone();
    let csrf = b.csrf();
    // Without the token, logging out is refused like any other form.
    assert_eq!(b.post("/ui/logout", &[], &[]).status, 403);
    let a = b.post("/ui/logout", &[("csrf", &csrf)], &[]);
    assert_eq!((a.status, a.location()), (303, "/ui/login"), "{}", a.body);
    let cleared = a.set_cookie("upt_session").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, sent again (as a thief would), no longer works.
    let mut thief = Browser::new(&s.d);
    thief.cookies.insert("upt_session".into(), old);
    let a = thief.get("/ui/checks");
    assert_eq!(
        (a.status, a.location()),
        (303, "/ui/login?next=%2Fui%2Fchecks")
    );
}

#[test]
fn a_post_without_the_right_csrf_token_or_from_another_site_changes_nothing() {
    let s = setup();
    let path = format!("/ui/incidents/{}/ack", s.incident);
    let mut viewer = Browser::new(&s.d);
    viewer.login(VIEWER);
    let viewers_token = viewer.csrf();
    let mut b = Browser::new(&s.d);
    b.login(OPERATOR);
    let token = b.csrf();
    for (what, fields, extra) in [
        ("no token", vec![], vec![]),
        ("an empty token", vec![("csrf", String::new())], vec![]),
        ("a wrong token", vec![("csrf", "0".repeat(64))], vec![]),
        (
            "another session's token",
            vec![("csrf", viewers_token.clone())],
            vec![],
        ),
        (
            "another origin",
            vec![("csrf", token.clone())],
            vec![("origin", "http://evil.example")],
        ),
        (
            "origin null",
            vec![("csrf", token.clone())],
            vec![("origin", "null")],
        ),
        (
            "a cross-site fetch",
            vec![("csrf", token.clone())],
            vec![("sec-fetch-site", "cross-site")],
        ),
    ] {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v): &(&str, String)| (*k, v.as_str()))
            .collect();
        let a = b.post(&path, &fields, &extra);
        assert_eq!(a.status, 403, "{what}: {}", a.body);
        assert!(a.body.contains("nothing was done"), "{what}: {}", a.body);
        assert_eq!(incident_status(&s.d, s.incident), "open", "{what}");
    }
    let a = b.post(&path, &[("csrf", &token)], &[]);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(incident_status(&s.d, s.incident), "acknowledged");
}

#[test]
fn viewers_see_no_forms_and_their_posts_are_refused() {
    let s = setup();
    let page_of = format!("/ui/incidents/{}", s.incident);
    let mut viewer = Browser::new(&s.d);
    viewer.login(VIEWER);
    let page = viewer.get(&page_of);
    assert_eq!(page.status, 200, "{}", page.body);
    for action in ["ack", "resolve", "updates"] {
        assert!(
            !page.body.contains(&format!("{page_of}/{action}")),
            "a viewer sees the {action} form"
        );
    }
    let token = csrf_of(&page.body);
    for action in ["ack", "resolve", "updates"] {
        let a = viewer.post(
            &format!("{page_of}/{action}"),
            &[("csrf", &token), ("message", "forged")],
            &[],
        );
        assert_eq!(a.status, 403, "{action}: {}", a.body);
        assert!(
            a.body.contains("operator"),
            "names the role needed: {}",
            a.body
        );
    }
    assert_eq!(incident_status(&s.d, s.incident), "open");

    let mut operator = Browser::new(&s.d);
    operator.login(OPERATOR);
    let page = operator.get(&page_of);
    for action in ["ack", "resolve", "updates"] {
        assert!(
            page.body
                .contains(&format!("action=\"{page_of}/{action}\"")),
            "{action}"
        );
    }
}

#[test]
fn an_operator_acknowledges_updates_and_resolves_as_themselves() {
    let s = setup();
    let page_of = format!("/ui/incidents/{}", s.incident);
    let mut b = Browser::new(&s.d);
    b.login(OPERATOR);
    let token = b.csrf();
    let a = b.post(
        &format!("{page_of}/ack"),
        &[("csrf", &token), ("comment", "looking")],
        &[],
    );
    assert_eq!(
        (a.status, a.location()),
        (303, page_of.as_str()),
        "{}",
        a.body
    );
    let a = b.post(
        &format!("{page_of}/updates"),
        &[
            ("csrf", &token),
            ("message", HOSTILE),
            ("status", "identified"),
        ],
        &[],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    // The API's validation applies: an empty update is refused with its message.
    let a = b.post(
        &format!("{page_of}/updates"),
        &[("csrf", &token), ("message", " ")],
        &[],
    );
    assert_eq!(a.status, 400, "{}", a.body);
    let page = b.get(&page_of);
    assert!(
        page.body.contains("data-status=\"acknowledged\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("user:{OPERATOR}")),
        "the actor is the user"
    );
    let a = b.post(&format!("{page_of}/resolve"), &[("csrf", &token)], &[]);
    assert_eq!(a.status, 303, "{}", a.body);
    let incident = s.d.get(&page_of.replace("/ui/", "/api/v1/"));
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["acknowledged_by"], format!("user:{OPERATOR}"));
    assert_eq!(incident["resolved_by"], format!("user:{OPERATOR}"));
    // Acting twice is the API's conflict, shown as a page.
    let a = b.post(&format!("{page_of}/resolve"), &[("csrf", &token)], &[]);
    assert_eq!(a.status, 409, "{}", a.body);
}

#[test]
fn tenant_text_is_escaped_on_every_page() {
    let s = setup();
    let mut b = Browser::new(&s.d);
    b.login(OPERATOR);
    let token = b.csrf();
    let page_of = format!("/ui/incidents/{}", s.incident);
    let a = b.post(
        &format!("{page_of}/ack"),
        &[("csrf", &token), ("comment", HOSTILE)],
        &[],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let a = b.post(
        &format!("{page_of}/updates"),
        &[("csrf", &token), ("message", HOSTILE)],
        &[],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    for path in [
        "/ui/checks".to_string(),
        format!("/ui/checks/{CHECK}"),
        "/ui/incidents".into(),
        page_of.clone(),
    ] {
        let page = b.get(&path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        for raw in ["<script>", "<img", "onerror=alert(2)>"] {
            assert!(
                !page.body.contains(raw),
                "{path} holds {raw} unescaped:\n{}",
                page.body
            );
        }
    }
    // A name in the path is the caller's text too: the API's 404 quotes it.
    let missing = b.get("/ui/checks/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(!missing.body.contains("<script>"), "{}", missing.body);
    assert!(missing.body.contains("&lt;script&gt;"), "{}", missing.body);
    let check = b.get(&format!("/ui/checks/{CHECK}"));
    assert!(
        check
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img"),
        "{}",
        check.body
    );
    let incident = b.get(&page_of);
    assert_eq!(
        incident
            .body
            .matches("&lt;script&gt;alert(1)&lt;/script&gt;")
            .count(),
        2,
        "the comment and the update, escaped: {}",
        incident.body
    );
}

#[test]
fn pages_carry_the_security_headers_and_the_stylesheet_is_cached() {
    let s = setup();
    let mut b = Browser::new(&s.d);
    let login = b.get("/ui/login");
    b.login(VIEWER);
    let checks = b.get("/ui/checks");
    for (what, a) in [("login", &login), ("checks", &checks)] {
        assert_eq!(
            a.header("content-security-policy"),
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "{what}"
        );
        assert_eq!(a.header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(a.header("referrer-policy"), "same-origin", "{what}");
        assert_eq!(a.header("cache-control"), "no-store", "{what}");
        assert!(a.header("content-type").starts_with("text/html"), "{what}");
        assert!(!a.body.contains("<script"), "{what}: no scripts");
        assert!(!a.body.contains("style=\""), "{what}: no inline styles");
    }
    let css = b.get("/ui/console.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(
        css.header("cache-control").starts_with("public, max-age="),
        "{}",
        css.header("cache-control")
    );
    let etag = css.header("etag").to_string();
    let again = Browser::new(&s.d)
        .client
        .get(format!("{}/ui/console.css", s.d.url))
        .header("if-none-match", &etag)
        .send()
        .expect("GET");
    assert_eq!(again.status().as_u16(), 304);
    // A form body over the bound is refused before it is read.
    let mut b = Browser::new(&s.d);
    b.login(OPERATOR);
    let token = b.csrf();
    let big = "x".repeat(uptimeping::daemon::console::MAX_FORM_BYTES + 1);
    let a = b.post(
        &format!("/ui/incidents/{}/updates", s.incident),
        &[("csrf", &token), ("message", &big)],
        &[],
    );
    assert_eq!(a.status, 413, "{}", a.body);
}

#[test]
fn every_console_rule_answers_as_its_role_says() {
    let s = setup();
    let mut viewer = Browser::new(&s.d);
    viewer.login(VIEWER);
    let viewers_token = viewer.csrf();
    let mut operator = Browser::new(&s.d);
    operator.login(OPERATOR);
    let operators_token = operator.csrf();
    let mut nobody = Browser::new(&s.d);
    let rules: Vec<_> = RULES
        .iter()
        .filter(|(_, p, _)| p.starts_with("/ui"))
        .collect();
    assert!(rules.len() >= 14, "the console's rules: {rules:?}");
    for (method, pattern, access) in rules {
        let path = pattern
            .replace("{name}", CHECK)
            .replace("{id}", &s.incident.to_string())
            .replace("{token}", "upinv_not-a-real-invitation");
        let is_get = *method == reqwest::Method::GET;
        let fields = |token: &str| {
            vec![
                ("csrf", token.to_string()),
                ("message", "matrix".to_string()),
            ]
        };
        let send = |b: &mut Browser, token: &str| -> Answer {
            if is_get {
                b.get(&path)
            } else if *pattern == "/ui/logout" {
                // Logging out would end the session the later rows use.
                b.post(&path, &[("csrf", "wrong")], &[])
            } else {
                let f = fields(token);
                let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                b.post(&path, &f, &[])
            }
        };
        let anon = send(&mut nobody, "");
        match access {
            Access::Public => assert!(
                anon.status < 500 && anon.status != 401,
                "{method} {pattern} is public, answered {}",
                anon.status
            ),
            Access::Role(_) if is_get => assert_eq!(
                (anon.status, anon.location().starts_with("/ui/login?next=")),
                (303, true),
                "{method} {pattern} without a session"
            ),
            Access::Role(_) => assert_eq!(anon.status, 401, "{method} {pattern} without a session"),
        }
        let as_viewer = send(&mut viewer, &viewers_token);
        match access {
            Access::Role(Role::Operator) | Access::Role(Role::Admin) => {
                assert_eq!(as_viewer.status, 403, "{method} {pattern} as a viewer")
            }
            Access::Role(Role::Viewer) if *pattern == "/ui/logout" => {
                assert_eq!(as_viewer.status, 403, "logout with a wrong token")
            }
            Access::Role(Role::Viewer) => {
                assert_eq!(
                    as_viewer.status, 200,
                    "{method} {pattern} as a viewer: {}",
                    as_viewer.body
                )
            }
            Access::Public => {}
        }
        if let Access::Role(Role::Operator) = access {
            let a = send(&mut operator, &operators_token);
            assert_eq!(
                a.status, 303,
                "{method} {pattern} as an operator: {}",
                a.body
            );
        }
    }
}

#[test]
fn an_invited_person_sets_a_password_and_is_logged_in() {
    let d = Daemon::start(&[]);
    let invited = d.post(
        "/api/v1/users/invitations",
        &json!({"email": "ines@example.com", "role": "viewer"}),
    );
    let token = invited["token"].as_str().expect("token").to_string();
    let path = format!("/ui/invite/{token}");
    let mut b = Browser::new(&d);
    assert_eq!(b.get("/ui/invite/upinv_no-such-invitation").status, 404);
    let page = b.get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = csrf_of(&page.body);
    // Without the form's cookie: refused, nothing set.
    let mut other = Browser::new(&d);
    let a = other.post(
        &path,
        &[
            ("csrf", &csrf),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
        &[],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let a = b.post(
        &path,
        &[
            ("csrf", &csrf),
            ("password", PASSWORD),
            ("confirm", "Other-Horse-42"),
        ],
        &[],
    );
    assert_eq!(a.status, 400, "{}", a.body);
    // The password policy is the API's.
    let a = b.post(
        &path,
        &[
            ("csrf", &csrf),
            ("password", "password"),
            ("confirm", "password"),
        ],
        &[],
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("role=\"alert\""), "{}", a.body);
    let a = b.post(
        &path,
        &[
            ("csrf", &csrf),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
        &[],
    );
    assert_eq!((a.status, a.location()), (303, "/ui/checks"), "{}", a.body);
    assert!(a.set_cookie("upt_session").is_some());
    let page = b.get("/ui/checks");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ines@example.com"), "{}", page.body);
    // Used once: the link no longer works.
    assert_eq!(Browser::new(&d).get(&path).status, 404);
}

#[test]
fn a_user_of_another_tenant_sees_none_of_this_ones_checks_or_incidents() {
    let s = setup();
    let other = s.d.post("/api/v1/tenants", &json!({"name": "team-b"}));
    let key = other["api_key"]
        .as_str()
        .expect("the tenant's key")
        .to_string();
    let bea = "bea@example.com";
    let (status, body) = s.d.call_as(
        &key,
        "POST",
        "/api/v1/users",
        Some(&json!({"email": bea, "role": "admin", "password": PASSWORD})),
    );
    assert_eq!(status, 201, "{body}");
    let mut b = Browser::new(&s.d);
    b.login(bea);
    let checks = b.get("/ui/checks");
    assert_eq!(checks.status, 200);
    assert!(!checks.body.contains("data-check="), "{}", checks.body);
    assert_eq!(b.get(&format!("/ui/checks/{CHECK}")).status, 404);
    assert_eq!(b.get(&format!("/ui/incidents/{}", s.incident)).status, 404);
    let incidents = b.get("/ui/incidents");
    assert!(
        !incidents.body.contains("data-incident="),
        "{}",
        incidents.body
    );
    let csrf = csrf_of(&checks.body);
    let a = b.post(
        &format!("/ui/incidents/{}/ack", s.incident),
        &[("csrf", &csrf)],
        &[],
    );
    assert_eq!(a.status, 404, "{}", a.body);
    assert_eq!(incident_status(&s.d, s.incident), "open");
}

#[test]
fn too_many_logins_are_answered_429_with_retry_after_and_the_form() {
    // The API's limit, 10 attempts from one address, over an hour rather than
    // a minute: within a minute one comes back every 6 s, which ten password
    // hashes on a loaded machine can outlast.
    let d = Daemon::start(&["--login-limit-address", "10/h"]);
    let mut b = Browser::new(&d);
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..11 {
        let a = b.login_with(OPERATOR, "Wrong-Horse-42", None);
        statuses.push(a.status);
        last = Some(a);
    }
    let last = last.unwrap();
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(last.status, 429, "{}", last.body);
    assert!(
        last.header("retry-after")
            .parse::<u64>()
            .is_ok_and(|s| s > 0),
        "{:?}",
        last.headers
    );
    assert!(last.body.contains("name=\"password\""), "the form again");
    assert!(last.set_cookie("upt_session").is_none());
}

/// The rows of a checks page, by name, in order.
fn rows(html: &str) -> Vec<String> {
    html.split("data-check=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The `href` of the page's `rel="next"` link, unescaped.
fn next_link(html: &str) -> Option<String> {
    let at = html.find("rel=\"next\"")?;
    let before = &html[..at];
    let start = before.rfind("href=\"")? + "href=\"".len();
    let href = &before[start..];
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

#[test]
fn a_next_page_keeps_every_filter_of_the_first() {
    let s = setup();
    let port = closed_port();
    let yaml: String = ["a-tcp", "b-http", "c-tcp", "d-tcp"]
        .iter()
        .map(|name| {
            let (ty, target) = if name.ends_with("http") {
                ("http", format!("http://127.0.0.1:{port}/"))
            } else {
                ("tcp", format!("127.0.0.1:{port}"))
            };
            let team = if *name == "d-tcp" { "edge" } else { "core" };
            format!(
                "kind: Check\nname: {name}\ntype: {ty}\ntarget: {target}\nenabled: false\nlabels:\n  team: {team}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    s.d.post("/api/v1/apply", &plan_request("more", &yaml, json!({})));
    let mut b = Browser::new(&s.d);
    b.login(VIEWER);
    let first = b.get("/ui/checks?label=team%3Dcore&type=tcp&limit=1");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(rows(&first.body), ["a-tcp"]);
    let mut pages = vec![rows(&first.body)];
    let mut next = next_link(&first.body);
    while let Some(href) = next {
        assert!(pages.len() < 5, "the pages never end: {pages:?}");
        let page = b.get(&href);
        assert_eq!(page.status, 200, "{href}: {}", page.body);
        pages.push(rows(&page.body));
        next = next_link(&page.body);
    }
    // Only core's tcp checks, one a page: not the http check, not edge's, not `db`.
    assert_eq!(pages.concat(), ["a-tcp", "c-tcp"], "{pages:?}");
    assert!(
        pages.iter().all(|p| p.len() <= 1),
        "the limit kept: {pages:?}"
    );
}

#[test]
fn a_page_asked_for_without_a_session_comes_back_with_its_query() {
    let s = setup();
    for wanted in [
        "/ui/checks?state=down",
        "/ui/checks?label=team%3Dcore&type=tcp",
        "/ui/incidents?status=open&check=db",
    ] {
        let mut b = Browser::new(&s.d);
        let a = b.get(wanted);
        assert_eq!(a.status, 303, "{wanted}");
        let next = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>();
        assert_eq!(a.location(), format!("/ui/login?next={next}"), "{wanted}");
        let form = b.get(a.location());
        let page = csrf_of(&form.body);
        let back = b.post(
            "/ui/login",
            &[
                ("email", VIEWER),
                ("password", PASSWORD),
                ("csrf", &page),
                ("next", wanted),
            ],
            &[],
        );
        assert_eq!((back.status, back.location()), (303, wanted));
    }
    // A query too long to carry comes back to its page alone.
    let long = format!("/ui/checks?type={}", "x".repeat(2000));
    let a = Browser::new(&s.d).get(&long);
    assert_eq!(
        (a.status, a.location()),
        (303, "/ui/login?next=%2Fui%2Fchecks")
    );
}

#[test]
fn forged_and_cross_site_posts_are_audited_as_refused_requests() {
    let s = setup();
    let path = format!("/ui/incidents/{}/ack", s.incident);
    let mut viewer = Browser::new(&s.d);
    viewer.login(VIEWER);
    let viewers_token = viewer.csrf();
    let mut b = Browser::new(&s.d);
    b.login(OPERATOR);
    let token = b.csrf();
    let operator = format!("user:{OPERATOR}");
    let mut expected = Vec::new();
    for (fields, extra, reason) in [
        (vec![], vec![], "csrf"),
        (vec![("csrf", viewers_token.as_str())], vec![], "csrf"),
        (
            vec![("csrf", token.as_str())],
            vec![("origin", "http://evil.example")],
            "cross-site",
        ),
        (
            vec![("csrf", token.as_str())],
            vec![("sec-fetch-site", "cross-site")],
            "cross-site",
        ),
    ] {
        let a = b.post(&path, &fields, &extra);
        assert_eq!(a.status, 403, "{reason}: {}", a.body);
        expected.push((operator.clone(), path.clone(), reason.to_string()));
    }
    let csrf = b.csrf();
    let a = b.post("/ui/logout", &[("csrf", &csrf)], &[("origin", "null")]);
    assert_eq!(a.status, 403, "{}", a.body);
    expected.push((operator.clone(), "/ui/logout".into(), "cross-site".into()));

    // The login and invitation forms, before anyone is known.
    let invitation = "upinv_NotARealTokenButSecretLooking0123456789";
    let mut anon = Browser::new(&s.d);
    let login = [("email", OPERATOR), ("password", PASSWORD), ("csrf", "x")];
    for (what, at, extra, reason) in [
        ("no form cookie", "/ui/login".to_string(), vec![], "csrf"),
        (
            "another origin",
            "/ui/login".to_string(),
            vec![("origin", "http://evil.example")],
            "cross-site",
        ),
        (
            "another site's invitation post",
            format!("/ui/invite/{invitation}"),
            vec![("sec-fetch-site", "cross-site")],
            "cross-site",
        ),
        (
            "an invitation post without its cookie",
            format!("/ui/invite/{invitation}"),
            vec![],
            "csrf",
        ),
    ] {
        let a = anon.post(&at, &login, &extra);
        assert_eq!(a.status, 403, "{what}: {}", a.body);
        let audited = if at.starts_with("/ui/invite/") {
            "/ui/invite/{token}".to_string()
        } else {
            at
        };
        expected.push(("anonymous".into(), audited, reason.to_string()));
    }

    let entries =
        s.d.get("/api/v1/audit?action=request&outcome=refused&limit=1000");
    let entries = entries.as_array().expect("entries");
    assert!(
        !entries.iter().any(|e| e.to_string().contains(invitation)),
        "a live invitation token reached the log: {entries:?}"
    );
    let mut got: Vec<(String, String, String)> = entries
        .iter()
        .filter(|e| e["detail"]["reason"].is_string())
        .map(|e| {
            assert_eq!(e["detail"]["status"], 403, "{e}");
            assert_eq!(e["detail"]["method"], "POST", "{e}");
            assert!(e["source"].is_string(), "{e}");
            (
                e["actor"].as_str().unwrap_or("").to_string(),
                e["detail"]["path"].as_str().unwrap_or("").to_string(),
                e["detail"]["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(incident_status(&s.d, s.incident), "open");
}

#[test]
fn other_addresses_under_ui_get_the_consoles_own_answer() {
    let s = setup();
    let mut b = Browser::new(&s.d);
    let console_headers = |a: &Answer, what: &str| {
        assert!(
            a.header("content-security-policy")
                .contains("frame-ancestors 'none'"),
            "{what}: {:?}",
            a.headers
        );
        assert_eq!(a.header("x-frame-options"), "DENY", "{what}");
        assert_eq!(a.header("cache-control"), "no-store", "{what}");
    };
    for (from, to) in [
        ("/ui/", "/ui"),
        ("/ui//", "/ui"),
        ("/ui/checks/", "/ui/checks"),
        ("/ui/incidents//?status=open", "/ui/incidents?status=open"),
        ("/ui/checks/db/", "/ui/checks/db"),
        // A path that looks like another host stays a path on this one.
        ("/ui//evil.example/", "/ui//evil.example"),
    ] {
        let a = b.get(from);
        assert_eq!((a.status, a.location()), (308, to), "{from}");
        console_headers(&a, from);
    }
    let not_found = |b: &mut Browser, who: &str| {
        for path in [
            "/ui/nothing-here",
            "/ui/checks/db/results",
            "/ui/incidents/1/ack/again",
            "/ui//evil.example",
            "/ui/invite",
        ] {
            for a in [b.get(path), b.post(path, &[], &[])] {
                let what = format!("{who} {path}");
                assert_eq!(a.status, 404, "{what}: {}", a.body);
                assert!(
                    a.header("content-type").starts_with("text/html"),
                    "{what}: {:?}",
                    a.headers
                );
                assert!(a.body.contains("href=\"/ui/checks\""), "{what}: {}", a.body);
                assert!(!a.body.contains("/api/v1"), "{what}: {}", a.body);
                console_headers(&a, &what);
            }
        }
    };
    not_found(&mut b, "without a session");
    b.login(VIEWER);
    not_found(&mut b, "logged in");
    let a = b.get("/ui/checks/");
    assert_eq!(b.get(a.location()).status, 200);
    // A form action asked for with GET, and a page posted to: the console's page
    // saying so, not the API's JSON.
    for (what, a) in [
        ("GET /ui/logout", b.get("/ui/logout")),
        ("GET /ui/incidents/1/ack", b.get("/ui/incidents/1/ack")),
        ("POST /ui/checks", b.post("/ui/checks", &[], &[])),
    ] {
        assert_eq!(a.status, 405, "{what}: {}", a.body);
        assert!(
            a.header("content-type").starts_with("text/html"),
            "{what}: {:?}",
            a.headers
        );
        assert!(!a.body.contains("/api/v1"), "{what}: {}", a.body);
        console_headers(&a, what);
    }
}

#[test]
fn the_header_and_title_name_the_tenant_of_the_session() {
    let s = setup();
    let other = s.d.post("/api/v1/tenants", &json!({"name": "team-b"}));
    let key = other["api_key"]
        .as_str()
        .expect("the tenant's key")
        .to_string();
    let (status, body) = s.d.call_as(
        &key,
        "POST",
        "/api/v1/users",
        Some(&json!({"email": OPERATOR, "role": "admin", "password": PASSWORD})),
    );
    assert_eq!(status, 201, "{body}");
    let login = |tenant: &str| {
        let mut b = Browser::new(&s.d);
        let page = b.get("/ui/login");
        let csrf = csrf_of(&page.body);
        let a = b.post(
            "/ui/login",
            &[
                ("email", OPERATOR),
                ("password", PASSWORD),
                ("tenant", tenant),
                ("csrf", &csrf),
            ],
            &[],
        );
        (b, a)
    };
    // Both tenants know this email and password: the form asks for its field.
    let (_, a) = login("");
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("Tenant field"), "{}", a.body);
    assert!(
        !a.body.contains("--tenant"),
        "the CLI's wording: {}",
        a.body
    );
    for (tenant, role) in [("team-b", "admin"), ("default", "operator")] {
        let (mut b, a) = login(tenant);
        assert_eq!(a.status, 303, "{tenant}: {}", a.body);
        for path in ["/ui/checks", "/ui/incidents"] {
            let page = b.get(path);
            assert_eq!(page.status, 200, "{tenant} {path}");
            assert!(
                page.body.contains(&format!(
                    "<span class=\"tenant\" data-tenant=\"{tenant}\" title=\"Tenant\">{tenant}</span>"
                )),
                "{tenant} {path}: {}",
                page.body
            );
            assert!(
                page.body
                    .contains(&format!(" · {tenant} · uptimeping console</title>")),
                "{tenant} {path}: {}",
                page.body
            );
            assert!(page.body.contains(&format!("data-role=\"{role}\"")));
        }
    }
}

/// The value of attribute `attr` of the first element of `html` that has
/// `marker` in its start tag.
fn attr_near(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let key = format!("{attr}=\"");
    let from = tag.find(&key)? + key.len();
    Some(tag[from..from + tag[from..].find('"')?].replace("&amp;", "&"))
}

#[test]
fn the_overview_counts_every_check_by_state_and_points_at_the_down_ones() {
    let s = setup();
    let port = closed_port();
    // Five quiet checks whose names sort before the failing one.
    let yaml: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "kind: Check\nname: a{i}\ntype: tcp\ntarget: 127.0.0.1:{port}\nenabled: false\n"
            )
        })
        .collect();
    s.d.post(
        "/api/v1/apply",
        &plan_request("quiet", &yaml.join("---\n"), json!({})),
    );
    let mut b = Browser::new(&s.d);
    b.login(VIEWER);
    // A page too short to reach the down check.
    let page = b.get("/ui/checks?limit=3");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(rows(&page.body), ["a0", "a1", "a2"]);
    assert!(
        page.body
            .contains("<caption>3 of 6 checks shown; more on the next page</caption>"),
        "{}",
        page.body
    );
    let count = |html: &str, state: &str| {
        attr_near(
            html,
            &format!("data-state=\"{state}\" data-count"),
            "data-count",
        )
    };
    assert_eq!(count(&page.body, "down").as_deref(), Some("1"));
    assert_eq!(count(&page.body, "disabled").as_deref(), Some("5"));
    assert_eq!(count(&page.body, "up").as_deref(), Some("0"));
    assert_eq!(
        attr_near(&page.body, ">All <", "data-count").as_deref(),
        Some("6")
    );
    assert_eq!(
        attr_near(&page.body, "role=\"alert\" data-down=\"1\"", "data-down").as_deref(),
        Some("1")
    );
    let down = attr_near(&page.body, "1 check is down", "href").expect("a link to the down checks");
    assert_eq!(down, "/ui/checks?limit=3&state=down");
    let down = b.get(&down);
    assert_eq!(rows(&down.body), [CHECK]);
    assert!(
        down.body.contains("<caption>1 check</caption>"),
        "{}",
        down.body
    );
    assert!(!down.body.contains("role=\"alert\""), "{}", down.body);
    // The whole list states the true total, and says so too.
    let all = b.get("/ui/checks");
    assert!(
        all.body.contains("<caption>6 checks</caption>"),
        "{}",
        all.body
    );
    assert!(all.body.contains("1 check is down"), "{}", all.body);
    // Counts follow the type filter: no http check, nothing down.
    let http = b.get("/ui/checks?type=http");
    assert_eq!(
        attr_near(&http.body, ">All <", "data-count").as_deref(),
        Some("0")
    );
    assert!(!http.body.contains("role=\"alert\""), "{}", http.body);
}
