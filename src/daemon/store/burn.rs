//! SLO burn-rate alerts: an incident of kind `slo_burn` opens when a check's error
//! budget burns fast over both windows of one of the SRE workbook's pairs, and
//! resolves once no pair does. It goes through the same incident, alert policy and
//! outbox path as a check that is down.

use std::collections::{HashMap, HashSet};

use super::incidents::{Target, Transition, apply as apply_effects, open_incident_of_kind};
use super::report::StoredSlo;
use super::rollups;
use super::{Db, Result, Store};
use crate::incident;
use crate::model::IncidentKind;
use crate::rollup::slo::{self, BURN_RULES};
use crate::spec::Severity;

/// What the pass decided for one check: the burn's description while it burns.
struct Decision {
    tenant: i64,
    check: String,
    burn: Option<String>,
    /// Why an open incident resolves, when it does.
    why: &'static str,
}

#[derive(serde::Deserialize)]
struct Stored {
    name: String,
    slo: Option<StoredSlo>,
    #[serde(default)]
    alert: Option<StoredAlert>,
}

#[derive(serde::Deserialize)]
struct StoredAlert {
    #[serde(default)]
    severity: Option<Severity>,
}

/// Checks of every tenant whose SLO alerts: (tenant, name, objective, severity);
/// and those whose spec is not JSON at all, whose SLO is unknown, so that their
/// burn incidents stay as they are (each is logged and counted by the decoder).
type Alerting = (
    Vec<(i64, String, StoredSlo, Severity)>,
    HashSet<(i64, String)>,
);

fn alerting(c: &Db<'_>) -> Result<Alerting> {
    // `json_extract` fails the whole query on a spec that is not JSON: the CASE
    // keeps it from ever reading one.
    let mut stmt = c.prepare_cached(&format!(
        "SELECT tenant_id, name, spec, json_valid(spec) FROM resources WHERE kind = 'Check'
           AND CASE WHEN json_valid(spec) THEN json_extract(spec, '$.slo') IS NOT NULL
                    AND {} ELSE 1 = 1 END
         ORDER BY tenant_id, name",
        super::sql::spec_enabled("spec")
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<i64>(0)?,
            r.get::<String>(1)?,
            r.get::<String>(2)?,
            r.get::<bool>(3)?,
        ))
    })?;
    let (mut out, mut unreadable) = (Vec::new(), HashSet::new());
    for row in rows {
        let (tenant, name, spec, valid) = row?;
        let kind = crate::spec::Kind::Check;
        if !valid {
            // Fails, and says so in the log and the metric.
            let _ = super::decode::spec_str::<serde_json::Value>(kind, &name, &spec);
            unreadable.insert((tenant, name));
            continue;
        }
        let stored: Stored = super::decode::part(kind, &name, &spec)?;
        if let Some(s) = stored.slo.filter(|s| s.alert) {
            let severity = stored
                .alert
                .and_then(|a| a.severity)
                .unwrap_or(Severity::Error);
            out.push((tenant, stored.name, s, severity));
        }
    }
    Ok((out, unreadable))
}

fn burning_now(c: &Db<'_>) -> Result<HashSet<(i64, String)>> {
    let mut stmt = c.prepare_cached(
        "SELECT tenant_id, check_name FROM incidents WHERE kind = 'slo_burn' AND status != 'resolved'",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<Result<_>>()
}

/// Decides, from rollups, which checks burn now; returns only those whose
/// incident must open or resolve.
fn decide(c: &Db<'_>, now: i64) -> Result<Vec<(Decision, Severity)>> {
    let (checks, unknown) = alerting(c)?;
    let open = burning_now(c)?;
    // A burn incident of a check that no longer alerts on its SLO (disabled, its
    // `slo` removed or `alert: false`) resolves: nothing else would.
    let eligible: HashSet<(i64, &str)> =
        checks.iter().map(|(t, n, _, _)| (*t, n.as_str())).collect();
    let mut out: Vec<(Decision, Severity)> = open
        .iter()
        .filter(|(t, n)| {
            !eligible.contains(&(*t, n.as_str())) && !unknown.contains(&(*t, n.clone()))
        })
        .map(|(tenant, check)| {
            let d = Decision {
                tenant: *tenant,
                check: check.clone(),
                burn: None,
                why: "the check no longer alerts on its SLO",
            };
            (d, Severity::Error)
        })
        .collect();
    if checks.is_empty() {
        return Ok(out);
    }
    let series: Vec<Option<i64>> = checks
        .iter()
        .map(|(t, name, _, _)| rollups::series_of(c, *t, name))
        .collect::<Result<_>>()?;
    let a = rollups::availability(c)?;
    let mut windows: HashMap<i64, Vec<crate::rollup::Bucket>> = HashMap::new();
    for rule in BURN_RULES {
        for w in [rule.long_ms, rule.short_ms] {
            if let std::collections::hash_map::Entry::Vacant(e) = windows.entry(w) {
                let plan = crate::rollup::plan::plan(now - w, now, &a);
                e.insert(super::report::merged(c, &series, &plan.pieces)?);
            }
        }
    }
    for (i, (tenant, name, s, severity)) in checks.into_iter().enumerate() {
        let figures = |w: i64| {
            windows
                .get(&w)
                .map_or((0, 0), |b| (b[i].up_ms, b[i].down_ms))
        };
        let burn = slo::burning(s.objective, &figures).map(|b| {
            format!(
                "error budget burning {:.1}× over {} and {:.1}× over {} (alert at {}×; objective {}% over {})",
                b.long_rate,
                crate::spec::Duration(std::time::Duration::from_millis(b.rule.long_ms as u64)),
                b.short_rate,
                crate::spec::Duration(std::time::Duration::from_millis(b.rule.short_ms as u64)),
                b.rule.factor,
                s.objective,
                s.window
            )
        });
        if burn.is_some() != open.contains(&(tenant, name.clone())) {
            out.push((
                Decision {
                    tenant,
                    check: name,
                    burn,
                    why: "the burn stopped",
                },
                severity,
            ));
        }
    }
    Ok(out)
}

fn apply(tx: &Db<'_>, d: &Decision, severity: Severity, now: i64) -> Result<Vec<Transition>> {
    let open = open_incident_of_kind(tx, d.tenant, &d.check, IncidentKind::SloBurn)?;
    let effects = incident::on_burn(
        open.as_ref().map(|(_, state)| state),
        d.burn.as_deref(),
        severity,
        d.why,
        now,
    );
    if effects.is_empty() {
        return Ok(Vec::new());
    }
    let target = Target {
        tenant: d.tenant,
        check: &d.check,
        incident: open.map(|(inc, _)| inc),
        result: None,
    };
    Ok(apply_effects(tx, target, &effects, now)?.transitions)
}

impl Store {
    /// Opens and resolves SLO burn-rate incidents as of `now_ms`: decided on a read
    /// connection, written in one transaction only when something changes.
    pub async fn slo_pass(&self, now_ms: i64) -> Result<Vec<Transition>> {
        let decisions = self.read(move |c| decide(c, now_ms)).await?;
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let mut out = Vec::new();
            for (d, severity) in &decisions {
                out.extend(apply(tx, d, *severity, now_ms)?);
            }
            Ok(out)
        })
        .await
    }
}
