//! Planning the read of a window: which buckets of which resolution hold it. Pure:
//! the store says where each resolution has data, this says what to read.

use super::Resolution;

/// Where each resolution has data, for planning a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// The first minute index still kept.
    pub minutes_from: i64,
    /// Hours: the first kept, and built up to (excluding) `hours_built`.
    pub hours_from: i64,
    pub hours_built: i64,
    pub days_from: i64,
    pub days_built: i64,
}

/// A run of consecutive buckets of one resolution: indexes `first..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub res: Resolution,
    pub first: i64,
    pub end: i64,
}

/// How a window is read: the pieces, and the span they cover (the window's edges
/// rounded out to the buckets that hold them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub from_ms: i64,
    pub to_ms: i64,
    pub pieces: Vec<Piece>,
}

/// Plans the read of `[from_ms, to_ms)`: whole days where days are built, whole
/// hours where hours are, minutes elsewhere; where the finest data has been pruned
/// an edge is rounded out to the coarser bucket that holds it. Time no resolution
/// holds is left out (it is unknown).
pub fn plan(from_ms: i64, to_ms: i64, a: &Availability) -> ReadPlan {
    let (day, hour, minute) = (
        Resolution::Day.width_ms(),
        Resolution::Hour.width_ms(),
        Resolution::Minute.width_ms(),
    );
    let day_ok = |d: i64| d >= a.days_from && d < a.days_built;
    let hour_ok = |h: i64| h >= a.hours_from && h < a.hours_built;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut push = |res: Resolution, idx: i64| match pieces.last_mut() {
        Some(p) if p.res == res && p.end == idx => p.end += 1,
        _ => pieces.push(Piece {
            res,
            first: idx,
            end: idx + 1,
        }),
    };
    let mut t = from_ms;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    // Bounded: every step moves `t` forward by at least a minute, and callers bound
    // windows (a report of ten years is 5 million minutes at worst, far fewer in
    // practice since whole days are taken where they exist).
    while t < to_ms {
        let (res, start) = if t.rem_euclid(day) == 0 && t + day <= to_ms && day_ok(t / day) {
            (Resolution::Day, t)
        } else if t.rem_euclid(hour) == 0 && t + hour <= to_ms && hour_ok(t.div_euclid(hour)) {
            (Resolution::Hour, t)
        } else if t.div_euclid(minute) >= a.minutes_from {
            (Resolution::Minute, Resolution::Minute.floor(t))
        } else if hour_ok(t.div_euclid(hour)) {
            (Resolution::Hour, Resolution::Hour.floor(t))
        } else if day_ok(t.div_euclid(day)) {
            (Resolution::Day, Resolution::Day.floor(t))
        } else {
            // Nothing kept here: unknown up to the next hour, or to the kept minutes.
            let next_hour = Resolution::Hour.floor(t) + hour;
            let minutes = a.minutes_from.saturating_mul(minute);
            t = if minutes > t {
                next_hour.min(minutes)
            } else {
                next_hour
            };
            continue;
        };
        push(res, res.index(start));
        lo = lo.min(start);
        hi = hi.max(start + res.width_ms());
        t = start + res.width_ms();
    }
    if pieces.is_empty() {
        return ReadPlan {
            from_ms,
            to_ms,
            pieces,
        };
    }
    ReadPlan {
        from_ms: lo.min(from_ms),
        to_ms: hi.max(to_ms),
        pieces,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;
    const H: i64 = 3_600_000;
    const D: i64 = 86_400_000;

    fn all_kept() -> Availability {
        Availability {
            minutes_from: i64::MIN,
            hours_from: i64::MIN,
            hours_built: i64::MAX,
            days_from: i64::MIN,
            days_built: i64::MAX,
        }
    }

    #[test]
    fn a_window_is_read_in_days_hours_and_minutes() {
        let from = 10 * D + 3 * H + 30 * M;
        let to = 13 * D + 2 * H + 10 * M;
        let p = plan(from, to, &all_kept());
        assert_eq!((p.from_ms, p.to_ms), (from, to));
        let shape: Vec<_> = p.pieces.iter().map(|p| (p.res, p.end - p.first)).collect();
        assert_eq!(
            shape,
            vec![
                (Resolution::Minute, 30),
                (Resolution::Hour, 20),
                (Resolution::Day, 2),
                (Resolution::Hour, 2),
                (Resolution::Minute, 10),
            ]
        );
    }

    #[test]
    fn pruned_minutes_round_the_edge_out_to_its_hour_and_unbuilt_hours_read_minutes() {
        let a = Availability {
            minutes_from: (20 * D) / M,
            hours_built: (20 * D + 5 * H) / H,
            ..all_kept()
        };
        let from = 10 * D + 3 * H + 30 * M;
        let to = 20 * D + 6 * H + 10 * M;
        let p = plan(from, to, &a);
        assert_eq!(p.from_ms, 10 * D + 3 * H, "rounded out to the hour");
        assert_eq!(p.to_ms, to);
        let shape: Vec<_> = p.pieces.iter().map(|p| (p.res, p.end - p.first)).collect();
        assert_eq!(
            shape,
            vec![
                (Resolution::Hour, 21),
                (Resolution::Day, 9),
                (Resolution::Hour, 5),
                (Resolution::Minute, 70),
            ]
        );
    }

    #[test]
    fn time_nothing_holds_is_left_out() {
        let a = Availability {
            minutes_from: (5 * D) / M,
            hours_from: (4 * D) / H,
            hours_built: (5 * D) / H,
            days_from: i64::MAX,
            days_built: i64::MIN,
        };
        let p = plan(D, 5 * D + 30 * M, &a);
        assert_eq!(
            p.pieces[0],
            Piece {
                res: Resolution::Hour,
                first: 4 * 24,
                end: 5 * 24
            }
        );
        assert_eq!(
            p.pieces[1],
            Piece {
                res: Resolution::Minute,
                first: 5 * 24 * 60,
                end: 5 * 24 * 60 + 30
            }
        );
        assert_eq!(p.pieces.len(), 2);
    }
}
