//! The dangerous path: a certificate verifier that records instead of rejecting.
//!
//! A tester must finish the handshake with a server whose certificate is expired, self-signed or
//! for another name, to learn everything else about it. [`RecordingVerifier`] accepts any chain
//! and keeps it, with the stapled OCSP response, for the judgements in [`crate::cert`],
//! the DANE and revocation judgements to examine afterwards. It still checks the server's
//! handshake signature against the presented certificate, so the recorded facts are the ones the
//! holder of that key produced.
//!
//! Never use this verifier to send mail: it is for looking, not for trusting.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, ServerName,
    SignatureVerificationAlgorithm, UnixTime, alg_id,
};

/// What the verifier saw.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Recorded {
    /// The chain, leaf first, as presented.
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response, if any (empty responses are recorded as `None`).
    pub stapled_ocsp: Option<Vec<u8>>,
    /// The server name rustls verified against.
    pub server_name: Option<String>,
}

/// A [`ServerCertVerifier`] that records the chain and OCSP staple and accepts them, or,
/// made with [`RecordingVerifier::strict`], records them and then lets a strict verifier
/// decide.
pub struct RecordingVerifier {
    recorded: Arc<Mutex<Recorded>>,
    algorithms: WebPkiSupportedAlgorithms,
    strict: Option<Arc<dyn ServerCertVerifier>>,
}

impl RecordingVerifier {
    /// A new verifier with an empty record, checking handshake signatures with the ring
    /// algorithms plus legacy RSA (1024-bit keys and SHA-1, so weak servers can still be seen).
    pub fn new() -> Self {
        Self {
            recorded: Arc::new(Mutex::new(Recorded::default())),
            algorithms: ALGORITHMS,
            strict: None,
        }
    }

    /// A verifier that records, then refuses what `strict` refuses (a chain that does not
    /// lead to its anchors, a name that does not match, dates out of range).
    pub fn strict(strict: Arc<dyn ServerCertVerifier>) -> Self {
        Self {
            strict: Some(strict),
            ..Self::new()
        }
    }

    /// What has been recorded so far.
    pub fn recorded(&self) -> Recorded {
        match self.recorded.lock() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Default for RecordingVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RecordingVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingVerifier").finish_non_exhaustive()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let record = Recorded {
            chain,
            stapled_ocsp: (!ocsp_response.is_empty()).then(|| ocsp_response.to_vec()),
            server_name: match server_name {
                ServerName::DnsName(n) => Some(n.as_ref().to_owned()),
                _ => None,
            },
        };
        match self.recorded.lock() {
            Ok(mut r) => *r = record,
            Err(poisoned) => *poisoned.into_inner() = record,
        }
        match &self.strict {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// RSA PKCS#1 v1.5 verification that accepts keys from 1024 bits (ring's legacy variants), so a
/// server with a weak key completes the handshake and the weakness becomes a finding.
struct LegacyRsa {
    params: &'static ring::signature::RsaParameters,
    signature_alg: AlgorithmIdentifier,
}

impl fmt::Debug for LegacyRsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacyRsa")
    }
}

impl SignatureVerificationAlgorithm for LegacyRsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(self.params, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg
    }
}

/// `sha1WithRSAEncryption` (1.2.840.113549.1.1.5) with NULL parameters.
const RSA_PKCS1_SHA1_ID: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
]);

static LEGACY_RSA_SHA1: LegacyRsa = LegacyRsa {
    params: &ring::signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
    signature_alg: RSA_PKCS1_SHA1_ID,
};
static LEGACY_RSA_SHA256: LegacyRsa = LegacyRsa {
    params: &ring::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
    signature_alg: alg_id::RSA_PKCS1_SHA256,
};
static LEGACY_RSA_SHA512: LegacyRsa = LegacyRsa {
    params: &ring::signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
    signature_alg: alg_id::RSA_PKCS1_SHA512,
};

/// The ring set with the RSA PKCS#1 schemes widened to 1024-bit keys and SHA-1 added last.
static ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        webpki::ring::ECDSA_P256_SHA256,
        webpki::ring::ECDSA_P256_SHA384,
        webpki::ring::ECDSA_P384_SHA256,
        webpki::ring::ECDSA_P384_SHA384,
        webpki::ring::ED25519,
        webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        webpki::ring::RSA_PKCS1_2048_8192_SHA384,
        webpki::ring::RSA_PKCS1_2048_8192_SHA512,
        &LEGACY_RSA_SHA1,
        &LEGACY_RSA_SHA256,
        &LEGACY_RSA_SHA512,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[
                webpki::ring::ECDSA_P384_SHA384,
                webpki::ring::ECDSA_P256_SHA384,
            ],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[
                webpki::ring::ECDSA_P256_SHA256,
                webpki::ring::ECDSA_P384_SHA256,
            ],
        ),
        (SignatureScheme::ED25519, &[webpki::ring::ED25519]),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (SignatureScheme::RSA_PKCS1_SHA512, &[&LEGACY_RSA_SHA512]),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[webpki::ring::RSA_PKCS1_2048_8192_SHA384],
        ),
        (SignatureScheme::RSA_PKCS1_SHA256, &[&LEGACY_RSA_SHA256]),
        (SignatureScheme::RSA_PKCS1_SHA1, &[&LEGACY_RSA_SHA1]),
    ],
};
