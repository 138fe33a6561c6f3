//! The daemon: a few long-lived components with one job each, wired here,
//! supervised (see [`supervise`]) and stopped in order on SIGTERM/SIGINT.
//!
//! ```text
//! API / watcher ─► store ─► scheduler ─► probes ─► writer (results, incidents, outbox) ─► notifier
//! ```

pub mod api;
pub mod apply;
pub mod audit;
pub mod auth;
pub mod config;
pub mod console;
pub mod data_dir;
pub mod metrics;
pub mod notify;
pub mod scheduler;
pub mod status;
pub mod store;
pub mod supervise;
pub mod watch;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, mpsc};

pub use config::Config;

use crate::probe::Prober;
use store::Store;

/// The tenant that watch mode applies to: the one a fresh daemon creates.
const WATCH_TENANT: i64 = 1;
/// How often held-back openings, escalations and reminders are looked for.
const ESCALATION_TICK: Duration = Duration::from_secs(5);
/// How often old results are pruned.
const RETENTION_TICK: Duration = Duration::from_secs(3600);
/// How often SLO burn rates are looked at: the shortest burn window is 5 minutes.
const SLO_TICK: Duration = Duration::from_secs(60);
/// How often hours and days that are over are built from minutes and hours.
const BUILD_TICK: Duration = Duration::from_secs(30);

