//! The `StatusPage` resource: a public (or token-protected) page of a tenant's
//! checks, grouped, with their daily uptime, open and recent incidents and the
//! maintenance windows that cover them, served by the daemon at `/status/{slug}`.

use std::collections::{BTreeMap, HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decode::{Positions, escape_segment};
use super::diag::Pos;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPage {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The page's heading, e.g. `Example Inc. status`.
    pub title: String,
    /// A line under the heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the page is served: `/status/{slug}`. Unique across the daemon.
    pub slug: String,
    /// The page's sections, in order; a check may appear in several.
    pub groups: Vec<StatusGroup>,
    /// What the page shows.
    #[serde(default)]
    pub show: StatusShow,
    /// A notice shown above the groups (Markdown: paragraphs, emphasis, links, code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    /// Without it the page is public; with a token, only requests carrying it see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<StatusAccess>,
    /// A host name the page is also served for, at `/`, when requests carry it in
    /// their `Host` header (e.g. `status.example.com`). Unique across the daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// One section of a page: named checks, checks chosen by labels, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusGroup {
    pub name: String,
    /// Checks shown, by name, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Checks shown by their labels: those whose labels include all of these, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusShow {
    /// A latency sparkline per check.
    #[serde(default)]
    pub latency: bool,
    /// How many days of resolved incidents the page lists.
    #[serde(default = "default_incidents_days")]
    pub incidents_days: u32,
    /// How many days the uptime bars and the uptime figure cover.
    #[serde(default = "default_uptime_days")]
    pub uptime_days: u32,
}

impl Default for StatusShow {
    fn default() -> Self {
        StatusShow {
            latency: false,
            incidents_days: default_incidents_days(),
            uptime_days: default_uptime_days(),
        }
    }
}

fn default_incidents_days() -> u32 {
    14
}

fn default_uptime_days() -> u32 {
    90
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusAccess {
    /// The token a visitor must present (`?token=` or `Authorization: Bearer`);
    /// write it as `${VAR}` so it stays out of git. A secret: never printed.
    pub token: String,
}

/// The longest slug: one DNS label, as for names, so a slug also fits a subdomain.
pub const MAX_SLUG_LEN: usize = 63;

/// Slugs kept for the daemon's own use under `/status/`: files a page may come to
/// need (a stylesheet, assets), and words that read as a page's other forms (its
/// JSON and feed), which a visitor would take for the daemon's rather than a page.
pub const RESERVED_SLUGS: &[&str] = &[
    "api", "assets", "atom", "badge", "feed", "index", "json", "rss", "static",
];

/// The longest title, in characters: a heading that still fits a phone's screen
/// in two lines and a browser tab.
pub const MAX_TITLE_CHARS: usize = 200;

/// The longest description, in characters: a paragraph under the heading.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;

/// The longest announcement, in characters: a few paragraphs of Markdown, which
/// is rendered on every uncached view of the page.
pub const MAX_ANNOUNCEMENT_CHARS: usize = 10_000;

/// The most groups one page may have: more sections than a person reads.
pub const MAX_GROUPS: usize = 50;

/// The longest group name, in characters: a section heading.
pub const MAX_GROUP_NAME_CHARS: usize = 100;

/// The most checks one group may name: each is a row of 90 bars.
pub const MAX_GROUP_CHECKS: usize = 500;

/// The most distinct checks a page may name in all its groups: each costs a read
/// of its rollups on every uncached view, so this bounds the work of one view.
/// Checks chosen by a `selector` are found when the page is served.
pub const MAX_PAGE_CHECKS: usize = 1_000;

/// The most days of resolved incidents a page lists: the uptime bars' span.
pub const MAX_INCIDENTS_DAYS: u32 = 90;

/// The most days the uptime bars cover: day rollups are kept longer, but 90 bars
/// is what fits a phone's width.
pub const MAX_UPTIME_DAYS: u32 = 90;

/// The shortest access token, in characters: 16 random characters are not
/// guessed one request at a time.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The longest access token, in characters: it travels in a URL or a header.
pub const MAX_TOKEN_CHARS: usize = 256;

/// The longest `domain`: the most a DNS name may have.
pub const MAX_DOMAIN_LEN: usize = 253;

type Errors = Vec<(Pos, String)>;

/// The rules of a page that serde's types do not say, each at its place in the file.
pub(crate) fn validate(p: &StatusPage, pos: &Positions, errors: &mut Errors) {
    if let Some(problem) = slug_problem(&p.slug) {
        errors.push((
            pos.value("/slug"),
            format!("`slug`: `{}` {problem}", p.slug),
        ));
    }
    text("title", "/title", &p.title, MAX_TITLE_CHARS, pos, errors);
    if p.title.trim().is_empty() {
        errors.push((pos.value("/title"), "`title`: must not be empty".into()));
    }
    if let Some(d) = &p.description {
        text(
            "description",
            "/description",
            d,
            MAX_DESCRIPTION_CHARS,
            pos,
            errors,
        );
    }
    if let Some(a) = &p.announcement {
        text(
            "announcement",
            "/announcement",
            a,
            MAX_ANNOUNCEMENT_CHARS,
            pos,
            errors,
        );
    }
    groups(p, pos, errors);
    if p.show.incidents_days > MAX_INCIDENTS_DAYS {
        errors.push((
            pos.value("/show/incidents_days"),
            format!(
                "`show.incidents_days`: {} is more than the maximum of {MAX_INCIDENTS_DAYS}; lower it",
                p.show.incidents_days
            ),
        ));
    }
    if !(1..=MAX_UPTIME_DAYS).contains(&p.show.uptime_days) {
        errors.push((
            pos.value("/show/uptime_days"),
            format!(
                "`show.uptime_days`: {} is not from 1 to {MAX_UPTIME_DAYS}",
                p.show.uptime_days
            ),
        ));
    }
    if let Some(access) = &p.access {
        // A secret: what is wrong is said without the value.
        let n = access.token.chars().count();
        let visible = access.token.bytes().all(|b| b.is_ascii_graphic());
        if !(MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&n) || !visible {
            errors.push((
                pos.value("/access/token"),
                format!("`access.token`: use {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} characters of visible ASCII, no spaces (e.g. from `openssl rand -hex 16`), and write it as `${{VAR}}` to keep it out of git"),
            ));
        }
    }
    if let Some(d) = &p.domain
        && !is_host_name(d)
    {
        errors.push((
            pos.value("/domain"),
            format!("`domain`: `{d}` is not a host name; write it lowercase, without scheme, port or path, e.g. `status.example.com` (punycode `xn--` for non-ASCII names)"),
        ));
    }
}

/// Why `slug` cannot be one, if it cannot.
fn slug_problem(slug: &str) -> Option<String> {
    let shape = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !shape {
        return Some(format!(
            "is not a valid slug; use 1–{MAX_SLUG_LEN} lowercase letters, digits and `-`, starting and ending with a letter or digit"
        ));
    }
    RESERVED_SLUGS.contains(&slug).then(|| {
        format!(
            "is reserved for the daemon's own use; choose another (reserved: {})",
            super::expr::quoted_list(RESERVED_SLUGS)
        )
    })
}

/// A DNS host name as a `Host` header carries it: lowercase labels of letters,
/// digits and `-` joined by dots, not an IP address, at most [`MAX_DOMAIN_LEN`].
pub(crate) fn is_host_name(d: &str) -> bool {
    let labels_ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    // A last label of digits only is an IPv4 address, not a name.
    let last_not_numeric = d
        .rsplit('.')
        .next()
        .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()));
    !d.is_empty() && d.len() <= MAX_DOMAIN_LEN && labels_ok && last_not_numeric
}

