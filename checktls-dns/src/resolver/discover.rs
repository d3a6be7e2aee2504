//! Composed lookups: MX set with addresses, TLSA by RFC 7672's rules, reverse DNS, the mail
//! records with their parsers, and the whole-domain discovery.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::engine::Kind;
use super::{DiscoveryOptions, Resolver};
use crate::answer::{Answer, Outcome, RecordType, TxtRecord};
use crate::discovery::{
    BimiCheck, COMMON_DKIM_SELECTORS, DaneApplicability, Discovery, DkimCheck, DmarcCheck,
    ExternalCheck, ForwardCheck, HostAddresses, HostDiscovery, IpChoice, MxHost, MxSet, ReverseDns,
    SpfCheck, TlsaLookup, TxtCheck,
};
use crate::mx::{MxKind, MxLimit, MxPlan};
use crate::records::Parsed;
use crate::records::bimi::{self, BimiRecord};
use crate::records::dkim::{self, DkimKey};
use crate::records::dmarc;
use crate::records::mta_sts::{self, MtaStsTxt};
use crate::records::spf::{self, SpfQuery, SpfReply, SpfWalk};
use crate::records::tls_rpt::{self, TlsRptRecord};
use crate::{DomainName, Error, Finding, Proof, TlsaUsage, organizational_domain};

/// Runs futures on tasks, at most `limit` at once, and gives their outputs in order.
async fn join_all<T, F>(limit: usize, futures: Vec<F>) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let semaphore = Arc::new(Semaphore::new(limit.max(1)));
    let mut set = JoinSet::new();
    let n = futures.len();
    for (i, f) in futures.into_iter().enumerate() {
        let semaphore = Arc::clone(&semaphore);
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await.ok();
            (i, f.await)
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        match done {
            Ok((i, v)) => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(v);
                }
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    out.into_iter().flatten().collect()
}

async fn maybe<T>(on: bool, f: impl Future<Output = T>) -> Option<T> {
    if on { Some(f.await) } else { None }
}

fn texts(answer: &Answer<TxtRecord>) -> Vec<String> {
    answer.records().iter().map(TxtRecord::text).collect()
}

impl Resolver {
    /// The A and AAAA records of a host, as chosen.
    pub async fn host_addresses(&self, host: &DomainName, ip: IpChoice) -> HostAddresses {
        let (v4, v6) = tokio::join!(
            maybe(ip.v4(), self.lookup_a(host)),
            maybe(ip.v6(), self.lookup_aaaa(host)),
        );
        HostAddresses::new(host.clone(), v4, v6)
    }

    /// A domain's MX set in delivery order, null and implicit MX recognised, limited as asked,
    /// with every address of each selected host.
    pub async fn mx(
        &self,
        domain: &DomainName,
        limit: MxLimit,
        ip: IpChoice,
    ) -> Result<MxSet, Error> {
        let answer = self.lookup_mx(domain).await?;
        let plan = MxPlan::new(domain, &answer, limit);
        let futures: Vec<_> = plan
            .selected
            .iter()
            .map(|r| {
                let me = self.clone();
                let host = r.exchange.clone();
                async move { me.host_addresses(&host, ip).await }
            })
            .collect();
        let addresses = join_all(self.options().concurrency, futures).await;
        let mut findings = plan.findings;
        if answer.proof.is_bogus() {
            findings.push(Finding::error(
                "mx.bogus",
                format!("the MX answer is DNSSEC-bogus: {}", answer.proof),
            ));
        }
        let hosts = plan
            .selected
            .into_iter()
            .zip(addresses)
            .map(|(record, addresses)| {
                let findings = host_findings(&addresses, plan.kind, ip);
                MxHost {
                    record,
                    addresses,
                    findings,
                }
            })
            .collect();
        Ok(MxSet {
            domain: domain.clone(),
            answer,
            kind: plan.kind,
            hosts,
            skipped: plan.skipped,
            findings,
        })
    }

