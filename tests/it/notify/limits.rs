//! Rate limits: a burst of incidents drains at the channel's limit, in order,
//! without losing or repeating a message.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uptimeping::daemon::store::ResultRow;
use uptimeping::spec::{Check, Kind, Spec, remote};

use super::failure;
use super::harness::{Db, eventually, quick, receiver, start};

const INCIDENTS: usize = 500;
/// The channel's limit: 100 a second, so a burst of 100 and then one every 10 ms.
const PER_SECOND: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_incidents_is_paced_by_the_channel_limit_and_none_is_lost() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.put(json!({"kind": "Channel", "name": "hook", "type": "webhook", "rate_limit": format!("{PER_SECOND}/s"),
        "webhook": {"url": format!("{url}/hook"), "method": "POST", "format": "json"}}))
        .await;
    let mut batch = Vec::new();
    for i in 0..INCIDENTS {
        let spec = json!({"kind": "Check", "name": format!("svc-{i:03}"), "type": "http", "target": "https://svc.example/",
            "alert": {"channels": ["hook"], "failure_threshold": 1}});
        db.put(spec.clone()).await;
        let Spec::Check(c) = remote::parse_stored(Kind::Check, &spec).expect("valid") else {
            unreachable!()
        };
        let c: Arc<Check> = Arc::new(c);
        let row = ResultRow {
            tenant: db.tenant,
            check: c.name.clone(),
            result: failure(&c.name),
        };
        batch.push((row, c));
    }
    db.store.record(batch).await.expect("record");

    // No tenant-wide limit here: the channel's is the one under test.
    let options = uptimeping::daemon::notify::Options {
        tenant_rate: None,
        ..quick(3)
    };
    let running = start(db.notifier(options));
    eventually("every notification delivered", || {
        let seen = rx.seen();
        async move { (seen.len() >= INCIDENTS).then_some(()) }
    })
    .await;
    // Anything sent twice would arrive a little later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await;
    let seen = rx.seen();
    assert_eq!(seen.len(), INCIDENTS, "each message once");

    let keys: BTreeSet<String> = seen
        .iter()
        .map(|s| s.headers["idempotency-key"].clone())
        .collect();
    assert_eq!(keys.len(), INCIDENTS, "no message repeated");
    let checks: BTreeSet<String> = seen
        .iter()
        .map(|s| s.json()["check"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(checks.len(), INCIDENTS, "no incident left out");

    // The limit held: in any one second at most the burst plus a second's worth.
    let times: Vec<_> = seen.iter().map(|s| s.at).collect();
    let most_in_a_second = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && t.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        most_in_a_second <= 2 * PER_SECOND,
        "{most_in_a_second} messages within one second"
    );
    // And it cannot have been faster than the limit allows: after the burst of 100,
    // 400 more at 10 ms apart take at least 4 s.
    let first = *times.iter().min().unwrap();
    let last = *times.iter().max().unwrap();
    eprintln!(
        "{INCIDENTS} messages in {:?}; at most {most_in_a_second} within one second",
        last.duration_since(first)
    );
    assert!(
        last.duration_since(first) >= Duration::from_millis(3_900),
        "{INCIDENTS} messages in {:?}",
        last.duration_since(first)
    );
    let deferred: u64 = db
        .metrics
        .render(
            Default::default(),
            0,
            uptimeping::daemon::metrics::Format::Text,
        )
        .lines()
        .filter(|l| l.starts_with("uptime_notifications_rate_limited_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64;
    // Rows reached after the limit freed again go straight through; the rest waited.
    assert!(deferred > 0, "the metric counts rows held back");
}
