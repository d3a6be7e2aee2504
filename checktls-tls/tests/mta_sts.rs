//! MTA-STS policy fetches from lab HTTPS servers: valid, wrong certificate, redirect,
//! oversized, bad syntax, wrong content type.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use checktls_lab::http::{HttpReply, HttpServer};
use checktls_lab::pki::Pki;
use checktls_tls::TrustStore;
use checktls_tls::http::HttpOptions;
use checktls_tls::mta_sts::{Mode, fetch_policy};
use checktls_tls::net::StaticConnector;

const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.lab.test\r\nmax_age: 604800\r\n";

async fn serve(pki: &Pki, name: &str, reply: HttpReply) -> HttpServer {
    let leaf = pki.valid(name).unwrap();
    let tls = leaf
        .server_config(&[&rustls::version::TLS13], None)
        .unwrap();
    HttpServer::start(
        Some(tls),
        Arc::new(move |req| {
            if req.path == "/.well-known/mta-sts.txt" {
                reply.clone()
            } else {
                HttpReply::status(404)
            }
        }),
    )
    .await
    .unwrap()
}

fn options(pki: &Pki) -> HttpOptions {
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let mut o = HttpOptions::default();
    o.trust = trust;
    o.timeout = Duration::from_secs(5);
    o
}

async fn fetch_from(pki: &Pki, server: &HttpServer) -> checktls_tls::mta_sts::PolicyFetch {
    let conn = StaticConnector::new().with("mta-sts.lab.test", server.addr());
    fetch_policy("lab.test", &conn, &options(pki)).await
}

#[tokio::test]
async fn valid_policy() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let s = serve(
        &pki,
        "mta-sts.lab.test",
        HttpReply::ok("text/plain; charset=utf-8", POLICY),
    )
    .await;
    let f = fetch_from(&pki, &s).await;
    assert!(f.findings.is_empty(), "{:?}", f.findings);
    let p = f.parsed.unwrap().policy.unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert!(p.covers("mx.lab.test"));
}

#[tokio::test]
async fn failures_are_typed() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let mut redirect = HttpReply::status(302);
    redirect
        .headers
        .push(("location".into(), "https://elsewhere.test/".into()));
    let cases = [
        (
            "mta-sts.other.test",
            HttpReply::ok("text/plain", POLICY),
            "mta_sts.fetch_failed",
        ),
        ("mta-sts.lab.test", redirect, "mta_sts.redirect"),
        (
            "mta-sts.lab.test",
            HttpReply::ok("text/plain", "x".repeat(70_000)),
            "mta_sts.fetch_failed",
        ),
        (
            "mta-sts.lab.test",
            HttpReply::ok("text/html", POLICY),
            "mta_sts.content_type",
        ),
        (
            "mta-sts.lab.test",
            HttpReply::status(404),
            "mta_sts.http_status",
        ),
    ];
    for (name, reply, code) in cases {
        let s = serve(&pki, name, reply).await;
        let f = fetch_from(&pki, &s).await;
        assert!(f.parsed.is_none(), "{code}");
        assert!(
            f.findings.iter().any(|x| x.code == code),
            "{code}: {:?}",
            f.findings
        );
    }
    // Bad syntax arrives, parsed, with findings and no policy.
    let s = serve(
        &pki,
        "mta-sts.lab.test",
        HttpReply::ok("text/plain", "version: STSv1\nmode: sometimes\n"),
    )
    .await;
    let f = fetch_from(&pki, &s).await;
    let parsed = f.parsed.unwrap();
    assert!(parsed.policy.is_none());
    assert!(parsed.findings.iter().any(|x| x.code == "mta_sts.bad_mode"));
}
