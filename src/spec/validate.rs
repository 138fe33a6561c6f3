//! Rules serde cannot express: names, URLs, intervals, patterns, expressions,
//! and files named by relative paths, one document at a time (rules across
//! documents are in `references`). The files are read first, in [`files`]; the
//! rules after that are pure.

pub(crate) mod files;

use std::path::Path;

use super::decode::{Positions, escape_segment};
use super::diag::Pos;
use base64::Engine as _;

use super::{
    Channel, Check, CheckType, ClientTls, GraphqlSpec, Kind, MIN_INTERVAL, ResponseMatch, Spec,
    StatusSet, TcpSpec, Template, expr,
};

/// The shortest secret that may authenticate button presses from Telegram or Slack.
pub const MIN_CALLBACK_SECRET: usize = 16;

/// The longest name a resource may have, as for a DNS label.
pub const MAX_NAME_LEN: usize = 63;

pub(crate) type Errors = Vec<(Pos, String)>;

use super::limits::*;

pub(crate) fn resource(spec: &mut Spec, pos: &Positions, base_dir: &Path, errors: &mut Errors) {
    match spec {
        Spec::Check(c) => labels(&c.labels, pos, errors),
        Spec::Channel(c) => labels(&c.labels, pos, errors),
        Spec::Maintenance(m) => labels(&m.labels, pos, errors),
        Spec::StatusPage(p) => labels(&p.labels, pos, errors),
        Spec::Template(_) => {}
    }
    match spec {
        Spec::Check(c) => check(c, pos, base_dir, errors),
        Spec::Channel(c) => channel(c, pos, errors),
        Spec::Template(t) => template(t, pos, errors),
        Spec::Maintenance(m) => maintenance(m, pos, errors),
        Spec::StatusPage(p) => super::status_page::validate(p, pos, errors),
    }
}

/// The shortest reminder interval: more often is noise that trains people to mute.
pub const MIN_REMIND_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

fn maintenance(m: &super::Maintenance, pos: &Positions, errors: &mut Errors) {
    if let Err((at, msg)) = m.window() {
        // A missing pair is blamed on the document's name; anything else on its field.
        let p = if at.is_empty() {
            pos.value("/name")
        } else {
            pos.value(at)
        };
        errors.push((p, msg));
    }
    // Status pages and their feeds show the description.
    if let Some(c) = m.description.as_deref().and_then(super::forbidden_char) {
        errors.push((
            pos.value("/description"),
            format!(
                "`description`: holds the character U+{:04X}, which a status page cannot show (control characters but new lines and tabs, U+FFFE/U+FFFF and bidirectional overrides are refused); remove it",
                u32::from(c)
            ),
        ));
    }
}

/// Whether `name` is one a resource may have: 1–[`MAX_NAME_LEN`] lowercase ASCII
/// letters, digits and `-`, not starting or ending with `-`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

pub(crate) fn name(name: &str, pos: &Positions, errors: &mut Errors) {
    if !is_valid_name(name) {
        errors.push((
            pos.value("/name"),
            format!("`name`: `{name}` is not a valid name; use 1–{MAX_NAME_LEN} lowercase letters, digits and `-`, starting and ending with a letter or digit"),
        ));
    }
}

