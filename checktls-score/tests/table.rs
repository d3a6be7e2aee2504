//! The table's coherence checks: each rule rejects the table that breaks it.

use checktls_score::{Band, Error, ScoreTable};

#[test]
fn the_calibrated_table_is_the_default_and_coherent() {
    assert_eq!(ScoreTable::default(), ScoreTable::CHECKTLS);
    assert_eq!(ScoreTable::CHECKTLS.validate(), Ok(()));
}

#[test]
fn a_base_outside_its_band_is_rejected() {
    let mut t = ScoreTable::CHECKTLS;
    t.bands.tls1_2.base = 104;
    assert!(matches!(
        t.validate(),
        Err(Error::BandShape {
            band: Band::Tls12,
            base: 104,
            ..
        })
    ));
}

#[test]
fn overlapping_bands_are_rejected() {
    let mut t = ScoreTable::CHECKTLS;
    t.bands.tls1_1.ceiling = 88;
    assert_eq!(
        t.validate(),
        Err(Error::BandOrder {
            lower: Band::Tls11,
            upper: Band::Tls12
        })
    );
}

#[test]
fn stage_points_past_the_no_encryption_band_are_rejected() {
    let mut t = ScoreTable::CHECKTLS;
    t.stages.answer = 1;
    assert_eq!(
        t.validate(),
        Err(Error::StagePointsOverflow {
            total: 50,
            room: 49
        })
    );
}

#[test]
fn bonuses_past_a_ceiling_are_rejected() {
    let mut t = ScoreTable::CHECKTLS;
    t.policy.dane = 5;
    assert!(matches!(
        t.validate(),
        Err(Error::BonusOverflow {
            band: Band::Ssl,
            bonus: 8,
            ..
        })
    ));
}

#[test]
fn inverted_severities_are_rejected() {
    type Change = fn(&mut ScoreTable);
    let cases: [(Change, &str); 6] = [
        (|t| t.cert.weak_key = 4, "broken_key"),
        (|t| t.cert.sha1_signature = 4, "md5_signature"),
        (|t| t.cert.expires_soon = 3, "out_of_validity"),
        (|t| t.policy.mta_sts_enforce = 0, "mta_sts_enforce"),
        (|t| t.cert.rsa_broken_below = 4096, "rsa_weak_below"),
        (|t| t.cert.ec_broken_below = 384, "ec_weak_below"),
    ];
    for (change, larger) in cases {
        let mut t = ScoreTable::CHECKTLS;
        change(&mut t);
        match t.validate() {
            Err(Error::Inverted { larger: got, .. }) => assert_eq!(got, larger),
            other => panic!("{larger}: {other:?}"),
        }
    }
}

#[test]
fn unusable_weights_are_rejected() {
    let mut t = ScoreTable::CHECKTLS;
    t.weights.unreachable = 0;
    assert_eq!(t.validate(), Err(Error::ZeroWeight));
    let mut t = ScoreTable::CHECKTLS;
    t.weights.preference = [8, 4, 5, 1];
    assert_eq!(t.validate(), Err(Error::RisingWeights { rank: 2 }));
}

#[test]
fn errors_read_as_sentences() {
    let e = Error::BandOrder {
        lower: Band::Tls11,
        upper: Band::Tls12,
    };
    assert_eq!(e.to_string(), "band TLS 1.1 reaches into band TLS 1.2");
}

#[test]
fn a_tuned_table_changes_the_score() {
    let mut t = ScoreTable::CHECKTLS;
    t.cert.name_mismatch = 6;
    assert_eq!(t.validate(), Ok(()));
    let host = checktls_score::HostEvidence {
        tls: Some(checktls_score::TlsEvidence {
            version: checktls_score::TlsVersion::Tls13,
            cipher: checktls_score::CipherEvidence::strong(256),
            certificate: Some(checktls_score::CertEvidence {
                name_match: Some(false),
                ..checktls_score::CertEvidence::verified()
            }),
        }),
        ..Default::default()
    };
    assert_eq!(t.score_host(&host).score, 108);
    assert_eq!(checktls_score::score_host(&host).score, 110);
}

#[test]
fn the_markdown_rendering_lists_every_band_and_adjustment() {
    let md = ScoreTable::CHECKTLS.to_markdown();
    for needle in [
        "| TLS 1.3 | 104–121 | 114",
        "| TLS 1.2 | 88–103 | 96",
        "| unreachable | 50 | 50 |",
        "| name does not match the MX host | -4 |",
        "| expired or not yet valid | -2 |",
        "| DANE: DNSSEC-secure usable TLSA record matched | +4 |",
        "| 1st preference value | 8 |",
        "best in class is 121",
    ] {
        assert!(md.contains(needle), "{needle}\n{md}");
    }
}
