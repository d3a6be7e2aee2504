//! CRLs of the lab intermediate CA (RFC 5280 §5), correct or broken on purpose, for the CRL
//! server of [`crate::ocsp::RevocationServer`] and for tests that judge a CRL without a server.
//!
//! ```text
//!   revoked serials (+ reason) ──► signed_crl(pki, entries, mode, now) ──► DER CRL
//!   modes: Normal | BadSignature | Stale (nextUpdate past) | WrongIssuer (signed by the root)
//! ```
//!
//! ```
//! # fn main() -> Result<(), checktls_lab::Error> {
//! use std::time::SystemTime;
//! use checktls_lab::crl::{signed_crl, CrlMode, RevokedEntry};
//! use checktls_lab::pki::Pki;
//!
//! let pki = Pki::generate(SystemTime::now())?;
//! let leaf = pki.valid("mx.example.test")?;
//! let entry = RevokedEntry { serial: leaf.serial.clone(), reason: Some(1) };
//! let der = signed_crl(&pki, &[entry], CrlMode::Normal, pki.now())?;
//! assert_eq!(der[0], 0x30);
//! # Ok(()) }
//! ```

use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::Error;
use crate::pki::Pki;

const HOUR: Duration = Duration::from_secs(3600);

/// How the CRL is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CrlMode {
    /// Correct: signed by the intermediate, thisUpdate an hour ago, nextUpdate in a day.
    #[default]
    Normal,
    /// The signature does not verify (its last byte flipped).
    BadSignature,
    /// nextUpdate passed a day ago.
    Stale,
    /// Signed by the root CA, so it is not the leaf issuer's CRL.
    WrongIssuer,
}

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Its serial number.
    pub serial: Vec<u8>,
    /// The CRL reason code (1 keyCompromise, 4 superseded, ...), if any.
    pub reason: Option<u8>,
}

fn reason(code: u8) -> Option<RevocationReason> {
    Some(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        8 => RevocationReason::RemoveFromCrl,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => return None,
    })
}

/// A DER CRL of the lab intermediate CA listing `revoked` (revoked an hour before `now`).
pub fn signed_crl(
    pki: &Pki,
    revoked: &[RevokedEntry],
    mode: CrlMode,
    now: SystemTime,
) -> Result<Vec<u8>, Error> {
    CrlSigner::new(pki)?.sign(revoked, mode, now)
}

/// What signs the lab's CRLs: copies of the intermediate and root CA certificates and keys, so
/// a server can sign CRLs without borrowing the [`Pki`].
pub struct CrlSigner {
    intermediate: (CertificateDer<'static>, KeyPair),
    root: (CertificateDer<'static>, KeyPair),
}

impl CrlSigner {
    /// A signer for the CAs of `pki`.
    pub fn new(pki: &Pki) -> Result<Self, Error> {
        let copy = |ca: &crate::pki::Ca| -> Result<_, Error> {
            Ok((
                ca.der().clone(),
                KeyPair::try_from(ca.key_der().secret_der())?,
            ))
        };
        Ok(Self {
            intermediate: copy(pki.intermediate())?,
            root: copy(pki.root())?,
        })
    }

    /// A DER CRL listing `revoked` (revoked an hour before `now`), made as `mode` says.
    pub fn sign(
        &self,
        revoked: &[RevokedEntry],
        mode: CrlMode,
        now: SystemTime,
    ) -> Result<Vec<u8>, Error> {
        let (this_update, next_update) = match mode {
            CrlMode::Stale => (now - 10 * 24 * HOUR, now - 24 * HOUR),
            _ => (now - HOUR, now + 24 * HOUR),
        };
        let params = CertificateRevocationListParams {
            this_update: OffsetDateTime::from(this_update),
            next_update: OffsetDateTime::from(next_update),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|e| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&e.serial),
                    revocation_time: OffsetDateTime::from(now - HOUR),
                    reason_code: e.reason.and_then(reason),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let (cert, key) = match mode {
            CrlMode::WrongIssuer => (&self.root.0, &self.root.1),
            _ => (&self.intermediate.0, &self.intermediate.1),
        };
        let issuer = Issuer::from_ca_cert_der(cert, key)?;
        let mut der = params.signed_by(&issuer)?.der().to_vec();
        if mode == CrlMode::BadSignature
            && let Some(last) = der.last_mut()
        {
            *last ^= 0x01;
        }
        Ok(der)
    }
}
