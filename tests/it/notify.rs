//! The notifier against a real store on a temp file and a real webhook receiver.

mod cli;
mod echo;
mod email;
mod failures;
pub mod harness;
mod limits;
mod policy;
mod slack;
pub(crate) mod telegram;
mod templates;

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uptimeping::daemon::notify::Options;
use uptimeping::daemon::notify::retry::RetryPolicy;
use uptimeping::daemon::store::ResultRow;
use uptimeping::probe::{ErrorKind, ProbeResult};
use uptimeping::spec::{Kind, Spec, remote};

use harness::{Db, eventually, quick, receiver, serve, settled, start};

const SECRET: &str = "hook-secret-9f2c";

fn failure(check: &str) -> ProbeResult {
    ProbeResult {
        name: check.into(),
        check_type: "http".into(),
        target: "https://payments.example/health".into(),
        up: false,
        latency_ms: 3.5,
        connect_ms: None,
        status_code: None,
        grpc_code: None,
        error: Some("connection refused".into()),
        error_kind: Some(ErrorKind::Connect),
        failures: Vec::new(),
        attempts: 1,
        started_at: chrono::Utc::now(),
        cert_expires_at: None,
        body_excerpt: None,
        body_truncated: false,
    }
}

fn success(check: &str) -> ProbeResult {
    ProbeResult {
        up: true,
        status_code: Some(200),
        grpc_code: None,
        error: None,
        error_kind: None,
        ..failure(check)
    }
}

/// A check on `hook` that opens an incident after two failures.
async fn payments_check(db: &Db) -> Arc<uptimeping::spec::Check> {
    let spec = json!({"kind": "Check", "name": "payments-api", "type": "http", "target": "https://payments.example/health",
        "labels": {"team": "payments"}, "alert": {"channels": ["hook"], "failure_threshold": 2}});
    db.put(spec.clone()).await;
    match remote::parse_stored(Kind::Check, &spec).expect("a valid check") {
        Spec::Check(c) => Arc::new(c),
        other => panic!("not a check: {other:?}"),
    }
}

