//! Table-driven tests of the incident core: each table is a list of cases (the
//! state, the event, the effects expected), run by one loop that names the case
//! that fails.

// A case is a tuple, one line of its table: the table's type names its columns.
#![allow(clippy::type_complexity)]

use super::*;
use crate::model::UpdateStatus;
use crate::spec::Maintenance;

/// 2026-12-01T01:00:00Z: inside the window of [`window`].
const NOW: i64 = 1_796_086_800_000;
const MIN: i64 = 60_000;

fn sig(hash: &str) -> Signature {
    Signature {
        error: format!("error {hash}"),
        status_code: Some(503),
        dedup_hash: hash.into(),
    }
}

fn open(status: IncidentStatus) -> IncidentState {
    IncidentState {
        id: 7,
        kind: IncidentKind::Down,
        status,
        severity: Severity::Warning,
        signature: sig("a"),
        acknowledged_by: (status == IncidentStatus::Acknowledged).then(|| "key:ops".into()),
        notified: true,
        opened_at: NOW - 60 * MIN,
        escalated_at: None,
        last_notified_at: None,
    }
}

fn policy(failures: u32, successes: u32) -> Policy {
    Policy {
        failure_threshold: failures,
        success_threshold: successes,
        severity: Severity::Critical,
        ..Policy::default()
    }
}

fn state(failures: i64, successes: i64, last_up: Option<bool>) -> CheckState {
    CheckState {
        failures,
        successes,
        last_up,
        created_at: None,
        open: None,
    }
}

fn with_open(mut s: CheckState, status: IncidentStatus) -> CheckState {
    s.open = Some(open(status));
    s
}

fn down(hash: &str) -> Facts {
    Facts {
        started_at: NOW,
        outcome: Outcome::Down(sig(hash)),
    }
}

fn up() -> Facts {
    Facts {
        started_at: NOW,
        outcome: Outcome::Up,
    }
}

fn opened(failures: i64, hash: &str) -> Vec<Effect> {
    vec![
        Effect::Open {
            kind: IncidentKind::Down,
            severity: Severity::Critical,
            signature: sig(hash),
            count: failures,
            at: NOW,
        },
        Effect::notify(
            EventKind::Opened,
            Detail::Opened {
                failures,
                error: sig(hash).error,
            },
        ),
    ]
}

fn resolved(successes: i64) -> Vec<Effect> {
    vec![
        Effect::Resolve {
            by: SYSTEM.into(),
            at: NOW,
        },
        Effect::notify(EventKind::Resolved, Detail::Successes(successes)),
    ]
}

