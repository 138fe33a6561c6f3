//! Forge: `.proto` files in, checks out. Loads protos with protox (no `protoc`),
//! samples a request for every method from its descriptors, and renders check
//! YAML or a standalone Rust crate through minijinja templates.

pub mod access;
pub mod load;
pub mod model;
pub mod rust;
pub mod sample;
pub mod templates;
pub mod values;
pub mod yaml;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use access::Skipped;
pub use load::{ProtoError, Protos, Warning};
pub use model::Filter;
pub use yaml::{Format, OutFile, ProtoRefs, Settings};

/// Default target of generated checks when none is given.
pub const DEFAULT_TARGET: &str = "localhost:50051";
pub const DEFAULT_INTERVAL: &str = "1m";
pub const DEFAULT_TIMEOUT: &str = "5s";

/// Checks `interval` and `timeout` as a check would: durations, the interval
/// at least the minimum, the timeout shorter than the interval.
pub fn check_timing(interval: &str, timeout: &str) -> Result<(), String> {
    let parse = |what: &str, v: &str| {
        v.parse::<crate::spec::Duration>()
            .map(|d| d.get())
            .map_err(|e| format!("{what} `{v}`: {e}"))
    };
    let i = parse("interval", interval)?;
    let t = parse("timeout", timeout)?;
    if i < crate::spec::MIN_INTERVAL {
        return Err(format!(
            "interval `{interval}` is shorter than the minimum of {}s",
            crate::spec::MIN_INTERVAL.as_secs()
        ));
    }
    if t.is_zero() || t >= i {
        return Err(format!(
            "timeout `{timeout}` must be above zero and shorter than the interval `{interval}`"
        ));
    }
    Ok(())
}

/// The body of `POST /api/v1/forge/generate`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiRequest {
    /// Import name (`payments/v1/payments.proto`) → source, for the root files
    /// and everything they import except the well-known types.
    pub files: BTreeMap<String, String>,
    /// The files to generate checks for; by default every file given.
    #[serde(default)]
    pub roots: Vec<String>,
    #[serde(default = "default_target")]
    pub target: String,
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default = "default_timeout")]
    pub timeout: String,
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    /// A health check per service (on by default).
    #[serde(default = "default_true")]
    pub health: bool,
    #[serde(default = "default_format")]
    pub format: Format,
    /// Where the protos will be, relative to the generated files; `grpc.proto`
    /// and `grpc.import_paths` point there.
    #[serde(default = "default_proto_dir")]
    pub proto_dir: String,
    /// Also methods that may change data; by default they are skipped and
    /// listed in `skipped`.
    #[serde(default)]
    pub include_writes: bool,
    /// Request values, as `--set` takes them: `[METHOD:]FIELD.PATH=VALUE`.
    #[serde(default)]
    pub set: Vec<String>,
}

fn default_target() -> String {
    DEFAULT_TARGET.into()
}
fn default_interval() -> String {
    DEFAULT_INTERVAL.into()
}
fn default_timeout() -> String {
    DEFAULT_TIMEOUT.into()
}
fn default_true() -> bool {
    true
}
fn default_format() -> Format {
    Format::Yaml
}
fn default_proto_dir() -> String {
    ".".into()
}

/// The answer of `POST /api/v1/forge/generate`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiResponse {
    pub files: Vec<OutFile>,
    pub warnings: Vec<Warning>,
    /// Methods left out because they may change data.
    pub skipped: Vec<Skipped>,
    /// Methods generated although they may change data (`include_writes`).
    pub writes: Vec<String>,
}

/// Why an API request produced nothing.
#[derive(Debug)]
pub enum ApiFailure {
    /// The request itself is wrong (bad options, nothing to generate).
    Invalid(String),
    /// The protos do not compile.
    Proto(ProtoError),
    /// A template failed: a bug, or nothing the caller can fix.
    Internal(String),
}

/// Limits of the API: how many files and how large in total.
pub const MAX_API_FILES: usize = 500;
pub const MAX_API_BYTES: usize = 8 * 1024 * 1024;

/// The most checks (methods) one generate writes: a large API has a few hundred
/// methods; beyond this the output is too large to review, and building each
/// method's sample request costs time and memory per field.
pub const MAX_CHECKS: usize = 1000;

/// The most bytes of files one generate writes or answers with, together: far
/// above what [`MAX_CHECKS`] ordinary methods give, well below what a hostile
/// schema with thousands of wide messages would.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// Refuses services with more than [`MAX_CHECKS`] methods in all, before their
/// files are rendered.
pub fn check_count(services: &[model::Service]) -> Result<(), String> {
    let n: usize = services.iter().map(|s| s.methods.len()).sum();
    if n > MAX_CHECKS {
        return Err(format!(
            "{n} methods would become checks; at most {MAX_CHECKS} per run: pick some with --service or --method (`services`, `methods` in the API)"
        ));
    }
    Ok(())
}

