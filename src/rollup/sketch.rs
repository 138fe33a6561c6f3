//! A mergeable latency sketch (DDSketch's logarithmic mapping): every value lands in
//! the bin `ceil(log_γ(x))` with `γ = (1 + α) / (1 − α)`, so any quantile read back
//! is within [`RELATIVE_ERROR`] of a value of the sample at that rank. Merging is
//! adding bin counts, so sketches of minutes add up to hours, days and any window.

use super::bucket::DecodeError;
use super::varint;

/// The relative-error bound α of every quantile.
pub const RELATIVE_ERROR: f64 = 0.01;

/// The smallest latency (ms) that gets a bin of its own: 1 µs, below what a probe
/// can measure. Smaller values (and 0, negative, NaN) count in the zero bin and
/// read back as 0.
pub const MIN_MS: f64 = 0.001;

/// The largest latency (ms) kept: one day, far past any probe timeout. Larger
/// values (and +∞) count as this.
pub const MAX_MS: f64 = 86_400_000.0;

/// The bin index of [`MIN_MS`]: `ceil(ln(MIN_MS) / ln(γ))`, checked by a test.
pub const MIN_INDEX: i32 = -345;

/// The bin index of [`MAX_MS`]: `ceil(ln(MAX_MS) / ln(γ))`, checked by a test.
pub const MAX_INDEX: i32 = 914;

/// The most bins a sketch can hold: every index from [`MIN_INDEX`] to
/// [`MAX_INDEX`] plus the zero bin. The clamp to `[MIN_MS, MAX_MS]` is what bounds
/// a sketch's memory and what the decoder holds stored sketches to.
pub const MAX_BINS: usize = (MAX_INDEX - MIN_INDEX + 1) as usize + 1;

/// The four bits of a packed bin byte that mean "the value follows as a varint".
const ESCAPE: u8 = 0x0f;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    /// Values below [`MIN_MS`].
    zero: u64,
    /// Non-empty bins, sorted by index, every index in `MIN_INDEX..=MAX_INDEX`.
    bins: Vec<(i32, u64)>,
}

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// A latency made fit for keeping: NaN and negative become 0, anything above
/// [`MAX_MS`] (+∞ included) becomes `MAX_MS`.
pub fn clamp_ms(ms: f64) -> f64 {
    if ms.is_nan() || ms <= 0.0 {
        0.0
    } else {
        ms.min(MAX_MS)
    }
}

/// The bin of `ms`, `None` for the zero bin.
fn index_of(ms: f64) -> Option<i32> {
    let ms = clamp_ms(ms);
    if ms < MIN_MS {
        return None;
    }
    let i = (ms.ln() / gamma().ln()).ceil();
    // The clamp keeps `i` in range; the second clamp guards the float edges.
    Some((i as i32).clamp(MIN_INDEX, MAX_INDEX))
}

/// The value a bin reads back as: `2γ^i / (γ + 1)`, within α of all it holds.
fn value_of(index: i32) -> f64 {
    let g = gamma();
    2.0 * (f64::from(index) * g.ln()).exp() / (g + 1.0)
}

impl Sketch {
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Adds one latency in milliseconds (negative and NaN count as zero).
    pub fn add(&mut self, ms: f64) {
        self.add_n(ms, 1);
    }

    /// Adds `n` latencies of `ms` milliseconds at once.
    pub fn add_n(&mut self, ms: f64, n: u64) {
        if n == 0 {
            return;
        }
        let Some(index) = index_of(ms) else {
            self.zero = self.zero.saturating_add(n);
            return;
        };
        match self.bins.binary_search_by_key(&index, |&(i, _)| i) {
            Ok(at) => self.bins[at].1 = self.bins[at].1.saturating_add(n),
            Err(at) => self.bins.insert(at, (index, n)),
        }
    }

