//! Badges in the flat shields style: a grey label and a coloured value, as SVG
//! with its text widths estimated from the widths of Verdana's characters at 11px.

use super::html::escape;

pub const GREEN: &str = "#1a7f37";
pub const YELLOW: &str = "#9a6700";
pub const RED: &str = "#cf222e";
pub const BLUE: &str = "#0969da";
pub const GREY: &str = "#57606a";
const LABEL_BG: &str = "#555";

/// The width in pixels of `text` in Verdana 11px, near enough for a badge.
fn width(text: &str) -> u32 {
    let w: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '!' | '.' | ',' | ':' | ';' | '\'' | '|' => 3.5,
            'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | ' ' | '-' => 4.5,
            'm' | 'w' | 'M' | 'W' | '%' => 10.5,
            'A'..='Z' | '0'..='9' | '#' | '$' | '&' | '?' => 7.5,
            _ => 6.8,
        })
        .sum();
    w.ceil() as u32 + 10
}

/// The SVG of a badge reading `label | value` with the value on `color`.
pub fn render(label: &str, value: &str, color: &str) -> String {
    let (lw, vw) = (width(label), width(value));
    let total = lw + vw;
    let (l, v) = (escape(label), escape(value));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" aria-label=\"{l}: {v}\"><title>{l}: {v}</title>\
<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
<clipPath id=\"r\"><rect width=\"{total}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>\
<g clip-path=\"url(#r)\"><rect width=\"{lw}\" height=\"20\" fill=\"{LABEL_BG}\"/><rect x=\"{lw}\" width=\"{vw}\" height=\"20\" fill=\"{color}\"/><rect width=\"{total}\" height=\"20\" fill=\"url(#s)\"/></g>\
<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\">\
<text x=\"{lx}\" y=\"14\">{l}</text><text x=\"{vx}\" y=\"14\">{v}</text></g></svg>\n",
        lx = lw / 2,
        vx = lw + vw / 2,
    )
}

/// The colour of an uptime figure.
pub fn uptime_color(u: f64) -> &'static str {
    if u >= 99.9 {
        GREEN
    } else if u >= 99.0 {
        YELLOW
    } else {
        RED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_longer_value_makes_a_wider_badge_and_text_is_escaped() {
        let short = render("status", "up", GREEN);
        let long = render("status", "maintenance", BLUE);
        let w = |s: &str| -> u32 {
            let i = s.find("width=\"").unwrap_or(0) + 7;
            s[i..]
                .split('"')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        assert!(w(&long) > w(&short), "{short}\n{long}");
        assert!(render("a<b", "c&d", GREY).contains("a&lt;b"));
    }
}
