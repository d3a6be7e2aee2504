//! Every IANA-registered cipher suite and supported group, with the properties a judgement
//! needs (key exchange, authentication, cipher, mode, MAC, key bits, export, TLS 1.3).
//!
//! ```text
//!   data/tls-parameters-4.csv ─┐  tests/iana_tables.rs (CHECKTLS_BLESS=1)
//!   data/tls-parameters-8.csv ─┴─────────────────────────────► src/probe/iana.rs (const tables)
//!   suite(0xC02F) ─► &SuiteInfo { kx: Ecdhe, auth: Rsa, cipher: Aes, mode: Gcm, bits: 128, … }
//! ```
//!
//! ```
//! use checktls_tls::probe::suites::{suite, group, Authentication, KeyExchange};
//! let s = suite(0x0034).unwrap();
//! assert_eq!(s.name, "TLS_DH_anon_WITH_AES_128_CBC_SHA");
//! assert_eq!((s.kx, s.auth), (KeyExchange::Dh, Authentication::Anonymous));
//! assert!(s.is_ephemeral() && !s.is_aead());
//! assert_eq!(group(0x11EC).unwrap().name, "X25519MLKEM768");
//! ```

use serde::{Deserialize, Serialize};

/// How the premaster secret is agreed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyExchange {
    /// None (`TLS_NULL_WITH_NULL_NULL`).
    Null,
    /// RSA key transport (static, no forward secrecy).
    Rsa,
    /// Finite-field Diffie-Hellman: static (`DH_RSA`, `DH_DSS`) or, for anonymous and `DHE_`
    /// suites, ephemeral (see [`SuiteInfo::is_ephemeral`]).
    Dh,
    /// Ephemeral finite-field Diffie-Hellman.
    Dhe,
    /// Elliptic-curve Diffie-Hellman: static (`ECDH_RSA`, `ECDH_ECDSA`) or anonymous.
    Ecdh,
    /// Ephemeral elliptic-curve Diffie-Hellman.
    Ecdhe,
    /// A pre-shared key alone.
    Psk,
    /// A pre-shared key with ephemeral DH.
    DhePsk,
    /// A pre-shared key with RSA key transport.
    RsaPsk,
    /// A pre-shared key with ephemeral ECDH.
    EcdhePsk,
    /// SRP (RFC 5054).
    Srp,
    /// Kerberos (RFC 2712).
    Krb5,
    /// ECCPWD (RFC 8492).
    Eccpwd,
    /// GOST (RFC 9189).
    Gost,
    /// Negotiated outside the suite (TLS 1.3: the key_share groups).
    Tls13,
}

/// How the server is authenticated.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    /// Not at all: anyone in the path can impersonate the server.
    Anonymous,
    /// An RSA certificate.
    Rsa,
    /// A DSA certificate.
    Dss,
    /// An ECDSA certificate.
    Ecdsa,
    /// A pre-shared key.
    Psk,
    /// Kerberos.
    Krb5,
    /// An SRP verifier (with or without a certificate).
    Srp,
    /// A password (ECCPWD).
    Password,
    /// A GOST certificate.
    Gost,
    /// Negotiated outside the suite (TLS 1.3: signature_algorithms).
    Tls13,
    /// None (`TLS_NULL_WITH_NULL_NULL`).
    Null,
}

/// The bulk cipher.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cipher {
    /// No encryption.
    Null,
    /// RC4.
    Rc4,
    /// RC2.
    Rc2,
    /// IDEA.
    Idea,
    /// DES (including the 40-bit export variants).
    Des,
    /// Triple DES (EDE).
    TripleDes,
    /// AES.
    Aes,
    /// Camellia.
    Camellia,
    /// SEED.
    Seed,
    /// ARIA.
    Aria,
    /// ChaCha20.
    ChaCha20,
    /// SM4.
    Sm4,
    /// AEGIS.
    Aegis,
    /// GOST Kuznyechik, Magma or 28147-89.
    Gost,
}

/// The cipher's mode.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No cipher, or a stream cipher.
    Stream,
    /// CBC (MAC-then-encrypt unless Encrypt-then-MAC is negotiated).
    Cbc,
    /// GCM.
    Gcm,
    /// CCM with a 16-byte tag.
    Ccm,
    /// CCM with an 8-byte tag.
    Ccm8,
    /// ChaCha20-Poly1305.
    Poly1305,
    /// Another AEAD (AEGIS, MGM).
    OtherAead,
    /// CTR with OMAC or CNT with IMIT (GOST).
    Ctr,
}

/// The record MAC (for AEAD modes: the PRF hash).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mac {
    /// No MAC.
    Null,
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SM3.
    Sm3,
    /// A GOST MAC.
    Gost,
}