async fn record(db: &Db, check: &Arc<uptimeping::spec::Check>, result: ProbeResult) {
    let row = ResultRow {
        tenant: db.tenant,
        check: check.name.clone(),
        result,
    };
    db.store
        .record(vec![(row, Arc::clone(check))])
        .await
        .expect("record");
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_events_reach_the_webhook_as_signed_json() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.webhook(
        &format!("{url}/hooks/t0k3n"),
        json!({"secret": SECRET, "headers": {"authorization": "Bearer abc"}}),
    )
    .await;
    let check = payments_check(&db).await;
    record(&db, &check, failure("payments-api")).await;
    record(&db, &check, failure("payments-api")).await;
    let incident = db
        .store
        .open_incident_of(db.tenant, "payments-api".into())
        .await
        .expect("read")
        .expect("an incident opened");
    record(&db, &check, success("payments-api")).await;
    let rows = db
        .store
        .incident_notifications(db.tenant, incident.id)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");

    let running = start(db.notifier(quick(4)));
    for row in &rows {
        settled(&db.store, row.id, |n| n.status == "sent").await;
    }
    running.stop().await;

    let mut seen = rx.seen();
    assert_eq!(seen.len(), 2);
    seen.sort_by_key(|s| s.json()["event"] == "resolved");
    let (opened, resolved) = (&seen[0], &seen[1]);
    assert_eq!(opened.method, "POST");
    assert_eq!(opened.path, "/hooks/t0k3n");
    let h = &opened.headers;
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        h["user-agent"],
        concat!("uptimeping/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(h["idempotency-key"], rows[0].idempotency_key);
    assert_eq!(h["x-uptimeping-event"], "opened");
    assert_eq!(h["authorization"], "Bearer abc");
    assert_eq!(
        h["x-uptimeping-signature"],
        format!("sha256={}", hmac_hex(SECRET, &opened.body))
    );
    assert_eq!(
        resolved.headers["x-uptimeping-signature"],
        format!("sha256={}", hmac_hex(SECRET, &resolved.body))
    );

    let body = opened.json();
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "idempotency_key",
        "event",
        "actor",
        "at",
        "check",
        "incident",
        "result",
        "message",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(body["idempotency_key"], rows[0].idempotency_key);
    assert_eq!(body["event"], "opened");
    assert_eq!(body["actor"], "system");
    assert!(
        body["at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    assert_eq!(
        body["check"],
        json!({"name": "payments-api", "type": "http", "target": "https://payments.example/health", "labels": {"team": "payments"}, "description": null})
    );
    let inc = &body["incident"];
    assert_eq!(inc["id"], incident.id);
    assert_eq!(inc["status"], "open");
    assert_eq!(inc["severity"], "error");
    assert_eq!(inc["error"], "connection refused");
    assert_eq!(inc["status_code"], Value::Null);
    assert_eq!(inc["count"], 2);
    assert_eq!(inc["dedup_hash"], incident.dedup_hash);
    assert_eq!(inc["resolved_at"], Value::Null);
    assert_eq!(body["result"]["up"], false);
    assert_eq!(body["result"]["error"], "connection refused");
    assert_eq!(
        body["message"],
        json!({"subject": "[ERROR] payments-api is down", "text": "payments-api (https://payments.example/health): connection refused — open for 0s, 2 failures"})
    );

    let body = resolved.json();
    assert_eq!(body["event"], "resolved");
    assert_eq!(body["incident"]["status"], "resolved");
    assert_eq!(body["result"]["up"], true);
    assert_eq!(
        body["message"]["subject"],
        "[RESOLVED] payments-api is back up"
    );
    assert!(
        db.metrics
            .render(
                Default::default(),
                0,
                uptimeping::daemon::metrics::Format::Text
            )
            .contains(r#"uptime_notifications_sent_total{tenant="1",provider="webhook"} 2"#),
        "{}",
        db.metrics.render(
            Default::default(),
            0,
            uptimeping::daemon::metrics::Format::Text
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_channels_get_a_notification_document_rendered_by_their_template() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.put(json!({"kind": "Template", "name": "short", "subject": "{{ check.name }}: {{ event }} by {{ actor }}"}))
        .await;
    db.put(
        json!({"kind": "Channel", "name": "hook", "type": "webhook", "template": "short",
        "webhook": {"url": url, "method": "PUT", "format": "xml"}}),
    )
    .await;
    let id = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    let notifier = db.notifier(quick(4));
    let sent = notifier.deliver_now(id).await.expect("deliver");
    assert_eq!(sent.status, "sent");

    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].headers["content-type"], "application/xml");
    assert!(!seen[0].headers.contains_key("x-uptimeping-signature"));
    let xml = seen[0].text();
    let head = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<notification><idempotency_key>{}</idempotency_key><event>test</event><actor>api</actor>",
        sent.idempotency_key
    );
    assert!(xml.starts_with(&head), "{xml}");
    assert!(
        xml.contains("<message><subject>uptimeping-test: test by api</subject><text>this is a test message from uptimeping</text></message></notification>"),
        "{xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_not_sent_before_a_restart_is_sent_after_it() {
    // Hold a port, then let it go: connections to it are refused until the receiver
    // binds it again after the "restart".
    let addr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    let db = Db::new().await;
    db.webhook(&format!("http://{addr}/hook"), json!({})).await;
    let id = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    let slow_retries = Options {
        retry: RetryPolicy::default(),
        ..quick(0)
    };
    let running = start(db.notifier(slow_retries.clone()));
    let n = settled(&db.store, id, |n| n.attempts >= 1).await;
    running.stop().await;
    assert_eq!(n.status, "pending");
    assert_eq!(n.last_error.as_deref(), Some("webhook: connection refused"));

    let path = db.path();
    let metrics = Arc::clone(&db.metrics);
    let Db { dir, store, .. } = db;
    store.flush().await.expect("flush");
    drop(store);
    let store = uptimeping::daemon::store::Store::open(&path).expect("reopen");
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let rx = serve(listener, &[]);
    let notifier =
        uptimeping::daemon::notify::Notifier::with_options(store.clone(), metrics, slow_retries)
            .expect("notifier");
    let running = start(notifier);
    let n = settled(&store, id, |n| n.status == "sent").await;
    running.stop().await;
    assert_eq!(n.attempts, 2);
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["idempotency-key"], n.idempotency_key);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_now_and_the_loop_never_send_a_row_twice() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.webhook(&url, json!({})).await;
    let notifier = db.notifier(quick(4));
    let running = start(notifier.clone());
    let first = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    let n = notifier.deliver_now(first).await.expect("deliver");
    assert_eq!((n.status.as_str(), n.attempts), ("sent", 1));
    assert!(n.sent_at.is_some());

    let second = eventually("a fresh test key", || async {
        let id = db
            .store
            .queue_test(db.tenant, "hook".into())
            .await
            .expect("queue");
        (id != first).then_some(id)
    })
    .await;
    notifier.wake();
    settled(&db.store, second, |n| n.status == "sent").await;
    running.stop().await;
    let keys: Vec<String> = rx
        .seen()
        .iter()
        .map(|s| s.headers["idempotency-key"].clone())
        .collect();
    let first_key = db
        .store
        .notification(first)
        .await
        .expect("row")
        .idempotency_key;
    let second_key = db
        .store
        .notification(second)
        .await
        .expect("row")
        .idempotency_key;
    assert_eq!(keys, vec![first_key, second_key]);
}
