//! Rules serde cannot express: names, URLs, intervals, patterns, expressions,
//! files named by relative paths, and references between resources.

use std::collections::HashMap;
use std::path::Path;

use super::decode::{Positions, escape_segment};
use super::diag::{Diagnostic, Diagnostics, Pos};
use super::load::Seen;
use base64::Engine as _;

use super::{
    Channel, Check, CheckType, GraphqlSpec, Kind, MIN_INTERVAL, Resource, ResponseMatch, Spec,
    StatusSet, TcpSpec, Template, expr,
};

/// The longest name a resource may have, as for a DNS label.
pub const MAX_NAME_LEN: usize = 63;

type Errors = Vec<(Pos, String)>;

pub(crate) fn resource(spec: &mut Spec, pos: &Positions, base_dir: &Path, errors: &mut Errors) {
    match spec {
        Spec::Check(c) => check(c, pos, base_dir, errors),
        Spec::Channel(c) => channel(c, pos, errors),
        Spec::Template(t) => template(t, pos, errors),
    }
}

pub(crate) fn name(name: &str, pos: &Positions, errors: &mut Errors) {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        errors.push((
            pos.value("/name"),
            format!("`name`: `{name}` is not a valid name; use 1–{MAX_NAME_LEN} lowercase letters, digits and `-`, starting and ending with a letter or digit"),
        ));
    }
}

