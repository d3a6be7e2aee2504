//! DMARC policy records at `_dmarc.<domain>` (RFC 7489 §6.3, with `np` from RFC 9091): tags,
//! policy, alignment, reporting URIs, and the external-destination verification record
//! (RFC 7489 §7.1).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Finding, Parsed, Severity, bounded, cut, duplicate, fields, select};
use crate::{DomainName, org};

/// A requested policy (`p`, `sp`, `np`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // the three policies of RFC 7489
pub enum Policy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Reject failing mail.
    Reject,
}

impl Policy {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "quarantine" => Some(Self::Quarantine),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }

    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }

    fn strength(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Quarantine => 1,
            Self::Reject => 2,
        }
    }
}

/// An identifier alignment mode (`adkim`, `aspf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)]
pub enum Alignment {
    /// `r`: organisational domains must match (the default).
    Relaxed,
    /// `s`: the domains must be identical.
    Strict,
}

impl Alignment {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "r" | "R" => Some(Self::Relaxed),
            "s" | "S" => Some(Self::Strict),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Relaxed => "r",
            Self::Strict => "s",
        }
    }
}

/// A reporting URI with its optional size limit (`mailto:a@example.com!10m`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReportUri {
    /// The URI without the size suffix.
    pub uri: String,
    /// The size limit as written after `!` (`10m`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<String>,
}

impl ReportUri {
    /// The domain of a `mailto:` URI, if it is one.
    pub fn mailto_domain(&self) -> Option<&str> {
        super::mailto_domain(&self.uri)
    }
}

impl fmt::Display for ReportUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(s) = &self.max_size {
            write!(f, "!{s}")?;
        }
        Ok(())
    }
}

/// A usable DMARC record. Absent optional tags are `None` (their RFC defaults apply).
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DmarcRecord {
    /// `p`: the domain's policy. `None` if missing or invalid (then treated as `none` when
    /// `rua` is valid, RFC 7489 §6.6.3).
    pub policy: Option<Policy>,
    /// `sp`: the policy for subdomains (defaults to `p`).
    pub subdomain_policy: Option<Policy>,
    /// `np`: the policy for non-existent subdomains (RFC 9091; defaults to `sp`).
    pub nonexistent_policy: Option<Policy>,
    /// `adkim`.
    pub dkim_alignment: Option<Alignment>,
    /// `aspf`.
    pub spf_alignment: Option<Alignment>,
    /// `pct`: the percentage of failing mail the policy applies to (default 100).
    pub percent: Option<u8>,
    /// `fo`: failure reporting options as written (`0`, `1`, `d`, `s`, colon-separated).
    pub failure_options: Option<String>,
    /// `rf`: failure report format (default `afrf`).
    pub report_format: Option<String>,
    /// `ri`: aggregate report interval in seconds (default 86400).
    pub report_interval: Option<u32>,
    /// `rua`: aggregate report destinations.
    pub aggregate: Vec<ReportUri>,
    /// `ruf`: failure report destinations.
    pub forensic: Vec<ReportUri>,
    /// Other tags, in order (ignored by receivers).
    pub extensions: Vec<(String, String)>,
}

impl fmt::Display for DmarcRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=DMARC1")?;
        let policies = [
            ("p", self.policy),
            ("sp", self.subdomain_policy),
            ("np", self.nonexistent_policy),
        ];
        for (tag, p) in policies {
            if let Some(p) = p {
                write!(f, "; {tag}={}", p.as_str())?;
            }
        }
        for (tag, a) in [("adkim", self.dkim_alignment), ("aspf", self.spf_alignment)] {
            if let Some(a) = a {
                write!(f, "; {tag}={}", a.as_str())?;
            }
        }
        if let Some(p) = self.percent {
            write!(f, "; pct={p}")?;
        }
        if let Some(fo) = &self.failure_options {
            write!(f, "; fo={fo}")?;
        }
        if let Some(rf) = &self.report_format {
            write!(f, "; rf={rf}")?;
        }
        if let Some(ri) = self.report_interval {
            write!(f, "; ri={ri}")?;
        }
        for (tag, uris) in [("rua", &self.aggregate), ("ruf", &self.forensic)] {
            if !uris.is_empty() {
                write!(f, "; {tag}=")?;
                for (i, u) in uris.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{u}")?;
                }
            }
        }
        super::write_extensions(f, &self.extensions)
    }
}

