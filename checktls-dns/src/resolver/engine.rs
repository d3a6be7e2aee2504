//! The hickory glue: name-server pools, the validating handle, one question asked with its CNAME
//! chain followed and its proof computed, the answer cache, and conversions to our types. No
//! hickory type leaves this module and `diagnose`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverOpts};
use hickory_resolver::net::dnssec::DnssecDnsHandle;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer, RetryDnsHandle};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::Proof as HProof;
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData};
use hickory_resolver::proto::op::Query as HQuery;
use hickory_resolver::proto::op::{
    DnsRequest, DnsRequestOptions, DnsResponse, Message, ResponseCode,
};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType as HType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};
use tokio::time::Instant;

use super::keys::{Key, KeyCache};
use super::options::{Dnssec, Nameservers, ResolverOptions};
use super::{anchored, diagnose};
use crate::answer::{Answer, CnameHop, Outcome, Query, RecordType};
use crate::{DomainName, Error, Proof, TrustAnchors};

pub(crate) type Pool = RetryDnsHandle<NameServerPool<TokioRuntimeProvider>>;

/// Where a question goes: the configured servers, or (for names in one zone) that zone's
/// authoritative servers, asked without recursion.
#[derive(Clone)]
pub(crate) struct Upstream {
    default: Pool,
    direct: Option<(Name, Pool)>,
    /// The validator's own questions, asked once (see `keys`); `None`: every one is asked.
    keys: Option<Arc<KeyCache>>,
}

impl Upstream {
    /// The same servers with `keys` as the cache of the validator's questions.
    fn with_keys(&self, keys: Option<Arc<KeyCache>>) -> Self {
        Self {
            default: self.default.clone(),
            direct: self.direct.clone(),
            keys,
        }
    }

    fn route(&self, mut request: DnsRequest) -> <Pool as DnsHandle>::Response {
        if let Some((zone, direct)) = &self.direct {
            let in_zone = request.queries.first().is_some_and(|q| {
                zone.zone_of(q.name())
                    // The DS of the zone's apex lives in the parent.
                    && !(q.query_type() == HType::DS && q.name() == zone)
            });
            if in_zone {
                request.metadata.recursion_desired = false;
                request.options_mut().recursion_desired = false;
                return direct.send(request);
            }
        }
        self.default.send(request)
    }
}

impl DnsHandle for Upstream {
    type Response = <Pool as DnsHandle>::Response;
    type Runtime = TokioRuntimeProvider;

    fn send(&self, request: DnsRequest) -> Self::Response {
        if let Some(keys) = &self.keys
            && let Some(key) = Key::of(&request)
        {
            let keys = Arc::clone(keys);
            let me = self.clone();
            // The question is sent only when no kept or in-flight answer serves it.
            let fetch = async move { me.route(request).first_answer().await };
            return Box::pin(futures_util::stream::once(Box::pin(async move {
                keys.get(key, fetch).await
            })));
        }
        self.route(request)
    }
}

/// The validating handle, rebuilt when the authenticated keys of an anchored zone below the root
/// are due to be fetched again (see `anchored`).
struct Validator {
    upstream: Upstream,
    anchors: TrustAnchors,
    cache: bool,
    current: Mutex<(DnssecDnsHandle<Upstream>, Option<Instant>)>,
}

impl Validator {
    async fn build(
        upstream: &Upstream,
        anchors: &TrustAnchors,
        cache: bool,
    ) -> (DnssecDnsHandle<Upstream>, Option<Instant>) {
        let a = anchored::anchored(anchors, upstream, now()).await;
        let mut h = DnssecDnsHandle::with_trust_anchor(upstream.clone(), Arc::new(a.keys));
        if !cache {
            h = h.validation_cache_size(1);
        }
        (h, a.keep.map(|d| Instant::now() + d))
    }

