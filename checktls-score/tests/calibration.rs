//! The calibration points the issue fixes, and CheckTLS's published data point.

mod common;

use checktls_score::{
    CertEvidence, CipherEvidence, HostEvidence, Reason, Stage, Stages, TargetOptions, TlsEvidence,
    TlsVersion, score_host, score_target,
};
use common::{dane_matched, flawless, sts_enforced, sum};

#[test]
fn flawless_tls13_host_without_policies_scores_114() {
    let cf = score_target(&[flawless(TlsVersion::Tls13)], &TargetOptions::default());
    assert_eq!(cf.hosts[0].score, 114);
    assert_eq!(
        (cf.score, cf.max, cf.percent, cf.best_in_class),
        (114, 114, 100, 121)
    );
}

#[test]
fn the_same_host_with_an_expired_certificate_scores_112() {
    let mut host = flawless(TlsVersion::Tls13);
    if let Some(tls) = host.tls.as_mut() {
        let cert = tls.certificate.as_mut().unwrap();
        cert.expired = true;
        cert.days_to_expiry = Some(-3);
    }
    let scored = score_host(&host);
    assert_eq!(scored.score, 112);
    assert!(
        scored
            .reasons
            .iter()
            .any(|a| a.reason == Reason::Expired && a.points == -2)
    );
    let cf = score_target(&[host], &TargetOptions::default());
    assert_eq!(
        (cf.score, cf.max, cf.percent, cf.best_in_class),
        (112, 114, 98, 121)
    );
}

#[test]
fn the_same_host_with_enforced_mta_sts_and_matching_dane_scores_121() {
    let mut host = flawless(TlsVersion::Tls13);
    host.mta_sts = sts_enforced();
    host.dane = dane_matched();
    let scored = score_host(&host);
    assert_eq!(scored.score, 121);
    assert_eq!(sum(&scored), 121);
    let cf = score_target(&[host], &TargetOptions::default());
    assert_eq!(
        (cf.score, cf.max, cf.percent, cf.best_in_class),
        (121, 121, 100, 121)
    );
}

#[test]
fn the_maximum_follows_what_was_tested() {
    let mut host = flawless(TlsVersion::Tls13);
    host.mta_sts.tested = true;
    assert_eq!(score_host(&host).max, 117);
    assert_eq!(
        score_host(&host).score,
        114,
        "tested without a policy earns nothing"
    );
    host.mta_sts.tested = false;
    host.dane.tested = true;
    assert_eq!(score_host(&host).max, 118);
    host.mta_sts.tested = true;
    let cf = score_target(&[host], &TargetOptions::default());
    assert_eq!((cf.score, cf.max, cf.percent), (114, 121, 94));
}

/// CheckTLS's own output (reference/checktls.md §2.2): one MX, TLS 1.2 with AES128-SHA, chain
/// validated, host name mismatch, every stage OK except Cert: CF 90.
#[test]
fn checktls_data_point_tls12_aes128_sha_name_mismatch_scores_90() {
    let mut stages = Stages::through(Stage::RcptTo);
    stages.set(Stage::Cert, false);
    let host = HostEvidence {
        name: "mail.example.com".into(),
        preference: 10,
        stages,
        tls: Some(TlsEvidence {
            version: TlsVersion::Tls12,
            cipher: CipherEvidence::from_name("AES128-SHA").unwrap(),
            certificate: Some(CertEvidence {
                name_match: Some(false),
                ..CertEvidence::verified()
            }),
        }),
        ..HostEvidence::default()
    };
    let scored = score_host(&host);
    let lines: Vec<(Reason, i32)> = scored
        .reasons
        .iter()
        .map(|a| (a.reason.clone(), a.points))
        .collect();
    assert_eq!(
        lines,
        [
            (
                Reason::Protocol {
                    version: TlsVersion::Tls12,
                    band: checktls_score::Band::Tls12,
                    floor: 88,
                    ceiling: 103
                },
                96
            ),
            (Reason::NoForwardSecrecy, -1),
            (Reason::NotAead, -1),
            (Reason::NameMismatch, -4),
        ]
    );
    assert_eq!(scored.score, 90);
    assert_eq!(score_target(&[host], &TargetOptions::default()).score, 90);
}