/// The first character of `text` a page, its feed or a message may not carry:
/// a control character other than a new line or a tab (XML 1.0 forbids most of
/// them, and they garble terminals), the non-characters U+FFFE and U+FFFF (also
/// outside XML), or a bidirectional override or isolate (U+202A–U+202E,
/// U+2066–U+2069), which makes text read other than it is.
pub fn forbidden_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t')
            || c == '\u{FFFE}'
            || c == '\u{FFFF}'
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

/// Refuses `value` of `field` (at `at`) over `max` characters or holding a
/// [`forbidden_char`], at the value.
fn text(field: &str, at: &str, value: &str, max: usize, pos: &Positions, errors: &mut Errors) {
    let n = value.chars().count();
    if n > max {
        errors.push((
            pos.value(at),
            format!("`{field}`: {n} characters is more than the maximum of {max}; shorten it"),
        ));
    }
    if let Some(c) = forbidden_char(value) {
        errors.push((
            pos.value(at),
            format!(
                "`{field}`: holds the character U+{:04X}, which a page cannot show (control characters but new lines and tabs, U+FFFE/U+FFFF and bidirectional overrides are refused); remove it",
                u32::from(c)
            ),
        ));
    }
}

fn groups(p: &StatusPage, pos: &Positions, errors: &mut Errors) {
    if p.groups.is_empty() {
        errors.push((
            pos.value("/groups"),
            "`groups`: give at least one group of `checks` or a `selector`".into(),
        ));
        return;
    }
    if p.groups.len() > MAX_GROUPS {
        errors.push((
            pos.value(&format!("/groups/{MAX_GROUPS}")),
            format!(
                "`groups`: {} groups is more than the maximum of {MAX_GROUPS}; remove some",
                p.groups.len()
            ),
        ));
        return;
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut distinct: HashSet<&str> = HashSet::new();
    let mut over_page = false;
    for (g, group) in p.groups.iter().enumerate() {
        let at = format!("/groups/{g}");
        let field = format!("groups[{g}]");
        if group.name.trim().is_empty() {
            errors.push((
                pos.value(&format!("{at}/name")),
                format!("`{field}.name`: must not be empty"),
            ));
        } else if let Some(first) = names.get(group.name.as_str()).copied() {
            errors.push((
                pos.value(&format!("{at}/name")),
                format!(
                    "`{field}.name`: `{}` is also the name of `groups[{first}]`; group names are unique within a page",
                    group.name
                ),
            ));
        } else {
            names.insert(&group.name, g);
        }
        text(
            &format!("{field}.name"),
            &format!("{at}/name"),
            &group.name,
            MAX_GROUP_NAME_CHARS,
            pos,
            errors,
        );
        if group.checks.is_empty() && group.selector.is_empty() {
            errors.push((
                pos.value(&at),
                format!("`{field}`: give `checks`, a `selector` or both; a group of neither shows nothing"),
            ));
        }
        if group.checks.len() > MAX_GROUP_CHECKS {
            errors.push((
                pos.value(&format!("{at}/checks/{MAX_GROUP_CHECKS}")),
                format!(
                    "`{field}.checks`: {} checks is more than the maximum of {MAX_GROUP_CHECKS} per group; split the group",
                    group.checks.len()
                ),
            ));
            continue;
        }
        let mut here: HashMap<&str, usize> = HashMap::new();
        for (i, check) in group.checks.iter().enumerate() {
            if let Some(first) = here.get(check.as_str()) {
                errors.push((
                    pos.value(&format!("{at}/checks/{i}")),
                    format!("`{field}.checks[{i}]`: `{check}` is listed already, as `checks[{first}]`; a check shows once per group"),
                ));
                continue;
            }
            here.insert(check, i);
            if distinct.insert(check) && distinct.len() > MAX_PAGE_CHECKS && !over_page {
                over_page = true;
                errors.push((
                    pos.value(&format!("{at}/checks/{i}")),
                    format!("`{field}.checks[{i}]`: the page names more than {MAX_PAGE_CHECKS} distinct checks, the most one page may show; split it into several pages"),
                ));
            }
        }
        selector(&field, &at, &group.selector, pos, errors);
    }
}

/// A selector's keys and values are labels' and follow their limits.
fn selector(
    field: &str,
    at: &str,
    selector: &BTreeMap<String, String>,
    pos: &Positions,
    errors: &mut Errors,
) {
    use super::limits::{MAX_LABEL_KEY_LEN, MAX_LABEL_VALUE_LEN, MAX_LABELS};
    let at = format!("{at}/selector");
    if selector.len() > MAX_LABELS {
        errors.push((
            pos.key(&at),
            format!(
                "`{field}.selector`: {} labels is more than the maximum of {MAX_LABELS}; remove some",
                selector.len()
            ),
        ));
        return;
    }
    for (k, v) in selector {
        let here = format!("{at}/{}", escape_segment(k));
        if k.len() > MAX_LABEL_KEY_LEN {
            errors.push((
                pos.key(&here),
                format!(
                    "`{field}.selector`: a key of {} bytes is more than the maximum of {MAX_LABEL_KEY_LEN} of a label's; shorten it",
                    k.len()
                ),
            ));
        } else if v.len() > MAX_LABEL_VALUE_LEN {
            errors.push((
                pos.value(&here),
                format!(
                    "`{field}.selector.{k}`: {} bytes is more than the maximum of {MAX_LABEL_VALUE_LEN} of a label's value; shorten it",
                    v.len()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_lowercase_dns_names_and_nothing_else() {
        for ok in [
            "status.example.com",
            "localhost",
            "xn--bcher-kva.example",
            "a-b.c0",
            &format!("{}.com", ["a".repeat(63)].join(".")),
        ] {
            assert!(is_host_name(ok), "{ok}");
        }
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        for bad in [
            "",
            "Status.example.com",
            "status.example.com.",
            "status.example.com:8080",
            "https://status.example.com",
            "status.example.com/x",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "10.0.0.1",
            "[::1]",
            "bücher.example",
            "a_b.example.com",
            &format!("{}.com", "a".repeat(64)),
            &long,
        ] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }

    #[test]
    fn slugs_are_names_that_are_not_reserved() {
        assert_eq!(slug_problem("example"), None);
        assert_eq!(slug_problem(&"a".repeat(MAX_SLUG_LEN)), None);
        for bad in [
            "",
            "Example",
            "a.json",
            "-a",
            "a-",
            "a b",
            &"a".repeat(MAX_SLUG_LEN + 1),
        ] {
            assert!(
                slug_problem(bad).is_some_and(|p| p.contains("not a valid slug")),
                "{bad}"
            );
        }
        for reserved in RESERVED_SLUGS {
            assert!(slug_problem(reserved).is_some_and(|p| p.contains("reserved")));
        }
    }
}