    async fn handle(&self) -> DnssecDnsHandle<Upstream> {
        let (stale, handle) = match self.current.lock() {
            Ok(g) => (g.1.is_some_and(|t| t <= Instant::now()), g.0.clone()),
            Err(p) => {
                let g = p.into_inner();
                (true, g.0.clone())
            }
        };
        if !stale {
            return handle;
        }
        let fresh = Self::build(&self.upstream, &self.anchors, self.cache).await;
        let h = fresh.0.clone();
        if let Ok(mut g) = self.current.lock() {
            *g = fresh;
        }
        h
    }
}

enum Handle {
    Plain(Box<Upstream>),
    Validating(Box<Validator>),
}

impl Handle {
    async fn ask(
        &self,
        query: HQuery,
        options: DnsRequestOptions,
    ) -> Result<DnsResponse, NetError> {
        match self {
            Self::Plain(h) => h.lookup(query, options).first_answer().await,
            Self::Validating(v) => v.handle().await.lookup(query, options).first_answer().await,
        }
    }
}

/// What one question gave: the CNAMEs, the records of the asked type at the end of the chain
/// (hickory records, with their proofs), the outcome and the chain's proof.
#[derive(Clone, Debug)]
pub(crate) struct Raw {
    pub(crate) query: Query,
    pub(crate) cnames: Vec<CnameHop>,
    pub(crate) records: Vec<Record>,
    pub(crate) outcome: Kind,
    pub(crate) proof: Proof,
    pub(crate) ttl: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Records,
    NoData,
    NxDomain,
}

struct CacheEntry {
    until: Instant,
    raw: Raw,
}

/// The most entries the answer cache holds; when full it is emptied (simple, bounded).
const CACHE_LIMIT: usize = 4096;
/// How long a negative answer with no TTL is kept.
const NEGATIVE_TTL: u32 = 60;
/// The longest any answer is kept.
const MAX_TTL: u32 = 3600;

pub(crate) struct Engine {
    handle: Handle,
    plain: Upstream,
    validating: bool,
    anchors: TrustAnchors,
    pub(crate) options: ResolverOptions,
    cache: Option<Mutex<HashMap<(DomainName, RecordType), CacheEntry>>>,
    /// With the cache on: the questions being asked, so that concurrent askers of the same
    /// question share one answer (and one validation) instead of each validating its own.
    flights: Mutex<HashMap<(DomainName, RecordType), Flight>>,
    /// Questions resolved upstream (see [`Engine::resolved`]).
    resolved: std::sync::atomic::AtomicU64,
}

/// One question in flight: filled once, by whichever asker runs first (another takes over if
/// that one is dropped).
type Flight = Arc<tokio::sync::OnceCell<Result<Raw, Error>>>;

impl Engine {
    pub(crate) async fn new(options: ResolverOptions) -> Result<Self, Error> {
        if options.attempts == 0 {
            return Err(Error::InvalidOption {
                option: "attempts".into(),
                reason: "must be at least 1".into(),
            });
        }
        if options.timeout.is_zero() {
            return Err(Error::InvalidOption {
                option: "timeout".into(),
                reason: "must be more than zero".into(),
            });
        }
        let servers = match &options.nameservers {
            Nameservers::Given(list) if list.is_empty() => {
                return Err(Error::InvalidOption {
                    option: "nameservers".into(),
                    reason: "the list is empty".into(),
                });
            }
            Nameservers::Given(list) => list.clone(),
            Nameservers::System => system_servers()?,
        };
        let upstream = Upstream {
            default: pool(&servers, &options)?,
            direct: None,
            keys: (options.cache || options.keep_keys).then(Arc::default),
        };
        Self::with_upstream(options, upstream).await
    }

    /// The same servers and options with caches of its own: the validator's questions are
    /// asked once for as long as the new engine lives (even with the answer cache off), and
    /// answers (with it on) are kept apart from this engine's.
    pub(crate) async fn with_fresh_caches(&self) -> Result<Self, Error> {
        let upstream = self.plain.with_keys(Some(Arc::default()));
        Self::with_upstream(self.options.clone(), upstream).await
    }

