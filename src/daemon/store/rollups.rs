//! Rollups in the store: every result is folded into its check's minute bucket in
//! the transaction that stores it; hours are built from minutes and days from hours
//! once they are over, in small chunks, and a late result folds into the hour and
//! day rows that exist already. So the rows never disagree with the results, and a
//! crash at any point leaves either a built row or the minutes it comes from.
//!
//! Rows are keyed by (bucket index, series): the bucket's start in minutes, hours or
//! days since the Unix epoch, then the check's series id. The hour row of (h, s)
//! exists when `h < built_before`, or `h == built_before` and `s < next_series` (the
//! hour being built); days likewise over hours.

use std::collections::{BTreeMap, HashMap};

use super::{Db, Optional};
use rusqlite::params;

use super::{Result, StoreError};
use crate::rollup::bucket::split;
use crate::rollup::plan::{Availability, Piece};
use crate::rollup::{Bucket, Resolution, TimeState};

/// Series handled per transaction when building hours or days: about 60,000 minute
/// rows read for an hour, a few tens of milliseconds of the writer's time.
const BUILD_CHUNK: i64 = 1_000;
/// How long after an hour ends it is built: results of runs that started in it
/// arrive up to a run's length later (timeouts, retries, a writer catching up).
/// Anything later still folds into the built row.
pub const BUILD_DELAY_MS: i64 = 5 * 60_000;
/// The longest span of time folded minute by minute: the 1.5 intervals of a check
/// run hourly, at most 91 rows.
const MINUTE_SPLIT_MS: i64 = 90 * 60_000;
/// Buckets deleted per transaction when pruning: one bucket index at a time is at
/// most one row per check.
const PRUNE_BUCKETS: i64 = 1;

pub(super) fn table(res: Resolution) -> &'static str {
    match res {
        Resolution::Minute => "rollup_minutes",
        Resolution::Hour => "rollup_hours",
        Resolution::Day => "rollup_days",
    }
}

fn state_key(res: Resolution) -> &'static str {
    match res {
        Resolution::Minute => "minute",
        Resolution::Hour => "hour",
        Resolution::Day => "day",
    }
}

/// The bucket index (not its start in ms) holding `at_ms`.
pub fn index(res: Resolution, at_ms: i64) -> i64 {
    res.index(at_ms)
}

/// The series id of a check, created on first use.
pub(super) fn series_id(c: &Db<'_>, tenant: i64, check: &str) -> Result<i64> {
    series_id_at(c, tenant, check, "")
}

/// The series id of a check's runs from one `location` (`""`: the check's own),
/// created on first use.
pub(super) fn series_id_at(c: &Db<'_>, tenant: i64, check: &str, location: &str) -> Result<i64> {
    if let Some(id) = series_of_at(c, tenant, check, location)? {
        return Ok(id);
    }
    c.query_row(
        "INSERT INTO series (tenant_id, check_name, location, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        params![tenant, check, location, super::now_ms()],
        |r| r.get(0),
    )
}

pub(super) fn series_of(c: &Db<'_>, tenant: i64, check: &str) -> Result<Option<i64>> {
    series_of_at(c, tenant, check, "")
}

pub(super) fn series_of_at(
    c: &Db<'_>,
    tenant: i64,
    check: &str,
    location: &str,
) -> Result<Option<i64>> {
    c.prepare_cached(
        "SELECT id FROM series WHERE tenant_id = ?1 AND check_name = ?2 AND location = ?3",
    )?
    .query_row(params![tenant, check, location], |r| r.get(0))
    .optional()
}

/// How far hours or days are built: every bucket below `before`, and in bucket
/// `before` the series below `next_series`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Built {
    pub before: i64,
    pub next_series: i64,
}

impl Built {
    /// Nothing built: no row of this resolution exists.
    const NONE: Built = Built {
        before: i64::MIN,
        next_series: 0,
    };

    fn exists(&self, idx: i64, series: i64) -> bool {
        idx < self.before || (idx == self.before && series < self.next_series)
    }
}

/// How far hours and days are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    pub hours: Built,
    pub days: Built,
}

pub(super) fn built(c: &Db<'_>, res: Resolution) -> Result<Built> {
    Ok(c.prepare_cached(
        "SELECT built_before, next_series FROM rollup_state WHERE resolution = ?1",
    )?
    .query_row([state_key(res)], |r| {
        Ok(Built {
            before: r.get(0)?,
            next_series: r.get(1)?,
        })
    })
    .optional()?
    .unwrap_or(Built::NONE))
}

pub(super) fn marks(c: &Db<'_>) -> Result<Marks> {
    Ok(Marks {
        hours: built(c, Resolution::Hour)?,
        days: built(c, Resolution::Day)?,
    })
}

