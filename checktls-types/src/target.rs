//! What a receiver test is asked to test: an address, a domain, either with a given MX host, or
//! an IP address alone. One grammar, read here for the command, the web page and the Batch.
//!
//! ```text
//!   "user@example.com"                       → Address: RCPT TO user@example.com, MX from DNS
//!   "example.com"                            → Domain: MX from DNS, no RCPT TO
//!   "user@example.com[mx.example.net:2525]"  → Address with a given host: no MX lookup
//!   "example.com[192.0.2.7]"                 → Domain with a given address, the test's port
//!   "192.0.2.7" / "[2001:db8::7]:587"        → Ip: that server alone (CheckTLS accepts an IP)
//! ```
//!
//! ```
//! use checktls_types::target::{HostSpec, Target};
//!
//! let t: Target = "Alice@Example.COM[mx1.example.net:2525]".parse().unwrap();
//! assert_eq!(t.local_part().map(|l| l.as_str()), Some("Alice"));
//! assert_eq!(t.domain().unwrap().as_str(), "example.com");
//! let host = t.given_host().unwrap();
//! assert_eq!(host.port(), Some(2525));
//! assert!(matches!(host.host, HostSpec::Name(_)));
//! assert_eq!(t.to_string(), "Alice@example.com[mx1.example.net:2525]");
//!
//! let err = "user@@example.com".parse::<Target>().unwrap_err();
//! assert_eq!(err.position, 5);
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU16;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::name::DomainName;

/// The longest target text accepted (an address is at most 254 octets; the host part adds some).
pub const MAX_TARGET_LEN: usize = 512;

/// Characters an unquoted local part may not hold (RFC 5322 specials that mean something in an
/// address).
const LOCAL_SPECIALS: [char; 10] = ['<', '>', '(', ')', ',', ';', '[', ']', '\\', '@'];

/// A parsed receiver-test target. See the [module docs](self) for the accepted forms.
///
/// Every value is a target the receiver test can run: a domain or an address always has its
/// domain, and an IP target is its own host, so there is no empty target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the receiver test and the Batch; a new kind of target must be handled there
pub enum Target {
    /// A mail domain (`example.com`): its MX hosts are tested, or the given host.
    Domain {
        /// The mail domain, lower-cased.
        domain: DomainName,
        /// A host to test instead of the domain's MX hosts.
        host: Option<GivenHost>,
    },
    /// An address (`user@example.com`): as a domain, and the dialogs ask RCPT TO for it.
    Address {
        /// The local part, case kept (it may matter to the receiver).
        local_part: LocalPart,
        /// The mail domain, lower-cased.
        domain: DomainName,
        /// A host to test instead of the domain's MX hosts.
        host: Option<GivenHost>,
    },
    /// An IP address alone (`192.0.2.7`, `[2001:db8::7]:587`): that server, no domain.
    Ip {
        /// The address.
        address: IpAddr,
        /// The port; `None` uses the test's port (25, or 465 with direct TLS).
        port: Option<NonZeroU16>,
    },
}

impl Target {
    /// Parses a target; see the [module docs](self).
    pub fn parse(input: &str) -> Result<Self, TargetError> {
        parse(input)
    }

    /// The mail domain; `None` for an IP target.
    pub fn domain(&self) -> Option<&DomainName> {
        match self {
            Self::Domain { domain, .. } | Self::Address { domain, .. } => Some(domain),
            Self::Ip { .. } => None,
        }
    }

    /// The local part of an address target.
    pub fn local_part(&self) -> Option<&LocalPart> {
        match self {
            Self::Address { local_part, .. } => Some(local_part),
            Self::Domain { .. } | Self::Ip { .. } => None,
        }
    }

    /// The full address (`local@domain`) of an address target: the RCPT TO of the test.
    pub fn address(&self) -> Option<String> {
        match self {
            Self::Address {
                local_part, domain, ..
            } => Some(format!("{local_part}@{domain}")),
            Self::Domain { .. } | Self::Ip { .. } => None,
        }
    }

    /// The host tested instead of MX discovery: the given host of a domain or an address, or
    /// the address of an IP target. `None`: the domain's MX hosts are tested.
    pub fn given_host(&self) -> Option<GivenHost> {
        match self {
            Self::Domain { host, .. } | Self::Address { host, .. } => host.clone(),
            Self::Ip { address, port } => Some(GivenHost {
                host: HostSpec::Ip(*address),
                port: *port,
            }),
        }
    }

