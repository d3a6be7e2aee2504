//! The scoring table: every number the Confidence Factor uses, in one place.
//!
//! [`ScoreTable::CHECKTLS`] is the calibrated table; the crate documentation renders it (and a
//! test keeps that rendering in step with the constant). A tuned copy is an ordinary value:
//!
//! ```
//! use checktls_score::ScoreTable;
//!
//! let mut table = ScoreTable::CHECKTLS;
//! table.cert.name_mismatch = 5;
//! table.validate()?;
//! # Ok::<(), checktls_score::Error>(())
//! ```

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::evidence::TlsVersion;

/// The bands of CheckTLS's scale.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// No TLS session: 0–49, higher the further the host got through the stages.
    NoEncryption,
    /// The host could not be reached, so nothing was tested: 50, "a 50-50 chance".
    Unreachable,
    /// SSLv2 or SSLv3: 51–63, bad encryption.
    Ssl,
    /// TLS 1.0: 64–74, very weak encryption.
    Tls10,
    /// TLS 1.1: 75–87, weak encryption.
    Tls11,
    /// TLS 1.2: 88–103, good encryption.
    Tls12,
    /// TLS 1.3: 104–121, strong encryption.
    Tls13,
}

impl Band {
    /// Every band, lowest first.
    pub const ALL: [Self; 7] = [
        Self::NoEncryption,
        Self::Unreachable,
        Self::Ssl,
        Self::Tls10,
        Self::Tls11,
        Self::Tls12,
        Self::Tls13,
    ];

    /// The band of a negotiated version.
    pub fn of(version: TlsVersion) -> Self {
        match version {
            TlsVersion::Ssl2 | TlsVersion::Ssl3 => Self::Ssl,
            TlsVersion::Tls10 => Self::Tls10,
            TlsVersion::Tls11 => Self::Tls11,
            TlsVersion::Tls12 => Self::Tls12,
            TlsVersion::Tls13 => Self::Tls13,
        }
    }

    /// The band's name: `no encryption`, `unreachable`, `SSLv2/SSLv3`, `TLS 1.0` … `TLS 1.3`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoEncryption => "no encryption",
            Self::Unreachable => "unreachable",
            Self::Ssl => "SSLv2/SSLv3",
            Self::Tls10 => "TLS 1.0",
            Self::Tls11 => "TLS 1.1",
            Self::Tls12 => "TLS 1.2",
            Self::Tls13 => "TLS 1.3",
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every number of the Confidence Factor. See the crate documentation for how each is used.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreTable {
    /// The bands: floor, base and ceiling of each.
    pub bands: Bands,
    /// Points a host without TLS gains for each stage it passed.
    pub stages: StagePoints,
    /// Points an encrypted host loses for its cipher suite.
    pub cipher: CipherPoints,
    /// Points an encrypted host loses for its certificate.
    pub cert: CertPoints,
    /// Points an encrypted host gains for MTA-STS and DANE.
    pub policy: PolicyPoints,
    /// How hosts weigh in the target's grade.
    pub weights: Weights,
}

/// One band's range and starting point.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandRow {
    /// The lowest score in the band.
    pub floor: u16,
    /// Where a host in the band starts: for a TLS band, the score of a flawless host without
    /// MTA-STS or DANE (deductions go down from it, bonuses up).
    pub base: u16,
    /// The highest score in the band.
    pub ceiling: u16,
}

impl BandRow {
    /// A row.
    pub const fn new(floor: u16, base: u16, ceiling: u16) -> Self {
        Self {
            floor,
            base,
            ceiling,
        }
    }
}

/// The row of each band.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bands {
    /// No TLS session (base = floor; stage points climb from it).
    pub no_encryption: BandRow,
    /// Not reached (a single value).
    pub unreachable: BandRow,
    /// SSLv2 and SSLv3.
    pub ssl: BandRow,
    /// TLS 1.0.
    pub tls1_0: BandRow,
    /// TLS 1.1.
    pub tls1_1: BandRow,
    /// TLS 1.2.
    pub tls1_2: BandRow,
    /// TLS 1.3 (its ceiling is the best-in-class grade).
    pub tls1_3: BandRow,
}

