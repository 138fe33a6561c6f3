//! The results writer: the one place results enter the store. Batches them into
//! one transaction each (with the incident changes and notifications they cause),
//! updates metrics, and wakes the notifier when there is something to send.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::metrics::{CheckLabels, Metrics, TenantLabels, TypeLabels};
use super::store::{ResultRow, Store};
use crate::probe::{Backoff, ProbeResult};
use crate::spec::Check;

/// Results written per transaction at most: large enough to keep up with thousands
/// of checks a second, small enough that one transaction stays short.
const MAX_BATCH: usize = 1_000;
/// How long the writer gathers a batch after its first result, unless someone
/// waits for one of them (`run now`). Each transaction writes every page it
/// changed once, and the results of thousands of checks change the same pages of
/// their state and indexes, so larger batches write fewer pages per result.
const GATHER: Duration = Duration::from_millis(100);
/// Tries to write one batch before giving up on it, when the failure lies with what
/// is written rather than with the disk: about three seconds of retries.
const WRITE_ATTEMPTS: u32 = 5;
const WRITE_RETRY_BASE: Duration = Duration::from_millis(200);
/// Longest wait between tries while the disk refuses writes (full, read-only, I/O
/// errors): short enough that writing resumes within seconds of space being freed.
const OUTAGE_RETRY_MAX: Duration = Duration::from_secs(5);
/// The waits between tries; one writer, so no jitter.
const WRITE_BACKOFF: Backoff = Backoff::new(WRITE_RETRY_BASE, OUTAGE_RETRY_MAX);
/// How often a continuing outage is logged again, so the log says it is not over.
const OUTAGE_REMINDER: Duration = Duration::from_secs(60);
/// How often at most the writer reads the tenant names again on meeting a result
/// of a tenant whose name it does not know: a tenant created since the daemon
/// started is named within a batch, and an id without a name (its tenant was
/// removed under the daemon) costs one read per this long, not one per batch.
const TENANT_REFRESH: Duration = Duration::from_secs(10);
/// Results waiting to be written; probes wait when the writer is this far behind.
pub const QUEUE: usize = 10_000;
/// Results held in memory while the store cannot write, beyond the batch being
/// retried: a few minutes of a busy daemon, and a bound on memory however long the
/// outage lasts. Results arriving while it is full are dropped and counted.
pub const BACKLOG: usize = 10_000;

pub struct Job {
    pub tenant: i64,
    pub name: String,
    pub check: Arc<Check>,
    pub result: ProbeResult,
    /// Told the result once it is written (for `run now`).
    pub reply: Option<oneshot::Sender<Option<ProbeResult>>>,
}

#[derive(Clone)]
pub struct Writer {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub notifier: Arc<Notify>,
    /// Results held beyond the batch being retried; [`BACKLOG`] outside tests.
    pub backlog: usize,
}

/// Results prepared for one transaction, kept until the store takes them.
struct Batch {
    rows: Vec<(ResultRow, Arc<Check>)>,
    replies: Vec<(oneshot::Sender<Option<ProbeResult>>, ProbeResult)>,
}

/// What the writer holds while the store refuses writes.
struct Outage {
    since: tokio::time::Instant,
    reminded: tokio::time::Instant,
    dropped: u64,
}

impl Writer {
    /// Writes until every sender is gone, then returns (after the last batch).
    pub async fn run(self, mut rx: mpsc::Receiver<Job>) {
        self.run_on(&mut rx).await;
    }

    /// Like [`run`](Self::run), on a queue that outlives this writer: a writer
    /// started again after a panic goes on reading it.
    pub async fn run_shared(self, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
        let mut rx = rx.lock_owned().await;
        self.run_on(&mut rx).await;
    }

    async fn run_on(&self, rx: &mut mpsc::Receiver<Job>) {
        let mut backlog: VecDeque<Job> = VecDeque::new();
        let mut open = true;
        let mut names_read: Option<tokio::time::Instant> = None;
        loop {
            if backlog.is_empty() {
                if !open {
                    break;
                }
                match rx.recv().await {
                    Some(job) => backlog.push_back(job),
                    None => break,
                }
                open = gather(rx, &mut backlog).await;
            }
            while backlog.len() < MAX_BATCH
                && let Ok(job) = rx.try_recv()
            {
                backlog.push_back(job);
            }
            let n = backlog.len().min(MAX_BATCH);
            self.learn_tenants(backlog.range(..n), &mut names_read)
                .await;
            let batch = self.prepare(backlog.drain(..n));
            self.write(batch, rx, &mut backlog, &mut open).await;
            self.metrics.results_backlog.set(backlog.len() as i64);
            self.metrics.results_queued.set(rx.len() as i64);
        }
    }

