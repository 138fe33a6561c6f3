//! Status pages in check files: every rule of the page at its `file:line:col`,
//! references to checks with a hint, addresses unique across the files, and the
//! access token never printed.

use super::spec_errors::{HEAD, assert_file_problems, assert_problems};
use crate::support::Files;

/// A page without groups (lines 1–4); tests append them and what else they need.
const PAGE: &str = "kind: StatusPage\nname: public\ntitle: Example status\nslug: example\n";

#[test]
fn every_rule_of_a_page_points_at_its_field() {
    let yaml = format!(
        "{HEAD}---\n\
kind: StatusPage
name: public
title: \"   \"
description: {description}
slug: Example.com
groups:
  - name: Web
    checks: [api, api]
  - name: Web
  - name: \"\"
    selector: {{team: web}}
show: {{incidents_days: 91, uptime_days: 0}}
announcement: {announcement}
domain: https://status.example.com/
",
        description = "d".repeat(1_001),
        announcement = "a".repeat(10_001),
    );
    assert_file_problems(
        &yaml,
        &[
            "checks/api.yaml:8:8: `title`: must not be empty",
            "checks/api.yaml:9:14: `description`: 1001 characters is more than the maximum of 1000; shorten it",
            "checks/api.yaml:10:7: `slug`: `Example.com` is not a valid slug; use 1–63 lowercase letters, digits and `-`, starting and ending with a letter or digit",
            "checks/api.yaml:13:19: `groups[0].checks[1]`: `api` is listed already, as `checks[0]`; a check shows once per group",
            "checks/api.yaml:14:5: `groups[1]`: give `checks`, a `selector` or both; a group of neither shows nothing",
            "checks/api.yaml:14:11: `groups[1].name`: `Web` is also the name of `groups[0]`; group names are unique within a page",
            "checks/api.yaml:15:11: `groups[2].name`: must not be empty",
            "checks/api.yaml:17:24: `show.incidents_days`: 91 is more than the maximum of 90; lower it",
            "checks/api.yaml:17:41: `show.uptime_days`: 0 is not from 1 to 90",
            "checks/api.yaml:18:15: `announcement`: 10001 characters is more than the maximum of 10000; shorten it",
            "checks/api.yaml:19:9: `domain`: `https://status.example.com/` is not a host name; write it lowercase, without scheme, port or path, e.g. `status.example.com` (punycode `xn--` for non-ASCII names)",
        ],
    );
}

