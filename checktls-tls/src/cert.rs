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
    /// A second name the certificate may carry instead of `name` (the mail domain, when the
    /// caller accepts a certificate naming it). Used only with `name`: without a name there
    /// is no name check. Default: none.
    pub alternative_name: Option<&'a str>,
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
            alternative_name: None,
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
    /// A SAN uses a wildcard wrongly (not the whole leftmost label, several, or over a public
    /// suffix such as `*.com`): RFC 6125 §6.4.3 forbids matching it.
    BadWildcard {
        /// The SAN.
        san: String,
    },
    /// A weak key: RSA or DSA below 2048 bits, EC below 256 bits.
    WeakKey {
        /// Position in the chain (0 = leaf).
        depth: usize,
        /// "RSA", "EC", "DSA".
        algorithm: String,
        /// Key size in bits.
        bits: u32,
    },
    /// A weak signature hash (SHA-1, MD5) on a certificate other than a self-signed root.
    WeakSignature {
        /// Position in the chain.
        depth: usize,
        /// The algorithm's name.
        algorithm: String,
    },
    /// A certificate above the leaf is not a CA (basicConstraints).
    NotCa {
        /// Position in the chain.
        depth: usize,
    },
    /// The leaf's extended key usage does not allow TLS servers.
    WrongKeyUsage {
        /// The usages it allows.
        allowed: Vec<String>,
    },
    /// The presented certificates are not in issuing order (each signed by the next).
    ChainOrder {
        /// The first position whose issuer is not the next certificate.
        depth: usize,
    },
    /// The server did not send the intermediate certificate(s) between its leaf and a trust
    /// anchor.
    MissingIntermediate {
        /// The issuer name that was not found.
        issuer: String,
    },
    /// The certificate does not carry the expected name (nor the alternative one).
    NameMismatch {
        /// The expected name.
        expected: String,
        /// The alternative name that would have done too, when the policy had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alternative: Option<String>,
        /// The DNS names (SANs) the certificate carries.
        presented: Vec<String>,
    },
}

impl std::fmt::Display for CertProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCertificate => f.write_str("no certificate was presented"),
            Self::Unparseable { depth, detail } => {
                write!(
                    f,
                    "the certificate at depth {depth} cannot be read: {detail}"
                )
            }
            Self::Expired { not_after, .. } => {
                write!(f, "the certificate expired (notAfter {not_after})")
            }
            Self::NotYetValid { not_before, .. } => {
                write!(
                    f,
                    "the certificate is not yet valid (notBefore {not_before})"
                )
            }
            Self::SelfSigned => f.write_str("the certificate is self-signed"),
            Self::UnknownIssuer => f.write_str("the chain leads to no trusted anchor"),
            Self::Invalid { detail } => write!(f, "the chain is invalid: {detail}"),
            Self::BadWildcard { san } => write!(f, "the wildcard {san:?} is not usable"),
            Self::WeakKey {
                depth,
                algorithm,
                bits,
            } => write!(f, "weak key at depth {depth}: {algorithm} {bits} bits"),
            Self::WeakSignature { depth, algorithm } => {
                write!(f, "weak signature at depth {depth}: {algorithm}")
            }
            Self::NotCa { depth } => write!(f, "the certificate at depth {depth} is not a CA"),
            Self::WrongKeyUsage { allowed } => write!(
                f,
                "the certificate is not for TLS servers (allows {})",
                allowed.join(", ")
            ),
            Self::ChainOrder { depth } => {
                write!(f, "the chain is out of order at depth {depth}")
            }
            Self::MissingIntermediate { issuer } => {
                write!(f, "the intermediate certificate for {issuer} is missing")
            }
            Self::NameMismatch {
                expected,
                alternative,
                presented,
            } => {
                write!(f, "the certificate does not name {expected}")?;
                if let Some(a) = alternative {
                    write!(f, " nor {a}")?;
                }
                write!(f, " (it names {})", presented.join(", "))
            }
        }
    }
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
            Self::BadWildcard { .. } => 58,
            Self::MissingIntermediate { .. } => 55,
            Self::UnknownIssuer => 50,
            Self::ChainOrder { .. } => 45,
            Self::NotCa { .. } => 44,
            Self::WrongKeyUsage { .. } => 43,
            Self::WeakKey { .. } => 30,
            Self::WeakSignature { .. } => 29,
            Self::Invalid { .. } => 10,
        }
    }
}

