//! SSL and TLS protocol versions, named as the reports name them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;

/// An SSL/TLS protocol version, ordered from oldest (worst) to newest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(clippy::exhaustive_enums)] // the versions are a closed historical set
pub enum TlsVersion {
    /// SSL 2.0 (RFC 6176 prohibits it).
    Ssl2,
    /// SSL 3.0 (RFC 7568 deprecates it).
    Ssl3,
    /// TLS 1.0 (RFC 8996 deprecates it).
    Tls10,
    /// TLS 1.1 (RFC 8996 deprecates it).
    Tls11,
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
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

    /// The name reports use (OpenSSL's): `SSLv2`, `SSLv3`, `TLSv1`, `TLSv1.1`, `TLSv1.2`,
    /// `TLSv1.3`.
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

    /// The name CheckTLS's XML uses: `TLSv1_3`, `TLSv1_2`, `TLSv1_1`, `TLSv1`, `SSLv3`.
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
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TlsVersion {
    type Err = UnknownName;
    /// Reads `TLSv1.3`, CheckTLS's XML spelling `TLSv1_3`, `TLS1.3`, `1.3`, `TLSv1`, `SSLv3`
    /// (any case).
    fn from_str(given: &str) -> Result<Self, UnknownName> {
        let s = given.trim().to_ascii_lowercase().replace('_', ".");
        let (ssl, rest) = match s.strip_prefix("sslv").or_else(|| s.strip_prefix("ssl")) {
            Some(r) => (true, r),
            None => (
                false,
                s.strip_prefix("tlsv")
                    .or_else(|| s.strip_prefix("tls"))
                    .unwrap_or(&s),
            ),
        };
        match (ssl, rest) {
            (true, "2") => Ok(Self::Ssl2),
            (true, "3") => Ok(Self::Ssl3),
            (false, "1" | "1.0") => Ok(Self::Tls10),
            (false, "1.1") => Ok(Self::Tls11),
            (false, "1.2") => Ok(Self::Tls12),
            (false, "1.3") => Ok(Self::Tls13),
            _ => Err(UnknownName {
                given: given.to_owned(),
                expected: "a version such as TLSv1.3, TLSv1.2, 1.2, TLSv1, SSLv3".into(),
            }),
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The names it is written with (`TLSv1.3` … `SSLv2`); reading accepts more spellings.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for TlsVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TlsVersion".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "checktls_types::TlsVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Self::ALL.iter().rev().map(|v| v.name()).collect();
        schemars::json_schema!({
            "description": "An SSL/TLS protocol version.",
            "type": "string",
            "enum": names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads() {
        for v in TlsVersion::ALL {
            assert_eq!(v.name().parse::<TlsVersion>(), Ok(v));
            assert_eq!(v.checktls_name().parse::<TlsVersion>(), Ok(v));
            assert_eq!(TlsVersion::from_wire(v.wire()), Some(v));
            let json = serde_json::to_string(&v).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", v.name()));
            assert_eq!(serde_json::from_str::<TlsVersion>(&json).ok(), Some(v));
        }
        assert_eq!("1.2".parse::<TlsVersion>(), Ok(TlsVersion::Tls12));
        assert!("1.4".parse::<TlsVersion>().is_err());
    }
}
