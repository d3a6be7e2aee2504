//! Public keys, as certificate judgements and the score speak of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;

/// A public-key algorithm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// RSA.
    Rsa,
    /// DSA (judged by the same sizes as RSA).
    Dsa,
    /// ECDSA on a named curve (P-256 is 256 bits).
    Ec,
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order of [`name`](Self::name)'s list.
    pub(crate) const ALL: [Self; 5] = [Self::Rsa, Self::Dsa, Self::Ec, Self::Ed25519, Self::Ed448];

    /// `RSA`, `DSA`, `EC`, `Ed25519`, `Ed448`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::Dsa => "DSA",
            Self::Ec => "EC",
            Self::Ed25519 => "Ed25519",
            Self::Ed448 => "Ed448",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A certificate's public key: its algorithm and size. Written `EC 256`, `RSA 2048`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // an algorithm and a size, nothing more
pub struct PublicKeyInfo {
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// Its size in bits (the modulus for RSA and DSA, the curve's field for ECDSA; ignored for
    /// Ed25519 and Ed448).
    pub bits: u32,
}

impl fmt::Display for PublicKeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.algorithm, self.bits)
    }
}

impl FromStr for PublicKeyInfo {
    type Err = UnknownName;
    /// Reads `EC 256`, `RSA 2048` (the [`Display`](fmt::Display) form).
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let bad = || UnknownName {
            given: s.to_owned(),
            expected: "an algorithm and a size, such as RSA 2048 or EC 256".into(),
        };
        let (name, bits) = s.split_once(' ').ok_or_else(bad)?;
        let algorithm = KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(bad)?;
        Ok(Self {
            algorithm,
            bits: bits.parse().map_err(|_| bad())?,
        })
    }
}