/// The judgement of a chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// The SAN (or, without SANs, the subject CN) that matched the expected name.
    pub matched_name: Option<String>,
    /// The name matched is the policy's alternative name, not its name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub matched_alternative: bool,
    /// The validated path, leaf first, as subject names, ending with the trust anchor.
    pub path: Vec<String>,
    /// The certificate that issued the leaf in the validated path: the first intermediate, or
    /// the anchor's certificate when the anchor issued the leaf and was added as a certificate.
    /// `None` when no path validated. Revocation is checked against this issuer, never against
    /// whatever the server sent second.
    #[serde(skip)]
    pub issuer: Option<CertificateDer<'static>>,
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
        matched_name: None,
        matched_alternative: false,
        path: Vec::new(),
        issuer: None,
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
            let sans = dns_names(&leaf);
            for san in &sans {
                if bad_wildcard(san) {
                    report
                        .problems
                        .push(CertProblem::BadWildcard { san: san.clone() });
                }
            }
            if let Some(expected) = policy.name {
                let matched = [Some(expected), policy.alternative_name]
                    .into_iter()
                    .flatten()
                    .find(|n| name_matches(leaf_der, n));
                report.name_match = Some(matched.is_some());
                match matched {
                    Some(n) => {
                        report.matched_name = sans
                            .iter()
                            .find(|s| !bad_wildcard(s) && san_matches(s, n))
                            .cloned();
                        report.matched_alternative = n != expected;
                    }
                    None => report.problems.push(CertProblem::NameMismatch {
                        expected: expected.to_owned(),
                        alternative: policy.alternative_name.map(str::to_owned),
                        presented: dns_names(&leaf),
                    }),
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
                .map(|p| {
                    let mut names = vec![subject_of(leaf_der.as_ref())];
                    names.extend(
                        p.intermediate_certificates()
                            .map(|c| subject_of(c.der().as_ref())),
                    );
                    names.push(format!("anchor: {}", name_of(p.anchor().subject.as_ref())));
                    // Intermediates come in path order from the leaf: its issuer is the first.
                    let issuer = match p.intermediate_certificates().next() {
                        Some(c) => Some(CertificateDer::from(c.der().to_vec())),
                        None => policy.trust.certificate_of(p.anchor()).cloned(),
                    };
                    (names, issuer)
                })
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
                Ok((path, issuer)) => {
                    report.chain_valid = true;
                    report.path = path;
                    report.issuer = issuer;
                }
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
    structure(chain, policy, &mut report);
    report.problems.sort_by_key(|p| std::cmp::Reverse(p.rank()));
    report
}

/// Keys, signatures, basic constraints, EKU, order and completeness of the presented chain.
fn structure(chain: &[CertificateDer<'_>], policy: &CertPolicy<'_>, report: &mut CertReport) {
    use x509_parser::public_key::PublicKey;
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .filter_map(|c| X509Certificate::from_der(c.as_ref()).ok().map(|(_, x)| x))
        .collect();
    for (depth, c) in parsed.iter().enumerate() {
        let self_signed = c.subject().as_raw() == c.issuer().as_raw();
        let weak_key = match c.public_key().parsed() {
            Ok(PublicKey::RSA(k)) if k.key_size() < 2048 => Some(("RSA", k.key_size())),
            Ok(PublicKey::DSA(_)) => Some(("DSA", 1024)),
            Ok(PublicKey::EC(k)) if k.key_size() < 256 => Some(("EC", k.key_size())),
            _ => None,
        };
        if let Some((algorithm, bits)) = weak_key {
            report.problems.push(CertProblem::WeakKey {
                depth,
                algorithm: algorithm.into(),
                bits: u32::try_from(bits).unwrap_or(0),
            });
        }
        if !(self_signed && depth > 0) {
            let oid = c.signature_algorithm.algorithm.to_id_string();
            let weak = match oid.as_str() {
                "1.2.840.113549.1.1.4" => Some("md5WithRSAEncryption"),
                "1.2.840.113549.1.1.5" => Some("sha1WithRSAEncryption"),
                "1.2.840.10045.4.1" => Some("ecdsa-with-SHA1"),
                "1.2.840.10040.4.3" => Some("dsa-with-sha1"),
                _ => None,
            };
            if let Some(algorithm) = weak {
                report.problems.push(CertProblem::WeakSignature {
                    depth,
                    algorithm: algorithm.into(),
                });
            }
        }
        if depth > 0 {
            let is_ca = c
                .basic_constraints()
                .ok()
                .flatten()
                .is_some_and(|b| b.value.ca);
            if !is_ca {
                report.problems.push(CertProblem::NotCa { depth });
            }
        }
    }
    if let Some(leaf) = parsed.first()
        && let Ok(Some(eku)) = leaf.extended_key_usage()
    {
        let e = &eku.value;
        if !e.server_auth && !e.any {
            let mut allowed = Vec::new();
            if e.client_auth {
                allowed.push("clientAuth".to_owned());
            }
            if e.email_protection {
                allowed.push("emailProtection".to_owned());
            }
            if e.code_signing {
                allowed.push("codeSigning".to_owned());
            }
            allowed.extend(e.other.iter().map(|o| o.to_id_string()));
            report.problems.push(CertProblem::WrongKeyUsage { allowed });
        }
    }
    for (depth, pair) in parsed.windows(2).enumerate() {
        if let [child, parent] = pair
            && child.issuer().as_raw() != parent.subject().as_raw()
        {
            report.problems.push(CertProblem::ChainOrder { depth });
            break;
        }
    }
    // Only the leaf was sent and its issuer is no anchor: the intermediate is missing. (With
    // intermediates sent, an unknown top issuer is an unknown root: UnknownIssuer.)
    if !report.chain_valid
        && parsed.len() == 1
        && let Some(last) = parsed.last()
        && last.subject().as_raw() != last.issuer().as_raw()
    {
        let issuer = last.issuer().as_raw();
        let in_chain = parsed.iter().any(|c| c.subject().as_raw() == issuer);
        let anchored = policy.trust.anchors().iter().any(|a| {
            // The anchor's subject is the DN's contents, without the SEQUENCE header.
            issuer.ends_with(a.subject.as_ref())
        });
        if !in_chain && !anchored {
            report.problems.push(CertProblem::MissingIntermediate {
                issuer: last.issuer().to_string(),
            });
        }
    }
}

fn subject_of(der: &[u8]) -> String {
    X509Certificate::from_der(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_else(|_| "(unparseable)".into())
}

/// A distinguished name from its contents (as webpki keeps anchor subjects).
fn name_of(contents: &[u8]) -> String {
    let mut der = vec![0x30];
    let len = contents.len();
    if len < 0x80 {
        der.push(len as u8);
    } else if len < 0x100 {
        der.extend_from_slice(&[0x81, len as u8]);
    } else {
        der.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    der.extend_from_slice(contents);
    x509_parser::x509::X509Name::from_der(&der)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|_| "(unparseable)".into())
}

/// RFC 6125 §6.4.3: a wildcard only as the whole leftmost label, once, not over a public suffix.
fn bad_wildcard(san: &str) -> bool {
    if !san.contains('*') {
        return false;
    }
    let mut labels = san.split('.');
    let first = labels.next().unwrap_or_default();
    let rest: Vec<&str> = labels.collect();
    first != "*"
        || rest.iter().any(|l| l.contains('*'))
        || rest.len() < 2
        || psl::suffix_str(&rest.join(".")) == Some(rest.join(".").as_str())
}

/// Whether `san` (a well-formed SAN) covers `name`.
fn san_matches(san: &str, name: &str) -> bool {
    let san = san.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match san.strip_prefix("*.") {
        Some(suffix) => name
            .split_once('.')
            .is_some_and(|(l, rest)| !l.is_empty() && rest == suffix),
        None => san == name,
    }
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

#[cfg(test)]
mod tests {
    use super::{bad_wildcard, san_matches};

    #[test]
    fn wildcards() {
        for good in ["*.example.com", "mx.example.com", "*.mail.example.co.uk"] {
            assert!(!bad_wildcard(good), "{good}");
        }
        for bad in [
            "*.com",
            "*.co.uk",
            "f*.example.com",
            "*.*.example.com",
            "mx.*.example.com",
            "*",
        ] {
            assert!(bad_wildcard(bad), "{bad}");
        }
        assert!(san_matches("*.example.com", "MX.example.com."));
        assert!(!san_matches("*.example.com", "a.b.example.com"));
        assert!(!san_matches("*.example.com", "example.com"));
    }
}

/// One certificate of a chain, summarised for reports: names, validity, key, signature,
/// fingerprint and the certificate itself in PEM.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CertSummary {
    /// Position (0 = leaf).
    pub depth: usize,
    /// Subject, as a distinguished name.
    pub subject: String,
    /// Issuer, as a distinguished name.
    pub issuer: String,
    /// Subject alternative names (DNS).
    pub san: Vec<String>,
    /// Not before, RFC 3339.
    pub not_before: String,
    /// Not after, RFC 3339.
    pub not_after: String,
    /// The public key (`EC 256`, `RSA 2048`), or `unknown`.
    #[serde(with = "key_text")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "key_text::schema"))]
    pub key: Option<checktls_types::PublicKeyInfo>,
    /// Signature algorithm, e.g. `sha256WithRSAEncryption` (OpenSSL's short name).
    pub signature: String,
    /// SHA-256 fingerprint, hex.
    pub sha256: String,
    /// The certificate in PEM.
    pub pem: String,
}

/// The public key written as text (`EC 256`, `unknown`), as the reports have always shown it.
mod key_text {
    use checktls_types::PublicKeyInfo;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        key: &Option<PublicKeyInfo>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match key {
            Some(k) => s.collect_str(k),
            None => s.serialize_str("unknown"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<PublicKeyInfo>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "unknown" {
            return Ok(None);
        }
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }

    #[cfg(feature = "schema")]
    pub(super) fn schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let key = generator.subschema_for::<checktls_types::schema::PublicKeyText>();
        schemars::json_schema!({
            "anyOf": [key, {"const": "unknown"}],
        })
    }
}

/// The public key of a certificate.
pub fn public_key(cert: &X509Certificate<'_>) -> Option<checktls_types::PublicKeyInfo> {
    use checktls_types::{KeyAlgorithm, PublicKeyInfo};
    use x509_parser::public_key::PublicKey;
    let info = |algorithm, bits: usize| PublicKeyInfo {
        algorithm,
        bits: u32::try_from(bits).unwrap_or(0),
    };
    match cert.public_key().parsed().ok()? {
        PublicKey::RSA(rsa) => Some(info(KeyAlgorithm::Rsa, rsa.key_size())),
        PublicKey::EC(ec) => Some(info(KeyAlgorithm::Ec, ec.key_size())),
        PublicKey::DSA(_) => Some(info(KeyAlgorithm::Dsa, 1024)),
        _ => match cert
            .public_key()
            .algorithm
            .algorithm
            .to_id_string()
            .as_str()
        {
            "1.3.101.112" => Some(info(KeyAlgorithm::Ed25519, 256)),
            "1.3.101.113" => Some(info(KeyAlgorithm::Ed448, 456)),
            _ => None,
        },
    }
}

/// The certificate at `depth` of a chain, summarised; `None` when it does not parse.
pub fn summarize(depth: usize, der: &CertificateDer<'_>) -> Option<CertSummary> {
    let (_, c) = X509Certificate::from_der(der.as_ref()).ok()?;
    let time = |t: x509_parser::time::ASN1Time| {
        t.to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let oid = &c.signature_algorithm.algorithm;
    let signature = x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| oid.to_id_string());
    Some(CertSummary {
        depth,
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        san: dns_names(&c),
        not_before: time(c.validity().not_before),
        not_after: time(c.validity().not_after),
        key: public_key(&c),
        signature,
        sha256: data_encoding::HEXLOWER
            .encode(ring::digest::digest(&ring::digest::SHA256, der.as_ref()).as_ref()),
        pem: pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der.as_ref())
            .unwrap_or_default(),
    })
}
