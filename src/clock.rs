//! The one conversion of the checker's clock to the time the judgements take.

use std::time::SystemTime;

use rustls_pki_types::UnixTime;

/// `t` as the certificate, DANE, OCSP and CRL judgements take it.
pub(crate) fn unix(t: SystemTime) -> UnixTime {
    UnixTime::since_unix_epoch(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
}
