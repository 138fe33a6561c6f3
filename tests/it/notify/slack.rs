//! Slack: the exact incoming-webhook body (Block Kit, colour and emoji by severity,
//! mrkdwn escaping) against a receiver on 127.0.0.1, and signed button presses
//! through a real daemon: acknowledged and the message replaced, bad signatures
//! refused.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uptimeping::spec::{Kind, Spec, remote};

use super::harness::{Db, quick, receiver, settled, start};
use super::{failure, record};
use crate::daemon_support::{Daemon, Receiver, Target, plan_request, wait_for};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

async fn check_on(db: &Db, severity: &str) -> Arc<uptimeping::spec::Check> {
    let spec = json!({"kind": "Check", "name": "payments-api", "type": "http", "target": "https://payments.example/health",
        "alert": {"channels": ["slack"], "failure_threshold": 1, "severity": severity}});
    db.put(spec.clone()).await;
    match remote::parse_stored(Kind::Check, &spec).expect("a valid check") {
        Spec::Check(c) => Arc::new(c),
        other => panic!("not a check: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_gets_block_kit_with_escaped_mrkdwn_and_buttons() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.put(json!({"kind": "Channel", "name": "slack", "type": "slack",
        "slack": {"webhook_url": format!("{url}/services/T0/B0/xyz"), "signing_secret": SIGNING_SECRET}}))
        .await;
    let check = check_on(&db, "critical").await;
    let mut result = failure("payments-api");
    result.error = Some("got <html> & *bold* _x_".into());
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
    settled(&db.store, rows[0].id, |n| n.status == "sent").await;
    running.stop().await;

    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    // The buttons carry a token of this message, recorded with its incident.
    let block_id = seen[0].json()["attachments"][0]["blocks"][3]["block_id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = block_id.strip_prefix("uptimeping-actions:").unwrap();
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{block_id}"
    );
    let sent = db
        .store
        .sent_message(db.tenant, "slack".into(), "slack".into(), token.into())
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(sent.incident_id, Some(incident.id));
    assert_eq!(seen[0].path, "/services/T0/B0/xyz");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    let id = incident.id;
    let subject = "[CRITICAL] payments-api is down";
    assert_eq!(
        seen[0].json(),
        json!({
            "text": subject,
            "attachments": [{
                "color": "#8b0000",
                "fallback": subject,
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": format!(":rotating_light: {subject}"), "emoji": true}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "payments-api (https://payments.example/health): got &lt;html&gt; &amp; *bold* _x_ — open for 0s, 1 failure"}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("*payments-api* · http · incident #{id} · open · critical")}]},
                    {"type": "actions", "block_id": block_id, "elements": [
                        {"type": "button", "action_id": "acknowledge", "style": "primary", "value": format!("ack:{id}"), "text": {"type": "plain_text", "text": "Acknowledge"}},
                        {"type": "button", "action_id": "resolve", "style": "danger", "value": format!("resolve:{id}"), "text": {"type": "plain_text", "text": "Resolve"}},
                    ]},
                ],
            }],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_signing_secret_there_are_no_buttons_and_the_test_message_is_grey() {
    let (rx, url) = receiver(&[]).await;
    let db = Db::new().await;
    db.put(
        json!({"kind": "Channel", "name": "slack", "type": "slack", "slack": {"webhook_url": url}}),
    )
    .await;
    let id = db
        .store
        .queue_test(db.tenant, "slack".into())
        .await
        .unwrap();
    let running = start(db.notifier(quick(3)));
    settled(&db.store, id, |n| n.status == "sent").await;
    running.stop().await;
    let body = rx.seen()[0].json();
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "#8d8d8d");
    assert_eq!(
        attachment["blocks"][0]["text"]["text"],
        ":test_tube: [TEST] uptimeping test message"
    );
    let types: Vec<&str> = attachment["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["header", "section", "context"]);
}

fn sign(timestamp: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The form body of a press of the button `value` in the actions block `block_id`.
fn press_body(slack: &Receiver, message: &Value, block_id: &str, value: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U123", "username": "bob", "name": "bob"},
        "response_url": slack.url(),
        "message": {"text": message["text"], "attachments": message["attachments"]},
        "actions": [{"action_id": "acknowledge", "block_id": block_id, "value": value}],
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

fn press(d: &Daemon, body: &str, timestamp: &str, signature: &str) -> (u16, Value) {
    press_at(d, "default/slack", body, timestamp, signature)
}

fn press_at(d: &Daemon, at: &str, body: &str, timestamp: &str, signature: &str) -> (u16, Value) {
    let res = Daemon::client()
        .post(format!("{}/api/v1/integrations/slack/{at}", d.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(body.to_string())
        .send()
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

#[test]
fn a_signed_press_acknowledges_and_replaces_the_message() {
    let d = Daemon::start(&[]);
    let (target, slack) = (Target::start(), Receiver::start());
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{channels: [slack], failure_threshold: 1}}\n---\nkind: Channel\nname: slack\ntype: slack\nslack: {{webhook_url: \"{}\", signing_secret: {SIGNING_SECRET}}}\n",
        target.url(),
        slack.url()
    );
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
    target.set_healthy(false);
    d.post("/api/v1/checks/shop/run", &json!({}));
    let opened = wait_for("the opened message", || slack.hooks().into_iter().next());
    let value = opened.body["attachments"][0]["blocks"][3]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let incident: i64 = value.trim_start_matches("ack:").parse().unwrap();
    let block_id = opened.body["attachments"][0]["blocks"][3]["block_id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = press_body(&slack, &opened.body, &block_id, &value);
    let now = chrono::Utc::now().timestamp().to_string();

    // Refused: a wrong signature, a signature over another body, a stale timestamp.
    let stale = (chrono::Utc::now().timestamp() - 600).to_string();
    for (ts, sig) in [
        (now.clone(), "v0=0000".to_string()),
        (now.clone(), sign(&now, "payload=%7B%7D")),
        (stale.clone(), sign(&stale, &body)),
    ] {
        let (status, answer) = press(&d, &body, &ts, &sig);
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "unauthorized");
    }
    assert_eq!(
        d.get(&format!("/api/v1/incidents/{incident}"))["status"],
        "open"
    );

    let (status, _) = press(&d, &body, &now, &sign(&now, &body));
    assert_eq!(status, 200);
    let after = d.get(&format!("/api/v1/incidents/{incident}"));
    assert_eq!(after["status"], "acknowledged");
    assert_eq!(after["acknowledged_by"], "slack:@bob");

    // The message is replaced through response_url: the buttons left are Resolve only,
    // under a line saying who acknowledged.
    let replaced = wait_for("the replacement", || {
        slack
            .hooks()
            .into_iter()
            .find(|h| h.body["replace_original"] == true)
    });
    let blocks = replaced.body["attachments"][0]["blocks"]
        .as_array()
        .unwrap();
    let original = opened.body["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[..3], original[..3]);
    assert_eq!(
        blocks[3],
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "👀 Acknowledged by @bob"}]})
    );
    assert_eq!(
        blocks[4],
        json!({"type": "actions", "block_id": block_id, "elements": [
            {"type": "button", "action_id": "resolve", "style": "danger", "value": format!("resolve:{incident}"), "text": {"type": "plain_text", "text": "Resolve"}}]})
    );
    assert_eq!(blocks.len(), 5);
    assert_eq!(replaced.body["text"], opened.body["text"]);
}

/// A signed press is acted on only for the incident its message was about, in the
/// channel (and tenant) that sent it: whoever holds the signing secret can put any
/// incident id and any block id in a payload.
#[test]
fn a_signed_press_about_another_incident_or_from_another_channel_changes_nothing() {
    let d = Daemon::start(&[]);
    let (target, slack) = (Target::start(), Receiver::start());
    let channel = |name: &str| {
        format!(
            "kind: Channel\nname: {name}\ntype: slack\nslack: {{webhook_url: \"{}\", signing_secret: {SIGNING_SECRET}}}\n",
            slack.url()
        )
    };
    let check = |name: &str, channels: &str| {
        format!(
            "kind: Check\nname: {name}\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{channels: [{channels}], failure_threshold: 1}}\n",
            target.url()
        )
    };
    // `quiet` alerts nobody: no message about its incident ever goes to Slack.
    let yaml = [
        check("shop", "slack"),
        check("quiet", ""),
        channel("slack"),
        channel("other"),
    ]
    .join("---\n");
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
    let created = d.post("/api/v1/tenants", &json!({"name": "team-b"}));
    let key_b = created["api_key"].as_str().unwrap().to_string();
    let (status, _) = d.call_as(
        &key_b,
        "POST",
        "/api/v1/apply",
        Some(&plan_request(
            "repo",
            &[check("theirs", ""), channel("slack")].join("---\n"),
            json!({}),
        )),
    );
    assert_eq!(status, 200);
    target.set_healthy(false);
    d.post("/api/v1/checks/shop/run", &json!({}));
    d.post("/api/v1/checks/quiet/run", &json!({}));
    d.call_as(&key_b, "POST", "/api/v1/checks/theirs/run", None);
    let opened = wait_for("the opened message", || slack.hooks().into_iter().next());
    let block_id = opened.body["attachments"][0]["blocks"][3]["block_id"]
        .as_str()
        .unwrap()
        .to_string();
    let incident_of = |key: &str, check: &str| -> i64 {
        let (_, list) = d.call_as(
            key,
            "GET",
            &format!("/api/v1/incidents?check={check}"),
            None,
        );
        list[0]["id"].as_i64().unwrap()
    };
    let (shop, quiet, theirs) = (
        incident_of(&d.key, "shop"),
        incident_of(&d.key, "quiet"),
        incident_of(&key_b, "theirs"),
    );
    let statuses = || {
        (
            d.get(&format!("/api/v1/incidents/{shop}"))["status"].clone(),
            d.get(&format!("/api/v1/incidents/{quiet}"))["status"].clone(),
            d.call_as(&key_b, "GET", &format!("/api/v1/incidents/{theirs}"), None)
                .1["status"]
                .clone(),
        )
    };
    let all_open = (json!("open"), json!("open"), json!("open"));
    assert_eq!(statuses(), all_open);

    let forged = [
        // The real message's token, another incident of the same tenant.
        ("default/slack", block_id.clone(), format!("ack:{quiet}")),
        (
            "default/slack",
            block_id.clone(),
            format!("resolve:{quiet}"),
        ),
        // Another tenant's incident through this channel.
        ("default/slack", block_id.clone(), format!("ack:{theirs}")),
        // No token, or a made-up one.
        (
            "default/slack",
            "uptimeping-actions".into(),
            format!("ack:{shop}"),
        ),
        (
            "default/slack",
            format!("uptimeping-actions:{}", "0".repeat(32)),
            format!("ack:{shop}"),
        ),
        // The right message and incident, pressed through another channel or tenant
        // (signed with that channel's secret, here the same one).
        ("default/other", block_id.clone(), format!("ack:{shop}")),
        ("team-b/slack", block_id.clone(), format!("ack:{shop}")),
        ("team-b/slack", block_id.clone(), format!("ack:{theirs}")),
    ];
    for (at, block, value) in &forged {
        let body = press_body(&slack, &opened.body, block, value);
        let now = chrono::Utc::now().timestamp().to_string();
        let (status, answer) = press_at(&d, at, &body, &now, &sign(&now, &body));
        assert_eq!(status, 200, "{at} {block} {value}: {answer}");
        assert_eq!(statuses(), all_open, "{at} {block} {value}");
    }
    // Each refusal is told to the presser, and nothing is replaced.
    let refusals = wait_for("the refusals", || {
        let hooks: Vec<_> = slack
            .hooks()
            .into_iter()
            .filter(|h| h.body["response_type"] == "ephemeral")
            .collect();
        (hooks.len() == forged.len()).then_some(hooks)
    });
    for r in &refusals {
        assert_eq!(
            r.body["text"],
            "This button does not belong to a message uptimeping sent about that incident"
        );
    }
    assert!(
        !slack
            .hooks()
            .iter()
            .any(|h| h.body["replace_original"] == true)
    );

    // The press the message was made for still works, and so does its Resolve after.
    let body = press_body(&slack, &opened.body, &block_id, &format!("ack:{shop}"));
    let now = chrono::Utc::now().timestamp().to_string();
    assert_eq!(press(&d, &body, &now, &sign(&now, &body)).0, 200);
    assert_eq!(
        statuses(),
        (json!("acknowledged"), json!("open"), json!("open"))
    );
    let replaced = wait_for("the replacement", || {
        slack
            .hooks()
            .into_iter()
            .find(|h| h.body["replace_original"] == true)
    });
    let resolve = &replaced.body["attachments"][0]["blocks"][4];
    assert_eq!(resolve["block_id"], block_id.as_str());
    let body = press_body(
        &slack,
        &replaced.body,
        &block_id,
        resolve["elements"][0]["value"].as_str().unwrap(),
    );
    let now = chrono::Utc::now().timestamp().to_string();
    assert_eq!(press(&d, &body, &now, &sign(&now, &body)).0, 200);
    assert_eq!(
        statuses(),
        (json!("resolved"), json!("open"), json!("open"))
    );
}
