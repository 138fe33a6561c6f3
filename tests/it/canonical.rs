//! The canonical form and content hash, through the library API: two files that
//! mean the same thing hash the same, and a change of meaning changes the hash.

use serde_json::json;
use uptimeping::spec::{Source, Spec, canonical, content_hash, load};

/// Variables the checks below may use; nothing comes from the real environment.
fn env(name: &str) -> Option<String> {
    match name {
        "API_HOST" => Some("example.com".into()),
        "API_KEY" => Some("s3cret".into()),
        _ => None,
    }
}

/// The one resource in `yaml`, loaded and validated.
fn load_one(yaml: &str) -> Spec {
    let sources = [Source::new("checks/api.yaml", yaml, "checks")];
    let bundle = load(&sources, &env).unwrap_or_else(|d| panic!("{d}\n--- in:\n{yaml}"));
    assert_eq!(bundle.resources.len(), 1, "{yaml}");
    bundle.resources[0].spec.clone()
}

fn hash(yaml: &str) -> String {
    content_hash(&load_one(yaml))
}

/// The reference spelling: block style, shortest forms, defaults left out.
const BASE: &str = "\
kind: Check
name: api
type: http
target: https://example.com/healthz
schedule: 30s
http:
  method: POST
  headers:
    X-Api-Key: s3cret
expect:
  status: [200, 204]
  max_latency: 90s
";