#[test]
fn lengths_count_characters_not_bytes() {
    // 200 characters of two bytes each: at the limit, not over it.
    let title = "é".repeat(200);
    let ok = Files::new(&[(
        "checks/p.yaml",
        &format!(
            "kind: StatusPage\nname: p\ntitle: {title}\nslug: p\ngroups: [{{name: All, selector: {{a: b}}}}]\n"
        ),
    )]);
    let r = ok.run(&["validate", "-f", "checks"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_file_problems(
        &format!(
            "{PAGE}groups: [{{name: \"{}\", selector: {{a: b}}}}]\n",
            "ü".repeat(101)
        ),
        &[
            "checks/api.yaml:5:17: `groups[0].name`: 101 characters is more than the maximum of 100; shorten it",
        ],
    );
}

#[test]
fn group_checks_must_be_checks_of_the_files_with_a_hint() {
    assert_file_problems(
        &format!("{HEAD}---\n{PAGE}groups:\n  - name: Web\n    checks: [apx, nowhere]\n"),
        &[
            "checks/api.yaml:12:14: `groups[0].checks[0]`: Check `apx` is not defined in the files given (did you mean `api`?)",
            "checks/api.yaml:12:19: `groups[0].checks[1]`: Check `nowhere` is not defined in the files given",
        ],
    );
}

#[test]
fn a_page_that_cannot_be_typed_still_has_its_checks_looked_up() {
    // `titel` leaves `title` missing (said once, with the hint): the page is not
    // typed, and its references are read all the same.
    assert_file_problems(
        "kind: StatusPage\nname: p\ntitel: x\nslug: p\ngroups: [{name: A, checks: [ghost]}]\n",
        &[
            "checks/api.yaml:3:1: unknown field `titel` in StatusPage (did you mean `title`?); expected one of `name`, `labels`, `title`, `description`, `slug`, `groups`, `show`, `announcement`, `access`, `domain`",
            "checks/api.yaml:5:29: `groups[0].checks[0]`: Check `ghost` is not defined in the files given",
        ],
    );
}

#[test]
fn two_pages_of_the_files_cannot_share_a_slug_or_a_domain() {
    let page = |name: &str, slug: &str| {
        format!(
            "kind: StatusPage\nname: {name}\ntitle: T\nslug: {slug}\ndomain: status.example.com\ngroups: [{{name: A, selector: {{a: b}}}}]\n"
        )
    };
    assert_problems(
        &[
            ("checks/a.yaml", &page("one", "example")),
            ("checks/b.yaml", &page("two", "example")),
        ],
        &[
            "checks/b.yaml:4:7: `slug`: `example` is also the slug of StatusPage `one` at checks/a.yaml:4:7; each page needs its own",
            "checks/b.yaml:5:9: `domain`: `status.example.com` is also the domain of StatusPage `one` at checks/a.yaml:5:9; each page needs its own",
        ],
    );
}

#[test]
fn reserved_slugs_ip_addresses_and_upper_case_hosts_are_refused() {
    for (slug, domain, lines) in [
        (
            "static",
            "status.example.com",
            vec![
                "checks/api.yaml:4:7: `slug`: `static` is reserved for the daemon's own use; choose another (reserved: `api`, `assets`, `atom`, `badge`, `feed`, `index`, `json`, `rss`, `static`)",
            ],
        ),
        (
            "ok",
            "10.0.0.1",
            vec![
                "checks/api.yaml:6:9: `domain`: `10.0.0.1` is not a host name; write it lowercase, without scheme, port or path, e.g. `status.example.com` (punycode `xn--` for non-ASCII names)",
            ],
        ),
        (
            "ok",
            "Status.Example.com",
            vec![
                "checks/api.yaml:6:9: `domain`: `Status.Example.com` is not a host name; write it lowercase, without scheme, port or path, e.g. `status.example.com` (punycode `xn--` for non-ASCII names)",
            ],
        ),
        (
            "ok",
            "status.example.com.",
            vec![
                "checks/api.yaml:6:9: `domain`: `status.example.com.` is not a host name; write it lowercase, without scheme, port or path, e.g. `status.example.com` (punycode `xn--` for non-ASCII names)",
            ],
        ),
    ] {
        assert_file_problems(
            &format!(
                "kind: StatusPage\nname: p\ntitle: T\nslug: {slug}\ngroups: [{{name: A, selector: {{a: b}}}}]\ndomain: {domain}\n"
            ),
            &lines,
        );
    }
}

#[test]
fn counts_are_bounded_per_group_and_per_page() {
    let names = |from: usize, n: usize| -> String {
        (from..from + n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // 51 groups.
    let groups: String = (0..51)
        .map(|i| format!("  - {{name: g{i}, selector: {{a: b}}}}\n"))
        .collect();
    assert_file_problems(
        &format!("{PAGE}groups:\n{groups}"),
        &["checks/api.yaml:56:5: `groups`: 51 groups is more than the maximum of 50; remove some"],
    );
    // 501 checks in one group: refused at the 501st, and not looked up one by one.
    assert_file_problems(
        &format!(
            "{PAGE}groups:\n  - name: A\n    checks: [{}]\n",
            names(0, 501)
        ),
        &[
            "checks/api.yaml:7:2904: `groups[0].checks`: 501 checks is more than the maximum of 500 per group; split the group",
        ],
    );
}

#[test]
fn a_page_names_at_most_a_thousand_distinct_checks() {
    let checks: String = (0..1_001)
        .map(|i| format!("---\nkind: Check\nname: c{i}\ntype: tcp\ntarget: h:1\n"))
        .collect();
    let group = |g: usize, from: usize, n: usize| {
        let names: Vec<String> = (from..from + n).map(|i| format!("c{i}")).collect();
        format!("  - name: g{g}\n    checks: [{}]\n", names.join(", "))
    };
    // The same 500 twice, then 1 more: 501 distinct, fine.
    let fine = format!(
        "{PAGE}groups:\n{}{}{}{checks}",
        group(0, 0, 500),
        group(1, 0, 500),
        group(2, 500, 1)
    );
    let dir = Files::new(&[("checks/p.yaml", &fine)]);
    let r = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 500 + 500 + 1 distinct: the 1,001st is refused where it is named.
    let over = format!(
        "{PAGE}groups:\n{}{}{}{checks}",
        group(0, 0, 500),
        group(1, 500, 500),
        group(2, 1_000, 1)
    );
    assert_file_problems(
        &over,
        &[
            "checks/api.yaml:11:14: `groups[2].checks[0]`: the page names more than 1000 distinct checks, the most one page may show; split it into several pages",
        ],
    );
}

#[test]
fn the_token_is_never_echoed_whatever_is_wrong_with_it() {
    let token = "tok\u{e9}n-not-ascii-but-long";
    let yaml = format!(
        "{PAGE}groups: [{{name: A, selector: {{a: b}}}}]\naccess: {{token: \"{token}\"}}\n"
    );
    assert_file_problems(
        &yaml,
        &[
            "checks/api.yaml:6:17: `access.token`: use 16 to 256 characters of visible ASCII, no spaces (e.g. from `openssl rand -hex 16`), and write it as `${VAR}` to keep it out of git",
        ],
    );
    // A token from the environment is checked after it is read.
    let dir = Files::new(&[(
        "checks/p.yaml",
        &format!(
            "{PAGE}groups: [{{name: A, selector: {{a: b}}}}]\naccess: {{token: \"${{STATUS_TOKEN}}\"}}\n"
        ),
    )]);
    let short = crate::support::uptimeping()
        .args(["validate", "-f", "checks"])
        .current_dir(dir.path())
        .env("STATUS_TOKEN", "short-one")
        .output()
        .expect("run uptimeping");
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert_eq!(short.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("checks/p.yaml:6:17: `access.token`: use 16 to 256"),
        "{stderr}"
    );
    assert!(!stderr.contains("short-one"), "{stderr}");
}

#[test]
fn control_characters_non_characters_and_bidi_overrides_are_refused_in_every_text() {
    let yaml = format!(
        "{HEAD}---\n\
kind: StatusPage
name: public
title: \"Example\\astatus\"
description: \"Live \\u202Estatus\"
slug: example
groups:
  - name: \"Web\\x1b[31m\"
    checks: [api]
announcement: \"Upgrade \\uFFFF on Sunday\\u2066\"
---
kind: Maintenance
name: deploy
description: \"release\\x00 4.2\"
checks: [api]
start: 2026-01-01T00:00:00Z
end: 2026-01-01T01:00:00Z
"
    );
    let refused = "(control characters but new lines and tabs, U+FFFE/U+FFFF and bidirectional overrides are refused); remove it";
    assert_file_problems(
        &yaml,
        &[
            format!(
                "checks/api.yaml:8:8: `title`: holds the character U+0007, which a page cannot show {refused}"
            ),
            format!(
                "checks/api.yaml:9:14: `description`: holds the character U+202E, which a page cannot show {refused}"
            ),
            format!(
                "checks/api.yaml:12:11: `groups[0].name`: holds the character U+001B, which a page cannot show {refused}"
            ),
            format!(
                "checks/api.yaml:14:15: `announcement`: holds the character U+FFFF, which a page cannot show {refused}"
            ),
            format!(
                "checks/api.yaml:18:14: `description`: holds the character U+0000, which a status page cannot show {refused}"
            ),
        ],
    );
    // New lines and tabs stay fine.
    let ok = Files::new(&[(
        "checks/api.yaml",
        &format!(
            "{HEAD}---\n{PAGE}description: \"two\\nlines\\tand a tab\"\ngroups: [{{name: All, checks: [api]}}]\n"
        ),
    )]);
    let r = ok.run(&["validate", "-f", "checks"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
