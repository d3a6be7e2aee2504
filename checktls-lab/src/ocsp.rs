//! An OCSP responder (RFC 6960) and a CRL server for the lab intermediate CA, over the lab HTTP
//! server, with the ways real responders go wrong.
//!
//! ```text
//!   POST /  (application/ocsp-request)  or  GET /<url-encoded base64 request>
//!     ──► the serial's state (set per serial; unknown otherwise)
//!     ──► BasicOCSPResponse signed by the intermediate (or its delegated responder), nonce echoed
//!   OcspMode: Normal | BadSignature | Stale | NoNextUpdate | Delegated | DelegatedNotForOcsp
//!             | PostRefused (405 to POST, GET works) | WrongNonce
//!   GET /crl ──► crl::signed_crl(revoked serials, CrlMode)
//! ```
//!
//! [`Responder`] makes the responses without a server, for stapling and for tests that judge a
//! response from bytes.
//!
//! ```no_run
//! # async fn run(pki: &checktls_lab::pki::Pki) -> Result<(), checktls_lab::Error> {
//! use checktls_lab::ocsp::{CertState, OcspMode, RevocationServer};
//! let server = RevocationServer::start(pki, OcspMode::Normal).await?;
//! server.set(&[1, 2, 3], CertState::Revoked { reason: 1 });
//! println!("OCSP at {}, CRL at {}", server.ocsp_url(), server.crl_url());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use der::{Decode, Encode};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SerialNumber, SigningKey,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::Error;
use crate::crl::{CrlMode, CrlSigner, RevokedEntry};
use crate::http::{HttpReply, HttpServer};
use crate::pki::{Pki, random_serial};

const HOUR: Duration = Duration::from_secs(3600);
const OCSP_NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
const OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const SHA1: &str = "1.3.14.3.2.26";
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

/// What the responder says of a serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertState {
    /// Good.
    Good,
    /// Revoked an hour ago with this reason code.
    Revoked {
        /// The CRL reason code (1 keyCompromise, ...).
        reason: u8,
    },
    /// Unknown to the responder.
    Unknown,
}

/// How the responder behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OcspMode {
    /// Correct responses, signed by the intermediate CA itself.
    #[default]
    Normal,
    /// Responses whose signature does not verify.
    BadSignature,
    /// Responses whose nextUpdate has passed.
    Stale,
    /// Responses without nextUpdate whose thisUpdate is ten days old.
    NoNextUpdate,
    /// Correct responses signed by a delegated responder certificate (issued by the
    /// intermediate for id-kp-OCSPSigning, included in the response).
    Delegated,
    /// Responses signed by a certificate the intermediate issued, but not for OCSP signing.
    DelegatedNotForOcsp,
    /// POST is refused (405); the GET form works.
    PostRefused,
    /// Correct responses carrying a nonce other than the one asked for.
    WrongNonce,
}

/// The signing half of the responder: makes OCSP responses for the lab intermediate CA.
pub struct Responder {
    key: KeyPair,
    /// SHA-1 of the intermediate's subject DER and of its public key bits.
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    /// The delegated responder's key and certificate, in the delegated modes.
    delegate: Option<(KeyPair, CertificateDer<'static>)>,
    mode: OcspMode,
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

fn gtime(t: SystemTime) -> Option<x509_ocsp::OcspGeneralizedTime> {
    der::asn1::GeneralizedTime::from_system_time(t)
        .ok()
        .map(x509_ocsp::OcspGeneralizedTime)
}

fn strip(serial: &[u8]) -> &[u8] {
    match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        s => s,
    }
}

fn lab_error(reason: impl Into<String>) -> Error {
    Error::DnsLab {
        reason: reason.into(),
    }
}

impl Responder {
    /// A responder that signs in the name of `ca` (any CA: the lab's intermediate, or an
    /// impostor of it), with correct responses.
    pub fn signing_as(ca: &crate::pki::Ca) -> Result<Self, Error> {
        let key = KeyPair::try_from(ca.key_der().secret_der())?;
        let (_, cert) = x509_parser::parse_x509_certificate(ca.der())
            .map_err(|e| lab_error(format!("CA: {e}")))?;
        Ok(Self {
            key,
            name_hash: sha1(cert.subject().as_raw()),
            key_hash: sha1(&cert.public_key().subject_public_key.data),
            delegate: None,
            mode: OcspMode::Normal,
        })
    }

