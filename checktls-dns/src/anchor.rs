//! DNSSEC trust anchors: the IANA root keys, or DNSKEY and DS records read from zone-file syntax
//! (a lab, a private zone, a zone not yet delegated).

use std::fmt;
use std::path::Path;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use crate::{DomainName, Error};

/// One trust anchor: a key, or the digest of a key, that validation may start from.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrustAnchor {
    /// A DNSKEY record.
    Dnskey {
        /// The zone whose key it is.
        zone: DomainName,
        /// The flags (257 for a key-signing key).
        flags: u16,
        /// The protocol (always 3).
        protocol: u8,
        /// The algorithm number (8 RSASHA256, 13 ECDSAP256SHA256, 15 ED25519…).
        algorithm: u8,
        /// The public key.
        #[serde(serialize_with = "as_base64")]
        public_key: Vec<u8>,
    },
    /// A DS record: the key it names is trusted once fetched and matched.
    Ds {
        /// The zone whose key it names.
        zone: DomainName,
        /// The key tag.
        key_tag: u16,
        /// The algorithm number.
        algorithm: u8,
        /// The digest type (2 SHA-256, 4 SHA-384).
        digest_type: u8,
        /// The digest.
        #[serde(serialize_with = "as_hex")]
        digest: Vec<u8>,
    },
}

fn as_base64<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&Base64::encode_string(b))
}

fn as_hex<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(b))
}

fn hex(b: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(b)
}

impl TrustAnchor {
    /// The zone the anchor is for.
    pub fn zone(&self) -> &DomainName {
        match self {
            Self::Dnskey { zone, .. } | Self::Ds { zone, .. } => zone,
        }
    }

    /// The key tag (RFC 4034 Appendix B) of the key the anchor names.
    pub fn key_tag(&self) -> u16 {
        match self {
            Self::Ds { key_tag, .. } => *key_tag,
            Self::Dnskey {
                flags,
                protocol,
                algorithm,
                public_key,
                ..
            } => {
                let mut rdata = Vec::with_capacity(4 + public_key.len());
                rdata.extend_from_slice(&flags.to_be_bytes());
                rdata.push(*protocol);
                rdata.push(*algorithm);
                rdata.extend_from_slice(public_key);
                let mut acc: u32 = 0;
                for (i, b) in rdata.iter().enumerate() {
                    acc += if i % 2 == 0 {
                        u32::from(*b) << 8
                    } else {
                        u32::from(*b)
                    };
                }
                acc += (acc >> 16) & 0xffff;
                (acc & 0xffff) as u16
            }
        }
    }
}

impl fmt::Display for TrustAnchor {
    /// Zone-file syntax, which [`TrustAnchors::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dnskey {
                zone,
                flags,
                protocol,
                algorithm,
                public_key,
            } => write!(
                f,
                "{} IN DNSKEY {flags} {protocol} {algorithm} {}",
                zone.to_fqdn(),
                Base64::encode_string(public_key)
            ),
            Self::Ds {
                zone,
                key_tag,
                algorithm,
                digest_type,
                digest,
            } => write!(
                f,
                "{} IN DS {key_tag} {algorithm} {digest_type} {}",
                zone.to_fqdn(),
                hex(digest)
            ),
        }
    }
}

/// The trust anchors validation starts from.
///
/// The default is the IANA root key-signing keys compiled into the resolver. Anchors read from
/// text or a file *replace* the root keys: validation then starts only at the zones given, and
/// answers for names under none of them are [`Proof::Indeterminate`](crate::Proof).
///
/// ```
/// use checktls_dns::TrustAnchors;
///
/// let anchors = TrustAnchors::parse(
///     "; the lab's root key\n\
///      . 3600 IN DNSKEY 257 3 15 ( l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4= )\n\
///      example.test. IN DS 12345 13 2 ( 2bb183af5f22588179a53b0a98631fad1a292118 \n\
///                                       2bb183af5f22588179a53b0a9863 )",
/// )?;
/// assert_eq!(anchors.anchors().len(), 2);
/// assert!(!anchors.includes_iana_root());
/// # Ok::<(), checktls_dns::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchors {
    iana_root: bool,
    anchors: Vec<TrustAnchor>,
}

