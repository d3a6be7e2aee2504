//! Why each point was gained or lost: typed reasons with a human sentence.
//!
//! A host's [`Adjustment`]s add up to its score exactly; a target's [`TargetAdjustment`]s add
//! up to its grade (up to floating-point rounding of the shares).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::evidence::{KeyAlgorithm, SignatureHash, Stage, TlsVersion};
use crate::table::Band;

/// One line of a host's score: what was found and the points it gained or lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Adjustment {
    /// What was found.
    pub reason: Reason,
    /// Points gained (positive) or lost (negative); 0 for a note (a policy tested but not
    /// counted).
    pub points: i32,
    /// The reason as a sentence.
    pub text: String,
}

impl Adjustment {
    /// An adjustment, its text written from `reason`.
    pub fn new(reason: Reason, points: i32) -> Self {
        let text = reason.to_string();
        Self {
            reason,
            points,
            text,
        }
    }
}

impl fmt::Display for Adjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+4}  {}", self.points, self.text)
    }
}

/// What a host's adjustment is for.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The host was not reached, so nothing was tested (the unreachable band's value).
    Unreachable,
    /// The host was busy on every try (421): not tested.
    Busy,
    /// No TLS session was established (the no-encryption band's base).
    NoEncryption,
    /// Without TLS, the host still passed this stage.
    StagePassed {
        /// The stage.
        stage: Stage,
    },
    /// A TLS session with this version was established (the band's base).
    Protocol {
        /// The negotiated version.
        version: TlsVersion,
        /// Its band.
        band: Band,
        /// The band's floor.
        floor: u16,
        /// The band's ceiling.
        ceiling: u16,
    },
    /// The key exchange is not ephemeral.
    NoForwardSecrecy,
    /// The bulk cipher is not an AEAD.
    NotAead,
    /// The bulk cipher's key is short.
    ShortCipherKey {
        /// Its size.
        bits: u16,
        /// The size under which a key is short.
        minimum: u16,
    },
    /// The cipher suite is broken.
    BrokenCipher,
    /// No readable certificate was presented.
    NoCertificate,
    /// The chain does not lead to a trust anchor.
    UntrustedChain,
    /// The leaf is self-signed.
    SelfSigned,
    /// The certificate does not carry the MX host name.
    NameMismatch,
    /// The leaf has expired.
    Expired,
    /// The leaf is not yet valid.
    NotYetValid,
    /// The leaf expires soon.
    ExpiresSoon {
        /// Whole days left.
        days: i64,
        /// The notice under which this applies.
        notice: u16,
    },
    /// The key is below the recommended size.
    WeakKey {
        /// Its algorithm.
        algorithm: KeyAlgorithm,
        /// Its size.
        bits: u32,
        /// The recommended minimum.
        minimum: u32,
    },
    /// The key is below the broken size.
    BrokenKey {
        /// Its algorithm.
        algorithm: KeyAlgorithm,
        /// Its size.
        bits: u32,
        /// The size under which a key is broken.
        minimum: u32,
    },
    /// The chain's weakest signature uses a weak hash (SHA-1).
    WeakSignature {
        /// The hash.
        hash: SignatureHash,
    },
    /// The chain's weakest signature uses a broken hash (MD5 or older).
    BrokenSignature {
        /// The hash.
        hash: SignatureHash,
    },
    /// A valid MTA-STS policy in `enforce` mode covers the host.
    MtaStsEnforce,
    /// A valid MTA-STS policy in `testing` mode covers the host.
    MtaStsTesting,
    /// MTA-STS was tested but earns nothing (a note, 0 points).
    MtaStsNotCounted {
        /// Why.
        gap: MtaStsGap,
    },
    /// A DNSSEC-secure, usable TLSA record matched the host's chain.
    Dane,
    /// DANE was tested but earns nothing (a note, 0 points).
    DaneNotCounted {
        /// Why.
        gap: DaneGap,
    },
    /// The deductions went below the band's floor; the score stays at the floor.
    BandFloor {
        /// The band.
        band: Band,
        /// Its floor.
        floor: u16,
    },
    /// The points went above the band's ceiling; the score stops at the ceiling (only with a
    /// table that fails [`ScoreTable::validate`](crate::ScoreTable::validate)).
    BandCeiling {
        /// The band.
        band: Band,
        /// Its ceiling.
        ceiling: u16,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy => f.write_str(
                "the host refused the session for now on every try (busy, 421): not tested, a \
                 50-50 chance, left out of the target's grade",
            ),
            Self::Unreachable => {
                f.write_str("the host could not be reached, so nothing was tested: a 50-50 chance")
            }
            Self::NoEncryption => f.write_str("no TLS session was established: no encryption"),
            Self::StagePassed { stage } => f.write_str(match stage {
                Stage::Answer => "without TLS, the host answered",
                Stage::Connect => "without TLS, its greeting let us in",
                Stage::Ehlo => "without TLS, it accepted EHLO",
                Stage::TlsOffered => "it offered STARTTLS, but no TLS session followed",
                Stage::MailFrom => "without TLS, it accepted MAIL FROM",
                Stage::RcptTo => "without TLS, it accepted RCPT TO",
                Stage::Cert | Stage::Secure | Stage::Data | Stage::Email => {
                    "without TLS, it passed a later stage"
                }
            }),
            Self::Protocol {
                version,
                band,
                floor,
                ceiling,
            } => write!(
                f,
                "{version} negotiated: the {band} band, {floor}–{ceiling}; a flawless host \
                 without MTA-STS or DANE starts here"
            ),
            Self::NoForwardSecrecy => {
                f.write_str("the cipher suite has no forward secrecy (a static key exchange)")
            }
            Self::NotAead => f.write_str("the cipher suite is not an AEAD (CBC mode)"),
            Self::ShortCipherKey { bits, minimum } => {
                write!(f, "the cipher's key is {bits} bits, under {minimum}")
            }
            Self::BrokenCipher => f.write_str(
                "the cipher suite is broken (RC4, DES, 3DES, RC2, IDEA, NULL, export or anonymous)",
            ),
            Self::NoCertificate => f.write_str("the host presented no readable certificate"),
            Self::UntrustedChain => {
                f.write_str("the certificate chain does not lead to a trusted root")
            }
            Self::SelfSigned => f.write_str("the certificate is self-signed"),
            Self::NameMismatch => f.write_str("the certificate does not carry the MX host name"),
            Self::Expired => f.write_str("the certificate has expired"),
            Self::NotYetValid => f.write_str("the certificate is not yet valid"),
            Self::ExpiresSoon { days, notice } => {
                write!(f, "the certificate expires in {days} days (under {notice})")
            }
            Self::WeakKey {
                algorithm,
                bits,
                minimum,
            } => write!(
                f,
                "the certificate's {algorithm} key has {bits} bits, under the recommended {minimum}"
            ),
            Self::BrokenKey {
                algorithm,
                bits,
                minimum,
            } => write!(
                f,
                "the certificate's {algorithm} key has {bits} bits, under {minimum}: breakable"
            ),
            Self::WeakSignature { hash } => {
                write!(
                    f,
                    "the certificate chain is signed with {hash}, which is weak"
                )
            }
            Self::BrokenSignature { hash } => {
                write!(
                    f,
                    "the certificate chain is signed with {hash}, which is broken"
                )
            }
            Self::MtaStsEnforce => {
                f.write_str("a valid MTA-STS policy in enforce mode covers the host")
            }
            Self::MtaStsTesting => f.write_str(
                "a valid MTA-STS policy in testing mode covers the host (senders still deliver \
                 when TLS fails)",
            ),
            Self::MtaStsNotCounted { gap } => write!(f, "MTA-STS earns nothing: {gap}"),
            Self::Dane => f.write_str(
                "a DNSSEC-secure TLSA record matched the host's certificate chain (DANE)",
            ),
            Self::DaneNotCounted { gap } => write!(f, "DANE earns nothing: {gap}"),
            Self::BandFloor { band, floor } => write!(
                f,
                "the deductions reach below the {band} band; the score stays at its floor, {floor}"
            ),
            Self::BandCeiling { band, ceiling } => write!(
                f,
                "the points reach above the {band} band; the score stops at its ceiling, {ceiling}"
            ),
        }
    }
}

