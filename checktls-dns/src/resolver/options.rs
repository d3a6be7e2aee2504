//! Resolver and discovery options.

use std::net::SocketAddr;
use std::time::Duration;

use crate::TrustAnchors;
use crate::discovery::IpChoice;
use crate::mx::MxLimit;

/// Where queries go.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Nameservers {
    /// The system's configuration (`/etc/resolv.conf`).
    #[default]
    System,
    /// These servers, tried in order of responsiveness.
    Given(Vec<SocketAddr>),
}

/// DNSSEC validation.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dnssec {
    /// No validation: every proof is [`Proof::Indeterminate`](crate::Proof).
    Off,
    /// Validate from these trust anchors.
    Validate(TrustAnchors),
}

impl Default for Dnssec {
    fn default() -> Self {
        Self::Validate(TrustAnchors::iana())
    }
}

/// How the resolver asks.
///
/// ```
/// use std::time::Duration;
/// use checktls_dns::resolver::{Nameservers, ResolverOptions};
///
/// let mut options = ResolverOptions::default();
/// options.nameservers = Nameservers::Given(vec!["127.0.0.1:5353".parse().unwrap()]);
/// options.cache = false;
/// options.timeout = Duration::from_secs(2);
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverOptions {
    /// Where queries go. Default: [`Nameservers::System`].
    pub nameservers: Nameservers,
    /// Ask over TCP only. Default: `false` (UDP, then TCP when an answer is truncated).
    pub tcp: bool,
    /// Keep answers for their TTL. Default: `true`. With `false` every lookup is asked again
    /// (CheckTLS's "Turn off DNS cache"). With `true` the DNSSEC validator's own questions
    /// (each zone's DNSKEY and DS) are also kept for their TTL and asked once however many
    /// answers they prove; see [`Resolver::scoped`](super::Resolver::scoped) for a cache
    /// that lives for one test.
    pub cache: bool,
    /// Keep the validator's proofs (of keys, delegations and RRsets) between lookups even when
    /// [`cache`](Self::cache) is off: every question is still asked, but a chain of trust
    /// already walked is not walked again, and each zone's DNSKEY and DS are asked once for
    /// their TTL. Default: `false` (with `cache` off, nothing is kept).
    pub keep_keys: bool,
    /// How long one attempt waits for the servers. Default: 5 seconds.
    pub timeout: Duration,
    /// Attempts per question before it counts as timed out. Default: 2.
    pub attempts: usize,
    /// DNSSEC validation. Default: validate from the IANA root keys.
    pub dnssec: Dnssec,
    /// The port used when asking a zone's authoritative servers found from its NS records
    /// (which carry no port). Default: 53.
    pub authoritative_port: u16,
    /// The most CNAMEs one lookup follows. Default: 8.
    pub max_cnames: usize,
    /// The most lookups one discovery runs at once. Default: 16.
    pub concurrency: usize,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        Self {
            nameservers: Nameservers::System,
            tcp: false,
            cache: true,
            keep_keys: false,
            timeout: Duration::from_secs(5),
            attempts: 2,
            dnssec: Dnssec::default(),
            authoritative_port: 53,
            max_cnames: 8,
            concurrency: 16,
        }
    }
}

/// What a whole-domain discovery looks at.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Which MX hosts to look at. Default: all.
    pub mx_limit: MxLimit,
    /// Which address families. Default: both.
    pub ip: IpChoice,
    /// Ports to look up TLSA records for. Default: `[25]`.
    pub tlsa_ports: Vec<u16>,
    /// Look up PTR records and confirm them forward, per MX address. Default: `true`.
    pub reverse_dns: bool,
    /// Look up the MTA-STS TXT record. Default: `true`.
    pub mta_sts: bool,
    /// Look up the TLS-RPT record. Default: `true`.
    pub tls_rpt: bool,
    /// Look up SPF and follow its includes. Default: `true`.
    pub spf: bool,
    /// Look up DMARC. Default: `true`.
    pub dmarc: bool,
    /// The BIMI selector to look up; `None` to skip. Default: `Some("default")`.
    pub bimi_selector: Option<String>,
    /// DKIM selectors to look up (reported whether or not they exist). Default: none.
    pub dkim_selectors: Vec<String>,
    /// Also try [`COMMON_DKIM_SELECTORS`](crate::discovery::COMMON_DKIM_SELECTORS) (reported
    /// only when they exist). Default: `false`.
    pub common_dkim_selectors: bool,
    /// Ask the domain's authoritative servers directly, bypassing caches (CheckTLS's "SOA"
    /// option). Default: `false`.
    pub authoritative: bool,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            mx_limit: MxLimit::All,
            ip: IpChoice::Both,
            tlsa_ports: vec![25],
            reverse_dns: true,
            mta_sts: true,
            tls_rpt: true,
            spf: true,
            dmarc: true,
            bimi_selector: Some("default".to_owned()),
            dkim_selectors: Vec::new(),
            common_dkim_selectors: false,
            authoritative: false,
        }
    }
}
