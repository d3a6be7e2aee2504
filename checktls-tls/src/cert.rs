//! Certificate judgements: pure functions of a presented chain, a trust store, a name and a time.
//!
//! ```
//! use checktls_tls::cert::{evaluate, CertPolicy};
//! use checktls_tls::TrustStore;
//! use rustls_pki_types::UnixTime;
//!
//! let trust = TrustStore::mozilla();
//! let policy = CertPolicy::new(&trust, Some("mx.example.com"), UnixTime::now());
//! let report = evaluate(&[], &policy);
//! assert!(!report.is_acceptable()); // no certificate at all
//! ```

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::trust::TrustStore;

/// What to judge a chain against.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct CertPolicy<'a> {
    /// The trust anchors.
    pub trust: &'a TrustStore,
    /// The name the certificate must carry (the MX host name); `None` skips the name check.
    pub name: Option<&'a str>,
    /// The time at which validity is judged.
    pub now: UnixTime,
    /// Warn when fewer than this many days remain. Default: 30.
    pub expiry_warning_days: u32,
}

impl<'a> CertPolicy<'a> {
    /// A policy with the default expiry warning (30 days).
    pub fn new(trust: &'a TrustStore, name: Option<&'a str>, now: UnixTime) -> Self {
        Self {
            trust,
            name,
            now,
            expiry_warning_days: 30,
        }
    }
}

/// One thing wrong with a chain. Several may apply; [`CertReport::problems`] lists them all,
/// most specific first (see [`CertProblem::rank`]).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CertProblem {
    /// The server presented no certificate.
    NoCertificate,
    /// The leaf could not be parsed.
    Unparseable {
        /// Position in the chain (0 = leaf).
        depth: usize,
        /// The parser's complaint.
        detail: String,
    },
    /// The leaf's validity ended before `now`.
    Expired {
        /// End of validity, seconds since the Unix epoch.
        not_after: i64,
        /// The judging time, seconds since the Unix epoch.
        now: i64,
    },
    /// The leaf's validity starts after `now`.
    NotYetValid {
        /// Start of validity, seconds since the Unix epoch.
        not_before: i64,
        /// The judging time, seconds since the Unix epoch.
        now: i64,
    },
    /// The leaf is self-signed.
    SelfSigned,
    /// No path to a trust anchor.
    UnknownIssuer,
    /// The chain failed validation for another reason webpki names.
    Invalid {
        /// webpki's error.
        detail: String,
    },
    /// The certificate does not carry the expected name.
    NameMismatch {
        /// The expected name.
        expected: String,
        /// The DNS names (SANs) the certificate carries.
        presented: Vec<String>,
    },
}

impl CertProblem {
    /// How specific the problem is: higher ranks are reported first. A problem that explains
    /// others (no certificate, an expired leaf) outranks a generic validation failure.
    pub fn rank(&self) -> u8 {
        match self {
            Self::NoCertificate => 100,
            Self::Unparseable { .. } => 90,
            Self::Expired { .. } => 80,
            Self::NotYetValid { .. } => 79,
            Self::SelfSigned => 70,
            Self::NameMismatch { .. } => 60,
            Self::UnknownIssuer => 50,
            Self::Invalid { .. } => 10,
        }
    }
}

/// The judgement of a chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertReport {
    /// A path to a trust anchor was found and validates, the leaf's own dates apart: an
    /// expired (or not yet valid) leaf on a good chain is `chain_valid` with `expired` (or
    /// `not_yet_valid`) set, judged at the last (first) second of the leaf's validity.
    pub chain_valid: bool,
    /// The leaf carries the expected name (`None` when no name was given).
    pub name_match: Option<bool>,
    /// The leaf has expired.
    pub expired: bool,
    /// The leaf is not yet valid.
    pub not_yet_valid: bool,
    /// The leaf is self-signed.
    pub self_signed: bool,
    /// Whole days from `now` to the leaf's end of validity (negative once expired).
    pub days_to_expiry: Option<i64>,
    /// Fewer days remain than the policy's warning threshold.
    pub expiry_warning: bool,
    /// Everything wrong, most specific first.
    pub problems: Vec<CertProblem>,
}

