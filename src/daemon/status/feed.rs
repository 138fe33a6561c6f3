//! The page's incidents as an Atom 1.0 feed: one entry per incident, its
//! timeline in the entry's content, every value escaped.

use std::fmt::Write;

use super::data::PageData;
use super::html::{escape, event_title, rfc3339};

/// `message` escaped, its line breaks kept as `<br>` (a blank line, a paragraph
/// break, as two), since the feed's HTML content would run them into one line.
fn lines(message: &str) -> String {
    message.lines().map(escape).collect::<Vec<_>>().join("<br>")
}

/// The feed; `self_url` is the feed's own absolute or root-relative URL and
/// `page_url` the page's.
pub fn render(d: &PageData, page_url: &str, self_url: &str) -> String {
    let mut o = String::with_capacity(1024 + d.incidents.len() * 1024);
    let updated = d
        .incidents
        .iter()
        .flat_map(|i| {
            std::iter::once(i.opened_at)
                .chain(i.resolved_at)
                .chain(i.events.iter().map(|e| e.at))
        })
        .max()
        .unwrap_or(d.generated_at);
    o.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">",
    );
    let _ = write!(
        o,
        "<id>urn:uptimeping:status:{}</id><title>{} — incidents</title><updated>{}</updated><link rel=\"alternate\" type=\"text/html\" href=\"{}\"/><link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/><author><name>{}</name></author>",
        escape(&d.page.slug),
        escape(&d.page.title),
        rfc3339(&updated),
        escape(page_url),
        escape(self_url),
        escape(&d.page.title)
    );
    for i in &d.incidents {
        let last = i
            .events
            .iter()
            .map(|e| e.at)
            .chain(i.resolved_at)
            .max()
            .unwrap_or(i.opened_at)
            .max(i.opened_at);
        let mut content = String::new();
        let _ = write!(content, "<p>Status: {}</p><ol>", escape(&i.status));
        for e in &i.events {
            let _ = write!(
                content,
                "<li>{} {}{}</li>",
                rfc3339(&e.at),
                escape(&event_title(&e.kind, e.status.as_deref())),
                if e.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", lines(&e.message))
                }
            );
        }
        content.push_str("</ol>");
        let _ = write!(
            o,
            "<entry><id>urn:uptimeping:status:{}:incident:{}</id><title>{}{}</title><published>{}</published><updated>{}</updated><link rel=\"alternate\" type=\"text/html\" href=\"{}#incident-{}\"/><content type=\"html\">{}</content></entry>",
            escape(&d.page.slug),
            i.id,
            escape(&i.summary),
            if i.status == "resolved" {
                " (resolved)"
            } else {
                ""
            },
            rfc3339(&i.opened_at),
            rfc3339(&last),
            escape(page_url),
            i.id,
            escape(&content)
        );
    }
    o.push_str("</feed>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn line_breaks_of_a_message_are_kept_and_the_rest_escaped() {
        assert_eq!(
            lines("one <b>\n\ntwo\r\nthree"),
            "one &lt;b&gt;<br><br>two<br>three"
        );
    }
}
