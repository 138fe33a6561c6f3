//! One rollup bucket and its compact encoding.

use super::sketch::{MAX_MS, Sketch, clamp_ms, damaged};
use super::varint;

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
    /// The index of the bucket holding `at_ms`: its start in units of its width
    /// since the Unix epoch.
    pub fn index(self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.width_ms())
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
#[derive(Debug, Clone, PartialEq)]
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

/// The first byte of an encoded bucket: which fields follow. A zero field is left
/// out; the top bit is kept for a format to come, which this version refuses.
mod flag {
    pub const UP: u8 = 1 << 0;
    pub const DOWN: u8 = 1 << 1;
    pub const UP_MS: u8 = 1 << 2;
    pub const DOWN_MS: u8 = 1 << 3;
    pub const MAINTENANCE_MS: u8 = 1 << 4;
    /// Min and max latency follow.
    pub const LATENCY: u8 = 1 << 5;
    /// The latency sum and the sketch follow; without it they are rebuilt from
    /// min and max, which is all there is to know of one or two runs.
    pub const SKETCH: u8 = 1 << 6;
    pub const NEWER_FORMAT: u8 = 1 << 7;
}

/// Runs up to this many have their sum and sketch rebuilt from min and max
/// instead of stored: one run is its min, two runs are their min and max.
pub const DERIVED_RUNS: u64 = 2;

/// Milliseconds to the whole microseconds they are stored as.
fn to_us(ms: f64) -> u128 {
    // `as` saturates: NaN and negative become 0.
    (ms * 1000.0).round() as u128
}

fn from_us(us: u128) -> f64 {
    us as f64 / 1000.0
}

impl Default for Bucket {
    fn default() -> Bucket {
        Bucket::new()
    }
}

