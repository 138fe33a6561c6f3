//! The scheduler: one task holding the next run of every active check in a
//! min-heap, starting runs under a concurrency limit. Reloads from the store when
//! told (after an apply, pause or resume) and runs a check at once on request.
//!
//! First runs are spread over each check's interval with jitter, so that a daemon
//! starting with thousands of checks does not fire them all at once; a run that is
//! late (the daemon stalled, or every slot was busy) is started once, not caught up.
//!
//! [`Scheduler`] holds what outlives one run of the loop (the store, the prober, the
//! command queue); the loop's own state is built afresh by each [`Scheduler::run`],
//! so that a supervisor can start the loop again after it panicked, with the same
//! handle still working.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use rand::RngExt;
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::metrics::Metrics;
use super::store::{Store, StoredResource, decode};
use super::writer::Job;
use crate::probe::{CompiledCheck, ProbeResult, Prober};
use crate::spec::Schedule;
use crate::spec::secrets::Redactor;

/// How long the API waits for the scheduler to answer a question.
const REPLY_WAIT: Duration = Duration::from_secs(2);
/// Commands queued for the scheduler; senders wait when it is this far behind.
const COMMAND_QUEUE: usize = 1024;

type Key = (i64, String);

/// The checks this node holds leases on while it shares its database with other
/// nodes (see [`store::nodes`](super::store::nodes)): its heartbeat sets them,
/// and the scheduler runs only those. Runs fall at times every node computes
/// alike, so a check that moves keeps its times.
#[derive(Default)]
pub struct Ownership {
    held: std::sync::RwLock<std::collections::HashSet<Key>>,
}

impl Ownership {
    pub fn set(&self, held: std::collections::HashSet<Key>) {
        *self.held.write().unwrap_or_else(|p| p.into_inner()) = held;
    }

    pub fn holds(&self, key: &Key) -> bool {
        self.held
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }

    pub fn count(&self) -> usize {
        self.held.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

struct Entry {
    check: Arc<CompiledCheck>,
    /// Hides the check's secrets in its results, before they are stored or logged.
    redactor: Arc<Redactor>,
    /// A hash of the stored spec, to tell a changed check on reload. Keeping the
    /// spec itself would cost a parsed JSON tree per check for this one comparison.
    spec: u64,
    paused: bool,
    /// Bumped when the check changes, so that stale heap entries are skipped.
    generation: u64,
    /// The wall-clock time of the next planned run.
    next_run: Option<chrono::DateTime<Utc>>,
    /// Set while a scheduled run is waiting for a slot or running.
    running: Arc<AtomicBool>,
}

pub enum Command {
    /// Run a check now and send back its result once written.
    RunNow {
        tenant: i64,
        name: String,
        reply: oneshot::Sender<Option<ProbeResult>>,
    },
    /// The next planned run of a check, for status displays.
    NextRun {
        tenant: i64,
        name: String,
        reply: oneshot::Sender<Option<chrono::DateTime<Utc>>>,
    },
}

/// A cloneable handle for the API and the watcher.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
}

impl Handle {
    pub async fn run_now(&self, tenant: i64, name: String) -> Option<ProbeResult> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::RunNow {
                tenant,
                name,
                reply,
            })
            .await
            .ok()?;
        rx.await.ok().flatten()
    }

    /// The next planned run; `None` also when the scheduler does not answer within
    /// [`REPLY_WAIT`] (it may be busy starting runs), so status pages never hang.
    pub async fn next_run(&self, tenant: i64, name: String) -> Option<chrono::DateTime<Utc>> {
        tokio::time::timeout(REPLY_WAIT, self.next_run_inner(tenant, name))
            .await
            .ok()
            .flatten()
    }

    async fn next_run_inner(&self, tenant: i64, name: String) -> Option<chrono::DateTime<Utc>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::NextRun {
                tenant,
                name,
                reply,
            })
            .await
            .ok()?;
        rx.await.ok().flatten()
    }
}

/// What the scheduler keeps across restarts of its loop.
pub struct Scheduler {
    store: Store,
    prober: Arc<Prober>,
    results: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    concurrency: usize,
    /// The commands of every [`Handle`]: held by the loop while it runs, and taken
    /// again by the next one if it dies, so that commands queued meanwhile are kept.
    rx: Arc<Mutex<mpsc::Receiver<Command>>>,
    fake: Fake,
    ownership: Option<Arc<Ownership>>,
}