#[test]
fn results_open_count_deduplicate_and_resolve_by_the_thresholds() {
    use IncidentStatus::{Acknowledged, Open};
    let changed = vec![
        Effect::CountFailure,
        Effect::ChangeSignature {
            from: sig("a"),
            to: sig("b"),
        },
        Effect::Record {
            kind: EventKind::SignatureChanged,
            actor: SYSTEM.into(),
            detail: Detail::SignatureChanged {
                from: sig("a"),
                to: sig("b"),
            },
        },
    ];
    // (case, state, result, policy, counters after (failures, successes), kept, effects)
    #[rustfmt::skip]
    let cases: Vec<(&str, CheckState, Facts, Policy, (i64, i64), bool, Vec<Effect>)> = vec![
        ("threshold 1: the first failure opens", state(0, 4, Some(true)), down("a"), policy(1, 1), (1, 0), true, opened(1, "a")),
        ("threshold 3: one failure opens nothing", state(0, 4, Some(true)), down("a"), policy(3, 1), (1, 0), true, vec![]),
        ("threshold 3: two failures open nothing", state(1, 0, Some(false)), down("a"), policy(3, 1), (2, 0), true, vec![]),
        ("threshold 3: the third failure opens, counting all three", state(2, 0, Some(false)), down("a"), policy(3, 1), (3, 0), true, opened(3, "a")),
        ("threshold N: the Nth failure opens", state(9, 0, Some(false)), down("a"), policy(10, 1), (10, 0), true, opened(10, "a")),
        ("past the threshold with none open (resolved by hand, counted afresh): opens", state(5, 0, Some(false)), down("a"), policy(3, 1), (6, 0), true, opened(6, "a")),
        ("a success breaks the run of failures", state(2, 0, Some(false)), up(), policy(3, 1), (0, 1), true, vec![]),
        ("a success with nothing open does nothing", state(0, 7, Some(true)), up(), policy(3, 1), (0, 8), false, vec![]),
        ("the first result ever is kept", state(0, 0, None), up(), policy(3, 1), (0, 1), true, vec![]),
        ("same signature: counted on the open incident", with_open(state(3, 0, Some(false)), Open), down("a"), policy(3, 1), (4, 0), true, vec![Effect::CountFailure]),
        ("changed signature: counted, changed and recorded", with_open(state(3, 0, Some(false)), Open), down("b"), policy(3, 1), (4, 0), true, changed.clone()),
        ("changed signature on an acknowledged incident: the same", with_open(state(3, 0, Some(false)), Acknowledged), down("b"), policy(3, 1), (4, 0), true, changed),
        ("an open incident never opens another", with_open(state(9, 0, Some(false)), Open), down("a"), policy(1, 1), (10, 0), true, vec![Effect::CountFailure]),
        ("success threshold 1: the first success resolves", with_open(state(3, 0, Some(false)), Open), up(), policy(3, 1), (0, 1), true, resolved(1)),
        ("success threshold 3: one success resolves nothing", with_open(state(3, 0, Some(false)), Open), up(), policy(3, 3), (0, 1), true, vec![]),
        ("success threshold 3: two successes resolve nothing", with_open(state(0, 1, Some(true)), Open), up(), policy(3, 3), (0, 2), false, vec![]),
        ("success threshold 3: the third success resolves", with_open(state(0, 2, Some(true)), Open), up(), policy(3, 3), (0, 3), false, resolved(3)),
        ("an acknowledged incident resolves on success too", with_open(state(3, 0, Some(false)), Acknowledged), up(), policy(3, 1), (0, 1), true, resolved(1)),
        ("a failure between successes starts the count again", with_open(state(0, 2, Some(true)), Open), down("a"), policy(3, 3), (1, 0), true, vec![Effect::CountFailure]),
    ];
    for (case, state, facts, policy, (failures, successes), keep, incident) in cases {
        let got = on_result(&state, &facts, &policy, NOW);
        let want = ResultEffects {
            counters: Counters {
                failures,
                successes,
            },
            keep,
            incident,
        };
        assert_eq!(got, Some(want), "{case}");
    }
}

#[test]
fn a_run_older_than_its_check_counts_for_nothing() {
    for (created_at, counted) in [
        (None, true),
        (Some(NOW - 1), true),
        (Some(NOW), true),
        (Some(NOW + 1), false),
    ] {
        let s = CheckState {
            created_at,
            ..state(0, 0, None)
        };
        assert_eq!(
            on_result(&s, &down("a"), &policy(1, 1), NOW).is_some(),
            counted,
            "created at {created_at:?}"
        );
    }
}

#[test]
fn a_policy_comes_from_the_check_or_the_defaults() {
    let check = |alert: serde_json::Value| -> Check {
        serde_json::from_value(serde_json::json!({"name": "api", "type": "http", "target": "https://x/", "alert": alert})).unwrap()
    };
    assert_eq!(
        Policy::of(&check(serde_json::Value::Null)),
        Policy::default()
    );
    let p = Policy::of(&check(
        serde_json::json!({"failure_threshold": 4, "success_threshold": 2, "severity": "warning", "escalate_after": "15m", "remind_every": "1h", "send_on_resolved": false}),
    ));
    assert_eq!(
        p,
        Policy {
            failure_threshold: 4,
            success_threshold: 2,
            severity: Severity::Warning,
            escalate_after_ms: Some(15 * MIN),
            remind_every_ms: Some(60 * MIN),
            send_on_resolved: false,
        }
    );
}

