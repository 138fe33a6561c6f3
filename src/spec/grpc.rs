//! The `grpc:` section of a check, and compiling its `.proto` sources into a
//! descriptor pool. Sources are read when the YAML file is loaded and carried
//! inline, so a daemon needs no file system access to run the check.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use prost_reflect::DescriptorPool;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many messages of a server stream are read by default: the first answer
/// shows the method works.
pub const DEFAULT_MAX_MESSAGES: u32 = 1;

/// A gRPC call: the standard health check, or one method of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrpcSpec {
    /// Call `grpc.health.v1.Health/Check`; `SERVING` is up. With `service`, ask
    /// about that service rather than the server as a whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub health: bool,
    /// The fully qualified service, e.g. `payments.v1.Payments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The method of `service` to call: unary or server streaming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The `.proto` file defining `service`, relative to the YAML file. It and
    /// the files it imports are read at load time and carried in `proto_files`;
    /// afterwards `proto` holds the file's import name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    /// Ask the server for the service's description (gRPC server reflection, v1
    /// or v1alpha) instead of reading a `.proto` file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reflection: bool,
    /// Directories, relative to the YAML file, where imports are looked up
    /// after the directory of `proto`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_paths: Vec<String>,
    /// Import name → source of every file `proto` needs, filled in at load time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proto_files: BTreeMap<String, String>,
    /// The request message in proto3 JSON; field names as in the `.proto` file
    /// or in lowerCamelCase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// Request metadata (headers); names are lower-cased.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The `:authority` sent, when it is not the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Speak TLS (with ALPN `h2`); verified against the system's trust roots.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// Skip certificate verification. The certificate is still read, so
    /// `cert_valid_for` keeps working.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Server streaming: read at most this many messages. With 1, `response` is
    /// the first message; with more, the list of messages read.
    #[serde(default = "default_max_messages")]
    pub max_messages: u32,
}

fn default_max_messages() -> u32 {
    DEFAULT_MAX_MESSAGES
}

impl GrpcSpec {
    /// The service and method a call goes to.
    pub fn call_target(&self) -> (&str, &str) {
        if self.health {
            (HEALTH_SERVICE, "Check")
        } else {
            (
                self.service.as_deref().unwrap_or_default(),
                self.method.as_deref().unwrap_or_default(),
            )
        }
    }

    /// The descriptor pool for this check: the health protocol's own, or the
    /// compiled `proto_files`.
    pub fn pool(&self) -> Result<Arc<DescriptorPool>, String> {
        if self.health {
            let root = BTreeMap::from([(HEALTH_FILE.to_string(), HEALTH_PROTO.to_string())]);
            return compile(HEALTH_FILE, &root);
        }
        match &self.proto {
            Some(root) if !self.proto_files.is_empty() => compile(root, &self.proto_files),
            _ => Err("no `proto` given".into()),
        }
    }
}

pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const HEALTH_FILE: &str = "grpc/health/v1/health.proto";
const HEALTH_PROTO: &str = r#"syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
"#;

/// gRPC status code names, by number.
pub const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Reads `proto` (relative to `base_dir`) and everything it imports, except the
/// well-known types protox carries itself. Returns the root's import name and
/// the sources by import name.
pub fn read_sources(
    proto: &str,
    import_paths: &[String],
    base_dir: &Path,
) -> Result<(String, BTreeMap<String, String>), String> {
    let path = base_dir.join(proto);
    let dir = path.parent().unwrap_or(base_dir).to_path_buf();
    let mut includes = vec![dir];
    includes.extend(import_paths.iter().map(|p| base_dir.join(p)));
    let mut compiler = protox::Compiler::new(&includes).map_err(|e| e.to_string())?;
    compiler.include_imports(true);
    compiler.open_file(&path).map_err(|e| e.to_string())?;
    let mut files = BTreeMap::new();
    let mut root = None;
    for file in compiler.files() {
        let Some(p) = file.path() else { continue };
        let source = std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
        if !file.is_import() {
            root = Some(file.name().to_string());
        }
        files.insert(file.name().to_string(), source);
    }
    let root = root.ok_or_else(|| format!("`{proto}` was not compiled"))?;
    Ok((root, files))
}

type Cache = Mutex<HashMap<u64, Arc<DescriptorPool>>>;

/// Compiles `files` from memory, once: later calls with the same sources get the
/// same pool.
pub fn compile(
    root: &str,
    files: &BTreeMap<String, String>,
) -> Result<Arc<DescriptorPool>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut hasher);
    files.hash(&mut hasher);
    let key = hasher.finish();
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(pool) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(pool.clone());
    }
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(Sources(files.clone()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_file(root).map_err(|e| e.to_string())?;
    let pool = Arc::new(compiler.descriptor_pool());
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, pool.clone());
    Ok(pool)
}

struct Sources(BTreeMap<String, String>);

impl protox::file::FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.get(name) {
            Some(source) => protox::file::File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}
