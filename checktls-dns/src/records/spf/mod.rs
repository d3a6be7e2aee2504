//! SPF records (RFC 7208): the syntax and its findings here; in the `walk` module, the count of
//! DNS-querying terms with its limit of 10 and the void-lookup limit of 2, followed recursively
//! through `include` and `redirect`.
//!
//! The recursive count needs DNS answers, yet stays pure: [`SpfWalk`] is a small state machine
//! that says which question it needs answered next and takes the answer, so tests drive it with
//! a closure ([`walk`]) and the resolver drives it with real lookups.
//!
//! ```
//! use checktls_dns::records::spf::{walk, SpfQuery, SpfReply};
//! use checktls_dns::DomainName;
//!
//! let report = walk(&"example.com".parse()?, |q| match q {
//!     SpfQuery::Txt(d) if d.as_str() == "example.com" => {
//!         SpfReply::Txt(vec!["v=spf1 include:_spf.example.net mx -all".into()])
//!     }
//!     SpfQuery::Txt(_) => SpfReply::Txt(vec!["v=spf1 ip4:192.0.2.0/24 a -all".into()]),
//!     _ => SpfReply::Found(1), // MX and address questions (for the void-lookup count)
//! });
//! assert_eq!(report.lookups, 3); // include, mx, and the a inside the include
//! assert_eq!(report.void_lookups, 0);
//! # Ok::<(), checktls_dns::Error>(())
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::{Finding, Parsed, Severity, bounded, cut, select};
use crate::DomainName;

/// The limit on DNS-querying terms (RFC 7208 §4.6.4).
pub const LOOKUP_LIMIT: u32 = 10;
/// The limit on void lookups (RFC 7208 §4.6.4).
pub const VOID_LIMIT: u32 = 2;

/// A qualifier: the result a matching mechanism gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // the four qualifiers of RFC 7208 §4.6.2
pub enum Qualifier {
    /// `+` (the default).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    fn prefix(self) -> &'static str {
        match self {
            Self::Pass => "",
            Self::Fail => "-",
            Self::SoftFail => "~",
            Self::Neutral => "?",
        }
    }
}

/// A mechanism (RFC 7208 §5). Domain specifications are kept as written (they may hold macros).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "mechanism", rename_all = "snake_case")]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:<domain>`.
    Include {
        /// The domain specification.
        domain: String,
    },
    /// `a[:<domain>][/<ip4-cidr>][//<ip6-cidr>]`.
    A {
        /// The domain specification, if given.
        domain: Option<String>,
        /// The IPv4 prefix length, if given.
        cidr4: Option<u8>,
        /// The IPv6 prefix length, if given.
        cidr6: Option<u8>,
    },
    /// `mx[:<domain>][/<ip4-cidr>][//<ip6-cidr>]`.
    Mx {
        /// The domain specification, if given.
        domain: Option<String>,
        /// The IPv4 prefix length, if given.
        cidr4: Option<u8>,
        /// The IPv6 prefix length, if given.
        cidr6: Option<u8>,
    },
    /// `ptr[:<domain>]` (not to be used, RFC 7208 §5.5).
    Ptr {
        /// The domain specification, if given.
        domain: Option<String>,
    },
    /// `ip4:<address>[/<prefix>]`.
    Ip4 {
        /// The network address.
        address: Ipv4Addr,
        /// The prefix length, if given.
        prefix: Option<u8>,
    },
    /// `ip6:<address>[/<prefix>]`.
    Ip6 {
        /// The network address.
        address: Ipv6Addr,
        /// The prefix length, if given.
        prefix: Option<u8>,
    },
    /// `exists:<domain>`.
    Exists {
        /// The domain specification.
        domain: String,
    },
}

