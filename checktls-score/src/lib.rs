//! The Confidence Factor: pure functions from what a receiver test found to a grade, with
//! every point explained.
//!
//! CheckTLS grades how sure it is that mail to an address would travel encrypted: each MX host
//! lands in a band set by its TLS version, moves within the band for its cipher, certificate,
//! MTA-STS and DANE, and the hosts are combined by a weighted average on MX preference and on
//! whether they were reached. CheckTLS's formula is proprietary; this crate implements a
//! transparent one on its published bands, calibrated as described below. Every number lives
//! in one table, [`ScoreTable::CHECKTLS`].
//!
//! ```text
//!   facade (all the I/O: DNS, SMTP, TLS)  │  checktls-score (pure: no I/O, no clock)
//!                                         │
//!   report ──► HostEvidence per MX address ──► score_host ───► HostScore
//!                                         │      {band, score, max, reasons}
//!                                         ├──► score_target ─► ConfidenceFactor
//!                                         │      {score, max, percent, best_in_class, ...}
//!                                         └──► assuredness ──► Assuredness (0 or 100)
//! ```
//!
//! # Example
//!
//! ```
//! use checktls_score::{score_target, CertEvidence, CipherEvidence, HostEvidence, KeyAlgorithm,
//!     KeyEvidence, SignatureHash, Stage, Stages, TargetOptions, TlsEvidence, TlsVersion};
//!
//! let host = HostEvidence {
//!     name: "mx1.example.com".into(),
//!     preference: 10,
//!     stages: Stages::through(Stage::RcptTo),
//!     tls: Some(TlsEvidence {
//!         version: TlsVersion::Tls13,
//!         cipher: CipherEvidence::from_name("TLS_AES_256_GCM_SHA384").unwrap(),
//!         certificate: Some(CertEvidence {
//!             days_to_expiry: Some(80),
//!             key: Some(KeyEvidence { algorithm: KeyAlgorithm::Ec, bits: 256 }),
//!             weakest_signature: Some(SignatureHash::Sha256),
//!             ..CertEvidence::verified()
//!         }),
//!     }),
//!     ..HostEvidence::default()
//! };
//! let cf = score_target(&[host], &TargetOptions::default());
//! assert_eq!((cf.score, cf.max, cf.percent, cf.best_in_class), (114, 114, 100, 121));
//! for line in &cf.hosts[0].reasons {
//!     println!("{line}"); // "+114  TLSv1.3 negotiated: the TLS 1.3 band, 104–121; ..."
//! }
//! ```
//!
//! # The formula
//!
//! ## A host
//!
//! A host's band is decided first, then its place in the band:
//!
//! 1. **A TLS session was established** (`tls` is `Some`): the band of the negotiated version.
//!    The host starts at the band's *base* (the score of a flawless host without MTA-STS or
//!    DANE), loses the points of every flaw of its cipher and certificate, gains the MTA-STS
//!    and DANE points, and is kept inside the band: a host whose deductions pass the floor
//!    stays at the floor, and the clamp is listed as an adjustment of its own. Because every
//!    band lies wholly above the one before, the version always outweighs the cipher and the
//!    certificate.
//! 2. **Otherwise, the host was not reached** (its Answer stage did not pass): 50, "not
//!    tested, a 50-50 chance".
//! 3. **Otherwise** (reached, no TLS): the no-encryption band, 0 plus the points of each stage
//!    passed, so the further the host got, the higher it scores (at most 49).
//!
//! The stages after Secure (MAIL FROM, RCPT TO) do not move an encrypted host's score: the
//! Confidence Factor measures whether mail would travel encrypted, not whether the address
//! exists.
//!
//! ## The table
//!
//! Every number below is a field of [`ScoreTable::CHECKTLS`] (this section is rendered from it
//! by [`ScoreTable::to_markdown`], and a test keeps the two identical).
//!
#![doc = include_str!("table.md")]
//!
//! Notes on the adjustments:
//!
//! - Cipher: the flaws add up (`AES128-SHA` lacks forward secrecy and is CBC: -2; `DES-CBC3-SHA`
//!   is also short-keyed and broken: -7). [`CipherEvidence::from_name`] derives them from a
//!   suite name. 128-bit AEAD suites lose nothing.
//! - Certificate: a self-signed leaf is scored like an untrusted chain (once, not twice).
//!   `chain_valid` is judged apart from dates, so an expired but otherwise good certificate
//!   loses only the expiry points. Name mismatch costs the most of the certificate flaws: a
//!   certificate for another name authenticates someone else. A broken key or an MD5
//!   signature replaces (does not add to) the weak-key or SHA-1 deduction. Unknown facts
//!   (`None`) cost nothing.
//! - MTA-STS and DANE earn points only when tested, and only as listed; a tested policy that
//!   earns nothing is listed as a 0-point note saying why. They never cost points: a DANE
//!   record that does not match makes senders defer, which is a delivery problem, not an
//!   insecure delivery.
//!
//! ## Calibration
//!
//! - A TLS 1.3 host with a strong cipher and a certificate that validates, matches, is current
//!   and has a strong key: **114** when neither MTA-STS nor DANE applies.
//! - The same host with an expired certificate: 114 - 2 = **112**.
//! - The same host with a valid enforced MTA-STS policy covering it and a matching
//!   DNSSEC-secure DANE record: 114 + 3 + 4 = **121**, best in class.
//! - CheckTLS's published data point (one MX; TLS 1.2 with `AES128-SHA`; chain valid; host name
//!   mismatch): 96 - 1 (no forward secrecy) - 1 (CBC) - 4 (name) = **90**, as CheckTLS showed.
//!
//! ## A target
//!
//! The hosts counted are all hosts, less those not reached when IgnoreNoConnect is on
//! ([`TargetOptions::ignore_no_connect`]). Each counted host weighs *preference weight × reach
//! weight*: preference weights go by rank among the counted hosts' distinct preference values
//! (8, 4, 2, then 1 for the 4th value and later; hosts sharing a preference share its weight),
//! and a reached host weighs twice an unreached one. The grade is the weighted average of the
//! counted hosts' scores, computed exactly in integers and rounded half up, so it lies between
//! the lowest and highest counted score and does not depend on the order of the hosts. When no
//! host counts (none given, or none reached under IgnoreNoConnect) the grade is 50.
//!
//! CheckTLS shows four figures, the fields of [`ConfidenceFactor`]:
//!
//! | figure | meaning |
//! |---|---|
//! | `score` | the grade |
//! | `max` | the most this target could get given what was tested: 114, plus 3 if MTA-STS was tested, plus 4 if DANE was (the highest such maximum among the counted hosts) |
//! | `percent` | the grade as a percent of `max`, rounded half up |
//! | `best_in_class` | the grade of a fully tested best-in-class system: 121 |
//!
//! **Quick** ([`TargetOptions::quick`]): the Confidence QFactor is the score of the one host
//! tested: the most preferred counted host (ties go to the first in input order). Quick sets
//! IgnoreNoConnect, so it is the most preferred host that answered; its `max` is that host's.
//!
//! **AssureTLS** ([`ScoreTable::assuredness`]): the Assuredness Factor. A counted host passes
//! only if it refused `MAIL FROM` sent in plaintext; the factor is 100 when every counted host
//! passed, and 0 otherwise (also when no host counted, or a counted host was not reached).
//!
//! ## Worked example
//!
//! Two MX hosts; MTA-STS (enforce, both hosts listed) and DANE (no TLSA records) were tested.
//!
//! | host | finding | points | score |
//! |---|---|---|---|
//! | mx1, preference 10 | TLS 1.3, strong cipher, good certificate | 114 | |
//! | | MTA-STS enforce covers it | +3 | |
//! | | DANE: no usable TLSA record | 0 | **117** |
//! | mx2, preference 20 | TLS 1.2 | 96 | |
//! | | `ECDHE-RSA-AES128-SHA`: CBC | -1 | |
//! | | name mismatch | -4 | |
//! | | MTA-STS enforce covers it | +3 | |
//! | | DANE: no usable TLSA record | 0 | **94** |
//!
//! Weights: mx1 ranks first, 8 × 2 (reached) = 16; mx2 second, 4 × 2 = 8. Grade: (117 × 16 +
//! 94 × 8) / 24 = 109.33, rounded to **109**. Both policies were tested, so the maximum is
//! 121; 109 is 90% of it; best in class is 121.
//!
//! ```
//! use checktls_score::{score_target, CertEvidence, CipherEvidence, DaneEvidence, HostEvidence,
//!     MtaStsEvidence, Stage, Stages, StsMode, TargetOptions, TlsEvidence, TlsVersion};
//!
//! let sts = MtaStsEvidence { tested: true, policy_valid: true, mode: StsMode::Enforce,
//!     host_covered: true };
//! let dane = DaneEvidence { tested: true, ..DaneEvidence::default() };
//! let host = |name: &str, preference, version, cipher: &str, name_match| HostEvidence {
//!     name: name.into(),
//!     preference,
//!     stages: Stages::through(Stage::RcptTo),
//!     tls: Some(TlsEvidence {
//!         version,
//!         cipher: CipherEvidence::from_name(cipher).unwrap(),
//!         certificate: Some(CertEvidence { name_match: Some(name_match),
//!             ..CertEvidence::verified() }),
//!     }),
//!     mta_sts: sts,
//!     dane,
//!     ..HostEvidence::default()
//! };
//! let hosts = [
//!     host("mx1.example.com", 10, TlsVersion::Tls13, "TLS_AES_128_GCM_SHA256", true),
//!     host("mx2.example.com", 20, TlsVersion::Tls12, "ECDHE-RSA-AES128-SHA", false),
//! ];
//! let cf = score_target(&hosts, &TargetOptions::default());
//! assert_eq!((cf.hosts[0].score, cf.hosts[1].score), (117, 94));
//! assert_eq!(cf.to_string(), "109 of 121 (90%), best in class 121");
//! ```
//!
//! # Crate features
//!
//! - `schema` (off): `schemars::JsonSchema` on the scores and reasons a report holds (the
//!   `checktls` facade's `schema` feature turns it on). Without it the crate depends only on
//!   `serde` and `thiserror`.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod error;
mod evidence;
mod host;
mod names;
mod reason;
mod table;
mod target;