/// Picks and parses the record from the TXT RRset at `_dmarc.<domain>`: records not starting
/// with `v=DMARC1` are discarded; several means no policy (RFC 7489 §6.6.3).
pub fn check<S: AsRef<str>>(texts: &[S]) -> Parsed<DmarcRecord> {
    let texts: Vec<String> = texts.iter().map(|t| t.as_ref().to_owned()).collect();
    match select(
        &texts,
        is_dmarc,
        ("dmarc.missing", "dmarc.multiple"),
        "DMARC (v=DMARC1)",
    ) {
        Ok(one) => parse(one),
        Err(none) => none,
    }
}

/// Whether a TXT string is a DMARC record candidate (starts with `v=DMARC1`).
pub fn is_dmarc(text: &str) -> bool {
    super::starts_with_version(text, "DMARC1", false)
}

/// Parses one DMARC record.
pub fn parse(text: &str) -> Parsed<DmarcRecord> {
    let mut findings = Vec::new();
    let text = bounded(text, "dmarc.too_long", &mut findings);
    let fields = match fields(text, "dmarc.syntax") {
        Ok(f) => f,
        Err(e) => return Parsed::invalid(e),
    };
    match fields.first() {
        Some(f) if f.name == "v" && f.value == "DMARC1" => {}
        _ => {
            return Parsed::invalid(Finding::at(
                "dmarc.version",
                Severity::Error,
                0,
                "the record must start with v=DMARC1",
            ));
        }
    }
    if let Some(d) = duplicate(&fields, true) {
        return Parsed::invalid(Finding::at(
            "dmarc.duplicate",
            Severity::Error,
            d.pos,
            format!("tag {} appears twice", d.name),
        ));
    }
    let mut r = DmarcRecord::default();
    let mut p_seen = false;
    for f in &fields[1..] {
        let name = f.name.to_ascii_lowercase();
        let bad = |what: &str| {
            Finding::at(
                "dmarc.bad_value",
                Severity::Error,
                f.value_pos,
                format!("{name}={} is not valid: {what}", cut(f.value)),
            )
        };
        if name != f.name {
            findings.push(Finding::at(
                "dmarc.tag_case",
                Severity::Warning,
                f.pos,
                format!("tag {} should be written {name}", f.name),
            ));
        }
        match name.as_str() {
            "p" | "sp" | "np" => {
                let policy = Policy::parse(f.value);
                if policy.is_none() {
                    findings.push(bad("expected none, quarantine or reject"));
                }
                match name.as_str() {
                    "p" => {
                        p_seen = true;
                        r.policy = policy;
                    }
                    "sp" => r.subdomain_policy = policy,
                    _ => r.nonexistent_policy = policy,
                }
            }
            "adkim" | "aspf" => {
                let a = Alignment::parse(f.value);
                if a.is_none() {
                    findings.push(bad("expected r or s"));
                }
                if name == "adkim" {
                    r.dkim_alignment = a;
                } else {
                    r.spf_alignment = a;
                }
            }
            "pct" => match f.value.parse::<u8>() {
                Ok(p) if p <= 100 && f.value.bytes().all(|b| b.is_ascii_digit()) => {
                    r.percent = Some(p)
                }
                _ => findings.push(bad("expected 0 to 100")),
            },
            "fo" => {
                let ok = f
                    .value
                    .split(':')
                    .all(|o| matches!(o.trim(), "0" | "1" | "d" | "s"));
                if ok {
                    r.failure_options = Some(
                        f.value
                            .split(':')
                            .map(str::trim)
                            .collect::<Vec<_>>()
                            .join(":"),
                    );
                } else {
                    findings.push(bad("expected 0, 1, d or s, colon-separated"));
                }
            }
            "rf" => {
                if f.value.split(':').all(|v| {
                    let v = v.trim();
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric())
                }) {
                    let rf = f
                        .value
                        .split(':')
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join(":");
                    if !rf.split(':').any(|v| v.eq_ignore_ascii_case("afrf")) {
                        findings.push(Finding::at(
                            "dmarc.report_format",
                            Severity::Warning,
                            f.value_pos,
                            "afrf is the only defined failure report format",
                        ));
                    }
                    r.report_format = Some(rf);
                } else {
                    findings.push(bad("expected format names, colon-separated"));
                }
            }
            "ri" => match f.value.parse::<u32>() {
                Ok(ri) if f.value.bytes().all(|b| b.is_ascii_digit()) => {
                    r.report_interval = Some(ri)
                }
                _ => findings.push(bad("expected seconds")),
            },
            "rua" | "ruf" => {
                let uris = report_uris(f.value, f.value_pos, &name, &mut findings);
                if name == "rua" {
                    r.aggregate = uris;
                } else {
                    r.forensic = uris;
                }
            }
            "v" => {}
            _ => {
                if f.value.contains(char::is_whitespace) {
                    findings.push(Finding::at(
                        "dmarc.unknown_tag",
                        Severity::Warning,
                        f.pos,
                        format!("unknown tag {name} is ignored"),
                    ));
                } else {
                    findings.push(Finding::at(
                        "dmarc.unknown_tag",
                        Severity::Info,
                        f.pos,
                        format!("unknown tag {name} is ignored"),
                    ));
                    r.extensions.push((name.clone(), f.value.to_owned()));
                }
            }
        }
    }
    if r.policy.is_none() {
        if r.aggregate.is_empty() {
            findings.push(Finding::error(
                "dmarc.no_policy",
                if p_seen {
                    "p= is not valid and there is no valid rua=: receivers apply no DMARC processing"
                } else {
                    "p= is missing and there is no valid rua=: receivers apply no DMARC processing"
                },
            ));
        } else {
            findings.push(Finding::error(
                "dmarc.no_policy",
                "p= is missing or not valid: receivers act as if p=none (RFC 7489 §6.6.3)",
            ));
        }
    }
    judge(&r, &mut findings);
    Parsed::new(Some(r), findings)
}