    /// A responder for the intermediate CA of `pki`, behaving as `mode` says.
    pub fn new(pki: &Pki, mode: OcspMode) -> Result<Self, Error> {
        let inter = pki.intermediate();
        let key = KeyPair::try_from(inter.key_der().secret_der())?;
        let (_, issuer) = x509_parser::parse_x509_certificate(inter.der())
            .map_err(|e| lab_error(format!("intermediate: {e}")))?;
        let name_hash = sha1(issuer.subject().as_raw());
        let key_hash = sha1(&issuer.public_key().subject_public_key.data);
        let delegate = match mode {
            OcspMode::Delegated | OcspMode::DelegatedNotForOcsp => {
                let dkey = KeyPair::generate()?;
                let mut params = CertificateParams::new(Vec::<String>::new())?;
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, "checktls lab OCSP responder");
                params.distinguished_name = dn;
                params.not_before = OffsetDateTime::from(pki.now() - 24 * HOUR);
                params.not_after = OffsetDateTime::from(pki.now() + 30 * 24 * HOUR);
                params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                params.extended_key_usages = vec![if mode == OcspMode::Delegated {
                    ExtendedKeyUsagePurpose::OcspSigning
                } else {
                    ExtendedKeyUsagePurpose::ServerAuth
                }];
                params.use_authority_key_identifier_extension = true;
                let cert = params.signed_by(&dkey, &inter.issuer())?;
                Some((dkey, cert.der().clone()))
            }
            _ => None,
        };
        Ok(Self {
            key,
            name_hash,
            key_hash,
            delegate,
            mode,
        })
    }

    /// The delegated responder's certificate, in the delegated modes.
    pub fn delegate(&self) -> Option<&CertificateDer<'static>> {
        self.delegate.as_ref().map(|(_, c)| c)
    }

    /// A response to a DER OCSP request; `state` says what to answer of a serial (leading zero
    /// stripped). `None` when the request does not parse.
    pub fn respond(
        &self,
        request: &[u8],
        state: impl Fn(&[u8]) -> CertState,
        now: SystemTime,
    ) -> Option<Vec<u8>> {
        let req = x509_ocsp::OcspRequest::from_der(request).ok()?;
        let first = req.tbs_request.request_list.first()?;
        let cert_id = first.req_cert.clone();
        let st = state(strip(cert_id.serial_number.as_bytes()));
        let mut nonce = req
            .tbs_request
            .request_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id.to_string() == OCSP_NONCE)
            .cloned();
        if self.mode == OcspMode::WrongNonce
            && let Some(n) = nonce.as_mut()
        {
            let wrong = der::asn1::OctetString::new([0x5a; 16])
                .ok()?
                .to_der()
                .ok()?;
            n.extn_value = der::asn1::OctetString::new(wrong).ok()?;
        }
        self.sign(cert_id, st, nonce, now)
    }

    /// A response for `leaf` (issued by the intermediate) without a request, as a server
    /// staples it.
    pub fn staple(
        &self,
        leaf: &CertificateDer<'_>,
        state: CertState,
        now: SystemTime,
    ) -> Result<Vec<u8>, Error> {
        let (_, cert) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| lab_error(format!("leaf: {e}")))?;
        let cert_id = x509_ocsp::CertId {
            hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                oid: der::asn1::ObjectIdentifier::new_unwrap(SHA1),
                parameters: Some(der::asn1::Null.into()),
            },
            issuer_name_hash: der::asn1::OctetString::new(self.name_hash.clone())
                .map_err(|e| lab_error(e.to_string()))?,
            issuer_key_hash: der::asn1::OctetString::new(self.key_hash.clone())
                .map_err(|e| lab_error(e.to_string()))?,
            serial_number: x509_cert::serial_number::SerialNumber::new(strip(cert.raw_serial()))
                .map_err(|e| lab_error(e.to_string()))?,
        };
        self.sign(cert_id, state, None, now)
            .ok_or_else(|| lab_error("the OCSP response could not be made"))
    }

    fn sign(
        &self,
        cert_id: x509_ocsp::CertId,
        state: CertState,
        nonce: Option<x509_cert::ext::Extension>,
        now: SystemTime,
    ) -> Option<Vec<u8>> {
        let (this, next) = match self.mode {
            OcspMode::Stale => (now - 10 * 24 * HOUR, Some(now - 24 * HOUR)),
            OcspMode::NoNextUpdate => (now - 10 * 24 * HOUR, None),
            _ => (now - HOUR, Some(now + 24 * HOUR)),
        };
        let status = match state {
            CertState::Good => x509_ocsp::CertStatus::good(),
            CertState::Unknown => x509_ocsp::CertStatus::unknown(),
            CertState::Revoked { reason } => {
                x509_ocsp::CertStatus::Revoked(x509_ocsp::RevokedInfo {
                    revocation_time: gtime(now - HOUR)?,
                    revocation_reason: x509_cert::ext::pkix::CrlReason::from_der(&[
                        0x0a, 0x01, reason,
                    ])
                    .ok(),
                })
            }
        };
        let (signer, responder_key_hash, certs) = match &self.delegate {
            Some((dkey, dcert)) => {
                let (_, parsed) = x509_parser::parse_x509_certificate(dcert).ok()?;
                let hash = sha1(&parsed.public_key().subject_public_key.data);
                let cert = x509_cert::Certificate::from_der(dcert).ok()?;
                (dkey, hash, Some(vec![cert]))
            }
            None => (&self.key, self.key_hash.clone(), None),
        };
        let data = x509_ocsp::ResponseData {
            version: x509_ocsp::Version::V1,
            responder_id: x509_ocsp::ResponderId::ByKey(
                der::asn1::OctetString::new(responder_key_hash).ok()?,
            ),
            produced_at: gtime(now)?,
            responses: vec![x509_ocsp::SingleResponse {
                cert_id,
                cert_status: status,
                this_update: gtime(this)?,
                next_update: match next {
                    Some(n) => Some(gtime(n)?),
                    None => None,
                },
                single_extensions: None,
            }],
            response_extensions: nonce.map(|n| vec![n]),
        };
        let tbs = data.to_der().ok()?;
        let mut signature = signer.sign(&tbs).ok()?;
        if self.mode == OcspMode::BadSignature
            && let Some(b) = signature.last_mut()
        {
            *b ^= 0x01;
        }
        let basic = x509_ocsp::BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                // The lab keys are ECDSA P-256.
                oid: der::asn1::ObjectIdentifier::new_unwrap(ECDSA_WITH_SHA256),
                parameters: None,
            },
            signature: der::asn1::BitString::from_bytes(&signature).ok()?,
            certs,
        };
        let response = x509_ocsp::OcspResponse {
            response_status: x509_ocsp::OcspResponseStatus::Successful,
            response_bytes: Some(x509_ocsp::ResponseBytes {
                response_type: der::asn1::ObjectIdentifier::new_unwrap(OCSP_BASIC),
                response: der::asn1::OctetString::new(basic.to_der().ok()?).ok()?,
            }),
        };
        response.to_der().ok()
    }
}

