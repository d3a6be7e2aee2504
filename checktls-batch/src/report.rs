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

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The result of one test of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
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
pub struct NotTested {
    /// A sentence (never a secret).
    pub reason: String,
}

/// The batch-side summary of one receiver test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

/// How serious a finding is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    #[default]
    Info,
    /// A weakness.
    Warning,
    /// Mail would not travel securely.
    Error,
}

/// Something noticed: a stable code, a severity and a sentence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Finding {
    /// A dotted code, e.g. `cert.expired`.
    pub code: String,
    /// How serious.
    pub severity: Severity,
    /// A sentence.
    pub message: String,
}

/// One MX address tested.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
            tls_version: Some(TlsVersion::Tls1_3),
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
#[serde(default)]
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

/// The SMTP stages of CheckTLS's matrix, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// TCP connected.
    Answer,
    /// Greeting accepted.
    Connect,
    /// EHLO accepted.
    Ehlo,
    /// STARTTLS offered.
    TlsOffered,
    /// Certificate acceptable.
    Cert,
    /// TLS negotiated and the EHLO after it accepted.
    Secure,
    /// MAIL FROM accepted.
    MailFrom,
    /// RCPT TO accepted.
    RcptTo,
    /// DATA accepted.
    Data,
    /// The message accepted.
    Email,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 10] = [
        Self::Answer,
        Self::Connect,
        Self::Ehlo,
        Self::TlsOffered,
        Self::Cert,
        Self::Secure,
        Self::MailFrom,
        Self::RcptTo,
        Self::Data,
        Self::Email,
    ];

    /// The eight stages of a receiver test (no message sent).
    pub const RECEIVER: [Stage; 8] = [
        Self::Answer,
        Self::Connect,
        Self::Ehlo,
        Self::TlsOffered,
        Self::Cert,
        Self::Secure,
        Self::MailFrom,
        Self::RcptTo,
    ];

    /// The name (`tls_offered`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Connect => "connect",
            Self::Ehlo => "ehlo",
            Self::TlsOffered => "tls_offered",
            Self::Cert => "cert",
            Self::Secure => "secure",
            Self::MailFrom => "mail_from",
            Self::RcptTo => "rcpt_to",
            Self::Data => "data",
            Self::Email => "email",
        }
    }

    /// The column of the pager format (`Ans`), for the eight receiver stages.
    pub fn pager_column(self) -> &'static str {
        match self {
            Self::Answer => "Ans",
            Self::Connect => "Con",
            Self::Ehlo => "HELO",
            Self::TlsOffered => "TLS",
            Self::Cert => "Cert",
            Self::Secure => "Sec",
            Self::MailFrom => "From",
            Self::RcptTo => "To",
            Self::Data => "Data",
            Self::Email => "Email",
        }
    }

    /// The element name of the xml-matrix format (`TLSAdv`).
    pub fn xml_name(self) -> &'static str {
        match self {
            Self::Answer => "Answer",
            Self::Connect => "Connect",
            Self::Ehlo => "HELO",
            Self::TlsOffered => "TLSAdv",
            Self::Cert => "CertOK",
            Self::Secure => "TLSNeg",
            Self::MailFrom => "SndrOK",
            Self::RcptTo => "RcvrOK",
            Self::Data => "Data",
            Self::Email => "Email",
        }
    }
}

impl FromStr for Stage {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|st| st.name() == s).ok_or(())
    }
}

/// A protocol version, ordered from worst to best.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// SSL 2.
    Ssl2,
    /// SSL 3.
    Ssl3,
    /// TLS 1.0.
    Tls1_0,
    /// TLS 1.1.
    Tls1_1,
    /// TLS 1.2.
    Tls1_2,
    /// TLS 1.3.
    Tls1_3,
}

impl TlsVersion {
    /// Every version, worst first.
    pub const ALL: [TlsVersion; 6] = [
        Self::Ssl2,
        Self::Ssl3,
        Self::Tls1_0,
        Self::Tls1_1,
        Self::Tls1_2,
        Self::Tls1_3,
    ];

    /// The name as the receiver report writes it (`TLSv1.3`, `TLSv1`, `SSLv3`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ssl2 => "SSLv2",
            Self::Ssl3 => "SSLv3",
            Self::Tls1_0 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TlsVersion {
    type Err = ();
    /// Reads `TLSv1.3`, CheckTLS's XML spelling `TLSv1_3`, `TLS1.3`, `1.3`, `TLSv1`, `SSLv3`
    /// (any case).
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim().to_ascii_lowercase().replace('_', ".");
        let (ssl, rest) = if let Some(r) = s.strip_prefix("sslv").or_else(|| s.strip_prefix("ssl"))
        {
            (true, r)
        } else {
            (
                false,
                s.strip_prefix("tlsv")
                    .or_else(|| s.strip_prefix("tls"))
                    .unwrap_or(&s),
            )
        };
        match (ssl, rest) {
            (true, "2") => Ok(Self::Ssl2),
            (true, "3") => Ok(Self::Ssl3),
            (false, "1" | "1.0") => Ok(Self::Tls1_0),
            (false, "1.1") => Ok(Self::Tls1_1),
            (false, "1.2") => Ok(Self::Tls1_2),
            (false, "1.3") => Ok(Self::Tls1_3),
            _ => Err(()),
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|()| serde::de::Error::custom(format!("unknown TLS version {s:?}")))
    }
}