impl Mechanism {
    /// Whether evaluating it queries DNS (and so counts toward the limit of 10).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Self::Include { .. }
                | Self::A { .. }
                | Self::Mx { .. }
                | Self::Ptr { .. }
                | Self::Exists { .. }
        )
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cidr = |f: &mut fmt::Formatter<'_>, c4: &Option<u8>, c6: &Option<u8>| {
            if let Some(c) = c4 {
                write!(f, "/{c}")?;
            }
            if let Some(c) = c6 {
                write!(f, "//{c}")?;
            }
            Ok(())
        };
        match self {
            Self::All => f.write_str("all"),
            Self::Include { domain } => write!(f, "include:{domain}"),
            Self::A {
                domain,
                cidr4,
                cidr6,
            }
            | Self::Mx {
                domain,
                cidr4,
                cidr6,
            } => {
                f.write_str(if matches!(self, Self::A { .. }) {
                    "a"
                } else {
                    "mx"
                })?;
                if let Some(d) = domain {
                    write!(f, ":{d}")?;
                }
                cidr(f, cidr4, cidr6)
            }
            Self::Ptr { domain } => {
                f.write_str("ptr")?;
                if let Some(d) = domain {
                    write!(f, ":{d}")?;
                }
                Ok(())
            }
            Self::Ip4 { address, prefix } => {
                write!(f, "ip4:{address}")?;
                cidr(f, prefix, &None)
            }
            Self::Ip6 { address, prefix } => {
                write!(f, "ip6:{address}")?;
                cidr(f, prefix, &None)
            }
            Self::Exists { domain } => write!(f, "exists:{domain}"),
        }
    }
}

/// One term of a record.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "term", rename_all = "snake_case")]
pub enum Term {
    /// A qualifier and a mechanism.
    Directive {
        /// The qualifier.
        qualifier: Qualifier,
        /// The mechanism.
        #[serde(flatten)]
        mechanism: Mechanism,
    },
    /// `redirect=<domain>`.
    Redirect {
        /// The domain specification.
        domain: String,
    },
    /// `exp=<domain>`.
    Explanation {
        /// The domain specification.
        domain: String,
    },
    /// Any other `name=value` modifier (ignored by receivers).
    Unknown {
        /// The name, lower-cased.
        name: String,
        /// The value as written.
        value: String,
    },
}

impl Term {
    /// Whether evaluating this term queries DNS (and so counts toward the limit of 10; `exp` is
    /// only looked up after a failure and does not count).
    pub fn queries_dns(&self) -> bool {
        match self {
            Self::Directive { mechanism, .. } => mechanism.queries_dns(),
            Self::Redirect { .. } => true,
            Self::Explanation { .. } | Self::Unknown { .. } => false,
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directive {
                qualifier,
                mechanism,
            } => write!(f, "{}{mechanism}", qualifier.prefix()),
            Self::Redirect { domain } => write!(f, "redirect={domain}"),
            Self::Explanation { domain } => write!(f, "exp={domain}"),
            Self::Unknown { name, value } => write!(f, "{name}={value}"),
        }
    }
}

/// A syntactically valid SPF record.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpfRecord {
    /// The terms, in order.
    pub terms: Vec<Term>,
}

impl SpfRecord {
    /// A record from its terms.
    pub fn new(terms: Vec<Term>) -> Self {
        Self { terms }
    }

    /// The `redirect` domain, if any.
    pub fn redirect(&self) -> Option<&str> {
        self.terms.iter().find_map(|t| match t {
            Term::Redirect { domain } => Some(domain.as_str()),
            _ => None,
        })
    }

    /// Whether the record has an `all` mechanism.
    pub fn has_all(&self) -> bool {
        self.terms.iter().any(|t| {
            matches!(
                t,
                Term::Directive {
                    mechanism: Mechanism::All,
                    ..
                }
            )
        })
    }

