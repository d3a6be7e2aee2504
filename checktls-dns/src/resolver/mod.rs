//! The async resolver (feature `resolver`, on by default): typed lookups with DNSSEC proofs, and
//! the discovery a receiver test and a domain audit need.
//!
//! ```text
//!   Resolver::new(options)                       ┌─ hickory-resolver ─────────────────────┐
//!     lookup_mx / lookup_txt / …  ──────────────▶│ DNSSEC validator ─ retry ─ server pool │──▶ UDP/TCP
//!     mx / tlsa / spf / dmarc / …  (composed)    └────────────────────────────────────────┘
//!     discover(domain)  runs them concurrently, keeps every part that answered
//!        │
//!        ▼  pure parsers (crate::records), MX planning (crate::mx): no I/O
//! ```
//!
//! Every answer carries its [`Proof`](crate::Proof). NXDOMAIN and NODATA are
//! [`Outcome`](crate::Outcome)s; timeouts, SERVFAIL and network failures are [`Error`]s whose
//! [`is_temporary`](Error::is_temporary) is true.
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls_dns::Error> {
//! use checktls_dns::resolver::{DiscoveryOptions, Nameservers, Resolver, ResolverOptions};
//!
//! let mut options = ResolverOptions::default();
//! options.nameservers = Nameservers::Given(vec!["127.0.0.1:5353".parse().unwrap()]);
//! let resolver = Resolver::new(options).await?;
//! let found = resolver
//!     .discover(&"example.com".parse()?, &DiscoveryOptions::default())
//!     .await;
//! if let Ok(mx) = &found.mx {
//!     for host in &mx.hosts {
//!         println!("{} {:?} {}", host.record, host.addresses.addresses(), host.addresses.proof());
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::proto::rr::RData;

mod anchored;
mod diagnose;
mod discover;
mod engine;
#[doc(hidden)]
pub(crate) mod fuzz;
mod keys;
mod options;
mod staged;

pub use options::{DiscoveryOptions, Dnssec, Nameservers, ResolverOptions};
pub use staged::Discovering;

use crate::answer::{Answer, RecordType, TxtRecord};
use crate::{DomainName, Error, MxRecord, TlsaRecord};
use engine::{Engine, from_name, typed};

/// A resolver: cheap to clone (clones share servers, cache and validator).
#[derive(Clone)]
pub struct Resolver {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("options", &self.engine.options)
            .finish()
    }
}

impl Resolver {
    /// A resolver with these options. Reads the system configuration if asked to, and fetches
    /// the keys that DS trust anchors name (so it may send queries).
    pub async fn new(options: ResolverOptions) -> Result<Self, Error> {
        Ok(Self {
            engine: Arc::new(Engine::new(options).await?),
        })
    }

    /// A resolver with the same servers and options and caches of its own, for one receiver
    /// test or one batch run: each zone's DNSKEY and DS (and the NS questions that find zone
    /// cuts) are asked once for as long as it lives, even with
    /// [`cache`](ResolverOptions::cache) off; with the cache on, its answers are kept apart
    /// from this resolver's. (This resolver itself keeps the validator's questions for their
    /// TTL when `cache` or [`keep_keys`](ResolverOptions::keep_keys) is on, and asks them
    /// every time otherwise.) May ask for the keys of DS trust anchors, as [`Resolver::new`].
    pub async fn scoped(&self) -> Result<Self, Error> {
        Ok(Self {
            engine: Arc::new(self.engine.with_fresh_caches().await?),
        })
    }

    /// The options it was built with.
    pub fn options(&self) -> &ResolverOptions {
        &self.engine.options
    }

    /// How many questions this resolver has resolved upstream (each answer validated once):
    /// answers from its cache, and askers who joined a question already in flight, are not
    /// counted. A figure for benchmarks and tests.
    pub fn questions_resolved(&self) -> u64 {
        self.engine.resolved()
    }

