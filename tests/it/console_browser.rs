//! The web console in a real browser: a real daemon runs a real TCP check against
//! a closed port on 127.0.0.1 until its incident opens, and Debian's headless
//! Chromium, driven by playwright-core (`tests/browser/console.js`), logs in as
//! an operator, sees the failing check, opens it and its incident, acknowledges
//! it, is refused two forged posts (one without the CSRF token, one from another
//! site), logs out; then a viewer reads the incident on a phone, and people
//! whose emails are not plain ASCII log in through the form. axe-core looks
//! at every page. Screenshots go to `target/test-output/console_browser/`.
//!
//! The browser runs once for this file; each test asserts on its part of the
//! driver's answer.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::console::{CHECK, OPERATOR, PASSWORD, VIEWER, setup};
use crate::status_browser::visit::{CHROMIUM, require_tools, run_driver};

/// Where the screenshots go: `test-output/console_browser/` in the target directory.
fn output_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_uptimeping"));
    let target = bin
        .parent()
        .and_then(Path::parent)
        .expect("the binary lies in target/<profile>/");
    target.join("test-output").join("console_browser")
}

/// Emails the daemon takes that are not plain ASCII: in the local part, and in
/// the domain (which a browser's email field would turn into punycode).
const INTL_EMAILS: [&str; 2] = ["jörg@example.com", "ann@bücher.example"];

fn drive() -> Value {
    require_tools();
    let s = setup();
    for email in INTL_EMAILS {
        s.d.post(
            "/api/v1/users",
            &json!({"email": email, "role": "viewer", "password": PASSWORD}),
        );
    }
    let out = output_dir();
    std::fs::create_dir_all(&out).expect("create the output directory");
    let request = json!({
        "chromium": CHROMIUM,
        "origin": s.d.url,
        "operator": OPERATOR,
        "viewer": VIEWER,
        "password": PASSWORD,
        "check": CHECK,
        "incident": s.incident,
        "intl": INTL_EMAILS,
        "out": out,
    });
    let mut answer = run_driver("console.js", &request, &out, &|| s.d.logs());
    // What the daemon holds after the visit, for the tests to compare.
    answer["daemon"] = json!({
        "incident": s.d.get(&format!("/api/v1/incidents/{}", s.incident)),
        "incident_id": s.incident,
    });
    answer
}

/// The driver's answer, made once; a failure to make it fails every test.
fn answer() -> &'static Value {
    static ANSWER: OnceLock<Result<Value, String>> = OnceLock::new();
    let got = ANSWER.get_or_init(|| {
        std::panic::catch_unwind(drive).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "driving the console failed".into())
        })
    });
    match got {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_person_logs_in_and_sees_the_failing_check() {
    let a = answer();
    let before = &a["before_login"];
    assert_eq!(before["status"], 200);
    assert_eq!(
        before["url"], "/ui/login?next=%2Fui%2Fchecks",
        "sent to the login form"
    );
    assert_eq!(before["lang"], "en");
    assert_eq!(before["inputs_without_label"], 0, "every input has a label");

    let wrong = &a["wrong_password"];
    assert_eq!(wrong["status"], 401);
    assert!(
        wrong["problem"].as_str().is_some_and(|p| !p.is_empty()),
        "{wrong}"
    );

    let after = &a["after_login"];
    assert_eq!(
        (after["status"].as_u64(), after["url"].as_str()),
        (Some(200), Some("/ui/checks"))
    );
    assert_eq!(after["who"], OPERATOR);
    assert_eq!(after["role"], "operator");
    let row = after["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == CHECK))
        .unwrap_or_else(|| panic!("no row for {CHECK}: {after}"));
    assert_eq!(row["state"], "down", "{row}");
    assert!(
        row["text"].as_str().is_some_and(|t| t.contains("Down")),
        "the state in words: {row}"
    );

    let cookie = a["cookies"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "upt_session"))
        .unwrap_or_else(|| panic!("no session cookie: {}", a["cookies"]));
    assert_eq!(
        (&cookie["httpOnly"], &cookie["sameSite"], &cookie["path"]),
        (&json!(true), &json!("Strict"), &json!("/ui"))
    );
}

#[test]
fn the_check_page_shows_its_hours_runs_and_open_incident() {
    let a = answer();
    let c = &a["check"];
    assert_eq!(c["status"], 200, "{c}");
    assert_eq!(c["url"], format!("/ui/checks/{CHECK}"));
    assert_eq!(c["summary_state"], "down");
    assert_eq!(c["hour_bars"], 24, "a bar for each of the last 24 hours");
    let runs = c["runs"].as_array().expect("runs");
    assert!(
        runs.len() >= 3 && runs.iter().all(|r| r == "false"),
        "{runs:?}"
    );
    assert_eq!(
        c["open_incident"],
        format!("/ui/incidents/{}", a["daemon"]["incident_id"])
    );
    assert_eq!(c["times_without_datetime"], 0);
}

#[test]
fn an_operator_acknowledges_the_incident() {
    let a = answer();
    let id = &a["daemon"]["incident_id"];
    assert_eq!(a["incident"]["summary_status"], "open");
    let forms = a["incident"]["forms"].as_array().expect("forms");
    for action in ["ack", "resolve", "updates"] {
        assert!(
            forms.contains(&json!(format!("/ui/incidents/{id}/{action}"))),
            "{action}: {forms:?}"
        );
    }
    let acked = &a["acknowledged"];
    assert_eq!(
        (acked["status"].as_u64(), acked["url"].as_str()),
        (Some(200), Some(format!("/ui/incidents/{id}").as_str()))
    );
    assert_eq!(acked["summary_status"], "acknowledged");
    assert!(
        acked["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["event"] == "acknowledged"
                && e["text"].as_str().is_some_and(|x| x.contains(OPERATOR)))),
        "{}",
        acked["timeline"]
    );
    assert_eq!(a["daemon"]["incident"]["status"], "acknowledged");
    assert_eq!(
        a["daemon"]["incident"]["acknowledged_by"],
        format!("user:{OPERATOR}")
    );
}

