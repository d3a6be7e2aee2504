//! Protocol versions, cipher suites and key-exchange groups, named as the reports show them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An SSL/TLS protocol version.
#[allow(clippy::exhaustive_enums)] // the versions are a closed historical set
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    /// SSL 2.0 (RFC 6176 prohibits it).
    #[serde(rename = "SSLv2")]
    Ssl2,
    /// SSL 3.0 (RFC 7568 deprecates it).
    #[serde(rename = "SSLv3")]
    Ssl3,
    /// TLS 1.0 (RFC 8996 deprecates it).
    #[serde(rename = "TLSv1")]
    Tls10,
    /// TLS 1.1 (RFC 8996 deprecates it).
    #[serde(rename = "TLSv1.1")]
    Tls11,
    /// TLS 1.2 (RFC 5246).
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3 (RFC 8446).
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [Self; 6] = [
        Self::Ssl2,
        Self::Ssl3,
        Self::Tls10,
        Self::Tls11,
        Self::Tls12,
        Self::Tls13,
    ];

    /// The version from its wire code (0x0002 for SSLv2, 0x0300 … 0x0304).
    pub fn from_wire(code: u16) -> Option<Self> {
        Some(match code {
            0x0002 => Self::Ssl2,
            0x0300 => Self::Ssl3,
            0x0301 => Self::Tls10,
            0x0302 => Self::Tls11,
            0x0303 => Self::Tls12,
            0x0304 => Self::Tls13,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn wire(self) -> u16 {
        match self {
            Self::Ssl2 => 0x0002,
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    /// The name reports use: `SSLv3`, `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3` (OpenSSL's).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ssl2 => "SSLv2",
            Self::Ssl3 => "SSLv3",
            Self::Tls10 => "TLSv1",
            Self::Tls11 => "TLSv1.1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }

    /// The name CheckTLS's XML uses: `TLSv1_3`, `TLSv1_2`, `TLSv1`, `SSLv3`.
    pub fn checktls_name(self) -> &'static str {
        match self {
            Self::Ssl2 => "SSLv2",
            Self::Ssl3 => "SSLv3",
            Self::Tls10 => "TLSv1",
            Self::Tls11 => "TLSv1_1",
            Self::Tls12 => "TLSv1_2",
            Self::Tls13 => "TLSv1_3",
        }
    }

    /// Whether the IETF has deprecated or prohibited this version (everything before TLS 1.2).
    pub fn is_deprecated(self) -> bool {
        self < Self::Tls12
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn from_rustls(v: rustls::ProtocolVersion) -> Option<Self> {
        Self::from_wire(u16::from(v))
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cipher suite: its IANA code point and IANA name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