impl Default for TrustAnchors {
    fn default() -> Self {
        Self::iana()
    }
}

impl TrustAnchors {
    /// The IANA root key-signing keys (2017 and 2024), as compiled into the resolver.
    pub fn iana() -> Self {
        Self {
            iana_root: true,
            anchors: Vec::new(),
        }
    }

    /// No anchors at all: nothing validates (every answer is indeterminate).
    pub fn none() -> Self {
        Self {
            iana_root: false,
            anchors: Vec::new(),
        }
    }

    /// Reads DNSKEY and DS records in zone-file syntax: comments (`;`), parentheses across
    /// lines, optional TTL and class, `$ORIGIN`, `$TTL`, `@`, and relative owner names.
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse_text(text, "<inline>")
    }

    /// Reads a file of DNSKEY and DS records (see [`parse`](Self::parse)).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::ReadFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        parse_text(&text, &path.display().to_string())
    }

    /// Adds an anchor.
    pub fn push(&mut self, anchor: TrustAnchor) {
        if !self.anchors.contains(&anchor) {
            self.anchors.push(anchor);
        }
    }

    /// Adds all anchors of another set (and its root keys, if it has them).
    pub fn extend(&mut self, other: Self) {
        self.iana_root |= other.iana_root;
        for a in other.anchors {
            self.push(a);
        }
    }

    /// The anchors given (not counting the IANA root keys).
    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    /// Whether the IANA root keys are included.
    pub fn includes_iana_root(&self) -> bool {
        self.iana_root
    }

    /// Whether validation can reach `name`: it lies at or below an anchor's zone.
    pub fn covers(&self, name: &DomainName) -> bool {
        self.iana_root || self.anchors.iter().any(|a| name.is_subdomain_of(a.zone()))
    }
}

impl fmt::Display for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.iana_root {
            writeln!(f, "; the IANA root key-signing keys (compiled in)")?;
        }
        for a in &self.anchors {
            writeln!(f, "{a}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    line: usize,
    column: usize,
}

/// Groups the text into logical records (parentheses joined), each a list of tokens, and says
/// whether the record began with whitespace (owner omitted).
fn records<'a>(text: &'a str, origin: &str) -> Result<Vec<(bool, Vec<Token<'a>>)>, Error> {
    let err = |line: usize, column: usize, reason: &str| Error::TrustAnchorSyntax {
        origin: origin.to_owned(),
        line,
        column,
        reason: reason.to_owned(),
    };
    let mut out: Vec<(bool, Vec<Token<'a>>)> = Vec::new();
    let mut depth = 0usize;
    let mut open_at = (0, 0);
    for (ln, raw) in text.lines().enumerate() {
        let line = ln + 1;
        let content = raw.split(';').next().unwrap_or("");
        if depth == 0 {
            let blank = content.trim().is_empty();
            if blank {
                continue;
            }
            out.push((content.starts_with([' ', '\t']), Vec::new()));
        }
        let Some((_, tokens)) = out.last_mut() else {
            continue;
        };
        let mut start: Option<usize> = None;
        let flush = |start: &mut Option<usize>, end: usize, tokens: &mut Vec<Token<'a>>| {
            if let Some(s) = start.take() {
                tokens.push(Token {
                    text: &content[s..end],
                    line,
                    column: s + 1,
                });
            }
        };
        for (i, c) in content.char_indices() {
            match c {
                '(' => {
                    flush(&mut start, i, tokens);
                    if depth == 0 {
                        open_at = (line, i + 1);
                    }
                    depth += 1;
                }
                ')' => {
                    flush(&mut start, i, tokens);
                    if depth == 0 {
                        return Err(err(line, i + 1, "')' without '('"));
                    }
                    depth -= 1;
                }
                c if c.is_whitespace() => flush(&mut start, i, tokens),
                _ => {
                    if start.is_none() {
                        start = Some(i);
                    }
                }
            }
        }
        flush(&mut start, content.len(), tokens);
    }
    if depth > 0 {
        return Err(err(open_at.0, open_at.1, "'(' is never closed"));
    }
    Ok(out)
}