    async fn with_upstream(options: ResolverOptions, upstream: Upstream) -> Result<Self, Error> {
        let (handle, validating, anchors) = match &options.dnssec {
            Dnssec::Off => (
                Handle::Plain(Box::new(upstream.clone())),
                false,
                TrustAnchors::none(),
            ),
            Dnssec::Validate(anchors) => {
                let keep = options.cache || options.keep_keys;
                let current = Validator::build(&upstream, anchors, keep).await;
                let v = Validator {
                    upstream: upstream.clone(),
                    anchors: anchors.clone(),
                    cache: keep,
                    current: Mutex::new(current),
                };
                (Handle::Validating(Box::new(v)), true, anchors.clone())
            }
        };
        Ok(Self {
            handle,
            plain: upstream,
            validating,
            anchors,
            cache: options.cache.then(|| Mutex::new(HashMap::new())),
            flights: Mutex::new(HashMap::new()),
            resolved: std::sync::atomic::AtomicU64::new(0),
            options,
        })
    }

    /// The same engine, but questions for names in `zone` go to `servers` without recursion.
    pub(crate) async fn with_direct(
        &self,
        zone: &DomainName,
        servers: &[SocketAddr],
    ) -> Result<Self, Error> {
        if servers.is_empty() {
            return Err(Error::InvalidOption {
                option: "authoritative servers".into(),
                reason: "the list is empty".into(),
            });
        }
        let upstream = Upstream {
            default: self.plain.default.clone(),
            direct: Some((to_name(zone)?, pool(servers, &self.options)?)),
            keys: (self.options.cache || self.options.keep_keys).then(Arc::default),
        };
        Self::with_upstream(self.options.clone(), upstream).await
    }

    pub(crate) fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    fn request_options(&self, dnssec_ok: bool) -> DnsRequestOptions {
        let mut o = DnsRequestOptions::default();
        o.recursion_desired = true;
        o.use_edns = true;
        o.edns_set_dnssec_ok = dnssec_ok;
        o
    }

    /// Asks without validation (DO bit set so signatures come back): for diagnosis and for
    /// finding zones.
    pub(crate) async fn ask_plain(
        &self,
        name: &Name,
        rtype: HType,
    ) -> Result<DnsResponse, NetError> {
        self.plain
            .lookup(
                HQuery::query(name.clone(), rtype),
                self.request_options(true),
            )
            .first_answer()
            .await
    }

