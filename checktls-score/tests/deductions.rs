//! Each adjustment alone, on a flawless TLS 1.3 host (base 114) and a flawless TLS 1.2 host
//! (base 96): the reason is listed with its points, and the score moves by exactly them.

mod common;

use checktls_score::{
    Adjustment, CertEvidence, CipherEvidence, DaneGap, HostEvidence, KeyAlgorithm, KeyEvidence,
    MtaStsGap, Reason, SignatureHash, StsMode, TlsVersion, score_host,
};
use common::{dane_matched, flawless, sts_enforced, sum};

fn with_cipher(version: TlsVersion, change: impl Fn(&mut CipherEvidence)) -> HostEvidence {
    let mut host = flawless(version);
    if let Some(tls) = host.tls.as_mut() {
        change(&mut tls.cipher);
    }
    host
}

fn with_cert(version: TlsVersion, change: impl Fn(&mut CertEvidence)) -> HostEvidence {
    let mut host = flawless(version);
    if let Some(cert) = host.tls.as_mut().and_then(|t| t.certificate.as_mut()) {
        change(cert);
    }
    host
}

/// The adjustments after the band's base.
fn after_base(host: &HostEvidence) -> (u16, Vec<Adjustment>) {
    let scored = score_host(host);
    assert_eq!(sum(&scored), i32::from(scored.score), "reasons add up");
    (scored.score, scored.reasons.into_iter().skip(1).collect())
}

#[track_caller]
fn assert_single(host: &HostEvidence, base: u16, reason: Reason, points: i32) {
    let (score, lines) = after_base(host);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].reason, reason);
    assert_eq!(lines[0].points, points);
    assert!(!lines[0].text.is_empty());
    assert_eq!(i32::from(score), i32::from(base) + points);
}

fn for_both_bands(check: impl Fn(TlsVersion, u16)) {
    check(TlsVersion::Tls13, 114);
    check(TlsVersion::Tls12, 96);
}

#[test]
fn no_forward_secrecy_costs_1() {
    for_both_bands(|v, base| {
        let host = with_cipher(v, |c| c.forward_secrecy = false);
        assert_single(&host, base, Reason::NoForwardSecrecy, -1);
    });
}

#[test]
fn a_non_aead_cipher_costs_1() {
    for_both_bands(|v, base| {
        let host = with_cipher(v, |c| c.aead = false);
        assert_single(&host, base, Reason::NotAead, -1);
    });
}

#[test]
fn a_short_cipher_key_costs_2() {
    for_both_bands(|v, base| {
        let host = with_cipher(v, |c| c.bits = 112);
        let reason = Reason::ShortCipherKey {
            bits: 112,
            minimum: 128,
        };
        assert_single(&host, base, reason, -2);
        // 128 bits is not short.
        let host = with_cipher(v, |c| c.bits = 128);
        assert_eq!(score_host(&host).score, base);
    });
}

#[test]
fn a_broken_cipher_costs_3() {
    for_both_bands(|v, base| {
        let host = with_cipher(v, |c| c.broken = true);
        assert_single(&host, base, Reason::BrokenCipher, -3);
    });
}

#[test]
fn cipher_flaws_add_up() {
    let host = with_cipher(TlsVersion::Tls12, |c| {
        *c = CipherEvidence::from_name("DES-CBC3-SHA").unwrap();
    });
    assert_eq!(score_host(&host).score, 96 - 7);
}

#[test]
fn an_untrusted_chain_costs_3() {
    for_both_bands(|v, base| {
        let host = with_cert(v, |c| c.chain_valid = false);
        assert_single(&host, base, Reason::UntrustedChain, -3);
    });
}

#[test]
fn a_self_signed_leaf_costs_3_once() {
    for_both_bands(|v, base| {
        // Whether or not the caller's trust store happened to hold it.
        for chain_valid in [false, true] {
            let host = with_cert(v, |c| {
                c.self_signed = true;
                c.chain_valid = chain_valid;
            });
            assert_single(&host, base, Reason::SelfSigned, -3);
        }
    });
}

