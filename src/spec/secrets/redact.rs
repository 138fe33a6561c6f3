//! Free text without secrets: the secret values of a resource, and the parts of
//! them a message may quote alone, replaced in one pass.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Kind, MASK, is_secret, secret_pointers};

/// The variables a value was built from, by pointer: each name with the value it had.
pub type Variables = BTreeMap<String, Vec<(String, String)>>;

/// Top-level fields whose values a probe sends or connects to, so that a response or
/// an error may quote them. Secrets elsewhere (labels, alert settings) never reach a
/// target, and hiding them in results would only garble unrelated text.
const PROBE_INPUTS: &[&str] = &["target", "http", "grpc", "graphql", "tcp"];

/// Secrets shorter than this are hidden only where a message quotes them (in
/// backticks or double quotes), and parts of secrets that short (a query value, the
/// credential after `Bearer`) not at all: text that short turns up in ordinary words
/// (a bot token `t` would garble every `t`), and it guards next to nothing.
pub const MIN_PART_CHARS: usize = 4;

/// URL path segments at least this long are hidden alone even without a digit in
/// them: a segment that long is a token (Slack's webhook path), not a word such as
/// `hooks` or `services` that ordinary messages use too.
pub const MIN_TOKEN_SEGMENT_CHARS: usize = 16;

/// Secret texts to keep out of free text (probe errors, bodies, expectation values,
/// validation messages), each with what it prints as instead: [`MASK`], or the
/// variable it came from as `${NAME}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so that a secret is replaced whole before any part of it.
    needles: Vec<Needle>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Needle {
    secret: String,
    shown: String,
    /// Shorter than [`MIN_PART_CHARS`]: replaced only between quotes.
    quoted_only: bool,
}

impl Redactor {
    /// Every secret of a resource masked: the string values at `secrets` (pointers of
    /// [`secret_pointers`]) and the credential parts of those that are URLs.
    pub fn masking(value: &Value, secrets: &BTreeSet<String>) -> Self {
        let mut r = Redactor::default();
        for p in secrets {
            r.add_value(value.pointer(p), MASK);
        }
        r.sort();
        r
    }

    /// For a check's probe results: its secrets that a probe sends (see
    /// [`PROBE_INPUTS`]), masked, except that values from the environment print as
    /// the variable they came from when `variables` are known (on the machine that
    /// read the files).
    pub fn for_probe(check: &Value, secrets: &BTreeSet<String>, variables: &Variables) -> Self {
        let sent = |p: &str| {
            let first = p.trim_start_matches('/').split('/').next().unwrap_or("");
            PROBE_INPUTS.contains(&first)
        };
        // Secret fields found afresh as well: a check stored before a rule was added
        // is covered by it too.
        let secrets: BTreeSet<String> = secret_pointers(Kind::Check, check, secrets)
            .into_iter()
            .filter(|p| sent(p))
            .collect();
        if secrets.is_empty() && variables.is_empty() {
            // Nothing to hide (a URL with a password is itself a secret, at `/target`).
            return Redactor::default();
        }
        let mut r = Redactor::masking(check, &by_nature(Kind::Check, check, &secrets));
        for (p, vars) in variables {
            if sent(p) {
                r.add_variables(vars);
            }
        }
        if variables.is_empty() {
            // Without the variables (the daemon), what came from them is masked whole.
            for p in &secrets {
                r.add_value(check.pointer(p), MASK);
            }
        }
        r.add_sent_forms(check, &secrets, variables);
        r.sort();
        r
    }

    /// For validation messages about one document: every value that came from the
    /// environment prints as its variable, and secret fields as [`MASK`]. What the
    /// file itself says (a default, the text around `${VAR}`) stays, to point at.
    pub fn for_document(
        kind: Kind,
        value: &Value,
        sensitive: &BTreeSet<String>,
        variables: &Variables,
    ) -> Self {
        let secrets = secret_pointers(kind, value, sensitive);
        if secrets.is_empty() && variables.is_empty() {
            return Redactor::default();
        }
        let mut r = Redactor::masking(value, &by_nature(kind, value, &secrets));
        for vars in variables.values() {
            r.add_variables(vars);
        }
        r.sort();
        r
    }

