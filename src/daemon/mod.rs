pub mod apply;
pub mod metrics;
pub mod store;
