//! Combining hosts: the weights, IgnoreNoConnect, Quick, the four figures, AssureTLS.

mod common;

use checktls_score::{
    AssureOutcome, AssureVerdict, FactorKind, HostEvidence, Stage, TargetOptions, TargetReason,
    TlsVersion, assuredness, score_target,
};
use common::{at, dane_matched, flawless, plaintext, sts_enforced, unreachable};

fn ignoring() -> TargetOptions {
    let mut options = TargetOptions::default();
    options.ignore_no_connect = true;
    options
}

fn points(cf: &checktls_score::ConfidenceFactor) -> f64 {
    cf.reasons.iter().map(|r| r.points).sum()
}

fn weights(cf: &checktls_score::ConfidenceFactor) -> Vec<u32> {
    cf.reasons
        .iter()
        .filter_map(|r| match r.reason {
            TargetReason::Share { weight, .. } => Some(weight),
            _ => None,
        })
        .collect()
}

#[test]
fn the_most_preferred_host_weighs_most() {
    // 114 at preference 10 (weight 8 × 2), 49 at preference 20 (weight 4 × 2).
    let primary = at(flawless(TlsVersion::Tls13), "mx1", 10);
    let backup = at(
        plaintext(&[
            Stage::Connect,
            Stage::Ehlo,
            Stage::TlsOffered,
            Stage::MailFrom,
            Stage::RcptTo,
        ]),
        "mx2",
        20,
    );
    let cf = score_target(
        &[primary.clone(), backup.clone()],
        &TargetOptions::default(),
    );
    assert_eq!(weights(&cf), [16, 8]);
    assert_eq!(cf.score, 92); // (114×16 + 49×8) / 24 = 92.33
    assert!((cf.exact - 2216.0 / 24.0).abs() < 1e-9);
    assert!((points(&cf) - 92.0).abs() < 1e-9);

    // The weak host in front hurts more than the weak host behind.
    let swapped = score_target(
        &[at(primary, "mx1", 20), at(backup, "mx2", 10)],
        &TargetOptions::default(),
    );
    assert_eq!(swapped.score, 71); // (114×8 + 49×16) / 24 = 70.67
}

#[test]
fn weights_go_by_rank_of_distinct_preference_values() {
    let hosts: Vec<HostEvidence> = [10, 10, 20, 30, 40, 50]
        .iter()
        .enumerate()
        .map(|(i, p)| at(flawless(TlsVersion::Tls13), &format!("mx{i}"), *p))
        .collect();
    let cf = score_target(&hosts, &TargetOptions::default());
    assert_eq!(weights(&cf), [16, 16, 8, 4, 2, 2]);
    assert_eq!(cf.score, 114);
}

#[test]
fn preference_values_themselves_do_not_matter_only_their_order() {
    let a = [
        at(flawless(TlsVersion::Tls13), "mx1", 0),
        at(flawless(TlsVersion::Tls10), "mx2", 1),
    ];
    let b = [
        at(flawless(TlsVersion::Tls13), "mx1", 5),
        at(flawless(TlsVersion::Tls10), "mx2", 500),
    ];
    let opts = TargetOptions::default();
    assert_eq!(score_target(&a, &opts).score, score_target(&b, &opts).score);
}

#[test]
fn an_unreached_host_counts_as_50_at_half_weight() {
    // Primary down (50, weight 8 × 1); backup flawless (114, weight 4 × 2).
    let hosts = [unreachable(10), at(flawless(TlsVersion::Tls13), "mx2", 20)];
    let cf = score_target(&hosts, &TargetOptions::default());
    assert_eq!(weights(&cf), [8, 8]);
    assert_eq!(cf.score, 82); // (50×8 + 114×8) / 16
}

#[test]
fn ignore_no_connect_leaves_unreached_hosts_out_and_reranks() {
    let hosts = [unreachable(10), at(flawless(TlsVersion::Tls13), "mx2", 20)];
    let cf = score_target(&hosts, &ignoring());
    assert_eq!(cf.score, 114);
    assert_eq!(weights(&cf), [16], "the backup is now the first preference");
    assert!(matches!(
        cf.reasons[0].reason,
        TargetReason::LeftOut { host: 0, .. }
    ));
    assert_eq!(cf.reasons[0].points, 0.0);
}

