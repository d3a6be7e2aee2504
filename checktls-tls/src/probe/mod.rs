//! A raw ClientHello prober (no TLS library): which of SSLv2, SSLv3, TLS 1.0, 1.1, 1.2 and 1.3
//! a server accepts, which suites it picks, and the chain it sends with TLS 1.2 and older.
//!
//! ```text
//!   for each version (newest first):
//!     opener.open() ─► fresh stream positioned for a ClientHello (plain TCP for direct TLS;
//!                      after the 220 to STARTTLS for SMTP: checktls-smtp's open_for_tls)
//!     ─► hello::client_hello(version, suites) ─► parse::FlightParser ─► ServerAnswer
//!     accepted? then ask again without the chosen suite, to list the suites (bounded)
//!   ─► ProbeReport { versions[], best, chain, weaknesses }
//! ```
//!
//! The handshake is never completed: only the server's first flight is read, bounded in size
//! and time. Weak choices (export, NULL, RC4, 3DES/DES, CBC-only, static RSA, anonymous) are
//! findings.
//!
//! ```
//! use checktls_tls::probe::{hello, parse::{FlightParser, ServerAnswer}};
//! use checktls_tls::TlsVersion;
//!
//! let record = hello::client_hello(TlsVersion::Tls12, &[0xC02F], Some("mx.example.com"), [7; 32]);
//! assert_eq!(record[0], 0x16); // a handshake record
//! let mut parser = FlightParser::new();
//! parser.feed(&[21, 3, 3, 0, 2, 2, 70]).unwrap(); // a fatal protocol_version alert
//! assert_eq!(parser.answer().unwrap(), Some(ServerAnswer::Alert { level: 2, description: 70 }));
//! ```

pub mod hello;
pub mod parse;

use serde::{Deserialize, Serialize};

use crate::version::{CipherSuite, TlsVersion};

/// A weak choice the server made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// A deprecated or prohibited protocol version (before TLS 1.2).
    OldVersion,
    /// An export-grade suite.
    Export,
    /// No encryption.
    Null,
    /// RC4.
    Rc4,
    /// DES or 3DES.
    Des,
    /// CBC mode where AEAD was offered.
    CbcOnly,
    /// Static RSA key exchange: no forward secrecy.
    StaticRsa,
    /// Anonymous key exchange: no authentication.
    Anonymous,
}

/// The weaknesses of a suite, judged from its IANA name.
pub fn suite_weaknesses(name: &str) -> Vec<Weakness> {
    let mut out = Vec::new();
    if name.contains("EXPORT") {
        out.push(Weakness::Export);
    }
    if name.contains("NULL") {
        out.push(Weakness::Null);
    }
    if name.contains("RC4") {
        out.push(Weakness::Rc4);
    }
    if name.contains("DES") {
        out.push(Weakness::Des);
    }
    if name.contains("_CBC_") {
        out.push(Weakness::CbcOnly);
    }
    if name.starts_with("TLS_RSA_") || name.starts_with("SSL_RSA_") {
        out.push(Weakness::StaticRsa);
    }
    if name.contains("_anon_") {
        out.push(Weakness::Anonymous);
    }
    out
}

/// What one version gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResult {
    /// The version offered.
    pub version: TlsVersion,
    /// The server accepted it (answered with a ServerHello of that version).
    pub accepted: bool,
    /// The suites it picked, in the order found (its preference).
    pub suites: Vec<CipherSuite>,
    /// Otherwise: what it answered (an alert, another version, a closed connection).
    pub refusal: Option<String>,
}

/// What the prober found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Per version, newest first.
    pub versions: Vec<VersionResult>,
    /// The newest version accepted.
    pub best: Option<TlsVersion>,
    /// Its first suite.
    pub best_suite: Option<CipherSuite>,
    /// The chain sent in the clear with the newest version at or below TLS 1.2, DER.
    #[serde(with = "crate::serde_der::cert_list")]
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The weak choices, each once.
    pub weaknesses: Vec<Weakness>,
}

impl ProbeReport {
    /// Whether a version was accepted.
    pub fn accepts(&self, version: TlsVersion) -> bool {
        self.versions
            .iter()
            .any(|v| v.version == version && v.accepted)
    }
}

#[cfg(feature = "tokio")]
mod driver;
#[cfg(feature = "tokio")]
pub use driver::{ProbeOptions, StreamOpener, probe, probe_version};