    /// One question, its CNAME chain followed, its proof computed.
    pub(crate) async fn resolve(&self, name: &DomainName, rtype: RecordType) -> Result<Raw, Error> {
        let key = (name.clone(), rtype);
        let Some(cache) = &self.cache else {
            return self.resolve_uncached(name, rtype).await;
        };
        if let Ok(map) = cache.lock()
            && let Some(e) = map.get(&key)
            && e.until > Instant::now()
        {
            return Ok(e.raw.clone());
        }
        // Concurrent askers of one question share its flight: one question, one validation.
        let flight = match self.flights.lock() {
            Ok(mut map) => Arc::clone(map.entry(key.clone()).or_default()),
            Err(_) => Flight::default(),
        };
        let result = flight
            .get_or_init(|| self.resolve_uncached(name, rtype))
            .await
            .clone();
        // The first asker back keeps the answer, then lands the flight (in that order, so a
        // new asker finds one or the other).
        let Ok(mut flights) = self.flights.lock() else {
            return result;
        };
        if !flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            return result;
        }
        if let Ok(raw) = &result {
            let ttl = raw.ttl.unwrap_or(NEGATIVE_TTL).min(MAX_TTL);
            if ttl > 0
                && let Ok(mut map) = cache.lock()
            {
                if map.len() >= CACHE_LIMIT {
                    map.clear();
                }
                map.insert(
                    key.clone(),
                    CacheEntry {
                        until: Instant::now() + Duration::from_secs(u64::from(ttl)),
                        raw: raw.clone(),
                    },
                );
            }
        }
        flights.remove(&key);
        result
    }

    /// Questions resolved upstream so far.
    pub(crate) fn resolved(&self) -> u64 {
        self.resolved.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn resolve_uncached(&self, name: &DomainName, rtype: RecordType) -> Result<Raw, Error> {
        self.resolved
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let query = Query::new(name.clone(), rtype);
        let htype = to_htype(rtype);
        let mut current = to_name(name)?;
        let mut current_ours = name.clone();
        let mut cnames: Vec<CnameHop> = Vec::new();
        let mut seen: HashSet<Name> = HashSet::from([current.clone()]);
        let mut chain_proof: Option<Proof> = None;
        let mut ttl: Option<u32> = None;
        let limit = self.options.max_cnames;
        let chain_error = |query: &Query| Error::CnameChain {
            query: query.clone(),
            limit,
        };
        // Each round asks for the current end of the chain; a round may follow several CNAMEs
        // the server put in one answer.
        for _round in 0..=limit {
            let result = self
                .handle
                .ask(
                    HQuery::query(current.clone(), htype),
                    self.request_options(self.validating),
                )
                .await;
            let (message, denial_proof) = match result {
                Ok(response) => (response.into_message(), None),
                Err(NetError::Dns(DnsError::Nsec {
                    response, proof, ..
                })) => (response.into_message(), Some(from_hproof(proof))),
                Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                    // Only without validation: a negative answer, proof indeterminate.
                    let kind = if nr.response_code == ResponseCode::NXDomain {
                        Kind::NxDomain
                    } else {
                        Kind::NoData
                    };
                    let proof = weakest(chain_proof.take(), Proof::Indeterminate);
                    return Ok(Raw {
                        query,
                        cnames,
                        records: Vec::new(),
                        outcome: kind,
                        proof,
                        ttl: nr.negative_ttl.or(ttl),
                    });
                }
                Err(e) => return Err(net_error(&query, e)),
            };
            // Follow the CNAMEs in this answer.
            let mut followed = false;
            if htype != HType::CNAME {
                while let Some(rec) = message
                    .answers
                    .iter()
                    .find(|r| r.name == current && r.record_type() == HType::CNAME)
                {
                    let RData::CNAME(target) = &rec.data else {
                        break;
                    };
                    let target = target.0.clone();
                    let to = from_name(&target).map_err(|d| Error::Malformed {
                        query: query.clone(),
                        detail: d,
                    })?;
                    let mut proof = self.scoped(&current_ours, from_hproof(rec.proof));
                    if proof.is_bogus() {
                        proof = self.explain(&message, &current, HType::CNAME, proof).await;
                    }
                    chain_proof = Some(weakest(chain_proof.take(), proof.clone()));
                    ttl = Some(ttl.map_or(rec.ttl, |t| t.min(rec.ttl)));
                    cnames.push(CnameHop::new(current_ours.clone(), to.clone(), proof));
                    if cnames.len() > limit || !seen.insert(target.clone()) {
                        return Err(chain_error(&query));
                    }
                    current = target;
                    current_ours = to;
                    followed = true;
                }
            }
            let records: Vec<Record> = message
                .answers
                .iter()
                .filter(|r| r.name == current && r.record_type() == htype)
                .cloned()
                .collect();
            if !records.is_empty() {
                let mut proof = records
                    .iter()
                    .map(|r| from_hproof(r.proof))
                    .reduce(Proof::weakest)
                    .unwrap_or(Proof::Indeterminate);
                proof = self.scoped(&current_ours, proof);
                if proof.is_bogus() {
                    proof = self.explain(&message, &current, htype, proof).await;
                }
                let min_ttl = records.iter().map(|r| r.ttl).min();
                return Ok(Raw {
                    query,
                    cnames,
                    outcome: Kind::Records,
                    proof: weakest(chain_proof, proof),
                    ttl: match (ttl, min_ttl) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                    records,
                });
            }
            let nxdomain = message.metadata.response_code == ResponseCode::NXDomain;
            if followed && !nxdomain {
                // The server gave the chain but not the target's data: ask for the target.
                continue;
            }
            let mut proof = match denial_proof {
                Some(p) => p,
                None => self.denial_proof(&message),
            };
            if proof.is_secure() && anchored::opt_out_denial(&message.authorities, &current) {
                proof = Proof::Insecure;
            }
            proof = self.scoped(&current_ours, proof);
            if proof.is_bogus() {
                proof = self.explain_denial(&message, proof).await;
            }
            let negative_ttl = message.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            });
            return Ok(Raw {
                query,
                cnames,
                records: Vec::new(),
                outcome: if nxdomain {
                    Kind::NxDomain
                } else {
                    Kind::NoData
                },
                proof: weakest(chain_proof, proof),
                ttl: negative_ttl.or(ttl),
            });
        }
        Err(chain_error(&query))
    }

    /// The proof of a negative answer the validator accepted: secure if a secure NSEC/NSEC3
    /// came with it, otherwise insecure (the validator only accepts unsigned denials from
    /// provably insecure zones).
    fn denial_proof(&self, message: &Message) -> Proof {
        if !self.validating {
            return Proof::Indeterminate;
        }
        let secure_nsec = message.authorities.iter().any(|r| {
            matches!(
                r.data,
                RData::DNSSEC(DNSSECRData::NSEC(_)) | RData::DNSSEC(DNSSECRData::NSEC3(_))
            ) && r.proof == HProof::Secure
        });
        if secure_nsec {
            Proof::Secure
        } else {
            Proof::Insecure
        }
    }

    /// With validation on and anchors that do not reach `name`, the validator's verdict means
    /// nothing: the answer is indeterminate (RFC 4035 §4.3).
    fn scoped(&self, name: &DomainName, proof: Proof) -> Proof {
        if !self.validating {
            return Proof::Indeterminate;
        }
        if self.anchors.covers(name) {
            proof
        } else {
            Proof::Indeterminate
        }
    }

    /// A second look at what the validator called bogus: the reason, or indeterminate when the
    /// records needed to decide cannot be fetched (RFC 4035 §4.3; hickory says bogus then).
    async fn explain(&self, message: &Message, owner: &Name, rtype: HType, proof: Proof) -> Proof {
        match proof {
            Proof::Bogus { reason: None } => diagnose::rrset(self, message, owner, rtype, now())
                .await
                .into_proof(),
            other => other,
        }
    }

    async fn explain_denial(&self, message: &Message, proof: Proof) -> Proof {
        match proof {
            Proof::Bogus { reason: None } => {
                diagnose::denial(self, message, now()).await.into_proof()
            }
            other => other,
        }
    }
}

