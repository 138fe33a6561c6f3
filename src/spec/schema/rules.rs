//! What `validate` checks beyond serde's types, said in JSON Schema: names,
//! limits, the settings each check and channel type may carry, and the shape of
//! maintenance windows. Built from the constants and tables `validate` uses.

use serde_json::{Map, Value, json};

use super::super::duration::whitespace_class;
use super::super::grpc_validate::HEALTH_REFUSED;
use super::super::limits::{
    MAX_DEPENDS_ON, MAX_EXPECT_HEADERS, MAX_HEADER_VALUE_LEN, MAX_HEADERS, MAX_JSON_PATHS,
    MAX_LABEL_KEY_LEN, MAX_LABEL_VALUE_LEN, MAX_LABELS, MAX_TARGET_LEN,
};
use super::super::validate::{MAX_NAME_LEN, MIN_CALLBACK_SECRET, MIN_REMIND_EVERY};
use super::super::{
    CODE_NAMES, CheckType, EXPECT_BY_TYPE, GRAPHQL_REFUSED_HTTP, Kind, MAX_GRPC_MESSAGES,
    MAX_HTTP_BODY, MAX_REDIRECTS, MAX_RETRIES, MAX_SLO_WINDOW, MAX_TCP_BYTES, MIN_SLO_WINDOW, expr,
};
use super::{INTERPOLATED, any_case, up_to};

/// Every check type, for the rules of each.
const CHECK_TYPES: [CheckType; 4] = [
    CheckType::Http,
    CheckType::Graphql,
    CheckType::Tcp,
    CheckType::Grpc,
];

/// The longest header name the `http` crate takes.
const MAX_HEADER_NAME_LEN: usize = (1 << 16) - 1;

/// A header or method name: RFC 9110's token characters.
const TOKEN: &str = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";

/// What a PEM bundle of certificates must contain.
const PEM_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// The value at `pointer`, which the derived schema must have.
fn at<'a>(schema: &'a mut Value, pointer: &str) -> &'a mut Value {
    schema.pointer_mut(pointer).unwrap_or_else(|| {
        panic!("the derived schema has no `{pointer}`: update src/spec/schema/rules.rs")
    })
}

/// Adds `keywords` to the schema at `pointer`.
fn extend(schema: &mut Value, pointer: &str, keywords: Value) {
    let target = at(schema, pointer);
    if let (Value::Object(obj), Value::Object(add)) = (target, keywords) {
        obj.extend(add);
    }
}

/// Adds a subschema that must also hold at `pointer`.
fn all_of(schema: &mut Value, pointer: &str, sub: Value) {
    let target = at(schema, pointer);
    if let Value::Object(obj) = target {
        let list = obj.entry("allOf").or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.push(sub);
        }
    }
}

/// A whole-text pattern, or any text built from `${...}`.
fn text(core: &str) -> Value {
    json!(format!("^(?:{core})$|{INTERPOLATED}"))
}

/// The rule `validate::name` applies to every resource's name.
fn name_pattern() -> String {
    format!(
        "[a-z0-9](?:[a-z0-9-]{{0,{}}}[a-z0-9])?",
        MAX_NAME_LEN.saturating_sub(2)
    )
}

fn name() -> Value {
    json!({"type": "string", "pattern": text(&name_pattern())})
}

/// Given, and not null: what `validate` counts as present for an `Option`.
fn given(field: &str) -> Value {
    json!({"type": "object", "required": [field], "properties": {field: {"not": {"type": "null"}}}})
}

/// Any text with a non-space character (`validate` trims before testing emptiness).
fn not_blank() -> Value {
    let ws = whitespace_class();
    json!(format!("[^{}", &ws[1..]))
}

/// An `http://` or `https://` URL as `url::Url::parse` reads the scheme:
/// leading spaces and control characters dropped, any case.
fn http_url(secure_only: bool) -> Value {
    let scheme = if secure_only {
        any_case("https")
    } else {
        format!("{}(?:[Ss])?", any_case("http"))
    };
    json!(format!("^[\\u0000-\\u0020]*{scheme}:|{INTERPOLATED}"))
}