pub use error::Error;
pub use evidence::{
    CertEvidence, CipherEvidence, DaneEvidence, HostEvidence, KeyAlgorithm, KeyEvidence,
    MtaStsEvidence, SignatureHash, Stage, Stages, StsMode, TlsEvidence, TlsVersion,
};
pub use host::HostScore;
pub use reason::{Adjustment, DaneGap, MtaStsGap, Reason, TargetAdjustment, TargetReason};
pub use table::{
    Band, BandRow, Bands, CertPoints, CipherPoints, PolicyPoints, ScoreTable, StagePoints, Weights,
};
pub use target::{
    AssureHost, AssureOutcome, AssureVerdict, Assuredness, ConfidenceFactor, FactorKind,
    TargetOptions,
};

/// Scores one host with [`ScoreTable::CHECKTLS`].
pub fn score_host(host: &HostEvidence) -> HostScore {
    ScoreTable::CHECKTLS.score_host(host)
}

/// The Confidence Factor (or QFactor) of a target's hosts with [`ScoreTable::CHECKTLS`].
pub fn score_target(hosts: &[HostEvidence], options: &TargetOptions) -> ConfidenceFactor {
    ScoreTable::CHECKTLS.score_target(hosts, options)
}

/// The AssureTLS Assuredness Factor (0 or 100) of a target's hosts.
pub fn assuredness(hosts: &[HostEvidence], options: &TargetOptions) -> Assuredness {
    ScoreTable::CHECKTLS.assuredness(hosts, options)
}

#[cfg(test)]
mod tests {
    use super::ScoreTable;

    /// The table rendered in the crate documentation is the table the code uses. To refresh it
    /// after tuning, run `CHECKTLS_BLESS=1 cargo test -p checktls-score --lib`.
    #[test]
    fn documented_table_matches_the_constant() {
        let rendered = ScoreTable::CHECKTLS.to_markdown();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/table.md");
        if std::env::var_os("CHECKTLS_BLESS").is_some() {
            std::fs::write(path, &rendered).unwrap();
        }
        let documented = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            documented, rendered,
            "src/table.md is stale: run CHECKTLS_BLESS=1 cargo test -p checktls-score --lib"
        );
    }

    #[test]
    fn the_calibrated_table_is_coherent() {
        assert_eq!(ScoreTable::CHECKTLS.validate(), Ok(()));
    }
}
