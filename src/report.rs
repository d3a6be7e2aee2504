//! The receiver test's report: everything found, kept even when later steps failed.
//!
//! ```text
//!   ReceiverReport
//!   ├── target, started_unix, duration_ms, tested
//!   ├── confidence_factor {score, max, percent, best_in_class, kind, exact, hosts, reasons}
//!   ├── assuredness                     (AssureTLS mode only)
//!   ├── dns          MX set, proofs, MTA-STS / TLS-RPT / SPF / DMARC / BIMI / DKIM (checktls-dns)
//!   ├── mta_sts      the policy fetched over HTTPS, its mode and which MX it covers
//!   ├── mx[]         one per MX address tested:
//!   │     name, preference, address, port, score, stages[{stage, ok, ms}],
//!   │     tls {version, cipher, ...} | null, certificate {...} | null, dane, mta_sts,
//!   │     revocation, reasons, findings, transcript, raw
//!   └── findings     what was noticed about the target as a whole
//! ```
//!
//! The JSON form of this type (serde) is the documented schema of `checktls receiver --format
//! json`; its field names are stable. Its JSON Schema is `schema/report.schema.json`, made from
//! these types by `output::json_schema()` (feature `schema`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::dns::discovery::Discovery;
use crate::score::{Assuredness, ConfidenceFactor, HostScore};
use crate::target::Target;

pub use checktls_types::{Finding, Severity};

/// A finding of a lower layer as the report shows it: without its position in the checked
/// record (the record is in the report's DNS section).
pub(crate) fn reported(f: &Finding) -> Finding {
    Finding::new(f.code.clone(), f.severity, f.message.clone())
}

/// The receiver test's report of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ReceiverReport {
    /// The target as tested.
    pub target: Target,
    /// When the test started, in seconds since the Unix epoch.
    pub started_unix: u64,
    /// How long the test took, in milliseconds.
    pub duration_ms: u64,
    /// Whether at least one host could be tested (reached on its address and port).
    pub tested: bool,
    /// The grade.
    pub confidence_factor: ConfidenceFactor,
    /// AssureTLS's Assuredness Factor, when the mandatory-TLS test was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assuredness: Option<Assuredness>,
    /// What DNS said (absent when a host was given and no domain is known).
    pub dns: Option<Discovery>,
    /// The MTA-STS policy, when the domain publishes one.
    pub mta_sts: Option<MtaStsReport>,
    /// One entry per MX address tested, in MX preference order.
    pub mx: Vec<HostReport>,
    /// What was noticed about the target as a whole.
    pub findings: Vec<Finding>,
}

impl ReceiverReport {
    /// The grade (the Confidence Factor's score).
    pub fn score(&self) -> u16 {
        self.confidence_factor.score
    }

    /// Whether the receiver passed: something was tested and the grade reaches the options'
    /// [`min_score`](crate::ReceiverOptions::min_score) (the command's exit code 0). A target
    /// that could not be tested (`tested == false`) never passes.
    ///
    /// ```
    /// # fn send(_: &checktls::ReceiverReport, o: &checktls::ReceiverOptions) {}
    /// # fn f(report: &checktls::ReceiverReport, options: &checktls::ReceiverOptions) {
    /// if report.passes(options) {
    ///     send(report, options);
    /// }
    /// # }
    /// ```
    pub fn passes(&self, options: &crate::ReceiverOptions) -> bool {
        self.tested && self.score() >= options.min_score
    }
}

/// One stage of one host: passed or failed, and how long it took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct StageView {
    /// The stage: `answer`, `connect`, `ehlo`, `tls_offered`, `cert`, `secure`, `mail_from`,
    /// `rcpt_to`, `data`, `email`.
    pub stage: crate::smtp::Stage,
    /// Whether it passed.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

/// How a host's TLS facts were learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TlsSource {
    /// A full handshake (rustls).
    Rustls,
    /// The raw ClientHello prober, when rustls could not negotiate.
    Prober,
}

impl TlsSource {
    /// `rustls`, `prober`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rustls => "rustls",
            Self::Prober => "prober",
        }
    }
}

