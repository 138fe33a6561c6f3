//! Integration tests: the real binary against real servers on 127.0.0.1.
//! One test binary, a module per feature.

mod canonical;
mod cli;
mod client;
mod client_commands;
mod completions;
mod fake_daemon;
mod http_failures;
mod http_probe;
mod https_probe;
mod servers;
mod spec_errors;
mod spec_inputs;
mod spec_refs;
mod support;
