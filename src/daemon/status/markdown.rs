//! The announcement's Markdown, a small safe subset: paragraphs, line breaks,
//! `**bold**`, `*em*`, `` `code` `` and `[links](https://…)` (http and https only,
//! `rel="nofollow noopener noreferrer"`). Everything else shows as its text; raw HTML is
//! escaped, never passed through.

use pulldown_cmark::{Event, Options, Parser, Tag};

use super::html::escape_into;

/// The longest announcement rendered, in bytes: a notice, not an article.
pub const MAX_ANNOUNCEMENT_BYTES: usize = 16 * 1024;

/// What a closing tag writes, for the tags kept open.
enum Open {
    Paragraph,
    Strong,
    Em,
    Link,
    Other,
}

/// `text` rendered as HTML, escaped.
pub fn render(text: &str) -> String {
    let mut end = text.len().min(MAX_ANNOUNCEMENT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let mut out = String::with_capacity(text.len() + 32);
    let mut open: Vec<Open> = Vec::new();
    let mut in_paragraph = false;
    for event in Parser::new_ext(text, Options::empty()) {
        match event {
            Event::Start(tag) => {
                let o = match tag {
                    Tag::Paragraph if in_paragraph => Open::Other,
                    Tag::Paragraph => {
                        out.push_str("<p>");
                        in_paragraph = true;
                        Open::Paragraph
                    }
                    Tag::Strong => {
                        out.push_str("<strong>");
                        Open::Strong
                    }
                    Tag::Emphasis => {
                        out.push_str("<em>");
                        Open::Em
                    }
                    Tag::Link { dest_url, .. } => {
                        let url = dest_url.trim();
                        let lower = url.to_ascii_lowercase();
                        if lower.starts_with("https://") || lower.starts_with("http://") {
                            out.push_str("<a href=\"");
                            escape_into(&mut out, url);
                            out.push_str("\" rel=\"nofollow noopener noreferrer\">");
                            Open::Link
                        } else {
                            Open::Other
                        }
                    }
                    // Headings, lists, quotes, images…: their text only, in a
                    // paragraph of its own when not inside one.
                    _ => {
                        if !in_paragraph && open.is_empty() {
                            out.push_str("<p>");
                            in_paragraph = true;
                            Open::Paragraph
                        } else {
                            Open::Other
                        }
                    }
                };
                open.push(o);
            }
            Event::End(_) => match open.pop() {
                Some(Open::Paragraph) => {
                    out.push_str("</p>");
                    in_paragraph = false;
                }
                Some(Open::Strong) => out.push_str("</strong>"),
                Some(Open::Em) => out.push_str("</em>"),
                Some(Open::Link) => out.push_str("</a>"),
                Some(Open::Other) => out.push(' '),
                None => {}
            },
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => escape_into(&mut out, &t),
            Event::Code(t) => {
                out.push_str("<code>");
                escape_into(&mut out, &t);
                out.push_str("</code>");
            }
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br>"),
            _ => {}
        }
    }
    // Whatever is still open (cut off at the bound) is closed.
    while let Some(o) = open.pop() {
        match o {
            Open::Paragraph => out.push_str("</p>"),
            Open::Strong => out.push_str("</strong>"),
            Open::Em => out.push_str("</em>"),
            Open::Link => out.push_str("</a>"),
            Open::Other => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn the_subset_renders_and_raw_html_is_escaped() {
        assert_eq!(
            render("Upgrade on **Sunday** at *02:00* `UTC`"),
            "<p>Upgrade on <strong>Sunday</strong> at <em>02:00</em> <code>UTC</code></p>"
        );
        assert_eq!(
            render("[notes](https://example.com/a?b=1&c=2)"),
            "<p><a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\">notes</a></p>"
        );
        let hostile = render("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)>");
        assert!(!hostile.contains("<script"), "{hostile}");
        assert!(!hostile.contains("<img"), "{hostile}");
        assert!(hostile.contains("&lt;script&gt;"), "{hostile}");
    }

    #[test]
    fn links_other_than_http_keep_only_their_text() {
        for url in [
            "javascript:alert(1)",
            "data:text/html,x",
            "JaVaScRiPt:x",
            "//evil.example",
        ] {
            let out = render(&format!("[click]({url})"));
            assert!(!out.contains("href"), "{url}: {out}");
            assert!(out.contains("click"), "{url}: {out}");
        }
    }

    /// The tags the renderer may write; anything else starting with `<` is a leak.
    const ALLOWED: [&str; 11] = [
        "<p>",
        "</p>",
        "<strong>",
        "</strong>",
        "<em>",
        "</em>",
        "<code>",
        "</code>",
        "<br>",
        "<a href=\"",
        "</a>",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn no_markup_but_the_subset_comes_out_of_any_text(
            text in proptest::string::string_regex(r#"([<>&"'*_`\[\]()!#\-\n a-z:/.=]|<script>|<img src=x>|javascript:|https://x\.y/|\*\*|\]\()*"#)
                .expect("regex")
        ) {
            let out = render(&text);
            let mut rest = out.as_str();
            while let Some(i) = rest.find('<') {
                rest = &rest[i..];
                let tag = ALLOWED.iter().find(|t| rest.starts_with(*t));
                proptest::prop_assert!(tag.is_some(), "unexpected markup at `{}` in {out:?}", &rest[..rest.len().min(30)]);
                if let Some(href) = rest.strip_prefix("<a href=\"") {
                    let href = href.to_ascii_lowercase();
                    proptest::prop_assert!(href.starts_with("http://") || href.starts_with("https://"), "{out:?}");
                }
                rest = &rest[1..];
            }
        }
    }

    #[test]
    fn other_blocks_show_as_text_in_paragraphs() {
        let out = render("# Title\n\n- one\n- two\n\n![img](https://x/y.png)");
        assert!(
            !out.contains("<h1") && !out.contains("<li") && !out.contains("<img"),
            "{out}"
        );
        assert!(
            out.contains("Title") && out.contains("one") && out.contains("two"),
            "{out}"
        );
    }
}