    /// DNS-querying terms in this record alone (not following includes).
    pub fn local_lookups(&self) -> u32 {
        let n = self.terms.iter().filter(|t| t.queries_dns()).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

impl fmt::Display for SpfRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=spf1")?;
        for t in &self.terms {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

/// Whether a TXT string is an SPF record candidate (`v=spf1` then a space or the end).
pub fn is_spf(text: &str) -> bool {
    super::starts_with_version(text, "spf1", true)
        && text
            .get(6..)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// Picks and parses the record from a domain's TXT RRset: TXT records that are not SPF are
/// discarded; several SPF records is a permanent error (RFC 7208 §4.5).
pub fn check<S: AsRef<str>>(texts: &[S]) -> Parsed<SpfRecord> {
    let texts: Vec<String> = texts.iter().map(|t| t.as_ref().to_owned()).collect();
    match select(
        &texts,
        is_spf,
        ("spf.missing", "spf.multiple"),
        "SPF (v=spf1)",
    ) {
        Ok(one) => parse(one),
        Err(none) => none,
    }
}

/// Parses one SPF record.
pub fn parse(text: &str) -> Parsed<SpfRecord> {
    let mut findings = Vec::new();
    let text = bounded(text, "spf.too_long", &mut findings);
    if !is_spf(text) {
        return Parsed::invalid(Finding::at(
            "spf.version",
            Severity::Error,
            0,
            "the record must start with v=spf1 followed by a space",
        ));
    }
    let mut terms = Vec::new();
    let mut offset = 6;
    for token in text[6..].split(' ') {
        let pos = offset;
        offset += token.len() + 1;
        if token.is_empty() {
            continue;
        }
        match term(token) {
            Ok(t) => terms.push(t),
            Err((at, reason)) => {
                findings.push(Finding::at(
                    "spf.syntax",
                    Severity::Error,
                    pos + at,
                    format!("{}: {reason}; receivers return permerror", cut(token)),
                ));
                return Parsed::new(None, findings);
            }
        }
    }
    let record = SpfRecord { terms };
    for name in ["redirect", "exp"] {
        let n = record
            .terms
            .iter()
            .filter(|t| match t {
                Term::Redirect { .. } => name == "redirect",
                Term::Explanation { .. } => name == "exp",
                _ => false,
            })
            .count();
        if n > 1 {
            findings.push(Finding::error(
                "spf.duplicate_modifier",
                format!("{name}= appears {n} times; receivers return permerror (RFC 7208 §6)"),
            ));
            return Parsed::new(None, findings);
        }
    }
    judge(text, &record, &mut findings);
    Parsed::new(Some(record), findings)
}

fn judge(text: &str, record: &SpfRecord, findings: &mut Vec<Finding>) {
    if text.len() > 450 {
        findings.push(Finding::warning(
            "spf.long",
            format!(
                "the record is {} bytes; keep it under 450 so answers fit in 512-byte UDP (RFC 7208 §3.4)",
                text.len()
            ),
        ));
    }
    let all = record.terms.iter().position(|t| {
        matches!(
            t,
            Term::Directive {
                mechanism: Mechanism::All,
                ..
            }
        )
    });
    match all {
        Some(i) => {
            if record.terms[i + 1..]
                .iter()
                .any(|t| matches!(t, Term::Directive { .. }))
            {
                findings.push(Finding::warning(
                    "spf.after_all",
                    "mechanisms after all are never evaluated",
                ));
            }
            if record.redirect().is_some() {
                findings.push(Finding::warning(
                    "spf.redirect_ignored",
                    "redirect= is ignored when the record has an all mechanism",
                ));
            }
            if let Some(Term::Directive { qualifier, .. }) = record.terms.get(i) {
                match qualifier {
                    Qualifier::Pass => findings.push(Finding::error(
                        "spf.pass_all",
                        "+all authorises every host on the Internet to send as this domain",
                    )),
                    Qualifier::Neutral => findings.push(Finding::warning(
                        "spf.neutral_all",
                        "?all asserts nothing about other hosts",
                    )),
                    Qualifier::SoftFail => findings.push(Finding::info(
                        "spf.softfail_all",
                        "~all: mail from other hosts soft-fails",
                    )),
                    Qualifier::Fail => {}
                }
            }
        }
        None if record.redirect().is_none() => findings.push(Finding::warning(
            "spf.no_all",
            "no all mechanism and no redirect=: other hosts get neutral",
        )),
        None => {}
    }
    for t in &record.terms {
        match t {
            Term::Directive {
                mechanism: Mechanism::Ptr { .. },
                ..
            } => findings.push(Finding::warning(
                "spf.ptr",
                "the ptr mechanism is slow and unreliable and should not be used (RFC 7208 §5.5)",
            )),
            Term::Directive {
                mechanism:
                    Mechanism::Ip4 {
                        address,
                        prefix: Some(p),
                    },
                ..
            } if *p < 32 && u32::from(*address) & (u32::MAX >> p) != 0 => {
                findings.push(Finding::info(
                    "spf.host_bits",
                    format!("ip4:{address}/{p} has host bits set; the network is meant"),
                ))
            }
            Term::Unknown { name, .. } => findings.push(Finding::info(
                "spf.unknown_modifier",
                format!("unknown modifier {name}= is ignored"),
            )),
            _ => {}
        }
    }
    let local = record.local_lookups();
    if local > LOOKUP_LIMIT {
        findings.push(Finding::error(
            "spf.too_many_lookups",
            format!(
                "{local} DNS-querying terms in the record itself; receivers return permerror after {LOOKUP_LIMIT}"
            ),
        ));
    }
    if record.terms.iter().any(|t| t.to_string().contains('%')) {
        findings.push(Finding::info(
            "spf.macros",
            "the record uses macros; their targets depend on the message and are not followed",
        ));
    }
}

/// Parses one term; on error, the offset in the token and the reason.
fn term(token: &str) -> Result<Term, (usize, String)> {
    if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Err((
            token.find(c).unwrap_or(0),
            format!("character {c:?} is not allowed"),
        ));
    }
    // A modifier is `name=value` where `=` comes before any `:` or `/`.
    if let Some(eq) = token.find('=')
        && token[..eq].find([':', '/']).is_none()
    {
        let name = &token[..eq];
        let value = &token[eq + 1..];
        let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            return Err((0, "not a valid modifier name".to_owned()));
        }
        let lower = name.to_ascii_lowercase();
        return match lower.as_str() {
            "redirect" | "exp" => {
                domain_spec(value, lower == "exp").map_err(|(i, r)| (eq + 1 + i, r))?;
                Ok(if lower == "redirect" {
                    Term::Redirect {
                        domain: value.to_owned(),
                    }
                } else {
                    Term::Explanation {
                        domain: value.to_owned(),
                    }
                })
            }
            _ => {
                macro_string(value, true).map_err(|(i, r)| (eq + 1 + i, r))?;
                Ok(Term::Unknown {
                    name: lower,
                    value: value.to_owned(),
                })
            }
        };
    }
    let (qualifier, body, q) = match token.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &token[1..], 1),
        Some(b'-') => (Qualifier::Fail, &token[1..], 1),
        Some(b'~') => (Qualifier::SoftFail, &token[1..], 1),
        Some(b'?') => (Qualifier::Neutral, &token[1..], 1),
        _ => (Qualifier::Pass, token, 0),
    };
    let name_end = body.find([':', '/']).unwrap_or(body.len());
    let name = body[..name_end].to_ascii_lowercase();
    let rest = &body[name_end..];
    let at = |i: usize| q + name_end + i;
    let mechanism = match name.as_str() {
        "all" => {
            if !rest.is_empty() {
                return Err((at(0), "all takes no argument".to_owned()));
            }
            Mechanism::All
        }
        "include" | "exists" => {
            let Some(spec) = rest.strip_prefix(':') else {
                return Err((at(0), format!("{name} needs :<domain>")));
            };
            domain_spec(spec, false).map_err(|(i, r)| (at(1 + i), r))?;
            if name == "include" {
                Mechanism::Include {
                    domain: spec.to_owned(),
                }
            } else {
                Mechanism::Exists {
                    domain: spec.to_owned(),
                }
            }
        }
        "a" | "mx" => {
            let (spec, cidr4, cidr6) = dual_cidr(rest).map_err(|(i, r)| (at(i), r))?;
            let domain = match spec {
                "" => None,
                s => {
                    let Some(d) = s.strip_prefix(':') else {
                        return Err((at(0), format!("{name} takes :<domain> or /<cidr>")));
                    };
                    domain_spec(d, false).map_err(|(i, r)| (at(1 + i), r))?;
                    Some(d.to_owned())
                }
            };
            if name == "a" {
                Mechanism::A {
                    domain,
                    cidr4,
                    cidr6,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    cidr4,
                    cidr6,
                }
            }
        }
        "ptr" => {
            let domain = match rest {
                "" => None,
                s => {
                    let Some(d) = s.strip_prefix(':') else {
                        return Err((at(0), "ptr takes :<domain>".to_owned()));
                    };
                    domain_spec(d, false).map_err(|(i, r)| (at(1 + i), r))?;
                    Some(d.to_owned())
                }
            };
            Mechanism::Ptr { domain }
        }
        "ip4" | "ip6" => {
            let Some(arg) = rest.strip_prefix(':') else {
                return Err((at(0), format!("{name} needs :<address>")));
            };
            let (addr, prefix) = match arg.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (arg, None),
            };
            let max = if name == "ip4" { 32 } else { 128 };
            let prefix = match prefix {
                None => None,
                Some(p) => Some(cidr_len(p, max).ok_or_else(|| {
                    (
                        at(2 + addr.len()),
                        format!("prefix length must be 0 to {max}"),
                    )
                })?),
            };
            if name == "ip4" {
                let address = addr
                    .parse::<Ipv4Addr>()
                    .map_err(|_| (at(1), format!("{} is not an IPv4 address", cut(addr))))?;
                Mechanism::Ip4 { address, prefix }
            } else {
                let address = addr
                    .parse::<Ipv6Addr>()
                    .map_err(|_| (at(1), format!("{} is not an IPv6 address", cut(addr))))?;
                Mechanism::Ip6 { address, prefix }
            }
        }
        "" => return Err((q, "empty mechanism".to_owned())),
        other => return Err((q, format!("unknown mechanism {}", cut(other)))),
    };
    Ok(Term::Directive {
        qualifier,
        mechanism,
    })
}

