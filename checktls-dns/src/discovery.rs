//! What discovery finds: plain data (serde), built by the resolver and read by the receiver test,
//! the score and the reports. Every part that can fail on its own is a `Result`, so one timeout
//! does not lose the rest.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::answer::{Answer, CnameHop, TxtRecord};
use crate::finding::Finding;
#[cfg(feature = "schema")]
use crate::lookup::Read;
use crate::mx::{MxKind, MxRecord};
use crate::records::Parsed;
use crate::records::bimi::BimiRecord;
use crate::records::dkim::DkimKey;
use crate::records::dmarc::{DmarcRecord, ExternalDestination};
use crate::records::mta_sts::MtaStsTxt;
use crate::records::spf::{SpfLookups, SpfRecord};
use crate::records::tls_rpt::TlsRptRecord;
use crate::{DomainName, Error, Proof, TlsaRecord};

/// Which address families to look up (CheckTLS's IPv4/IPv6 choice).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpChoice {
    /// A and AAAA (the default).
    #[default]
    Both,
    /// A only.
    V4,
    /// AAAA only.
    V6,
}

impl IpChoice {
    /// Whether A records are wanted.
    pub fn v4(self) -> bool {
        matches!(self, Self::Both | Self::V4)
    }

    /// Whether AAAA records are wanted.
    pub fn v6(self) -> bool {
        matches!(self, Self::Both | Self::V6)
    }
}

/// The addresses of one host: its A and AAAA answers (`None` when not asked for).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HostAddresses {
    /// The host name as given (the MX exchange).
    pub host: DomainName,
    /// The A answer, if asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Read<Answer<Ipv4Addr>>"))]
    pub ipv4: Option<Result<Answer<Ipv4Addr>, Error>>,
    /// The AAAA answer, if asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Read<Answer<Ipv6Addr>>"))]
    pub ipv6: Option<Result<Answer<Ipv6Addr>, Error>>,
}

impl HostAddresses {
    /// Addresses from answers.
    pub fn new(
        host: DomainName,
        ipv4: Option<Result<Answer<Ipv4Addr>, Error>>,
        ipv6: Option<Result<Answer<Ipv6Addr>, Error>>,
    ) -> Self {
        Self { host, ipv4, ipv6 }
    }

    /// Every address found, IPv4 first, each family in answer order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let v4 = self
            .ipv4
            .iter()
            .flatten()
            .flat_map(|a| a.records().iter().copied().map(IpAddr::V4));
        let v6 = self
            .ipv6
            .iter()
            .flatten()
            .flat_map(|a| a.records().iter().copied().map(IpAddr::V6));
        v4.chain(v6).collect()
    }

    /// The weakest proof over the answers that came (indeterminate if none came).
    pub fn proof(&self) -> Proof {
        let proofs: Vec<Proof> = self
            .ipv4
            .iter()
            .flatten()
            .map(|a| a.proof.clone())
            .chain(self.ipv6.iter().flatten().map(|a| a.proof.clone()))
            .collect();
        proofs
            .into_iter()
            .reduce(Proof::weakest)
            .unwrap_or(Proof::Indeterminate)
    }

    /// The CNAMEs the address lookups went through (those of the first answer that came).
    pub fn cnames(&self) -> &[CnameHop] {
        if let Some(Ok(a)) = &self.ipv4
            && !a.cnames.is_empty()
        {
            return &a.cnames;
        }
        if let Some(Ok(a)) = &self.ipv6 {
            return &a.cnames;
        }
        &[]
    }

    /// The name the addresses belong to: the end of the CNAME chain, or the host.
    pub fn canonical_name(&self) -> &DomainName {
        self.cnames().last().map_or(&self.host, |h| &h.to)
    }

    /// The lookups that failed.
    pub fn errors(&self) -> Vec<&Error> {
        let v4 = self.ipv4.iter().filter_map(|r| r.as_ref().err());
        let v6 = self.ipv6.iter().filter_map(|r| r.as_ref().err());
        v4.chain(v6).collect()
    }
}

