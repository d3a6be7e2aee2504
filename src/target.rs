//! What a receiver test is asked to test: an address, a domain, or either with a given MX host.
//!
//! ```text
//!   "user@example.com"                 → local part "user", domain example.com, MX from DNS
//!   "example.com"                      → domain only (no RCPT TO is sent)
//!   "user@example.com[mx.example.net:2525]"  → skip MX discovery: test that host and port
//!   "example.com[192.0.2.7]"           → skip MX discovery: test that address on the default port
//!   "192.0.2.7" / "[2001:db8::7]:587"  → an address alone (CheckTLS accepts an IP as a target)
//! ```
//!
//! ```
//! use checktls::target::{Target, HostSpec};
//!
//! let t: Target = "Alice@Example.COM[mx1.example.net:2525]".parse().unwrap();
//! assert_eq!(t.local_part.as_deref(), Some("Alice"));
//! assert_eq!(t.domain.as_ref().unwrap().to_string(), "example.com");
//! let host = t.host.unwrap();
//! assert_eq!(host.port, Some(2525));
//! assert!(matches!(host.host, HostSpec::Name(_)));
//!
//! let err = "user@@example.com".parse::<Target>().unwrap_err();
//! assert_eq!(err.position, 5);
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::dns::DomainName;

/// The longest target text accepted (an address is at most 254 octets; the host part adds some).
pub const MAX_TARGET_LEN: usize = 512;

/// A host given instead of MX discovery: a name (its addresses are looked up) or an address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostSpec {
    /// A host name; its A/AAAA records are looked up.
    Name(DomainName),
    /// An address, tested as it is.
    Ip(IpAddr),
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(f, "{n}"),
            Self::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Self::Ip(a) => write!(f, "{a}"),
        }
    }
}

/// A given MX host and, optionally, its port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct GivenHost {
    /// The host.
    pub host: HostSpec,
    /// The port; `None` uses the test's port (25, or 465 with direct TLS).
    pub port: Option<u16>,
}

impl fmt::Display for GivenHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

/// A parsed receiver-test target. See the [module docs](self) for the accepted forms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Target {
    /// The local part of an address (case kept: it may matter to the receiver); `None` when a
    /// domain (or a host) alone is tested.
    pub local_part: Option<String>,
    /// The mail domain, lower-cased; `None` when an address alone is the target.
    pub domain: Option<DomainName>,
    /// A host to test instead of the domain's MX hosts.
    pub host: Option<GivenHost>,
}

impl Target {
    /// Parses a target; see the [module docs](self).
    pub fn parse(input: &str) -> Result<Self, TargetError> {
        parse(input)
    }

    /// A domain target.
    pub fn domain(domain: DomainName) -> Self {
        Self {
            local_part: None,
            domain: Some(domain),
            host: None,
        }
    }

    /// The full address (`local@domain`) when the target has one: the RCPT TO of the test.
    pub fn address(&self) -> Option<String> {
        match (&self.local_part, &self.domain) {
            (Some(l), Some(d)) => Some(format!("{l}@{d}")),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.local_part, &self.domain, &self.host) {
            (Some(l), Some(d), _) => write!(f, "{l}@{d}")?,
            (None, Some(d), _) => write!(f, "{d}")?,
            (_, None, Some(h)) => return write!(f, "{h}"),
            (_, None, None) => return Ok(()),
        }
        if let Some(h) = &self.host {
            write!(f, "[{h}]")?;
        }
        Ok(())
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A string in the target grammar (`user@example.com[mx.example.net:2525]`).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Target {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Target".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "checktls::Target".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "What was tested: `user@example.com`, `example.com`, either with a given host (`user@example.com[mx.example.net:2525]`), or an address (`192.0.2.7`, `[2001:db8::7]:587`).",
            "type": "string",
        })
    }
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Why a target could not be read: where (a character offset from 0) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad target {input:?} at character {position}: {expected}")]
#[non_exhaustive]
pub struct TargetError {
    /// The text given (truncated to 80 characters).
    pub input: String,
    /// The character offset (from 0) where the problem starts.
    pub position: usize,
    /// What was expected there.
    pub expected: String,
}