/// One IANA cipher suite and its properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SuiteInfo {
    /// The code point.
    pub code: u16,
    /// The IANA name.
    pub name: &'static str,
    /// The key exchange.
    pub kx: KeyExchange,
    /// The server authentication.
    pub auth: Authentication,
    /// The bulk cipher.
    pub cipher: Cipher,
    /// Its mode.
    pub mode: Mode,
    /// The MAC (or PRF hash).
    pub mac: Mac,
    /// The cipher's key size in bits (0 for NULL; 168 for 3DES, whose strength is 112).
    pub bits: u16,
    /// An export suite (40- or 56-bit keys, 512- or 1024-bit key exchange).
    pub export: bool,
    /// A TLS 1.3 suite (usable only with TLS 1.3).
    pub tls13: bool,
}

impl SuiteInfo {
    /// An AEAD mode (GCM, CCM, ChaCha20-Poly1305, ...).
    pub fn is_aead(&self) -> bool {
        !matches!(self.mode, Mode::Stream | Mode::Cbc | Mode::Ctr) || self.tls13
    }

    /// The key exchange is ephemeral (forward secrecy, when authenticated): DHE, ECDHE, the
    /// anonymous (EC)DH suites, TLS 1.3.
    pub fn is_ephemeral(&self) -> bool {
        match self.kx {
            KeyExchange::Dhe
            | KeyExchange::Ecdhe
            | KeyExchange::DhePsk
            | KeyExchange::EcdhePsk
            | KeyExchange::Eccpwd
            | KeyExchange::Tls13 => true,
            KeyExchange::Dh | KeyExchange::Ecdh => self.auth == Authentication::Anonymous,
            _ => false,
        }
    }

    /// Static (EC)DH with a certificate: no forward secrecy.
    pub fn is_static_dh(&self) -> bool {
        matches!(self.kx, KeyExchange::Dh | KeyExchange::Ecdh)
            && self.auth != Authentication::Anonymous
    }

    /// Usable at TLS 1.2 only (SHA-256/384 MACs or PRFs, AEAD modes), never before.
    pub fn needs_tls12(&self) -> bool {
        !self.tls13 && (self.is_aead() || matches!(self.mac, Mac::Sha256 | Mac::Sha384 | Mac::Sm3))
    }
}

/// The kind of a supported group.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// An elliptic curve (ECDHE in TLS 1.2, key_share in TLS 1.3).
    Ec,
    /// A finite-field group (RFC 7919).
    Ffdhe,
    /// A post-quantum KEM alone.
    Kem,
    /// A hybrid of an elliptic curve and a post-quantum KEM.
    Hybrid,
}

/// One IANA supported group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupInfo {
    /// The code point.
    pub code: u16,
    /// The name, as IANA writes it (X25519 and X448 as rustls and OpenSSL write them).
    pub name: &'static str,
    /// Its kind.
    pub kind: GroupKind,
    /// Usable in TLS 1.3 (RFC 8446 §4.2.7 and later registrations).
    pub tls13: bool,
}

include!("iana.rs");

/// Every registered suite, by code point.
pub fn all_suites() -> &'static [SuiteInfo] {
    SUITES
}

/// Every registered group, by code point.
pub fn all_groups() -> &'static [GroupInfo] {
    GROUPS
}

/// The suite with this code point, if IANA registered it.
pub fn suite(code: u16) -> Option<&'static SuiteInfo> {
    SUITES
        .binary_search_by_key(&code, |s| s.code)
        .ok()
        .and_then(|i| SUITES.get(i))
}

/// The group with this code point, if IANA registered it.
pub fn group(code: u16) -> Option<&'static GroupInfo> {
    GROUPS
        .binary_search_by_key(&code, |g| g.code)
        .ok()
        .and_then(|i| GROUPS.get(i))
}

/// The suites offered for TLS 1.3: every registered TLS 1.3 suite.
pub fn tls13_suites() -> Vec<u16> {
    SUITES.iter().filter(|s| s.tls13).map(|s| s.code).collect()
}

/// The suites offered for SSLv3 to TLS 1.2: every registered suite that is not TLS 1.3-only,
/// strongest first (so a server honouring the client's order picks a good one), without
/// `TLS_NULL_WITH_NULL_NULL`.
pub fn legacy_suites() -> Vec<u16> {
    // Sorted once: the planner asks for the list at every step.
    static ORDER: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    ORDER
        .get_or_init(|| {
            let mut v: Vec<&SuiteInfo> =
                SUITES.iter().filter(|s| !s.tls13 && s.code != 0).collect();
            v.sort_by_key(|s| {
                (
                    !s.is_ephemeral() || s.auth == Authentication::Anonymous,
                    !s.is_aead(),
                    s.export,
                    std::cmp::Reverse(s.bits),
                    s.code,
                )
            });
            v.into_iter().map(|s| s.code).collect()
        })
        .clone()
}

/// The groups offered: every registered group usable for key exchange.
pub fn offered_groups() -> Vec<u16> {
    GROUPS.iter().map(|g| g.code).collect()
}