fn check(c: &mut Check, pos: &Positions, base_dir: &Path, errors: &mut Errors) {
    at_most_count(
        "depends_on",
        "entries",
        c.depends_on.len(),
        MAX_DEPENDS_ON,
        pos,
        errors,
    );
    if !at_most_len(
        "target",
        "/target",
        c.target.len(),
        MAX_TARGET_LEN,
        pos,
        errors,
    ) {
        return;
    }
    let read = files::inline(c, pos, base_dir, errors);
    match c.check_type {
        CheckType::Http | CheckType::Graphql => url_target(c, pos, errors),
        CheckType::Tcp => tcp_target(c, pos, errors),
        CheckType::Grpc => super::grpc_validate::check(c, pos, &read, errors),
    }
    sections(c, pos, errors);
    if let Some(g) = &c.graphql {
        graphql(g, pos, errors);
    }
    if let Some(t) = &c.tcp {
        tcp(t, pos, &read, errors);
    }

    let interval = c.schedule.min_interval();
    if interval < MIN_INTERVAL {
        errors.push((
            pos.value("/schedule"),
            format!(
                "`schedule`: `{}` runs every {}, more often than the minimum of {}",
                c.schedule,
                super::Duration(interval),
                super::Duration(MIN_INTERVAL)
            ),
        ));
    } else if c.timeout.get() >= interval {
        errors.push((
            pos.value("/timeout"),
            format!("`timeout`: {} is not shorter than the interval of {}; lower the timeout or run less often", c.timeout, super::Duration(interval)),
        ));
    }
    if c.timeout.get().is_zero() {
        errors.push((
            pos.value("/timeout"),
            "`timeout`: must be longer than zero".into(),
        ));
    }
    if c.retries > super::MAX_RETRIES {
        errors.push((
            pos.value("/retries"),
            format!(
                "`retries`: {} is more than the maximum of {}",
                c.retries,
                super::MAX_RETRIES
            ),
        ));
    }

    let http = &c.http;
    if reqwest::Method::from_bytes(http.method.to_ascii_uppercase().as_bytes()).is_err() {
        errors.push((
            pos.value("/http/method"),
            format!("`http.method`: `{}` is not an HTTP method", http.method),
        ));
    }
    let few = at_most_count(
        "http.headers",
        "headers",
        http.headers.len(),
        MAX_HEADERS,
        pos,
        errors,
    );
    for (k, v) in http.headers.iter().filter(|_| few) {
        let at = format!("/http/headers/{}", escape_segment(k));
        if !at_most_len(
            &format!("http.headers.{k}"),
            &at,
            v.len(),
            MAX_HEADER_VALUE_LEN,
            pos,
            errors,
        ) {
        } else if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            errors.push((
                pos.key(&at),
                format!("`http.headers`: `{k}` is not a valid header name"),
            ));
        } else if reqwest::header::HeaderValue::from_str(v).is_err() {
            errors.push((
                pos.value(&at),
                format!("`http.headers.{k}`: the value has characters a header cannot carry"),
            ));
        }
    }
    if http.max_body == 0 {
        errors.push((
            pos.value("/http/max_body"),
            "`http.max_body`: must be at least 1 byte".into(),
        ));
    }
    let max_body = (http.max_body, super::MAX_HTTP_BODY);
    at_most("http.max_body", max_body, " bytes (16 MiB)", pos, errors);
    let redirects = (
        u64::from(http.max_redirects),
        u64::from(super::MAX_REDIRECTS),
    );
    at_most("http.max_redirects", redirects, "", pos, errors);
    if let Some(g) = &c.grpc {
        let messages = (
            u64::from(g.max_messages),
            u64::from(super::MAX_GRPC_MESSAGES),
        );
        at_most("grpc.max_messages", messages, "", pos, errors);
    }
    if let Some(pem) = &http.tls.ca
        && reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map(|v| v.is_empty())
            .unwrap_or(true)
    {
        let at = if pos.value("/http/tls/ca") == Pos::default() {
            "/http/tls/ca_file"
        } else {
            "/http/tls/ca"
        };
        errors.push((
            pos.value(at),
            "`http.tls`: no PEM certificate found in the CA bundle".into(),
        ));
    }

    let e = &c.expect;
    expect_fits_type(c, pos, errors);
    if c.check_type == CheckType::Tcp && e.response.as_ref().is_some_and(|r| !r.is_string()) {
        errors.push((
            pos.value("/expect/response"),
            "`expect.response`: a `tcp` check expects text: a substring or a `/regex/`".into(),
        ));
    }
    if c.check_type == CheckType::Tcp
        && let Some(text) = e.response_text()
        && let Err(err) = ResponseMatch::parse(text)
    {
        errors.push((
            pos.value("/expect/response"),
            format!(
                "`expect.response`: invalid regular expression: {}",
                regex_reason(&err)
            ),
        ));
    }
    if let Some(status) = &e.status {
        for (i, p) in status.patterns().iter().enumerate() {
            if let Some(problem) = p.problem() {
                // Point at the entry itself when the statuses are written as a list.
                let at = match status {
                    StatusSet::One(_) => "/expect/status".to_string(),
                    StatusSet::Many(_) => format!("/expect/status/{i}"),
                };
                errors.push((pos.value(&at), format!("`expect.status`: {problem}")));
            }
        }
    }
    for path in e.json_path.keys() {
        if let Err(err) = expr::json_path(path) {
            let at = format!("/expect/json_path/{}", escape_segment(path));
            errors.push((pos.key(&at), format!("`expect.json_path`: `{path}` is not a JSONPath: {err}; expected e.g. `$.status`")));
        }
    }
    if let Some(re) = &e.body_regex
        && let Err(err) = expr::regex(re)
    {
        errors.push((
            pos.value("/expect/body_regex"),
            format!(
                "`expect.body_regex`: invalid regular expression: {}",
                regex_reason(&err)
            ),
        ));
    }
    for (k, re) in &e.headers {
        if let Err(err) = expr::regex(re) {
            let at = format!("/expect/headers/{}", escape_segment(k));
            errors.push((
                pos.value(&at),
                format!(
                    "`expect.headers.{k}`: invalid regular expression: {}",
                    regex_reason(&err)
                ),
            ));
        }
    }
    let paths: Vec<&str> = e.json_path.keys().map(String::as_str).collect();
    let headers: Vec<&str> = e.headers.keys().map(String::as_str).collect();
    let conditions: Vec<&str> = e.conditions.iter().map(String::as_str).collect();
    conditions_and_counts(&paths, &headers, &conditions, pos, errors);
    if let Some(alert) = &c.alert {
        for (field, v) in [
            ("failure_threshold", alert.failure_threshold),
            ("success_threshold", alert.success_threshold),
        ] {
            if v == 0 {
                errors.push((
                    pos.value(&format!("/alert/{field}")),
                    format!("`alert.{field}`: must be at least 1"),
                ));
            }
        }
        if let Some(every) = alert.remind_every
            && every.get() < MIN_REMIND_EVERY
        {
            errors.push((
                pos.value("/alert/remind_every"),
                format!(
                    "`alert.remind_every`: {every} is too often; the shortest is {}",
                    super::Duration::from_secs(MIN_REMIND_EVERY.as_secs())
                ),
            ));
        }
    }
    if let Some(slo) = &c.slo {
        super::slo::validate(slo, pos, errors);
    }
    locations(c, pos, errors);
    for (i, dep) in c.depends_on.iter().enumerate() {
        if dep == &c.name {
            errors.push((
                pos.value(&format!("/depends_on/{i}")),
                "`depends_on`: a check cannot depend on itself".into(),
            ));
        }
    }
}

