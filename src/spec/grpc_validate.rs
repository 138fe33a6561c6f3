//! Validation of `type: grpc` checks: the `.proto` sources are read and compiled
//! here, so an unknown service, method or request field is reported at load time
//! with its position in the YAML file.

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor};
use serde_json::Value;

use super::decode::{Positions, escape_segment};
use super::diag::Pos;
use super::validate::files::Read;
use super::{CODE_NAMES, Check, GrpcSpec, split_host_port};

type Errors = Vec<(Pos, String)>;

/// The `grpc` settings that do not apply with `health: true`, which calls
/// `grpc.health.v1.Health/Check` with its own schema.
pub(crate) const HEALTH_REFUSED: [&str; 7] = [
    "method",
    "proto",
    "import_paths",
    "descriptor_set",
    "descriptor_set_base64",
    "request",
    "reflection",
];

/// The checks of a `grpc` check, on the files [`Read`] into it.
pub(crate) fn check(c: &mut Check, pos: &Positions, read: &Read, errors: &mut Errors) {
    if split_host_port(&c.target).is_none() {
        errors.push((
            pos.value("/target"),
            format!(
                "`target`: `{}` is not `host:port`; expected e.g. `payments.internal:443`",
                c.target
            ),
        ));
    }
    if let Some(code) = &c.expect.code
        && !CODE_NAMES.contains(&code.to_ascii_uppercase().as_str())
    {
        errors.push((
            pos.value("/expect/code"),
            format!("`expect.code`: `{code}` is not a gRPC status code; expected e.g. `OK` or `NOT_FOUND`"),
        ));
    }
    if let Some(r) = &c.expect.response
        && !r.is_object()
    {
        errors.push((
            pos.value("/expect/response"),
            "`expect.response`: a `grpc` check expects a mapping of response fields".into(),
        ));
    }
    if c.expect.cert_valid_for.is_some() && c.grpc.as_ref().is_none_or(|g| g.tls.is_none()) {
        errors.push((
            pos.value("/expect/cert_valid_for"),
            "`expect.cert_valid_for` needs `grpc.tls: true`".into(),
        ));
    }
    let Some(g) = &mut c.grpc else {
        errors.push((
            pos.value("/type"),
            "a `grpc` check needs a `grpc:` section with `health: true`, or `service` and `method` with `proto` or `reflection: true`".into(),
        ));
        return;
    };
    metadata(g, pos, errors);
    if let Some(tls) = &g.tls
        && !read.failed_tls.contains(&"/grpc/tls")
    {
        super::validate::client_tls(tls, "/grpc/tls", pos, errors);
    }
    if g.health {
        for field in HEALTH_REFUSED {
            let at = format!("/grpc/{field}");
            if pos.has(&at) {
                errors.push((
                    pos.key(&at),
                    format!("`grpc.{field}`: does not apply with `health: true`, which calls `grpc.health.v1.Health/Check`"),
                ));
            }
        }
        return;
    }
    let mut missing = false;
    for (field, given) in [
        ("service", g.service.is_some()),
        ("method", g.method.is_some()),
    ] {
        if !given {
            missing = true;
            errors.push((
                pos.key("/grpc"),
                format!("`grpc.{field}` is required unless `health: true`"),
            ));
        }
    }
    let given = schema_sources(g);
    if given.len() > 1 {
        for field in &given[1..] {
            errors.push((
                pos.key(&format!("/grpc/{field}")),
                "`grpc`: give one of `proto`, `descriptor_set` or `reflection: true` to describe the service".into(),
            ));
        }
        return;
    }
    let source = match given.first() {
        // The server describes the service when the check runs.
        Some(&"reflection") => return,
        Some(_) if missing => return,
        Some(&"proto") => proto(g),
        Some(_) => descriptor_set(g, pos, read, errors),
        None => {
            errors.push((
                pos.key("/grpc"),
                "`grpc`: describe the service with `proto`, `descriptor_set` or `reflection: true` (or call the health service with `health: true`)".into(),
            ));
            return;
        }
    };
    if let Some(source) = source {
        method(g, &source, pos, errors);
    }
}

/// Where the schema of a call comes from: the field that names it and how
/// messages name it.
struct Source {
    at: &'static str,
    label: String,
}