#[test]
fn a_name_mismatch_costs_4_and_an_unchecked_name_costs_nothing() {
    for_both_bands(|v, base| {
        let host = with_cert(v, |c| c.name_match = Some(false));
        assert_single(&host, base, Reason::NameMismatch, -4);
        let host = with_cert(v, |c| c.name_match = None);
        assert_eq!(score_host(&host).score, base);
    });
}

#[test]
fn an_expired_or_not_yet_valid_certificate_costs_2() {
    for_both_bands(|v, base| {
        let host = with_cert(v, |c| {
            c.expired = true;
            c.days_to_expiry = Some(-1);
        });
        assert_single(&host, base, Reason::Expired, -2);
        let host = with_cert(v, |c| {
            c.not_yet_valid = true;
            c.days_to_expiry = Some(400);
        });
        assert_single(&host, base, Reason::NotYetValid, -2);
    });
}

#[test]
fn a_certificate_expiring_within_14_days_costs_1() {
    for_both_bands(|v, base| {
        let host = with_cert(v, |c| c.days_to_expiry = Some(13));
        let reason = Reason::ExpiresSoon {
            days: 13,
            notice: 14,
        };
        assert_single(&host, base, reason, -1);
        let host = with_cert(v, |c| c.days_to_expiry = Some(14));
        assert_eq!(score_host(&host).score, base, "14 days left is enough");
        let host = with_cert(v, |c| c.days_to_expiry = None);
        assert_eq!(score_host(&host).score, base, "unknown dates cost nothing");
    });
}

#[test]
fn a_weak_key_costs_2_and_a_broken_key_3() {
    let cases = [
        (KeyAlgorithm::Rsa, 2047, Some((false, 2048))),
        (KeyAlgorithm::Rsa, 1024, Some((false, 2048))),
        (KeyAlgorithm::Rsa, 1023, Some((true, 1024))),
        (KeyAlgorithm::Rsa, 2048, None),
        (KeyAlgorithm::Rsa, 4096, None),
        (KeyAlgorithm::Dsa, 1024, Some((false, 2048))),
        (KeyAlgorithm::Ec, 224, Some((false, 256))),
        (KeyAlgorithm::Ec, 128, Some((true, 160))),
        (KeyAlgorithm::Ec, 256, None),
        (KeyAlgorithm::Ec, 384, None),
        (KeyAlgorithm::Ed25519, 256, None),
        (KeyAlgorithm::Ed448, 0, None),
    ];
    for_both_bands(|v, base| {
        for (algorithm, bits, expected) in cases {
            let host = with_cert(v, |c| c.key = Some(KeyEvidence { algorithm, bits }));
            match expected {
                None => assert_eq!(score_host(&host).score, base, "{algorithm} {bits}"),
                Some((false, minimum)) => assert_single(
                    &host,
                    base,
                    Reason::WeakKey {
                        algorithm,
                        bits,
                        minimum,
                    },
                    -2,
                ),
                Some((true, minimum)) => assert_single(
                    &host,
                    base,
                    Reason::BrokenKey {
                        algorithm,
                        bits,
                        minimum,
                    },
                    -3,
                ),
            }
        }
        let host = with_cert(v, |c| c.key = None);
        assert_eq!(
            score_host(&host).score,
            base,
            "an unknown key costs nothing"
        );
    });
}

#[test]
fn a_sha1_signature_costs_2_and_md5_3() {
    for_both_bands(|v, base| {
        let hash = SignatureHash::Sha1;
        let host = with_cert(v, |c| c.weakest_signature = Some(hash));
        assert_single(&host, base, Reason::WeakSignature { hash }, -2);
        let hash = SignatureHash::Md5;
        let host = with_cert(v, |c| c.weakest_signature = Some(hash));
        assert_single(&host, base, Reason::BrokenSignature { hash }, -3);
        for hash in [
            SignatureHash::Sha224,
            SignatureHash::Sha256,
            SignatureHash::Sha384,
            SignatureHash::Sha512,
            SignatureHash::Intrinsic,
        ] {
            let host = with_cert(v, |c| c.weakest_signature = Some(hash));
            assert_eq!(score_host(&host).score, base, "{hash}");
        }
    });
}

