//! Receivers that echo the request in their refusal (a debugging proxy, an error
//! page quoting the request line and headers, an SMTP relay quoting the AUTH line)
//! against a real daemon: no channel secret, nor its base64 or percent-encoded
//! form, reaches `channels test`, `incidents get`, the API, the log or the outbox.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::daemon_support::{Daemon, Target, plan_request, wait_for};

/// How an echoing HTTP receiver refuses.
#[derive(Clone, Copy)]
enum Echo {
    /// `500` with the request, as received, for the body.
    Raw,
    /// A Bot API refusal whose `description` quotes the request.
    Telegram,
}

/// An HTTP server on 127.0.0.1 refusing every request, quoting it whole; its URL.
fn echo_server(echo: Echo) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || answer_http(stream, echo));
        }
    });
    url
}

fn answer_http(stream: TcpStream, echo: Echo) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        request.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    request.push_str(&String::from_utf8_lossy(&body));
    let (status, content) = match echo {
        Echo::Raw => ("500 Internal Server Error", request),
        Echo::Telegram => (
            "400 Bad Request",
            json!({"ok": false, "error_code": 400, "description": format!("Bad Request: chat not found for {request}")})
                .to_string(),
        ),
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{content}",
        content.len()
    );
}

/// An SMTP relay on 127.0.0.1 that offers `mechanism` and refuses the credentials
/// with a 535 quoting every line of the exchange; its port.
fn smtp_echo(mechanism: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || answer_smtp(stream, mechanism));
        }
    });
    port
}

fn answer_smtp(stream: TcpStream, mechanism: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut said = Vec::new();
    let _ = writer.write_all(b"220 relay.test ESMTP\r\n");
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_string();
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            format!("250-relay.test\r\n250 AUTH {mechanism}\r\n")
        } else if upper.starts_with("AUTH LOGIN") {
            said.push(line);
            "334 VXNlcm5hbWU6\r\n".to_string()
        } else if upper.starts_with("AUTH") || said.len() == 1 {
            said.push(line);
            if mechanism == "LOGIN" && said.len() == 2 {
                "334 UGFzc3dvcmQ6\r\n".to_string()
            } else {
                let quoted = said.join(" | ");
                format!("535 5.7.8 rejected credentials: {quoted}\r\n")
            }
        } else if said.len() >= 2 {
            said.push(line);
            let quoted = said.join(" | ");
            format!("535 5.7.8 rejected credentials: {quoted}\r\n")
        } else if upper.starts_with("QUIT") {
            let _ = writer.write_all(b"221 bye\r\n");
            return;
        } else {
            "502 5.5.2 command not recognised\r\n".to_string()
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

const WEBHOOK_SIG: &str = "WH+SECRET14";
const WEBHOOK_TOKEN: &str = "HTTPTOKSECRET2";
const SLACK_PATH: &str = "SLACKSECRET16";
const BOT_TOKEN: &str = "123456:TGTOKSECRET13";
const SMTP_USER: &str = "bob";
const SMTP_PASSWORD: &str = "SMTPPWSECRET12";

/// Every form of the channels' secrets that must not be shown.
fn forbidden() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out: Vec<String> = vec![
        "WH+SECRET14".into(),
        "WH%2BSECRET14".into(),
        "WH SECRET14".into(),
        "SECRET14".into(),
        WEBHOOK_TOKEN.into(),
        SLACK_PATH.into(),
        BOT_TOKEN.into(),
        "TGTOKSECRET13".into(),
        SMTP_PASSWORD.into(),
    ];
    for s in [
        format!("Bearer {WEBHOOK_TOKEN}"),
        WEBHOOK_TOKEN.into(),
        BOT_TOKEN.into(),
        SMTP_PASSWORD.into(),
        SMTP_USER.into(),
        format!("\0{SMTP_USER}\0{SMTP_PASSWORD}"),
    ] {
        out.push(b64(&s).trim_end_matches('=').to_string());
    }
    out
}

fn assert_hidden(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} shows `{secret}`:\n{text}");
    }
}

fn cli(d: &Daemon, args: &[&str]) -> crate::support::Run {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::daemon_support::cli(d, dir.path(), args)
}

const CHANNELS: [&str; 5] = ["hook", "slack", "tg", "mail-plain", "mail-login"];

