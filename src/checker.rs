//! The receiver test: discover, probe every address of every MX concurrently within politeness
//! limits, fetch what the peers published, judge, score.
//!
//! ```text
//!   Target ──► plan:  DNS (checktls-dns): MX set ─► addresses ─► TLSA, MTA-STS TXT, SPF, ...
//!                     caps, non-global addresses reported (plan.rs)
//!          ──► probe: per MX address, at most N at once per address, once per run:
//!                     SMTP stages + TLS facts (checktls-smtp over checktls-tls) (probe.rs)
//!          ──► judge: certificate, DANE (checktls-tls, pure) (judge.rs)
//!          ──► fetch: MTA-STS policy, revocation of validated chains (fetch.rs)
//!          ──► score: checktls-score ─► ReceiverReport
//! ```
//!
//! What lives how long:
//!
//! | what | lifetime |
//! |---|---|
//! | options, resolver (its cache bounded in size, answers kept for their TTL), trust anchors, HTTPS connector, politeness limits (connections per address, overall concurrency) | the [`Checker`] |
//! | probes (SMTP dialogs and TLS facts), revocation verdicts, CRLs, MTA-STS policies | one [`Run`]: one call of [`Checker::check`], or one batch run ([`Checker::run`]) |
//! | fetch byte budget | one check |
//!
//! So a long-lived checker (a vendor's pre-send check, a monitor on a schedule) observes every
//! server afresh on every check, and its memory does not grow with the checks it has made.
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls::Error> {
//! use checktls::{Checker, ReceiverOptions};
//!
//! let checker = Checker::new(ReceiverOptions::default()).await?;
//! let report = checker.check(&"postmaster@example.com".parse()?).await?;
//! println!("{} {}", report.score(), report.target);
//! // Several targets that share MX hosts: one run probes each address once.
//! let run = checker.run();
//! for t in ["a@example.com", "b@example.com"] {
//!     run.check(&t.parse()?).await?;
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{OnceCell, Semaphore};
use tokio::time::Instant as Deadline;

use crate::dns::TrustAnchors;
use crate::dns::resolver::{Dnssec, Nameservers, Resolver, ResolverOptions};
use crate::error::Error;
use crate::fetch::{self, FetchContext};
use crate::judge::{self, JudgeContext};
use crate::options::{ReceiverOptions, StopAfter};
use crate::plan::HostPlan;
use crate::politeness::{AddressGroup, Ticket};
use crate::probe::{self, AuthGate, HostProbe, ProbeKey};
use crate::progress::{HostKey, HostObserver, Progress, ProgressSink};
use crate::report::{Finding, HostReport, MtaStsReport, ReceiverReport, Severity};
use crate::score::{self, TargetOptions};
use crate::target::Target;
use crate::tls::TrustStore;
use crate::tls::mta_sts::Policy;
use crate::tls::net::{Connector, TcpConnector};
use crate::tls::revocation::{FetchBudget, Revocation, RevocationCache, RevocationStatus};

mod stages;

type ProbeCell = Arc<OnceCell<Arc<HostProbe>>>;
type PolicyCell = Arc<OnceCell<Option<(MtaStsReport, Option<Policy>)>>>;

/// What lives as long as the checker: stable and expensive to make.
struct Inner {
    options: ReceiverOptions,
    resolver: Resolver,
    trust: Arc<TrustStore>,
    https: Arc<dyn Connector>,
    clock: Box<dyn Fn() -> SystemTime + Send + Sync>,
    /// Politeness: at most N connections at once per address. Entries no probe holds are
    /// dropped, so the map holds only addresses in use.
    per_address: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    global: Semaphore,
    /// Admission shared beyond this process (a fleet's leases), when given.
    gate: Option<Arc<dyn crate::fleet::AddressGate>>,
    /// Certificate judgements by their inputs (a pure function's memo; see judge.rs).
    certs: crate::judge::CertMemo,
}

/// Runs receiver tests. Cheap to clone; clones share the resolver, the trust anchors and the
/// politeness limits. What a test observes lives for one [`Run`] (see the module docs).
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
    /// host's addresses, global addresses only unless
    /// [`allow_non_global`](ReceiverOptions::allow_non_global)). Tests and the lab route host
    /// names to loopback with this; the connector given decides which addresses it reaches.
    pub fn https_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.https = Some(connector);
        self
    }

    /// The clock certificates, OCSP and CRLs are judged at (default: the system clock).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Builds the checker: checks the options and sets up the resolver.
    pub async fn build(self) -> Result<Checker, Error> {
        let options = self.options;
        options.validate()?;
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
        let policy = options.address_policy();
        Ok(Checker {
            inner: Arc::new(Inner {
                trust: Arc::new(self.trust.unwrap_or_else(TrustStore::mozilla)),
                https: self
                    .https
                    .unwrap_or_else(|| Arc::new(TcpConnector::with_policy(policy))),
                clock: self.clock.unwrap_or_else(|| Box::new(SystemTime::now)),
                resolver,
                per_address: Mutex::new(HashMap::new()),
                global: Semaphore::new(concurrency),
                gate: self.gate,
                certs: crate::judge::CertMemo::default(),
                options,
            }),
        })
    }
}