impl CertReport {
    /// Whether the certificate passes CheckTLS's "Cert" stage: a valid chain, the right name,
    /// current, not self-signed.
    pub fn is_acceptable(&self) -> bool {
        self.chain_valid
            && self.name_match != Some(false)
            && !self.expired
            && !self.not_yet_valid
            && !self.self_signed
    }

    /// The most specific problem, if any.
    pub fn most_specific(&self) -> Option<&CertProblem> {
        self.problems.first()
    }
}

/// Judges `chain` (leaf first, as presented) under `policy`.
pub fn evaluate(chain: &[CertificateDer<'_>], policy: &CertPolicy<'_>) -> CertReport {
    let mut report = CertReport {
        chain_valid: false,
        name_match: None,
        expired: false,
        not_yet_valid: false,
        self_signed: false,
        days_to_expiry: None,
        expiry_warning: false,
        problems: Vec::new(),
    };
    let Some(leaf_der) = chain.first() else {
        report.problems.push(CertProblem::NoCertificate);
        return report;
    };
    let now = policy.now.as_secs() as i64;
    let window: (i64, i64);

    match X509Certificate::from_der(leaf_der) {
        Ok((_, leaf)) => {
            let not_before = leaf.validity().not_before.timestamp();
            let not_after = leaf.validity().not_after.timestamp();
            window = (not_before, not_after);
            report.days_to_expiry = Some((not_after - now).div_euclid(86_400));
            if now > not_after {
                report.expired = true;
                report
                    .problems
                    .push(CertProblem::Expired { not_after, now });
            } else if now < not_before {
                report.not_yet_valid = true;
                report
                    .problems
                    .push(CertProblem::NotYetValid { not_before, now });
            } else if (not_after - now) < i64::from(policy.expiry_warning_days) * 86_400 {
                report.expiry_warning = true;
            }
            if leaf.subject().as_raw() == leaf.issuer().as_raw() {
                report.self_signed = true;
                report.problems.push(CertProblem::SelfSigned);
            }
            if let Some(expected) = policy.name {
                let matched = name_matches(leaf_der, expected);
                report.name_match = Some(matched);
                if !matched {
                    report.problems.push(CertProblem::NameMismatch {
                        expected: expected.to_owned(),
                        presented: dns_names(&leaf),
                    });
                }
            }
        }
        Err(e) => {
            report.problems.push(CertProblem::Unparseable {
                depth: 0,
                detail: e.to_string(),
            });
            return report;
        }
    }

    match webpki::EndEntityCert::try_from(leaf_der) {
        Ok(ee) => {
            let intermediates: Vec<CertificateDer<'_>> = chain.iter().skip(1).cloned().collect();
            let verify_at = |at: UnixTime| {
                ee.verify_for_usage(
                    webpki::ALL_VERIFICATION_ALGS,
                    policy.trust.anchors(),
                    &intermediates,
                    at,
                    webpki::KeyUsage::server_auth(),
                    None,
                    None,
                )
                .map(|_| ())
            };
            // The leaf's own dates are reported apart: judge the path within its validity.
            let at = if report.expired {
                window.1.saturating_sub(1)
            } else if report.not_yet_valid {
                window.0.saturating_add(1)
            } else {
                now
            };
            let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                u64::try_from(at).unwrap_or(0),
            ));
            match verify_at(at) {
                Ok(()) => report.chain_valid = true,
                Err(webpki::Error::UnknownIssuer) => {
                    if !report.self_signed {
                        report.problems.push(CertProblem::UnknownIssuer);
                    }
                }
                Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => {
                    // Reported above from the leaf's own dates.
                }
                Err(e) => report.problems.push(CertProblem::Invalid {
                    detail: format!("{e:?}"),
                }),
            }
        }
        Err(e) => report.problems.push(CertProblem::Unparseable {
            depth: 0,
            detail: format!("{e:?}"),
        }),
    }
    report.problems.sort_by_key(|p| std::cmp::Reverse(p.rank()));
    report
}

fn name_matches(leaf: &CertificateDer<'_>, expected: &str) -> bool {
    let Ok(ee) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    let Ok(name) = ServerName::try_from(expected.trim_end_matches('.')) else {
        return false;
    };
    ee.verify_is_valid_for_subject_name(&name).is_ok()
}

fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