/// A syntax problem: the offset in the token and the reason.
type SyntaxError = (usize, String);

/// Splits `[:domain][/n][//n]` into the domain part and the prefix lengths.
fn dual_cidr(rest: &str) -> Result<(&str, Option<u8>, Option<u8>), SyntaxError> {
    let mut head = rest;
    let mut cidr6 = None;
    if let Some(i) = head.rfind("//") {
        let digits = &head[i + 2..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            cidr6 = Some(
                cidr_len(digits, 128)
                    .ok_or((i, "IPv6 prefix length must be 0 to 128".to_owned()))?,
            );
            head = &head[..i];
        }
    }
    let mut cidr4 = None;
    if let Some(i) = head.rfind('/') {
        let digits = &head[i + 1..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            cidr4 = Some(
                cidr_len(digits, 32).ok_or((i, "IPv4 prefix length must be 0 to 32".to_owned()))?,
            );
            head = &head[..i];
        }
    }
    if !head.is_empty() && !head.starts_with(':') {
        return Err((0, "expected :<domain> or /<prefix>".to_owned()));
    }
    Ok((head, cidr4, cidr6))
}

fn cidr_len(digits: &str, max: u8) -> Option<u8> {
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u8>().ok().filter(|&n| n <= max)
}

/// Checks a macro-string (RFC 7208 §7.1); `explanation` allows the `c`, `r`, `t` macros.
fn macro_string(s: &str, explanation: bool) -> Result<(), (usize, String)> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'%' {
            if !(0x21..=0x7e).contains(&c) {
                return Err((
                    i,
                    "character not allowed in a domain specification".to_owned(),
                ));
            }
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'%' | b'_' | b'-') => i += 2,
            Some(b'{') => {
                let letter = b.get(i + 2).map(|l| l.to_ascii_lowercase());
                let ok_letter = match letter {
                    Some(b's' | b'l' | b'o' | b'd' | b'i' | b'p' | b'h' | b'v') => true,
                    Some(b'c' | b'r' | b't') => explanation,
                    _ => false,
                };
                if !ok_letter {
                    return Err((i, "unknown or misplaced macro letter".to_owned()));
                }
                let mut j = i + 3;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                if b.get(j).is_some_and(|&x| x == b'r' || x == b'R') {
                    j += 1;
                }
                while b
                    .get(j)
                    .is_some_and(|x| matches!(x, b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'='))
                {
                    j += 1;
                }
                if b.get(j) != Some(&b'}') {
                    return Err((i, "unterminated macro".to_owned()));
                }
                i = j + 1;
            }
            _ => return Err((i, "% must start %{…}, %%, %_ or %-".to_owned())),
        }
    }
    Ok(())
}