fn check(c: &mut Check, pos: &Positions, base_dir: &Path, errors: &mut Errors) {
    match c.check_type {
        CheckType::Http | CheckType::Graphql => url_target(c, pos, errors),
        CheckType::Tcp => tcp_target(c, pos, errors),
        CheckType::Grpc => super::grpc_validate::check(c, pos, base_dir, errors),
    }
    sections(c, pos, errors);
    if let Some(g) = &c.graphql {
        graphql(g, pos, errors);
    }
    if let Some(t) = &c.tcp {
        tcp(t, pos, errors);
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

    let http = &mut c.http;
    if reqwest::Method::from_bytes(http.method.to_ascii_uppercase().as_bytes()).is_err() {
        errors.push((
            pos.value("/http/method"),
            format!("`http.method`: `{}` is not an HTTP method", http.method),
        ));
    }
    for (k, v) in &http.headers {
        let at = format!("/http/headers/{}", escape_segment(k));
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
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
    if let Some(file) = http.tls.ca_file.take() {
        let path = base_dir.join(&file);
        match std::fs::read_to_string(&path) {
            Ok(_) if http.tls.ca.is_some() => {
                errors.push((
                    pos.key("/http/tls/ca_file"),
                    "`http.tls`: give `ca_file` or `ca`, not both".into(),
                ));
            }
            Ok(pem) => http.tls.ca = Some(pem),
            Err(e) => errors.push((
                pos.value("/http/tls/ca_file"),
                format!("`http.tls.ca_file`: cannot read `{}`: {e}", path.display()),
            )),
        }
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
        if let Err(err) = serde_json_path::JsonPath::parse(path) {
            let at = format!("/expect/json_path/{}", escape_segment(path));
            errors.push((pos.key(&at), format!("`expect.json_path`: `{path}` is not a JSONPath: {err}; expected e.g. `$.status`")));
        }
    }
    if let Some(re) = &e.body_regex
        && let Err(err) = regex::Regex::new(re)
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
        if let Err(err) = regex::Regex::new(re) {
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
    for (i, cond) in e.conditions.iter().enumerate() {
        if let Err(msg) = expr::compile(cond) {
            errors.push((
                pos.value(&format!("/expect/conditions/{i}")),
                format!("`expect.conditions[{i}]`: {msg}"),
            ));
        }
    }
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
    if c.expect.cert_valid_for.is_some() && !c.tcp.as_ref().is_some_and(|t| t.tls) {
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
        for field in ["method", "body"] {
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

fn tcp(t: &TcpSpec, pos: &Positions, errors: &mut Errors) {
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
    if !t.tls {
        for field in ["insecure", "server_name"] {
            let at = format!("/tcp/{field}");
            if pos.has(&at) {
                errors.push((
                    pos.key(&at),
                    format!("`tcp.{field}`: only applies with `tls: true`"),
                ));
            }
        }
    }
    if t.max_bytes == 0 {
        errors.push((
            pos.value("/tcp/max_bytes"),
            "`tcp.max_bytes`: must be at least 1 byte".into(),
        ));
    }
}

/// Expectations another check type would judge; on this one they could never hold
/// or would be ignored, so they are rejected.
fn expect_fits_type(c: &Check, pos: &Positions, errors: &mut Errors) {
    use CheckType::{Graphql, Grpc, Http, Tcp};
    let e = &c.expect;
    let typed: [(&str, bool, &[CheckType]); 8] = [
        ("status", e.status.is_some(), &[Http, Graphql]),
        ("json_path", !e.json_path.is_empty(), &[Http, Graphql, Grpc]),
        ("body_regex", e.body_regex.is_some(), &[Http, Graphql]),
        ("headers", !e.headers.is_empty(), &[Http, Graphql]),
        ("response", e.response.is_some(), &[Tcp, Grpc]),
        ("code", e.code.is_some(), &[Grpc]),
        ("data", e.data.is_some(), &[Graphql]),
        ("errors", e.errors.is_some(), &[Graphql]),
    ];
    for (field, is_there, types) in typed {
        if is_there && !types.contains(&c.check_type) {
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
        // Telegram's rule for `secret_token`; the value is a secret: not echoed.
        let ok = (1..=256).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            errors.push((
                pos.value("/telegram/webhook_secret"),
                "`telegram.webhook_secret`: Telegram accepts 1 to 256 characters of A-Z, a-z, 0-9, `_` and `-`".into(),
            ));
        }
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

/// Duplicate names within a kind, and references to channels and templates that
/// are not defined.
pub(crate) fn cross_references<'a>(
    resources: impl Iterator<Item = &'a Resource>,
    seen: &[Seen],
    diags: &mut Diagnostics,
) {
    let mut first: HashMap<(Kind, &str), &Seen> = HashMap::new();
    for s in seen {
        if let Some(prev) = first.get(&(s.kind, s.name.as_str())) {
            diags.push(Diagnostic::new(
                &s.file,
                s.pos,
                format!(
                    "duplicate {} `{}`: also defined at {}:{}:{}",
                    s.kind, s.name, prev.file, prev.pos.line, prev.pos.col
                ),
            ));
        } else {
            first.insert((s.kind, s.name.as_str()), s);
        }
    }
    let exists = |kind: Kind, name: &str| first.contains_key(&(kind, name));
    let names_of = |kind: Kind| {
        seen.iter()
            .filter(move |s| s.kind == kind)
            .map(|s| s.name.as_str())
    };
    let missing = |kind: Kind, name: &str| {
        let hint = super::suggest(name, names_of(kind))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        format!("{kind} `{name}` is not defined in the files given{hint}")
    };
    for r in resources {
        let mut refs: Vec<(String, Kind, &str)> = Vec::new();
        match &r.spec {
            Spec::Check(c) => {
                if let Some(alert) = &c.alert {
                    for (i, ch) in alert.channels.iter().enumerate() {
                        refs.push((format!("/alert/channels/{i}"), Kind::Channel, ch));
                    }
                    if let Some(t) = &alert.template {
                        refs.push(("/alert/template".into(), Kind::Template, t));
                    }
                }
            }
            Spec::Channel(c) => {
                if let Some(t) = &c.template {
                    refs.push(("/template".into(), Kind::Template, t));
                }
            }
            Spec::Template(_) => {}
        }
        for (at, kind, name) in refs {
            if !exists(kind, name) {
                let field = super::load::dotted(&at);
                diags.push(Diagnostic::new(
                    &r.file,
                    r.positions.value(&at),
                    format!("`{field}`: {}", missing(kind, name)),
                ));
            }
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
