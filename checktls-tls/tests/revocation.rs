//! OCSP and CRL revocation against the lab responder (good, revoked, unknown, bad signature,
//! stale, delegated, POST refused, wrong nonce) and the lab CRL server (good, revoked, bad
//! signature, stale, wrong issuer), with certificates generated at test time.

use std::time::{Duration, SystemTime};

use checktls_lab::crl::{CrlMode, RevokedEntry, signed_crl};
use checktls_lab::ocsp::{CertState, OcspMode, Responder, RevocationServer};
use checktls_lab::pki::{Leaf, LeafSpec, Pki};
use checktls_tls::http::{HttpOptions, HttpRequest, fetch};
use checktls_tls::net::TcpConnector;
use checktls_tls::revocation::{
    Fetch, FetchBudget, Revocation, RevocationCache, RevocationSource, RevocationStatus, check,
    check_crl, check_ocsp_response, must_staple, ocsp_get_url, ocsp_request,
};
use rustls_pki_types::{CertificateDer, UnixTime};

/// The lab's responder and CRL server listen on loopback: allowed explicitly.
fn lab_connector() -> TcpConnector {
    TcpConnector::allowing_non_global()
}

/// `check` of a lab chain (leaf, issuer) through `connector`, with a budget of `budget` bytes.
async fn check_with(
    chain: &[CertificateDer<'static>],
    stapled: Option<&[u8]>,
    connector: &TcpConnector,
    cache: &RevocationCache,
    budget: usize,
) -> Revocation {
    let options = HttpOptions::default();
    let budget = FetchBudget::new(budget);
    let via = Fetch {
        connector,
        options: &options,
        cache,
        budget: &budget,
    };
    check(&chain[0], &chain[1], stapled, &via, now()).await
}

async fn check_chain(
    chain: &[CertificateDer<'static>],
    stapled: Option<&[u8]>,
    cache: &RevocationCache,
) -> Revocation {
    check_with(
        chain,
        stapled,
        &lab_connector(),
        cache,
        FetchBudget::DEFAULT,
    )
    .await
}

fn leaf(pki: &Pki, name: &str, ocsp: Option<String>, crl: Option<String>) -> Leaf {
    let mut spec = LeafSpec::new(&[name], pki.now());
    spec.ocsp_url = ocsp;
    spec.crl_url = crl;
    pki.leaf(&spec).unwrap()
}

fn now() -> UnixTime {
    UnixTime::now()
}

async fn verdict(l: &Leaf, cache: &RevocationCache) -> checktls_tls::revocation::Revocation {
    check_chain(&l.chain, None, cache).await
}

#[tokio::test]
async fn ocsp_good_revoked_unknown() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let cache = RevocationCache::new();
    let good = leaf(&pki, "good.lab.test", Some(server.ocsp_url()), None);
    let revoked = leaf(&pki, "revoked.lab.test", Some(server.ocsp_url()), None);
    let unknown = leaf(&pki, "unknown.lab.test", Some(server.ocsp_url()), None);
    server.set(&good.serial, CertState::Good);
    server.set(&revoked.serial, CertState::Revoked { reason: 1 });
    let r = verdict(&good, &cache).await;
    assert_eq!(r.status, RevocationStatus::Good, "{:?}", r.attempts);
    assert_eq!(r.source, Some(RevocationSource::Ocsp));
    let r = verdict(&revoked, &cache).await;
    match r.status {
        RevocationStatus::Revoked { reason, time } => {
            assert_eq!(reason.as_deref(), Some("keyCompromise"));
            assert!(time > 0);
        }
        other => panic!("{other:?} {:?}", r.attempts),
    }
    assert_eq!(
        verdict(&unknown, &cache).await.status,
        RevocationStatus::Unknown
    );
}

#[tokio::test]
async fn bad_signature_and_stale_responses_do_not_count() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    for (mode, why) in [
        (OcspMode::BadSignature, "signature"),
        (OcspMode::Stale, "stale"),
    ] {
        let server = RevocationServer::start(&pki, mode).await.unwrap();
        let l = leaf(&pki, "x.lab.test", Some(server.ocsp_url()), None);
        server.set(&l.serial, CertState::Good);
        let r = verdict(&l, &RevocationCache::new()).await;
        assert!(
            matches!(r.status, RevocationStatus::CouldNotCheck { .. }),
            "{mode:?}: {r:?}"
        );
        assert!(
            r.attempts.iter().any(|a| a.contains(why)),
            "{mode:?}: {:?}",
            r.attempts
        );
    }
}

