//! One TCP attempt: connect, TLS if asked, send if asked, then read until the
//! expected response shows (or can no longer show), the peer closes, `max_bytes`
//! arrive or time runs out. The check's timeout bounds all of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject as _};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::compiled::TcpProbe;
use super::errors::{AttemptError, ErrorKind};
use super::expect::{Failure, fail};
use super::observed::Observed;
use super::scan::{Scanner, Verdict};
use crate::spec::{ClientTls, Expect, ResponseMatch, split_host_port};

/// Without `expect.response`, how long to wait for a first reply (a banner, or the
/// answer to `send`) before calling the port up anyway: many services, databases
/// among them, say nothing until spoken to, and a port check should stay quick.
pub const SILENT_PEER_WAIT: Duration = Duration::from_secs(1);
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;

/// TLS client configurations, built once per distinct setting: loading the
/// platform's trust roots or parsing a CA bundle costs far more than a handshake.
#[derive(Default)]
pub struct TlsConfigs {
    built: Mutex<HashMap<[u8; 32], Built>>,
    builds: AtomicUsize,
}

type Built = Result<Arc<ClientConfig>, String>;

/// Distinct TLS settings kept at most; past this the cache starts over, which
/// costs rebuilds, never correctness.
const MAX_TLS_CONFIGS: usize = 256;

impl TlsConfigs {
    /// The configuration for `settings`, offering ALPN `h2` when `h2` is set.
    pub(super) fn get(
        &self,
        settings: &ClientTls,
        h2: bool,
    ) -> Result<Arc<ClientConfig>, AttemptError> {
        let key = settings_key(settings, h2);
        let cached = self
            .built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let result = match cached {
            Some(r) => r,
            None => {
                self.builds.fetch_add(1, Ordering::Relaxed);
                let r = build_config(settings)
                    .map(|mut c| {
                        if h2 {
                            c.alpn_protocols = vec![b"h2".to_vec()];
                        }
                        Arc::new(c)
                    })
                    .map_err(|e| e.to_string());
                let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
                if built.len() >= MAX_TLS_CONFIGS {
                    built.clear();
                }
                built.insert(key, r.clone());
                r
            }
        };
        result.map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: client setup: {e}")))
    }

    /// How many configurations were built so far.
    #[cfg(test)]
    fn builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }
}

/// A digest of everything that shapes a configuration, so that PEM text is not
/// kept twice and a key is not a map key.
fn settings_key(settings: &ClientTls, h2: bool) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([u8::from(settings.insecure), u8::from(h2)]);
    for part in [&settings.ca, &settings.client_cert, &settings.client_key] {
        match part {
            None => h.update([0]),
            Some(text) => {
                h.update([1]);
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
        }
    }
    h.finalize().into()
}

/// The crypto provider reqwest uses too, so there is one TLS stack in the binary.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// What is wrong with a TLS setting, by the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSetupError {
    Ca(String),
    ClientCert(String),
    ClientKey(String),
    Other(String),
}

impl std::fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ca(e) => write!(f, "ca: {e}"),
            Self::ClientCert(e) => write!(f, "client_cert: {e}"),
            Self::ClientKey(e) => write!(f, "client_key: {e}"),
            Self::Other(e) => f.write_str(e),
        }
    }
}

/// Certificates of a PEM bundle; an error when it holds none.
fn pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

