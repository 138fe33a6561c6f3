//! The resource model: check files in YAML, loaded with positions, validated,
//! interpolated, and reduced to a canonical form with a stable content hash.

mod canonical;
mod channel;
mod check;
mod decode;
mod diag;
mod duration;
pub mod expr;
mod grpc;
mod grpc_validate;
mod interpolate;
mod limits;
mod load;
mod maintenance;
pub mod plan;
mod rate;
mod references;
pub mod remote;
mod schedule;
pub mod schema;
pub mod secrets;
mod slo;
mod source;
mod status_page;
pub mod template;
pub mod template_bounds;
mod validate;
pub(crate) mod yaml;

/// A hash map for the maps a load builds per key of every document (positions,
/// duplicate keys): SipHash was 15% of the instructions of loading thousands of
/// checks. foldhash is seeded at random per map, so keys a file chooses cannot aim
/// at its buckets.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

pub use canonical::{canonical, content_hash};
pub use channel::*;
pub use check::*;
pub use decode::Positions;
pub(crate) use decode::resolve_plain;
pub use diag::{Diagnostic, Diagnostics, Pos};
pub use duration::{Duration, MAX_DURATION, millis_i64};
pub use grpc::{CODE_NAMES, DEFAULT_MAX_MESSAGES, GrpcSpec, HEALTH_SERVICE};
pub use interpolate::{Interpolated, interpolate};
pub use load::{Bundle, load, load_env};
pub use maintenance::{Maintenance, Window};
pub use rate::Rate;
pub use schedule::{MIN_INTERVAL, Schedule};
pub use slo::{DEFAULT_SLO_WINDOW, MAX_OBJECTIVE_DECIMALS, MAX_SLO_WINDOW, MIN_SLO_WINDOW, Slo};
pub use source::{Source, SourceError, read_paths};
pub use status_page::{
    MAX_ANNOUNCEMENT_CHARS, StatusAccess, StatusGroup, StatusPage, StatusShow, forbidden_char,
};
pub use template::Template;
pub use validate::split_host_port;
pub use validate::{MAX_NAME_LEN, is_place_name, is_valid_name};

/// The kinds of resource a file may hold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    Check,
    Channel,
    Template,
    Maintenance,
    StatusPage,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Check,
        Kind::Channel,
        Kind::Template,
        Kind::Maintenance,
        Kind::StatusPage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Check => "Check",
            Kind::Channel => "Channel",
            Kind::Template => "Template",
            Kind::Maintenance => "Maintenance",
            Kind::StatusPage => "StatusPage",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// The typed content of one resource.
// Resources are few and loaded once per plan or apply; boxing checks would cost
// an indirection in every match for no measurable saving.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Check(Check),
    Channel(Channel),
    Template(Template),
    Maintenance(Maintenance),
    StatusPage(StatusPage),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Check(_) => Kind::Check,
            Spec::Channel(_) => Kind::Channel,
            Spec::Template(_) => Kind::Template,
            Spec::Maintenance(_) => Kind::Maintenance,
            Spec::StatusPage(_) => Kind::StatusPage,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Spec::Check(c) => &c.name,
            Spec::Channel(c) => &c.name,
            Spec::Template(t) => &t.name,
            Spec::Maintenance(m) => &m.name,
            Spec::StatusPage(p) => &p.name,
        }
    }
}

/// A loaded resource and where it came from.
#[derive(Debug, Clone)]
pub struct Resource {
    pub spec: Spec,
    pub file: String,
    /// Position of the resource's `name`.
    pub pos: Pos,
    /// JSON pointers of values that came from `${...}`: secrets never to be printed.
    pub sensitive: BTreeSet<String>,
    /// The environment's variables those values were built from, by pointer as written.
    pub variables: secrets::Variables,
    pub positions: Positions,
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn name(&self) -> &str {
        self.spec.name()
    }

    /// What hides this check's secrets in its probe results, here where the files
    /// were read: values from the environment print as `${NAME}`, secret fields masked.
    pub fn probe_redactor(&self) -> secrets::Redactor {
        // Most checks hold nothing secret; knowing that from the typed check spares
        // building its canonical form, which is most of the cost for thousands of them.
        if self.sensitive.is_empty()
            && self.variables.is_empty()
            && let Spec::Check(check) = &self.spec
            && !secrets::check_may_hold_secrets(check)
        {
            debug_assert!(
                secrets::secret_pointers(self.kind(), &canonical(&self.spec), &self.sensitive)
                    .is_empty(),
                "a check said to hold no secrets has some"
            );
            return secrets::Redactor::default();
        }
        let value = canonical(&self.spec);
        let secrets = secrets::secret_pointers(self.kind(), &value, &self.sensitive);
        secrets::Redactor::for_probe(&value, &secrets, &self.variables)
    }
}

/// Below this similarity a "did you mean" guess is more noise than help. Real
/// typos (`targt`, `retrys`, `sched`, `crit`) score above 0.85; at 0.7 unrelated
/// names slipped through (`metod` → `timeout`, `channels` → `labels`, and
/// `disabled` → `enabled`, which would invert the meaning).
const SUGGESTION_THRESHOLD: f64 = 0.8;

/// Above this many candidates no suggestion is made: each is one string
/// comparison, and a file with thousands of names is better served by the
/// plain "not defined" than by validate slowing down for a guess.
pub const MAX_SUGGESTION_CANDIDATES: usize = 1_000;

/// A candidate more than this many times as long as the word (or the word more
/// than this many times as long as it) is not compared: it is a different name
/// rather than a typo (`outage` still finds `outage-short`), and each comparison
/// costs the product of both lengths.
const MAX_SUGGESTION_LENGTH_RATIO: usize = 2;

/// The candidate most like `word`, if any is close enough to be a likely typo.
/// `None` without comparing when there are more than [`MAX_SUGGESTION_CANDIDATES`].
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates
        .into_iter()
        .take(MAX_SUGGESTION_CANDIDATES + 1)
        .collect();
    if candidates.len() > MAX_SUGGESTION_CANDIDATES {
        return None;
    }
    let len = word.chars().count();
    candidates
        .into_iter()
        .filter(|c| {
            let other = c.chars().count();
            other <= len * MAX_SUGGESTION_LENGTH_RATIO && len <= other * MAX_SUGGESTION_LENGTH_RATIO
        })
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= SUGGESTION_THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod suggest_tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_lengths_are_not_compared() {
        assert_eq!(suggest("gatway", ["gateway", "api"]), Some("gateway"));
        assert_eq!(suggest("gatway", ["gateway-with-a-long-suffix"]), None);
    }

    #[test]
    fn too_many_candidates_give_no_suggestion() {
        let names: Vec<String> = (0..=MAX_SUGGESTION_CANDIDATES)
            .map(|i| format!("check-{i:05}"))
            .collect();
        let all = names.iter().map(String::as_str);
        assert_eq!(suggest("check-00001x", all.clone()), None);
        let at_max = all.take(MAX_SUGGESTION_CANDIDATES);
        assert!(suggest("check-00001x", at_max).is_some());
    }
}
