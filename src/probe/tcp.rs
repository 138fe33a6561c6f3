//! One TCP attempt: connect, TLS if asked, send if asked, then read until the
//! expected response shows (or can no longer show), the peer closes, `max_bytes`
//! arrive or time runs out. The check's timeout bounds all of it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig};

use super::compiled::TcpProbe;
use super::errors::{AttemptError, ErrorKind};
use super::expect::{Failure, fail};
use super::observed::Observed;
use super::scan::{Scanner, Verdict};
use crate::spec::{ClientTls, Expect, ResponseMatch, split_host_port};
use crate::tls::TlsConfigs;

/// Without `expect.response`, how long to wait for a first reply (a banner, or the
/// answer to `send`) before calling the port up anyway: many services, databases
/// among them, say nothing until spoken to, and a port check should stay quick.
pub const SILENT_PEER_WAIT: Duration = Duration::from_secs(1);
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;

/// The client configuration for `settings` from `tls`'s cache, offering ALPN
/// `h2` when `h2` is set; a setting that cannot be built fails the attempt as TLS.
pub(super) fn client_config(
    tls: &TlsConfigs,
    settings: &ClientTls,
    h2: bool,
) -> Result<Arc<ClientConfig>, AttemptError> {
    tls.get(&settings.settings(), h2)
        .map_err(|e| AttemptError::new(ErrorKind::Tls, format!("tls: client setup: {e}")))
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
    let connector = TlsConnector::from(client_config(tls, settings, false)?);
    let stream = match timeout_at(deadline, connector.connect(name.clone(), stream)).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_setting_fails_the_attempt_as_tls() {
        let configs = TlsConfigs::default();
        let bad_ca = ClientTls {
            ca: Some("not pem".into()),
            ..ClientTls::default()
        };
        let e = client_config(&configs, &bad_ca, false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls);
        assert_eq!(e.message, "tls: client setup: ca: no PEM certificate found");
    }
}