#[test]
fn forged_posts_are_refused_and_change_nothing() {
    let a = answer();
    let same = &a["forged_same_origin"];
    assert_eq!(same["status"], 403, "a form without the CSRF token: {same}");
    assert!(
        same["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was done")),
        "{same}"
    );
    let cross = &a["forged_cross_site"];
    // The strict cookie is not sent from another site: no session, and no action.
    assert!(
        matches!(cross["status"].as_u64(), Some(401 | 403)),
        "{cross}"
    );
    assert_eq!(a["after_forgeries"]["summary_status"], "acknowledged");
    assert!(a["daemon"]["incident"]["resolved_at"].is_null());
}

#[test]
fn logging_out_ends_the_session() {
    let a = answer();
    assert_eq!(a["logged_out"]["url"], "/ui/login");
    assert_eq!(a["after_logout"]["url"], "/ui/login?next=%2Fui%2Fchecks");
}

#[test]
fn a_viewer_on_a_phone_reads_but_has_no_forms() {
    let a = answer();
    assert_eq!(a["viewer_checks"]["role"], "viewer");
    let v = &a["viewer_incident"];
    assert_eq!(v["summary_status"], "acknowledged");
    assert_eq!(v["forms"], json!([]), "a viewer sees no action forms");
    for part in ["phone_checks", "phone_incident"] {
        let p = &a[part];
        assert!(
            p["scroll_width"].as_f64() <= p["inner_width"].as_f64(),
            "{part} scrolls sideways: {p}"
        );
    }
}

#[test]
fn dark_mode_follows_the_system() {
    let a = answer();
    let light = a["after_forgeries"]["background"].as_str().unwrap_or("");
    let dark = a["dark"]["background"].as_str().unwrap_or("");
    assert_ne!(light, dark, "prefers-color-scheme: dark changes the page");
    assert_eq!(dark, "rgb(13, 17, 23)");
}

#[test]
fn axe_finds_no_serious_violations_on_any_page() {
    let a = answer();
    let pages = a["axe"].as_object().expect("axe results");
    assert!(pages.len() >= 7, "{:?}", pages.keys());
    for (page, violations) in pages {
        let serious: Vec<&Value> = violations
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{page}: {serious:#?}");
    }
    assert_eq!(
        a["external"],
        json!([]),
        "nothing outside the daemon was asked for"
    );
    for shot in [
        "login",
        "checks",
        "check",
        "incident-acknowledged",
        "phone-viewer-incident",
    ] {
        let file = a["screenshots"][shot].as_str().unwrap_or("");
        assert!(Path::new(file).is_file(), "screenshot {shot}: {file}");
    }
}

#[test]
fn people_whose_email_is_not_ascii_log_in_through_the_form() {
    let a = answer();
    let tried = a["intl"].as_array().expect("the non-ASCII logins");
    assert_eq!(tried.len(), INTL_EMAILS.len(), "{tried:?}");
    for (t, email) in tried.iter().zip(INTL_EMAILS) {
        assert_eq!(t["email"], email);
        assert_eq!(t["submitted"], true, "the browser sent the form: {t}");
        assert_eq!(
            (t["status"].as_u64(), t["url"].as_str()),
            (Some(200), Some("/ui/checks")),
            "{t}"
        );
        assert_eq!(t["who"], email, "{t}");
    }
}
