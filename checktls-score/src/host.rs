//! One host's score: its band's base, then every deduction and bonus, kept inside the band.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::evidence::{
    CertEvidence, CipherEvidence, HostEvidence, KeyAlgorithm, SignatureHash, Stage, StsMode,
    TlsEvidence,
};
use crate::reason::{Adjustment, DaneGap, HostName, MtaStsGap, Reason};
use crate::table::{Band, ScoreTable, clamp_u16};

/// A host's score with every point explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct HostScore {
    /// The host's name (from the evidence).
    pub name: String,
    /// The address tested (from the evidence).
    pub address: Option<IpAddr>,
    /// The MX preference (from the evidence).
    pub preference: u16,
    /// Whether the host was reached.
    pub connected: bool,
    /// Whether the host was busy on every try (not tested, left out of the target's grade).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
    /// The band the host landed in.
    pub band: Band,
    /// The score; always inside `band`.
    pub score: u16,
    /// The most this host could score given what was tested (114 without MTA-STS or DANE
    /// tested, 121 with both).
    pub max: u16,
    /// Every point gained or lost, in order; their `points` add up to `score`.
    pub reasons: Vec<Adjustment>,
}

impl fmt::Display for HostScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (preference {}): {} of {} ({})",
            HostName(&self.name, &self.address),
            self.preference,
            self.score,
            self.max,
            self.band
        )?;
        for reason in &self.reasons {
            writeln!(f, "  {reason}")?;
        }
        Ok(())
    }
}

impl ScoreTable {
    /// Scores one host.
    pub fn score_host(&self, host: &HostEvidence) -> HostScore {
        let mut reasons = Vec::new();
        let (band, score) = match &host.tls {
            Some(tls) => (
                Band::of(tls.version),
                self.score_tls(tls, host, &mut reasons),
            ),
            None if host.busy => {
                let row = self.bands.unreachable;
                reasons.push(Adjustment::new(Reason::Busy, i32::from(row.base)));
                (Band::Unreachable, row.base)
            }
            None if !host.connected() => {
                let row = self.bands.unreachable;
                reasons.push(Adjustment::new(Reason::Unreachable, i32::from(row.base)));
                (Band::Unreachable, row.base)
            }
            None => (Band::NoEncryption, self.score_plaintext(host, &mut reasons)),
        };
        HostScore {
            name: host.name.clone(),
            address: host.address,
            preference: host.preference,
            connected: host.connected(),
            busy: host.busy && host.tls.is_none(),
            band,
            score,
            max: self.max_for(host.mta_sts.tested, host.dane.tested),
            reasons,
        }
    }

    fn score_plaintext(&self, host: &HostEvidence, reasons: &mut Vec<Adjustment>) -> u16 {
        let row = self.bands.no_encryption;
        reasons.push(Adjustment::new(Reason::NoEncryption, i32::from(row.base)));
        let s = &self.stages;
        let mut raw = i32::from(row.base);
        for (stage, points) in [
            (Stage::Answer, s.answer),
            (Stage::Connect, s.connect),
            (Stage::Ehlo, s.ehlo),
            (Stage::TlsOffered, s.tls_offered),
            (Stage::MailFrom, s.mail_from),
            (Stage::RcptTo, s.rcpt_to),
        ] {
            if points > 0 && host.stages.passed(stage) {
                raw += i32::from(points);
                reasons.push(Adjustment::new(
                    Reason::StagePassed { stage },
                    i32::from(points),
                ));
            }
        }
        keep_in_band(Band::NoEncryption, raw, row.floor, row.ceiling, reasons)
    }

    fn score_tls(
        &self,
        tls: &TlsEvidence,
        host: &HostEvidence,
        reasons: &mut Vec<Adjustment>,
    ) -> u16 {
        let band = Band::of(tls.version);
        let row = self.row(band);
        reasons.push(Adjustment::new(
            Reason::Protocol {
                version: tls.version,
                band,
                floor: row.floor,
                ceiling: row.ceiling,
            },
            i32::from(row.base),
        ));
        let mut lines = Vec::new();
        self.cipher_lines(&tls.cipher, &mut lines);
        match &tls.certificate {
            Some(cert) => self.cert_lines(cert, &mut lines),
            None => lines.push((
                Reason::NoCertificate,
                -i32::try_from(self.cert.worst()).unwrap_or(i32::MAX),
            )),
        }
        self.policy_lines(host, &mut lines);
        let mut raw = i32::from(row.base);
        for (reason, points) in lines {
            raw += points;
            reasons.push(Adjustment::new(reason, points));
        }
        keep_in_band(band, raw, row.floor, row.ceiling, reasons)
    }

    fn cipher_lines(&self, cipher: &CipherEvidence, lines: &mut Vec<(Reason, i32)>) {
        let p = &self.cipher;
        if !cipher.forward_secrecy {
            lines.push((Reason::NoForwardSecrecy, -i32::from(p.no_forward_secrecy)));
        }
        if !cipher.aead {
            lines.push((Reason::NotAead, -i32::from(p.not_aead)));
        }
        if cipher.bits < p.short_key_below {
            lines.push((
                Reason::ShortCipherKey {
                    bits: cipher.bits,
                    minimum: p.short_key_below,
                },
                -i32::from(p.short_key),
            ));
        }
        if cipher.broken {
            lines.push((Reason::BrokenCipher, -i32::from(p.broken)));
        }
    }