    /// This domain or address target with `host` tested instead of its MX hosts (replacing a
    /// host it had). An IP target is its own host: it comes back unchanged as the `Err`.
    pub fn with_host(self, host: GivenHost) -> Result<Self, Self> {
        match self {
            Self::Domain { domain, .. } => Ok(Self::Domain {
                domain,
                host: Some(host),
            }),
            Self::Address {
                local_part, domain, ..
            } => Ok(Self::Address {
                local_part,
                domain,
                host: Some(host),
            }),
            ip @ Self::Ip { .. } => Err(ip),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self {
            Self::Domain { domain, host } => {
                write!(f, "{domain}")?;
                host
            }
            Self::Address {
                local_part,
                domain,
                host,
            } => {
                write!(f, "{local_part}@{domain}")?;
                host
            }
            Self::Ip { address, port } => {
                return write!(
                    f,
                    "{}",
                    GivenHost {
                        host: HostSpec::Ip(*address),
                        port: *port,
                    }
                );
            }
        };
        match host {
            Some(h) => write!(f, "[{h}]"),
            None => Ok(()),
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
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
        "checktls_types::Target".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "What was tested: `user@example.com`, `example.com`, either with a given host (`user@example.com[mx.example.net:2525]`), or an address (`192.0.2.7`, `[2001:db8::7]:587`).",
            "type": "string",
        })
    }
}

/// The local part of an address: at most 64 octets, no space or control character, and none
/// of `<>(),;[]\@` unless it is quoted (`"a@b"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalPart(String);

impl LocalPart {
    /// Reads a local part; the error's position is a character offset in `text`.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        if let Some(c) = text.find(|c: char| c.is_control() || c.is_whitespace()) {
            return Err(err(
                text,
                char_pos(text, c),
                "no spaces or control characters",
            ));
        }
        local_part(text).map_err(|(at, what)| err(text, char_pos(text, at), what))?;
        Ok(Self(text.to_owned()))
    }

    /// The local part as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host given instead of MX discovery: a name (its addresses are looked up) or an address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the receiver test; a new kind of host must be handled there
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

/// A given MX host and, optionally, its port: the `[host:port]` of a target, or a Batch
/// target's `Host` attribute.
///
/// ```
/// use checktls_types::target::{GivenHost, HostSpec};
///
/// let h: GivenHost = "MX.example.net:2525".parse().unwrap();
/// assert_eq!((h.to_string(), h.port()), ("mx.example.net:2525".to_owned(), Some(2525)));
/// let v6: GivenHost = "2001:db8::25".parse().unwrap(); // brackets optional without a port
/// assert!(matches!(v6.host, HostSpec::Ip(_)) && v6.port.is_none());
/// assert_eq!("mx..example".parse::<GivenHost>().unwrap_err().position, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct GivenHost {
    /// The host.
    pub host: HostSpec,
    /// The port; `None` uses the test's port (25, or 465 with direct TLS).
    pub port: Option<NonZeroU16>,
}

impl GivenHost {
    /// A host and, optionally, its port.
    pub fn new(host: HostSpec, port: Option<NonZeroU16>) -> Self {
        Self { host, port }
    }

    /// Reads `host`, `host:port`, `address`, `[v6]` or `[v6]:port` (an IPv6 address without
    /// a port needs no brackets). The error's position is a character offset in `text`.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let input = text.trim();
        let lead = text.len() - text.trim_start().len();
        if let Some(c) = input.find(|c: char| c.is_control() || c.is_whitespace()) {
            return Err(err(
                text,
                char_pos(text, lead + c),
                "no spaces or control characters",
            ));
        }
        if input.is_empty() {
            return Err(err(text, 0, "a host name or an IP address"));
        }
        given_host(input).map_err(|(at, what)| err(text, char_pos(text, lead + at), what))
    }

    /// The port as a number.
    pub fn port(&self) -> Option<u16> {
        self.port.map(NonZeroU16::get)
    }
}

impl fmt::Display for GivenHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

impl FromStr for GivenHost {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a target could not be read: where (a character offset from 0) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetError {
    /// The text given (cut to 80 characters).
    pub input: String,
    /// The character offset (from 0) where the problem starts.
    pub position: usize,
    /// What was expected there.
    pub expected: String,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad target {:?} at character {}: {}",
            self.input, self.position, self.expected
        )
    }
}