    fn tenant(&self, id: i64) -> String {
        self.metrics.tenant(id)
    }

    /// Reads the tenant names again when a job's tenant has none yet (and they were
    /// not read in the last [`TENANT_REFRESH`]), so that its counters carry its
    /// name, however the tenant was made.
    async fn learn_tenants<'a>(
        &self,
        mut jobs: impl Iterator<Item = &'a Job>,
        read: &mut Option<tokio::time::Instant>,
    ) {
        if read.is_some_and(|at| at.elapsed() < TENANT_REFRESH)
            || jobs.all(|j| self.metrics.knows_tenant(j.tenant))
        {
            return;
        }
        *read = Some(tokio::time::Instant::now());
        match self.store.tenant_names().await {
            Ok(names) => self.metrics.set_tenants(names),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tenants' names; counting their results under their ids for now")
            }
        }
    }

    fn prepare(&self, jobs: impl Iterator<Item = Job>) -> Batch {
        let mut rows = Vec::new();
        let mut replies = Vec::new();
        for job in jobs {
            let labels = CheckLabels {
                tenant: self.tenant(job.tenant),
                r#type: job.result.check_type.clone(),
                status: if job.result.up { "up" } else { "down" }.into(),
            };
            self.metrics.checks.get_or_create(&labels).inc();
            self.metrics
                .check_duration
                .get_or_create(&TypeLabels {
                    r#type: job.result.check_type.clone(),
                })
                .observe(job.result.latency_ms / 1000.0);
            if let Some(reply) = job.reply {
                replies.push((reply, job.result.clone()));
            }
            rows.push((
                ResultRow {
                    tenant: job.tenant,
                    check: job.name,
                    result: job.result,
                },
                job.check,
            ));
        }
        Batch { rows, replies }
    }

    /// Writes `batch`. A store that cannot write for storage reasons (disk full,
    /// read-only, I/O errors) is tried again and again until it can: the batch's
    /// results decide incidents and their notifications, which must not be lost.
    /// Meanwhile new results are held in the backlog, up to [`BACKLOG`].
    async fn write(
        &self,
        mut batch: Batch,
        rx: &mut mpsc::Receiver<Job>,
        backlog: &mut VecDeque<Job>,
        open: &mut bool,
    ) {
        let mut attempt = 0u32;
        let mut outage: Option<Outage> = None;
        let written = loop {
            let err = match self.store.record(batch.rows.clone()).await {
                Ok(transitions) => {
                    self.count(&transitions);
                    break true;
                }
                Err(e) => e,
            };
            attempt += 1;
            self.metrics
                .error("writer", if err.is_storage() { "storage" } else { "write" });
            if err.is_storage() {
                let reason = self
                    .store
                    .write_problem()
                    .unwrap_or_else(|| err.to_string());
                let now = tokio::time::Instant::now();
                match &mut outage {
                    None => {
                        tracing::error!(error = %err, results = batch.rows.len() + backlog.len(), "cannot write check results: {reason}; holding them in memory (up to {}) and trying again", self.backlog);
                        outage = Some(Outage {
                            since: now,
                            reminded: now,
                            dropped: 0,
                        });
                        // Their probes ran; the callers of `run now` get the result
                        // now, and it is stored once the store can write.
                        for (reply, result) in batch.replies.drain(..) {
                            let _ = reply.send(Some(result));
                        }
                    }
                    Some(o) if now - o.reminded >= OUTAGE_REMINDER => {
                        o.reminded = now;
                        tracing::error!(error = %err, held = batch.rows.len() + backlog.len(), dropped = o.dropped, "still cannot write check results after {}s: {reason}", (now - o.since).as_secs());
                    }
                    Some(_) => {}
                }
                let wait = WRITE_BACKOFF.ceiling(attempt);
                if let Some(o) = &mut outage {
                    self.hold_for(wait, rx, backlog, open, o).await;
                }
            } else if attempt < WRITE_ATTEMPTS {
                tracing::warn!(error = %err, attempt, "could not write check results; trying again");
                tokio::time::sleep(WRITE_BACKOFF.ceiling(attempt - 1)).await;
            } else {
                tracing::error!(error = %err, results = batch.rows.len(), "could not write check results; dropping this batch (counted in uptime_results_dropped_total)");
                for (row, _) in &batch.rows {
                    self.dropped(row.tenant);
                }
                break false;
            }
        };
        if let Some(o) = outage {
            tracing::warn!(
                held = backlog.len(),
                dropped = o.dropped,
                "the store takes writes again after {}s; writing the held results",
                o.since.elapsed().as_secs()
            );
        }
        for (reply, result) in batch.replies {
            let _ = reply.send(written.then_some(result));
        }
    }

    /// Waits `wait`, meanwhile taking new results into the backlog so that probes
    /// never wait on a store that cannot write; drops (and counts) what does not fit.
    async fn hold_for(
        &self,
        wait: Duration,
        rx: &mut mpsc::Receiver<Job>,
        backlog: &mut VecDeque<Job>,
        open: &mut bool,
        outage: &mut Outage,
    ) {
        let until = tokio::time::Instant::now() + wait;
        while *open {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(mut job)) => {
                    if let Some(reply) = job.reply.take() {
                        let _ = reply.send(Some(job.result.clone()));
                    }
                    if backlog.len() < self.backlog {
                        backlog.push_back(job);
                    } else {
                        if outage.dropped == 0 {
                            tracing::error!(
                                "{BACKLOG} check results are waiting for the store; dropping new ones until it can write (counted in uptime_results_dropped_total)"
                            );
                        }
                        outage.dropped += 1;
                        self.dropped(job.tenant);
                    }
                    self.metrics.results_backlog.set(backlog.len() as i64);
                }
                Ok(None) => *open = false,
                Err(_) => return,
            }
        }
        tokio::time::sleep_until(until).await;
    }

    fn dropped(&self, tenant: i64) {
        self.metrics
            .results_dropped
            .get_or_create(&TenantLabels {
                tenant: self.tenant(tenant),
            })
            .inc();
    }

    fn count(&self, transitions: &[super::store::Transition]) {
        for t in transitions {
            tracing::info!(tenant = t.tenant, check = %t.check, incident = t.incident, event = t.event, "incident {}", t.event);
        }
        self.metrics.count_incident_events(transitions);
        if !transitions.is_empty() {
            self.notifier.notify_one();
        }
    }
}

