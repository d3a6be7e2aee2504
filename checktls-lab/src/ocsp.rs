//! An OCSP responder and a CRL server for the lab intermediate CA, over the lab HTTP server.
//!
//! ```text
//!   POST /  (application/ocsp-request)  or  GET /<base64 request>
//!     ──► the serial's state (good by default for known serials, unknown otherwise)
//!     ──► BasicOCSPResponse signed by the intermediate, nonce echoed
//!   modes: Normal | BadSignature | Stale (nextUpdate in the past)
//!   GET /crl ──► a CRL signed by the intermediate listing the revoked serials
//! ```
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
    CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber, SigningKey,
};
use time::OffsetDateTime;

use crate::Error;
use crate::http::{HttpReply, HttpServer};
use crate::pki::Pki;

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

/// How the responder misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspMode {
    /// Correct responses.
    Normal,
    /// Responses whose signature does not verify.
    BadSignature,
    /// Responses whose nextUpdate has passed.
    Stale,
}

type States = Arc<Mutex<HashMap<Vec<u8>, CertState>>>;

/// The lab's OCSP responder and CRL server; stops when dropped.
pub struct RevocationServer {
    server: HttpServer,
    states: States,
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

fn respond(
    request: &[u8],
    states: &States,
    key: &rcgen::KeyPair,
    issuer_key_hash: &[u8],
    mode: OcspMode,
    now: SystemTime,
) -> Option<Vec<u8>> {
    let req = x509_ocsp::OcspRequest::from_der(request).ok()?;
    let first = req.tbs_request.request_list.first()?;
    let cert_id = first.req_cert.clone();
    let state = states
        .lock()
        .ok()?
        .get(strip(cert_id.serial_number.as_bytes()))
        .copied()
        .unwrap_or(CertState::Unknown);
    let hour = Duration::from_secs(3600);
    let (this, next) = match mode {
        OcspMode::Stale => (now - 10 * 24 * hour, now - 24 * hour),
        _ => (now - hour, now + 24 * hour),
    };
    let status = match state {
        CertState::Good => x509_ocsp::CertStatus::good(),
        CertState::Unknown => x509_ocsp::CertStatus::unknown(),
        CertState::Revoked { reason } => x509_ocsp::CertStatus::Revoked(x509_ocsp::RevokedInfo {
            revocation_time: gtime(now - hour)?,
            revocation_reason: x509_cert::ext::pkix::CrlReason::from_der(&[0x0a, 0x01, reason])
                .ok(),
        }),
    };
    let nonce = req
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == "1.3.6.1.5.5.7.48.1.2")
        .cloned();
    let data = x509_ocsp::ResponseData {
        version: x509_ocsp::Version::V1,
        responder_id: x509_ocsp::ResponderId::ByKey(
            der::asn1::OctetString::new(issuer_key_hash).ok()?,
        ),
        produced_at: gtime(now)?,
        responses: vec![x509_ocsp::SingleResponse {
            cert_id,
            cert_status: status,
            this_update: gtime(this)?,
            next_update: Some(gtime(next)?),
            single_extensions: None,
        }],
        response_extensions: nonce.map(|n| vec![n]),
    };
    let tbs = data.to_der().ok()?;
    let mut signature = key.sign(&tbs).ok()?;
    if mode == OcspMode::BadSignature
        && let Some(b) = signature.last_mut()
    {
        *b ^= 0x01;
    }
    let basic = x509_ocsp::BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            // ecdsa-with-SHA256: the lab CAs' keys are ECDSA P-256.
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&signature).ok()?,
        certs: None,
    };
    let response = x509_ocsp::OcspResponse {
        response_status: x509_ocsp::OcspResponseStatus::Successful,
        response_bytes: Some(x509_ocsp::ResponseBytes {
            response_type: der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1"),
            response: der::asn1::OctetString::new(basic.to_der().ok()?).ok()?,
        }),
    };
    response.to_der().ok()
}

impl RevocationServer {
    /// Starts a responder for the lab intermediate CA on 127.0.0.1.
    pub async fn start(pki: &Pki, mode: OcspMode) -> Result<Self, Error> {
        let inter = pki.intermediate();
        let key = Arc::new(rcgen::KeyPair::try_from(inter.key_der().secret_der())?);
        let (_, issuer) =
            x509_parser::parse_x509_certificate(inter.der()).map_err(|e| Error::DnsLab {
                reason: format!("intermediate: {e}"),
            })?;
        let key_hash = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &issuer.public_key().subject_public_key.data,
        )
        .as_ref()
        .to_vec();
        let states: States = Arc::new(Mutex::new(HashMap::new()));
        let issuer_der = inter.der().clone();
        let crl_key = Arc::clone(&key);
        let (s, now) = (Arc::clone(&states), pki.now());
        let handler = Arc::new(move |req: &crate::http::HttpRequest| {
            if req.path == "/crl" {
                let revoked: Vec<RevokedCertParams> = s
                    .lock()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(serial, st)| match st {
                                CertState::Revoked { .. } => Some(RevokedCertParams {
                                    serial_number: SerialNumber::from_slice(serial),
                                    revocation_time: OffsetDateTime::from(
                                        now - Duration::from_secs(3600),
                                    ),
                                    reason_code: None,
                                    invalidity_date: None,
                                }),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let params = CertificateRevocationListParams {
                    this_update: OffsetDateTime::from(now - Duration::from_secs(3600)),
                    next_update: OffsetDateTime::from(now + Duration::from_secs(86_400)),
                    crl_number: SerialNumber::from(1u64),
                    issuing_distribution_point: None,
                    revoked_certs: revoked,
                    key_identifier_method: KeyIdMethod::Sha256,
                };
                let Ok(issuer) = rcgen::Issuer::from_ca_cert_der(&issuer_der, &*crl_key) else {
                    return HttpReply::status(500);
                };
                return match params.signed_by(&issuer) {
                    Ok(crl) => HttpReply::ok("application/pkix-crl", crl.der().to_vec()),
                    Err(_) => HttpReply::status(500),
                };
            }
            let body = if req.method == "POST" {
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
            match respond(&body, &s, &key, &key_hash, mode, now) {
                Some(r) => HttpReply::ok("application/ocsp-response", r),
                None => HttpReply::ok(
                    "application/ocsp-response",
                    vec![0x30, 0x03, 0x0a, 0x01, 0x01],
                ),
            }
        });
        let server = HttpServer::start(None, handler).await?;
        Ok(Self { server, states })
    }

    /// Sets what the responder says of a serial (as in [`crate::pki::Leaf::serial`]).
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
