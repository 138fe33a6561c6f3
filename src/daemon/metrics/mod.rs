//! Prometheus metrics, named as in the product brief (`uptime_*`).
//!
//! Counters and histograms of what the daemon does live here, in memory. Series
//! about what the store holds (each check's last run, open incidents, active keys,
//! the outbox) and about the process are made afresh on every scrape, in
//! [`scrape`], so that they follow deleted checks and new tenants without bookkeeping.

mod format;
mod process;
mod scrape;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub use format::Format;
pub use process::MAX_DATA_DIR_ENTRIES;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub tenant: String,
    pub r#type: String,
    /// `up` or `down`.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabels {
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IncidentLabels {
    pub tenant: String,
    pub severity: String,
    /// The event: `opened`, `resolved`, `escalated`, `acknowledged`.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub tenant: String,
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    pub node: String,
    pub location: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LeaseLabels {
    /// `taken` or `released`.
    pub change: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    /// `scheduler`, `writer`, `notifier`, `maintenance` or `watch`.
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuditDropLabels {
    /// `rate_limited` (a refused request over its address's bound) or
    /// `write_failed` (the store could not write it).
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The component that answered: `api` (the REST API and `/metrics`).
    pub service: String,
    /// The HTTP method, one of [`REQUEST_METHODS`] or `other`.
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceMethodLabels {
    pub service: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceErrorLabels {
    pub service: String,
    pub r#type: String,
}

/// The HTTP methods counted by name; any other (a client may send any token) is
/// counted as `other`, so that clients cannot grow the number of series.
pub const REQUEST_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The `method` label for `method`: itself if it is one of [`REQUEST_METHODS`], else `other`.
pub fn method_label(method: &str) -> &'static str {
    REQUEST_METHODS
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("other")
}

pub struct Metrics {
    registry: Registry,
    pub checks: Family<CheckLabels, Counter>,
    pub check_duration: Family<TypeLabels, Histogram>,
    pub incidents: Family<IncidentLabels, Counter>,
    pub notifications_sent: Family<NotificationLabels, Counter>,
    pub notifications_failed: Family<NotificationLabels, Counter>,
    pub notifications_rate_limited: Family<NotificationLabels, Counter>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<ServiceMethodLabels, Histogram>,
    pub errors: Family<ServiceErrorLabels, Counter>,
    pub scheduler_lag: Histogram,
    pub results_dropped: Family<TenantLabels, Counter>,
    pub results_backlog: Gauge,
    /// Status pages and badges rendered (cache misses): a crowd of visitors
    /// should add one per page every few seconds, not one per visit.
    pub status_renders: Counter,
    /// Audit events not written: refused requests over their bound, and writes
    /// that failed.
    pub audit_dropped: Family<AuditDropLabels, Counter>,
    /// Results waiting in the writer's queue, as the writer last saw it.
    pub results_queued: Gauge,
    /// Long-lived components started again after they panicked.
    component_restarts: Family<ComponentLabels, Counter>,
    /// 1 for this daemon, labelled with its node name and location.
    pub node_info: Family<NodeLabels, Gauge>,
    /// Nodes whose heartbeat is recent, this one included, as its last beat saw.
    pub nodes_live: Gauge,
    /// Checks this node runs: those it holds leases on (all on SQLite).
    pub checks_owned: Gauge,
    pub leases_changed: Family<LeaseLabels, Counter>,
    /// (check, location) pairs with no live node in that location.
    pub checks_unplaced: Gauge,
    pub heartbeat_failures: Counter,
    /// Tenant names by id, for the labels of the counters above: loaded at start,
    /// told of tenants created since, learnt from every scrape, and read again by
    /// the writer when a result's tenant is not in it.
    tenants: RwLock<HashMap<i64, String>>,
    data_dir: Option<PathBuf>,
    cpu: process::Cpu,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let checks = Family::<CheckLabels, Counter>::default();
        let check_duration = Family::<TypeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
        });
        let incidents = Family::<IncidentLabels, Counter>::default();
        let notifications_sent = Family::<NotificationLabels, Counter>::default();
        let notifications_failed = Family::<NotificationLabels, Counter>::default();
        let notifications_rate_limited = Family::<NotificationLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration =
            Family::<ServiceMethodLabels, Histogram>::new_with_constructor(|| {
                Histogram::new([
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
            });
        let errors = Family::<ServiceErrorLabels, Counter>::default();
        let results_dropped = Family::<TenantLabels, Counter>::default();
        let results_backlog = Gauge::default();
        let scheduler_lag = Histogram::new([
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "uptime_checks",
            "Check runs by tenant, type and result",
            checks.clone(),
        );
        registry.register(
            "uptime_check_duration_seconds",
            "Duration of check runs",
            check_duration.clone(),
        );
        registry.register(
            "uptime_incidents",
            "Incident events by tenant, severity and event",
            incidents.clone(),
        );
        registry.register(
            "uptime_notifications_sent",
            "Notifications delivered, by provider",
            notifications_sent.clone(),
        );
        registry.register(
            "uptime_notifications_failed",
            "Notifications given up on after their retries, by provider",
            notifications_failed.clone(),
        );
        registry.register(
            "uptime_notifications_rate_limited",
            "Times a notification was held back in the outbox by a rate limit",
            notifications_rate_limited.clone(),
        );
        registry.register(
            "uptime_service_requests",
            "HTTP requests answered, by service, method and status",
            requests.clone(),
        );
        registry.register(
            "uptime_service_request_duration_seconds",
            "Time taken to answer HTTP requests, by service and method",
            request_duration.clone(),
        );
        registry.register(
            "uptime_service_errors",
            "Errors inside the daemon, by component and kind",
            errors.clone(),
        );
        registry.register(
            "uptime_scheduler_lag_seconds",
            "How late check runs start after their scheduled time",
            scheduler_lag.clone(),
        );
        registry.register(
            "uptime_results_dropped",
            "Check results never written, because the store could not write and the backlog was full",
            results_dropped.clone(),
        );
        registry.register(
            "uptime_results_backlog",
            "Check results held in memory while the store cannot write",
            results_backlog.clone(),
        );
        let status_renders = Counter::default();
        registry.register(
            "uptime_status_page_renders",
            "Status pages and badges rendered, that is not answered from the cache",
            status_renders.clone(),
        );
        let audit_dropped = Family::<AuditDropLabels, Counter>::default();
        registry.register(
            "uptime_audit_events_dropped",
            "Audit events not written, by reason: `rate_limited` (refused requests beyond the bound per address) or `write_failed`",
            audit_dropped.clone(),
        );
        let component_restarts = Family::<ComponentLabels, Counter>::default();
        registry.register(
            "uptime_component_restarts",
            "Times a long-lived component of the daemon (scheduler, writer, notifier, maintenance, watch) panicked and was started again",
            component_restarts.clone(),
        );
        let node_info = Family::<NodeLabels, Gauge>::default();
        registry.register(
            "uptime_node_info",
            "1 for this daemon, with its node name and location",
            node_info.clone(),
        );
        let nodes_live = Gauge::default();
        registry.register(
            "uptime_cluster_nodes_live",
            "Nodes sharing this daemon's database whose heartbeat is recent, this one included",
            nodes_live.clone(),
        );
        let checks_owned = Gauge::default();
        registry.register(
            "uptime_node_checks_owned",
            "Checks this node runs: those it holds leases on (every check with SQLite)",
            checks_owned.clone(),
        );
        let leases_changed = Family::<LeaseLabels, Counter>::default();
        registry.register(
            "uptime_node_leases_changed",
            "Check leases this node took (from a node that left, or a new check) or gave up (to a node that joined)",
            leases_changed.clone(),
        );
        let checks_unplaced = Gauge::default();
        registry.register(
            "uptime_checks_unplaced",
            "Locations listed by checks (check and location pairs) where no node is live, so the checks do not run there",
            checks_unplaced.clone(),
        );
        let heartbeat_failures = Counter::default();
        registry.register(
            "uptime_node_heartbeat_failures",
            "Heartbeats that could not reach the database; the node keeps running the checks it held",
            heartbeat_failures.clone(),
        );
        Metrics {
            node_info,
            nodes_live,
            checks_owned,
            leases_changed,
            heartbeat_failures,
            checks_unplaced,
            component_restarts,
            status_renders,
            audit_dropped,
            request_duration,
            errors,
            results_queued: Gauge::default(),
            tenants: RwLock::default(),
            data_dir: None,
            cpu: process::Cpu::new(),
            results_dropped,
            results_backlog,
            registry,
            checks,
            check_duration,
            incidents,
            notifications_sent,
            notifications_failed,
            notifications_rate_limited,
            requests,
            scheduler_lag,
        }
    }

    /// Metrics for a daemon whose data directory is `dir` (for the disk series).
    pub fn for_data_dir(dir: &Path) -> Self {
        Metrics {
            data_dir: Some(dir.to_path_buf()),
            ..Self::new()
        }
    }

    /// Whether the name of tenant `id` is known.
    pub fn knows_tenant(&self, id: i64) -> bool {
        self.tenants.read().is_ok_and(|m| m.contains_key(&id))
    }

    /// The name of tenant `id` for labels; its id if the name is not known (yet).
    pub fn tenant(&self, id: i64) -> String {
        self.tenants
            .read()
            .ok()
            .and_then(|m| m.get(&id).cloned())
            .unwrap_or_else(|| id.to_string())
    }

    /// Counts incident events in `uptime_incidents_total`, whoever caused them:
    /// results (the writer), the alert policy's timer, SLO burn passes.
    pub fn count_incident_events(&self, transitions: &[crate::daemon::store::Transition]) {
        for t in transitions {
            let labels = IncidentLabels {
                tenant: self.tenant(t.tenant),
                severity: crate::daemon::store::severity_name(t.severity).into(),
                status: t.event.into(),
            };
            self.incidents.get_or_create(&labels).inc();
        }
    }

    /// Learns every tenant's name in `names`. Names already known are kept: the
    /// store's answer may be older than a tenant created since and added with
    /// [`add_tenant`](Self::add_tenant), and tenants are never renamed or removed.
    pub fn set_tenants(&self, names: HashMap<i64, String>) {
        if let Ok(mut m) = self.tenants.write() {
            m.extend(names);
        }
    }

    /// Learns the name of a tenant created just now.
    pub fn add_tenant(&self, id: i64, name: &str) {
        if let Ok(mut m) = self.tenants.write() {
            m.insert(id, name.to_string());
        }
    }

    /// Counts one restart of `component` (`uptime_component_restarts_total`).
    pub fn count_restart(&self, component: &str) {
        self.component_restarts
            .get_or_create(&ComponentLabels {
                component: component.into(),
            })
            .inc();
    }

    /// How often `component` was started again.
    #[cfg(test)]
    pub fn restarts(&self, component: &str) -> u64 {
        self.component_restarts
            .get_or_create(&ComponentLabels {
                component: component.into(),
            })
            .get()
    }

    /// Counts one error of `kind` in `service` (`uptime_service_errors_total`).
    pub fn error(&self, service: &str, kind: &str) {
        self.errors
            .get_or_create(&ServiceErrorLabels {
                service: service.into(),
                r#type: kind.into(),
            })
            .inc();
    }

    /// The exposition in `format`: the counters kept in memory, then the series made
    /// from `snapshot` (read from the store just now) and the process.
    pub fn render(
        &self,
        snapshot: std::sync::Arc<crate::daemon::store::Snapshot>,
        db_busy: usize,
        format: Format,
    ) -> String {
        self.set_tenants(snapshot.tenants.clone());
        // Stored resources the store could not read (each also logged by name): the
        // store counts them where it decodes, this counter catches up with it.
        let unreadable = crate::daemon::store::decode::corrupt_reads();
        if unreadable > 0 {
            self.errors
                .get_or_create(&ServiceErrorLabels {
                    service: "store".into(),
                    r#type: "unreadable_resource".into(),
                })
                .inner()
                .fetch_max(unreadable, std::sync::atomic::Ordering::Relaxed);
        }
        let sample = scrape::Sample {
            snapshot: &snapshot,
            db_busy,
            results_queued: self.results_queued.get(),
            results_held: self.results_backlog.get(),
            memory_bytes: process::memory_bytes(),
            cpu_percent: self.cpu.percent(),
            disk_bytes: self.data_dir.as_deref().map(process::disk_bytes),
        };
        let scraped = scrape::registry(&sample);
        let mut head = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut head, &self.registry);
        let _ = prometheus_client::encoding::text::encode_registry(&mut head, &scraped);
        // Only this head differs between the formats; the per-check series, most
        // of the body, are written once into a body sized for them.
        if format == Format::Text {
            head = format::to_text(&head);
        }
        let mut out = String::with_capacity(head.len() + scrape::per_check_bytes(&snapshot) + 8);
        out.push_str(&head);
        drop(head);
        let _ = prometheus_client::encoding::text::encode_registry(
            &mut out,
            &scrape::per_check(&snapshot),
        );
        if format == Format::OpenMetrics {
            let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::Transition;
    use crate::spec::Severity;

    #[test]
    fn incident_events_are_counted_by_tenant_name_severity_and_event() {
        let m = Metrics::new();
        m.set_tenants(HashMap::from([(1, "acme".to_string())]));
        let t = |event| Transition {
            tenant: 1,
            incident: 7,
            check: "api".into(),
            event,
            severity: Severity::Critical,
        };
        m.count_incident_events(&[t("opened"), t("resolved"), t("resolved")]);
        let count = |status: &str| {
            m.incidents
                .get_or_create(&IncidentLabels {
                    tenant: "acme".into(),
                    severity: "critical".into(),
                    status: status.into(),
                })
                .get()
        };
        assert_eq!((count("opened"), count("resolved")), (1, 2));
    }

    /// A scrape reads the tenants from the store, then renders: a tenant created in
    /// between is added to the names before the scrape's older list arrives.
    #[test]
    fn a_scrape_read_before_a_tenant_was_created_does_not_forget_its_name() {
        let m = Metrics::new();
        m.set_tenants(HashMap::from([(1, "default".to_string())]));
        let read_before = crate::daemon::store::Snapshot {
            tenants: HashMap::from([(1, "default".to_string())]),
            ..Default::default()
        };
        m.add_tenant(2, "acme");
        m.render(std::sync::Arc::new(read_before), 0, Format::Text);
        assert_eq!(
            (m.tenant(1), m.tenant(2)),
            ("default".into(), "acme".into())
        );
    }
}
