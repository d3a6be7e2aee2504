//! The CheckTLS Batch language: many receiver tests described in XML, run, rolled up,
//! filtered and delivered. A Batch written for CheckTLS runs here unchanged.
//!
//! ```text
//!   pure (no I/O, no clock; builds without features; fuzzed):
//!     parse(xml) ──► Batch { targets (DEFAULT applied), total, deliveries }   line:column errors
//!     field::Field   result fields by name, for Suppress and alerts
//!
//!     eval::BatchResult::evaluate(&batch, outcomes) ─► suppression, Total, Status, delivers()
//!     format::render(&result, Format, &Selection) ─► text | csv | pager | pager-html | xml | xml-score | xml-matrix | json
//!
//!   feature "runtime" (tokio):
//!     run::run(&batch, &impl Executor, &RunOptions, progress) ─► BatchResult     bounded, timed
//!     scripted::ScriptedExecutor   a scripted Executor for tests and examples
//!     delivery::deliver(&batch, &result, &config, &impl Mailer, now)   File (atomic) and email
//! ```
//!
//! ```
//! let batch = checktls_batch::parse(r#"
//!   <BatchTest TestType="receiver">
//!     <Target SNI="us-smtp-inbound-1.mimecast.com">205.139.110.177</Target>
//!     <Delivery><To>checktls@example.com</To><Format>text</Format></Delivery>
//!   </BatchTest>"#).unwrap();
//! assert_eq!(batch.targets.len(), 1);
//! assert_eq!(batch.targets[0].options.sni.as_deref(), Some("us-smtp-inbound-1.mimecast.com"));
//! ```
//!
//! # Features
//!
//! - `runtime` (default): the evaluator on tokio, file and email delivery.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod delivery;
pub mod error;
pub mod eval;
pub mod field;
pub mod format;
pub mod model;
pub mod parse;
pub mod report;
#[cfg(feature = "runtime")]
pub mod run;
#[cfg(feature = "runtime")]
pub mod scripted;

pub use error::{Error, Position};
pub use model::{
    Batch, Delivery, Format, Suppress, Target, TargetOptions, TargetSpec, TestType, Total,
};
pub use parse::{Limits, parse, parse_bytes, parse_with};