fn algorithm_number(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    Some(match s.to_ascii_uppercase().as_str() {
        "RSAMD5" => 1,
        "DSA" => 3,
        "RSASHA1" => 5,
        "DSA-NSEC3-SHA1" => 6,
        "RSASHA1-NSEC3-SHA1" => 7,
        "RSASHA256" => 8,
        "RSASHA512" => 10,
        "ECC-GOST" => 12,
        "ECDSAP256SHA256" => 13,
        "ECDSAP384SHA384" => 14,
        "ED25519" => 15,
        "ED448" => 16,
        _ => return None,
    })
}

/// Whether a name can be written in zone-file syntax without escapes (letters, digits, `-`,
/// `_`): the only names trust anchors are read for.
fn plain(name: &DomainName) -> bool {
    name.labels().all(|l| {
        l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn parse_text(text: &str, origin_label: &str) -> Result<TrustAnchors, Error> {
    let err = |t: &Token<'_>, reason: String| Error::TrustAnchorSyntax {
        origin: origin_label.to_owned(),
        line: t.line,
        column: t.column,
        reason,
    };
    let mut anchors = TrustAnchors::none();
    let mut origin: Option<DomainName> = None;
    let mut last_owner: Option<DomainName> = None;
    for (indented, tokens) in records(text, origin_label)? {
        let mut it = tokens.iter().peekable();
        let Some(first) = it.peek().copied() else {
            continue;
        };
        if first.text.starts_with('$') {
            let directive = first.text.to_ascii_uppercase();
            it.next();
            match directive.as_str() {
                "$ORIGIN" => {
                    let Some(name) = it.next() else {
                        return Err(err(first, "$ORIGIN needs a name".to_owned()));
                    };
                    origin =
                        Some(DomainName::parse(name.text).map_err(|e| err(name, e.to_string()))?);
                }
                "$TTL" => {}
                other => return Err(err(first, format!("directive {other} is not supported"))),
            }
            continue;
        }
        let owner = if indented {
            last_owner
                .clone()
                .ok_or_else(|| err(first, "the first record has no owner name".to_owned()))?
        } else {
            let Some(t) = it.next() else { continue };
            let name = match (t.text, &origin) {
                ("@", Some(o)) => o.clone(),
                ("@", None) => return Err(err(t, "@ used without $ORIGIN".to_owned())),
                (n, _) if n.ends_with('.') => {
                    DomainName::parse(n).map_err(|e| err(t, e.to_string()))?
                }
                (n, Some(o)) => o.child(n).map_err(|e| err(t, e.to_string()))?,
                (n, None) => DomainName::parse(n).map_err(|e| err(t, e.to_string()))?,
            };
            if !plain(&name) {
                return Err(err(
                    t,
                    "names may hold only letters, digits, - and _".to_owned(),
                ));
            }
            last_owner = Some(name.clone());
            name
        };
        // Optional TTL and class, in either order, then the type.
        let rtype = loop {
            let Some(t) = it.next() else {
                return Err(err(first, "record has no type".to_owned()));
            };
            let upper = t.text.to_ascii_uppercase();
            if upper == "IN" || t.text.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            break (upper, *t);
        };
        let rest: Vec<&Token<'_>> = it.collect();
        let field = |i: usize, what: &str| -> Result<&Token<'_>, Error> {
            rest.get(i)
                .copied()
                .ok_or_else(|| err(&rtype.1, format!("{} record has no {what}", rtype.0)))
        };
        let number = |i: usize, what: &str, max: u32| -> Result<u32, Error> {
            let t = field(i, what)?;
            t.text
                .parse::<u32>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| {
                    err(
                        t,
                        format!("{what} {:?} is not a number up to {max}", t.text),
                    )
                })
        };
        let algorithm = |i: usize| -> Result<u8, Error> {
            let t = field(i, "algorithm")?;
            algorithm_number(t.text)
                .ok_or_else(|| err(t, format!("unknown algorithm {:?}", t.text)))
        };
        let tail = |from: usize, what: &str| -> Result<String, Error> {
            let joined: String = rest.iter().skip(from).map(|t| t.text).collect();
            if joined.is_empty() {
                return Err(err(&rtype.1, format!("{} record has no {what}", rtype.0)));
            }
            Ok(joined)
        };
        match rtype.0.as_str() {
            "DNSKEY" => {
                let flags = number(0, "flags", u32::from(u16::MAX))?;
                let protocol = number(1, "protocol", 255)?;
                if protocol != 3 {
                    return Err(err(
                        field(1, "protocol")?,
                        "the DNSKEY protocol must be 3".to_owned(),
                    ));
                }
                let alg = algorithm(2)?;
                let b64 = tail(3, "public key")?;
                let public_key = Base64::decode_vec(&b64).map_err(|_| {
                    err(
                        rest.get(3).copied().unwrap_or(&rtype.1),
                        "public key is not valid base64".to_owned(),
                    )
                })?;
                anchors.push(TrustAnchor::Dnskey {
                    zone: owner,
                    flags: u16::try_from(flags).unwrap_or(u16::MAX),
                    protocol: 3,
                    algorithm: alg,
                    public_key,
                });
            }
            "DS" => {
                let key_tag = number(0, "key tag", u32::from(u16::MAX))?;
                let alg = algorithm(1)?;
                let digest_type = number(2, "digest type", 255)?;
                let h = tail(3, "digest")?;
                let digest = from_hex(&h).ok_or_else(|| {
                    err(
                        rest.get(3).copied().unwrap_or(&rtype.1),
                        "digest is not hexadecimal".to_owned(),
                    )
                })?;
                anchors.push(TrustAnchor::Ds {
                    zone: owner,
                    key_tag: u16::try_from(key_tag).unwrap_or(u16::MAX),
                    algorithm: alg,
                    digest_type: u8::try_from(digest_type).unwrap_or(u8::MAX),
                    digest,
                });
            }
            other => {
                return Err(err(
                    &rtype.1,
                    format!("{other} records are not trust anchors; give DNSKEY or DS records"),
                ));
            }
        }
    }
    Ok(anchors)
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_errors() {
        let a = TrustAnchors::parse(
            "$ORIGIN example.test.\n@ 300 IN DNSKEY 257 3 ECDSAP256SHA256 AQID\n  DS 1 13 2 0a0B\nsub DS 2 8 2 ff",
        )
        .unwrap();
        assert_eq!(a.anchors().len(), 3);
        assert_eq!(a.anchors()[1].zone().as_str(), "example.test");
        assert_eq!(a.anchors()[2].zone().as_str(), "sub.example.test");
        let again = TrustAnchors::parse(&a.to_string()).unwrap();
        assert_eq!(again, a);
        assert!(a.covers(&DomainName::parse("mx.example.test").unwrap()));
        assert!(!a.covers(&DomainName::parse("example.org").unwrap()));
        match TrustAnchors::parse("x.test. IN DNSKEY 257 3 13\n") {
            Err(Error::TrustAnchorSyntax {
                line: 1,
                column: 12,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        match TrustAnchors::parse("\nx.test. IN A 192.0.2.1") {
            Err(Error::TrustAnchorSyntax {
                line: 2,
                column: 12,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(TrustAnchors::parse("x. DNSKEY 257 3 13 ( AQID").is_err());
        assert!(TrustAnchors::parse("x. DS 1 13 2 xyz").is_err());
        // Names zone files would need escaped are refused (found by fuzzing).
        assert!(TrustAnchors::parse("$ORIGIN $origin.\n@ DS 1 8 2 ff").is_err());
        assert!(TrustAnchors::parse("a@b.test. DS 1 8 2 ff").is_err());
    }

    #[test]
    fn key_tag_matches_rfc_4034_example() {
        // RFC 4034 §5.4: the DS for dskey.example.com names key tag 60485.
        let a = TrustAnchors::parse(
            "dskey.example.com. 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9Xz
                                             fwJr1AYtsmx3TGkJaNXVbfi/
                                             2pHm822aJ5iI9BMzNXxeYCmZ
                                             DRD99WYwYqUSdjMmmAphXdvx
                                             egXd/M5+X7OrzKBaMbCVdFLU
                                             Uh6DhweJBjEVv5f2wwjM9Xzc
                                             nOf+EPbtG9DMBmADjFDc2w/r
                                             ljwvFw==
                                             ) ;  key id = 60485",
        )
        .unwrap();
        assert_eq!(a.anchors()[0].key_tag(), 60485);
    }
}
