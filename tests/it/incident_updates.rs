//! Incident updates against a real daemon: posted with the CLI and the API, stored
//! as `update` events, sent once through each of the incident's channels (a webhook,
//! Slack and a Telegram Bot API, each a real server on 127.0.0.1) with links to the
//! public status page that lists the check; bounded, validated, refused to viewers,
//! held in maintenance, and kept as unsent notes once the incident is resolved.

use serde_json::{Value, json};

use crate::daemon_api::key_with_role;
use crate::daemon_support::{Daemon, Receiver, Target, wait_for};
use crate::notify::telegram::bot_api_blocking;

const PUBLIC_URL: &str = "https://uptime.example";

/// The check `shop` (label team: web) alerting `channels` at the first failure.
fn check(target: &Target, channels: &str) -> String {
    format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nlabels: {{team: web}}\nalert: {{channels: [{channels}], failure_threshold: 1}}\n",
        target.url()
    )
}

fn page(name: &str, slug: &str, group: &str, private: bool) -> String {
    let access = if private {
        "access: {token: page-token-1234567890}\n"
    } else {
        ""
    };
    format!(
        "---\nkind: StatusPage\nname: {name}\ntitle: {name}\nslug: {slug}\ngroups:\n  - name: Web\n    {group}\n{access}"
    )
}

fn apply(d: &Daemon, yaml: &str) {
    let applied = d.apply("repo", yaml);
    assert!(applied.get("error").is_none(), "{applied}");
}

/// Fails `shop` once, which opens an incident; its id.
fn open_incident(d: &Daemon, target: &Target) -> i64 {
    target.set_healthy(false);
    let run = d.run_check("shop");
    assert_eq!(run["up"], false, "{run}");
    let incidents = d.get("/api/v1/incidents?check=shop&status=open");
    incidents[0]["id"].as_i64().expect("an incident opened")
}

/// The incident's notifications once none is pending any more.
fn settled_notifications(d: &Daemon, id: i64) -> Vec<Value> {
    wait_for("every notification sent", || {
        let detail = d.get(&format!("/api/v1/incidents/{id}"));
        let list = detail["notifications"].as_array()?.clone();
        list.iter()
            .all(|n| n["status"] != "pending")
            .then_some(list)
    })
}

fn of_event<'a>(list: &'a [Value], event: &str) -> Vec<&'a Value> {
    list.iter().filter(|n| n["event"] == event).collect()
}

