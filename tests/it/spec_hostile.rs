//! Check files built to exhaust the validator: very long `depends_on` chains
//! and many unknown references. They are answered, not crashed on or hung on.

use super::support::Files;

/// `n` checks in one file, `c{i}` depending on `c{i+1}`; with `closed` the
/// last one depends on the first, making one cycle through all of them.
fn chain(n: usize, closed: bool) -> String {
    let mut text = String::new();
    for i in 0..n {
        let next = if i + 1 < n {
            Some(i + 1)
        } else if closed {
            Some(0)
        } else {
            None
        };
        text.push_str(&format!(
            "---\nkind: Check\nname: c{i}\ntype: tcp\ntarget: example.com:25\n"
        ));
        if let Some(next) = next {
            text.push_str(&format!("depends_on: [c{next}]\n"));
        }
    }
    text
}

#[test]
fn a_very_long_dependency_chain_is_validated_without_overflowing_the_stack() {
    let dir = Files::new(&[("checks/chain.yaml", &chain(100_000, false))]);
    let run = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_cycle_through_a_very_long_chain_is_reported_not_crashed_on() {
    let dir = Files::new(&[("checks/chain.yaml", &chain(100_000, true))]);
    let run = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("may not depend on each other in a circle (c0 → c1 → c2")
            && !run.stderr.contains("overflow"),
        "{}",
        run.stderr
    );
}

#[test]
fn durations_above_ten_years_are_refused_where_they_are() {
    use super::spec_errors::{HEAD, assert_file_problems};
    for (field, over) in [
        ("remind_every", "18446744073709551615s"),
        ("escalate_after", "18446744073709551615s"),
        ("remind_every", "3651d"),
        ("escalate_after", "315360001"),
    ] {
        let col = 2 + field.len() + 3;
        let written = if over.ends_with('s') || over.ends_with('d') {
            over.to_string()
        } else {
            format!("{over}s")
        };
        assert_file_problems(
            &format!("{HEAD}alert:\n  {field}: {over}\n"),
            &[format!(
                "checks/api.yaml:6:{col}: `alert.{field}`: duration `{written}` is more than \
                 the maximum of 3650d (10 years); lower it"
            )],
        );
    }
    let dir = Files::new(&[(
        "checks/api.yaml",
        &format!("{HEAD}alert:\n  remind_every: 3650d\n  escalate_after: 315360000\n"),
    )]);
    let run = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_schedule_that_never_fires_is_refused_where_it_is() {
    use super::spec_errors::{HEAD, assert_file_problems};
    for never in ["0 0 0 30 2 *", "0 0 0 31 2,4,6,9,11 *"] {
        assert_file_problems(
            &format!("{HEAD}schedule: \"{never}\"\n"),
            &[format!(
                "checks/api.yaml:5:11: `schedule`: this schedule never fires: `{never}` names no \
                 date that exists; check the day of the month against the months"
            )],
        );
    }
}

/// `n` channels and `n` checks with 60-character names, each check naming a
/// channel and a check that do not exist but are one character off real ones.
fn near_misses(n: usize) -> String {
    let pad = "x".repeat(50);
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "---\nkind: Channel\nname: ch-{pad}-{i:06}\ntype: webhook\nwebhook:\n  url: https://example.com/h\n"
        ));
    }
    for i in 0..n {
        text.push_str(&format!(
            "---\nkind: Check\nname: ck-{pad}-{i:06}\ntype: tcp\ntarget: example.com:25\n\
             depends_on: [ck-{pad}-{i:06}z]\nalert:\n  channels: [ch-{pad}-{i:06}z]\n"
        ));
    }
    text
}

#[test]
fn thousands_of_unknown_references_are_all_reported_without_quadratic_hints() {
    let n = 3000;
    let dir = Files::new(&[("checks/a.yaml", &near_misses(n))]);
    let started = std::time::Instant::now();
    let run = dir.run(&["validate", "-f", "checks"]);
    eprintln!("validate of {n} near misses took {:?}", started.elapsed());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let not_defined = run
        .stderr
        .matches("is not defined in the files given")
        .count();
    assert_eq!(
        not_defined,
        2 * n,
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    // Above the candidate maximum, no reference gets a hint.
    assert_eq!(run.stderr.matches("did you mean").count(), 0);
}

#[test]
fn only_the_first_unknown_references_of_a_run_get_a_hint() {
    let n = 300;
    let dir = Files::new(&[("checks/a.yaml", &near_misses(n))]);
    let run = dir.run(&["validate", "-f", "checks"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr
            .matches("is not defined in the files given")
            .count(),
        2 * n
    );
    assert_eq!(run.stderr.matches("did you mean").count(), 100);
}