    /// The TLSA records for a host's port, by RFC 7672 §2.2.2: when the host's addresses are
    /// DNSSEC-secure and reached through CNAMEs, first at the expanded name, then at the host
    /// name. TLSA records reached through CNAMEs are followed like any answer.
    pub async fn tlsa(&self, host: &HostAddresses, port: u16) -> Result<TlsaLookup, Error> {
        let original = host.host.clone();
        let expanded = host.canonical_name().clone();
        let address_proof = host.proof();
        let secure = address_proof.is_secure();
        let mut findings = Vec::new();
        if !secure {
            findings.push(Finding::info(
                "tlsa.insecure_host",
                format!(
                    "the addresses of {original} are {address_proof}, not DNSSEC-secure: DANE does not apply (RFC 7672 §2.2.1)"
                ),
            ));
        }
        let mut candidates = Vec::new();
        if secure && expanded != original {
            candidates.push(expanded);
        }
        candidates.push(original.clone());
        let mut tried = Vec::new();
        let count = candidates.len();
        for (i, base) in candidates.into_iter().enumerate() {
            let name = base.child("_tcp")?.child(&format!("_{port}"))?;
            let answer = self.lookup_tlsa(&name).await?;
            let secure_records = answer.proof.is_secure() && !answer.records().is_empty();
            if secure_records || answer.proof.is_bogus() || i + 1 == count {
                tlsa_findings(&name, &answer, &mut findings);
                let applicability = DaneApplicability::new(
                    address_proof,
                    answer.proof.clone(),
                    !answer.records().is_empty(),
                );
                return Ok(TlsaLookup {
                    host: original,
                    port,
                    base,
                    answer,
                    tried,
                    applicability,
                    findings,
                });
            }
            tried.push(answer);
        }
        // `candidates` always holds the host name, so the loop returns.
        Err(Error::InvalidOption {
            option: "tlsa".into(),
            reason: "no TLSA base domain".into(),
        })
    }

    /// The PTR records of an address and whether they resolve back to it (FCrDNS).
    pub async fn reverse_dns(&self, address: IpAddr) -> Result<ReverseDns, Error> {
        let ptr = self.lookup_ptr(address).await?;
        let names: Vec<DomainName> = ptr.records().iter().take(10).cloned().collect();
        let futures: Vec<_> = names
            .into_iter()
            .map(|name| {
                let me = self.clone();
                async move {
                    let result = match address {
                        IpAddr::V4(_) => me.lookup_a(&name).await.map(|a| a.map(IpAddr::V4)),
                        IpAddr::V6(_) => me.lookup_aaaa(&name).await.map(|a| a.map(IpAddr::V6)),
                    };
                    let matches = result
                        .as_ref()
                        .is_ok_and(|a| a.records().contains(&address));
                    ForwardCheck {
                        name,
                        result,
                        matches,
                    }
                }
            })
            .collect();
        let forward = join_all(self.options().concurrency, futures).await;
        let confirmed = forward.iter().any(|f| f.matches);
        Ok(ReverseDns {
            address,
            ptr,
            forward,
            confirmed,
        })
    }

    async fn txt_check<T>(
        &self,
        name: &DomainName,
        check: fn(&[String]) -> Parsed<T>,
    ) -> Result<TxtCheck<T>, Error> {
        let answer = self.lookup_txt(name).await?;
        let parsed = check(&texts(&answer));
        Ok(TxtCheck { answer, parsed })
    }

    /// The MTA-STS TXT record at `_mta-sts.<domain>`.
    pub async fn mta_sts(&self, domain: &DomainName) -> Result<TxtCheck<MtaStsTxt>, Error> {
        self.txt_check(&domain.child("_mta-sts")?, mta_sts::check::<String>)
            .await
    }

    /// The TLS-RPT record at `_smtp._tls.<domain>`.
    pub async fn tls_rpt(&self, domain: &DomainName) -> Result<TxtCheck<TlsRptRecord>, Error> {
        self.txt_check(
            &domain.child("_tls")?.child("_smtp")?,
            tls_rpt::check::<String>,
        )
        .await
    }

    /// The DKIM key at `<selector>._domainkey.<domain>`.
    pub async fn dkim(
        &self,
        domain: &DomainName,
        selector: &str,
    ) -> Result<TxtCheck<DkimKey>, Error> {
        self.txt_check(
            &domain.child("_domainkey")?.child(selector)?,
            dkim::check::<String>,
        )
        .await
    }