/// The loop's state: one per [`Scheduler::run`].
struct Running {
    store: Store,
    prober: Arc<Prober>,
    results: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    concurrency: usize,
    rx: OwnedMutexGuard<mpsc::Receiver<Command>>,
    entries: HashMap<Key, Entry>,
    heap: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    generation: u64,
    changes: watch::Receiver<u64>,
    stopping: Arc<AtomicBool>,
    /// Every run started and not yet reaped, so that shutdown can abort those still
    /// in flight after the grace period: an aborted run drops its result sender, and
    /// the writer's input closes once the scheduler is gone.
    runs: JoinSet<()>,
    fake: Fake,
    clock: Clock,
    /// Keys the hashes of stored specs afresh in every process, so that nobody can
    /// make two specs of one check that a reload takes for the same.
    hasher: std::hash::RandomState,
    /// The one redactor of every check without secrets.
    no_secrets: Arc<Redactor>,
    ownership: Option<Arc<Ownership>>,
}

/// The wall clock calendar schedules are planned on. Waits are on tokio's clock;
/// the daemon reads the wall clock itself (so that a corrected system clock moves
/// cron runs with it), while tests read it off tokio's clock, so that calendar
/// schedules follow a paused clock as it is advanced.
struct Clock {
    #[cfg(test)]
    anchor: (Instant, chrono::DateTime<Utc>),
}

impl Clock {
    fn new() -> Self {
        Clock {
            #[cfg(test)]
            anchor: (Instant::now(), Utc::now()),
        }
    }

    #[cfg(not(test))]
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now()
    }

    #[cfg(test)]
    fn now(&self) -> chrono::DateTime<Utc> {
        let (at, wall) = self.anchor;
        wall + chrono::Duration::from_std(at.elapsed()).unwrap_or_default()
    }
}

pub fn new(
    store: Store,
    prober: Arc<Prober>,
    results: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    concurrency: usize,
) -> (Scheduler, Handle) {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let s = Scheduler {
        store,
        prober,
        results,
        metrics,
        concurrency,
        rx: Arc::new(Mutex::new(rx)),
        fake: Fake::default(),
        ownership: None,
    };
    (s, Handle { tx })
}

/// A probe standing in for the real one in the scheduler's tests, which need runs
/// that take a set time on the paused clock, or that panic.
#[cfg(test)]
type Fake = Option<
    Arc<
        dyn Fn(Arc<CompiledCheck>) -> futures_util::future::BoxFuture<'static, ProbeResult>
            + Send
            + Sync,
    >,
>;
#[cfg(not(test))]
type Fake = NoFake;

/// Outside tests, runs are always real.
#[cfg(not(test))]
#[derive(Clone, Default)]
struct NoFake;

#[cfg(test)]
async fn probe(prober: &Prober, check: Arc<CompiledCheck>, fake: &Fake) -> ProbeResult {
    match fake {
        Some(fake) => fake(check).await,
        None => prober.run(&check).await,
    }
}

#[cfg(not(test))]
async fn probe(prober: &Prober, check: Arc<CompiledCheck>, _: &Fake) -> ProbeResult {
    prober.run(&check).await
}

/// What one run holds until it ends, given back however it ends: finished,
/// panicked, or aborted at shutdown. Without it a run that panicked left its
/// check marked running, and the check never ran again.
struct RunGuard {
    running: Option<Arc<AtomicBool>>,
    _slot: Option<OwnedSemaphorePermit>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if let Some(flag) = &self.running {
            flag.store(false, Ordering::SeqCst);
        }
    }
}

fn jitter(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.0..1.0))
}

/// Time from `now` until `schedule` next fires, for calendar schedules; the
/// interval itself for fixed ones.
fn until_next(schedule: &Schedule, now: chrono::DateTime<Utc>) -> Duration {
    match schedule {
        Schedule::Every(d) => d.get(),
        Schedule::Cron { .. } => schedule
            .next_after(now)
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or(Duration::from_secs(60)),
    }
}

impl Scheduler {
    /// Runs only the checks `ownership` holds, at the times every node computes.
    pub fn sharing(mut self, ownership: Arc<Ownership>) -> Self {
        self.ownership = Some(ownership);
        self
    }

    /// Runs until `shutdown` turns true; then waits up to `grace` for runs in
    /// flight, and aborts those still running then. May be called again after a
    /// run of it panicked: it starts from what the store holds.
    pub async fn run(&self, shutdown: watch::Receiver<bool>, grace: Duration) {
        let rx = Arc::clone(&self.rx).lock_owned().await;
        let running = Running {
            store: self.store.clone(),
            prober: Arc::clone(&self.prober),
            results: self.results.clone(),
            metrics: Arc::clone(&self.metrics),
            slots: Arc::new(Semaphore::new(self.concurrency)),
            concurrency: self.concurrency,
            rx,
            entries: HashMap::new(),
            heap: BinaryHeap::new(),
            generation: 0,
            changes: self.store.subscribe(),
            stopping: Arc::new(AtomicBool::new(false)),
            runs: JoinSet::new(),
            fake: self.fake.clone(),
            clock: Clock::new(),
            hasher: std::hash::RandomState::new(),
            no_secrets: Arc::default(),
            ownership: self.ownership.clone(),
        };
        running.run(shutdown, grace).await;
    }
}

