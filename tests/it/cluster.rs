//! Three real daemons on one real PostgreSQL: each check runs once per interval
//! across them, a node killed with SIGKILL loses its checks to the others within
//! the bound, and an outage alerts once however many nodes there are.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use crate::daemon_support::{
    Daemon, Receiver, Target, cli, plan_request, serve, wait_for, wait_long,
};

/// The request's `User-Agent`, or nothing.
fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// One request a probe made: which check, when, and its `User-Agent`.
type Hit = (String, Instant, String);

/// A target that answers 200 on `/c/{name}` and records every request.
#[derive(Clone)]
struct Hits {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Hit>>>,
}

impl Hits {
    fn start() -> Hits {
        let seen: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let app = Router::new()
            .route(
                "/c/{name}",
                get(
                    |State(seen): State<Arc<Mutex<Vec<Hit>>>>,
                     Path(name): Path<String>,
                     headers: HeaderMap| async move {
                        seen.lock()
                            .unwrap()
                            .push((name, Instant::now(), user_agent(&headers)));
                        "ok"
                    },
                ),
            )
            .with_state(Arc::clone(&seen));
        Hits {
            addr: serve(app),
            seen,
        }
    }

    /// Times of the requests for each check since `since`.
    fn times_since(&self, since: Instant) -> BTreeMap<String, Vec<Instant>> {
        let mut out: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        for (name, at, _) in self.seen.lock().unwrap().iter() {
            if *at >= since {
                out.entry(name.clone()).or_default().push(*at);
            }
        }
        out
    }

    fn agents(&self) -> std::collections::BTreeSet<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, ua)| ua.clone())
            .collect()
    }
}