impl Bucket {
    pub fn new() -> Bucket {
        Bucket {
            up: 0,
            down: 0,
            up_ms: 0,
            down_ms: 0,
            maintenance_ms: 0,
            latency_min: f64::INFINITY,
            latency_max: f64::NEG_INFINITY,
            latency_sum: 0.0,
            sketch: Sketch::new(),
        }
    }
    pub fn total(&self) -> u64 {
        self.up + self.down
    }
    /// One run: counted, and its latency kept (NaN and negative as 0, at most a day).
    pub fn add_run(&mut self, up: bool, latency_ms: f64) {
        if up {
            self.up = self.up.saturating_add(1);
        } else {
            self.down = self.down.saturating_add(1);
        }
        let ms = clamp_ms(latency_ms);
        self.latency_min = self.latency_min.min(ms);
        self.latency_max = self.latency_max.max(ms);
        self.latency_sum += ms;
        self.sketch.add(ms);
    }
    /// `ms` of time in `state`; nothing for `ms <= 0`.
    pub fn add_time(&mut self, state: TimeState, ms: i64) {
        if ms <= 0 {
            return;
        }
        let field = match state {
            TimeState::Up => &mut self.up_ms,
            TimeState::Down => &mut self.down_ms,
            TimeState::Maintenance => &mut self.maintenance_ms,
        };
        *field = field.saturating_add(ms);
    }
    pub fn merge(&mut self, other: &Bucket) {
        self.up = self.up.saturating_add(other.up);
        self.down = self.down.saturating_add(other.down);
        self.up_ms = self.up_ms.saturating_add(other.up_ms);
        self.down_ms = self.down_ms.saturating_add(other.down_ms);
        self.maintenance_ms = self.maintenance_ms.saturating_add(other.maintenance_ms);
        self.latency_min = self.latency_min.min(other.latency_min);
        self.latency_max = self.latency_max.max(other.latency_max);
        self.latency_sum += other.latency_sum;
        self.sketch.merge(&other.sketch);
    }
    /// The sketch's `q`-quantile held within the latencies seen, so a bin's
    /// representative never reads past the true min or max.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let v = self.sketch.quantile(q)?;
        Some(match self.latency_range() {
            Some((min, max)) => v.clamp(min, max),
            None => v,
        })
    }
    /// The mean latency; `None` without runs.
    pub fn mean(&self) -> Option<f64> {
        let n = self.sketch.count();
        (n > 0).then(|| self.latency_sum / n as f64)
    }

    fn latency_range(&self) -> Option<(f64, f64)> {
        let (min, max) = (self.latency_min, self.latency_max);
        (min.is_finite() && max.is_finite() && min <= max).then_some((min, max))
    }

    /// The sum and sketch a bucket of `total` runs and latency `range` would have
    /// without them stored; `None` when they cannot be told from min and max.
    fn derived(total: u64, range: Option<(f64, f64)>) -> Option<(f64, Sketch)> {
        let mut sketch = Sketch::new();
        match (total, range) {
            (_, None) => Some((0.0, sketch)),
            (1, Some((min, max))) if min == max => {
                sketch.add(min);
                Some((min, sketch))
            }
            (2, Some((min, max))) => {
                sketch.add(min);
                sketch.add(max);
                Some((min + max, sketch))
            }
            _ => None,
        }
    }

    /// A flags byte, then varints of the fields present (counts; ms zigzag;
    /// latencies in whole µs, max as its distance from min), then the sketch.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8];
        let mut flags = 0u8;
        for (bit, v) in [(flag::UP, self.up), (flag::DOWN, self.down)] {
            if v != 0 {
                flags |= bit;
                varint::write_u64(&mut out, v);
            }
        }
        for (bit, v) in [
            (flag::UP_MS, self.up_ms),
            (flag::DOWN_MS, self.down_ms),
            (flag::MAINTENANCE_MS, self.maintenance_ms),
        ] {
            if v != 0 {
                flags |= bit;
                varint::write_i64(&mut out, v);
            }
        }
        // What a reader will see of min and max, to know whether it can rebuild
        // the rest from them exactly.
        let mut stored_range = None;
        if let Some((min, max)) = self.latency_range() {
            flags |= flag::LATENCY;
            let (min_us, max_us) = (to_us(clamp_ms(min)), to_us(clamp_ms(max)));
            varint::write_u128(&mut out, min_us);
            varint::write_u128(&mut out, max_us - min_us);
            stored_range = Some((from_us(min_us), from_us(max_us)));
        }
        let rebuilt = match Bucket::derived(self.total(), stored_range) {
            Some((sum, sketch)) => {
                // Two roundings to whole µs.
                sketch == self.sketch && (sum - self.latency_sum).abs() <= 0.001
            }
            None => false,
        };
        if !rebuilt {
            flags |= flag::SKETCH;
            varint::write_u128(&mut out, to_us(self.latency_sum));
            self.sketch.encode_into(&mut out);
        }
        out[0] = flags;
        out
    }

    /// Only the counts and the time by state of an encoded bucket, for readers
    /// that need no latency (a status page's daily bars): the rest is not read,
    /// so it costs a few varints instead of a sketch.
    pub fn decode_times(bytes: &[u8]) -> Result<Bucket, DecodeError> {
        let Some((&flags, mut buf)) = bytes.split_first() else {
            return Err(damaged("the bucket is empty".into()));
        };
        if flags & flag::NEWER_FORMAT != 0 {
            return Err(damaged(format!(
                "the bucket's format byte {flags:#04x} is unknown"
            )));
        }
        let buf = &mut buf;
        let count = |bit: u8, buf: &mut &[u8], what: &str| match flags & bit {
            0 => Ok(0),
            _ => varint::read_u64(buf, what),
        };
        let ms = |bit: u8, buf: &mut &[u8], what: &str| match flags & bit {
            0 => Ok(0),
            _ => varint::read_i64(buf, what),
        };
        Ok(Bucket {
            up: count(flag::UP, buf, "the up count")?,
            down: count(flag::DOWN, buf, "the down count")?,
            up_ms: ms(flag::UP_MS, buf, "the up time")?,
            down_ms: ms(flag::DOWN_MS, buf, "the down time")?,
            maintenance_ms: ms(flag::MAINTENANCE_MS, buf, "the maintenance time")?,
            ..Bucket::new()
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<Bucket, DecodeError> {
        let Some((&flags, mut buf)) = bytes.split_first() else {
            return Err(damaged("the bucket is empty".into()));
        };
        if flags & flag::NEWER_FORMAT != 0 {
            return Err(damaged(format!(
                "the bucket's format byte {flags:#04x} is unknown"
            )));
        }
        let buf = &mut buf;
        let count = |bit: u8, buf: &mut &[u8], what: &str| match flags & bit {
            0 => Ok(0),
            _ => varint::read_u64(buf, what),
        };
        let up = count(flag::UP, buf, "the up count")?;
        let down = count(flag::DOWN, buf, "the down count")?;
        let ms = |bit: u8, buf: &mut &[u8], what: &str| match flags & bit {
            0 => Ok(0),
            _ => varint::read_i64(buf, what),
        };
        let mut b = Bucket {
            up,
            down,
            up_ms: ms(flag::UP_MS, buf, "the up time")?,
            down_ms: ms(flag::DOWN_MS, buf, "the down time")?,
            maintenance_ms: ms(flag::MAINTENANCE_MS, buf, "the maintenance time")?,
            ..Bucket::new()
        };
        if up.checked_add(down).is_none() {
            return Err(damaged("the bucket's run counts add up past 2^64".into()));
        }
        let mut range = None;
        if flags & flag::LATENCY != 0 {
            let min_us = varint::read_u128(buf, "the least latency")?;
            let span_us = varint::read_u128(buf, "the latency range")?;
            let max_us = min_us
                .checked_add(span_us)
                .filter(|&max| max <= to_us(MAX_MS))
                .ok_or_else(|| damaged("the bucket's latency is past one day".into()))?;
            range = Some((from_us(min_us), from_us(max_us)));
        }
        if let Some((min, max)) = range {
            (b.latency_min, b.latency_max) = (min, max);
        }
        if flags & flag::SKETCH != 0 {
            b.latency_sum = from_us(varint::read_u128(buf, "the latency sum")?);
            b.sketch = Sketch::decode_from(buf)?;
        } else {
            (b.latency_sum, b.sketch) = Bucket::derived(b.total(), range).ok_or_else(|| {
                damaged(format!(
                    "the bucket of {} runs has no sketch and its min and max do not make one",
                    b.total()
                ))
            })?;
        }
        if !buf.is_empty() {
            return Err(damaged(format!("{} bytes follow the bucket", buf.len())));
        }
        Ok(b)
    }
}

/// Splits `[start_ms, end_ms)` at the edges of `res`'s buckets: (bucket start, ms in it).
///
/// One entry per bucket touched: a caller bounds the span (or uses
/// [`split_iter`] and stops early), since a span of years at minute resolution is
/// a long list.
pub fn split(res: Resolution, start_ms: i64, end_ms: i64) -> Vec<(i64, i64)> {
    split_iter(res, start_ms, end_ms).collect()
}

/// [`split`] without the list: the pieces one at a time.
pub fn split_iter(res: Resolution, start_ms: i64, end_ms: i64) -> impl Iterator<Item = (i64, i64)> {
    let width = i128::from(res.width_ms());
    let end = i128::from(end_ms);
    let mut at = i128::from(start_ms);
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        // In i128: the bucket of a time near i64::MIN starts before it.
        let bucket = at.div_euclid(width) * width;
        let next = (bucket + width).min(end);
        let piece = (clamp_i64(bucket), clamp_i64(next - at));
        at = next;
        Some(piece)
    })
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::super::sketch::tests::Rng;
    use super::*;

    #[test]
    fn decoding_only_the_times_agrees_with_the_full_decode() {
        let mut b = Bucket::new();
        for i in 0..500 {
            b.add_run(i % 7 != 0, f64::from(i % 97) * 1.5);
        }
        b.add_time(TimeState::Up, 3_600_000);
        b.add_time(TimeState::Down, 60_000);
        b.add_time(TimeState::Maintenance, 5);
        let bytes = b.encode();
        let full = Bucket::decode(&bytes).expect("decode");
        let times = Bucket::decode_times(&bytes).expect("decode times");
        assert_eq!(
            (
                times.up,
                times.down,
                times.up_ms,
                times.down_ms,
                times.maintenance_ms
            ),
            (
                full.up,
                full.down,
                full.up_ms,
                full.down_ms,
                full.maintenance_ms
            )
        );
        assert!(Bucket::decode_times(&[]).is_err());
        assert!(Bucket::decode_times(&[0x80]).is_err());
    }

    /// `b` read back agrees with `a`: counts, times and sketch exactly,
    /// latencies to the µs they are stored in.
    fn assert_agrees(a: &Bucket, b: &Bucket) {
        assert_eq!(
            (a.up, a.down, a.up_ms, a.down_ms, a.maintenance_ms),
            (b.up, b.down, b.up_ms, b.down_ms, b.maintenance_ms)
        );
        assert_eq!(a.sketch, b.sketch);
        for (x, y) in [
            (a.latency_min, b.latency_min),
            (a.latency_max, b.latency_max),
        ] {
            assert!(x == y || (x - y).abs() <= 0.0005, "{x} vs {y}");
        }
        let tol = 0.001 + 1e-12 * a.latency_sum.abs();
        assert!(
            (a.latency_sum - b.latency_sum).abs() <= tol,
            "{a:?} vs {b:?}"
        );
    }

    fn round_trip(b: &Bucket) -> usize {
        let bytes = b.encode();
        let back = Bucket::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        assert_agrees(b, &back);
        // And stable: the decoded bucket encodes to the same bytes.
        assert_eq!(back.encode(), bytes);
        bytes.len()
    }

    fn log_normal_runs(n: usize, seed: u64) -> Bucket {
        let mut rng = Rng::new(seed);
        let mut b = Bucket::new();
        for i in 0..n {
            b.add_run(i % 97 != 0, rng.log_normal(40.0, 0.3));
        }
        b
    }

    #[test]
    fn a_new_bucket_has_no_latency_and_default_is_new() {
        let b = Bucket::new();
        assert_eq!(b.latency_min, f64::INFINITY);
        assert_eq!(b.latency_max, f64::NEG_INFINITY);
        assert_eq!(b, Bucket::default());
        assert_eq!(b.quantile(0.5), None);
        assert_eq!(b.mean(), None);
    }

    #[test]
    fn runs_and_time_are_counted() {
        let mut b = Bucket::new();
        b.add_run(true, 30.0);
        b.add_run(false, 10.0);
        b.add_run(true, f64::NAN);
        assert_eq!((b.up, b.down, b.total()), (2, 1, 3));
        assert_eq!(
            (b.latency_min, b.latency_max, b.latency_sum),
            (0.0, 30.0, 40.0)
        );
        assert_eq!(b.sketch.count(), 3);
        b.add_time(TimeState::Up, 1000);
        b.add_time(TimeState::Down, 250);
        b.add_time(TimeState::Maintenance, 5);
        b.add_time(TimeState::Up, 0);
        b.add_time(TimeState::Down, -100);
        assert_eq!((b.up_ms, b.down_ms, b.maintenance_ms), (1000, 250, 5));
    }

    #[test]
    fn merged_buckets_equal_the_bucket_of_all_runs() {
        let mut rng = Rng::new(3);
        let mut all = Bucket::new();
        let mut parts = vec![Bucket::new(); 4];
        for i in 0..400 {
            let (up, ms) = (i % 7 != 0, rng.log_normal(60.0, 1.0));
            all.add_run(up, ms);
            parts[i % 4].add_run(up, ms);
        }
        all.add_time(TimeState::Up, 3000);
        parts[2].add_time(TimeState::Up, 3000);
        let mut merged = Bucket::new();
        parts.iter().rev().for_each(|p| merged.merge(p));
        assert_eq!(merged.sketch, all.sketch);
        assert_eq!(
            (merged.up, merged.down, merged.up_ms),
            (all.up, all.down, all.up_ms)
        );
        assert_eq!(
            (merged.latency_min, merged.latency_max),
            (all.latency_min, all.latency_max)
        );
        assert!((merged.latency_sum - all.latency_sum).abs() < 1e-9 * all.latency_sum);
    }

    #[test]
    fn quantiles_are_held_within_min_and_max() {
        let mut b = Bucket::new();
        b.add_run(true, 40.0);
        // The bin's representative is not 40 itself; the bucket's answer is.
        assert_ne!(b.sketch.quantile(0.5), Some(40.0));
        assert_eq!(b.quantile(0.0), Some(40.0));
        assert_eq!(b.quantile(1.0), Some(40.0));
        b.add_run(true, 100.0);
        assert_eq!(b.quantile(1.0), Some(100.0));
        let mid = b.quantile(0.5).expect("two runs");
        assert!(mid > 40.0 && mid <= 40.0 * 1.01, "{mid}");
        // A sketch without min/max (built by hand) is answered as is.
        let mut odd = Bucket::new();
        odd.sketch.add(5.0);
        assert!(odd.quantile(0.5).is_some());
    }

    #[test]
    fn buckets_round_trip_through_their_encoding() {
        assert_eq!(round_trip(&Bucket::new()), 1);
        let mut time_only = Bucket::new();
        time_only.add_time(TimeState::Down, 3_600_000);
        time_only.add_time(TimeState::Maintenance, 17);
        round_trip(&time_only);
        let mut one = Bucket::new();
        one.add_run(false, 1234.5678);
        round_trip(&one);
        let mut two = Bucket::new();
        two.add_run(true, 0.0);
        two.add_run(true, MAX_MS);
        round_trip(&two);
        let mut same = Bucket::new();
        same.add_run(true, 7.0);
        same.add_run(false, 7.0);
        round_trip(&same);
        for n in [3, 120, 2880] {
            round_trip(&log_normal_runs(n, n as u64));
        }
        // Counts past 2^40, as years of merged buckets reach.
        let mut big = Bucket::new();
        big.up = 1 << 41;
        big.down = 3;
        big.up_ms = i64::MAX;
        big.sketch.add_n(40.0, (1 << 41) + 3);
        big.latency_min = 40.0;
        big.latency_max = 40.0;
        big.latency_sum = 40.0 * big.sketch.count() as f64;
        round_trip(&big);
    }

    /// A latency just above a bin edge whose µs rounding falls below it: the
    /// rebuilt sketch would differ, so the encoder keeps the sketch.
    #[test]
    fn a_run_whose_rounding_crosses_a_bin_edge_keeps_its_sketch() {
        let g = (1.0 + super::super::sketch::RELATIVE_ERROR)
            / (1.0 - super::super::sketch::RELATIVE_ERROR);
        let crossing = (-300..900)
            .map(|i| g.powi(i) * (1.0 + 1e-12))
            .find(|&v| {
                let mut a = Sketch::new();
                a.add(v);
                let mut b = Sketch::new();
                b.add(from_us(to_us(v)));
                a != b
            })
            .expect("some bin edge is not a whole µs");
        let mut b = Bucket::new();
        b.add_run(true, crossing);
        let bytes = b.encode();
        assert_ne!(bytes[0] & flag::SKETCH, 0);
        round_trip(&b);
    }

    #[test]
    fn encoded_sizes() {
        let mut two = Bucket::new();
        two.add_run(true, 38.2);
        two.add_run(true, 45.9);
        let two_len = round_trip(&two);
        two.add_time(TimeState::Up, 60_000);
        let two_minute_len = round_trip(&two);
        let mut hour = log_normal_runs(120, 1);
        hour.add_time(TimeState::Up, 3_570_000);
        hour.add_time(TimeState::Down, 30_000);
        let hour_len = round_trip(&hour);
        let mut day = log_normal_runs(2880, 2);
        day.add_time(TimeState::Up, 86_100_000);
        day.add_time(TimeState::Down, 300_000);
        let day_len = round_trip(&day);
        println!(
            "bucket sizes: 2 runs {two_len} B ({two_minute_len} B with a minute of up time); \
             120 runs {hour_len} B ({} bins); 2880 runs {day_len} B ({} bins)",
            hour.sketch.bin_count(),
            day.sketch.bin_count()
        );
        assert!(two_minute_len <= 12, "{two_minute_len}");
        assert!(hour_len <= hour.sketch.bin_count() + 24, "{hour_len}");
    }

    fn decode_err(bytes: &[u8]) -> String {
        match Bucket::decode(bytes) {
            Ok(b) => panic!("{bytes:?} decoded to {b:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn damaged_buckets_are_refused() {
        assert!(decode_err(&[]).contains("empty"));
        assert!(decode_err(&[flag::NEWER_FORMAT]).contains("unknown"));
        // Three runs and no sketch: nothing to rebuild one from.
        assert!(decode_err(&[flag::UP | flag::LATENCY, 3, 10, 0]).contains("no sketch"));
        // One run with min ≠ max.
        assert!(decode_err(&[flag::UP | flag::LATENCY, 1, 10, 5]).contains("no sketch"));
        let mut out = vec![flag::UP | flag::DOWN];
        varint::write_u64(&mut out, u64::MAX);
        varint::write_u64(&mut out, 1);
        assert!(decode_err(&out).contains("2^64"));
        let mut out = vec![flag::UP | flag::LATENCY, 1];
        varint::write_u128(&mut out, to_us(MAX_MS) + 1);
        varint::write_u64(&mut out, 0);
        assert!(decode_err(&out).contains("one day"));
        let mut out = vec![flag::UP | flag::LATENCY, 1];
        varint::write_u128(&mut out, 1);
        varint::write_u128(&mut out, u128::MAX);
        assert!(decode_err(&out).contains("one day"));
        let mut out = log_normal_runs(50, 9).encode();
        out.push(0);
        assert!(decode_err(&out).contains("follow"));
        for b in [
            log_normal_runs(1, 1),
            log_normal_runs(2, 1),
            log_normal_runs(30, 1),
        ] {
            let out = b.encode();
            for cut in 0..out.len() {
                assert!(
                    Bucket::decode(&out[..cut]).is_err(),
                    "cut at {cut} of {b:?}"
                );
            }
        }
    }

    #[test]
    fn split_cuts_at_bucket_edges() {
        assert_eq!(split(Resolution::Minute, 10, 10), vec![]);
        assert_eq!(split(Resolution::Minute, 10, 5), vec![]);
        assert_eq!(split(Resolution::Minute, 1_000, 2_000), vec![(0, 1_000)]);
        assert_eq!(
            split(Resolution::Minute, 59_000, 181_000),
            vec![
                (0, 1_000),
                (60_000, 60_000),
                (120_000, 60_000),
                (180_000, 1_000)
            ]
        );
        assert_eq!(split(Resolution::Hour, 0, 3_600_000), vec![(0, 3_600_000)]);
        assert_eq!(
            split(Resolution::Minute, -61_000, 1_000),
            vec![(-120_000, 1_000), (-60_000, 60_000), (0, 1_000)]
        );
        let day = Resolution::Day.width_ms();
        assert_eq!(split(Resolution::Day, -day - 1, -day), vec![(-2 * day, 1)]);
        // The extremes of time neither panic nor lose milliseconds.
        for (start, end) in [
            (i64::MIN, i64::MIN + 100_000),
            (i64::MAX - 100_000, i64::MAX),
        ] {
            let pieces = split(Resolution::Minute, start, end);
            assert_eq!(pieces.iter().map(|p| p.1).sum::<i64>(), end - start);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 1000,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn decoding_arbitrary_bytes_as_a_bucket_never_panics(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            if let Ok(b) = Bucket::decode(&bytes) {
                assert_agrees(&b, &Bucket::decode(&b.encode()).expect("re-encoded"));
            }
        }

        #[test]
        fn decoding_damaged_buckets_never_panics(
            runs in proptest::collection::vec(0.0f64..5000.0, 0..40),
            at in proptest::num::usize::ANY,
            byte in proptest::num::u8::ANY,
        ) {
            let mut b = Bucket::new();
            runs.iter().for_each(|&ms| b.add_run(true, ms));
            let mut bytes = b.encode();
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = Bucket::decode(&bytes);
        }

        #[test]
        fn arbitrary_buckets_round_trip(
            runs in proptest::collection::vec(
                (proptest::bool::ANY, proptest::prop_oneof![
                    proptest::num::f64::ANY,
                    0.0f64..0.01,
                    0.0f64..100_000.0,
                ]),
                0..100,
            ),
            times in proptest::collection::vec((0u8..3, -10i64..10_000_000), 0..4),
        ) {
            let mut b = Bucket::new();
            runs.iter().for_each(|&(up, ms)| b.add_run(up, ms));
            for (state, ms) in times {
                let state = [TimeState::Up, TimeState::Down, TimeState::Maintenance][usize::from(state)];
                b.add_time(state, ms);
            }
            round_trip(&b);
        }

        #[test]
        fn split_pieces_cover_the_span_exactly(
            start in -10_000_000_000i64..10_000_000_000,
            len in 0i64..400_000_000,
            res in proptest::sample::select(Resolution::ALL.to_vec()),
        ) {
            let pieces = split(res, start, start + len);
            proptest::prop_assert_eq!(pieces.iter().map(|p| p.1).sum::<i64>(), len);
            for (i, &(bucket, ms)) in pieces.iter().enumerate() {
                proptest::prop_assert_eq!(bucket, res.floor(bucket));
                proptest::prop_assert!(ms > 0 && ms <= res.width_ms());
                if i > 0 {
                    proptest::prop_assert_eq!(bucket, pieces[i - 1].0 + res.width_ms());
                }
            }
        }
    }
}