/// One MX host with its addresses.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MxHost {
    /// The MX record (preference 0 and the domain itself for an implicit MX).
    pub record: MxRecord,
    /// Its addresses.
    pub addresses: HostAddresses,
    /// What was noticed about this host (no addresses, CNAME instead of a host name).
    pub findings: Vec<Finding>,
}

/// A domain's MX set: the answer, its kind, and the selected hosts with their addresses.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MxSet {
    /// The domain asked about.
    pub domain: DomainName,
    /// The MX answer, with its proof.
    pub answer: Answer<MxRecord>,
    /// Listed, null, implicit, or no such domain.
    pub kind: MxKind,
    /// The hosts selected by the limit, in delivery order.
    pub hosts: Vec<MxHost>,
    /// The hosts the limit left out, in delivery order (not looked up).
    pub skipped: Vec<MxRecord>,
    /// What was noticed about the set.
    pub findings: Vec<Finding>,
}

/// The TLSA records for one host and port, found by RFC 7672 §2.2.2's rules: at the CNAME-
/// expanded name first when the address chain is secure, then at the MX host name.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TlsaLookup {
    /// The MX host.
    pub host: DomainName,
    /// The port.
    pub port: u16,
    /// The TLSA base domain the answer belongs to.
    pub base: DomainName,
    /// The answer at `_<port>._tcp.<base>`.
    pub answer: Answer<TlsaRecord>,
    /// Earlier candidates that had no TLSA records, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Answer<TlsaRecord>>,
    /// Whether DANE applies to the host, and which proofs decided it (RFC 7672 §2.2).
    pub applicability: DaneApplicability,
    /// What was noticed (DANE not applicable, usable records).
    pub findings: Vec<Finding>,
}

impl TlsaLookup {
    /// The TLSA records, if the RRset is secure and non-empty (whether DANE applies also needs
    /// secure addresses: see [`applicability`](Self::applicability)).
    pub fn usable_records(&self) -> Option<&[TlsaRecord]> {
        (self.answer.proof.is_secure() && !self.answer.records().is_empty())
            .then(|| self.answer.records())
    }
}

/// Whether DANE applies to an MX host (RFC 7672 §2.2): only when the host's address records
/// (and any CNAMEs on the way) and its TLSA RRset are DNSSEC-secure and the TLSA RRset is not
/// empty. Both proofs are kept, so a report can say which one made DANE apply or not.
///
/// ```
/// use checktls_dns::Proof;
/// use checktls_dns::discovery::{DaneApplicability, DaneVerdict};
///
/// let a = DaneApplicability::new(Proof::Insecure, Proof::Secure, true);
/// assert_eq!(a.verdict, DaneVerdict::AddressesNotSecure);
/// assert!(!a.applies());
/// assert!(DaneApplicability::new(Proof::Secure, Proof::Secure, true).applies());
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DaneApplicability {
    /// The proof of the host's address records (the weakest of the A and AAAA answers).
    pub addresses: Proof,
    /// The proof of the TLSA RRset (or of its denial).
    pub tlsa: Proof,
    /// The verdict.
    pub verdict: DaneVerdict,
}

/// Why DANE applies to a host or not, first reason first.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DaneVerdict {
    /// Secure addresses and a secure, non-empty TLSA RRset: DANE applies.
    Applies,
    /// The address records are not secure (RFC 7672 §2.2.1): DANE does not apply, whatever the
    /// TLSA records say.
    AddressesNotSecure,
    /// The TLSA RRset is not secure (insecure, bogus or indeterminate; RFC 7672 §2.2): no DANE.
    TlsaNotSecure,
    /// Secure, but there are no TLSA records: the host does not publish DANE.
    NoTlsaRecords,
}

impl DaneApplicability {
    /// The verdict from the two proofs and whether the TLSA RRset has records.
    pub fn new(addresses: Proof, tlsa: Proof, tlsa_records: bool) -> Self {
        let verdict = if !addresses.is_secure() {
            DaneVerdict::AddressesNotSecure
        } else if !tlsa.is_secure() {
            DaneVerdict::TlsaNotSecure
        } else if !tlsa_records {
            DaneVerdict::NoTlsaRecords
        } else {
            DaneVerdict::Applies
        };
        Self {
            addresses,
            tlsa,
            verdict,
        }
    }

