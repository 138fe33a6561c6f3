//! The compiled form of a check: what a run needs that can be worked out from
//! the check alone (regular expressions, JSONPaths, CEL programs, the TCP
//! response matcher, the request with its headers), built once when checks are
//! loaded (the daemon's reload, `uptimeping test`) rather than on every attempt.
//! A check that does not compile is an error that names it: nothing is skipped.

use std::sync::Arc;

use base64::Engine as _;
use cel::Program;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_rustls::rustls::pki_types::ServerName;

use crate::spec::{Check, CheckType, ClientTls, GraphqlSpec, Introspect, expr};
use crate::spec::{ResponseMatch, split_host_port};

/// A check ready to run: its settings for its own type, its expectations
/// compiled, and the check it came from (name, schedule, alerts…).
pub struct CompiledCheck {
    source: Arc<Check>,
    probe: Probe,
    pub(super) expect: Expectations,
}

/// What one attempt does, by check type; each carries only its own type's settings.
/// Boxed, so that the enum costs a pointer whichever type it holds.
pub enum Probe {
    Http(Box<HttpProbe>),
    Graphql(Box<GraphqlProbe>),
    Tcp(Box<TcpProbe>),
    Grpc(Box<GrpcProbe>),
}

/// How a request goes out: the client it needs and the check's `http` settings.
pub struct HttpConn {
    pub(super) client: super::http::ClientKey,
    /// The check's `http.headers`, sent to the target's origin only.
    pub(super) headers: HeaderMap,
    pub(super) follow_redirects: bool,
    pub(super) max_redirects: u32,
    pub(super) max_body: usize,
}

/// One request, ready to send.
#[derive(Clone)]
pub struct Request {
    pub(super) method: reqwest::Method,
    /// `None` when the target is not a URL: the client then says what is wrong.
    pub(super) url: Option<reqwest::Url>,
    pub(super) body: Option<bytes::Bytes>,
    /// Send `Content-Type: application/json` unless a header sets it.
    pub(super) is_json: bool,
}

pub struct HttpProbe {
    pub(super) conn: HttpConn,
    pub(super) request: Request,
}

pub struct GraphqlProbe {
    pub(super) conn: HttpConn,
    pub(super) query: Request,
    /// The schema question and what it must answer.
    pub(super) introspect: Option<(Request, Introspect)>,
}

pub struct TcpProbe {
    pub(super) payload: Option<Box<[u8]>>,
    /// TLS settings and the name to verify.
    pub(super) tls: Option<Box<(ClientTls, ServerName<'static>)>>,
    pub(super) max_bytes: usize,
    /// `expect.response`, compiled.
    pub(super) response: Option<ResponseMatch>,
}

pub struct GrpcProbe {
    /// The target, the authority spoken to and the timeouts.
    pub(super) endpoint: tonic::transport::Endpoint,
    /// TLS settings and the name to verify.
    pub(super) tls: Option<Box<(ClientTls, ServerName<'static>)>>,
    pub(super) metadata: tonic::metadata::MetadataMap,
    pub(super) method: GrpcMethod,
    /// The call is the standard health check.
    pub(super) health: bool,
    pub(super) max_messages: u32,
}

/// The method a gRPC check calls.
pub enum GrpcMethod {
    /// Described by the check's protos (or the health protocol), request built.
    Described(Box<Described>),
    /// Asked of the server by reflection at the attempt (cached between runs).
    Reflected(Box<Reflected>),
}

pub struct Described {
    pub(super) method: prost_reflect::MethodDescriptor,
    pub(super) request: prost_reflect::DynamicMessage,
    pub(super) path: http::uri::PathAndQuery,
}

pub struct Reflected {
    /// The target, the authority and the service: whose description it is.
    pub(super) key: super::reflection::Key,
    pub(super) method: String,
    /// The request as JSON, built into a message of the described input type.
    pub(super) request: serde_json::Value,
}

/// The expectations that need compiling, in the order of the check's own lists.
#[derive(Default)]
pub(super) struct Expectations {
    /// `expect.headers`: the lower-case name and the pattern, in the check's order.
    pub(super) headers: Box<[(Box<str>, regex::Regex)]>,
    pub(super) body_regex: Option<regex::Regex>,
    /// `expect.json_path`, in the check's order.
    pub(super) json_path: Box<[serde_json_path::JsonPath]>,
    /// `expect.conditions`, in the check's order.
    pub(super) conditions: Box<[Program]>,
}

/// A check that cannot run as written: which check, which setting, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check `{check}`: {setting}: {reason}; fix the check and apply it again")]
pub struct CompileError {
    pub check: String,
    pub setting: String,
    pub reason: String,
}

impl CompiledCheck {
    /// The check this was compiled from.
    pub fn source(&self) -> &Arc<Check> {
        &self.source
    }

