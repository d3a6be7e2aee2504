//! The legacy ClientHello prober against lab responders (SSLv3-, TLS 1.0- and TLS 1.1-only) and
//! a modern rustls server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use checktls_lab::legacy::{LegacyPosture, LegacyServer};
use checktls_lab::pki::Pki;
use checktls_tls::TlsVersion;
use checktls_tls::net::BoxStream;
use checktls_tls::probe::{ProbeOptions, ProbeReport, Weakness, probe};
use tokio::net::{TcpListener, TcpStream};

async fn run(addr: SocketAddr) -> ProbeReport {
    let opener = move || async move {
        TcpStream::connect(addr)
            .await
            .map(|s| Box::new(s) as BoxStream)
    };
    let mut o = ProbeOptions::default();
    o.sni = Some("mx.lab.test".into());
    probe(&opener, &o).await
}

#[tokio::test]
async fn finds_each_legacy_only_server() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    for (wire, version) in [
        (0x0300, TlsVersion::Ssl3),
        (0x0301, TlsVersion::Tls10),
        (0x0302, TlsVersion::Tls11),
    ] {
        let server = LegacyServer::start(
            "127.0.0.1:0".parse().unwrap(),
            LegacyPosture::only(wire, leaf.chain.clone()),
        )
        .await
        .unwrap();
        let r = run(server.addr()).await;
        for v in TlsVersion::ALL {
            assert_eq!(
                r.accepts(v),
                v == version,
                "{version}: {v} {:#?}",
                r.versions
            );
        }
        assert_eq!(r.best, Some(version));
        let suites: Vec<u16> = r
            .versions
            .iter()
            .find(|x| x.accepted)
            .unwrap()
            .suites
            .iter()
            .map(|s| s.code)
            .collect();
        assert_eq!(
            suites,
            [0xC013, 0x002F, 0x000A],
            "the server's preference, found one by one"
        );
        assert_eq!(
            r.best_suite.as_ref().unwrap().name,
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        );
        assert_eq!(r.chain, leaf.chain, "the chain in the clear");
        assert!(r.weaknesses.contains(&Weakness::OldVersion));
        assert!(r.weaknesses.contains(&Weakness::CbcOnly));
        let tls12 = r
            .versions
            .iter()
            .find(|x| x.version == TlsVersion::Tls12)
            .unwrap();
        assert!(
            tls12.refusal.as_deref().unwrap().contains("answered with"),
            "{tls12:?}"
        );
    }
}

#[tokio::test]
async fn a_range_and_no_common_suite() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let mut posture = LegacyPosture::only(0x0301, leaf.chain.clone());
    posture.max = 0x0302;
    posture.suites = vec![0x0005]; // RC4-SHA only
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .unwrap();
    let r = run(server.addr()).await;
    assert!(r.accepts(TlsVersion::Tls10) && r.accepts(TlsVersion::Tls11));
    assert_eq!(r.best, Some(TlsVersion::Tls11));
    assert!(
        r.weaknesses.contains(&Weakness::Rc4) && r.weaknesses.contains(&Weakness::StaticRsa),
        "{:#?}",
        r
    );
    let mut posture = LegacyPosture::only(0x0301, leaf.chain.clone());
    posture.suites = vec![0x1234];
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .unwrap();
    let r = run(server.addr()).await;
    assert_eq!(r.best, None);
    let tls10 = r
        .versions
        .iter()
        .find(|x| x.version == TlsVersion::Tls10)
        .unwrap();
    assert!(
        tls10
            .refusal
            .as_deref()
            .unwrap()
            .contains("handshake_failure"),
        "{tls10:?}"
    );
}

#[tokio::test]
async fn a_modern_server_accepts_tls13_and_tls12_only() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let config = leaf
        .server_config(&[&rustls::version::TLS13, &rustls::version::TLS12], None)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let a = acceptor.clone();
            tokio::spawn(async move {
                let _ = a.accept(tcp).await;
            });
        }
    });
    let r = run(addr).await;
    assert!(
        r.accepts(TlsVersion::Tls13) && r.accepts(TlsVersion::Tls12),
        "{:#?}",
        r.versions
    );
    assert!(
        !r.accepts(TlsVersion::Tls11)
            && !r.accepts(TlsVersion::Tls10)
            && !r.accepts(TlsVersion::Ssl3)
    );
    assert_eq!(r.best, Some(TlsVersion::Tls13));
    assert_eq!(r.chain, leaf.chain, "the TLS 1.2 handshake's chain");
    assert!(r.weaknesses.is_empty(), "{:?}", r.weaknesses);
}
