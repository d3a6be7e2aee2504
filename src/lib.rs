#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub use checktls_batch as batch;
pub use checktls_dns as dns;
pub use checktls_score as score;
pub use checktls_smtp as smtp;
pub use checktls_tls as tls;

mod checker;
mod clock;
mod error;
pub mod executor;
mod fetch;
pub mod fleet;
mod judge;
pub mod mailer;
pub mod options;
pub mod output;
mod plan;
mod politeness;
mod probe;
pub mod progress;
pub mod report;
pub mod target;
#[cfg(feature = "web")]
pub mod web;

pub use checker::{CacheSizes, Checker, CheckerBuilder, Run};
pub use error::Error;
pub use options::ReceiverOptions;
pub use report::ReceiverReport;
pub use target::Target;
