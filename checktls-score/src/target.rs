//! A target's grade: its hosts' scores combined by a weighted average, shown as four figures;
//! and the AssureTLS Assuredness Factor.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::evidence::HostEvidence;
use crate::host::HostScore;
use crate::reason::{HostName, TargetAdjustment, TargetReason};
use crate::table::ScoreTable;

/// How a target's hosts are combined.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetOptions {
    /// CheckTLS's IgnoreNoConnect: leave hosts that were not reached out of the grade (and out
    /// of the Assuredness Factor). Default: false (they count as 50, at a lower weight).
    pub ignore_no_connect: bool,
    /// CheckTLS's Quick option: the grade is the QFactor, the score of the one host tested:
    /// the most preferred host counted (ties go to the first in input order). Default: false.
    pub quick: bool,
}

impl TargetOptions {
    /// The options of CheckTLS's Quick test: `quick` and `ignore_no_connect` (so the one host
    /// is the most preferred host that answered).
    pub fn quick() -> Self {
        Self {
            ignore_no_connect: true,
            quick: true,
        }
    }
}

/// Which grade a [`ConfidenceFactor`] is.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// The Confidence Factor: every host counted, weighted.
    Confidence,
    /// The Confidence QFactor: the one host of a quick test.
    Quick,
}

/// A target's grade as CheckTLS shows it (four figures), with the hosts' scores and every
/// share explained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ConfidenceFactor {
    /// The Confidence Factor or the QFactor.
    pub kind: FactorKind,
    /// The grade: the counted hosts' weighted average, rounded half up; 50 when no host counts.
    pub score: u16,
    /// The most this target could get given what was tested: 114 plus 3 if MTA-STS was tested
    /// and 4 if DANE was (the highest such maximum among the counted hosts).
    pub max: u16,
    /// `score` as a percent of `max`, rounded half up.
    pub percent: u16,
    /// The grade of a fully tested best-in-class system: 121.
    pub best_in_class: u16,
    /// The weighted average before rounding.
    pub exact: f64,
    /// Every host's score, in input order.
    pub hosts: Vec<HostScore>,
    /// Every host's share of the grade (or why it does not count), then the rounding; their
    /// `points` add up to `score`.
    pub reasons: Vec<TargetAdjustment>,
}

impl fmt::Display for ConfidenceFactor {
    /// `114 of 121 (94%), best in class 121`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} ({}%), best in class {}",
            self.score, self.max, self.percent, self.best_in_class
        )
    }
}

/// The AssureTLS (mandatory-TLS) grade: 100 when every counted host refused plaintext
/// `MAIL FROM`, else 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Assuredness {
    /// 0 or 100.
    pub factor: u16,
    /// Every host's verdict, in input order.
    pub hosts: Vec<AssureHost>,
    /// Why the factor is what it is.
    pub outcome: AssureOutcome,
    /// The outcome as a sentence.
    pub text: String,
}

impl fmt::Display for Assuredness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Assuredness Factor {}: {}", self.factor, self.text)?;
        for host in &self.hosts {
            writeln!(f, "  {}", host.text)?;
        }
        Ok(())
    }
}

/// One host's AssureTLS verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct AssureHost {
    /// The host's name.
    pub name: String,
    /// Its address.
    pub address: Option<IpAddr>,
    /// Its MX preference.
    pub preference: u16,
    /// Whether it counts towards the factor.
    pub counted: bool,
    /// Whether it passed (refused plaintext `MAIL FROM`).
    pub passed: bool,
    /// What was seen.
    pub verdict: AssureVerdict,
    /// The verdict as a sentence.
    pub text: String,
}

/// What AssureTLS saw of one host.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssureVerdict {
    /// It refused `MAIL FROM` in plaintext: it mandates TLS (passes).
    Refused,
    /// It accepted `MAIL FROM` in plaintext (fails).
    Accepted,
    /// It was reached but `MAIL FROM` was never tried (fails: not shown to refuse).
    NotTried,
    /// It was not reached (fails, unless IgnoreNoConnect leaves it out).
    Unreachable,
    /// It was not reached and IgnoreNoConnect leaves it out.
    LeftOut,
    /// Quick mode: not the host tested.
    NotChosen,
}

/// Why the Assuredness Factor is 0 or 100.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AssureOutcome {
    /// Every counted host refused plaintext: 100.
    AllRefused {
        /// How many hosts counted.
        hosts: usize,
    },
    /// Some counted host did not refuse: 0.
    NotAllRefused {
        /// How many counted hosts failed.
        failed: usize,
        /// How many hosts counted.
        hosts: usize,
    },
    /// No host counted: nothing assured, 0.
    NothingTested,
}