#[tokio::test]
async fn crl_fallback_and_cache() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let a = leaf(&pki, "a.lab.test", None, Some(server.crl_url()));
    let b = leaf(&pki, "b.lab.test", None, Some(server.crl_url()));
    server.set(&b.serial, CertState::Revoked { reason: 1 });
    let cache = RevocationCache::new();
    let r = verdict(&a, &cache).await;
    assert_eq!(
        (r.status, r.source),
        (RevocationStatus::Good, Some(RevocationSource::Crl))
    );
    let r = verdict(&b, &cache).await;
    assert!(
        matches!(r.status, RevocationStatus::Revoked { .. }),
        "{r:?}"
    );
    assert_eq!(cache.len(), 1);
    assert_eq!(server.requests(), 1, "the CRL was fetched once for both");
    // Neither OCSP nor CRL named: could not check, and says why.
    let none = leaf(&pki, "c.lab.test", None, None);
    let r = verdict(&none, &cache).await;
    assert!(
        matches!(r.status, RevocationStatus::CouldNotCheck { ref cause } if cause.contains("names no OCSP"))
    );
}

#[tokio::test]
async fn stapled_response_and_nonce() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let l = leaf(&pki, "s.lab.test", Some(server.ocsp_url()), None);
    server.set(&l.serial, CertState::Good);
    let nonce = [9u8; 16];
    let req = ocsp_request(&l.chain[0], &l.chain[1], Some(&nonce)).unwrap();
    let resp = fetch(
        &lab_connector(),
        &HttpRequest::post(&server.ocsp_url(), "application/ocsp-request", req),
        &HttpOptions::default(),
    )
    .await
    .unwrap()
    .body;
    assert_eq!(
        check_ocsp_response(&resp, &l.chain[0], &l.chain[1], Some(&nonce), now()),
        RevocationStatus::Good
    );
    let other = check_ocsp_response(&resp, &l.chain[0], &l.chain[1], Some(&[1u8; 16]), now());
    assert!(
        matches!(other, RevocationStatus::CouldNotCheck { ref cause } if cause.contains("nonce")),
        "{other:?}"
    );
    // Judged long after nextUpdate: stale.
    let later = UnixTime::since_unix_epoch(Duration::from_secs(now().as_secs() + 30 * 86_400));
    assert!(matches!(
        check_ocsp_response(&resp, &l.chain[0], &l.chain[1], None, later),
        RevocationStatus::CouldNotCheck { .. }
    ));
    // Stapled: no network needed.
    let before = server.requests();
    let r = check_chain(&l.chain, Some(&resp), &RevocationCache::new()).await;
    assert_eq!(
        (r.status, r.source),
        (RevocationStatus::Good, Some(RevocationSource::Stapled))
    );
    assert_eq!(server.requests(), before);
    // For another certificate the response says nothing.
    let other_leaf = leaf(&pki, "o.lab.test", None, None);
    assert!(matches!(
        check_ocsp_response(
            &resp,
            &other_leaf.chain[0],
            &other_leaf.chain[1],
            None,
            now()
        ),
        RevocationStatus::CouldNotCheck { .. }
    ));
}

fn cause(r: &checktls_tls::revocation::Revocation) -> String {
    match &r.status {
        RevocationStatus::CouldNotCheck { cause } => {
            format!("{cause} | {}", r.attempts.join(" | "))
        }
        other => panic!("expected could-not-check, got {other:?} {:?}", r.attempts),
    }
}

#[tokio::test]
async fn delegated_responder_with_ocsp_signing_counts_and_without_does_not() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Delegated)
        .await
        .unwrap();
    let l = leaf(&pki, "d.lab.test", Some(server.ocsp_url()), None);
    server.set(&l.serial, CertState::Revoked { reason: 4 });
    let r = verdict(&l, &RevocationCache::new()).await;
    assert_eq!(
        r.status,
        RevocationStatus::Revoked {
            time: r_time(&r),
            reason: Some("superseded".into())
        },
        "{:?}",
        r.attempts
    );
    let server = RevocationServer::start(&pki, OcspMode::DelegatedNotForOcsp)
        .await
        .unwrap();
    let l = leaf(&pki, "e.lab.test", Some(server.ocsp_url()), None);
    server.set(&l.serial, CertState::Good);
    let r = verdict(&l, &RevocationCache::new()).await;
    assert!(
        cause(&r).contains("not authorised for OCSP signing"),
        "{r:?}"
    );
}

fn r_time(r: &checktls_tls::revocation::Revocation) -> i64 {
    match r.status {
        RevocationStatus::Revoked { time, .. } => time,
        _ => -1,
    }
}

