//! Domain names as every checktls crate hands them around: ASCII presentation form, lower
//! case, no trailing dot.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest presentation name without its trailing dot (RFC 1035 §2.3.4: 255 octets on the
/// wire).
const MAX_NAME: usize = 253;
/// The longest label (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// A domain name: ASCII presentation form, lower-cased, without the trailing dot.
///
/// Labels may hold any printable ASCII except `.` (so `_dmarc`, `_25._tcp` and the odd names
/// found in real zones fit); whether a name is also a valid host name is [`is_hostname`]. Names
/// are compared case-insensitively because they are stored lower-cased. Internationalised names
/// are given in their A-label (`xn--`) form.
///
/// ```
/// use checktls_types::DomainName;
///
/// let name: DomainName = "Mail.Example.COM.".parse()?;
/// assert_eq!(name.as_str(), "mail.example.com");
/// assert_eq!(name.child("_dmarc")?.as_str(), "_dmarc.mail.example.com");
/// assert!(name.is_subdomain_of(&"example.com".parse()?));
///
/// let err = DomainName::parse("mx..example.com").unwrap_err();
/// assert_eq!((err.position, err.reason), (3, "empty label"));
/// # Ok::<(), checktls_types::NameError>(())
/// ```
///
/// [`is_hostname`]: DomainName::is_hostname
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Parses a name in presentation form; a trailing dot is allowed, `.` alone is the root.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let invalid = |position: usize, reason: &'static str| NameError {
            input: truncate_for_error(input),
            position,
            reason,
        };
        if input == "." {
            return Ok(Self::root());
        }
        if input.is_empty() {
            return Err(invalid(0, "empty name"));
        }
        let body = input.strip_suffix('.').unwrap_or(input);
        if body.len() > MAX_NAME {
            return Err(invalid(MAX_NAME, "name longer than 253 characters"));
        }
        let mut label_start = 0;
        for (i, c) in body.char_indices() {
            if c == '.' {
                if i == label_start {
                    return Err(invalid(i, "empty label"));
                }
                label_start = i + 1;
                continue;
            }
            if !c.is_ascii() {
                return Err(invalid(
                    i,
                    "non-ASCII character; give the A-label (xn--) form",
                ));
            }
            if !c.is_ascii_graphic() {
                return Err(invalid(i, "space or control character"));
            }
            if i - label_start >= MAX_LABEL {
                return Err(invalid(i, "label longer than 63 characters"));
            }
        }
        if label_start == body.len() {
            return Err(invalid(body.len(), "empty label"));
        }
        Ok(Self(body.to_ascii_lowercase()))
    }

    /// The root name, `.`.
    pub fn root() -> Self {
        Self(".".to_owned())
    }

    /// The name without a trailing dot (`.` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with its trailing dot.
    pub fn to_fqdn(&self) -> String {
        if self.is_root() {
            ".".to_owned()
        } else {
            format!("{}.", self.0)
        }
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0 == "."
    }

    /// The labels, leftmost first; none for the root.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        let s = if self.is_root() { "" } else { self.0.as_str() };
        s.split('.').filter(|l| !l.is_empty())
    }

    /// How many labels the name has (0 for the root).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The name one label up; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.split_once('.') {
            Some((_, rest)) => Self(rest.to_owned()),
            None => Self::root(),
        })
    }

    /// `label.self`, checked (`_dmarc`, `_25._tcp`, a DKIM selector).
    pub fn child(&self, label: &str) -> Result<Self, NameError> {
        if self.is_root() {
            Self::parse(label)
        } else {
            Self::parse(&format!("{label}.{}", self.0))
        }
    }

    /// Whether `self` equals `other` or lies below it.
    pub fn is_subdomain_of(&self, other: &Self) -> bool {
        if other.is_root() || self == other {
            return true;
        }
        self.0
            .strip_suffix(other.0.as_str())
            .is_some_and(|head| head.ends_with('.'))
    }

    /// Whether every label is a host-name label (letters, digits, inner hyphens; RFC 1123 §2.1).
    pub fn is_hostname(&self) -> bool {
        !self.is_root()
            && self.labels().all(|l| {
                l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    }

    /// Whether the name is written like an IPv4 or IPv6 address (an MX pointing at an address).
    pub fn looks_like_ip(&self) -> bool {
        self.0.parse::<IpAddr>().is_ok()
    }

    /// The reverse-lookup name of an address: `d.c.b.a.in-addr.arpa` or the nibbles under
    /// `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
    pub fn reverse(ip: IpAddr) -> Self {
        let mut s = String::with_capacity(73);
        match ip {
            IpAddr::V4(v4) => {
                for o in v4.octets().iter().rev() {
                    s.push_str(&o.to_string());
                    s.push('.');
                }
                s.push_str("in-addr.arpa");
            }
            IpAddr::V6(v6) => {
                for o in v6.octets().iter().rev() {
                    for nibble in [o & 0x0f, o >> 4] {
                        s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                        s.push('.');
                    }
                }
                s.push_str("ip6.arpa");
            }
        }
        Self(s)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({:?})", self.0)
    }
}

impl FromStr for DomainName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DomainName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A string: printable ASCII, lower case, no trailing dot (`.` alone is the root).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for DomainName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DomainName".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "checktls_types::DomainName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A domain name: ASCII presentation form, lower case, without the trailing dot (`.` is the root).",
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME,
            // Printable ASCII but upper-case letters.
            "pattern": "^[!-@\\[-~]+$",
        })
    }
}

