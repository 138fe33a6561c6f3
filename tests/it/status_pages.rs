//! Status pages of a real daemon over 90 days of real rollups: the HTML parsed
//! with a real HTML parser, the JSON and the Atom feed (parsed with quick-xml)
//! against it, badges as XML, private pages, tenants kept apart, `Host` routing,
//! the cache's single render for a burst and its invalidation by an apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scraper::{ElementRef, Html, Selector};
use serde_json::{Value, json};
use uptimeping::daemon::store::{ResultRow, Store};
use uptimeping::model::ProbeResult;
use uptimeping::spec::{Check, Kind, Spec, remote};

use crate::daemon_support::{Daemon, Target, plan_request};
use crate::servers::runtime;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// The error text the failing results carry: it must never reach a page.
const SECRET_ERROR: &str = "connect failed: password=hunter2-leak";
const PRIVATE_TOKEN: &str = "s3cret-page-token";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339()
}

/// The resources of the `default` tenant: four checks, two maintenance windows,
/// a public page (on a domain too) and a private one.
fn resources(up: &str, down: &str, now: i64) -> String {
    format!(
        r#"
kind: Check
name: homepage
labels: {{team: web}}
type: http
target: {up}
schedule: 24h
alert: {{failure_threshold: 1, success_threshold: 1}}
---
kind: Check
name: api-health
labels: {{team: web}}
type: http
target: {up}
schedule: 24h
---
kind: Check
name: payments
labels: {{team: payments}}
type: http
target: {down}
schedule: 24h
alert: {{failure_threshold: 1}}
---
kind: Check
name: secret-check
labels: {{team: secret}}
type: http
target: {up}
schedule: 24h
---
kind: Maintenance
name: db-upgrade
description: Upgrading the API's database
checks: [api-health]
start: "{now_start}"
end: "{now_end}"
---
kind: Maintenance
name: next-week
description: Network work
selector: {{team: payments}}
start: "{later_start}"
end: "{later_end}"
---
kind: Maintenance
name: unrelated
checks: [secret-check]
start: "{now_start}"
end: "{now_end}"
---
kind: StatusPage
name: public
title: Example <Inc> status
description: Live status of our public services
slug: example
groups:
  - name: Web
    checks: [homepage, api-health]
  - name: Payments
    selector: {{team: payments}}
show: {{latency: true, incidents_days: 14, uptime_days: 90}}
announcement: "Database upgrade on **Sunday** <script>alert(1)</script> [notes](https://example.com/notes) [bad](javascript:alert(1))"
domain: status.example.test
---
kind: StatusPage
name: private
title: Internal status
slug: internal
groups:
  - name: Internal
    checks: [secret-check]
access: {{token: "{PRIVATE_TOKEN}"}}
"#,
        now_start = time(now - HOUR),
        now_end = time(now + 2 * HOUR),
        later_start = time(now + 2 * DAY),
        later_end = time(now + 2 * DAY + 3 * HOUR),
    )
}

/// A daemon whose checks have 90 days of hourly results written through the
/// store with their own timestamps, and rollups built from them.
struct Seeded {
    d: Daemon,
    up: Target,
    down: Target,
    other_key: String,
    _tmp: tempfile::TempDir,
}

fn result(name: &str, target: &str, at: i64, up: bool) -> ProbeResult {
    serde_json::from_value(json!({
        "name": name, "type": "http", "target": target, "up": up,
        "latency_ms": if up { 20.0 + (at / HOUR % 7) as f64 } else { 900.0 },
        "status_code": if up { Some(200) } else { None },
        "error": if up { None } else { Some(SECRET_ERROR) }, "error_kind": null,
        "attempts": 1, "started_at": chrono::DateTime::from_timestamp_millis(at).expect("time"),
    }))
    .expect("result")
}

/// Whether `check` was up at `at` in the story the results tell: homepage down
/// for three hours five days ago, payments down for the last three hours.
fn up_at(check: &str, at: i64, now: i64) -> bool {
    match check {
        "homepage" => !(now - 5 * DAY..now - 5 * DAY + 3 * HOUR).contains(&at),
        "payments" => at < now - 3 * HOUR,
        _ => true,
    }
}

fn write_history(db: &Path, now: i64) {
    let db = db.to_path_buf();
    runtime().block_on(async move {
        let store = Store::open(&db).expect("open the daemon's store");
        store.set_running_since(i64::MIN);
        let tenant = store
            .tenant_id("default".into())
            .await
            .expect("tenant")
            .expect("default tenant");
        store
            .write(|tx| {
                tx.execute(
                    "UPDATE check_state SET covered_from = NULL, created_at = NULL",
                    [],
                )
            })
            .await
            .expect("clear coverage start");
        let checks: Vec<Arc<Check>> = store
            .resources(tenant, Some(Kind::Check))
            .await
            .expect("checks")
            .into_iter()
            .map(|r| match remote::parse_stored(Kind::Check, &r.spec) {
                Ok(Spec::Check(c)) => Arc::new(c),
                other => panic!("not a check: {other:?}"),
            })
            .collect();
        // Hourly, a little past each hour, from 91 days ago up to a minute ago.
        let first = (now - 91 * DAY).div_euclid(HOUR) * HOUR + 60_000;
        let mut batch = Vec::new();
        let mut at = first;
        while at < now - 60_000 {
            for c in &checks {
                batch.push((
                    ResultRow {
                        tenant,
                        check: c.name.clone(),
                        result: result(&c.name, &c.target, at, up_at(&c.name, at, now)),
                    },
                    Arc::clone(c),
                ));
            }
            if batch.len() >= 400 {
                store
                    .record(std::mem::take(&mut batch))
                    .await
                    .expect("record");
            }
            at += HOUR;
        }
        store.record(batch).await.expect("record");
        store.build_rollups(now).await.expect("build rollups");
    });
}