/// Whether `name` may name a daemon's node or location: what a host name may
/// hold (1–63 letters, digits, `-`, `_` or `.`, from a letter or digit), so that
/// it reads the same in logs, metrics labels and `User-Agent` headers.
pub fn is_place_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Most locations one check runs from.
pub const MAX_LOCATIONS: usize = 16;

/// `locations` are names a daemon's `--location` can have, each once, and
/// `quorum` is between 1 and their number.
fn locations(c: &Check, pos: &Positions, errors: &mut Errors) {
    if !at_most_count(
        "locations",
        "entries",
        c.locations.len(),
        MAX_LOCATIONS,
        pos,
        errors,
    ) {
        return;
    }
    for (i, loc) in c.locations.iter().enumerate() {
        if !is_place_name(loc) {
            errors.push((
                pos.value(&format!("/locations/{i}")),
                format!("`locations`: `{}` is not a location name; use 1–63 letters, digits, `-`, `_` or `.`, as in a daemon's --location", loc.escape_debug()),
            ));
        } else if c.locations[..i].contains(loc) {
            errors.push((
                pos.value(&format!("/locations/{i}")),
                format!("`locations`: `{loc}` is listed twice"),
            ));
        }
    }
    if let Some(q) = c.quorum {
        if c.locations.is_empty() {
            errors.push((
                pos.value("/quorum"),
                "`quorum` needs `locations`: list the locations the check runs from".into(),
            ));
        } else if q == 0 || q as usize > c.locations.len() {
            errors.push((
                pos.value("/quorum"),
                format!(
                    "`quorum`: {q} is not between 1 and the {} location(s) listed",
                    c.locations.len()
                ),
            ));
        }
    }
}

