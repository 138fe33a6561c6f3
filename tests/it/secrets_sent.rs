//! Secrets stay hidden in the forms a probe sends them in, not only as written: a
//! URL's user and password as a `Basic` credential, values percent-encoded in a
//! path or query, escaped in a JSON body or a header echoed as JSON, the bytes of
//! `tcp.send_base64` decoded; and when the text quoting them is cut short. The
//! check's headers do not follow a redirect to another origin.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use base64::Engine;
use serde_json::Value;

use crate::servers::runtime;
use crate::support::{Files, Run, Test};

/// Every secret holds this, so that any part of one long enough to matter is found.
const MARK: &str = "SECRET";
const URLPASS: &str = "SECRETURLPASS5";
const URLUSER: &str = "SECRETUSERONLY";
const QENC: &str = "SECRETQ one+two/three";
const PENC: &str = "SECRETP seg";
const JENC: &str = "SECRETJ\"quote\\back";
const HENC: &str = "SECRETH\"q\\b";
const B64_PLAIN: &str = "SECRETB64PLAIN8\n";
const CLIPSEC: &str = "SECRETCLIPSEC99";
const BODYSEC: &str = "SECRETBODYSEC77";

/// Bytes of padding before a secret that the server sends back: the 200-character
/// cut of an actual value (after its opening backtick) and the 100-byte body excerpt
/// then each fall inside the secret, past [`MARK`].
const CLIP_PAD: usize = 188;
const EXCERPT_PAD: usize = 92;

fn env() -> Vec<(&'static str, String)> {
    vec![
        ("URLPASS", URLPASS.into()),
        ("URLUSER", URLUSER.into()),
        ("QENC", QENC.into()),
        ("PENC", PENC.into()),
        ("JENC", JENC.into()),
        ("HENC", HENC.into()),
        (
            "B64",
            base64::engine::general_purpose::STANDARD.encode(B64_PLAIN),
        ),
        ("CLIPSEC", CLIPSEC.into()),
        ("BODYSEC", BODYSEC.into()),
    ]
}