#[test]
fn all_unreachable_is_50_with_or_without_ignore_no_connect() {
    let hosts = [unreachable(10), unreachable(20)];
    let cf = score_target(&hosts, &TargetOptions::default());
    assert_eq!((cf.score, cf.max, cf.percent), (50, 114, 44));
    let cf = score_target(&hosts, &ignoring());
    assert_eq!((cf.score, cf.max, cf.percent), (50, 114, 44));
    assert!(
        cf.reasons
            .iter()
            .any(|r| r.reason == TargetReason::NothingTested)
    );
    assert!((points(&cf) - 50.0).abs() < 1e-9);
}

#[test]
fn no_hosts_at_all_is_50() {
    let cf = score_target(&[], &TargetOptions::default());
    assert_eq!(
        (cf.score, cf.max, cf.percent, cf.best_in_class),
        (50, 114, 44, 121)
    );
    assert_eq!(cf.reasons.len(), 1);
    assert_eq!(cf.reasons[0].reason, TargetReason::NothingTested);
}

#[test]
fn the_maximum_is_the_highest_among_the_counted_hosts() {
    let mut tested = at(flawless(TlsVersion::Tls12), "mx1", 10);
    tested.mta_sts = sts_enforced();
    tested.dane = dane_matched();
    let untested = at(flawless(TlsVersion::Tls12), "mx2", 20);
    let cf = score_target(&[tested.clone(), untested], &TargetOptions::default());
    assert_eq!(cf.hosts[0].max, 121);
    assert_eq!(cf.hosts[1].max, 114);
    assert_eq!(cf.max, 121);
    // (103×16 + 96×8) / 24 = 100.67 → 101; 101 / 121 = 83.5% → 83
    assert_eq!((cf.score, cf.percent), (101, 83));

    // An unreached host that was tested for MTA-STS and DANE does not raise the maximum
    // once IgnoreNoConnect leaves it out.
    let mut down = unreachable(5);
    down.mta_sts = sts_enforced();
    down.dane = dane_matched();
    let cf = score_target(
        &[down, at(flawless(TlsVersion::Tls13), "mx", 10)],
        &ignoring(),
    );
    assert_eq!((cf.score, cf.max), (114, 114));
}

#[test]
fn percent_is_rounded_to_the_nearest_whole() {
    // 112 of 114 = 98.25%
    let mut host = flawless(TlsVersion::Tls13);
    if let Some(cert) = host.tls.as_mut().and_then(|t| t.certificate.as_mut()) {
        cert.expired = true;
    }
    let cf = score_target(&[host], &TargetOptions::default());
    assert_eq!(cf.percent, 98);
    // 50 of 114 = 43.86%
    let cf = score_target(&[], &TargetOptions::default());
    assert_eq!(cf.percent, 44);
}

#[test]
fn the_grade_rounds_half_up() {
    // Two equal-preference hosts scoring 114 and 67: average 90.5 → 91.
    let hosts = [
        at(flawless(TlsVersion::Tls13), "a", 10),
        at(flawless(TlsVersion::Tls10), "b", 10),
    ];
    let cf = score_target(&hosts, &TargetOptions::default());
    assert_eq!(cf.exact, 90.5);
    assert_eq!(cf.score, 91);
    let rounding = cf.reasons.last().unwrap();
    assert_eq!(rounding.reason, TargetReason::Rounding);
    assert!((rounding.points - 0.5).abs() < 1e-9);
}