impl std::error::Error for TargetError {}

fn err(input: &str, position: usize, expected: impl Into<String>) -> TargetError {
    TargetError {
        input: input.chars().take(80).collect(),
        position,
        expected: expected.into(),
    }
}

/// The character offset of byte offset `byte` of `input`.
fn char_pos(input: &str, byte: usize) -> usize {
    input
        .get(..byte)
        .map_or(input.chars().count(), |s| s.chars().count())
}

/// A problem at a byte offset of the text being read, and what was expected there.
type Problem = (usize, String);

fn parse(raw: &str) -> Result<Target, TargetError> {
    let lead = raw.len() - raw.trim_start().len();
    let input = raw.trim();
    let at = |byte: usize| char_pos(raw, lead + byte);
    if input.is_empty() {
        return Err(err(raw, 0, "an address, a domain or an IP address"));
    }
    if input.len() > MAX_TARGET_LEN {
        return Err(err(
            raw,
            at(MAX_TARGET_LEN),
            format!("at most {MAX_TARGET_LEN} bytes"),
        ));
    }
    if let Some(c) = input.find(|c: char| c.is_control() || c.is_whitespace()) {
        return Err(err(raw, at(c), "no spaces or control characters"));
    }
    let fail = |(byte, what): Problem| err(raw, at(byte), what);

    // An address alone: "192.0.2.7", "192.0.2.7:2525", "2001:db8::1", "[2001:db8::1]:587".
    if !input.contains('@')
        && let Some(ip) = bare_ip(input)
    {
        let (address, port) = ip.map_err(fail)?;
        return Ok(Target::Ip { address, port });
    }

    // Split off "[host:port]" at the end.
    let (main, host) = match input.find('[') {
        Some(open) => {
            if !input.ends_with(']') {
                return Err(err(raw, at(input.len()), "']' closing the given host"));
            }
            let inner = &input[open + 1..input.len() - 1];
            let host = given_host(inner).map_err(|(off, what)| fail((open + 1 + off, what)))?;
            (&input[..open], Some(host))
        }
        None => {
            if let Some(close) = input.find(']') {
                return Err(err(raw, at(close), "'[' before ']'"));
            }
            (input, None)
        }
    };

    let (local, domain_text, domain_start) = match main.rfind('@') {
        Some(i) => {
            let local = &main[..i];
            local_part(local).map_err(fail)?;
            (Some(LocalPart(local.to_owned())), &main[i + 1..], i + 1)
        }
        None => (None, main, 0),
    };
    if domain_text.is_empty() {
        let what = if local.is_some() && host.is_some() {
            "a domain after '@' (an address literal is not tested: write domain[address])"
        } else {
            "a domain"
        };
        return Err(err(raw, at(domain_start), what));
    }
    let domain =
        mail_domain(domain_text).map_err(|(off, what)| fail((domain_start + off, what)))?;
    Ok(match local {
        Some(local_part) => Target::Address {
            local_part,
            domain,
            host,
        },
        None => Target::Domain { domain, host },
    })
}

/// An IP target's text: `None` when `input` is not written as one (it may be a domain).
fn bare_ip(input: &str) -> Option<Result<(IpAddr, Option<NonZeroU16>), Problem>> {
    if let Ok(ip) = input.parse::<IpAddr>() {
        return Some(Ok((ip, None)));
    }
    if let Some(rest) = input.strip_prefix('[') {
        // "[address]" or "[address]:port"; "[IPv6:address]" as in an address literal.
        let Some(close) = rest.find(']') else {
            return Some(Err((input.len(), "']' after the IP address".into())));
        };
        let inner = &rest[..close];
        let inner = inner
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("IPv6:"))
            .map_or(inner, |_| &inner[5..]);
        let Ok(ip) = inner.parse::<IpAddr>() else {
            return Some(Err((1, "an IP address inside '[' ']'".into())));
        };
        let after = &rest[close + 1..];
        return Some(match after.strip_prefix(':') {
            Some(p) => port(p, close + 3).map(|p| (ip, Some(p))),
            None if after.is_empty() => Ok((ip, None)),
            None => Err((close + 2, "':' and a port after ']'".into())),
        });
    }
    let (left, p) = input.rsplit_once(':')?;
    let ip = left.parse::<Ipv4Addr>().ok()?;
    Some(port(p, left.len() + 1).map(|p| (IpAddr::V4(ip), Some(p))))
}

