//! DKIM key records at `<selector>._domainkey.<domain>` (RFC 6376 §3.6.1, Ed25519 from RFC 8463,
//! key and hash requirements from RFC 8301): key type and size, revoked keys, testing flag.

use std::fmt;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use super::{Finding, Parsed, Severity, bounded, cut, duplicate, fields};

/// The key type (`k=`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// RSA (the default).
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
    /// Anything else, as written.
    Other(String),
}

/// A usable DKIM key record. Absent tags are `None`; `public_key` is empty for a revoked key.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DkimKey {
    /// `v`: the version, `DKIM1` when present.
    pub version: Option<String>,
    /// `h`: acceptable hash algorithms (default: all).
    pub hash_algorithms: Option<Vec<String>>,
    /// `k`: the key type as written (default `rsa`).
    pub key_type_tag: Option<String>,
    /// `n`: notes for people.
    pub notes: Option<String>,
    /// `p`: the public key, decoded from base64; empty if the key is revoked.
    #[serde(serialize_with = "as_base64")]
    #[cfg_attr(feature = "schema", schemars(with = "checktls_types::schema::Base64"))]
    pub public_key: Vec<u8>,
    /// `s`: service types (default `*`).
    pub service_types: Option<Vec<String>>,
    /// `t`: flags (`y` testing, `s` strict).
    pub flags: Option<Vec<String>>,
    /// Other tags, in order (ignored by verifiers).
    pub extensions: Vec<(String, String)>,
}

fn as_base64<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&Base64::encode_string(bytes))
}

impl DkimKey {
    /// The key type (`rsa` when `k=` is absent).
    pub fn key_type(&self) -> KeyType {
        match self.key_type_tag.as_deref() {
            None | Some("rsa") => KeyType::Rsa,
            Some("ed25519") => KeyType::Ed25519,
            Some(other) => KeyType::Other(other.to_owned()),
        }
    }

    /// Whether the key has been revoked (`p=` empty).
    pub fn is_revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// Whether the domain is testing DKIM (`t=y`): verifiers must not treat failures differently.
    pub fn is_testing(&self) -> bool {
        self.flags
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == "y"))
    }

    /// The key size in bits: the RSA modulus size, 256 for Ed25519; `None` if it cannot be read.
    pub fn key_bits(&self) -> Option<u32> {
        match self.key_type() {
            KeyType::Rsa => rsa_modulus_bits(&self.public_key).map(|(bits, _)| bits),
            KeyType::Ed25519 => (self.public_key.len() == 32).then_some(256),
            KeyType::Other(_) => None,
        }
    }
}

impl fmt::Display for DkimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut tag = |f: &mut fmt::Formatter<'_>, name: &str, value: &str| {
            let r = write!(f, "{sep}{name}={value}");
            sep = "; ";
            r
        };
        if let Some(v) = &self.version {
            tag(f, "v", v)?;
        }
        if let Some(h) = &self.hash_algorithms {
            tag(f, "h", &h.join(":"))?;
        }
        if let Some(k) = &self.key_type_tag {
            tag(f, "k", k)?;
        }
        if let Some(n) = &self.notes {
            tag(f, "n", n)?;
        }
        if let Some(s) = &self.service_types {
            tag(f, "s", &s.join(":"))?;
        }
        if let Some(t) = &self.flags {
            tag(f, "t", &t.join(":"))?;
        }
        for (k, v) in &self.extensions {
            tag(f, k, v)?;
        }
        tag(f, "p", &Base64::encode_string(&self.public_key))
    }
}

/// Picks and parses the key from the TXT RRset at a selector. Several records are ambiguous
/// (RFC 6376 §3.6.2.2 leaves the choice to the verifier): the first is parsed and a warning
/// added.
pub fn check<S: AsRef<str>>(texts: &[S]) -> Parsed<DkimKey> {
    match texts {
        [] => Parsed::invalid(Finding::error("dkim.missing", "no DKIM key record")),
        [one] => parse(one.as_ref()),
        [first, ..] => {
            let mut p = parse(first.as_ref());
            p.findings.insert(
                0,
                Finding::warning(
                    "dkim.multiple",
                    format!(
                        "{} TXT records at the selector: verifiers may use any of them",
                        texts.len()
                    ),
                ),
            );
            p
        }
    }
}

