//! Pull mode: a directory of check files applied on every change, through the same
//! engine as `uptimeping apply`, under its own source (`watch:<dir>`). An invalid
//! change is logged with every error's position and leaves the running state alone.

use std::path::PathBuf;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::apply;
use super::audit::{Audit, Event, apply_detail};
use super::store::Store;
use crate::model::PlanRequest;
use crate::spec::plan::Options;
use crate::spec::{self, Bundle};

/// Editors write a file in several steps; changes closer together than this are one.
const DEBOUNCE: Duration = Duration::from_millis(300);

pub fn source_name(dir: &std::path::Path) -> String {
    format!("watch:{}", dir.display())
}

/// The actor of watch mode's applies in the audit log.
pub const ACTOR: &str = "watch";

/// Reads and validates `dir`: file system reads (check files, CA bundles,
/// protos, descriptor sets) and CPU work, so callers run it off the async threads.
fn load_dir(dir: &std::path::Path) -> Result<Bundle, String> {
    spec::read_paths(&[dir.to_path_buf()])
        .map_err(|e| e.to_string())
        .and_then(|s| spec::load_env(&s).map_err(|d| d.to_string()))
}

/// Loads and applies `dir` once. Returns whether it applied.
pub async fn apply_dir(store: &Store, audit: &Audit, tenant: i64, dir: &std::path::Path) -> bool {
    let owned = dir.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || load_dir(&owned))
        .await
        .unwrap_or_else(|e| Err(format!("loading the directory failed: {e}")));
    let bundle = match loaded {
        Ok(b) => b,
        Err(errors) => {
            for line in errors.lines() {
                tracing::warn!(dir = %dir.display(), "{line}");
            }
            tracing::warn!(dir = %dir.display(), "not applied; the running state is unchanged");
            return false;
        }
    };
    let sent = bundle.resources.len();
    let req = PlanRequest {
        options: Options {
            source: source_name(dir),
            prune: true,
            ..Options::default()
        },
        resources: Vec::new(),
        expected_revision: None,
        expected_tenant: None,
    };
    // Validating again for the store (regexes, protos, conditions) is CPU work too.
    let desired = bundle.resources.iter().map(|r| r.desired()).collect();
    let checked = tokio::task::spawn_blocking(move || apply::check_all(desired))
        .await
        .unwrap_or_else(|e| {
            Err(apply::ApplyError::Invalid(vec![format!(
                "validating the directory failed: {e}"
            )]))
        });
    let applied = match checked {
        Ok(checked) => apply::run_checked(store, tenant, checked, req, true).await,
        Err(e) => Err(e),
    };
    match applied {
        Ok((plan, revision)) => {
            audit
                .record(
                    Event::as_actor(Some(tenant), ACTOR, "apply", None)
                        .target(source_name(dir))
                        .detail(apply_detail(&plan, sent)),
                )
                .await;
            if !plan.is_empty() {
                let s = plan.summary;
                tracing::info!(dir = %dir.display(), revision, "applied: {} added, {} changed, {} destroyed", s.add, s.change, s.destroy);
            }
            true
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "not applied: {e}");
            if let apply::ApplyError::Invalid(d) | apply::ApplyError::Conflict(d) = &e {
                for line in d {
                    tracing::warn!(dir = %dir.display(), "{line}");
                }
            }
            false
        }
    }
}

/// Applies `dir` now and after every change until shutdown.
pub async fn run(
    store: Store,
    audit: std::sync::Arc<Audit>,
    tenant: i64,
    dir: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            // A full queue already means "something changed"; dropping is fine.
            let _ = tx.try_send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "cannot watch the directory");
            return;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::Recursive) {
        tracing::error!(dir = %dir.display(), error = %e, "cannot watch the directory");
        return;
    }
    tracing::info!(dir = %dir.display(), source = %source_name(&dir), "watching for changes");
    apply_dir(&store, &audit, tenant, &dir).await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            got = rx.recv() => {
                if got.is_none() { break; }
                // Let a burst of writes settle, then apply once.
                while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                apply_dir(&store, &audit, tenant, &dir).await;
            }
        }
    }
}