#[test]
fn a_delegated_responder_certificate_must_be_valid_at_the_time_judged() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let responder = Responder::new(&pki, OcspMode::Delegated).unwrap();
    let l = pki.valid("t.lab.test").unwrap();
    let staple = responder
        .staple(&l.chain[0], CertState::Good, pki.now())
        .unwrap();
    assert_eq!(
        check_ocsp_response(&staple, &l.chain[0], &l.chain[1], None, now()),
        RevocationStatus::Good
    );
    // The lab's delegated responder certificate is valid for 30 days.
    let later = UnixTime::since_unix_epoch(Duration::from_secs(now().as_secs() + 40 * 86_400));
    match check_ocsp_response(&staple, &l.chain[0], &l.chain[1], None, later) {
        RevocationStatus::CouldNotCheck { cause } => {
            assert!(
                cause.contains("responder certificate is not valid"),
                "{cause}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn post_refused_falls_back_to_get() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::PostRefused)
        .await
        .unwrap();
    let l = leaf(&pki, "g.lab.test", Some(server.ocsp_url()), None);
    server.set(&l.serial, CertState::Good);
    let r = verdict(&l, &RevocationCache::new()).await;
    assert_eq!(
        (&r.status, r.source),
        (&RevocationStatus::Good, Some(RevocationSource::Ocsp)),
        "{:?}",
        r.attempts
    );
    assert!(
        r.attempts
            .iter()
            .any(|a| a.contains("POST") && a.contains("405")),
        "{:?}",
        r.attempts
    );
    assert_eq!(server.requests(), 2, "one POST, one GET");
}

#[test]
fn the_get_form_is_url_encoded_base64_of_the_request() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let l = pki.valid("u.lab.test").unwrap();
    let req = ocsp_request(&l.chain[0], &l.chain[1], Some(&[0xfb; 16])).unwrap();
    let url = ocsp_get_url("http://127.0.0.1:8080/", &req);
    let tail = url.strip_prefix("http://127.0.0.1:8080/").unwrap();
    assert!(!tail.contains(['+', '/', '=']), "{tail}");
    let decoded = tail
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    use base64ct::Encoding;
    assert_eq!(base64ct::Base64::decode_vec(&decoded).unwrap(), req);
    // Without a trailing slash on the responder URL, one is added.
    assert_eq!(
        ocsp_get_url("http://127.0.0.1:8080", &req),
        url,
        "same URL either way"
    );
}

#[tokio::test]
async fn a_replayed_nonce_and_an_old_response_without_next_update_do_not_count() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    for (mode, why) in [
        (OcspMode::WrongNonce, "nonce"),
        (OcspMode::NoNextUpdate, "no nextUpdate"),
    ] {
        let server = RevocationServer::start(&pki, mode).await.unwrap();
        let l = leaf(&pki, "n.lab.test", Some(server.ocsp_url()), None);
        server.set(&l.serial, CertState::Good);
        let r = verdict(&l, &RevocationCache::new()).await;
        assert!(cause(&r).contains(why), "{mode:?}: {r:?}");
    }
}

#[test]
fn a_response_from_the_future_does_not_count() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let responder = Responder::new(&pki, OcspMode::Normal).unwrap();
    let l = pki.valid("f.lab.test").unwrap();
    let staple = responder
        .staple(&l.chain[0], CertState::Good, pki.now())
        .unwrap();
    // thisUpdate is an hour before the lab's now; judged two hours before it, it is ahead.
    let earlier = UnixTime::since_unix_epoch(Duration::from_secs(now().as_secs() - 2 * 3600));
    match check_ocsp_response(&staple, &l.chain[0], &l.chain[1], None, earlier) {
        RevocationStatus::CouldNotCheck { cause } => assert!(cause.contains("future"), "{cause}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stapled_revocation_decides_without_the_network() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let l = leaf(&pki, "r.lab.test", Some(server.ocsp_url()), None);
    server.set(&l.serial, CertState::Good);
    let staple = Responder::new(&pki, OcspMode::Normal)
        .unwrap()
        .staple(&l.chain[0], CertState::Revoked { reason: 1 }, pki.now())
        .unwrap();
    let r = check_chain(&l.chain, Some(&staple), &RevocationCache::new()).await;
    assert!(
        matches!(r.status, RevocationStatus::Revoked { .. }),
        "{r:?}"
    );
    assert_eq!(r.source, Some(RevocationSource::Stapled));
    assert_eq!(server.requests(), 0);
    // A broken staple falls through to the responder.
    let bad = Responder::new(&pki, OcspMode::BadSignature)
        .unwrap()
        .staple(&l.chain[0], CertState::Revoked { reason: 1 }, pki.now())
        .unwrap();
    let r = check_chain(&l.chain, Some(&bad), &RevocationCache::new()).await;
    assert_eq!(
        (&r.status, r.source),
        (&RevocationStatus::Good, Some(RevocationSource::Ocsp)),
        "{:?}",
        r.attempts
    );
    assert!(
        r.attempts
            .first()
            .is_some_and(|a| a.starts_with("stapled: could_not_check") && a.contains("signature")),
        "{:?}",
        r.attempts
    );
}

#[tokio::test]
async fn broken_crls_do_not_count() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    for (mode, why) in [
        (CrlMode::BadSignature, "signature"),
        (CrlMode::Stale, "stale"),
        (CrlMode::WrongIssuer, "not the issuer's"),
    ] {
        let server = RevocationServer::start_with(&pki, OcspMode::Normal, mode)
            .await
            .unwrap();
        let l = leaf(&pki, "c.lab.test", None, Some(server.crl_url()));
        let r = verdict(&l, &RevocationCache::new()).await;
        assert!(cause(&r).contains(why), "{mode:?}: {r:?}");
    }
}

