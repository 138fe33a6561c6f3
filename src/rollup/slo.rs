//! SLO figures from merged buckets: attainment, error budget, burn rates, and the
//! multi-window, multi-burn-rate alert of the SRE workbook.
//!
//! Everything here takes plain numbers: milliseconds of `up` and `down` time over
//! a window, with maintenance and unknown time (daemon down, check paused) already
//! left out by whoever merged the buckets, and an objective in percent (`99.9`).
//! Nothing reads a store or a clock.
//!
//! The budget is counted over *known* time, not over the nominal window: a check
//! that was watched for 10 of its 30 days has the budget of 10 days. Time nobody
//! watched is neither spent nor saved, so a daemon that was down for a week does
//! not hand a check a week of free budget, nor charge it one.

/// One minute, in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour, in milliseconds.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;

/// A check's objective, as plain numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Percent of known time the check should be up, strictly between 0 and 100.
    pub objective: f64,
    /// The rolling window the objective is judged over.
    pub window_ms: i64,
}

/// The known time of a window, in floating point so that the sum of two huge
/// inputs neither wraps nor saturates away the ratio; negative inputs count as none.
fn known_ms(up_ms: i64, down_ms: i64) -> f64 {
    up_ms.max(0) as f64 + down_ms.max(0) as f64
}

/// The share of known time the objective allows to be down, e.g. `0.001` for
/// `99.9`; `None` when there is none (an objective of 100 or more, or not a
/// number), since no rate or budget percentage can be made of it.
fn allowed_share(objective: f64) -> Option<f64> {
    let share = (100.0 - objective) / 100.0;
    (share.is_finite() && share > 0.0).then_some(share.min(1.0))
}

/// Percent of known time that was up; `None` when no time is known.
pub fn attainment(up_ms: i64, down_ms: i64) -> Option<f64> {
    let known = known_ms(up_ms, down_ms);
    (known > 0.0).then(|| up_ms.max(0) as f64 / known * 100.0)
}

/// An error budget: how much down time the objective allows over the known time
/// of the window, and how much of it is left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Down time allowed: `(1 − objective/100) × known time`.
    pub total_ms: f64,
    /// Allowed minus down time; negative once the budget is overspent.
    pub left_ms: f64,
    /// `left_ms` as a percent of `total_ms` (negative when overspent); `None`
    /// when nothing is allowed (no known time yet, or no budget at all).
    pub left_percent: Option<f64>,
}

/// The error budget of `objective` given the window's up and down time. The
/// budget is over known time, not the nominal window (see the module's doc):
/// 99.9 over 30 fully known days allows 43.2 minutes.
pub fn budget(objective: f64, up_ms: i64, down_ms: i64) -> Budget {
    let known = known_ms(up_ms, down_ms);
    let total_ms = allowed_share(objective).map_or(0.0, |share| share * known);
    let left_ms = total_ms - down_ms.max(0) as f64;
    let left_percent = (total_ms > 0.0).then(|| left_ms / total_ms * 100.0);
    Budget {
        total_ms,
        left_ms,
        left_percent,
    }
}

/// How fast the budget burns: the share of known time that was down, divided by
/// the share the objective allows. 1 spends the budget exactly over the window;
/// 14.4 spends a 30-day budget in a little over two days. `None` when no time is
/// known, or when the objective allows no down time at all.
pub fn burn_rate(objective: f64, up_ms: i64, down_ms: i64) -> Option<f64> {
    let known = known_ms(up_ms, down_ms);
    let share = allowed_share(objective)?;
    (known > 0.0).then(|| down_ms.max(0) as f64 / known / share)
}

/// One rule of the multi-window alert: it fires when the burn rate over both the
/// long and the short window is at least `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRule {
    /// The window that makes the alert significant: this much burn spent a
    /// real part of the budget.
    pub long_ms: i64,
    /// The window that makes the alert current: the burn is still going on, and
    /// once it stops this window empties fast and the rule stops firing.
    pub short_ms: i64,
    /// The burn rate both windows must reach.
    pub factor: f64,
}

