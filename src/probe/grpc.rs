//! One gRPC attempt: connect (h2c), call one unary or server-streaming method
//! with a message built from the check's JSON, and turn the answer back into
//! JSON. Messages are dynamic, described by the compiled `.proto` sources.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use http::uri::PathAndQuery;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use serde_json::Value;
use tokio::time::Instant;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::compiled::{Described, GrpcMethod, GrpcProbe, Reflected};
use super::errors::{AttemptError, ErrorKind};
use super::expect::{Failure, fail};
use super::graphql::first_difference;
use super::observed::{GrpcCall, Observed};
use crate::spec::{CODE_NAMES, Expect, GrpcSpec, split_host_port};
use crate::tls::TlsConfigs;

/// The largest single message accepted from a server (tonic's own default, named
/// here so that the bound is visible and stays put).
pub const MAX_GRPC_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of streamed messages kept at most, whatever `max_messages` says: the
/// stream is judged on what was read by then, as an HTTP body is at `max_body`.
pub const MAX_GRPC_STREAM_BYTES: usize = 16 * 1024 * 1024;

pub async fn attempt(
    tls: &TlsConfigs,
    probe: &GrpcProbe,
    target: &str,
    limit: Duration,
) -> Result<Observed, AttemptError> {
    let refused = Refusal::default();
    match tokio::time::timeout(limit, call(tls, probe, target, limit, &refused)).await {
        Err(_) => Err(AttemptError::timeout(limit)),
        // The connection's own failure says more than what the channel made of it.
        Ok(Err(e)) => Err(refused.take(&e).unwrap_or(e)),
        Ok(r) => r,
    }
}

/// Where a TLS connection records that the server refused it for want of a
/// (good) client certificate. With TLS 1.3 that alert arrives after the
/// handshake, inside the HTTP/2 connection, whose error the channel replaces
/// with one of its own.
///
/// The alert can also be lost: a server that closes with our first bytes unread
/// resets the connection, and the reset may overtake the alert. So the handshake
/// also records whether the server asked for a certificate we did not have
/// (`asked`); a connection that then breaks was refused for that.
#[derive(Clone, Default)]
struct Refusal(Arc<Mutex<Option<AttemptError>>>, Arc<AskedForCert>);

impl Refusal {
    fn take(&self, failure: &AttemptError) -> Option<AttemptError> {
        let noted = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        noted.or_else(|| {
            let broke = matches!(failure.kind, ErrorKind::Connect | ErrorKind::Protocol);
            (broke && self.1.0.load(std::sync::atomic::Ordering::SeqCst)).then(|| {
                AttemptError::new(
                    ErrorKind::Tls,
                    "tls: the server requires a client certificate (`tls.client_cert_file`)",
                )
            })
        })
    }

    fn note(&self, e: &std::io::Error) {
        if let Some(refused) = super::tcp::client_cert_refused(e) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(refused);
        }
    }
}

/// A client certificate resolver with no certificate, noting that the server asked.
#[derive(Debug, Default)]
struct AskedForCert(std::sync::atomic::AtomicBool);

