//! What scoring needs to know about a target's hosts: plain data that the facade fills in from
//! its report.
//!
//! Every type here has public fields and either `Default` (meaning "nothing known / not
//! tested") or a small constructor, so a caller builds evidence with struct literals:
//!
//! ```
//! use checktls_score::{CertEvidence, CipherEvidence, HostEvidence, Stage, Stages, TlsEvidence,
//!     TlsVersion};
//!
//! let host = HostEvidence {
//!     name: "mx1.example.com".into(),
//!     preference: 10,
//!     stages: Stages::through(Stage::RcptTo),
//!     tls: Some(TlsEvidence {
//!         version: TlsVersion::Tls13,
//!         cipher: CipherEvidence::from_name("TLS_AES_256_GCM_SHA384").unwrap(),
//!         certificate: Some(CertEvidence::verified()),
//!     }),
//!     ..HostEvidence::default()
//! };
//! assert!(host.connected());
//! ```

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One host (one MX address) of a target, as far as scoring is concerned.
///
/// The band a host lands in is decided by three facts, in this order: a TLS session was
/// established (`tls` is `Some`): the version's band; otherwise the host was not reached
/// ([`HostEvidence::connected`] is false): 50; otherwise the no-encryption band, scored on
/// `stages`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct HostEvidence {
    /// The MX host name, for the sentences of the reasons (scoring ignores it).
    pub name: String,
    /// The address tested, for the sentences of the reasons (scoring ignores it); `None` when
    /// the name did not resolve.
    pub address: Option<IpAddr>,
    /// The MX preference (lower is more preferred). Hosts given directly (no MX lookup) use 0.
    pub preference: u16,
    /// How far the SMTP stages got. Only a host without TLS is scored on its stages; for an
    /// encrypted host they are informational (the Confidence Factor does not judge whether the
    /// address exists).
    pub stages: Stages,
    /// The TLS session, when one was established (CheckTLS's "Secure" stage); `None` otherwise.
    pub tls: Option<TlsEvidence>,
    /// What was learnt of the domain's MTA-STS policy for this host. Default: not tested.
    pub mta_sts: MtaStsEvidence,
    /// What was learnt of this host's DANE TLSA records. Default: not tested.
    pub dane: DaneEvidence,
    /// AssureTLS (mandatory-TLS) mode only: whether the host refused `MAIL FROM` sent in
    /// plaintext (`Some(true)`: refused, it mandates TLS; `Some(false)`: accepted; `None`: not
    /// tried). Ignored by the Confidence Factor.
    pub plaintext_refused: Option<bool>,
    /// The host was busy on every try within the test's deadline: it refused the session for
    /// now (a 4xx greeting, a 421 at any stage, RFC 5321 §3.8), so nothing was tested. It
    /// scores 50 ("not tested") and is left out of the target's grade; when no host is left,
    /// the grade is 50.
    #[serde(default)]
    pub busy: bool,
}

impl HostEvidence {
    /// Whether the host was reached: it answered (the Answer stage passed) or a TLS session was
    /// established, and it was not busy on every try. Unreached hosts score 50 ("not tested")
    /// and weigh less in the target.
    pub fn connected(&self) -> bool {
        !self.busy && (self.stages.answer == Some(true) || self.tls.is_some())
    }
}

pub use checktls_types::Stage;

/// The outcome of each stage: `Some(true)` OK, `Some(false)` FAIL, `None` not attempted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stages {
    /// The server accepted the TCP connection.
    pub answer: Option<bool>,
    /// The greeting allowed us in.
    pub connect: Option<bool>,
    /// EHLO was accepted.
    pub ehlo: Option<bool>,
    /// STARTTLS was advertised.
    pub tls_offered: Option<bool>,
    /// The certificate passed CheckTLS's stringent check.
    pub cert: Option<bool>,
    /// A TLS session was established.
    pub secure: Option<bool>,
    /// MAIL FROM was accepted.
    pub mail_from: Option<bool>,
    /// RCPT TO was accepted.
    pub rcpt_to: Option<bool>,
    /// DATA was accepted.
    pub data: Option<bool>,
    /// The message was accepted.
    pub email: Option<bool>,
}

impl Stages {
    /// Every stage up to and including `last` passed; the later ones were not attempted.
    pub fn through(last: Stage) -> Self {
        let mut stages = Self::default();
        for stage in Stage::ALL.into_iter().take_while(|s| *s <= last) {
            stages.set(stage, true);
        }
        stages
    }

