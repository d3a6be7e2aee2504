//! What a handshake recorded: the facts the judgements work from.

use std::time::Duration;

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use crate::version::{CipherSuite, NamedGroup, TlsVersion};

/// What a completed TLS handshake showed, recorded without judging it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TlsFacts {
    /// The negotiated protocol version.
    pub version: TlsVersion,
    /// The negotiated cipher suite.
    pub cipher_suite: CipherSuite,
    /// The key-exchange group, when the version reports one.
    pub key_exchange_group: Option<NamedGroup>,
    /// The negotiated ALPN protocol, if any.
    pub alpn: Option<String>,
    /// The SNI name sent, if any.
    pub sni: Option<String>,
    /// The whole chain the server presented, leaf first, in the order it was sent.
    #[serde(with = "crate::serde_der::cert_list")]
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response (DER), if the server sent one.
    #[serde(with = "crate::serde_der::opt_bytes")]
    pub stapled_ocsp: Option<Vec<u8>>,
    /// Time from the first ClientHello byte to the end of the handshake.
    #[serde(rename = "handshake_ms", with = "crate::serde_der::millis")]
    pub handshake_time: Duration,
    /// Whether the session was resumed.
    pub resumed: bool,
}

/// What was learnt from a handshake that did not complete.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartialFacts {
    /// The chain, if the server got as far as sending one.
    #[serde(with = "crate::serde_der::cert_list")]
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response, if the server sent one.
    #[serde(with = "crate::serde_der::opt_bytes")]
    pub stapled_ocsp: Option<Vec<u8>>,
    /// Time until the failure.
    #[serde(rename = "elapsed_ms", with = "crate::serde_der::millis")]
    pub elapsed: Duration,
}
