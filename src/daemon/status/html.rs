//! The page as HTML: one document, server-rendered, every value escaped, one
//! embedded `<style>` (light and dark by `prefers-color-scheme`), no script, no
//! external asset. The structure follows the DOM contract in README ("Status
//! pages"), which browser tests assert on.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use super::data::{CheckData, IncidentData, PageData, overall_text, state_text};

/// Escapes `text` for HTML or XML text and attribute values (double-quoted),
/// and drops the characters XML 1.0 forbids (control characters but tab, new
/// line and carriage return; U+FFFE and U+FFFF): validation refuses them where
/// text comes in, and this keeps a feed well-formed whatever was stored before.
pub fn escape_into(out: &mut String, text: &str) {
    let mut last = 0;
    for (i, c) in text.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            c if !xml_char(c) => "",
            _ => continue,
        };
        out.push_str(&text[last..i]);
        out.push_str(rep);
        last = i + c.len_utf8();
    }
    out.push_str(&text[last..]);
}

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn human(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Uptime as a data attribute: up to three decimals, no trailing zeros.
fn figure(u: f64) -> String {
    let s = format!("{u:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Uptime as the page shows it: two decimals, cut (never rounded up to 100).
pub fn percent(u: f64) -> String {
    let cut = (u * 100.0).floor() / 100.0;
    format!("{cut:.2}%")
}

/// A length of time as a visitor reads it: seconds under a minute (`35s`, or
/// `<1s`), whole minutes under an hour (`12m`), hours and minutes above, each
/// rounded to the nearest unit shown.
fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms > 0 && ms < 500 {
        return "<1s".to_string();
    }
    let s = (ms + 500) / 1000;
    if s < 60 {
        return format!("{s}s");
    }
    let m = (ms + 30_000) / 60_000;
    if m >= 60 {
        format!("{}h {}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

/// A day's bar tooltip: the (UTC) day and its figures.
fn day_title(day: &super::data::DayData) -> String {
    let mut t = format!("{} (UTC): ", day.day);
    match day.uptime {
        Some(u) if day.down_ms > 0 => {
            let _ = write!(t, "{} up, {} down", percent(u), duration(day.down_ms));
        }
        Some(u) => {
            let _ = write!(t, "{} up", percent(u));
        }
        None if day.maintenance_ms > 0 => {
            let _ = write!(t, "in maintenance for {}", duration(day.maintenance_ms));
            return t;
        }
        None => t.push_str("no data"),
    }
    if day.maintenance_ms > 0 {
        let _ = write!(t, ", {} maintenance", duration(day.maintenance_ms));
    }
    t
}

/// Colours: text on background at least 4.5:1 in both schemes.
const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1b1f24;--muted:#57606a;--card:#f6f8fa;--line:#d0d7de;--up:#1a7f37;--partial:#9a6700;--down:#cf222e;--maint:#0969da;--unknown:#8c959f;--paused:#6e7781}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--card:#161b22;--line:#30363d;--up:#3fb950;--partial:#d29922;--down:#f85149;--maint:#58a6ff;--unknown:#6e7681;--paused:#8b949e}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:60rem;margin:0 auto;padding:1rem}
h1{margin:.5rem 0;font-size:1.6rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:0 0 .5rem}
.description,footer{color:var(--muted)}
a{color:var(--maint)}
#overall{padding:1rem;border-radius:.5rem;font-weight:600;color:#fff;background:var(--unknown)}
#overall[data-state=up]{background:#1a7f37}#overall[data-state=degraded]{background:#9a6700}#overall[data-state=down]{background:#cf222e}#overall[data-state=maintenance]{background:#0969da}#overall[data-state=unknown]{background:#57606a}
#announcement,.maintenance,.incident{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
.checks{list-style:none;margin:0;padding:0}
.check{border-bottom:1px solid var(--line);padding:.75rem 0;display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem}
.check-name{font-weight:600;flex:1 1 10rem}
.state{font-weight:600}
.check[data-state=up] .state{color:var(--up)}.check[data-state=down] .state{color:var(--down)}.check[data-state=maintenance] .state{color:var(--maint)}.check[data-state=paused] .state,.check[data-state=unknown] .state{color:var(--muted)}
.uptime{color:var(--muted);font-variant-numeric:tabular-nums;min-width:4.75em;text-align:right;white-space:nowrap}
time{white-space:nowrap}
svg.bars{display:block;width:100%;height:2rem;flex-basis:100%}
svg.sparkline{display:block;width:100%;height:2.5rem;flex-basis:100%}
.bar[data-state=up]{fill:var(--up)}.bar[data-state=partial]{fill:var(--partial)}.bar[data-state=down]{fill:var(--down)}.bar[data-state=maintenance]{fill:var(--maint)}.bar[data-state=unknown]{fill:var(--unknown)}
.sparkline polyline,.sparkline .dot{fill:none;stroke:var(--maint);stroke-width:1.5;vector-effect:non-scaling-stroke}.sparkline .dot{stroke-width:3;stroke-linecap:round}
.no-latency{color:var(--muted);font-size:.875rem;flex-basis:100%}
.timeline{margin:.5rem 0 0;padding-left:1.25rem}.timeline .message{white-space:pre-line}
.timeline time,.maintenance time{font-variant-numeric:tabular-nums}
.incident[data-status=resolved] h3{color:var(--muted)}
.locations{list-style:none;margin:0;padding:0;flex-basis:100%;display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;font-size:.875rem}
.check .locations .uptime{min-width:0}.check .locations li .state{color:var(--muted)}
.check .locations [data-state=up] .state{color:var(--up)}.check .locations [data-state=down] .state{color:var(--down)}.check .locations [data-state=maintenance] .state{color:var(--maint)}
"#;

/// The page as an HTML document; `base` is what the links to the JSON and the
/// feed are relative to (`{base}.json`): the slug under `/status/`, `index` at `/`.
/// `query` follows those links (`?token=…` on a private page opened with its
/// token, so that they open too; else empty), already URL-encoded.
pub fn render(d: &PageData, base: &str, query: &str) -> String {
    let checks: usize = d.groups.iter().map(|g| g.checks.len()).sum();
    let mut o = String::with_capacity(8 * 1024 + checks * (d.uptime_days as usize * 150 + 2048));
    let title = escape(&d.page.title);
    let slug = escape(base);
    let query = escape(query);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    o.push_str("<meta name=\"color-scheme\" content=\"light dark\">");
    let _ = write!(o, "<title>{title}</title>");
    let _ = write!(
        o,
        "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Incidents\" href=\"{slug}.atom{query}\">"
    );
    o.push_str("<style>");
    o.push_str(STYLE);
    o.push_str("</style></head><body>");

    let _ = write!(o, "<header><h1>{title}</h1>");
    if let Some(desc) = &d.page.description {
        let _ = write!(o, "<p class=\"description\">{}</p>", escape(desc));
    }
    o.push_str("</header><main>");
    let _ = write!(
        o,
        "<section id=\"overall\" data-state=\"{}\" role=\"status\">{}</section>",
        d.state,
        overall_text(d.state)
    );
    if let Some(a) = d
        .page
        .announcement
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        let _ = write!(
            o,
            "<aside id=\"announcement\" aria-label=\"Announcement\">{}</aside>",
            super::markdown::render(a)
        );
    }
    if !d.maintenance.is_empty() {
        o.push_str("<section id=\"maintenance\"><h2>Maintenance</h2>");
        for m in &d.maintenance {
            let _ = write!(
                o,
                "<article class=\"maintenance\" data-maintenance=\"{}\" data-when=\"{}\"><h3>{}</h3>",
                escape(&m.name),
                m.when,
                if m.when == "now" {
                    "Maintenance in progress"
                } else {
                    "Scheduled maintenance"
                }
            );
            if let Some(desc) = &m.description {
                let _ = write!(o, "<p>{}</p>", escape(desc));
            }
            if !m.checks.is_empty() {
                o.push_str("<p class=\"covers\">Affects: ");
                for (i, c) in m.checks.iter().enumerate() {
                    if i > 0 {
                        o.push_str(", ");
                    }
                    let _ = write!(o, "<span class=\"covered\">{}</span>", escape(c));
                }
                o.push_str("</p>");
            }
            let _ = write!(
                o,
                "<p>From <time datetime=\"{}\">{}</time> to <time datetime=\"{}\">{}</time></p></article>",
                rfc3339(&m.starts_at),
                human(&m.starts_at),
                rfc3339(&m.ends_at),
                human(&m.ends_at)
            );
        }
        o.push_str("</section>");
    }
    for g in &d.groups {
        let name = escape(&g.name);
        let _ = write!(
            o,
            "<section class=\"group\" data-group=\"{name}\"><h2>{name}</h2>"
        );
        if g.checks.is_empty() {
            o.push_str("<p class=\"no-checks\">No checks in this group.</p></section>");
            continue;
        }
        o.push_str("<ul class=\"checks\">");
        for c in &g.checks {
            check(&mut o, c, d.uptime_days);
        }
        o.push_str("</ul></section>");
    }
    o.push_str("<section id=\"incidents\"><h2>Incidents</h2>");
    if d.incidents.is_empty() {
        match d.incidents_days {
            0 => o.push_str("<p class=\"no-incidents\">No open incidents.</p>"),
            1 => o.push_str("<p class=\"no-incidents\">No incidents in the last day.</p>"),
            n => {
                let _ = write!(
                    o,
                    "<p class=\"no-incidents\">No incidents in the last {n} days.</p>"
                );
            }
        }
    }
    for i in &d.incidents {
        incident(&mut o, i, &d.generated_at);
    }
    o.push_str("</section></main>");
    let _ = writeln!(
        o,
        "<footer><p><a href=\"{slug}.json{query}\">JSON</a> · <a href=\"{slug}.atom{query}\">Atom feed</a> · made <time datetime=\"{}\">{}</time></p></footer></body></html>",
        rfc3339(&d.generated_at),
        human(&d.generated_at)
    );
    o
}

fn check(o: &mut String, c: &CheckData, days: u32) {
    let name = escape(&c.name);
    let _ = write!(
        o,
        "<li class=\"check\" data-check=\"{name}\" data-state=\"{}\"><span class=\"check-name\">{name}</span><span class=\"state\">{}</span>",
        c.state,
        state_text(c.state)
    );
    let shown = c.uptime.map(percent);
    match c.uptime {
        Some(u) => {
            let _ = write!(
                o,
                "<span class=\"uptime\" data-uptime=\"{u:.3}\">{}</span>",
                shown.as_deref().unwrap_or("")
            );
        }
        None => o.push_str("<span class=\"uptime\" data-uptime=\"\">—</span>"),
    }
    if !c.locations.is_empty() {
        let _ = write!(
            o,
            "<ul class=\"locations\" aria-label=\"{name} by location\">"
        );
        for l in &c.locations {
            let place = escape(&l.name);
            let _ = write!(
                o,
                "<li data-location=\"{place}\" data-state=\"{}\" data-uptime=\"{}\"><span class=\"place\">{place}</span> <span class=\"state\">{}</span> <span class=\"uptime\">{}</span></li>",
                l.state,
                l.uptime.map(figure).unwrap_or_default(),
                state_text(l.state),
                l.uptime.map_or_else(|| "—".to_string(), percent),
            );
        }
        o.push_str("</ul>");
    }
    let n = c.days.len().max(1);
    let _ = write!(
        o,
        "<svg class=\"bars\" role=\"img\" viewBox=\"0 0 {w} 20\" preserveAspectRatio=\"none\" aria-label=\"{name}: {} over the last {days} days (UTC days)\">",
        shown.map_or_else(|| "uptime unknown".to_string(), |s| format!("{s} uptime")),
        w = n * 4
    );
    for (i, day) in c.days.iter().enumerate() {
        let _ = write!(
            o,
            "<rect class=\"bar\" data-day=\"{}\" data-uptime=\"{}\" data-state=\"{}\" x=\"{}\" width=\"3\" height=\"20\"><title>{}</title></rect>",
            day.day,
            day.uptime.map(figure).unwrap_or_default(),
            day.state,
            i * 4,
            escape(&day_title(day))
        );
    }
    o.push_str("</svg>");
    if let Some(points) = &c.latency {
        sparkline(o, &name, points);
    }
    o.push_str("</li>");
}

/// The latency sparkline: one `<polyline>` per run of consecutive hours with
/// data (an hour without data breaks the line rather than being bridged), a dot
/// for an hour with data between two without, and nothing but a short text when
/// no hour has data.
fn sparkline(o: &mut String, name: &str, points: &[super::data::LatencyPoint]) {
    let values: Vec<Option<f64>> = points.iter().map(|p| p.p95_ms).collect();
    let Some(last) = values.iter().rev().flatten().next() else {
        o.push_str("<span class=\"no-latency\">No latency data</span>");
        return;
    };
    let max = values.iter().flatten().fold(0.0_f64, |m, v| m.max(*v));
    let label = format!(
        "{name}: latency (p95) over the last {} hours, latest {last:.0} ms, highest {max:.0} ms",
        points.len()
    );
    let w = points.len().saturating_sub(1).max(1);
    let _ = write!(
        o,
        "<svg class=\"sparkline\" role=\"img\" viewBox=\"0 0 {w} 20\" preserveAspectRatio=\"none\" aria-label=\"{label}\">"
    );
    let y = |v: f64| {
        if max > 0.0 {
            19.0 - v / max * 18.0
        } else {
            19.0
        }
    };
    let mut i = 0;
    while i < values.len() {
        if values[i].is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < values.len() && values[i].is_some() {
            i += 1;
        }
        let run = &values[start..i];
        if let [Some(v)] = run {
            // A zero-length path with a round cap: a dot that keeps its shape
            // however the chart is stretched (a circle would become an ellipse).
            let _ = write!(o, "<path class=\"dot\" d=\"M{start},{:.1}h0\"/>", y(*v));
            continue;
        }
        o.push_str("<polyline points=\"");
        for (k, v) in run.iter().flatten().enumerate() {
            if k > 0 {
                o.push(' ');
            }
            let _ = write!(o, "{},{:.1}", start + k, y(*v));
        }
        o.push_str("\"/>");
    }
    o.push_str("</svg>");
}

/// Where an incident stands now: the status of its latest update, else
/// acknowledged, else investigating (nobody has said more yet).
fn current_state(i: &IncidentData) -> String {
    let update = i
        .events
        .iter()
        .rev()
        .find(|e| e.kind == "update")
        .and_then(|e| e.status.as_deref());
    match update {
        Some(s) => event_title("update", Some(s)),
        None if i.status == "acknowledged" => "Acknowledged".to_string(),
        None => "Investigating".to_string(),
    }
}

fn incident(o: &mut String, i: &IncidentData, now: &DateTime<Utc>) {
    let _ = write!(
        o,
        "<article class=\"incident\" id=\"incident-{id}\" data-incident=\"{id}\" data-status=\"{}\"><h3>{}</h3><p>Opened <time datetime=\"{}\">{}</time>",
        escape(&i.status),
        escape(&i.summary),
        rfc3339(&i.opened_at),
        human(&i.opened_at),
        id = i.id
    );
    match &i.resolved_at {
        Some(r) => {
            let _ = write!(
                o,
                ", resolved <time datetime=\"{}\">{}</time>, after {}",
                rfc3339(r),
                human(r),
                duration((*r - i.opened_at).num_milliseconds())
            );
        }
        None => {
            let _ = write!(
                o,
                " · <span class=\"current\">{}</span>, ongoing for {}",
                escape(&current_state(i)),
                duration((*now - i.opened_at).num_milliseconds())
            );
        }
    }
    o.push_str("</p><ol class=\"timeline\">");
    for e in &i.events {
        let _ = write!(
            o,
            "<li data-event=\"{}\"><time datetime=\"{}\">{}</time> <strong>{}</strong>",
            escape(&e.kind),
            rfc3339(&e.at),
            human(&e.at),
            escape(&event_title(&e.kind, e.status.as_deref()))
        );
        if !e.message.is_empty() {
            let _ = write!(
                o,
                " — <span class=\"message\">{}</span>",
                escape(&e.message)
            );
        }
        o.push_str("</li>");
    }
    o.push_str("</ol></article>");
}

/// An event's heading: its kind, or an update's status, capitalised. An update
/// on a resolved incident (stored with status `resolved`) is a note written
/// afterwards, not another resolution.
pub fn event_title(kind: &str, status: Option<&str>) -> String {
    if kind == "update" && status == Some("resolved") {
        return "Note".to_string();
    }
    let word = status.unwrap_or(kind).replace('_', " ");
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A small page for a refusal (401, 404), in the page's style.
pub fn refusal(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\"><title>{t}</title><style>{STYLE}</style></head><body><header><h1>{t}</h1></header><main><p>{}</p></main><footer></footer></body></html>\n",
        escape(text),
        t = escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::super::data::{EventData, GroupData, PageInfo};
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn escaping_drops_what_xml_forbids_and_keeps_the_rest() {
        assert_eq!(
            escape("a\u{0}b\u{1b}c\u{7f}\u{FFFE}d\u{FFFF}<\u{1F600}\t\n\r\u{202E}"),
            // U+007F is allowed in XML 1.0; a bidi override too (spec refuses it).
            "abc\u{7f}d&lt;\u{1F600}\t\n\r\u{202E}"
        );
    }

    #[test]
    fn uptime_is_cut_never_rounded_up_to_a_hundred() {
        assert_eq!(percent(99.999), "99.99%");
        assert_eq!(percent(100.0), "100.00%");
        assert_eq!(percent(99.953), "99.95%");
        assert_eq!(figure(100.0), "100");
        assert_eq!(figure(99.5), "99.5");
        assert_eq!(figure(99.9534), "99.953");
    }

    fn points(values: &[Option<f64>]) -> Vec<super::super::data::LatencyPoint> {
        values
            .iter()
            .map(|v| super::super::data::LatencyPoint {
                at: DateTime::<Utc>::UNIX_EPOCH,
                p50_ms: *v,
                p95_ms: *v,
            })
            .collect()
    }

    #[test]
    fn the_sparkline_breaks_at_gaps_and_dots_lone_points() {
        let mut o = String::new();
        let v = [
            Some(10.0),
            None,
            Some(20.0),
            Some(40.0),
            None,
            None,
            Some(5.0),
            None,
        ];
        sparkline(&mut o, "web", &points(&v));
        let doc = scraper::Html::parse_fragment(&o);
        let sel = |s: &str| scraper::Selector::parse(s).unwrap();
        let lines: Vec<&str> = doc
            .select(&sel("svg.sparkline polyline"))
            .map(|p| p.value().attr("points").unwrap_or(""))
            .collect();
        assert_eq!(lines, ["2,10.0 3,1.0"], "{o}");
        let dots: Vec<&str> = doc
            .select(&sel("svg.sparkline path.dot"))
            .map(|p| p.value().attr("d").unwrap_or(""))
            .collect();
        assert_eq!(dots, ["M0,14.5h0", "M6,16.8h0"], "{o}");

        // Two runs of two: two lines, no bridge across the gap.
        let mut o = String::new();
        sparkline(
            &mut o,
            "web",
            &points(&[Some(1.0), Some(1.0), None, Some(1.0), Some(1.0)]),
        );
        assert_eq!(o.matches("<polyline").count(), 2, "{o}");
        assert!(!o.contains("dot"), "{o}");
    }

    #[test]
    fn a_sparkline_without_data_is_left_out() {
        let mut o = String::new();
        sparkline(&mut o, "web", &points(&[None, None, None]));
        assert!(!o.contains("<svg"), "{o}");
        assert!(o.contains("No latency data"), "{o}");
        let mut o = String::new();
        sparkline(&mut o, "web", &[]);
        assert!(!o.contains("<svg"), "{o}");
    }

    #[test]
    fn durations_under_a_minute_show_seconds_and_round_to_the_unit_shown() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(200), "<1s");
        assert_eq!(duration(35_000), "35s");
        assert_eq!(duration(35_400), "35s");
        assert_eq!(duration(59_600), "1m");
        assert_eq!(duration(89_000), "1m");
        assert_eq!(duration(91_000), "2m");
        assert_eq!(duration(3_570_000), "1h 0m");
        assert_eq!(duration(5_400_000), "1h 30m");
    }

    fn day(uptime: Option<f64>, down_ms: i64, maintenance_ms: i64) -> super::super::data::DayData {
        super::super::data::DayData {
            day: "2026-11-30".into(),
            uptime,
            up_ms: 0,
            down_ms,
            maintenance_ms,
            unknown_ms: 0,
            state: "up",
        }
    }

    #[test]
    fn a_day_tooltip_says_utc_and_a_maintenance_only_day_is_in_maintenance() {
        assert_eq!(
            day_title(&day(None, 0, 3_600_000)),
            "2026-11-30 (UTC): in maintenance for 1h 0m"
        );
        assert_eq!(day_title(&day(None, 0, 0)), "2026-11-30 (UTC): no data");
        assert_eq!(
            day_title(&day(Some(99.95), 40_000, 0)),
            "2026-11-30 (UTC): 99.95% up, 40s down"
        );
        assert_eq!(
            day_title(&day(Some(100.0), 0, 90_000)),
            "2026-11-30 (UTC): 100.00% up, 2m maintenance"
        );
    }

    fn page(groups: Vec<GroupData>, incidents: Vec<IncidentData>, incidents_days: u32) -> PageData {
        PageData {
            page: PageInfo {
                name: "p".into(),
                title: "P".into(),
                description: None,
                slug: "p".into(),
                announcement: None,
            },
            state: "up",
            generated_at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(3),
            groups,
            incidents,
            maintenance: Vec::new(),
            show_latency: false,
            uptime_days: 90,
            incidents_days,
        }
    }

    fn open_incident(status: &str, events: Vec<EventData>) -> IncidentData {
        IncidentData {
            id: 7,
            check: "web".into(),
            status: status.into(),
            opened_at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(55),
            resolved_at: None,
            summary: "web is down".into(),
            events,
        }
    }

    fn ev(kind: &str, status: Option<&str>) -> EventData {
        EventData {
            at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(1),
            kind: kind.into(),
            status: status.map(str::to_string),
            message: String::new(),
        }
    }

    #[test]
    fn an_empty_group_says_so_and_no_incidents_fits_the_window() {
        let empty = GroupData {
            name: "Nothing".into(),
            checks: Vec::new(),
        };
        let doc =
            scraper::Html::parse_document(&render(&page(vec![empty], Vec::new(), 0), "p", ""));
        let sel = |s: &str| scraper::Selector::parse(s).unwrap();
        let group = doc
            .select(&sel("section.group[data-group=Nothing]"))
            .next()
            .expect("group");
        let said: String = group
            .select(&sel(".no-checks"))
            .flat_map(|p| p.text())
            .collect();
        assert_eq!(said, "No checks in this group.");
        let none: String = doc
            .select(&sel(".no-incidents"))
            .flat_map(|p| p.text())
            .collect();
        assert_eq!(none, "No open incidents.");
        for (days, want) in [
            (1, "No incidents in the last day."),
            (14, "No incidents in the last 14 days."),
        ] {
            let doc = scraper::Html::parse_document(&render(
                &page(Vec::new(), Vec::new(), days),
                "p",
                "",
            ));
            let none: String = doc
                .select(&sel(".no-incidents"))
                .flat_map(|p| p.text())
                .collect();
            assert_eq!(none, want);
        }
    }

    #[test]
    fn an_open_incident_says_where_it_stands_and_how_long_it_has_lasted() {
        let sel = |s: &str| scraper::Selector::parse(s).unwrap();
        for (i, want) in [
            (
                open_incident("open", vec![ev("opened", None)]),
                "Investigating",
            ),
            (
                open_incident(
                    "acknowledged",
                    vec![ev("opened", None), ev("acknowledged", None)],
                ),
                "Acknowledged",
            ),
            (
                open_incident(
                    "acknowledged",
                    vec![
                        ev("acknowledged", None),
                        ev("update", Some("identified")),
                        ev("update", Some("monitoring")),
                    ],
                ),
                "Monitoring",
            ),
        ] {
            let doc =
                scraper::Html::parse_document(&render(&page(Vec::new(), vec![i], 14), "p", ""));
            let article = doc.select(&sel("#incident-7")).next().expect("incident");
            let current: String = article
                .select(&sel(".current"))
                .flat_map(|c| c.text())
                .collect();
            assert_eq!(current, want);
            let text: String = article.text().collect();
            assert!(text.contains("ongoing for 2h 5m"), "{text}");
        }
    }

    #[test]
    fn time_and_uptime_figures_do_not_wrap() {
        assert!(STYLE.contains("time{white-space:nowrap}"));
        assert!(STYLE.contains("min-width:4.75em"));
    }

    #[test]
    fn an_update_on_a_resolved_incident_is_a_note() {
        assert_eq!(event_title("update", Some("resolved")), "Note");
        assert_eq!(event_title("update", Some("identified")), "Identified");
        assert_eq!(event_title("resolved", None), "Resolved");
    }
}