    /// The outcome of `stage`.
    pub fn outcome(&self, stage: Stage) -> Option<bool> {
        *self.slot(stage)
    }

    /// Whether `stage` passed.
    pub fn passed(&self, stage: Stage) -> bool {
        self.outcome(stage) == Some(true)
    }

    /// Records the outcome of `stage`.
    pub fn set(&mut self, stage: Stage, ok: bool) {
        *self.slot_mut(stage) = Some(ok);
    }

    fn slot(&self, stage: Stage) -> &Option<bool> {
        match stage {
            Stage::Answer => &self.answer,
            Stage::Connect => &self.connect,
            Stage::Ehlo => &self.ehlo,
            Stage::TlsOffered => &self.tls_offered,
            Stage::Cert => &self.cert,
            Stage::Secure => &self.secure,
            Stage::MailFrom => &self.mail_from,
            Stage::RcptTo => &self.rcpt_to,
            Stage::Data => &self.data,
            Stage::Email => &self.email,
        }
    }

    fn slot_mut(&mut self, stage: Stage) -> &mut Option<bool> {
        match stage {
            Stage::Answer => &mut self.answer,
            Stage::Connect => &mut self.connect,
            Stage::Ehlo => &mut self.ehlo,
            Stage::TlsOffered => &mut self.tls_offered,
            Stage::Cert => &mut self.cert,
            Stage::Secure => &mut self.secure,
            Stage::MailFrom => &mut self.mail_from,
            Stage::RcptTo => &mut self.rcpt_to,
            Stage::Data => &mut self.data,
            Stage::Email => &mut self.email,
        }
    }
}

/// The TLS session established with a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct TlsEvidence {
    /// The negotiated protocol version: it picks the band.
    pub version: TlsVersion,
    /// The negotiated cipher suite's properties.
    pub cipher: CipherEvidence,
    /// The judgement of the certificate the host presented; `None` when it presented none or
    /// it could not be parsed (scored as the worst certificate).
    pub certificate: Option<CertEvidence>,
}

pub use checktls_types::TlsVersion;

/// The properties of a negotiated cipher suite that the score weighs.
///
/// [`CipherEvidence::from_name`] derives them from an IANA or OpenSSL suite name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct CipherEvidence {
    /// Bits of the bulk cipher's key (128, 256; 112 for 3DES, 56 for DES, 40 for export
    /// ciphers, 0 for NULL).
    pub bits: u16,
    /// The bulk cipher is an AEAD (GCM, CCM, ChaCha20-Poly1305), as every TLS 1.3 suite is.
    pub aead: bool,
    /// The key exchange is ephemeral (ECDHE, DHE; every TLS 1.3 suite), so a stolen server key
    /// does not open recorded sessions.
    pub forward_secrecy: bool,
    /// The suite is broken or unauthenticated: RC4, DES, 3DES, RC2, IDEA (64-bit blocks or
    /// broken stream), NULL encryption, export grade, or anonymous key exchange.
    pub broken: bool,
}

impl CipherEvidence {
    /// A suite with nothing against it: AEAD, forward secret, `bits`-bit key, not broken.
    pub fn strong(bits: u16) -> Self {
        Self {
            bits,
            aead: true,
            forward_secrecy: true,
            broken: false,
        }
    }

    /// The properties of a suite named in IANA form (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`,
    /// `TLS_AES_256_GCM_SHA384`, `SSL_RSA_WITH_RC4_128_MD5`) or OpenSSL form
    /// (`ECDHE-RSA-AES128-GCM-SHA256`, `AES128-SHA`, `DES-CBC3-SHA`), case-insensitively.
    /// `None` when the bulk cipher is not recognised (the caller decides how to score an
    /// unknown suite).
    ///
    /// ```
    /// use checktls_score::CipherEvidence;
    ///
    /// let c = CipherEvidence::from_name("AES128-SHA").unwrap();
    /// assert_eq!((c.bits, c.aead, c.forward_secrecy, c.broken), (128, false, false, false));
    /// assert!(CipherEvidence::from_name("0x1301").is_none());
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        crate::names::cipher(name)
    }
}

