//! Findings: what a check noticed, with a severity. Findings are data, not errors.

use std::fmt;

use serde::Serialize;

/// How much a finding matters.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // three levels by design
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// Works, but weaker than it should be, or likely to break.
    Warning,
    /// Broken: the record is ignored, unsafe, or against its RFC.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One thing a check noticed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// A stable machine-readable code, `<check>.<what>` (`spf.too_many_lookups`).
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The byte offset in the checked text it refers to, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl Finding {
    /// A finding without a position.
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            position: None,
        }
    }

    /// A finding about a place in the checked text.
    pub fn at(
        severity: Severity,
        code: &'static str,
        position: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            position: Some(position),
        }
    }

    /// An [`Severity::Info`] finding.
    pub fn info(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, message)
    }

    /// A [`Severity::Warning`] finding.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    /// A [`Severity::Error`] finding.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}", self.severity, self.code, self.message)?;
        if let Some(p) = self.position {
            write!(f, " (at byte {p})")?;
        }
        Ok(())
    }
}

/// The worst severity among findings, if any.
pub(crate) fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}
