//! What the templates see: the services and methods of the loaded protos, with
//! their comments, the checks' names and sample requests, and the Rust names
//! prost and tonic give them.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{MessageDescriptor, ServiceDescriptor};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::access::{Skipped, access};
use super::load::{Protos, comment, unsupported};
use super::sample;
use super::values::Values;

/// The longest resource name, as `validate` enforces (a DNS label).
pub const MAX_NAME_LEN: usize = 63;

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub full_name: String,
    pub name: String,
    pub package: String,
    /// Import name of the file that defines it.
    pub file: String,
    /// Lowercase, `-`-separated, unique among the loaded services: file and check names start with it.
    pub slug: String,
    pub comment: Vec<String>,
    /// The name of its health check.
    pub health_check: String,
    pub methods: Vec<Method>,
    /// Methods left out because they may change data (see `access`).
    pub skipped: Vec<Skipped>,
    pub rust: RustService,
}

#[derive(Debug, Clone, Serialize)]
pub struct Method {
    pub name: String,
    /// `package.Service/Method`.
    pub path: String,
    /// `unary` or `server_streaming`.
    pub streaming: &'static str,
    pub check_name: String,
    pub comment: Vec<String>,
    pub input_type: String,
    pub output_type: String,
    /// The sample request in proto3 JSON.
    pub request: Value,
    /// The same request as a YAML block (two-space indents from column 0, with
    /// the fields' comments), or `{}` for an empty message.
    pub request_yaml: String,
    /// Whether the method only reads; a check of one that does not is there
    /// only because writes were asked for.
    pub reads: bool,
    /// What decided `reads`, for people.
    pub access: String,
    /// Paths (`amount.units`) of the request's values that were sampled, not
    /// given: the YAML marks them as placeholders.
    pub placeholders: Vec<String>,
    /// How `--set METHOD:…` names this method: its short name, or its path
    /// when another loaded service has a method of the same name.
    pub set_name: String,
    pub rust: RustMethod,
}

#[derive(Debug, Clone, Serialize)]
pub struct RustService {
    /// Path of the package's module, e.g. `crate::proto::acme::payments::v1`.
    pub module: String,
    /// `payments_client::PaymentsClient`, relative to `module`.
    pub client: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RustMethod {
    pub func: String,
    /// The generated crate's function for the check: its name as an identifier.
    pub check_fn: String,
    /// Type paths from the crate root, e.g. `crate::proto::acme::payments::v1::GetStatusRequest`.
    pub input: String,
    pub output: String,
}

/// Which services and methods to generate for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Full (`payments.v1.Payments`) or short (`Payments`) service names.
    pub services: Vec<String>,
    /// Method names, or `Service/Method`.
    pub methods: Vec<String>,
    /// Also methods that may change data (see `access`); by default they are
    /// skipped, and naming one in `methods` is an error.
    pub include_writes: bool,
}

