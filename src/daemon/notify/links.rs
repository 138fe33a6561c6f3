//! Where a notification's `links` point a person: the incident on a status page
//! that lists its check, when there is one, since the API answers 401 to anyone
//! without a key.

use std::collections::BTreeMap;

use crate::spec::StatusPage;

/// The page an incident of check `name` (with `labels`) links to: the first by name
/// of the tenant's public pages (no `access` token) that lists the check, by name
/// in a group's `checks` or by a group's `selector` matching its labels. `pages`
/// are the tenant's own, so another tenant's page never comes up.
pub fn listing_page<'a>(
    pages: &'a [StatusPage],
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Option<&'a StatusPage> {
    pages
        .iter()
        .filter(|p| p.access.is_none() && lists(p, name, labels))
        .min_by(|a, b| a.name.cmp(&b.name))
}

/// Whether `page` shows the check: named in a group, or matched by a group's selector.
fn lists(page: &StatusPage, name: &str, labels: &BTreeMap<String, String>) -> bool {
    page.groups.iter().any(|g| {
        g.checks.iter().any(|c| c == name)
            || (!g.selector.is_empty() && g.selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{StatusAccess, StatusGroup, StatusShow};

    fn page(name: &str, groups: Vec<StatusGroup>, private: bool) -> StatusPage {
        StatusPage {
            name: name.into(),
            labels: BTreeMap::new(),
            title: name.into(),
            description: None,
            slug: format!("{name}-slug"),
            groups,
            show: StatusShow::default(),
            announcement: None,
            access: private.then(|| StatusAccess {
                token: "hush".into(),
            }),
            domain: None,
        }
    }

    fn named(checks: &[&str]) -> StatusGroup {
        StatusGroup {
            name: "g".into(),
            checks: checks.iter().map(|c| c.to_string()).collect(),
            selector: BTreeMap::new(),
        }
    }

    fn selected(pairs: &[(&str, &str)]) -> StatusGroup {
        StatusGroup {
            name: "s".into(),
            checks: Vec::new(),
            selector: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_public_page_by_name_that_lists_the_check_wins() {
        let pages = vec![
            page("zeta", vec![named(&["api"])], false),
            page("alpha", vec![named(&["api"])], true),
            page(
                "beta",
                vec![named(&["web"]), selected(&[("team", "pay")])],
                false,
            ),
            page("gamma", vec![named(&["api"])], false),
        ];
        let none = BTreeMap::new();
        assert_eq!(
            listing_page(&pages, "api", &none).map(|p| p.name.as_str()),
            Some("gamma"),
            "alpha is private; gamma comes before zeta"
        );
        assert_eq!(
            listing_page(&pages, "pay-api", &labels(&[("team", "pay"), ("x", "y")]))
                .map(|p| p.name.as_str()),
            Some("beta")
        );
        assert_eq!(
            listing_page(&pages, "pay-api", &labels(&[("team", "other")])),
            None
        );
        assert_eq!(listing_page(&pages, "nowhere", &none), None);
    }

    #[test]
    fn a_selector_needs_every_label_and_an_empty_one_lists_nothing() {
        let pages = vec![page(
            "p",
            vec![selected(&[("team", "pay"), ("tier", "1")]), selected(&[])],
            false,
        )];
        assert_eq!(listing_page(&pages, "c", &labels(&[("team", "pay")])), None);
        assert!(listing_page(&pages, "c", &labels(&[("team", "pay"), ("tier", "1")])).is_some());
        assert_eq!(listing_page(&pages, "c", &BTreeMap::new()), None);
    }

    #[test]
    fn a_private_page_alone_gives_no_link() {
        let pages = vec![page("p", vec![named(&["api"])], true)];
        assert_eq!(listing_page(&pages, "api", &BTreeMap::new()), None);
    }
}
