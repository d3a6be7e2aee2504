//! The CheckTLS Batch language: many receiver tests described in XML, run, rolled up,
//! filtered and delivered. A Batch written for CheckTLS runs here unchanged; this project's
//! additions are in the namespace `urn:checktls-rs:batch:1`. The language is described in
//! `LANGUAGE.md` beside this crate, with `schema/BatchTest.xsd` for editors.
//!
//! ```text
//!   pure (no I/O, no clock; builds without features; fuzzed):
//!     parse(xml) ──► Batch { targets (DEFAULT applied), total, deliveries }   line:column errors
//!     field::Field      result fields by name, for Suppress and alerts
//!     eval::BatchResult::evaluate(&batch, outcomes) ─► suppression, Total, Status, delivers()
//!     format::render(&result, Format, &Selection) ─► text | csv | pager | pager-html | xml
//!                                                     | xml-score | xml-matrix | json
//!     delivery::compose(&MailParts) ─► MIME message     delivery::RetryPolicy
//!
//!   feature "runtime" (tokio): the only place where anything waits
//!     run::run(&batch, &impl Executor, &RunOptions, progress) ─► BatchResult    bounded, timed
//!     delivery::deliver(&batch, &result, &config, &impl Mailer, now)   File (atomic) and email
//!     scripted::ScriptedExecutor   a scripted Executor for tests and examples
//! ```
//!
//! The batch never opens a socket: the facade's receiver test implements
//! [`run::Executor`], and the command's SMTP relay implements [`delivery::Mailer`].
//!
//! ```
//! use checktls_batch::eval::BatchResult;
//! use checktls_batch::format::render;
//! use checktls_batch::model::{Format, Selection};
//! use checktls_batch::report::{Outcome, TargetReport};
//!
//! let batch = checktls_batch::parse(r#"
//!   <BatchTest TestType="receiver">
//!     <Target><Suppress Function="minimum" Test="ge" Value="114"/>DEFAULT</Target>
//!     <Target SNI="us-smtp-inbound-1.mimecast.com">205.139.110.177</Target>
//!     <Target SNI="us-smtp-inbound-1.mimecast.com">207.211.30.221</Target>
//!     <Delivery><To>checktls@example.com</To><Format>text</Format></Delivery>
//!   </BatchTest>"#).unwrap();
//! let graded = |t: &str, s| vec![Outcome::Tested(TargetReport::graded(t, s))];
//! let result = BatchResult::evaluate(&batch, vec![
//!     graded("205.139.110.177", 114),
//!     graded("207.211.30.221", 112),
//! ]);
//! assert_eq!(render(&result, Format::Text, &Selection::all()), "112 207.211.30.221\n");
//! assert!(result.delivers(&batch.deliveries[0]));
//! ```
//!
//! # Features
//!
//! - `runtime` (default): the runner on tokio, file delivery and the mail retry loop,
//!   schedules (croner, chrono-tz), the history [`store::Store`] in SQLite, the fleet's work
//!   queue and workers ([`fleet`]), and the monitor service (hyper).
//! - `postgres` (default): the PostgreSQL history store (tokio-postgres, deadpool-postgres),
//!   for workers on many machines.
//! - `schema` (off): `schemars::JsonSchema` on the results (outcomes, reports, the Total) and
//!   `format::json_schema()`, the schema of the `json` format, checked in as
//!   `schema/results.schema.json` beside `schema/BatchTest.xsd`.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod delivery;
pub mod error;
pub mod eval;
pub mod field;
#[cfg(feature = "runtime")]
pub mod fleet;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "runtime")]
pub mod history;
pub mod model;
#[cfg(feature = "runtime")]
pub mod monitor;
pub mod parse;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod report;
#[cfg(feature = "runtime")]
pub mod run;
#[cfg(feature = "runtime")]
pub mod schedule;
#[cfg(feature = "runtime")]
pub mod scripted;
#[cfg(feature = "runtime")]
pub mod service;
#[cfg(feature = "runtime")]
pub mod store;

pub use error::{Error, Position};
pub use model::{
    Batch, Delivery, Format, Suppress, Target, TargetOptions, TargetSpec, TestType, Total,
};
pub use parse::{Limits, parse, parse_bytes, parse_with};
