//! TLS facts and judgements for mail servers.
//!
//! A receiver test needs to finish a TLS handshake with servers whose certificates are wrong, so
//! it can report *everything* wrong with them. This crate splits that into an I/O part that only
//! records, and pure judgements that take the recorded facts, DNS answers and a time:
//!
//! ```text
//!              I/O (feature "tokio")                    pure (no I/O, no clock)
//!   stream ──► handshake() ──► TlsFacts ──┬──► cert::evaluate(chain, policy{trust, name, now})
//!              (danger::RecordingVerifier)│
//!                                         ├──► (DANE, MTA-STS, OCSP/CRL judgements)
//!                                         └──► reports (serde)
//! ```
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use checktls_tls::handshake::{handshake, HandshakeOptions};
//! use checktls_tls::cert::{evaluate, CertPolicy};
//! use checktls_tls::TrustStore;
//!
//! let tcp = tokio::net::TcpStream::connect("127.0.0.1:465").await?;
//! let mut options = HandshakeOptions::default();
//! options.sni = Some("mx.example.com".into());
//! let (_stream, facts) = handshake(tcp, &options).await?;
//! println!("{} {}", facts.version, facts.cipher_suite);
//!
//! let trust = TrustStore::mozilla();
//! let report = evaluate(&facts.chain, &CertPolicy::new(&trust, Some("mx.example.com"),
//!     rustls_pki_types::UnixTime::now()));
//! println!("acceptable: {}", report.is_acceptable());
//! # Ok(()) }
//! ```
//!
//! # Crate features
//!
//! - `tokio` (default): the recording handshake over any tokio stream and the network fetches.
//!   Without it, the judgements and parsers build alone (as the fuzz targets use them).
//! - `schema` (off): `schemars::JsonSchema` on the types a report holds (certificate summaries,
//!   MTA-STS modes, revocation sources, the prober's report), for the `checktls` facade's JSON
//!   Schema of the report.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod cert;
pub mod dane;
pub mod danger;
mod error;
pub mod facts;
pub mod first_flight;
#[cfg(feature = "tokio")]
pub mod handshake;
#[cfg(feature = "tokio")]
pub mod http;
pub mod mta_sts;
#[cfg(feature = "tokio")]
pub mod net;
pub mod probe;
pub mod revocation;
mod serde_der;
pub mod trust;
pub mod version;

pub use error::Error;
pub use facts::{FailureKind, PartialFacts, TlsFacts};
pub use trust::TrustStore;
pub use version::{CipherSuite, NamedGroup, TlsVersion};

#[doc(hidden)]
pub mod fuzzing;
