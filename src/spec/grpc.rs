//! The `grpc:` section of a check, and compiling its `.proto` sources into a
//! descriptor pool. Sources are read when the YAML file is loaded and carried
//! inline, so a daemon needs no file system access to run the check.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use prost_reflect::DescriptorPool;

use super::check::ClientTls;
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
    /// A serialized `google.protobuf.FileDescriptorSet` describing `service`, as
    /// written by `protoc --include_imports -o FILE` or `buf build -o FILE`,
    /// relative to the YAML file. Read at load time and carried in
    /// `descriptor_set_base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_set: Option<String>,
    /// The descriptor set, base64-encoded: filled in from `descriptor_set` at
    /// load time, or given inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_set_base64: Option<String>,
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
    /// Speak TLS (with ALPN `h2`): `true` trusts the system's roots; a mapping
    /// sets what to trust (`ca_file`, `insecure`) and a client certificate to
    /// present (`client_cert_file`, `client_key_file`).
    #[serde(
        default,
        with = "super::check::client_tls",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "super::check::TlsSwitchSchema")]
    pub tls: Option<ClientTls>,
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

    /// The descriptor pool for this check: the health protocol's own, the
    /// compiled `proto_files`, or the decoded descriptor set.
    pub fn pool(&self) -> Result<Arc<DescriptorPool>, String> {
        if self.health {
            let root = BTreeMap::from([(HEALTH_FILE.to_string(), HEALTH_PROTO.to_string())]);
            return compile(HEALTH_FILE, &root);
        }
        if let Some(encoded) = &self.descriptor_set_base64 {
            return decode_set(encoded);
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
    crate::forge::load::on_proto_stack(|| read_sources_here(proto, import_paths, base_dir))?
}

fn read_sources_here(
    proto: &str,
    import_paths: &[String],
    base_dir: &Path,
) -> Result<(String, BTreeMap<String, String>), String> {
    let path = base_dir.join(proto);
    let dir = path.parent().unwrap_or(base_dir).to_path_buf();
    let mut includes = vec![dir];
    includes.extend(import_paths.iter().map(|p| base_dir.join(p)));
    // Sources nested too deeply are refused before protox recurses into them.
    let mut chain = protox::file::ChainFileResolver::new();
    for dir in &includes {
        chain.add(protox::file::IncludeFileResolver::new(dir.clone()));
    }
    chain.add(protox::file::GoogleFileResolver::new());
    let dirs = includes.clone();
    let guarded = crate::forge::load::Guarded::new(chain, move |name| {
        crate::forge::load::read_under(&dirs, name)
    });
    let refusal = guarded.refusal();
    let mut compiler = protox::Compiler::with_file_resolver(guarded);
    compiler.include_imports(true);
    let texts = includes.clone();
    compiler.open_file(&path).map_err(|e| {
        if let Some(e) = crate::forge::load::refused(&refusal) {
            return e.to_string();
        }
        crate::forge::load::error(e, &|n: &str| n.to_string(), &|n| {
            crate::forge::load::read_under(&texts, n)
        })
        .to_string()
    })?;
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

/// Compiled and decoded pools, by a hash of their sources: one per distinct
/// schema a process has seen.
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The most a descriptor set file may weigh: far above any real API's.
pub const MAX_DESCRIPTOR_SET_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a descriptor set file (relative to `base_dir`) and returns it base64-encoded.
pub fn read_descriptor_set(path: &str, base_dir: &Path) -> Result<String, String> {
    let full = base_dir.join(path);
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read `{}`: {e}", full.display());
    let size = std::fs::metadata(&full).map_err(|e| cannot(&e))?.len();
    if size > MAX_DESCRIPTOR_SET_BYTES {
        return Err(format!(
            "`{}` is {size} bytes, more than the limit of {MAX_DESCRIPTOR_SET_BYTES}",
            full.display()
        ));
    }
    let bytes = std::fs::read(&full).map_err(|e| cannot(&e))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Decodes a base64-encoded `FileDescriptorSet`, once per distinct content.
pub fn decode_set(encoded: &str) -> Result<Arc<DescriptorPool>, String> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    "descriptor set".hash(&mut hasher);
    encoded.hash(&mut hasher);
    let key = hasher.finish();
    if let Some(pool) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(pool.clone());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("not valid base64: {e}"))?;
    let pool = DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
        let e = e.to_string();
        if e.contains("has not been added") || e.contains("not found") {
            format!(
                "not a complete FileDescriptorSet: {e} (write it with `protoc --include_imports`)"
            )
        } else {
            format!("not a FileDescriptorSet: {e}")
        }
    })?;
    let pool = Arc::new(pool);
    cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, pool.clone());
    Ok(pool)
}

/// Compiles `files` from memory, once: later calls with the same sources get the
/// same pool.
pub fn compile(
    root: &str,
    files: &BTreeMap<String, String>,
) -> Result<Arc<DescriptorPool>, String> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut hasher);
    files.hash(&mut hasher);
    let key = hasher.finish();
    let cache = cache();
    if let Some(pool) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(pool.clone());
    }
    if files.len() > crate::forge::load::MAX_PROTO_FILES {
        return Err(format!(
            "{} .proto files given; at most {}, imports included (split the schema or import fewer files)",
            files.len(),
            crate::forge::load::MAX_PROTO_FILES
        ));
    }
    for (name, source) in files {
        crate::forge::load::check_nesting(name, source).map_err(|e| e.to_string())?;
    }
    let pool = crate::forge::load::on_proto_stack(|| compile_here(root, files))??;
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, pool.clone());
    Ok(pool)
}

fn compile_here(
    root: &str,
    files: &BTreeMap<String, String>,
) -> Result<Arc<DescriptorPool>, String> {
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(Sources(files.clone()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_file(root).map_err(|e| {
        crate::forge::load::error(e, &|n: &str| n.to_string(), &|n| files.get(n).cloned())
            .to_string()
    })?;
    Ok(Arc::new(compiler.descriptor_pool()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_sources_nested_too_deep_are_refused() {
        let source = format!(
            "syntax = \"proto2\";\nimport \"google/protobuf/descriptor.proto\";\n\
             message N {{ optional N a = 1; }} extend google.protobuf.MessageOptions {{ optional N my = 50000; }}\n\
             message R {{ option (my) = {}{}; }}\n",
            "{ a ".repeat(2000),
            "} ".repeat(2000)
        );
        let files = BTreeMap::from([("deep.proto".to_string(), source)]);
        let err = compile("deep.proto", &files).unwrap_err();
        assert!(
            err.starts_with("deep.proto:4:") && err.contains("nest more than 64"),
            "{err}"
        );
    }
}
