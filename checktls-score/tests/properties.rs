//! Invariants of the score, checked on random evidence (proptest):
//!
//! - every host score stays inside its band, and its reasons add up to it;
//! - a better host (better in any field, worse in none) never scores lower, and never lowers
//!   its target's grade;
//! - a target's grade lies between its counted hosts' lowest and highest scores;
//! - the order of the hosts (in particular of equal-preference hosts) does not matter.
//!
//! "Better" is the componentwise order on the evidence: a higher TLS version, a cipher or
//! certificate flag turned good, more key bits, a stronger signature hash, more days left, a
//! policy closer to earning its points, more stages passed by a host without TLS, TLS where
//! there was none. Whether a host was reached is not an order (an unreached host is "not
//! tested", 50, above a reached one without TLS), so improvements keep it fixed.

use checktls_score::{
    Band, CertEvidence, CipherEvidence, DaneEvidence, HostEvidence, KeyAlgorithm, KeyEvidence,
    MtaStsEvidence, ScoreTable, SignatureHash, Stage, Stages, StsMode, TargetOptions, TlsEvidence,
    TlsVersion, assuredness, score_host, score_target,
};
use proptest::prelude::*;
use proptest::sample::select;

fn arb_stages() -> impl Strategy<Value = Stages> {
    proptest::collection::vec(proptest::option::of(any::<bool>()), Stage::ALL.len()).prop_map(
        |outcomes| {
            let mut stages = Stages::default();
            for (stage, outcome) in Stage::ALL.iter().zip(outcomes) {
                if let Some(ok) = outcome {
                    stages.set(*stage, ok);
                }
            }
            stages
        },
    )
}

fn arb_cipher() -> impl Strategy<Value = CipherEvidence> {
    (
        select(vec![0u16, 40, 56, 112, 127, 128, 256]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(bits, aead, forward_secrecy, broken)| CipherEvidence {
            bits,
            aead,
            forward_secrecy,
            broken,
        })
}

fn arb_key() -> impl Strategy<Value = Option<KeyEvidence>> {
    proptest::option::of(
        (
            select(vec![
                KeyAlgorithm::Rsa,
                KeyAlgorithm::Dsa,
                KeyAlgorithm::Ec,
                KeyAlgorithm::Ed25519,
                KeyAlgorithm::Ed448,
            ]),
            select(vec![
                0u32, 160, 224, 256, 384, 512, 1023, 1024, 2047, 2048, 4096,
            ]),
        )
            .prop_map(|(algorithm, bits)| KeyEvidence { algorithm, bits }),
    )
}

fn arb_signature() -> impl Strategy<Value = Option<SignatureHash>> {
    proptest::option::of(select(vec![
        SignatureHash::Md5,
        SignatureHash::Sha1,
        SignatureHash::Sha224,
        SignatureHash::Sha256,
        SignatureHash::Sha384,
        SignatureHash::Sha512,
        SignatureHash::Intrinsic,
    ]))
}

fn arb_cert() -> impl Strategy<Value = CertEvidence> {
    (
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(-400i64..400),
        any::<bool>(),
        arb_key(),
        arb_signature(),
    )
        .prop_map(
            |(chain_valid, name_match, expired, not_yet_valid, days, self_signed, key, sig)| {
                CertEvidence {
                    chain_valid,
                    name_match,
                    expired,
                    not_yet_valid,
                    days_to_expiry: days,
                    self_signed,
                    key,
                    weakest_signature: sig,
                }
            },
        )
}

fn arb_tls() -> impl Strategy<Value = TlsEvidence> {
    (
        select(TlsVersion::ALL.to_vec()),
        arb_cipher(),
        proptest::option::weighted(0.85, arb_cert()),
    )
        .prop_map(|(version, cipher, certificate)| TlsEvidence {
            version,
            cipher,
            certificate,
        })
}

fn arb_sts() -> impl Strategy<Value = MtaStsEvidence> {
    (
        any::<bool>(),
        any::<bool>(),
        select(vec![StsMode::None, StsMode::Testing, StsMode::Enforce]),
        any::<bool>(),
    )
        .prop_map(
            |(tested, policy_valid, mode, host_covered)| MtaStsEvidence {
                tested,
                policy_valid,
                mode,
                host_covered,
            },
        )
}

fn arb_dane() -> impl Strategy<Value = DaneEvidence> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(tested, secure, usable, matched)| DaneEvidence {
            tested,
            secure,
            usable,
            matched,
        },
    )
}

