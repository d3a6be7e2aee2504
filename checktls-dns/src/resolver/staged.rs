//! A whole-domain discovery in stages, for a caller that acts on each part as soon as it is
//! known: the receiver test connects to the first MX host while the mail-domain records
//! (SPF and its walk, DMARC, BIMI with its fallback, DKIM, TLS-RPT) are still being asked.
//!
//! ```text
//!   Resolver::start_discovery(domain, options)          returns at once; tasks ask:
//!     ├─ MX ─► plan ─► per selected host, concurrently:  A/AAAA ─► TLSA (+ reverse DNS)
//!     ├─ _mta-sts TXT
//!     └─ TLS-RPT, SPF (+ walk), DMARC (+ fallback), BIMI (+ fallback), DKIM
//!
//!   discovering.mx_plan().await      MX kind and the selected hosts, once the MX answer is in
//!   discovering.host(i).await        host i with its addresses, once they are in
//!   discovering.tlsa(i).await        host i's TLSA (and reverse DNS)
//!   discovering.mta_sts().await      the _mta-sts TXT record
//!   discovering.finish().await       the whole Discovery, as Resolver::discover gives it
//! ```
//!
//! Dropping a `Discovering` stops its questions.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::discover::{join_all, maybe, mx_set};
use super::{DiscoveryOptions, Resolver};
use crate::answer::Answer;
use crate::discovery::{
    BimiCheck, Discovery, DkimCheck, DmarcCheck, HostAddresses, HostDiscovery, MxHost, SpfCheck,
    TxtCheck,
};
use crate::mx::MxPlan;
use crate::records::mta_sts::MtaStsTxt;
use crate::records::tls_rpt::TlsRptRecord;
use crate::{DomainName, Error, MxRecord};

type MtaSts = Option<Result<TxtCheck<MtaStsTxt>, Error>>;

/// The mail-domain records other than MTA-STS.
struct Records {
    tls_rpt: Option<Result<TxtCheck<TlsRptRecord>, Error>>,
    spf: Option<Result<SpfCheck, Error>>,
    dmarc: Option<Result<DmarcCheck, Error>>,
    bimi: Option<Result<BimiCheck, Error>>,
    dkim: Vec<DkimCheck>,
}

enum Event {
    /// Asking the authoritative servers directly could not be set up.
    SetupFailed(Error),
    Mx(Result<(Answer<MxRecord>, MxPlan), Error>),
    Addresses(usize, HostAddresses),
    Host(usize, HostDiscovery),
    MtaSts(MtaSts),
    Records(Box<Records>),
}

/// A discovery under way (see the module docs). Made by [`Resolver::start_discovery`].
pub struct Discovering {
    domain: DomainName,
    options: DiscoveryOptions,
    events: mpsc::UnboundedReceiver<Event>,
    _tasks: JoinSet<()>,
    setup: Option<Error>,
    mx: Option<Result<(Answer<MxRecord>, MxPlan), Error>>,
    addresses: Vec<Option<HostAddresses>>,
    hosts: Vec<Option<HostDiscovery>>,
    mta_sts: Option<MtaSts>,
    records: Option<Box<Records>>,
    /// Every event has arrived.
    done: bool,
}

impl std::fmt::Debug for Discovering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovering")
            .field("domain", &self.domain)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// Starts a whole-domain discovery and returns at once; see [`Discovering`]. Must be called
    /// within a tokio runtime.
    pub fn start_discovery(&self, domain: &DomainName, options: &DiscoveryOptions) -> Discovering {
        let (tx, events) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        let me = self.clone();
        let (d, o) = (domain.clone(), options.clone());
        tasks.spawn(async move { run(me, d, o, tx).await });
        Discovering {
            domain: domain.clone(),
            options: options.clone(),
            events,
            _tasks: tasks,
            setup: None,
            mx: None,
            addresses: Vec::new(),
            hosts: Vec::new(),
            mta_sts: None,
            records: None,
            done: false,
        }
    }
}

