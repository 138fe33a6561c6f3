//! The notifier: sends the outbox's due rows to their channels, a few at a time,
//! and records each outcome: sent, retried later with backoff, or failed for good.

pub mod message;
pub mod retry;
pub mod webhook;