/// Refuses output of more than [`MAX_OUTPUT_BYTES`] in all.
pub fn check_output(files: &[OutFile]) -> Result<(), String> {
    let n: usize = files.iter().map(|f| f.path.len() + f.content.len()).sum();
    if n > MAX_OUTPUT_BYTES {
        return Err(format!(
            "the generated files add up to {n} bytes; at most {MAX_OUTPUT_BYTES} per run: pick fewer services or methods with --service or --method (`services`, `methods` in the API)"
        ));
    }
    Ok(())
}

/// Generates checks from protos sent in memory, as the daemon's endpoint does.
pub fn generate_api(req: &ApiRequest) -> Result<ApiResponse, ApiFailure> {
    if req.files.is_empty() {
        return Err(ApiFailure::Invalid(
            "`files` is empty; send the .proto sources as {\"name.proto\": \"source\"}".into(),
        ));
    }
    if req.files.len() > MAX_API_FILES {
        return Err(ApiFailure::Invalid(format!(
            "at most {MAX_API_FILES} files"
        )));
    }
    let total: usize = req.files.values().map(String::len).sum();
    if total > MAX_API_BYTES {
        return Err(ApiFailure::Invalid(format!(
            "the sources add up to {total} bytes; at most {MAX_API_BYTES}"
        )));
    }
    for name in req.files.keys() {
        if name.starts_with('/')
            || name.split('/').any(|p| p == ".." || p.is_empty())
            || name
                .chars()
                .any(|c| c.is_control() || c == '\\' || c == ':')
        {
            return Err(ApiFailure::Invalid(format!(
                "{} is not a relative import name such as `payments/v1/payments.proto` (`/`-separated, without `..`, `\\`, `:` or control characters)",
                serde_json::Value::from(name.as_str())
            )));
        }
    }
    let roots: Vec<String> = if req.roots.is_empty() {
        req.files.keys().cloned().collect()
    } else {
        for r in &req.roots {
            if !req.files.contains_key(r) {
                return Err(ApiFailure::Invalid(format!(
                    "root `{r}` is not one of `files`"
                )));
            }
        }
        let mut roots: Vec<String> = Vec::new();
        for r in &req.roots {
            if !roots.contains(r) {
                roots.push(r.clone());
            }
        }
        roots
    };
    check_timing(&req.interval, &req.timeout).map_err(ApiFailure::Invalid)?;
    if crate::spec::split_host_port(&req.target).is_none() {
        return Err(ApiFailure::Invalid(format!(
            "target `{}` is not `host:port`",
            req.target
        )));
    }
    let protos = load::from_memory(&roots, &req.files).map_err(ApiFailure::Proto)?;
    let warnings = protos.warnings();
    let filter = Filter {
        services: req.services.clone(),
        methods: req.methods.clone(),
        include_writes: req.include_writes,
    };
    if req.set.len() > values::MAX_VALUES {
        return Err(ApiFailure::Invalid(format!(
            "at most {} values in `set`",
            values::MAX_VALUES
        )));
    }
    let values = values::Values::new(&[], &req.set).map_err(ApiFailure::Invalid)?;
    let services = model::build(&protos, &filter, &values).map_err(ApiFailure::Invalid)?;
    let skipped = model::skipped(&services);
    let writes = model::writes(&services)
        .iter()
        .map(|m| m.path.clone())
        .collect();
    let settings = Settings {
        target: req.target.clone(),
        schedule: req.interval.clone(),
        timeout: req.timeout.clone(),
        tls: req.tls,
        health: req.health && filter.methods.is_empty(),
    };
    let services = keep_nonempty(services, &settings);
    if services.is_empty() {
        return Err(ApiFailure::Invalid(nothing_to_generate(&skipped)));
    }
    check_count(&services).map_err(ApiFailure::Invalid)?;
    let dir = req.proto_dir.trim_end_matches('/');
    let join = |name: &str| {
        if dir.is_empty() || dir == "." {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    };
    let refs = ProtoRefs {
        protos: protos.roots.iter().map(|r| (r.clone(), join(r))).collect(),
        import_paths: vec![if dir.is_empty() {
            ".".into()
        } else {
            dir.to_string()
        }],
    };
    let templates = templates::Templates::new(None).map_err(ApiFailure::Internal)?;
    let files = yaml::render(&services, &settings, &refs, req.format, true, &templates)
        .map_err(ApiFailure::Internal)?;
    check_output(&files).map_err(ApiFailure::Invalid)?;
    Ok(ApiResponse {
        files,
        warnings,
        skipped,
        writes,
    })
}

/// Why nothing was generated, and what to do when only writes were left out.
pub fn nothing_to_generate(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        "nothing to generate: no service with a unary or server-streaming method".into()
    } else {
        format!(
            "nothing to generate: every method that can be checked may change data ({}); include them with --include-writes (`include_writes` in the API) if calling them on every run is safe",
            skipped
                .iter()
                .map(|s| format!("`{}`", s.method))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Services with something to generate: methods, or a health check.
pub fn keep_nonempty(services: Vec<model::Service>, settings: &Settings) -> Vec<model::Service> {
    services
        .into_iter()
        .filter(|s| settings.health || !s.methods.is_empty())
        .collect()
}
