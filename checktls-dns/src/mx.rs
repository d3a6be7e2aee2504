//! MX records in delivery order, null MX (RFC 7505), implicit MX (RFC 5321 §5.1), and CheckTLS's
//! "Limit MX Hosts": the first N or N% of preference levels, or of hosts. Pure: the resolver
//! feeds it the MX answer and looks up only the hosts it selects.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainName;
use crate::answer::{Answer, Outcome};
use crate::finding::Finding;

/// One MX record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(clippy::exhaustive_structs)] // an MX record is a preference and an exchange
pub struct MxRecord {
    /// Lower is tried first.
    pub preference: u16,
    /// The host; the root (`.`) for a null MX.
    pub exchange: DomainName,
}

impl MxRecord {
    /// An MX record.
    pub fn new(preference: u16, exchange: DomainName) -> Self {
        Self {
            preference,
            exchange,
        }
    }

    /// Whether this is a null MX record (RFC 7505: exchange `.`).
    pub fn is_null(&self) -> bool {
        self.exchange.is_root()
    }
}

impl fmt::Display for MxRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.preference, self.exchange.to_fqdn())
    }
}

/// The most MX hosts a plan keeps, whatever the limit: a bound against hostile MX sets (real
/// domains list a handful; CheckTLS caps its limit at 10).
pub const MAX_MX_HOSTS: usize = 64;

/// Sorts MX records in delivery order: by preference, ties by exchange name (CheckTLS orders
/// "in preference and then alphabetical order").
pub fn sort(records: &mut [MxRecord]) {
    records.sort_by(|a, b| {
        a.preference
            .cmp(&b.preference)
            .then_with(|| a.exchange.cmp(&b.exchange))
    });
}

/// Which MX hosts to test (CheckTLS's "Limit MX Hosts").
///
/// Percentages round up, so any non-zero percentage of a non-empty list selects at least one
/// host; a count or percentage of zero selects none.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "limit", content = "n", rename_all = "snake_case")]
pub enum MxLimit {
    /// Every host (the default).
    #[default]
    All,
    /// The hosts of the first N preference levels.
    Levels(usize),
    /// The hosts of the first N% of preference levels.
    LevelsPercent(u8),
    /// The first N hosts.
    Hosts(usize),
    /// The first N% of hosts.
    HostsPercent(u8),
}

impl MxLimit {
    /// How many of `sorted` (in delivery order) the limit keeps.
    pub fn select(&self, sorted: &[MxRecord]) -> usize {
        let percent = |p: u8, of: usize| (of * usize::from(p.min(100))).div_ceil(100);
        match *self {
            Self::All => sorted.len(),
            Self::Hosts(n) => n.min(sorted.len()),
            Self::HostsPercent(p) => percent(p, sorted.len()),
            Self::Levels(n) => hosts_in_levels(sorted, n),
            Self::LevelsPercent(p) => hosts_in_levels(sorted, percent(p, levels(sorted))),
        }
    }
}

fn levels(sorted: &[MxRecord]) -> usize {
    let mut n = 0;
    let mut last = None;
    for r in sorted {
        if last != Some(r.preference) {
            n += 1;
            last = Some(r.preference);
        }
    }
    n
}

fn hosts_in_levels(sorted: &[MxRecord], wanted: usize) -> usize {
    let mut seen = 0;
    let mut last = None;
    for (i, r) in sorted.iter().enumerate() {
        if last != Some(r.preference) {
            if seen == wanted {
                return i;
            }
            seen += 1;
            last = Some(r.preference);
        }
    }
    sorted.len()
}

/// What the MX answer says about where mail goes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MxKind {
    /// MX records name the hosts.
    Listed,
    /// A null MX: the domain accepts no mail (RFC 7505).
    Null,
    /// No MX records: the domain itself is the host (RFC 5321 §5.1).
    Implicit,
    /// The domain does not exist.
    NoDomain,
}