fn seeded() -> Seeded {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().join("data");
    let up = Target::start();
    let down = Target::start();
    down.set_healthy(false);
    let now = now_ms();
    let d = Daemon::start_on(&dir, &[]);
    d.post(
        "/api/v1/apply",
        &plan_request("test", &resources(&up.url(), &down.url(), now), json!({})),
    );
    // Another tenant with a check its own page's selector would match, and a
    // name the first tenant's page selects by.
    let created = d.post("/api/v1/tenants", &json!({"name": "other"}));
    let other_key = created["api_key"]
        .as_str()
        .or_else(|| created["key"].as_str())
        .unwrap_or_else(|| panic!("no key in {created}"))
        .to_string();
    let (status, body) = d.call_as(
        &other_key,
        "POST",
        "/api/v1/apply",
        Some(&plan_request(
            "other",
            &format!(
                "kind: Check\nname: other-payments\nlabels: {{team: payments}}\ntype: http\ntarget: {}\nschedule: 24h\n---\nkind: Check\nname: homepage-other\nlabels: {{team: web}}\ntype: http\ntarget: {}\nschedule: 24h\n",
                down.url(),
                up.url()
            ),
            json!({}),
        )),
    );
    assert_eq!(status, 200, "{body}");
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");
    write_history(&dir.join(uptimeping::daemon::data_dir::DB_FILE), now);
    let d = Daemon::start_on(&dir, &[]);
    Seeded {
        d,
        up,
        down,
        other_key,
        _tmp: tmp,
    }
}

fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::blocking::Response {
    let mut req = Daemon::client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().expect("GET")
}

fn header(res: &reqwest::blocking::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"))
}

fn attr<'a>(e: &ElementRef<'a>, name: &str) -> &'a str {
    e.value().attr(name).unwrap_or("")
}

fn text(e: &ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_string()
}

/// What the bytes of any answer must never hold.
fn assert_nothing_leaks(body: &str, s: &Seeded) {
    for secret in [
        SECRET_ERROR,
        "hunter2",
        &s.up.url(),
        &s.down.url(),
        &s.up.addr.to_string(),
        "secret-check",
        "other-payments",
        "homepage-other",
        PRIVATE_TOKEN,
        "team",
    ] {
        assert!(!body.contains(secret), "`{secret}` leaks into:\n{body}");
    }
}

/// What HTML or a feed must not hold besides: a script, from any text.
fn assert_no_markup_passes(body: &str) {
    assert!(!body.contains("<script"), "a script passes into:\n{body}");
}