/// Parses one DKIM key record.
pub fn parse(text: &str) -> Parsed<DkimKey> {
    let mut findings = Vec::new();
    let text = bounded(text, "dkim.too_long", &mut findings);
    let fields = match fields(text, "dkim.syntax") {
        Ok(f) => f,
        Err(e) => return Parsed::invalid(e),
    };
    if let Some(d) = duplicate(&fields, false) {
        return Parsed::invalid(Finding::at(
            "dkim.duplicate",
            Severity::Error,
            d.pos,
            format!(
                "tag {} appears twice: the record is invalid (RFC 6376 §3.2)",
                d.name
            ),
        ));
    }
    let mut key = DkimKey::default();
    let mut p = None;
    let list = |v: &str| -> Vec<String> {
        v.split(':')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    };
    for (i, f) in fields.iter().enumerate() {
        match f.name {
            "v" => {
                if i != 0 || f.value != "DKIM1" {
                    return Parsed::invalid(Finding::at(
                        "dkim.version",
                        Severity::Error,
                        f.pos,
                        "v= must be the first tag and equal DKIM1",
                    ));
                }
                key.version = Some(f.value.to_owned());
            }
            "h" => key.hash_algorithms = Some(list(f.value)),
            "k" => key.key_type_tag = Some(f.value.to_owned()),
            "n" => key.notes = Some(f.value.to_owned()),
            "s" => key.service_types = Some(list(f.value)),
            "t" => key.flags = Some(list(f.value)),
            "p" => p = Some(*f),
            other => {
                if f.value.contains(['\r', '\n']) {
                    findings.push(Finding::at(
                        "dkim.unknown_tag",
                        Severity::Info,
                        f.pos,
                        format!("unknown tag {other} is ignored"),
                    ));
                } else {
                    findings.push(Finding::at(
                        "dkim.unknown_tag",
                        Severity::Info,
                        f.pos,
                        format!("unknown tag {other} is ignored"),
                    ));
                    key.extensions.push((other.to_owned(), f.value.to_owned()));
                }
            }
        }
    }
    let Some(p) = p else {
        return Parsed::invalid(Finding::error(
            "dkim.missing_key",
            "the record has no p= tag",
        ));
    };
    let b64: String = p
        .value
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if !b64.is_empty() {
        match Base64::decode_vec(&b64) {
            Ok(bytes) => key.public_key = bytes,
            Err(_) => {
                return Parsed::invalid(Finding::at(
                    "dkim.bad_base64",
                    Severity::Error,
                    p.value_pos,
                    format!("p={} is not valid base64", cut(&b64)),
                ));
            }
        }
    }
    judge(&key, p.value_pos, &mut findings);
    Parsed::new(Some(key), findings)
}

fn judge(key: &DkimKey, p_pos: usize, findings: &mut Vec<Finding>) {
    if key.is_revoked() {
        findings.push(Finding::info(
            "dkim.revoked",
            "p= is empty: this key has been revoked",
        ));
    } else {
        match key.key_type() {
            KeyType::Rsa => match rsa_modulus_bits(&key.public_key) {
                Some((bits, pkcs1)) => {
                    if pkcs1 {
                        findings.push(Finding::at(
                            "dkim.pkcs1_key",
                            Severity::Warning,
                            p_pos,
                            "the key is a bare RSAPublicKey, not a SubjectPublicKeyInfo; strict verifiers reject it",
                        ));
                    }
                    if bits < 1024 {
                        findings.push(Finding::error(
                            "dkim.weak_key",
                            format!("RSA key of {bits} bits: verifiers must reject keys under 1024 bits (RFC 8301 §3.2)"),
                        ));
                    } else if bits < 2048 {
                        findings.push(Finding::warning(
                            "dkim.short_key",
                            format!("RSA key of {bits} bits: 2048 or more is recommended (RFC 8301 §3.2)"),
                        ));
                    }
                }
                None => findings.push(Finding::at(
                    "dkim.bad_key",
                    Severity::Error,
                    p_pos,
                    "p= does not hold an RSA public key",
                )),
            },
            KeyType::Ed25519 => {
                if key.public_key.len() != 32 {
                    findings.push(Finding::at(
                        "dkim.bad_key",
                        Severity::Error,
                        p_pos,
                        format!(
                            "an Ed25519 key is 32 bytes, this one is {}",
                            key.public_key.len()
                        ),
                    ));
                }
            }
            KeyType::Other(k) => findings.push(Finding::error(
                "dkim.unknown_key_type",
                format!(
                    "key type k={} is not one verifiers know (rsa, ed25519)",
                    cut(&k)
                ),
            )),
        }
    }
    if let Some(h) = &key.hash_algorithms {
        if !h.iter().any(|x| x == "sha256") {
            findings.push(Finding::error(
                "dkim.sha1_only",
                "h= does not allow sha256; sha1 must not be used (RFC 8301 §3.1)",
            ));
        } else if h.iter().any(|x| x == "sha1") {
            findings.push(Finding::info(
                "dkim.sha1_allowed",
                "h= still lists sha1, which verifiers no longer accept (RFC 8301 §3.1)",
            ));
        }
    }
    if let Some(s) = &key.service_types
        && !s.iter().any(|x| x == "*" || x == "email")
    {
        findings.push(Finding::error(
            "dkim.service",
            "s= does not include email or *: the key is not for email",
        ));
    }
    if key.is_testing() {
        findings.push(Finding::warning(
            "dkim.testing",
            "t=y: the domain is testing DKIM; verifiers treat failures as if unsigned",
        ));
    }
}