/// Why a text is not a domain name: where (a byte offset from 0) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameError {
    /// The text given (cut to 300 bytes).
    pub input: String,
    /// The byte offset of the problem.
    pub position: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid domain name {:?} at byte {}: {}",
            self.input, self.position, self.reason
        )
    }
}

impl std::error::Error for NameError {}

/// Keeps error values bounded when a caller passes a huge string.
fn truncate_for_error(input: &str) -> String {
    const KEEP: usize = 300;
    if input.len() <= KEEP {
        return input.to_owned();
    }
    let mut end = KEEP;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let n = DomainName::parse("MX1.Example.Test.").unwrap();
        assert_eq!(n.as_str(), "mx1.example.test");
        assert_eq!(n.to_fqdn(), "mx1.example.test.");
        assert_eq!(n.label_count(), 3);
        assert_eq!(n.parent().unwrap().as_str(), "example.test");
        assert!(
            DomainName::parse("test")
                .unwrap()
                .parent()
                .unwrap()
                .is_root()
        );
        assert!(DomainName::parse(".").unwrap().is_root());
    }

    #[test]
    fn rejects_with_positions() {
        for (input, pos) in [
            ("", 0),
            ("a..b", 2),
            (".a", 0),
            ("a b", 1),
            ("bücher.de", 1),
            ("a.", 2), // "a." is fine; see below
        ] {
            if input == "a." {
                assert!(DomainName::parse(input).is_ok());
                continue;
            }
            match DomainName::parse(input) {
                Err(NameError { position, .. }) => assert_eq!(position, pos, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        let long_label = "a".repeat(64);
        assert!(DomainName::parse(&long_label).is_err());
        let long_name = ["abcdefghi"; 26].join(".");
        assert!(DomainName::parse(&long_name).is_err());
    }

    #[test]
    fn subdomains() {
        let a = DomainName::parse("a.example.com").unwrap();
        let b = DomainName::parse("example.com").unwrap();
        let c = DomainName::parse("xexample.com").unwrap();
        assert!(a.is_subdomain_of(&b));
        assert!(b.is_subdomain_of(&b));
        assert!(!c.is_subdomain_of(&b));
        assert!(a.is_subdomain_of(&DomainName::root()));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            DomainName::reverse("127.0.0.2".parse().unwrap()).as_str(),
            "2.0.0.127.in-addr.arpa"
        );
        let v6 = DomainName::reverse("::1".parse().unwrap());
        assert!(v6.as_str().starts_with("1.0.0.0.0.0"));
        assert!(v6.as_str().ends_with(".ip6.arpa"));
        assert_eq!(v6.label_count(), 34);
    }

    #[test]
    fn hostnames() {
        assert!(DomainName::parse("mx-1.example.com").unwrap().is_hostname());
        assert!(
            !DomainName::parse("_dmarc.example.com")
                .unwrap()
                .is_hostname()
        );
        assert!(!DomainName::parse("-a.example.com").unwrap().is_hostname());
        assert!(DomainName::parse("192.0.2.1").unwrap().looks_like_ip());
    }
}