impl fmt::Display for AssureOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AllRefused { hosts } => {
                write!(f, "all {hosts} hosts refused mail in plaintext")
            }
            Self::NotAllRefused { failed, hosts } => {
                write!(
                    f,
                    "{failed} of {hosts} hosts did not refuse mail in plaintext"
                )
            }
            Self::NothingTested => f.write_str("no host could be tested, so nothing is assured"),
        }
    }
}

/// Whether a host counts, and if not why.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Counted,
    LeftOut,
    Busy,
    NotChosen,
}

impl ScoreTable {
    /// The Confidence Factor (or QFactor, with [`TargetOptions::quick`]) of a target's hosts.
    ///
    /// Each counted host weighs `preference weight × reach weight`; the grade is
    /// `Σ weight × score ÷ Σ weight`, computed exactly and rounded half up, so it does not
    /// depend on the hosts' order.
    pub fn score_target(
        &self,
        hosts: &[HostEvidence],
        options: &TargetOptions,
    ) -> ConfidenceFactor {
        let scores: Vec<HostScore> = hosts.iter().map(|h| self.score_host(h)).collect();
        let roles = roles(&scores, options);
        let counted: Vec<usize> = (0..scores.len())
            .filter(|i| roles.get(*i) == Some(&Role::Counted))
            .collect();

        // Preference ranks among the counted hosts.
        let mut preferences: Vec<u16> = counted
            .iter()
            .filter_map(|i| scores.get(*i).map(|s| s.preference))
            .collect();
        preferences.sort_unstable();
        preferences.dedup();
        let rank_of = |preference: u16| preferences.partition_point(|p| *p < preference);
        let weight_of = |score: &HostScore| -> u32 {
            let reach = if score.connected {
                self.weights.connected
            } else {
                self.weights.unreachable
            };
            self.weights
                .of_rank(rank_of(score.preference))
                .saturating_mul(reach)
        };

        let mut total_weight: u64 = 0;
        let mut weighted: u64 = 0;
        for score in counted.iter().filter_map(|i| scores.get(*i)) {
            let weight = u64::from(weight_of(score));
            total_weight += weight;
            weighted += weight * u64::from(score.score);
        }

        let kind = if options.quick {
            FactorKind::Quick
        } else {
            FactorKind::Confidence
        };
        let mut reasons = Vec::new();
        for (i, score) in scores.iter().enumerate() {
            let name = score.name.clone();
            let address = score.address;
            let role = roles.get(i).copied().unwrap_or(Role::LeftOut);
            let line = match role {
                Role::Counted if options.quick => TargetAdjustment::new(
                    TargetReason::QuickHost {
                        host: i,
                        name,
                        address,
                        score: score.score,
                    },
                    f64::from(score.score),
                ),
                Role::Counted => {
                    let weight = weight_of(score);
                    let share = if total_weight == 0 {
                        0.0
                    } else {
                        f64::from(weight) * f64::from(score.score) / total_weight as f64
                    };
                    TargetAdjustment::new(
                        TargetReason::Share {
                            host: i,
                            name,
                            address,
                            preference: score.preference,
                            rank: rank_of(score.preference),
                            connected: score.connected,
                            score: score.score,
                            weight,
                            total_weight,
                        },
                        share,
                    )
                }
                Role::LeftOut => TargetAdjustment::new(
                    TargetReason::LeftOut {
                        host: i,
                        name,
                        address,
                    },
                    0.0,
                ),
                Role::Busy => TargetAdjustment::new(
                    TargetReason::Busy {
                        host: i,
                        name,
                        address,
                    },
                    0.0,
                ),
                Role::NotChosen => TargetAdjustment::new(
                    TargetReason::NotChosen {
                        host: i,
                        name,
                        address,
                    },
                    0.0,
                ),
            };
            reasons.push(line);
        }

        let (score, exact) = if total_weight == 0 {
            let nothing = self.bands.unreachable.base;
            reasons.push(TargetAdjustment::new(
                TargetReason::NothingTested,
                f64::from(nothing),
            ));
            (nothing, f64::from(nothing))
        } else {
            // Round half up, exactly: (2·Σws + Σw) ÷ (2·Σw).
            let rounded = (2 * weighted + total_weight) / (2 * total_weight);
            let exact = weighted as f64 / total_weight as f64;
            (u16::try_from(rounded).unwrap_or(u16::MAX), exact)
        };
        let rounding = f64::from(score) - exact;
        if rounding.abs() > 1e-9 {
            reasons.push(TargetAdjustment::new(TargetReason::Rounding, rounding));
        }

        // The maximum: the highest among the counted hosts (among all hosts when none counts;
        // the bare TLS 1.3 base when there are no hosts at all).
        let pool: Vec<&HostScore> = if counted.is_empty() {
            scores.iter().collect()
        } else {
            counted.iter().filter_map(|i| scores.get(*i)).collect()
        };
        let max = pool
            .iter()
            .map(|s| s.max)
            .max()
            .unwrap_or_else(|| self.max_for(false, false));
        let percent = if max == 0 {
            0
        } else {
            let (s, m) = (u32::from(score), u32::from(max));
            u16::try_from((200 * s + m) / (2 * m)).unwrap_or(u16::MAX)
        };

        ConfidenceFactor {
            kind,
            score,
            max,
            percent,
            best_in_class: self.best_in_class(),
            exact,
            hosts: scores,
            reasons,
        }
    }

