//! SLO figures from merged buckets: attainment, error budget, burn rates, and the
//! multi-window, multi-burn-rate alert of the SRE workbook.

// TEMPORARY until the SLO math lands.
pub struct Budget {
    pub total_ms: f64,
    pub left_ms: f64,
    pub left_percent: Option<f64>,
}
pub fn attainment(up_ms: i64, down_ms: i64) -> Option<f64> {
    let known = up_ms + down_ms;
    (known > 0).then(|| up_ms as f64 * 100.0 / known as f64)
}
pub fn budget(objective: f64, up_ms: i64, down_ms: i64) -> Budget {
    let total = (1.0 - objective / 100.0) * (up_ms + down_ms) as f64;
    let left = total - down_ms as f64;
    Budget {
        total_ms: total,
        left_ms: left,
        left_percent: (total > 0.0).then(|| left * 100.0 / total),
    }
}
pub fn burn_rate(objective: f64, up_ms: i64, down_ms: i64) -> Option<f64> {
    attainment(up_ms, down_ms).map(|a| (100.0 - a) / (100.0 - objective))
}
#[derive(Clone, Copy)]
pub struct BurnRule {
    pub long_ms: i64,
    pub short_ms: i64,
    pub factor: f64,
}
pub const BURN_RULES: [BurnRule; 2] = [
    BurnRule {
        long_ms: 3_600_000,
        short_ms: 300_000,
        factor: 14.4,
    },
    BurnRule {
        long_ms: 21_600_000,
        short_ms: 1_800_000,
        factor: 6.0,
    },
];
pub struct Burn {
    pub rule: BurnRule,
    pub long_rate: f64,
    pub short_rate: f64,
}
pub fn burning(objective: f64, windows: &dyn Fn(i64) -> (i64, i64)) -> Option<Burn> {
    BURN_RULES.iter().find_map(|r| {
        let (lu, ld) = windows(r.long_ms);
        let (su, sd) = windows(r.short_ms);
        let l = burn_rate(objective, lu, ld)?;
        let s = burn_rate(objective, su, sd)?;
        (l >= r.factor && s >= r.factor).then_some(Burn {
            rule: *r,
            long_rate: l,
            short_rate: s,
        })
    })
}