fn url_target(c: &Check, pos: &Positions, errors: &mut Errors) {
    match url::Url::parse(&c.target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if c.expect.cert_valid_for.is_some() && u.scheme() != "https" {
                errors.push((pos.value("/expect/cert_valid_for"), "`expect.cert_valid_for` needs an https:// target".into()));
            }
        }
        Ok(u) => errors.push((
            pos.value("/target"),
            format!("`target`: `{}` is not an http:// or https:// URL (scheme `{}`)", c.target, u.scheme()),
        )),
        Err(e) => errors.push((pos.value("/target"), format!("`target`: `{}` is not a valid URL: {e}; expected e.g. `https://example.com/healthz`", c.target))),
    }
}

fn tcp_target(c: &Check, pos: &Positions, errors: &mut Errors) {
    if split_host_port(&c.target).is_none() {
        errors.push((
            pos.value("/target"),
            format!(
                "`target`: `{}` is not `host:port`; expected e.g. `mail.example.com:25` or `[::1]:25`",
                c.target
            ),
        ));
    }
    if c.expect.cert_valid_for.is_some() && c.tcp.as_ref().is_none_or(|t| t.tls.is_none()) {
        errors.push((
            pos.value("/expect/cert_valid_for"),
            "`expect.cert_valid_for` needs `tcp.tls: true`".into(),
        ));
    }
}

/// `host:port` with a port 1–65535; an IPv6 host is written in brackets.
pub fn split_host_port(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let ok = !host.is_empty() && !host.contains(['/', ' ', '@']);
    ok.then_some((host, port))
}

/// Each type has its own section; a section of another type is a mistake that
/// would otherwise be silently ignored.
fn sections(c: &Check, pos: &Positions, errors: &mut Errors) {
    let want = c.check_type.as_str();
    let present = [
        ("http", pos.has("/http")),
        ("graphql", c.graphql.is_some()),
        ("tcp", c.tcp.is_some()),
        ("grpc", c.grpc.is_some()),
    ];
    for (section, is_there) in present {
        let belongs = section == want || (section == "http" && c.check_type == CheckType::Graphql);
        if is_there && !belongs {
            errors.push((
                pos.key(&format!("/{section}")),
                format!("section `{section}` does not belong to a `{want}` check; remove it or change `type`"),
            ));
        }
    }
    if c.check_type == CheckType::Graphql {
        if c.graphql.is_none() {
            errors.push((
                pos.value("/type"),
                "a `graphql` check needs a `graphql:` section with at least `query`".into(),
            ));
        }
        for field in super::GRAPHQL_REFUSED_HTTP {
            let at = format!("/http/{field}");
            if pos.has(&at) {
                errors.push((
                    pos.key(&at),
                    format!("`http.{field}`: a `graphql` check builds its own request; use `graphql.method`, `graphql.query` and `graphql.variables`"),
                ));
            }
        }
    }
}

fn graphql(g: &GraphqlSpec, pos: &Positions, errors: &mut Errors) {
    if g.query.trim().is_empty() {
        errors.push((
            pos.value("/graphql/query"),
            "`graphql.query`: must not be empty; expected e.g. `{ __typename }`".into(),
        ));
    }
    if let Some(i) = &g.introspect {
        for (field, v) in [("type", &i.type_name), ("field", &i.field)] {
            if v.trim().is_empty() {
                errors.push((
                    pos.value(&format!("/graphql/introspect/{field}")),
                    format!("`graphql.introspect.{field}`: must not be empty"),
                ));
            }
        }
    }
}

