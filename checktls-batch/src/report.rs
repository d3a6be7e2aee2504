//! What an [`Executor`](crate::run::Executor) gives back for one test of one target: the
//! batch-side summary of a receiver report.
//!
//! ```text
//!   Outcome
//!   ├── Tested(TargetReport)
//!   │     target, score, max, percent, best_in_class, dns_failure, duration_ms, findings[]
//!   │     mx[]: MxRow { name, preference, address, port, score,
//!   │                   stages[{stage, ok, ms}], tls_version, cipher,
//!   │                   cert {days_to_expiry, expired, chain_valid, name_match}, dane, mta_sts }
//!   └── NotTested { reason }          the test could not be carried out at all
//! ```
//!
//! The facade fills these from its receiver report; tests script them
//! ([`ScriptedExecutor`](crate::scripted::ScriptedExecutor)). Every field can be tested by
//! name in a `Suppress` (see [`Field`](crate::field::Field)).
//!
//! ```
//! use checktls_batch::report::{Outcome, TargetReport};
//! let report = TargetReport::graded("192.0.2.1", 114);
//! assert_eq!(Outcome::Tested(report).score(), Some(114));
//! ```

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The result of one test of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Outcome {
    /// The test ran (even if no host answered: that is a result).
    Tested(TargetReport),
    /// The test could not be carried out.
    NotTested(NotTested),
}

impl Outcome {
    /// The grade, when tested.
    pub fn score(&self) -> Option<u16> {
        match self {
            Self::Tested(r) => Some(r.score),
            Self::NotTested(_) => None,
        }
    }

    /// The report, when tested.
    pub fn report(&self) -> Option<&TargetReport> {
        match self {
            Self::Tested(r) => Some(r),
            Self::NotTested(_) => None,
        }
    }

    /// A not-tested outcome with a reason.
    pub fn not_tested(reason: impl Into<String>) -> Self {
        Self::NotTested(NotTested {
            reason: reason.into(),
        })
    }
}

/// Why a test could not be carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct NotTested {
    /// A sentence (never a secret).
    pub reason: String,
}

/// The batch-side summary of one receiver test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
#[non_exhaustive]
pub struct TargetReport {
    /// The target as tested.
    pub target: String,
    /// The grade (Confidence Factor).
    pub score: u16,
    /// The most this target could get given what was tested.
    pub max: u16,
    /// `score` as a percent of `max`.
    pub percent: u16,
    /// The grade of a fully tested best-in-class system.
    pub best_in_class: u16,
    /// One row per MX address tested, in preference order.
    pub mx: Vec<MxRow>,
    /// What was noticed about the target as a whole.
    pub findings: Vec<Finding>,
    /// DNS could not say where mail goes (no MX and no address, SERVFAIL, bogus DNSSEC).
    pub dns_failure: bool,
    /// How long the test took, in milliseconds.
    pub duration_ms: u64,
}

impl TargetReport {
    /// A report with a grade only, out of 121 (for tests and examples).
    pub fn graded(target: impl Into<String>, score: u16) -> Self {
        Self {
            target: target.into(),
            score,
            max: 121,
            percent: ((u32::from(score) * 100 + 60) / 121)
                .try_into()
                .unwrap_or(u16::MAX),
            best_in_class: 121,
            ..Self::default()
        }
    }

    /// Whether any host answered.
    pub fn answered(&self) -> bool {
        self.mx.iter().any(MxRow::answered)
    }
}

pub use checktls_types::{Finding, Severity};

/// One MX address tested.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
#[non_exhaustive]
pub struct MxRow {
    /// The MX host name (or the address, for an address target).
    pub name: String,
    /// The MX preference.
    pub preference: u16,
    /// The address tested (none when the name had no address).
    pub address: Option<IpAddr>,
    /// The port tested.
    pub port: u16,
    /// This host's score.
    pub score: u16,
    /// The stages, in order, as far as the test went.
    pub stages: Vec<StageRow>,
    /// The TLS version negotiated.
    pub tls_version: Option<TlsVersion>,
    /// The cipher suite negotiated (IANA name).
    pub cipher: Option<String>,
    /// The certificate, when one was seen.
    pub cert: Option<CertRow>,
    /// DANE status (`matched`, `failed`, `none`, ...), when checked.
    pub dane: Option<String>,
    /// MTA-STS verdict for this host (`pass`, `fail`, `warn`, `none`), when checked.
    pub mta_sts: Option<String>,
}

impl MxRow {
    /// A host that passed every stage through RCPT TO with TLS 1.3 and a valid certificate
    /// (for tests and examples).
    pub fn passing(name: impl Into<String>, address: Option<IpAddr>, score: u16) -> Self {
        Self {
            name: name.into(),
            preference: 10,
            address,
            port: 25,
            score,
            stages: Stage::RECEIVER
                .iter()
                .map(|&stage| StageRow {
                    stage,
                    ok: true,
                    ms: 10,
                })
                .collect(),
            tls_version: Some(TlsVersion::Tls13),
            cipher: Some("TLS13_AES_256_GCM_SHA384".to_owned()),
            cert: Some(CertRow {
                days_to_expiry: Some(90),
                expired: false,
                chain_valid: true,
                name_match: Some(true),
            }),
            dane: None,
            mta_sts: None,
        }
    }

    /// The row of one stage, when the test reached it.
    pub fn stage(&self, stage: Stage) -> Option<&StageRow> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    /// Whether the host answered (its Answer stage passed).
    pub fn answered(&self) -> bool {
        self.stage(Stage::Answer).is_some_and(|s| s.ok)
    }
}

/// One stage of one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct StageRow {
    /// Which stage.
    pub stage: Stage,
    /// Whether it passed.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

/// The certificate of one host, summarised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct CertRow {
    /// Whole days left (negative once expired).
    pub days_to_expiry: Option<i64>,
    /// Past its notAfter.
    pub expired: bool,
    /// The chain leads to a trust anchor.
    pub chain_valid: bool,
    /// The MX name matches (none when not checked).
    pub name_match: Option<bool>,
}

pub use checktls_types::Stage;

pub use checktls_types::TlsVersion;
