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

/// Parses arbitrary text as an MTA-STS policy and judges fixed hosts under it; the policy's
/// last line (when short) is also used as an MX host name.
pub fn mta_sts_policy(data: &[u8]) {
    use crate::mta_sts::{HostEffect, MxTls, evaluate, parse_policy};
    let text = String::from_utf8_lossy(data);
    let parsed = parse_policy(&text);
    let last = text.lines().last().filter(|l| l.len() <= 64).unwrap_or("");
    let hosts = [
        MxTls {
            host: "mx.example.com",
            tls_validated: true,
        },
        MxTls {
            host: last,
            tls_validated: false,
        },
    ];
    let e = evaluate(Some("id"), parsed.policy.as_ref(), &hosts);
    assert_eq!(e.in_force, parsed.policy.is_some());
    assert_eq!(e.hosts.len(), 2);
    // A host whose TLS failed never passes.
    assert_ne!(e.hosts.get(1).map(|h| h.effect), Some(HostEffect::Pass));
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

/// Splits fuzz input laid out as `[u16 leaf length][leaf][u16 issuer length][issuer][rest]`
/// (big-endian lengths), so seeds carry a real leaf and issuer and mutations reach past the
/// parsers into the signature, CertID, nonce and freshness checks. Inputs too short for the
/// layout are split in thirds instead.
fn leaf_issuer_rest(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    fn take(data: &[u8]) -> Option<(&[u8], &[u8])> {
        let (len, rest) = data.split_at_checked(2)?;
        let n = usize::from(u16::from_be_bytes([*len.first()?, *len.get(1)?]));
        rest.split_at_checked(n)
    }
    if let Some((leaf, rest)) = take(data)
        && let Some((issuer, rest)) = take(rest)
    {
        return (leaf, issuer, rest);
    }
    let (a, rest) = data.split_at(data.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    (a, b, c)
}

/// The time the fuzz judgements run at (the seeds were made for it): 2023-11-14T22:13:20Z.
pub const FUZZ_NOW: u64 = 1_700_000_000;

/// The nonce the OCSP target says it sent (the seeds' requests carried it).
pub const FUZZ_NONCE: [u8; 3] = [1, 2, 3];

/// Judges the rest of the input as an OCSP response for the leaf and issuer it carries, with
/// and without the nonce, and the whole input as a response, as the stapled path would.
pub fn ocsp_response(data: &[u8]) {
    let (leaf, issuer, resp) = leaf_issuer_rest(data);
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(FUZZ_NOW));
    let _ = crate::revocation::check_ocsp_response(resp, leaf, issuer, Some(&FUZZ_NONCE), now);
    let _ = crate::revocation::check_ocsp_response(resp, leaf, issuer, None, now);
    let _ = crate::revocation::check_ocsp_response(data, leaf, issuer, None, now);
    let _ = crate::revocation::ocsp_request(leaf, issuer, Some(&FUZZ_NONCE));
}

/// Judges the rest of the input as a CRL for the leaf and issuer it carries, and reads the
/// leaf's revocation URLs.
pub fn crl(data: &[u8]) {
    let (leaf, issuer, crl) = leaf_issuer_rest(data);
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(FUZZ_NOW));
    let _ = crate::revocation::check_crl(crl, leaf, issuer, now);
    let _ = crate::revocation::check_crl(data, leaf, issuer, now);
    let _ = crate::revocation::revocation_urls(leaf);
}