/// The TLS session of a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TlsView {
    /// `TLSv1.3`, `TLSv1.2`, `TLSv1.1`, `TLSv1`, `SSLv3`.
    pub version: crate::tls::TlsVersion,
    /// The cipher suite, IANA name.
    pub cipher: String,
    /// The key-exchange group, when known.
    pub group: Option<String>,
    /// Whether the version is deprecated (before TLS 1.2).
    pub deprecated: bool,
    /// How the facts were learnt: `rustls` (a full handshake) or `prober` (the raw
    /// ClientHello prober, when rustls could not negotiate).
    pub source: TlsSource,
    /// The handshake time in milliseconds.
    pub handshake_ms: u64,
}

/// One certificate of the presented chain, summarised (checktls-tls makes it).
pub use crate::tls::cert::CertSummary as CertSummaryView;

/// The judgement of a host's certificate chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CertificateView {
    /// The chain leads to a trust anchor (dates apart).
    pub chain_valid: bool,
    /// The MX name matches (None when not checked).
    pub name_match: Option<bool>,
    /// Which SAN or CN matched.
    pub matched_name: Option<String>,
    /// The leaf is past its notAfter.
    pub expired: bool,
    /// The leaf is before its notBefore.
    pub not_yet_valid: bool,
    /// Whole days left (negative once expired).
    pub days_to_expiry: Option<i64>,
    /// Fewer days left than the warning threshold.
    pub expiry_warning: bool,
    /// The leaf signs itself.
    pub self_signed: bool,
    /// Every problem, most specific first, as codes.
    pub problems: Vec<String>,
    /// The chain, summarised (leaf first).
    pub chain: Vec<CertSummaryView>,
}

/// DANE's verdict for a host, as the report states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DaneState {
    /// No TLSA records: DANE does not apply.
    None,
    /// The TLSA records are not DNSSEC-signed: not DANE (RFC 7672 §2.2).
    Insecure,
    /// The TLSA records are DNSSEC-bogus (the findings say why): delivery must not proceed.
    Bogus,
    /// Secure records, none usable for SMTP (only PKIX usages 0 and 1, or unknown parameters).
    Unusable,
    /// A usable record matched.
    Matched,
    /// Usable records, none matched: DANE senders do not deliver.
    Failed,
    /// No TLSA lookup for this host.
    NotChecked,
}

impl DaneState {
    /// `none`, `insecure`, `bogus`, `unusable`, `matched`, `failed`, `not_checked`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Insecure => "insecure",
            Self::Bogus => "bogus",
            Self::Unusable => "unusable",
            Self::Matched => "matched",
            Self::Failed => "failed",
            Self::NotChecked => "not_checked",
        }
    }
}

impl From<&crate::tls::dane::DaneStatus> for DaneState {
    fn from(s: &crate::tls::dane::DaneStatus) -> Self {
        use crate::tls::dane::DaneStatus as S;
        match s {
            S::NoRecords => Self::None,
            S::Insecure => Self::Insecure,
            S::Bogus { .. } => Self::Bogus,
            S::Unusable => Self::Unusable,
            S::Matched => Self::Matched,
            S::Failed => Self::Failed,
            _ => Self::NotChecked,
        }
    }
}

/// DANE for a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct DaneView {
    /// The verdict.
    pub status: DaneState,
    /// The TLSA records, in presentation form.
    pub records: Vec<String>,
    /// Which record matched, and at which chain depth.
    pub matched: Option<String>,
    /// Why each other record did not match.
    pub notes: Vec<String>,
    /// Whether DANE applies (RFC 7672 §2.2): the proofs of the host's address records and of
    /// its TLSA RRset, and which one decided; null when TLSA was not looked up.
    pub applicability: Option<crate::dns::discovery::DaneApplicability>,
}

/// The MTA-STS policy of the domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct MtaStsReport {
    /// The TXT id, if the record was found.
    pub id: Option<String>,
    /// `enforce`, `testing`, `none`, or null when no valid policy was fetched.
    pub mode: Option<crate::tls::mta_sts::Mode>,
    /// The MX patterns of the policy.
    pub mx: Vec<String>,
    /// max_age, seconds.
    pub max_age: Option<u64>,
    /// Whether a valid policy was fetched.
    pub valid: bool,
    /// Why not, or what was noticed.
    pub findings: Vec<Finding>,
}

/// MTA-STS as it applies to one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct HostMtaSts {
    /// Whether the domain has a valid policy.
    pub policy: bool,
    /// The policy's mode.
    pub mode: Option<crate::tls::mta_sts::Mode>,
    /// Whether the host matches one of the policy's MX patterns.
    pub covered: bool,
    /// What the policy means for mail to this host.
    pub verdict: MtaStsVerdict,
}

