//! The plan/apply engine, shared by the API and watch mode: validate the desired
//! set, diff it against live state, and (for apply) write the changes, all in one
//! transaction so that a failure applies nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::PlanRequest;
use crate::spec::plan::{self, Action, Desired, FORMAT_VERSION, Live, Plan};
use crate::spec::{Kind, Spec, remote};

use super::store::{Edit, PageAddress, Store, StoreError, StoredResource, TenantState, Whole};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the desired resources are invalid")]
    Invalid(Vec<String>),
    #[error("the plan conflicts with live state")]
    Conflict(Vec<String>),
    #[error(
        "the state moved from revision {expected} to {actual} since the plan was made; make a new plan"
    )]
    RevisionMoved { expected: u64, actual: u64 },
    #[error(
        "the plan was made for another tenant than this API key's; make the plan again with the key you apply with"
    )]
    WrongTenant,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A desired resource with its secret pointers, and typed.
type Incoming = ((Desired, BTreeSet<String>), Spec);

enum Outcome {
    Planned(Box<Plan>),
    Rejected(ApplyError),
}

/// Computes the plan of `req` against `tenant`'s state and, when `commit`, applies it.
/// Returns the plan and the state revision after.
pub async fn run(
    store: &Store,
    tenant: i64,
    req: PlanRequest,
    commit: bool,
) -> Result<(Plan, u64), ApplyError> {
    let mut req = req;
    let checked = check_all(std::mem::take(&mut req.resources))?;
    run_checked(store, tenant, checked, req, commit).await
}

/// Validates every desired resource: CPU work (regexes, protos, conditions),
/// kept apart from the store so that callers can run it off the async threads.
pub fn check_all(resources: Vec<Desired>) -> Result<Vec<remote::Checked>, ApplyError> {
    let mut errors = Vec::new();
    let mut checked = Vec::new();
    for d in resources {
        match remote::check(d) {
            Ok(c) => {
                // What the scheduler will build from it must build now: a check that
                // validates but cannot be compiled would be stored and never run.
                if let crate::spec::Spec::Check(check) = &c.spec
                    && let Err(e) = crate::probe::compile(check)
                {
                    let redactor = crate::spec::secrets::Redactor::for_probe(
                        &c.desired.spec,
                        &c.secrets,
                        &Default::default(),
                    );
                    errors.push(redactor.scrub(&e.to_string()));
                    continue;
                }
                checked.push(c)
            }
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApplyError::Invalid(errors));
    }
    Ok(checked)
}

