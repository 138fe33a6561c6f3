//! A mergeable latency sketch (DDSketch's logarithmic mapping): every value lands in
//! the bin `ceil(log_γ(x))` with `γ = (1 + α) / (1 − α)`, so any quantile read back
//! is within [`RELATIVE_ERROR`] of a value of the sample at that rank. Merging is
//! adding bin counts, so sketches of minutes add up to hours, days and any window.

/// The relative-error bound α of every quantile.
pub const RELATIVE_ERROR: f64 = 0.01;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    // filled in by the implementation
}

impl Sketch {
    pub fn new() -> Sketch {
        todo!()
    }
    /// Adds one latency in milliseconds (negative and NaN count as zero).
    pub fn add(&mut self, _ms: f64) {
        todo!()
    }
    pub fn merge(&mut self, _other: &Sketch) {
        todo!()
    }
    pub fn count(&self) -> u64 {
        todo!()
    }
    /// The `q`-quantile (0 ≤ q ≤ 1) in milliseconds; `None` when empty.
    pub fn quantile(&self, _q: f64) -> Option<f64> {
        todo!()
    }
}