/// `host:port` as `split_host_port` reads it: a host without `:` (or one in
/// brackets), no `/`, space or `@`, and a port 1–65535 (a `+` and zeros allowed).
fn host_port() -> Value {
    let port = format!("\\+?0*(?:{})", up_to(u16::MAX));
    text(&format!("(?:\\[[^/ @]+\\]|[^\\[:/ @][^:/ @]*):{port}"))
}

/// An `Option` field's schema when it must not be given: `null` for what is read
/// into an `Option`, empty for a map or list (what `validate` counts as absent),
/// nothing at all otherwise.
fn absent(field_schema: &Value) -> Value {
    // A schema of any value (`Option<serde_json::Value>`) takes null too.
    let any_value = field_schema == &json!(true)
        || field_schema.as_object().is_some_and(|o| {
            o.keys()
                .all(|k| matches!(k.as_str(), "description" | "default" | "title"))
        });
    let nullable = any_value
        || field_schema["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("null")))
        || field_schema["anyOf"]
            .as_array()
            .is_some_and(|a| a.contains(&json!({"type": "null"})));
    if nullable {
        return json!({"type": "null"});
    }
    match field_schema["type"].as_str() {
        Some("object") => json!({"type": "object", "maxProperties": 0}),
        Some("array") => json!({"type": "array", "maxItems": 0}),
        _ => json!(false),
    }
}

/// The rules of one kind of resource, added to its (inline) schema.
pub(super) fn resource(kind: Kind, schema: &mut Value) {
    extend(schema, "/properties/name", name());
    if kind != Kind::Template {
        // `validate` bounds labels on every kind but templates.
        labels(schema);
    }
    match kind {
        Kind::Check => check(schema),
        Kind::Channel => channel(schema),
        Kind::Template => template(schema),
        Kind::Maintenance => maintenance(schema),
        Kind::StatusPage => status_page(schema),
    }
}

fn labels(schema: &mut Value) {
    extend(
        schema,
        "/properties/labels",
        json!({
            "maxProperties": MAX_LABELS,
            "propertyNames": {"maxLength": MAX_LABEL_KEY_LEN},
            "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE_LEN},
        }),
    );
}

/// An integer bound on a duration written as a number of seconds; a duration
/// written as text is bounded by `validate`.
fn seconds_between(schema: &mut Value, pointer: &str, min: u64, max: Option<u64>) {
    let mut then = json!({"type": "integer", "minimum": min});
    if let Some(max) = max {
        then["maximum"] = json!(max);
    }
    extend(
        schema,
        pointer,
        json!({"if": {"type": "integer"}, "then": then}),
    );
}

fn check(schema: &mut Value) {
    extend(
        schema,
        "/properties/target",
        json!({"maxLength": MAX_TARGET_LEN}),
    );
    extend(
        schema,
        "/properties/retries",
        json!({"maximum": MAX_RETRIES}),
    );
    seconds_between(schema, "/properties/timeout", 1, None);
    extend(
        schema,
        "/properties/depends_on",
        json!({"maxItems": MAX_DEPENDS_ON, "items": name()}),
    );
    for check_type in CHECK_TYPES {
        let then = check_type_rules(check_type);
        all_of(
            schema,
            "",
            json!({
                "if": {"properties": {"type": {"const": check_type.as_str()}}, "required": ["type"]},
                "then": then,
            }),
        );
    }
}

/// What a check of `check_type` may carry, as `validate::sections`,
/// `expect_fits_type` and the target rules say.
fn check_type_rules(check_type: CheckType) -> Value {
    use CheckType::{Graphql, Grpc, Http, Tcp};
    let mut props = Map::new();
    let mut required = vec![];
    for section in ["http", "graphql", "tcp", "grpc"] {
        let own = section == check_type.as_str() || (section == "http" && check_type == Graphql);
        if !own {
            // `http` counts when written at all; the others when not null.
            let schema = if section == "http" {
                json!(false)
            } else {
                json!({"type": "null"})
            };
            props.insert(section.into(), schema);
        }
    }
    match check_type {
        Graphql => {
            let refused: Map<String, Value> = GRAPHQL_REFUSED_HTTP
                .iter()
                .map(|f| (f.to_string(), json!(false)))
                .collect();
            props.insert(
                "http".into(),
                json!({"type": "object", "properties": refused}),
            );
            props.insert("graphql".into(), json!({"type": "object"}));
            required.push("graphql");
        }
        Grpc => {
            props.insert("grpc".into(), json!({"type": "object"}));
            required.push("grpc");
        }
        Http | Tcp => {}
    }
    let mut expect = Map::new();
    for (field, types) in EXPECT_BY_TYPE {
        if !types.contains(&check_type) {
            expect.insert(field.to_string(), json!({"$absent": field}));
        }
    }
    match check_type {
        Tcp => {
            expect.insert(
                "response".into(),
                json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            );
        }
        Grpc => {
            expect.insert(
                "response".into(),
                json!({"anyOf": [{"type": "object"}, {"type": "null"}]}),
            );
        }
        Http | Graphql => {}
    }
    props.insert(
        "expect".into(),
        json!({"type": "object", "properties": expect}),
    );
    let target = match check_type {
        Http | Graphql => json!({"type": "string", "pattern": http_url(false)}),
        Tcp | Grpc => json!({"type": "string", "pattern": host_port()}),
    };
    props.insert("target".into(), target);
    // `expect.cert_valid_for` needs TLS: an https target, or `tls` in the section.
    let cert = json!({
        "required": ["expect"],
        "properties": {"expect": given("cert_valid_for")},
    });
    let tls_on = |section: &str| {
        json!({
            "required": [section],
            "properties": {section: {
                "type": "object",
                "required": ["tls"],
                "properties": {"tls": {"anyOf": [{"const": true}, {"type": "object"}]}},
            }},
        })
    };
    let needs = match check_type {
        Http | Graphql => json!({
            "properties": {"target": {"type": "string", "pattern": http_url(true)}},
        }),
        Tcp => tls_on("tcp"),
        Grpc => tls_on("grpc"),
    };
    let mut rules = json!({
        "properties": props,
        "allOf": [{"if": cert, "then": needs}],
    });
    if !required.is_empty() {
        rules["required"] = json!(required);
    }
    rules
}

/// Replaces the `{"$absent": field}` placeholders of the check type rules with
/// the empty form of that `Expect` field, once the definitions are known.
fn resolve_absent(value: &mut Value, expect: &Value) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::String(field)) = obj.get("$absent") {
                let field_schema = &expect["properties"][field.as_str()];
                *value = absent(field_schema);
                return;
            }
            obj.values_mut().for_each(|v| resolve_absent(v, expect));
        }
        Value::Array(list) => list.iter_mut().for_each(|v| resolve_absent(v, expect)),
        _ => {}
    }
}