/// [`run`] for resources [`check_all`] has validated; `req.resources` is ignored.
pub async fn run_checked(
    store: &Store,
    tenant: i64,
    checked: Vec<remote::Checked>,
    req: PlanRequest,
    commit: bool,
) -> Result<(Plan, u64), ApplyError> {
    let options = req.options;
    let expected = req.expected_revision;
    if req.expected_tenant.is_some_and(|t| t != tenant) {
        return Err(ApplyError::WrongTenant);
    }
    let own_host = store.own_host();
    // The transaction holds whole only the stored resources the diff reads: those
    // the request names, and those a prune may delete.
    let mut named: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    for c in &checked {
        named
            .entry(c.desired.kind)
            .or_default()
            .insert(c.desired.name.clone());
    }
    let (prune, owner) = (options.prune, options.source.clone());
    let whole: Box<Whole> = Box::new(move |kind, name, source| {
        (prune && source == Some(owner.as_str()))
            || named.get(&kind).is_some_and(|n| n.contains(name))
    });
    let (outcome, revision, written) = store
        .transact_state_keeping(tenant, whole, move |state| {
            if let Some(expected) = expected
                && expected != state.revision
            {
                return Err(Outcome::Rejected(ApplyError::RevisionMoved {
                    expected,
                    actual: state.revision,
                }));
            }
            // Split the resources into what the diff reads and what is written,
            // moving rather than copying them: an apply of many thousands of
            // checks would otherwise hold each spec two or three times at once.
            let keys: Vec<(Kind, String)> = checked
                .iter()
                .map(|c| (c.desired.kind, c.desired.name.clone()))
                .collect();
            let (desired, specs): (Vec<(Desired, BTreeSet<String>)>, Vec<Spec>) = checked
                .into_iter()
                .map(|c| ((c.desired, c.secrets), c.spec))
                .unzip();
            let incoming: Vec<(Kind, &str, &Spec)> = keys
                .iter()
                .zip(&specs)
                .map(|((kind, name), spec)| (*kind, name.as_str(), spec))
                .collect();
            // The diff reads a live spec only where a desired resource meets it or
            // a prune would delete it: what the load read whole. The others take
            // part by name and owner.
            fn live_of<'a>(
                kind: Kind,
                name: &'a str,
                source: &'a Option<String>,
                whole: Option<(&'a serde_json::Value, &'a BTreeSet<String>)>,
            ) -> Live<'a> {
                static NO_SECRETS: BTreeSet<String> = BTreeSet::new();
                let (spec, secrets) = whole.unwrap_or((&serde_json::Value::Null, &NO_SECRETS));
                Live {
                    kind,
                    name,
                    spec,
                    source: source.as_deref(),
                    secrets,
                }
            }
            // Rows that cannot be read take part as stored, so that an apply can
            // replace or prune them; the plan names them below.
            let unreadable = state.unreadable.iter().filter_map(|u| {
                Some(live_of(
                    u.kind?,
                    &u.name,
                    &u.source,
                    Some((&u.spec, &u.secrets)),
                ))
            });
            let live: Vec<Live> = state
                .resources
                .iter()
                .map(|r| {
                    let whole = r.full.as_ref().map(|f| (&f.spec, &f.secrets));
                    live_of(r.kind, &r.name, &r.source, whole)
                })
                .chain(unreadable)
                .collect();
            // An apply fills in the `after` of each write from the spec it wrote.
            let changes = match plan::diff_with(&desired, &live, &options, !commit) {
                Ok(c) => c,
                Err(conflicts) => {
                    return Err(Outcome::Rejected(ApplyError::Conflict(
                        conflicts.iter().map(ToString::to_string).collect(),
                    )));
                }
            };
            if let Err(missing) = references_hold(state, &incoming, &changes) {
                return Err(Outcome::Rejected(ApplyError::Invalid(missing)));
            }
            if let Err(taken) = page_addresses_free(state, &incoming, &changes, own_host.as_deref())
            {
                return Err(Outcome::Rejected(ApplyError::Conflict(taken)));
            }
            let plan = Plan {
                format_version: FORMAT_VERSION,
                state_revision: state.revision,
                tenant: Some(tenant),
                source: options.source.clone(),
                summary: plan::summarize(&changes),
                absent: plan::absent(&desired, &live, &options),
                diagnostics: unreadable_left(state, &changes),
                changes,
            };
            if !commit {
                return Err(Outcome::Planned(Box::new(plan)));
            }
            drop(incoming);
            let by_key: BTreeMap<(Kind, &str), usize> = keys
                .iter()
                .enumerate()
                .map(|(i, (kind, name))| ((*kind, name.as_str()), i))
                .collect();
            let mut slots: Vec<Option<Incoming>> =
                desired.into_iter().zip(specs).map(Some).collect();
            let mut edits = Vec::with_capacity(plan.changes.len());
            for ch in &plan.changes {
                edits.push(match ch.action {
                    Action::Delete => Edit::Delete(ch.kind, ch.name.clone()),
                    Action::Create | Action::Update => {
                        // The diff plans one write per desired resource (a name given
                        // twice is a conflict), so each slot is taken once; were it
                        // not, nothing is written rather than a resource left out.
                        let taken = by_key
                            .get(&(ch.kind, ch.name.as_str()))
                            .and_then(|&i| slots[i].take());
                        let Some(((d, secrets), spec)) = taken else {
                            return Err(Outcome::Rejected(ApplyError::Invalid(vec![format!(
                                "{} `{}` is planned to be written but was not sent, or was sent twice; nothing was applied",
                                ch.kind, ch.name
                            )])));
                        };
                        Edit::Upsert(StoredResource {
                            secrets,
                            source: Some(options.source.clone()),
                            file: d.file,
                            line: d.line.map(|l| l as i64),
                            ..StoredResource::new(spec, d.spec)
                        })
                    }
                });
            }
            Ok((Outcome::Planned(Box::new(plan)), edits))
        })
        .await?;
    match outcome {
        Ok(Outcome::Planned(mut plan)) => {
            // One edit was made per change, in the changes' order; the names are
            // compared too, so that a change of that order shows in the tests.
            debug_assert_eq!(plan.changes.len(), written.len());
            for (ch, edit) in plan.changes.iter_mut().zip(written) {
                if let (None, Edit::Upsert(r)) = (&ch.after, edit) {
                    debug_assert_eq!((ch.kind, ch.name.as_str()), (r.kind, r.name.as_str()));
                    let mut after = r.spec;
                    crate::spec::secrets::mask(&mut after, &r.secrets);
                    ch.after = Some(after);
                }
            }
            Ok((*plan, revision))
        }
        Err(Outcome::Planned(plan)) => Ok((*plan, revision)),
        Ok(Outcome::Rejected(e)) | Err(Outcome::Rejected(e)) => Err(e),
    }
}