/// The SRE workbook's pairs, fastest first: 14.4× over 1h (and 5m) spends 2% of
/// a 30-day budget in that hour; 6× over 6h (and 30m) spends 5% of it in those
/// six hours. Slower burns are for a report, not for waking someone.
pub const BURN_RULES: [BurnRule; 2] = [
    BurnRule {
        long_ms: HOUR_MS,
        short_ms: 5 * MINUTE_MS,
        factor: 14.4,
    },
    BurnRule {
        long_ms: 6 * HOUR_MS,
        short_ms: 30 * MINUTE_MS,
        factor: 6.0,
    },
];

/// The least share of each window of a rule that must be known time before the
/// rule may fire. A window mostly unknown (the daemon just started, the check
/// was paused, maintenance just ended) holds a run or two; deciding on those
/// would turn one failed run into a 1000× burn. Half of the short window of the
/// fast rule is 2.5 minutes: a few runs of a check every 30 s or minute. The
/// long window is held to the same share, since it is what says "this much of
/// the budget was spent": on a sliver of it the rule would fire on far less
/// spend than it names.
pub const MIN_KNOWN_SHARE: f64 = 0.5;

/// How much below a factor a burn rate may be and still reach it: the rates are
/// quotients of floating point numbers, and a burn of exactly 14.4× should not
/// miss by the last bit.
const FACTOR_TOLERANCE: f64 = 1e-9;

/// A rule that fires, with the burn rate of each of its windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    pub rule: BurnRule,
    pub long_rate: f64,
    pub short_rate: f64,
}

/// The burn rate over one window, if enough of the window is known to decide.
fn judged_rate(objective: f64, window_ms: i64, (up_ms, down_ms): (i64, i64)) -> Option<f64> {
    let known = known_ms(up_ms, down_ms);
    if known < window_ms as f64 * MIN_KNOWN_SHARE {
        return None;
    }
    burn_rate(objective, up_ms, down_ms)
}

