//! DNS for mail security tests: everything a receiver test and a domain audit ask of DNS, each
//! answer with its DNSSEC proof, and pure parsers and checks for the mail-domain records.
//!
//! ```text
//!   caller (receiver test, audit, batch)
//!     │
//!     ├─ resolver::Resolver (feature "resolver")      I/O: UDP/TCP to name servers, via hickory
//!     │    lookup_mx / lookup_a / … → Answer<T> { outcome, cnames, proof }
//!     │    mx / tlsa / spf / dmarc / … / discover → discovery::* (serde data)
//!     │
//!     └─ pure, no I/O, no clock (builds with --no-default-features, fuzzed):
//!          records::{mta_sts, tls_rpt, spf, dmarc, dkim, bimi}   text → Parsed<T> + findings
//!          mx::MxPlan                                          MX answer → hosts to try
//!          TrustAnchors, DomainName, organizational_domain     parsing and names
//! ```
//!
//! NXDOMAIN and NODATA are [`Outcome`]s with their [`Proof`]; a bogus answer keeps its records,
//! labelled [`Proof::Bogus`] with the reason; timeouts and SERVFAIL are [`Error`]s that
//! [`is_temporary`](Error::is_temporary). No hickory type appears in the API.
//!
//! ```
//! use checktls_dns::records::spf;
//!
//! let parsed = spf::parse("v=spf1 include:_spf.example.net ptr +all");
//! let codes: Vec<&str> = parsed.findings.iter().map(|f| f.code.as_ref()).collect();
//! assert_eq!(codes, ["spf.pass_all", "spf.ptr"]);
//! assert_eq!(parsed.value.unwrap().local_lookups(), 2);
//! ```
//!
//! # Features
//!
//! - `resolver` (default): the async [`resolver`] on tokio and hickory-resolver (with DNSSEC
//!   validation on ring). Without it only the types, parsers and checks build.
//! - `schema` (off): `schemars::JsonSchema` on [`Discovery`](discovery::Discovery) and every
//!   type in it, for the `checktls` facade's JSON Schema of the report.
//!
//! # DNSSEC
//!
//! Validation is hickory's, with the anchors of zones below the root authenticated by us (see
//! [`dnssec_matrix`] for why), denials on opt-out NSEC3 spans held to RFC 5155 §9.2, and a
//! DNSKEY or DS that cannot be fetched made indeterminate instead of bogus (RFC 4035 §4.3). The
//! [`dnssec_matrix`] page is the table of scenarios, proven against Unbound and `delv`.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod anchor;
#[cfg(feature = "resolver")]
#[doc = include_str!("../DNSSEC.md")]
pub mod dnssec_matrix {}
mod answer;
pub mod discovery;
mod error;
mod finding;
#[doc(hidden)]
pub mod fuzzing;
mod lookup;
pub mod mx;
mod org;
mod proof;
pub mod records;
#[cfg(feature = "resolver")]
pub mod resolver;
mod tlsa;

pub use anchor::{TrustAnchor, TrustAnchors};
pub use answer::{Answer, CnameHop, Outcome, Query, RecordType, TxtRecord};
pub use checktls_types::{DomainName, NameError};
pub use error::{Error, Rcode};
pub use finding::{Finding, Severity};
pub use mx::{MxKind, MxLimit, MxPlan, MxRecord};
pub use org::{organizational_domain, same_organization};
pub use proof::Proof;
pub use tlsa::{TlsaMatching, TlsaRecord, TlsaSelector, TlsaUsage};