/// Points a host without TLS gains per stage passed (the stages not listed gain nothing).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePoints {
    /// The host accepted the TCP connection.
    pub answer: u16,
    /// Its greeting let us in.
    pub connect: u16,
    /// It accepted EHLO.
    pub ehlo: u16,
    /// It advertised STARTTLS (which then failed).
    pub tls_offered: u16,
    /// It accepted MAIL FROM.
    pub mail_from: u16,
    /// It accepted RCPT TO.
    pub rcpt_to: u16,
}

impl StagePoints {
    /// The points of every stage together.
    pub fn total(&self) -> u32 {
        [
            self.answer,
            self.connect,
            self.ehlo,
            self.tls_offered,
            self.mail_from,
            self.rcpt_to,
        ]
        .iter()
        .map(|p| u32::from(*p))
        .sum()
    }
}

/// Points lost for the negotiated cipher suite.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CipherPoints {
    /// The key exchange is not ephemeral (static RSA, static (EC)DH, PSK).
    pub no_forward_secrecy: u16,
    /// The bulk cipher is not an AEAD (CBC with HMAC).
    pub not_aead: u16,
    /// The bulk cipher's key is shorter than `short_key_below` bits.
    pub short_key: u16,
    /// The key size under which `short_key` applies.
    pub short_key_below: u16,
    /// The suite is broken (RC4, DES, 3DES, RC2, IDEA, NULL, export, anonymous).
    pub broken: u16,
}

/// Points lost for the certificate.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertPoints {
    /// The chain does not lead to a trust anchor, or the leaf is self-signed.
    pub untrusted_chain: u16,
    /// The certificate does not carry the MX host name.
    pub name_mismatch: u16,
    /// The leaf has expired or is not yet valid.
    pub out_of_validity: u16,
    /// The leaf is current but expires in fewer than `expires_soon_days` days.
    pub expires_soon: u16,
    /// The notice, in days, under which `expires_soon` applies.
    pub expires_soon_days: u16,
    /// The key is below the recommended size.
    pub weak_key: u16,
    /// The key is below the broken size (instead of `weak_key`).
    pub broken_key: u16,
    /// RSA and DSA keys below this many bits are weak.
    pub rsa_weak_below: u32,
    /// RSA and DSA keys below this many bits are broken.
    pub rsa_broken_below: u32,
    /// EC keys below this many bits are weak.
    pub ec_weak_below: u32,
    /// EC keys below this many bits are broken.
    pub ec_broken_below: u32,
    /// The chain's weakest signature uses SHA-1.
    pub sha1_signature: u16,
    /// The chain's weakest signature uses MD5 or older.
    pub md5_signature: u16,
}

impl CertPoints {
    /// The most a presented certificate can lose: every certificate deduction at its worst.
    /// A host that presented no readable certificate loses this much.
    pub fn worst(&self) -> u32 {
        u32::from(self.untrusted_chain)
            + u32::from(self.name_mismatch)
            + u32::from(self.out_of_validity.max(self.expires_soon))
            + u32::from(self.weak_key.max(self.broken_key))
            + u32::from(self.sha1_signature.max(self.md5_signature))
    }
}

/// Points gained for MTA-STS and DANE (only by an encrypted host, and only when tested).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPoints {
    /// A valid MTA-STS policy in `enforce` mode covers the host.
    pub mta_sts_enforce: u16,
    /// A valid MTA-STS policy in `testing` mode covers the host.
    pub mta_sts_testing: u16,
    /// A DNSSEC-secure, usable TLSA record matched the host's chain.
    pub dane: u16,
}

impl PolicyPoints {
    /// The most both policies can add.
    pub fn most(&self) -> u32 {
        u32::from(self.mta_sts_enforce.max(self.mta_sts_testing)) + u32::from(self.dane)
    }
}

