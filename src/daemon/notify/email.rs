//! The email provider: one message per notification through the channel's SMTP relay
//! (lettre): STARTTLS (port 587 by default), implicit TLS (465) or plain (25, for
//! local relays), with authentication when a username is given. The message has the
//! rendered subject, a `Message-ID` made from the idempotency key (receivers can
//! de-duplicate), and `multipart/alternative` with the plain text and the HTML.
//!
//! Transient SMTP answers (4xx), no connection and timeouts are retried; permanent
//! answers (5xx: unknown recipient, authentication refused) are not.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message::Renderer;
use super::retry::{Cause, DeliveryError};
use crate::spec::{EmailSpec, SmtpSecurity};

/// The port for `security` when the channel names none.
pub fn default_port(security: SmtpSecurity) -> u16 {
    match security {
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    }
}

/// The message for a rendered notification.
pub fn build(
    spec: &EmailSpec,
    renderer: &Renderer<'_>,
    idempotency_key: &str,
) -> Result<Message, DeliveryError> {
    let mailbox = |field: &str, a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| DeliveryError::config(format!("email: `{field}` `{a}`: {e}")))
    };
    let mut builder = Message::builder()
        .from(mailbox("from", &spec.from)?)
        .subject(renderer.message().subject.clone())
        .message_id(Some(format!("<{idempotency_key}@uptimeping>")))
        .date_now();
    for to in &spec.to {
        builder = builder.to(mailbox("to", to)?);
    }
    let text = format!("{}\n", renderer.message().text);
    let html = renderer.html()?;
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| DeliveryError::config(format!("email: cannot build the message: {e}")))
}

fn tls_parameters(spec: &EmailSpec) -> Result<TlsParameters, DeliveryError> {
    let mut builder = TlsParameters::builder(spec.smtp_host.clone());
    if let Some(pem) = &spec.ca {
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| DeliveryError::config(format!("email: `ca`: {e}")))?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(cert);
    }
    if spec.insecure {
        builder = builder
            .dangerous_accept_invalid_certs(true)
            .dangerous_accept_invalid_hostnames(true);
    }
    builder
        .build_rustls()
        .map_err(|e| DeliveryError::config(format!("email: TLS settings: {e}")))
}

/// Sends `message` through the channel's relay within `timeout`.
pub async fn send(
    spec: &EmailSpec,
    message: Message,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let port = spec
        .smtp_port
        .unwrap_or_else(|| default_port(spec.security));
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(spec.smtp_host.clone())
            .port(port)
            .timeout(Some(timeout));
    builder = match spec.security {
        SmtpSecurity::None => builder.tls(Tls::None),
        SmtpSecurity::Starttls => builder.tls(Tls::Required(tls_parameters(spec)?)),
        SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls_parameters(spec)?)),
    };
    if let Some(user) = &spec.username {
        let password = spec.password.clone().unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    let transport = builder.build();
    match tokio::time::timeout(timeout, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(smtp_error(&e)),
        Err(_) => Err(DeliveryError::new(
            Cause::Timeout,
            format!("email: timeout after {}", crate::spec::Duration(timeout)),
        )),
    }
}

/// An SMTP failure in lettre's words, which quote the relay's reply (one that echoes
/// the `AUTH` line is masked by the notifier); permanent answers are not retried.
fn smtp_error(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let text = e.to_string();
    // lettre's words, one line.
    let message = format!(
        "email: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    if e.is_permanent() {
        DeliveryError::config(message)
    } else if e.is_timeout() {
        DeliveryError::new(Cause::Timeout, message)
    } else if e.is_transient() {
        DeliveryError::new(Cause::Broken, message)
    } else {
        DeliveryError::new(Cause::Connect, message)
    }
}
