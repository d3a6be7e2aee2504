//! DNSSEC proof of an answer.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The DNSSEC state of an answer (RFC 4035 §4.3).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Proof {
    /// Validated to a trust anchor.
    Secure,
    /// Proven unsigned: a delegation without DS, so no signatures are expected.
    Insecure,
    /// Signatures expected but missing or wrong.
    Bogus {
        /// Why, where the validator says.
        reason: Option<String>,
    },
    /// Validation was not attempted or could not decide.
    Indeterminate,
}

impl Proof {
    /// Whether the answer is DNSSEC-secure.
    pub fn is_secure(&self) -> bool {
        matches!(self, Self::Secure)
    }

    /// A bogus proof with a reason.
    pub fn bogus(reason: impl Into<String>) -> Self {
        Self::Bogus {
            reason: Some(reason.into()),
        }
    }

    /// Whether the answer is DNSSEC-bogus.
    pub fn is_bogus(&self) -> bool {
        matches!(self, Self::Bogus { .. })
    }

    /// The weaker of two proofs: a chain (CNAMEs, then records) is only as secure as its weakest
    /// step. From strongest to weakest: secure, insecure, indeterminate, bogus. Of two bogus
    /// proofs the first is kept, with its reason.
    #[must_use]
    pub fn weakest(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Secure => 0,
            Self::Insecure => 1,
            Self::Indeterminate => 2,
            Self::Bogus { .. } => 3,
        }
    }

    /// A short name: `secure`, `insecure`, `bogus`, `indeterminate`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Secure => "secure",
            Self::Insecure => "insecure",
            Self::Bogus { .. } => "bogus",
            Self::Indeterminate => "indeterminate",
        }
    }
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bogus {
                reason: Some(reason),
            } => write!(f, "bogus ({reason})"),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakest_orders_proofs() {
        assert_eq!(Proof::Secure.weakest(Proof::Insecure), Proof::Insecure);
        assert_eq!(Proof::Insecure.weakest(Proof::Secure), Proof::Insecure);
        assert_eq!(
            Proof::Indeterminate.weakest(Proof::bogus("x")),
            Proof::bogus("x")
        );
        assert_eq!(
            Proof::bogus("a").weakest(Proof::bogus("b")),
            Proof::bogus("a")
        );
        assert_eq!(Proof::Secure.weakest(Proof::Secure), Proof::Secure);
        assert_eq!(Proof::bogus("why").to_string(), "bogus (why)");
    }
}
