//! Keeps the daemon's long-lived components running. Each runs in a task of its
//! own under [`supervise`]: one that panics is logged with its panic message,
//! counted in `uptime_component_restarts_total`, and started again after a
//! backoff; one that stops by itself before shutdown stays stopped. While a
//! component is not running, [`Components`] says so, and `/readyz` answers not
//! ready with its name.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::metrics::Metrics;
use super::scheduler::panic_message;

/// The first wait before a component that panicked is started again: long enough
/// not to spin on a panic that comes back at once, short enough that a one-off
/// failure costs a second of checks.
pub const RESTART_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest wait between restarts of a component that keeps panicking: a
/// minute of missed work at most, and a log line a minute rather than a flood.
pub const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long a restarted component must run before its next panic counts as a new
/// failure (the wait starts from [`RESTART_BACKOFF_MIN`] again) rather than as the
/// same one coming back (the wait doubles).
pub const RESTART_STABLE: Duration = Duration::from_secs(5 * 60);

/// A component that is not running, as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Down {
    /// The component: `scheduler`, `writer`, `notifier`, `maintenance`, `watch <dir>`.
    pub component: String,
    /// What happened to it, and whether it is started again.
    pub reason: String,
}

/// Which components are not running now, by name.
#[derive(Debug, Default)]
pub struct Components {
    down: Mutex<BTreeMap<String, String>>,
}

impl Components {
    /// Every component not running now, by name.
    pub fn down(&self) -> Vec<Down> {
        self.lock()
            .iter()
            .map(|(component, reason)| Down {
                component: component.clone(),
                reason: reason.clone(),
            })
            .collect()
    }

    fn set_down(&self, name: &str, reason: String) {
        self.lock().insert(name.to_string(), reason);
    }

    fn set_up(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // The map is whole after any panic: inserts and removes do not panic halfway.
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where a supervised component reports.
#[derive(Clone)]
pub struct Supervisor {
    pub components: Arc<Components>,
    pub metrics: Arc<Metrics>,
    pub shutdown: watch::Receiver<bool>,
}

impl Supervisor {
    /// Runs the component that `start` makes, in a task of its own, until it ends
    /// by itself or shutdown begins; starts it again (after a backoff) each time it
    /// panics. `kind` is the metric label (`watch` for every watched directory),
    /// `name` the name in the log and in `/readyz`.
    pub fn spawn<F, Fut>(
        &self,
        kind: &'static str,
        name: String,
        start: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(supervise(self.clone(), kind, name, start))
    }
}

async fn supervise<F, Fut>(s: Supervisor, kind: &'static str, name: String, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut shutdown = s.shutdown.clone();
    let mut backoff = RESTART_BACKOFF_MIN;
    loop {
        let started = Instant::now();
        let outcome = tokio::spawn(start()).await;
        let stopping = *shutdown.borrow();
        let panic = match outcome {
            Ok(()) => {
                if !stopping {
                    tracing::error!(component = %name, "the {name} stopped by itself before shutdown; it is not started again (see the errors above)");
                    s.components.set_down(
                        &name,
                        "stopped by itself; see the daemon's log, and restart the daemon".into(),
                    );
                }
                return;
            }
            Err(e) if e.is_panic() => e.into_panic(),
            // Cancelled: only the runtime shutting down cancels these tasks.
            Err(_) => return,
        };
        let message = panic_message(&*panic).to_string();
        s.metrics.error(kind, "panic");
        if stopping {
            tracing::error!(component = %name, "the {name} panicked while shutting down: {message}");
            return;
        }
        if started.elapsed() >= RESTART_STABLE {
            backoff = RESTART_BACKOFF_MIN;
        }
        tracing::error!(component = %name, "the {name} panicked: {message}; starting it again in {}s", backoff.as_secs());
        s.components.set_down(
            &name,
            // `/readyz` answers anyone: the message, which may quote internals,
            // stays in the log.
            format!(
                "panicked (the daemon's log has the message); starting again in {}s",
                backoff.as_secs()
            ),
        );
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
        s.metrics.count_restart(kind);
        s.components.set_up(&name);
        tracing::warn!(component = %name, "started the {name} again");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn supervisor() -> (Supervisor, watch::Sender<bool>) {
        let (tx, shutdown) = watch::channel(false);
        let s = Supervisor {
            components: Arc::default(),
            metrics: Arc::new(Metrics::new()),
            shutdown,
        };
        (s, tx)
    }

    /// Lets every task that can run, run: on the paused clock, no time passes.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_component_that_panics_is_down_until_restarted_then_counted_and_up_again() {
        let (s, stop) = supervisor();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        let shutdown = s.shutdown.clone();
        let task = s.spawn("notifier", "notifier".into(), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let mut shutdown = shutdown.clone();
            async move {
                if n == 0 {
                    panic!("boom in the first run");
                }
                let _ = shutdown.wait_for(|stop| *stop).await;
            }
        });
        settle().await;
        assert_eq!(
            s.components.down(),
            vec![Down {
                component: "notifier".into(),
                // The panic's own words stay in the log, out of the public answer.
                reason: "panicked (the daemon's log has the message); starting again in 1s".into()
            }]
        );
        assert_eq!(s.metrics.restarts("notifier"), 0);
        assert_eq!(starts.load(Ordering::SeqCst), 1);

        tokio::time::sleep(RESTART_BACKOFF_MIN).await;
        settle().await;
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "started again after the backoff"
        );
        assert_eq!(s.components.down(), vec![]);
        assert_eq!(s.metrics.restarts("notifier"), 1);

        stop.send(true).expect("stop");
        task.await.expect("supervisor ends at shutdown");
        assert_eq!(s.components.down(), vec![]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_component_that_keeps_panicking_waits_longer_each_time_up_to_the_cap() {
        let (s, stop) = supervisor();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        let task = s.spawn("maintenance", "maintenance".into(), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { panic!("always") }
        });
        let t0 = Instant::now();
        let mut at = Vec::new();
        for n in 1..=9 {
            while starts.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            at.push((Instant::now() - t0).as_secs());
        }
        // Waits of 1, 2, 4, … seconds, then the cap of 60.
        assert_eq!(at, vec![0, 1, 3, 7, 15, 31, 63, 123, 183]);
        assert_eq!(s.metrics.restarts("maintenance"), 8);
        assert!(!s.components.down().is_empty());
        stop.send(true).expect("stop");
        task.await.expect("supervisor ends at shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_component_that_stops_by_itself_is_down_and_not_started_again() {
        let (s, _stop) = supervisor();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        let task = s.spawn("watch", "watch checks".into(), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        task.await.expect("supervisor ends");
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        let down = s.components.down();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].component, "watch checks");
        assert_eq!(s.metrics.restarts("watch"), 0);
    }
}