fn node(url: &str, name: &str, location: &str) -> Vec<String> {
    ["--store", url, "--node", name, "--location", location]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `GET /nodes` as (name, live, checks).
fn nodes(d: &Daemon) -> Vec<(String, bool, u64)> {
    d.get("/api/v1/nodes")
        .as_array()
        .expect("a list of nodes")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["live"].as_bool().unwrap(),
                n["checks"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The shortest gap between two runs of one check, over all checks.
fn shortest_gap(times: &BTreeMap<String, Vec<Instant>>) -> (String, Duration) {
    let mut shortest = (String::new(), Duration::MAX);
    for (name, t) in times {
        for w in t.windows(2) {
            let gap = w[1] - w[0];
            if gap < shortest.1 {
                shortest = (name.clone(), gap);
            }
        }
    }
    shortest
}

const CHECKS: usize = 12;
const EVERY: Duration = Duration::from_secs(5);

#[test]
fn three_nodes_run_each_check_once_per_interval_and_take_over_from_one_killed() {
    let url = crate::postgres_server::fresh_database();
    let hits = Hits::start();
    let a = Daemon::start(&args(&node(&url, "a", "eu-west")));
    let b = Daemon::join(&args(&node(&url, "b", "eu-west")), &a);
    let c = Daemon::join(&args(&node(&url, "c", "us-east")), &a);
    let yaml: Vec<String> = (0..CHECKS)
        .map(|i| {
            format!(
                "kind: Check\nname: c{i}\ntype: http\ntarget: http://{}/c/c{i}\nschedule: 5s\ntimeout: 2s\n",
                hits.addr
            )
        })
        .collect();
    // Applied on one node; the others learn of it from the database.
    b.post(
        "/api/v1/apply",
        &plan_request("repo", &yaml.join("---\n"), json!({})),
    );
    let spread = wait_for("the checks to be spread over three live nodes", || {
        let n = nodes(&a);
        let held: u64 = n.iter().map(|(_, _, c)| c).sum();
        (n.len() == 3 && n.iter().all(|(_, live, c)| *live && *c > 0) && held == CHECKS as u64)
            .then_some(n)
    });

    // Steady state: every check runs once per interval, by whichever node holds it.
    std::thread::sleep(EVERY);
    let from = Instant::now();
    std::thread::sleep(EVERY * 4);
    let times = hits.times_since(from);
    assert_eq!(times.len(), CHECKS, "every check ran: {times:?}");
    for (name, t) in &times {
        assert!(
            (3..=5).contains(&t.len()),
            "{name} ran {} times in 4 intervals; nodes {spread:?}",
            t.len()
        );
    }
    let (name, gap) = shortest_gap(&times);
    assert!(
        gap > EVERY * 3 / 4,
        "{name} ran twice within {gap:?}, less than its interval: nodes {spread:?}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        hits.agents(),
        [
            format!("uptimeping/{version} (+location=eu-west)"),
            format!("uptimeping/{version} (+location=us-east)")
        ]
        .into_iter()
        .collect(),
        "each node names its location to the target"
    );

    // SIGKILL one node: its checks move to the other two within the bound,
    // max(2 intervals, 30 s), and are then run once per interval again.
    let killed = Instant::now();
    c.kill9();
    wait_long(
        "every check to run again on the nodes left",
        Duration::from_secs(40),
        || {
            let n = nodes(&a);
            let taken = n
                .iter()
                .filter(|(name, live, _)| name != "c" && *live)
                .map(|(_, _, c)| c)
                .sum::<u64>();
            (taken == CHECKS as u64).then_some(())
        },
    );
    std::thread::sleep(EVERY);
    let after = Instant::now();
    std::thread::sleep(EVERY * 3);
    let times = hits.times_since(killed);
    let mut failover = Duration::ZERO;
    for (name, t) in &times {
        let mut before_kill = hits
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, at, _)| n == name && *at < killed)
            .map(|(_, at, _)| *at)
            .max()
            .expect("ran before the kill");
        for at in t {
            failover = failover.max(*at - before_kill);
            before_kill = *at;
        }
    }
    assert_eq!(times.len(), CHECKS, "every check ran after the kill");
    assert!(
        failover <= Duration::from_secs(30),
        "the longest gap in a check's runs across the kill was {failover:?}, over max(2 intervals, 30 s)"
    );
    eprintln!("failover: the longest gap in a check's runs across SIGKILL was {failover:?}");
    let steady = hits.times_since(after);
    let (name, gap) = shortest_gap(&steady);
    assert!(
        gap > EVERY * 3 / 4,
        "after the failover {name} ran twice within {gap:?}"
    );
    for (name, t) in &steady {
        assert!(
            (2..=4).contains(&t.len()),
            "{name} ran {} times in 3 intervals after the failover",
            t.len()
        );
    }

    // Seen by the nodes left: `nodes list`, and /metrics.
    let listed = cli(&a, a.repo(), &["nodes", "list"]).success();
    for needle in ["NODE", "a", "eu-west", "us-east", "live", "gone"] {
        assert!(listed.stdout.contains(needle), "{}", listed.stdout);
    }
    let json = cli(&b, b.repo(), &["nodes", "list", "-o", "json"]).success();
    let listed: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(listed[2]["name"], "c");
    assert_eq!(listed[2]["live"], false);
    assert_eq!(listed[2]["checks"], 0);
    let metrics = Daemon::client()
        .get(format!("{}/metrics", a.url))
        .bearer_auth(&a.key)
        .send()
        .expect("GET /metrics")
        .text()
        .unwrap();
    for needle in [
        "uptime_cluster_nodes_live 2",
        r#"uptime_node_info{node="a",location="eu-west"} 1"#,
        "uptime_node_checks_owned ",
        r#"uptime_node_leases_changed_total{change="taken"}"#,
    ] {
        assert!(metrics.contains(needle), "no `{needle}` in\n{metrics}");
    }
    for d in [a, b] {
        let (code, logs) = d.terminate();
        assert_eq!(code, 0, "{logs}");
    }
}

#[test]
fn an_outage_alerts_once_on_three_nodes_also_when_its_node_is_killed_mid_outage() {
    let url = crate::postgres_server::fresh_database();
    let (target, hook) = (Target::start(), Receiver::start());
    let first = Daemon::start(&args(&node(&url, "a", "eu-west")));
    let (b, c) = (
        Daemon::join(&args(&node(&url, "b", "eu-west")), &first),
        Daemon::join(&args(&node(&url, "c", "eu-west")), &first),
    );
    let mut daemons = vec![("a", first), ("b", b), ("c", c)];
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 5s\ntimeout: 2s\nalert: {{channels: [ops-hook], failure_threshold: 2}}\n---\nkind: Channel\nname: ops-hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n",
        target.url(),
        hook.url()
    );
    daemons[1]
        .1
        .post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
    let owner = wait_for("one node to hold the check", || {
        nodes(&daemons[0].1)
            .into_iter()
            .find(|(_, live, checks)| *live && *checks == 1)
            .map(|(name, _, _)| name)
    });

    target.set_healthy(false);
    wait_long("the opened notification", Duration::from_secs(30), || {
        hook.events().contains(&"opened".to_string()).then_some(())
    });
    // The node that runs the check goes away in the middle of the outage.
    let at = daemons.iter().position(|(n, _)| *n == owner).unwrap();
    let (_, killed) = daemons.remove(at);
    killed.kill9();
    target.set_healthy(true);
    wait_long("the resolved notification", Duration::from_secs(60), || {
        hook.events()
            .contains(&"resolved".to_string())
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    let logs: Vec<String> = daemons.iter().map(|(_, d)| d.logs()).collect();
    assert_eq!(
        hook.events_by_key(),
        [vec!["opened".to_string()], vec!["resolved".to_string()]],
        "each notification exactly once, from whichever node; killed {owner}; logs:\n{}",
        logs.join("\n----\n")
    );
    let incidents = daemons[0].1.get("/api/v1/incidents");
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    assert_eq!(incidents[0]["status"], "resolved");
    for (_, d) in daemons {
        let (code, logs) = d.terminate();
        assert_eq!(code, 0, "{logs}");
    }
}

/// A target that answers 503 to probes from the locations in `failing` (by
/// their `User-Agent`) and 200 to the others.
#[derive(Clone)]
struct Picky {
    addr: std::net::SocketAddr,
    failing: Arc<Mutex<Vec<String>>>,
}

impl Picky {
    fn start() -> Picky {
        let failing: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = Router::new()
            .route(
                "/health",
                get(
                    |State(failing): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap| async move {
                        let ua = user_agent(&headers);
                        let down = failing
                            .lock()
                            .unwrap()
                            .iter()
                            .any(|l| ua.ends_with(&format!("(+location={l})")));
                        if down {
                            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down here")
                        } else {
                            (axum::http::StatusCode::OK, "ok")
                        }
                    },
                ),
            )
            .with_state(Arc::clone(&failing));
        Picky {
            addr: serve(app),
            failing,
        }
    }

    fn fail_for(&self, locations: &[&str]) {
        *self.failing.lock().unwrap() = locations.iter().map(|l| l.to_string()).collect();
    }
}

#[test]
fn a_quorum_of_two_opens_an_incident_only_when_two_locations_see_the_target_down() {
    let url = crate::postgres_server::fresh_database();
    let (target, hook) = (Picky::start(), Receiver::start());
    let eu = Daemon::start(&args(&node(&url, "eu-1", "eu-west")));
    let us = Daemon::join(&args(&node(&url, "us-1", "us-east")), &eu);
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: http://{}/health\nschedule: 5s\ntimeout: 2s\nlocations: [eu-west, us-east]\nquorum: 2\nalert: {{channels: [ops-hook], failure_threshold: 1}}\n---\nkind: Channel\nname: ops-hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n",
        target.addr,
        hook.url()
    );
    eu.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));
    // Each location's node holds the check's lease there and runs it.
    wait_for("both nodes to run the check", || {
        let n = nodes(&eu);
        (n.len() == 2 && n.iter().all(|(_, live, c)| *live && *c == 1)).then_some(())
    });

    // Down from one location only: its runs are stored as failed, and no
    // incident opens, however many of them there are.
    target.fail_for(&["us-east"]);
    std::thread::sleep(EVERY * 4);
    let results = eu.get("/api/v1/checks/shop/results?limit=50");
    let failed = results["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["up"] == false)
        .count();
    assert!(failed >= 2, "us-east's failed runs are stored: {results}");
    // Each says where it ran.
    let from = |place: &str| -> Vec<bool> {
        let page = eu.get(&format!(
            "/api/v1/checks/shop/results?limit=50&location={place}"
        ));
        let items = page["items"].as_array().unwrap().clone();
        assert!(items.iter().all(|r| r["location"] == place), "{page}");
        items.iter().map(|r| r["up"] == true).collect()
    };
    let (us_runs, eu_runs) = (from("us-east"), from("eu-west"));
    let (code, body) = eu.call("GET", "/api/v1/checks/shop/results?location=ap-south", None);
    assert_eq!(code, 404, "a location the check does not run from: {body}");
    assert!(
        us_runs.iter().filter(|up| !**up).count() >= 2,
        "{us_runs:?}"
    );
    assert!(eu_runs.iter().all(|up| *up), "{eu_runs:?}");
    assert_eq!(
        eu.get("/api/v1/incidents").as_array().unwrap().len(),
        0,
        "one location of two is not a quorum"
    );
    assert!(hook.events().is_empty(), "{:?}", hook.events());

    // Down from both: the incident opens, and resolves once one location sees it up.
    target.fail_for(&["us-east", "eu-west"]);
    wait_long("the opened notification", Duration::from_secs(30), || {
        hook.events().contains(&"opened".to_string()).then_some(())
    });
    target.fail_for(&["us-east"]);
    wait_long("the resolved notification", Duration::from_secs(30), || {
        hook.events()
            .contains(&"resolved".to_string())
            .then_some(())
    });
    assert_eq!(
        hook.events_by_key(),
        [vec!["opened".to_string()], vec!["resolved".to_string()]],
        "{}",
        eu.logs()
    );

    // The report shows each location's figures beside the check's own (its
    // quorum's verdict), from either node.
    let report = us.get("/api/v1/report?check=shop&window=1h");
    let shop = &report["checks"][0];
    let places = shop["locations"].as_array().expect("locations");
    let failed = |place: &str| {
        places
            .iter()
            .find(|l| l["location"] == place)
            .map(|l| l["failed_runs"].as_u64().unwrap())
            .unwrap_or_else(|| panic!("no {place} in {shop}"))
    };
    assert!(failed("us-east") > failed("eu-west"), "{shop:#}");
    assert_eq!(
        shop["failed_runs"].as_u64(),
        Some(failed("us-east") + failed("eu-west"))
    );
    let dir = tempfile::tempdir().unwrap();
    let table = us
        .cli(dir.path())
        .args(["report", "--check", "shop", "--window", "1h"])
        .run()
        .success()
        .stdout;
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["shop", "@eu-west", "@us-east"], "{table}");
    for d in [eu, us] {
        let (code, logs) = d.terminate();
        assert_eq!(code, 0, "{logs}");
    }
}
