//! The receiver test's DNS and SMTP overlapped: an MX host is probed as soon as its addresses
//! are known, while its TLSA records, the MTA-STS policy and the mail-domain records (SPF and
//! its walk, DMARC, BIMI, DKIM, TLS-RPT) are still being asked. What is reported is what the
//! whole discovery gives, as before; only the waiting changed.
//!
//! ```text
//!   start_discovery ─► MX plan ─► host 0 addresses ─► plans ─► probe tasks ───────┐
//!                                 host 1 addresses ─► plans ─► probe tasks ─────┐ │
//!                     _mta-sts TXT ─► policy fetch (once per domain and run) ──┤ │
//!                     TLSA of each host ─► into its plans ─────────────────────┤ │
//!                     TLS-RPT, SPF, DMARC, BIMI, DKIM ─► Discovery ────────────┴─┴─► judge
//! ```
//!
//! Quick mode probes in preference order and stops at the first host that answers, so it
//! probes once every host's addresses are known (not waiting for the records either). So does
//! a check with a progress sink, which is told the whole plan (`Progress::Planned`) before any
//! host's first line.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant as Deadline;

use super::{Probed, Run, deadline_finding, host_key, lock};
use crate::dns::discovery::{Discovery, TlsaLookup};
use crate::dns::resolver::{Discovering, DiscoveryOptions, Resolver};
use crate::dns::{DomainName, MxKind, MxLimit};
use crate::fetch::{self, FetchContext};
use crate::plan::{HostPlan, Planner};
use crate::progress::{Progress, ProgressSink};
use crate::report::{Finding, MtaStsReport, Severity};
use crate::target::{HostSpec, Target};
use crate::tls::mta_sts::Policy;

/// What the overlapped stages gave.
pub(crate) struct Staged {
    pub(crate) discovery: Option<Discovery>,
    pub(crate) plans: Vec<HostPlan>,
    pub(crate) probes: Vec<Probed>,
    pub(crate) mta_sts: Option<(MtaStsReport, Option<Policy>)>,
}

/// Probes started as their plans are made.
struct Prober {
    tasks: JoinSet<(usize, Probed)>,
    rcpt: Option<String>,
    deadline: Deadline,
    progress: Option<ProgressSink>,
}

impl Prober {
    fn start(&mut self, run: &Run, index: usize, plan: &HostPlan) {
        if !plan.probed() {
            return;
        }
        // The place in line is taken here, in plan order, not when the task first runs.
        let ticket = run.ticket(plan);
        let (run, plan, rcpt, deadline, progress) = (
            run.clone(),
            plan.clone(),
            self.rcpt.clone(),
            self.deadline,
            self.progress.clone(),
        );
        self.tasks.spawn(async move {
            let probed = run
                .probe_once(&plan, ticket, rcpt.as_deref(), deadline, progress.as_ref())
                .await;
            (index, probed)
        });
    }

    async fn finish(mut self, n: usize) -> Vec<Probed> {
        let mut out: Vec<Probed> = (0..n).map(|_| Probed::Not).collect();
        while let Some(joined) = self.tasks.join_next().await {
            if let Ok((i, p)) = joined
                && let Some(slot) = out.get_mut(i)
            {
                *slot = p;
            }
        }
        out
    }
}

