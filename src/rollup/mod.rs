//! Rollups: what results add up to. Pure code (no store, no clock), used by the
//! results writer to fold results into per-check buckets, and by reports, SLOs and
//! burn-rate alerts to merge buckets over any window.
//!
//! - [`sketch`]: a mergeable latency sketch with a relative-error bound.
//! - [`bucket`]: one bucket (counts, time by state, latency min/max/sum, sketch) and
//!   its compact encoding on disk.
//! - [`plan`]: which buckets of which resolution a window is read from.
//! - [`slo`]: SLO attainment, error budget and burn rates from merged buckets.

pub mod bucket;
pub mod plan;
pub mod sketch;
pub mod slo;
mod varint;

pub use bucket::{Bucket, DecodeError, Resolution, TimeState};
pub use sketch::Sketch;