fn serve(app: Router, addr: &str) -> SocketAddr {
    let listener = std::net::TcpListener::bind(addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// Answers 503 with what it got: the request line, `Authorization`, `X-Tag` (a
/// header not secret by its name) as a JSON string, and the body; or `x-echo` after padding (`/clip`, `/excerpt`).
fn echo_target() -> SocketAddr {
    let app = Router::new()
        .route(
            "/clip",
            get(|h: HeaderMap| async move {
                let body = format!("{}{}", "P".repeat(CLIP_PAD), header(&h, "x-echo"));
                (StatusCode::SERVICE_UNAVAILABLE, body)
            }),
        )
        .route(
            "/excerpt",
            get(|h: HeaderMap| async move {
                let body = format!("{}{}", "a".repeat(EXCERPT_PAD), header(&h, "x-echo"));
                (StatusCode::SERVICE_UNAVAILABLE, body)
            }),
        )
        .fallback(any(
            |method: Method, uri: Uri, h: HeaderMap, body: Bytes| async move {
                let tag = serde_json::to_string(&header(&h, "x-tag")).unwrap();
                let body = String::from_utf8_lossy(&body).into_owned();
                let auth = header(&h, "authorization");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{method} {uri} auth={auth} tag={tag} body={body}"),
                )
            },
        ));
    serve(app, "127.0.0.1:0")
}

fn http_check(name: &str, target: &str, extra: &str) -> String {
    format!(
        "kind: Check\nname: {name}\ntype: http\ntarget: \"{target}\"\n{extra}expect: {{status: 503, body_regex: '^healthy$'}}\n"
    )
}

fn test_json(yaml: &str) -> (Run, Value) {
    let files = Files::new(&[("checks.yaml", yaml)]);
    let run = Test::in_dir(files.path())
        .args(["test", "-f", "checks.yaml", "-o", "json"])
        .envs(env())
        .run();
    let results = run.json();
    (run, results)
}

fn by_name(results: &Value, name: &str) -> Value {
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no result for {name}: {results}"))
}

#[test]
fn secrets_sent_encoded_or_cut_short_stay_hidden_in_test_output() {
    let addr = echo_target();
    let tcp = crate::tcp_probe::echo();
    let yaml = [
        http_check("userinfo", &format!("http://alice:${{URLPASS}}@{addr}/u"), ""),
        http_check("user-only", &format!("http://${{URLUSER}}@{addr}/u"), ""),
        http_check("query", &format!("http://{addr}/p?q=${{QENC}}"), ""),
        http_check("path", &format!("http://{addr}/${{PENC}}/x"), ""),
        http_check(
            "json-body",
            &format!("http://{addr}/j"),
            "http: {method: POST, body: {k: \"${JENC}\"}}\n",
        ),
        http_check(
            "header",
            &format!("http://{addr}/h"),
            "http: {headers: {x-tag: \"${HENC}\"}}\n",
        ),
        http_check(
            "clipped",
            &format!("http://{addr}/clip"),
            "http: {headers: {x-echo: \"${CLIPSEC}\"}}\n",
        ),
        http_check(
            "excerpt",
            &format!("http://{addr}/excerpt"),
            "http: {headers: {x-echo: \"${BODYSEC}\"}}\n",
        ),
        format!(
            "kind: Check\nname: base64\ntype: tcp\ntarget: \"{tcp}\"\ntimeout: 1s\ntcp: {{send_base64: \"${{B64}}\"}}\nexpect: {{response: NOPE}}\n"
        ),
    ]
    .join("---\n");
    let (run, results) = test_json(&yaml);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let leaks = |text: &str| {
        text.contains(MARK)
            || text.contains(&b64(&format!("alice:{URLPASS}")))
            || text.contains(&b64(&format!("{URLUSER}:")))
    };
    // Each shape on its own: every check that quotes a secret, by name.
    let leaking: Vec<&Value> = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| leaks(&r.to_string()))
        .map(|r| &r["name"])
        .collect();
    assert!(
        leaking.is_empty(),
        "{leaking:?} quote a secret:\n{}",
        run.stdout
    );
    assert!(
        !leaks(&run.stdout) && !leaks(&run.stderr),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // Each was sent and echoed, and prints as its variable where that is known.
    let excerpt = |name: &str| by_name(&results, name)["body_excerpt"].to_string();
    assert!(excerpt("userinfo").contains("auth=Basic (sensitive value)"));
    assert!(excerpt("user-only").contains("auth=Basic (sensitive value)"));
    assert!(
        excerpt("query").contains("GET /p?q=${QENC} "),
        "{}",
        excerpt("query")
    );
    assert!(
        excerpt("path").contains("GET /${PENC}/x "),
        "{}",
        excerpt("path")
    );
    assert!(
        excerpt("json-body").contains("${JENC}"),
        "{}",
        excerpt("json-body")
    );
    assert!(
        excerpt("header").contains("tag=\\\"${HENC}\\\""),
        "{}",
        excerpt("header")
    );
    let clipped = by_name(&results, "clipped");
    let failures = clipped["failures"].as_array().unwrap();
    let body = failures
        .iter()
        .find(|f| f["expectation"] == "body_regex")
        .unwrap_or_else(|| panic!("{clipped}"));
    let actual = body["actual"].as_str().unwrap();
    assert!(actual.ends_with("PPP${CLIPSEC}…"), "{actual}");
    // The error quotes the failure, clipped actual and all.
    let error = clipped["error"].as_str().unwrap();
    assert!(error.ends_with("PPP${CLIPSEC}…"), "{error}");
    assert_eq!(
        by_name(&results, "excerpt")["body_excerpt"],
        format!("{}${{BODYSEC}}", "a".repeat(EXCERPT_PAD))
    );
    let tcp_result = by_name(&results, "base64").to_string();
    assert!(tcp_result.contains("${B64}"), "{tcp_result}");
}

/// Header names a server got, per request.
type Received = Arc<Mutex<Vec<Vec<String>>>>;

fn recording(received: Received) -> Router {
    Router::new().route(
        "/land",
        get(move |h: HeaderMap| async move {
            let names = h.keys().map(|k| k.as_str().to_string()).collect();
            received.lock().unwrap().push(names);
            "landed"
        }),
    )
}

#[test]
fn http_redirects_to_another_origin_drop_the_checks_headers() {
    let elsewhere: Received = Arc::default();
    let b = serve(recording(elsewhere.clone()), "127.0.0.1:0");
    let here: Received = Arc::default();
    let away = format!("http://localhost:{}/land", b.port());
    let app = recording(here.clone())
        .route(
            "/away",
            get(move || async move { Redirect::temporary(&away).into_response() }),
        )
        .route(
            "/same",
            get(|| async { Redirect::to("/land").into_response() as Response }),
        );
    let a = serve(app, "127.0.0.1:0");
    let headers = "http: {headers: {authorization: \"Bearer ${URLPASS}\", x-api-key: \"${HENC}\", x-other: \"${BODYSEC}\", x-plain: literal}}\nexpect: {status: 200}\n";
    let check = |name: &str, path: &str| {
        format!("kind: Check\nname: {name}\ntype: http\ntarget: \"http://{a}{path}\"\n{headers}")
    };
    let yaml = [check("away", "/away"), check("same", "/same")].join("---\n");
    let (run, results) = test_json(&yaml);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(by_name(&results, "away")["status_code"], 200);
    let set_by_check = ["authorization", "x-api-key", "x-other", "x-plain"];
    let count = |received: &Received| -> usize {
        let seen = received.lock().unwrap();
        seen.iter()
            .flatten()
            .filter(|n| set_by_check.contains(&n.as_str()))
            .count()
    };
    assert_eq!(
        elsewhere.lock().unwrap().len(),
        1,
        "the other origin was not reached"
    );
    assert_eq!(count(&elsewhere), 0, "{:?}", elsewhere.lock().unwrap());
    // Within the origin, they all follow as before.
    assert_eq!(here.lock().unwrap().len(), 1);
    assert_eq!(
        count(&here),
        set_by_check.len(),
        "{:?}",
        here.lock().unwrap()
    );
}