/// Seconds since the epoch, as DNSSEC signature times count (the driver's clock).
fn now() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs % (1 << 32)).unwrap_or(0)
}

fn weakest(a: Option<Proof>, b: Proof) -> Proof {
    match a {
        Some(a) => a.weakest(b),
        None => b,
    }
}

fn system_servers() -> Result<Vec<SocketAddr>, Error> {
    let (config, _) =
        hickory_resolver::system_conf::read_system_conf().map_err(|e| Error::SystemConfig {
            reason: e.to_string(),
        })?;
    let mut out: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        for c in &ns.connections {
            let sa = SocketAddr::new(ns.ip, c.port);
            if !out.contains(&sa) {
                out.push(sa);
            }
        }
    }
    if out.is_empty() {
        return Err(Error::SystemConfig {
            reason: "no name servers configured".to_owned(),
        });
    }
    Ok(out)
}

fn pool(servers: &[SocketAddr], options: &ResolverOptions) -> Result<Pool, Error> {
    let mut opts = ResolverOpts::default();
    opts.timeout = options.timeout;
    opts.attempts = options.attempts;
    let configs: Vec<NameServerConfig> = servers
        .iter()
        .map(|sa| {
            let mut connections = Vec::new();
            if !options.tcp {
                let mut udp = ConnectionConfig::udp();
                udp.port = sa.port();
                connections.push(udp);
            }
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = sa.port();
            connections.push(tcp);
            NameServerConfig::new(sa.ip(), true, connections)
        })
        .collect();
    let tls = TlsConfig::new().map_err(|e| Error::SystemConfig {
        reason: e.to_string(),
    })?;
    let cx = Arc::new(PoolContext::new(opts, tls));
    let pool = NameServerPool::from_config(configs, cx, TokioRuntimeProvider::default());
    Ok(RetryDnsHandle::new(
        pool,
        options.attempts.saturating_sub(1),
    ))
}