/// The rules of shared definitions (sections, expectations, TLS), and the
/// check type placeholders that need them.
pub(super) fn definitions(defs: &mut Map<String, Value>) {
    let mut all = Value::Object(std::mem::take(defs));
    http(&mut all);
    webhook_variant(&mut all);
    expect_rules(&mut all);
    tcp_and_tls(&mut all);
    grpc(&mut all);
    alert_and_slo(&mut all);
    channels(&mut all);
    status_page_parts(&mut all);
    extend(
        &mut all,
        "/GraphqlSpec/properties/query",
        json!({"pattern": not_blank()}),
    );
    for field in ["type", "field"] {
        extend(
            &mut all,
            &format!("/Introspect/properties/{field}"),
            json!({"pattern": not_blank()}),
        );
    }
    if let Value::Object(map) = all {
        *defs = map;
    }
}

/// Resolves the placeholders of a kind's schema against the definitions.
pub(super) fn finish(schema: &mut Value, defs: &Map<String, Value>) {
    if let Some(expect) = defs.get("Expect") {
        resolve_absent(schema, expect);
    }
}

fn headers(all: &mut Value, pointer: &str, max: usize) {
    let value = json!({
        "type": "string",
        "maxLength": MAX_HEADER_VALUE_LEN,
        // `HeaderValue::from_str`: no control characters but tab.
        "pattern": text("[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*"),
    });
    extend(
        all,
        pointer,
        json!({
            "maxProperties": max,
            "propertyNames": {"pattern": format!("^{TOKEN}$"), "maxLength": MAX_HEADER_NAME_LEN},
            "additionalProperties": value,
        }),
    );
}