/// The services of the root files, in file then definition order, with the
/// methods that can be checked and pass `filter`; `values` replace sampled
/// request values.
pub fn build(protos: &Protos, filter: &Filter, values: &Values) -> Result<Vec<Service>, String> {
    let all: Vec<ServiceDescriptor> = protos
        .root_files()
        .iter()
        .flat_map(|f| f.services().collect::<Vec<_>>())
        .collect();
    // Slugs come from every loaded service, so a filter never renames a check.
    let mut short_count: BTreeMap<String, usize> = BTreeMap::new();
    for s in &all {
        *short_count.entry(kebab(s.name())).or_default() += 1;
    }
    let mut used = BTreeSet::new();
    let mut slugs = BTreeSet::new();
    let mut out = Vec::new();
    for s in &all {
        let short = kebab(s.name());
        let slug = if short_count[&short] > 1 {
            kebab(s.full_name())
        } else {
            short
        };
        // A name of symbols only has no words; the check names still need one.
        let slug = if slug.is_empty() {
            "service".to_string()
        } else {
            slug
        };
        // Different names can give the same words (`a.b.C`, `a_b.C`), and file
        // names have a length limit: slugs are made unique and short as check
        // names are.
        let slug = unique(&slug, s.full_name(), &mut slugs);
        let health_check = unique(&format!("{slug}-health"), s.full_name(), &mut used);
        let mut methods = Vec::new();
        for m in s.methods() {
            let method_words = match kebab(m.name()) {
                w if w.is_empty() => "method".to_string(),
                w => w,
            };
            let check_name = unique(
                &format!("{slug}-{method_words}"),
                &format!("{}/{}", s.full_name(), m.name()),
                &mut used,
            );
            if unsupported(&m).is_some() {
                continue;
            }
            let sampled = sample::message(&m.input(), &s.parent_file());
            let path = format!("{}/{}", s.full_name(), m.name());
            let node = values.apply(&path, &m.input(), sampled)?;
            let placeholders = node.placeholders();
            let access = access(&m);
            methods.push(Method {
                name: m.name().to_string(),
                path,
                streaming: if m.is_server_streaming() {
                    "server_streaming"
                } else {
                    "unary"
                },
                check_name: check_name.clone(),
                comment: comment(&s.parent_file(), m.path()),
                input_type: m.input().full_name().to_string(),
                output_type: m.output().full_name().to_string(),
                request: node.to_json(),
                request_yaml: super::yaml::block(&node),
                reads: access.reads,
                access: access.reason,
                placeholders,
                set_name: m.name().to_string(),
                rust: RustMethod {
                    func: rust_snake(m.name()),
                    check_fn: sanitize(&check_name.replace('-', "_")),
                    input: rust_type(&m.input()),
                    output: rust_type(&m.output()),
                },
            });
        }
        out.push(Service {
            full_name: s.full_name().to_string(),
            name: s.name().to_string(),
            package: s.package_name().to_string(),
            file: s.parent_file().name().to_string(),
            slug,
            comment: comment(&s.parent_file(), s.path()),
            health_check,
            methods,
            skipped: Vec::new(),
            rust: RustService {
                module: module_path(s.package_name()),
                client: {
                    // tonic: the module from prost's type name, split before
                    // every capital; the client is that name with `Client`.
                    let name = rust_camel(s.name());
                    format!("{}_client::{name}Client", naive_snake(&name))
                },
            },
        });
    }
    let mut short: BTreeMap<String, usize> = BTreeMap::new();
    for m in out.iter().flat_map(|s| s.methods.iter()) {
        *short.entry(m.name.clone()).or_default() += 1;
    }
    for m in out.iter_mut().flat_map(|s| s.methods.iter_mut()) {
        if short[&m.name] > 1 {
            m.set_name = m.path.clone();
        }
    }
    let known: Vec<&str> = out
        .iter()
        .flat_map(|s| s.methods.iter().map(|m| m.path.as_str()))
        .collect();
    values.check_methods(&known)?;
    let mut out = apply_filter(out, filter)?;
    if !filter.include_writes {
        for s in &mut out {
            let (reads, writes): (Vec<Method>, Vec<Method>) = std::mem::take(&mut s.methods)
                .into_iter()
                .partition(|m| m.reads);
            s.methods = reads;
            s.skipped = writes
                .into_iter()
                .map(|m| Skipped {
                    method: m.path,
                    reason: m.access,
                })
                .collect();
        }
    }
    Ok(out)
}

/// The methods of `services` that are generated although they may change data.
pub fn writes(services: &[Service]) -> Vec<&Method> {
    services
        .iter()
        .flat_map(|s| s.methods.iter())
        .filter(|m| !m.reads)
        .collect()
}

/// Every method skipped as a possible write, in order.
pub fn skipped(services: &[Service]) -> Vec<Skipped> {
    services.iter().flat_map(|s| s.skipped.clone()).collect()
}

fn apply_filter(services: Vec<Service>, filter: &Filter) -> Result<Vec<Service>, String> {
    let mut services = services;
    if !filter.services.is_empty() {
        for wanted in &filter.services {
            if !services
                .iter()
                .any(|s| &s.full_name == wanted || &s.name == wanted)
            {
                let names: Vec<&str> = services.iter().map(|s| s.full_name.as_str()).collect();
                return Err(format!(
                    "no service `{wanted}` in the protos; they define {}",
                    list(&names)
                ));
            }
        }
        services.retain(|s| {
            filter
                .services
                .iter()
                .any(|w| *w == s.full_name || *w == s.name)
        });
    }
    if !filter.methods.is_empty() {
        for wanted in &filter.methods {
            let found = services.iter().any(|s| {
                s.methods.iter().any(|m| {
                    &m.name == wanted
                        || m.path.ends_with(&format!(".{wanted}"))
                        || &m.path == wanted
                })
            });
            if !found {
                let names: Vec<&str> = services
                    .iter()
                    .flat_map(|s| s.methods.iter().map(|m| m.path.as_str()))
                    .collect();
                return Err(format!(
                    "no method `{wanted}` that can be checked in the services chosen; they have {}",
                    list(&names)
                ));
            }
        }
        if !filter.include_writes {
            let named_writes: Vec<String> = services
                .iter()
                .flat_map(|s| s.methods.iter())
                .filter(|m| !m.reads && filter.methods.iter().any(|w| names_method(w, m)))
                .map(|m| format!("`{}` ({})", m.path, m.access))
                .collect();
            if !named_writes.is_empty() {
                return Err(format!(
                    "--method names {} {}; a check calls its method on every run, so pass --include-writes to generate it anyway",
                    if named_writes.len() == 1 {
                        "a method that may change data:"
                    } else {
                        "methods that may change data:"
                    },
                    named_writes.join(", ")
                ));
            }
        }
        for s in &mut services {
            s.methods
                .retain(|m| filter.methods.iter().any(|w| names_method(w, m)));
        }
        services.retain(|s| !s.methods.is_empty());
    }
    Ok(services)
}