#[test]
fn quick_scores_the_most_preferred_host_that_answered() {
    let hosts = [
        unreachable(5),
        at(flawless(TlsVersion::Tls12), "mx-b", 10),
        at(flawless(TlsVersion::Tls13), "mx-c", 10),
        at(flawless(TlsVersion::Tls10), "mx-d", 20),
    ];
    let cf = score_target(&hosts, &TargetOptions::quick());
    assert_eq!(cf.kind, FactorKind::Quick);
    assert_eq!(cf.score, 96, "ties go to the first in input order");
    assert!(matches!(
        cf.reasons[1].reason,
        TargetReason::QuickHost {
            host: 1,
            score: 96,
            ..
        }
    ));
    assert!(matches!(cf.reasons[0].reason, TargetReason::LeftOut { .. }));
    assert!(matches!(
        cf.reasons[2].reason,
        TargetReason::NotChosen { .. }
    ));
    assert!((points(&cf) - 96.0).abs() < 1e-9);

    // With IgnoreNoConnect put back, the unreachable primary is the one host: 50.
    let mut options = TargetOptions::quick();
    options.ignore_no_connect = false;
    assert_eq!(score_target(&hosts, &options).score, 50);

    // A quick test of one host is that host's score.
    let one = [at(flawless(TlsVersion::Tls13), "mx", 10)];
    assert_eq!(score_target(&one, &TargetOptions::quick()).score, 114);
    assert_eq!(score_target(&[], &TargetOptions::quick()).score, 50);
}

#[test]
fn the_full_factor_is_marked_as_such() {
    let cf = score_target(&[flawless(TlsVersion::Tls13)], &TargetOptions::default());
    assert_eq!(cf.kind, FactorKind::Confidence);
    assert_eq!(cf.to_string(), "114 of 114 (100%), best in class 121");
}

fn mandating(refused: Option<bool>, preference: u16) -> HostEvidence {
    let mut host = plaintext(&[Stage::Connect, Stage::Ehlo]);
    host.preference = preference;
    host.plaintext_refused = refused;
    host
}

#[test]
fn assuredness_is_100_only_when_every_counted_host_refuses_plaintext() {
    let all = [mandating(Some(true), 10), mandating(Some(true), 20)];
    let a = assuredness(&all, &TargetOptions::default());
    assert_eq!(a.factor, 100);
    assert_eq!(a.outcome, AssureOutcome::AllRefused { hosts: 2 });
    assert!(
        a.hosts
            .iter()
            .all(|h| h.passed && h.verdict == AssureVerdict::Refused)
    );

    let one_accepts = [mandating(Some(true), 10), mandating(Some(false), 20)];
    let a = assuredness(&one_accepts, &TargetOptions::default());
    assert_eq!(a.factor, 0);
    assert_eq!(
        a.outcome,
        AssureOutcome::NotAllRefused {
            failed: 1,
            hosts: 2
        }
    );
    assert_eq!(a.hosts[1].verdict, AssureVerdict::Accepted);

    let not_tried = [mandating(Some(true), 10), mandating(None, 20)];
    let a = assuredness(&not_tried, &TargetOptions::default());
    assert_eq!(a.factor, 0);
    assert_eq!(a.hosts[1].verdict, AssureVerdict::NotTried);
}

#[test]
fn assuredness_fails_an_unreached_host_unless_ignore_no_connect() {
    let hosts = [mandating(Some(true), 10), unreachable(20)];
    let a = assuredness(&hosts, &TargetOptions::default());
    assert_eq!(a.factor, 0);
    assert_eq!(a.hosts[1].verdict, AssureVerdict::Unreachable);
    let a = assuredness(&hosts, &ignoring());
    assert_eq!(a.factor, 100);
    assert_eq!(a.hosts[1].verdict, AssureVerdict::LeftOut);
    assert!(!a.hosts[1].counted);
}

#[test]
fn assuredness_of_nothing_is_0() {
    let a = assuredness(&[], &TargetOptions::default());
    assert_eq!((a.factor, a.outcome), (0, AssureOutcome::NothingTested));
    let a = assuredness(&[unreachable(10)], &ignoring());
    assert_eq!((a.factor, a.outcome), (0, AssureOutcome::NothingTested));
}

#[test]
fn quick_assuredness_judges_only_the_one_host() {
    let hosts = [mandating(Some(true), 10), mandating(Some(false), 20)];
    let a = assuredness(&hosts, &TargetOptions::quick());
    assert_eq!(a.factor, 100);
    assert_eq!(a.hosts[1].verdict, AssureVerdict::NotChosen);
}