    pub fn probe(&self) -> &Probe {
        &self.probe
    }
}

/// Compiles `check`, which has passed validation (or was stored after it).
pub fn compile(check: &Check) -> Result<CompiledCheck, CompileError> {
    compile_shared(Arc::new(check.clone()))
}

/// [`compile`] for a check already behind an `Arc`, which is kept rather than copied.
pub fn compile_shared(check: Arc<Check>) -> Result<CompiledCheck, CompileError> {
    let err = |setting: &str, reason: String| CompileError {
        check: check.name.clone(),
        setting: setting.to_string(),
        reason,
    };
    let probe = match check.check_type {
        CheckType::Http => Probe::Http(Box::new(HttpProbe {
            conn: http_conn(&check).map_err(|(s, r)| err(s, r))?,
            request: http_request(&check).map_err(|(s, r)| err(s, r))?,
        })),
        CheckType::Graphql => {
            let spec = check.graphql.as_ref().ok_or_else(|| {
                err(
                    "graphql",
                    "a graphql check needs a `graphql` section".into(),
                )
            })?;
            Probe::Graphql(Box::new(
                graphql_probe(&check, spec).map_err(|(s, r)| err(s, r))?,
            ))
        }
        CheckType::Tcp => Probe::Tcp(Box::new(tcp_probe(&check).map_err(|(s, r)| err(s, r))?)),
        CheckType::Grpc => {
            let spec = check
                .grpc
                .as_ref()
                .ok_or_else(|| err("grpc", "a grpc check needs a `grpc` section".into()))?;
            Probe::Grpc(Box::new(
                super::grpc::compile(&check.target, check.timeout.get(), spec)
                    .map_err(|(s, r)| err(s, r))?,
            ))
        }
    };
    let expect = expectations(&check).map_err(|(s, r)| err(&s, r))?;
    Ok(CompiledCheck {
        source: check,
        probe,
        expect,
    })
}

type Problem = (&'static str, String);

fn http_conn(check: &Check) -> Result<HttpConn, Problem> {
    let spec = &check.http;
    let mut headers = HeaderMap::with_capacity(spec.headers.len());
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| ("http.headers", format!("`{k}` is not a header name: {e}")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|e| ("http.headers", format!("the value of `{k}`: {e}")))?;
        headers.append(name, value);
    }
    Ok(HttpConn {
        client: super::http::ClientKey::of(spec),
        headers,
        follow_redirects: spec.follow_redirects,
        max_redirects: spec.max_redirects,
        max_body: usize::try_from(spec.max_body).unwrap_or(usize::MAX),
    })
}

fn http_request(check: &Check) -> Result<Request, Problem> {
    let spec = &check.http;
    let method = reqwest::Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| ("http.method", format!("invalid method `{}`", spec.method)))?;
    let (body, is_json) = match &spec.body {
        None | Some(serde_json::Value::Null) => (None, false),
        Some(serde_json::Value::String(s)) => (Some(s.clone()), false),
        Some(other) => (Some(other.to_string()), true),
    };
    Ok(Request {
        method,
        url: reqwest::Url::parse(&check.target).ok(),
        body: body.map(bytes::Bytes::from),
        is_json,
    })
}

fn graphql_probe(check: &Check, spec: &GraphqlSpec) -> Result<GraphqlProbe, Problem> {
    let query = super::graphql::request(
        &check.target,
        spec,
        &spec.query,
        &spec.variables,
        spec.operation_name.as_deref(),
    )
    .map_err(|e| ("target", e))?;
    let introspect = match &spec.introspect {
        None => None,
        Some(want) => {
            let vars = [(
                "name".to_string(),
                serde_json::Value::String(want.type_name.clone()),
            )]
            .into_iter()
            .collect();
            let req = super::graphql::request(
                &check.target,
                spec,
                super::graphql::INTROSPECTION,
                &vars,
                None,
            )
            .map_err(|e| ("target", e))?;
            Some((req, want.clone()))
        }
    };
    Ok(GraphqlProbe {
        conn: http_conn(check)?,
        query,
        introspect,
    })
}

fn tcp_probe(check: &Check) -> Result<TcpProbe, Problem> {
    let default = crate::spec::TcpSpec::default();
    let spec = check.tcp.as_deref().unwrap_or(&default);
    let payload = match (&spec.send, &spec.send_base64) {
        (Some(text), _) => Some(text.as_bytes().into()),
        (None, Some(b64)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| ("tcp.send_base64", e.to_string()))?
                .into(),
        ),
        (None, None) => None,
    };
    let tls = match &spec.tls {
        None => None,
        Some(settings) => {
            let name = match &spec.server_name {
                Some(n) => n.clone(),
                // A target that is not `host:port` fails its attempts with why.
                None => split_host_port(&check.target)
                    .map_or(check.target.as_str(), |(h, _)| h)
                    .to_string(),
            };
            let name = ServerName::try_from(name)
                .map_err(|e| ("tcp.server_name", format!("not a TLS server name: {e}")))?;
            Some(Box::new((settings.clone(), name)))
        }
    };
    let response = match check.expect.response_text() {
        None => None,
        Some(text) => Some(
            ResponseMatch::parse(text)
                .map_err(|e| ("expect.response", format!("`{text}`: {e}")))?,
        ),
    };
    Ok(TcpProbe {
        payload,
        tls,
        max_bytes: usize::try_from(spec.max_bytes).unwrap_or(usize::MAX),
        response,
    })
}

