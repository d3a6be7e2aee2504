//! Revocation: OCSP (RFC 6960) and CRLs (RFC 5280). The judgements are pure functions of the
//! bytes, the certificates and a time; the fetches (feature `tokio`) are thin.
//!
//! ```text
//!   leaf + issuer ──► stapled OCSP response? ──► check_ocsp_response ──┐
//!                 ──► AIA OCSP URL: POST (GET on failure) ─────────────┤──► Revocation
//!                 ──► CRL distribution point (cached per URL) ─► check_crl ┘   good | revoked |
//!                                                                              unknown |
//!                                                                              could_not_check
//! ```
//!
//! A response counts only when its signature verifies with the issuer's key or with a
//! responder certificate the issuer signed for `id-kp-OCSPSigning` and valid at the time
//! judged, when it is fresh (thisUpdate not in the future, nextUpdate not past, with a
//! [`TOLERANCE_SECS`] tolerance; without nextUpdate, thisUpdate within
//! [`MAX_AGE_WITHOUT_NEXT_UPDATE_SECS`]), and when a nonce we sent comes back unchanged (a
//! responder may omit it, as most pre-signing responders do).
//!
//! A CRL counts only when it names the issuer, its signature verifies with the issuer's key
//! (whose key usage, if stated, allows CRL signing), it is fresh by the same rules, it is not a
//! delta CRL, it has no unknown critical extension, and its issuing distribution point covers
//! the certificate (a CRL of some reasons only can prove revocation, never good standing).
//! With the `tokio` feature, [`check`] fetches a CRL once per URL and run through a
//! [`RevocationCache`], even when many checks run at once, reading up to [`CRL_MAX_BODY`].
//! A must-staple leaf (RFC 7633) served without a stapled response is flagged.
//!
//! ```
//! use checktls_tls::revocation::{check_ocsp_response, RevocationStatus};
//! let status = check_ocsp_response(b"not DER", &[], &[], None, rustls_pki_types::UnixTime::now());
//! assert!(matches!(status, RevocationStatus::CouldNotCheck { .. }));
//! ```

use der::{Decode, Encode};
use rustls_pki_types::UnixTime;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The OID of id-pkix-ocsp-basic.
const OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
/// The OID of the OCSP nonce extension.
const OCSP_NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
/// id-kp-OCSPSigning.
const KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
/// SHA-1 and SHA-256 OIDs for CertID hashes.
const SHA1: &str = "1.3.14.3.2.26";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
/// id-ce-deltaCRLIndicator.
const DELTA_CRL_INDICATOR: &str = "2.5.29.27";
/// How far thisUpdate/nextUpdate may be off (clock skew).
pub const TOLERANCE_SECS: i64 = 300;
/// A response or CRL without nextUpdate counts for this long after its thisUpdate (7 days, the
/// longest validity the CA/Browser Forum allows an OCSP response).
pub const MAX_AGE_WITHOUT_NEXT_UPDATE_SECS: i64 = 7 * 86_400;
/// CRLs may be far larger than other fetched bodies: they are read up to this (10 MiB) even
/// when the fetch options allow less.
pub const CRL_MAX_BODY: usize = 10 << 20;

/// A revocation verdict.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevocationStatus {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When, seconds since the Unix epoch.
        time: i64,
        /// The reason code name, when given.
        reason: Option<String>,
    },
    /// The responder does not know the certificate.
    Unknown,
    /// No verdict could be had.
    CouldNotCheck {
        /// Why.
        cause: String,
    },
    /// Revocation checking is turned off.
    NotChecked,
}

impl RevocationStatus {
    /// `good`, `revoked`, `unknown`, `could_not_check`, `not_checked`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Revoked { .. } => "revoked",
            Self::Unknown => "unknown",
            Self::CouldNotCheck { .. } => "could_not_check",
            Self::NotChecked => "not_checked",
        }
    }

    /// No verdict could be had, because of `cause`.
    pub fn fail(cause: impl Into<String>) -> Self {
        Self::CouldNotCheck {
            cause: cause.into(),
        }
    }
}

