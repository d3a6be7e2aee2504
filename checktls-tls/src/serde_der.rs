//! Serde helpers: DER blobs as base64 strings, durations as milliseconds.

use base64ct::{Base64, Encoding};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Deserializer, Serializer};

/// A list of certificates as base64 DER strings.
pub(crate) mod cert_list {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        certs: &[CertificateDer<'static>],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(certs.iter().map(|c| Base64::encode_string(c)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<CertificateDer<'static>>, D::Error> {
        let strings = Vec::<String>::deserialize(d)?;
        strings
            .iter()
            .map(|s| {
                Base64::decode_vec(s)
                    .map(CertificateDer::from)
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

/// Optional bytes as a base64 string.
pub(crate) mod opt_bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&Base64::encode_string(b)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| Base64::decode_vec(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A duration as fractional milliseconds.
pub(crate) mod millis {
    use std::time::Duration;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
    }
}