    /// Whether DANE applies.
    pub fn applies(&self) -> bool {
        self.verdict == DaneVerdict::Applies
    }
}

impl DaneVerdict {
    /// A short name: `applies`, `addresses_not_secure`, `tlsa_not_secure`, `no_tlsa_records`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Applies => "applies",
            Self::AddressesNotSecure => "addresses_not_secure",
            Self::TlsaNotSecure => "tlsa_not_secure",
            Self::NoTlsaRecords => "no_tlsa_records",
        }
    }
}

/// PTR records of an address and whether they lead back to it (forward-confirmed reverse DNS).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReverseDns {
    /// The address.
    pub address: IpAddr,
    /// The PTR answer.
    pub ptr: Answer<DomainName>,
    /// For each PTR name (at most 10), its forward answer of the address's family.
    pub forward: Vec<ForwardCheck>,
    /// Whether some PTR name resolves back to the address.
    pub confirmed: bool,
}

/// The forward lookup of one PTR name.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ForwardCheck {
    /// The PTR name.
    pub name: DomainName,
    /// The addresses found (of the family of the address checked).
    #[serde(with = "crate::lookup")]
    #[cfg_attr(feature = "schema", schemars(with = "Read<Answer<IpAddr>>"))]
    pub result: Result<Answer<IpAddr>, Error>,
    /// Whether they include the address.
    pub matches: bool,
}

/// A TXT lookup and the record parsed from it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "TxtCheck_{T}"))]
pub struct TxtCheck<T> {
    /// The TXT answer.
    pub answer: Answer<TxtRecord>,
    /// The record picked and parsed from it.
    pub parsed: Parsed<T>,
}

/// A domain's SPF record and its recursive lookup count.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpfCheck {
    /// The TXT answer at the domain.
    pub answer: Answer<TxtRecord>,
    /// The SPF record picked and parsed.
    pub parsed: Parsed<SpfRecord>,
    /// DNS-querying terms and void lookups through includes and redirects.
    pub lookups: SpfLookups,
}

/// A domain's DMARC policy: looked up at the domain, then at its organisational domain.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DmarcCheck {
    /// The domain asked about.
    pub domain: DomainName,
    /// The domain whose `_dmarc` record applies, if one was found.
    pub policy_domain: Option<DomainName>,
    /// Whether the record came from the organisational domain (then `sp=` applies).
    pub organizational_fallback: bool,
    /// The TXT answers, in the order asked (`_dmarc.<domain>`, then `_dmarc.<organisational>`).
    pub answers: Vec<Answer<TxtRecord>>,
    /// The record picked and parsed (from the last answer).
    pub parsed: Parsed<DmarcRecord>,
    /// Report destinations outside the organisation, and whether they authorise it.
    pub external: Vec<ExternalCheck>,
    /// What was noticed beyond the record itself.
    pub findings: Vec<Finding>,
}

/// One external report destination's authorisation (RFC 7489 §7.1).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExternalCheck {
    /// The destination.
    pub destination: ExternalDestination,
    /// The TXT answer at its verification name.
    #[serde(with = "crate::lookup")]
    #[cfg_attr(feature = "schema", schemars(with = "Read<Answer<TxtRecord>>"))]
    pub answer: Result<Answer<TxtRecord>, Error>,
    /// Whether a `v=DMARC1` record there authorises the destination.
    pub authorised: bool,
}

/// A BIMI record: looked up at `<selector>._bimi.<domain>`, then at the organisational domain.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BimiCheck {
    /// The selector (`default` unless a message names another).
    pub selector: String,
    /// Whether the record came from the organisational domain.
    pub organizational_fallback: bool,
    /// The TXT answers, in the order asked.
    pub answers: Vec<Answer<TxtRecord>>,
    /// The record picked and parsed (from the last answer).
    pub parsed: Parsed<BimiRecord>,
}

/// One DKIM selector's key record.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DkimCheck {
    /// The selector.
    pub selector: String,
    /// Whether the caller named it (rather than it coming from the list of common selectors).
    pub requested: bool,
    /// The lookup and the key parsed from it.
    #[serde(with = "crate::lookup")]
    #[cfg_attr(feature = "schema", schemars(with = "Read<TxtCheck<DkimKey>>"))]
    pub result: Result<TxtCheck<DkimKey>, Error>,
}

