//! The series made afresh on every scrape, from what the store holds and from the
//! process: one registry per scrape, dropped after it is encoded.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::TenantLabels;
use crate::daemon::store::{CheckSeries, LocationSeries, Snapshot};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// `outbox` (notifications) or `results` (the writer's queue).
    pub queue: String,
    pub status: String,
}

/// A count that can go down, under a name that ends in `_total` (the brief's
/// names): exposed as untyped, since Prometheus reserves `_total` for counters and
/// a gauge so named fails its lint.
#[derive(Debug, Default)]
struct Untyped(Gauge);

impl TypedMetric for Untyped {
    const TYPE: MetricType = MetricType::Unknown;
}

impl EncodeMetric for Untyped {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.0.get())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Unknown
    }
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// What one scrape shows besides the in-memory counters.
pub struct Sample<'a> {
    pub snapshot: &'a Snapshot,
    pub db_busy: usize,
    pub results_queued: i64,
    pub results_held: i64,
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub disk_bytes: Option<u64>,
}

/// Whether a check's last run is shown: it has run, and it is still scheduled (a
/// paused or disabled check's last run says nothing about now, and showing it would
/// keep an alert on it firing).
fn shown(c: &CheckSeries) -> Option<bool> {
    c.last_up.filter(|_| c.active)
}

/// One per-check series of every shown check, encoded straight from the snapshot.
/// A `Family` would copy three label strings per check into a map first: at
/// 100,000 checks that map, made and dropped on every scrape, was the largest
/// thing in the daemon's memory.
#[derive(Debug)]
struct PerCheck {
    snapshot: Arc<Snapshot>,
    value: fn(&CheckSeries, bool) -> Option<Reading>,
}

/// A per-check value: `up` is a whole number, the others are not.
enum Reading {
    Whole(i64),
    Real(f64),
}

