//! Each band's edges: the lowest and highest score a host can reach in it.

mod common;

use checktls_score::{
    Band, HostEvidence, Reason, ScoreTable, Stage, Stages, TlsEvidence, TlsVersion, score_host,
};
use common::{dane_matched, dreadful, flawless, plaintext, sts_enforced, sum, unreachable};

fn best(version: TlsVersion) -> HostEvidence {
    let mut host = flawless(version);
    host.mta_sts = sts_enforced();
    host.dane = dane_matched();
    host
}

/// (version, band, floor, base, ceiling)
const TLS_BANDS: [(TlsVersion, Band, u16, u16, u16); 6] = [
    (TlsVersion::Ssl2, Band::Ssl, 51, 56, 63),
    (TlsVersion::Ssl3, Band::Ssl, 51, 56, 63),
    (TlsVersion::Tls10, Band::Tls10, 64, 67, 74),
    (TlsVersion::Tls11, Band::Tls11, 75, 80, 87),
    (TlsVersion::Tls12, Band::Tls12, 88, 96, 103),
    (TlsVersion::Tls13, Band::Tls13, 104, 114, 121),
];

#[test]
fn the_best_host_of_each_tls_band_reaches_its_ceiling_without_clamping() {
    for (version, band, _, _, ceiling) in TLS_BANDS {
        let scored = score_host(&best(version));
        assert_eq!((scored.band, scored.score), (band, ceiling), "{version}");
        assert!(
            !scored
                .reasons
                .iter()
                .any(|a| matches!(a.reason, Reason::BandCeiling { .. })),
            "{version}"
        );
        assert_eq!(sum(&scored), i32::from(ceiling));
    }
}

#[test]
fn a_flawless_host_without_policies_scores_its_band_base() {
    for (version, band, _, base, _) in TLS_BANDS {
        let scored = score_host(&flawless(version));
        assert_eq!((scored.band, scored.score), (band, base), "{version}");
    }
}

#[test]
fn the_worst_host_of_each_tls_band_stays_on_its_floor() {
    for (version, band, floor, base, _) in TLS_BANDS {
        let scored = score_host(&dreadful(version));
        assert_eq!((scored.band, scored.score), (band, floor), "{version}");
        // 7 cipher points and 15 certificate points lost, then the floor gives some back.
        let clamp = scored.reasons.last().unwrap();
        assert_eq!(clamp.reason, Reason::BandFloor { band, floor });
        assert_eq!(clamp.points, i32::from(floor) - (i32::from(base) - 22));
        assert_eq!(sum(&scored), i32::from(floor));
    }
}

#[test]
fn no_readable_certificate_is_as_bad_as_the_worst_certificate() {
    for (version, band, floor, _, _) in TLS_BANDS {
        let mut host = flawless(version);
        host.tls = Some(TlsEvidence {
            version,
            cipher: common::worst_cipher(),
            certificate: None,
        });
        let scored = score_host(&host);
        assert_eq!((scored.band, scored.score), (band, floor), "{version}");
        assert!(
            scored
                .reasons
                .iter()
                .any(|a| a.reason == Reason::NoCertificate && a.points == -15)
        );
    }
}

#[test]
fn tls13_is_open_upward_only_to_the_best_in_class_121() {
    assert_eq!(ScoreTable::CHECKTLS.best_in_class(), 121);
    assert_eq!(score_host(&best(TlsVersion::Tls13)).score, 121);
}

#[test]
fn an_unreachable_host_scores_50() {
    let scored = score_host(&unreachable(10));
    assert_eq!((scored.band, scored.score), (Band::Unreachable, 50));
    assert!(!scored.connected);
    assert_eq!(scored.reasons.len(), 1);
    assert_eq!(scored.reasons[0].reason, Reason::Unreachable);
    // Nothing attempted at all is unreachable too.
    let scored = score_host(&HostEvidence::default());
    assert_eq!((scored.band, scored.score), (Band::Unreachable, 50));
}

#[test]
fn policies_do_not_lift_an_unreachable_or_plaintext_host() {
    let mut host = unreachable(10);
    host.mta_sts = sts_enforced();
    host.dane = dane_matched();
    assert_eq!(score_host(&host).score, 50);
    let mut host = plaintext(&[Stage::Connect, Stage::Ehlo]);
    host.mta_sts = sts_enforced();
    host.dane = dane_matched();
    assert_eq!(score_host(&host).score, 20);
}

#[test]
fn a_plaintext_host_that_only_answered_scores_0() {
    let scored = score_host(&plaintext(&[]));
    assert_eq!((scored.band, scored.score), (Band::NoEncryption, 0));
    assert!(scored.connected);
}

#[test]
fn a_plaintext_host_that_passed_every_stage_scores_49() {
    let host = HostEvidence {
        stages: Stages::through(Stage::Email),
        ..HostEvidence::default()
    };
    let scored = score_host(&host);
    assert_eq!((scored.band, scored.score), (Band::NoEncryption, 49));
    assert_eq!(sum(&scored), 49);
}

#[test]
fn a_plaintext_host_scores_higher_the_further_it_got() {
    let steps = [
        (vec![], 0),
        (vec![Stage::Connect], 10),
        (vec![Stage::Connect, Stage::Ehlo], 20),
        (vec![Stage::Connect, Stage::Ehlo, Stage::TlsOffered], 37),
        (
            vec![
                Stage::Connect,
                Stage::Ehlo,
                Stage::TlsOffered,
                Stage::MailFrom,
            ],
            43,
        ),
        (
            vec![
                Stage::Connect,
                Stage::Ehlo,
                Stage::TlsOffered,
                Stage::MailFrom,
                Stage::RcptTo,
            ],
            49,
        ),
        // No STARTTLS offered, but mail accepted in plaintext.
        (
            vec![Stage::Connect, Stage::Ehlo, Stage::MailFrom, Stage::RcptTo],
            32,
        ),
    ];
    for (stages, expected) in steps {
        let scored = score_host(&plaintext(&stages));
        assert_eq!(scored.score, expected, "{stages:?}");
        assert_eq!(sum(&scored), i32::from(expected));
        for stage in &stages {
            assert!(
                scored
                    .reasons
                    .iter()
                    .any(|a| a.reason == Reason::StagePassed { stage: *stage }),
                "{stage}"
            );
        }
    }
}

#[test]
fn bands_are_ordered_and_adjacent_bands_do_not_touch() {
    let table = ScoreTable::CHECKTLS;
    let edges: Vec<(u16, u16)> = Band::ALL
        .iter()
        .map(|b| (table.row(*b).floor, table.row(*b).ceiling))
        .collect();
    assert_eq!(
        edges,
        [
            (0, 49),
            (50, 50),
            (51, 63),
            (64, 74),
            (75, 87),
            (88, 103),
            (104, 121)
        ]
    );
}

#[test]
fn tls_presence_wins_over_a_missing_answer_stage() {
    // Evidence from a driver that recorded no stages but did finish a handshake.
    let mut host = flawless(TlsVersion::Tls12);
    host.stages = Stages::default();
    let scored = score_host(&host);
    assert!(scored.connected);
    assert_eq!((scored.band, scored.score), (Band::Tls12, 96));
}