/// Logins' signing key, agreed with the other nodes on a shared database.
async fn open_auth(
    data: &data_dir::DataDir,
    config: &Config,
    store: &Store,
) -> anyhow::Result<auth::Auth> {
    let auth = auth::Auth::open(&data.path, config.auth.clone()).context("setting up logins")?;
    let me = store::nodes::NodeInfo {
        name: config.node.clone(),
        location: config.location.clone(),
        started_at: store::now_ms(),
    };
    match store
        .agree_signing_key(me, auth.key_fingerprint().to_string())
        .await?
    {
        store::nodes::KeyAgreement::Rotated { was_by } => tracing::warn!(
            "this node signs tokens with a key other than the one node `{was_by}` used, and no other node is running: it is the cluster's key from now on, so access tokens signed with the old one are refused (clients refresh them; API keys keep working)"
        ),
        store::nodes::KeyAgreement::Agreed => {}
    }
    Ok(auth)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let stop = stop_signal();
    // Everything that can be refused is checked before the data directory is touched,
    // so a start that fails leaves nothing behind.
    check_watch_dirs(&config.watch)?;
    let listener = bind(&config.listen).await?;
    let data = data_dir::DataDir::open(&config.data_dir)?;
    let store = match open_store(&data, &config.store, &config.node).await {
        Ok(store) => store,
        Err(e) => {
            data.discard();
            return Err(e);
        }
    };

    // Before anything runs: a node whose tokens the others would refuse stops here.
    // The data directory stays: it may hold the database's only `admin.key`, made
    // just now, and it is where a shared `jwt.key` goes.
    let auth = Arc::new(open_auth(&data, &config, &store).await?);
    store.set_public_url(config.public_url.as_deref());
    crate::probe::set_location(&config.location);
    store.set_location(&config.location);
    let metrics = Arc::new(metrics::Metrics::for_data_dir(&data.path));
    metrics
        .node_info
        .get_or_create(&metrics::NodeLabels {
            node: config.node.clone(),
            location: config.location.clone(),
        })
        .set(1);
    // Shared with other nodes, this one runs the checks it holds leases on.
    let ownership = (store.backend() == store::Backend::Postgres)
        .then(|| Arc::new(scheduler::Ownership::default()));
    let notify_options = notify::Options {
        tenant_rate: config.notify_rate_limit,
        public_url: config.public_url.clone(),
        ..notify::Options::default()
    };
    let notifier =
        notify::Notifier::with_options(store.clone(), Arc::clone(&metrics), notify_options)
            .context("setting up the notifier")?;
    let wake_notifier = notifier.waker();
    metrics.set_tenants(store.tenant_names().await?);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let components = Arc::new(supervise::Components::default());
    let supervisor = supervise::Supervisor {
        components: Arc::clone(&components),
        metrics: Arc::clone(&metrics),
        shutdown: shutdown_rx.clone(),
    };

    let (results_tx, results_rx) = mpsc::channel(writer::QUEUE);
    // Shared, so that a writer started again after a panic reads the same queue.
    let results_rx = Arc::new(tokio::sync::Mutex::new(results_rx));
    let writer = writer::Writer {
        store: store.clone(),
        metrics: Arc::clone(&metrics),
        notifier: Arc::clone(&wake_notifier),
        backlog: writer::BACKLOG,
    };
    let writer_task = supervisor.spawn("writer", "writer".into(), move || {
        writer.clone().run_shared(Arc::clone(&results_rx))
    });

    let (scheduler, handle) = scheduler::new(
        store.clone(),
        Arc::new(Prober::new()),
        results_tx,
        Arc::clone(&metrics),
        config.concurrency,
    );
    let scheduler = Arc::new(match &ownership {
        Some(o) => scheduler.sharing(Arc::clone(o)),
        None => scheduler,
    });
    let me = store::nodes::NodeInfo {
        name: config.node.clone(),
        location: config.location.clone(),
        started_at: store::now_ms(),
    };
    let (beating, counted_nodes, stop_heart) =
        (store.clone(), Arc::clone(&metrics), shutdown_rx.clone());
    let key = auth.key_fingerprint().to_string();
    let heart_task = supervisor.spawn("nodes", "heartbeat".into(), move || {
        heartbeat(
            store::nodes::Heart::new(beating.clone(), me.clone()),
            beating.clone(),
            ownership.clone(),
            (Arc::clone(&counted_nodes), key.clone()),
            stop_heart.clone(),
        )
    });
    let (grace, stop_scheduler) = (config.shutdown_grace, shutdown_rx.clone());
    // When this task ends, the scheduler (and with it the results' last sender) is gone.
    let scheduler_task = supervisor.spawn("scheduler", "scheduler".into(), move || {
        let (scheduler, shutdown) = (Arc::clone(&scheduler), stop_scheduler.clone());
        async move { scheduler.run(shutdown, grace).await }
    });

    let (delivering, stop_notifier) = (notifier.clone(), shutdown_rx.clone());
    let notifier_task = supervisor.spawn("notifier", "notifier".into(), move || {
        delivering.clone().run(stop_notifier.clone())
    });
    let (maintained, woken, counted, stop_maintenance) = (
        store.clone(),
        Arc::clone(&wake_notifier),
        Arc::clone(&metrics),
        shutdown_rx.clone(),
    );
    let retention = config.retention;
    let maintenance_task = supervisor.spawn("maintenance", "maintenance".into(), move || {
        maintenance(
            maintained.clone(),
            Arc::clone(&woken),
            Arc::clone(&counted),
            retention,
            stop_maintenance.clone(),
        )
    });
    let audit = Arc::new(audit::Audit::new(store.clone()).counted_in(&metrics));
    let mut watchers = Vec::new();
    for dir in &config.watch {
        let (watched, audited, dir, stop) = (
            store.clone(),
            Arc::clone(&audit),
            dir.clone(),
            shutdown_rx.clone(),
        );
        let name = format!("watch {}", dir.display());
        watchers.push(supervisor.spawn("watch", name, move || {
            watch::run(
                watched.clone(),
                Arc::clone(&audited),
                WATCH_TENANT,
                dir.clone(),
                stop.clone(),
            )
        }));
    }

    let state = Arc::new(api::AppState {
        store: store.clone(),
        scheduler: handle,
        metrics,
        notifier,
        status: Default::default(),
        auth,
        audit,
        components,
    });
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    let mut server_shutdown = shutdown_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            api::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = server_shutdown.changed().await;
        })
        .await
    });

    stop.await;
    tracing::info!("shutting down: no new check runs; finishing those in flight");
    // One grace period for the whole shutdown: runs still in flight when it ends are
    // aborted, and the writer gets what is left of it for the results queued.
    let deadline = tokio::time::Instant::now() + config.shutdown_grace;
    let _ = shutdown_tx.send(true);
    let _ = scheduler_task.await;
    // The scheduler and its runs held the only senders of results: the writer ends
    // after writing what they sent.
    if tokio::time::timeout_at(deadline, writer_task)
        .await
        .is_err()
    {
        match store.write_problem() {
            Some(reason) => tracing::error!(
                "stopping with check results not written, since the store cannot write: {reason}"
            ),
            None => tracing::error!(
                "stopping with check results not written: the {:?} shutdown grace ran out while writing them; give a longer --shutdown-grace",
                config.shutdown_grace
            ),
        }
    }
    for w in watchers {
        let _ = w.await;
    }
    let _ = maintenance_task.await;
    let _ = heart_task.await;
    let _ = notifier_task.await;
    let _ = tokio::time::timeout_at(deadline, server).await;
    store.flush().await?;
    tracing::info!("stopped");
    drop(data);
    Ok(())
}