fn tcp(t: &TcpSpec, pos: &Positions, read: &files::Read, errors: &mut Errors) {
    if t.send.is_some() && t.send_base64.is_some() {
        errors.push((
            pos.key("/tcp/send_base64"),
            "`tcp`: give `send` or `send_base64`, not both".into(),
        ));
    } else if let Some(b64) = &t.send_base64
        && let Err(e) = base64::engine::general_purpose::STANDARD.decode(b64)
    {
        errors.push((
            pos.value("/tcp/send_base64"),
            format!(
                "`tcp.send_base64`: not valid base64: {}",
                e.to_string().trim_end_matches('.')
            ),
        ));
    }
    match &t.tls {
        Some(_) if read.failed_tls.contains(&"/tcp/tls") => {}
        Some(tls) => client_tls(tls, "/tcp/tls", pos, errors),
        None if pos.has("/tcp/server_name") => errors.push((
            pos.key("/tcp/server_name"),
            "`tcp.server_name`: only applies with `tls`".into(),
        )),
        None => {}
    }
    if t.max_bytes == 0 {
        errors.push((
            pos.value("/tcp/max_bytes"),
            "`tcp.max_bytes`: must be at least 1 byte".into(),
        ));
    }
    let max_bytes = (t.max_bytes, super::MAX_TCP_BYTES);
    at_most("tcp.max_bytes", max_bytes, " bytes (1 MiB)", pos, errors);
}

/// Builds the TLS client configuration a `tls:` section of a `grpc` or `tcp`
/// check describes (its files already read), so a bad PEM bundle or a key that
/// does not belong to the certificate is reported where it is written rather
/// than when the check runs.
pub(crate) fn client_tls(tls: &ClientTls, at: &str, pos: &Positions, errors: &mut Errors) {
    let section = super::load::dotted(at);
    // Where each value was written: the file's path, or the inline text.
    let written = |inline_field: &str| {
        let file = format!("{at}/{inline_field}_file");
        if pos.has(&file) {
            file
        } else {
            format!("{at}/{inline_field}")
        }
    };
    if tls.insecure && tls.ca.is_some() {
        errors.push((
            pos.key(&written("ca")),
            format!(
                "`{section}`: `insecure: true` trusts any certificate; remove `insecure` or the CA"
            ),
        ));
        return;
    }
    if tls.ca.is_none() && tls.client_cert.is_none() && tls.client_key.is_none() {
        return;
    }
    use crate::tls::{TlsSetupError, build_config};
    if let Err(e) = build_config(&tls.settings()) {
        let (field, msg) = match e {
            TlsSetupError::Ca(m) => (Some("ca"), m),
            TlsSetupError::ClientCert(m) => (Some("client_cert"), m),
            TlsSetupError::ClientKey(m) => (Some("client_key"), m),
            TlsSetupError::Other(m) => (None, m),
        };
        let (where_, label) = match field {
            Some(f) => {
                let pointer = &written(f);
                let label = pointer.rsplit('/').next().unwrap_or(f).to_string();
                (pos.value(pointer), format!("{section}.{label}"))
            }
            None => (pos.key(at), section.clone()),
        };
        errors.push((where_, format!("`{label}`: {msg}")));
    }
}

/// Expectations another check type would judge; on this one they could never hold
/// or would be ignored, so they are rejected.
fn expect_fits_type(c: &Check, pos: &Positions, errors: &mut Errors) {
    let e = &c.expect;
    let given = |field: &str| match field {
        "status" => e.status.is_some(),
        "json_path" => !e.json_path.is_empty(),
        "body_regex" => e.body_regex.is_some(),
        "headers" => !e.headers.is_empty(),
        "response" => e.response.is_some(),
        "code" => e.code.is_some(),
        "data" => e.data.is_some(),
        _ => e.errors.is_some(),
    };
    for (field, types) in super::EXPECT_BY_TYPE {
        if given(field) && !types.contains(&c.check_type) {
            let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            errors.push((
                pos.key(&format!("/expect/{field}")),
                format!(
                    "`expect.{field}` does not apply to a `{}` check, only to {}",
                    c.check_type.as_str(),
                    expr::quoted_list(&names)
                ),
            ));
        }
    }
}