#[test]
fn a_page_shows_its_groups_states_bars_incidents_and_maintenance_and_nothing_else() {
    let s = seeded();
    let res = get(&format!("{}/status/example", s.d.url), &[]);
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    let cache = header(&res, "cache-control");
    assert!(cache.starts_with("public, max-age="), "{cache}");
    assert!(!header(&res, "etag").is_empty());
    let body = res.text().expect("body");
    assert_nothing_leaks(&body, &s);
    assert_no_markup_passes(&body);
    let doc = Html::parse_document(&body);

    assert_eq!(
        doc.select(&sel("html")).next().map(|h| attr(&h, "lang")),
        Some("en")
    );
    let title = doc.select(&sel("title")).next().map(|t| text(&t));
    assert_eq!(title.as_deref(), Some("Example <Inc> status"));
    assert_eq!(doc.select(&sel("style")).count(), 1);
    assert_eq!(doc.select(&sel("script")).count(), 0);
    assert_eq!(
        doc.select(&sel("meta[name=color-scheme]"))
            .next()
            .map(|m| attr(&m, "content")),
        Some("light dark")
    );
    assert!(doc.select(&sel("meta[name=viewport]")).next().is_some());
    for e in doc.select(&sel("[href], [src]")) {
        let url = e
            .value()
            .attr("href")
            .or(e.value().attr("src"))
            .unwrap_or("");
        let in_announcement = e
            .ancestors()
            .filter_map(ElementRef::wrap)
            .any(|a| a.value().id() == Some("announcement"));
        assert!(
            in_announcement || !url.contains("://"),
            "an external URL outside the announcement: {url}"
        );
    }
    let h1 = doc.select(&sel("header h1")).next().map(|h| text(&h));
    assert_eq!(h1.as_deref(), Some("Example <Inc> status"));
    assert!(doc.select(&sel("header p.description")).next().is_some());
    assert!(
        doc.select(&sel("footer a[href='example.json']"))
            .next()
            .is_some()
    );
    assert!(
        doc.select(&sel("footer a[href='example.atom']"))
            .next()
            .is_some()
    );
    assert!(doc.select(&sel("footer time[datetime]")).next().is_some());

    // main: overall, announcement, maintenance, groups, incidents, in order.
    let main = doc.select(&sel("main")).next().expect("main");
    let order: Vec<String> = main
        .children()
        .filter_map(ElementRef::wrap)
        .map(|e| {
            e.value()
                .id()
                .map(str::to_string)
                .or_else(|| e.value().attr("data-group").map(|g| format!("group:{g}")))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        order,
        [
            "overall",
            "announcement",
            "maintenance",
            "group:Web",
            "group:Payments",
            "incidents"
        ]
    );
    let overall = doc.select(&sel("section#overall")).next().expect("overall");
    assert_eq!(attr(&overall, "data-state"), "degraded");
    assert_eq!(attr(&overall, "role"), "status");
    assert_eq!(text(&overall), "Partial outage");

    let ann = doc
        .select(&sel("aside#announcement"))
        .next()
        .expect("announcement");
    assert_eq!(
        ann.select(&sel("strong"))
            .next()
            .map(|b| text(&b))
            .as_deref(),
        Some("Sunday")
    );
    let links: Vec<(String, String)> = ann
        .select(&sel("a"))
        .map(|a| (attr(&a, "href").to_string(), attr(&a, "rel").to_string()))
        .collect();
    assert_eq!(
        links,
        [(
            "https://example.com/notes".to_string(),
            "nofollow noopener noreferrer".to_string()
        )]
    );
    assert!(
        text(&ann).contains("<script>alert(1)</script>"),
        "{}",
        text(&ann)
    );

    let windows: Vec<(String, String)> = doc
        .select(&sel("section#maintenance article.maintenance"))
        .map(|a| {
            (
                attr(&a, "data-maintenance").to_string(),
                attr(&a, "data-when").to_string(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("db-upgrade".to_string(), "now".to_string()),
            ("next-week".to_string(), "upcoming".to_string())
        ],
        "`unrelated` covers no check of the page"
    );
    let db = doc
        .select(&sel("article[data-maintenance=db-upgrade]"))
        .next()
        .expect("db-upgrade");
    assert!(text(&db).contains("Upgrading the API's database"));
    // Each window says which of the page's checks it covers, and only those.
    let covered = |name: &str| -> Vec<String> {
        doc.select(&sel(&format!(
            "article[data-maintenance={name}] .covers .covered"
        )))
        .map(|c| text(&c))
        .collect()
    };
    assert_eq!(covered("db-upgrade"), ["api-health"]);
    assert_eq!(covered("next-week"), ["payments"]);
    for t in db.select(&sel("time")) {
        chrono::DateTime::parse_from_rfc3339(attr(&t, "datetime")).expect("RFC 3339");
    }

    let checks = |group: &str| -> Vec<(String, String)> {
        doc.select(&sel(&format!(
            "section.group[data-group='{group}'] li.check"
        )))
        .map(|c| {
            (
                attr(&c, "data-check").to_string(),
                attr(&c, "data-state").to_string(),
            )
        })
        .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        checks("Web"),
        pairs(&[("homepage", "up"), ("api-health", "maintenance")])
    );
    assert_eq!(checks("Payments"), pairs(&[("payments", "down")]));

    let today = chrono::Utc::now().date_naive();
    for c in doc.select(&sel("li.check")) {
        let name = attr(&c, "data-check");
        let state_text = c.select(&sel(".state")).next().map(|s| text(&s));
        let want = match attr(&c, "data-state") {
            "up" => "Operational",
            "down" => "Down",
            "maintenance" => "Maintenance",
            other => panic!("{name}: state {other}"),
        };
        assert_eq!(state_text.as_deref(), Some(want), "{name}");
        let bars: Vec<ElementRef> = c.select(&sel("svg.bars rect.bar")).collect();
        assert_eq!(bars.len(), 90, "{name}");
        let svg = c.select(&sel("svg.bars")).next().expect("bars");
        assert_eq!(attr(&svg, "role"), "img");
        assert!(attr(&svg, "aria-label").starts_with(&format!("{name}: ")));
        let days: Vec<&str> = bars.iter().map(|b| attr(b, "data-day")).collect();
        assert_eq!(
            days.last().copied(),
            Some(today.to_string().as_str()),
            "{name}"
        );
        assert_eq!(
            days.first().copied(),
            Some((today - chrono::Duration::days(89)).to_string().as_str()),
            "{name}"
        );
        assert!(
            bars.iter()
                .all(|b| b.select(&sel("title")).next().is_some())
        );
        let states: Vec<&str> = bars.iter().map(|b| attr(b, "data-state")).collect();
        match name {
            "homepage" => {
                let five_ago = (today - chrono::Duration::days(5)).to_string();
                for (b, s) in bars.iter().zip(&states) {
                    let day = attr(b, "data-day");
                    // Three hours down of a day is below the partial threshold
                    // only when they all fall in one day; they may span two.
                    if day == five_ago || day == (today - chrono::Duration::days(4)).to_string() {
                        continue;
                    }
                    assert_eq!(*s, "up", "{name} {day}");
                }
                assert!(
                    states.iter().any(|s| *s == "partial" || *s == "down"),
                    "{name}: {states:?}"
                );
                let uptime = c.select(&sel(".uptime")).next().expect("uptime");
                let u: f64 = attr(&uptime, "data-uptime").parse().expect("uptime figure");
                assert!(u > 99.8 && u < 100.0, "{u}");
                assert!(text(&uptime).ends_with('%'));
                let spark = c
                    .select(&sel("svg.sparkline polyline"))
                    .next()
                    .expect("sparkline");
                assert!(attr(&spark, "points").split(' ').count() >= 40);
            }
            "payments" => {
                assert_ne!(states.last().copied(), Some("up"), "{states:?}");
                assert!(states[..88].iter().all(|s| *s == "up"), "{states:?}");
            }
            _ => {}
        }
    }

    let incidents: Vec<(String, String)> = doc
        .select(&sel("section#incidents article.incident"))
        .map(|a| {
            (
                attr(&a, "data-incident").to_string(),
                attr(&a, "data-status").to_string(),
            )
        })
        .collect();
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert_eq!(incidents[0].1, "open");
    assert_eq!(incidents[1].1, "resolved");
    let open = doc
        .select(&sel(&format!("article#incident-{}", incidents[0].0)))
        .next()
        .expect("the open incident's anchor");
    assert!(text(&open).contains("payments"));
    let kinds: Vec<&str> = open
        .select(&sel("ol.timeline li"))
        .map(|li| attr(&li, "data-event"))
        .collect();
    assert_eq!(kinds, ["opened"]);
    let resolved = doc
        .select(&sel(&format!("article#incident-{}", incidents[1].0)))
        .next()
        .expect("resolved");
    let kinds: Vec<&str> = resolved
        .select(&sel("ol.timeline li"))
        .map(|li| attr(&li, "data-event"))
        .collect();
    assert_eq!(kinds, ["opened", "resolved"]);
    for li in doc.select(&sel("ol.timeline li")) {
        let t = li.select(&sel("time")).next().expect("time");
        chrono::DateTime::parse_from_rfc3339(attr(&t, "datetime")).expect("RFC 3339");
    }

    // The JSON carries the same data.
    let res = get(&format!("{}/status/example.json", s.d.url), &[]);
    assert_eq!(header(&res, "content-type"), "application/json");
    let body = res.text().expect("json");
    assert_nothing_leaks(&body, &s);
    let j: Value = serde_json::from_str(&body).expect("JSON");
    // The announcement is data here, as written: a client escapes it.
    assert!(
        j["page"]["announcement"]
            .as_str()
            .is_some_and(|a| a.contains("**Sunday**"))
    );
    assert_eq!(j["page"]["slug"], "example");
    assert_eq!(j["state"], "degraded");
    let groups: Vec<(String, Vec<(String, String)>)> = j["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap_or("").to_string(),
                g["checks"]
                    .as_array()
                    .expect("checks")
                    .iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or("").to_string(),
                            c["state"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("Web".to_string(), checks("Web")),
            ("Payments".to_string(), checks("Payments"))
        ]
    );
    for c in doc.select(&sel("li.check")) {
        let name = attr(&c, "data-check");
        let jc = j["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["checks"].as_array().into_iter().flatten())
            .find(|x| x["name"] == name)
            .expect("check in JSON");
        let days = jc["days"].as_array().expect("days");
        assert_eq!(days.len(), 90);
        for (b, jd) in c.select(&sel("rect.bar")).zip(days) {
            assert_eq!(attr(&b, "data-day"), jd["day"]);
            assert_eq!(attr(&b, "data-state"), jd["state"]);
            let known = jd["up_ms"].as_i64().unwrap_or(0)
                + jd["down_ms"].as_i64().unwrap_or(0)
                + jd["maintenance_ms"].as_i64().unwrap_or(0)
                + jd["unknown_ms"].as_i64().unwrap_or(0);
            if jd["day"] != today.to_string() {
                assert_eq!(known, DAY, "{name} {}", jd["day"]);
            }
        }
        assert!(jc["latency"].as_array().is_some_and(|l| l.len() == 48));
    }
    let ids: Vec<String> = j["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| i["id"].to_string())
        .collect();
    assert_eq!(
        ids,
        incidents.iter().map(|i| i.0.clone()).collect::<Vec<_>>()
    );
    assert_eq!(j["maintenance"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["maintenance"][0]["checks"], json!(["api-health"]));
    assert_eq!(j["maintenance"][1]["checks"], json!(["payments"]));

    // The feed: Atom, one entry per incident.
    let res = get(&format!("{}/status/example.atom", s.d.url), &[]);
    assert_eq!(
        header(&res, "content-type"),
        "application/atom+xml; charset=utf-8"
    );
    let body = res.text().expect("atom");
    assert_nothing_leaks(&body, &s);
    assert_no_markup_passes(&body);
    let feed = parse_xml(&body);
    assert_eq!(feed.root, "feed");
    assert_eq!(feed.ns.as_deref(), Some("http://www.w3.org/2005/Atom"));
    for needed in ["feed/id", "feed/title", "feed/updated", "feed/link"] {
        assert!(
            feed.paths.contains_key(needed),
            "{needed}: {:?}",
            feed.paths
        );
    }
    assert_eq!(feed.paths.get("feed/entry").copied(), Some(2));
    let entry_ids: Vec<&String> = feed
        .texts
        .iter()
        .filter(|(p, _)| p == "feed/entry/id")
        .map(|(_, t)| t)
        .collect();
    for (id, (inc, _)) in entry_ids.iter().zip(&incidents) {
        assert!(id.ends_with(&format!(":incident:{inc}")), "{id}");
    }
}

/// What quick-xml saw of a document: its root, the root's namespace, how often
/// each element path occurs, and the text of each element.
struct Xml {
    root: String,
    ns: Option<String>,
    paths: BTreeMap<String, usize>,
    texts: Vec<(String, String)>,
    attrs: Vec<(String, String, String)>,
}

fn parse_xml(text: &str) -> Xml {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Xml {
        root: String::new(),
        ns: None,
        paths: BTreeMap::new(),
        texts: Vec::new(),
        attrs: Vec::new(),
    };
    // Text arrives in pieces, entity references apart: gathered per element.
    let mut buf = String::new();
    let flush = |buf: &mut String, stack: &[String], out: &mut Xml| {
        if !buf.trim().is_empty() {
            out.texts.push((stack.join("/"), std::mem::take(buf)));
        }
        buf.clear();
    };
    let open = |e: &quick_xml::events::BytesStart<'_>, stack: &mut Vec<String>, out: &mut Xml| {
        let name = e.name().into_inner().to_string();
        if stack.is_empty() {
            out.root = name.clone();
        }
        stack.push(name);
        let path = stack.join("/");
        *out.paths.entry(path.clone()).or_default() += 1;
        for a in e.attributes() {
            let a = a.expect("attribute");
            let key = a.key.into_inner().to_string();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .expect("attribute value")
                .to_string();
            if stack.len() == 1 && key == "xmlns" {
                out.ns = Some(value.clone());
            }
            out.attrs.push((path.clone(), key, value));
        }
    };
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not XML: {e}\n{text}"))
        {
            Event::Start(e) => {
                flush(&mut buf, &stack, &mut out);
                open(&e, &mut stack, &mut out);
            }
            Event::Empty(e) => {
                flush(&mut buf, &stack, &mut out);
                open(&e, &mut stack, &mut out);
                stack.pop();
            }
            Event::End(_) => {
                flush(&mut buf, &stack, &mut out);
                stack.pop();
            }
            Event::Text(t) => buf.push_str(&t),
            Event::GeneralRef(r) => {
                let name = r.to_string();
                let c = match name.as_str() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    n => n
                        .strip_prefix("#x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32)
                        .unwrap_or_else(|| panic!("unknown entity &{n};")),
                };
                buf.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    out
}

#[test]
fn badges_are_svg_with_the_right_text_and_colour_and_hidden_checks_are_404() {
    let s = seeded();
    let svg = |path: &str, headers: &[(&str, &str)]| -> (u16, String, String, String) {
        let res = get(&format!("{}{path}", s.d.url), headers);
        let status = res.status().as_u16();
        let ct = header(&res, "content-type");
        let cc = header(&res, "cache-control");
        (status, ct, cc, res.text().unwrap_or_default())
    };
    let (status, ct, cc, body) = svg("/badge/default/homepage/status.svg", &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "image/svg+xml; charset=utf-8");
    assert!(cc.starts_with("public, max-age="), "{cc}");
    let x = parse_xml(&body);
    assert_eq!(x.root, "svg");
    assert_eq!(x.ns.as_deref(), Some("http://www.w3.org/2000/svg"));
    let texts: Vec<&str> = x
        .texts
        .iter()
        .filter(|(p, _)| p.ends_with("/text"))
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(texts, ["homepage", "up"]);
    let fills: Vec<&str> = x
        .attrs
        .iter()
        .filter(|(p, k, _)| p == "svg/g/rect" && k == "fill")
        .map(|(_, _, v)| v.as_str())
        .collect();
    assert!(fills.contains(&"#1a7f37"), "{fills:?}");

    let (_, _, _, body) = svg("/badge/default/payments/status.svg", &[]);
    let x = parse_xml(&body);
    assert!(x.texts.iter().any(|(_, t)| t == "down"));
    assert!(
        x.attrs
            .iter()
            .any(|(_, k, v)| k == "fill" && v == "#cf222e")
    );

    let (status, _, _, body) = svg("/badge/default/homepage/uptime.svg?window=30d", &[]);
    assert_eq!(status, 200);
    let x = parse_xml(&body);
    let texts: Vec<&str> = x.texts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(texts.contains(&"uptime 30d"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with('%') && t.starts_with("99.")),
        "{texts:?}"
    );
    for bad in ["0d", "91d", "30", "abc", "-1d"] {
        let (status, ct, _, body) = svg(
            &format!("/badge/default/homepage/uptime.svg?window={bad}"),
            &[],
        );
        assert_eq!(status, 400, "window={bad}");
        assert_eq!(ct, "image/svg+xml; charset=utf-8", "window={bad}");
        let texts: Vec<String> = parse_xml(&body).texts.into_iter().map(|(_, t)| t).collect();
        assert!(texts.iter().any(|t| t == "bad window"), "{texts:?}");
    }
    let (status, _, _, body) = svg("/badge/default/homepage/latency.svg", &[]);
    assert_eq!(status, 200);
    assert!(
        parse_xml(&body)
            .texts
            .iter()
            .any(|(_, t)| t.ends_with(" ms")),
        "{body}"
    );

    // On no public page: 404 unless the private page's token or a key of the
    // tenant comes with it; another tenant's key does not count.
    for path in ["status", "uptime", "latency"] {
        let p = format!("/badge/default/secret-check/{path}.svg");
        assert_eq!(svg(&p, &[]).0, 404, "{p}");
        assert_eq!(svg(&format!("{p}?token=wrong"), &[]).0, 404, "{p}");
        let auth = format!("Bearer {}", s.other_key);
        assert_eq!(svg(&p, &[("authorization", &auth)]).0, 404, "{p}");
        assert_eq!(
            svg(&format!("{p}?token={PRIVATE_TOKEN}"), &[]).0,
            200,
            "{p}"
        );
        let auth = format!("Bearer {}", s.d.key);
        let (status, _, cc, _) = svg(&p, &[("authorization", &auth)]);
        assert_eq!(status, 200, "{p}");
        assert!(cc.starts_with("private"), "{cc}");
    }
    // A check that does not exist and one of another tenant answer the same.
    let missing = svg("/badge/default/no-such-check/status.svg", &[]);
    let foreign = svg("/badge/default/other-payments/status.svg", &[]);
    assert_eq!((missing.0, &missing.3), (404, &foreign.3));
    // Refusals are badges too, so an <img> shows why.
    assert_eq!(missing.1, "image/svg+xml; charset=utf-8");
    let texts: Vec<String> = parse_xml(&missing.3)
        .texts
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(texts.iter().any(|t| t == "not found"), "{texts:?}");
    assert_eq!(svg("/badge/other/other-payments/status.svg", &[]).0, 404);
    assert_eq!(svg("/badge/nobody/homepage/status.svg", &[]).0, 404);
}

#[test]
fn a_private_page_needs_its_token_and_unknown_slugs_are_404() {
    let s = seeded();
    let url = format!("{}/status/internal", s.d.url);
    for (what, res) in [
        ("no token", get(&url, &[])),
        ("wrong token", get(&format!("{url}?token=nope"), &[])),
        (
            "wrong bearer",
            get(&url, &[("authorization", "Bearer nope")]),
        ),
        ("a prefix of it", get(&format!("{url}?token=s3cret"), &[])),
    ] {
        assert_eq!(res.status().as_u16(), 401, "{what}");
        assert!(
            header(&res, "content-type").starts_with("text/html"),
            "{what}"
        );
        let body = res.text().expect("body");
        assert!(
            !body.contains("secret-check") && !body.contains("Internal status"),
            "{what}: {body}"
        );
    }
    let res = get(&format!("{url}.json"), &[]);
    assert_eq!(res.status().as_u16(), 401);
    let j: Value = res.json().expect("JSON error");
    assert_eq!(j["error"]["code"], "unauthorized");
    assert_eq!(get(&format!("{url}.atom"), &[]).status().as_u16(), 401);

    for res in [
        get(&format!("{url}?token={PRIVATE_TOKEN}"), &[]),
        get(
            &url,
            &[("authorization", &format!("Bearer {PRIVATE_TOKEN}"))],
        ),
    ] {
        assert_eq!(res.status().as_u16(), 200);
        assert!(header(&res, "cache-control").starts_with("private"));
        let body = res.text().expect("body");
        let doc = Html::parse_document(&body);
        let names: Vec<&str> = doc
            .select(&sel("li.check"))
            .map(|c| attr(&c, "data-check"))
            .collect();
        assert_eq!(names, ["secret-check"]);
    }
    let res = get(
        &format!("{}/status/internal.json?token={PRIVATE_TOKEN}", s.d.url),
        &[],
    );
    assert_eq!(res.status().as_u16(), 200);

    for path in ["/status/nope", "/status/nope.json", "/status/nope.atom"] {
        assert_eq!(
            get(&format!("{}{path}", s.d.url), &[]).status().as_u16(),
            404,
            "{path}"
        );
    }
    let long = format!("{}/status/example?token={}", s.d.url, "x".repeat(5000));
    assert_eq!(get(&long, &[]).status().as_u16(), 400);
}

#[test]
fn a_page_never_lists_another_tenants_checks_even_when_its_selector_matches() {
    let s = seeded();
    let j: Value = get(&format!("{}/status/example.json", s.d.url), &[])
        .json()
        .expect("json");
    let names: Vec<&str> = j["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["checks"].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["homepage", "api-health", "payments"]);
    // The other tenant's page of the same selector shows only its own check.
    let (status, body) = s.d.call_as(
        &s.other_key,
        "POST",
        "/api/v1/apply",
        Some(&plan_request(
            "other",
            "kind: StatusPage\nname: theirs\ntitle: Theirs\nslug: theirs\ngroups:\n  - name: Pay\n    selector: {team: payments}\n",
            json!({}),
        )),
    );
    assert_eq!(status, 200, "{body}");
    let body = get(&format!("{}/status/theirs", s.d.url), &[])
        .text()
        .expect("html");
    let doc = Html::parse_document(&body);
    let names: Vec<&str> = doc
        .select(&sel("li.check"))
        .map(|c| attr(&c, "data-check"))
        .collect();
    assert_eq!(names, ["other-payments"], "{body}");
    assert!(!body.contains("api-health") && !body.contains("data-check=\"homepage\""));
}

#[test]
fn the_domain_of_a_page_serves_it_at_the_root_by_host() {
    let s = seeded();
    let res = get(
        &format!("{}/", s.d.url),
        &[("host", "Status.Example.Test:8080")],
    );
    assert_eq!(res.status().as_u16(), 200);
    let body = res.text().expect("html");
    let doc = Html::parse_document(&body);
    assert!(
        doc.select(&sel("footer a[href='index.json']"))
            .next()
            .is_some(),
        "{body}"
    );
    assert_eq!(doc.select(&sel("li.check")).count(), 3);
    let res = get(
        &format!("{}/index.json", s.d.url),
        &[("host", "status.example.test")],
    );
    assert_eq!(res.status().as_u16(), 200);
    let j: Value = res.json().expect("json");
    assert_eq!(j["page"]["slug"], "example");
    let res = get(
        &format!("{}/index.atom", s.d.url),
        &[("host", "status.example.test")],
    );
    assert_eq!(res.status().as_u16(), 200);
    parse_xml(&res.text().expect("atom"));
    for host in ["other.example.test", "example.test", "127.0.0.1"] {
        let res = get(&format!("{}/", s.d.url), &[("host", host)]);
        assert_eq!(res.status().as_u16(), 404, "{host}");
    }
}

fn renders(d: &Daemon) -> u64 {
    let text = Daemon::client()
        .get(format!("{}/metrics", d.url))
        .send()
        .and_then(|r| r.text())
        .expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("uptime_status_page_renders_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no render counter in:\n{text}"))
}

#[test]
fn a_burst_of_visitors_costs_one_render_and_an_apply_renders_afresh() {
    let s = seeded();
    let url = format!("{}/status/example", s.d.url);
    let before = renders(&s.d);
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let res = get(&url, &[]);
                (res.status().as_u16(), header(&res, "etag"))
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(answers.windows(2).all(|w| w[0].1 == w[1].1), "{answers:?}");
    assert_eq!(renders(&s.d) - before, 1, "16 visitors at once, one render");

    // Not modified, cheaply; gzip when asked for.
    let etag = answers[0].1.clone();
    let res = get(&url, &[("if-none-match", &etag)]);
    assert_eq!(res.status().as_u16(), 304);
    let res = get(&url, &[("accept-encoding", "gzip")]);
    assert_eq!(header(&res, "content-encoding"), "gzip");
    assert!(header(&res, "vary").contains("Accept-Encoding"));
    let gz_etag = header(&res, "etag");
    assert_ne!(gz_etag, etag, "gzip and identity share a validator");
    // Each validator matches its own representation only.
    let res = get(
        &url,
        &[("accept-encoding", "gzip"), ("if-none-match", &gz_etag)],
    );
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(header(&res, "etag"), gz_etag);
    let res = get(
        &url,
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    );
    assert_eq!(res.status().as_u16(), 200);
    let res = get(&url, &[("if-none-match", &gz_etag)]);
    assert_eq!(res.status().as_u16(), 200);
    // A coding refused with q=0 is not used.
    for refused in ["gzip;q=0", "br, gzip; q=0.0, *;q=0"] {
        let res = get(&url, &[("accept-encoding", refused)]);
        assert_eq!(header(&res, "content-encoding"), "", "{refused}");
        assert_eq!(header(&res, "etag"), etag, "{refused}");
        assert!(res.text().expect("html").starts_with("<!DOCTYPE html>"));
    }
    assert_eq!(renders(&s.d) - before, 1);

    // An apply that changes the page shows at once.
    let now = now_ms();
    let yaml = resources(&s.up.url(), &s.down.url(), now)
        .replace("Example <Inc> status", "Renamed status");
    s.d.apply("test", &yaml);
    let body = get(&url, &[]).text().expect("html");
    let doc = Html::parse_document(&body);
    assert_eq!(
        doc.select(&sel("h1")).next().map(|h| text(&h)).as_deref(),
        Some("Renamed status")
    );
    assert_eq!(renders(&s.d) - before, 2);
}

/// Whether XML 1.0 allows `c` in a document (quick-xml does not check).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[test]
fn text_xml_forbids_is_refused_at_the_api_and_dropped_from_feeds_whatever_is_stored() {
    let s = seeded();
    let j: Value = get(&format!("{}/status/example.json", s.d.url), &[])
        .json()
        .expect("json");
    let id = j["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["status"] == "open")
        .and_then(|i| i["id"].as_i64())
        .unwrap_or_else(|| panic!("no open incident in {j}"));
    for bad in [
        "a\u{1}b",
        "bell\u{7}",
        "x\u{FFFE}",
        "y\u{FFFF}",
        "\u{202E}txt",
        "\u{2066}i",
    ] {
        for (path, body) in [
            (
                format!("/api/v1/incidents/{id}/ack"),
                json!({"comment": bad}),
            ),
            (
                format!("/api/v1/incidents/{id}/resolve"),
                json!({"comment": bad}),
            ),
            (
                format!("/api/v1/incidents/{id}/updates"),
                json!({"message": bad}),
            ),
        ] {
            let (status, answer) = s.d.call("POST", &path, Some(&body));
            assert_eq!(status, 400, "{path} {bad:?}: {answer}");
            let field = if path.ends_with("updates") {
                "message"
            } else {
                "comment"
            };
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains(field),
                "{answer}"
            );
        }
    }
    let (status, answer) = s.d.call(
        "POST",
        &format!("/api/v1/incidents/{id}/ack"),
        Some(&json!({"comment": "c".repeat(2001)})),
    );
    assert_eq!(status, 400, "{answer}");
    // Text stored before these rules (or by any other way in) is still no harm.
    let db = s
        ._tmp
        .path()
        .join("data")
        .join(uptimeping::daemon::data_dir::DB_FILE);
    runtime().block_on(async move {
        let store = Store::open(&db).expect("open the daemon's store");
        let tenant = store
            .tenant_id("default".into())
            .await
            .expect("tenant")
            .expect("default tenant");
        store
            .write(move |tx| {
                for (kind, detail) in [
                    ("acknowledged", json!({"comment": "ack\u{1}ed\u{FFFE}"})),
                    (
                        "update",
                        json!({"status": "identified", "message": "fix\u{0}ing\u{1b}[31m \u{FFFF}now"}),
                    ),
                    // Alerting internals, never on a page, nor kinds added later.
                    ("escalated", json!({"comment": "escalated-marker"})),
                    ("released", json!({"comment": "released-marker"})),
                    ("reminder", json!({"comment": "reminder-marker"})),
                    ("failure", json!({"message": "failure-marker"})),
                    ("some_future_kind", json!({"message": "future-marker"})),
                ] {
                    tx.execute(
                        "INSERT INTO incident_events (tenant_id, incident_id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, 'test', ?5)",
                        rusqlite::params![tenant, id, now_ms(), kind, detail.to_string()],
                    )?;
                }
                Ok(())
            })
            .await
            .expect("insert events");
    });
    for path in ["/status/example.atom", "/status/example"] {
        let body = get(&format!("{}{path}", s.d.url), &[])
            .text()
            .expect("body");
        if let Some(c) = body.chars().find(|&c| !xml_char(c)) {
            panic!(
                "{path} holds U+{:04X}, which XML forbids:\n{body}",
                u32::from(c)
            );
        }
        assert!(
            body.contains("acked") && body.contains("fixing[31m now"),
            "{body}"
        );
        assert!(
            !body.contains("-marker"),
            "{path} shows an internal event:\n{body}"
        );
        if path.ends_with(".atom") {
            parse_xml(&body);
        } else {
            let doc = Html::parse_document(&body);
            for li in doc.select(&sel("ol.timeline li")) {
                let kind = attr(&li, "data-event");
                assert!(
                    ["opened", "acknowledged", "update", "resolved"].contains(&kind),
                    "a `{kind}` event is shown"
                );
            }
        }
    }
}

/// One raw HTTP/1.1 request (for what a client library will not send, such as
/// two `Host` headers); the answer's status.
fn raw_status(d: &Daemon, head: &str) -> u16 {
    use std::io::{Read, Write};
    let addr = d.url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    c.write_all(head.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"))
}

#[test]
fn answers_carry_security_headers_and_a_private_page_keeps_its_token_to_itself() {
    let s = seeded();
    let url = format!("{}/status/internal", s.d.url);
    // 401 in every format: a challenge, never cached, a feed's as XML.
    for (suffix, kind) in [
        ("", "text/html"),
        (".json", "application/json"),
        (".atom", "application/xml"),
    ] {
        let res = get(&format!("{url}{suffix}"), &[]);
        assert_eq!(res.status().as_u16(), 401, "{suffix}");
        assert_eq!(
            header(&res, "www-authenticate"),
            "Bearer realm=\"status\"",
            "{suffix}"
        );
        assert_eq!(header(&res, "cache-control"), "no-store", "{suffix}");
        assert_eq!(
            header(&res, "x-content-type-options"),
            "nosniff",
            "{suffix}"
        );
        assert!(
            header(&res, "content-type").starts_with(kind),
            "{suffix}: {}",
            header(&res, "content-type")
        );
    }
    // Opened by `?token=`, its JSON and feed links carry the token and open too;
    // no referrer leaves it.
    let res = get(&format!("{url}?token={PRIVATE_TOKEN}"), &[]);
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(header(&res, "referrer-policy"), "no-referrer");
    assert_eq!(
        header(&res, "content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
    );
    let body = res.text().expect("html");
    let doc = Html::parse_document(&body);
    let mut hrefs: Vec<&str> = doc
        .select(&sel("footer a, link[rel=alternate]"))
        .map(|a| attr(&a, "href"))
        .collect();
    hrefs.sort();
    assert_eq!(
        hrefs,
        [
            format!("internal.atom?token={PRIVATE_TOKEN}"),
            format!("internal.atom?token={PRIVATE_TOKEN}"),
            format!("internal.json?token={PRIVATE_TOKEN}"),
        ]
    );
    for href in hrefs {
        assert_eq!(
            get(&format!("{}/status/{href}", s.d.url), &[])
                .status()
                .as_u16(),
            200,
            "{href}"
        );
    }
    // By the bearer (whatever the scheme's case) the page holds no token.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = get(
            &url,
            &[("authorization", &format!("{scheme} {PRIVATE_TOKEN}"))],
        );
        assert_eq!(res.status().as_u16(), 200, "{scheme}");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer");
        let body = res.text().expect("html");
        assert!(!body.contains(PRIVATE_TOKEN), "the token is echoed: {body}");
    }
    // A token given twice is refused, whichever is right.
    for q in [
        format!("token={PRIVATE_TOKEN}&token=nope"),
        format!("token=nope&token={PRIVATE_TOKEN}"),
    ] {
        let res = get(&format!("{url}?{q}"), &[]);
        assert_eq!(res.status().as_u16(), 400, "{q}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{q}");
    }
    // A public page: nosniff and the policy, no referrer policy needed.
    let res = get(&format!("{}/status/example", s.d.url), &[]);
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert!(header(&res, "content-security-policy").starts_with("default-src 'none'"));
    let res = get(
        &format!("{}/badge/default/homepage/status.svg", s.d.url),
        &[],
    );
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    // A window in one spelling only: digits, no sign, no leading zero.
    for w in ["%2B5d", "05d", "5", "5%20d", "0d", "91d", "-1d", "d"] {
        let res = get(
            &format!("{}/badge/default/homepage/uptime.svg?window={w}", s.d.url),
            &[],
        );
        assert_eq!(res.status().as_u16(), 400, "{w}");
    }
    for w in ["1d", "30d", "90d"] {
        let res = get(
            &format!("{}/badge/default/homepage/uptime.svg?window={w}", s.d.url),
            &[],
        );
        assert_eq!(res.status().as_u16(), 200, "{w}");
    }
    // A 404 does not echo what was asked.
    for path in [
        "/status/no-such-page-marker",
        "/status/no-such-page-marker.json",
    ] {
        let res = get(&format!("{}{path}", s.d.url), &[]);
        assert_eq!(res.status().as_u16(), 404);
        let body = res.text().expect("body");
        assert!(!body.contains("no-such-page-marker"), "{body}");
    }
}

#[test]
fn a_page_domain_answers_only_its_status_routes_and_the_host_is_read_strictly() {
    let s = seeded();
    let host = [("host", "status.example.test")];
    for path in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/v1/openapi.json",
        "/api/v1/checks",
        "/status/example",
        "/status/internal",
        "/nope",
    ] {
        let res = get(&format!("{}{path}", s.d.url), &host);
        assert_eq!(res.status().as_u16(), 404, "{path}");
        let body = res.text().expect("body");
        assert!(!body.contains("uptime_"), "{path}: {body}");
    }
    for path in [
        "/",
        "/index.json",
        "/index.atom",
        "/badge/default/homepage/status.svg",
    ] {
        assert_eq!(
            get(&format!("{}{path}", s.d.url), &host).status().as_u16(),
            200,
            "{path}"
        );
    }
    // A trailing dot and a port are the same host.
    for h in ["status.example.test.", "STATUS.example.test.:8080"] {
        assert_eq!(
            get(&format!("{}/", s.d.url), &[("host", h)])
                .status()
                .as_u16(),
            200,
            "{h}"
        );
        assert_eq!(
            get(&format!("{}/metrics", s.d.url), &[("host", h)])
                .status()
                .as_u16(),
            404,
            "{h}"
        );
    }
    // Any other host gets the daemon as before.
    assert_eq!(
        get(&format!("{}/metrics", s.d.url), &[]).status().as_u16(),
        200
    );
    // Two `Host` headers: 400, whatever they name.
    for path in ["/", "/metrics", "/status/example"] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: status.example.test\r\nHost: other.example\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(raw_status(&s.d, &head), 400, "{path}");
    }
}