    fn cert_lines(&self, cert: &CertEvidence, lines: &mut Vec<(Reason, i32)>) {
        let p = &self.cert;
        if cert.self_signed {
            lines.push((Reason::SelfSigned, -i32::from(p.untrusted_chain)));
        } else if !cert.chain_valid {
            lines.push((Reason::UntrustedChain, -i32::from(p.untrusted_chain)));
        }
        if cert.name_match == Some(false) {
            lines.push((Reason::NameMismatch, -i32::from(p.name_mismatch)));
        }
        if cert.expired {
            lines.push((Reason::Expired, -i32::from(p.out_of_validity)));
        } else if cert.not_yet_valid {
            lines.push((Reason::NotYetValid, -i32::from(p.out_of_validity)));
        } else if let Some(days) = cert.days_to_expiry
            && days < i64::from(p.expires_soon_days)
        {
            lines.push((
                Reason::ExpiresSoon {
                    days,
                    notice: p.expires_soon_days,
                },
                -i32::from(p.expires_soon),
            ));
        }
        if let Some(key) = cert.key {
            let (weak_below, broken_below) = match key.algorithm {
                KeyAlgorithm::Rsa | KeyAlgorithm::Dsa => (p.rsa_weak_below, p.rsa_broken_below),
                KeyAlgorithm::Ec => (p.ec_weak_below, p.ec_broken_below),
                // Ed25519, Ed448 and any algorithm named later: no size to judge.
                _ => (0, 0),
            };
            if key.bits < broken_below {
                lines.push((
                    Reason::BrokenKey {
                        algorithm: key.algorithm,
                        bits: key.bits,
                        minimum: broken_below,
                    },
                    -i32::from(p.broken_key),
                ));
            } else if key.bits < weak_below {
                lines.push((
                    Reason::WeakKey {
                        algorithm: key.algorithm,
                        bits: key.bits,
                        minimum: weak_below,
                    },
                    -i32::from(p.weak_key),
                ));
            }
        }
        match cert.weakest_signature {
            Some(hash @ SignatureHash::Md5) => {
                lines.push((
                    Reason::BrokenSignature { hash },
                    -i32::from(p.md5_signature),
                ));
            }
            Some(hash @ SignatureHash::Sha1) => {
                lines.push((Reason::WeakSignature { hash }, -i32::from(p.sha1_signature)));
            }
            _ => {}
        }
    }

    fn policy_lines(&self, host: &HostEvidence, lines: &mut Vec<(Reason, i32)>) {
        let p = &self.policy;
        let sts = &host.mta_sts;
        if sts.tested {
            let line = if !sts.policy_valid {
                (
                    Reason::MtaStsNotCounted {
                        gap: MtaStsGap::NoValidPolicy,
                    },
                    0,
                )
            } else if sts.mode == StsMode::None {
                (
                    Reason::MtaStsNotCounted {
                        gap: MtaStsGap::ModeNone,
                    },
                    0,
                )
            } else if !sts.host_covered {
                (
                    Reason::MtaStsNotCounted {
                        gap: MtaStsGap::NotCovered,
                    },
                    0,
                )
            } else if sts.mode == StsMode::Enforce {
                (Reason::MtaStsEnforce, i32::from(p.mta_sts_enforce))
            } else {
                (Reason::MtaStsTesting, i32::from(p.mta_sts_testing))
            };
            lines.push(line);
        }
        let dane = &host.dane;
        if dane.tested {
            let gap = if !dane.usable {
                Some(DaneGap::NoUsableRecords)
            } else if !dane.secure {
                Some(DaneGap::NotSecure)
            } else if !dane.matched {
                Some(DaneGap::NoMatch)
            } else {
                None
            };
            lines.push(match gap {
                Some(gap) => (Reason::DaneNotCounted { gap }, 0),
                None => (Reason::Dane, i32::from(p.dane)),
            });
        }
    }
}

/// `raw` kept within `floor..=ceiling`, the clamp (if any) listed as an adjustment so the
/// reasons still add up to the score.
fn keep_in_band(
    band: Band,
    raw: i32,
    floor: u16,
    ceiling: u16,
    reasons: &mut Vec<Adjustment>,
) -> u16 {
    let ceiling = ceiling.max(floor);
    if raw < i32::from(floor) {
        reasons.push(Adjustment::new(
            Reason::BandFloor { band, floor },
            i32::from(floor) - raw,
        ));
        floor
    } else if raw > i32::from(ceiling) {
        reasons.push(Adjustment::new(
            Reason::BandCeiling { band, ceiling },
            i32::from(ceiling) - raw,
        ));
        ceiling
    } else {
        clamp_u16(u32::try_from(raw).unwrap_or(0), floor, ceiling)
    }
}
