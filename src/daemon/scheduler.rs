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
use std::time::Duration;

use chrono::Utc;
use rand::RngExt;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::metrics::Metrics;
use super::store::{Store, StoredResource};
use super::writer::Job;
use crate::probe::{ProbeResult, Prober};
use crate::spec::{Check, Schedule, remote};

/// Commands queued for the scheduler; senders wait when it is this far behind.
const COMMAND_QUEUE: usize = 1024;

type Key = (i64, String);

struct Entry {
    check: Arc<Check>,
    spec: serde_json::Value,
    paused: bool,
    /// Bumped when the check changes, so that stale heap entries are skipped.
    generation: u64,
    next_run: Option<chrono::DateTime<Utc>>,
}

pub enum Command {
    /// Re-read the checks from the store.
    Reload,
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
    pub async fn reload(&self) {
        let _ = self.tx.send(Command::Reload).await;
    }

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

    pub async fn next_run(&self, tenant: i64, name: String) -> Option<chrono::DateTime<Utc>> {
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
        slots: Arc::new(Semaphore::new(concurrency)),
        concurrency,
        rx,
        entries: HashMap::new(),
        heap: BinaryHeap::new(),
        generation: 0,
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
    /// Runs until `shutdown` turns true; then waits up to `grace` for runs in flight.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        self.reload().await;
        loop {
            let next = self.heap.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                _ = shutdown.changed() => break,
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => break,
                },
                _ = sleep_until(next) => self.fire_due().await,
            }
        }
        // Stop scheduling; give runs in flight until `grace` to finish and be queued
        // for writing: holding every slot means none is running.
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, self.slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("abandoning check runs still in flight after {grace:?}");
        }
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Reload => self.reload().await,
            Command::RunNow {
                tenant,
                name,
                reply,
            } => match self.entries.get(&(tenant, name.clone())) {
                Some(e) => {
                    self.start(tenant, name, Arc::clone(&e.check), Some(reply))
                        .await
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
                    if e.paused || !e.check.enabled {
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
            let interval = check.schedule.min_interval();
            let first = match &check.schedule {
                Schedule::Every(_) => jitter(interval),
                Schedule::Cron { .. } => until_next(&check.schedule),
            };
            self.entries.insert(
                key.clone(),
                Entry {
                    check: Arc::new(check),
                    spec: res.spec,
                    paused,
                    generation: self.generation,
                    next_run: None,
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
            if entry.generation != generation || entry.paused || !entry.check.enabled {
                continue;
            }
            let check = Arc::clone(&entry.check);
            let lateness = now.saturating_duration_since(at);
            self.metrics.scheduler_lag.observe(lateness.as_secs_f64());
            // Next run from the planned time, or from now when more than one interval
            // late: a stalled daemon starts each check once, it does not burst.
            let step = until_next(&check.schedule);
            let planned = at + step;
            let next = if planned <= Instant::now() {
                Instant::now() + step
            } else {
                planned
            };
            self.push(key.clone(), next);
            self.start(key.0, key.1, check, None).await;
        }
    }

    /// Starts one run when a slot is free (waiting for one otherwise).
    async fn start(
        &self,
        tenant: i64,
        name: String,
        check: Arc<Check>,
        reply: Option<oneshot::Sender<Option<ProbeResult>>>,
    ) {
        let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
            return;
        };
        let prober = Arc::clone(&self.prober);
        let results = self.results.clone();
        tokio::spawn(async move {
            let result = prober.run(&check).await;
            let _ = results
                .send(Job {
                    tenant,
                    name,
                    check,
                    result,
                    reply,
                })
                .await;
            drop(permit);
        });
    }
}

fn typed(res: &StoredResource) -> Option<Check> {
    match remote::parse_stored(res.kind, &res.spec) {
        Ok(crate::spec::Spec::Check(c)) => Some(c),
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
