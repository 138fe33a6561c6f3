//! The alert policy over a real store: maintenance windows and dependencies hold
//! alerts back (results and incidents are still recorded) and release them when
//! they end; reminders; `send_on_resolved`.

use std::sync::Arc;

use serde_json::{Value, json};
use uptimeping::daemon::store::now_ms;
use uptimeping::incident::Action;
use uptimeping::spec::{Check, Kind, Spec, remote};

use super::harness::Db;
use super::{failure, record, success};

const HOUR_MS: i64 = 3_600_000;

async fn check(db: &Db, spec: Value) -> Arc<Check> {
    let mut full =
        json!({"kind": "Check", "type": "http", "target": "https://payments.example/health"});
    for (k, v) in spec.as_object().expect("an object") {
        full[k] = v.clone();
    }
    db.put(full.clone()).await;
    match remote::parse_stored(Kind::Check, &full).expect("a valid check") {
        Spec::Check(c) => Arc::new(c),
        other => panic!("not a check: {other:?}"),
    }
}

/// A check on the `hook` channel that opens an incident after two failures.
async fn alerting(db: &Db, name: &str, extra: Value) -> Arc<Check> {
    let mut alert = json!({"channels": ["hook"], "failure_threshold": 2});
    for (k, v) in extra.as_object().expect("an object") {
        alert[k] = v.clone();
    }
    let mut spec = json!({"name": name, "alert": alert});
    if let Some(deps) = extra.get("depends_on") {
        spec["depends_on"] = deps.clone();
        spec["alert"].as_object_mut().unwrap().remove("depends_on");
    }
    check(db, spec).await
}

async fn fail_twice(db: &Db, c: &Arc<Check>) -> i64 {
    record(db, c, failure(&c.name)).await;
    record(db, c, failure(&c.name)).await;
    db.store
        .open_incident_of(db.tenant, c.name.clone())
        .await
        .expect("read")
        .expect("an incident opened")
        .id
}

/// Queued notifications of an incident, as `event` names.
async fn queued(db: &Db, incident: i64) -> Vec<String> {
    db.store
        .incident_notifications(db.tenant, incident)
        .await
        .expect("rows")
        .into_iter()
        .map(|n| n.event)
        .collect()
}