fn timed(escalate_after: Option<i64>, remind_every: Option<i64>) -> Policy {
    Policy {
        escalate_after_ms: escalate_after,
        remind_every_ms: remind_every,
        ..Policy::default()
    }
}

fn incident(f: impl FnOnce(&mut IncidentState)) -> IncidentState {
    let mut i = open(IncidentStatus::Open);
    f(&mut i);
    i
}

fn escalation(from: Severity, to: Severity) -> Vec<Effect> {
    vec![
        Effect::Escalate { from, to, at: NOW },
        Effect::notify(EventKind::Escalated, Detail::Escalated { from, to }),
    ]
}

fn reminder() -> Effect {
    Effect::notify(
        EventKind::Reminder,
        Detail::Reminder {
            open_for_seconds: 3600,
        },
    )
}

#[test]
fn the_timer_releases_escalates_and_reminds() {
    let maintenance = Some(Hold::Maintenance("deploy".into()));
    let dependency = Some(Hold::DependencyDown("db".into()));
    let release = Effect::Release { at: NOW };
    // (case, incident, policy, watched, hold, effects)
    #[rustfmt::skip]
    let cases: Vec<(&str, IncidentState, Policy, bool, Option<Hold>, Vec<Effect>)> = vec![
        ("nothing to do", incident(|_| {}), timed(None, None), true, None, vec![]),
        ("a held opening goes out once nothing holds it", incident(|i| i.notified = false), timed(None, None), true, None, vec![release.clone()]),
        ("a held opening stays held in maintenance", incident(|i| i.notified = false), timed(None, None), true, maintenance.clone(), vec![]),
        ("a held opening stays held while a dependency is down", incident(|i| i.notified = false), timed(None, None), true, dependency.clone(), vec![]),
        ("an acknowledged incident is left alone", incident(|i| { i.notified = false; i.status = IncidentStatus::Acknowledged }), timed(Some(MIN), Some(MIN)), true, None, vec![]),
        ("a resolved incident is left alone", incident(|i| { i.notified = false; i.status = IncidentStatus::Resolved }), timed(Some(MIN), Some(MIN)), true, None, vec![]),
        ("a paused or disabled check pages nobody", incident(|i| i.notified = false), timed(Some(MIN), Some(MIN)), false, None, vec![]),
        ("escalation due: warning steps up to error", incident(|_| {}), timed(Some(60 * MIN), None), true, None, escalation(Severity::Warning, Severity::Error)),
        ("escalation due: error steps up to critical", incident(|i| i.severity = Severity::Error), timed(Some(60 * MIN), None), true, None, escalation(Severity::Error, Severity::Critical)),
        ("critical is as far as it goes", incident(|i| i.severity = Severity::Critical), timed(Some(MIN), None), true, None, vec![]),
        ("escalation not due yet", incident(|_| {}), timed(Some(60 * MIN + 1), None), true, None, vec![]),
        ("escalation counts from the last step", incident(|i| i.escalated_at = Some(NOW - 10 * MIN)), timed(Some(15 * MIN), None), true, None, vec![]),
        ("escalation due again after the last step", incident(|i| { i.severity = Severity::Error; i.escalated_at = Some(NOW - 15 * MIN) }), timed(Some(15 * MIN), None), true, None, escalation(Severity::Error, Severity::Critical)),
        ("escalation happens in maintenance (its message is held)", incident(|_| {}), timed(Some(MIN), None), true, maintenance.clone(), escalation(Severity::Warning, Severity::Error)),
        ("a released opening escalates in the same pass", incident(|i| i.notified = false), timed(Some(MIN), None), true, None, [vec![release.clone()], escalation(Severity::Warning, Severity::Error)] .concat()),
        ("reminder due", incident(|_| {}), timed(None, Some(60 * MIN)), true, None, vec![reminder()]),
        ("reminder counts from the last message", incident(|i| i.last_notified_at = Some(NOW - 59 * MIN)), timed(None, Some(60 * MIN)), true, None, vec![]),
        ("reminder not due yet", incident(|_| {}), timed(None, Some(61 * MIN)), true, None, vec![]),
        ("reminder skipped in maintenance", incident(|_| {}), timed(None, Some(MIN)), true, maintenance, vec![]),
        ("reminder skipped while a dependency is down", incident(|_| {}), timed(None, Some(MIN)), true, dependency, vec![]),
        ("no reminder of an opening nobody was told of", incident(|i| i.notified = false), timed(None, Some(MIN)), true, Some(Hold::Maintenance("m".into())), vec![]),
        ("a released opening is the message: no reminder right after", incident(|i| i.notified = false), timed(None, Some(MIN)), true, None, vec![release.clone()]),
        ("an escalation sent is the message: no reminder right after", incident(|_| {}), timed(Some(MIN), Some(MIN)), true, None, escalation(Severity::Warning, Severity::Error)),
        ("a zero reminder interval still reminds after the release", incident(|i| i.notified = false), timed(None, Some(0)), true, None, vec![release, reminder()]),
    ];
    for (case, inc, policy, watched, hold, want) in cases {
        assert_eq!(
            on_tick(&inc, &policy, watched, hold.as_ref(), NOW),
            want,
            "{case}"
        );
        if !tick_due(&inc, &policy, watched, NOW) {
            assert_eq!(want, vec![], "{case}: not due, yet it does something");
        }
    }
}