fn http(all: &mut Value) {
    extend(
        all,
        "/HttpSpec/properties/method",
        json!({"pattern": text(TOKEN)}),
    );
    headers(all, "/HttpSpec/properties/headers", MAX_HEADERS);
    extend(
        all,
        "/HttpSpec/properties/max_redirects",
        json!({"maximum": MAX_REDIRECTS}),
    );
    extend(
        all,
        "/HttpSpec/properties/max_body",
        json!({"minimum": 1, "maximum": MAX_HTTP_BODY}),
    );
    extend(
        all,
        "/TlsSpec",
        json!({"not": {"allOf": [given("ca_file"), given("ca")]}}),
    );
    extend(
        all,
        "/TlsSpec/properties/ca",
        json!({"pattern": format!("{PEM_CERTIFICATE}|{INTERPOLATED}")}),
    );
}

fn expect_rules(all: &mut Value) {
    // A code 100–599, or a class `1xx`–`5xx`; a quoted code is a code.
    extend(
        all,
        "/StatusPattern",
        json!({"anyOf": [
            {"type": "integer", "minimum": 100, "maximum": 599},
            {"type": "string", "pattern": format!("^\\+?0*[1-5][0-9]{{2}}$|^[1-5][xX]{{2}}$|{INTERPOLATED}")},
        ]}),
    );
    if let Some(obj) = at(all, "/StatusPattern").as_object_mut() {
        obj.retain(|k, _| k == "anyOf" || k == "description");
    }
    extend(
        all,
        "/Expect/properties/json_path",
        json!({
            "maxProperties": MAX_JSON_PATHS,
            "propertyNames": {"maxLength": expr::MAX_JSON_PATH_BYTES},
        }),
    );
    extend(
        all,
        "/Expect/properties/headers",
        json!({"maxProperties": MAX_EXPECT_HEADERS}),
    );
    extend(
        all,
        "/Expect/properties/conditions",
        json!({
            "maxItems": expr::MAX_CONDITIONS,
            "items": {"type": "string", "maxLength": expr::MAX_CONDITION_BYTES},
        }),
    );
    let codes = CODE_NAMES.map(any_case).join("|");
    extend(
        all,
        "/Expect/properties/code",
        json!({"pattern": text(&codes)}),
    );
}