/// A host that was not reached, reached without TLS, or reached with TLS.
fn arb_host() -> impl Strategy<Value = HostEvidence> {
    (
        0u8..3,
        select(vec![0u16, 5, 10, 10, 20, 30, 40, 50]),
        arb_stages(),
        arb_tls(),
        arb_sts(),
        arb_dane(),
        proptest::option::of(any::<bool>()),
        0u32..1000,
    )
        .prop_map(
            |(kind, preference, mut stages, tls, mta_sts, dane, refused, id)| {
                let tls = match kind {
                    0 => {
                        if stages.answer == Some(true) {
                            stages.set(Stage::Answer, false);
                        }
                        None
                    }
                    1 => {
                        stages.set(Stage::Answer, true);
                        None
                    }
                    _ => Some(tls),
                };
                HostEvidence {
                    name: format!("mx{id}.example"),
                    address: None,
                    preference,
                    stages,
                    tls,
                    mta_sts,
                    dane,
                    plaintext_refused: refused,
                    busy: false,
                }
            },
        )
}

fn arb_options() -> impl Strategy<Value = TargetOptions> {
    (any::<bool>(), any::<bool>()).prop_map(|(ignore, quick)| {
        let mut options = TargetOptions::default();
        options.ignore_no_connect = ignore;
        options.quick = quick;
        options
    })
}

fn arb_full_options() -> impl Strategy<Value = TargetOptions> {
    any::<bool>().prop_map(|ignore| {
        let mut options = TargetOptions::default();
        options.ignore_no_connect = ignore;
        options
    })
}

// ---- The componentwise "at least as good" join. ----

fn better_bool(a: bool, b: bool) -> bool {
    a || b
}

fn join_cipher(a: &CipherEvidence, b: &CipherEvidence) -> CipherEvidence {
    CipherEvidence {
        bits: a.bits.max(b.bits),
        aead: better_bool(a.aead, b.aead),
        forward_secrecy: better_bool(a.forward_secrecy, b.forward_secrecy),
        broken: a.broken && b.broken,
    }
}

fn join_key(a: Option<KeyEvidence>, b: Option<KeyEvidence>) -> Option<KeyEvidence> {
    match (a, b) {
        // Unknown costs nothing: the best.
        (None, _) | (_, None) => None,
        (Some(a), Some(b)) if a.algorithm == b.algorithm => Some(KeyEvidence {
            bits: a.bits.max(b.bits),
            ..a
        }),
        (Some(a), Some(_)) => Some(a),
    }
}

fn join_best_none<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

fn join_cert(a: &CertEvidence, b: &CertEvidence) -> CertEvidence {
    CertEvidence {
        chain_valid: better_bool(a.chain_valid, b.chain_valid),
        name_match: if a.name_match == Some(false) {
            b.name_match
        } else {
            a.name_match
        },
        expired: a.expired && b.expired,
        not_yet_valid: a.not_yet_valid && b.not_yet_valid,
        days_to_expiry: join_best_none(a.days_to_expiry, b.days_to_expiry),
        self_signed: a.self_signed && b.self_signed,
        key: join_key(a.key, b.key),
        weakest_signature: join_best_none(a.weakest_signature, b.weakest_signature),
    }
}

fn join_tls(a: &TlsEvidence, b: &TlsEvidence) -> TlsEvidence {
    TlsEvidence {
        version: a.version.max(b.version),
        cipher: join_cipher(&a.cipher, &b.cipher),
        certificate: match (&a.certificate, &b.certificate) {
            (None, c) | (c, None) => c.clone(),
            (Some(x), Some(y)) => Some(join_cert(x, y)),
        },
    }
}

/// `a` improved by whatever `b` does better, keeping whether `a` was reached.
fn join(a: &HostEvidence, b: &HostEvidence) -> HostEvidence {
    let mut host = a.clone();
    host.mta_sts = MtaStsEvidence {
        tested: a.mta_sts.tested,
        policy_valid: better_bool(a.mta_sts.policy_valid, b.mta_sts.policy_valid),
        mode: a.mta_sts.mode.max(b.mta_sts.mode),
        host_covered: better_bool(a.mta_sts.host_covered, b.mta_sts.host_covered),
    };
    host.dane = DaneEvidence {
        tested: a.dane.tested,
        secure: better_bool(a.dane.secure, b.dane.secure),
        usable: better_bool(a.dane.usable, b.dane.usable),
        matched: better_bool(a.dane.matched, b.dane.matched),
    };
    if !a.connected() {
        return host;
    }
    for stage in Stage::ALL {
        if b.stages.passed(stage) {
            host.stages.set(stage, true);
        }
    }
    host.tls = match (&a.tls, &b.tls) {
        (None, t) | (t, None) => t.clone(),
        (Some(x), Some(y)) => Some(join_tls(x, y)),
    };
    host
}