    /// For a channel's delivery errors: its secrets (see [`secret_pointers`]) masked,
    /// with the forms a receiver may echo them in: a secret URL's path, path segments
    /// and query values, each value percent-encoded and in base64 (`Basic`, SMTP
    /// `AUTH LOGIN`), and the SMTP user name with `AUTH PLAIN`'s `\0user\0password`.
    pub fn for_channel(channel: &Value, secrets: &BTreeSet<String>) -> Self {
        let mut r = Redactor::default();
        let mut values = Vec::new();
        for p in secret_pointers(Kind::Channel, channel, secrets) {
            strings(channel.pointer(&p), &mut values);
        }
        let text = |p: &str| channel.pointer(p).and_then(Value::as_str).unwrap_or("");
        let (user, password) = (text("/email/username"), text("/email/password"));
        if !user.is_empty() {
            values.push(user.to_string());
            let plain = format!("\0{user}\0{password}");
            r.add_encoded(plain.as_bytes(), MASK);
        }
        for v in &values {
            r.add(v, MASK);
            r.add_parts(v, MASK);
            r.add_echoed_forms(v, MASK);
            if let Some(credential) = scheme_credential(v) {
                r.add_echoed_forms(credential, MASK);
            }
        }
        r.sort();
        r
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced, in one pass (a replacement is never
    /// searched again).
    pub fn scrub(&self, text: &str) -> String {
        // Most text holds no secret, or one: a substring search per needle leaves
        // the scan below only those that occur, if any.
        let present: Vec<&Needle> = self
            .needles
            .iter()
            .filter(|n| text.contains(n.secret.as_str()))
            .collect();
        if present.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut before = None;
        'outer: while let Some(c) = rest.chars().next() {
            for n in &present {
                if let Some(after) = rest.strip_prefix(n.secret.as_str()) {
                    let quoted = matches!(before, Some('`' | '"'))
                        && after.starts_with(before.unwrap_or_default());
                    if n.quoted_only && !quoted {
                        continue;
                    }
                    out.push_str(&n.shown);
                    rest = after;
                    before = n.shown.chars().last();
                    continue 'outer;
                }
            }
            out.push(c);
            before = Some(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// `text` cut short at its end (by a length cap, marked or not with `…`) with
    /// every secret replaced, and also the start of one that the cut left at the
    /// end: a tail that begins a secret, of any length, prints as the secret would.
    pub fn scrub_clipped(&self, text: &str) -> String {
        let kept = text.trim_end_matches(['…', char::REPLACEMENT_CHARACTER]);
        let mark = &text[kept.len()..];
        let mut out = self.scrub(kept);
        // The longest such tail; clipped texts are short (a few hundred bytes), so
        // trying each start against each secret stays cheap.
        let mut hidden: Option<(usize, &str)> = None;
        for n in self.needles.iter().filter(|n| !n.quoted_only) {
            let tail = out
                .char_indices()
                .map(|(i, _)| i)
                .filter(|&i| out.len() - i < n.secret.len())
                .find(|&i| n.secret.starts_with(&out[i..]));
            if let Some(i) = tail
                && hidden.is_none_or(|(at, _)| i < at)
            {
                hidden = Some((i, &n.shown));
            }
        }
        if let Some((i, shown)) = hidden {
            out.truncate(i);
            out.push_str(shown);
        }
        out.push_str(mark);
        out
    }

    /// The forms in which a probe sends its secrets other than as written, each
    /// printed as the secret is: percent-encoded in a path, a query or a form, escaped
    /// in JSON (bodies, GraphQL variables), the bytes of `tcp.send_base64` decoded,
    /// and the `Basic` credential that a client builds from a URL's user and password.
    fn add_sent_forms(&mut self, check: &Value, secrets: &BTreeSet<String>, variables: &Variables) {
        let secret_at = |p: &str| secrets.contains(p) || variables.contains_key(p);
        let shown_at = |p: &str| match variables.get(p).map(Vec::as_slice) {
            Some([(name, _)]) => format!("${{{name}}}"),
            _ => MASK.to_string(),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        const SEND_BASE64: &str = "/tcp/send_base64";
        if secret_at(SEND_BASE64)
            && let Some(Value::String(encoded)) = check.pointer(SEND_BASE64)
            && let Ok(bytes) = base64::Engine::decode(&b64, encoded.trim())
        {
            let text = String::from_utf8_lossy(&bytes);
            let shown = shown_at(SEND_BASE64);
            self.add(&text, &shown);
            // A line of it may come back alone, as line-based peers answer.
            for line in text.lines() {
                self.add_part(line.trim(), &shown);
            }
        }
        if let Some(Value::String(target)) = check.pointer("/target")
            && let Ok(u) = url::Url::parse(target)
            && (u.password().is_some() || (!u.username().is_empty() && secret_at("/target")))
        {
            // As the client sends it: user and password decoded, joined by `:`.
            let pass = u.password().map(percent_decoded).unwrap_or_default();
            let credential = format!("{}:{pass}", percent_decoded(u.username()));
            self.add(&base64::Engine::encode(&b64, credential), MASK);
        }
        let written: Vec<(String, String)> = self
            .needles
            .iter()
            .filter(|n| !n.quoted_only)
            .map(|n| (n.secret.clone(), n.shown.clone()))
            .collect();
        for (secret, shown) in written {
            for form in encoded_forms(&secret) {
                self.add_part(&form, &shown);
            }
        }
    }

    /// `text` scrubbed, then cut to `cap` characters (with `…`) when longer. The
    /// secrets are replaced before the cut, so none is cut in two; a text that ends
    /// where a bounded read stopped (`cut_short`), or that is cut here, loses a tail
    /// that begins a secret, lest the beginning of one leak.
    pub fn scrub_within(&self, text: &str, cap: usize, cut_short: bool) -> String {
        let scrubbed = self.scrub(text);
        if !cut_short && scrubbed.chars().count() <= cap {
            return scrubbed;
        }
        let kept: String = scrubbed.chars().take(cap.saturating_sub(1)).collect();
        format!("{}…", self.without_secret_prefix_tail(&kept))
    }

    /// `text` without its longest tail that is the beginning of a secret.
    fn without_secret_prefix_tail<'t>(&self, text: &'t str) -> &'t str {
        let longest = self
            .needles
            .iter()
            .filter_map(|n| {
                text.char_indices()
                    .map(|(i, _)| i)
                    .find(|&i| n.secret.starts_with(&text[i..]))
            })
            .min();
        longest.map_or(text, |i| &text[..i])
    }

    /// The forms a receiver may quote `s` in besides as written: percent-encoded (in
    /// a URL it echoes), and in base64.
    fn add_echoed_forms(&mut self, s: &str, shown: &str) {
        self.add_encoded(s.as_bytes(), shown);
        if s.chars().count() < MIN_PART_CHARS {
            return;
        }
        self.add_part(&percent_encoded(s), shown);
        self.add_part(
            &url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>(),
            shown,
        );
        // As a URL's path and query encode it (a bot token in `/bot{token}/…`).
        if let Ok(mut u) = url::Url::parse("http://h/") {
            u.set_path(s);
            self.add_part(u.path().trim_start_matches('/'), shown);
            u.set_query(Some(s));
            self.add_part(u.query().unwrap_or_default(), shown);
        }
        if let Ok(u) = url::Url::parse(s)
            && u.has_host()
        {
            let path = u.path();
            if path.chars().count() >= MIN_PART_CHARS {
                self.add(path, shown);
                self.add(&percent_decoded(path), shown);
                if let Some(q) = u.query() {
                    self.add(&format!("{path}?{q}"), shown);
                }
            }
            for segment in path.split('/') {
                let token = segment.bytes().any(|b| b.is_ascii_digit())
                    || segment.chars().count() >= MIN_TOKEN_SEGMENT_CHARS;
                if token {
                    self.add_part(segment, shown);
                    self.add_part(&percent_decoded(segment), shown);
                }
            }
            for pair in u.query().unwrap_or("").split('&') {
                if let Some((_, v)) = pair.split_once('=') {
                    self.add_part(v, shown);
                }
            }
        }
    }

    /// `bytes` in base64, padded and not (a receiver may drop the padding).
    fn add_encoded(&mut self, bytes: &[u8], shown: &str) {
        use base64::Engine as _;
        let padded = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.add_part(padded.trim_end_matches('='), shown);
        self.add_part(&padded, shown);
    }

    fn add(&mut self, secret: &str, shown: &str) {
        if !secret.is_empty() && !self.needles.iter().any(|n| n.secret == secret) {
            self.needles.push(Needle {
                secret: secret.to_string(),
                shown: shown.to_string(),
                quoted_only: secret.chars().count() < MIN_PART_CHARS,
            });
        }
    }

    fn add_part(&mut self, part: &str, shown: &str) {
        if part.chars().count() >= MIN_PART_CHARS {
            self.add(part, shown);
        }
    }

    fn add_variables(&mut self, vars: &[(String, String)]) {
        for (name, value) in vars {
            self.add(value, &format!("${{{name}}}"));
        }
    }

    /// Every string under `value` (numbers and booleans hold no credentials here,
    /// and hiding `2` would garble every message), with the parts of each that a
    /// message may quote alone.
    fn add_value(&mut self, value: Option<&Value>, shown: &str) {
        match value {
            Some(Value::String(s)) => {
                self.add(s, shown);
                self.add_parts(s, shown);
            }
            Some(Value::Array(items)) => {
                for v in items {
                    self.add_value(Some(v), shown);
                }
            }
            Some(Value::Object(map)) => {
                for v in map.values() {
                    self.add_value(Some(v), shown);
                }
            }
            _ => {}
        }
    }

    fn add_parts(&mut self, s: &str, shown: &str) {
        if let Ok(u) = url::Url::parse(s)
            && u.has_host()
        {
            // Clients print the URL as parsed, which may differ from how it was written.
            self.add(u.as_str(), shown);
            // A password of any length: a URL quoted without it is no help to anyone.
            if let Some(p) = u.password() {
                self.add(p, shown);
                self.add(&percent_decoded(p), shown);
            }
            self.add_part(u.username(), shown);
            for (_, v) in u.query_pairs() {
                self.add_part(&v, shown);
            }
            if let Some(q) = u.query() {
                self.add_part(q, shown);
            }
        }
        if let Some(credential) = scheme_credential(s) {
            self.add_part(credential, shown);
        }
    }

    fn sort(&mut self) {
        self.needles
            .sort_by(|a, b| (b.secret.len(), &a.secret).cmp(&(a.secret.len(), &b.secret)));
    }
}

/// `s` as clients put it in a URL's path and query (what `url` writes), in a form
/// body (`+` for a space), and in a JSON string (without its quotes).
fn encoded_forms(s: &str) -> Vec<String> {
    let mut forms = vec![url::form_urlencoded::byte_serialize(s.as_bytes()).collect()];
    if let Ok(mut u) = url::Url::parse("http://h/") {
        u.set_path(&format!("/{s}"));
        forms.extend(u.path().strip_prefix('/').map(str::to_string));
        u.set_query(Some(s));
        forms.extend(u.query().map(str::to_string));
    }
    if let Ok(json) = serde_json::to_string(s)
        && let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"'))
    {
        forms.push(inner.to_string());
    }
    forms
}

/// The credential of `Bearer <token>`, `Basic <base64>`: it may be quoted alone.
fn scheme_credential(s: &str) -> Option<&str> {
    let (scheme, credential) = s.split_once(' ')?;
    (!scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| credential.trim())
}

/// Every string under `value`, for [`Redactor::for_channel`].
fn strings(value: Option<&Value>, out: &mut Vec<String>) {
    match value {
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Array(items)) => items.iter().for_each(|v| strings(Some(v), out)),
        Some(Value::Object(map)) => map.values().for_each(|v| strings(Some(v), out)),
        _ => {}
    }
}

/// Every byte but the unreserved ones (RFC 3986) as `%XX`, as clients encode a
/// value they put in a URL.
fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// `%XX` escapes decoded, as a URL's password is written by people (`p@ss`) and
/// stored by the parser (`p%40ss`).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pointers of `secrets` that are secret whatever the origin of their values.
fn by_nature(kind: Kind, value: &Value, secrets: &BTreeSet<String>) -> BTreeSet<String> {
    let natural = secret_pointers(kind, value, &BTreeSet::new());
    secrets
        .iter()
        .filter(|p| is_secret(p, &natural))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_redactor_hides_secrets_as_clients_quote_them() {
        let check = json!({"target": "https://deploy:p%40ss-w0rd@Example.com:443/h?token=tok-12345&page=1",
            "http": {"headers": {"authorization": "Bearer abcd-efgh"}}, "labels": {"env": "prod"}});
        let vars: BTreeSet<String> = ["/labels/env".to_string()].into();
        let secrets = secret_pointers(Kind::Check, &check, &vars);
        let r = Redactor::for_probe(&check, &secrets, &Variables::new());
        // reqwest prints the URL as parsed: host lower-cased, default port dropped.
        let quoted = "error sending request for url (https://deploy:p%40ss-w0rd@example.com/h?token=tok-12345&page=1)";
        assert_eq!(
            r.scrub(quoted),
            "error sending request for url ((sensitive value))"
        );
        assert_eq!(
            r.scrub(
                "user deploy, password p@ss-w0rd, token tok-12345, sent abcd-efgh, page=1, env prod"
            ),
            "user (sensitive value), password (sensitive value), token (sensitive value), sent (sensitive value), page=1, env prod"
        );
    }

    #[test]
    fn variables_print_as_their_names_and_replacements_are_not_searched_again() {
        let doc = json!({"target": "https://h/${X}", "http": {"method": "value"}});
        let sensitive: BTreeSet<String> =
            ["/target".to_string(), "/http/method".to_string()].into();
        let vars: Variables = [
            (
                "/target".to_string(),
                vec![("TARGET_PATH".to_string(), "s3cr3t".to_string())],
            ),
            (
                "/http/method".to_string(),
                vec![("M".to_string(), "sensitive".to_string())],
            ),
        ]
        .into();
        let r = Redactor::for_document(Kind::Check, &doc, &sensitive, &vars);
        assert_eq!(
            r.scrub("`https://h/s3cr3t` and `sensitive`"),
            "`https://h/${TARGET_PATH}` and `${M}`"
        );
        let masked = Redactor::masking(&json!({"a": "value"}), &["/a".to_string()].into());
        assert_eq!(masked.scrub("a value"), "a (sensitive value)");
        // A secret too short to hunt for in words is still hidden where quoted.
        let short = Redactor::masking(&json!({"a": "t"}), &["/a".to_string()].into());
        assert_eq!(
            short.scrub("section `telegram`: `t` is not \"t\""),
            "section `telegram`: `(sensitive value)` is not \"(sensitive value)\""
        );
        assert!(Redactor::default().is_empty());
    }

    #[test]
    fn what_a_probe_sends_encoded_or_cut_short_is_hidden_too() {
        let check = json!({"target": "http://alice:pw%20one@h/p?q=sp ace+plus/sl",
            "http": {"body": {"k": "quo\"te\\"}}, "tcp": {"send_base64": "ZGVjb2RlZC1zZWNyZXQK"}});
        let vars: Variables = [
            (
                "/http/body/k".to_string(),
                vec![("J".to_string(), "quo\"te\\".to_string())],
            ),
            (
                "/target".to_string(),
                vec![("Q".to_string(), "sp ace+plus/sl".to_string())],
            ),
            (
                "/tcp/send_base64".to_string(),
                vec![("B".to_string(), "ZGVjb2RlZC1zZWNyZXQK".to_string())],
            ),
        ]
        .into();
        let secrets = secret_pointers(Kind::Check, &check, &vars.keys().cloned().collect());
        let r = Redactor::for_probe(&check, &secrets, &vars);
        assert_eq!(r.scrub(r#"{"k":"quo\"te\\"}"#), r#"{"k":"${J}"}"#);
        assert_eq!(
            r.scrub("got sp%20ace+plus/sl f=sp+ace%2Bplus%2Fsl"),
            "got ${Q} f=${Q}"
        );
        assert_eq!(r.scrub("ECHO:decoded-secret"), "ECHO:${B}");
        // base64 of `alice:pw one`, as the client decodes the password to send it.
        assert_eq!(r.scrub("Basic YWxpY2U6cHcgb25l"), "Basic (sensitive value)");
        // Cut short: a tail that starts a secret goes, however short; other text stays.
        assert_eq!(r.scrub_clipped("PPPPdecoded-se…"), "PPPP${B}…");
        assert_eq!(r.scrub_clipped("aaaaquo"), "aaaa${J}");
        assert_eq!(r.scrub_clipped("PPPP…"), "PPPP…");
        assert_eq!(r.scrub_clipped("x decoded-secret"), "x ${B}");
        // The daemon knows which fields held variables, not their names: masked.
        let daemon = Redactor::for_probe(&check, &secrets, &Variables::new());
        assert_eq!(
            daemon.scrub(r#"ECHO:decoded-secret {"k":"quo\"te\\"} GET /p?q=sp%20ace+plus/sl"#),
            "ECHO:(sensitive value) {\"k\":\"(sensitive value)\"} GET /p?(sensitive value)"
        );
        assert_eq!(daemon.scrub_clipped("PPPPdecod"), "PPPP(sensitive value)");
    }

    #[test]
    fn a_channel_redactor_hides_the_forms_a_receiver_echoes() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let channel = json!({
            "webhook": {"url": "http://127.0.0.1:9/hook?sig=WH%2BSECRET14", "headers": {"authorization": "Bearer HTTPTOK/SECRET2"}},
            "slack": {"webhook_url": "https://hooks.example/services/T01/B02/SLACKSECRET16"},
            "telegram": {"bot_token": "123456:TGTOK SECRET13"},
            "email": {"username": "bob", "password": "SMTPPWSECRET12"},
        });
        let r = Redactor::for_channel(&channel, &BTreeSet::new());
        let leaks = [
            "WH+SECRET14".to_string(),
            "WH%2BSECRET14".into(),
            "HTTPTOK/SECRET2".into(),
            "HTTPTOK%2FSECRET2".into(),
            b64("Bearer HTTPTOK/SECRET2"),
            "/services/T01/B02/SLACKSECRET16".into(),
            "SLACKSECRET16".into(),
            "123456:TGTOK SECRET13".into(),
            "123456%3ATGTOK%20SECRET13".into(),
            "123456%3ATGTOK+SECRET13".into(),
            "123456:TGTOK%20SECRET13".into(),
            "SMTPPWSECRET12".into(),
            b64("\0bob\0SMTPPWSECRET12"),
            b64("SMTPPWSECRET12"),
            b64("SMTPPWSECRET12").trim_end_matches('=').into(),
        ];
        for leak in &leaks {
            let text = format!("echo: {leak} end");
            let out = r.scrub(&text);
            assert_eq!(out, format!("echo: {MASK} end"), "{leak}");
        }
        // The user name is quoted only where quoted (it is short), and ordinary
        // words of the URL path stay.
        assert_eq!(
            r.scrub("user `bob`, services, hook"),
            format!("user `{MASK}`, services, hook")
        );
    }

    #[test]
    fn a_cut_never_leaves_the_beginning_of_a_secret() {
        let channel = json!({"webhook": {"url": "http://h/x?sig=ABCDEFGHIJKL"}});
        let r = Redactor::for_channel(&channel, &BTreeSet::new());
        // Straddling the cap: replaced whole before cutting.
        let text = format!("{}ABCDEFGHIJKL tail", "x".repeat(15));
        assert_eq!(
            r.scrub_within(&text, 20, false),
            format!("{}{}…", "x".repeat(15), &MASK[..4])
        );
        // Cut by a bounded read in the middle of the secret: the tail goes.
        assert_eq!(r.scrub_within("reason: ABCDEF", 100, true), "reason: …");
        assert_eq!(r.scrub_within("short", 100, false), "short");
        assert_eq!(
            r.scrub_within("reason: ABCD done", 100, false),
            "reason: ABCD done"
        );
    }
}
