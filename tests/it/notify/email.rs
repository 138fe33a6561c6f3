//! Email through a real SMTP server (mailin-embedded) on 127.0.0.1: STARTTLS with a
//! private CA and AUTH PLAIN, implicit TLS (through a TLS front, as the server speaks
//! only STARTTLS), or plain for a local relay; the message's headers and both parts
//! of its `multipart/alternative` body.

use std::sync::{Arc, Mutex};

use mail_parser::{MessageParser, MimeHeaders};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig, response};
use serde_json::{Value, json};
use uptimeping::spec::{Kind, Spec, remote};

use super::harness::{Db, quick, settled, start};
use super::{failure, record};

/// One message as the server got it.
#[derive(Debug, Clone)]
pub(super) struct Mail {
    from: String,
    pub(super) to: Vec<String>,
    authenticated_as: Option<String>,
    data: Vec<u8>,
}

/// The server's handler; cloned per connection, the mailbox shared.
#[derive(Clone)]
struct Recorder {
    mailbox: Arc<Mutex<Vec<Mail>>>,
    current: Option<Mail>,
    user: Option<String>,
}

const USER: &str = "alerts@example.com";
const PASSWORD: &str = "smtp-pass-5e1f";

impl Handler for Recorder {
    fn auth_plain(&mut self, _authz: &str, authn: &str, password: &str) -> Response {
        if authn == USER && password == PASSWORD {
            self.user = Some(authn.to_string());
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Mail {
            from: from.to_string(),
            to: to.to_vec(),
            authenticated_as: self.user.clone(),
            data: Vec::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = &mut self.current {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(m) = self.current.take() {
            self.mailbox.lock().unwrap().push(m);
        }
        response::OK
    }
}

/// An SMTP server on a fresh port, serving until the test process ends; with a
/// certificate for STARTTLS (and AUTH, which the server allows only after it) when
/// `tls` holds the leaf's PEM files.
pub(super) fn smtp_server(
    tls: Option<(&std::path::Path, &std::path::Path)>,
) -> (Arc<Mutex<Vec<Mail>>>, u16) {
    let mailbox: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let handler = Recorder {
        mailbox: Arc::clone(&mailbox),
        current: None,
        user: None,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = Server::new(handler);
    server
        .with_name("mx.test")
        .with_num_threads(2)
        .with_tcp_listener(listener);
    if let Some((cert, key)) = tls {
        server
            .with_ssl(SslConfig::SelfSigned {
                cert_path: cert.display().to_string(),
                key_path: key.display().to_string(),
            })
            .unwrap()
            .with_auth(AuthMechanism::Plain);
    }
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (mailbox, port)
}

async fn email_channel(db: &Db, email: Value) {
    db.put(json!({"kind": "Channel", "name": "mail", "type": "email", "email": email}))
        .await;
}

fn header<'a>(raw: &'a str, name: &str) -> Vec<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_auth_and_both_parts_reach_a_real_smtp_server() {
    let pki = crate::servers::pki(std::time::Duration::from_secs(3600));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let (mailbox, port) = smtp_server(Some((&cert, &key)));

    let db = Db::new().await;
    email_channel(
        &db,
        json!({"smtp_host": "127.0.0.1", "smtp_port": port, "security": "starttls",
            "username": USER, "password": PASSWORD, "from": "uptimeping <alerts@example.com>",
            "to": ["platform@example.com", "sre@example.com"], "ca": pki.ca_pem}),
    )
    .await;
    let spec = json!({"kind": "Check", "name": "payments-api", "type": "http", "target": "https://payments.example/health",
        "alert": {"channels": ["mail"], "failure_threshold": 1}});
    db.put(spec.clone()).await;
    let Ok(Spec::Check(check)) = remote::parse_stored(Kind::Check, &spec) else {
        panic!("not a check")
    };
    let check = Arc::new(check);
    let mut result = failure("payments-api");
    result.error = Some("got <b>503</b> & more".into());
    record(&db, &check, result).await;
    let incident = db
        .store
        .open_incident_of(db.tenant, "payments-api".into())
        .await
        .unwrap()
        .expect("opened");
    let rows = db
        .store
        .incident_notifications(db.tenant, incident.id)
        .await
        .unwrap();
    let running = start(db.notifier(quick(3)));
    let n = settled(&db.store, rows[0].id, |n| n.status != "pending").await;
    running.stop().await;
    assert_eq!(n.status, "sent", "{n:?}");

    let mails = mailbox.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    // AUTH succeeded, which this server allows only after STARTTLS.
    assert_eq!(mail.authenticated_as.as_deref(), Some(USER));
    assert_eq!(mail.from, "alerts@example.com");
    assert_eq!(mail.to, ["platform@example.com", "sre@example.com"]);

    let raw = String::from_utf8(mail.data.clone()).unwrap();
    assert_eq!(header(&raw, "From"), ["uptimeping <alerts@example.com>"]);
    assert_eq!(
        header(&raw, "To"),
        ["platform@example.com, sre@example.com"]
    );
    assert_eq!(header(&raw, "Subject"), ["[ERROR] payments-api is down"]);
    assert_eq!(
        header(&raw, "Message-ID"),
        [format!("<{}@uptimeping>", n.idempotency_key).as_str()]
    );
    assert_eq!(header(&raw, "Date").len(), 1);

    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert!(parsed.date().is_some());
    let to: Vec<&str> = parsed
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["platform@example.com", "sre@example.com"]);
    let root = parsed.root_part().content_type().unwrap();
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    let text_part = parsed.text_bodies().next().unwrap();
    let ct = text_part.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert_eq!(
        text_part.text_contents().unwrap(),
        "payments-api (https://payments.example/health): got <b>503</b> & more — open for 0s, 1 failure\r\n"
    );
    let html_part = parsed.html_bodies().next().unwrap();
    let ct = html_part.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("html")));
    let html = html_part.text_contents().unwrap().replace("\r\n", "\n");
    let id = incident.id;
    assert_eq!(
        html,
        format!(
            r#"<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>[ERROR] payments-api is down</h2>
<p>payments-api (https://payments.example/health): got &lt;b&gt;503&lt;/b&gt; &amp; more — open for 0s, 1 failure</p>
<table cellpadding="4">
<tr><th align="left">Check</th><td>payments-api</td></tr>
<tr><th align="left">Target</th><td>https://payments.example/health</td></tr>
<tr><th align="left">Incident</th><td>#{id}, open, error</td></tr>
<tr><th align="left">Error</th><td>got &lt;b&gt;503&lt;/b&gt; &amp; more</td></tr>
<tr><th align="left">Open for</th><td>0s</td></tr>
</table>
</body></html>"#
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_local_relay_gets_the_test_message_and_starttls_is_never_skipped() {
    let (mailbox, port) = smtp_server(None);
    let db = Db::new().await;
    email_channel(
        &db,
        json!({"smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
            "from": "alerts@example.com", "to": ["sre@example.com"]}),
    )
    .await;
    let id = db.store.queue_test(db.tenant, "mail".into()).await.unwrap();
    let running = start(db.notifier(quick(3)));
    let n = settled(&db.store, id, |n| n.status != "pending").await;
    running.stop().await;
    assert_eq!(n.status, "sent", "{n:?}");
    let mails = mailbox.lock().unwrap().clone();
    let raw = String::from_utf8(mails[0].data.clone()).unwrap();
    assert_eq!(header(&raw, "Subject"), ["[TEST] uptimeping test message"]);
    assert_eq!(mails[0].authenticated_as, None);

    // STARTTLS against a server that offers none is refused, not sent in the clear.
    email_channel(
        &db,
        json!({"smtp_host": "127.0.0.1", "smtp_port": port, "security": "starttls",
            "from": "alerts@example.com", "to": ["sre@example.com"]}),
    )
    .await;
    let id = db.store.queue_test(db.tenant, "mail".into()).await.unwrap();
    let running = start(db.notifier(quick(2)));
    let n = settled(&db.store, id, |n| n.status == "failed").await;
    running.stop().await;
    assert!(
        n.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("email: ")),
        "{n:?}"
    );
    assert_eq!(mailbox.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_untrusted_ca_is_refused() {
    let pki = crate::servers::pki(std::time::Duration::from_secs(3600));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let (mailbox, port) = smtp_server(Some((&cert, &key)));
    let other = crate::servers::pki(std::time::Duration::from_secs(3600));
    let db = Db::new().await;
    email_channel(
        &db,
        json!({"smtp_host": "127.0.0.1", "smtp_port": port, "security": "starttls",
            "username": USER, "password": PASSWORD, "from": "alerts@example.com",
            "to": ["sre@example.com"], "ca": other.ca_pem}),
    )
    .await;
    let id = db.store.queue_test(db.tenant, "mail".into()).await.unwrap();
    let running = start(db.notifier(quick(2)));
    let n = settled(&db.store, id, |n| n.status == "failed").await;
    running.stop().await;
    let error = n.last_error.unwrap_or_default();
    assert!(error.starts_with("email: "), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");
    assert!(mailbox.lock().unwrap().is_empty());
}

/// Implicit TLS in front of a plain SMTP server, as a TLS-terminating relay would be:
/// accepts TLS with `pki`'s leaf and forwards the bytes to `backend`.
async fn tls_front(pki: &crate::servers::Pki, backend: u16) -> u16 {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = vec![CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers_through_a_tls_port() {
    let pki = crate::servers::pki(std::time::Duration::from_secs(3600));
    let (mailbox, plain_port) = smtp_server(None);
    let port = tls_front(&pki, plain_port).await;
    let db = Db::new().await;
    email_channel(
        &db,
        json!({"smtp_host": "127.0.0.1", "smtp_port": port, "security": "tls",
            "from": "alerts@example.com", "to": ["sre@example.com"], "ca": pki.ca_pem}),
    )
    .await;
    let id = db.store.queue_test(db.tenant, "mail".into()).await.unwrap();
    let running = start(db.notifier(quick(2)));
    let n = settled(&db.store, id, |n| n.status != "pending").await;
    running.stop().await;
    assert_eq!(n.status, "sent", "{n:?}");
    let mails = mailbox.lock().unwrap().clone();
    let raw = String::from_utf8(mails[0].data.clone()).unwrap();
    assert_eq!(header(&raw, "Subject"), ["[TEST] uptimeping test message"]);
    assert_eq!(header(&raw, "To"), ["sre@example.com"]);
}