fn tcp_and_tls(all: &mut Value) {
    extend(
        all,
        "/TcpSpec/properties/max_bytes",
        json!({"minimum": 1, "maximum": MAX_TCP_BYTES}),
    );
    // Canonical, padded base64, as the standard engine decodes it.
    let base64 =
        "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?";
    extend(
        all,
        "/TcpSpec/properties/send_base64",
        json!({"pattern": text(base64)}),
    );
    let tls_on = json!({"required": ["tls"], "properties": {"tls": {"anyOf": [{"const": true}, {"type": "object"}]}}});
    extend(
        all,
        "/TcpSpec",
        json!({
            "not": {"allOf": [given("send"), given("send_base64")]},
            "dependentSchemas": {"server_name": tls_on},
        }),
    );
    // `tls: ~` reads as no TLS, as `false` does.
    if let Value::Array(branches) = at(all, "/Tls/anyOf") {
        branches.push(json!({"type": "null"}));
    }
    let cert = json!({"anyOf": [given("client_cert"), given("client_cert_file")]});
    let key = json!({"anyOf": [given("client_key"), given("client_key_file")]});
    extend(
        all,
        "/ClientTls",
        json!({
            "not": {"anyOf": [
                {"allOf": [given("ca_file"), given("ca")]},
                {"allOf": [given("client_cert_file"), given("client_cert")]},
                {"allOf": [given("client_key_file"), given("client_key")]},
                {"allOf": [
                    {"required": ["insecure"], "properties": {"insecure": {"const": true}}},
                    {"anyOf": [given("ca_file"), given("ca")]},
                ]},
            ]},
            "allOf": [
                {"if": cert.clone(), "then": key.clone()},
                {"if": key, "then": cert},
            ],
        }),
    );
    for field in ["ca", "client_cert"] {
        extend(
            all,
            &format!("/ClientTls/properties/{field}"),
            json!({"pattern": format!("{PEM_CERTIFICATE}|{INTERPOLATED}")}),
        );
    }
}

fn grpc(all: &mut Value) {
    headers(all, "/GrpcSpec/properties/metadata", MAX_HEADERS);
    extend(
        all,
        "/GrpcSpec/properties/max_messages",
        json!({"maximum": MAX_GRPC_MESSAGES}),
    );
    let refused: Map<String, Value> = HEALTH_REFUSED
        .iter()
        .map(|f| (f.to_string(), json!(false)))
        .collect();
    let reflection =
        json!({"required": ["reflection"], "properties": {"reflection": {"const": true}}});
    let descriptor = json!({"anyOf": [given("descriptor_set"), given("descriptor_set_base64")]});
    extend(
        all,
        "/GrpcSpec",
        json!({
            "if": {"required": ["health"], "properties": {"health": {"const": true}}},
            "then": {"properties": refused},
            "else": {
                "allOf": [given("service"), given("method")],
                // Exactly one description of the service.
                "oneOf": [reflection, given("proto"), given("descriptor_set"), given("descriptor_set_base64")],
                "dependentSchemas": {
                    "import_paths": {
                        "if": descriptor,
                        "then": {"properties": {"import_paths": {"type": "array", "maxItems": 0}}},
                    },
                },
            },
        }),
    );
}

fn alert_and_slo(all: &mut Value) {
    extend(all, "/Alert/properties/channels", json!({"items": name()}));
    extend(
        all,
        "/Alert/properties/template",
        json!({"pattern": text(&name_pattern())}),
    );
    seconds_between(
        all,
        "/Alert/properties/remind_every",
        MIN_REMIND_EVERY.as_secs(),
        None,
    );
    seconds_between(
        all,
        "/Slo/properties/window",
        MIN_SLO_WINDOW.get().as_secs(),
        Some(MAX_SLO_WINDOW.get().as_secs()),
    );
}

fn channels(all: &mut Value) {
    extend(
        all,
        "/TelegramSpec/properties/api_url",
        json!({"pattern": http_url(false)}),
    );
    extend(
        all,
        "/TelegramSpec/properties/webhook_secret",
        json!({"pattern": text(&format!("[A-Za-z0-9_-]{{{MIN_CALLBACK_SECRET},256}}"))}),
    );
    extend(
        all,
        "/SlackSpec/properties/webhook_url",
        json!({"pattern": http_url(false)}),
    );
    // At least so many bytes: as many characters of ASCII; other text is left to
    // `validate`, which counts its bytes.
    extend(
        all,
        "/SlackSpec/properties/signing_secret",
        json!({"pattern": format!("^[\\u0000-\\u007f]{{{MIN_CALLBACK_SECRET},}}$|[^\\u0000-\\u007f]|{INTERPOLATED}")}),
    );
    extend(
        all,
        "/WebhookSpec/properties/url",
        json!({"pattern": http_url(false)}),
    );
    // `looks_like_address`: `local@domain`, or that between the first `<` and the last `>`.
    let address = json!({
        "type": "string",
        "pattern": format!("^[^<]*<[^@]+@[^@]+>[^>]*$|^(?=[^<]*(?:<[^>]*)?$)[^@]+@[^@]+$|{INTERPOLATED}"),
    });
    extend(all, "/EmailSpec/properties/from", address.clone());
    extend(
        all,
        "/EmailSpec/properties/to",
        json!({"minItems": 1, "items": address}),
    );
    extend(
        all,
        "/EmailSpec/properties/ca",
        json!({"pattern": format!("{PEM_CERTIFICATE}|{INTERPOLATED}")}),
    );
}