/// What a domain's MTA-STS policy means for mail to one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MtaStsVerdict {
    /// Covered, and its TLS validated: senders deliver.
    Pass,
    /// Under enforce, not covered or its TLS did not validate: senders do not deliver.
    Fail,
    /// Under testing, the same: senders deliver anyway and report it.
    Warn,
    /// No policy in force.
    None,
    /// The domain publishes an `_mta-sts` record but no valid policy could be had.
    Invalid,
}

impl MtaStsVerdict {
    /// `pass`, `fail`, `warn`, `none`, `invalid`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::None => "none",
            Self::Invalid => "invalid",
        }
    }
}

impl From<crate::tls::mta_sts::HostEffect> for MtaStsVerdict {
    fn from(e: crate::tls::mta_sts::HostEffect) -> Self {
        use crate::tls::mta_sts::HostEffect;
        match e {
            HostEffect::Pass => Self::Pass,
            HostEffect::Fail => Self::Fail,
            HostEffect::Warn => Self::Warn,
            HostEffect::None => Self::None,
        }
    }
}

/// The revocation verdict of a leaf, as the report states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationState {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked,
    /// The responder does not know the certificate.
    Unknown,
    /// No verdict could be had (the detail says why).
    CouldNotCheck,
    /// Not checked: the option is off, or no certificate was seen.
    NotChecked,
}

impl RevocationState {
    /// `good`, `revoked`, `unknown`, `could_not_check`, `not_checked`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Revoked => "revoked",
            Self::Unknown => "unknown",
            Self::CouldNotCheck => "could_not_check",
            Self::NotChecked => "not_checked",
        }
    }
}

impl From<&crate::tls::revocation::RevocationStatus> for RevocationState {
    fn from(s: &crate::tls::revocation::RevocationStatus) -> Self {
        use crate::tls::revocation::RevocationStatus as S;
        match s {
            S::Good => Self::Good,
            S::Revoked { .. } => Self::Revoked,
            S::Unknown => Self::Unknown,
            S::CouldNotCheck { .. } => Self::CouldNotCheck,
            _ => Self::NotChecked,
        }
    }
}

/// Revocation of the leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct RevocationView {
    /// The verdict.
    pub status: RevocationState,
    /// Where it came from: the stapled response, the OCSP responder or the CRL.
    pub source: Option<crate::tls::revocation::RevocationSource>,
    /// A sentence.
    pub detail: String,
}

/// One MX address tested.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct HostReport {
    /// The MX host name (or the address, for an address target).
    pub name: String,
    /// MX preference (0 for an implicit or a given host).
    pub preference: u16,
    /// The address tested; null when the name had no address.
    pub address: Option<IpAddr>,
    /// The port tested.
    pub port: u16,
    /// This host's score.
    pub score: u16,
    /// The stages, in order, as far as the test went.
    pub stages: Vec<StageView>,
    /// The TLS session; null when none was negotiated.
    pub tls: Option<TlsView>,
    /// The certificate judgement; null when no certificate was seen.
    pub certificate: Option<CertificateView>,
    /// DANE.
    pub dane: DaneView,
    /// MTA-STS for this host.
    pub mta_sts: HostMtaSts,
    /// Revocation of the leaf.
    pub revocation: RevocationView,
    /// The score's reasons (points gained or lost).
    pub score_detail: Option<HostScore>,
    /// What was noticed.
    pub findings: Vec<Finding>,
    /// Why the test of this host stopped early, if it did.
    pub error: Option<String>,
    /// The SMTP transcript, rendered (`[SSS.mmm] --> EHLO …`).
    pub transcript: Vec<String>,
    /// The raw traffic as a hex dump, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// What the raw ClientHello prober found, when it ran: every version and suite, groups,
    /// certificates, checks and weaknesses (level sslprobe), or the versions alone (when
    /// rustls could not negotiate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslprobe: Option<crate::tls::probe::ProbeReport>,
}

impl HostReport {
    /// Whether the host answered (its Answer stage passed).
    pub fn answered(&self) -> bool {
        self.stages
            .first()
            .is_some_and(|s| s.stage == crate::smtp::Stage::Answer && s.ok)
    }
}

impl std::fmt::Display for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for RevocationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for DaneState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for MtaStsVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