async fn events(db: &Db, incident: i64) -> Vec<(String, Value)> {
    db.store
        .incident_events(db.tenant, incident)
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .collect()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_holds_the_alert_and_releases_it_when_the_outage_outlasts_it() {
    let db = Db::new().await;
    db.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let api = alerting(&db, "payments-api", json!({})).await;
    let now = now_ms();
    db.put(
        json!({"kind": "Maintenance", "name": "db-upgrade", "checks": ["payments-api"],
        "start": rfc3339(now - 60_000), "end": rfc3339(now + HOUR_MS), "timezone": "UTC"}),
    )
    .await;

    let id = fail_twice(&db, &api).await;
    // The incident is there and the results are kept; nothing is queued to send.
    let results = db
        .store
        .results(db.tenant, "payments-api".into(), 10, None, None)
        .await
        .expect("results");
    assert_eq!(results.items.len(), 2);
    assert!(queued(&db, id).await.is_empty());
    let held = events(&db, id).await;
    assert_eq!(held[0].0, "opened");
    assert_eq!(
        held[1],
        (
            "held".to_string(),
            json!({"event": "opened", "reason": "maintenance `db-upgrade`"})
        )
    );

    // Still inside the window: still held.
    db.store.alert_due(now_ms()).await.expect("policy pass");
    assert!(queued(&db, id).await.is_empty());

    // The window is over and the check is still down: the opening goes out once.
    let after = now + 2 * HOUR_MS;
    let released = db.store.alert_due(after).await.expect("policy pass");
    assert_eq!(
        released.iter().map(|t| t.event).collect::<Vec<_>>(),
        ["released"]
    );
    db.store.alert_due(after + 1000).await.expect("policy pass");
    assert_eq!(queued(&db, id).await, ["opened"]);

    record(&db, &api, success("payments-api")).await;
    assert_eq!(queued(&db, id).await, ["opened", "resolved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_over_within_its_maintenance_window_sends_nothing() {
    let db = Db::new().await;
    db.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let api = alerting(&db, "payments-api", json!({})).await;
    let other = alerting(&db, "search", json!({})).await;
    // Every Sunday all day in Berlin, for checks labelled team=payments: make it
    // a window that is open now by choosing today's weekday.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%a")
        .to_string()
        .to_uppercase();
    db.put(json!({"kind": "Check", "name": "payments-api", "type": "http", "target": "https://payments.example/health",
        "labels": {"team": "payments"}, "alert": {"channels": ["hook"], "failure_threshold": 2}}))
        .await;
    db.put(
        json!({"kind": "Maintenance", "name": "weekly", "selector": {"team": "payments"},
        "schedule": format!("0 0 * * {today}"), "duration": "1d", "timezone": "Europe/Berlin"}),
    )
    .await;

    let id = fail_twice(&db, &api).await;
    record(&db, &api, success("payments-api")).await;
    assert!(
        queued(&db, id).await.is_empty(),
        "nothing about an outage nobody was told of"
    );
    let kinds: Vec<String> = events(&db, id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["opened", "held", "resolved"]);

    // A check the window does not select alerts as usual.
    let other_id = fail_twice(&db, &other).await;
    assert_eq!(queued(&db, other_id).await, ["opened"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_whose_dependency_is_down_alerts_only_if_it_stays_down_after() {
    let db = Db::new().await;
    db.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let gateway = alerting(&db, "gateway", json!({"failure_threshold": 1})).await;
    let api = alerting(&db, "api", json!({"depends_on": ["gateway"]})).await;
    let search = alerting(&db, "search", json!({"depends_on": ["gateway"]})).await;

    record(&db, &gateway, failure("gateway")).await;
    let gw = db
        .store
        .open_incident_of(db.tenant, "gateway".into())
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(queued(&db, gw).await, ["opened"], "the cause alerts");

    let api_id = fail_twice(&db, &api).await;
    let search_id = fail_twice(&db, &search).await;
    assert!(queued(&db, api_id).await.is_empty());
    assert_eq!(
        events(&db, api_id).await[1].1,
        json!({"event": "opened", "reason": "`gateway`, which it depends on, is down"})
    );
    db.store.alert_due(now_ms()).await.expect("policy pass");
    assert!(queued(&db, api_id).await.is_empty());

    // `search` recovers with the gateway; `api` does not.
    record(&db, &search, success("search")).await;
    record(&db, &gateway, success("gateway")).await;
    assert_eq!(queued(&db, gw).await, ["opened", "resolved"]);
    db.store.alert_due(now_ms()).await.expect("policy pass");
    assert_eq!(
        queued(&db, api_id).await,
        ["opened"],
        "still down on its own"
    );
    assert!(queued(&db, search_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_repeat_until_acknowledged_and_resolution_can_be_quiet() {
    let db = Db::new().await;
    db.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let api = alerting(
        &db,
        "payments-api",
        json!({"remind_every": "1h", "send_on_resolved": false}),
    )
    .await;
    let id = fail_twice(&db, &api).await;
    let now = now_ms();
    db.store.alert_due(now + HOUR_MS / 2).await.unwrap();
    assert_eq!(queued(&db, id).await, ["opened"]);
    db.store.alert_due(now + HOUR_MS + 1000).await.unwrap();
    assert_eq!(queued(&db, id).await, ["opened", "reminder"]);
    // The next one is an hour after the last message, not after the opening.
    db.store.alert_due(now + HOUR_MS + 60_000).await.unwrap();
    assert_eq!(queued(&db, id).await, ["opened", "reminder"]);
    db.store.alert_due(now + 2 * HOUR_MS + 2000).await.unwrap();
    assert_eq!(queued(&db, id).await, ["opened", "reminder", "reminder"]);

    db.store
        .act(
            db.tenant,
            id,
            Action::Acknowledge,
            "key:oncall".into(),
            None,
        )
        .await
        .unwrap();
    db.store.alert_due(now + 5 * HOUR_MS).await.unwrap();
    record(&db, &api, success("payments-api")).await;
    assert_eq!(
        queued(&db, id).await,
        ["opened", "reminder", "reminder", "acknowledged"],
        "no reminders once acknowledged; no message on resolving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_dependency_holds_nothing_back() {
    let db = Db::new().await;
    db.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let gateway = alerting(&db, "gateway", json!({"failure_threshold": 1})).await;
    let api = alerting(&db, "api", json!({"depends_on": ["gateway"]})).await;
    record(&db, &gateway, failure("gateway")).await;
    // Someone is working on the gateway and paused it: it says nothing about now.
    db.store
        .set_paused(db.tenant, "gateway".into(), true)
        .await
        .expect("pause");
    let id = fail_twice(&db, &api).await;
    assert_eq!(queued(&db, id).await, ["opened"]);
}

/// A secret in a field that is no string (a timeout from a variable) is masked in
/// messages, and masking it no longer stops them: the masked spec was decoded as a
/// check, which failed, and the incident went out to nobody.
#[tokio::test]
async fn a_check_whose_secret_is_a_duration_still_alerts_with_its_secrets_masked() {
    use uptimeping::daemon::store::{Edit, StoredResource};
    let db = Db::new().await;
    db.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let spec = json!({"kind": "Check", "name": "payments-api", "type": "http", "target": "https://payments.example/health?token=t0p",
        "timeout": "3s", "alert": {"channels": ["hook"], "failure_threshold": 2}});
    let mut resource = StoredResource::from_json(spec.clone()).expect("a check");
    resource.secrets = ["/timeout".to_string(), "/target".to_string()].into();
    let (outcome, _) = db
        .store
        .transact_state(db.tenant, move |_| Ok(((), vec![Edit::Upsert(resource)])))
        .await
        .expect("write resource");
    outcome.expect("applied");
    let api = match remote::parse_stored(Kind::Check, &spec).expect("a valid check") {
        Spec::Check(c) => Arc::new(c),
        other => panic!("not a check: {other:?}"),
    };

    let id = fail_twice(&db, &api).await;
    assert_eq!(queued(&db, id).await, ["opened"]);
    let rows = db.store.due_notifications(10).await.expect("rows");
    let payload = &rows.first().expect("the opening is queued").payload;
    let mask = uptimeping::spec::secrets::MASK;
    assert_eq!(payload["check"]["target"], mask, "{payload}");
    assert_eq!(payload["result"]["target"], mask, "{payload}");
    assert!(!payload.to_string().contains("t0p"), "{payload}");
}