impl Running {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        self.reload().await;
        loop {
            let next = self.heap.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                _ = shutdown.changed() => break,
                Ok(()) = self.changes.changed() => self.reload().await,
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => break,
                },
                _ = sleep_until(next) => self.fire_due().await,
            }
        }
        // Stop scheduling; runs still waiting for a slot give up, and those in flight
        // get the grace period to finish and be queued for writing: holding every
        // slot means none is running.
        self.stopping.store(true, Ordering::SeqCst);
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, self.slots.acquire_many(all))
            .await
            .is_err()
        {
            let left = self.runs.len();
            tracing::warn!(
                "abandoning {left} check run(s) still in flight after the {grace:?} grace period"
            );
        }
        // Aborted runs drop their result senders; waiting for them to go means the
        // writer sees its input close as soon as this returns.
        self.runs.shutdown().await;
    }

    async fn command(&mut self, cmd: Command) {
        // A command may come from a request that has just changed the checks (a
        // pause, then its answer's next run): answer from the state after the change.
        if self.changes.has_changed().unwrap_or(false) {
            self.changes.borrow_and_update();
            self.reload().await;
        }
        match cmd {
            Command::RunNow {
                tenant,
                name,
                reply,
            } => match self.entries.get(&(tenant, name.clone())) {
                Some(e) => {
                    let run = (Arc::clone(&e.check), Arc::clone(&e.redactor));
                    self.start(tenant, name, run, Some(reply), None)
                }
                None => {
                    let _ = reply.send(None);
                }
            },
            Command::NextRun {
                tenant,
                name,
                reply,
            } => {
                let _ = reply.send(self.entries.get(&(tenant, name)).and_then(|e| {
                    if e.paused || !e.check.source().enabled {
                        None
                    } else {
                        e.next_run
                    }
                }));
            }
        }
    }

    async fn reload(&mut self) {
        let known: HashMap<Key, (u64, bool)> = self
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), (e.spec, e.paused)))
            .collect();
        let hasher = self.hasher.clone();
        let Reload { rows, gone } = match self
            .store
            .read(move |c| read_checks(c, known, &hasher))
            .await
        {
            Ok(reload) => reload,
            Err(e) => {
                tracing::error!(error = %e, "scheduler could not read checks; keeping the current schedule");
                return;
            }
        };
        for row in rows {
            let (key, paused) = (row.key, row.paused);
            let Some(fresh) = row.fresh else {
                self.generation += 1;
                let generation = self.generation;
                let resumed = self.entries.get_mut(&key).is_some_and(|e| {
                    let resumed = e.paused && !paused;
                    e.paused = paused;
                    if resumed {
                        // A new generation retires the heap entry left from before the pause.
                        e.generation = generation;
                    }
                    resumed
                });
                if resumed {
                    let at = match (&self.ownership, self.entries.get(&key)) {
                        (Some(_), Some(e)) => self.first_run(&key, &e.check.source().schedule),
                        _ => Instant::now() + jitter(Duration::from_secs(1)),
                    };
                    self.push(key, at);
                }
                continue;
            };
            let Some((check, redactor)) = fresh.check else {
                // Logged where it was read. A check changed into one that cannot be
                // read or compiled keeps running as it was, rather than going quiet.
                continue;
            };
            self.generation += 1;
            let first = self.first_run(&key, &check.source().schedule);
            let redactor = if redactor.is_empty() {
                Arc::clone(&self.no_secrets)
            } else {
                Arc::new(redactor)
            };
            self.entries.insert(
                key.clone(),
                Entry {
                    check: Arc::new(check),
                    redactor,
                    spec: fresh.spec,
                    paused,
                    generation: self.generation,
                    next_run: None,
                    running: Arc::new(AtomicBool::new(false)),
                },
            );
            self.push(key, first);
        }
        for key in gone {
            self.entries.remove(&key);
        }
    }

    /// When a check just loaded first runs: spread over its interval at random,
    /// or, shared with other nodes, at its place in the interval on the wall clock.
    fn first_run(&self, key: &Key, schedule: &Schedule) -> Instant {
        match schedule {
            Schedule::Every(d) if self.ownership.is_some() => {
                self.aligned_after(key, d.get(), self.clock.now())
            }
            Schedule::Every(d) => Instant::now() + jitter(d.get()),
            Schedule::Cron { .. } => Instant::now() + until_next(schedule, self.clock.now()),
        }
    }

    /// The first of `key`'s aligned times (its phase after each multiple of
    /// `interval` since the epoch) after the wall-clock time `after`.
    fn aligned_after(
        &self,
        key: &Key,
        interval: Duration,
        after: chrono::DateTime<Utc>,
    ) -> Instant {
        let every = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let phase = super::store::nodes::phase_ms(key, every);
        let after_ms = u64::try_from(after.timestamp_millis()).unwrap_or(0);
        let base = after_ms - after_ms % every + phase;
        let next = if base > after_ms { base } else { base + every };
        let now_ms = u64::try_from(self.clock.now().timestamp_millis()).unwrap_or(0);
        Instant::now() + Duration::from_millis(next.saturating_sub(now_ms))
    }

    fn push(&mut self, key: Key, at: Instant) {
        if let Some(e) = self.entries.get_mut(&key) {
            let delay = at.saturating_duration_since(Instant::now());
            e.next_run = chrono::Duration::from_std(delay)
                .ok()
                .map(|d| self.clock.now() + d);
            self.heap.push(Reverse((at, e.generation, key)));
        }
    }

    async fn fire_due(&mut self) {
        let now = Instant::now();
        while self
            .heap
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            let Some(Reverse((at, generation, key))) = self.heap.pop() else {
                break;
            };
            let Some(entry) = self.entries.get(&key) else {
                continue;
            };
            if entry.generation != generation || entry.paused || !entry.check.source().enabled {
                continue;
            }
            if self.ownership.as_ref().is_some_and(|o| !o.holds(&key)) {
                // Another node holds the check: this one keeps its times, to run it
                // at the right one should the check move here.
                let step = self.step(&key, &entry.check.source().schedule, at, entry.next_run);
                self.push(key, step);
                continue;
            }
            if entry.running.swap(true, Ordering::SeqCst) {
                // The previous run has not finished (or not found a slot): runs of one
                // check never overlap or pile up; this one is skipped.
                let (check, step) = (
                    Arc::clone(&entry.check),
                    self.step(&key, &entry.check.source().schedule, at, entry.next_run),
                );
                drop(check);
                self.push(key, step);
                continue;
            }
            let (check, running) = (Arc::clone(&entry.check), Arc::clone(&entry.running));
            let redactor = Arc::clone(&entry.redactor);
            let lateness = now.saturating_duration_since(at);
            self.metrics.scheduler_lag.observe(lateness.as_secs_f64());
            let next = self.step(&key, &check.source().schedule, at, entry.next_run);
            self.push(key.clone(), next);
            self.start(key.0, key.1, (check, redactor), None, Some(running));
        }
    }

    /// When the run after the one planned at `at` (wall-clock `tick`) should start.
    /// Fixed intervals count from the planned time, or from now when more than one
    /// interval late: a stalled daemon starts each check once, it does not burst.
    /// Calendar schedules take the next firing after both the tick and now, so a
    /// timer that wakes a little early cannot fire the same tick twice.
    fn step(
        &self,
        key: &Key,
        schedule: &Schedule,
        at: Instant,
        tick: Option<chrono::DateTime<Utc>>,
    ) -> Instant {
        match schedule {
            Schedule::Every(d) if self.ownership.is_some() => {
                let now = self.clock.now();
                // Bounded by an interval from now: a wall clock set back must not
                // hold the check until it catches up with the tick.
                let ahead = now + chrono::Duration::from_std(d.get()).unwrap_or_default();
                let after = tick.map_or(now, |t| t.max(now).min(ahead));
                self.aligned_after(key, d.get(), after)
            }
            Schedule::Every(d) => {
                let planned = at + d.get();
                if planned <= Instant::now() {
                    Instant::now() + d.get()
                } else {
                    planned
                }
            }
            Schedule::Cron { .. } => {
                let now = self.clock.now();
                let after = tick.map_or(now, |t| t.max(now));
                let wait = schedule
                    .next_after(after)
                    .and_then(|t| (t - now).to_std().ok())
                    .unwrap_or(Duration::from_secs(60));
                Instant::now() + wait
            }
        }
    }

    /// Starts one run in its own task, which waits for a free slot: the scheduler
    /// itself never waits, so commands and shutdown are always heard.
    fn start(
        &mut self,
        tenant: i64,
        name: String,
        (check, redactor): (Arc<CompiledCheck>, Arc<Redactor>),
        reply: Option<oneshot::Sender<Option<ProbeResult>>>,
        running: Option<Arc<AtomicBool>>,
    ) {
        let slots = Arc::clone(&self.slots);
        let stopping = Arc::clone(&self.stopping);
        let prober = Arc::clone(&self.prober);
        let results = self.results.clone();
        let metrics = Arc::clone(&self.metrics);
        let fake = self.fake.clone();
        // Finished runs are reaped here, so the set holds only those in flight.
        while self.runs.try_join_next().is_some() {}
        self.runs.spawn(async move {
            let mut guard = RunGuard {
                running,
                _slot: None,
            };
            let Ok(permit) = slots.acquire_owned().await else {
                return;
            };
            guard._slot = Some(permit);
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            let run = std::panic::AssertUnwindSafe(probe(&prober, Arc::clone(&check), &fake));
            let mut result = match run.catch_unwind().await {
                Ok(result) => result,
                Err(panic) => {
                    metrics.error("scheduler", "probe_panic");
                    tracing::error!(tenant, check = %name, "a run of the check panicked: {}; no result is recorded for it, and the check runs again at its next time", redactor.scrub(panic_message(&*panic)));
                    return;
                }
            };
            result.redact(&redactor);
            let _ = results
                .send(Job {
                    tenant,
                    name,
                    check: Arc::clone(check.source()),
                    result,
                    reply,
                })
                .await;
        });
    }
}

