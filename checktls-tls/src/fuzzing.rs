//! Entry points for the fuzz targets in `fuzz/` (not part of the public API).

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::cert::{CertPolicy, evaluate};
use crate::trust::TrustStore;

/// Judges arbitrary bytes as a one-certificate chain.
pub fn cert_evaluate(data: &[u8]) {
    let trust = TrustStore::empty();
    let chain = [CertificateDer::from(data)];
    let policy = CertPolicy::new(
        &trust,
        Some("mx.example.com"),
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
    );
    let report = evaluate(&chain, &policy);
    assert!(!report.is_acceptable());
}