/// Why a tested MTA-STS policy earns nothing.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MtaStsGap {
    /// No valid policy was found.
    NoValidPolicy,
    /// The policy's mode is `none`.
    ModeNone,
    /// The policy's `mx` patterns do not cover this host.
    NotCovered,
}

impl fmt::Display for MtaStsGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoValidPolicy => "no valid policy was found",
            Self::ModeNone => "the policy's mode is none",
            Self::NotCovered => "the policy does not list this host",
        })
    }
}

/// Why tested DANE earns nothing.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DaneGap {
    /// The host has no usable TLSA record.
    NoUsableRecords,
    /// The TLSA records are not DNSSEC-secure, so senders ignore them.
    NotSecure,
    /// No usable record matched the chain.
    NoMatch,
}

impl fmt::Display for DaneGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoUsableRecords => "the host has no usable TLSA record",
            Self::NotSecure => "the TLSA records are not DNSSEC-secure, so senders ignore them",
            Self::NoMatch => {
                "no TLSA record matched the host's chain, so DANE senders will not deliver"
            }
        })
    }
}

/// One line of a target's grade: a host's share of the weighted average, a host left out, or
/// the rounding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TargetAdjustment {
    /// What the line is for.
    pub reason: TargetReason,
    /// Points it contributes to the grade (a share: the host's score × its weight ÷ the total
    /// weight; 0 for a host left out).
    pub points: f64,
    /// The reason as a sentence.
    pub text: String,
}