impl Run {
    /// Discovery, plans, probes and the MTA-STS policy, overlapped (see the module docs).
    /// `rcpt` is the recipient of the dialogs (`None` when they stop before RCPT TO).
    pub(crate) async fn plan_and_probe(
        &self,
        target: &Target,
        rcpt: Option<String>,
        deadline: Deadline,
        fetch_cx: &FetchContext<'_>,
        progress: Option<&ProgressSink>,
        findings: &mut Vec<Finding>,
    ) -> Staged {
        let opts = self.checker().options();
        let port_of = |given: Option<u16>| given.unwrap_or_else(|| opts.effective_port());
        let quick = opts.first_answering_host_only;
        // Probes start while planning, unless they go one by one (quick) or the progress sink
        // is to hear the whole plan first.
        let eager = !quick && progress.is_none();
        let mut prober = Prober {
            tasks: JoinSet::new(),
            rcpt,
            deadline,
            progress: progress.cloned(),
        };
        let given = target.given_host();
        let (port, mx) = match &given {
            Some(given) => (port_of(given.port()), false),
            None => (port_of(None), true),
        };
        let resolver = self.resolver().await;
        let mut discovering = target
            .domain()
            .map(|d| self.start_discovery(&resolver, d, port, mx));
        // 1. Plans, each probed as soon as it is made; which MX host each plan is of.
        let mut host_of: Vec<usize> = Vec::new();
        let planned = tokio::time::timeout_at(deadline, async {
            let mut planner = Planner::new(opts, port);
            let mut target_findings = Vec::new();
            match (&given, discovering.as_mut()) {
                (Some(given), _) => match &given.host {
                    HostSpec::Ip(ip) => {
                        let plan = HostPlan::given(*ip, port);
                        if eager {
                            prober.start(self, 0, &plan);
                        }
                        return (vec![plan], target_findings);
                    }
                    HostSpec::Name(name) => {
                        let addrs = resolver.host_addresses(name, opts.ip).await;
                        let tlsa = resolver.tlsa(&addrs, port).await.ok();
                        planner.host(name, 0, &addrs, tlsa, Vec::new());
                        if eager {
                            for (j, plan) in planner.planned().iter().enumerate() {
                                prober.start(self, j, plan);
                            }
                        }
                    }
                },
                (None, Some(d)) => {
                    match d.mx_plan().await {
                        Err(e) => target_findings.push(Finding::new(
                            "dns.mx_failed",
                            Severity::Error,
                            format!("the MX lookup failed: {e}"),
                        )),
                        Ok(plan) => {
                            target_findings.extend(kind_finding(plan.kind));
                            let limit_n = opts.host_limit.select(&plan.selected);
                            for i in 0..limit_n {
                                let Some(host) = d.host(i).await else { break };
                                // Credentials wait for DANE's say (the AuthGate reads TLSA).
                                let tlsa = if opts.auth.is_some() {
                                    first_tlsa(d.tlsa(i).await)
                                } else {
                                    None
                                };
                                let before = planner.planned().len();
                                planner.host(
                                    &host.record.exchange,
                                    host.record.preference,
                                    &host.addresses,
                                    tlsa,
                                    host.findings.iter().map(crate::report::reported).collect(),
                                );
                                for (j, plan) in planner.planned().iter().enumerate().skip(before) {
                                    host_of.push(i);
                                    if eager {
                                        prober.start(self, j, plan);
                                    }
                                }
                            }
                        }
                    }
                }
                // A domain or an address target is discovered; an IP target is given.
                (None, None) => {}
            }
            let (plans, capped) = planner.finish();
            target_findings.extend(capped);
            (plans, target_findings)
        })
        .await;
        let (mut plans, target_findings) = match planned {
            Ok(p) => p,
            Err(_) => {
                findings.push(deadline_finding(opts.deadline, "DNS discovery"));
                if let Some(p) = progress {
                    p.send(Progress::Planned { hosts: Vec::new() });
                }
                return Staged {
                    discovery: None,
                    plans: Vec::new(),
                    probes: Vec::new(),
                    mta_sts: None,
                };
            }
        };
        findings.extend(target_findings);
        if let Some(p) = progress {
            p.send(Progress::Planned {
                hosts: plans.iter().map(|h| (host_key(h), h.probed())).collect(),
            });
            if !quick {
                for (j, plan) in plans.iter().enumerate() {
                    prober.start(self, j, plan);
                }
            }
        }

        // 2. The MTA-STS policy (once per domain and run) while the probes run.
        let policy = async {
            let (Some(d), Some(discovering)) = (target.domain(), discovering.as_mut()) else {
                return None;
            };
            let cell = {
                let mut m = lock(&self.observed().policies);
                Arc::clone(m.entry(d.to_string()).or_default())
            };
            cell.get_or_init(|| async {
                let txt = discovering.mta_sts().await;
                fetch::mta_sts_policy(fetch_cx, d, txt.as_ref()).await
            })
            .await
            .clone()
        };
        let probing = async {
            if quick {
                self.probe_all(&plans, prober.rcpt.as_deref(), deadline, progress)
                    .await
            } else {
                prober.finish(plans.len()).await
            }
        };
        let (mta_sts, probes) = tokio::join!(tokio::time::timeout_at(deadline, policy), probing);
        let mta_sts = mta_sts.unwrap_or_else(|_| {
            findings.push(deadline_finding(opts.deadline, "the MTA-STS policy fetch"));
            None
        });

        // 3. The TLSA records into the plans, and the rest of the discovery.
        let discovery = match discovering {
            None => None,
            Some(mut d) => {
                let rest = tokio::time::timeout_at(deadline, async {
                    for (plan, &host) in plans.iter_mut().zip(&host_of) {
                        if plan.tlsa.is_none() {
                            plan.tlsa = first_tlsa(d.tlsa(host).await);
                        }
                    }
                    d.finish().await
                })
                .await;
                match rest {
                    Ok(found) => Some(found),
                    Err(_) => {
                        findings.push(deadline_finding(opts.deadline, "DNS discovery"));
                        None
                    }
                }
            }
        };
        Staged {
            discovery,
            plans,
            probes,
            mta_sts,
        }
    }

    fn start_discovery(
        &self,
        resolver: &Resolver,
        domain: &DomainName,
        port: u16,
        mx: bool,
    ) -> Discovering {
        let opts = self.checker().options();
        let mut d = DiscoveryOptions::default();
        d.mx_limit = if mx { opts.mx_limit } else { MxLimit::All };
        d.ip = opts.ip;
        d.tlsa_ports = vec![port];
        d.reverse_dns = false;
        d.authoritative = opts.resolver.authoritative;
        resolver.start_discovery(domain, &d)
    }
}

fn first_tlsa(host: Option<crate::dns::discovery::HostDiscovery>) -> Option<TlsaLookup> {
    host?.tlsa.into_iter().next()?.ok()
}

/// What the kind of MX set says at the target's level.
fn kind_finding(kind: MxKind) -> Option<Finding> {
    match kind {
        MxKind::Null => Some(Finding::new(
            "dns.null_mx",
            Severity::Error,
            "the domain publishes a null MX (RFC 7505): it accepts no mail",
        )),
        MxKind::NoDomain => Some(Finding::new(
            "dns.no_domain",
            Severity::Error,
            "the domain does not exist (NXDOMAIN)",
        )),
        MxKind::Implicit => Some(Finding::new(
            "dns.implicit_mx",
            Severity::Warning,
            "no MX records: the domain's own address is the implicit MX",
        )),
        _ => None,
    }
}