fn channel(c: &mut Channel, pos: &Positions, errors: &mut Errors) {
    for (field, msg) in c.section_problems() {
        let at = format!("/{field}");
        errors.push((
            if field == "type" {
                pos.value(&at)
            } else {
                pos.key(&at)
            },
            msg,
        ));
    }
    let mut urls: Vec<(&str, &str)> = Vec::new();
    if let Some(t) = &c.telegram {
        urls.push(("/telegram/api_url", &t.api_url));
    }
    if let Some(s) = &c.slack {
        urls.push(("/slack/webhook_url", &s.webhook_url));
    }
    if let Some(w) = &c.webhook {
        urls.push(("/webhook/url", &w.url));
    }
    for (at, u) in urls {
        let ok = url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            // The value may be a secret: say what is wrong without echoing it.
            errors.push((
                pos.value(at),
                format!(
                    "`{}`: not an http:// or https:// URL",
                    super::load::dotted(at)
                ),
            ));
        }
    }
    if let Some(secret) = c
        .telegram
        .as_ref()
        .and_then(|t| t.webhook_secret.as_deref())
    {
        // Telegram's rule for `secret_token`, and long enough not to be guessed;
        // the value is a secret: not echoed.
        let ok = (MIN_CALLBACK_SECRET..=256).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            errors.push((
                pos.value("/telegram/webhook_secret"),
                format!("`telegram.webhook_secret`: use {MIN_CALLBACK_SECRET} to 256 characters of A-Z, a-z, 0-9, `_` and `-` (Telegram's rule, and long enough not to be guessed)"),
            ));
        }
    }
    if let Some(secret) = c.slack.as_ref().and_then(|s| s.signing_secret.as_deref())
        && secret.len() < MIN_CALLBACK_SECRET
    {
        errors.push((
            pos.value("/slack/signing_secret"),
            format!("`slack.signing_secret`: too short to prove anything; copy the app's signing secret (Basic Information → App Credentials), at least {MIN_CALLBACK_SECRET} characters"),
        ));
    }
    if let Some(ca) = c.email.as_ref().and_then(|e| e.ca.as_deref())
        && !ca.contains("-----BEGIN CERTIFICATE-----")
    {
        errors.push((
            pos.value("/email/ca"),
            "`email.ca`: give CA certificates in PEM (`-----BEGIN CERTIFICATE-----`)".into(),
        ));
    }
    if let Some(e) = &c.email {
        let addrs = std::iter::once(("/email/from".to_string(), e.from.as_str())).chain(
            e.to.iter()
                .enumerate()
                .map(|(i, a)| (format!("/email/to/{i}"), a.as_str())),
        );
        for (at, a) in addrs {
            if !looks_like_address(a) {
                errors.push((
                    pos.value(&at),
                    format!(
                        "`{}`: `{a}` is not an email address",
                        super::load::dotted(&at)
                    ),
                ));
            }
        }
        if e.to.is_empty() {
            errors.push((
                pos.value("/email/to"),
                "`email.to`: give at least one recipient".into(),
            ));
        }
    }
}

fn looks_like_address(a: &str) -> bool {
    let addr = match (a.find('<'), a.rfind('>')) {
        (Some(i), Some(j)) if i < j => &a[i + 1..j],
        _ => a,
    };
    addr.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    })
}

fn template(t: &Template, pos: &Positions, errors: &mut Errors) {
    if t.body.is_some() && t.text.is_some() {
        errors.push((
            pos.key("/body"),
            format!(
                "template `{}`: give `text` or its older name `body`, not both",
                t.name
            ),
        ));
    }
    // Rendered against a sample context for every event, as the notifier would: an
    // unknown filter or a type error shows now, not when an incident opens.
    for (path, line, detail) in super::template::check_renders(t) {
        let line = line.map(|l| format!(", line {l}")).unwrap_or_default();
        errors.push((
            pos.value(&format!("/{}", path.replace('.', "/"))),
            format!("template `{}` field `{path}`{line}: {detail}", t.name),
        ));
    }
    if let Some(w) = &t.webhook
        && w.content_type.is_some()
        && w.body.is_none()
    {
        errors.push((
            pos.key("/webhook/content_type"),
            format!(
                "template `{}`: `webhook.content_type` needs `webhook.body`",
                t.name
            ),
        ));
    }
}