/// What one run observed: shared by the checks of the run, dropped with it.
#[derive(Default)]
pub(crate) struct Observed {
    probes: Mutex<HashMap<ProbeKey, ProbeCell>>,
    /// Revocation verdicts per leaf (SHA-256 of its DER).
    verdicts: Mutex<HashMap<Vec<u8>, Revocation>>,
    crls: RevocationCache,
    /// MTA-STS policies per domain.
    pub(crate) policies: Mutex<HashMap<String, PolicyCell>>,
    /// With the DNS cache off: the run's resolver, whose DNSKEY/DS cache lives with the run.
    resolver: OnceCell<Resolver>,
    /// Names that share an address and port: one session at a time, facts reused when SNI
    /// changes nothing (politeness.rs).
    groups: Mutex<HashMap<SocketAddr, Arc<AddressGroup>>>,
}

/// One run of receiver tests: the checks made through it share what they observe (an
/// address probed for one target is not probed again for another; a CRL is fetched once).
/// Make one per batch run, or per group of checks that should see the same servers; drop it
/// to observe afresh. Cheap to clone; clones share the observations.
#[derive(Clone)]
pub struct Run {
    checker: Checker,
    observed: Arc<Observed>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("probes_run", &self.probes_run())
            .finish_non_exhaustive()
    }
}