#[test]
pub(crate) fn an_update_is_stored_listed_and_sent_once_through_each_channel_linking_the_status_page()
 {
    let d = Daemon::start(&["--public-url", PUBLIC_URL]);
    let (target, hook, slack) = (Target::start(), Receiver::start(), Receiver::start());
    let (bot, bot_url) = bot_api_blocking();
    // A private page first by name, the public one that should win (by selector),
    // and a later public one listing the check by name.
    let yaml = format!(
        "{}---\nkind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n---\nkind: Channel\nname: slack\ntype: slack\nslack: {{webhook_url: \"{}\"}}\n---\nkind: Channel\nname: tg\ntype: telegram\ntelegram: {{bot_token: \"42:XYZ\", chat_id: \"-1001\", api_url: \"{bot_url}\"}}\n{}{}{}",
        check(&target, "hook, slack, tg"),
        hook.url(),
        slack.url(),
        page("aaa-private", "hidden", "checks: [shop]", true),
        page("public", "example", "selector: {team: web}", false),
        page("zzz", "later", "checks: [shop]", false),
    );
    apply(&d, &yaml);
    let id = open_incident(&d, &target);
    settled_notifications(&d, id);

    let dir = tempfile::tempdir().unwrap();
    let run = d
        .cli(dir.path())
        .args([
            "incidents",
            "update",
            &format!("#{id}"),
            "--status",
            "identified",
            "--message",
            "  A bad deploy; rolling it back.  ",
            "-o",
            "json",
        ])
        .run()
        .success();
    let event = run.json();
    assert_eq!(event["kind"], "update", "{event}");
    assert_eq!(event["incident_id"], id);
    assert_eq!(
        event["detail"],
        json!({"status": "identified", "message": "A bad deploy; rolling it back."})
    );
    assert!(
        event["actor"].as_str().unwrap().starts_with("key:"),
        "{event}"
    );

    let sent = settled_notifications(&d, id);
    let updates = of_event(&sent, "update");
    assert_eq!(updates.len(), 3, "one per channel: {sent:#?}");
    assert!(
        updates.iter().all(|n| n["status"] == "sent"),
        "{updates:#?}"
    );

    // The webhook: its own event, with the update's fields and texts.
    let hooks: Vec<Value> = hook
        .hooks()
        .into_iter()
        .map(|h| h.body)
        .filter(|b| b["event"] == "update")
        .collect();
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    assert_eq!(
        hooks[0]["update"],
        json!({"status": "identified", "message": "A bad deploy; rolling it back."})
    );
    assert_eq!(hooks[0]["message"]["subject"], "[UPDATE] shop: identified");
    // The default body links the incident on the public page, as the texts do.
    assert_eq!(
        hooks[0]["links"]["incident"],
        format!("{PUBLIC_URL}/status/example#incident-{id}")
    );
    assert_eq!(
        hooks[0]["links"]["status_page"],
        format!("{PUBLIC_URL}/status/example")
    );
    assert!(
        hooks[0]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("A bad deploy; rolling it back.\n— shop ("),
        "{}",
        hooks[0]["message"]
    );

    // Slack and Telegram: the text, and the link to the incident on the page.
    let anchor = format!("{PUBLIC_URL}/status/example#incident-{id}");
    let slack_updates: Vec<String> = slack
        .hooks()
        .into_iter()
        .map(|h| h.body.to_string())
        .filter(|b| b.contains("[UPDATE] shop: identified"))
        .collect();
    assert_eq!(slack_updates.len(), 1, "{slack_updates:#?}");
    assert!(
        slack_updates[0].contains(&format!("<{anchor}|Incident #{id}>")),
        "{}",
        slack_updates[0]
    );
    assert!(
        slack_updates[0].contains("A bad deploy; rolling it back."),
        "{}",
        slack_updates[0]
    );
    let tg_updates: Vec<Value> = bot
        .calls_to("sendMessage")
        .into_iter()
        .map(|c| c.body)
        .filter(|b| b["text"].as_str().unwrap_or("").contains("[UPDATE]"))
        .collect();
    assert_eq!(tg_updates.len(), 1, "{tg_updates:#?}");
    let text = tg_updates[0]["text"].as_str().unwrap();
    assert!(text.contains(&format!("href=\"{anchor}\"")), "{text}");
    assert!(text.contains("A bad deploy; rolling it back."), "{text}");
    // The opening's messages link the page too: the rule is for every event.
    let opened = bot.calls_to("sendMessage")[0].body["text"].to_string();
    assert!(opened.contains(&anchor), "{opened}");

    // A second update keeps the last status when none is given; `get` lists both.
    let again = d
        .cli(dir.path())
        .args([
            "incidents",
            "update",
            &id.to_string(),
            "-m",
            "Rollback half done",
        ])
        .run()
        .success();
    assert_eq!(
        again.stdout,
        format!("Incident #{id} has an update (identified).\n")
    );
    let got = d
        .cli(dir.path())
        .args(["incidents", "get", &id.to_string(), "-o", "json"])
        .run()
        .success();
    let events: Vec<Value> = got.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "update")
        .cloned()
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["detail"]["status"], "identified");
    assert_eq!(events[1]["detail"]["message"], "Rollback half done");
    let table = d
        .cli(dir.path())
        .args(["incidents", "get", &id.to_string()])
        .run();
    assert!(
        table
            .stdout
            .contains("identified: A bad deploy; rolling it back."),
        "{}",
        table.stdout
    );
    let sent = settled_notifications(&d, id);
    assert_eq!(of_event(&sent, "update").len(), 6, "{sent:#?}");
    assert_eq!(
        hook.events().iter().filter(|e| *e == "update").count(),
        2,
        "each update once: {:?}",
        hook.events()
    );
}