/// Every status page the changes create or update must have a slug and a domain
/// of its own in the whole daemon: `/status/{slug}` and a `Host` name carry no
/// tenant. Another tenant's page is not named, nor its tenant. Nor may a page
/// take `own_host`, the host of the daemon's `public_url`: its requests would
/// get that page at `/` and nothing but the status routes.
fn page_addresses_free(
    state: &TenantState,
    desired: &[(Kind, &str, &Spec)],
    changes: &[plan::Change],
    own_host: Option<&str>,
) -> Result<(), Vec<String>> {
    let address = |spec: &Spec| match spec {
        Spec::StatusPage(p) => Some(PageAddress {
            slug: p.slug.clone(),
            domain: p.domain.clone(),
        }),
        _ => None,
    };
    let touched: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.kind == Kind::StatusPage && c.action != Action::Delete)
        .map(|c| c.name.as_str())
        .collect();
    let deleted: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.kind == Kind::StatusPage && c.action == Action::Delete)
        .map(|c| c.name.as_str())
        .collect();
    // This tenant's pages after the changes, by name.
    let mut ours: BTreeMap<String, PageAddress> = BTreeMap::new();
    for r in state
        .resources
        .iter()
        .filter(|r| r.kind == Kind::StatusPage)
    {
        if deleted.contains(r.name.as_str()) {
            continue;
        }
        if let Some(a) = &r.page {
            ours.insert(r.name.clone(), (**a).clone());
        }
    }
    for (_, name, spec) in desired {
        if let Some(a) = address(spec) {
            ours.insert(name.to_string(), a);
        }
    }
    let mut taken = Vec::new();
    for (name, a) in ours.iter().filter(|(n, _)| touched.contains(n.as_str())) {
        if let (Some(d), Some(own)) = (&a.domain, own_host)
            && d.trim_end_matches('.').eq_ignore_ascii_case(own)
        {
            taken.push(format!(
                "StatusPage `{name}`: `domain` `{d}` is the host of this daemon's `public_url`, where its API and pages are served; give the page a host name of its own"
            ));
        }
        let fields = [("slug", Some(&a.slug)), ("domain", a.domain.as_ref())];
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let same = |other: &PageAddress| match field {
                "slug" => &other.slug == value,
                _ => other.domain.as_ref() == Some(value),
            };
            if state.other_pages.iter().any(same) {
                taken.push(format!(
                    "StatusPage `{name}`: `{field}` `{value}` is taken by a page of another tenant; choose another"
                ));
            } else if let Some((other, _)) = ours.iter().find(|(n, o)| *n != name && same(o)) {
                taken.push(format!(
                    "StatusPage `{name}`: `{field}` `{value}` is also the {field} of StatusPage `{other}`; each page needs its own"
                ));
            }
        }
    }
    if taken.is_empty() { Ok(()) } else { Err(taken) }
}