fn err(input: &str, position: usize, expected: impl Into<String>) -> TargetError {
    TargetError {
        input: input.chars().take(80).collect(),
        position,
        expected: expected.into(),
    }
}

fn char_pos(input: &str, byte: usize) -> usize {
    input
        .get(..byte)
        .map_or(input.chars().count(), |s| s.chars().count())
}

fn parse(raw: &str) -> Result<Target, TargetError> {
    let lead = raw.len() - raw.trim_start().len();
    let input = raw.trim();
    if input.is_empty() {
        return Err(err(raw, 0, "an address, a domain or a host"));
    }
    if input.len() > MAX_TARGET_LEN {
        return Err(err(
            raw,
            char_pos(raw, lead + MAX_TARGET_LEN),
            format!("at most {MAX_TARGET_LEN} bytes"),
        ));
    }
    let at = |byte: usize| char_pos(raw, lead + byte);
    if let Some(c) = input.find(|c: char| c.is_control() || c.is_whitespace()) {
        return Err(err(raw, at(c), "no spaces or control characters"));
    }

    // An address alone: "192.0.2.7", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:587".
    if !input.contains('@')
        && let Some(host) = bare_host(input)
    {
        return Ok(Target {
            local_part: None,
            domain: None,
            host: Some(host),
        });
    }

    // Split off "[host:port]" at the end.
    let (main, host) = match input.find('[') {
        Some(open) => {
            if !input.ends_with(']') {
                return Err(err(raw, at(input.len()), "']' closing the given host"));
            }
            let inner = &input[open + 1..input.len() - 1];
            let host =
                given_host(inner).map_err(|(off, what)| err(raw, at(open + 1 + off), what))?;
            (&input[..open], Some(host))
        }
        None => {
            if let Some(close) = input.find(']') {
                return Err(err(raw, at(close), "'[' before ']'"));
            }
            (input, None)
        }
    };

    let (local_part, domain_text, domain_start) = match main.rfind('@') {
        Some(i) => {
            let local = &main[..i];
            if local.is_empty() {
                return Err(err(raw, at(0), "a local part before '@'"));
            }
            if let Some(j) = local.find('@') {
                // A quoted local part may hold '@'; an unquoted one may not.
                if !(local.starts_with('"') && local.ends_with('"') && local.len() >= 2) {
                    return Err(err(raw, at(j + 1), "one '@' only (or a quoted local part)"));
                }
            }
            if local.len() > 64 {
                return Err(err(
                    raw,
                    at(64),
                    "a local part of at most 64 octets (RFC 5321)",
                ));
            }
            (Some(local.to_owned()), &main[i + 1..], i + 1)
        }
        None => (None, main, 0),
    };
    if domain_text.is_empty() {
        return Err(err(raw, at(domain_start), "a domain"));
    }
    let domain = DomainName::parse(domain_text)
        .map_err(|e| err(raw, at(domain_start), format!("a domain name ({e})")))?;
    if domain_text.parse::<IpAddr>().is_ok() {
        return Err(err(
            raw,
            at(domain_start),
            "a domain name, not an address (write the address alone, or domain[address])",
        ));
    }
    Ok(Target {
        local_part,
        domain: Some(domain),
        host,
    })
}

/// "192.0.2.7", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:587", "192.0.2.7:2525".
fn bare_host(input: &str) -> Option<GivenHost> {
    if let Ok(ip) = input.parse::<IpAddr>() {
        return Some(GivenHost {
            host: HostSpec::Ip(ip),
            port: None,
        });
    }
    if let Ok(sa) = input.parse::<std::net::SocketAddr>() {
        return Some(GivenHost {
            host: HostSpec::Ip(sa.ip()),
            port: Some(sa.port()),
        });
    }
    let inner = input.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| GivenHost {
        host: HostSpec::Ip(ip),
        port: None,
    })
}

