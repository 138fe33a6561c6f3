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
    Budget { total_ms: total, left_ms: left, left_percent: (total > 0.0).then(|| left * 100.0 / total) }
}
pub fn burn_rate(objective: f64, up_ms: i64, down_ms: i64) -> Option<f64> {
    attainment(up_ms, down_ms).map(|a| (100.0 - a) / (100.0 - objective))
}