/// The judgement of the certificate a host presented (its leaf and chain).
///
/// `Default` is "nothing known": an untrusted chain, name not checked, dates and key unknown.
/// [`CertEvidence::verified`] is the usual starting point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct CertEvidence {
    /// The chain leads to a trust anchor, judged **apart from dates**: an otherwise good chain
    /// whose leaf has expired counts as valid here, because expiry is scored on its own
    /// (`expired`). A caller whose validator folds dates into chain validation should set this
    /// to true when the only failure was the leaf's dates.
    pub chain_valid: bool,
    /// The certificate carries the MX host name (`None` when no name was checked: no
    /// deduction).
    pub name_match: Option<bool>,
    /// The leaf's validity has ended.
    pub expired: bool,
    /// The leaf's validity has not started.
    pub not_yet_valid: bool,
    /// Whole days until the leaf expires (negative once expired; `None` when unknown).
    pub days_to_expiry: Option<i64>,
    /// The leaf is self-signed (scored like an untrusted chain, even if the caller trusts it).
    pub self_signed: bool,
    /// The leaf's public key; `None` when unknown (no deduction).
    pub key: Option<KeyEvidence>,
    /// The weakest signature hash in the chain, excluding the trust anchor's self-signature;
    /// `None` when unknown (no deduction).
    pub weakest_signature: Option<SignatureHash>,
}

impl CertEvidence {
    /// A certificate that chains to a trust anchor and matches the host name, with nothing
    /// else known (dates, key and signature unknown: no deductions for them).
    pub fn verified() -> Self {
        Self {
            chain_valid: true,
            name_match: Some(true),
            ..Self::default()
        }
    }
}

pub use checktls_types::KeyAlgorithm;
/// A certificate's public key (the workspace's [`PublicKeyInfo`](checktls_types::PublicKeyInfo)).
pub type KeyEvidence = checktls_types::PublicKeyInfo;

/// The hash of a certificate signature, weakest first.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignatureHash {
    /// MD5 or older (MD2, MD4): collisions are practical.
    Md5,
    /// SHA-1: collisions are practical (SHAttered, 2017).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// A scheme with its own hash (Ed25519, Ed448).
    Intrinsic,
}

impl SignatureHash {
    /// The hash named in a signature algorithm's name, case-insensitively:
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA384`, `RSA_PKCS1_SHA1`, `md5WithRSAEncryption`,
    /// `ED25519`. `None` when no known hash is named (e.g. bare `rsassa-pss`).
    ///
    /// ```
    /// use checktls_score::SignatureHash;
    ///
    /// assert_eq!(SignatureHash::from_name("sha1WithRSAEncryption"), Some(SignatureHash::Sha1));
    /// assert_eq!(SignatureHash::from_name("ecdsa-with-SHA256"), Some(SignatureHash::Sha256));
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        crate::names::signature(name)
    }

    /// The hash's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
            Self::Intrinsic => "EdDSA",
        }
    }
}

impl fmt::Display for SignatureHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was learnt of the domain's MTA-STS policy (RFC 8461), as it applies to one host.
///
/// `Default` is "not tested": MTA-STS neither adds points nor raises the target's maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct MtaStsEvidence {
    /// MTA-STS was looked up (the `_mta-sts` TXT record and, if present, the policy). When
    /// true, the target's maximum includes the MTA-STS points.
    pub tested: bool,
    /// A policy was found, fetched over HTTPS with a valid certificate, and parsed.
    pub policy_valid: bool,
    /// The policy's mode (`None` when there is no policy).
    pub mode: StsMode,
    /// One of the policy's `mx` patterns covers this host's name.
    pub host_covered: bool,
}

/// An MTA-STS policy mode, weakest first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StsMode {
    /// `mode: none` (or no policy at all).
    #[default]
    None,
    /// `mode: testing`: senders report failures but still deliver.
    Testing,
    /// `mode: enforce`: senders refuse to deliver without authenticated TLS.
    Enforce,
}

/// What was learnt of a host's DANE TLSA records (RFC 7672).
///
/// `Default` is "not tested": DANE neither adds points nor raises the target's maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct DaneEvidence {
    /// The TLSA records were looked up. When true, the target's maximum includes the DANE
    /// points.
    pub tested: bool,
    /// The TLSA RRset (and the MX host's address records) are DNSSEC-secure.
    pub secure: bool,
    /// At least one record is usable for SMTP (usage DANE-TA(2) or DANE-EE(3), known selector
    /// and matching type).
    pub usable: bool,
    /// A usable record matched the presented chain.
    pub matched: bool,
}