fn port(text: &str, at: usize) -> Result<NonZeroU16, Problem> {
    text.parse::<NonZeroU16>()
        .map_err(|_| (at, "a port from 1 to 65535".into()))
}

/// A local part: not empty, at most 64 octets, and no `@` or other special unless quoted
/// (`"a@b"`).
fn local_part(local: &str) -> Result<(), Problem> {
    if local.is_empty() {
        return Err((0, "a local part before '@'".into()));
    }
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    if !quoted && let Some(j) = local.find('@') {
        return Err((j + 1, "one '@' only (or a quoted local part)".into()));
    }
    if local.len() > 64 {
        return Err((64, "a local part of at most 64 octets (RFC 5321)".into()));
    }
    if !quoted && let Some(j) = local.find(LOCAL_SPECIALS) {
        return Err((
            j,
            "no <>(),;[]\\ in a local part unless it is quoted".into(),
        ));
    }
    Ok(())
}

/// A mail domain: a domain name of host-name characters (letters, digits, `-`, `_`), at least
/// two labels, not an address.
fn mail_domain(text: &str) -> Result<DomainName, Problem> {
    if text.parse::<IpAddr>().is_ok() {
        return Err((
            0,
            "a domain name, not an address (write the address alone, or domain[address])".into(),
        ));
    }
    let name = host_name(text)?;
    if name.label_count() < 2 {
        return Err((0, "a domain of at least two labels (example.com)".into()));
    }
    if text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err((0, "a domain name, not a malformed IP address".into()));
    }
    Ok(name)
}

/// A host name: a domain name whose labels hold letters, digits, `-` and `_`, and start and
/// end with neither `-`.
fn host_name(text: &str) -> Result<DomainName, Problem> {
    let name = DomainName::parse(text).map_err(|e| (0, format!("a domain name ({e})")))?;
    if name.is_root() {
        return Err((0, "a domain name, not the root".into()));
    }
    let mut start = 0;
    for label in text.trim_end_matches('.').split('.') {
        if let Some(i) = label.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err((start + i, "a letter, digit, '-' or '_' in a name".into()));
        }
        if label.starts_with('-') {
            return Err((start, "no '-' at the start of a label".into()));
        }
        if label.ends_with('-') {
            return Err((
                start + label.len() - 1,
                "no '-' at the end of a label".into(),
            ));
        }
        start += label.len() + 1;
    }
    Ok(name)
}