/// The first rule of [`BURN_RULES`] (the fastest) whose long and short windows
/// both burn at least its factor, with both rates; `None` when none does.
/// `windows(ms)` gives `(up_ms, down_ms)` over the last `ms` milliseconds. A
/// window with less than [`MIN_KNOWN_SHARE`] of known time keeps its rule from
/// firing.
///
/// The alert is over as soon as this returns `None`. That is the point of the
/// pairs: once the burn stops, the short window (5 or 30 minutes) fills with up
/// time and drops below the factor long before the long window would, so the
/// incident resolves minutes after the recovery instead of hours.
pub fn burning(objective: f64, windows: &dyn Fn(i64) -> (i64, i64)) -> Option<Burn> {
    BURN_RULES.iter().find_map(|rule| {
        let reaches = |rate: f64| rate >= rule.factor * (1.0 - FACTOR_TOLERANCE);
        let short_rate = judged_rate(objective, rule.short_ms, windows(rule.short_ms))?;
        if !reaches(short_rate) {
            return None;
        }
        let long_rate = judged_rate(objective, rule.long_ms, windows(rule.long_ms))?;
        reaches(long_rate).then_some(Burn {
            rule: *rule,
            long_rate,
            short_rate,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * HOUR_MS;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
    }

    #[track_caller]
    fn assert_close(actual: Option<f64>, expected: Option<f64>, what: &str) {
        match (actual, expected) {
            (Some(a), Some(e)) => assert!(close(a, e), "{what}: {a} is not {e}"),
            (a, e) => assert_eq!(a, e, "{what}"),
        }
    }

    #[test]
    fn attainment_is_the_up_share_of_known_time() {
        for (up, down, expected) in [
            (99, 1, Some(99.0)),
            (30 * DAY_MS, 0, Some(100.0)),
            (0, 5 * MINUTE_MS, Some(0.0)),
            (999, 1, Some(99.9)),
            (0, 0, None),
            (-5, -5, None),
            (i64::MAX, i64::MAX, Some(50.0)),
        ] {
            assert_close(attainment(up, down), expected, &format!("{up}/{down}"));
        }
    }

    #[test]
    fn budget_is_allowed_down_time_over_known_time() {
        let month = 30 * DAY_MS;
        // (objective, up, down) → (total, left, left percent)
        for (objective, up, down, total, left, percent) in [
            // 99.9 over 30 known days allows 43.2 minutes.
            (99.9, month, 0, 2_592_000.0, 2_592_000.0, Some(100.0)),
            // Ten of those minutes down: 33.2 left, 76.85…%.
            (
                99.9,
                month - 10 * MINUTE_MS,
                10 * MINUTE_MS,
                2_592_000.0,
                1_992_000.0,
                Some(1_992_000.0 / 2_592_000.0 * 100.0),
            ),
            // Exactly spent.
            (
                99.9,
                month - 2_592_000,
                2_592_000,
                2_592_000.0,
                0.0,
                Some(0.0),
            ),
            // Overspent: an hour down is 16.8 minutes over, −38.9%.
            (
                99.9,
                month - HOUR_MS,
                HOUR_MS,
                2_592_000.0,
                -1_008_000.0,
                Some(-1_008_000.0 / 2_592_000.0 * 100.0),
            ),
            // Only ten days known: the budget of ten days, not thirty.
            (99.9, 10 * DAY_MS, 0, 864_000.0, 864_000.0, Some(100.0)),
            // 99 over a day allows 14.4 minutes.
            (99.0, DAY_MS, 0, 864_000.0, 864_000.0, Some(100.0)),
            // Nothing known: nothing allowed, no percentage.
            (99.9, 0, 0, 0.0, 0.0, None),
            // An objective near 0 allows almost all of the time.
            (0.0001, 0, DAY_MS, 86_399_913.6, -86.4, Some(-0.0001)),
            // An objective of 100 allows nothing; what is down is overspent.
            (100.0, DAY_MS, MINUTE_MS, 0.0, -60_000.0, None),
        ] {
            let b = budget(objective, up, down);
            let what = format!("{objective} {up}/{down}: {b:?}");
            assert!(close(b.total_ms, total), "total of {what}");
            assert!(
                (b.left_ms - left).abs() <= 1e-6 * total.max(1.0),
                "left of {what}"
            );
            match (b.left_percent, percent) {
                (Some(a), Some(e)) => assert!((a - e).abs() < 1e-6, "percent of {what}"),
                (a, e) => assert_eq!(a, e, "percent of {what}"),
            }
        }
    }

    #[test]
    fn burn_rate_is_the_error_share_over_the_allowed_share() {
        for (objective, up, down, expected) in [
            // Down as much as allowed: 1×.
            (99.9, 999, 1, Some(1.0)),
            // 1.44% down against 0.1% allowed: 14.4×.
            (99.9, 9_856, 144, Some(14.4)),
            (99.9, 1_000, 0, Some(0.0)),
            // All down against 0.1%: 1000×, the most a 99.9 objective can burn.
            (99.9, 0, 1_000, Some(1000.0)),
            (99.0, 94, 6, Some(6.0)),
            (50.0, 50, 50, Some(1.0)),
            (99.9, 0, 0, None),
            (100.0, 999, 1, None),
            (f64::NAN, 999, 1, None),
        ] {
            assert_close(
                burn_rate(objective, up, down),
                expected,
                &format!("{objective} {up}/{down}"),
            );
        }
    }

    /// Per window: its length, the share of it known, and the share of that down.
    type Figures = [(i64, f64, f64)];

    /// Windows that report `down` share of each window as down time, fully
    /// known, except where `figures` says otherwise for a window.
    fn windows(figures: &Figures) -> impl Fn(i64) -> (i64, i64) + '_ {
        move |ms| {
            let (known_share, down_share) = figures
                .iter()
                .find(|(w, _, _)| *w == ms)
                .map_or((1.0, 0.0), |(_, k, d)| (*k, *d));
            let known = (ms as f64 * known_share) as i64;
            let down = (known as f64 * down_share).round() as i64;
            (known - down, down)
        }
    }

    #[test]
    fn each_rule_fires_alone_and_only_when_both_windows_burn() {
        let fast = BURN_RULES[0];
        let slow = BURN_RULES[1];
        // (what, [(window, known share, down share)], rule that fires)
        let cases: &[(&str, &Figures, Option<BurnRule>)] = &[
            ("all up", &[], None),
            (
                "fast: 1.44% down over 1h and 5m is exactly 14.4×",
                &[(HOUR_MS, 1.0, 0.0144), (5 * MINUTE_MS, 1.0, 0.0144)],
                Some(fast),
            ),
            (
                "fast: everything down in the last hour",
                &[
                    (HOUR_MS, 1.0, 1.0),
                    (5 * MINUTE_MS, 1.0, 1.0),
                    (6 * HOUR_MS, 1.0, 1.0 / 6.0),
                    (30 * MINUTE_MS, 1.0, 1.0),
                ],
                Some(fast),
            ),
            (
                "slow: 0.6% down over 6h and 30m, too little for the fast rule",
                &[
                    (6 * HOUR_MS, 1.0, 0.006),
                    (30 * MINUTE_MS, 1.0, 0.006),
                    (HOUR_MS, 1.0, 0.006),
                    (5 * MINUTE_MS, 1.0, 0.006),
                ],
                Some(slow),
            ),
            (
                "fast long window high, its short window just below",
                &[(HOUR_MS, 1.0, 0.5), (5 * MINUTE_MS, 1.0, 0.0143)],
                None,
            ),
            (
                "short window burning, long window below: a blip",
                &[(HOUR_MS, 1.0, 0.0143), (5 * MINUTE_MS, 1.0, 1.0)],
                None,
            ),
            (
                "recovered: both long windows high, both short windows up",
                &[
                    (HOUR_MS, 1.0, 0.5),
                    (5 * MINUTE_MS, 1.0, 0.0),
                    (6 * HOUR_MS, 1.0, 0.2),
                    (30 * MINUTE_MS, 1.0, 0.0),
                ],
                None,
            ),
            (
                "slow long window high, its short window below",
                &[(6 * HOUR_MS, 1.0, 0.1), (30 * MINUTE_MS, 1.0, 0.0059)],
                None,
            ),
        ];
        for (what, figures, expected) in cases {
            let got = burning(99.9, &windows(figures));
            assert_eq!(got.map(|b| b.rule), *expected, "{what}: {got:?}");
        }
        let fired = burning(
            99.9,
            &windows(&[(HOUR_MS, 1.0, 0.02), (5 * MINUTE_MS, 1.0, 0.05)]),
        )
        .expect("fast rule");
        assert!(close(fired.long_rate, 20.0), "{fired:?}");
        assert!(close(fired.short_rate, 50.0), "{fired:?}");
    }

    #[test]
    fn too_little_known_time_keeps_a_rule_from_firing() {
        let all_down_hour = |short_known: f64, long_known: f64| {
            burning(
                99.9,
                &windows(&[
                    (HOUR_MS, long_known, 1.0),
                    (5 * MINUTE_MS, short_known, 1.0),
                ]),
            )
        };
        assert_eq!(
            all_down_hour(0.49, 1.0),
            None,
            "short window under half known"
        );
        assert_eq!(
            all_down_hour(1.0, 0.49),
            None,
            "long window under half known"
        );
        assert_eq!(all_down_hour(0.0, 0.0), None, "nothing known");
        assert_eq!(
            all_down_hour(0.5, 0.5).map(|b| b.rule),
            Some(BURN_RULES[0]),
            "half known is enough"
        );
        // The fast rule cannot decide, the slow one still can.
        let slow = burning(
            99.9,
            &windows(&[
                (5 * MINUTE_MS, 0.2, 1.0),
                (HOUR_MS, 1.0, 1.0),
                (6 * HOUR_MS, 1.0, 0.5),
                (30 * MINUTE_MS, 1.0, 1.0),
            ]),
        );
        assert_eq!(slow.map(|b| b.rule), Some(BURN_RULES[1]));
    }

    #[test]
    fn objective_edges_decide_sensibly() {
        let all_down = windows(&[
            (HOUR_MS, 1.0, 1.0),
            (5 * MINUTE_MS, 1.0, 1.0),
            (6 * HOUR_MS, 1.0, 1.0),
            (30 * MINUTE_MS, 1.0, 1.0),
        ]);
        // The tightest objective the files allow burns 1,000,000× when all down.
        let tight = burning(99.9999, &all_down).expect("fires");
        assert!(close(tight.long_rate, 1_000_000.0), "{tight:?}");
        // All down burns 1 / (1 − objective/100): 10× at 90%, enough for the
        // slow rule only, and 5× at 80%, enough for neither. Objectives below
        // about 83.3% cannot fire at all.
        assert_eq!(
            burning(90.0, &all_down).map(|b| b.rule),
            Some(BURN_RULES[1])
        );
        assert_eq!(burning(80.0, &all_down), None);
        assert_eq!(burning(0.0001, &all_down), None);
        // Objectives the files refuse never fire, whatever the data.
        for bad in [100.0, 150.0, f64::NAN, f64::INFINITY] {
            assert_eq!(burning(bad, &all_down), None, "{bad}");
        }
    }
}
