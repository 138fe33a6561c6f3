//! Telegram: the exact `sendMessage` requests (HTML and MarkdownV2, escaping
//! included) against a Bot API server on 127.0.0.1, `retry_after` honoured, and
//! button presses through a real daemon: acknowledged, message edited, wrong secret
//! refused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uptimeping::spec::{Kind, Spec, remote};

use super::harness::{Db, quick, settled, start};
use super::{failure, record};
use crate::daemon_support::{Daemon, Target, plan_request, wait_for};

/// A call the Bot API server got.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
pub struct BotApi {
    calls: Mutex<Vec<Call>>,
    /// Answers to give to `sendMessage` first: (status, body).
    script: Mutex<VecDeque<(u16, Value)>>,
}

impl BotApi {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.ends_with(&format!("/{method}")))
            .collect()
    }
}

async fn bot_answer(State(api): State<Arc<BotApi>>, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_string();
    let n = {
        let mut calls = api.calls.lock().unwrap();
        calls.push(Call {
            path: path.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        calls.len()
    };
    if path.ends_with("/sendMessage")
        && let Some((status, answer)) = api.script.lock().unwrap().pop_front()
    {
        return (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response();
    }
    let result = if path.ends_with("/sendMessage") || path.ends_with("/editMessageText") {
        json!({"message_id": 100 + n, "chat": {"id": body["chat_id"]}, "text": "as shown"})
    } else {
        json!(true)
    };
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn bot_app(api: &Arc<BotApi>) -> Router {
    Router::new()
        .fallback(bot_answer)
        .with_state(Arc::clone(api))
}

/// A Bot API server on the test's runtime; its base URL.
async fn bot_api(script: Vec<(u16, Value)>) -> (Arc<BotApi>, String) {
    let api = Arc::new(BotApi {
        script: Mutex::new(script.into()),
        ..BotApi::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = bot_app(&api);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (api, url)
}

/// A Bot API server for blocking tests (on the shared runtime); its base URL.
pub(crate) fn bot_api_blocking() -> (Arc<BotApi>, String) {
    let api = Arc::new(BotApi::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = bot_app(&api);
    crate::servers::runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = axum::serve(listener, app).await;
    });
    (api, url)
}

/// An error with every character HTML and MarkdownV2 treat specially.
const NASTY: &str = "got <b>503</b> & \"x\" _*[]()~`>#+-=|{}.!\\";

async fn check_on(db: &Db, channels: &[&str]) -> Arc<uptimeping::spec::Check> {
    let spec = json!({"kind": "Check", "name": "pay_ments.api", "type": "http", "target": "https://payments.example/health",
        "alert": {"channels": channels, "failure_threshold": 1}});
    db.put(spec.clone()).await;
    match remote::parse_stored(Kind::Check, &spec).expect("a valid check") {
        Spec::Check(c) => Arc::new(c),
        other => panic!("not a check: {other:?}"),
    }
}

async fn telegram_channel(db: &Db, name: &str, api_url: &str, extra: Value) {
    let mut tg = json!({"bot_token": "123:ABC", "chat_id": "-100200", "api_url": api_url});
    for (k, v) in extra.as_object().unwrap() {
        tg[k] = v.clone();
    }
    db.put(json!({"kind": "Channel", "name": name, "type": "telegram", "telegram": tg}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_message_escapes_values_for_html_and_markdown_v2() {
    let (api, url) = bot_api(Vec::new()).await;
    let db = Db::new().await;
    telegram_channel(
        &db,
        "tg-html",
        &url,
        json!({"webhook_secret": "s3cret-s3cret-s3cret"}),
    )
    .await;
    telegram_channel(&db, "tg-md", &url, json!({"parse_mode": "MarkdownV2"})).await;
    let check = check_on(&db, &["tg-html", "tg-md"]).await;
    let mut result = failure("pay_ments.api");
    result.error = Some(NASTY.into());
    record(&db, &check, result).await;
    let incident = db
        .store
        .open_incident_of(db.tenant, "pay_ments.api".into())
        .await
        .unwrap()
        .expect("opened");
    let rows = db
        .store
        .incident_notifications(db.tenant, incident.id)
        .await
        .unwrap();
    let running = start(db.notifier(quick(3)));
    for row in &rows {
        settled(&db.store, row.id, |n| n.status == "sent").await;
    }
    running.stop().await;

    let sent = api.calls_to("sendMessage");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|c| c.path == "/bot123:ABC/sendMessage"));
    let html = sent
        .iter()
        .find(|c| c.body["parse_mode"] == "HTML")
        .unwrap();
    let id = incident.id;
    assert_eq!(
        html.body,
        json!({
            "chat_id": "-100200",
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
            "text": "<b>[ERROR] pay_ments.api is down</b>\npay_ments.api (https://payments.example/health): got &lt;b&gt;503&lt;/b&gt; &amp; &quot;x&quot; _*[]()~`&gt;#+-=|{}.!\\ — open for 0s, 1 failure",
            "reply_markup": {"inline_keyboard": [[
                {"text": "Acknowledge", "callback_data": format!("ack:{id}")},
                {"text": "Resolve", "callback_data": format!("resolve:{id}")},
            ]]},
        })
    );
    // No webhook secret: no buttons, since nobody could answer them.
    let md = sent
        .iter()
        .find(|c| c.body["parse_mode"] == "MarkdownV2")
        .unwrap();
    assert_eq!(
        md.body,
        json!({
            "chat_id": "-100200",
            "parse_mode": "MarkdownV2",
            "link_preview_options": {"is_disabled": true},
            "text": "*\\[ERROR\\] pay\\_ments\\.api is down*\npay\\_ments\\.api \\(https://payments\\.example/health\\): got <b\\>503</b\\> & \"x\" \\_\\*\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!\\\\ — open for 0s, 1 failure",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_retried_after_that_long() {
    let too_many = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}});
    let (api, url) = bot_api(vec![(429, too_many)]).await;
    let db = Db::new().await;
    telegram_channel(&db, "tg", &url, json!({})).await;
    let id = db.store.queue_test(db.tenant, "tg".into()).await.unwrap();
    let running = start(db.notifier(quick(5)));
    let n = settled(&db.store, id, |n| n.status == "sent").await;
    running.stop().await;
    assert_eq!(n.attempts, 2);
    let sent = api.calls_to("sendMessage");
    assert_eq!(sent.len(), 2);
    let waited = sent[1].at - sent[0].at;
    // The test policy's backoff is at most 100 ms: only retry_after explains a second.
    assert!(
        waited >= std::time::Duration::from_millis(990),
        "retry_after was not honoured: {waited:?}"
    );
    assert_eq!(
        sent[1].body["text"],
        "<b>[TEST] uptimeping test message</b>\nthis is a test message from uptimeping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_fails_with_telegrams_words() {
    let refused =
        json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"});
    let (_api, url) = bot_api(vec![(400, refused)]).await;
    let db = Db::new().await;
    telegram_channel(&db, "tg", &url, json!({})).await;
    let id = db.store.queue_test(db.tenant, "tg".into()).await.unwrap();
    let running = start(db.notifier(quick(5)));
    let n = settled(&db.store, id, |n| n.status == "failed").await;
    running.stop().await;
    assert_eq!(n.attempts, 1);
    assert_eq!(
        n.last_error.as_deref(),
        Some("telegram: sendMessage: HTTP 400: Bad Request: chat not found")
    );
}

fn setup_yaml(target: &Target, bot_url: &str) -> String {
    format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{channels: [tg], failure_threshold: 1}}\n---\nkind: Channel\nname: tg\ntype: telegram\ntelegram: {{bot_token: \"42:XYZ\", chat_id: \"-1001\", api_url: \"{bot_url}\", webhook_secret: tg-secret-77-tg-secret-77}}\n",
        target.url()
    )
}

fn post_update(d: &Daemon, secret: Option<&str>, update: &Value) -> (u16, Value) {
    let mut req = Daemon::client()
        .post(format!("{}/api/v1/integrations/telegram/default/tg", d.url))
        .json(update);
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    let res = req.send().unwrap();
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

#[test]
fn a_button_press_acknowledges_the_incident_and_edits_the_message() {
    let d = Daemon::start(&["--public-url", "https://uptime.example"]);
    let target = Target::start();
    let (api, bot_url) = bot_api_blocking();
    d.post(
        "/api/v1/apply",
        &plan_request("repo", &setup_yaml(&target, &bot_url), json!({})),
    );
    target.set_healthy(false);
    d.post("/api/v1/checks/shop/run", &json!({}));
    let opened = wait_for("the opened message", || {
        api.calls_to("sendMessage").into_iter().next()
    });
    let incident = opened.body["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .trim_start_matches("ack:")
        .parse::<i64>()
        .unwrap();
    let text = opened.body["text"].as_str().unwrap().to_string();
    assert!(
        text.ends_with(&format!(
            "\n<a href=\"https://uptime.example/api/v1/incidents/{incident}\">Incident #{incident}</a>"
        )),
        "{text}"
    );
    let message_id = 100 + api.calls().len() as i64;
    let update = json!({"update_id": 9001, "callback_query": {
        "id": "cb-1", "from": {"id": 4242, "username": "alice"}, "data": format!("ack:{incident}"),
        "message": {"message_id": message_id, "chat": {"id": -1001}, "text": "as shown"}}});

    // A wrong or missing secret changes nothing.
    for secret in [Some("wrong"), None] {
        let (status, body) = post_update(&d, secret, &update);
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let before = d.get(&format!("/api/v1/incidents/{incident}"));
    assert_eq!(before["status"], "open");
    assert_eq!(api.calls().len(), 1);

    let (status, body) = post_update(&d, Some("tg-secret-77-tg-secret-77"), &update);
    assert_eq!((status, body), (200, json!({"ok": true})));
    let after = d.get(&format!("/api/v1/incidents/{incident}"));
    assert_eq!(after["status"], "acknowledged");
    assert_eq!(after["acknowledged_by"], "telegram:@alice");

    let answered = api.calls_to("answerCallbackQuery");
    assert_eq!(
        answered[0].body,
        json!({"callback_query_id": "cb-1", "text": format!("Acknowledged incident #{incident}")})
    );
    let edited = api.calls_to("editMessageText");
    assert_eq!(
        edited[0].body,
        json!({
            "chat_id": -1001,
            "message_id": message_id,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
            "text": format!("{text}\n\n👀 Acknowledged by @alice"),
            "reply_markup": {"inline_keyboard": [[{"text": "Resolve", "callback_data": format!("resolve:{incident}")}]]},
        })
    );
    // The acknowledgement goes out as a message of its own too.
    let ack = wait_for("the acknowledged message", || {
        api.calls_to("sendMessage").into_iter().nth(1)
    });
    assert!(
        ack.body["text"]
            .as_str()
            .unwrap()
            .starts_with("<b>[ACK] shop is acknowledged by telegram:@alice</b>"),
        "{}",
        ack.body
    );

    // Pressing Acknowledge again says why nothing happened.
    let (status, _) = post_update(&d, Some("tg-secret-77-tg-secret-77"), &update);
    assert_eq!(status, 200);
    let answered = api.calls_to("answerCallbackQuery");
    assert_eq!(
        answered[1].body["text"],
        format!("incident {incident} is already acknowledged by telegram:@alice")
    );
    assert_eq!(api.calls_to("editMessageText").len(), 1);

    // Resolve, by someone without a username: the lines add up, the buttons go.
    let resolve = json!({"update_id": 9002, "callback_query": {
        "id": "cb-2", "from": {"id": 5151}, "data": format!("resolve:{incident}"),
        "message": {"message_id": message_id, "chat": {"id": -1001}, "text": "as shown"}}});
    let (status, _) = post_update(&d, Some("tg-secret-77-tg-secret-77"), &resolve);
    assert_eq!(status, 200);
    let after = d.get(&format!("/api/v1/incidents/{incident}"));
    assert_eq!(after["status"], "resolved");
    assert_eq!(after["resolved_by"], "telegram:5151");
    let edited = api.calls_to("editMessageText");
    assert_eq!(
        edited[1].body["text"],
        format!("{text}\n\n👀 Acknowledged by @alice\n\n✅ Resolved by 5151")
    );
    assert_eq!(
        edited[1].body["reply_markup"],
        json!({"inline_keyboard": []})
    );
}
