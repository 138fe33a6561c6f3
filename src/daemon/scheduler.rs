//! The scheduler: one task holding the next run of every active check in a
//! min-heap, starting runs under a concurrency limit. Reloads from the store when
//! told (after an apply, pause or resume) and runs a check at once on request.
//!
//! First runs are spread over each check's interval with jitter, so that a daemon
//! starting with thousands of checks does not fire them all at once; a run that is
//! late (the daemon stalled, or every slot was busy) is started once, not caught up.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use rand::RngExt;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::metrics::Metrics;
use super::store::{Store, StoredResource};
use super::writer::Job;
use crate::probe::{CompiledCheck, ProbeResult, Prober};
use crate::spec::secrets::Redactor;
use crate::spec::{Schedule, remote};

/// How long the API waits for the scheduler to answer a question.
const REPLY_WAIT: Duration = Duration::from_secs(2);
/// Commands queued for the scheduler; senders wait when it is this far behind.
const COMMAND_QUEUE: usize = 1024;

type Key = (i64, String);

struct Entry {
    check: Arc<CompiledCheck>,
    /// Hides the check's secrets in its results, before they are stored or logged.
    redactor: Arc<Redactor>,
    spec: serde_json::Value,
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

pub struct Scheduler {
    store: Store,
    prober: Arc<Prober>,
    results: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    concurrency: usize,
    rx: mpsc::Receiver<Command>,
    entries: HashMap<Key, Entry>,
    heap: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    generation: u64,
    changes: watch::Receiver<u64>,
    stopping: Arc<AtomicBool>,
    /// Every run started and not yet reaped, so that shutdown can abort those still
    /// in flight after the grace period: an aborted run drops its result sender, and
    /// the writer's input closes once the scheduler is gone.
    runs: JoinSet<()>,
}

pub fn new(
    store: Store,
    prober: Arc<Prober>,
    results: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    concurrency: usize,
) -> (Scheduler, Handle) {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let changes = store.subscribe();
    let s = Scheduler {
        store,
        prober,
        results,
        metrics,
        slots: Arc::new(Semaphore::new(concurrency)),
        concurrency,
        rx,
        entries: HashMap::new(),
        heap: BinaryHeap::new(),
        generation: 0,
        changes,
        stopping: Arc::new(AtomicBool::new(false)),
        runs: JoinSet::new(),
    };
    (s, Handle { tx })
}

fn jitter(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.0..1.0))
}

/// Time from now until `schedule` next fires, for calendar schedules; the interval
/// itself for fixed ones.
fn until_next(schedule: &Schedule) -> Duration {
    match schedule {
        Schedule::Every(d) => d.get(),
        Schedule::Cron { .. } => {
            let now = Utc::now();
            schedule
                .next_after(now)
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or(Duration::from_secs(60))
        }
    }
}

impl Scheduler {
    /// Runs until `shutdown` turns true; then waits up to `grace` for runs in
    /// flight, and aborts those still running then.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
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
        let rows = match self.store.all_checks().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "scheduler could not read checks; keeping the current schedule");
                return;
            }
        };
        let mut seen = std::collections::HashSet::new();
        for (tenant, res, paused) in rows {
            let key = (tenant, res.name.clone());
            seen.insert(key.clone());
            let unchanged = self.entries.get(&key).is_some_and(|e| e.spec == res.spec);
            if unchanged {
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
                    self.push(key, Instant::now() + jitter(Duration::from_secs(1)));
                }
                continue;
            }
            let Some(check) = typed(&res) else { continue };
            self.generation += 1;
            let schedule = &check.source().schedule;
            let interval = schedule.min_interval();
            let first = match schedule {
                Schedule::Every(_) => jitter(interval),
                Schedule::Cron { .. } => until_next(schedule),
            };
            let redactor = Redactor::for_probe(&res.spec, &res.secrets, &Default::default());
            self.entries.insert(
                key.clone(),
                Entry {
                    check: Arc::new(check),
                    redactor: Arc::new(redactor),
                    spec: res.spec,
                    paused,
                    generation: self.generation,
                    next_run: None,
                    running: Arc::new(AtomicBool::new(false)),
                },
            );
            self.push(key, Instant::now() + first);
        }
        self.entries.retain(|k, _| seen.contains(k));
    }

    fn push(&mut self, key: Key, at: Instant) {
        if let Some(e) = self.entries.get_mut(&key) {
            let delay = at.saturating_duration_since(Instant::now());
            e.next_run = chrono::Duration::from_std(delay)
                .ok()
                .map(|d| Utc::now() + d);
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
            if entry.running.swap(true, Ordering::SeqCst) {
                // The previous run has not finished (or not found a slot): runs of one
                // check never overlap or pile up; this one is skipped.
                let (check, step) = (
                    Arc::clone(&entry.check),
                    self.step(&entry.check.source().schedule, at, entry.next_run),
                );
                drop(check);
                self.push(key, step);
                continue;
            }
            let (check, running) = (Arc::clone(&entry.check), Arc::clone(&entry.running));
            let redactor = Arc::clone(&entry.redactor);
            let lateness = now.saturating_duration_since(at);
            self.metrics.scheduler_lag.observe(lateness.as_secs_f64());
            let next = self.step(&check.source().schedule, at, entry.next_run);
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
        schedule: &Schedule,
        at: Instant,
        tick: Option<chrono::DateTime<Utc>>,
    ) -> Instant {
        match schedule {
            Schedule::Every(d) => {
                let planned = at + d.get();
                if planned <= Instant::now() {
                    Instant::now() + d.get()
                } else {
                    planned
                }
            }
            Schedule::Cron { .. } => {
                let now = Utc::now();
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
        // Finished runs are reaped here, so the set holds only those in flight.
        while self.runs.try_join_next().is_some() {}
        self.runs.spawn(async move {
            let permit = slots.acquire_owned().await;
            if permit.is_ok() && !stopping.load(Ordering::SeqCst) {
                let mut result = prober.run(&check).await;
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
            }
            if let Some(flag) = running {
                flag.store(false, Ordering::SeqCst);
            }
            drop(permit);
        });
    }
}

/// The stored check compiled, once per change of its spec; one that cannot be
/// read or compiled is logged and not scheduled.
fn typed(res: &StoredResource) -> Option<CompiledCheck> {
    match remote::parse_stored(res.kind, &res.spec) {
        Ok(crate::spec::Spec::Check(c)) => match crate::probe::compile_shared(Arc::new(c)) {
            Ok(compiled) => Some(compiled),
            Err(e) => {
                tracing::error!(check = %res.name, error = %e, "stored check cannot be compiled; not scheduling it");
                None
            }
        },
        Ok(_) => None,
        Err(e) => {
            tracing::error!(check = %res.name, error = %e, "stored check cannot be read; not scheduling it");
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