impl tokio_rustls::rustls::client::ResolvesClientCert for AskedForCert {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[tokio_rustls::rustls::SignatureScheme],
    ) -> Option<Arc<tokio_rustls::rustls::sign::CertifiedKey>> {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// A stream that notes a refusal read from it.
struct Watched<S> {
    inner: S,
    refused: Refusal,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Err(e)) = &polled {
            self.refused.note(e);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn setup_error(msg: impl std::fmt::Display) -> AttemptError {
    AttemptError::new(ErrorKind::Protocol, format!("grpc: {msg}"))
}

async fn call(
    tls: &TlsConfigs,
    probe: &GrpcProbe,
    target: &str,
    limit: Duration,
    refused: &Refusal,
) -> Result<Observed, AttemptError> {
    let begun = Instant::now();
    let (channel, cert_not_after) = connect(tls, target, probe, refused).await?;
    let connected = begun.elapsed();
    let (method, message, path, reflected) = match &probe.method {
        GrpcMethod::Described(d) => (d.method.clone(), d.request.clone(), d.path.clone(), None),
        GrpcMethod::Reflected(r) => {
            let method = reflected_method(channel.clone(), r).await?;
            let message = DynamicMessage::deserialize(method.input(), r.request.clone())
                .map_err(|e| setup_error(format!("request: {e}")))?;
            let path = call_path(&method).map_err(setup_error)?;
            (method, message, path, Some(&r.key))
        }
    };
    let mut grpc =
        tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);
    grpc.ready().await.map_err(|e| transport_error(&e))?;

    let mut request = tonic::Request::new(message);
    // The metadata first: setting the timeout adds the `grpc-timeout` entry to it.
    *request.metadata_mut() = probe.metadata.clone();
    request.set_timeout(limit);
    let undecodable = Arc::new(Mutex::new(None));
    let codec = DynamicCodec(method.output(), undecodable.clone());
    let (messages, status) = if method.is_server_streaming() {
        match grpc.server_streaming(request, path, codec).await {
            Err(s) => (Vec::new(), s),
            Ok(resp) => {
                let mut stream = resp.into_inner();
                let mut read = Vec::new();
                let max = probe.max_messages.max(1) as usize;
                let mut status = Status::ok("");
                let mut bytes = 0usize;
                while read.len() < max && bytes < MAX_GRPC_STREAM_BYTES {
                    match stream.message().await {
                        Ok(Some(m)) => {
                            bytes = bytes.saturating_add(m.encoded_len());
                            read.push(m);
                        }
                        Ok(None) => break,
                        Err(s) => {
                            status = s;
                            break;
                        }
                    }
                }
                (read, status)
            }
        }
    } else {
        match grpc.unary(request, path, codec).await {
            Ok(resp) => (vec![resp.into_inner()], Status::ok("")),
            Err(s) => (Vec::new(), s),
        }
    };
    let undecodable = undecodable.lock().unwrap_or_else(|p| p.into_inner()).take();
    // The server's API changed under a description it gave earlier.
    if let Some(key) = reflected
        && (undecodable.is_some() || status.code() == Code::Unimplemented)
    {
        super::reflection::Reflected::shared().forget(key);
    }
    if let Some(e) = undecodable {
        return Err(setup_error(format!(
            "the response is not a `{}`: {e}",
            method.output().full_name()
        )));
    }
    // A status made on this side of the wire is a failed exchange, not an answer.
    if status.code() != Code::Ok && std::error::Error::source(&status).is_some() {
        return Err(transport_status(&status, limit));
    }
    // The server ends the call at the deadline it was sent, and its clock started
    // after ours: past the limit, its DEADLINE_EXCEEDED is this check's timeout,
    // whichever side's timer fired first.
    if status.code() == Code::DeadlineExceeded && begun.elapsed() >= limit {
        return Err(AttemptError::timeout(limit));
    }
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(true);
    let mut json: Vec<Value> = messages
        .iter()
        .map(|m| m.serialize_with_options(serde_json::value::Serializer, &options))
        .collect::<Result<_, _>>()
        .map_err(|e| setup_error(format!("response: {e}")))?;
    let response = match (
        method.is_server_streaming() && probe.max_messages > 1,
        json.len(),
    ) {
        (true, _) => Some(Value::Array(json)),
        (false, 0) => None,
        (false, _) => Some(json.swap_remove(0)),
    };
    let body = response
        .as_ref()
        .map(|r| serde_json::to_vec(r).unwrap_or_default())
        .unwrap_or_default();
    Ok(Observed {
        body,
        connect: Some(connected),
        cert_not_after,
        grpc: Some(GrpcCall {
            code: CODE_NAMES
                .get(status.code() as usize)
                .copied()
                .unwrap_or("UNKNOWN"),
            message: status.message().to_string(),
            health: probe.health,
        }),
        ..Observed::default()
    })
}

/// The `:path` of a call to `method`.
fn call_path(method: &MethodDescriptor) -> Result<PathAndQuery, String> {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    PathAndQuery::try_from(path).map_err(|e| e.to_string())
}

/// Compiles a `grpc` check's settings: the endpoint, the metadata, and unless the
/// server describes itself by reflection, the method from the check's protos (or
/// the health protocol) with the request message built from its JSON.
pub(super) fn compile(
    target: &str,
    limit: Duration,
    spec: &GrpcSpec,
) -> Result<GrpcProbe, (&'static str, String)> {
    let endpoint = Endpoint::from_shared(format!("http://{target}"))
        .map_err(|e| ("target", e.to_string()))?
        .user_agent(super::http::user_agent())
        .map_err(|e| ("target", e.to_string()))?
        .connect_timeout(limit)
        .timeout(limit);
    let scheme = if spec.tls.is_some() { "https" } else { "http" };
    let authority = spec.authority.as_deref().unwrap_or(target);
    let origin = format!("{scheme}://{authority}")
        .parse()
        .map_err(|e: http::uri::InvalidUri| ("grpc.authority", e.to_string()))?;
    let endpoint = endpoint.origin(origin);
    let tls = match &spec.tls {
        None => None,
        Some(settings) => {
            // The authority's host, or the authority itself when it has no port.
            let name = match (&spec.authority, split_host_port(authority)) {
                (_, Some((h, _))) => h,
                (Some(a), None) => a.as_str(),
                (None, None) => target,
            };
            let name = ServerName::try_from(name.to_string())
                .map_err(|e| ("grpc.authority", format!("not a TLS server name: {e}")))?;
            Some(Box::new((settings.clone(), name)))
        }
    };
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (k, v) in &spec.metadata {
        let key = MetadataKey::from_bytes(k.as_bytes())
            .map_err(|e| ("grpc.metadata", format!("`{k}`: {e}")))?;
        let value: MetadataValue<_> = v
            .parse()
            .map_err(|e| ("grpc.metadata", format!("the value of `{k}`: {e}")))?;
        metadata.insert(key, value);
    }
    let json = if spec.health {
        serde_json::json!({ "service": spec.service.clone().unwrap_or_default() })
    } else {
        spec.request
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default()))
    };
    let (service, method) = spec.call_target();
    let method = if spec.reflection {
        GrpcMethod::Reflected(Box::new(Reflected {
            key: (
                target.to_string(),
                authority.to_string(),
                service.to_string(),
            ),
            method: method.to_string(),
            request: json,
        }))
    } else {
        let pool = spec.pool().map_err(|e| ("grpc.proto", e))?;
        let method = pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .ok_or_else(|| {
                (
                    "grpc.method",
                    format!("`{service}/{method}` is not in the proto files"),
                )
            })?;
        let request = DynamicMessage::deserialize(method.input(), json)
            .map_err(|e| ("grpc.request", e.to_string()))?;
        let path = call_path(&method).map_err(|e| ("grpc.method", e))?;
        GrpcMethod::Described(Box::new(Described {
            method,
            request,
            path,
        }))
    };
    Ok(GrpcProbe {
        endpoint,
        tls,
        metadata,
        method,
        health: spec.health,
        max_messages: spec.max_messages,
    })
}