    /// DKIM keys for the requested selectors (each reported) and, if asked, the common selectors
    /// (reported when a record exists).
    pub async fn dkim_selectors(
        &self,
        domain: &DomainName,
        requested: &[String],
        common: bool,
    ) -> Vec<DkimCheck> {
        let mut selectors: Vec<(String, bool)> =
            requested.iter().map(|s| (s.clone(), true)).collect();
        if common {
            for s in COMMON_DKIM_SELECTORS {
                if !requested.iter().any(|r| r == s) {
                    selectors.push(((*s).to_owned(), false));
                }
            }
        }
        let futures: Vec<_> = selectors
            .into_iter()
            .map(|(selector, requested)| {
                let me = self.clone();
                let domain = domain.clone();
                async move {
                    let result = me.dkim(&domain, &selector).await;
                    DkimCheck {
                        selector,
                        requested,
                        result,
                    }
                }
            })
            .collect();
        join_all(self.options().concurrency, futures)
            .await
            .into_iter()
            .filter(|c| {
                c.requested
                    || c.result
                        .as_ref()
                        .is_ok_and(|t| !t.answer.records().is_empty())
            })
            .collect()
    }

    /// The SPF record and its lookup count through includes and redirects.
    pub async fn spf(&self, domain: &DomainName) -> Result<SpfCheck, Error> {
        let answer = self.lookup_txt(domain).await?;
        let root_texts = texts(&answer);
        let parsed = spf::check(&root_texts);
        let mut walk = SpfWalk::new(domain.clone());
        while let Some(q) = walk.next_query() {
            let reply = match &q {
                SpfQuery::Txt(d) if d == domain => txt_reply(Ok(answer.clone())),
                SpfQuery::Txt(d) => txt_reply(self.lookup_txt(d).await),
                SpfQuery::Mx(d) => count_reply(self.lookup_mx(d).await),
                SpfQuery::Address(d) => match count_reply(self.lookup_a(d).await) {
                    SpfReply::Found(n) => SpfReply::Found(n),
                    SpfReply::TempError => SpfReply::TempError,
                    _ => count_reply(self.lookup_aaaa(d).await),
                },
            };
            walk.reply(reply);
        }
        Ok(SpfCheck {
            answer,
            parsed,
            lookups: walk.finish(),
        })
    }

    /// The DMARC policy: `_dmarc.<domain>`, then `_dmarc.<organisational domain>` when the first
    /// has no DMARC record (RFC 7489 §6.6.3), and the authorisation of external report
    /// destinations (§7.1).
    pub async fn dmarc(&self, domain: &DomainName) -> Result<DmarcCheck, Error> {
        let first = self.lookup_txt(&domain.child("_dmarc")?).await?;
        let first_texts = texts(&first);
        let mut parsed = dmarc::check(&first_texts);
        let mut policy_domain = parsed.value.as_ref().map(|_| domain.clone());
        let mut answers = vec![first];
        let mut fallback = false;
        let mut findings = Vec::new();
        if !first_texts.iter().any(|t| dmarc::is_dmarc(t))
            && let Some(org) = organizational_domain(domain).filter(|o| o != domain)
        {
            let second = self.lookup_txt(&org.child("_dmarc")?).await?;
            parsed = dmarc::check(&texts(&second));
            answers.push(second);
            fallback = true;
            if parsed.value.is_some() {
                findings.push(Finding::info(
                        "dmarc.organizational",
                        format!(
                            "no DMARC record at _dmarc.{domain}: the record of the organisational domain {org} applies (its sp= for subdomains)"
                        ),
                    ));
                policy_domain = Some(org);
            }
        }
        let mut external = Vec::new();
        if let (Some(record), Some(pd)) = (&parsed.value, &policy_domain) {
            for destination in dmarc::external_destinations(pd, record) {
                let answer = self.lookup_txt(&destination.verification_name).await;
                let authorised = answer.as_ref().is_ok_and(|a| dmarc::authorises(&texts(a)));
                match &answer {
                    Ok(_) if !authorised => findings.push(Finding::error(
                        "dmarc.external_unauthorised",
                        format!(
                            "{} does not authorise reports for {pd}: no v=DMARC1 record at {}; receivers will not send to it (RFC 7489 §7.1)",
                            destination.domain, destination.verification_name
                        ),
                    )),
                    Err(e) => findings.push(Finding::warning(
                        "dmarc.external_unknown",
                        format!("could not check the authorisation of {}: {e}", destination.domain),
                    )),
                    Ok(_) => {}
                }
                external.push(ExternalCheck {
                    destination,
                    answer,
                    authorised,
                });
            }
        }
        Ok(DmarcCheck {
            domain: domain.clone(),
            policy_domain,
            organizational_fallback: fallback,
            answers,
            parsed,
            external,
            findings,
        })
    }