    pub fn merge(&mut self, other: &Sketch) {
        self.zero = self.zero.saturating_add(other.zero);
        if other.bins.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.bins.len().max(other.bins.len()));
        let (mut a, mut b) = (self.bins.iter().peekable(), other.bins.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&(ia, ca)), Some(&&(ib, cb))) => {
                    if ia == ib {
                        a.next();
                        b.next();
                        (ia, ca.saturating_add(cb))
                    } else if ia < ib {
                        a.next();
                        (ia, ca)
                    } else {
                        b.next();
                        (ib, cb)
                    }
                }
                (Some(_), None) => match a.next() {
                    Some(&bin) => bin,
                    None => break,
                },
                (None, Some(_)) => match b.next() {
                    Some(&bin) => bin,
                    None => break,
                },
                (None, None) => break,
            };
            merged.push(next);
        }
        self.bins = merged;
    }

    pub fn count(&self) -> u64 {
        self.bins
            .iter()
            .fold(self.zero, |n, &(_, c)| n.saturating_add(c))
    }

    pub fn is_empty(&self) -> bool {
        self.zero == 0 && self.bins.is_empty()
    }

    /// How many bins hold a value (the zero bin included), at most [`MAX_BINS`].
    pub fn bin_count(&self) -> usize {
        self.bins.len() + usize::from(self.zero > 0)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) in milliseconds; `None` when empty.
    ///
    /// Nearest rank: the value at rank `max(1, ceil(q·n))` of the sorted sample,
    /// read back from its bin. `q` outside `[0, 1]` (NaN as 0) is clamped.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        // `as` saturates; the clamp keeps the rank in 1..=n.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        if rank <= self.zero {
            return Some(0.0);
        }
        let mut seen = self.zero;
        for &(index, c) in &self.bins {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(value_of(index));
            }
        }
        // Unreachable while `count()` sums these same bins; the top bin is the answer.
        self.bins.last().map(|&(index, _)| value_of(index))
    }

    /// Appends the sketch: the zero count, the number of bins, the first index
    /// (zigzag), then a byte per bin packing `gap − 1` (high nibble) and
    /// `count − 1` (low nibble), each escaped to a varint of `value − 16` when it
    /// is 15 or more.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        varint::write_u64(out, self.zero);
        varint::write_u64(out, self.bins.len() as u64);
        let Some(&(first, _)) = self.bins.first() else {
            return;
        };
        varint::write_i64(out, i64::from(first));
        let mut prev = i64::from(first) - 1;
        for &(index, count) in &self.bins {
            let gap = (i64::from(index) - prev) as u64;
            prev = i64::from(index);
            let g = nibble(gap);
            let c = nibble(count);
            out.push(g << 4 | c);
            if g == ESCAPE {
                varint::write_u64(out, gap - 16);
            }
            if c == ESCAPE {
                varint::write_u64(out, count - 16);
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Reads a sketch written by [`Sketch::encode_into`] off the front of `buf`.
    pub fn decode_from(buf: &mut &[u8]) -> Result<Sketch, DecodeError> {
        let zero = varint::read_u64(buf, "the sketch's zero count")?;
        let len = varint::read_u64(buf, "the sketch's bin count")?;
        // Every bin takes at least a byte, so `len` is also bounded by the input.
        if len >= MAX_BINS as u64 || len > buf.len() as u64 {
            return Err(damaged(format!(
                "the sketch claims {len} bins, more than the {} it can hold or the {} bytes left",
                MAX_BINS - 1,
                buf.len()
            )));
        }
        let len = len as usize;
        let mut bins = Vec::with_capacity(len);
        let mut total = zero;
        if len > 0 {
            let first = varint::read_i64(buf, "the sketch's first index")?;
            let mut prev = first - 1;
            for _ in 0..len {
                let Some((&byte, rest)) = buf.split_first() else {
                    return Err(damaged("the sketch's bins are cut short".into()));
                };
                *buf = rest;
                let gap = unnibble(byte >> 4, buf, "a sketch bin's gap")?;
                let count = unnibble(byte & 0x0f, buf, "a sketch bin's count")?;
                let index = i64::try_from(gap)
                    .ok()
                    .and_then(|gap| prev.checked_add(gap))
                    .filter(|i| (i64::from(MIN_INDEX)..=i64::from(MAX_INDEX)).contains(i))
                    .ok_or_else(|| {
                        damaged(format!(
                            "a sketch bin's index is outside {MIN_INDEX}..={MAX_INDEX}"
                        ))
                    })?;
                total = total
                    .checked_add(count)
                    .ok_or_else(|| damaged("the sketch's counts add up past 2^64".into()))?;
                prev = index;
                // The range check above keeps `index` within i32.
                bins.push((index as i32, count));
            }
        }
        Ok(Sketch { zero, bins })
    }

    /// Reads a sketch that is the whole of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Sketch, DecodeError> {
        let mut buf = bytes;
        let sketch = Sketch::decode_from(&mut buf)?;
        if !buf.is_empty() {
            return Err(damaged(format!("{} bytes follow the sketch", buf.len())));
        }
        Ok(sketch)
    }
}