/// Whether `wanted` (`GetStatus`, `Payments/GetStatus` or the full path) names `m`.
fn names_method(wanted: &str, m: &Method) -> bool {
    *wanted == m.name || m.path.ends_with(&format!(".{wanted}")) || *wanted == m.path
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `name` if it is a valid resource name not used yet; otherwise a shortened
/// form with a hash of `identity`, which is stable across runs.
fn unique(name: &str, identity: &str, used: &mut BTreeSet<String>) -> String {
    let mut out = name.to_string();
    if out.len() > MAX_NAME_LEN || used.contains(&out) {
        let hash = hex::encode(&Sha256::digest(identity.as_bytes())[..4]);
        let keep = MAX_NAME_LEN - hash.len() - 1;
        let mut head: String = out.chars().take(keep).collect();
        while head.ends_with('-') {
            head.pop();
        }
        out = format!("{head}-{hash}");
    }
    used.insert(out.clone());
    out
}

/// `GetHTTPStatus` → `get-http-status`; `acme.payments.v1` → `acme-payments-v1`.
pub fn kebab(s: &str) -> String {
    words(s).join("-")
}

/// `GetStatus` → `get_status`, as prost names functions and modules.
pub fn snake(s: &str) -> String {
    words(s).join("_")
}

/// `get_status` → `GetStatus`, as prost names types.
pub fn camel(s: &str) -> String {
    words(s)
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The lower-case words of a name: split at `_`, `.` and the like, and before capitals.
pub(crate) fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// `GetS3URL` → `get_s3url`, `Move` → `r#move`: a function or module name as
/// prost-build gives it (heck's snake case, then made a valid identifier).
pub fn rust_snake(s: &str) -> String {
    sanitize(&heck::ToSnakeCase::to_snake_case(s))
}

/// `get_status` → `GetStatus`: a type name as prost-build gives it.
pub fn rust_camel(s: &str) -> String {
    sanitize(&heck::ToUpperCamelCase::to_upper_camel_case(s))
}

/// tonic's client module stem: lower case, `_` before every capital after the first.
fn naive_snake(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c.to_ascii_lowercase());
        if chars.peek().is_some_and(|n| n.is_uppercase()) {
            out.push('_');
        }
    }
    out
}

/// A valid Rust identifier as prost-build makes one: keywords become raw
/// identifiers, those that cannot be raw get a `_` after, and a leading
/// digit a `_` before.
pub fn sanitize(ident: &str) -> String {
    const RAW: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract",
        "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
        "virtual", "yield", "async", "await", "try", "gen",
    ];
    if RAW.contains(&ident) {
        format!("r#{ident}")
    } else if matches!(ident, "_" | "super" | "self" | "Self" | "extern" | "crate") {
        format!("{ident}_")
    } else if ident.starts_with(|c: char| c.is_numeric()) {
        format!("_{ident}")
    } else {
        ident.to_string()
    }
}

/// `acme.type.v1` → `crate::proto::acme::r#type::v1`.
fn module_path(package: &str) -> String {
    let mut parts = vec!["crate".to_string(), "proto".to_string()];
    parts.extend(package.split('.').filter(|p| !p.is_empty()).map(rust_snake));
    parts.join("::")
}