impl TargetAdjustment {
    /// An adjustment, its text written from `reason`.
    pub fn new(reason: TargetReason, points: f64) -> Self {
        let text = reason.to_string();
        Self {
            reason,
            points,
            text,
        }
    }
}

impl fmt::Display for TargetAdjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+7.2}  {}", self.points, self.text)
    }
}

/// What a target's adjustment is for.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum TargetReason {
    /// A counted host's share of the weighted average.
    Share {
        /// The host's position in the input.
        host: usize,
        /// Its name.
        name: String,
        /// Its address.
        address: Option<IpAddr>,
        /// Its MX preference.
        preference: u16,
        /// Its preference rank among the counted hosts (0 = most preferred).
        rank: usize,
        /// Whether it was reached.
        connected: bool,
        /// Its score.
        score: u16,
        /// Its weight (preference weight × reach weight).
        weight: u32,
        /// The counted hosts' weights together.
        total_weight: u64,
    },
    /// The host was not reached and IgnoreNoConnect leaves it out.
    LeftOut {
        /// The host's position in the input.
        host: usize,
        /// Its name.
        name: String,
        /// Its address.
        address: Option<IpAddr>,
    },
    /// The host was busy on every try (a 421): not tested, left out.
    Busy {
        /// The host's position in the input.
        host: usize,
        /// Its name.
        name: String,
        /// Its address.
        address: Option<IpAddr>,
    },
    /// Quick mode: the one host tested; its score is the QFactor.
    QuickHost {
        /// The host's position in the input.
        host: usize,
        /// Its name.
        name: String,
        /// Its address.
        address: Option<IpAddr>,
        /// Its score.
        score: u16,
    },
    /// Quick mode: a host other than the one tested, not counted.
    NotChosen {
        /// The host's position in the input.
        host: usize,
        /// Its name.
        name: String,
        /// Its address.
        address: Option<IpAddr>,
    },
    /// No host counted: nothing was tested, a 50-50 chance.
    NothingTested,
    /// The weighted average rounded (half up) to a whole grade.
    Rounding,
}

impl fmt::Display for TargetReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Share {
                name,
                address,
                preference,
                rank,
                connected,
                score,
                weight,
                total_weight,
                ..
            } => {
                let reached = if *connected { "reached" } else { "not reached" };
                write!(
                    f,
                    "{} (preference {preference}, rank {}, {reached}) scored {score} and weighs \
                     {weight} of {total_weight}",
                    HostName(name, address),
                    rank + 1
                )
            }
            Self::LeftOut { name, address, .. } => write!(
                f,
                "{} was not reached and IgnoreNoConnect leaves it out",
                HostName(name, address)
            ),
            Self::Busy { name, address, .. } => write!(
                f,
                "{} was busy on every try (421): not tested, and left out",
                HostName(name, address)
            ),
            Self::QuickHost {
                name,
                address,
                score,
                ..
            } => write!(
                f,
                "quick test: {} is the one host tested; its {score} is the QFactor",
                HostName(name, address)
            ),
            Self::NotChosen { name, address, .. } => write!(
                f,
                "quick test: {} is not the host tested, so it does not count",
                HostName(name, address)
            ),
            Self::NothingTested => f.write_str("no host could be tested: a 50-50 chance"),
            Self::Rounding => f.write_str("the weighted average rounded to a whole grade"),
        }
    }
}

/// A host's name and address, written `name[address]`.
pub(crate) struct HostName<'a>(pub(crate) &'a str, pub(crate) &'a Option<IpAddr>);

impl fmt::Display for HostName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.0.is_empty() {
            "(unnamed host)"
        } else {
            self.0
        };
        match self.1 {
            Some(address) => write!(f, "{name}[{address}]"),
            None => f.write_str(name),
        }
    }
}
