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
    /// The version the server chose in a ServerHello, when one came before the failure.
    #[serde(default)]
    pub server_hello: Option<TlsVersion>,
    /// The first alert the server sent in the clear (its description), if any.
    #[serde(default)]
    pub alert: Option<u8>,
}

/// How a handshake that did not complete failed: what decides whether anything else may be
/// learnt (the legacy prober) and whether the server may be graded as encrypting at all.
///
/// ```text
///   no ServerHello, an alert or a close ─► Refused          (a version or suite refusal)
///   ServerHello of SSLv3 .. TLS 1.1     ─► OlderVersion     (this client cannot speak it)
///   ServerHello of TLS 1.2 / 1.3, then
///     an alert, a close, a bad signature ─► Aborted          (no sender gets a session)
///   anything else (not TLS, a timeout)  ─► Other
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FailureKind {
    /// Before any ServerHello the server refused what was offered (an alert, or it closed the
    /// connection): the versions or suites offered; an older client may get further.
    Refused,
    /// The server chose a version older than this client speaks (SSLv3 to TLS 1.1).
    OlderVersion {
        /// The version it chose.
        version: TlsVersion,
    },
    /// The server chose a version and suite (ServerHello) and then did not complete the
    /// handshake (an alert after ServerHello, a close, a signature that does not verify): no
    /// sender can get an encrypted session from it.
    Aborted {
        /// The version it chose.
        version: TlsVersion,
    },
    /// Anything else: bytes that are not TLS, a timeout, a configuration of ours.
    Other,
}

impl FailureKind {
    /// Classifies a failure from the error and what was read in the clear.
    pub fn of(error: &crate::Error, partial: &PartialFacts) -> Self {
        use crate::Error as E;
        match partial.server_hello {
            Some(v) if v < TlsVersion::Tls12 => return Self::OlderVersion { version: v },
            Some(v) => return Self::Aborted { version: v },
            None => {}
        }
        match error {
            E::AlertReceived { .. } | E::NoCommonParameters { .. } => Self::Refused,
            E::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                Self::Refused
            }
            _ if partial.alert.is_some() => Self::Refused,
            _ => Self::Other,
        }
    }

    /// Whether an older client might negotiate where this one could not: the legacy prober's
    /// case ([`FailureKind::Refused`] or [`FailureKind::OlderVersion`]).
    pub fn is_refusal(self) -> bool {
        matches!(self, Self::Refused | Self::OlderVersion { .. })
    }
}