    /// The BIMI record at `<selector>._bimi.<domain>`, then at the organisational domain.
    pub async fn bimi(&self, domain: &DomainName, selector: &str) -> Result<BimiCheck, Error> {
        let first = self
            .lookup_txt(&domain.child("_bimi")?.child(selector)?)
            .await?;
        let first_texts = texts(&first);
        let mut parsed: Parsed<BimiRecord> = bimi::check(&first_texts);
        let mut answers = vec![first];
        let mut fallback = false;
        let is_bimi = |t: &String| t.starts_with("v=BIMI1");
        if !first_texts.iter().any(is_bimi)
            && let Some(org) = organizational_domain(domain).filter(|o| o != domain)
        {
            let second = self
                .lookup_txt(&org.child("_bimi")?.child(selector)?)
                .await?;
            parsed = bimi::check(&texts(&second));
            answers.push(second);
            fallback = true;
        }
        Ok(BimiCheck {
            selector: selector.to_owned(),
            organizational_fallback: fallback,
            answers,
            parsed,
        })
    }

    /// Everything about a domain: the MX set with addresses, TLSA and reverse DNS per host, and
    /// the mail records, looked up concurrently. Each part that fails is an `Err` in its place;
    /// the rest is kept.
    pub async fn discover(&self, domain: &DomainName, options: &DiscoveryOptions) -> Discovery {
        let (resolver, authoritative) = if options.authoritative {
            match self.authoritative_for(domain).await {
                Ok(r) => (r, true),
                Err(e) => {
                    return Discovery {
                        domain: domain.clone(),
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
            }
        } else {
            (self.clone(), false)
        };
        let r = &resolver;
        let bimi_selector = options.bimi_selector.clone().unwrap_or_default();
        let (mx, mta_sts, tls_rpt, spf, dmarc, bimi, dkim) = tokio::join!(
            r.mx(domain, options.mx_limit, options.ip),
            maybe(options.mta_sts, r.mta_sts(domain)),
            maybe(options.tls_rpt, r.tls_rpt(domain)),
            maybe(options.spf, r.spf(domain)),
            maybe(options.dmarc, r.dmarc(domain)),
            maybe(
                options.bimi_selector.is_some(),
                r.bimi(domain, &bimi_selector)
            ),
            r.dkim_selectors(
                domain,
                &options.dkim_selectors,
                options.common_dkim_selectors
            ),
        );
        let hosts = match &mx {
            Ok(set) => {
                let futures: Vec<_> = set
                    .hosts
                    .iter()
                    .map(|h| {
                        let me = resolver.clone();
                        let addresses = h.addresses.clone();
                        let ports = options.tlsa_ports.clone();
                        let reverse = options.reverse_dns;
                        async move { me.host_discovery(addresses, ports, reverse).await }
                    })
                    .collect();
                join_all(resolver.options().concurrency, futures).await
            }
            Err(_) => Vec::new(),
        };
        Discovery {
            domain: domain.clone(),
            authoritative,
            mx,
            hosts,
            mta_sts,
            tls_rpt,
            spf,
            dmarc,
            bimi,
            dkim,
        }
    }

    async fn host_discovery(
        &self,
        addresses: HostAddresses,
        ports: Vec<u16>,
        reverse: bool,
    ) -> HostDiscovery {
        let mut tlsa = Vec::with_capacity(ports.len());
        for port in ports {
            tlsa.push(self.tlsa(&addresses, port).await);
        }
        let reverse = if reverse {
            let futures: Vec<_> = addresses
                .addresses()
                .into_iter()
                .map(|ip| {
                    let me = self.clone();
                    async move { me.reverse_dns(ip).await }
                })
                .collect();
            join_all(self.options().concurrency, futures).await
        } else {
            Vec::new()
        };
        HostDiscovery {
            host: addresses.host,
            tlsa,
            reverse,
        }
    }
}

fn txt_reply(r: Result<Answer<TxtRecord>, Error>) -> SpfReply {
    match r {
        Ok(a) => match &a.outcome {
            Outcome::Records(_) => SpfReply::Txt(texts(&a)),
            Outcome::NoData => SpfReply::NoData,
            Outcome::NxDomain => SpfReply::NxDomain,
        },
        Err(_) => SpfReply::TempError,
    }
}

fn count_reply<T>(r: Result<Answer<T>, Error>) -> SpfReply {
    match r {
        Ok(a) => match &a.outcome {
            Outcome::Records(v) => SpfReply::Found(v.len()),
            Outcome::NoData => SpfReply::NoData,
            Outcome::NxDomain => SpfReply::NxDomain,
        },
        Err(_) => SpfReply::TempError,
    }
}

fn host_findings(addresses: &HostAddresses, kind: MxKind, ip: IpChoice) -> Vec<Finding> {
    let mut findings = Vec::new();
    let host = &addresses.host;
    if let Some(last) = addresses.cnames().last()
        && kind == MxKind::Listed
    {
        findings.push(Finding::warning(
                "mx.cname",
                format!(
                    "MX host {host} is an alias (CNAME) of {}: an MX must name a host, not an alias (RFC 2181 §10.3)",
                    last.to
                ),
            ));
    }
    if addresses.addresses().is_empty() && addresses.errors().is_empty() {
        let family = match ip {
            IpChoice::V4 => "A",
            IpChoice::V6 => "AAAA",
            _ => "A or AAAA",
        };
        findings.push(Finding::error(
            "mx.no_address",
            if kind == MxKind::Implicit {
                format!("{host} has no MX records and no {family} records: it cannot receive mail")
            } else {
                format!("MX host {host} has no {family} records: mail cannot be delivered to it")
            },
        ));
    }
    for e in addresses.errors() {
        findings.push(Finding::warning(
            "mx.address_lookup_failed",
            format!("address lookup for {host} failed: {e}"),
        ));
    }
    if addresses.proof().is_bogus() {
        findings.push(Finding::error(
            "mx.address_bogus",
            format!(
                "the addresses of {host} are DNSSEC-bogus: {}",
                addresses.proof()
            ),
        ));
    }
    findings
}

fn tlsa_findings(
    name: &DomainName,
    answer: &Answer<crate::TlsaRecord>,
    findings: &mut Vec<Finding>,
) {
    let n = answer.records().len();
    match (&answer.proof, n) {
        (Proof::Bogus { .. }, _) => findings.push(Finding::error(
            "tlsa.bogus",
            format!(
                "the TLSA answer at {name} is DNSSEC-bogus ({}): senders must treat the host as unusable for now (RFC 7672 §2.2)",
                answer.proof
            ),
        )),
        (_, 0) => findings.push(Finding::info(
            "tlsa.none",
            format!("no TLSA records at {name}"),
        )),
        (Proof::Secure, _) => findings.push(Finding::info(
            "tlsa.usable",
            format!("{n} DNSSEC-secure TLSA record(s) at {name}: DANE applies"),
        )),
        (proof, _) => findings.push(Finding::warning(
            "tlsa.not_secure",
            format!("the TLSA records at {name} are {proof}, not DNSSEC-secure: senders cannot use them"),
        )),
    }
    if answer
        .records()
        .iter()
        .any(|r| matches!(r.usage, TlsaUsage::PkixTa | TlsaUsage::PkixEe))
    {
        findings.push(Finding::warning(
            "tlsa.pkix_usage",
            "TLSA usages 0 and 1 (PKIX-TA, PKIX-EE) are not for SMTP; senders treat them as unusable (RFC 7672 §3.1.3)",
        ));
    }
}

/// The zone apex of `domain` and its authoritative servers' addresses.
pub(super) async fn authoritative_servers(
    resolver: &Resolver,
    domain: &DomainName,
) -> Result<(DomainName, Vec<SocketAddr>), Error> {
    let mut name = Some(domain.clone());
    let mut zone = None;
    while let Some(n) = name {
        if n.is_root() {
            break;
        }
        let raw = resolver.engine.resolve(&n, RecordType::Soa).await?;
        if raw.outcome == Kind::Records && raw.cnames.is_empty() {
            zone = Some(n);
            break;
        }
        name = n.parent();
    }
    let zone = zone.ok_or_else(|| Error::NoAuthoritativeServers {
        zone: domain.clone(),
    })?;
    let ns = resolver.lookup_ns(&zone).await?;
    let port = resolver.options().authoritative_port;
    let mut servers = Vec::new();
    for host in ns.records() {
        let addrs = resolver.host_addresses(host, IpChoice::Both).await;
        for ip in addrs.addresses() {
            let sa = SocketAddr::new(ip, port);
            if !servers.contains(&sa) {
                servers.push(sa);
            }
        }
    }
    if servers.is_empty() {
        return Err(Error::NoAuthoritativeServers { zone });
    }
    Ok((zone, servers))
}