/// Checks a domain-spec: a macro-string that ends in a macro or in `.<toplabel>[.]`.
fn domain_spec(s: &str, explanation: bool) -> Result<(), (usize, String)> {
    if s.is_empty() {
        return Err((0, "empty domain".to_owned()));
    }
    macro_string(s, explanation)?;
    if s.ends_with('}') {
        return Ok(());
    }
    let body = s.strip_suffix('.').unwrap_or(s);
    let Some(dot) = body.rfind('.') else {
        return Err((0, "a domain needs at least two labels".to_owned()));
    };
    let top = &body[dot + 1..];
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let ldh = !top.is_empty()
        && top.bytes().all(|c| alnum(c) || c == b'-')
        && !top.starts_with('-')
        && !top.ends_with('-');
    let has_alpha_or_dash = top.bytes().any(|c| c.is_ascii_alphabetic() || c == b'-');
    if !(ldh && has_alpha_or_dash) {
        return Err((
            dot + 1,
            format!("{} is not a valid top-level label", cut(top)),
        ));
    }
    Ok(())
}

mod walk;

pub use walk::{SpfLookups, SpfNode, SpfQuery, SpfReply, SpfWalk, Via, walk};

#[cfg(test)]
mod tests {
    use super::walk::MAX_COUNTED;
    use super::*;

