//! The `grpc:` section of a check, and compiling its `.proto` sources into a
//! descriptor pool. Sources are read when the YAML file is loaded and carried
//! inline, so a daemon needs no file system access to run the check.

use std::collections::BTreeMap;
use std::sync::Arc;

use prost_reflect::DescriptorPool;

use super::check::ClientTls;
use crate::proto;
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
        let compile = |root: &str, files: &BTreeMap<String, String>| {
            proto::compile(&[root.to_string()], files).map_err(|e| e.to_string())
        };
        if self.health {
            let root = BTreeMap::from([(HEALTH_FILE.to_string(), HEALTH_PROTO.to_string())]);
            return compile(HEALTH_FILE, &root);
        }
        if let Some(encoded) = &self.descriptor_set_base64 {
            return proto::decode_set(encoded);
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