/// The method as the server itself describes it, from the cache while fresh.
/// A cached description that lacks the method is asked for again once: the
/// server may have gained it since.
async fn reflected_method(
    channel: Channel,
    wanted: &Reflected,
) -> Result<MethodDescriptor, AttemptError> {
    let cache = super::reflection::Reflected::shared();
    let key = &wanted.key;
    let (service, method) = (key.2.as_str(), wanted.method.as_str());
    let mut retried = false;
    loop {
        let fetch = super::reflection::pool(channel.clone(), service);
        let (pool, cached) = cache.get(key, fetch).await.map_err(setup_error)?;
        let found = match pool.get_service_by_name(service) {
            None => Err(format!("reflection: the server has no `{service}`")),
            Some(svc) => svc
                .methods()
                .find(|m| m.name() == method)
                .ok_or_else(|| format!("reflection: `{service}` has no method `{method}`")),
        };
        match found {
            Err(_) if cached && !retried => {
                cache.forget(key);
                retried = true;
            }
            other => return other.map_err(setup_error),
        }
    }
}

/// A channel over h2c, or over TLS set up here so that handshake failures are
/// classified as for other checks and the certificate can be judged.
async fn connect(
    tls: &TlsConfigs,
    target: &str,
    probe: &GrpcProbe,
    refused: &Refusal,
) -> Result<(Channel, Option<DateTime<Utc>>), AttemptError> {
    let endpoint = probe.endpoint.clone();
    let Some(settings) = &probe.tls else {
        let channel = endpoint.connect().await.map_err(|e| transport_error(&e))?;
        return Ok((channel, None));
    };
    let (settings, name) = &**settings;
    let (host, port) = split_host_port(target)
        .ok_or_else(|| setup_error(format!("`{target}` is not host:port")))?;
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| AttemptError::from_connect(&e))?;
    let mut config = super::tcp::client_config(tls, settings, true)?;
    if settings.client_cert.is_none() {
        let mut own = (*config).clone();
        own.client_auth_cert_resolver = refused.1.clone();
        config = Arc::new(own);
    }
    let stream = TlsConnector::from(config)
        .connect(name.clone(), tcp)
        .await
        .map_err(|e| super::tcp::handshake_error(&e))?;
    let not_after = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| super::http::cert_not_after(leaf.as_ref()));
    // The channel gets this one connection; an attempt never reconnects.
    let stream = Watched {
        inner: stream,
        refused: refused.clone(),
    };
    let slot = Arc::new(Mutex::new(Some(stream)));
    let connector = tower::service_fn(move |_: http::Uri| {
        let stream = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        async move {
            stream
                .map(TokioIo::new)
                .ok_or_else(|| std::io::Error::other("the connection was already used"))
        }
    });
    let channel = endpoint
        .connect_with_connector(connector)
        .await
        .map_err(|e| transport_error(&e))?;
    Ok((channel, not_after))
}