    #[test]
    fn parses_terms() {
        let p = parse(
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a a:mail.example.com/28//64 mx//96 \
             include:_spf.example.net exists:%{i}._spf.example.com ?ptr -all",
        );
        let r = p.value.as_ref().expect("valid");
        assert_eq!(r.terms.len(), 9);
        assert_eq!(r.local_lookups(), 6);
        assert_eq!(parse(&r.to_string()).value.as_ref(), Some(r));
        let codes: Vec<_> = p.findings.iter().map(|f| f.code.as_ref()).collect();
        assert!(codes.contains(&"spf.ptr"));
        assert!(codes.contains(&"spf.macros"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let p = parse("v=spf1 ip4:192.0.2.300 -all");
        assert!(p.value.is_none());
        assert_eq!(p.findings[0].position, Some(11));
        for bad in [
            "v=spf1 foo -all",
            "v=spf1 include -all",
            "v=spf1 include:com",
            "v=spf1 a:%{z}.example.com",
            "v=spf1 ip6:2001:db8::/129",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 all:x",
            "v=spf1\t-all",
            "v=spf10",
        ] {
            assert!(parse(bad).value.is_none(), "{bad}");
        }
    }

    #[test]
    fn walk_counts_and_limits() {
        let root = DomainName::parse("example.com").unwrap();
        let report = walk(&root, |q| match q {
            SpfQuery::Txt(d) => match d.as_str() {
                "example.com" => SpfReply::Txt(vec![
                    "v=spf1 include:a.example include:b.example include:gone.example -all".into(),
                ]),
                "a.example" => {
                    SpfReply::Txt(vec!["v=spf1 a mx a:x.example mx:y.example -all".into()])
                }
                "b.example" => SpfReply::Txt(vec![
                    "v=spf1 exists:z.example a:v1.example a:v2.example redirect=example.com".into(),
                ]),
                _ => SpfReply::NxDomain,
            },
            SpfQuery::Address(d) if d.as_str().starts_with('v') => SpfReply::NoData,
            SpfQuery::Mx(_) | SpfQuery::Address(_) => SpfReply::Found(1),
        });
        // 3 includes + 4 in a.example + 3 in b.example + the redirect = 11
        assert_eq!(report.lookups, 11);
        // v1, v2, and the include of a name with no record
        assert_eq!(report.void_lookups, 3);
        let codes: Vec<_> = report.findings.iter().map(|f| f.code.as_ref()).collect();
        assert!(codes.contains(&"spf.too_many_lookups"));
        assert!(codes.contains(&"spf.too_many_void_lookups"));
        assert!(codes.contains(&"spf.loop"));
        assert!(codes.contains(&"spf.target_without_record"));
        assert!(report.exceeds_limits());
        assert_eq!(report.nodes.len(), 4);
        assert_eq!(report.nodes[1].lookups, 4);
    }

    #[test]
    fn walk_is_bounded_on_endless_includes() {
        let root = DomainName::parse("example.com").unwrap();
        let mut asked = 0;
        let report = walk(&root, |q| {
            asked += 1;
            match q {
                SpfQuery::Txt(d) => {
                    SpfReply::Txt(vec![format!("v=spf1 include:x{asked}.{d} -all")])
                }
                _ => SpfReply::Found(1),
            }
        });
        assert!(!report.complete);
        assert!(asked <= MAX_COUNTED as usize + 1);
    }
}