    /// A resolver that asks `servers` directly, without recursion, for every name in `zone`,
    /// and the usual servers for everything else: CheckTLS's "use a different SOA", to try DNS
    /// changes on a server before they are published. The DS of `zone` is still asked of the
    /// usual servers (it lives in the parent).
    pub async fn with_authoritative(
        &self,
        zone: &DomainName,
        servers: &[SocketAddr],
    ) -> Result<Self, Error> {
        Ok(Self {
            engine: Arc::new(self.engine.with_direct(zone, servers).await?),
        })
    }

    /// A resolver that asks the zone of `domain`'s own authoritative servers directly (found from
    /// its SOA and NS records through the usual servers; port
    /// [`authoritative_port`](ResolverOptions::authoritative_port)), bypassing every cache on
    /// the way: CheckTLS's "real time to the SOA".
    pub async fn authoritative_for(&self, domain: &DomainName) -> Result<Self, Error> {
        let (zone, servers) = discover::authoritative_servers(self, domain).await?;
        self.with_authoritative(&zone, &servers).await
    }

    /// The MX records of a name.
    pub async fn lookup_mx(&self, name: &DomainName) -> Result<Answer<MxRecord>, Error> {
        let raw = self.engine.resolve(name, RecordType::Mx).await?;
        typed(raw, |d| match d {
            RData::MX(mx) => Some(from_name(&mx.exchange).map(|e| MxRecord::new(mx.preference, e))),
            _ => None,
        })
    }

    /// The IPv4 addresses of a name.
    pub async fn lookup_a(&self, name: &DomainName) -> Result<Answer<Ipv4Addr>, Error> {
        let raw = self.engine.resolve(name, RecordType::A).await?;
        typed(raw, |d| match d {
            RData::A(a) => Some(Ok(a.0)),
            _ => None,
        })
    }

    /// The IPv6 addresses of a name.
    pub async fn lookup_aaaa(&self, name: &DomainName) -> Result<Answer<Ipv6Addr>, Error> {
        let raw = self.engine.resolve(name, RecordType::Aaaa).await?;
        typed(raw, |d| match d {
            RData::AAAA(a) => Some(Ok(a.0)),
            _ => None,
        })
    }

    /// The TXT records of a name.
    pub async fn lookup_txt(&self, name: &DomainName) -> Result<Answer<TxtRecord>, Error> {
        let raw = self.engine.resolve(name, RecordType::Txt).await?;
        typed(raw, |d| match d {
            RData::TXT(t) => Some(Ok(TxtRecord::new(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ))),
            _ => None,
        })
    }

    /// The TLSA records at a name (`_25._tcp.mx.example.com`).
    pub async fn lookup_tlsa(&self, name: &DomainName) -> Result<Answer<TlsaRecord>, Error> {
        let raw = self.engine.resolve(name, RecordType::Tlsa).await?;
        typed(raw, |d| match d {
            RData::TLSA(t) => Some(Ok(TlsaRecord {
                usage: u8::from(t.cert_usage).into(),
                selector: u8::from(t.selector).into(),
                matching: u8::from(t.matching).into(),
                data: t.cert_data.clone(),
            })),
            _ => None,
        })
    }

    /// The PTR records of an address.
    pub async fn lookup_ptr(&self, address: IpAddr) -> Result<Answer<DomainName>, Error> {
        let raw = self
            .engine
            .resolve(&DomainName::reverse(address), RecordType::Ptr)
            .await?;
        typed(raw, |d| match d {
            RData::PTR(p) => Some(from_name(&p.0)),
            _ => None,
        })
    }

    /// The NS records of a name (zone apexes answer; other names give NODATA).
    pub async fn lookup_ns(&self, name: &DomainName) -> Result<Answer<DomainName>, Error> {
        let raw = self.engine.resolve(name, RecordType::Ns).await?;
        typed(raw, |d| match d {
            RData::NS(n) => Some(from_name(&n.0)),
            _ => None,
        })
    }
}