async fn open_store(
    data: &data_dir::DataDir,
    url: &config::StoreUrl,
    node: &str,
) -> anyhow::Result<Store> {
    let store = match url {
        config::StoreUrl::Sqlite => {
            let db = data.db();
            Store::open(&db).with_context(|| format!("opening `{}`", db.display()))?
        }
        config::StoreUrl::Postgres(url) => {
            let store = Store::open_postgres(url, node).context("opening the PostgreSQL store")?;
            tracing::info!(database = %store.shown(), node, "state in PostgreSQL");
            store
        }
    };
    bootstrap(&store, &data.path).await?;
    Ok(store)
}

/// A watched directory that is not there is a mistake in the command line, not
/// something to find later in the log.
fn check_watch_dirs(dirs: &[std::path::PathBuf]) -> anyhow::Result<()> {
    for dir in dirs {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => anyhow::bail!(
                "--watch `{}` is not a directory; give the directory that holds the check files",
                dir.display()
            ),
            Err(e) => anyhow::bail!(
                "--watch `{}`: {e}; create the directory or fix the path",
                dir.display()
            ),
        }
    }
    Ok(())
}

/// Resolves `listen` (an IP address or a host name, with a port) and binds the first
/// address that accepts.
async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .with_context(|| {
            format!(
                "cannot resolve `{listen}`; give an IP address or a host name this machine resolves"
            )
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((addr, e)),
        }
    }
    match last {
        Some((addr, e)) => Err(e).with_context(|| {
            format!("listening on {addr} (from `{listen}`); is another process using the port?")
        }),
        None => anyhow::bail!("`{listen}` resolves to no address"),
    }
}

/// On a fresh database, creates the admin key and writes it to `<data-dir>/admin.key`
/// (mode 0600); the key exists nowhere else in the clear.
async fn bootstrap(store: &Store, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let path = data_dir.join(data_dir::ADMIN_KEY_FILE);
    let target = path.clone();
    if store
        .bootstrap(move |key| crate::private_file::write(&target, format!("{key}\n").as_bytes()))
        .await?
    {
        tracing::info!(path = %path.display(), "created the default tenant and its admin API key; the key is in this file (mode 0600)");
    } else if path.exists() {
        tracing::info!(path = %path.display(), "admin API key file");
    }
    Ok(())
}

/// Beats every [`store::nodes::HEARTBEAT`] until shutdown, handing the leases
/// each beat holds to the scheduler; then gives them up, so that other nodes take
/// them at their next beat rather than when they run out.
async fn heartbeat(
    heart: store::nodes::Heart,
    store: Store,
    ownership: Option<Arc<scheduler::Ownership>>,
    (metrics, key): (Arc<metrics::Metrics>, String),
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(store::nodes::HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heart = Some(heart);
    let mut failing = false;
    let mut unplaced_before = 0;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        let Some(mut h) = heart.take() else { break };
        let Ok((h, beat)) = tokio::task::spawn_blocking(move || {
            let beat = h.beat();
            (h, beat)
        })
        .await
        else {
            break;
        };
        heart = Some(h);
        match beat {
            Ok(beat) => {
                if failing {
                    tracing::info!("heartbeat reaches the database again");
                    failing = false;
                }
                metrics
                    .nodes_live
                    .set(i64::try_from(beat.live_nodes).unwrap_or(i64::MAX));
                // One daemon on SQLite hears of its own changes directly.
                if beat.checks_changed && ownership.is_some() {
                    store.changed_elsewhere();
                }
                store.set_live_locations(beat.live_locations);
                // A node taken for gone (its beats failing) may have seen another
                // key agreed meanwhile: its logins are refused by the others now.
                let out_of_step = beat.key_fingerprint.as_ref().is_some_and(|k| *k != key).then(|| {
                    "the nodes now sign access tokens with another key than this node (one started with it while this node's heartbeats failed): restart this node with the key they use (UPTIMEPING_JWT_SECRET or their `jwt.key`)".to_string()
                });
                if out_of_step.is_some() && store.cluster_problem().is_none() {
                    tracing::error!("{}", out_of_step.as_deref().unwrap_or_default());
                }
                store.set_cluster_problem(out_of_step);
                let (some, unplaced) = beat.unplaced;
                metrics
                    .checks_unplaced
                    .set(i64::try_from(unplaced).unwrap_or(i64::MAX));
                if unplaced > 0 && unplaced != unplaced_before {
                    tracing::warn!(
                        count = unplaced,
                        first = %some.join(", "),
                        "checks list locations that have no live node: they do not run there; start a daemon with that --location, or change the checks' `locations`"
                    );
                }
                unplaced_before = unplaced;
                for (change, n) in [("taken", beat.taken), ("released", beat.released)] {
                    if n > 0 {
                        metrics
                            .leases_changed
                            .get_or_create(&metrics::LeaseLabels {
                                change: change.into(),
                            })
                            .inc_by(n as u64);
                    }
                }
                if beat.taken + beat.released > 0 {
                    tracing::info!(
                        taken = beat.taken,
                        released = beat.released,
                        nodes = beat.live_nodes,
                        "check leases moved between nodes"
                    );
                }
                let held = beat.owned.as_ref().map_or(beat.checks, |o| o.len());
                metrics
                    .checks_owned
                    .set(i64::try_from(held).unwrap_or(i64::MAX));
                if let (Some(o), Some(owned)) = (&ownership, beat.owned) {
                    o.set(owned);
                }
            }
            Err(e) => {
                metrics.heartbeat_failures.inc();
                if !failing {
                    if ownership.is_some() {
                        tracing::warn!(error = %e, "heartbeat cannot reach the database; running the checks this node held until it can");
                    } else {
                        tracing::warn!(error = %e, "cannot record this daemon's heartbeat in the database; checks run on");
                    }
                    failing = true;
                }
            }
        }
    }
    if let Some(mut h) = heart
        && ownership.is_some()
    {
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = h.leave() {
                tracing::warn!(error = %e, "could not give up this node's leases; other nodes take them when they run out");
            }
        })
        .await;
    }
}