/// `v − 1` when it fits four bits below the escape, else the escape.
fn nibble(v: u64) -> u8 {
    if (1..=15).contains(&v) {
        (v - 1) as u8
    } else {
        ESCAPE
    }
}

/// The value a nibble stands for (always at least 1), reading the varint that
/// follows an escape.
fn unnibble(n: u8, buf: &mut &[u8], what: &str) -> Result<u64, DecodeError> {
    if n != ESCAPE {
        return Ok(u64::from(n) + 1);
    }
    varint::read_u64(buf, what)?
        .checked_add(16)
        .ok_or_else(|| damaged(format!("{what} is past 2^64")))
}

pub(super) fn damaged(detail: String) -> DecodeError {
    DecodeError(format!(
        "{detail}; the row is damaged or was written by a newer uptimeping: upgrade, or restore the database from a backup"
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// xorshift64*: deterministic samples without a dependency.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }
        /// Uniform in (0, 1).
        pub fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
            (bits as f64 + 0.5) / (1u64 << 53) as f64
        }
        /// Standard normal (Box–Muller).
        pub fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
        pub fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
            median * (sigma * self.normal()).exp()
        }
    }

    /// The nearest-rank `q`-quantile of a sorted sample.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn sketch_of(values: &[f64]) -> Sketch {
        let mut s = Sketch::new();
        values.iter().for_each(|&v| s.add(v));
        s
    }

    fn distributions() -> Vec<(&'static str, Vec<f64>)> {
        const N: usize = 20_000;
        let mut rng = Rng::new(0x5eed);
        vec![
            (
                "uniform 1..1000 ms",
                (0..N).map(|_| 1.0 + 999.0 * rng.uniform()).collect(),
            ),
            (
                "log-normal 40 ms σ=0.3",
                (0..N).map(|_| rng.log_normal(40.0, 0.3)).collect(),
            ),
            (
                "log-normal 100 ms σ=1.5",
                (0..N).map(|_| rng.log_normal(100.0, 1.5)).collect(),
            ),
            (
                "exponential mean 50 ms",
                (0..N).map(|_| -50.0 * rng.uniform().ln()).collect(),
            ),
            (
                "bimodal 20 ms / 800 ms",
                (0..N)
                    .map(|_| match rng.uniform() < 0.8 {
                        true => rng.log_normal(20.0, 0.1),
                        false => rng.log_normal(800.0, 0.2),
                    })
                    .collect(),
            ),
            ("constant 42 ms", vec![42.0; N]),
            // Log-uniform over 0.01 ms .. 60 s.
            (
                "wide 0.01 ms..60 s",
                (0..N)
                    .map(|_| 0.01 * (6_000_000f64.ln() * rng.uniform()).exp())
                    .collect(),
            ),
        ]
    }

    #[test]
    fn index_bounds_are_the_clamp_and_bound_the_bins() {
        let ln_g = gamma().ln();
        assert_eq!((MIN_MS.ln() / ln_g).ceil() as i32, MIN_INDEX);
        assert_eq!((MAX_MS.ln() / ln_g).ceil() as i32, MAX_INDEX);
        assert_eq!(index_of(MIN_MS), Some(MIN_INDEX));
        assert_eq!(index_of(MAX_MS), Some(MAX_INDEX));
        const { assert!(MAX_BINS <= 1300) };
        // Values a step smaller than γ apart over more than the clamp range reach
        // every bin, and no more.
        let mut s = Sketch::new();
        let mut v = MIN_MS / 100.0;
        while v < MAX_MS * 100.0 {
            s.add(v);
            v *= 1.005;
        }
        s.add(f64::INFINITY);
        assert_eq!(s.bin_count(), MAX_BINS);
    }

    #[test]
    fn quantiles_are_within_the_relative_error_of_exact_nearest_rank() {
        let qs: Vec<f64> = [0.5, 0.9, 0.95, 0.99]
            .into_iter()
            .chain((0..=1000).map(|i| f64::from(i) / 1000.0))
            .collect();
        for (name, mut values) in distributions() {
            let s = sketch_of(&values);
            values.sort_by(f64::total_cmp);
            assert_eq!(s.count(), values.len() as u64);
            for &q in &qs {
                let want = exact(&values, q);
                let got = s.quantile(q).expect("not empty");
                let err = (got - want).abs() / want;
                assert!(
                    err <= RELATIVE_ERROR * (1.0 + 1e-9),
                    "{name}: q={q} got {got} want {want} (error {err})"
                );
            }
        }
    }

    #[test]
    fn quantile_edges() {
        let mut s = Sketch::new();
        assert_eq!(s.quantile(0.5), None);
        assert!(s.is_empty());
        s.add(10.0);
        let one = s.quantile(0.5).expect("one value");
        assert!((one - 10.0).abs() <= 10.0 * RELATIVE_ERROR);
        for q in [-1.0, 0.0, 1.0, 2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(s.quantile(q), Some(one), "q={q}");
        }
        // Zero, negative, NaN and values under 1 µs are zeros; they rank first.
        for v in [0.0, -5.0, f64::NAN, MIN_MS / 2.0] {
            s.add(v);
        }
        assert_eq!(s.count(), 5);
        assert_eq!(s.quantile(0.8), Some(0.0));
        assert_eq!(s.quantile(0.81), Some(one));
        // +∞ and huge values clamp to a day.
        let mut s = Sketch::new();
        s.add(f64::INFINITY);
        s.add(1e300);
        assert_eq!(s.bin_count(), 1);
        let top = s.quantile(1.0).expect("two values");
        assert!((top - MAX_MS).abs() <= MAX_MS * RELATIVE_ERROR, "{top}");
    }

    #[test]
    fn merge_equals_the_sketch_of_the_union_in_any_order() {
        let mut rng = Rng::new(7);
        let parts: Vec<Vec<f64>> = (0..5)
            .map(|i| {
                (0..(i * 300 + 1))
                    .map(|_| rng.log_normal(40.0 * f64::from(i + 1), 0.8))
                    .chain([0.0, f64::INFINITY])
                    .collect()
            })
            .collect();
        let union = sketch_of(&parts.concat());
        let sketches: Vec<Sketch> = parts.iter().map(|p| sketch_of(p)).collect();
        let mut forward = Sketch::new();
        sketches.iter().for_each(|s| forward.merge(s));
        let mut backward = Sketch::new();
        sketches.iter().rev().for_each(|s| backward.merge(s));
        // (a + b) + (c + d + e) against a + (b + (c + ...)).
        let mut left = sketches[0].clone();
        left.merge(&sketches[1]);
        let mut right = sketches[2].clone();
        right.merge(&sketches[3]);
        right.merge(&sketches[4]);
        left.merge(&right);
        assert_eq!(forward, union);
        assert_eq!(backward, union);
        assert_eq!(left, union);
        let mut with_empty = union.clone();
        with_empty.merge(&Sketch::new());
        assert_eq!(with_empty, union);
    }

    fn round_trip(s: &Sketch) {
        let bytes = s.encode();
        assert_eq!(Sketch::decode(&bytes).as_ref(), Ok(s), "{bytes:?}");
    }

    #[test]
    fn sketches_round_trip_through_their_encoding() {
        round_trip(&Sketch::new());
        round_trip(&sketch_of(&[12.5]));
        round_trip(&sketch_of(&[0.0, 0.0]));
        round_trip(&sketch_of(&[MIN_MS, MAX_MS]));
        for (_, values) in distributions() {
            round_trip(&sketch_of(&values));
        }
        let mut big = Sketch::new();
        big.add_n(0.0, 1 << 40);
        big.add_n(40.0, 1 << 40);
        big.add_n(41.0, 17);
        big.add_n(900.0, u64::MAX - (3 << 40));
        assert_eq!(big.count(), u64::MAX - (1 << 40) + 17);
        round_trip(&big);
    }

    #[test]
    fn encoding_takes_about_a_byte_a_bin() {
        let mut rng = Rng::new(40);
        let s = sketch_of(
            &(0..120)
                .map(|_| rng.log_normal(40.0, 0.3))
                .collect::<Vec<_>>(),
        );
        let len = s.encode().len();
        // Header (zero count, bin count, first index) plus a little escaping.
        assert!(
            len <= s.bin_count() + 6,
            "{len} bytes for {} bins",
            s.bin_count()
        );
    }

    fn decode_err(bytes: &[u8]) -> String {
        match Sketch::decode(bytes) {
            Ok(s) => panic!("{bytes:?} decoded to {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn damaged_sketches_are_refused() {
        let mut out = Vec::new();
        // An index past the top, first and after a gap.
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, 1);
        varint::write_i64(&mut out, i64::from(MAX_INDEX) + 1);
        out.push(0x00);
        assert!(decode_err(&out).contains("outside"));
        let mut out = Vec::new();
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, 2);
        varint::write_i64(&mut out, i64::from(MAX_INDEX));
        out.extend([0x00, 0x00]);
        assert!(decode_err(&out).contains("outside"));
        let mut out = Vec::new();
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, 1);
        varint::write_i64(&mut out, i64::from(MIN_INDEX) - 1);
        out.push(0x00);
        assert!(decode_err(&out).contains("outside"));
        // A gap escape that overflows the index.
        let mut out = Vec::new();
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, 1);
        varint::write_i64(&mut out, 0);
        out.push(0xf0);
        varint::write_u64(&mut out, u64::MAX - 16);
        assert!(decode_err(&out).contains("outside"));
        // Counts that add past 2^64, within a bin's escape and across bins.
        let mut out = Vec::new();
        varint::write_u64(&mut out, u64::MAX);
        varint::write_u64(&mut out, 1);
        varint::write_i64(&mut out, 0);
        out.push(0x00);
        assert!(decode_err(&out).contains("2^64"));
        let mut out = Vec::new();
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, 1);
        varint::write_i64(&mut out, 0);
        out.push(0x0f);
        varint::write_u64(&mut out, u64::MAX - 15);
        assert!(decode_err(&out).contains("2^64"));
        // More bins than the clamp allows, or than the bytes could hold.
        let mut out = Vec::new();
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, MAX_BINS as u64);
        out.extend(vec![0u8; 2 * MAX_BINS]);
        assert!(decode_err(&out).contains("bins"));
        let mut out = Vec::new();
        varint::write_u64(&mut out, 0);
        varint::write_u64(&mut out, 1000);
        out.extend([0, 0, 0]);
        assert!(decode_err(&out).contains("bins"));
        // Trailing bytes, cut-short input.
        let mut out = sketch_of(&[1.0, 2.0]).encode();
        out.push(0);
        assert!(decode_err(&out).contains("follow"));
        let out = sketch_of(&[1.0, 200.0, 300.0]).encode();
        for cut in 0..out.len() {
            assert!(Sketch::decode(&out[..cut]).is_err(), "cut at {cut}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            if let Ok(s) = Sketch::decode(&bytes) {
                proptest::prop_assert!(s.bin_count() <= MAX_BINS);
                proptest::prop_assert_eq!(Sketch::decode(&s.encode()), Ok(s));
            }
        }

        #[test]
        fn decoding_damaged_encodings_never_panics(
            values in proptest::collection::vec(0.0f64..5000.0, 0..40),
            at in proptest::num::usize::ANY,
            byte in proptest::num::u8::ANY,
            cut in proptest::num::usize::ANY,
        ) {
            let mut bytes = sketch_of(&values).encode();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(bytes.len() - cut % 3);
            let _ = Sketch::decode(&bytes);
        }

        #[test]
        fn arbitrary_samples_round_trip(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::f64::ANY,
                    0.0f64..1.0,
                    1.0f64..100_000.0,
                ],
                0..200,
            ),
        ) {
            let s = sketch_of(&values);
            proptest::prop_assert_eq!(s.count(), values.len() as u64);
            proptest::prop_assert_eq!(Sketch::decode(&s.encode()), Ok(s));
        }
    }
}