/// How each host weighs in the target's weighted average: `preference` weight × reach weight.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    /// By preference rank among the counted hosts: the most preferred value (rank 0) first;
    /// ranks past the end use the last weight. Hosts sharing a preference share a rank.
    pub preference: [u32; 4],
    /// Multiplier for a host that was reached.
    pub connected: u32,
    /// Multiplier for a host that was not reached (when IgnoreNoConnect does not leave it out).
    pub unreachable: u32,
}

impl Weights {
    /// The preference weight of `rank` (0 = most preferred).
    pub fn of_rank(&self, rank: usize) -> u32 {
        let last = self.preference.len() - 1;
        self.preference[rank.min(last)]
    }
}

impl ScoreTable {
    /// The calibrated table.
    pub const CHECKTLS: Self = Self {
        bands: Bands {
            no_encryption: BandRow::new(0, 0, 49),
            unreachable: BandRow::new(50, 50, 50),
            ssl: BandRow::new(51, 56, 63),
            tls1_0: BandRow::new(64, 67, 74),
            tls1_1: BandRow::new(75, 80, 87),
            tls1_2: BandRow::new(88, 96, 103),
            tls1_3: BandRow::new(104, 114, 121),
        },
        stages: StagePoints {
            answer: 0,
            connect: 10,
            ehlo: 10,
            tls_offered: 17,
            mail_from: 6,
            rcpt_to: 6,
        },
        cipher: CipherPoints {
            no_forward_secrecy: 1,
            not_aead: 1,
            short_key: 2,
            short_key_below: 128,
            broken: 3,
        },
        cert: CertPoints {
            untrusted_chain: 3,
            name_mismatch: 4,
            out_of_validity: 2,
            expires_soon: 1,
            expires_soon_days: 14,
            weak_key: 2,
            broken_key: 3,
            rsa_weak_below: 2048,
            rsa_broken_below: 1024,
            ec_weak_below: 256,
            ec_broken_below: 160,
            sha1_signature: 2,
            md5_signature: 3,
        },
        policy: PolicyPoints {
            mta_sts_enforce: 3,
            mta_sts_testing: 1,
            dane: 4,
        },
        weights: Weights {
            preference: [8, 4, 2, 1],
            connected: 2,
            unreachable: 1,
        },
    };

    /// The row of `band`.
    pub fn row(&self, band: Band) -> BandRow {
        let b = &self.bands;
        match band {
            Band::NoEncryption => b.no_encryption,
            Band::Unreachable => b.unreachable,
            Band::Ssl => b.ssl,
            Band::Tls10 => b.tls1_0,
            Band::Tls11 => b.tls1_1,
            Band::Tls12 => b.tls1_2,
            Band::Tls13 => b.tls1_3,
        }
    }

    /// The best-in-class grade: a flawless TLS 1.3 host with MTA-STS enforced and DANE
    /// matched (121).
    pub fn best_in_class(&self) -> u16 {
        self.max_for(true, true)
    }

    /// The most a host can score given what was tested: the TLS 1.3 base plus the MTA-STS
    /// points if MTA-STS was tested and the DANE points if DANE was (114, 117, 118 or 121).
    pub fn max_for(&self, mta_sts_tested: bool, dane_tested: bool) -> u16 {
        let row = self.bands.tls1_3;
        let mut most = u32::from(row.base);
        if mta_sts_tested {
            most += u32::from(self.policy.mta_sts_enforce.max(self.policy.mta_sts_testing));
        }
        if dane_tested {
            most += u32::from(self.policy.dane);
        }
        clamp_u16(most, row.floor, row.ceiling)
    }

