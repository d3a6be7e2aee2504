//! OCSP and CRL revocation against the lab responder (good, revoked, unknown, bad signature,
//! stale) and the lab CRL server, with certificates generated at test time.

use std::time::{Duration, SystemTime};

use checktls_lab::ocsp::{CertState, OcspMode, RevocationServer};
use checktls_lab::pki::{Leaf, LeafSpec, Pki};
use checktls_tls::http::{HttpOptions, HttpRequest, fetch};
use checktls_tls::net::TcpConnector;
use checktls_tls::revocation::{
    RevocationCache, RevocationSource, RevocationStatus, check, check_ocsp_response, ocsp_request,
};
use rustls_pki_types::UnixTime;

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
    check(
        &l.chain,
        None,
        &TcpConnector,
        &HttpOptions::default(),
        cache,
        now(),
    )
    .await
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
        &TcpConnector,
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
    let r = check(
        &l.chain,
        Some(&resp),
        &TcpConnector,
        &HttpOptions::default(),
        &RevocationCache::new(),
        now(),
    )
    .await;
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