/// The fields given that describe the service a call goes to.
fn schema_sources(g: &GrpcSpec) -> Vec<&'static str> {
    [
        ("reflection", g.reflection),
        ("proto", g.proto.is_some()),
        ("descriptor_set", g.descriptor_set.is_some()),
        ("descriptor_set_base64", g.descriptor_set_base64.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect()
}

/// Whether [`check`] will judge the call against a schema from a file: the
/// one file reading needs to read.
pub(crate) fn reads_schema(g: &GrpcSpec) -> bool {
    !g.health
        && g.service.is_some()
        && g.method.is_some()
        && matches!(schema_sources(g)[..], ["proto" | "descriptor_set"])
}

/// The `.proto` file and its imports, read into `proto_files` (none when they
/// could not be read; that error is already given).
fn proto(g: &GrpcSpec) -> Option<Source> {
    if g.proto_files.is_empty() {
        return None;
    }
    Some(Source {
        at: "/grpc/proto",
        label: format!("`{}`", g.proto.as_deref().unwrap_or_default()),
    })
}

/// The descriptor set, read from `descriptor_set` into `descriptor_set_base64`
/// or given there inline.
fn descriptor_set(
    g: &mut GrpcSpec,
    pos: &Positions,
    read: &Read,
    errors: &mut Errors,
) -> Option<Source> {
    if !g.import_paths.is_empty() {
        errors.push((
            pos.key("/grpc/import_paths"),
            "`grpc.import_paths`: only applies with `proto`; a descriptor set carries its imports"
                .into(),
        ));
    }
    if g.descriptor_set.take().is_some() {
        // Still there: it could not be read, as an error already says.
        return None;
    }
    Some(match &read.descriptor_set {
        Some(path) => Source {
            at: "/grpc/descriptor_set",
            label: format!("`{path}`"),
        },
        None => Source {
            at: "/grpc/descriptor_set_base64",
            label: "`descriptor_set_base64`".into(),
        },
    })
}

fn metadata(g: &GrpcSpec, pos: &Positions, errors: &mut Errors) {
    use super::limits::{MAX_HEADER_VALUE_LEN, MAX_HEADERS, at_most_count, at_most_len};
    let few = at_most_count(
        "grpc.metadata",
        "entries",
        g.metadata.len(),
        MAX_HEADERS,
        pos,
        errors,
    );
    for (k, v) in g.metadata.iter().filter(|_| few) {
        let at = format!("/grpc/metadata/{}", escape_segment(k));
        if !at_most_len(
            &format!("grpc.metadata.{k}"),
            &at,
            v.len(),
            MAX_HEADER_VALUE_LEN,
            pos,
            errors,
        ) {
        } else if http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).is_err() {
            errors.push((
                pos.key(&at),
                format!("`grpc.metadata`: `{k}` is not a valid metadata name"),
            ));
        } else if http::HeaderValue::from_str(v).is_err() {
            errors.push((
                pos.value(&at),
                format!("`grpc.metadata.{k}`: the value has characters metadata cannot carry"),
            ));
        }
    }
}

/// The service and method must exist, the method must not take a stream, and the
/// request must fit the method's input message.
fn method(g: &GrpcSpec, source: &Source, pos: &Positions, errors: &mut Errors) {
    let pool = match g.pool() {
        Ok(p) => p,
        Err(e) => {
            let field = super::load::dotted(source.at);
            errors.push((pos.value(source.at), format!("`{field}`: {e}")));
            return;
        }
    };
    let (service, method) = g.call_target();
    let file = &source.label;
    let Some(svc) = pool.get_service_by_name(service) else {
        let names: Vec<String> = pool.services().map(|s| s.full_name().to_string()).collect();
        let hint = super::suggest(service, names.iter().map(String::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        errors.push((
            pos.value("/grpc/service"),
            format!("`grpc.service`: `{service}` is not defined in {file}{hint}"),
        ));
        return;
    };
    let Some(m) = svc.methods().find(|m| m.name() == method) else {
        let names: Vec<String> = svc.methods().map(|m| m.name().to_string()).collect();
        errors.push((
            pos.value("/grpc/method"),
            format!(
                "`grpc.method`: `{service}` has no method `{method}`; it has {}",
                super::expr::quoted_list(&names.iter().map(String::as_str).collect::<Vec<_>>())
            ),
        ));
        return;
    };
    if m.is_client_streaming() {
        errors.push((
            pos.value("/grpc/method"),
            format!("`grpc.method`: `{method}` is a client-streaming method; only unary and server-streaming methods can be checked"),
        ));
        return;
    }
    let Some(request) = &g.request else { return };
    let before = errors.len();
    // Well-known types have their own JSON forms, as for nested fields.
    if !m.input().full_name().starts_with("google.protobuf.") {
        fields(&m.input(), request, "/grpc/request", pos, errors);
    }
    if errors.len() == before
        && let Err(e) = DynamicMessage::deserialize(m.input(), request.clone())
    {
        errors.push((
            pos.value("/grpc/request"),
            format!(
                "`grpc.request`: not a valid `{}`: {e}",
                m.input().full_name()
            ),
        ));
    }
}

/// Every key of `value` must name a field of `desc`, recursively; well-known
/// types have their own JSON forms and are left to the JSON decoder.
fn fields(desc: &MessageDescriptor, value: &Value, at: &str, pos: &Positions, errors: &mut Errors) {
    let Value::Object(map) = value else { return };
    for (k, v) in map {
        let here = format!("{at}/{}", escape_segment(k));
        let Some(field) = desc
            .get_field_by_name(k)
            .or_else(|| desc.get_field_by_json_name(k))
        else {
            let names: Vec<String> = desc.fields().map(|f| f.name().to_string()).collect();
            let hint = super::suggest(k, names.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            errors.push((
                pos.key(&here),
                format!(
                    "`{}`: `{k}` is not a field of `{}`{hint}",
                    super::load::dotted(at),
                    desc.full_name()
                ),
            ));
            continue;
        };
        let inner = match field.kind() {
            Kind::Message(m) if field.is_map() => match m.map_entry_value_field().kind() {
                Kind::Message(v) => Some(v),
                _ => None,
            },
            Kind::Message(m) => Some(m),
            _ => None,
        };
        let Some(inner) = inner.filter(|m| !m.full_name().starts_with("google.protobuf.")) else {
            continue;
        };
        match v {
            Value::Array(items) if field.is_list() => {
                for (i, item) in items.iter().enumerate() {
                    fields(&inner, item, &format!("{here}/{i}"), pos, errors);
                }
            }
            Value::Object(entries) if field.is_map() => {
                for (key, item) in entries {
                    let at = format!("{here}/{}", escape_segment(key));
                    fields(&inner, item, &at, pos, errors);
                }
            }
            _ => fields(&inner, v, &here, pos, errors),
        }
    }
}
