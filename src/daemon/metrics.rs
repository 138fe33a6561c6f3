//! Prometheus metrics, named as in the product brief (`uptime_*`).

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
pub struct RequestLabels {
    pub method: String,
    pub status: String,
}

pub struct Metrics {
    registry: Registry,
    pub checks: Family<CheckLabels, Counter>,
    pub check_duration: Family<TypeLabels, Histogram>,
    pub incidents: Family<IncidentLabels, Counter>,
    pub incidents_open: Family<TenantLabels, Gauge>,
    pub notifications_sent: Family<NotificationLabels, Counter>,
    pub notifications_failed: Family<NotificationLabels, Counter>,
    pub notifications_rate_limited: Family<NotificationLabels, Counter>,
    pub requests: Family<RequestLabels, Counter>,
    pub scheduler_lag: Histogram,
    pub results_dropped: Family<TenantLabels, Counter>,
    pub results_backlog: Gauge,
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
        let incidents_open = Family::<TenantLabels, Gauge>::default();
        let notifications_sent = Family::<NotificationLabels, Counter>::default();
        let notifications_failed = Family::<NotificationLabels, Counter>::default();
        let notifications_rate_limited = Family::<NotificationLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
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
            "uptime_incidents_open",
            "Incidents not resolved yet",
            incidents_open.clone(),
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
            "API requests by method and status",
            requests.clone(),
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
        Metrics {
            results_dropped,
            results_backlog,
            registry,
            checks,
            check_duration,
            incidents,
            incidents_open,
            notifications_sent,
            notifications_failed,
            notifications_rate_limited,
            requests,
            scheduler_lag,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
