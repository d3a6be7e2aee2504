//! DANE for SMTP (RFC 7672, RFC 6698): the presented chain against a TLSA RRset. Pure: the
//! records, their DNSSEC proof, the chain, the reference names and the time are inputs.
//!
//! ```text
//!   TLSA RRset + proof ──┐
//!   presented chain ─────┼──► evaluate ──► DaneReport { status, matched {record, depth}, notes }
//!   names, now ──────────┘
//!   status: no_records | insecure (not DANE) | bogus (failure) | unusable (only PKIX usages)
//!           | matched | failed
//! ```
//!
//! DANE-EE(3) matches the leaf and ignores names and dates; DANE-TA(2) matches a certificate
//! of the chain above the leaf, which must then validate from it, with the leaf's name checked
//! against the TLSA base domain or the MX name; PKIX-TA(0) and PKIX-EE(1) are unusable for
//! SMTP (RFC 7672 §3.1.3).
//!
//! ```
//! use checktls_tls::dane::{evaluate, DaneStatus};
//! use checktls_dns::Proof;
//!
//! let report = evaluate(&[], &Proof::Secure, &[], &["mx.example.com"], rustls_pki_types::UnixTime::now());
//! assert_eq!(report.status, DaneStatus::NoRecords);
//! ```

use checktls_dns::{Proof, TlsaMatching, TlsaRecord, TlsaSelector, TlsaUsage};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The verdict.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DaneStatus {
    /// No TLSA records: DANE does not apply.
    NoRecords,
    /// The TLSA RRset is not DNSSEC-signed: not DANE (RFC 7672 §2.2).
    Insecure,
    /// The TLSA RRset is DNSSEC-bogus: delivery must not proceed.
    Bogus {
        /// The validator's reason.
        reason: String,
    },
    /// Secure records, but none usable for SMTP (only PKIX usages, or unknown parameters).
    Unusable,
    /// A usable record matched.
    Matched,
    /// Usable records, none matched: authentication fails.
    Failed,
}

impl DaneStatus {
    /// The name reports use.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoRecords => "none",
            Self::Insecure => "insecure",
            Self::Bogus { .. } => "bogus",
            Self::Unusable => "unusable",
            Self::Matched => "matched",
            Self::Failed => "failed",
        }
    }
}

/// Which record matched, where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DaneMatch {
    /// The record, in presentation form.
    pub record: String,
    /// The chain position it matched (0 = leaf).
    pub depth: usize,
}

/// The DANE judgement of one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DaneReport {
    /// The verdict.
    pub status: DaneStatus,
    /// The record that matched.
    pub matched: Option<DaneMatch>,
    /// Per record that did not match, why.
    pub notes: Vec<String>,
    /// Two or more usable records: a key rollover is possible (noted as good practice).
    pub rollover: bool,
}

impl DaneReport {
    fn new(status: DaneStatus) -> Self {
        Self {
            status,
            matched: None,
            notes: Vec::new(),
            rollover: false,
        }
    }
}

fn usable(r: &TlsaRecord) -> Result<(), String> {
    match r.usage {
        TlsaUsage::PkixTa | TlsaUsage::PkixEe => {
            return Err("PKIX usages (0, 1) are not usable for SMTP (RFC 7672 §3.1.3)".into());
        }
        TlsaUsage::Unassigned(u) => return Err(format!("unknown usage {u}")),
        _ => {}
    }
    if let TlsaSelector::Unassigned(s) = r.selector {
        return Err(format!("unknown selector {s}"));
    }
    if let TlsaMatching::Unassigned(m) = r.matching {
        return Err(format!("unknown matching type {m}"));
    }
    Ok(())
}

/// The selected bytes of a certificate, hashed as the record asks.
fn association(cert: &CertificateDer<'_>, r: &TlsaRecord) -> Option<Vec<u8>> {
    let selected: Vec<u8> = match r.selector {
        TlsaSelector::FullCertificate => cert.as_ref().to_vec(),
        TlsaSelector::SubjectPublicKeyInfo => {
            let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
            parsed.tbs_certificate.subject_pki.raw.to_vec()
        }
        TlsaSelector::Unassigned(_) => return None,
    };
    match r.matching {
        TlsaMatching::Full => Some(selected),
        TlsaMatching::Sha256 => Some(
            ring::digest::digest(&ring::digest::SHA256, &selected)
                .as_ref()
                .to_vec(),
        ),
        TlsaMatching::Sha512 => Some(
            ring::digest::digest(&ring::digest::SHA512, &selected)
                .as_ref()
                .to_vec(),
        ),
        TlsaMatching::Unassigned(_) => None,
    }
}