#[test]
fn escalation_steps_up_one_severity_at_a_time() {
    for (from, to) in [
        (Severity::Warning, Severity::Error),
        (Severity::Error, Severity::Critical),
        (Severity::Critical, Severity::Critical),
    ] {
        assert_eq!(escalated(from), to, "{from:?}");
    }
}

fn facts(notified: bool, hold: Option<Hold>, send_on_resolved: bool) -> DeliveryFacts {
    DeliveryFacts {
        notified,
        hold,
        send_on_resolved,
    }
}

#[test]
fn a_message_goes_out_unless_held_or_nobody_was_told_of_the_opening() {
    let m = || Some(Hold::Maintenance("deploy".into()));
    let sent = |mark| Delivery {
        held: None,
        mark,
        send: true,
    };
    let told = Some(Mark::Notified { at: NOW });
    let quiet = Delivery::default();
    let held = |mark| Delivery {
        held: m(),
        mark,
        send: false,
    };
    use EventKind::*;
    // (kind, notified, hold, send_on_resolved, delivery)
    #[rustfmt::skip]
    let cases = vec![
        (Opened, false, None, true, sent(told)),
        (Opened, true, None, true, sent(told)),
        (Opened, true, m(), true, held(Some(Mark::Unnotified))),
        (Escalated, true, None, true, sent(told)),
        (Escalated, false, None, true, quiet.clone()),
        (Escalated, true, m(), true, held(None)),
        (Escalated, false, m(), true, held(None)),
        (Reminder, true, None, true, sent(told)),
        (Reminder, true, m(), true, held(None)),
        (Update, true, None, true, sent(None)),
        (Update, true, m(), true, held(None)),
        (Update, false, m(), true, quiet.clone()),
        (Update, false, None, true, quiet.clone()),
        (Acknowledged, true, None, true, sent(None)),
        (Acknowledged, false, None, true, quiet.clone()),
        (Resolved, true, None, true, sent(None)),
        (Resolved, true, None, false, quiet.clone()),
        (Resolved, false, None, true, quiet.clone()),
        (SignatureChanged, true, None, true, quiet.clone()),
        (Held, true, None, true, quiet.clone()),
        (Released, true, None, true, quiet),
    ];
    for (kind, notified, hold, on_resolved, want) in cases {
        let f = facts(notified, hold.clone(), on_resolved);
        assert_eq!(
            delivery(kind, &f, NOW),
            want,
            "{kind} notified={notified} hold={hold:?} send_on_resolved={on_resolved}"
        );
    }
}

