//! The strict HTTP client against lab HTTP(S) servers on loopback.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use checktls_lab::http::{HttpReply, HttpServer};
use checktls_lab::pki::Pki;
use checktls_tls::http::{HttpOptions, HttpRequest, fetch};
use checktls_tls::net::StaticConnector;
use checktls_tls::{Error, TrustStore};

fn options(pki: &Pki) -> HttpOptions {
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let mut o = HttpOptions::default();
    o.trust = trust;
    o.max_body = 1000;
    o.timeout = Duration::from_secs(5);
    o
}

#[tokio::test]
async fn get_post_redirect_and_size_limit_over_plain_http() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server = HttpServer::start(
        None,
        Arc::new(|req| match req.path.as_str() {
            "/redirect" => {
                let mut r = HttpReply::status(301);
                r.headers
                    .push(("location".into(), "http://elsewhere/".into()));
                r
            }
            "/big" => HttpReply::ok("application/octet-stream", vec![b'x'; 5000]),
            _ => HttpReply::ok(
                "text/plain",
                format!("{} {} {}", req.method, req.path, req.body.len()),
            ),
        }),
    )
    .await
    .unwrap();
    let conn = StaticConnector::new().with("ocsp.example.test", server.addr());
    let o = options(&pki);

    let r = fetch(&conn, &HttpRequest::get("http://ocsp.example.test/a?b"), &o)
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"GET /a?b 0"[..]));
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));

    let r = fetch(
        &conn,
        &HttpRequest::post(
            "http://ocsp.example.test/",
            "application/ocsp-request",
            vec![1, 2, 3],
        ),
        &o,
    )
    .await
    .unwrap();
    assert_eq!(r.body, b"POST / 3");

    let r = fetch(
        &conn,
        &HttpRequest::get("http://ocsp.example.test/redirect"),
        &o,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(r.location.as_deref(), Some("http://elsewhere/"));

    let e = fetch(&conn, &HttpRequest::get("http://ocsp.example.test/big"), &o)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::HttpBodyTooLarge { limit: 1000, .. }),
        "{e:?}"
    );
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn https_is_validated_strictly() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let good = pki.valid("mta-sts.example.test").unwrap();
    let server = HttpServer::start(
        Some(
            good.server_config(&[&rustls::version::TLS13], None)
                .unwrap(),
        ),
        Arc::new(|_| HttpReply::ok("text/plain", "version: STSv1\n")),
    )
    .await
    .unwrap();
    let o = options(&pki);
    let conn = StaticConnector::new()
        .with("mta-sts.example.test", server.addr())
        .with("mta-sts.other.test", server.addr());
    let r = fetch(
        &conn,
        &HttpRequest::get("https://mta-sts.example.test/.well-known/mta-sts.txt"),
        &o,
    )
    .await
    .unwrap();
    assert_eq!(r.body, b"version: STSv1\n");

    // The same server reached under another name: its certificate does not match.
    let e = fetch(
        &conn,
        &HttpRequest::get("https://mta-sts.other.test/.well-known/mta-sts.txt"),
        &o,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::CertificateRejected { .. }), "{e:?}");

    // Unknown name, bad scheme.
    let e = fetch(&conn, &HttpRequest::get("https://nowhere.test/"), &o)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::HttpConnect { .. }), "{e:?}");
    let e = fetch(&conn, &HttpRequest::get("ftp://x/"), &o)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BadUrl { .. }), "{e:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let (_s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let mut o = options(&pki);
    o.timeout = Duration::from_millis(300);
    let conn = StaticConnector::new().with("slow.test", addr);
    let e = fetch(&conn, &HttpRequest::get("http://slow.test/"), &o)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::HttpTimeout { .. }), "{e:?}");
}