/// Builds the client configuration `settings` describe. Also used at load time,
/// so that a bad bundle or a key that does not match its certificate is reported
/// where it is written.
pub fn build_config(settings: &ClientTls) -> Result<ClientConfig, TlsSetupError> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let other = |e: rustls::Error| TlsSetupError::Other(e.to_string());
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(other)?;
    let builder = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else if let Some(ca) = &settings.ca {
        let mut roots = RootCertStore::empty();
        for cert in pem_certs(ca).map_err(TlsSetupError::Ca)? {
            roots
                .add(cert)
                .map_err(|e| TlsSetupError::Ca(format!("not a usable CA certificate: {e}")))?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder.with_platform_verifier().map_err(other)?
    };
    match (&settings.client_cert, &settings.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(_), None) => Err(TlsSetupError::ClientCert(
            "needs the certificate's key: `client_key_file` or `client_key`".into(),
        )),
        (None, Some(_)) => Err(TlsSetupError::ClientKey(
            "needs the certificate: `client_cert_file` or `client_cert`".into(),
        )),
        (Some(cert), Some(key)) => {
            let chain = pem_certs(cert).map_err(TlsSetupError::ClientCert)?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| {
                TlsSetupError::ClientKey(match e {
                    pem::Error::NoItemsFound => "no PEM private key found".into(),
                    e => format!("not a valid PEM private key: {e}"),
                })
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => TlsSetupError::ClientKey(
                        "the key does not belong to the client certificate".into(),
                    ),
                    e => TlsSetupError::ClientKey(e.to_string()),
                })
        }
    }
}

pub async fn attempt(
    tls: &TlsConfigs,
    probe: &TcpProbe,
    target: &str,
    limit: Duration,
) -> Result<Observed, AttemptError> {
    let begun = Instant::now();
    let deadline = begun + limit;
    let (host, port) = split_host_port(target).ok_or_else(|| {
        AttemptError::new(ErrorKind::Connect, format!("`{target}` is not host:port"))
    })?;
    let stream = match timeout_at(deadline, TcpStream::connect((host, port))).await {
        Err(_) => return Err(AttemptError::timeout(limit)),
        Ok(Err(e)) => return Err(AttemptError::from_connect(&e)),
        Ok(Ok(s)) => s,
    };
    let mut obs = Observed::default();
    let Some(settings) = &probe.tls else {
        obs.connect = Some(begun.elapsed());
        converse(stream, probe, (deadline, limit), &mut obs).await?;
        return Ok(obs);
    };
    let (settings, name) = &**settings;
    let name = ServerName::try_from(name.clone())
        .map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: server name: {e}")))?;
    let connector = TlsConnector::from(tls.get(settings, false)?);
    let stream = match timeout_at(deadline, connector.connect(name, stream)).await {
        Err(_) => return Err(AttemptError::timeout(limit)),
        Ok(Err(e)) => return Err(handshake_error(&e)),
        Ok(Ok(s)) => s,
    };
    obs.connect = Some(begun.elapsed());
    obs.cert_not_after = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| super::http::cert_not_after(leaf.as_ref()));
    converse(stream, probe, (deadline, limit), &mut obs).await?;
    Ok(obs)
}

/// Sends, then reads into `obs.body` until one of the stop conditions.
async fn converse<S>(
    mut stream: S,
    probe: &TcpProbe,
    (deadline, limit): (Instant, Duration),
    obs: &mut Observed,
) -> Result<(), AttemptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(bytes) = &probe.payload {
        let sent = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match timeout_at(deadline, sent).await {
            Err(_) => return Err(AttemptError::timeout(limit)),
            Ok(Err(e)) => return Err(AttemptError::from_io(&e, false)),
            Ok(Ok(())) => {}
        }
    }

    let mut scanner = probe.response.as_ref().map(Scanner::new);
    let read_until = match scanner {
        Some(_) => deadline,
        None => deadline.min(Instant::now() + SILENT_PEER_WAIT),
    };
    let cap = probe.max_bytes;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        // A peer that always has more to send keeps every read ready at once, and
        // a ready read never reaches its timer: the deadline is checked here too.
        if Instant::now() >= read_until {
            obs.timed_out = scanner.is_some();
            return Ok(());
        }
        let room = cap.saturating_sub(obs.body.len());
        if room == 0 {
            obs.truncated = true;
            return Ok(());
        }
        let want = room.min(buf.len());
        let n = match timeout_at(read_until, stream.read(&mut buf[..want])).await {
            Err(_) => {
                obs.timed_out = scanner.is_some();
                return Ok(());
            }
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            // A TLS peer that hangs up without close_notify, or a reset after it
            // spoke, still leaves what it said to be judged.
            Ok(Err(_)) if !obs.body.is_empty() => return Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => {
                return Err(
                    client_cert_refused(&e).unwrap_or_else(|| AttemptError::from_io(&e, false))
                );
            }
        };
        obs.body.extend_from_slice(&buf[..n]);
        match scanner.as_mut().map(|s| s.advance(&obs.body, n < want)) {
            Some(Verdict::Pending) => {}
            // Matched, cannot match any more, or nothing to match: judge what was read.
            _ => return Ok(()),
        }
    }
}

