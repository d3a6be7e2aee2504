//! The CheckTLS Batch language (being built; see the crate's issue).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
