//! Integration tests: the real binary against real servers on 127.0.0.1.
//! One test binary, a module per feature.

// A failed unwrap in a test helper is a test failure with a clear location.
#![allow(clippy::unwrap_used)]

mod audit;
mod audit_cli;
mod canonical;
mod caps;
mod caps_counts;
mod cli;
mod client;
mod client_commands;
mod completions;
mod completions_live;
mod daemon_alerts;
mod daemon_api;
mod daemon_apply;
mod daemon_cli;
mod daemon_grpc;
mod daemon_lifecycle;
mod daemon_rollups;
mod daemon_runs;
mod daemon_status_pages_apply;
mod daemon_support;
mod daemon_watch;
mod fake_daemon;
mod forge;
mod forge_api;
mod forge_interactive;
mod forge_rust;
mod forge_server;
mod forge_writes;
mod fuzz_proto;
mod fuzz_spec;
mod fuzz_template;
mod graphql_probe;
mod grpc_probe;
mod grpc_server;
mod http_failures;
mod http_probe;
mod https_probe;
mod incident_updates;
mod man;
mod metrics;
mod notify;
mod openapi;
mod packaging;
mod readme;
mod report;
mod rollups;
mod schema;
mod secrets;
mod secrets_sent;
mod servers;
mod spec_bounds;
mod spec_errors;
mod spec_hostile;
mod spec_inputs;
mod spec_probe_errors;
mod spec_refs;
mod spec_slo;
mod spec_status_page;
mod status_browser;
mod status_pages;
mod support;
mod tcp_probe;