impl Discovering {
    /// Takes the next event in; `false` when there are no more.
    async fn step(&mut self) -> bool {
        if self.done {
            return false;
        }
        let Some(event) = self.events.recv().await else {
            self.done = true;
            return false;
        };
        match event {
            Event::SetupFailed(e) => self.setup = Some(e),
            Event::Mx(mx) => {
                let n = mx.as_ref().map_or(0, |(_, plan)| plan.selected.len());
                self.addresses = vec![None; n];
                self.hosts = vec![None; n];
                self.mx = Some(mx);
            }
            Event::Addresses(i, a) => {
                if let Some(slot) = self.addresses.get_mut(i) {
                    *slot = Some(a);
                }
            }
            Event::Host(i, h) => {
                if let Some(slot) = self.hosts.get_mut(i) {
                    *slot = Some(h);
                }
            }
            Event::MtaSts(m) => self.mta_sts = Some(m),
            Event::Records(r) => self.records = Some(r),
        }
        true
    }

    /// The MX plan (kind of MX set, hosts selected for testing in delivery order), once the
    /// MX answer is in.
    pub async fn mx_plan(&mut self) -> Result<MxPlan, Error> {
        while self.mx.is_none() && self.setup.is_none() && self.step().await {}
        match (&self.mx, &self.setup) {
            (_, Some(e)) | (Some(Err(e)), _) => Err(e.clone()),
            (Some(Ok((_, plan))), _) => Ok(plan.clone()),
            (None, None) => Err(unfinished()),
        }
    }

    async fn mx_hosts(&mut self) -> Vec<MxRecord> {
        self.mx_plan().await.map(|p| p.selected).unwrap_or_default()
    }

    /// The selected host at `index` (delivery order) with its addresses and findings, once its
    /// addresses are known; `None` when there is no such host.
    pub async fn host(&mut self, index: usize) -> Option<MxHost> {
        let record = self.mx_hosts().await.into_iter().nth(index)?;
        while self.addresses.get(index).is_some_and(Option::is_none) && self.step().await {}
        let addresses = self.addresses.get(index).cloned().flatten()?;
        let (kind, ip) = match &self.mx {
            Some(Ok((_, plan))) => (plan.kind, self.options.ip),
            _ => return None,
        };
        let findings = super::discover::host_findings(&addresses, kind, ip);
        Some(MxHost {
            record,
            addresses,
            findings,
        })
    }

    /// The TLSA lookups (and reverse DNS, when asked) of the selected host at `index`.
    pub async fn tlsa(&mut self, index: usize) -> Option<HostDiscovery> {
        self.mx_hosts().await;
        while self.hosts.get(index).is_some_and(Option::is_none) && self.step().await {}
        self.hosts.get(index).cloned().flatten()
    }

    /// The `_mta-sts` TXT record (`None` when not asked for).
    pub async fn mta_sts(&mut self) -> MtaSts {
        while self.mta_sts.is_none() && self.setup.is_none() && self.step().await {}
        self.mta_sts.clone().flatten()
    }

    /// Waits for every part and gives the whole discovery.
    pub async fn finish(mut self) -> Discovery {
        while self.step().await {}
        let domain = self.domain;
        if let Some(e) = self.setup {
            return Discovery {
                domain,
                authoritative: true,
                mx: Err(e),
                hosts: Vec::new(),
                mta_sts: None,
                tls_rpt: None,
                spf: None,
                dmarc: None,
                bimi: None,
                dkim: Vec::new(),
            };
        }
        let mx = match self.mx {
            Some(Ok((answer, plan))) => {
                let addresses: Vec<HostAddresses> = plan
                    .selected
                    .iter()
                    .zip(self.addresses)
                    .map(|(r, a)| {
                        a.unwrap_or_else(|| HostAddresses::new(r.exchange.clone(), None, None))
                    })
                    .collect();
                Ok(mx_set(&domain, answer, plan, addresses, self.options.ip))
            }
            Some(Err(e)) => Err(e),
            None => Err(unfinished()),
        };
        let hosts = if mx.is_ok() {
            self.hosts.into_iter().flatten().collect()
        } else {
            Vec::new()
        };
        let records = self.records.map(|r| *r).unwrap_or(Records {
            tls_rpt: None,
            spf: None,
            dmarc: None,
            bimi: None,
            dkim: Vec::new(),
        });
        Discovery {
            domain,
            authoritative: self.options.authoritative,
            mx,
            hosts,
            mta_sts: self.mta_sts.flatten(),
            tls_rpt: records.tls_rpt,
            spf: records.spf,
            dmarc: records.dmarc,
            bimi: records.bimi,
            dkim: records.dkim,
        }
    }
}

