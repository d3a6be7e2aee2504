//! TLSA records (RFC 6698), as DANE for SMTP (RFC 7672) reads them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The certificate usage field.
#[allow(clippy::exhaustive_enums)] // Unassigned(u8) covers the rest of the registry
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(from = "u8", into = "u8")]
pub enum TlsaUsage {
    /// 0, PKIX-TA: unusable for SMTP (RFC 7672 §3.1.3).
    PkixTa,
    /// 1, PKIX-EE: unusable for SMTP (RFC 7672 §3.1.3).
    PkixEe,
    /// 2, DANE-TA: a trust anchor for this service.
    DaneTa,
    /// 3, DANE-EE: the server's own certificate or key.
    DaneEe,
    /// Any other value.
    Unassigned(u8),
}

impl From<u8> for TlsaUsage {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::PkixTa,
            1 => Self::PkixEe,
            2 => Self::DaneTa,
            3 => Self::DaneEe,
            o => Self::Unassigned(o),
        }
    }
}

impl From<TlsaUsage> for u8 {
    fn from(v: TlsaUsage) -> Self {
        match v {
            TlsaUsage::PkixTa => 0,
            TlsaUsage::PkixEe => 1,
            TlsaUsage::DaneTa => 2,
            TlsaUsage::DaneEe => 3,
            TlsaUsage::Unassigned(o) => o,
        }
    }
}

/// The selector field.
#[allow(clippy::exhaustive_enums)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(from = "u8", into = "u8")]
pub enum TlsaSelector {
    /// 0: the full certificate.
    FullCertificate,
    /// 1: the SubjectPublicKeyInfo.
    SubjectPublicKeyInfo,
    /// Any other value.
    Unassigned(u8),
}

impl From<u8> for TlsaSelector {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::FullCertificate,
            1 => Self::SubjectPublicKeyInfo,
            o => Self::Unassigned(o),
        }
    }
}

impl From<TlsaSelector> for u8 {
    fn from(v: TlsaSelector) -> Self {
        match v {
            TlsaSelector::FullCertificate => 0,
            TlsaSelector::SubjectPublicKeyInfo => 1,
            TlsaSelector::Unassigned(o) => o,
        }
    }
}

/// The matching type field.
#[allow(clippy::exhaustive_enums)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(from = "u8", into = "u8")]
pub enum TlsaMatching {
    /// 0: the selected content itself.
    Full,
    /// 1: its SHA-256 digest.
    Sha256,
    /// 2: its SHA-512 digest.
    Sha512,
    /// Any other value.
    Unassigned(u8),
}

impl From<u8> for TlsaMatching {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Full,
            1 => Self::Sha256,
            2 => Self::Sha512,
            o => Self::Unassigned(o),
        }
    }
}

impl From<TlsaMatching> for u8 {
    fn from(v: TlsaMatching) -> Self {
        match v {
            TlsaMatching::Full => 0,
            TlsaMatching::Sha256 => 1,
            TlsaMatching::Sha512 => 2,
            TlsaMatching::Unassigned(o) => o,
        }
    }
}

/// One TLSA record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct TlsaRecord {
    /// Certificate usage.
    pub usage: TlsaUsage,
    /// Selector.
    pub selector: TlsaSelector,
    /// Matching type.
    pub matching: TlsaMatching,
    /// Certificate association data.
    #[serde(with = "hex_bytes")]
    #[cfg_attr(feature = "schema", schemars(with = "checktls_types::schema::Hex"))]
    pub data: Vec<u8>,
}

impl fmt::Display for TlsaRecord {
    /// Presentation format: `3 1 1 0a1b…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ",
            u8::from(self.usage),
            u8::from(self.selector),
            u8::from(self.matching)
        )?;
        f.write_str(&data_encoding::HEXLOWER.encode(&self.data))
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::HEXLOWER.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for TlsaRecord {
    type Err = String;

    /// Reads the presentation form `usage selector matching hex-data` (RFC 6698 §2.2), the
    /// data possibly split by spaces.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut words = s.split_ascii_whitespace();
        let mut num = |what: &str| -> Result<u8, String> {
            words
                .next()
                .ok_or_else(|| format!("missing {what}"))?
                .parse::<u8>()
                .map_err(|_| format!("{what} is not a number from 0 to 255"))
        };
        let usage = num("usage")?;
        let selector = num("selector")?;
        let matching = num("matching type")?;
        let hex: String = words.collect();
        if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 8192 {
            return Err("the data must be an even number of hex digits".into());
        }
        let data = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
                    .ok_or_else(|| format!("not hex at position {i}"))
            })
            .collect::<Result<Vec<u8>, String>>()?;
        Ok(Self {
            usage: usage.into(),
            selector: selector.into(),
            matching: matching.into(),
            data,
        })
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn presentation_form_round_trips() {
        let r: TlsaRecord = "3 1 1 0a0B 0c".parse().unwrap();
        assert_eq!(r.usage, TlsaUsage::DaneEe);
        assert_eq!(r.data, [0x0a, 0x0b, 0x0c]);
        let again: TlsaRecord = r.to_string().parse().unwrap();
        assert_eq!(again, r);
        for bad in ["", "3 1", "3 1 1", "3 1 1 abc", "x 1 1 00", "3 1 1 zz"] {
            assert!(bad.parse::<TlsaRecord>().is_err(), "{bad}");
        }
    }
}
