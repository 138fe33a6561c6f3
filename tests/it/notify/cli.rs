//! `uptimeping channels get|test` against a real daemon, for every provider: a test
//! message through Telegram, Slack, email and a webhook, each to its own server on
//! 127.0.0.1, and the settings shown with secrets masked.

use serde_json::json;

use super::email::smtp_server;
use super::telegram::bot_api_blocking;
use crate::daemon_support::{Daemon, Receiver, plan_request};
use crate::support::Run;

/// The CLI against `d`, from a directory of its own.
fn cli(d: &Daemon, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    crate::daemon_support::cli(d, dir.path(), args)
}

#[test]
fn channels_test_sends_through_every_provider_and_get_masks_secrets() {
    let d = Daemon::start(&[]);
    let (bot, bot_url) = bot_api_blocking();
    let (slack, hook) = (Receiver::start(), Receiver::start());
    let (mailbox, smtp_port) = smtp_server(None);
    let yaml = format!(
        "kind: Channel\nname: tg\ntype: telegram\ntelegram: {{bot_token: \"42:SECRET-TOKEN\", chat_id: \"-1001\", api_url: \"{bot_url}\", webhook_secret: hush-hush-hush-hush}}\n---\n\
kind: Channel\nname: slack\ntype: slack\nslack: {{webhook_url: \"{}\"}}\n---\n\
kind: Channel\nname: mail\ntype: email\nemail: {{smtp_host: 127.0.0.1, smtp_port: {smtp_port}, security: none, from: alerts@example.com, to: [a@example.com, b@example.com]}}\n---\n\
kind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n",
        slack.url(),
        hook.url()
    );
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));

    for name in ["tg", "slack", "mail", "hook"] {
        let run = cli(&d, &["channels", "test", name]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(
            run.stdout,
            format!("Test notification through `{name}`: sent (1 attempt)\n")
        );
    }
    assert_eq!(bot.calls_to("sendMessage").len(), 1);
    assert_eq!(slack.hooks().len(), 1);
    assert_eq!(hook.events(), ["test"]);
    assert_eq!(
        mailbox.lock().unwrap()[0].to,
        ["a@example.com", "b@example.com"]
    );

    let json_out = cli(&d, &["channels", "get", "tg", "-o", "json"]);
    assert_eq!(json_out.code, 0, "{}", json_out.stderr);
    let doc = json_out.json();
    assert_eq!(doc["name"], "tg");
    assert_eq!(doc["type"], "telegram");
    assert_eq!(doc["sent"], 1);
    assert_eq!(doc["spec"]["telegram"]["bot_token"], "(sensitive value)");
    assert_eq!(
        doc["spec"]["telegram"]["webhook_secret"],
        "(sensitive value)"
    );
    assert_eq!(doc["spec"]["telegram"]["chat_id"], "-1001");

    let table = cli(&d, &["channels", "get", "tg"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(!table.stdout.contains("SECRET-TOKEN"), "{}", table.stdout);
    assert!(!table.stdout.contains("hush-hush"), "{}", table.stdout);
    assert!(
        table.stdout.contains("bot_token: (sensitive value)"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("\nSent:     1\n"), "{}", table.stdout);

    let missing = cli(&d, &["channels", "get", "nope"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no channel named `nope`"),
        "{}",
        missing.stderr
    );
}