fn setup(d: &Daemon, target: &Target) {
    let (hook, slack, bot) = (
        echo_server(Echo::Raw),
        echo_server(Echo::Raw),
        echo_server(Echo::Telegram),
    );
    let (plain, login) = (smtp_echo("PLAIN"), smtp_echo("LOGIN"));
    let sig = WEBHOOK_SIG.replace('+', "%2B");
    let mail = |name: &str, port: u16| {
        format!(
            "kind: Channel\nname: {name}\ntype: email\nemail: {{smtp_host: 127.0.0.1, smtp_port: {port}, security: none, username: {SMTP_USER}, password: {SMTP_PASSWORD}, from: alerts@example.com, to: [a@example.com]}}\n"
        )
    };
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 1h\nalert: {{channels: [{}], failure_threshold: 1}}\n---\n\
kind: Channel\nname: hook\ntype: webhook\nwebhook: {{url: \"{hook}/hook?sig={sig}\", headers: {{authorization: \"Bearer {WEBHOOK_TOKEN}\"}}}}\n---\n\
kind: Channel\nname: slack\ntype: slack\nslack: {{webhook_url: \"{slack}/services/{SLACK_PATH}\"}}\n---\n\
kind: Channel\nname: tg\ntype: telegram\ntelegram: {{bot_token: \"{BOT_TOKEN}\", chat_id: \"-1001\", api_url: \"{bot}\"}}\n---\n{}---\n{}",
        target.url(),
        CHANNELS.join(", "),
        mail("mail-plain", plain),
        mail("mail-login", login),
    );
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
}

#[test]
fn secrets_a_receiver_echoes_are_masked_everywhere_errors_are_shown() {
    let d = Daemon::start(&[]);
    let target = Target::start();
    setup(&d, &target);

    for name in CHANNELS {
        for format in [&[][..], &["-o", "json"][..], &["-o", "yaml"][..]] {
            let mut args = vec!["channels", "test", name];
            args.extend_from_slice(format);
            let run = cli(&d, &args);
            assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
            let shown = format!("{}{}", run.stdout, run.stderr);
            assert_hidden(&format!("`channels test {name}`"), &shown);
            // The receiver did quote the request: what it echoed is there, masked.
            assert!(
                shown.contains("(sensitive value)"),
                "{name} shows no echo: {shown}"
            );
        }
        let (_, answer) = d.call("POST", &format!("/api/v1/channels/{name}/test"), None);
        assert_hidden(&format!("POST /channels/{name}/test"), &answer.to_string());
        assert!(
            answer["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("(sensitive value)")),
            "{answer}"
        );
    }

    target.set_healthy(false);
    d.post("/api/v1/checks/shop/run", &json!({}));
    let incident = wait_for("every channel tried for the incident", || {
        let list = d.get("/api/v1/incidents");
        let id = list.as_array()?.first()?["id"].as_i64()?;
        let detail = d.get(&format!("/api/v1/incidents/{id}"));
        let tried = detail["notifications"]
            .as_array()?
            .iter()
            .all(|n| n["last_error"].is_string());
        (tried && detail["notifications"].as_array()?.len() == CHANNELS.len())
            .then_some((id, detail))
    });
    let (id, detail) = incident;
    assert_hidden("GET /incidents/{id}", &detail.to_string());
    let run = cli(&d, &["incidents", "get", &id.to_string(), "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_hidden("`incidents get -o json`", &run.stdout);
    let errors: Vec<Value> = run.json()["notifications"]
        .as_array()
        .map(|n| n.iter().map(|n| n["last_error"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(errors.len(), CHANNELS.len(), "{}", run.stdout);
    assert!(
        errors
            .iter()
            .all(|e| e.as_str().is_some_and(|e| e.contains("(sensitive value)"))),
        "{errors:?}"
    );

    let logs = d.wait_log("notification not sent; will retry");
    assert_hidden("the daemon log", &format!("{logs}\n{}", d.logs()));

    let db = rusqlite::Connection::open(d.data_dir.join("uptimeping.db")).expect("open");
    let mut rows = db
        .prepare("SELECT coalesce(last_error, '') FROM outbox")
        .expect("prepare");
    let stored: Vec<String> = rows
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert!(stored.len() >= CHANNELS.len() * 2, "{stored:?}");
    assert_hidden("the outbox", &stored.join("\n"));
}

/// A receiver's reason whose secret falls where the message is cut: it is masked
/// whole first, so neither its beginning nor a tail that begins it is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_straddling_the_error_cap_is_masked_before_the_cut() {
    use super::harness::{Db, Reply, quick, receiver};
    use uptimeping::daemon::notify::retry::ERROR_MESSAGE_CAP;

    const SECRET: &str = "STRADDLESECRET77";
    // The old cut fell 190 bytes into the body; the message cap falls in or after
    // the second secret, as masked or as written.
    for gap in [60, 69, 75, 100] {
        let reason = format!(
            "{}{SECRET}{}{SECRET} tail",
            "x".repeat(190),
            "y".repeat(gap)
        );
        let reply = Reply {
            status: 500,
            retry_after: None,
            body: Box::leak(reason.into_boxed_str()),
        };
        let (_rx, url) = receiver(&[reply]).await;
        let db = Db::new().await;
        db.webhook(&format!("{url}/hook?sig={SECRET}"), json!({}))
            .await;
        let id = db
            .store
            .queue_test(db.tenant, "hook".into())
            .await
            .expect("queue");
        let n = db
            .notifier(quick(4))
            .deliver_now(id)
            .await
            .expect("deliver");
        let error = n.last_error.expect("an error");
        assert!(error.chars().count() <= ERROR_MESSAGE_CAP, "{error}");
        assert!(error.contains("(sensitive value)"), "{error}");
        for len in 4..=SECRET.len() {
            assert!(!error.contains(&SECRET[..len]), "{error}");
        }
    }
}