/// What the plan says of the stored rows that cannot be read and that the changes
/// leave in place: each by name, with what to do.
fn unreadable_left(state: &TenantState, changes: &[plan::Change]) -> Vec<String> {
    let touched: BTreeSet<(Kind, &str)> =
        changes.iter().map(|c| (c.kind, c.name.as_str())).collect();
    state
        .unreadable
        .iter()
        .filter(|u| {
            u.kind
                .is_none_or(|k| !touched.contains(&(k, u.name.as_str())))
        })
        .map(|u| u.message.clone())
        .collect()
}

/// After the changes, every name a resource refers to must exist. A stored row
/// that cannot be read still exists (references to it hold), but what it refers
/// to cannot be known: the plan's diagnostics name it.
fn references_hold(
    state: &TenantState,
    desired: &[(Kind, &str, &Spec)],
    changes: &[plan::Change],
) -> Result<(), Vec<String>> {
    let deleted: BTreeSet<(Kind, &str)> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| (c.kind, c.name.as_str()))
        .collect();
    type Refs<'a> = std::borrow::Cow<'a, [(&'static str, Kind, String)]>;
    let mut after: BTreeMap<(Kind, &str), Option<Refs>> = BTreeMap::new();
    for r in &state.resources {
        if !deleted.contains(&(r.kind, r.name.as_str())) {
            after.insert((r.kind, &r.name), Some(Refs::Borrowed(&r.references)));
        }
    }
    for u in &state.unreadable {
        if let Some(kind) = u.kind
            && !deleted.contains(&(kind, u.name.as_str()))
        {
            after.insert((kind, &u.name), None);
        }
    }
    for (kind, name, spec) in desired {
        after.insert((*kind, name), Some(Refs::Owned(remote::references(spec))));
    }
    let mut missing = Vec::new();
    for ((kind, name), refs) in &after {
        let Some(refs) = refs else { continue };
        for (field, ref_kind, ref_name) in refs.iter() {
            if !after.contains_key(&(*ref_kind, ref_name.as_str())) {
                missing.push(format!("{kind} `{name}`: `{field}` names {ref_kind} `{ref_name}`, which would not exist"));
            }
        }
    }
    let edges: BTreeMap<&str, Vec<&str>> = after
        .iter()
        .filter(|((kind, _), _)| *kind == Kind::Check)
        .filter_map(|((_, name), refs)| {
            let targets: Vec<&str> = refs
                .as_ref()?
                .iter()
                .filter(|(field, kind, _)| *field == "depends_on" && *kind == Kind::Check)
                .map(|(_, _, n)| n.as_str())
                .collect();
            // A check that needs none is in no circle: left out, so that a tenant
            // of 100,000 independent checks does not map them all again.
            (!targets.is_empty()).then_some((*name, targets))
        })
        .collect();
    if let Some(cycle) = crate::spec::dependency_cycle(&edges) {
        missing.push(format!(
            "Check `{}`: `depends_on` would make a circle ({})",
            cycle[0],
            cycle.join(" → ")
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(yaml: &str) -> Desired {
        let source = crate::spec::Source::new("c.yaml", yaml.to_string(), ".");
        let bundle = crate::spec::load(&[source], &|_| None).expect("a valid check");
        bundle.resources[0].desired()
    }

    #[test]
    fn a_check_that_validates_but_cannot_be_compiled_is_refused_not_stored() {
        // `server_name` is only checked for being there; the probe needs a real name.
        let bad = desired(
            "kind: Check\nname: smtp\ntype: tcp\ntarget: 127.0.0.1:25\ntcp:\n  tls: true\n  server_name: \"not a name!\"\n",
        );
        let Err(ApplyError::Invalid(errors)) = check_all(vec![bad]) else {
            panic!("an uncompilable check was accepted");
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("`smtp`") && errors[0].contains("tcp.server_name"),
            "{errors:?}"
        );
        let good = desired("kind: Check\nname: web\ntype: http\ntarget: http://127.0.0.1/\n");
        assert_eq!(check_all(vec![good]).map(|c| c.len()).ok(), Some(1));
    }
}