/// The Rust path prost gives a message, from the crate root of a generated crate.
fn rust_type(m: &MessageDescriptor) -> String {
    // prost-build's own mapping of the well-known types.
    let mapped = match m.full_name() {
        "google.protobuf.Empty" => Some("()"),
        "google.protobuf.BoolValue" => Some("bool"),
        "google.protobuf.BytesValue" => Some("::prost::alloc::vec::Vec<u8>"),
        "google.protobuf.DoubleValue" => Some("f64"),
        "google.protobuf.FloatValue" => Some("f32"),
        "google.protobuf.Int32Value" => Some("i32"),
        "google.protobuf.Int64Value" => Some("i64"),
        "google.protobuf.StringValue" => Some("::prost::alloc::string::String"),
        "google.protobuf.UInt32Value" => Some("u32"),
        "google.protobuf.UInt64Value" => Some("u64"),
        _ => None,
    };
    if let Some(t) = mapped {
        return t.into();
    }
    match m.full_name() {
        name if name.starts_with("google.protobuf.") => {
            return format!("::prost_types::{}", m.name());
        }
        _ => {}
    }
    let package = m.package_name();
    let rest = m
        .full_name()
        .strip_prefix(package)
        .unwrap_or(m.full_name())
        .trim_start_matches('.');
    let parts: Vec<&str> = rest.split('.').collect();
    let mut path = vec!["crate".to_string(), "proto".to_string()];
    path.extend(package.split('.').filter(|p| !p.is_empty()).map(rust_snake));
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            path.push(rust_camel(p));
        } else {
            path.push(rust_snake(p));
        }
    }
    path.join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words_like_prost() {
        assert_eq!(kebab("GetHTTPStatus"), "get-http-status");
        assert_eq!(kebab("acme.payments.v1"), "acme-payments-v1");
        assert_eq!(snake("GetStatus"), "get_status");
        assert_eq!(snake("ListV2Items"), "list_v2_items");
        assert_eq!(camel("create_payment_request"), "CreatePaymentRequest");
    }

    fn services_of(files: &[(&str, &str)]) -> Vec<Service> {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let roots: Vec<String> = files.keys().cloned().collect();
        let protos = crate::forge::load::from_memory(&roots, &files).expect("compiles");
        build(
            &protos,
            &Filter::default(),
            &crate::forge::values::Values::default(),
        )
        .expect("builds")
    }

    #[test]
    fn slugs_are_unique_and_short() {
        let service = |pkg: &str, name: &str| {
            format!(
                "syntax = \"proto3\"; package {pkg}; message M {{}}\n\
                 service {name} {{ rpc Get(M) returns (M); }}"
            )
        };
        let long = "VeryLong".repeat(40);
        let services = services_of(&[
            ("a.proto", &service("a.b", "C")),
            ("b.proto", &service("a_b", "C")),
            ("c.proto", &service("x", &long)),
        ]);
        let slugs: Vec<&str> = services.iter().map(|s| s.slug.as_str()).collect();
        assert_eq!(slugs[0], "a-b-c");
        assert_ne!(slugs[0], slugs[1]);
        assert!(slugs[1].starts_with("a-b-c-"), "{slugs:?}");
        assert!(slugs[2].len() <= MAX_NAME_LEN, "{slugs:?}");
        for s in &services {
            assert!(s.health_check.len() <= MAX_NAME_LEN);
        }
    }

    #[test]
    fn rust_names_follow_prost_and_tonic() {
        assert_eq!(rust_snake("GetS3URL"), "get_s3url");
        assert_eq!(rust_snake("Move"), "r#move");
        assert_eq!(rust_snake("type"), "r#type");
        assert_eq!(rust_snake("self"), "self_");
        assert_eq!(rust_camel("HTTPGateway"), "HttpGateway");
        assert_eq!(naive_snake("HttpGateway"), "http_gateway");
        assert_eq!(sanitize("1e_5"), "_1e_5");
        assert_eq!(
            module_path("acme.type.v1"),
            "crate::proto::acme::r#type::v1"
        );
    }

    #[test]
    fn long_or_taken_names_get_a_stable_hash() {
        let mut used = BTreeSet::new();
        let long = "x".repeat(80);
        let a = unique(&long, "svc/A", &mut used);
        assert!(a.len() <= MAX_NAME_LEN, "{a}");
        let b = unique("payments-get", "one", &mut used);
        let c = unique("payments-get", "two", &mut used);
        assert_eq!(b, "payments-get");
        assert_ne!(b, c);
        assert_eq!(c, unique("payments-get", "two", &mut BTreeSet::from([b])));
    }
}
