//! Findings: what a check noticed, with a severity. Findings are data, not errors; the type
//! is the workspace's one (`checktls-types`).

pub use checktls_types::{Finding, Severity};

/// The worst severity among findings, if any.
pub(crate) fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}
