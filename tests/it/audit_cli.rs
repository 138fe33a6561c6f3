//! The audit log from the other ends: `uptimeping audit list` (table and JSON),
//! applies of a watched directory (actor `watch`), and chat-button presses
//! (actors `telegram:@name` and `slack:@name`; a wrong secret is a refused request).

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::audit::{actions, audit, key_actor};
use crate::daemon_support::{Daemon, Receiver, Target, cli, wait_for};

#[test]
fn audit_list_prints_a_table_and_json_with_filters() {
    let d = Daemon::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = "kind: Check\nname: shop\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\n";
    d.apply("repo", yaml);
    d.post("/api/v1/checks/shop/pause", &json!({}));

    let run = cli(&d, dir.path(), &["audit", "list", "--since", "1h"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "AT", "(UTC)", "TENANT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "SOURCE", "DETAIL"
        ]
    );
    let actor = key_actor("bootstrap-admin", &d.key);
    let pause: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        pause[2..],
        ["default", &actor, "check.pause", "shop", "ok", "127.0.0.1"]
    );
    assert!(lines[2].contains(" apply "), "{}", lines[2]);
    assert!(
        lines[2].contains("create=1 update=0 delete=0 unchanged=0"),
        "{}",
        lines[2]
    );

    let run = cli(
        &d,
        dir.path(),
        &["audit", "list", "--action", "check.*", "-o", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = run.json();
    assert_eq!(
        listed,
        Value::Array(audit(&d, &d.key, "action=check.*")),
        "{}",
        run.stdout
    );
    assert_eq!(listed[0]["action"], "check.pause");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    // A limit smaller than the log says there are more, on stderr.
    let run = cli(
        &d,
        dir.path(),
        &["audit", "list", "--limit", "1", "-o", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json().as_array().map(Vec::len), Some(1));
    assert!(run.stderr.contains("there are more"), "{}", run.stderr);

    let run = cli(&d, dir.path(), &["audit", "list", "--since", "yesterday"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("neither a duration"), "{}", run.stderr);
    let run = cli(&d, dir.path(), &["audit", "list", "--help"]);
    for action in [
        "apply",
        "incident.ack",
        "session.reuse",
        "request",
        "--since",
    ] {
        assert!(run.stdout.contains(action), "{action}: {}", run.stdout);
    }
}

#[test]
fn applies_of_a_watched_directory_are_recorded_as_watch() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("checks.yaml"),
        "kind: Check\nname: watched\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\n",
    )
    .expect("write");
    let d = Daemon::start(&["--watch", dir.path().to_str().expect("utf-8")]);
    let entry = wait_for("the watch apply in the audit log", || {
        audit(&d, &d.key, "actor=watch").into_iter().next()
    });
    assert_eq!(entry["action"], "apply");
    assert_eq!(entry["tenant"], "default");
    assert_eq!(entry["outcome"], "ok");
    assert_eq!(
        entry["target"],
        format!("watch:{}", dir.path().display()).as_str()
    );
    assert_eq!(entry["detail"]["create"], 1);
    assert_eq!(entry["detail"]["changes"], json!(["create Check/watched"]));
    // No client address: the daemon did it of itself.
    assert!(entry.get("source").is_none(), "{entry}");
}

const SLACK_SECRET: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
const TELEGRAM_SECRET: &str = "tg-secret-77-tg-secret-77";

fn slack_signature(timestamp: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SLACK_SECRET.as_bytes()).expect("hmac");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn chat_button_presses_are_recorded_as_their_chat_user() {
    let d = Daemon::start(&[]);
    let (target, slack) = (Target::start(), Receiver::start());
    let (bot, bot_url) = crate::notify::telegram::bot_api_blocking();
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{channels: [slack, tg], failure_threshold: 1}}\n\
         ---\nkind: Channel\nname: slack\ntype: slack\nslack: {{webhook_url: \"{}\", signing_secret: {SLACK_SECRET}}}\n\
         ---\nkind: Channel\nname: tg\ntype: telegram\ntelegram: {{bot_token: \"42:XYZ\", chat_id: \"-1001\", api_url: \"{bot_url}\", webhook_secret: {TELEGRAM_SECRET}}}\n",
        target.url(),
        slack.url()
    );
    d.apply("repo", &yaml);
    target.set_healthy(false);
    d.run_check("shop");

    // Slack: acknowledge.
    let opened = wait_for("the Slack message", || slack.hooks().into_iter().next());
    let actions_block = &opened.body["attachments"][0]["blocks"][3];
    let value = actions_block["elements"][0]["value"]
        .as_str()
        .expect("value")
        .to_string();
    let incident: i64 = value.trim_start_matches("ack:").parse().expect("id");
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U123", "username": "bob"},
        "response_url": slack.url(),
        "message": {"text": opened.body["text"], "attachments": opened.body["attachments"]},
        "actions": [{"action_id": "acknowledge", "block_id": actions_block["block_id"], "value": value}],
    });
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let now = chrono::Utc::now().timestamp().to_string();
    let res = Daemon::client()
        .post(format!("{}/api/v1/integrations/slack/default/slack", d.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &now)
        .header("x-slack-signature", slack_signature(&now, &body))
        .body(body)
        .send()
        .expect("press");
    assert_eq!(res.status().as_u16(), 200);

    // Telegram: resolve, from the message the bot sent.
    let sent = wait_for("the Telegram message", || {
        bot.calls_to("sendMessage").into_iter().next()
    });
    // The mock Bot API numbers a message after its call: the first is 101.
    let first = bot
        .calls()
        .iter()
        .position(|c| c.path.ends_with("/sendMessage"))
        .expect("a sendMessage call");
    let message_id = 101 + first as i64;
    let update = json!({"update_id": 1, "callback_query": {
        "id": "cb-1", "from": {"id": 4242, "username": "alice"}, "data": format!("resolve:{incident}"),
        "message": {"message_id": message_id, "chat": {"id": -1001}, "text": sent.body["text"]}}});
    let press = |secret: &str| {
        Daemon::client()
            .post(format!("{}/api/v1/integrations/telegram/default/tg", d.url))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&update)
            .send()
            .expect("press")
            .status()
            .as_u16()
    };
    // A guess at the secret is a refused request, of no tenant.
    assert_eq!(press("a-guess-at-the-secret"), 401);
    assert_eq!(press(TELEGRAM_SECRET), 200);
    let refused = audit(&d, &d.key, "outcome=refused");
    assert_eq!(actions(&refused), ["request"]);
    assert_eq!(refused[0]["actor"], "anonymous");
    assert_eq!(refused[0]["source"], "127.0.0.1");
    assert!(refused[0].get("tenant").is_none(), "{}", refused[0]);
    assert_eq!(
        refused[0]["detail"],
        json!({"method": "POST", "path": "/api/v1/integrations/telegram/default/tg", "status": 401})
    );
    assert!(!refused[0].to_string().contains("a-guess"));
    assert_eq!(
        d.get(&format!("/api/v1/incidents/{incident}"))["status"],
        "resolved"
    );

    let entries = audit(&d, &d.key, "action=incident.*");
    assert_eq!(actions(&entries), ["incident.resolve", "incident.ack"]);
    let who: Vec<&str> = entries
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(who, ["telegram:@alice", "slack:@bob"]);
    for e in &entries {
        assert_eq!(e["tenant"], "default");
        assert_eq!(e["source"], "127.0.0.1");
        assert_eq!(e["target"], incident.to_string().as_str());
        assert_eq!(e["detail"]["check"], "shop");
    }

    // A press on the incident now resolved is tried and failed: recorded so.
    let late = json!({"update_id": 2, "callback_query": {
        "id": "cb-2", "from": {"id": 4242, "username": "alice"}, "data": format!("ack:{incident}"),
        "message": {"message_id": message_id, "chat": {"id": -1001}, "text": sent.body["text"]}}});
    let status = Daemon::client()
        .post(format!("{}/api/v1/integrations/telegram/default/tg", d.url))
        .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
        .json(&late)
        .send()
        .expect("press")
        .status()
        .as_u16();
    assert_eq!(status, 200);
    let failed = audit(&d, &d.key, "outcome=failed");
    assert_eq!(actions(&failed), ["incident.ack"]);
    assert_eq!(failed[0]["actor"], "telegram:@alice");
    assert_eq!(failed[0]["tenant"], "default");
    assert_eq!(failed[0]["target"], incident.to_string().as_str());
    assert_eq!(
        (&failed[0]["detail"]["status"], &failed[0]["detail"]["code"]),
        (&json!(409), &json!("conflict"))
    );
}
