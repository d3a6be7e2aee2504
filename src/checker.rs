//! The receiver test: discover, probe every address of every MX concurrently within politeness
//! limits, judge, score.
//!
//! ```text
//!   Target ──► DNS (checktls-dns): MX set ─► addresses ─► TLSA, MTA-STS TXT, SPF, DMARC, ...
//!          ──► MTA-STS policy over HTTPS (checktls-tls)
//!          ──► per MX address, at most N at once per address, probed once per run:
//!                SMTP stages + TLS facts (checktls-smtp over checktls-tls)
//!          ──► judgements: certificate, revocation, DANE, MTA-STS (checktls-tls, pure)
//!          ──► checktls-score ─► ReceiverReport
//! ```
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls::Error> {
//! use checktls::{Checker, ReceiverOptions};
//!
//! let checker = Checker::new(ReceiverOptions::default()).await?;
//! let report = checker.check(&"postmaster@example.com".parse()?).await?;
//! println!("{} {}", report.score(), report.target);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{OnceCell, Semaphore};

use crate::dns::discovery::{Discovery, HostAddresses, TlsaLookup};
use crate::dns::resolver::{DiscoveryOptions, Dnssec, Nameservers, Resolver, ResolverOptions};
use crate::dns::{DomainName, MxKind, MxLimit, TrustAnchors};
use crate::error::Error;
use crate::judge;
use crate::options::ReceiverOptions;
use crate::probe::{self, HostProbe, ProbeKey};
use crate::report::{Finding, HostReport, ReceiverReport, Severity};
use crate::score::{self, TargetOptions};
use crate::target::{HostSpec, Target};
use crate::tls::TrustStore;
use crate::tls::net::{Connector, TcpConnector};

/// One address to probe, with what DNS said about its host.
#[derive(Clone, Debug)]
pub(crate) struct HostPlan {
    pub(crate) name: String,
    pub(crate) preference: u16,
    pub(crate) address: Option<IpAddr>,
    pub(crate) port: u16,
    pub(crate) tlsa: Option<TlsaLookup>,
    pub(crate) findings: Vec<Finding>,
}

type ProbeCell = Arc<OnceCell<Arc<HostProbe>>>;

struct Inner {
    options: ReceiverOptions,
    resolver: Resolver,
    trust: TrustStore,
    https: Arc<dyn Connector>,
    clock: Box<dyn Fn() -> SystemTime + Send + Sync>,
    probes: Mutex<HashMap<ProbeKey, ProbeCell>>,
    per_address: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    global: Semaphore,
    /// Admission shared beyond this process (a fleet's leases), when given.
    gate: Option<Arc<dyn crate::fleet::AddressGate>>,
    revocation: crate::tls::revocation::RevocationCache,
    /// Verdicts per leaf (SHA-256 of its DER), so a leaf shared by targets is checked once.
    verdicts: Mutex<HashMap<Vec<u8>, crate::tls::revocation::Revocation>>,
}

/// Runs receiver tests. Cheap to clone; clones share the resolver's cache, the probe cache
/// (one address is probed once per checker even when several targets share it) and the
/// politeness limits.
#[derive(Clone)]
pub struct Checker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Checker`] with non-default trust anchors, HTTPS routing or clock.
pub struct CheckerBuilder {
    options: ReceiverOptions,
    trust: Option<TrustStore>,
    https: Option<Arc<dyn Connector>>,
    clock: Option<Box<dyn Fn() -> SystemTime + Send + Sync>>,
    gate: Option<Arc<dyn crate::fleet::AddressGate>>,
}

impl CheckerBuilder {
    /// Admission to each MX address shared with other processes (a fleet of workers): the
    /// per-address cap and the 421 back-off then hold across all of them. See
    /// [`fleet`](crate::fleet).
    pub fn address_gate(mut self, gate: Arc<dyn crate::fleet::AddressGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The trust anchors for certificates (default: Mozilla's roots).
    pub fn trust(mut self, trust: TrustStore) -> Self {
        self.trust = Some(trust);
        self
    }

    /// How HTTPS connections (MTA-STS, OCSP, CRL) are opened (default: plain TCP to the
    /// host's addresses). Tests and the lab route host names to loopback with this.
    pub fn https_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.https = Some(connector);
        self
    }

    /// The clock certificates, OCSP and CRLs are judged at (default: the system clock).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Builds the checker: sets up the resolver.
    pub async fn build(self) -> Result<Checker, Error> {
        let options = self.options;
        let setup = &options.resolver;
        let mut ro = ResolverOptions::default();
        if !setup.nameservers.is_empty() {
            ro.nameservers = Nameservers::Given(setup.nameservers.clone());
        }
        ro.tcp = setup.tcp;
        ro.cache = !setup.no_cache;
        if let Some(t) = setup.timeout {
            ro.timeout = t;
        }
        if let Some(text) = &setup.dnssec_anchors {
            let anchors = TrustAnchors::parse(text).map_err(Error::Dns)?;
            ro.dnssec = Dnssec::Validate(anchors);
        }
        let resolver = Resolver::new(ro).await.map_err(Error::Dns)?;
        let concurrency = options.concurrency.max(1);
        Ok(Checker {
            inner: Arc::new(Inner {
                trust: self.trust.unwrap_or_else(TrustStore::mozilla),
                https: self.https.unwrap_or_else(|| Arc::new(TcpConnector)),
                clock: self.clock.unwrap_or_else(|| Box::new(SystemTime::now)),
                resolver,
                probes: Mutex::new(HashMap::new()),
                per_address: Mutex::new(HashMap::new()),
                global: Semaphore::new(concurrency),
                gate: self.gate,
                revocation: crate::tls::revocation::RevocationCache::new(),
                verdicts: Mutex::new(HashMap::new()),
                options,
            }),
        })
    }
}

impl Checker {
    /// A checker with these options, Mozilla's roots and the system clock.
    pub async fn new(options: ReceiverOptions) -> Result<Self, Error> {
        Self::builder(options).build().await
    }

    /// A builder, for trust anchors, HTTPS routing and the clock.
    pub fn builder(options: ReceiverOptions) -> CheckerBuilder {
        CheckerBuilder {
            options,
            trust: None,
            https: None,
            clock: None,
            gate: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &ReceiverOptions {
        &self.inner.options
    }

    /// How many distinct addresses (address, port, name, recipient) were probed so far.
    pub fn probes_run(&self) -> usize {
        self.inner
            .probes
            .lock()
            .map(|m| m.values().filter(|c| c.initialized()).count())
            .unwrap_or(0)
    }

    /// Runs the receiver test on one target. `Err` only when the test could not be set up;
    /// DNS failures, unreachable hosts and TLS failures are in the report.
    pub async fn check(&self, target: &Target) -> Result<ReceiverReport, Error> {
        let started = Instant::now();
        let started_unix = self
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let opts = &self.inner.options;
        let port_of = |given: Option<u16>| given.unwrap_or_else(|| opts.effective_port());
        let mut findings = Vec::new();

        // 1. Discovery.
        let mut discovery: Option<Discovery> = None;
        let mut plans: Vec<HostPlan> = Vec::new();
        match (&target.host, &target.domain) {
            (Some(given), domain) => {
                let port = port_of(given.port);
                if let Some(d) = domain {
                    discovery = Some(self.discover(d, port, false).await);
                }
                match &given.host {
                    HostSpec::Ip(ip) => plans.push(HostPlan {
                        name: ip.to_string(),
                        preference: 0,
                        address: Some(*ip),
                        port,
                        tlsa: None,
                        findings: Vec::new(),
                    }),
                    HostSpec::Name(name) => {
                        let addrs = self.inner.resolver.host_addresses(name, opts.ip).await;
                        let tlsa = self.inner.resolver.tlsa(&addrs, port).await.ok();
                        plans.extend(plans_for(name, 0, &addrs, port, tlsa, Vec::new()));
                    }
                }
            }
            (None, Some(domain)) => {
                let port = port_of(None);
                let found = self.discover(domain, port, true).await;
                match &found.mx {
                    Err(e) => findings.push(Finding::new(
                        "dns.mx_failed",
                        Severity::Error,
                        format!("the MX lookup failed: {e}"),
                    )),
                    Ok(set) => {
                        match set.kind {
                            MxKind::Null => findings.push(Finding::new(
                                "dns.null_mx",
                                Severity::Error,
                                "the domain publishes a null MX (RFC 7505): it accepts no mail",
                            )),
                            MxKind::NoDomain => findings.push(Finding::new(
                                "dns.no_domain",
                                Severity::Error,
                                "the domain does not exist (NXDOMAIN)",
                            )),
                            MxKind::Implicit => findings.push(Finding::new(
                                "dns.implicit_mx",
                                Severity::Warning,
                                "no MX records: the domain's own address is the implicit MX",
                            )),
                            _ => {}
                        }
                        let limit_n = opts.host_limit.select(
                            &set.hosts
                                .iter()
                                .map(|h| h.record.clone())
                                .collect::<Vec<_>>(),
                        );
                        for (i, host) in set.hosts.iter().enumerate().take(limit_n) {
                            let tlsa = found
                                .hosts
                                .get(i)
                                .and_then(|h| h.tlsa.first())
                                .and_then(|r| r.as_ref().ok())
                                .cloned();
                            let host_findings = host
                                .findings
                                .iter()
                                .map(|f| Finding::new(f.code, dns_severity(f), f.message.clone()))
                                .collect();
                            plans.extend(plans_for(
                                &host.record.exchange,
                                host.record.preference,
                                &host.addresses,
                                port,
                                tlsa,
                                host_findings,
                            ));
                        }
                    }
                }
                discovery = Some(found);
            }
            (None, None) => {
                return Err(Error::BadTarget("a target needs a domain or a host".into()));
            }
        }

        // 2. MTA-STS policy (once per target).
        let mta_sts = match (&target.domain, &discovery) {
            (Some(d), Some(found)) => judge::mta_sts_policy(self, d, found).await,
            _ => None,
        };
        let sts_tested = discovery.as_ref().is_some_and(|d| d.mta_sts.is_some());

        // 3. Probe every address.
        let rcpt = target.address();
        let probes = self.probe_all(&plans, rcpt.as_deref()).await;

        // 4. Judge and score.
        let now = self.now();
        let mut hosts: Vec<HostReport> = Vec::with_capacity(plans.len());
        let mut evidence = Vec::with_capacity(plans.len());
        for (plan, probe) in plans.iter().zip(&probes) {
            let revocation = match probe.as_deref() {
                Some(p) if opts.revocation => judge::revocation(self, p, now).await,
                _ => None,
            };
            let (h, e) = judge::host_report(
                self,
                plan,
                probe.as_deref(),
                mta_sts.as_ref(),
                sts_tested,
                revocation,
                now,
            );
            hosts.push(h);
            evidence.push(e);
        }
        let mut target_options = TargetOptions::default();
        target_options.ignore_no_connect = opts.ignore_no_connect;
        target_options.quick = opts.first_answering_host_only;
        let cf = score::score_target(&evidence, &target_options);
        for (h, s) in hosts.iter_mut().zip(&cf.hosts) {
            h.score = s.score;
            h.score_detail = Some(s.clone());
        }
        let assuredness = opts
            .assure_tls
            .then(|| score::assuredness(&evidence, &target_options));
        let tested = hosts.iter().any(HostReport::answered);
        if !tested && !plans.is_empty() {
            findings.push(Finding::new(
                "smtp.no_host_reached",
                Severity::Error,
                "no MX host could be reached: nothing was tested",
            ));
        }
        Ok(ReceiverReport {
            target: target.clone(),
            started_unix,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            tested,
            confidence_factor: cf,
            assuredness,
            dns: discovery,
            mta_sts: mta_sts.map(|(r, _)| r),
            mx: hosts,
            findings,
        })
    }

    async fn discover(&self, domain: &DomainName, port: u16, mx: bool) -> Discovery {
        let opts = &self.inner.options;
        let mut d = DiscoveryOptions::default();
        d.mx_limit = if mx { opts.mx_limit } else { MxLimit::All };
        d.ip = opts.ip;
        d.tlsa_ports = vec![port];
        d.reverse_dns = false;
        d.authoritative = opts.resolver.authoritative;
        self.inner.resolver.discover(domain, &d).await
    }

    /// Probes each plan (None for plans without an address), sharing probes across targets and
    /// keeping to the politeness limits. Quick mode probes in preference order and stops at the
    /// first host that answers.
    async fn probe_all(
        &self,
        plans: &[HostPlan],
        rcpt: Option<&str>,
    ) -> Vec<Option<Arc<HostProbe>>> {
        if self.inner.options.first_answering_host_only {
            let mut out = Vec::with_capacity(plans.len());
            let mut answered = false;
            for plan in plans {
                if answered || plan.address.is_none() {
                    out.push(None);
                    continue;
                }
                let p = self.probe_once(plan, rcpt).await;
                answered = p.as_ref().is_some_and(|p| p.answered());
                out.push(p);
            }
            return out;
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, plan) in plans.iter().enumerate() {
            let me = self.clone();
            let plan = plan.clone();
            let rcpt = rcpt.map(str::to_owned);
            set.spawn(async move { (i, me.probe_once(&plan, rcpt.as_deref()).await) });
        }
        let mut out = vec![None; plans.len()];
        while let Some(joined) = set.join_next().await {
            if let Ok((i, p)) = joined
                && let Some(slot) = out.get_mut(i)
            {
                *slot = p;
            }
        }
        out
    }

    async fn probe_once(&self, plan: &HostPlan, rcpt: Option<&str>) -> Option<Arc<HostProbe>> {
        let address = plan.address?;
        let key = ProbeKey {
            address: SocketAddr::new(address, plan.port),
            name: plan.name.clone(),
            rcpt: rcpt.map(str::to_owned),
        };
        let cell = {
            let mut map = self.inner.probes.lock().ok()?;
            map.entry(key.clone()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                let sem = {
                    let mut map = match self.inner.per_address.lock() {
                        Ok(m) => m,
                        Err(p) => p.into_inner(),
                    };
                    map.entry(address)
                        .or_insert_with(|| {
                            Arc::new(Semaphore::new(
                                self.inner.options.connections_per_address.max(1),
                            ))
                        })
                        .clone()
                };
                Arc::new(self.probe_politely(&sem, plan, &key).await)
            })
            .await;
        Some(result.clone())
    }

    /// Probes within the limits; a 421 (or another temporary refusal before the dialog got
    /// going) backs off and tries again, at most twice.
    async fn probe_politely(
        &self,
        per_address: &Semaphore,
        plan: &HostPlan,
        key: &ProbeKey,
    ) -> HostProbe {
        let mut attempt = 0u32;
        loop {
            let probe = {
                let _global = self.inner.global.acquire().await.ok();
                let _local = per_address.acquire().await.ok();
                let _fleet = match (&self.inner.gate, plan.address) {
                    (Some(gate), Some(address)) => Some(
                        gate.enter(address, self.inner.options.connections_per_address.max(1))
                            .await,
                    ),
                    _ => None,
                };
                probe::probe_host(&self.inner.options, plan, key).await
            };
            if !probe.busy || attempt >= 2 {
                return probe;
            }
            attempt += 1;
            if let (Some(gate), Some(address)) = (&self.inner.gate, plan.address) {
                gate.back_off(address, backoff(attempt)).await;
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    pub(crate) fn trust(&self) -> &TrustStore {
        &self.inner.trust
    }

    pub(crate) fn revocation_cache(&self) -> &crate::tls::revocation::RevocationCache {
        &self.inner.revocation
    }

    pub(crate) fn cached_verdict(&self, leaf: &[u8]) -> Option<crate::tls::revocation::Revocation> {
        self.inner.verdicts.lock().ok()?.get(leaf).cloned()
    }

    pub(crate) fn keep_verdict(&self, leaf: Vec<u8>, r: &crate::tls::revocation::Revocation) {
        if let Ok(mut m) = self.inner.verdicts.lock() {
            m.insert(leaf, r.clone());
        }
    }

    pub(crate) fn https(&self) -> &Arc<dyn Connector> {
        &self.inner.https
    }

    /// The checker's clock.
    pub fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)))
}

fn dns_severity(f: &crate::dns::Finding) -> Severity {
    match f.severity {
        crate::dns::Severity::Error => Severity::Error,
        crate::dns::Severity::Warning => Severity::Warning,
        _ => Severity::Info,
    }
}

fn plans_for(
    name: &DomainName,
    preference: u16,
    addrs: &HostAddresses,
    port: u16,
    tlsa: Option<TlsaLookup>,
    findings: Vec<Finding>,
) -> Vec<HostPlan> {
    let list = addrs.addresses();
    let name = name.to_string();
    if list.is_empty() {
        let mut findings = findings;
        findings.push(Finding::new(
            "dns.no_address",
            Severity::Error,
            format!("{name} has no address"),
        ));
        return vec![HostPlan {
            name,
            preference,
            address: None,
            port,
            tlsa,
            findings,
        }];
    }
    list.into_iter()
        .map(|a| HostPlan {
            name: name.clone(),
            preference,
            address: Some(a),
            port,
            tlsa: tlsa.clone(),
            findings: findings.clone(),
        })
        .collect()
}