fn report_uris(
    value: &str,
    value_pos: usize,
    tag: &str,
    findings: &mut Vec<Finding>,
) -> Vec<ReportUri> {
    let mut out = Vec::new();
    let mut offset = value_pos;
    for part in value.split(',') {
        let at = offset + (part.len() - part.trim_start().len());
        offset += part.len() + 1;
        let item = part.trim();
        let (uri, size) = match item.split_once('!') {
            Some((u, s)) => (u, Some(s)),
            None => (item, None),
        };
        if let Some(s) = size {
            let digits = s.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || s.len() > digits.len() + 1
            {
                findings.push(Finding::at(
                    "dmarc.bad_uri",
                    Severity::Error,
                    at,
                    format!(
                        "size limit !{} is not a number with an optional k/m/g/t",
                        cut(s)
                    ),
                ));
                continue;
            }
        }
        if uri.is_empty() || uri.contains(char::is_whitespace) {
            findings.push(Finding::at(
                "dmarc.bad_uri",
                Severity::Error,
                at,
                format!("{tag} holds an empty URI or one with spaces"),
            ));
            continue;
        }
        if super::mailto_domain(uri).is_none() {
            let severity = if super::is_https_uri(uri) {
                Severity::Warning
            } else {
                Severity::Error
            };
            findings.push(Finding::at(
                "dmarc.uri_scheme",
                severity,
                at,
                format!(
                    "{tag} URI {} is not a mailto: address; receivers only send to mailto:",
                    cut(uri)
                ),
            ));
            if severity == Severity::Error {
                continue;
            }
        }
        out.push(ReportUri {
            uri: uri.to_owned(),
            max_size: size.map(str::to_owned),
        });
    }
    out
}

fn judge(r: &DmarcRecord, findings: &mut Vec<Finding>) {
    match r.policy {
        Some(Policy::None) => findings.push(Finding::warning(
            "dmarc.monitoring_only",
            "p=none only monitors: failing mail is delivered as usual",
        )),
        Some(Policy::Quarantine) | Some(Policy::Reject) => {}
        None => {}
    }
    if let (Some(p), Some(sp)) = (r.policy, r.subdomain_policy)
        && sp.strength() < p.strength()
    {
        findings.push(Finding::warning(
            "dmarc.weaker_subdomains",
            format!(
                "sp={} is weaker than p={}: subdomains are less protected",
                sp.as_str(),
                p.as_str()
            ),
        ));
    }
    if let Some(pct) = r.percent
        && pct < 100
    {
        findings.push(Finding::warning(
            "dmarc.partial",
            format!("pct={pct}: the policy applies to only {pct}% of failing mail"),
        ));
    }
    if r.aggregate.is_empty() {
        findings.push(Finding::info(
            "dmarc.no_rua",
            "no rua=: the domain receives no aggregate reports",
        ));
    }
    if !r.forensic.is_empty() {
        findings.push(Finding::info(
            "dmarc.ruf",
            "ruf= failure reports are sent by few receivers and may carry personal data",
        ));
    }
}