fn set_built(c: &Db<'_>, res: Resolution, b: Built) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO rollup_state (resolution, built_before, next_series) VALUES (?1, ?2, ?3)
         ON CONFLICT (resolution) DO UPDATE SET built_before = excluded.built_before, next_series = excluded.next_series",
    )?
    .execute(params![state_key(res), b.before, b.next_series])?;
    Ok(())
}

/// The stored bucket, or `None`. A row that cannot be decoded is an error.
pub(super) fn get(c: &Db<'_>, res: Resolution, idx: i64, series: i64) -> Result<Option<Bucket>> {
    let data: Option<Vec<u8>> = c
        .prepare_cached(&format!(
            "SELECT data FROM {} WHERE bucket = ?1 AND series = ?2",
            table(res)
        ))?
        .query_row(params![idx, series], |r| r.get(0))
        .optional()?;
    data.map(|d| decode(&d)).transpose()
}

pub(super) fn decode(data: &[u8]) -> Result<Bucket> {
    Bucket::decode(data).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// [`decode`] of the counts and times only (see [`Bucket::decode_times`]).
pub(super) fn decode_times(data: &[u8]) -> Result<Bucket> {
    Bucket::decode_times(data).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Adds `delta` to the stored bucket (creating it).
fn add(c: &Db<'_>, res: Resolution, idx: i64, series: i64, delta: &Bucket) -> Result<()> {
    let merged = match get(c, res, idx, series) {
        Ok(Some(mut b)) => {
            b.merge(delta);
            b
        }
        Ok(None) => delta.clone(),
        // A row nobody can read would stop every result of the check from being
        // written; it is replaced, and the loss said loudly.
        Err(StoreError::Corrupt(e)) => {
            tracing::error!(
                table = table(res),
                bucket = idx,
                series,
                "{e}; starting the bucket afresh"
            );
            delta.clone()
        }
        Err(e) => return Err(e),
    };
    c.prepare_cached(&format!(
        "INSERT INTO {} (bucket, series, data) VALUES (?1, ?2, ?3)
             ON CONFLICT (bucket, series) DO UPDATE SET data = excluded.data",
        table(res)
    ))?
    .execute(params![idx, series, merged.encode()])?;
    Ok(())
}

/// What one result adds to its check's rollups.
pub(super) struct Fold {
    /// The run itself: when it started, whether it was up, its latency.
    pub run: (i64, bool, f64),
    /// The span of time it stands for, and what that time was.
    pub span: Option<(i64, i64, TimeState)>,
}

/// Folds one result into its minute buckets, and into hour and day rows that are
/// built already (a late result).
pub(super) fn fold(c: &Db<'_>, series: i64, marks: &Marks, f: &Fold) -> Result<()> {
    let mut minutes: BTreeMap<i64, Bucket> = BTreeMap::new();
    let (at, up, latency) = f.run;
    minutes
        .entry(index(Resolution::Minute, at))
        .or_default()
        .add_run(up, latency);
    if let Some((start, end, state)) = f.span {
        // Minute by minute, up to MINUTE_SPLIT_MS; a longer span (a check run
        // every few hours or daily) minute by minute within the hour it ends in,
        // and before that hour by hour, each hour's time in the minute row where
        // it starts: a few dozen rows, not thousands.
        let hour_edge = if end - start <= MINUTE_SPLIT_MS {
            start
        } else {
            Resolution::Hour.floor(end).max(start)
        };
        let pieces = split(Resolution::Hour, start, hour_edge)
            .into_iter()
            .chain(split(Resolution::Minute, hour_edge, end));
        for (bucket_start, ms) in pieces {
            // A piece starts where its bucket does, or where the span does.
            minutes
                .entry(index(Resolution::Minute, bucket_start.max(start)))
                .or_default()
                .add_time(state, ms);
        }
    }
    let mut hours: BTreeMap<i64, Bucket> = BTreeMap::new();
    for (m, delta) in &minutes {
        add(c, Resolution::Minute, *m, series, delta)?;
        let h = m.div_euclid(60);
        if marks.hours.exists(h, series) {
            hours.entry(h).or_default().merge(delta);
        }
    }
    let mut days: BTreeMap<i64, Bucket> = BTreeMap::new();
    for (h, delta) in &hours {
        add(c, Resolution::Hour, *h, series, delta)?;
        let d = h.div_euclid(24);
        if marks.days.exists(d, series) {
            days.entry(d).or_default().merge(delta);
        }
    }
    for (d, delta) in &days {
        add(c, Resolution::Day, *d, series, delta)?;
    }
    Ok(())
}

/// The finer resolution each coarser one is built from, and how many of its buckets
/// make one.
fn source(res: Resolution) -> (Resolution, i64) {
    match res {
        Resolution::Day => (Resolution::Hour, 24),
        _ => (Resolution::Minute, 60),
    }
}

/// Builds one chunk of hours (from minutes) or days (from hours) that are over at
/// `now_ms`. Returns whether it did anything, so the caller goes on until it is
/// caught up, one short transaction at a time.
pub(super) fn build_chunk(c: &Db<'_>, res: Resolution, now_ms: i64) -> Result<bool> {
    let (from, per) = source(res);
    let mut b = built(c, res)?;
    // Buckets the source has complete: hours end BUILD_DELAY after they are over;
    // a day is complete once its last hour is built.
    let complete_before = match res {
        Resolution::Day => {
            let hours = built(c, Resolution::Hour)?;
            if hours.before == i64::MIN {
                return Ok(false);
            }
            hours.before.div_euclid(per)
        }
        _ => index(res, now_ms - BUILD_DELAY_MS),
    };
    if b.before == i64::MIN {
        // Nothing built yet: start at the first bucket with any data.
        let first: Option<i64> = c.query_row(
            &format!("SELECT min(bucket) FROM {}", table(from)),
            [],
            |r| r.get(0),
        )?;
        let Some(first) = first else {
            return Ok(false);
        };
        b = Built {
            before: first.div_euclid(per),
            next_series: 0,
        };
        set_built(c, res, b)?;
    }
    if b.before >= complete_before {
        return Ok(false);
    }
    let (lo, hi) = (b.before * per, (b.before + 1) * per);
    if b.next_series == 0 {
        // Skip over time with no data at all (the daemon was not running).
        let next: Option<i64> = c.query_row(
            &format!("SELECT min(bucket) FROM {} WHERE bucket >= ?1", table(from)),
            [lo],
            |r| r.get(0),
        )?;
        let target = next.map_or(complete_before, |n| n.div_euclid(per).min(complete_before));
        if target > b.before {
            set_built(
                c,
                res,
                Built {
                    before: target,
                    next_series: 0,
                },
            )?;
            return Ok(true);
        }
    }
    let (s_lo, s_hi) = (b.next_series, b.next_series.saturating_add(BUILD_CHUNK));
    let mut merged: HashMap<i64, Bucket> = HashMap::new();
    {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT series, data FROM {} WHERE bucket = ?1 AND series >= ?2 AND series < ?3",
            table(from)
        ))?;
        for idx in lo..hi {
            stmt.for_each(params![idx, s_lo, s_hi], |row| {
                let series: i64 = row.get(0)?;
                match decode(row.get_blob(1)?) {
                    Ok(bucket) => merged.entry(series).or_default().merge(&bucket),
                    Err(e) => tracing::error!(
                        table = table(from),
                        bucket = idx,
                        series,
                        "{e}; left out of the {} it belongs to",
                        state_key(res)
                    ),
                }
                Ok(())
            })?;
        }
    }
    let mut series: Vec<_> = merged.into_iter().collect();
    series.sort_unstable_by_key(|(s, _)| *s);
    {
        let mut put = c.prepare_cached(&format!(
            "INSERT INTO {} (bucket, series, data) VALUES (?1, ?2, ?3)
             ON CONFLICT (bucket, series) DO UPDATE SET data = excluded.data",
            table(res)
        ))?;
        for (s, bucket) in &series {
            put.execute(params![b.before, s, bucket.encode()])?;
        }
    }
    let max_series: i64 =
        c.query_row("SELECT coalesce(max(id), 0) FROM series", [], |r| r.get(0))?;
    let next = if s_hi > max_series {
        Built {
            before: b.before + 1,
            next_series: 0,
        }
    } else {
        Built {
            before: b.before,
            next_series: s_hi,
        }
    };
    set_built(c, res, next)?;
    Ok(true)
}

