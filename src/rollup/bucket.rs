//! One rollup bucket and its compact encoding.

use super::sketch::Sketch;

/// The bucket widths kept on disk. 5m and 15m are merged from minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];
    pub fn width_ms(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }
    /// The start (Unix ms, UTC) of the bucket holding `at_ms`.
    pub fn floor(self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.width_ms()) * self.width_ms()
    }
}

/// What a span of time was, for uptime by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeState {
    Up,
    Down,
    /// Held by a maintenance window: excluded from uptime.
    Maintenance,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a stored rollup bucket cannot be read: {0}")]
pub struct DecodeError(pub String);

/// Counts, time by state, latency min/max/sum (ms) and a sketch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    pub up: u64,
    pub down: u64,
    pub up_ms: i64,
    pub down_ms: i64,
    pub maintenance_ms: i64,
    /// `f64::INFINITY` / `NEG_INFINITY` while there is no sample.
    pub latency_min: f64,
    pub latency_max: f64,
    pub latency_sum: f64,
    pub sketch: Sketch,
}

impl Bucket {
    pub fn new() -> Bucket {
        todo!()
    }
    pub fn quantile(&self, _q: f64) -> Option<f64> {
        todo!()
    }
    pub fn total(&self) -> u64 {
        self.up + self.down
    }
    /// One run: counted, and its latency kept.
    pub fn add_run(&mut self, _up: bool, _latency_ms: f64) {
        todo!()
    }
    pub fn add_time(&mut self, _state: TimeState, _ms: i64) {
        todo!()
    }
    pub fn merge(&mut self, _other: &Bucket) {
        todo!()
    }
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<Bucket, DecodeError> {
        todo!()
    }
}

/// Splits `[start_ms, end_ms)` at the edges of `res`'s buckets: (bucket start, ms in it).
pub fn split(_res: Resolution, _start_ms: i64, _end_ms: i64) -> Vec<(i64, i64)> {
    todo!()
}