type States = Arc<Mutex<HashMap<Vec<u8>, CertState>>>;

/// The lab's OCSP responder and CRL server; stops when dropped.
pub struct RevocationServer {
    server: HttpServer,
    states: States,
}

impl RevocationServer {
    /// Starts a responder for the lab intermediate CA on 127.0.0.1, with a correct CRL.
    pub async fn start(pki: &Pki, mode: OcspMode) -> Result<Self, Error> {
        Self::start_with(pki, mode, CrlMode::Normal).await
    }

    /// Starts a responder behaving as `mode` says and a CRL server as `crl_mode` says.
    pub async fn start_with(pki: &Pki, mode: OcspMode, crl_mode: CrlMode) -> Result<Self, Error> {
        let responder = Responder::new(pki, mode)?;
        let states: States = Arc::new(Mutex::new(HashMap::new()));
        // The CRL is signed per request, from the states of the moment.
        let crl_signer = CrlSigner::new(pki)?;
        let (s, now) = (Arc::clone(&states), pki.now());
        let handler = Arc::new(move |req: &crate::http::HttpRequest| {
            if req.path == "/crl" {
                let revoked: Vec<RevokedEntry> = s
                    .lock()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(serial, st)| match st {
                                CertState::Revoked { reason } => Some(RevokedEntry {
                                    serial: serial.clone(),
                                    reason: Some(*reason),
                                }),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                return match crl_signer.sign(&revoked, crl_mode, now) {
                    Ok(der) => HttpReply::ok("application/pkix-crl", der),
                    Err(_) => HttpReply::status(500),
                };
            }
            let body = if req.method == "POST" {
                if mode == OcspMode::PostRefused {
                    return HttpReply::status(405);
                }
                req.body.clone()
            } else {
                let enc = req
                    .path
                    .trim_start_matches('/')
                    .replace("%2B", "+")
                    .replace("%2F", "/")
                    .replace("%3D", "=");
                Base64::decode_vec(&enc).unwrap_or_default()
            };
            let state = |serial: &[u8]| {
                s.lock()
                    .ok()
                    .and_then(|m| m.get(serial).copied())
                    .unwrap_or(CertState::Unknown)
            };
            match responder.respond(&body, state, now) {
                Some(r) => HttpReply::ok("application/ocsp-response", r),
                // OCSPResponse { responseStatus malformedRequest }
                None => HttpReply::ok(
                    "application/ocsp-response",
                    vec![0x30, 0x03, 0x0a, 0x01, 0x01],
                ),
            }
        });
        let server = HttpServer::start(None, handler).await?;
        Ok(Self { server, states })
    }

    /// Sets what the responder says of a serial (as in [`crate::pki::Leaf::serial`]), and
    /// whether the CRL lists it.
    pub fn set(&self, serial: &[u8], state: CertState) {
        if let Ok(mut m) = self.states.lock() {
            m.insert(strip(serial).to_vec(), state);
        }
    }

    /// The responder's URL, for a leaf's AIA.
    pub fn ocsp_url(&self) -> String {
        format!("http://{}/", self.server.addr())
    }

    /// The CRL's URL, for a leaf's distribution point.
    pub fn crl_url(&self) -> String {
        format!("http://{}/crl", self.server.addr())
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Requests served.
    pub fn requests(&self) -> usize {
        self.server.requests()
    }
}