/// Deletes one slice of `res` rows older than `cutoff_ms` (never rows that a
/// coarser resolution still has to be built from). Returns the rows deleted; the
/// caller repeats while it is not zero.
pub(super) fn prune_chunk(c: &Db<'_>, res: Resolution, cutoff_ms: i64) -> Result<usize> {
    let mut cutoff = index(res, cutoff_ms);
    let coarser = match res {
        Resolution::Minute => Some((Resolution::Hour, 60)),
        Resolution::Hour => Some((Resolution::Day, 24)),
        Resolution::Day => None,
    };
    if let Some((coarse, per)) = coarser {
        let b = built(c, coarse)?;
        let safe = if b.before == i64::MIN {
            i64::MIN
        } else {
            b.before.saturating_mul(per)
        };
        cutoff = cutoff.min(safe);
    }
    let first: Option<i64> = c.query_row(
        &format!("SELECT min(bucket) FROM {}", table(res)),
        [],
        |r| r.get(0),
    )?;
    let Some(first) = first else { return Ok(0) };
    if first >= cutoff {
        return Ok(0);
    }
    let until = first.saturating_add(PRUNE_BUCKETS).min(cutoff);
    c.execute(
        &format!("DELETE FROM {} WHERE bucket < ?1", table(res)),
        [until],
    )
}