/// The inside of "[...]" (or a `Host` attribute): "host", "host:port", "ip", "ip:port",
/// "[v6]" or "[v6]:port".
fn given_host(inner: &str) -> Result<GivenHost, Problem> {
    if inner.is_empty() {
        return Err((0, "a host inside '[' ']'".into()));
    }
    if let Ok(ip) = inner.parse::<IpAddr>() {
        return Ok(GivenHost {
            host: HostSpec::Ip(ip),
            port: None,
        });
    }
    let (host_text, port_text, port_at, host_at) = if let Some(rest) = inner.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or((inner.len(), "']' after an IPv6 address".to_owned()))?;
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err((close + 2, "':' and a port after the IPv6 address".into())),
        };
        (&rest[..close], port, close + 3, 1)
    } else {
        match inner.rfind(':') {
            Some(c) => (&inner[..c], Some(&inner[c + 1..]), c + 1, 0),
            None => (inner, None, 0, 0),
        }
    };
    let port = port_text.map(|p| port(p, port_at)).transpose()?;
    let host = match host_text.parse::<IpAddr>() {
        Ok(ip) => HostSpec::Ip(ip),
        Err(_) if host_at == 1 => {
            return Err((1, "an IPv6 address inside '[' ']'".into()));
        }
        Err(_) => HostSpec::Name(host_name(host_text).map_err(|(off, what)| {
            let what = what.replacen("a domain name", "a host name", 1);
            (host_at + off, what)
        })?),
    };
    Ok(GivenHost { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Target {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn port(n: u16) -> Option<NonZeroU16> {
        NonZeroU16::new(n)
    }

    #[test]
    fn forms() {
        let t = ok("user@example.com");
        assert_eq!(t.address().as_deref(), Some("user@example.com"));
        assert!(t.given_host().is_none());
        let t = ok("example.com");
        assert!(matches!(t, Target::Domain { host: None, .. }));
        assert_eq!(t.local_part(), None);
        assert_eq!(t.address(), None);
        let t = ok("u@example.com[mx.example.net:2525]");
        assert_eq!(t.given_host().unwrap().port(), Some(2525));
        assert_eq!(t.to_string(), "u@example.com[mx.example.net:2525]");
        let t = ok("example.com[127.0.0.9]");
        assert_eq!(
            t.given_host().unwrap().host,
            HostSpec::Ip("127.0.0.9".parse().unwrap())
        );
        let t = ok("u@example.com[[::1]:587]");
        let h = t.given_host().unwrap();
        assert_eq!(h.host, HostSpec::Ip("::1".parse().unwrap()));
        assert_eq!(h.port(), Some(587));
        assert_eq!(t.to_string(), "u@example.com[[::1]:587]");
        let t = ok("192.0.2.7");
        assert!(t.domain().is_none());
        assert_eq!(t.to_string(), "192.0.2.7");
        let t = ok("192.0.2.7:2525");
        assert_eq!(
            t,
            Target::Ip {
                address: "192.0.2.7".parse().unwrap(),
                port: port(2525)
            }
        );
        let t = ok("[2001:db8::7]:587");
        assert_eq!(t.given_host().unwrap().port(), Some(587));
        assert_eq!(t.to_string(), "[2001:db8::7]:587");
        // The address literal of a Batch target.
        assert_eq!(ok("[IPv6:2001:db8::7]"), ok("2001:db8::7"));
        let t = ok("  Mixed@EXAMPLE.com.  ");
        assert_eq!(t.to_string(), "Mixed@example.com");
        let t = ok("\"a@b\"@example.com");
        assert_eq!(t.local_part().unwrap().as_str(), "\"a@b\"");
        assert_eq!(
            ok("_dmarc-x.example_1.com").to_string(),
            "_dmarc-x.example_1.com"
        );
    }

    #[test]
    fn a_host_replaces_discovery_except_for_an_ip() {
        let host: GivenHost = "mx.example.net:2525".parse().unwrap();
        let t = ok("user@example.com").with_host(host.clone()).unwrap();
        assert_eq!(t.to_string(), "user@example.com[mx.example.net:2525]");
        let t = ok("example.com[other.example]")
            .with_host(host.clone())
            .unwrap();
        assert_eq!(t.given_host(), Some(host.clone()));
        let ip = ok("192.0.2.7");
        assert_eq!(ip.clone().with_host(host), Err(ip));
        let v6: GivenHost = "[2001:db8::1]:25".parse().unwrap();
        assert_eq!(
            (v6.to_string(), v6.port()),
            ("[2001:db8::1]:25".into(), Some(25))
        );
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
            ("user@[192.0.2.1]", 5, "address literal"),
            ("us(er@example.com", 2, "quoted"),
            ("user@exa!mple.com", 8, "a letter, digit"),
            ("user@-example.com", 5, "start of a label"),
            ("user@example-.com", 12, "end of a label"),
            ("user@example", 5, "two labels"),
            ("bücher.de", 0, "A-label"),
            ("1.2.3", 0, "malformed IP"),
            ("192.0.2.7:0", 10, "a port"),
            ("[2001:db8::7]:x", 14, "a port"),
            ("[2001:db8::7]x", 13, "':' and a port"),
            ("[mx.example.com]", 1, "an IP address"),
            ("example.com[mx..example]", 12, "a host name"),
            ("example.com[[mx]:25]", 13, "an IPv6 address"),
            ("example.com[mx.exa$mple]", 18, "a letter, digit"),
        ];
        for (input, pos, what) in cases {
            let e = input.parse::<Target>().unwrap_err();
            assert_eq!(e.position, *pos, "{input}: {e}");
            assert!(e.expected.contains(what), "{input}: {e}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(long.parse::<Target>().unwrap_err().position, 64);
        let e = "  x@@y.example".parse::<Target>().unwrap_err();
        assert_eq!(e.position, 4, "leading spaces count: {e}");
        assert_eq!(
            e.to_string(),
            "bad target \"  x@@y.example\" at character 4: one '@' only (or a quoted local part)"
        );
    }

    #[test]
    fn given_hosts_and_local_parts_on_their_own() {
        assert_eq!(GivenHost::parse("  mx.example:x").unwrap_err().position, 13);
        assert_eq!(LocalPart::parse("a;b").unwrap_err().position, 1);
        assert_eq!(LocalPart::parse("\"a;b\"").unwrap().as_str(), "\"a;b\"");
    }
}