/// Adds to `backlog` (which holds a first result) what arrives within [`GATHER`],
/// up to [`MAX_BATCH`]: one timer for the batch, and everything queued taken at
/// each wake-up rather than one result per wake-up. Stops early for a result
/// someone waits for. False when every sender is gone.
async fn gather(rx: &mut mpsc::Receiver<Job>, backlog: &mut VecDeque<Job>) -> bool {
    if backlog.iter().any(|j| j.reply.is_some()) {
        return true;
    }
    let deadline = tokio::time::sleep(GATHER);
    tokio::pin!(deadline);
    let mut arrived = Vec::new();
    while backlog.len() < MAX_BATCH {
        tokio::select! {
            biased;
            () = &mut deadline => break,
            n = rx.recv_many(&mut arrived, MAX_BATCH - backlog.len()) => {
                if n == 0 {
                    return false;
                }
                let asked = arrived.iter().any(|j: &Job| j.reply.is_some());
                backlog.extend(arrived.drain(..));
                if asked {
                    break;
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> Arc<Check> {
        let yaml =
            "kind: Check\nname: api\ntype: http\ntarget: http://127.0.0.1:9/\nschedule: 1h\n";
        let source = crate::spec::Source::new("t.yaml", yaml, ".");
        let bundle = crate::spec::load(&[source], &|_| None).expect("valid check");
        match &bundle.resources[0].spec {
            crate::spec::Spec::Check(c) => Arc::new(c.clone()),
            _ => panic!("not a check"),
        }
    }

    /// A down result whose error is larger than a page, so each row needs new pages.
    fn job(i: usize) -> Job {
        let result: ProbeResult = serde_json::from_value(serde_json::json!({
            "name": "api", "type": "http", "target": "http://127.0.0.1:9/", "up": false,
            "latency_ms": 1.0, "status_code": null, "error": format!("{i} {}", "x".repeat(6000)),
            "attempts": 1, "started_at": "2026-11-21T10:00:00Z"
        }))
        .expect("result");
        Job {
            tenant: 1,
            name: "api".into(),
            check: check(),
            result,
            reply: None,
        }
    }

    /// A batch gathers for [`GATHER`], taking whatever arrives meanwhile, unless a
    /// result someone waits for arrives: then it is written at once.
    #[tokio::test(start_paused = true)]
    async fn a_batch_gathers_for_its_time_unless_someone_waits_for_a_result() {
        let (tx, mut rx) = mpsc::channel(16);
        let start = tokio::time::Instant::now();
        let sender = tokio::spawn({
            let tx = tx.clone();
            async move {
                tokio::time::sleep(GATHER / 2).await;
                tx.send(job(2)).await.expect("send");
                tx.send(job(3)).await.expect("send");
            }
        });
        let mut backlog = VecDeque::from([job(1)]);
        assert!(gather(&mut rx, &mut backlog).await);
        assert_eq!(start.elapsed(), GATHER);
        assert_eq!(backlog.len(), 3);
        sender.await.expect("sender");

        let start = tokio::time::Instant::now();
        let (reply, _answer) = oneshot::channel();
        tx.send(Job {
            reply: Some(reply),
            ..job(5)
        })
        .await
        .expect("send");
        let mut backlog = VecDeque::from([job(4)]);
        assert!(gather(&mut rx, &mut backlog).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(backlog.len(), 2);

        // Every sender gone: the writer's input is closed.
        drop(tx);
        let mut backlog = VecDeque::from([job(6)]);
        assert!(!gather(&mut rx, &mut backlog).await);
    }

    /// However a tenant came to be after the daemon started, its results are
    /// counted under its name, not its id.
    #[tokio::test]
    async fn results_of_a_tenant_made_after_the_start_are_counted_under_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        let metrics = Arc::new(Metrics::new());
        metrics.set_tenants(store.tenant_names().await.expect("names"));
        let (id, _key) = store.create_tenant("acme".into()).await.expect("tenant");
        let writer = Writer {
            store: store.clone(),
            metrics: Arc::clone(&metrics),
            notifier: Arc::new(Notify::new()),
            backlog: BACKLOG,
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(writer.run(rx));
        tx.send(Job {
            tenant: id,
            ..job(0)
        })
        .await
        .expect("send");
        drop(tx);
        task.await.expect("writer ends");
        let count = |tenant: &str| {
            metrics
                .checks
                .get_or_create(&CheckLabels {
                    tenant: tenant.into(),
                    r#type: "http".into(),
                    status: "down".into(),
                })
                .get()
        };
        assert_eq!((count("acme"), count(&id.to_string())), (1, 0));
    }

    async fn rows(store: &Store) -> i64 {
        store
            .read(|c| c.query_row("SELECT count(*) FROM results", [], |r| r.get(0)))
            .await
            .expect("count")
    }

    async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !f().await {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SQLite's own full condition (`max_page_count`) stands in for a full disk here:
    /// the same SQLITE_FULL, without needing to mount a filesystem.
    #[tokio::test]
    async fn a_full_store_holds_a_bounded_backlog_counts_what_it_drops_and_writes_the_rest_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        // Migrations leave free pages (a table rebuilt), which a result would fill
        // before the limit below is reached.
        rusqlite::Connection::open(dir.path().join("t.db"))
            .and_then(|c| c.execute_batch("VACUUM"))
            .expect("vacuum");
        store
            .write(|tx| {
                // The check the results are of (results of a check that is gone are
                // not stored).
                tx.execute(
                    "INSERT INTO check_state (tenant_id, name) VALUES (1, 'api')",
                    [],
                )?;
                let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                tx.execute_batch(&format!("PRAGMA max_page_count = {pages}"))?;
                Ok(())
            })
            .await
            .expect("limit");
        let metrics = Arc::new(Metrics::new());
        let writer = Writer {
            store: store.clone(),
            metrics: Arc::clone(&metrics),
            notifier: Arc::new(Notify::new()),
            backlog: 2,
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(writer.run(rx));
        tx.send(job(0)).await.expect("send");
        wait_until("the store to report it is full", async || {
            store.write_problem().is_some()
        })
        .await;
        for i in 1..6 {
            tx.send(job(i)).await.expect("send");
        }
        let dropped = || {
            metrics
                .results_dropped
                .get_or_create(&TenantLabels { tenant: "1".into() })
                .get()
        };
        wait_until("three results over the backlog to be dropped", async || {
            dropped() == 3
        })
        .await;
        assert_eq!(metrics.results_backlog.get(), 2);
        assert_eq!(rows(&store).await, 0);

        store
            .write(|tx| tx.execute_batch("PRAGMA max_page_count = 1000000"))
            .await
            .expect("lift the limit");
        wait_until("the held results to be written", async || {
            rows(&store).await == 3
        })
        .await;
        assert_eq!(store.write_problem(), None);
        assert_eq!(dropped(), 3);
        drop(tx);
        task.await.expect("writer ends");
    }
}