#[test]
fn updates_are_bounded_validated_refused_to_viewers_held_in_maintenance_and_unsent_once_resolved() {
    let d = Daemon::start(&["--public-url", PUBLIC_URL]);
    let (target, slack) = (Target::start(), Receiver::start());
    // Only a private page lists the check: links stay on the API.
    let base = format!(
        "{}---\nkind: Channel\nname: slack\ntype: slack\nslack: {{webhook_url: \"{}\"}}\n{}",
        check(&target, "slack"),
        slack.url(),
        page("private", "hidden", "checks: [shop]", true),
    );
    apply(&d, &base);
    let id = open_incident(&d, &target);
    let path = format!("/api/v1/incidents/{id}/updates");

    let (status, body) = d.call("POST", &path, Some(&json!({"message": "Looking into it"})));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["detail"]["status"], "investigating", "the default");
    let sent = settled_notifications(&d, id);
    assert_eq!(of_event(&sent, "update").len(), 1, "{sent:#?}");
    let update = slack
        .hooks()
        .into_iter()
        .map(|h| h.body.to_string())
        .find(|b| b.contains("[UPDATE]"))
        .expect("the update reached Slack");
    assert!(
        update.contains(&format!(
            "<{PUBLIC_URL}/api/v1/incidents/{id}|Incident #{id}>"
        )),
        "{update}"
    );
    assert!(!update.contains("/status/"), "{update}");

    // Messages out of bounds are 400; bodies of the wrong shape 422, as elsewhere.
    let long = "x".repeat(2001);
    let at_limit = "é".repeat(2000);
    for (body, want, says) in [
        (json!({"message": ""}), 400, "needs a message"),
        (json!({"message": " \n\t "}), 400, "needs a message"),
        (json!({"message": long}), 400, "at most 2000 characters"),
        (json!({"message": "a\u{7}b"}), 400, "control character"),
        (json!({"message": "ok", "status": "fixed"}), 422, "fixed"),
        (json!({"message": "ok", "colour": "red"}), 422, "colour"),
        (json!({"status": "identified"}), 422, "message"),
    ] {
        let (status, answer) = d.call("POST", &path, Some(&body));
        assert_eq!(status, want, "{body}: {answer}");
        assert!(answer.to_string().contains(says), "{body}: {answer}");
    }
    let (status, answer) = d.call("POST", &path, Some(&json!({"message": at_limit})));
    assert_eq!(status, 201, "2000 characters is within the limit: {answer}");
    let (status, answer) = d.call(
        "POST",
        "/api/v1/incidents/999999/updates",
        Some(&json!({"message": "x"})),
    );
    assert_eq!(status, 404, "{answer}");
    let viewer = key_with_role(&d, "viewer");
    let (status, answer) = d.call_as(&viewer, "POST", &path, Some(&json!({"message": "x"})));
    assert_eq!(status, 403, "{answer}");
    let operator = key_with_role(&d, "operator");
    let (status, answer) = d.call_as(
        &operator,
        "POST",
        &path,
        Some(&json!({"message": "Found it", "status": "identified"})),
    );
    assert_eq!(status, 201, "{answer}");
    let dir = tempfile::tempdir().unwrap();
    let bad = d
        .cli(dir.path())
        .args([
            "incidents",
            "update",
            &id.to_string(),
            "-m",
            "x",
            "--status",
            "fixed",
        ])
        .run()
        .expect_code(1);
    assert!(bad.stderr.contains("investigating"), "{}", bad.stderr);
    let settled = settled_notifications(&d, id);
    let before = of_event(&settled, "update").len();
    assert_eq!(before, 3, "{settled:#?}");

    // In maintenance an update is held, and the timeline says so.
    let now = chrono::Utc::now();
    let window = format!(
        "---\nkind: Maintenance\nname: deploy\ndescription: release\nchecks: [shop]\nstart: {}\nend: {}\n",
        (now - chrono::Duration::minutes(1)).to_rfc3339(),
        (now + chrono::Duration::hours(1)).to_rfc3339()
    );
    apply(&d, &format!("{base}{window}"));
    let (status, answer) = d.call("POST", &path, Some(&json!({"message": "Still on it"})));
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["detail"]["status"], "identified");
    let events = d.get(&format!("/api/v1/incidents/{id}/events"));
    let held = events
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["kind"] == "held")
        .expect("a held event");
    assert_eq!(held["detail"]["event"], "update", "{held}");
    assert_eq!(
        of_event(&settled_notifications(&d, id), "update").len(),
        before
    );
    apply(&d, &base);

    // Resolved: a note afterwards takes no status, is stored as `resolved`, and
    // goes to nobody.
    let (status, _) = d.call("POST", &format!("/api/v1/incidents/{id}/resolve"), None);
    assert_eq!(status, 200);
    let (status, answer) = d.call(
        "POST",
        &path,
        Some(&json!({"message": "Post-mortem", "status": "monitoring"})),
    );
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("resolved"), "{answer}");
    let (status, answer) = d.call(
        "POST",
        &path,
        Some(&json!({"message": "Post-mortem: a bad deploy"})),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer["detail"],
        json!({"status": "resolved", "message": "Post-mortem: a bad deploy"})
    );
    let sent = settled_notifications(&d, id);
    assert_eq!(of_event(&sent, "update").len(), before, "{sent:#?}");
}

#[test]
fn an_incident_takes_at_most_200_updates() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    // No channels: the bound is on the incident, whoever it reaches.
    apply(
        &d,
        &format!(
            "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\n",
            target.url()
        ),
    );
    target.set_healthy(false);
    let id = wait_for("an incident after the default threshold", || {
        d.run_check("shop");
        d.get("/api/v1/incidents?check=shop")[0]["id"].as_i64()
    });
    let path = format!("/api/v1/incidents/{id}/updates");
    for n in 1..=200 {
        let (status, answer) = d.call(
            "POST",
            &path,
            Some(&json!({"message": format!("note {n}")})),
        );
        assert_eq!(status, 201, "update {n}: {answer}");
    }
    let (status, answer) = d.call("POST", &path, Some(&json!({"message": "one more"})));
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("(200)"), "{answer}");
    let events = d.get(&format!("/api/v1/incidents/{id}/events"));
    let updates = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "update")
        .count();
    assert_eq!(updates, 200);
}