/// Selectors commonly used by large senders and mail software, tried when asked.
pub const COMMON_DKIM_SELECTORS: &[&str] = &[
    "default",
    "dkim",
    "mail",
    "selector1",
    "selector2",
    "google",
    "k1",
    "k2",
    "k3",
    "s1",
    "s2",
    "s1024",
    "s2048",
    "key1",
    "key2",
    "smtp",
    "mx",
    "email",
    "dk",
    "mandrill",
    "mxvault",
    "zoho",
    "fm1",
    "fm2",
    "fm3",
    "protonmail",
    "protonmail2",
    "protonmail3",
    "everlytickey1",
    "everlytickey2",
    "mailjet",
    "pm",
    "sig1",
];

/// TLSA and reverse DNS of one selected MX host.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HostDiscovery {
    /// The host.
    pub host: DomainName,
    /// TLSA per port asked for, in order.
    #[serde(with = "crate::lookup::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Read<TlsaLookup>>"))]
    pub tlsa: Vec<Result<TlsaLookup, Error>>,
    /// Reverse DNS per address, in address order (empty unless asked for).
    #[serde(with = "crate::lookup::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Read<ReverseDns>>"))]
    pub reverse: Vec<Result<ReverseDns, Error>>,
}

/// Everything discovered about a domain. Parts not asked for are `None` (or empty).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Discovery {
    /// The domain.
    pub domain: DomainName,
    /// Whether its authoritative servers were asked directly.
    pub authoritative: bool,
    /// The MX set with the hosts' addresses.
    #[serde(with = "crate::lookup")]
    #[cfg_attr(feature = "schema", schemars(with = "Read<MxSet>"))]
    pub mx: Result<MxSet, Error>,
    /// TLSA and reverse DNS of each selected host, in the MX set's order.
    pub hosts: Vec<HostDiscovery>,
    /// The MTA-STS TXT record.
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<Read<TxtCheck<MtaStsTxt>>>")
    )]
    pub mta_sts: Option<Result<TxtCheck<MtaStsTxt>, Error>>,
    /// The TLS-RPT record.
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<Read<TxtCheck<TlsRptRecord>>>")
    )]
    pub tls_rpt: Option<Result<TxtCheck<TlsRptRecord>, Error>>,
    /// The SPF record.
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Read<SpfCheck>>"))]
    pub spf: Option<Result<SpfCheck, Error>>,
    /// The DMARC policy.
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Read<DmarcCheck>>"))]
    pub dmarc: Option<Result<DmarcCheck, Error>>,
    /// The BIMI record.
    #[serde(with = "crate::lookup::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Read<BimiCheck>>"))]
    pub bimi: Option<Result<BimiCheck, Error>>,
    /// DKIM keys: every requested selector, and the common selectors that exist.
    pub dkim: Vec<DkimCheck>,
}

impl Discovery {
    /// Every error met, in the order of the fields.
    pub fn errors(&self) -> Vec<&Error> {
        let mut out = Vec::new();
        match &self.mx {
            Err(e) => out.push(e),
            Ok(set) => {
                for h in &set.hosts {
                    out.extend(h.addresses.errors());
                }
            }
        }
        for h in &self.hosts {
            out.extend(h.tlsa.iter().filter_map(|r| r.as_ref().err()));
            out.extend(h.reverse.iter().filter_map(|r| r.as_ref().err()));
        }
        let parts = [
            self.mta_sts.as_ref().and_then(|r| r.as_ref().err()),
            self.tls_rpt.as_ref().and_then(|r| r.as_ref().err()),
            self.spf.as_ref().and_then(|r| r.as_ref().err()),
            self.dmarc.as_ref().and_then(|r| r.as_ref().err()),
            self.bimi.as_ref().and_then(|r| r.as_ref().err()),
        ];
        out.extend(parts.into_iter().flatten());
        out.extend(self.dkim.iter().filter_map(|d| d.result.as_ref().err()));
        out
    }
}
