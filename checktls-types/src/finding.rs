//! Findings: what a check noticed, as data, with how much it matters.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How much a finding matters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // three levels by design
pub enum Severity {
    /// Worth knowing; nothing to fix.
    #[default]
    Info,
    /// Works, but weaker than it should be, or the check could not be completed.
    Warning,
    /// Broken: mail would not travel securely, or a record is ignored or against its RFC.
    Error,
}

impl Severity {
    /// `info`, `warning`, `error`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something noticed: a stable dotted code (`smtp.no_starttls`), a severity, a sentence for
/// people, and where in the checked text, when there is such a place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Finding {
    /// A stable, machine-readable code, `<check>.<what>`.
    pub code: Cow<'static, str>,
    /// How much it matters.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// The byte offset in the checked text it refers to, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl Finding {
    /// A finding.
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            severity,
            message: message.into(),
            position: None,
        }
    }

    /// A finding about a place in the checked text.
    pub fn at(
        code: impl Into<Cow<'static, str>>,
        severity: Severity,
        position: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            position: Some(position),
            ..Self::new(code, severity, message)
        }
    }

    /// An [`Severity::Info`] finding.
    pub fn info(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message)
    }

    /// A [`Severity::Warning`] finding.
    pub fn warning(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    /// An [`Severity::Error`] finding.
    pub fn error(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
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