/// A connection that failed, classified by the socket error inside.
fn transport_error(err: &(dyn std::error::Error + 'static)) -> AttemptError {
    if let Some(refused) = super::tcp::client_cert_refused(err) {
        return refused;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return AttemptError::from_connect(io);
        }
        cur = e.source();
    }
    AttemptError::new(ErrorKind::Connect, "connection failed")
}

fn transport_status(status: &Status, limit: Duration) -> AttemptError {
    if status.code() == Code::DeadlineExceeded || status.code() == Code::Cancelled {
        return AttemptError::timeout(limit);
    }
    match std::error::Error::source(status) {
        Some(src) => {
            let mut e = transport_error(src);
            if e.message == "connection failed" {
                e = AttemptError::new(ErrorKind::Protocol, format!("grpc: {}", status.message()));
            }
            e
        }
        None => setup_error(status.message()),
    }
}

/// The status code, the health answer, and `expect.response` as a subset of the
/// response message.
pub fn judge(e: &Expect, obs: &Observed, json: Option<&Value>) -> Vec<Failure> {
    let Some(call) = &obs.grpc else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let expected = e.code.as_deref().unwrap_or("OK").to_ascii_uppercase();
    if call.code != expected {
        let actual = if call.message.is_empty() {
            call.code.to_string()
        } else {
            format!("{}: {}", call.code, call.message)
        };
        out.push(fail("code", expected, actual));
        return out;
    }
    if call.health && call.code == "OK" {
        let status = json
            .and_then(|j| j.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN");
        if status != "SERVING" {
            out.push(fail("health", "SERVING", status));
        }
    }
    if let Some(expected) = &e.response {
        let actual = json.unwrap_or(&Value::Null);
        if let Some((path, expected, actual)) =
            first_difference(expected, actual, "response".into())
        {
            out.push(fail(path, expected.to_string(), actual));
        }
    }
    out
}

/// Encodes and decodes [`DynamicMessage`]s of one method. A response that does
/// not decode is recorded in the slot, to tell it from a status the server sent.
#[derive(Clone)]
struct DynamicCodec(MessageDescriptor, Arc<Mutex<Option<String>>>);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone(), self.1.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the request: {e}")))
    }
}

struct DynamicDecoder(MessageDescriptor, Arc<Mutex<Option<String>>>);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| {
                *self.1.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                Status::internal(format!("decoding the response: {e}"))
            })
    }
}