/// A report destination outside the policy domain's organisation, which must authorise it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExternalDestination {
    /// The URI.
    pub uri: String,
    /// The destination's domain.
    pub domain: DomainName,
    /// Where its authorisation record lives: `<policy domain>._report._dmarc.<destination>`.
    pub verification_name: DomainName,
}

/// The `rua`/`ruf` destinations of `record` (published at `policy_domain`) that lie outside its
/// organisational domain and so need a verification record (RFC 7489 §7.1). Destinations whose
/// domain is not a valid name are left out (the parse already reported them).
pub fn external_destinations(
    policy_domain: &DomainName,
    record: &DmarcRecord,
) -> Vec<ExternalDestination> {
    let mut out: Vec<ExternalDestination> = Vec::new();
    for uri in record.aggregate.iter().chain(&record.forensic) {
        let Some(domain) = uri.mailto_domain().and_then(|d| DomainName::parse(d).ok()) else {
            continue;
        };
        if org::same_organization(policy_domain, &domain) {
            continue;
        }
        let Ok(verification_name) = domain
            .child("_dmarc")
            .and_then(|n| n.child("_report"))
            .and_then(|n| n.child(policy_domain.as_str()))
        else {
            continue;
        };
        if out.iter().all(|e| e.verification_name != verification_name) {
            out.push(ExternalDestination {
                uri: uri.uri.clone(),
                domain,
                verification_name,
            });
        }
    }
    out
}

/// Whether the TXT RRset at an external destination's verification name authorises it: some
/// record there starts with `v=DMARC1` (RFC 7489 §7.1).
pub fn authorises<S: AsRef<str>>(texts: &[S]) -> bool {
    texts.iter().any(|t| is_dmarc(t.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags() {
        let p = parse(
            "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; fo=1:d; ri=3600; \
             rua=mailto:a@example.com!10m, mailto:b@example.net; ruf=mailto:f@example.com",
        );
        let r = p.value.as_ref().unwrap();
        assert_eq!(r.policy, Some(Policy::Reject));
        assert_eq!(r.subdomain_policy, Some(Policy::Quarantine));
        assert_eq!(r.dkim_alignment, Some(Alignment::Strict));
        assert_eq!(r.percent, Some(50));
        assert_eq!(r.aggregate.len(), 2);
        assert_eq!(r.aggregate[0].max_size.as_deref(), Some("10m"));
        let codes: Vec<_> = p.findings.iter().map(|f| f.code.as_ref()).collect();
        assert!(codes.contains(&"dmarc.weaker_subdomains"));
        assert!(codes.contains(&"dmarc.partial"));
        assert_eq!(parse(&r.to_string()).value.as_ref(), Some(r));
    }

    #[test]
    fn missing_policy() {
        let p = parse("v=DMARC1; rua=mailto:a@example.com");
        assert!(p.value.is_some());
        assert!(p.findings.iter().any(|f| f.code == "dmarc.no_policy"));
        assert!(parse("p=reject; v=DMARC1").value.is_none());
        assert!(parse("v=DMARC1; p=reject; p=none").value.is_none());
    }

    #[test]
    fn external() {
        let domain = DomainName::parse("example.com").unwrap();
        let r = parse("v=DMARC1; p=none; rua=mailto:a@mail.example.com,mailto:d@reports.test")
            .value
            .unwrap();
        let ext = external_destinations(&domain, &r);
        assert_eq!(ext.len(), 1);
        assert_eq!(
            ext[0].verification_name.as_str(),
            "example.com._report._dmarc.reports.test"
        );
        assert!(authorises(&["v=DMARC1"]));
        assert!(!authorises(&["v=spf1"]));
    }
}