/// The same check written in other ways, each with what it changes.
const SAME_MEANING: &[(&str, &str)] = &[
    (
        "flow style",
        "{kind: Check, name: api, type: http, target: https://example.com/healthz, \
         schedule: 30s, http: {method: POST, headers: {X-Api-Key: s3cret}}, \
         expect: {status: [200, 204], max_latency: 90s}}",
    ),
    (
        "keys in another order",
        "expect:\n  max_latency: 90s\n  status: [200, 204]\nhttp:\n  headers:\n    X-Api-Key: s3cret\n  method: POST\n\
         target: https://example.com/healthz\nschedule: 30s\ntype: http\nname: api\nkind: Check\n",
    ),
    (
        "@every instead of a bare duration",
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\nschedule: '@every 30s'\n\
         http:\n  method: POST\n  headers:\n    X-Api-Key: s3cret\nexpect:\n  status: [200, 204]\n  max_latency: 90s\n",
    ),
    (
        "1m30s instead of 90s, and a bare number of seconds",
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\nschedule: 30\n\
         http:\n  method: POST\n  headers:\n    X-Api-Key: s3cret\nexpect:\n  status: [200, 204]\n  max_latency: 1m30s\n",
    ),
    (
        "status codes unordered and repeated, one quoted",
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\nschedule: 30s\n\
         http:\n  method: POST\n  headers:\n    X-Api-Key: s3cret\nexpect:\n  status: [204, 200, \"200\"]\n  max_latency: 90s\n",
    ),
    (
        "header name and method in other cases",
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\nschedule: 30s\n\
         http:\n  method: post\n  headers:\n    x-api-key: s3cret\nexpect:\n  status: [200, 204]\n  max_latency: 90s\n",
    ),
    (
        "quoted strings",
        "kind: \"Check\"\nname: 'api'\ntype: \"http\"\ntarget: \"https://example.com/healthz\"\nschedule: \"30s\"\n\
         http:\n  method: 'POST'\n  headers:\n    \"X-Api-Key\": \"s3cret\"\nexpect:\n  status: [200, 204]\n  max_latency: '90s'\n",
    ),
    (
        "values from the environment",
        "kind: Check\nname: api\ntype: http\ntarget: https://${API_HOST}/healthz\nschedule: 30s\n\
         http:\n  method: POST\n  headers:\n    X-Api-Key: ${API_KEY}\nexpect:\n  status: [200, 204]\n  max_latency: ${LATENCY:-90s}\n",
    ),
    (
        "defaults written out",
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\nschedule: 30s\n\
         timeout: 10s\nretries: 0\nenabled: true\n\
         http:\n  method: POST\n  headers:\n    X-Api-Key: s3cret\n  follow_redirects: true\n  max_redirects: 10\n\
         \x20 connect_timeout: 5s\n  max_body: 1048576\n  tls:\n    insecure: false\n\
         expect:\n  status: [200, 204]\n  max_latency: 90s\n",
    ),
];

#[test]
fn reformatting_keeps_the_canonical_form_and_hash() {
    let base = load_one(BASE);
    for (what, yaml) in SAME_MEANING {
        let other = load_one(yaml);
        assert_eq!(
            canonical(&other),
            canonical(&base),
            "{what} changed the canonical form"
        );
        assert_eq!(
            content_hash(&other),
            content_hash(&base),
            "{what} changed the hash"
        );
    }
}

#[test]
fn a_change_of_meaning_changes_the_hash() {
    let base = hash(BASE);
    for (what, from, to) in [
        ("another status", "[200, 204]", "[200, 201]"),
        ("one status fewer", "[200, 204]", "[200]"),
        (
            "another target",
            "example.com/healthz",
            "example.com/readyz",
        ),
        ("another method", "POST", "PUT"),
        ("another header value", "s3cret", "other"),
        ("another interval", "schedule: 30s", "schedule: 31s"),
        ("another latency limit", "90s", "91s"),
    ] {
        let changed = BASE.replacen(from, to, 1);
        assert_ne!(changed, BASE, "{what}: `{from}` is not in the base check");
        assert_ne!(hash(&changed), base, "{what} did not change the hash");
    }
}

/// Every default spelled out, so that changing one is a deliberate act: a new
/// default changes the hash of every check deployed without it.
#[test]
fn canonical_json_of_a_check_is_exact() {
    let spec = load_one(BASE);
    assert_eq!(
        canonical(&spec),
        json!({
            "kind": "Check",
            "name": "api",
            "type": "http",
            "target": "https://example.com/healthz",
            "schedule": "30s",
            "timeout": "10s",
            "retries": 0,
            "enabled": true,
            "http": {
                "method": "POST",
                "headers": {"x-api-key": "s3cret"},
                "follow_redirects": true,
                "max_redirects": 10,
                "connect_timeout": "5s",
                "max_body": 1048576,
                "tls": {"insecure": false},
            },
            "expect": {
                "status": [200, 204],
                "max_latency": "1m30s",
            },
        })
    );
    assert_eq!(
        content_hash(&spec),
        sha256_hex(&canonical(&spec).to_string()),
        "the hash is SHA-256 of the compact canonical JSON"
    );
}

#[test]
fn canonical_json_loads_back_to_the_same_hash() {
    let base = load_one(BASE);
    let text = serde_json::to_string_pretty(&canonical(&base)).expect("canonical JSON");
    let again = load_one(&text);
    assert_eq!(content_hash(&again), content_hash(&base), "{text}");
}

#[test]
fn a_single_status_and_a_list_of_one_are_the_same() {
    let one = BASE.replacen("[200, 204]", "200", 1);
    let list = BASE.replacen("[200, 204]", "[200, 200]", 1);
    assert_eq!(hash(&one), hash(&list));
    assert_eq!(canonical(&load_one(&one))["expect"]["status"], json!(200));
}

#[test]
fn channels_are_canonical_too() {
    let a = "\
kind: Channel
name: ops
type: email
email:
  smtp_host: smtp.example.com
  from: uptime@example.com
  to: [b@example.com, a@example.com, b@example.com]
";
    let b = "{kind: Channel, name: ops, type: email, email: {security: starttls, \
             to: [a@example.com, b@example.com], from: uptime@example.com, smtp_host: smtp.example.com}}";
    assert_eq!(hash(a), hash(b));
    assert_eq!(
        canonical(&load_one(a))["email"]["to"],
        json!(["a@example.com", "b@example.com"])
    );
    assert_ne!(
        hash(a),
        hash(&a.replace("smtp.example.com", "mail.example.com"))
    );
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// One check of each type that is not `http`, as a file would have them.
const OTHER_TYPES: &[(&str, &str)] = &[
    (
        "smtp",
        "kind: Check\nname: smtp\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\n\
         tcp:\n  send: \"EHLO x\\r\\n\"\nexpect:\n  response: /^220 /\n",
    ),
    (
        "health",
        "kind: Check\nname: health\ntype: grpc\ntarget: 127.0.0.1:9\nschedule: 1h\n\
         grpc:\n  health: true\n",
    ),
    (
        "catalog",
        "kind: Check\nname: catalog\ntype: graphql\ntarget: http://127.0.0.1:9/graphql\nschedule: 1h\n\
         http:\n  headers:\n    X-Team: catalog\ngraphql:\n  query: '{ __typename }'\n",
    ),
];

#[test]
fn a_check_holds_only_its_own_types_settings() {
    for (name, yaml) in OTHER_TYPES {
        let c = canonical(&load_one(yaml));
        match *name {
            "catalog" => assert_eq!(
                c["http"],
                json!({
                    "connect_timeout": "5s", "follow_redirects": true, "headers": {"x-team": "catalog"},
                    "max_body": 1048576, "max_redirects": 10, "tls": {"insecure": false}
                }),
                "graphql builds its own method and body"
            ),
            _ => assert_eq!(c.get("http"), None, "{name}: {c:#}"),
        }
    }
    let http = canonical(&load_one(
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/\n",
    ));
    assert_eq!(
        http["http"]["method"], "GET",
        "an http check keeps its defaults"
    );
}

#[test]
fn each_type_plans_without_http_defaults_applies_clean_and_prints_a_spec_that_validates() {
    use crate::daemon_support::Daemon;
    let d = Daemon::start(&[]);
    let repo = tempfile::tempdir().unwrap();
    let checks = repo.path().join("checks");
    std::fs::create_dir_all(&checks).unwrap();
    let mut all = OTHER_TYPES.to_vec();
    all.push((
        "web",
        "kind: Check\nname: web\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\n",
    ));
    for (name, yaml) in &all {
        std::fs::write(checks.join(format!("{name}.yaml")), yaml).unwrap();
    }
    let args = ["-f", "checks", "--source", "repo"];
    let plan = d
        .cli(repo.path())
        .arg("plan")
        .args(args)
        .words("-o json")
        .run()
        .success();
    let plan = plan.json();
    for change in plan["changes"].as_array().unwrap() {
        let after = &change["after"];
        match change["name"].as_str().unwrap() {
            "web" => assert_eq!(after["http"]["method"], "GET"),
            "catalog" => {
                assert_eq!(after["http"].get("method"), None, "{after:#}");
                assert_eq!(after["http"].get("body"), None, "{after:#}");
            }
            other => assert_eq!(after.get("http"), None, "{other}: {after:#}"),
        }
    }
    let text = d.cli(repo.path()).arg("plan").args(args).run().success();
    let mut current = "";
    for line in text.stdout.lines() {
        if let Some(header) = line.strip_prefix("  + Check ") {
            current = header.split(' ').next().unwrap_or_default();
            continue;
        }
        let allowed: &[&str] = match current {
            "web" => &["http."],
            "catalog" => &[
                "http.connect_timeout",
                "http.follow_redirects",
                "http.headers",
                "http.max_",
                "http.tls",
            ],
            _ => &[],
        };
        if let Some(at) = line.find("+ http.") {
            let field = &line[at + 2..];
            assert!(
                allowed.iter().any(|a| field.starts_with(a)),
                "{current}: {line}\n{}",
                text.stdout
            );
        }
    }
    d.cli(repo.path())
        .arg("apply")
        .args(args)
        .words("--auto-approve")
        .run()
        .success();
    d.cli(repo.path())
        .arg("plan")
        .args(args)
        .words("--detailed-exitcode")
        .run()
        .success();

    let saved = tempfile::tempdir().unwrap();
    for (name, _) in &all {
        let got = d
            .cli(repo.path())
            .args(["checks", "get", name, "-o", "json"])
            .run()
            .success();
        let spec = &got.json()["spec"];
        if *name != "web" {
            assert_eq!(spec["http"].get("method"), None, "{name}: {spec:#}");
        }
        // Saved as printed (JSON is YAML), and as YAML.
        let as_yaml = serde_saphyr::to_string(spec).unwrap();
        for (ext, text) in [("json", spec.to_string()), ("yaml", as_yaml)] {
            let file = format!("{name}.{ext}");
            std::fs::write(saved.path().join(&file), text).unwrap();
            let valid = d.cli(saved.path()).args(["validate", "-f", &file]).run();
            assert_eq!(valid.code, 0, "{file}: {}\n{spec:#}", valid.stderr);
        }
    }
}

#[test]
fn checks_stored_with_http_defaults_before_the_upgrade_plan_no_change() {
    use crate::daemon_support::Daemon;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let repo = tempfile::tempdir().unwrap();
    let checks = repo.path().join("checks");
    std::fs::create_dir_all(&checks).unwrap();
    for (name, yaml) in OTHER_TYPES {
        std::fs::write(checks.join(format!("{name}.yaml")), yaml).unwrap();
    }
    let args = ["-f", "checks", "--source", "repo"];
    let d = Daemon::start_on(&data, &[]);
    d.cli(repo.path())
        .arg("apply")
        .args(args)
        .words("--auto-approve")
        .run()
        .success();
    d.terminate();

    // As the previous version stored them: every check with the http defaults.
    let db = rusqlite::Connection::open(data.join("uptimeping.db")).unwrap();
    let old_http = json!({
        "method": "GET", "follow_redirects": true, "max_redirects": 10,
        "connect_timeout": "5s", "max_body": 1048576, "tls": {"insecure": false}
    });
    let changed = db
        .execute(
            "UPDATE resources SET spec = json_set(spec, '$.http', json(?1))
              WHERE kind = 'Check' AND json_type(spec, '$.http') IS NULL",
            [old_http.to_string()],
        )
        .unwrap();
    assert_eq!(changed, 2, "tcp and grpc");
    db.execute(
        "UPDATE resources SET spec = json_set(spec, '$.http.method', 'GET') WHERE name = 'catalog'",
        [],
    )
    .unwrap();
    // Back to a version 4 database: undo the later steps' schema changes too.
    db.execute_batch(
        "DROP TABLE series; DROP TABLE rollup_minutes; DROP TABLE rollup_hours; DROP TABLE rollup_days; DROP TABLE rollup_state;
         ALTER TABLE check_state DROP COLUMN covered_from; ALTER TABLE check_state DROP COLUMN created_at; ALTER TABLE check_state DROP COLUMN last_cert_expires_at; ALTER TABLE check_state DROP COLUMN paused_at;
         ALTER TABLE results DROP COLUMN kept; ALTER TABLE results DROP COLUMN location;
         DROP INDEX one_open_incident_per_check; ALTER TABLE incidents DROP COLUMN kind;
         CREATE UNIQUE INDEX one_open_incident_per_check ON incidents (tenant_id, check_name) WHERE status != 'resolved';
         DROP TABLE refresh_tokens; DROP TABLE sessions; DROP TABLE invitations; DROP TABLE users; DROP TABLE audit;
         ALTER TABLE api_keys DROP COLUMN expires_at; ALTER TABLE api_keys DROP COLUMN created_by; ALTER TABLE api_keys DROP COLUMN last_used_at;
         DROP TABLE nodes; DROP TABLE leases; DROP TABLE cluster_state; DROP TABLE location_state;
         ALTER TABLE outbox DROP COLUMN claimed_by; ALTER TABLE outbox DROP COLUMN claimed_until;
         DROP INDEX resources_by_kind;",
    )
    .unwrap();
    db.pragma_update(None, "user_version", 4).unwrap();
    drop(db);

    let d = Daemon::start_on(&data, &[]);
    d.cli(repo.path())
        .arg("plan")
        .args(args)
        .words("--detailed-exitcode")
        .run()
        .success();
    for (name, _) in OTHER_TYPES {
        let got = d
            .cli(repo.path())
            .args(["checks", "get", name, "-o", "json"])
            .run();
        let spec = &got.json()["spec"];
        assert_eq!(spec["http"].get("method"), None, "{name}: {spec:#}");
    }
}
