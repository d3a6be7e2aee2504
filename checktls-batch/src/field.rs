//! Result fields by name: what a `Suppress` (or an alert) can test with `ct:Field`.
//!
//! ```text
//!   target fields   score max percent best_in_class mx_count dns_failure tested findings duration_ms
//!   host fields     mx.score mx.preference mx.port mx.name mx.address mx.answered
//!                   mx.tls_version mx.cipher mx.cert_days_to_expiry mx.cert_expired
//!                   mx.cert_chain_valid mx.cert_name_match mx.dane mx.mta_sts
//!                   mx.<stage> (passed: yes/no)   mx.<stage>_ms (milliseconds)
//!                   stages: answer connect ehlo tls_offered cert secure mail_from rcpt_to data email
//! ```
//!
//! A target field gives one value per test; a host field one value per MX row. A value that
//! is missing (a host without TLS has no `mx.tls_version`; a test that did not run has no
//! `score`) makes a condition fail, so what cannot be judged is never hidden.
//!
//! ```
//! use checktls_batch::field::{Field, FieldKind};
//! let f: Field = "mx.cert_days_to_expiry".parse().unwrap();
//! assert_eq!(f.kind(), FieldKind::Number);
//! assert_eq!(f.name(), "mx.cert_days_to_expiry");
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::report::{MxRow, Stage, TargetReport, TlsVersion};

/// The type of a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldKind {
    /// A number.
    Number,
    /// Yes or no (1 or 0; the average is the share of yes).
    Bool,
    /// A TLS version, ordered SSLv2 < ... < TLSv1.3.
    Version,
    /// Text, ordered by bytes.
    Text,
}

/// A result field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The grade.
    Score,
    /// The most the target could get.
    Max,
    /// The grade as a percent of `max`.
    Percent,
    /// The best-in-class grade.
    BestInClass,
    /// How many MX rows were tested.
    MxCount,
    /// DNS could not say where mail goes.
    DnsFailure,
    /// The test ran (1) or could not be carried out (0).
    Tested,
    /// How many findings the target has (hosts' findings not included).
    Findings,
    /// How long the test took.
    DurationMs,
    /// A field of each MX row.
    Mx(MxField),
}

/// A field of one MX row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MxField {
    /// The host's score.
    Score,
    /// Its MX preference.
    Preference,
    /// The port tested.
    Port,
    /// The host name.
    Name,
    /// The address (empty text when it had none).
    Address,
    /// It answered.
    Answered,
    /// The TLS version negotiated.
    TlsVersion,
    /// The cipher negotiated.
    Cipher,
    /// Days to certificate expiry.
    CertDaysToExpiry,
    /// The certificate has expired.
    CertExpired,
    /// The chain leads to a trust anchor.
    CertChainValid,
    /// The certificate matches the host name.
    CertNameMatch,
    /// DANE status.
    Dane,
    /// MTA-STS verdict.
    MtaSts,
    /// A stage passed.
    Stage(Stage),
    /// How long a stage took.
    StageMs(Stage),
}

const TARGET_FIELDS: [(Field, &str); 9] = [
    (Field::Score, "score"),
    (Field::Max, "max"),
    (Field::Percent, "percent"),
    (Field::BestInClass, "best_in_class"),
    (Field::MxCount, "mx_count"),
    (Field::DnsFailure, "dns_failure"),
    (Field::Tested, "tested"),
    (Field::Findings, "findings"),
    (Field::DurationMs, "duration_ms"),
];

const MX_FIELDS: [(MxField, &str); 14] = [
    (MxField::Score, "score"),
    (MxField::Preference, "preference"),
    (MxField::Port, "port"),
    (MxField::Name, "name"),
    (MxField::Address, "address"),
    (MxField::Answered, "answered"),
    (MxField::TlsVersion, "tls_version"),
    (MxField::Cipher, "cipher"),
    (MxField::CertDaysToExpiry, "cert_days_to_expiry"),
    (MxField::CertExpired, "cert_expired"),
    (MxField::CertChainValid, "cert_chain_valid"),
    (MxField::CertNameMatch, "cert_name_match"),
    (MxField::Dane, "dane"),
    (MxField::MtaSts, "mta_sts"),
];

impl Field {
    /// The names of every field, for messages and documentation.
    pub const EXPECTED: &'static str = "one of score, max, percent, best_in_class, mx_count, \
        dns_failure, tested, findings, duration_ms, mx.score, mx.preference, mx.port, mx.name, \
        mx.address, mx.answered, mx.tls_version, mx.cipher, mx.cert_days_to_expiry, \
        mx.cert_expired, mx.cert_chain_valid, mx.cert_name_match, mx.dane, mx.mta_sts, \
        mx.<stage> or mx.<stage>_ms (stage: answer, connect, ehlo, tls_offered, cert, secure, \
        mail_from, rcpt_to, data, email)";

    /// Every field, target fields first.
    pub fn all() -> Vec<Field> {
        let mut all: Vec<Field> = TARGET_FIELDS.iter().map(|(f, _)| *f).collect();
        all.extend(MX_FIELDS.iter().map(|(f, _)| Field::Mx(*f)));
        for stage in Stage::ALL {
            all.push(Field::Mx(MxField::Stage(stage)));
            all.push(Field::Mx(MxField::StageMs(stage)));
        }
        all
    }