async fn maintenance(
    store: Store,
    notifier: Arc<Notify>,
    metrics: Arc<metrics::Metrics>,
    retention: config::Retention,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut escalate = tokio::time::interval(ESCALATION_TICK);
    escalate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut prune = tokio::time::interval(RETENTION_TICK);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut build = tokio::time::interval(BUILD_TICK);
    build.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ms = crate::spec::millis_i64;
    let mut slo = tokio::time::interval(SLO_TICK);
    slo.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = escalate.tick() => match store.alert_due(store::now_ms()).await {
                Ok(t) if !t.is_empty() => {
                    for e in &t {
                        tracing::info!(tenant = e.tenant, check = %e.check, incident = e.incident, event = e.event, "alert policy");
                    }
                    metrics.count_incident_events(&t);
                    notifier.notify_one();
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "alert policy pass failed"),
            },
            _ = slo.tick() => match store.slo_pass(store::now_ms()).await {
                Ok(t) if !t.is_empty() => {
                    for e in &t {
                        tracing::info!(tenant = e.tenant, check = %e.check, incident = e.incident, event = e.event, "SLO burn-rate alert");
                    }
                    metrics.count_incident_events(&t);
                    notifier.notify_one();
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "SLO burn-rate pass failed"),
            },
            _ = build.tick() => if let Err(e) = store.build_rollups(store::now_ms()).await {
                tracing::error!(error = %e, "building hour and day rollups failed; trying again in {}s", BUILD_TICK.as_secs());
            },
            _ = prune.tick() => {
                match store.prune_results(store::now_ms(), ms(retention.results), ms(retention.successes)).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned results past the retention"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "pruning results failed"),
                }
                match store.prune_audit(store::now_ms(), ms(retention.audit)).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned audit events past the retention"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "pruning the audit log failed"),
                }
                match store.prune_logins(store::now_ms()).await {
                    Ok((s, i)) if s + i > 0 => tracing::info!(sessions = s, invitations = i, "deleted ended sessions and spent invitations"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "deleting ended sessions and invitations failed"),
                }
                let keep = [ms(retention.minutes), ms(retention.hours), ms(retention.days)];
                match store.prune_rollups(store::now_ms(), keep).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned rollups past their retention"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "pruning rollups failed"),
                }
            },
        }
    }
}

/// Registers for SIGTERM and SIGINT now (before the daemon says it is listening, so
/// a supervisor's early SIGTERM is never the default "die at once"), and returns a
/// future that completes on the first of them.
// Elsewhere only Ctrl-C is awaited and nothing is registered before: the body is
// then all `async`, which clippy would have written as an `async fn`.
#[cfg_attr(not(unix), allow(clippy::manual_async_fn))]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let registered = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            if let (Ok(mut term), Ok(mut int)) = registered {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                return;
            }
            tracing::warn!("cannot listen for SIGTERM; stopping on Ctrl-C only");
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