    /// Checks that the table is coherent: bands ordered and disjoint, each base inside its
    /// band with room for the bonuses, stage points inside the no-encryption band, harsher
    /// findings costing at least as much as milder ones, and usable weights. Scoring never
    /// leaves a band even with an incoherent table (scores are clamped), but the invariants
    /// the documentation promises (monotonicity, no clamping at the ceiling) need these.
    pub fn validate(&self) -> Result<(), Error> {
        for band in Band::ALL {
            let row = self.row(band);
            if !(row.floor <= row.base && row.base <= row.ceiling) {
                return Err(Error::BandShape {
                    band,
                    floor: row.floor,
                    base: row.base,
                    ceiling: row.ceiling,
                });
            }
        }
        for pair in Band::ALL.windows(2) {
            if let [lower, upper] = *pair
                && self.row(lower).ceiling >= self.row(upper).floor
            {
                return Err(Error::BandOrder { lower, upper });
            }
        }
        let plain = self.bands.no_encryption;
        let room = plain.ceiling - plain.base;
        if self.stages.total() > u32::from(room) {
            return Err(Error::StagePointsOverflow {
                total: self.stages.total(),
                room,
            });
        }
        for band in [
            Band::Ssl,
            Band::Tls10,
            Band::Tls11,
            Band::Tls12,
            Band::Tls13,
        ] {
            let row = self.row(band);
            let bonus = self.policy.most();
            if u32::from(row.base) + bonus > u32::from(row.ceiling) {
                return Err(Error::BonusOverflow {
                    band,
                    base: row.base,
                    bonus,
                    ceiling: row.ceiling,
                });
            }
        }
        let c = &self.cert;
        let p = &self.policy;
        let ordered = [
            (c.broken_key >= c.weak_key, "broken_key", "weak_key"),
            (
                c.md5_signature >= c.sha1_signature,
                "md5_signature",
                "sha1_signature",
            ),
            (
                c.out_of_validity >= c.expires_soon,
                "out_of_validity",
                "expires_soon",
            ),
            (
                p.mta_sts_enforce >= p.mta_sts_testing,
                "mta_sts_enforce",
                "mta_sts_testing",
            ),
            (
                c.rsa_weak_below >= c.rsa_broken_below,
                "rsa_weak_below",
                "rsa_broken_below",
            ),
            (
                c.ec_weak_below >= c.ec_broken_below,
                "ec_weak_below",
                "ec_broken_below",
            ),
        ];
        if let Some((_, larger, smaller)) = ordered.into_iter().find(|(ok, _, _)| !ok) {
            return Err(Error::Inverted { larger, smaller });
        }
        let w = &self.weights;
        if w.preference.contains(&0) || w.connected == 0 || w.unreachable == 0 {
            return Err(Error::ZeroWeight);
        }
        if let Some(rank) = w.preference.windows(2).position(|p| p[0] < p[1]) {
            return Err(Error::RisingWeights { rank: rank + 1 });
        }
        Ok(())
    }