fn check(depends_on: &[&str]) -> Check {
    serde_json::from_value(serde_json::json!({
        "name": "api", "type": "http", "target": "https://x/", "labels": {"team": "pay"}, "depends_on": depends_on
    }))
    .unwrap()
}

fn window(name: &str, extra: serde_json::Value) -> Maintenance {
    let mut v = serde_json::json!({"name": name, "start": "2026-12-01T00:00:00Z", "end": "2026-12-01T02:00:00Z"});
    if let (Some(m), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    serde_json::from_value(v).unwrap()
}

fn dep(
    name: &str,
    paused: bool,
    enabled: bool,
    last_up: Option<bool>,
    incident_open: bool,
) -> (String, Option<DepState>) {
    (
        name.into(),
        Some(DepState {
            paused,
            enabled,
            last_up,
            incident_open,
        }),
    )
}

#[test]
fn maintenance_and_dependencies_that_are_down_hold_alerts() {
    use serde_json::json;
    let over = window("deploy", json!({}));
    let later = window(
        "later",
        json!({"start": "2026-12-01T03:00:00Z", "end": "2026-12-01T04:00:00Z"}),
    );
    let other = window("other", json!({"checks": ["web"]}));
    let by_label = window("by-label", json!({"selector": {"team": "pay"}}));
    let by_name = window("by-name", json!({"checks": ["api"]}));
    let maintenance = |w: &str| Some(Hold::Maintenance(w.into()));
    let db_down = || Some(Hold::DependencyDown("db".into()));
    // (case, windows, depends_on, deps, hold)
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Maintenance>, Vec<&str>, Vec<(String, Option<DepState>)>, Option<Hold>)> = vec![
        ("none: no window, no dependency", vec![], vec![], vec![], None),
        ("a window over every check, now", vec![over.clone()], vec![], vec![], maintenance("deploy")),
        ("a window that is not open now", vec![later.clone()], vec![], vec![], None),
        ("a window over another check", vec![other.clone()], vec![], vec![], None),
        ("a window over the check by its labels", vec![by_label], vec![], vec![], maintenance("by-label")),
        ("a window over the check by its name", vec![by_name], vec![], vec![], maintenance("by-name")),
        ("the first window covering it is named", vec![other, later, over.clone(), window("z", json!({}))], vec![], vec![], maintenance("deploy")),
        ("a dependency whose last run failed", vec![], vec!["db"], vec![dep("db", false, true, Some(false), false)], db_down()),
        ("a dependency with an incident open", vec![], vec!["db"], vec![dep("db", false, true, Some(true), true)], db_down()),
        ("a dependency that is up", vec![], vec!["db"], vec![dep("db", false, true, Some(true), false)], None),
        ("a dependency that never ran", vec![], vec!["db"], vec![dep("db", false, true, None, false)], None),
        ("a paused dependency holds nothing", vec![], vec!["db"], vec![dep("db", true, true, Some(false), true)], None),
        ("a disabled dependency holds nothing", vec![], vec!["db"], vec![dep("db", false, false, Some(false), true)], None),
        ("a dependency the store does not know", vec![], vec!["db"], vec![("db".into(), None)], None),
        ("the first dependency down is named", vec![], vec!["cache", "db", "queue"], vec![dep("cache", false, true, Some(true), false), dep("queue", false, true, Some(false), false), dep("db", false, true, Some(false), false)], db_down()),
        ("both: maintenance is named", vec![over], vec!["db"], vec![dep("db", false, true, Some(false), false)], maintenance("deploy")),
    ];
    for (case, windows, depends_on, deps, want) in cases {
        assert_eq!(
            hold(&check(&depends_on), &windows, &deps, NOW),
            want,
            "{case}"
        );
    }
    assert_eq!(
        maintenance("deploy").unwrap().to_string(),
        "maintenance `deploy`"
    );
    assert_eq!(
        db_down().unwrap().to_string(),
        "`db`, which it depends on, is down"
    );
}

