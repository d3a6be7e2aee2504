//! From what DNS said to the addresses a receiver test probes: one [`HostPlan`] per address,
//! within the caps, with addresses that are not globally routable reported and left alone
//! unless the options allow them.
//!
//! ```text
//!   MX set (preference order) ─► each host's A/AAAA ─┬─► global, within the caps ─► probed
//!                                                     ├─► not global (unless allowed) ─► reported
//!                                                     └─► over a cap ─► reported, not probed
//! ```

use std::net::IpAddr;

use crate::dns::DomainName;
use crate::dns::discovery::{HostAddresses, TlsaLookup};
use crate::options::ReceiverOptions;
use crate::report::{Finding, Severity};
use crate::tls::net::is_global;

/// Why an address in the plan is not probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// The address is not globally routable and the options do not allow such addresses.
    NonGlobal,
}

/// One address to probe, with what DNS said about its host.
#[derive(Clone, Debug)]
pub(crate) struct HostPlan {
    pub(crate) name: String,
    pub(crate) preference: u16,
    pub(crate) address: Option<IpAddr>,
    pub(crate) port: u16,
    pub(crate) tlsa: Option<TlsaLookup>,
    pub(crate) findings: Vec<Finding>,
    /// Set when the address is reported but not probed.
    pub(crate) skip: Option<Skip>,
}

impl HostPlan {
    /// A plan for an address the user gave: always probed.
    pub(crate) fn given(address: IpAddr, port: u16) -> Self {
        Self {
            name: address.to_string(),
            preference: 0,
            address: Some(address),
            port,
            tlsa: None,
            findings: Vec::new(),
            skip: None,
        }
    }

    /// The name the certificate must carry: the SNI option when given (CheckTLS checks it
    /// against the certificate, for IP targets), else the host's name; none for a bare
    /// address.
    pub(crate) fn expected_name<'a>(&'a self, options: &'a ReceiverOptions) -> Option<&'a str> {
        let name = options.sni.as_deref().unwrap_or(&self.name);
        let name = name.trim_end_matches('.');
        name.parse::<IpAddr>().is_err().then_some(name)
    }

    /// Whether this plan is probed.
    pub(crate) fn probed(&self) -> bool {
        self.address.is_some() && self.skip.is_none()
    }
}

/// Builds plans host by host, keeping the per-host and per-target caps.
pub(crate) struct Planner<'a> {
    options: &'a ReceiverOptions,
    port: u16,
    plans: Vec<HostPlan>,
    /// Addresses left out because the target's cap was reached.
    over_target_cap: usize,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(options: &'a ReceiverOptions, port: u16) -> Self {
        Self {
            options,
            port,
            plans: Vec::new(),
            over_target_cap: 0,
        }
    }

    /// Adds one plan per address of `name` (one without an address when it has none).
    pub(crate) fn host(
        &mut self,
        name: &DomainName,
        preference: u16,
        addrs: &HostAddresses,
        tlsa: Option<TlsaLookup>,
        findings: Vec<Finding>,
    ) {
        let name = name.to_string();
        let list = addrs.addresses();
        if list.is_empty() {
            let mut findings = findings;
            findings.push(Finding::new(
                "dns.no_address",
                Severity::Error,
                format!("{name} has no address"),
            ));
            self.plans.push(HostPlan {
                name,
                preference,
                address: None,
                port: self.port,
                tlsa,
                findings,
                skip: None,
            });
            return;
        }
        let per_host = self.options.max_addresses_per_host.max(1);
        let mut findings = findings;
        if list.len() > per_host {
            findings.push(Finding::new(
                "dns.addresses_capped",
                Severity::Warning,
                format!(
                    "{name} has {} addresses; the first {per_host} are probed \
                     (max_addresses_per_host)",
                    list.len()
                ),
            ));
        }
        for address in list.into_iter().take(per_host) {
            // Reported addresses count too, so the plan stays bounded whatever DNS says.
            if self.with_address() >= self.options.max_probes_per_target.max(1) {
                self.over_target_cap += 1;
                continue;
            }
            let mut findings = findings.clone();
            let skip = (!self.options.allow_non_global && !is_global(address)).then(|| {
                findings.push(Finding::new(
                    "dns.non_global_address",
                    Severity::Error,
                    format!(
                        "{name} has the address {address}, which is not globally routable: \
                         senders on the Internet cannot reach it, and it is not probed \
                         (allow non-global addresses to test a private system)"
                    ),
                ));
                Skip::NonGlobal
            });
            self.plans.push(HostPlan {
                name: name.clone(),
                preference,
                address: Some(address),
                port: self.port,
                tlsa: tlsa.clone(),
                findings,
                skip,
            });
        }
    }

    /// The plans made so far.
    pub(crate) fn planned(&self) -> &[HostPlan] {
        &self.plans
    }

    fn with_address(&self) -> usize {
        self.plans.iter().filter(|p| p.address.is_some()).count()
    }

    /// The plans, and a target-level finding when the target's cap left addresses out.
    pub(crate) fn finish(self) -> (Vec<HostPlan>, Option<Finding>) {
        let capped = (self.over_target_cap > 0).then(|| {
            Finding::new(
                "dns.probes_capped",
                Severity::Warning,
                format!(
                    "{} more addresses were not tested: at most {} per target \
                     (max_probes_per_target)",
                    self.over_target_cap, self.options.max_probes_per_target
                ),
            )
        });
        (self.plans, capped)
    }
}
