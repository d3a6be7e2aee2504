//! The facade's error: when a test could not be set up or the caller misused the API. What a
//! test finds (unreachable hosts, TLS failures, DNS failures) is in the report, not here.

use crate::target::TargetError;

/// Why a receiver test could not be run.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target could not be read.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// An option that cannot be used (a control character in the EHLO name, MAIL FROM or
    /// AUTH credentials, ...).
    #[error("bad option: {0}")]
    BadOption(String),
    /// The resolver could not be set up (bad trust anchors, no name servers).
    #[error("DNS setup: {0}")]
    Dns(checktls_dns::Error),
    /// TLS setup: a cipher suite name the handshake cannot offer (checked when the checker
    /// is built), a trust store that could not be read.
    #[error("TLS setup: {0}")]
    Tls(#[from] checktls_tls::Error),
}