#[test]
fn crl_judged_from_bytes_with_reasons() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let a = pki.valid("a.lab.test").unwrap();
    let b = pki.valid("b.lab.test").unwrap();
    let entries = [
        RevokedEntry {
            serial: a.serial.clone(),
            reason: Some(1),
        },
        RevokedEntry {
            serial: b.serial.clone(),
            reason: None,
        },
    ];
    let crl = signed_crl(&pki, &entries, CrlMode::Normal, pki.now()).unwrap();
    match check_crl(&crl, &a.chain[0], &a.chain[1], now()) {
        RevocationStatus::Revoked { reason, time } => {
            assert_eq!(reason.as_deref(), Some("keyCompromise"));
            let lab_now = i64::try_from(now().as_secs()).unwrap();
            assert!((lab_now - 3700..=lab_now - 3500).contains(&time), "{time}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_crl(&crl, &b.chain[0], &b.chain[1], now()),
        RevocationStatus::Revoked { reason: None, .. }
    ));
    let c = pki.valid("c.lab.test").unwrap();
    assert_eq!(
        check_crl(&crl, &c.chain[0], &c.chain[1], now()),
        RevocationStatus::Good
    );
    // Judged with the wrong issuer: the CRL is not its CRL.
    assert!(matches!(
        check_crl(&crl, &c.chain[0], pki.root().der(), now()),
        RevocationStatus::CouldNotCheck { .. }
    ));
    // Not a CRL at all.
    assert!(matches!(
        check_crl(&c.chain[0], &c.chain[0], &c.chain[1], now()),
        RevocationStatus::CouldNotCheck { .. }
    ));
}

#[tokio::test]
async fn concurrent_checks_fetch_a_crl_once() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let leaves: Vec<Leaf> = (0..6)
        .map(|i| {
            leaf(
                &pki,
                &format!("h{i}.lab.test"),
                None,
                Some(server.crl_url()),
            )
        })
        .collect();
    server.set(&leaves[3].serial, CertState::Revoked { reason: 1 });
    let cache = RevocationCache::new();
    // Polled together: the first starts the fetch, the others wait for it.
    let verdicts = join_all(leaves.iter().map(|l| verdict(l, &cache)).collect()).await;
    for (i, r) in verdicts.iter().enumerate() {
        if i == 3 {
            assert!(
                matches!(r.status, RevocationStatus::Revoked { .. }),
                "{r:?}"
            );
        } else {
            assert_eq!(r.status, RevocationStatus::Good, "{r:?}");
        }
    }
    assert_eq!(server.requests(), 1, "one fetch for six concurrent checks");
    assert_eq!(cache.len(), 1);
}

/// A tiny join-all over boxed futures (no futures crate in the dev-dependencies).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

#[tokio::test]
async fn urls_on_non_global_addresses_are_not_fetched_by_default() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    // The responder and the CRL on 127.0.0.1, as a hostile certificate may name them.
    let l = leaf(
        &pki,
        "n.lab.test",
        Some(server.ocsp_url()),
        Some(server.crl_url()),
    );
    server.set(&l.serial, CertState::Revoked { reason: 1 });
    let r = check_with(
        &l.chain,
        None,
        &TcpConnector::new(),
        &RevocationCache::new(),
        FetchBudget::DEFAULT,
    )
    .await;
    assert!(
        matches!(r.status, RevocationStatus::CouldNotCheck { .. }),
        "{r:?}"
    );
    assert!(
        r.attempts
            .iter()
            .any(|a| a.contains("not a global address")),
        "{:?}",
        r.attempts
    );
    assert_eq!(server.requests(), 0, "nothing reached the loopback server");
    // Allowed on purpose, the same certificate is found revoked.
    let r = check_chain(&l.chain, None, &RevocationCache::new()).await;
    assert!(
        matches!(r.status, RevocationStatus::Revoked { .. }),
        "{r:?}"
    );
    assert!(server.requests() > 0);
}