/// The message a panic was raised with, for the log.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// What a reload changes: the checks that are new, changed or paused or resumed,
/// and those that are gone. A check that stays as it was is in neither: at 100,000
/// checks, a row and a copy of the name of each on every apply added up.
struct Reload {
    rows: Vec<Row>,
    gone: Vec<Key>,
}

/// One stored check a reload changes.
struct Row {
    key: Key,
    paused: bool,
    /// Read afresh: the check is new or its spec changed. `None` when only its
    /// pause changed.
    fresh: Option<Fresh>,
}

struct Fresh {
    /// The hash of the spec as stored.
    spec: u64,
    /// The check compiled with its redactor; `None` when it cannot be read or
    /// compiled (logged, and not scheduled).
    check: Option<(CompiledCheck, Redactor)>,
}

/// Every stored check against `known` (the spec hash and pause of each scheduled
/// check), reading (parsing, compiling) only those whose spec is new or changed.
/// One row's JSON is held at a time: holding the parsed specs of every check of a
/// large apply at once made most of the daemon's peak memory.
fn read_checks(
    c: &crate::daemon::store::Db<'_>,
    mut known: HashMap<Key, (u64, bool)>,
    hasher: &std::hash::RandomState,
) -> crate::daemon::store::Result<Reload> {
    use std::hash::BuildHasher;
    let sql = format!(
        "SELECT {}, COALESCE(s.paused, 0)
         FROM resources r LEFT JOIN check_state s ON s.tenant_id = r.tenant_id AND s.name = r.name
         WHERE r.kind = 'Check'",
        decode::RAW_COLUMNS
    );
    let mut out = Vec::new();
    c.for_each(&sql, [], |r| {
        let raw = decode::Raw::from_row(r, 0)?;
        let paused: bool = r.get(8)?;
        let spec = hasher.hash_one(raw.spec.as_str());
        let key = (raw.tenant, raw.name.clone());
        match known.remove(&key) {
            Some((same, was_paused)) if same == spec => {
                if paused != was_paused {
                    out.push(Row {
                        key,
                        paused,
                        fresh: None,
                    });
                }
                return Ok(());
            }
            _ => {}
        }
        // The store's one reader logs and counts a row it cannot read.
        let check = decode::row(raw).ok().and_then(|res| {
            let redactor = Redactor::for_probe(&res.spec, &res.secrets, &Default::default());
            let check = typed(&res, &redactor)?;
            Some((check, redactor))
        });
        out.push(Row {
            key,
            paused,
            fresh: Some(Fresh { spec, check }),
        });
        Ok(())
    })?;
    Ok(Reload {
        rows: out,
        gone: known.into_keys().collect(),
    })
}

