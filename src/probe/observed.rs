//! What one attempt observed, whatever the check type: HTTP and GraphQL fill in a
//! status and headers, TCP the bytes the peer sent and the connect time.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::expect::Failure;

#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The HTTP status; `None` for protocols without one.
    pub status: Option<u16>,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The body was longer than the cap and was cut there.
    pub truncated: bool,
    pub cert_not_after: Option<DateTime<Utc>>,
    /// Time to establish the connection, when measured apart from the total.
    pub connect: Option<Duration>,
    /// Reading stopped at the check's timeout, before what was expected arrived.
    pub timed_out: bool,
    /// Expectations found not to hold while the attempt ran (a second request's
    /// answer, for example), judged together with the rest.
    pub failures: Vec<Failure>,
    /// gRPC: how the call ended; the response message is the body, as JSON.
    pub grpc: Option<GrpcCall>,
}

#[derive(Debug, Clone, Default)]
pub struct GrpcCall {
    /// The status code's name, e.g. `NOT_FOUND`.
    pub code: &'static str,
    pub message: String,
    /// The call was the standard health check.
    pub health: bool,
}
