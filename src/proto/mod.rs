//! `.proto` schemas, shared by the spec (a `grpc` check's `proto` or
//! `descriptor_set`), the probes (the pool a call is described by) and Forge
//! (code and checks from protos): the guarded protox compiler, descriptor-set
//! decoding and the one bounded cache of descriptor pools.
//!
//! A leaf: it uses nothing else of the crate, so every module may use it.

mod cache;
mod compile;
mod error;
mod guard;

pub use cache::{Key, KeyBuilder, MAX_CACHED_POOLS, Pools};
pub use compile::{
    MAX_DESCRIPTOR_SET_BYTES, compile, compile_in, decode_set, decode_set_in, read_descriptor_set,
    read_sources,
};
pub use error::{ProtoError, error};
pub use guard::{
    Guarded, MAX_FILE_BYTES, MAX_NESTING, MAX_PROTO_FILES, PROTO_STACK, Refusal, check_nesting,
    guarded_compiler, on_proto_stack, read_under, refused, too_deep, too_many_files,
    too_many_given,
};