/// The hosts to try, from an MX answer: delivery order, null MX, implicit MX and the limit
/// applied.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxPlan {
    /// What kind of MX set it is.
    pub kind: MxKind,
    /// The hosts selected, in delivery order (the domain itself, preference 0, if implicit).
    pub selected: Vec<MxRecord>,
    /// The hosts the limit left out, in delivery order.
    pub skipped: Vec<MxRecord>,
    /// What was noticed about the MX set.
    pub findings: Vec<Finding>,
}

impl MxPlan {
    /// Plans delivery for `domain` from its MX answer.
    pub fn new(domain: &DomainName, answer: &Answer<MxRecord>, limit: MxLimit) -> Self {
        let mut findings = Vec::new();
        let mut records = match &answer.outcome {
            Outcome::NxDomain => {
                findings.push(Finding::error(
                    "mx.nxdomain",
                    format!("{domain} does not exist (NXDOMAIN)"),
                ));
                return Self {
                    kind: MxKind::NoDomain,
                    selected: Vec::new(),
                    skipped: Vec::new(),
                    findings,
                };
            }
            Outcome::NoData => {
                findings.push(Finding::info(
                    "mx.implicit",
                    format!("{domain} has no MX records: mail goes to the domain's own addresses (implicit MX, RFC 5321 §5.1)"),
                ));
                return Self {
                    kind: MxKind::Implicit,
                    selected: vec![MxRecord::new(0, domain.clone())],
                    skipped: Vec::new(),
                    findings,
                };
            }
            Outcome::Records(r) => r.clone(),
        };
        sort(&mut records);
        let before = records.len();
        records.dedup();
        if records.len() < before {
            findings.push(Finding::info(
                "mx.duplicate",
                "the MX set lists the same record more than once",
            ));
        }
        let nulls = records.iter().filter(|r| r.is_null()).count();
        if nulls > 0 {
            if records.len() == nulls {
                if records.iter().any(|r| r.preference != 0) {
                    findings.push(Finding::warning(
                        "mx.null_preference",
                        "a null MX should have preference 0 (RFC 7505 §3)",
                    ));
                }
                findings.push(Finding::info(
                    "mx.null",
                    format!("{domain} publishes a null MX: it accepts no mail (RFC 7505)"),
                ));
                return Self {
                    kind: MxKind::Null,
                    selected: Vec::new(),
                    skipped: Vec::new(),
                    findings,
                };
            }
            findings.push(Finding::error(
                "mx.null_with_others",
                "a null MX must be the only MX record (RFC 7505 §3); the null record is ignored",
            ));
            records.retain(|r| !r.is_null());
        }
        let mut seen_hosts = std::collections::HashSet::new();
        for r in &records {
            if !seen_hosts.insert(&r.exchange) {
                findings.push(Finding::info(
                    "mx.same_host_twice",
                    format!("{} is listed at more than one preference", r.exchange),
                ));
            }
            if r.exchange.looks_like_ip() {
                findings.push(Finding::error(
                    "mx.address_literal",
                    format!(
                        "MX {} is an address, not a host name (RFC 7505 §4, RFC 5321 §5.1)",
                        r.exchange
                    ),
                ));
            } else if !r.exchange.is_hostname() {
                findings.push(Finding::warning(
                    "mx.not_hostname",
                    format!("MX {} is not a valid host name (RFC 1123)", r.exchange),
                ));
            }
        }
        let mut overflow = Vec::new();
        if records.len() > MAX_MX_HOSTS {
            findings.push(Finding::warning(
                "mx.too_many",
                format!(
                    "{} MX records; only the first {MAX_MX_HOSTS} are considered",
                    records.len()
                ),
            ));
            overflow = records.split_off(MAX_MX_HOSTS);
        }
        let keep = limit.select(&records);
        let mut skipped = records.split_off(keep);
        skipped.append(&mut overflow);
        if !skipped.is_empty() {
            findings.push(Finding::info(
                "mx.limited",
                format!(
                    "{} of {} MX hosts left out by the limit",
                    skipped.len(),
                    skipped.len() + records.len()
                ),
            ));
        }
        Self {
            kind: MxKind::Listed,
            selected: records,
            skipped,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Proof;
    use crate::answer::{Query, RecordType};

    fn mx(p: u16, n: &str) -> MxRecord {
        MxRecord::new(p, DomainName::parse(n).unwrap())
    }

    fn answer(records: Vec<MxRecord>) -> Answer<MxRecord> {
        Answer::new(
            Query::new(DomainName::parse("example.test").unwrap(), RecordType::Mx),
            Vec::new(),
            Outcome::Records(records),
            Proof::Secure,
        )
    }

    fn names(v: &[MxRecord]) -> Vec<&str> {
        v.iter().map(|r| r.exchange.as_str()).collect()
    }

    #[test]
    fn order_and_limits() {
        let set = vec![
            mx(20, "c.test"),
            mx(10, "b.test"),
            mx(10, "a.test"),
            mx(30, "d.test"),
            mx(30, "e.test"),
        ];
        let domain = DomainName::parse("example.test").unwrap();
        let plan = MxPlan::new(&domain, &answer(set.clone()), MxLimit::All);
        assert_eq!(
            names(&plan.selected),
            ["a.test", "b.test", "c.test", "d.test", "e.test"]
        );
        let cases = [
            (MxLimit::Levels(1), 2),
            (MxLimit::Levels(2), 3),
            (MxLimit::Levels(9), 5),
            (MxLimit::Levels(0), 0),
            (MxLimit::LevelsPercent(34), 3), // 34% of 3 levels rounds up to 2 levels
            (MxLimit::LevelsPercent(33), 2),
            (MxLimit::Hosts(1), 1),
            (MxLimit::HostsPercent(50), 3),
            (MxLimit::HostsPercent(100), 5),
            (MxLimit::HostsPercent(0), 0),
        ];
        for (limit, n) in cases {
            let plan = MxPlan::new(&domain, &answer(set.clone()), limit);
            assert_eq!(plan.selected.len(), n, "{limit:?}");
            assert_eq!(plan.skipped.len(), 5 - n, "{limit:?}");
        }
    }

    #[test]
    fn huge_sets_are_bounded() {
        let domain = DomainName::parse("example.test").unwrap();
        let set: Vec<MxRecord> = (0..200)
            .map(|i| mx(10, &format!("mx{i:03}.test")))
            .collect();
        let plan = MxPlan::new(&domain, &answer(set), MxLimit::All);
        assert_eq!(plan.selected.len(), MAX_MX_HOSTS);
        assert_eq!(plan.skipped.len(), 200 - MAX_MX_HOSTS);
        assert!(plan.findings.iter().any(|f| f.code == "mx.too_many"));
    }

    #[test]
    fn null_and_implicit() {
        let domain = DomainName::parse("example.test").unwrap();
        let plan = MxPlan::new(&domain, &answer(vec![mx(0, ".")]), MxLimit::All);
        assert_eq!(plan.kind, MxKind::Null);
        assert!(plan.selected.is_empty());
        let plan = MxPlan::new(
            &domain,
            &answer(vec![mx(0, "."), mx(10, "a.test")]),
            MxLimit::All,
        );
        assert_eq!(plan.kind, MxKind::Listed);
        assert_eq!(names(&plan.selected), ["a.test"]);
        assert!(
            plan.findings
                .iter()
                .any(|f| f.code == "mx.null_with_others")
        );
        let mut nodata = answer(vec![]);
        nodata.outcome = Outcome::NoData;
        let plan = MxPlan::new(&domain, &nodata, MxLimit::All);
        assert_eq!(plan.kind, MxKind::Implicit);
        assert_eq!(names(&plan.selected), ["example.test"]);
        nodata.outcome = Outcome::NxDomain;
        assert_eq!(
            MxPlan::new(&domain, &nodata, MxLimit::All).kind,
            MxKind::NoDomain
        );
    }
}