#[tokio::test]
async fn the_byte_budget_bounds_what_a_check_downloads() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let l = leaf(&pki, "b.lab.test", Some(server.ocsp_url()), None);
    server.set(&l.serial, CertState::Good);
    // Too small a budget for any response: no verdict, and it says why.
    let r = check_with(
        &l.chain,
        None,
        &lab_connector(),
        &RevocationCache::new(),
        16,
    )
    .await;
    assert!(
        matches!(r.status, RevocationStatus::CouldNotCheck { .. }),
        "{r:?}"
    );
    // A spent budget makes no request at all.
    let before = server.requests();
    let r = check_with(&l.chain, None, &lab_connector(), &RevocationCache::new(), 0).await;
    assert!(cause(&r).contains("budget"), "{r:?}");
    assert_eq!(server.requests(), before);
}

/// The committed fuzz seeds (`[u16 len][leaf][u16 len][issuer][response or CRL]`, made by the lab
/// for the fuzz targets' fixed time) still judge as their names say, so the fuzzers start from
/// inputs that reach every verdict.
#[test]
fn fuzz_seeds_judge_as_named() {
    use checktls_tls::fuzzing::{FUZZ_NONCE, FUZZ_NOW};
    fn split(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let (leaf, rest) = data[2..].split_at(n);
        let m = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let (issuer, rest) = rest[2..].split_at(m);
        (leaf, issuer, rest)
    }
    let at = UnixTime::since_unix_epoch(Duration::from_secs(FUZZ_NOW));
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut seen = 0;
    for (target, ocsp) in [("tls_ocsp_response", true), ("tls_crl", false)] {
        for entry in std::fs::read_dir(seeds.join(target)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).unwrap();
            let (leaf, issuer, rest) = split(&data);
            let status = if ocsp {
                check_ocsp_response(rest, leaf, issuer, Some(&FUZZ_NONCE), at)
            } else {
                check_crl(rest, leaf, issuer, at)
            };
            let expected = match name.as_str() {
                "good" | "delegated" | "staple" | "empty" => "good",
                "revoked" => "revoked",
                "unknown" => "unknown",
                _ => "could_not_check",
            };
            assert_eq!(status.name(), expected, "{target}/{name}: {status:?}");
            seen += 1;
        }
    }
    assert_eq!(seen, 14);
}

#[tokio::test]
async fn a_must_staple_leaf_without_a_staple_is_flagged() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .unwrap();
    let mut spec = LeafSpec::new(&["ms.lab.test"], pki.now());
    spec.ocsp_url = Some(server.ocsp_url());
    spec.must_staple = true;
    let l = pki.leaf(&spec).unwrap();
    server.set(&l.serial, CertState::Good);
    assert!(must_staple(&l.chain[0]));
    assert!(!must_staple(&pki.valid("plain.lab.test").unwrap().chain[0]));
    assert!(!must_staple(b"not a certificate"));
    // No staple: the responder still answers, and the promise is reported broken.
    let r = verdict(&l, &RevocationCache::new()).await;
    assert_eq!(r.status, RevocationStatus::Good);
    assert!(r.must_staple_unmet, "{r:?}");
    assert!(r.attempts.iter().any(|a| a.contains("must-staple")));
    // Stapled: kept.
    let staple = Responder::new(&pki, OcspMode::Normal)
        .unwrap()
        .staple(&l.chain[0], CertState::Good, pki.now())
        .unwrap();
    let r = check_chain(&l.chain, Some(&staple), &RevocationCache::new()).await;
    assert_eq!(
        (&r.status, r.source, r.must_staple_unmet),
        (
            &RevocationStatus::Good,
            Some(RevocationSource::Stapled),
            false
        )
    );
    // A plain leaf is never flagged.
    let plain = leaf(&pki, "p.lab.test", Some(server.ocsp_url()), None);
    server.set(&plain.serial, CertState::Good);
    assert!(
        !verdict(&plain, &RevocationCache::new())
            .await
            .must_staple_unmet
    );
}