/// The inside of "[...]": "host", "host:port", "ip", "ip:port", "[v6]" or "[v6]:port".
fn given_host(inner: &str) -> Result<GivenHost, (usize, String)> {
    if inner.is_empty() {
        return Err((0, "a host inside '[' ']'".into()));
    }
    if let Ok(ip) = inner.parse::<IpAddr>() {
        return Ok(GivenHost {
            host: HostSpec::Ip(ip),
            port: None,
        });
    }
    let (host_text, port_text, port_at) = if let Some(rest) = inner.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or((inner.len(), "']' after an IPv6 address".to_owned()))?;
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err((close + 2, "':' and a port after the IPv6 address".into())),
        };
        (&rest[..close], port, close + 3)
    } else {
        match inner.rfind(':') {
            Some(c) => (&inner[..c], Some(&inner[c + 1..]), c + 1),
            None => (inner, None, 0),
        }
    };
    let port = match port_text {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err((port_at, "a port from 1 to 65535".into())),
        },
    };
    let host = if let Ok(ip) = host_text.parse::<IpAddr>() {
        HostSpec::Ip(ip)
    } else {
        let off = usize::from(inner.starts_with('['));
        HostSpec::Name(
            DomainName::parse(host_text).map_err(|e| (off, format!("a host name ({e})")))?,
        )
    };
    Ok(GivenHost { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Target {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn forms() {
        let t = ok("user@example.com");
        assert_eq!(t.address().as_deref(), Some("user@example.com"));
        assert!(t.host.is_none());
        let t = ok("example.com");
        assert_eq!(t.local_part, None);
        assert_eq!(t.address(), None);
        let t = ok("u@example.com[mx.example.net:2525]");
        assert_eq!(t.host.as_ref().unwrap().port, Some(2525));
        assert_eq!(t.to_string(), "u@example.com[mx.example.net:2525]");
        let t = ok("example.com[127.0.0.9]");
        assert_eq!(
            t.host.unwrap().host,
            HostSpec::Ip("127.0.0.9".parse().unwrap())
        );
        let t = ok("u@example.com[[::1]:587]");
        let h = t.host.unwrap();
        assert_eq!(h.host, HostSpec::Ip("::1".parse().unwrap()));
        assert_eq!(h.port, Some(587));
        let t = ok("192.0.2.7");
        assert!(t.domain.is_none());
        assert_eq!(t.to_string(), "192.0.2.7");
        let t = ok("[2001:db8::7]:587");
        assert_eq!(t.host.unwrap().port, Some(587));
        let t = ok("  Mixed@EXAMPLE.com  ");
        assert_eq!(t.to_string(), "Mixed@example.com");
        let t = ok("\"a@b\"@example.com");
        assert_eq!(t.local_part.as_deref(), Some("\"a@b\""));
    }

    #[test]
    fn errors_name_their_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "an address"),
            ("@example.com", 0, "local part"),
            ("user@", 5, "a domain"),
            ("user@@example.com", 5, "one '@'"),
            ("user@exa mple.com", 8, "no spaces"),
            ("user@example.com[mx:0]", 20, "a port"),
            ("user@example.com[mx:99999]", 20, "a port"),
            ("user@example.com[mx", 19, "']'"),
            ("user@example.com]", 16, "'['"),
            ("user@example.com[]", 17, "a host"),
            ("user@192.0.2.1", 5, "not an address"),
            ("user@exa..mple", 5, "a domain name"),
        ];
        for (input, pos, what) in cases {
            let e = input.parse::<Target>().unwrap_err();
            assert_eq!(e.position, *pos, "{input}: {e}");
            assert!(e.expected.contains(what), "{input}: {e}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(long.parse::<Target>().unwrap_err().position, 64);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Target>();
        }

        #[test]
        fn display_round_trips(local in "[a-z0-9.]{1,20}", d in "[a-z]{1,10}\\.[a-z]{2,5}", port in 1u16..) {
            let t: Target = format!("{local}@{d}[mx.{d}:{port}]").parse().unwrap();
            let again: Target = t.to_string().parse().unwrap();
            proptest::prop_assert_eq!(t, again);
        }
    }
}