pub(super) fn availability(c: &Db<'_>) -> Result<Availability> {
    let first = |res: Resolution| -> Result<i64> {
        Ok(c.query_row(
            &format!("SELECT min(bucket) FROM {}", table(res)),
            [],
            |r| r.get::<Option<i64>>(0),
        )?
        .unwrap_or(i64::MAX))
    };
    let m = marks(c)?;
    Ok(Availability {
        minutes_from: first(Resolution::Minute)?,
        hours_from: first(Resolution::Hour)?,
        hours_built: m.hours.before,
        days_from: first(Resolution::Day)?,
        days_built: m.days.before,
    })
}

/// One check's buckets over the pieces of a plan, merged, by point lookups: cheap
/// for a few checks whatever the window.
pub(super) fn read_one(c: &Db<'_>, series: i64, pieces: &[Piece]) -> Result<Bucket> {
    let mut total = Bucket::new();
    for p in pieces {
        for idx in p.first..p.end {
            if let Some(b) = get(c, p.res, idx, series)? {
                total.merge(&b);
            }
        }
    }
    Ok(total)
}

/// Every series' buckets over the pieces of several plans (a report's window, its
/// SLO window, its burn window), merged per plan, by range scans: for reports of
/// many checks. A bucket several plans share is read and decoded once. Series not
/// in `wanted` are skipped undecoded. `out[plan][series index]`.
pub(super) fn read_many(
    c: &Db<'_>,
    wanted: &HashMap<i64, usize>,
    plans: &[&[Piece]],
    out: &mut [Vec<Bucket>],
) -> Result<()> {
    for res in Resolution::ALL {
        // The union of the plans' ranges at this resolution, as disjoint ranges.
        let mut ranges: Vec<(i64, i64)> = plans
            .iter()
            .flat_map(|p| p.iter())
            .filter(|p| p.res == res)
            .map(|p| (p.first, p.end))
            .collect();
        ranges.sort_unstable();
        let mut union: Vec<(i64, i64)> = Vec::new();
        for (a, b) in ranges {
            match union.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => union.push((a, b)),
            }
        }
        let mut stmt = c.prepare_cached(&format!(
            "SELECT bucket, series, data FROM {} WHERE bucket >= ?1 AND bucket < ?2",
            table(res)
        ))?;
        for (a, b) in union {
            stmt.for_each(params![a, b], |row| {
                let series: i64 = row.get(1)?;
                let Some(&i) = wanted.get(&series) else {
                    return Ok(());
                };
                let idx: i64 = row.get(0)?;
                let bucket = decode(row.get_blob(2)?)?;
                for (k, plan) in plans.iter().enumerate() {
                    if plan
                        .iter()
                        .any(|p| p.res == res && (p.first..p.end).contains(&idx))
                    {
                        out[k][i].merge(&bucket);
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

impl super::Store {
    /// Builds the hours and days that are over at `now_ms`, one chunk per
    /// transaction, until caught up. Returns the chunks built.
    pub async fn build_rollups(&self, now_ms: i64) -> Result<usize> {
        let mut chunks = 0;
        for res in [Resolution::Hour, Resolution::Day] {
            while self.write(move |tx| build_chunk(tx, res, now_ms)).await? {
                chunks += 1;
                tokio::task::yield_now().await;
            }
        }
        Ok(chunks)
    }

    /// Deletes rollups past their retention (`keep_ms` per resolution: minutes,
    /// hours, days), a slice per transaction. Returns the rows deleted.
    pub async fn prune_rollups(&self, now_ms: i64, keep_ms: [i64; 3]) -> Result<usize> {
        let mut total = 0;
        for (res, keep) in Resolution::ALL.into_iter().zip(keep_ms) {
            let cutoff = now_ms.saturating_sub(keep);
            loop {
                let n = self.write(move |tx| prune_chunk(tx, res, cutoff)).await?;
                if n == 0 {
                    break;
                }
                total += n;
                tokio::task::yield_now().await;
            }
        }
        Ok(total)
    }
}
