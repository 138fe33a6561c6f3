//! The announcement's Markdown, a small safe subset: paragraphs, line breaks,
//! headings (`#`, `##` as `<h3>`, deeper as `<h4>`: the page has its own
//! `<h1>`/`<h2>`), lists (`<ul>`, `<ol>`, `<li>`), `**bold**`, `*em*`,
//! `` `code` `` and `[links](https://…)` (http and https only,
//! `rel="nofollow noopener noreferrer"`). Everything else shows as its text; raw HTML is
//! escaped, never passed through.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag};

use super::html::escape_into;

/// The longest announcement rendered, in bytes. The spec allows 10,000
/// characters ([`crate::spec::MAX_ANNOUNCEMENT_CHARS`]) and a
/// character is at most 4 bytes of UTF-8, so no valid announcement is ever cut;
/// this bounds only what a store edited by hand could hold.
pub const MAX_ANNOUNCEMENT_BYTES: usize = 4 * crate::spec::MAX_ANNOUNCEMENT_CHARS;

/// What a closing tag writes, for the tags kept open.
enum Open {
    /// A paragraph: closes it and leaves `in_paragraph`.
    Paragraph,
    /// A tag of the subset: writes its closing tag.
    Close(&'static str),
    /// An inline tag out of the subset (an image, a link elsewhere than http):
    /// its text runs on, so nothing is written.
    Inline,
    /// A block out of the subset: a space, so its text does not run into the next.
    Block,
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
    let tag = |out: &mut String, start: &str, close: &'static str| {
        out.push_str(start);
        Open::Close(close)
    };
    for event in Parser::new_ext(text, Options::empty()) {
        match event {
            Event::Start(t) => {
                let o = match t {
                    Tag::Paragraph if in_paragraph => Open::Block,
                    Tag::Paragraph => {
                        out.push_str("<p>");
                        in_paragraph = true;
                        Open::Paragraph
                    }
                    Tag::Strong => tag(&mut out, "<strong>", "</strong>"),
                    Tag::Emphasis => tag(&mut out, "<em>", "</em>"),
                    // Blocks of the subset, where a block may stand (never in a
                    // paragraph, where a fallback block put their text).
                    Tag::Heading { level, .. } if !in_paragraph => match level {
                        HeadingLevel::H1 | HeadingLevel::H2 => tag(&mut out, "<h3>", "</h3>"),
                        _ => tag(&mut out, "<h4>", "</h4>"),
                    },
                    Tag::List(None) if !in_paragraph => tag(&mut out, "<ul>", "</ul>"),
                    Tag::List(Some(_)) if !in_paragraph => tag(&mut out, "<ol>", "</ol>"),
                    Tag::Item if !in_paragraph => tag(&mut out, "<li>", "</li>"),
                    Tag::Link { dest_url, .. } => {
                        let url = dest_url.trim();
                        let lower = url.to_ascii_lowercase();
                        if lower.starts_with("https://") || lower.starts_with("http://") {
                            out.push_str("<a href=\"");
                            escape_into(&mut out, url);
                            out.push_str("\" rel=\"nofollow noopener noreferrer\">");
                            Open::Close("</a>")
                        } else {
                            Open::Inline
                        }
                    }
                    Tag::Image { .. } => Open::Inline,
                    // Quotes, code blocks…: their text only, in a paragraph of
                    // its own when not inside another block.
                    _ => {
                        if !in_paragraph && open.is_empty() {
                            out.push_str("<p>");
                            in_paragraph = true;
                            Open::Paragraph
                        } else {
                            Open::Block
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
                Some(Open::Close(close)) => out.push_str(close),
                Some(Open::Block) if !out.ends_with(char::is_whitespace) => out.push(' '),
                Some(Open::Block | Open::Inline) | None => {}
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
            Open::Close(close) => out.push_str(close),
            Open::Inline | Open::Block => {}
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
    const ALLOWED: [&str; 21] = [
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
        "<ul>",
        "</ul>",
        "<ol>",
        "</ol>",
        "<li>",
        "</li>",
        "<h3>",
        "</h3>",
        "<h4>",
        "</h4>",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn no_markup_but_the_subset_comes_out_of_any_text(
            text in proptest::string::string_regex(r#"([<>&"'*_`\[\]()!#\-\n a-z:/.=]|<script>|<img src=x>|javascript:|https://x\.y/|\*\*|\]\(|\n1\. |\n- |\n## )*"#)
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
    fn headings_and_lists_render_and_other_blocks_show_as_text() {
        assert_eq!(
            render("# Title\n\n### Small\n\n- one\n- two\n\n1. first\n2. second"),
            "<h3>Title</h3><h4>Small</h4><ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>"
        );
        let out = render("![img](https://x/y.png)\n\n> quoted");
        assert!(
            !out.contains("<img") && !out.contains("<blockquote"),
            "{out}"
        );
        assert!(out.contains("img") && out.contains("quoted"), "{out}");
    }

    #[test]
    fn text_out_of_the_subset_leaves_no_stray_space_before_punctuation() {
        assert_eq!(render("See [bad](javascript:alert(1))."), "<p>See bad.</p>");
        assert_eq!(
            render("A ![logo](https://x/y.png), then"),
            "<p>A logo, then</p>"
        );
    }

    #[test]
    fn no_valid_announcement_is_cut() {
        let longest = "é".repeat(crate::spec::MAX_ANNOUNCEMENT_CHARS - 1) + "$";
        assert!(render(&longest).ends_with("$</p>"));
        let wide = "😀".repeat(crate::spec::MAX_ANNOUNCEMENT_CHARS);
        assert_eq!(
            render(&wide).matches('😀').count(),
            crate::spec::MAX_ANNOUNCEMENT_CHARS
        );
    }
}