#[test]
fn acknowledging_and_resolving_by_hand_follow_the_status() {
    use IncidentStatus::*;
    let comment = Some("on it".to_string());
    let notify = |kind| Effect::Notify {
        kind,
        actor: "key:me".into(),
        detail: Detail::Comment(comment.clone()),
    };
    let ack = Effect::Acknowledge {
        by: "key:me".into(),
        at: NOW,
    };
    let resolve = Effect::Resolve {
        by: "key:me".into(),
        at: NOW,
    };
    // (case, status, kind, action, outcome)
    #[rustfmt::skip]
    let cases: Vec<(&str, IncidentStatus, IncidentKind, Action, Result<Vec<Effect>, &str>)> = vec![
        ("ack an open one", Open, IncidentKind::Down, Action::Acknowledge, Ok(vec![ack.clone(), notify(EventKind::Acknowledged)])),
        ("ack an acknowledged one", Acknowledged, IncidentKind::Down, Action::Acknowledge, Err("incident 7 is already acknowledged by key:ops")),
        ("ack a resolved one", Resolved, IncidentKind::Down, Action::Acknowledge, Err("incident 7 is resolved")),
        ("resolve an open one: failures count afresh", Open, IncidentKind::Down, Action::Resolve, Ok(vec![resolve.clone(), Effect::ResetFailures, notify(EventKind::Resolved)])),
        ("resolve an acknowledged one", Acknowledged, IncidentKind::Down, Action::Resolve, Ok(vec![resolve.clone(), Effect::ResetFailures, notify(EventKind::Resolved)])),
        ("resolve a burn: no failures to reset", Open, IncidentKind::SloBurn, Action::Resolve, Ok(vec![resolve, notify(EventKind::Resolved)])),
        ("ack a burn", Open, IncidentKind::SloBurn, Action::Acknowledge, Ok(vec![ack, notify(EventKind::Acknowledged)])),
        ("resolve a resolved one", Resolved, IncidentKind::Down, Action::Resolve, Err("incident 7 is resolved already")),
    ];
    for (case, status, kind, action, want) in cases {
        let mut inc = open(status);
        inc.kind = kind;
        let got = on_action(&inc, action, "key:me", comment.clone(), NOW);
        assert_eq!(got, want.map_err(|m| Refused(m.into())), "{case}");
    }
}

#[test]
fn updates_are_bounded_keep_their_status_and_are_notes_once_resolved() {
    use IncidentStatus::*;
    let update = |status: &str| Detail::Update {
        status: status.into(),
        message: "rolling back".into(),
    };
    let sent = |status: &str| {
        Ok(vec![Effect::Notify {
            kind: EventKind::Update,
            actor: "key:me".into(),
            detail: update(status),
        }])
    };
    let note = Ok(vec![Effect::Record {
        kind: EventKind::Update,
        actor: "key:me".into(),
        detail: update("resolved"),
    }]);
    let last = |s: &str| Some(s.to_string());
    // (case, status, updates so far, latest status, status given, outcome)
    #[rustfmt::skip]
    let cases: Vec<(&str, IncidentStatus, i64, Option<String>, Option<UpdateStatus>, Result<Vec<Effect>, Refused>)> = vec![
        ("the first update investigates", Open, 0, None, None, sent("investigating")),
        ("a status given is taken", Open, 3, last("investigating"), Some(UpdateStatus::Identified), sent("identified")),
        ("no status keeps the latest", Acknowledged, 3, last("monitoring"), None, sent("monitoring")),
        ("the last update allowed", Open, MAX_UPDATES_PER_INCIDENT - 1, None, None, sent("investigating")),
        ("one too many", Open, MAX_UPDATES_PER_INCIDENT, None, None, Err(Refused(format!("incident 7 has {MAX_UPDATES_PER_INCIDENT} updates, the most one takes ({MAX_UPDATES_PER_INCIDENT}); resolve it and follow up elsewhere")))),
        ("a note on a resolved one is sent to nobody", Resolved, 2, last("monitoring"), None, note),
        ("a note takes no status", Resolved, 0, None, Some(UpdateStatus::Monitoring), Err(Refused("incident 7 is resolved: a note on it takes no status `monitoring`; leave the status out".into()))),
    ];
    for (case, status, count, last_status, given, want) in cases {
        let facts = UpdateFacts { count, last_status };
        assert_eq!(
            on_update(&open(status), &facts, "key:me", "rolling back", given),
            want,
            "{case}"
        );
    }
}