    /// The table as Markdown: the bands, every adjustment with its points, and the weights.
    /// The crate documentation includes this rendering of [`ScoreTable::CHECKTLS`].
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_markdown(&mut out);
        out
    }

    fn write_markdown(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "### Bands")?;
        writeln!(out)?;
        writeln!(out, "| band | scores | starts at |")?;
        writeln!(out, "|---|---|---|")?;
        for band in Band::ALL {
            let row = self.row(band);
            let range = if row.floor == row.ceiling {
                row.floor.to_string()
            } else {
                format!("{}–{}", row.floor, row.ceiling)
            };
            let start = match band {
                Band::NoEncryption => format!("{} + points per stage passed", row.base),
                Band::Unreachable => row.base.to_string(),
                _ => format!("{} (a flawless host without MTA-STS or DANE)", row.base),
            };
            writeln!(out, "| {band} | {range} | {start} |")?;
        }
        writeln!(out)?;
        writeln!(out, "### Adjustments")?;
        writeln!(out)?;
        writeln!(out, "| finding | points |")?;
        writeln!(out, "|---|---|")?;
        let s = &self.stages;
        for (what, points) in [
            ("no TLS: the host answered", s.answer),
            ("no TLS: its greeting let us in", s.connect),
            ("no TLS: it accepted EHLO", s.ehlo),
            ("no TLS: it offered STARTTLS", s.tls_offered),
            ("no TLS: it accepted MAIL FROM", s.mail_from),
            ("no TLS: it accepted RCPT TO", s.rcpt_to),
        ] {
            writeln!(out, "| {what} | +{points} |")?;
        }
        let c = &self.cipher;
        writeln!(
            out,
            "| cipher without forward secrecy | -{} |",
            c.no_forward_secrecy
        )?;
        writeln!(out, "| cipher not an AEAD (CBC) | -{} |", c.not_aead)?;
        writeln!(
            out,
            "| cipher key under {} bits | -{} |",
            c.short_key_below, c.short_key
        )?;
        writeln!(
            out,
            "| broken cipher (RC4, DES, 3DES, RC2, IDEA, NULL, export, anonymous) | -{} |",
            c.broken
        )?;
        let t = &self.cert;
        writeln!(
            out,
            "| no readable certificate (every certificate deduction at its worst) | -{} |",
            t.worst()
        )?;
        writeln!(
            out,
            "| chain not trusted, or self-signed | -{} |",
            t.untrusted_chain
        )?;
        writeln!(
            out,
            "| name does not match the MX host | -{} |",
            t.name_mismatch
        )?;
        writeln!(out, "| expired or not yet valid | -{} |", t.out_of_validity)?;
        writeln!(
            out,
            "| expires in under {} days | -{} |",
            t.expires_soon_days, t.expires_soon
        )?;
        writeln!(
            out,
            "| weak key (RSA/DSA under {}, EC under {} bits) | -{} |",
            t.rsa_weak_below, t.ec_weak_below, t.weak_key
        )?;
        writeln!(
            out,
            "| broken key (RSA/DSA under {}, EC under {} bits) | -{} |",
            t.rsa_broken_below, t.ec_broken_below, t.broken_key
        )?;
        writeln!(
            out,
            "| SHA-1 signature in the chain | -{} |",
            t.sha1_signature
        )?;
        writeln!(
            out,
            "| MD5 (or older) signature in the chain | -{} |",
            t.md5_signature
        )?;
        let p = &self.policy;
        writeln!(
            out,
            "| MTA-STS: valid policy, mode enforce, covers the host | +{} |",
            p.mta_sts_enforce
        )?;
        writeln!(
            out,
            "| MTA-STS: valid policy, mode testing, covers the host | +{} |",
            p.mta_sts_testing
        )?;
        writeln!(
            out,
            "| DANE: DNSSEC-secure usable TLSA record matched | +{} |",
            p.dane
        )?;
        writeln!(out)?;
        writeln!(out, "### Weights")?;
        writeln!(out)?;
        writeln!(out, "| host | weight |")?;
        writeln!(out, "|---|---|")?;
        let w = &self.weights;
        let ordinals = ["1st", "2nd", "3rd", "4th"];
        for (i, (weight, ordinal)) in w.preference.iter().zip(ordinals).enumerate() {
            let later = if i + 1 == w.preference.len() {
                " and later"
            } else {
                ""
            };
            writeln!(out, "| {ordinal}{later} preference value | {weight} |")?;
        }
        writeln!(out, "| reached | × {} |", w.connected)?;
        writeln!(out, "| not reached | × {} |", w.unreachable)?;
        writeln!(out)?;
        writeln!(out, "### Maximum and best in class")?;
        writeln!(out)?;
        writeln!(
            out,
            "The maximum is {} (the TLS 1.3 base), plus {} when MTA-STS was tested, plus {} when \
             DANE was tested; best in class is {}.",
            self.bands.tls1_3.base,
            p.mta_sts_enforce.max(p.mta_sts_testing),
            p.dane,
            self.best_in_class()
        )?;
        Ok(())
    }
}

impl Default for ScoreTable {
    /// [`ScoreTable::CHECKTLS`].
    fn default() -> Self {
        Self::CHECKTLS
    }
}

/// `value` clamped into `floor..=ceiling`, as a u16.
pub(crate) fn clamp_u16(value: u32, floor: u16, ceiling: u16) -> u16 {
    let clamped = value.clamp(u32::from(floor), u32::from(ceiling.max(floor)));
    u16::try_from(clamped).unwrap_or(u16::MAX)
}
