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

/// Feeds arbitrary bytes to the server-flight parser (ServerHello, Certificate, alerts, SSLv2),
/// in chunks sized by the first byte.
pub fn server_hello(data: &[u8]) {
    let (split, rest) = data
        .split_first()
        .map_or((1, data), |(b, r)| (usize::from(*b).max(1), r));
    let mut p = crate::probe::parse::FlightParser::new();
    for chunk in rest.chunks(split) {
        if p.feed(chunk).is_err() {
            return;
        }
        match p.answer() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {}
        }
    }
}

/// Parses arbitrary text as an MTA-STS policy and checks coverage of a fixed host.
pub fn mta_sts_policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = crate::mta_sts::parse_policy(&text);
    if let Some(p) = parsed.policy {
        let _ = p.host_verdict("mx.example.com", true);
    }
}

/// DANE evaluation of arbitrary TLSA data against an arbitrary one-certificate chain.
pub fn dane(data: &[u8]) {
    use checktls_dns::{Proof, TlsaRecord};
    let (head, rest) = data.split_at(data.len().min(3));
    let get = |i: usize| head.get(i).copied().unwrap_or(3);
    let (tlsa, cert) = rest.split_at(rest.len() / 2);
    let record = TlsaRecord {
        usage: get(0).into(),
        selector: get(1).into(),
        matching: get(2).into(),
        data: tlsa.to_vec(),
    };
    let chain = [CertificateDer::from(cert), CertificateDer::from(tlsa)];
    let _ = crate::dane::evaluate(
        &[record],
        &Proof::Secure,
        &chain,
        &["mx.example.com"],
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
    );
}

/// Judges arbitrary bytes as an OCSP response, and as a CRL, for arbitrary certificates.
pub fn ocsp_response(data: &[u8]) {
    let third = data.len() / 3;
    let (resp, rest) = data.split_at(third);
    let (leaf, issuer) = rest.split_at(rest.len() / 2);
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000));
    let _ = crate::revocation::check_ocsp_response(resp, leaf, issuer, Some(&[1, 2, 3]), now);
    let _ = crate::revocation::check_ocsp_response(data, leaf, issuer, None, now);
}

/// Judges arbitrary bytes as a CRL.
pub fn crl(data: &[u8]) {
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000));
    let _ = crate::revocation::check_crl(data, data, data, now);
    let _ = crate::revocation::revocation_urls(data);
}
