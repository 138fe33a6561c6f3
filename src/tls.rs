//! Client TLS, shared by the spec (which checks a `tls:` section where it is
//! written), the probes (which connect with it) and anything else that dials out
//! with a CA bundle or a client certificate: reading the PEM files a check
//! names, building the rustls configuration they describe, and a bounded cache
//! of built configurations.
//!
//! A leaf: it uses nothing else of the crate, so every module may use it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hashlink::LruCache;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject as _};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// What a client configuration is built from: the PEM texts (already read from
/// their files) and whether to trust any certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Settings<'a> {
    pub insecure: bool,
    pub ca: Option<&'a str>,
    pub client_cert: Option<&'a str>,
    pub client_key: Option<&'a str>,
    /// With `ca`: trust a certificate it signed whatever name it is for
    /// (PostgreSQL's `sslmode=verify-ca`, where servers are often dialled by an
    /// address their certificate does not name).
    pub any_name: bool,
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

impl std::error::Error for TlsSetupError {}

/// The most a PEM file named in a check may weigh: a long chain is a few KiB,
/// so this is generous and still keeps a mistaken path (a disk image, a log)
/// from being read into memory.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a PEM file (a CA bundle, a client certificate or key), refusing one
/// larger than [`MAX_PEM_BYTES`] before reading it. Blocking: async callers run
/// it off their threads.
pub fn read_pem_file(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_PEM_BYTES {
        return Err(format!(
            "{size} bytes, more than the limit of {MAX_PEM_BYTES}"
        ));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The crypto provider reqwest uses too, so there is one TLS stack in the binary.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
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
pub fn build_config(settings: &Settings<'_>) -> Result<ClientConfig, TlsSetupError> {
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
    } else if let Some(ca) = settings.ca {
        let mut roots = RootCertStore::empty();
        for cert in pem_certs(ca).map_err(TlsSetupError::Ca)? {
            roots
                .add(cert)
                .map_err(|e| TlsSetupError::Ca(format!("not a usable CA certificate: {e}")))?;
        }
        if settings.any_name {
            let chain = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TlsSetupError::Ca(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(chain)))
        } else {
            builder.with_root_certificates(roots)
        }
    } else {
        builder.with_platform_verifier().map_err(other)?
    };
    match (settings.client_cert, settings.client_key) {
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

/// Distinct TLS settings kept at most. A deployment has a handful (one per CA
/// bundle or client certificate); past this the least recently used is dropped,
/// which costs a rebuild, never correctness.
pub const MAX_TLS_CONFIGS: usize = 256;

type Built = Result<Arc<ClientConfig>, String>;

/// TLS client configurations, built once per distinct setting: loading the
/// platform's trust roots or parsing a CA bundle costs far more than a handshake.
pub struct TlsConfigs {
    built: Mutex<LruCache<[u8; 32], Built>>,
    builds: AtomicUsize,
}

impl Default for TlsConfigs {
    fn default() -> Self {
        TlsConfigs {
            built: Mutex::new(LruCache::new(MAX_TLS_CONFIGS)),
            builds: AtomicUsize::new(0),
        }
    }
}

impl TlsConfigs {
    /// The configuration for `settings`, offering ALPN `h2` when `h2` is set. The
    /// error is what is wrong with the settings, as [`TlsSetupError`] says it.
    pub fn get(&self, settings: &Settings<'_>, h2: bool) -> Built {
        let key = settings_key(settings, h2);
        let cached = self
            .built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(r) = cached {
            return r;
        }
        self.builds.fetch_add(1, Ordering::Relaxed);
        let r = build_config(settings)
            .map(|mut c| {
                if h2 {
                    c.alpn_protocols = vec![b"h2".to_vec()];
                }
                Arc::new(c)
            })
            .map_err(|e| e.to_string());
        self.built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, r.clone());
        r
    }

    /// How many configurations were built so far.
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }
}

/// A digest of everything that shapes a configuration, so that PEM text is not
/// kept twice and a key is not a map key.
fn settings_key(settings: &Settings<'_>, h2: bool) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([
        u8::from(settings.insecure),
        u8::from(h2),
        u8::from(settings.any_name),
    ]);
    for part in [settings.ca, settings.client_cert, settings.client_key] {
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

/// A chain verified against the given roots, whatever name its certificate is
/// for; everything else (expiry, signatures, usage) as the inner verifier has it.
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_is_built_once_per_distinct_setting() {
        let configs = TlsConfigs::default();
        let insecure = Settings {
            insecure: true,
            ..Settings::default()
        };
        let mut alpn = Vec::new();
        for _ in 0..3 {
            configs.get(&insecure, false).unwrap();
            alpn = configs.get(&insecure, true).unwrap().alpn_protocols.clone();
        }
        assert_eq!(configs.builds(), 2);
        assert_eq!(alpn, [b"h2".to_vec()]);
        let bad_ca = Settings {
            ca: Some("not pem"),
            ..Settings::default()
        };
        for _ in 0..2 {
            let e = configs.get(&bad_ca, false).unwrap_err();
            assert_eq!(e, "ca: no PEM certificate found");
        }
        assert_eq!(configs.builds(), 3);
    }

    #[test]
    fn the_least_recently_used_configuration_goes_at_the_bound() {
        let configs = TlsConfigs::default();
        // Distinct settings that fail fast: each CA text is a different key.
        let cas: Vec<String> = (0..=MAX_TLS_CONFIGS).map(|i| format!("ca {i}")).collect();
        let settings = |i: usize| Settings {
            ca: Some(&cas[i]),
            ..Settings::default()
        };
        for i in 0..MAX_TLS_CONFIGS {
            let _ = configs.get(&settings(i), false);
        }
        // Touch the first so that the second is the oldest.
        let _ = configs.get(&settings(0), false);
        assert_eq!(configs.builds(), MAX_TLS_CONFIGS);
        let _ = configs.get(&settings(MAX_TLS_CONFIGS), false);
        let _ = configs.get(&settings(0), false);
        assert_eq!(
            configs.builds(),
            MAX_TLS_CONFIGS + 1,
            "the recent one stays"
        );
        let _ = configs.get(&settings(1), false);
        assert_eq!(configs.builds(), MAX_TLS_CONFIGS + 2, "the oldest went");
    }

    #[test]
    fn a_pem_file_past_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_PEM_BYTES + 1).unwrap();
        let e = read_pem_file(&big).unwrap_err();
        assert!(e.contains("more than the limit of 1048576"), "{e}");
        let small = dir.path().join("ca.pem");
        std::fs::write(&small, "text").unwrap();
        assert_eq!(read_pem_file(&small).unwrap(), "text");
    }
}