/// Reads one DER TLV: (tag, content, rest). Bounded and panic-free.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    Some((tag, content, rest))
}

const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The modulus size of an RSA key given as SubjectPublicKeyInfo or bare RSAPublicKey, and
/// whether it was the bare (PKCS#1) form.
fn rsa_modulus_bits(key: &[u8]) -> Option<(u32, bool)> {
    let (tag, outer, _) = der(key)?;
    if tag != 0x30 {
        return None;
    }
    let (first_tag, first, rest) = der(outer)?;
    let (rsa_key, pkcs1) = match first_tag {
        0x02 => (outer, true),
        0x30 => {
            let (oid_tag, oid, _) = der(first)?;
            if oid_tag != 0x06 || oid != RSA_ENCRYPTION {
                return None;
            }
            let (bit_tag, bits, _) = der(rest)?;
            let (&unused, inner) = bits.split_first()?;
            if bit_tag != 0x03 || unused != 0 {
                return None;
            }
            let (seq_tag, seq, _) = der(inner)?;
            if seq_tag != 0x30 {
                return None;
            }
            (seq, false)
        }
        _ => return None,
    };
    let (int_tag, modulus, _) = der(rsa_key)?;
    if int_tag != 0x02 {
        return None;
    }
    let digits = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => return None,
    };
    let (&top, _) = digits.split_first()?;
    let bits = u32::try_from(digits.len()).ok()?.checked_mul(8)? - top.leading_zeros();
    Some((bits, pkcs1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 1024-bit RSA SubjectPublicKeyInfo (RFC 6376 Appendix C's example key, brackets.test).
    const KEY_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";

    #[test]
    fn rsa_key() {
        let p = parse(&format!("v=DKIM1; k=rsa; p={KEY_1024}"));
        let key = p.value.as_ref().unwrap();
        assert_eq!(key.key_bits(), Some(1024));
        assert!(p.findings.iter().any(|f| f.code == "dkim.short_key"));
        assert_eq!(parse(&key.to_string()).value.as_ref(), Some(key));
    }

    #[test]
    fn revoked_testing_and_errors() {
        let p = parse("v=DKIM1; p=; t=y");
        let codes: Vec<_> = p.findings.iter().map(|f| f.code.as_ref()).collect();
        assert_eq!(codes, ["dkim.revoked", "dkim.testing"]);
        assert!(parse("k=rsa; v=DKIM1; p=").value.is_none());
        assert!(parse("v=DKIM1").value.is_none());
        assert!(parse("v=DKIM1; p=!!!").value.is_none());
        let p = parse("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert_eq!(p.value.unwrap().key_bits(), Some(256));
    }

    #[test]
    fn der_is_bounded() {
        assert!(rsa_modulus_bits(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(rsa_modulus_bits(&[]).is_none());
        assert!(rsa_modulus_bits(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_none());
    }
}