pub(crate) fn to_name(name: &DomainName) -> Result<Name, Error> {
    Name::from_ascii(name.to_fqdn()).map_err(|_| Error::InvalidName {
        input: name.to_string(),
        position: 0,
        reason: "not a valid DNS name".into(),
    })
}

pub(crate) fn from_name(name: &Name) -> Result<DomainName, String> {
    DomainName::parse(&name.to_ascii()).map_err(|e| e.to_string())
}

pub(crate) fn to_htype(t: RecordType) -> HType {
    match t {
        RecordType::A => HType::A,
        RecordType::Aaaa => HType::AAAA,
        RecordType::Mx => HType::MX,
        RecordType::Txt => HType::TXT,
        RecordType::Tlsa => HType::TLSA,
        RecordType::Ptr => HType::PTR,
        RecordType::Cname => HType::CNAME,
        RecordType::Ns => HType::NS,
        RecordType::Soa => HType::SOA,
        RecordType::Ds => HType::DS,
        RecordType::Dnskey => HType::DNSKEY,
    }
}

pub(crate) fn from_hproof(p: HProof) -> Proof {
    match p {
        HProof::Secure => Proof::Secure,
        HProof::Insecure => Proof::Insecure,
        HProof::Bogus => Proof::Bogus { reason: None },
        _ => Proof::Indeterminate,
    }
}

fn net_error(query: &Query, e: NetError) -> Error {
    match e {
        NetError::Timeout => Error::Timeout {
            query: query.clone(),
        },
        NetError::Dns(DnsError::ResponseCode(code)) => Error::ResponseCode {
            query: query.clone(),
            rcode: crate::Rcode::from_u16(u16::from(code)),
        },
        NetError::Dns(DnsError::DnssecBogus) => Error::Malformed {
            query: query.clone(),
            detail: "DNSSEC validation failed".to_owned(),
        },
        other => Error::Network {
            query: query.clone(),
            detail: other.to_string(),
        },
    }
}

/// Converts a raw answer's records to a typed answer; `convert` returns `None` for records of
/// another type (never kept) and `Err` for data that does not make sense.
pub(crate) fn typed<T>(
    raw: Raw,
    convert: impl Fn(&RData) -> Option<Result<T, String>>,
) -> Result<Answer<T>, Error> {
    let outcome = match raw.outcome {
        Kind::NoData => Outcome::NoData,
        Kind::NxDomain => Outcome::NxDomain,
        Kind::Records => {
            let mut out = Vec::with_capacity(raw.records.len());
            for r in &raw.records {
                match convert(&r.data) {
                    Some(Ok(v)) => out.push(v),
                    Some(Err(detail)) => {
                        return Err(Error::Malformed {
                            query: raw.query.clone(),
                            detail,
                        });
                    }
                    None => {}
                }
            }
            Outcome::Records(out)
        }
    };
    let mut answer = Answer::new(raw.query, raw.cnames, outcome, raw.proof);
    answer.ttl = raw.ttl;
    Ok(answer)
}

/// The DNSKEY records of a response, for diagnosis.
pub(crate) fn dnskeys(message: &Message) -> Vec<(&Name, &DNSKEY)> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some((&r.name, k)),
            _ => None,
        })
        .collect()
}
