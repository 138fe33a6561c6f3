//! A check's service level objective (`slo:`): the share of its known time it
//! should be up over a rolling window, and whether burning the error budget too
//! fast opens an incident. The rules here are those of the file; the figures are
//! worked out by `rollup::slo`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;
use super::decode::Positions;
use super::diag::Pos;

type Errors = Vec<(Pos, String)>;

/// The window an SLO is judged over when the file gives none: 30 days is the
/// usual budgeting period, long enough that one bad hour does not spend it all.
pub const DEFAULT_SLO_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// The shortest SLO window. The slowest burn-rate alert looks back 6 hours; a
/// window of less than a day leaves a budget that one such alert window spends
/// whole, and day rollups could not show it.
pub const MIN_SLO_WINDOW: Duration = Duration::from_secs(86_400);

/// The longest SLO window: hour rollups, which SLO figures are read from, are
/// kept 90 days by default, so a longer window would be judged on data that no
/// longer exists.
pub const MAX_SLO_WINDOW: Duration = Duration::from_secs(90 * 86_400);

/// The most decimals an objective may have: `99.9999` allows 2.6 s of down
/// time in 30 days, already below what a check running every 5 s can see; a
/// finer objective promises a precision no probe measures.
pub const MAX_OBJECTIVE_DECIMALS: i32 = 4;

/// The service level objective of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Percent of the known time (maintenance and unknown time left out) the
    /// check should be up: a number strictly between 0 and 100 with at most 4
    /// decimals, e.g. `99.9`.
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 100))]
    pub objective: f64,
    /// The rolling window the objective is judged over, 1d to 90d; 30d by default.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Whether burning the error budget too fast opens an incident of its own.
    #[serde(default = "default_true")]
    pub alert: bool,
}

fn default_window() -> Duration {
    DEFAULT_SLO_WINDOW
}

fn default_true() -> bool {
    true
}

/// Whether `objective` has at most [`MAX_OBJECTIVE_DECIMALS`] decimals. The
/// number was read from decimal text into binary, so "exactly" means within
/// far less than the last allowed decimal.
fn few_decimals(objective: f64) -> bool {
    let scaled = objective * 10f64.powi(MAX_OBJECTIVE_DECIMALS);
    (scaled - scaled.round()).abs() < 1e-6
}

/// Refuses an objective that is not a percentage short of 100, or that is finer
/// than can be measured, and a window outside [`MIN_SLO_WINDOW`]–[`MAX_SLO_WINDOW`].
pub(crate) fn validate(slo: &Slo, pos: &Positions, errors: &mut Errors) {
    let objective = slo.objective;
    // Very large numbers print in exponent form rather than as hundreds of digits.
    let shown = if objective.abs() < 1e9 {
        objective.to_string()
    } else {
        format!("{objective:e}")
    };
    if !objective.is_finite() || objective <= 0.0 || objective >= 100.0 {
        errors.push((
            pos.value("/slo/objective"),
            format!(
                "`slo.objective`: {shown} is not a percentage above 0 and below 100; \
                 write the share of time the check should be up, e.g. `99.9`"
            ),
        ));
    } else if !few_decimals(objective) {
        errors.push((
            pos.value("/slo/objective"),
            format!(
                "`slo.objective`: {shown} has more than {MAX_OBJECTIVE_DECIMALS} decimals; \
                 round it, e.g. to `99.9999`"
            ),
        ));
    }
    let window = slo.window;
    if window < MIN_SLO_WINDOW || window > MAX_SLO_WINDOW {
        errors.push((
            pos.value("/slo/window"),
            format!(
                "`slo.window`: {window} is outside {MIN_SLO_WINDOW} to {MAX_SLO_WINDOW}; \
                 hour rollups are kept {MAX_SLO_WINDOW} by default, so choose a window \
                 in that range, e.g. `30d`"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_counted_on_the_number_as_written() {
        for ok in [99.0, 99.9, 99.95, 99.999, 99.9999, 0.0001, 50.5] {
            assert!(few_decimals(ok), "{ok}");
        }
        for fine in [99.99999, 0.00001, 99.12345] {
            assert!(!few_decimals(fine), "{fine}");
        }
    }
}