#[test]
fn enforced_mta_sts_covering_the_host_earns_3_and_testing_1() {
    for_both_bands(|v, base| {
        let mut host = flawless(v);
        host.mta_sts = sts_enforced();
        assert_single(&host, base, Reason::MtaStsEnforce, 3);
        host.mta_sts.mode = StsMode::Testing;
        assert_single(&host, base, Reason::MtaStsTesting, 1);
    });
}

#[test]
fn mta_sts_tested_but_not_earning_is_a_zero_point_note() {
    let cases = [
        (false, StsMode::Enforce, true, MtaStsGap::NoValidPolicy),
        (true, StsMode::None, true, MtaStsGap::ModeNone),
        (true, StsMode::Enforce, false, MtaStsGap::NotCovered),
        (true, StsMode::Testing, false, MtaStsGap::NotCovered),
    ];
    for (policy_valid, mode, host_covered, gap) in cases {
        let mut host = flawless(TlsVersion::Tls13);
        host.mta_sts = checktls_score::MtaStsEvidence {
            tested: true,
            policy_valid,
            mode,
            host_covered,
        };
        assert_single(&host, 114, Reason::MtaStsNotCounted { gap }, 0);
    }
    // Not tested: no line at all.
    let mut host = flawless(TlsVersion::Tls13);
    host.mta_sts = sts_enforced();
    host.mta_sts.tested = false;
    assert!(after_base(&host).1.is_empty());
}

#[test]
fn a_matching_secure_dane_record_earns_4() {
    for_both_bands(|v, base| {
        let mut host = flawless(v);
        host.dane = dane_matched();
        assert_single(&host, base, Reason::Dane, 4);
    });
}

#[test]
fn dane_tested_but_not_earning_is_a_zero_point_note() {
    let cases = [
        (true, false, false, DaneGap::NoUsableRecords),
        (false, false, false, DaneGap::NoUsableRecords),
        (false, true, true, DaneGap::NotSecure),
        (true, true, false, DaneGap::NoMatch),
    ];
    for (secure, usable, matched, gap) in cases {
        let mut host = flawless(TlsVersion::Tls13);
        host.dane = checktls_score::DaneEvidence {
            tested: true,
            secure,
            usable,
            matched,
        };
        assert_single(&host, 114, Reason::DaneNotCounted { gap }, 0);
    }
}

#[test]
fn a_deduction_that_passes_the_floor_is_given_back_and_listed() {
    // TLS 1.0 (64–74, base 67): a name mismatch (-4) and an untrusted chain (-3) reach 60.
    let host = with_cert(TlsVersion::Tls10, |c| {
        c.name_match = Some(false);
        c.chain_valid = false;
    });
    let (score, lines) = after_base(&host);
    assert_eq!(score, 64);
    let last = lines.last().unwrap();
    assert_eq!(
        last.reason,
        Reason::BandFloor {
            band: checktls_score::Band::Tls10,
            floor: 64
        }
    );
    assert_eq!(last.points, 4);
}

#[test]
fn a_tuned_table_that_overflows_is_clamped_at_the_ceiling_and_says_so() {
    let mut table = checktls_score::ScoreTable::CHECKTLS;
    table.policy.dane = 20;
    assert!(table.validate().is_err());
    let mut host = flawless(TlsVersion::Tls12);
    host.dane = dane_matched();
    let scored = table.score_host(&host);
    assert_eq!(scored.score, 103);
    let last = scored.reasons.last().unwrap();
    assert_eq!(last.points, 103 - (96 + 20));
    assert!(matches!(
        last.reason,
        Reason::BandCeiling { ceiling: 103, .. }
    ));
    assert_eq!(sum(&scored), 103);
}

#[test]
fn stages_after_secure_do_not_move_an_encrypted_host() {
    let mut host = flawless(TlsVersion::Tls13);
    host.stages.set(checktls_score::Stage::RcptTo, false);
    host.stages.set(checktls_score::Stage::MailFrom, false);
    host.stages.set(checktls_score::Stage::Cert, false);
    assert_eq!(score_host(&host).score, 114);
}
