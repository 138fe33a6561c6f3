//! A daemon with its state in PostgreSQL, on a server of the test's own that is
//! restarted and stopped under it: incidents and notifications are not lost, and
//! readiness says when the database is gone.

use serde_json::json;

use crate::daemon_support::{Daemon, Receiver, Target, plan_request, wait_for};
use crate::postgres_server::Server;

#[test]
fn a_postgres_restart_mid_outage_loses_no_incident_and_no_notification() {
    let mut server = Server::start();
    let url = server.create_database();
    let d = Daemon::start(&["--store", &url]);
    let (target, hook) = (Target::start(), Receiver::start());
    let yaml = format!(
        "kind: Check\nname: shop\ntype: http\ntarget: {}\nschedule: 5s\ntimeout: 2s\nalert: {{channels: [ops-hook], failure_threshold: 2}}\n---\nkind: Channel\nname: ops-hook\ntype: webhook\nwebhook: {{url: \"{}\"}}\n",
        target.url(),
        hook.url()
    );
    d.post("/api/v1/apply", &plan_request("repo", &yaml, json!({})));

    // The outage begins and PostgreSQL restarts while its results are written.
    target.set_healthy(false);
    for _ in 0..4 {
        d.get("/api/v1/checks");
    }
    server.restart();
    // Connections the readers held from before the restart are found dead and
    // replaced: not one read fails for them.
    for _ in 0..8 {
        let (code, body) = d.call("GET", "/api/v1/incidents", None);
        assert_eq!(code, 200, "{body}");
    }
    wait_for("the opened notification", || {
        hook.events().contains(&"opened".to_string()).then_some(())
    });

    // Gone for a while: the daemon says it is not ready, and comes back by itself.
    server.stop();
    wait_for("/readyz to fail while PostgreSQL is down", || {
        (d.call("GET", "/readyz", None).0 == 503).then_some(())
    });
    target.set_healthy(true);
    server.restart();
    wait_for("/readyz to pass again", || {
        (d.call("GET", "/readyz", None).0 == 200).then_some(())
    });
    wait_for("the resolved notification", || {
        hook.events()
            .contains(&"resolved".to_string())
            .then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(3));

    assert_eq!(
        hook.events_by_key(),
        [vec!["opened".to_string()], vec!["resolved".to_string()]],
        "each notification exactly once; the log:\n{}",
        d.logs()
    );
    let incidents = d.get("/api/v1/incidents");
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    assert_eq!(incidents[0]["status"], "resolved");
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");
}