/// The rules of [`check`] that need only the text of one field, for a document that
/// could not be typed as a whole: conditions, patterns and paths.
pub(crate) fn untyped(kind: Kind, value: &serde_json::Value, pos: &Positions, errors: &mut Errors) {
    if kind != Kind::Check {
        return;
    }
    let expect = |key: &str| value.pointer(&format!("/expect/{key}"));
    if let Some(re) = expect("body_regex").and_then(|v| v.as_str())
        && let Err(err) = expr::regex(re)
    {
        errors.push((
            pos.value("/expect/body_regex"),
            format!(
                "`expect.body_regex`: invalid regular expression: {}",
                regex_reason(&err)
            ),
        ));
    }
    if let Some(headers) = expect("headers").and_then(|v| v.as_object()) {
        for (k, re) in headers {
            if let Some(re) = re.as_str()
                && let Err(err) = expr::regex(re)
            {
                errors.push((
                    pos.value(&format!("/expect/headers/{}", escape_segment(k))),
                    format!(
                        "`expect.headers.{k}`: invalid regular expression: {}",
                        regex_reason(&err)
                    ),
                ));
            }
        }
    }
    if let Some(paths) = expect("json_path").and_then(|v| v.as_object()) {
        for path in paths.keys() {
            if let Err(err) = expr::json_path(path) {
                let at = format!("/expect/json_path/{}", escape_segment(path));
                errors.push((pos.key(&at), format!("`expect.json_path`: `{path}` is not a JSONPath: {err}; expected e.g. `$.status`")));
            }
        }
    }
    let keys = |key: &str| -> Vec<&str> {
        expect(key)
            .and_then(|v| v.as_object())
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    };
    // Only strings: a condition of another type is reported by the typing itself.
    let conditions: Vec<&str> = expect("conditions")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    conditions_and_counts(
        &keys("json_path"),
        &keys("headers"),
        &conditions,
        pos,
        errors,
    );
}

/// Refuses more than [`expr::MAX_CONDITIONS`] conditions, [`MAX_JSON_PATHS`] paths
/// or [`MAX_EXPECT_HEADERS`] header patterns, pointing at the first one over, and
/// otherwise compiles every condition on one thread. Each of the three runs on
/// every probe, so their count bounds a run's work before any of it is done.
fn conditions_and_counts(
    paths: &[&str],
    headers: &[&str],
    conditions: &[&str],
    pos: &Positions,
    errors: &mut Errors,
) {
    if let Some(over) = paths.get(MAX_JSON_PATHS) {
        errors.push((
            pos.key(&format!("/expect/json_path/{}", escape_segment(over))),
            format!(
                "`expect.json_path`: {} paths, more than the limit of {MAX_JSON_PATHS}; split the check into several",
                paths.len()
            ),
        ));
    }
    if let Some(over) = headers.get(MAX_EXPECT_HEADERS) {
        errors.push((
            pos.key(&format!("/expect/headers/{}", escape_segment(over))),
            format!(
                "`expect.headers`: {} patterns, more than the limit of {MAX_EXPECT_HEADERS}; split the check into several",
                headers.len()
            ),
        ));
    }
    if conditions.len() > expr::MAX_CONDITIONS {
        errors.push((
            pos.value(&format!("/expect/conditions/{}", expr::MAX_CONDITIONS)),
            format!(
                "`expect.conditions`: {} conditions, more than the limit of {}; join related ones with `&&` or split the check into several",
                conditions.len(),
                expr::MAX_CONDITIONS
            ),
        ));
        return;
    }
    for (i, result) in expr::compile_each(conditions).into_iter().enumerate() {
        if let Err(msg) = result {
            errors.push((
                pos.value(&format!("/expect/conditions/{i}")),
                format!("`expect.conditions[{i}]`: {msg}"),
            ));
        }
    }
}

/// The reason out of a regex error, whose text repeats the pattern with a caret
/// under it and ends in `error: <reason>`; the position is reported separately.
fn regex_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text.lines().last().unwrap_or(&text).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}