    /// The name (`mx.tls_version`).
    pub fn name(self) -> String {
        match self {
            Field::Mx(MxField::Stage(s)) => format!("mx.{}", s.name()),
            Field::Mx(MxField::StageMs(s)) => format!("mx.{}_ms", s.name()),
            Field::Mx(m) => format!(
                "mx.{}",
                MX_FIELDS
                    .iter()
                    .find(|(f, _)| *f == m)
                    .map_or("", |(_, n)| n)
            ),
            f => TARGET_FIELDS
                .iter()
                .find(|(g, _)| *g == f)
                .map_or("", |(_, n)| n)
                .to_owned(),
        }
    }

    /// The type of its values.
    pub fn kind(self) -> FieldKind {
        match self {
            Field::DnsFailure | Field::Tested => FieldKind::Bool,
            Field::Mx(m) => match m {
                MxField::Name
                | MxField::Address
                | MxField::Cipher
                | MxField::Dane
                | MxField::MtaSts => FieldKind::Text,
                MxField::TlsVersion => FieldKind::Version,
                MxField::Answered
                | MxField::CertExpired
                | MxField::CertChainValid
                | MxField::CertNameMatch
                | MxField::Stage(_) => FieldKind::Bool,
                _ => FieldKind::Number,
            },
            _ => FieldKind::Number,
        }
    }

    /// Whether the field has one value per MX row.
    pub fn per_host(self) -> bool {
        matches!(self, Field::Mx(_))
    }

    /// Appends this field's values in one tested report to `out` (`None` for a missing one).
    pub fn values(self, report: &TargetReport, out: &mut Vec<Option<Scalar>>) {
        let n = |v: u64| Some(Scalar::Number(v as f64));
        match self {
            Field::Score => out.push(n(report.score.into())),
            Field::Max => out.push(n(report.max.into())),
            Field::Percent => out.push(n(report.percent.into())),
            Field::BestInClass => out.push(n(report.best_in_class.into())),
            Field::MxCount => out.push(n(report.mx.len() as u64)),
            Field::DnsFailure => out.push(Some(Scalar::bool(report.dns_failure))),
            Field::Tested => out.push(Some(Scalar::bool(true))),
            Field::Findings => out.push(n(report.findings.len() as u64)),
            Field::DurationMs => out.push(n(report.duration_ms)),
            Field::Mx(m) => out.extend(report.mx.iter().map(|row| m.value(row))),
        }
    }
}

impl MxField {
    fn value(self, row: &MxRow) -> Option<Scalar> {
        let n = |v: u64| Some(Scalar::Number(v as f64));
        match self {
            Self::Score => n(row.score.into()),
            Self::Preference => n(row.preference.into()),
            Self::Port => n(row.port.into()),
            Self::Name => Some(Scalar::Text(row.name.clone())),
            Self::Address => Some(Scalar::Text(
                row.address.map(|a| a.to_string()).unwrap_or_default(),
            )),
            Self::Answered => Some(Scalar::bool(row.answered())),
            Self::TlsVersion => row.tls_version.map(Scalar::Version),
            Self::Cipher => row.cipher.clone().map(Scalar::Text),
            Self::CertDaysToExpiry => row
                .cert
                .and_then(|c| c.days_to_expiry)
                .map(|d| Scalar::Number(d as f64)),
            Self::CertExpired => row.cert.map(|c| Scalar::bool(c.expired)),
            Self::CertChainValid => row.cert.map(|c| Scalar::bool(c.chain_valid)),
            Self::CertNameMatch => row.cert.and_then(|c| c.name_match).map(Scalar::bool),
            Self::Dane => row.dane.clone().map(Scalar::Text),
            Self::MtaSts => row.mta_sts.clone().map(Scalar::Text),
            // A stage the test did not reach did not pass.
            Self::Stage(s) => Some(Scalar::bool(row.stage(s).is_some_and(|r| r.ok))),
            Self::StageMs(s) => row.stage(s).and_then(|r| n(r.ms)),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Field {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        if let Some(m) = s.strip_prefix("mx.") {
            if let Some((f, _)) = MX_FIELDS.iter().find(|(_, n)| *n == m) {
                return Ok(Field::Mx(*f));
            }
            if let Some(stage) = m.strip_suffix("_ms").and_then(|st| st.parse().ok()) {
                return Ok(Field::Mx(MxField::StageMs(stage)));
            }
            return m
                .parse()
                .map(|st| Field::Mx(MxField::Stage(st)))
                .map_err(|_| ());
        }
        TARGET_FIELDS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(f, _)| *f)
            .ok_or(())
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// One value of a field.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Scalar {
    /// A number (yes/no as 1/0).
    Number(f64),
    /// A TLS version.
    Version(TlsVersion),
    /// Text.
    Text(String),
}

impl Scalar {
    fn bool(b: bool) -> Self {
        Self::Number(f64::from(u8::from(b)))
    }

    /// Orders two values of the same kind; `None` across kinds.
    pub fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a.partial_cmp(b),
            (Self::Version(a), Self::Version(b)) => Some(a.cmp(b)),
            (Self::Text(a), Self::Text(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}