/// The stored check compiled, once per change of its spec; one that cannot be
/// read or compiled is logged and not scheduled.
fn typed(res: &StoredResource, redactor: &Redactor) -> Option<CompiledCheck> {
    let check = res.as_check()?;
    match crate::probe::compile_shared(Arc::new(check.clone())) {
        Ok(compiled) => Some(compiled),
        Err(e) => {
            // The error may quote a setting that holds a secret.
            let error = redactor.scrub(&e.to_string());
            tracing::error!(check = %res.name, %error, "stored check cannot be compiled; not scheduling it");
            None
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock: time moves only when every task waits, straight to
    //! the next timer, so minutes of schedule take no time and every start is seen
    //! at its exact instant.

    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::daemon::store::Edit;
    use crate::daemon::supervise::{Components, RESTART_BACKOFF_MIN, Supervisor};

    /// One start of a fake run: which check, and when on the paused clock.
    type Start = (String, Instant);

    /// What a fake run does once started.
    #[derive(Clone, Copy)]
    enum Act {
        /// Finishes after this long.
        Take(Duration),
        /// Panics on its first run, then finishes at once.
        PanicOnce,
    }

    struct Rig {
        store: Store,
        scheduler: Arc<Scheduler>,
        handle: Handle,
        starts: mpsc::UnboundedReceiver<Start>,
        /// Runs of one check in flight now, and the most ever at once, per check.
        in_flight: Arc<std::sync::Mutex<HashMap<String, (usize, usize)>>>,
        metrics: Arc<Metrics>,
        _dir: tempfile::TempDir,
    }

    fn spec_of(yaml: &str) -> (String, serde_json::Value) {
        let source = crate::spec::Source::new("t.yaml", yaml, ".");
        let bundle = crate::spec::load(&[source], &|_| None).expect("valid check");
        let desired = bundle.resources[0].desired();
        (desired.name, desired.spec)
    }

    async fn put(store: &Store, yaml: &str) {
        let (_, spec) = spec_of(yaml);
        let (applied, _revision) = store
            .transact_state(1, move |_| {
                Ok((
                    (),
                    vec![Edit::Upsert(
                        StoredResource::from_json(spec).expect("a check to store"),
                    )],
                ))
            })
            .await
            .expect("stored");
        applied.expect("the check is written");
    }

    fn check(name: &str, schedule: &str) -> String {
        format!(
            "kind: Check\nname: {name}\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: \"{schedule}\"\ntimeout: 1s\n"
        )
    }

    fn result(check: &CompiledCheck) -> ProbeResult {
        ProbeResult {
            name: check.source().name.clone(),
            check_type: "http".into(),
            target: "http://127.0.0.1:9/".into(),
            up: true,
            latency_ms: 1.0,
            connect_ms: None,
            status_code: Some(200),
            grpc_code: None,
            error: None,
            error_kind: None,
            failures: Vec::new(),
            attempts: 1,
            started_at: Utc::now(),
            cert_expires_at: None,
            body_excerpt: None,
            body_truncated: false,
        }
    }

    /// A scheduler over a real store holding `checks`, whose runs are fakes doing
    /// `act`, with `concurrency` slots; its results are taken and dropped.
    async fn rig(checks: &[String], act: Act, concurrency: usize) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        for yaml in checks {
            put(&store, yaml).await;
        }
        let (results, mut written) = mpsc::channel::<Job>(crate::daemon::writer::QUEUE);
        tokio::spawn(async move {
            while let Some(job) = written.recv().await {
                if let Some(reply) = job.reply {
                    let _ = reply.send(Some(job.result));
                }
            }
        });
        let metrics = Arc::new(Metrics::new());
        let (mut scheduler, handle) = new(
            store.clone(),
            Arc::new(Prober::new()),
            results,
            Arc::clone(&metrics),
            concurrency,
        );
        let (tx, starts) = mpsc::unbounded_channel();
        let in_flight: Arc<std::sync::Mutex<HashMap<String, (usize, usize)>>> = Arc::default();
        let flights = Arc::clone(&in_flight);
        let panicked = Arc::new(AtomicBool::new(false));
        scheduler.fake = Some(Arc::new(move |check: Arc<CompiledCheck>| {
            let _ = tx.send((check.source().name.clone(), Instant::now()));
            let (flights, panicked) = (Arc::clone(&flights), Arc::clone(&panicked));
            Box::pin(async move {
                let name = check.source().name.clone();
                let enter = |d: isize| {
                    let mut f = flights.lock().expect("lock");
                    let e = f.entry(name.clone()).or_default();
                    e.0 = e.0.saturating_add_signed(d);
                    e.1 = e.1.max(e.0);
                };
                enter(1);
                match act {
                    Act::Take(d) => tokio::time::sleep(d).await,
                    Act::PanicOnce => {
                        if !panicked.swap(true, Ordering::SeqCst) {
                            enter(-1);
                            panic!("probe bug on the first run");
                        }
                    }
                }
                enter(-1);
                result(&check)
            })
        }));
        Rig {
            store,
            scheduler: Arc::new(scheduler),
            handle,
            starts,
            in_flight,
            metrics,
            _dir: dir,
        }
    }

    impl Rig {
        /// Starts the scheduler's loop; it stops when the sender is dropped or sends true.
        fn start(&self) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
            let (stop, shutdown) = watch::channel(false);
            let s = Arc::clone(&self.scheduler);
            let task = tokio::spawn(async move { s.run(shutdown, Duration::from_secs(1)).await });
            (stop, task)
        }

        /// Every start seen so far, of the check `name`.
        fn taken(&mut self, name: &str) -> Vec<Instant> {
            let mut out = Vec::new();
            while let Ok((n, at)) = self.starts.try_recv() {
                if n == name {
                    out.push(at);
                }
            }
            out
        }

        fn most_at_once(&self, name: &str) -> usize {
            self.in_flight
                .lock()
                .expect("lock")
                .get(name)
                .map_or(0, |e| e.1)
        }
    }

    fn gaps(starts: &[Instant]) -> Vec<u64> {
        starts
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis() as u64)
            .collect()
    }

    /// Before the drop guard, the panicking run left `running` set, and every later
    /// tick of the check was skipped as "still running": it never ran again.
    #[tokio::test(start_paused = true)]
    async fn a_run_that_panics_does_not_stop_its_check_from_running_again() {
        let mut r = rig(&[check("panicky", "5s")], Act::PanicOnce, 4).await;
        let (_stop, _task) = r.start();
        tokio::time::sleep(Duration::from_secs(31)).await;
        let starts = r.taken("panicky");
        assert!(
            starts.len() >= 6,
            "a check runs every 5 s after its first run panicked; it started {} time(s) in 31 s",
            starts.len()
        );
        assert!(
            gaps(&starts).iter().all(|g| *g == 5000),
            "{:?}",
            gaps(&starts)
        );
        // Its slot came back too: a run now still gets one.
        assert!(r.handle.run_now(1, "panicky".into()).await.is_some());
    }

    /// The panic of an aborted or panicking run gives its slot back: with one slot,
    /// the other check still runs.
    #[tokio::test(start_paused = true)]
    async fn a_run_that_panics_gives_its_slot_back() {
        let mut r = rig(
            &[check("panicky", "5s"), check("other", "5s")],
            Act::PanicOnce,
            1,
        )
        .await;
        let (_stop, _task) = r.start();
        tokio::time::sleep(Duration::from_secs(21)).await;
        let (p, o) = {
            let all: Vec<Start> = std::iter::from_fn(|| r.starts.try_recv().ok()).collect();
            let count = |n: &str| all.iter().filter(|(name, _)| name == n).count();
            (count("panicky"), count("other"))
        };
        assert!(
            p >= 4 && o >= 4,
            "panicky ran {p} times, other {o} times in 21 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn first_runs_are_spread_over_the_interval_not_fired_at_once() {
        let checks: Vec<String> = (0..200).map(|i| check(&format!("c{i}"), "60s")).collect();
        let mut r = rig(&checks, Act::Take(Duration::from_millis(10)), 1000).await;
        let t0 = Instant::now();
        let (_stop, _task) = r.start();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let all: Vec<Start> = std::iter::from_fn(|| r.starts.try_recv().ok()).collect();
        assert_eq!(all.len(), 200, "each check once in its first interval");
        let mut per_second = [0usize; 60];
        for (_, at) in &all {
            let second = (*at - t0).as_secs() as usize;
            assert!(second < 60, "a first run comes within one interval");
            per_second[second] += 1;
        }
        // 200 starts over 60 seconds: about 3 a second, and never a crowd.
        let busy = per_second.iter().filter(|n| **n > 0).count();
        let most = per_second.iter().max().copied().unwrap_or(0);
        assert!(
            busy >= 40 && most <= 20,
            "starts per second: {per_second:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn runs_of_one_check_never_overlap_and_a_slow_run_skips_its_ticks() {
        let mut r = rig(
            &[check("slow", "5s")],
            Act::Take(Duration::from_secs(12)),
            4,
        )
        .await;
        let (_stop, _task) = r.start();
        tokio::time::sleep(Duration::from_secs(80)).await;
        let starts = r.taken("slow");
        assert_eq!(r.most_at_once("slow"), 1);
        // A run of 12 s covers the next two ticks: the third one starts it again.
        let g = gaps(&starts);
        assert!(starts.len() >= 4, "{} starts", starts.len());
        assert!(g.iter().all(|g| *g == 15_000), "gaps between starts: {g:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_run_is_started_once_not_caught_up() {
        let mut r = rig(&[check("steady", "5s")], Act::Take(Duration::ZERO), 4).await;
        let (_stop, _task) = r.start();
        tokio::time::sleep(Duration::from_secs(11)).await;
        let before = r.taken("steady");
        assert!(
            (2..=3).contains(&before.len()),
            "{} runs in the first 11 s",
            before.len()
        );
        // The daemon stalls for a minute: twelve runs are missed.
        tokio::time::advance(Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let stalled = Instant::now();
        let after = r.taken("steady");
        assert_eq!(after.len(), 1, "one late run, not twelve caught up");
        tokio::time::sleep(Duration::from_secs(16)).await;
        let next = r.taken("steady");
        assert_eq!(next.len(), 3, "then one every 5 s");
        assert_eq!(
            gaps(&[vec![after[0]], next].concat()),
            vec![5000, 5000, 5000]
        );
        assert!(after[0] <= stalled);
        // The late start is what the lag histogram saw: one sample of about 55 s.
        let out = r.metrics.render(
            Default::default(),
            0,
            crate::daemon::metrics::Format::OpenMetrics,
        );
        let bucket = |le: &str| -> u64 {
            let line = format!("uptime_scheduler_lag_seconds_bucket{{le=\"{le}\"}} ");
            out.lines()
                .find_map(|l| l.strip_prefix(&line))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no bucket {le} in {out}"))
        };
        assert_eq!(bucket("+Inf") - bucket("10.0"), 1, "{out}");
        // On time, give or take the timer's millisecond.
        assert_eq!(bucket("0.0025"), bucket("10.0"), "the others were on time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_check_does_not_run_until_resumed_and_then_runs_at_once() {
        let mut r = rig(&[check("steady", "5s")], Act::Take(Duration::ZERO), 4).await;
        let (_stop, _task) = r.start();
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert!(!r.taken("steady").is_empty());
        r.store
            .set_paused(1, "steady".into(), true)
            .await
            .expect("pause");
        // The answer comes from the schedule after the pause: proof that it is seen.
        assert_eq!(r.handle.next_run(1, "steady".into()).await, None);
        let _ = r.taken("steady");
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(
            r.taken("steady"),
            Vec::<Instant>::new(),
            "a paused check must not run"
        );

        r.store
            .set_paused(1, "steady".into(), false)
            .await
            .expect("resume");
        let resumed = Instant::now();
        assert!(r.handle.next_run(1, "steady".into()).await.is_some());
        tokio::time::sleep(Duration::from_secs(12)).await;
        let starts = r.taken("steady");
        assert!(starts.len() >= 2, "{} runs after the resume", starts.len());
        assert!(
            starts[0] - resumed <= Duration::from_secs(1),
            "the first run after a resume comes within a second"
        );
        assert_eq!(gaps(&starts)[0], 5000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cron_check_runs_on_the_minute_once_per_firing() {
        let mut r = rig(&[check("cron", "* * * * *")], Act::Take(Duration::ZERO), 4).await;
        let (_stop, _task) = r.start();
        let clock = Clock::new();
        tokio::time::sleep(Duration::from_secs(5 * 60 + 1)).await;
        let starts = r.taken("cron");
        assert!(
            (5..=6).contains(&starts.len()),
            "{} runs in five minutes",
            starts.len()
        );
        assert!(
            gaps(&starts).iter().all(|g| *g == 60_000),
            "{:?}",
            gaps(&starts)
        );
        // On the wall clock the schedule is planned on, each start is on a minute.
        let anchor = clock.anchor;
        for at in starts {
            let wall = anchor.1 + chrono::Duration::from_std(at - anchor.0).expect("duration");
            let off = wall.timestamp_millis().rem_euclid(60_000);
            assert!(
                !(5..=59_995).contains(&off),
                "a start {off} ms past the minute"
            );
        }
    }

    /// The scheduler's loop dies; the supervisor starts it again, the same handle
    /// still answers, and its checks run again.
    #[tokio::test(start_paused = true)]
    async fn a_scheduler_that_dies_is_restarted_counted_and_its_checks_run_again() {
        let mut r = rig(&[check("steady", "5s")], Act::Take(Duration::ZERO), 4).await;
        let (stop, shutdown) = watch::channel(false);
        let supervisor = Supervisor {
            components: Arc::new(Components::default()),
            metrics: Arc::clone(&r.metrics),
            shutdown: shutdown.clone(),
        };
        let lives = Arc::new(AtomicUsize::new(0));
        let (scheduler, counted) = (Arc::clone(&r.scheduler), Arc::clone(&lives));
        let task = supervisor.spawn("scheduler", "scheduler".into(), move || {
            let (s, shutdown) = (Arc::clone(&scheduler), shutdown.clone());
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                tokio::select! {
                    _ = s.run(shutdown, Duration::from_secs(1)) => {}
                    _ = tokio::time::sleep(Duration::from_secs(12)), if first => panic!("scheduler bug"),
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(12_100)).await;
        let before = r.taken("steady");
        assert!(before.len() >= 2);
        let down = supervisor.components.down();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].component, "scheduler");
        // The public answer says it panicked, not what the panic said.
        assert!(
            down[0].reason.starts_with("panicked") && !down[0].reason.contains("scheduler bug"),
            "{}",
            down[0].reason
        );

        tokio::time::sleep(RESTART_BACKOFF_MIN + Duration::from_secs(10)).await;
        assert_eq!(lives.load(Ordering::SeqCst), 2);
        assert!(supervisor.components.down().is_empty());
        assert_eq!(r.metrics.restarts("scheduler"), 1);
        assert!(!r.taken("steady").is_empty(), "runs after the restart");
        assert!(r.handle.run_now(1, "steady".into()).await.is_some());
        stop.send(true).expect("stop");
        task.await.expect("supervisor ends");
    }
}