/// Where a verdict came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationSource {
    /// The OCSP response stapled to the handshake.
    Stapled,
    /// The certificate's OCSP responder.
    Ocsp,
    /// The certificate's CRL.
    Crl,
}

impl RevocationSource {
    /// `stapled`, `ocsp`, `crl`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stapled => "stapled",
            Self::Ocsp => "ocsp",
            Self::Crl => "crl",
        }
    }
}

/// A verdict and its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Revocation {
    /// The verdict.
    pub status: RevocationStatus,
    /// Where it came from.
    pub source: Option<RevocationSource>,
    /// What was tried, in order, and what each gave.
    pub attempts: Vec<String>,
    /// The leaf asks for a stapled response (RFC 7633 must-staple) and none that decides was
    /// stapled: clients that honour the extension refuse such a server.
    #[serde(default)]
    pub must_staple_unmet: bool,
}

fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "other",
    }
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// The OCSP responder URLs and CRL distribution point URLs of a certificate.
pub fn revocation_urls(cert_der: &[u8]) -> (Vec<String>, Vec<String>) {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let mut ocsp = Vec::new();
    let mut crl = Vec::new();
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return (ocsp, crl);
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in &aia.accessdescs {
                    if d.access_method.to_id_string() == "1.3.6.1.5.5.7.48.1"
                        && let GeneralName::URI(u) = d.access_location
                    {
                        ocsp.push(u.to_owned());
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        for n in names {
                            if let GeneralName::URI(u) = n {
                                crl.push((*u).to_owned());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (ocsp, crl)
}

/// Whether the certificate carries the TLS Feature extension with status_request (RFC 7633
/// "must-staple"): it promises that its servers staple an OCSP response.
pub fn must_staple(cert_der: &[u8]) -> bool {
    /// id-pe-tlsfeature.
    const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
    /// The TLS extension number of status_request.
    const STATUS_REQUEST: u8 = 5;
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return false;
    };
    cert.extensions()
        .iter()
        .filter(|e| e.oid.to_id_string() == TLS_FEATURE)
        .any(|e| {
            Vec::<der::asn1::Uint>::from_der(e.value)
                .is_ok_and(|features| features.iter().any(|f| f.as_bytes() == [STATUS_REQUEST]))
        })
}

/// A DER OCSP request for `leaf` (issued by `issuer`), with a nonce when given.
pub fn ocsp_request(
    leaf_der: &[u8],
    issuer_der: &[u8],
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let leaf = x509_cert::Certificate::from_der(leaf_der).map_err(|e| format!("leaf: {e}"))?;
    let issuer =
        x509_cert::Certificate::from_der(issuer_der).map_err(|e| format!("issuer: {e}"))?;
    let name = issuer
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let cert_id = x509_ocsp::CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap(SHA1),
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: der::asn1::OctetString::new(sha1(&name)).map_err(|e| e.to_string())?,
        issuer_key_hash: der::asn1::OctetString::new(sha1(key)).map_err(|e| e.to_string())?,
        serial_number: leaf.tbs_certificate.serial_number.clone(),
    };
    let extensions = match nonce {
        Some(n) => Some(vec![x509_cert::ext::Extension {
            extn_id: der::asn1::ObjectIdentifier::new_unwrap(OCSP_NONCE),
            critical: false,
            extn_value: der::asn1::OctetString::new(
                der::asn1::OctetString::new(n)
                    .map_err(|e| e.to_string())?
                    .to_der()
                    .map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?,
        }]),
        None => None,
    };
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            request_extensions: extensions,
        },
        optional_signature: None,
    };
    request.to_der().map_err(|e| e.to_string())
}

/// The GET form of an OCSP request (RFC 6960 appendix A.1): the responder URL, a slash, and the
/// URL-encoded base64 of the DER request.
///
/// ```
/// let url = checktls_tls::revocation::ocsp_get_url("http://ocsp.example/", &[0xfb, 0xff]);
/// assert_eq!(url, "http://ocsp.example/%2B%2F8%3D");
/// ```
pub fn ocsp_get_url(responder: &str, request_der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let mut encoded = String::new();
    for c in Base64::encode_string(request_der).chars() {
        match c {
            '+' => encoded.push_str("%2B"),
            '/' => encoded.push_str("%2F"),
            '=' => encoded.push_str("%3D"),
            c => encoded.push(c),
        }
    }
    format!("{}/{encoded}", responder.trim_end_matches('/'))
}

/// Verifies `signature` over `data` with the key of `signer` (DER), by the named algorithm.
fn verify_with(
    signer: &X509Certificate<'_>,
    algorithm_der: &[u8],
    signature: &[u8],
    data: &[u8],
) -> Result<(), String> {
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(algorithm_der)
        .map_err(|e| format!("signature algorithm: {e}"))?;
    let bits = x509_parser::der_parser::asn1_rs::BitString::new(0, signature);
    x509_parser::verify::verify_signature(signer.public_key(), &alg, &bits, data)
        .map_err(|e| format!("the signature does not verify: {e}"))
}

fn generalized(t: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    let d: std::time::Duration = t.0.to_unix_duration();
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Judges a DER OCSP response for `leaf` (issued by `issuer`) at `now`; `nonce` is the nonce
/// sent, if any.
pub fn check_ocsp_response(
    response: &[u8],
    leaf_der: &[u8],
    issuer_der: &[u8],
    nonce: Option<&[u8]>,
    now: UnixTime,
) -> RevocationStatus {
    let resp = match x509_ocsp::OcspResponse::from_der(response) {
        Ok(r) => r,
        Err(e) => return RevocationStatus::fail(format!("not an OCSP response: {e}")),
    };
    if resp.response_status != x509_ocsp::OcspResponseStatus::Successful {
        return RevocationStatus::fail(format!(
            "the responder answered {:?}",
            resp.response_status
        ));
    }
    let Some(bytes) = resp.response_bytes else {
        return RevocationStatus::fail("a successful response without a body");
    };
    if bytes.response_type.to_string() != OCSP_BASIC {
        return RevocationStatus::fail(format!(
            "response type {} is not basic",
            bytes.response_type
        ));
    }
    let basic = match x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()) {
        Ok(b) => b,
        Err(e) => return RevocationStatus::fail(format!("malformed basic response: {e}")),
    };
    let (Ok((_, leaf)), Ok((_, issuer))) = (
        X509Certificate::from_der(leaf_der),
        X509Certificate::from_der(issuer_der),
    ) else {
        return RevocationStatus::fail("the leaf or its issuer does not parse");
    };
    let Ok(tbs) = basic.tbs_response_data.to_der() else {
        return RevocationStatus::fail("the response data does not re-encode");
    };
    let Ok(alg) = basic.signature_algorithm.to_der() else {
        return RevocationStatus::fail("the signature algorithm does not re-encode");
    };
    let Some(sig) = basic.signature.as_bytes() else {
        return RevocationStatus::fail("the signature is not whole bytes");
    };
    // The signer: the issuer itself, or a responder certificate it delegated to.
    let direct = verify_with(&issuer, &alg, sig, &tbs);
    if let Err(direct_err) = direct {
        let mut delegated = Err(direct_err);
        for c in basic.certs.iter().flatten() {
            let Ok(der) = c.to_der() else { continue };
            let Ok((_, responder)) = X509Certificate::from_der(&der) else {
                continue;
            };
            // Issued by the issuer, for OCSP signing.
            if responder
                .verify_signature(Some(issuer.public_key()))
                .is_err()
            {
                continue;
            }
            let authorised = responder
                .extended_key_usage()
                .ok()
                .flatten()
                .is_some_and(|eku| {
                    eku.value.ocsp_signing
                        || eku
                            .value
                            .other
                            .iter()
                            .any(|o| o.to_id_string() == KP_OCSP_SIGNING)
                });
            if !authorised {
                delegated =
                    Err("the responder certificate is not authorised for OCSP signing".to_owned());
                continue;
            }
            let validity = responder.validity();
            let now_s = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            if validity.not_after.timestamp() < now_s - TOLERANCE_SECS
                || validity.not_before.timestamp() > now_s + TOLERANCE_SECS
            {
                delegated = Err(
                    "the responder certificate is not valid now (expired or not yet valid)"
                        .to_owned(),
                );
                continue;
            }
            delegated = verify_with(&responder, &alg, sig, &tbs);
            if delegated.is_ok() {
                break;
            }
        }
        if let Err(e) = delegated {
            return RevocationStatus::fail(e);
        }
    }
    // Nonce.
    if let Some(sent) = nonce
        && let Some(exts) = &basic.tbs_response_data.response_extensions
        && let Some(ext) = exts.iter().find(|e| e.extn_id.to_string() == OCSP_NONCE)
    {
        let inner = der::asn1::OctetString::from_der(ext.extn_value.as_bytes())
            .map(|o| o.as_bytes().to_vec())
            .unwrap_or_else(|_| ext.extn_value.as_bytes().to_vec());
        if inner != sent {
            return RevocationStatus::fail("the response's nonce is not the one sent (a replay?)");
        }
    }
    // The single response for our certificate.
    let serial = leaf.raw_serial();
    let issuer_name = issuer.subject().as_raw();
    let issuer_key = issuer.public_key().subject_public_key.data.as_ref();
    let now_s = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    for single in &basic.tbs_response_data.responses {
        let id = &single.cert_id;
        let hash: fn(&[u8]) -> Vec<u8> = match id.hash_algorithm.oid.to_string().as_str() {
            SHA1 => sha1,
            SHA256 => sha256,
            _ => continue,
        };
        let serial_matches = id.serial_number.as_bytes() == serial
            || id.serial_number.as_bytes().strip_prefix(&[0]) == Some(serial)
            || serial.strip_prefix(&[0]) == Some(id.serial_number.as_bytes());
        if !serial_matches
            || id.issuer_name_hash.as_bytes() != hash(issuer_name).as_slice()
            || id.issuer_key_hash.as_bytes() != hash(issuer_key).as_slice()
        {
            continue;
        }
        let this = generalized(&single.this_update);
        if this > now_s + TOLERANCE_SECS {
            return RevocationStatus::fail("the response's thisUpdate is in the future");
        }
        match &single.next_update {
            Some(next) if generalized(next) < now_s - TOLERANCE_SECS => {
                return RevocationStatus::fail("the response is stale (nextUpdate has passed)");
            }
            None if this < now_s - MAX_AGE_WITHOUT_NEXT_UPDATE_SECS => {
                return RevocationStatus::fail(
                    "the response is stale (no nextUpdate, thisUpdate older than 7 days)",
                );
            }
            _ => {}
        }
        return match &single.cert_status {
            x509_ocsp::CertStatus::Good(_) => RevocationStatus::Good,
            x509_ocsp::CertStatus::Unknown(_) => RevocationStatus::Unknown,
            x509_ocsp::CertStatus::Revoked(info) => RevocationStatus::Revoked {
                time: generalized(&info.revocation_time),
                reason: info
                    .revocation_reason
                    .map(|r| reason_name(r as u8).to_owned()),
            },
        };
    }
    RevocationStatus::fail("the response does not mention this certificate")
}

/// Judges a DER CRL for `leaf` (issued by `issuer`) at `now`.
pub fn check_crl(
    crl_der: &[u8],
    leaf_der: &[u8],
    issuer_der: &[u8],
    now: UnixTime,
) -> RevocationStatus {
    use x509_parser::revocation_list::CertificateRevocationList;
    let Ok((_, crl)) = CertificateRevocationList::from_der(crl_der) else {
        return RevocationStatus::fail("not a CRL");
    };
    let (Ok((_, leaf)), Ok((_, issuer))) = (
        X509Certificate::from_der(leaf_der),
        X509Certificate::from_der(issuer_der),
    ) else {
        return RevocationStatus::fail("the leaf or its issuer does not parse");
    };
    if crl.issuer() != issuer.subject() {
        return RevocationStatus::fail("the CRL is not the issuer's");
    }
    if let Ok(Some(ku)) = issuer.key_usage()
        && !ku.value.crl_sign()
    {
        return RevocationStatus::fail("the issuer's key usage does not allow signing CRLs");
    }
    for ext in crl.extensions() {
        let oid = ext.oid.to_id_string();
        if oid == DELTA_CRL_INDICATOR {
            return RevocationStatus::fail("a delta CRL cannot decide alone");
        }
        if ext.critical && !matches!(oid.as_str(), "2.5.29.20" | "2.5.29.28" | "2.5.29.35") {
            return RevocationStatus::fail(format!(
                "the CRL has an unknown critical extension {oid}"
            ));
        }
    }
    if let Err(e) = crl.verify_signature(issuer.public_key()) {
        return RevocationStatus::fail(format!("the CRL's signature does not verify: {e}"));
    }
    let now_s = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if crl.last_update().timestamp() > now_s + TOLERANCE_SECS {
        return RevocationStatus::fail("the CRL's thisUpdate is in the future");
    }
    match crl.next_update() {
        Some(next) if next.timestamp() < now_s - TOLERANCE_SECS => {
            return RevocationStatus::fail("the CRL is stale (nextUpdate has passed)");
        }
        None if crl.last_update().timestamp() < now_s - MAX_AGE_WITHOUT_NEXT_UPDATE_SECS => {
            return RevocationStatus::fail(
                "the CRL is stale (no nextUpdate, thisUpdate older than 7 days)",
            );
        }
        _ => {}
    }
    // An issuing distribution point that leaves end-entity certificates (or some reasons) out.
    for ext in crl.extensions() {
        if let x509_parser::extensions::ParsedExtension::IssuingDistributionPoint(idp) =
            ext.parsed_extension()
        {
            if (idp.only_contains_ca_certs || idp.only_contains_attribute_certs) && !leaf.is_ca() {
                return RevocationStatus::fail("the CRL covers only CA or attribute certificates");
            }
            if idp.only_contains_user_certs && leaf.is_ca() {
                return RevocationStatus::fail("the CRL covers only end-entity certificates");
            }
            if idp.only_some_reasons.is_some() {
                // A partial CRL can prove revocation but never that a certificate is good.
                for r in crl.iter_revoked_certificates() {
                    if r.raw_serial() == leaf.raw_serial() {
                        return RevocationStatus::Revoked {
                            time: r.revocation_date.timestamp(),
                            reason: r.reason_code().map(|(_, rc)| reason_name(rc.0).to_owned()),
                        };
                    }
                }
                return RevocationStatus::fail("the CRL covers only some revocation reasons");
            }
        }
    }
    for r in crl.iter_revoked_certificates() {
        if r.raw_serial() == leaf.raw_serial() {
            return RevocationStatus::Revoked {
                time: r.revocation_date.timestamp(),
                reason: r.reason_code().map(|(_, rc)| reason_name(rc.0).to_owned()),
            };
        }
    }
    RevocationStatus::Good
}

#[cfg(feature = "tokio")]
pub use fetch::{Fetch, FetchBudget, RevocationCache, check};

#[cfg(feature = "tokio")]
mod fetch {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use rustls_pki_types::{CertificateDer, UnixTime};
    use tokio::sync::OnceCell;

    use super::{
        CRL_MAX_BODY, Revocation, RevocationSource, RevocationStatus, check_crl,
        check_ocsp_response, must_staple, ocsp_get_url, ocsp_request, revocation_urls,
    };
    use crate::http::{HttpOptions, HttpRequest, fetch};
    use crate::net::Connector;

    /// A CRL's bytes once fetched, or why the fetch failed.
    type CrlCell = OnceCell<Result<Vec<u8>, String>>;

    /// CRLs fetched in a run, by URL (a CRL serves every certificate of its issuer). Checks
    /// that run at the same time wait for one fetch of a URL rather than each fetching it.
    ///
    /// Lifetime: one check or one batch run (the receiver test makes one per check, and one
    /// per batch run), never longer: what a server presents is observed afresh each run. A
    /// failed fetch is remembered for the cache's life too, so one run does not retry it.
    #[derive(Debug, Default)]
    pub struct RevocationCache {
        crls: Mutex<HashMap<String, Arc<CrlCell>>>,
    }

    /// How many bytes the fetches of one check may read in all (OCSP responses and CRLs): a
    /// server's certificate chooses the URLs, so it must not choose how much we download.
    #[derive(Debug)]
    pub struct FetchBudget {
        left: AtomicUsize,
    }

    impl FetchBudget {
        /// The default for one check: 16 MiB.
        pub const DEFAULT: usize = 16 << 20;

        /// A budget of `bytes`.
        pub fn new(bytes: usize) -> Self {
            Self {
                left: AtomicUsize::new(bytes),
            }
        }

        /// What is left.
        pub fn left(&self) -> usize {
            self.left.load(Ordering::SeqCst)
        }

        fn spend(&self, bytes: usize) {
            let _ = self
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                    Some(l.saturating_sub(bytes))
                });
        }
    }

    impl Default for FetchBudget {
        fn default() -> Self {
            Self::new(Self::DEFAULT)
        }
    }

    /// What revocation fetches go through: how to connect (the connector decides which
    /// addresses may be reached), the HTTP limits, the run's CRL cache and the check's byte
    /// budget.
    #[derive(Clone, Copy)]
    #[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
    pub struct Fetch<'a> {
        /// Opens the connections.
        pub connector: &'a dyn Connector,
        /// Time and size limits, trust for https URLs.
        pub options: &'a HttpOptions,
        /// The run's CRLs.
        pub cache: &'a RevocationCache,
        /// The check's byte budget.
        pub budget: &'a FetchBudget,
    }

    impl std::fmt::Debug for Fetch<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Fetch")
                .field("budget_left", &self.budget.left())
                .finish_non_exhaustive()
        }
    }

    impl Fetch<'_> {
        /// A fetch within the budget: the body limit is what is left (at most `max_body`).
        async fn get(&self, request: &HttpRequest, max_body: usize) -> Result<Vec<u8>, String> {
            let left = self.budget.left();
            if left == 0 {
                return Err("the check's fetch budget is spent".into());
            }
            let mut options = self.options.clone();
            options.max_body = max_body.min(left);
            match fetch(self.connector, request, &options).await {
                Ok(r) => {
                    self.budget.spend(r.body.len());
                    if r.status == 200 {
                        Ok(r.body)
                    } else {
                        Err(format!("HTTP {}", r.status))
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }

    impl RevocationCache {
        /// An empty cache.
        pub fn new() -> Self {
            Self::default()
        }

        /// How many CRLs are cached (fetched, or failed to fetch).
        pub fn len(&self) -> usize {
            self.crls
                .lock()
                .map(|m| m.values().filter(|c| c.initialized()).count())
                .unwrap_or(0)
        }

        /// Whether none is.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        fn cell(&self, url: &str) -> Arc<CrlCell> {
            match self.crls.lock() {
                Ok(mut m) => Arc::clone(m.entry(url.to_owned()).or_default()),
                Err(_) => Arc::new(OnceCell::new()),
            }
        }

        /// The CRL at `url`, fetched once per run.
        async fn crl(&self, url: &str, via: &Fetch<'_>) -> Result<Vec<u8>, String> {
            let cell = self.cell(url);
            cell.get_or_init(|| async {
                let max = via.options.max_body.max(CRL_MAX_BODY);
                via.get(&HttpRequest::get(url), max).await
            })
            .await
            .clone()
        }
    }

    /// `label: verdict`, with the cause when no verdict could be had.
    fn attempt(label: &str, status: &RevocationStatus) -> String {
        match status {
            RevocationStatus::CouldNotCheck { cause } => {
                format!("{label}: {} ({cause})", status.name())
            }
            _ => format!("{label}: {}", status.name()),
        }
    }

    fn nonce() -> [u8; 16] {
        use ring::rand::SecureRandom;
        let mut n = [0u8; 16];
        let _ = ring::rand::SystemRandom::new().fill(&mut n);
        n
    }

    /// The revocation verdict for `leaf`, issued by `issuer`: the stapled response if it
    /// decides, else the OCSP responder (POST, then GET), else the CRL. `issuer` must be the
    /// certificate that issued the leaf in a path that validated to a trust anchor (see
    /// [`CertReport::issuer`](crate::cert::CertReport::issuer)), never simply the second
    /// certificate the server sent: a server can put anything there.
    pub async fn check(
        leaf: &CertificateDer<'_>,
        issuer: &CertificateDer<'_>,
        stapled: Option<&[u8]>,
        via: &Fetch<'_>,
        now: UnixTime,
    ) -> Revocation {
        let mut attempts = Vec::new();
        // Settled below if a stapled response decides.
        let unmet = must_staple(leaf);
        if unmet {
            attempts.push("the certificate is must-staple (RFC 7633)".to_owned());
        }
        if let Some(staple) = stapled {
            let s = check_ocsp_response(staple, leaf, issuer, None, now);
            attempts.push(attempt("stapled", &s));
            if !matches!(s, RevocationStatus::CouldNotCheck { .. }) {
                return Revocation {
                    status: s,
                    source: Some(RevocationSource::Stapled),
                    attempts,
                    must_staple_unmet: false,
                };
            }
        }
        let (ocsp_urls, crl_urls) = revocation_urls(leaf);
        for url in ocsp_urls.iter().take(2) {
            let n = nonce();
            let Ok(body) = ocsp_request(leaf, issuer, Some(&n)) else {
                continue;
            };
            let post = HttpRequest::post(url, "application/ocsp-request", body.clone());
            let max = via.options.max_body;
            let answer = match via.get(&post, max).await {
                Ok(body) => Ok(body),
                Err(first) => {
                    attempts.push(format!("OCSP POST {url}: {first}"));
                    let get_url = ocsp_get_url(url, &body);
                    via.get(&HttpRequest::get(&get_url), max).await
                }
            };
            match answer {
                Ok(bytes) => {
                    let s = check_ocsp_response(&bytes, leaf, issuer, Some(&n), now);
                    attempts.push(attempt(&format!("OCSP {url}"), &s));
                    if !matches!(s, RevocationStatus::CouldNotCheck { .. }) {
                        return Revocation {
                            status: s,
                            source: Some(RevocationSource::Ocsp),
                            attempts,
                            must_staple_unmet: unmet,
                        };
                    }
                }
                Err(e) => attempts.push(format!("OCSP {url}: {e}")),
            }
        }
        for url in crl_urls.iter().take(2) {
            match via.cache.crl(url, via).await {
                Ok(crl) => {
                    let s = check_crl(&crl, leaf, issuer, now);
                    attempts.push(attempt(&format!("CRL {url}"), &s));
                    if !matches!(s, RevocationStatus::CouldNotCheck { .. }) {
                        return Revocation {
                            status: s,
                            source: Some(RevocationSource::Crl),
                            attempts,
                            must_staple_unmet: unmet,
                        };
                    }
                }
                Err(e) => attempts.push(format!("CRL {url}: {e}")),
            }
        }
        let cause = if ocsp_urls.is_empty() && crl_urls.is_empty() && stapled.is_none() {
            "the certificate names no OCSP responder and no CRL".to_owned()
        } else {
            attempts
                .last()
                .cloned()
                .unwrap_or_else(|| "no source answered".into())
        };
        Revocation {
            status: RevocationStatus::fail(cause),
            source: None,
            attempts,
            must_staple_unmet: unmet,
        }
    }
}
