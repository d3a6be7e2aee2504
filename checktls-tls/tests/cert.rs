//! Certificate judgements on chains generated at test time by the lab PKI.

use std::time::{Duration, SystemTime};

use checktls_lab::pki::Pki;
use checktls_tls::TrustStore;
use checktls_tls::cert::{CertPolicy, CertProblem, evaluate};
use rustls_pki_types::UnixTime;

fn setup() -> (Pki, TrustStore, UnixTime) {
    let now = SystemTime::now();
    let pki = Pki::generate(now).unwrap();
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let t = UnixTime::since_unix_epoch(now.duration_since(SystemTime::UNIX_EPOCH).unwrap());
    (pki, trust, t)
}

#[test]
fn valid_chain() {
    let (pki, trust, now) = setup();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.is_acceptable(), "{r:?}");
    assert!(r.chain_valid && r.name_match == Some(true) && !r.expired);
    assert!(r.days_to_expiry.unwrap() > 30);
    assert!(r.problems.is_empty());
}

#[test]
fn expired_leaf_on_a_good_chain_is_chain_valid_and_expired() {
    let (pki, trust, now) = setup();
    let leaf = pki.expired("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.chain_valid, "{r:?}");
    assert!(r.expired && !r.is_acceptable());
    assert!(r.days_to_expiry.unwrap() < 0);
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::Expired { .. })
    ));
}

#[test]
fn not_yet_valid_leaf() {
    let (pki, trust, now) = setup();
    let leaf = pki.not_yet_valid("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.not_yet_valid && r.chain_valid, "{r:?}");
}

#[test]
fn wrong_name_self_signed_and_unknown_issuer() {
    let (pki, trust, now) = setup();
    let wrong = pki.wrong_name().unwrap();
    let r = evaluate(
        &wrong.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert_eq!(r.name_match, Some(false));
    assert!(r.chain_valid);
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::NameMismatch { .. })
    ));

    let own = pki.self_signed("mx.lab.test").unwrap();
    let r = evaluate(
        &own.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.self_signed && !r.chain_valid);
    assert_eq!(r.most_specific(), Some(&CertProblem::SelfSigned));

    // Another lab PKI: same CA names, other keys: the signature does not verify.
    let other = Pki::generate(SystemTime::now())
        .unwrap()
        .valid("mx.lab.test")
        .unwrap();
    let r = evaluate(
        &other.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(!r.chain_valid);
    assert!(
        matches!(r.most_specific(), Some(CertProblem::Invalid { detail }) if detail.contains("Signature")),
        "{r:?}"
    );
    // No anchors at all: the issuer is unknown.
    let r = evaluate(
        &other.chain,
        &CertPolicy::new(&TrustStore::empty(), Some("mx.lab.test"), now),
    );
    assert_eq!(r.most_specific(), Some(&CertProblem::UnknownIssuer));
}

#[test]
fn expiry_warning_threshold() {
    let (pki, trust, now) = setup();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let mut policy = CertPolicy::new(&trust, Some("mx.lab.test"), now);
    policy.expiry_warning_days = 100_000;
    assert!(evaluate(&leaf.chain, &policy).expiry_warning);
    let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 10 * 365 * 86_400));
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), later),
    );
    assert!(r.expired);
}

#[test]
fn no_certificate_and_garbage() {
    let (_, trust, now) = setup();
    let r = evaluate(&[], &CertPolicy::new(&trust, None, now));
    assert_eq!(r.most_specific(), Some(&CertProblem::NoCertificate));
    let junk = rustls_pki_types::CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02]);
    let r = evaluate(&[junk], &CertPolicy::new(&trust, None, now));
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::Unparseable { .. })
    ));
}