/// How much a checker and a run hold, for monitoring memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheSizes {
    /// Addresses with politeness state (only those in use).
    pub addresses: usize,
    /// Probes kept by the run.
    pub probes: usize,
    /// Revocation verdicts kept by the run.
    pub verdicts: usize,
    /// CRLs kept by the run.
    pub crls: usize,
    /// MTA-STS policies kept by the run.
    pub policies: usize,
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

    /// A new run: checks made through it share their observations.
    pub fn run(&self) -> Run {
        Run {
            checker: self.clone(),
            observed: Arc::new(Observed::default()),
        }
    }

    /// Runs the receiver test on one target, observing every server afresh (a run of its
    /// own). `Err` only when the test could not be set up; DNS failures, unreachable hosts
    /// and TLS failures are in the report.
    pub async fn check(&self, target: &Target) -> Result<ReceiverReport, Error> {
        self.run().check(target).await
    }

    /// What the checker itself holds (no run's observations).
    pub fn cache_sizes(&self) -> CacheSizes {
        CacheSizes {
            addresses: lock(&self.inner.per_address).len(),
            ..CacheSizes::default()
        }
    }

    /// The checker's clock.
    pub fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }

    /// The politeness semaphore of `address`, made on first use.
    fn semaphore(&self, address: IpAddr) -> Arc<Semaphore> {
        let per = self.inner.options.connections_per_address.max(1);
        let mut map = lock(&self.inner.per_address);
        Arc::clone(
            map.entry(address)
                .or_insert_with(|| Arc::new(Semaphore::new(per))),
        )
    }

    /// Drops the politeness state of `address` when no probe holds it.
    fn release(&self, address: IpAddr, sem: Arc<Semaphore>) {
        let mut map = lock(&self.inner.per_address);
        drop(sem);
        if map.get(&address).is_some_and(|s| Arc::strong_count(s) == 1) {
            map.remove(&address);
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What became of one plan.
pub(crate) enum Probed {
    /// Not probed (no address, skipped, quick mode).
    Not,
    /// The deadline passed first.
    CutOff,
    /// Probed.
    Done(Arc<HostProbe>),
}

impl Run {
    pub(crate) fn checker(&self) -> &Checker {
        &self.checker
    }

    pub(crate) fn observed(&self) -> &Observed {
        &self.observed
    }

    /// The resolver of this run: the checker's, or with the DNS cache off one whose DNSSEC
    /// keys cache lives as long as the run (each zone's keys asked once per run).
    pub(crate) async fn resolver(&self) -> Resolver {
        let shared = &self.checker.inner.resolver;
        if !self.checker.inner.options.resolver.no_cache {
            return shared.clone();
        }
        self.observed
            .resolver
            .get_or_init(|| async { shared.scoped().await.unwrap_or_else(|_| shared.clone()) })
            .await
            .clone()
    }

    /// How many distinct addresses (address, port, name, recipient) this run probed so far.
    pub fn probes_run(&self) -> usize {
        lock(&self.observed.probes)
            .values()
            .filter(|c| c.initialized())
            .count()
    }

    /// What the checker and this run hold.
    pub fn cache_sizes(&self) -> CacheSizes {
        CacheSizes {
            probes: lock(&self.observed.probes).len(),
            verdicts: lock(&self.observed.verdicts).len(),
            crls: self.observed.crls.len(),
            policies: lock(&self.observed.policies).len(),
            ..self.checker.cache_sizes()
        }
    }

    /// Runs the receiver test on one target within the run. See [`Checker::check`].
    pub async fn check(&self, target: &Target) -> Result<ReceiverReport, Error> {
        self.check_observed(target, None).await
    }

    /// As [`Run::check`], telling `progress` what happens as it happens: the hosts planned,
    /// then each stage and transcript line of each host (see [`progress`](crate::progress)).
    /// Probes this run already made for another target are not told again.
    pub async fn check_with_progress(
        &self,
        target: &Target,
        progress: &ProgressSink,
    ) -> Result<ReceiverReport, Error> {
        self.check_observed(target, Some(progress)).await
    }

    async fn check_observed(
        &self,
        target: &Target,
        progress: Option<&ProgressSink>,
    ) -> Result<ReceiverReport, Error> {
        let inner = &self.checker.inner;
        let opts = &inner.options;
        let started = Instant::now();
        let deadline = Deadline::now() + opts.deadline;
        let started_unix = self
            .checker
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut findings = Vec::new();

        // 1. Discovery, plans, probes and the MTA-STS policy, overlapped (stages.rs).
        let budget = FetchBudget::default();
        let fetch_cx = FetchContext {
            options: opts,
            trust: &inner.trust,
            https: inner.https.as_ref(),
            crls: &self.observed.crls,
            budget: &budget,
        };
        // The recipient matters only to a dialog that reaches RCPT TO. One that stops before
        // it is the same for every address at the domain, so such checks of many addresses
        // share one dialog per MX address within a run (examples/check_many.rs).
        let rcpt = target
            .address()
            .filter(|_| opts.stop_after >= StopAfter::RcptTo || opts.send_email);
        let staged = self
            .plan_and_probe(target, rcpt, deadline, &fetch_cx, progress, &mut findings)
            .await;
        let (discovery, plans, probes, mta_sts) = (
            staged.discovery,
            staged.plans,
            staged.probes,
            staged.mta_sts,
        );
        let sts_tested = discovery.as_ref().is_some_and(|d| d.mta_sts.is_some());

        // 3. Judge (pure), then revocation of the chains that validated, all at once.
        let judge_cx = JudgeContext {
            options: opts,
            trust: &inner.trust,
            now: self.checker.now(),
            certs: &inner.certs,
            domain: target.domain(),
        };
        let assessments: Vec<_> = plans
            .iter()
            .zip(&probes)
            .map(|(plan, p)| judge::assess(&judge_cx, plan, p.probe()))
            .collect();
        let revocations = futures_util::future::join_all(
            assessments
                .iter()
                .zip(&probes)
                .map(|(a, p)| self.revocation(&fetch_cx, a, p, judge_cx.now, deadline)),
        )
        .await;

        // 4. The score, then the host reports.
        let mut evidence = Vec::with_capacity(plans.len());
        let mut makers = Vec::with_capacity(plans.len());
        for (((plan, probe), assessment), revocation) in
            plans.iter().zip(&probes).zip(&assessments).zip(revocations)
        {
            let (e, make) = judge::host_report(
                &judge_cx,
                plan,
                probe.probe(),
                assessment,
                revocation,
                mta_sts.as_ref(),
                sts_tested,
                matches!(probe, Probed::CutOff),
            );
            evidence.push(e);
            makers.push(make);
        }
        let mut target_options = TargetOptions::default();
        target_options.ignore_no_connect = opts.ignore_no_connect;
        target_options.quick = opts.first_answering_host_only;
        let cf = score::score_target(&evidence, &target_options);
        let hosts: Vec<HostReport> = makers
            .into_iter()
            .zip(&cf.hosts)
            .map(|(make, s)| make(s))
            .collect();
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
        if opts.danger_auth_over_unverified_tls && opts.auth.is_some() {
            findings.push(Finding::new(
                "smtp.danger_auth_over_unverified_tls",
                Severity::Warning,
                "the option to send AUTH credentials over unverified TLS was set",
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

    /// The revocation verdict of a host, when its chain validated and checking is on; once
    /// per leaf and run.
    async fn revocation(
        &self,
        cx: &FetchContext<'_>,
        assessment: &judge::Assessment,
        probed: &Probed,
        now: SystemTime,
        deadline: Deadline,
    ) -> Option<Revocation> {
        if !self.checker.inner.options.revocation || probed.probe().is_none() {
            return None;
        }
        let leaf = assessment.chain.first()?;
        let issuer = match assessment.revocation_issuer() {
            Ok(i) => i,
            Err(why) => {
                return Some(Revocation {
                    status: RevocationStatus::fail(why),
                    source: None,
                    attempts: Vec::new(),
                    must_staple_unmet: false,
                });
            }
        };
        let key = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref())
            .as_ref()
            .to_vec();
        if let Some(r) = lock(&self.observed.verdicts).get(&key) {
            return Some(r.clone());
        }
        let check = fetch::revocation(cx, leaf, issuer, assessment.stapled.as_deref(), now);
        let r = match tokio::time::timeout_at(deadline, check).await {
            Ok(r) => r,
            Err(_) => Revocation {
                status: RevocationStatus::fail("the test's deadline passed first"),
                source: None,
                attempts: Vec::new(),
                must_staple_unmet: false,
            },
        };
        lock(&self.observed.verdicts).insert(key, r.clone());
        Some(r)
    }

    /// Probes each plan, sharing probes across the run's targets and keeping to the
    /// politeness limits and the deadline. Quick mode probes in preference order and stops
    /// at the first host that answers.
    pub(crate) async fn probe_all(
        &self,
        plans: &[HostPlan],
        rcpt: Option<&str>,
        deadline: Deadline,
        progress: Option<&ProgressSink>,
    ) -> Vec<Probed> {
        if self.checker.inner.options.first_answering_host_only {
            let mut out = Vec::with_capacity(plans.len());
            let mut answered = false;
            for plan in plans {
                if answered || !plan.probed() {
                    out.push(Probed::Not);
                    continue;
                }
                let p = self.probe_once(plan, None, rcpt, deadline, progress).await;
                answered = p.probe().is_some_and(HostProbe::answered);
                out.push(p);
            }
            return out;
        }
        // One task per address and port: its names in preference order, at most
        // `shared_address_sessions` at a time (politeness.rs); addresses in parallel.
        let mut by_address: Vec<(SocketAddr, Vec<(usize, HostPlan)>)> = Vec::new();
        for (i, plan) in plans.iter().enumerate() {
            let Some(address) = plan.address.filter(|_| plan.probed()) else {
                continue;
            };
            let at = SocketAddr::new(address, plan.port);
            match by_address.iter_mut().find(|(a, _)| *a == at) {
                Some((_, list)) => list.push((i, plan.clone())),
                None => by_address.push((at, vec![(i, plan.clone())])),
            }
        }
        let sessions = self.checker.inner.options.shared_address_sessions.max(1);
        let mut set = tokio::task::JoinSet::new();
        for (_, list) in by_address {
            let me = self.clone();
            let rcpt = rcpt.map(str::to_owned);
            let progress = progress.cloned();
            set.spawn(async move {
                use futures_util::StreamExt;
                futures_util::stream::iter(list)
                    .map(|(i, plan)| {
                        let me = &me;
                        let rcpt = rcpt.as_deref();
                        let progress = progress.as_ref();
                        async move {
                            (
                                i,
                                me.probe_once(&plan, None, rcpt, deadline, progress).await,
                            )
                        }
                    })
                    .buffered(sessions)
                    .collect::<Vec<_>>()
                    .await
            });
        }
        let mut out: Vec<Probed> = plans.iter().map(|_| Probed::Not).collect();
        while let Some(joined) = set.join_next().await {
            for (i, p) in joined.unwrap_or_default() {
                if let Some(slot) = out.get_mut(i) {
                    *slot = p;
                }
            }
        }
        out
    }

    /// A place in line at the plan's address (see [`Ticket`]), taken now: call it when the
    /// plan is made, so names that share an address are probed in the plans' order whatever
    /// order their tasks run in. `None` for a plan without an address.
    pub(crate) fn ticket(&self, plan: &HostPlan) -> Option<Ticket> {
        let address = SocketAddr::new(plan.address?, plan.port);
        let group = {
            let opts = &self.checker.inner.options;
            let mut map = lock(&self.observed.groups);
            Arc::clone(
                map.entry(address)
                    .or_insert_with(|| Arc::new(AddressGroup::new(opts.shared_address_sessions))),
            )
        };
        Some(group.ticket())
    }

    /// Probes one plan (once per run: a second call for the same name, address and
    /// recipient shares the first's probe). `ticket` is the plan's place in its address's
    /// line, taken when the plan was made; `None` takes one now.
    pub(crate) async fn probe_once(
        &self,
        plan: &HostPlan,
        ticket: Option<Ticket>,
        rcpt: Option<&str>,
        deadline: Deadline,
        progress: Option<&ProgressSink>,
    ) -> Probed {
        let Some(address) = plan.address else {
            return Probed::Not;
        };
        let Some(mut ticket) = ticket.or_else(|| self.ticket(plan)) else {
            return Probed::Not;
        };
        let key = ProbeKey {
            address: SocketAddr::new(address, plan.port),
            name: plan.name.clone(),
            rcpt: rcpt.map(str::to_owned),
        };
        let cell = {
            let mut map = lock(&self.observed.probes);
            Arc::clone(map.entry(key.clone()).or_default())
        };
        // A call that finds the probe made returns it; any other waits for its place in line,
        // even one that finds the probe being made (it then returns it when made): waiting on
        // the cell outside the line would hold an earlier place while the one making the
        // probe, with a later place, waits for it.
        let work = async {
            if let Some(made) = cell.get() {
                return Arc::clone(made);
            }
            // Names that share the address take turns, in the order their plans were made
            // (preference order within a target); the facts of another name are reused when
            // SNI does not change what the server presents.
            ticket.turn().await;
            let group = ticket.group();
            let probe = cell
                .get_or_init(|| async {
                    let sni_fixed = self.checker.inner.options.sni.is_some();
                    if let Some(probe) = group.reusable(&key, sni_fixed) {
                        return Arc::new(probe);
                    }
                    let sem = self.checker.semaphore(address);
                    let probe = Arc::new(
                        self.probe_politely(&sem, plan, &key, deadline, progress)
                            .await,
                    );
                    self.checker.release(address, sem);
                    group.learn(&key, &probe);
                    probe
                })
                .await;
            Arc::clone(probe)
        };
        let probed = match tokio::time::timeout_at(deadline, work).await {
            Ok(p) => Probed::Done(p),
            Err(_) => Probed::CutOff,
        };
        drop(ticket);
        if let Some(p) = progress {
            p.send(Progress::HostDone {
                host: host_key(plan),
            });
        }
        probed
    }

    /// Probes within the limits. A busy answer (a 4xx greeting, a 421 anywhere) backs off
    /// and tries again: the wait grows (1 s, 2 s, 3 s, 5 s, ... at most 60 s), or is what the
    /// reply's text names; tries go on while one more fits before the test's deadline.
    async fn probe_politely(
        &self,
        per_address: &Semaphore,
        plan: &HostPlan,
        key: &ProbeKey,
        deadline: Deadline,
        progress: Option<&ProgressSink>,
    ) -> HostProbe {
        let inner = &self.checker.inner;
        let auth_gate = inner.options.auth.as_ref().map(|_| {
            Arc::new(AuthGate {
                trust: Arc::clone(&inner.trust),
                plan: plan.clone(),
                name: plan.expected_name(&inner.options).map(str::to_owned),
                now: self.checker.now(),
            }) as Arc<dyn crate::smtp::PeerCheck>
        });
        let mut attempt = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            let probe = {
                let _global = inner.global.acquire().await.ok();
                let _local = per_address.acquire().await.ok();
                let _fleet = match (&inner.gate, plan.address) {
                    (Some(gate), Some(address)) => Some(
                        gate.enter(address, inner.options.connections_per_address.max(1))
                            .await,
                    ),
                    _ => None,
                };
                let observer = progress.map(|sink| {
                    Arc::new(HostObserver {
                        host: host_key(plan),
                        sink: sink.clone(),
                    }) as Arc<dyn crate::smtp::ProbeObserver>
                });
                probe::probe_host(&inner.options, plan, key, auth_gate.clone(), observer).await
            };
            let mut probe = probe;
            attempt += 1;
            probe.tries = attempt;
            probe.waited = waited;
            if !probe.busy {
                return probe;
            }
            let wait = crate::politeness::back_off(attempt, probe.record.outcome.retry_after());
            // One more try must fit before the deadline: the wait and a probe's stages.
            if Deadline::now() + wait + inner.options.timeout > deadline {
                return probe;
            }
            if let (Some(gate), Some(address)) = (&inner.gate, plan.address) {
                gate.back_off(address, wait).await;
            }
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }
}

impl Probed {
    fn probe(&self) -> Option<&HostProbe> {
        match self {
            Probed::Done(p) => Some(p),
            _ => None,
        }
    }
}

/// The key progress events name a host by.
pub(crate) fn host_key(plan: &HostPlan) -> HostKey {
    HostKey {
        name: plan.name.clone(),
        preference: plan.preference,
        address: plan.address,
        port: plan.port,
    }
}

pub(crate) fn deadline_finding(deadline: Duration, what: &str) -> Finding {
    Finding::new(
        "check.deadline",
        Severity::Error,
        format!(
            "{what} did not finish within the test's deadline ({} s)",
            deadline.as_secs()
        ),
    )
}
