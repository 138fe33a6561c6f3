//! Status pages in a real browser: a real daemon runs real checks against
//! targets on 127.0.0.1 (one up, one down, so an incident opens; one inside a
//! maintenance window), serves a page of them, and Debian's headless Chromium,
//! driven by playwright-core (`tests/browser/status_page.js`), looks at it as a
//! visitor would: with and without JavaScript, on a phone, in dark mode, through
//! axe-core, and a private page with and without its token.
//!
//! The browser is launched once for this file: the first test to run sets the
//! daemon up and runs the driver, which answers one JSON object; every test
//! asserts on its part of that answer. Screenshots go to
//! `target/test-output/status_browser/`.

pub(crate) mod visit;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use visit::{DAYS, SLUG, TOKEN, answer, served};

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn group<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == name))
        .unwrap_or_else(|| panic!("no group `{name}` in {}", page["groups"]))
}

fn check<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["checks"].as_array().into_iter().flatten())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` on the page"))
}

/// An `rgb(…)`/`rgba(…)` colour's channels.
fn rgb(css: &Value) -> [f64; 4] {
    let s = css.as_str().unwrap_or("");
    let inner = s
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not an rgb() colour: {s:?}"));
    let parts: Vec<f64> = inner
        .split([',', ' ', '/'])
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or_else(|_| panic!("colour {s:?}")))
        .collect();
    [
        parts[0],
        parts[1],
        parts[2],
        parts.get(3).copied().unwrap_or(1.0),
    ]
}

/// A grey: its channels no more than a little apart.
fn is_grey(css: &Value) -> bool {
    let [r, g, b, _] = rgb(css);
    r.max(g).max(b) - r.min(g).min(b) <= 24.0
}

/// Relative luminance (WCAG), 0 (black) to 1 (white).
fn luminance(css: &Value) -> f64 {
    let [r, g, b, _] = rgb(css);
    let lin = |c: f64| {
        let c = c / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// The page's background: the body's, or the root's when the body has none.
fn background(page: &Value) -> &Value {
    if rgb(&page["background"])[3] > 0.0 {
        &page["background"]
    } else {
        &page["html_background"]
    }
}

#[test]
fn the_page_shows_its_title_groups_and_each_checks_state() {
    let a = served();
    let page = &a["light"];
    assert_eq!(page["status"], 200, "GET /status/{SLUG}");
    assert!(
        page["content_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("text/html")),
        "{}",
        page["content_type"]
    );
    assert_eq!(page["title"], "Example Inc. status");
    assert_eq!(page["lang"], "en");
    assert_eq!(page["h1"], "Example Inc. status");
    assert_eq!(page["description"], "Live status of our public services");
    assert_eq!(
        page["landmarks"],
        json!({"header": 1, "main": 1, "footer": 1})
    );
    assert_eq!(page["color_scheme"], "light dark");
    assert!(
        page["viewport"]
            .as_str()
            .is_some_and(|v| v.contains("width=device-width"))
    );
    assert_eq!(page["styles"], 1, "one embedded <style>");
    assert_eq!(page["scripts_with_src"], 0, "no <script src>");

    // main's sections in the contract's order.
    assert_eq!(
        texts(&page["order"]),
        [
            "overall",
            "announcement",
            "maintenance",
            "group:Web",
            "group:Payments",
            "incidents"
        ]
    );
    assert_eq!(
        page["announcement"],
        "Scheduled database upgrade on Sunday 02:00 UTC"
    );
    let names = |g: &Value| -> Vec<String> {
        g["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(group(page, "Web")["heading"], "Web");
    assert_eq!(
        names(group(page, "Web")),
        ["homepage", "api-health", "search"]
    );
    assert_eq!(group(page, "Payments")["heading"], "Payments");
    assert_eq!(
        names(group(page, "Payments")),
        ["checkout", "payments-api"],
        "the selector's checks, by name"
    );
    for (name, state, text) in [
        ("homepage", "up", "Operational"),
        ("api-health", "down", "Down"),
        ("checkout", "maintenance", "Maintenance"),
        ("payments-api", "up", "Operational"),
    ] {
        let c = check(page, name);
        assert_eq!(
            (c["state"].as_str(), c["state_text"].as_str()),
            (Some(state), Some(text)),
            "`{name}`"
        );
        assert_eq!(c["label"], name);
    }
    let uptime = |name: &str| -> f64 {
        check(page, name)["uptime"]
            .as_str()
            .and_then(|u| u.parse().ok())
            .unwrap_or_else(|| panic!("`{name}` shows no uptime figure"))
    };
    assert_eq!(uptime("homepage"), 100.0);
    assert_eq!(uptime("api-health"), 0.0);
    // Maintenance time is left out of uptime: the check in the window has none.
    assert_eq!(
        (
            &check(page, "checkout")["uptime"],
            &check(page, "checkout")["uptime_text"]
        ),
        (&json!(""), &json!("—"))
    );
    assert!(
        check(page, "homepage")["uptime_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("100") && t.ends_with('%')),
        "{}",
        check(page, "homepage")["uptime_text"]
    );

    // A check on no group of this page, and the targets, are nowhere on it.
    let text = page["visible_text"].as_str().unwrap();
    assert!(!text.contains("internal-db"), "an unlisted check is shown");
    for target in texts(&a["test"]["targets"]) {
        assert!(!text.contains(&target), "a target ({target}) is shown");
    }
}

#[test]
fn a_check_run_from_several_locations_shows_each_one_readably() {
    let a = served();
    for mode in ["light", "dark"] {
        let c = check(&a[mode], "search");
        assert_eq!(c["locations_label"], "search by location", "{mode}");
        let seen: Vec<(String, String, String)> = c["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let s = |k: &str| l[k].as_str().unwrap_or("").to_string();
                (s("name"), s("state"), s("text"))
            })
            .collect();
        // This daemon's location ran it; the other has no node, so nothing is known.
        assert_eq!(
            seen,
            [
                (
                    "default".into(),
                    "up".into(),
                    "default Operational 100.00%".into()
                ),
                ("backup".into(), "unknown".into(), "backup Unknown —".into()),
            ],
            "{mode}"
        );
        // Each location's state reads against the page's background (4.5:1).
        let bg = luminance(background(&a[mode]));
        for l in c["locations"].as_array().unwrap() {
            let fg = luminance(&l["colour"]);
            let ratio = (fg.max(bg) + 0.05) / (fg.min(bg) + 0.05);
            assert!(ratio >= 4.5, "{mode}: {l} on the background: {ratio:.2}:1");
        }
    }
    // Without JavaScript the list is the same.
    assert_eq!(
        check(&a["nojs"], "search")["locations"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn each_check_has_ninety_day_bars_grey_where_unknown_and_coloured_today() {
    let a = served();
    let page = &a["light"];
    // Today by the page's own clock (UTC), as it says in its footer.
    let made = page["footer"]["generated"].as_str().unwrap_or("");
    let today = made
        .parse::<DateTime<Utc>>()
        .unwrap_or_else(|_| panic!("the footer's time {made:?} is not RFC 3339"))
        .date_naive();
    for name in ["homepage", "api-health", "checkout", "payments-api"] {
        let c = check(page, name);
        let bars = c["bars"].as_array().unwrap();
        assert_eq!(bars.len(), DAYS, "`{name}`: one bar a day");
        assert_eq!(c["bars_role"], "img", "`{name}`");
        let label = c["bars_label"].as_str().unwrap_or("");
        assert!(
            label.starts_with(&format!("{name}: ")) && label.contains("90 days"),
            "`{name}`'s bars are labelled {label:?}"
        );
        // Oldest first, one a day, ending today.
        let days: Vec<NaiveDate> = bars
            .iter()
            .map(|b| {
                NaiveDate::parse_from_str(b["day"].as_str().unwrap_or(""), "%Y-%m-%d")
                    .unwrap_or_else(|_| panic!("`{name}`: bar day {}", b["day"]))
            })
            .collect();
        assert_eq!(days.last(), Some(&today), "`{name}`: the last bar is today");
        assert!(
            days.windows(2)
                .all(|w| w[1] - w[0] == chrono::Duration::days(1)),
            "`{name}`: days not consecutive: {days:?}"
        );
        for b in bars {
            let (day, title) = (
                b["day"].as_str().unwrap(),
                b["title"].as_str().unwrap_or(""),
            );
            assert!(
                title.contains(day) && title.len() > day.len(),
                "`{name}`: a bar's <title> gives not its day and figures: {b}"
            );
        }
        // The daemon has run today only: every day before is unknown, in grey.
        let (past, last) = bars.split_at(DAYS - 1);
        let last = &last[0];
        for b in past {
            assert_eq!(b["state"], "unknown", "`{name}`: {b}");
            assert!(
                is_grey(&b["fill"]),
                "`{name}`: an unknown day is not grey: {b}"
            );
            assert_eq!(b["fill"], past[0]["fill"], "`{name}`: unknown days differ");
        }
        assert_ne!(
            last["state"], "unknown",
            "`{name}`: today is unknown: {last}"
        );
        assert!(
            !is_grey(&last["fill"]),
            "`{name}`: today's bar is not coloured: {last}"
        );
    }
    let today_state = |name: &str| check(page, name)["bars"][DAYS - 1]["state"].clone();
    assert_eq!(today_state("homepage"), "up");
    assert_eq!(today_state("api-health"), "down");
    assert_ne!(
        check(page, "homepage")["bars"][DAYS - 1]["fill"],
        check(page, "api-health")["bars"][DAYS - 1]["fill"],
        "an up day and a down day in one colour"
    );
    // show.latency: a sparkline per check.
    for name in ["homepage", "api-health", "checkout", "payments-api"] {
        let s = &check(page, name)["sparkline"];
        assert_eq!(s["role"], "img", "`{name}`'s sparkline: {s}");
        assert!(
            s["label"].as_str().is_some_and(|l| !l.is_empty()),
            "`{name}`: {s}"
        );
        // Something is drawn: a line through two hours or more in a row, a
        // dot for an hour alone; a line is never one point.
        let (lines, points, dots) = (
            s["polylines"].as_u64().unwrap_or(0),
            s["points"].as_u64().unwrap_or(0),
            s["dots"].as_u64().unwrap_or(0),
        );
        assert!(lines + dots >= 1, "`{name}`: {s}");
        assert!(points >= 2 * lines, "`{name}`: {s}");
    }
}

#[test]
fn the_open_incident_the_maintenance_notice_and_the_overall_banner_show() {
    let a = served();
    let page = &a["light"];
    let id = a["test"]["incident"].to_string();
    let incidents = page["incidents"]["list"].as_array().unwrap();
    assert!(
        page["incidents"]["heading"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );
    assert_eq!(
        page["incidents"]["none"],
        Value::Null,
        "a 'no incidents' note beside one"
    );
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let open = &incidents[0];
    assert_eq!(open["id"].as_str(), Some(id.as_str()));
    assert_eq!(open["anchor"], format!("incident-{id}"));
    assert_eq!(open["status"], "open");
    assert!(
        open["heading"]
            .as_str()
            .is_some_and(|h| h.contains("api-health")),
        "{open}"
    );
    let events = open["events"].as_array().unwrap();
    assert_eq!(
        events.first().map(|e| &e["event"]),
        Some(&json!("opened")),
        "{open}"
    );
    for e in events {
        let at = e["at"].as_str().unwrap_or("");
        assert!(
            DateTime::parse_from_rfc3339(at).is_ok(),
            "event time {at:?}"
        );
    }

    let windows = page["maintenance"].as_array().unwrap();
    let when: Vec<(String, String)> = windows
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or("").into(),
                w["when"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        when,
        [
            ("db-upgrade".to_string(), "now".to_string()),
            ("payments-move".to_string(), "upcoming".to_string())
        ]
    );
    assert!(
        windows[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Database upgrade in progress")),
        "{}",
        windows[0]
    );
    let now: DateTime<Utc> = a["test"]["now"].as_str().unwrap().parse().unwrap();
    for w in windows {
        let times: Vec<DateTime<Utc>> = texts(&w["times"])
            .iter()
            .map(|t| {
                t.parse()
                    .unwrap_or_else(|_| panic!("maintenance time {t:?} is not RFC 3339"))
            })
            .collect();
        assert_eq!(times.len(), 2, "start and end: {w}");
        let expected = if w["when"] == "now" {
            [
                now - chrono::Duration::minutes(10),
                now + chrono::Duration::hours(2),
            ]
        } else {
            [
                now + chrono::Duration::days(1),
                now + chrono::Duration::days(1) + chrono::Duration::hours(1),
            ]
        };
        for (shown, applied) in times.iter().zip(expected) {
            assert!(
                (*shown - applied).num_seconds().abs() <= 1,
                "{w}: {shown} for {applied}"
            );
        }
    }

    // One check down of four (one in maintenance): an outage, not all well.
    let overall = &page["overall"];
    assert_eq!(overall["role"], "status");
    let expected_text = match overall["state"].as_str() {
        Some("degraded") => "Partial outage",
        Some("down") => "Major outage",
        other => panic!("overall state {other:?} with api-health down"),
    };
    assert!(
        overall["text"]
            .as_str()
            .is_some_and(|t| t.contains(expected_text)),
        "{overall}"
    );
}

/// The text a visitor reads, line by line, without blank lines.
fn readable(page: &Value) -> String {
    let text = page["visible_text"].as_str().unwrap_or("").to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_page_reads_the_same_with_javascript_off() {
    let a = served();
    let (on, off) = (&a["light"], &a["nojs"]);
    assert_eq!(off["status"], 200);
    // Bars compared by their markup: computed colours do not depend on scripts.
    let markup = |page: &Value| {
        let mut groups = page["groups"].clone();
        for c in groups
            .as_array_mut()
            .into_iter()
            .flatten()
            .flat_map(|g| g["checks"].as_array_mut().into_iter().flatten())
        {
            for b in c["bars"].as_array_mut().into_iter().flatten() {
                b["fill"] = Value::Null;
            }
        }
        groups
    };
    assert_eq!(
        markup(on),
        markup(off),
        "the groups differ without JavaScript"
    );
    for part in [
        "title",
        "overall",
        "announcement",
        "incidents",
        "maintenance",
        "order",
    ] {
        assert_eq!(on[part], off[part], "`{part}` differs without JavaScript");
    }
    let (with, without) = (readable(on), readable(off));
    let generated = |p: &Value| p["footer"]["generated"].as_str().unwrap_or("").to_string();
    if generated(on) == generated(off) {
        assert_eq!(with, without, "the visible text differs without JavaScript");
    } else {
        // Made twice: only the footer's time may differ.
        let differing: Vec<(&str, &str)> = with
            .lines()
            .zip(without.lines())
            .filter(|(x, y)| x != y)
            .collect();
        assert_eq!(with.lines().count(), without.lines().count());
        assert!(differing.len() <= 1, "{differing:?}");
    }
}

#[test]
fn on_a_phone_the_page_does_not_scroll_sideways() {
    let phone = &served()["phone"];
    let (scroll, inner) = (
        phone["scroll_width"].as_f64().unwrap(),
        phone["inner_width"].as_f64().unwrap(),
    );
    assert_eq!(inner, 375.0);
    assert!(
        scroll <= inner,
        "{scroll} px wide on a {inner} px phone; past the edge: {}",
        phone["overflowing"]
    );
    assert_eq!(
        phone["wrapped"],
        json!([]),
        "uptime figures and times broken over lines on a phone"
    );
}

#[test]
fn dark_mode_changes_the_background() {
    let a = served();
    let (light, dark) = (background(&a["light"]), background(&a["dark"]));
    assert_ne!(light, dark);
    assert!(
        luminance(dark) < luminance(light),
        "dark {dark} is not darker than light {light}"
    );
    assert!(
        luminance(&a["dark"]["colour"]) > luminance(dark),
        "dark mode's text {} on {dark}",
        a["dark"]["colour"]
    );
}

#[test]
fn axe_finds_no_serious_or_critical_violations() {
    let axe = &served()["axe"];
    let all = axe["violations"].as_array().unwrap();
    for v in all {
        eprintln!(
            "axe {}: {} {} — {}",
            axe["version"], v["impact"], v["id"], v["help"]
        );
    }
    let bad: Vec<&Value> = all
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(
        bad.is_empty(),
        "axe-core {} finds: {}",
        axe["version"],
        serde_json::to_string_pretty(&bad).unwrap_or_default()
    );
}

#[test]
fn a_private_page_answers_401_without_its_token_and_shows_with_it() {
    let a = answer();
    let without = &a["private_without_token"];
    assert_eq!(without["status"], 401, "{without}");
    assert!(
        without["content_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("text/html")),
        "{without}"
    );
    let text = without["visible_text"].as_str().unwrap_or("");
    assert!(
        !text.contains("internal-db") && !text.contains("Internal status"),
        "{text}"
    );
    assert!(!text.contains(TOKEN));

    let with = &a["private_with_token"];
    assert_eq!(with["status"], 200, "{with}");
    assert_eq!(with["title"], "Internal status");
    assert_eq!(
        check(with, "internal-db")["state"],
        "down",
        "{}",
        with["groups"]
    );
    assert!(!with["visible_text"].as_str().unwrap_or("").contains(TOKEN));
}

#[test]
fn the_browser_requests_nothing_outside_the_daemon() {
    let a = answer();
    let origin = a["test"]["origin"].as_str().unwrap();
    let requests = texts(&a["requests"]);
    assert!(
        requests
            .iter()
            .any(|u| u == &format!("{origin}/status/{SLUG}")),
        "{requests:?}"
    );
    let outside: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with(&format!("{origin}/")))
        .collect();
    assert!(outside.is_empty(), "requests outside {origin}: {outside:?}");
    assert_eq!(a["external"], json!([]));
}

#[test]
fn screenshots_are_taken_in_light_dark_and_on_a_phone() {
    let shots = &answer()["screenshots"];
    for name in ["light", "dark", "phone"] {
        let path = PathBuf::from(shots[name].as_str().unwrap_or(""));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
        assert!(
            bytes.len() > 10_000,
            "{}: {} bytes",
            path.display(),
            bytes.len()
        );
    }
}