/// A provider's section is required for its type, and no other provider's.
fn channel(schema: &mut Value) {
    extend(
        schema,
        "/properties/template",
        json!({"pattern": text(&name_pattern())}),
    );
    let providers = ["telegram", "slack", "email", "webhook"];
    for provider in providers {
        let props: Map<String, Value> = providers
            .iter()
            .filter(|p| **p != provider)
            .map(|p| (p.to_string(), json!({"type": "null"})))
            .collect();
        let mut then = json!({"properties": props});
        then["properties"][provider] = json!({"type": "object"});
        then["required"] = json!([provider]);
        all_of(
            schema,
            "",
            json!({
                "if": {"properties": {"type": {"const": provider}}, "required": ["type"]},
                "then": then,
            }),
        );
    }
}

fn template(schema: &mut Value) {
    let string = |f: &str| json!({"required": [f], "properties": {f: {"type": "string"}}});
    extend(
        schema,
        "",
        json!({"not": {"allOf": [string("body"), string("text")]}}),
    );
}

/// Templates' webhook variant: `content_type` needs `body`.
fn webhook_variant(all: &mut Value) {
    extend(
        all,
        "/WebhookVariant",
        json!({
            "if": {"required": ["content_type"], "properties": {"content_type": {"type": "string"}}},
            "then": {"required": ["body"], "properties": {"body": {"type": "string"}}},
        }),
    );
}

fn maintenance(schema: &mut Value) {
    extend(schema, "/properties/checks", json!({"items": name()}));
    let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    extend(schema, "/properties/timezone", json!({"enum": zones}));
    let max_window = super::super::maintenance::MAX_WINDOW_DAYS.unsigned_abs() * 86_400;
    seconds_between(schema, "/properties/duration", 1, Some(max_window));
    let ws = whitespace_class();
    // What `parse_time` takes: RFC 3339, or a local `date[T ]hour:minute[:second]`.
    // Loose where chrono is (numbers may follow spaces; a space in its formats
    // matches any run of them, none included) but every field bounded, so that
    // the pattern cannot backtrack far; days that do not exist are `validate`'s.
    let num = |digits: &str| format!("{ws}*(?:{digits})");
    let year = format!("{ws}*[+-]?[0-9]{{1,4}}");
    let month = num("0?[1-9]|1[0-2]");
    let day = num("0?[1-9]|[12][0-9]|3[01]");
    let hour = num("[01]?[0-9]|2[0-3]");
    let minute = num("[0-5]?[0-9]");
    // 60: a leap second, which RFC 3339 allows.
    let second = num("[0-5]?[0-9]|60");
    let zone = "(?:[Zz]|[+-][0-9]{2}:[0-9]{2})";
    // A fraction of a second only in RFC 3339, which has a zone.
    let time = format!(
        "^{year}-{month}-{day}(?:{ws}*[Tt])?{hour}:{minute}(?::{second}(?:(?:\\.[0-9]+)?{zone})?|{zone})?{ws}*$|{INTERPOLATED}"
    );
    extend(
        schema,
        "/properties/schedule",
        json!({"pattern": format!(
            "^{ws}*{}{ws}*$|{INTERPOLATED}",
            super::super::schedule::cron_pattern()
        )}),
    );
    for field in ["start", "end"] {
        extend(
            schema,
            &format!("/properties/{field}"),
            json!({"pattern": time}),
        );
    }
    let unset = |f: &str| json!({"properties": {f: {"type": "null"}}});
    extend(
        schema,
        "",
        json!({"oneOf": [
            {"allOf": [given("start"), given("end"), unset("schedule"), unset("duration")]},
            {"allOf": [given("schedule"), given("duration"), unset("start"), unset("end")]},
        ]}),
    );
}

