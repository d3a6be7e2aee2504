//! Typed answers: what a lookup found (records, NODATA or NXDOMAIN), the CNAMEs it went through,
//! and the DNSSEC proof of all of it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{DomainName, Proof};

/// The record types this crate asks for.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// Mail exchanger.
    #[serde(rename = "MX")]
    Mx,
    /// Text.
    #[serde(rename = "TXT")]
    Txt,
    /// DANE certificate association.
    #[serde(rename = "TLSA")]
    Tlsa,
    /// Reverse pointer.
    #[serde(rename = "PTR")]
    Ptr,
    /// Alias.
    #[serde(rename = "CNAME")]
    Cname,
    /// Name server.
    #[serde(rename = "NS")]
    Ns,
    /// Start of authority.
    #[serde(rename = "SOA")]
    Soa,
    /// Delegation signer.
    #[serde(rename = "DS")]
    Ds,
    /// DNSSEC key.
    #[serde(rename = "DNSKEY")]
    Dnskey,
}

impl RecordType {
    /// The mnemonic (`AAAA`).
    pub fn name(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Tlsa => "TLSA",
            Self::Ptr => "PTR",
            Self::Cname => "CNAME",
            Self::Ns => "NS",
            Self::Soa => "SOA",
            Self::Ds => "DS",
            Self::Dnskey => "DNSKEY",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A question: a name and a type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(clippy::exhaustive_structs)] // a question is a name and a type
pub struct Query {
    /// The name asked about.
    pub name: DomainName,
    /// The type asked for.
    #[serde(rename = "type")]
    pub record_type: RecordType,
}

impl Query {
    /// A question.
    pub fn new(name: DomainName, record_type: RecordType) -> Self {
        Self { name, record_type }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.record_type)
    }
}

/// One CNAME followed on the way to an answer.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CnameHop {
    /// The alias.
    pub from: DomainName,
    /// Its target.
    pub to: DomainName,
    /// The proof of this CNAME record.
    pub proof: Proof,
}

impl CnameHop {
    /// A hop.
    pub fn new(from: DomainName, to: DomainName, proof: Proof) -> Self {
        Self { from, to, proof }
    }
}

/// What a lookup found at the end of its CNAME chain.
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Outcome_{T}"))]
#[serde(tag = "outcome", content = "records", rename_all = "snake_case")]
pub enum Outcome<T> {
    /// One or more records of the asked type.
    Records(Vec<T>),
    /// The name exists but has no records of this type (NOERROR, empty answer).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
}

/// A lookup's answer: its outcome, the CNAMEs followed, and the DNSSEC proof of the whole chain.
///
/// `proof` is the weakest proof along the chain (each CNAME, then the records or the denial):
/// an answer is only as secure as its least secure step (RFC 7672 §2.1.1).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Answer_{T}"))]
pub struct Answer<T> {
    /// The question as asked.
    pub query: Query,
    /// CNAMEs followed from the asked name, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cnames: Vec<CnameHop>,
    /// Records, NODATA or NXDOMAIN.
    #[serde(flatten)]
    pub outcome: Outcome<T>,
    /// The DNSSEC proof of the chain and the outcome.
    pub proof: Proof,
    /// The smallest TTL seen on the answer's records, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

impl<T> Answer<T> {
    /// An answer.
    pub fn new(query: Query, cnames: Vec<CnameHop>, outcome: Outcome<T>, proof: Proof) -> Self {
        Self {
            query,
            cnames,
            outcome,
            proof,
            ttl: None,
        }
    }

    /// The records (empty for NODATA and NXDOMAIN).
    pub fn records(&self) -> &[T] {
        match &self.outcome {
            Outcome::Records(r) => r,
            Outcome::NoData | Outcome::NxDomain => &[],
        }
    }

    /// Whether the final name does not exist.
    pub fn is_nxdomain(&self) -> bool {
        matches!(self.outcome, Outcome::NxDomain)
    }

    /// Whether the final name exists without records of the asked type.
    pub fn is_nodata(&self) -> bool {
        matches!(self.outcome, Outcome::NoData)
    }

    /// The name the records belong to: the last CNAME target, or the asked name.
    pub fn canonical_name(&self) -> &DomainName {
        self.cnames.last().map_or(&self.query.name, |h| &h.to)
    }

    /// The same answer with each record converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Answer<U> {
        Answer {
            query: self.query,
            cnames: self.cnames,
            outcome: match self.outcome {
                Outcome::Records(r) => Outcome::Records(r.into_iter().map(f).collect()),
                Outcome::NoData => Outcome::NoData,
                Outcome::NxDomain => Outcome::NxDomain,
            },
            proof: self.proof,
            ttl: self.ttl,
        }
    }
}

/// A TXT record: its character-strings, decoded lossily as UTF-8.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TxtRecord {
    /// The character-strings as published (each at most 255 octets on the wire).
    pub strings: Vec<String>,
}

impl TxtRecord {
    /// A record from its strings.
    pub fn new(strings: Vec<String>) -> Self {
        Self { strings }
    }

    /// The strings concatenated without separators, as SPF, DKIM, DMARC and the other mail
    /// records are read (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    pub fn text(&self) -> String {
        self.strings.concat()
    }
}

impl fmt::Display for TxtRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.strings.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s:?}")?;
        }
        Ok(())
    }
}