/// A refusal of mutual TLS found anywhere in `err`'s causes: the peer's alert
/// that it wants a client certificate or does not accept the one presented. With
/// TLS 1.3 it arrives after the handshake, at the first read.
pub(super) fn client_cert_refused(err: &(dyn std::error::Error + 'static)) -> Option<AttemptError> {
    const REFUSALS: &[&str] = &[
        "BadCertificate",
        "UnknownCA",
        "CertificateUnknown",
        "CertificateExpired",
        "CertificateRevoked",
        "UnsupportedCertificate",
        "AccessDenied",
    ];
    let mut cur = Some(err);
    while let Some(e) = cur {
        // HTTP/2 keeps only the text of an I/O error, so the alert is read from it.
        let alert = match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::AlertReceived(a)) => Some(format!("{a:?}")),
            _ => e
                .to_string()
                .split_once("received fatal alert: ")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
                .map(str::to_string),
        };
        match alert.as_deref() {
            Some("CertificateRequired") => {
                return Some(AttemptError::new(
                    ErrorKind::Tls,
                    "tls: the server requires a client certificate (`tls.client_cert_file`)",
                ));
            }
            Some(a) if REFUSALS.contains(&a) => {
                return Some(AttemptError::new(
                    ErrorKind::Tls,
                    format!("tls: the server refused the client certificate ({a})"),
                ));
            }
            Some(_) => return None,
            None => cur = e.source(),
        }
    }
    None
}

/// A failed handshake, with mutual TLS refusals in words.
pub(super) fn handshake_error(e: &std::io::Error) -> AttemptError {
    client_cert_refused(e).unwrap_or_else(|| AttemptError::from_handshake(e))
}

/// `expect.response` against the bytes read. The actual value is what the peer
/// sent, quoted with escapes so that line endings and binary bytes show.
pub fn judge(probe: &TcpProbe, expect: &Expect, obs: &Observed) -> Vec<Failure> {
    let (Some(matcher), Some(text)) = (&probe.response, expect.response_text()) else {
        return Vec::new();
    };
    if matcher.is_match(&obs.body) {
        return Vec::new();
    }
    let seen = String::from_utf8_lossy(&obs.body);
    let expected = match matcher {
        ResponseMatch::Substring(s) => format!("to contain {s:?}"),
        ResponseMatch::Regex(_) => format!("to match {text}"),
    };
    vec![fail("response", expected, format!("{seen:?}"))]
}

/// `tls.insecure`: accepts any certificate, still checking the handshake
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_is_built_once_per_distinct_setting() {
        let configs = TlsConfigs::default();
        let insecure = ClientTls {
            insecure: true,
            ..ClientTls::default()
        };
        let mut alpn = Vec::new();
        for _ in 0..3 {
            configs.get(&insecure, false).unwrap();
            alpn = configs.get(&insecure, true).unwrap().alpn_protocols.clone();
        }
        assert_eq!(configs.builds(), 2);
        assert_eq!(alpn, [b"h2".to_vec()]);
        let bad_ca = ClientTls {
            ca: Some("not pem".into()),
            ..ClientTls::default()
        };
        for _ in 0..2 {
            let e = configs.get(&bad_ca, false).unwrap_err();
            assert_eq!(e.message, "tls: client setup: ca: no PEM certificate found");
        }
        assert_eq!(configs.builds(), 3);
    }
}