/// A page's own fields: its address, texts and number of groups.
fn status_page(schema: &mut Value) {
    use super::super::status_page::{
        MAX_ANNOUNCEMENT_CHARS, MAX_DESCRIPTION_CHARS, MAX_GROUPS, MAX_TITLE_CHARS, RESERVED_SLUGS,
    };
    let reserved = RESERVED_SLUGS.join("|");
    extend(
        schema,
        "/properties/slug",
        json!({"pattern": text(&format!("(?!(?:{reserved})$){}", name_pattern()))}),
    );
    extend(
        schema,
        "/properties/title",
        json!({"pattern": not_blank(), "maxLength": MAX_TITLE_CHARS}),
    );
    for (field, max) in [
        ("description", MAX_DESCRIPTION_CHARS),
        ("announcement", MAX_ANNOUNCEMENT_CHARS),
    ] {
        extend(
            schema,
            &format!("/properties/{field}"),
            json!({"maxLength": max}),
        );
    }
    extend(
        schema,
        "/properties/groups",
        json!({"minItems": 1, "maxItems": MAX_GROUPS}),
    );
    // `is_host_name`: dotted lowercase DNS labels, the last not all digits.
    let label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
    let host = format!(
        "(?=.{{1,{}}}$)(?:{label}\\.)*(?![0-9]+$){label}",
        super::super::status_page::MAX_DOMAIN_LEN
    );
    extend(
        schema,
        "/properties/domain",
        json!({"pattern": text(&host)}),
    );
}

/// A page's groups, what it shows and its token.
fn status_page_parts(all: &mut Value) {
    use super::super::status_page::{
        MAX_GROUP_CHECKS, MAX_GROUP_NAME_CHARS, MAX_INCIDENTS_DAYS, MAX_TOKEN_CHARS,
        MAX_UPTIME_DAYS, MIN_TOKEN_CHARS,
    };
    extend(
        all,
        "/StatusGroup/properties/name",
        json!({"pattern": not_blank(), "maxLength": MAX_GROUP_NAME_CHARS}),
    );
    extend(
        all,
        "/StatusGroup/properties/checks",
        json!({"maxItems": MAX_GROUP_CHECKS, "uniqueItems": true, "items": name()}),
    );
    extend(
        all,
        "/StatusGroup/properties/selector",
        json!({
            "maxProperties": MAX_LABELS,
            "propertyNames": {"maxLength": MAX_LABEL_KEY_LEN},
            "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE_LEN},
        }),
    );
    // Named checks, a selector, or both.
    extend(
        all,
        "/StatusGroup",
        json!({"anyOf": [
            {"type": "object", "required": ["checks"], "properties": {"checks": {"type": "array", "minItems": 1}}},
            {"type": "object", "required": ["selector"], "properties": {"selector": {"type": "object", "minProperties": 1}}},
        ]}),
    );
    extend(
        all,
        "/StatusShow/properties/incidents_days",
        json!({"maximum": MAX_INCIDENTS_DAYS}),
    );
    extend(
        all,
        "/StatusShow/properties/uptime_days",
        json!({"minimum": 1, "maximum": MAX_UPTIME_DAYS}),
    );
    extend(
        all,
        "/StatusAccess/properties/token",
        json!({"pattern": text(&format!("[!-~]{{{MIN_TOKEN_CHARS},{MAX_TOKEN_CHARS}}}"))}),
    );
}
