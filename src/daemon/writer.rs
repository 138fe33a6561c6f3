//! The results writer: the one place results enter the store. Batches them into
//! one transaction each (with the incident changes and notifications they cause),
//! updates metrics, and wakes the notifier when there is something to send.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::metrics::{CheckLabels, IncidentLabels, Metrics, TypeLabels};
use super::store::{ResultRow, Store};
use crate::probe::ProbeResult;
use crate::spec::Check;

/// Results written per transaction at most: large enough to keep up with thousands
/// of checks a second, small enough that one transaction stays short.
const MAX_BATCH: usize = 500;
/// How long the writer gathers a batch after its first result.
const GATHER: Duration = Duration::from_millis(50);
/// Tries to write one batch before giving up on it: a locked or briefly failing
/// database gets about three seconds to recover, while new results queue up behind.
const WRITE_ATTEMPTS: u32 = 5;
const WRITE_RETRY_BASE: Duration = Duration::from_millis(200);
/// Results waiting to be written; probes wait when the writer is this far behind.
pub const QUEUE: usize = 10_000;

pub struct Job {
    pub tenant: i64,
    pub name: String,
    pub check: Arc<Check>,
    pub result: ProbeResult,
    /// Told the result once it is written (for `run now`).
    pub reply: Option<oneshot::Sender<Option<ProbeResult>>>,
}

pub struct Writer {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub notifier: Arc<Notify>,
    pub tenant_names: Arc<std::sync::RwLock<std::collections::HashMap<i64, String>>>,
}

impl Writer {
    /// Writes until every sender is gone, then returns (after the last batch).
    pub async fn run(self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + GATHER;
            while batch.len() < MAX_BATCH {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                }
            }
            self.write(batch).await;
        }
    }

    fn tenant(&self, id: i64) -> String {
        self.tenant_names
            .read()
            .ok()
            .and_then(|m| m.get(&id).cloned())
            .unwrap_or_else(|| id.to_string())
    }

    async fn write(&self, batch: Vec<Job>) {
        let mut rows = Vec::with_capacity(batch.len());
        let mut replies = Vec::new();
        for job in batch {
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
        let mut written = false;
        for attempt in 0..WRITE_ATTEMPTS {
            match self.store.record(rows.clone()).await {
                Ok(transitions) => {
                    self.count(&transitions);
                    written = true;
                    break;
                }
                Err(e) if attempt + 1 < WRITE_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt = attempt + 1, "could not write check results; trying again");
                    tokio::time::sleep(WRITE_RETRY_BASE * 2u32.pow(attempt)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, results = rows.len(), "could not write check results; giving up on this batch")
                }
            }
        }
        for (reply, result) in replies {
            let _ = reply.send(written.then_some(result));
        }
    }

    fn count(&self, transitions: &[super::store::Transition]) {
        for t in transitions {
            tracing::info!(tenant = t.tenant, check = %t.check, incident = t.incident, event = t.event, "incident {}", t.event);
            let severity = serde_json::to_value(t.severity)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let labels = IncidentLabels {
                tenant: self.tenant(t.tenant),
                severity,
                status: t.event.into(),
            };
            self.metrics.incidents.get_or_create(&labels).inc();
        }
        if !transitions.is_empty() {
            self.notifier.notify_one();
        }
    }
}