fn counted_scores(cf: &checktls_score::ConfidenceFactor, options: &TargetOptions) -> Vec<u16> {
    cf.hosts
        .iter()
        .filter(|h| h.connected || !options.ignore_no_connect)
        .map(|h| h.score)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_score_stays_inside_its_band(host in arb_host()) {
        let table = ScoreTable::CHECKTLS;
        let scored = score_host(&host);
        let expected_band = match &host.tls {
            Some(tls) => Band::of(tls.version),
            None if !host.connected() => Band::Unreachable,
            None => Band::NoEncryption,
        };
        prop_assert_eq!(scored.band, expected_band);
        let row = table.row(scored.band);
        prop_assert!(row.floor <= scored.score && scored.score <= row.ceiling,
            "{} outside {:?}", scored.score, row);
        let sum: i32 = scored.reasons.iter().map(|a| a.points).sum();
        prop_assert_eq!(sum, i32::from(scored.score));
        prop_assert!(scored.score <= scored.max);
        prop_assert!(scored.max <= table.best_in_class());
        // Only the clamp at the floor ever fires with the calibrated table.
        let clamped_down = scored
            .reasons
            .iter()
            .any(|a| matches!(a.reason, checktls_score::Reason::BandCeiling { .. }));
        prop_assert!(!clamped_down);
    }

    #[test]
    fn a_better_host_never_scores_lower(a in arb_host(), b in arb_host()) {
        let better = join(&a, &b);
        let (before, after) = (score_host(&a).score, score_host(&better).score);
        prop_assert!(after >= before, "{} -> {}\n{:?}\n{:?}", before, after, a, better);
    }

    #[test]
    fn a_better_host_never_lowers_the_grade(
        hosts in proptest::collection::vec(arb_host(), 1..7),
        pick in any::<proptest::sample::Index>(),
        other in arb_host(),
        options in arb_options(),
    ) {
        let i = pick.index(hosts.len());
        let mut improved = hosts.clone();
        improved[i] = join(&hosts[i], &other);
        let before = score_target(&hosts, &options);
        let after = score_target(&improved, &options);
        prop_assert!(after.score >= before.score, "{} -> {}", before.score, after.score);
        prop_assert!(after.exact >= before.exact - 1e-9);
    }

    #[test]
    fn the_grade_lies_between_the_counted_hosts_scores(
        hosts in proptest::collection::vec(arb_host(), 0..7),
        options in arb_options(),
    ) {
        let cf = score_target(&hosts, &options);
        let counted = counted_scores(&cf, &options);
        match (counted.iter().min(), counted.iter().max()) {
            (Some(lo), Some(hi)) => {
                prop_assert!(*lo <= cf.score && cf.score <= *hi,
                    "{} not in {}..={}", cf.score, lo, hi);
            }
            _ => prop_assert_eq!(cf.score, 50),
        }
        prop_assert!(cf.score <= cf.max && cf.max <= cf.best_in_class);
        prop_assert!(cf.percent <= 100);
        prop_assert_eq!(cf.best_in_class, 121);
        let sum: f64 = cf.reasons.iter().map(|r| r.points).sum();
        prop_assert!((sum - f64::from(cf.score)).abs() < 1e-6, "{} vs {}", sum, cf.score);
        let a = assuredness(&hosts, &options);
        prop_assert!(a.factor == 0 || a.factor == 100);
    }

    #[test]
    fn quick_is_the_score_of_one_counted_host(
        hosts in proptest::collection::vec(arb_host(), 1..7),
        options in arb_options(),
    ) {
        let mut options = options;
        options.quick = true;
        let cf = score_target(&hosts, &options);
        let counted: Vec<&checktls_score::HostScore> = cf.hosts.iter()
            .filter(|h| h.connected || !options.ignore_no_connect)
            .collect();
        match counted.iter().map(|h| h.preference).min() {
            Some(best) => {
                let first = counted.iter().find(|h| h.preference == best).unwrap();
                prop_assert_eq!(cf.score, first.score);
            }
            None => prop_assert_eq!(cf.score, 50),
        }
    }

    #[test]
    fn the_order_of_hosts_does_not_matter(
        (hosts, shuffled) in proptest::collection::vec(arb_host(), 0..7)
            .prop_flat_map(|hosts| (Just(hosts.clone()), Just(hosts).prop_shuffle())),
        options in arb_full_options(),
    ) {
        let a = score_target(&hosts, &options);
        let b = score_target(&shuffled, &options);
        prop_assert_eq!((a.score, a.max, a.percent), (b.score, b.max, b.percent));
        prop_assert_eq!(a.exact.to_bits(), b.exact.to_bits());
        prop_assert_eq!(
            assuredness(&hosts, &options).factor,
            assuredness(&shuffled, &options).factor
        );
    }

    #[test]
    fn the_order_of_equal_preference_hosts_does_not_matter(
        (hosts, shuffled) in proptest::collection::vec(arb_host(), 0..7)
            .prop_map(|hosts| hosts.into_iter().map(|mut h| { h.preference = 10; h }).collect::<Vec<_>>())
            .prop_flat_map(|hosts| (Just(hosts.clone()), Just(hosts).prop_shuffle())),
        options in arb_full_options(),
    ) {
        let a = score_target(&hosts, &options);
        let b = score_target(&shuffled, &options);
        prop_assert_eq!((a.score, a.max, a.percent), (b.score, b.max, b.percent));
    }

    #[test]
    fn cipher_names_never_panic(name in "\\PC{0,80}") {
        let _ = CipherEvidence::from_name(&name);
        let _ = SignatureHash::from_name(&name);
    }
}