#[test]
fn a_note_on_a_resolved_incident_is_titled_a_note_not_another_resolution() {
    let d = Daemon::start(&["--public-url", PUBLIC_URL]);
    let target = Target::start();
    let hook = Receiver::start();
    let yaml = format!(
        "{}---\nkind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n{}",
        check(&target, "hook"),
        hook.url(),
        page("public", "example", "checks: [shop]", false),
    );
    apply(&d, &yaml);
    let id = open_incident(&d, &target);
    let (status, _) = d.call("POST", &format!("/api/v1/incidents/{id}/resolve"), None);
    assert_eq!(status, 200);

    let dir = tempfile::tempdir().unwrap();
    let run = d
        .cli(dir.path())
        .args([
            "incidents",
            "update",
            &id.to_string(),
            "--message",
            "Post-mortem: a bad deploy\n\nWe now canary every deploy.",
        ])
        .run()
        .success();
    assert!(run.stdout.contains("note"), "{}", run.stdout);
    assert!(!run.stdout.contains("has an update"), "{}", run.stdout);

    let client = Daemon::client();
    let html = client
        .get(format!("{}/status/example", d.url))
        .send()
        .and_then(|r| r.text())
        .expect("the page");
    let doc = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let titles: Vec<(String, String)> = doc
        .select(&sel(&format!("#incident-{id} .timeline li")))
        .map(|li| {
            let strong = li.select(&sel("strong")).next().expect("a title");
            (
                li.value().attr("data-event").unwrap_or("").to_string(),
                strong.text().collect::<String>(),
            )
        })
        .collect();
    // Paragraphs of a message stay apart: the line breaks are kept and shown.
    let message = doc
        .select(&sel(&format!(
            "#incident-{id} li[data-event=update] .message"
        )))
        .next()
        .map(|m| m.text().collect::<String>())
        .expect("the note's message");
    assert_eq!(
        message,
        "Post-mortem: a bad deploy\n\nWe now canary every deploy."
    );
    let style: String = doc.select(&sel("style")).flat_map(|s| s.text()).collect();
    assert!(
        style.contains(".timeline .message{white-space:pre-line}"),
        "{style}"
    );
    let resolved = titles.iter().filter(|(_, t)| t == "Resolved").count();
    assert_eq!(resolved, 1, "resolved once: {titles:?}");
    assert!(
        titles.iter().any(|(k, t)| k == "update" && t == "Note"),
        "{titles:?}"
    );

    let atom = client
        .get(format!("{}/status/example.atom", d.url))
        .send()
        .and_then(|r| r.text())
        .expect("the feed");
    assert_eq!(atom.matches(" Resolved").count(), 1, "{atom}");
    assert!(
        atom.contains(" Note: Post-mortem: a bad deploy&lt;br&gt;&lt;br&gt;We now canary"),
        "{atom}"
    );

    let json = d.get("/status/example.json");
    let events = json["incidents"][0]["events"].as_array().expect("events");
    let note = events
        .iter()
        .find(|e| e["kind"] == "update")
        .expect("the note");
    assert_eq!(note["status"], "resolved", "{note}");
}

#[test]
fn the_atom_feed_links_absolutely_under_the_public_url() {
    let d = Daemon::start(&["--public-url", &format!("{PUBLIC_URL}/")]);
    let target = Target::start();
    let hook = Receiver::start();
    let yaml = format!(
        "{}---\nkind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n{}domain: status.example\n",
        check(&target, "hook"),
        hook.url(),
        page("public", "example", "checks: [shop]", false),
    );
    apply(&d, &yaml);
    let id = open_incident(&d, &target);
    let client = Daemon::client();
    let feeds = [
        client.get(format!("{}/status/example.atom", d.url)).send(),
        client
            .get(format!("{}/index.atom", d.url))
            .header("Host", "status.example")
            .send(),
    ];
    for feed in feeds {
        let atom = feed.and_then(|r| r.text()).expect("the feed");
        for want in [
            format!("href=\"{PUBLIC_URL}/status/example\""),
            format!("href=\"{PUBLIC_URL}/status/example.atom\""),
            format!("href=\"{PUBLIC_URL}/status/example#incident-{id}\""),
        ] {
            assert!(atom.contains(&want), "{want} in {atom}");
        }
        assert!(!atom.contains("href=\"/"), "{atom}");
    }
}
