//! Protocol versions, cipher suites and key-exchange groups, named as the reports show them.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use checktls_types::TlsVersion;

/// The version rustls negotiated.
#[cfg(feature = "tokio")]
pub(crate) fn from_rustls(v: rustls::ProtocolVersion) -> Option<TlsVersion> {
    TlsVersion::from_wire(u16::from(v))
}

/// A cipher suite: its IANA code point and IANA name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CipherSuite {
    /// The IANA code point.
    pub code: u16,
    /// The IANA name (`TLS_AES_256_GCM_SHA384`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`), or
    /// `0xHHHH` when unknown.
    pub name: String,
}

impl CipherSuite {
    /// The suite with this code point, named as the IANA registry names it (`0xHHHH` when
    /// unregistered).
    pub fn from_code(code: u16) -> Self {
        let name = match crate::probe::suites::suite(code) {
            Some(s) => s.name.to_owned(),
            None => format!("0x{code:04X}"),
        };
        Self { code, name }
    }

    /// Its IANA properties (key exchange, cipher, mode, bits, ...), when registered.
    pub fn info(&self) -> Option<&'static crate::probe::suites::SuiteInfo> {
        crate::probe::suites::suite(self.code)
    }
}

impl CipherSuite {
    /// An SSLv2 cipher kind (3 bytes, `SSL_CK_…`), named as the SSL 2.0 specification does. Its
    /// `code` is the first two bytes (0x0100 … 0x0700), a range no TLS suite uses.
    pub fn from_ssl2_spec(spec: [u8; 3]) -> Self {
        let name = match spec {
            [0x01, 0x00, 0x80] => "SSL_CK_RC4_128_WITH_MD5",
            [0x02, 0x00, 0x80] => "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
            [0x03, 0x00, 0x80] => "SSL_CK_RC2_128_CBC_WITH_MD5",
            [0x04, 0x00, 0x80] => "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
            [0x05, 0x00, 0x80] => "SSL_CK_IDEA_128_CBC_WITH_MD5",
            [0x06, 0x00, 0x40] => "SSL_CK_DES_64_CBC_WITH_MD5",
            [0x07, 0x00, 0xC0] => "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
            [a, b, c] => {
                return Self {
                    code: u16::from_be_bytes([a, b]),
                    name: format!("SSL_CK_0x{a:02X}{b:02X}{c:02X}"),
                };
            }
        };
        Self {
            code: u16::from_be_bytes([spec[0], spec[1]]),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A key-exchange group (TLS supported group): its code point and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct NamedGroup {
    /// The IANA code point.
    pub code: u16,
    /// The name (`X25519`, `secp256r1`, …), or `0xHHHH` when unknown.
    pub name: String,
}

impl NamedGroup {
    /// The group with this code point.
    pub fn from_code(code: u16) -> Self {
        let name = match crate::probe::suites::group(code) {
            Some(g) => g.name.to_owned(),
            None => match rustls::NamedGroup::from(code) {
                rustls::NamedGroup::Unknown(_) => format!("0x{code:04X}"),
                g => format!("{g:?}"),
            },
        };
        Self { code, name }
    }
}

impl fmt::Display for NamedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