impl TypedMetric for PerCheck {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for PerCheck {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for c in &self.snapshot.checks {
            let Some(is_up) = shown(c) else { continue };
            let Some(v) = (self.value)(c, is_up) else {
                continue;
            };
            let labels = [
                ("tenant", c.tenant.as_str()),
                ("check", c.name.as_str()),
                ("type", c.check_type.as_str()),
            ];
            let mut family = encoder.encode_family(&labels)?;
            match v {
                Reading::Whole(v) => family.encode_gauge(&v)?,
                Reading::Real(v) => family.encode_gauge(&v)?,
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// One series per location of each check that runs from several, straight from
/// the snapshot as [`PerCheck`] is.
#[derive(Debug)]
struct PerLocation {
    snapshot: Arc<Snapshot>,
    value: fn(&LocationSeries) -> Reading,
}

impl TypedMetric for PerLocation {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for PerLocation {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for l in &self.snapshot.locations {
            let labels = [
                ("tenant", l.tenant.as_str()),
                ("check", l.check.as_str()),
                ("location", l.location.as_str()),
            ];
            let mut family = encoder.encode_family(&labels)?;
            match (self.value)(l) {
                Reading::Whole(v) => family.encode_gauge(&v)?,
                Reading::Real(v) => family.encode_gauge(&v)?,
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// The per-check series: gauges only, whose text is the same in OpenMetrics and
/// the classic format, so they are written once in either.
pub fn per_check(snapshot: &Arc<Snapshot>) -> Registry {
    let mut registry = Registry::default();
    let family = |value| PerCheck {
        snapshot: Arc::clone(snapshot),
        value,
    };
    registry.register(
        "uptime_check_up",
        "Whether the last run of a check succeeded (1) or failed (0); absent for checks that never ran, are paused or disabled",
        family(|_, up| Some(Reading::Whole(i64::from(up)))),
    );
    registry.register(
        "uptime_check_latency_seconds",
        "How long the last run of a check took",
        family(|c, _| c.last_latency_ms.map(|ms| Reading::Real(ms / 1000.0))),
    );
    registry.register(
        "uptime_check_cert_expiry_timestamp_seconds",
        "When the TLS certificate seen on a check's last run that saw one expires, in Unix seconds",
        family(|c, _| {
            c.last_cert_expires_at
                .map(|ms| Reading::Real(ms as f64 / 1000.0))
        }),
    );
    let located = |value| PerLocation {
        snapshot: Arc::clone(snapshot),
        value,
    };
    registry.register(
        "uptime_check_location_up",
        "Whether a location's last run of a check that runs from several succeeded (1) or failed (0); the check's own uptime_check_up is its quorum's verdict",
        located(|l| Reading::Whole(i64::from(l.up))),
    );
    registry.register(
        "uptime_check_location_last_run_timestamp_seconds",
        "When a location last ran a check that runs from several, in Unix seconds: an old one means the location's nodes are gone",
        located(|l| Reading::Real(l.at_ms as f64 / 1000.0)),
    );
    registry
}

/// About how many bytes [`per_check`] writes, to size the body once.
pub fn per_check_bytes(snapshot: &Snapshot) -> usize {
    snapshot
        .checks
        .iter()
        .filter(|c| shown(c).is_some())
        .map(|c| {
            let series = 1
                + usize::from(c.last_latency_ms.is_some())
                + usize::from(c.last_cert_expires_at.is_some());
            series * (c.tenant.len() + c.name.len() + c.check_type.len() + 80)
        })
        .sum::<usize>()
        + snapshot
            .locations
            .iter()
            .map(|l| 2 * (l.tenant.len() + l.check.len() + l.location.len() + 100))
            .sum::<usize>()
}

/// The series besides the per-check ones.
pub fn registry(s: &Sample) -> Registry {
    let mut registry = Registry::default();
    let open = Family::<TenantLabels, Gauge>::default();
    let users = Family::<TenantLabels, Untyped>::default();
    let keys = Family::<TenantLabels, Gauge>::default();
    for (id, name) in &s.snapshot.tenants {
        let labels = TenantLabels {
            tenant: name.clone(),
        };
        let n = |m: &std::collections::HashMap<i64, i64>| m.get(id).copied().unwrap_or(0);
        open.get_or_create(&labels)
            .set(n(&s.snapshot.open_incidents));
        users.get_or_create(&labels).0.set(n(&s.snapshot.users));
        keys.get_or_create(&labels).set(n(&s.snapshot.active_keys));
    }
    registry.register("uptime_incidents_open", "Incidents not resolved yet", open);
    registry.register(
        "uptime_users_active_total",
        "User accounts per tenant (people who can log in; API keys are counted in uptime_api_keys_active)",
        users,
    );
    registry.register(
        "uptime_api_keys_active",
        "API keys neither revoked nor expired, per tenant",
        keys,
    );

    let queues = Family::<QueueLabels, Untyped>::default();
    for (queue, status, n) in [
        ("outbox", "due", s.snapshot.outbox_due),
        ("outbox", "deferred", s.snapshot.outbox_deferred),
        ("results", "queued", s.results_queued),
        ("results", "held", s.results_held),
    ] {
        queues
            .get_or_create(&QueueLabels {
                queue: queue.into(),
                status: status.into(),
            })
            .0
            .set(n);
    }
    registry.register(
        "uptime_queue_messages_total",
        "Messages waiting in a queue: notifications in the outbox (due now or deferred to a later attempt) and check results on their way to the store (queued, or held in memory while it cannot write)",
        queues,
    );

    let db = Gauge::<i64>::default();
    db.set(i64::try_from(s.db_busy).unwrap_or(i64::MAX));
    registry.register(
        "uptime_db_connections_active",
        "Database connections running a statement or a transaction when the scrape began",
        db,
    );
    let int_gauge = |v: u64| {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(v).unwrap_or(i64::MAX));
        g
    };
    if let Some(b) = s.memory_bytes {
        registry.register(
            "uptime_memory_usage_bytes",
            "Resident memory of the daemon (Linux)",
            int_gauge(b),
        );
    }
    if let Some(p) = s.cpu_percent {
        let g = F64Gauge::default();
        g.set(p);
        registry.register(
            "uptime_cpu_usage_percent",
            "CPU used by the daemon since the previous scrape, in percent of one core (Linux)",
            g,
        );
    }
    if let Some(b) = s.disk_bytes {
        registry.register(
            "uptime_disk_usage_bytes",
            "Bytes of the files in the data directory",
            int_gauge(b),
        );
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, active: bool, last_up: Option<bool>) -> CheckSeries {
        CheckSeries {
            tenant: "acme".into(),
            name: name.into(),
            check_type: "http".into(),
            active,
            last_up,
            last_latency_ms: last_up.map(|_| 250.0),
            last_cert_expires_at: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn only_checks_that_ran_and_are_scheduled_have_per_check_series() {
        let snapshot = Arc::new(Snapshot {
            checks: vec![
                check("up", true, Some(true)),
                check("down", true, Some(false)),
                check("never", true, None),
                check("paused", false, Some(false)),
            ],
            tenants: [(7, "acme".to_string())].into(),
            active_keys: [(7, 2)].into(),
            users: [(7, 3)].into(),
            ..Snapshot::default()
        });
        let sample = Sample {
            snapshot: &snapshot,
            db_busy: 1,
            results_queued: 3,
            results_held: 0,
            memory_bytes: Some(4096),
            cpu_percent: Some(12.5),
            disk_bytes: None,
        };
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &registry(&sample))
            .expect("encode");
        prometheus_client::encoding::text::encode_registry(&mut out, &per_check(&snapshot))
            .expect("encode");
        prometheus_client::encoding::text::encode_eof(&mut out).expect("encode");
        let has = |line: &str| out.lines().any(|l| l == line);
        assert!(
            has(r#"uptime_check_up{tenant="acme",check="up",type="http"} 1"#),
            "{out}"
        );
        assert!(has(
            r#"uptime_check_up{tenant="acme",check="down",type="http"} 0"#
        ));
        assert!(has(
            r#"uptime_check_latency_seconds{tenant="acme",check="up",type="http"} 0.25"#
        ));
        assert!(has(
            r#"uptime_check_cert_expiry_timestamp_seconds{tenant="acme",check="up",type="http"} 1700000000.0"#
        ));
        assert!(!out.contains(r#"check="never""#));
        assert!(!out.contains(r#"check="paused""#));
        let located = Arc::new(Snapshot {
            locations: vec![LocationSeries {
                tenant: "acme".into(),
                check: "up".into(),
                location: "eu-west".into(),
                up: false,
                at_ms: 1_700_000_000_500,
            }],
            ..Snapshot::default()
        });
        let mut by_location = String::new();
        prometheus_client::encoding::text::encode_registry(&mut by_location, &per_check(&located))
            .expect("encode");
        let has_line = |line: &str| by_location.lines().any(|l| l == line);
        assert!(
            has_line(r#"uptime_check_location_up{tenant="acme",check="up",location="eu-west"} 0"#),
            "{by_location}"
        );
        assert!(has_line(
            r#"uptime_check_location_last_run_timestamp_seconds{tenant="acme",check="up",location="eu-west"} 1700000000.5"#
        ));
        assert!(has(r#"uptime_users_active_total{tenant="acme"} 3"#));
        assert!(has(r#"uptime_api_keys_active{tenant="acme"} 2"#));
        assert!(has(r#"uptime_incidents_open{tenant="acme"} 0"#));
        assert!(has(
            r#"uptime_queue_messages_total{queue="results",status="queued"} 3"#
        ));
        assert!(has("# TYPE uptime_users_active_total unknown"));
        assert!(has("uptime_memory_usage_bytes 4096"));
        assert!(has("uptime_cpu_usage_percent 12.5"));
        assert!(!out.contains("uptime_disk_usage_bytes"));
    }
}