    /// The AssureTLS Assuredness Factor of a target's hosts: each counted host passes only if
    /// it refused plaintext `MAIL FROM` ([`HostEvidence::plaintext_refused`] is `Some(true)`);
    /// the factor is 100 when every counted host passed and at least one counted, else 0.
    /// [`TargetOptions`] select the hosts as for [`ScoreTable::score_target`].
    pub fn assuredness(&self, hosts: &[HostEvidence], options: &TargetOptions) -> Assuredness {
        let scores: Vec<(u16, bool)> = hosts
            .iter()
            .map(|h| (h.preference, h.connected()))
            .collect();
        let roles = roles_of(&scores, options);
        let mut verdicts = Vec::with_capacity(hosts.len());
        let (mut counted, mut failed) = (0usize, 0usize);
        for (i, host) in hosts.iter().enumerate() {
            let role = roles.get(i).copied().unwrap_or(Role::LeftOut);
            let verdict = match role {
                Role::LeftOut | Role::Busy => AssureVerdict::LeftOut,
                Role::NotChosen => AssureVerdict::NotChosen,
                Role::Counted if !host.connected() => AssureVerdict::Unreachable,
                Role::Counted => match host.plaintext_refused {
                    Some(true) => AssureVerdict::Refused,
                    Some(false) => AssureVerdict::Accepted,
                    None => AssureVerdict::NotTried,
                },
            };
            let is_counted = role == Role::Counted;
            let passed = verdict == AssureVerdict::Refused;
            if is_counted {
                counted += 1;
                if !passed {
                    failed += 1;
                }
            }
            let who = HostName(&host.name, &host.address);
            let text = match verdict {
                AssureVerdict::Refused => format!("{who} refused MAIL FROM in plaintext: passes"),
                AssureVerdict::Accepted => format!("{who} accepted MAIL FROM in plaintext: fails"),
                AssureVerdict::NotTried => {
                    format!("{who} was reached but MAIL FROM was never tried: fails")
                }
                AssureVerdict::Unreachable => format!("{who} was not reached: fails"),
                AssureVerdict::LeftOut => {
                    format!("{who} was not reached and IgnoreNoConnect leaves it out")
                }
                AssureVerdict::NotChosen => {
                    format!("quick test: {who} is not the host tested, so it does not count")
                }
            };
            verdicts.push(AssureHost {
                name: host.name.clone(),
                address: host.address,
                preference: host.preference,
                counted: is_counted,
                passed,
                verdict,
                text,
            });
        }
        let outcome = if counted == 0 {
            AssureOutcome::NothingTested
        } else if failed == 0 {
            AssureOutcome::AllRefused { hosts: counted }
        } else {
            AssureOutcome::NotAllRefused {
                failed,
                hosts: counted,
            }
        };
        Assuredness {
            factor: if matches!(outcome, AssureOutcome::AllRefused { .. }) {
                100
            } else {
                0
            },
            hosts: verdicts,
            text: outcome.to_string(),
            outcome,
        }
    }
}

fn roles(scores: &[HostScore], options: &TargetOptions) -> Vec<Role> {
    let keys: Vec<(u16, bool)> = scores.iter().map(|s| (s.preference, s.connected)).collect();
    let mut roles = roles_of(&keys, options);
    // A host busy on every try was not tested: left out whatever the options.
    for (role, s) in roles.iter_mut().zip(scores) {
        if s.busy {
            *role = Role::Busy;
        }
    }
    roles
}

/// Which hosts count, from `(preference, connected)` per host: IgnoreNoConnect leaves the
/// unreached out; Quick keeps only the most preferred of the rest (first in input order).
fn roles_of(hosts: &[(u16, bool)], options: &TargetOptions) -> Vec<Role> {
    let mut roles: Vec<Role> = hosts
        .iter()
        .map(|(_, connected)| {
            if options.ignore_no_connect && !connected {
                Role::LeftOut
            } else {
                Role::Counted
            }
        })
        .collect();
    if options.quick {
        let chosen = hosts
            .iter()
            .enumerate()
            .filter(|(i, _)| roles.get(*i) == Some(&Role::Counted))
            .min_by_key(|(i, (preference, _))| (*preference, *i))
            .map(|(i, _)| i);
        for (i, role) in roles.iter_mut().enumerate() {
            if *role == Role::Counted && Some(i) != chosen {
                *role = Role::NotChosen;
            }
        }
    }
    roles
}