/// Whether the chain validates from the certificate at `depth` taken as trust anchor, and the
/// leaf carries one of `names`.
fn ta_path(
    chain: &[CertificateDer<'_>],
    depth: usize,
    names: &[&str],
    now: UnixTime,
) -> Result<(), String> {
    let (Some(leaf), Some(ta)) = (chain.first(), chain.get(depth)) else {
        return Err("no such certificate".into());
    };
    let anchor: TrustAnchor<'_> =
        webpki::anchor_from_trusted_cert(ta).map_err(|e| format!("trust anchor: {e:?}"))?;
    let ee = webpki::EndEntityCert::try_from(leaf).map_err(|e| format!("leaf: {e:?}"))?;
    let intermediates: Vec<CertificateDer<'_>> =
        chain.get(1..depth).map(|s| s.to_vec()).unwrap_or_default();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &intermediates,
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| format!("the chain does not validate from the matched CA: {e:?}"))?;
    let named = names.iter().any(|n| {
        ServerName::try_from(n.trim_end_matches('.'))
            .ok()
            .is_some_and(|sn| ee.verify_is_valid_for_subject_name(&sn).is_ok())
    });
    if named {
        Ok(())
    } else {
        Err(format!(
            "the leaf carries none of the names {}",
            names.join(", ")
        ))
    }
}

/// Judges `chain` against the TLSA `records` (with their DNSSEC `proof`). `names` are the
/// reference identifiers for DANE-TA: the TLSA base domain and the MX host name.
pub fn evaluate(
    records: &[TlsaRecord],
    proof: &Proof,
    chain: &[CertificateDer<'_>],
    names: &[&str],
    now: UnixTime,
) -> DaneReport {
    if let Proof::Bogus { reason } = proof {
        return DaneReport::new(DaneStatus::Bogus {
            reason: reason
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned()),
        });
    }
    if records.is_empty() {
        return DaneReport::new(DaneStatus::NoRecords);
    }
    if !proof.is_secure() {
        return DaneReport::new(DaneStatus::Insecure);
    }
    let mut report = DaneReport::new(DaneStatus::Unusable);
    let usable_count = records.iter().filter(|r| usable(r).is_ok()).count();
    report.rollover = usable_count >= 2;
    if usable_count > 0 {
        report.status = DaneStatus::Failed;
    }
    for r in records {
        if let Err(why) = usable(r) {
            report.notes.push(format!("{r}: {why}"));
            continue;
        }
        let depths: Vec<usize> = match r.usage {
            TlsaUsage::DaneEe => vec![0],
            _ => (1..chain.len()).collect(),
        };
        let mut why = if chain.is_empty() {
            "no certificate was presented".to_owned()
        } else if depths.is_empty() {
            "DANE-TA needs the chain to include the CA; only the leaf was presented".to_owned()
        } else {
            "no certificate of the chain matches".to_owned()
        };
        let mut hit = None;
        for depth in depths {
            let Some(cert) = chain.get(depth) else {
                continue;
            };
            if association(cert, r).as_deref() != Some(r.data.as_slice()) {
                continue;
            }
            if r.usage == TlsaUsage::DaneEe {
                hit = Some(depth);
                break;
            }
            match ta_path(chain, depth, names, now) {
                Ok(()) => {
                    hit = Some(depth);
                    break;
                }
                Err(e) => why = format!("matches the certificate at depth {depth}, but {e}"),
            }
        }
        match hit {
            Some(depth) if report.matched.is_none() => {
                report.status = DaneStatus::Matched;
                report.matched = Some(DaneMatch {
                    record: r.to_string(),
                    depth,
                });
            }
            Some(_) => {}
            None => report.notes.push(format!("{r}: {why}")),
        }
    }
    report
}
