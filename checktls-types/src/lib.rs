//! The words every checktls crate uses, defined once: the SMTP stages of a receiver test, SSL
//! and TLS protocol versions, where a dialog stops, how TLS starts and which certificate names
//! pass, findings with their severity, secrets that never print, domain names, and the
//! [`target`] grammar (what a receiver test is asked
//! to test, read alike by the command, the web page and the Batch). Pure data: no I/O, no
//! dependencies beyond serde.
//!
//! ```text
//!   checktls-types ◄── checktls-dns, checktls-tls, checktls-smtp, checktls-score,
//!                      checktls-batch, checktls (each re-exports what it uses)
//! ```
//!
//! ```
//! use checktls_types::{Finding, Severity, Stage, StopAfter, TlsVersion};
//!
//! assert_eq!(Stage::TlsOffered.name(), "tls_offered");
//! assert_eq!("TLSv1_3".parse::<TlsVersion>(), Ok(TlsVersion::Tls13));
//! assert!(StopAfter::Ehlo2 < StopAfter::RcptTo);
//! let f = Finding::new("smtp.no_starttls", Severity::Error, "the server does not offer STARTTLS");
//! assert_eq!(f.code, "smtp.no_starttls");
//!
//! let t: checktls_types::Target = "user@example.com[mx.example.net:2525]".parse().unwrap();
//! assert_eq!(t.domain().map(|d| d.as_str()), Some("example.com"));
//! ```
//!
//! # Features
//!
//! - `schema` (off): `schemars::JsonSchema` on every type here that reports hold, and the
//!   `schema` module: pieces for fields written in another form than their type's, and
//!   `close_objects` for generated schemas (the checktls crates' own `schema` features turn it
//!   on).

mod choice;
mod finding;
#[doc(hidden)]
pub mod fuzzing;
mod key;
mod name;
#[cfg(feature = "schema")]
pub mod schema;
mod secret;
mod stage;
pub mod target;
mod version;

pub use choice::{CertNames, TlsMode};
pub use finding::{Finding, Severity};
pub use key::{KeyAlgorithm, PublicKeyInfo};
pub use name::{DomainName, NameError};
pub use secret::Secret;
pub use stage::{Stage, StopAfter};
pub use target::Target;
pub use version::TlsVersion;

/// A name that did not parse, and the names that would have.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownName {
    /// What was given.
    pub given: String,
    /// What was expected, e.g. `one of answer, connect, ...`.
    pub expected: String,
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown name {:?}: expected {}",
            self.given, self.expected
        )
    }
}

impl std::error::Error for UnknownName {}
