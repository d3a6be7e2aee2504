//! The one error type of this crate.

use std::sync::Arc;

/// Why a TLS operation could not be carried out.
///
/// A certificate that does not validate is *not* an error: it is a finding in a
/// [`CertReport`](crate::cert::CertReport). `Error` is for a handshake that did not complete, a
/// configuration the caller got wrong, or input that could not be read at all.
#[non_exhaustive]
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The transport failed (reset, closed, timed out) during the handshake.
    #[error("transport error during TLS: {0}")]
    Io(Arc<std::io::Error>),
    /// The peer sent a TLS alert.
    #[error("the server sent the TLS alert {description}")]
    AlertReceived {
        /// The alert description, as rustls names it (for example `HandshakeFailure`).
        description: String,
    },
    /// The peer sent bytes that are not TLS (for example plaintext in reply to a ClientHello).
    #[error("the server did not speak TLS: {detail}")]
    NotTls {
        /// What was wrong with the bytes.
        detail: String,
    },
    /// The peer broke the protocol in a way rustls names.
    #[error("the server misbehaved during the handshake: {detail}")]
    PeerMisbehaved {
        /// rustls's description of the misbehaviour.
        detail: String,
    },
    /// No protocol version or cipher suite acceptable to both sides.
    #[error("no TLS version or cipher suite in common with the server: {detail}")]
    NoCommonParameters {
        /// What rustls reported.
        detail: String,
    },
    /// The server's handshake signature did not verify against its certificate.
    #[error("the server's handshake signature is invalid: {detail}")]
    BadHandshakeSignature {
        /// What failed.
        detail: String,
    },
    /// Another failure rustls reported during the handshake.
    #[error("TLS handshake failed: {detail}")]
    Handshake {
        /// rustls's description of the failure.
        detail: String,
    },
    /// The caller's TLS configuration was refused (bad client key, unknown cipher suite name).
    #[error("invalid TLS configuration: {detail}")]
    Config {
        /// What was refused.
        detail: String,
    },
    /// A cipher suite name the options asked for is not one rustls knows.
    #[error("unknown cipher suite {name:?}")]
    UnknownCipherSuite {
        /// The name as given.
        name: String,
    },
    /// A URL could not be used.
    #[error("bad URL {url:?}: {detail}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The HTTP(S) server could not be reached.
    #[error("could not connect to {host}:{port}: {detail}")]
    HttpConnect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The transport's error.
        detail: String,
    },
    /// An `https` server's certificate did not validate (strict fetches such as MTA-STS).
    #[error("the certificate of {host} was rejected: {detail}")]
    CertificateRejected {
        /// The host.
        host: String,
        /// Why.
        detail: String,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange failed: {detail}")]
    Http {
        /// What failed.
        detail: String,
    },
    /// The HTTP exchange took longer than allowed.
    #[error("{url} did not answer within {after:?}")]
    HttpTimeout {
        /// The URL.
        url: String,
        /// The limit.
        after: std::time::Duration,
    },
    /// The body was longer than allowed.
    #[error("{url} sent a body over {limit} bytes")]
    HttpBodyTooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// PEM or DER input (a CA file, a certificate) could not be read.
    #[error("could not read {what}: {detail}")]
    BadInput {
        /// What was being read.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
}

impl Error {
    /// Classifies an error that came out of a rustls handshake, carried in an `io::Error`.
    #[cfg(feature = "tokio")]
    pub(crate) fn from_handshake_io(err: std::io::Error) -> Self {
        let Some(inner) = err.get_ref() else {
            return Self::Io(Arc::new(err));
        };
        let Some(tls) = inner.downcast_ref::<rustls::Error>() else {
            return Self::Io(Arc::new(err));
        };
        Self::from(tls.clone())
    }
}

impl From<rustls::Error> for Error {
    fn from(err: rustls::Error) -> Self {
        use rustls::Error as E;
        match err {
            E::AlertReceived(alert) => Self::AlertReceived {
                description: format!("{alert:?}"),
            },
            E::InvalidMessage(m) => Self::NotTls {
                detail: format!("{m:?}"),
            },
            E::PeerMisbehaved(m) => match m {
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme => {
                    Self::BadHandshakeSignature {
                        detail: format!("{m:?}"),
                    }
                }
                other => Self::PeerMisbehaved {
                    detail: format!("{other:?}"),
                },
            },
            E::PeerIncompatible(p) => Self::NoCommonParameters {
                detail: format!("{p:?}"),
            },
            E::InvalidCertificate(c) => Self::BadHandshakeSignature {
                detail: format!("{c:?}"),
            },
            E::NoCertificatesPresented => Self::PeerMisbehaved {
                detail: "no certificate presented".to_owned(),
            },
            other => Self::Handshake {
                detail: other.to_string(),
            },
        }
    }
}