fn unfinished() -> Error {
    Error::InvalidOption {
        option: "discovery".into(),
        reason: "the MX lookup did not finish".into(),
    }
}

/// Everything the discovery asks, sending each part as it is known.
async fn run(
    resolver: Resolver,
    domain: DomainName,
    options: DiscoveryOptions,
    tx: mpsc::UnboundedSender<Event>,
) {
    let resolver = if options.authoritative {
        match resolver.authoritative_for(&domain).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Event::SetupFailed(e));
                return;
            }
        }
    } else {
        resolver
    };
    let mut tasks = JoinSet::new();
    {
        let (r, d, o, tx) = (
            resolver.clone(),
            domain.clone(),
            options.clone(),
            tx.clone(),
        );
        tasks.spawn(async move {
            let found = maybe(o.mta_sts, r.mta_sts(&d)).await;
            let _ = tx.send(Event::MtaSts(found));
        });
    }
    {
        let (r, d, o, tx) = (
            resolver.clone(),
            domain.clone(),
            options.clone(),
            tx.clone(),
        );
        tasks.spawn(async move {
            let selector = o.bimi_selector.clone().unwrap_or_default();
            let (tls_rpt, spf, dmarc, bimi, dkim) = tokio::join!(
                maybe(o.tls_rpt, r.tls_rpt(&d)),
                maybe(o.spf, r.spf(&d)),
                maybe(o.dmarc, r.dmarc(&d)),
                maybe(o.bimi_selector.is_some(), r.bimi(&d, &selector)),
                r.dkim_selectors(&d, &o.dkim_selectors, o.common_dkim_selectors),
            );
            let _ = tx.send(Event::Records(Box::new(Records {
                tls_rpt,
                spf,
                dmarc,
                bimi,
                dkim,
            })));
        });
    }
    match resolver.lookup_mx(&domain).await {
        Err(e) => {
            let _ = tx.send(Event::Mx(Err(e)));
        }
        Ok(answer) => {
            let plan = MxPlan::new(&domain, &answer, options.mx_limit);
            let selected = plan.selected.clone();
            let _ = tx.send(Event::Mx(Ok((answer, plan))));
            // Each host's addresses, then its TLSA, as soon as each is known; at most
            // `concurrency` hosts at once.
            let limit = Arc::new(Semaphore::new(resolver.options().concurrency.max(1)));
            let futures: Vec<_> = selected
                .into_iter()
                .enumerate()
                .map(|(i, record)| {
                    let (r, o, tx, limit) = (
                        resolver.clone(),
                        options.clone(),
                        tx.clone(),
                        Arc::clone(&limit),
                    );
                    async move {
                        let _permit = limit.acquire_owned().await.ok();
                        let addresses = r.host_addresses(&record.exchange, o.ip).await;
                        let _ = tx.send(Event::Addresses(i, addresses.clone()));
                        let host = r
                            .host_discovery(addresses, o.tlsa_ports.clone(), o.reverse_dns)
                            .await;
                        let _ = tx.send(Event::Host(i, host));
                    }
                })
                .collect();
            let n = futures.len();
            join_all(n, futures).await;
        }
    }
    while tasks.join_next().await.is_some() {}
}
