//! Cipher-suite and signature-algorithm names to the properties scoring weighs.
//!
//! Both classifiers read a name as tokens (split on `_` and `-`, case-insensitive), so one
//! routine serves the IANA spelling (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) and OpenSSL's
//! (`ECDHE-RSA-AES128-GCM-SHA256`). They are deliberately small: a name they do not recognise
//! gives `None`, never a guess.

use crate::evidence::{CipherEvidence, SignatureHash};

/// Longest name worth reading; anything longer is not a cipher-suite name.
const MAX_NAME: usize = 128;

/// The bulk cipher named by the tokens: bits, AEAD, broken.
struct Bulk {
    bits: u16,
    aead: bool,
    broken: bool,
}

pub(crate) fn cipher(name: &str) -> Option<CipherEvidence> {
    if name.is_empty() || name.len() > MAX_NAME {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    let tokens: Vec<&str> = upper.split(['_', '-']).filter(|t| !t.is_empty()).collect();

    // The key-exchange part: IANA names put it before WITH; TLS 1.3 names have none (always
    // ephemeral); OpenSSL names lead with it.
    let with = tokens.iter().position(|t| *t == "WITH");
    let tls13 = with.is_none()
        && tokens.first() == Some(&"TLS")
        && matches!(tokens.get(1), Some(&"AES" | &"CHACHA20"));
    let (kx, rest): (&[&str], &[&str]) = match with {
        Some(i) => (tokens.get(..i)?, tokens.get(i + 1..)?),
        None => (&[], &tokens[..]),
    };
    let has = |set: &[&str], t: &str| set.contains(&t);
    let ephemeral = ["ECDHE", "DHE", "EDH", "EECDH"];
    let anonymous = ["ANON", "ADH", "AECDH"];
    let forward_secrecy = tls13
        || kx.iter().any(|t| has(&ephemeral, t))
        || (with.is_none() && tokens.iter().any(|t| has(&ephemeral, t)));
    let anon = tokens.iter().any(|t| has(&anonymous, t));
    let export = tokens
        .iter()
        .any(|t| *t == "EXPORT" || *t == "EXP" || t.starts_with("EXPORT"));

    let bulk = bulk(rest)?;
    // Export suites cut the key to 40 bits (56 for the later EXPORT1024 ones, which name it).
    let bits = if export && bulk.bits > 56 {
        40
    } else {
        bulk.bits
    };
    Some(CipherEvidence {
        bits,
        aead: bulk.aead,
        forward_secrecy,
        broken: bulk.broken || export || anon,
    })
}

fn bulk(tokens: &[&str]) -> Option<Bulk> {
    let aead = tokens
        .iter()
        .any(|t| matches!(*t, "GCM" | "CCM" | "CCM8" | "CHACHA20" | "POLY1305"));
    // A size written as its own token after the cipher (IANA: AES_128) or glued to it
    // (OpenSSL: AES128).
    let size_after =
        |i: usize| -> Option<u16> { tokens.get(i + 1).and_then(|t| t.parse::<u16>().ok()) };
    for (i, t) in tokens.iter().enumerate() {
        let glued = |prefix: &str| t.strip_prefix(prefix).and_then(|s| s.parse::<u16>().ok());
        let sized = |prefix: &str, default: Option<u16>| -> Option<u16> {
            if *t == prefix {
                size_after(i).or(default)
            } else {
                glued(prefix)
            }
        };
        let found = if let Some(bits) = sized("AES", None) {
            Some((bits, false))
        } else if *t == "CHACHA20" {
            Some((256, false))
        } else if let Some(bits) = sized("CAMELLIA", None) {
            Some((bits, false))
        } else if let Some(bits) = sized("ARIA", None) {
            Some((bits, false))
        } else if *t == "SEED" {
            Some((128, false))
        } else if *t == "3DES" || *t == "CBC3" || *t == "DES3" {
            Some((112, true))
        } else if *t == "DES" {
            // OpenSSL spells 3DES as DES-CBC3.
            if tokens.get(i + 1) == Some(&"CBC3") {
                Some((112, true))
            } else {
                Some((56, true))
            }
        } else if *t == "DES40" {
            Some((40, true))
        } else if let Some(bits) = sized("RC4", Some(128)) {
            Some((bits, true))
        } else if let Some(bits) = sized("RC2", Some(128)) {
            Some((bits, true))
        } else if *t == "IDEA" {
            Some((128, true))
        } else if *t == "NULL" {
            Some((0, true))
        } else {
            None
        };
        if let Some((bits, broken)) = found {
            return Some(Bulk {
                bits,
                aead: aead && !broken,
                broken,
            });
        }
    }
    None
}

pub(crate) fn signature(name: &str) -> Option<SignatureHash> {
    if name.is_empty() || name.len() > MAX_NAME {
        return None;
    }
    // Glue the name together so `SHA-256`, `SHA_256` and `sha256` read alike.
    let glued: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let table = [
        ("MD2", SignatureHash::Md5),
        ("MD4", SignatureHash::Md5),
        ("MD5", SignatureHash::Md5),
        ("SHA224", SignatureHash::Sha224),
        ("SHA256", SignatureHash::Sha256),
        ("SHA384", SignatureHash::Sha384),
        ("SHA512", SignatureHash::Sha512),
        ("SHA1", SignatureHash::Sha1),
        ("ED25519", SignatureHash::Intrinsic),
        ("ED448", SignatureHash::Intrinsic),
    ];
    table
        .into_iter()
        .find(|(needle, _)| glued.contains(needle))
        .map(|(_, hash)| hash)
}
