pub mod apply;
pub mod metrics;
pub mod notify;
pub mod store;
