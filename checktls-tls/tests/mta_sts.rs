//! MTA-STS policy fetches from the lab's policy host: valid, wrong certificate, expired
//! certificate, redirect, oversized, bad syntax, wrong content type, not found, nothing
//! listening, too slow; then the policy judged against MX hosts.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use checktls_lab::mta_sts::{PolicyPosture, PolicyServer, policy_text};
use checktls_lab::pki::Pki;
use checktls_tls::TrustStore;
use checktls_tls::http::HttpOptions;
use checktls_tls::mta_sts::{
    FetchFailure, HostEffect, Mode, MxTls, PolicyFetch, evaluate, fetch_policy,
};
use checktls_tls::net::StaticConnector;

fn options(pki: &Pki) -> HttpOptions {
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let mut o = HttpOptions::default();
    o.trust = trust;
    o.timeout = Duration::from_secs(5);
    o
}

async fn fetch_at(addr: SocketAddr, o: &HttpOptions) -> PolicyFetch {
    let conn = StaticConnector::new().with("mta-sts.lab.test", addr);
    fetch_policy("lab.test", &conn, o).await
}

async fn fetch(pki: &Pki, posture: PolicyPosture) -> (PolicyFetch, usize) {
    let server = PolicyServer::start(pki, "lab.test", posture).await.unwrap();
    assert_eq!(server.host(), "mta-sts.lab.test");
    let f = fetch_at(server.addr(), &options(pki)).await;
    (f, server.requests())
}

fn enforce() -> String {
    policy_text("enforce", &["mx.lab.test", "*.backup.lab.test"], 604_800)
}

#[tokio::test]
async fn valid_policy_and_its_effect() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let (f, requests) = fetch(&pki, PolicyPosture::Valid(enforce())).await;
    assert_eq!(requests, 1);
    assert_eq!(f.url, "https://mta-sts.lab.test/.well-known/mta-sts.txt");
    assert!(
        f.failure.is_none() && f.findings.is_empty(),
        "{:?}",
        f.findings
    );
    let parsed = f.parsed.unwrap();
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let p = parsed.policy.unwrap();
    assert_eq!((p.mode, p.max_age), (Mode::Enforce, 604_800));
    let e = evaluate(
        Some("20261122T000000"),
        Some(&p),
        &[
            MxTls {
                host: "mx.lab.test",
                tls_validated: true,
            },
            MxTls {
                host: "b1.backup.lab.test",
                tls_validated: false,
            },
            MxTls {
                host: "rogue.example.test",
                tls_validated: true,
            },
        ],
    );
    assert!(e.in_force);
    let effects: Vec<_> = e.hosts.iter().map(|h| h.effect).collect();
    assert_eq!(
        effects,
        [HostEffect::Pass, HostEffect::Fail, HostEffect::Fail]
    );
    let codes: Vec<_> = e.findings.iter().map(|f| f.code.as_ref()).collect();
    assert_eq!(codes, ["mta_sts.host_fails", "mta_sts.mx_not_covered"]);
}

#[tokio::test]
async fn each_failure_is_typed() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let cases = [
        PolicyPosture::WrongCertificate(enforce()),
        PolicyPosture::ExpiredCertificate(enforce()),
        PolicyPosture::Redirect("https://elsewhere.test/mta-sts.txt".into()),
        PolicyPosture::Oversized,
        PolicyPosture::WrongContentType(enforce()),
        PolicyPosture::NotFound,
    ];
    for posture in cases {
        let (f, _) = fetch(&pki, posture.clone()).await;
        assert!(f.parsed.is_none(), "{posture:?}");
        let failure = f.failure.clone().unwrap();
        let ok = match (&posture, &failure) {
            (PolicyPosture::WrongCertificate(_), FetchFailure::Certificate { detail }) => {
                detail.contains("NotValidForName")
            }
            (PolicyPosture::ExpiredCertificate(_), FetchFailure::Certificate { detail }) => {
                detail.contains("Expired")
            }
            (PolicyPosture::Redirect(_), FetchFailure::Redirect { status, location }) => {
                *status == 301 && location.as_deref() == Some("https://elsewhere.test/mta-sts.txt")
            }
            (PolicyPosture::Oversized, FetchFailure::TooLarge { limit }) => *limit == 64 * 1024,
            (PolicyPosture::WrongContentType(_), FetchFailure::ContentType { content_type }) => {
                content_type.as_deref() == Some("text/html; charset=utf-8")
            }
            (PolicyPosture::NotFound, FetchFailure::HttpStatus { status }) => *status == 404,
            _ => false,
        };
        assert!(ok, "{posture:?} gave {failure:?}");
        assert_eq!(f.findings.len(), 1);
        assert_eq!(f.findings[0].code, failure.code());
        assert!(f.findings[0].message.contains(&f.url));
    }
}

#[tokio::test]
async fn bad_syntax_arrives_parsed_without_a_policy() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let (f, _) = fetch(&pki, PolicyPosture::BadSyntax).await;
    assert!(f.failure.is_none());
    let parsed = f.parsed.unwrap();
    assert!(parsed.policy.is_none());
    let codes: Vec<_> = parsed.findings.iter().map(|f| f.code.as_ref()).collect();
    assert!(codes.contains(&"mta_sts.no_version"), "{codes:?}");
    let e = evaluate(Some("1"), parsed.policy.as_ref(), &[]);
    assert!(!e.in_force);
}

#[tokio::test]
async fn nothing_listening_and_too_slow() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    // A port bound and closed again: nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let f = fetch_at(closed, &options(&pki)).await;
    assert!(
        matches!(f.failure, Some(FetchFailure::Connect { .. })),
        "{f:?}"
    );
    // A listener that accepts and never answers: the time bound ends the fetch.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            kept.push(s);
        }
    });
    let mut o = options(&pki);
    o.timeout = Duration::from_millis(300);
    let f = fetch_at(addr, &o).await;
    assert_eq!(f.failure, Some(FetchFailure::Timeout { after_ms: 300 }));
    assert_eq!(f.findings[0].code, "mta_sts.timeout");
    hold.abort();
}
