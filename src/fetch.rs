//! The fetches a receiver test makes beyond SMTP, each driven by what a peer published: the
//! domain's MTA-STS policy (RFC 8461) and the revocation status of a host's certificate (OCSP,
//! CRL). They go through the checker's HTTPS connector, which by default refuses addresses
//! that are not globally routable, and read at most the check's byte budget.
//!
//! ```text
//!   _mta-sts TXT ─► https://mta-sts.<domain>/.well-known/mta-sts.txt ─► policy (once per run)
//!   validated chain (leaf + the issuer of the validated path) ─► staple ─► OCSP ─► CRL
//!                                                              (verdict once per leaf per run)
//! ```

use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;

use crate::clock::unix;
use crate::dns::discovery::Discovery;
use crate::dns::{DomainName, Outcome as DnsOutcome};
use crate::options::ReceiverOptions;
use crate::report::{Finding, MtaStsReport, Severity, reported};
use crate::tls::TrustStore;
use crate::tls::http::HttpOptions;
use crate::tls::mta_sts::{self, Policy};
use crate::tls::net::Connector;
use crate::tls::revocation::{self, Fetch, FetchBudget, Revocation, RevocationCache};

/// What the fetches of one check go through.
pub(crate) struct FetchContext<'a> {
    pub(crate) options: &'a ReceiverOptions,
    pub(crate) trust: &'a TrustStore,
    pub(crate) https: &'a dyn Connector,
    /// The run's CRLs.
    pub(crate) crls: &'a RevocationCache,
    /// The check's byte budget.
    pub(crate) budget: &'a FetchBudget,
}

impl FetchContext<'_> {
    fn http(&self) -> HttpOptions {
        let mut options = HttpOptions::default();
        options.trust = self.trust.clone();
        options.timeout = self.options.timeout.min(Duration::from_secs(10));
        options
    }
}

/// The domain's MTA-STS policy: `None` when the domain publishes no `_mta-sts` record.
pub(crate) async fn mta_sts_policy(
    cx: &FetchContext<'_>,
    domain: &DomainName,
    found: &Discovery,
) -> Option<(MtaStsReport, Option<Policy>)> {
    let check = match found.mta_sts.as_ref()? {
        Err(e) => {
            return Some((
                MtaStsReport {
                    id: None,
                    mode: None,
                    mx: Vec::new(),
                    max_age: None,
                    valid: false,
                    findings: vec![Finding::new(
                        "mta_sts.txt_failed",
                        Severity::Warning,
                        format!("the _mta-sts TXT lookup failed: {e}"),
                    )],
                },
                None,
            ));
        }
        Ok(c) => c,
    };
    if matches!(
        check.answer.outcome,
        DnsOutcome::NoData | DnsOutcome::NxDomain
    ) || check.answer.records().is_empty()
    {
        return None;
    }
    let mut findings: Vec<Finding> = check.parsed.findings.iter().map(reported).collect();
    let id = check.parsed.value.as_ref().map(|t| t.id.clone());
    let fetched = mta_sts::fetch_policy(&domain.to_string(), cx.https, &cx.http()).await;
    findings.extend(fetched.findings.iter().map(reported));
    let policy = fetched.parsed.as_ref().and_then(|p| p.policy.clone());
    if let Some(p) = &fetched.parsed {
        findings.extend(p.findings.iter().map(reported));
    }
    if id.is_none() {
        findings.push(Finding::new(
            "mta_sts.no_id",
            Severity::Error,
            "the _mta-sts TXT record has no valid id: senders ignore the policy",
        ));
    }
    let valid = policy.is_some() && id.is_some();
    Some((
        MtaStsReport {
            id,
            mode: policy.as_ref().map(|p| p.mode),
            mx: policy.as_ref().map(|p| p.mx.clone()).unwrap_or_default(),
            max_age: policy.as_ref().map(|p| p.max_age),
            valid,
            findings,
        },
        policy.filter(|_| valid),
    ))
}

/// The revocation verdict of `leaf`, issued by `issuer` in a validated path.
pub(crate) async fn revocation(
    cx: &FetchContext<'_>,
    leaf: &CertificateDer<'_>,
    issuer: &CertificateDer<'_>,
    stapled: Option<&[u8]>,
    now: SystemTime,
) -> Revocation {
    let http = cx.http();
    let via = Fetch {
        connector: cx.https,
        options: &http,
        cache: cx.crls,
        budget: cx.budget,
    };
    revocation::check(leaf, issuer, stapled, &via, unix(now)).await
}
