//! Deliveries that go wrong: retried, given up on, or not attempted at all.

use std::time::Duration;

use serde_json::json;
use uptimeping::daemon::notify::Options;
use uptimeping::daemon::notify::retry::RetryPolicy;
use uptimeping::spec::Kind;

use super::harness::{Db, Reply, eventually, quick, receiver, reply, settled, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_honouring_retry_after_and_sent_once() {
    let busy = Reply {
        status: 429,
        retry_after: Some("1"),
        body: "",
    };
    let (rx, url) = receiver(&[reply(500), busy]).await;
    let db = Db::new().await;
    db.webhook(&url, json!({})).await;
    let id = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    let running = start(db.notifier(quick(4)));
    let n = settled(&db.store, id, |n| n.status != "pending").await;
    running.stop().await;

    assert_eq!(n.status, "sent");
    assert_eq!(n.attempts, 3);
    assert_eq!(n.last_error, None);
    assert!(n.sent_at.is_some());
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|s| s.headers["idempotency-key"] == n.idempotency_key)
    );
    let waited = seen[2].at - seen[1].at;
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_fail_at_once_and_repeated_server_errors_give_up() {
    let refused = Reply {
        status: 400,
        retry_after: None,
        body: "bad\npayload",
    };
    let (rx, url) = receiver(&[refused, reply(503), reply(503), reply(503)]).await;
    let db = Db::new().await;
    db.webhook(&format!("{url}/secret-path"), json!({})).await;
    let notifier = db.notifier(quick(3));
    let first = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    let n = notifier.deliver_now(first).await.expect("deliver");
    assert_eq!((n.status.as_str(), n.attempts), ("failed", 1));
    assert_eq!(
        n.last_error.as_deref(),
        Some("webhook: HTTP 400: bad payload")
    );
    assert_eq!(rx.seen().len(), 1);

    let second = eventually("a fresh test key", || async {
        let id = db
            .store
            .queue_test(db.tenant, "hook".into())
            .await
            .expect("queue");
        (id != first).then_some(id)
    })
    .await;
    let running = start(notifier.clone());
    let n = settled(&db.store, second, |n| n.status != "pending").await;
    running.stop().await;
    assert_eq!((n.status.as_str(), n.attempts), ("failed", 3));
    assert_eq!(
        n.last_error.as_deref(),
        Some("webhook: HTTP 503 (gave up after 3 attempts)")
    );
    assert_eq!(rx.seen().len(), 4);
    let metrics = db.metrics.render(
        Default::default(),
        0,
        uptimeping::daemon::metrics::Format::Text,
    );
    assert!(
        metrics.contains(r#"uptime_notifications_failed_total{tenant="1",provider="webhook"} 2"#),
        "{metrics}"
    );
    assert!(!metrics.contains("secret-path"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misconfigured_and_missing_channels_fail_without_sending() {
    let db = Db::new().await;
    // Stored without its `telegram:` section, as no apply would have let through.
    db.put(json!({"kind": "Channel", "name": "tg", "type": "telegram"}))
        .await;
    let (_rx, url) = receiver(&[]).await;
    db.webhook(&url, json!({})).await;
    let tg = db
        .store
        .queue_test(db.tenant, "tg".into())
        .await
        .expect("queue");
    let gone = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    db.delete(Kind::Channel, "hook").await;

    let notifier = db.notifier(quick(4));
    let n = notifier.deliver_now(tg).await.expect("deliver");
    assert_eq!((n.status.as_str(), n.attempts), ("failed", 1));
    assert_eq!(
        n.last_error.as_deref(),
        Some("channel `tg` has no `telegram:` section")
    );
    let n = notifier.deliver_now(gone).await.expect("deliver");
    assert_eq!((n.status.as_str(), n.attempts), ("failed", 1));
    assert_eq!(n.last_error.as_deref(), Some("no channel named `hook`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_does_not_answer_times_out_and_is_retried() {
    // Bound but never accepting: the kernel completes the handshake, nobody answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let db = Db::new().await;
    db.webhook(&format!("http://{addr}/t0k3n"), json!({})).await;
    let id = db
        .store
        .queue_test(db.tenant, "hook".into())
        .await
        .expect("queue");
    let options = Options {
        request_timeout: Duration::from_millis(300),
        retry: RetryPolicy::default(),
        ..quick(0)
    };
    let n = db.notifier(options).deliver_now(id).await.expect("deliver");
    assert_eq!((n.status.as_str(), n.attempts), ("pending", 1));
    assert_eq!(
        n.last_error.as_deref(),
        Some("webhook: timeout after 300ms")
    );
    drop(silent);
}
