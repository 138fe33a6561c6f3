//! One TCP attempt: connect, TLS if asked, send if asked, then read until the
//! expected response shows, the peer closes, `max_bytes` arrive or time runs out.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::errors::{AttemptError, ErrorKind};
use super::expect::{Failure, fail};
use super::observed::Observed;
use crate::spec::{Check, Expect, ResponseMatch, TcpSpec, split_host_port};

/// Without `expect.response`, how long to wait for a first reply (a banner, or the
/// answer to `send`) before calling the port up anyway: many services, databases
/// among them, say nothing until spoken to, and a port check should stay quick.
pub const SILENT_PEER_WAIT: Duration = Duration::from_secs(1);
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;

/// TLS client settings, built once: loading the platform's trust roots costs far
/// more than a handshake.
#[derive(Default)]
pub struct TlsConfigs {
    verified: OnceLock<Result<Arc<ClientConfig>, String>>,
    insecure: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl TlsConfigs {
    pub(super) fn get(&self, insecure: bool) -> Result<Arc<ClientConfig>, AttemptError> {
        let slot = if insecure {
            &self.insecure
        } else {
            &self.verified
        };
        slot.get_or_init(|| build_config(insecure).map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: client setup: {e}")))
    }
}

/// The crypto provider reqwest uses too, so there is one TLS stack in the binary.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

fn build_config(insecure: bool) -> Result<Arc<ClientConfig>, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        builder.with_platform_verifier()?.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

pub async fn attempt(tls: &TlsConfigs, check: &Check) -> Result<Observed, AttemptError> {
    let spec: Cow<'_, TcpSpec> = match &check.tcp {
        Some(t) => Cow::Borrowed(t),
        None => Cow::Owned(TcpSpec::default()),
    };
    let limit = check.timeout.get();
    let begun = Instant::now();
    let deadline = begun + limit;
    let (host, port) = split_host_port(&check.target).ok_or_else(|| {
        AttemptError::new(
            ErrorKind::Connect,
            format!("`{}` is not host:port", check.target),
        )
    })?;
    let stream = match timeout_at(deadline, TcpStream::connect((host, port))).await {
        Err(_) => return Err(AttemptError::timeout(limit)),
        Ok(Err(e)) => return Err(AttemptError::from_connect(&e)),
        Ok(Ok(s)) => s,
    };
    let mut obs = Observed::default();
    if !spec.tls {
        obs.connect = Some(begun.elapsed());
        converse(stream, &spec, &check.expect, (deadline, limit), &mut obs).await?;
        return Ok(obs);
    }
    let name = spec.server_name.as_deref().unwrap_or(host).to_string();
    let name = ServerName::try_from(name)
        .map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: server name: {e}")))?;
    let connector = TlsConnector::from(tls.get(spec.insecure)?);
    let stream = match timeout_at(deadline, connector.connect(name, stream)).await {
        Err(_) => return Err(AttemptError::timeout(limit)),
        Ok(Err(e)) => return Err(AttemptError::from_handshake(&e)),
        Ok(Ok(s)) => s,
    };
    obs.connect = Some(begun.elapsed());
    obs.cert_not_after = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| super::http::cert_not_after(leaf.as_ref()));
    converse(stream, &spec, &check.expect, (deadline, limit), &mut obs).await?;
    Ok(obs)
}

/// Sends, then reads into `obs.body` until one of the stop conditions.
async fn converse<S>(
    mut stream: S,
    spec: &TcpSpec,
    expect: &Expect,
    (deadline, limit): (Instant, Duration),
    obs: &mut Observed,
) -> Result<(), AttemptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let payload: Option<Vec<u8>> = match (&spec.send, &spec.send_base64) {
        (Some(text), _) => Some(text.as_bytes().to_vec()),
        (None, Some(b64)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| AttemptError::new(ErrorKind::Protocol, format!("send_base64: {e}")))?,
        ),
        (None, None) => None,
    };
    if let Some(bytes) = payload {
        let sent = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        match timeout_at(deadline, sent).await {
            Err(_) => return Err(AttemptError::timeout(limit)),
            Ok(Err(e)) => return Err(AttemptError::from_io(&e, false)),
            Ok(Ok(())) => {}
        }
    }

    let matcher = expect
        .response_text()
        .and_then(|r| ResponseMatch::parse(r).ok());
    let read_until = match matcher {
        Some(_) => deadline,
        None => deadline.min(Instant::now() + SILENT_PEER_WAIT),
    };
    let cap = usize::try_from(spec.max_bytes).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let room = cap.saturating_sub(obs.body.len());
        if room == 0 {
            obs.truncated = true;
            return Ok(());
        }
        let want = room.min(buf.len());
        let n = match timeout_at(read_until, stream.read(&mut buf[..want])).await {
            Err(_) => {
                obs.timed_out = matcher.is_some();
                return Ok(());
            }
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            // A TLS peer that hangs up without close_notify, or a reset after it
            // spoke, still leaves what it said to be judged.
            Ok(Err(_)) if !obs.body.is_empty() => return Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(AttemptError::from_io(&e, false)),
        };
        obs.body.extend_from_slice(&buf[..n]);
        match &matcher {
            Some(m) if !m.is_match(&String::from_utf8_lossy(&obs.body)) => {}
            _ => return Ok(()),
        }
    }
}

/// `expect.response` against the bytes read. The actual value is what the peer
/// sent, quoted with escapes so that line endings and binary bytes show.
pub fn judge(expect: &Expect, obs: &Observed) -> Vec<Failure> {
    let Some(text) = expect.response_text() else {
        return Vec::new();
    };
    let Ok(matcher) = ResponseMatch::parse(text) else {
        return Vec::new(); // rejected at load time
    };
    let seen = String::from_utf8_lossy(&obs.body);
    if matcher.is_match(&seen) {
        return Vec::new();
    }
    let expected = match matcher {
        ResponseMatch::Substring(s) => format!("to contain {s:?}"),
        ResponseMatch::Regex(_) => format!("to match {text}"),
    };
    vec![fail("response", expected, format!("{seen:?}"))]
}

/// `tcp.insecure`: accepts any certificate, still checking the handshake
/// signatures so the connection is at least well-formed TLS.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