#[test]
fn burns_open_and_resolve_and_removed_checks_resolve() {
    let burning = open(IncidentStatus::Open);
    let opened = vec![
        Effect::Open {
            kind: IncidentKind::SloBurn,
            severity: Severity::Warning,
            signature: Signature {
                error: "burning".into(),
                status_code: None,
                dedup_hash: burn_hash(),
            },
            count: 1,
            at: NOW,
        },
        Effect::notify(EventKind::Opened, Detail::Burn("burning".into())),
    ];
    let resolved = |why: &str| {
        vec![
            Effect::Resolve {
                by: SYSTEM.into(),
                at: NOW,
            },
            Effect::notify(EventKind::Resolved, Detail::Reason(why.into())),
        ]
    };
    // (case, open, burn, effects)
    #[rustfmt::skip]
    let cases: Vec<(&str, Option<&IncidentState>, Option<&str>, Vec<Effect>)> = vec![
        ("a burn with none open opens", None, Some("burning"), opened),
        ("a burn with one open does nothing", Some(&burning), Some("burning"), vec![]),
        ("no burn with one open resolves", Some(&burning), None, resolved("the burn stopped")),
        ("no burn with none open does nothing", None, None, vec![]),
    ];
    for (case, open, burn, want) in cases {
        assert_eq!(
            on_burn(open, burn, Severity::Warning, "the burn stopped", NOW),
            want,
            "{case}"
        );
    }
    assert_eq!(on_removed(NOW), resolved("check removed"));
}

#[test]
fn event_kinds_keep_their_stored_names() {
    let stored = [
        "opened",
        "acknowledged",
        "resolved",
        "signature_changed",
        "escalated",
        "reminder",
        "update",
        "held",
        "released",
    ];
    assert_eq!(EVENT_KINDS.map(EventKind::as_str), stored);
    for kind in EVENT_KINDS {
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    for unknown in ["", "Opened", "open", "test", "resolved "] {
        assert_eq!(
            unknown.parse::<EventKind>(),
            Err(UnknownEventKind(unknown.into())),
            "{unknown:?}"
        );
    }
}

#[test]
fn the_dedup_hash_ignores_what_varies_between_runs() {
    let result = |latency: f64, body: &str| -> crate::probe::ProbeResult {
        serde_json::from_value(serde_json::json!({
            "name": "api", "type": "http", "target": "https://x/", "up": false, "latency_ms": latency,
            "status_code": 503, "error": "status: expected 2xx, got 503", "attempts": 1,
            "started_at": "2026-12-01T01:00:00Z", "body_excerpt": body
        }))
        .unwrap()
    };
    let long = "x".repeat(crate::probe::BODY_EXCERPT_BYTES);
    assert_eq!(
        dedup_hash(&result(10.0, "down")),
        dedup_hash(&result(900.0, "down"))
    );
    assert_ne!(
        dedup_hash(&result(10.0, "down")),
        dedup_hash(&result(10.0, "up"))
    );
    assert_eq!(
        dedup_hash(&result(10.0, &format!("{long}tail"))),
        dedup_hash(&result(10.0, &format!("{long}other"))),
        "only the first bytes of the body count"
    );
    let s = Signature::of(&result(10.0, "down"));
    assert_eq!(
        (s.error.as_str(), s.status_code),
        ("status: expected 2xx, got 503", Some(503))
    );
}
