//! uptimeping: uptime checks kept as YAML in git, run once from the command line
//! or continuously by a daemon.

pub mod cli;
pub mod daemon;
pub mod forge;
pub mod incident;
#[allow(unsafe_code)]
pub mod memory;
pub mod model;
pub mod private_file;
pub mod probe;
pub mod proto;
pub mod rollup;
pub mod spec;
pub mod tls;

pub use cli::run;