fn expectations(check: &Check) -> Result<Expectations, (String, String)> {
    let e = &check.expect;
    let headers = e
        .headers
        .iter()
        .map(|(name, pattern)| {
            expr::regex(pattern)
                .map(|re| (name.to_ascii_lowercase().into_boxed_str(), re))
                .map_err(|err| {
                    (
                        format!("expect.headers.{name}"),
                        format!("`{pattern}` is not a usable pattern: {err}"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let body_regex = match &e.body_regex {
        None => None,
        Some(pattern) => Some(expr::regex(pattern).map_err(|err| {
            (
                "expect.body_regex".to_string(),
                format!("`{pattern}` is not a usable pattern: {err}"),
            )
        })?),
    };
    let json_path = e
        .json_path
        .keys()
        .map(|path| {
            expr::json_path(path).map_err(|err| {
                (
                    format!("expect.json_path `{path}`"),
                    format!("not a usable path: {err}"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let conditions = if e.conditions.is_empty() {
        Box::default()
    } else {
        // Parsing recurses as deep as a condition nests: all of a check's
        // conditions are compiled on one thread with a known stack.
        let compiled = expr::on_condition_stack(|| {
            e.conditions
                .iter()
                .map(|source| expr::compile_on_condition_stack(source))
                .collect::<Vec<_>>()
        })
        .map_err(|msg| ("expect.conditions".to_string(), msg))?;
        compiled
            .into_iter()
            .zip(&e.conditions)
            .map(|(p, source)| p.map_err(|msg| (format!("expect.conditions `{source}`"), msg)))
            .collect::<Result<_, _>>()?
    };
    Ok(Expectations {
        headers,
        body_regex,
        json_path,
        conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check as the store holds it: not validated again, so it can carry what
    /// today's validation would refuse.
    fn stored(spec: serde_json::Value) -> Check {
        serde_json::from_value(spec).expect("a check")
    }

    #[test]
    fn an_unusable_pattern_is_an_error_naming_the_check() {
        let cases = [
            serde_json::json!({"name": "bad-header", "type": "http", "target": "http://127.0.0.1:1/",
                "expect": {"headers": {"X-Id": "(unclosed"}}}),
            serde_json::json!({"name": "bad-body", "type": "http", "target": "http://127.0.0.1:1/",
                "expect": {"body_regex": "[z-a]"}}),
            serde_json::json!({"name": "bad-path", "type": "http", "target": "http://127.0.0.1:1/",
                "expect": {"json_path": {"$[": 1}}}),
            serde_json::json!({"name": "bad-condition", "type": "http", "target": "http://127.0.0.1:1/",
                "expect": {"conditions": ["status ==", "true"]}}),
            serde_json::json!({"name": "bad-response", "type": "tcp", "target": "127.0.0.1:1",
                "expect": {"response": "/(unclosed/"}}),
            serde_json::json!({"name": "bad-base64", "type": "tcp", "target": "127.0.0.1:1",
                "tcp": {"send_base64": "not base64!"}}),
            serde_json::json!({"name": "bad-method", "type": "http", "target": "http://127.0.0.1:1/",
                "http": {"method": "GE T"}}),
        ];
        for spec in cases {
            let check = stored(spec);
            let err = compile(&check)
                .err()
                .unwrap_or_else(|| panic!("{} compiled", check.name));
            assert_eq!(err.check, check.name);
            assert!(
                err.to_string()
                    .starts_with(&format!("check `{}`: ", check.name)),
                "{err}"
            );
        }
    }

    #[test]
    fn a_graphql_or_grpc_check_without_its_section_is_an_error() {
        for ty in ["graphql", "grpc"] {
            let check =
                stored(serde_json::json!({"name": "bare", "type": ty, "target": "127.0.0.1:1"}));
            let err = compile(&check).err().expect("an error");
            assert_eq!(err.setting, ty);
        }
    }

    #[test]
    fn a_grpc_check_is_described_once_at_compile_time() {
        let health = stored(serde_json::json!({"name": "health", "type": "grpc",
            "target": "127.0.0.1:1", "grpc": {"health": true, "metadata": {"x-team": "a"}}}));
        let c = compile(&health).expect("compiles");
        let Probe::Grpc(g) = c.probe() else {
            panic!("not grpc")
        };
        let GrpcMethod::Described(d) = &g.method else {
            panic!("not described")
        };
        assert_eq!(d.path.as_str(), "/grpc.health.v1.Health/Check");
        assert_eq!(g.metadata.len(), 1);
        let reflected = stored(serde_json::json!({"name": "reflected", "type": "grpc",
            "target": "127.0.0.1:1", "grpc": {"reflection": true, "service": "a.B", "method": "C"}}));
        let c = compile(&reflected).expect("compiles");
        assert!(
            matches!(c.probe(), Probe::Grpc(g) if matches!(g.method, GrpcMethod::Reflected(_)))
        );
        for (name, grpc) in [
            (
                "bad-metadata",
                serde_json::json!({"health": true, "metadata": {"bad key": "a"}}),
            ),
            (
                "no-proto",
                serde_json::json!({"service": "a.B", "method": "C"}),
            ),
        ] {
            let check = stored(serde_json::json!({"name": name, "type": "grpc",
                "target": "127.0.0.1:1", "grpc": grpc}));
            let err = compile(&check)
                .err()
                .unwrap_or_else(|| panic!("{name} compiled"));
            assert_eq!(err.check, name);
        }
    }

    #[test]
    fn the_compiled_form_stays_small() {
        // 100,000 checks are held at once; the source check is shared, not copied.
        let size = std::mem::size_of::<CompiledCheck>();
        assert!(size <= 160, "{size} bytes");
    }

    #[test]
    fn the_compiled_form_keeps_the_expectations_in_the_checks_order() {
        let check = stored(
            serde_json::json!({"name": "ok", "type": "http", "target": "http://127.0.0.1:1/",
            "expect": {"headers": {"B": "b", "A": "a"}, "json_path": {"$.b": 1, "$.a": 2},
                       "conditions": ["status == 200", "true"]}}),
        );
        let c = compile(&check).expect("compiles");
        let names: Vec<&str> = c.expect.headers.iter().map(|(n, _)| &**n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(c.expect.json_path.len(), 2);
        assert_eq!(c.expect.conditions.len(), 2);
        assert!(matches!(c.probe(), Probe::Http(_)));
    }
}
