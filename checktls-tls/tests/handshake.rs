//! The recording handshake against lab servers, in memory (tokio duplex pipes).

use std::sync::Arc;
use std::time::SystemTime;

use checktls_lab::pki::Pki;
use checktls_tls::cert::{CertPolicy, CertProblem, evaluate};
use checktls_tls::handshake::{HandshakeOptions, VersionChoice, handshake};
use checktls_tls::{Error, TlsVersion, TrustStore};
use rustls_pki_types::UnixTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(config: Arc<rustls::ServerConfig>, io: tokio::io::DuplexStream) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    if let Ok(mut tls) = acceptor.accept(io).await {
        let mut buf = [0u8; 4];
        if tls.read_exact(&mut buf).await.is_ok() {
            let _ = tls.write_all(&buf).await;
            let _ = tls.shutdown().await;
        }
    }
}

fn trust(pki: &Pki) -> TrustStore {
    let mut t = TrustStore::empty();
    t.add_der(pki.root().der().clone()).unwrap();
    t
}

#[tokio::test]
async fn records_tls13_facts_chain_and_staple() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.example.test").unwrap();
    let staple = b"not really OCSP but stapled".to_vec();
    let config = leaf
        .server_config(&[&rustls::version::TLS13], Some(staple.clone()))
        .unwrap();
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(serve(config, server));

    let mut options = HandshakeOptions::default();
    options.sni = Some("mx.example.test".into());
    let (mut stream, facts) = handshake(client, &options).await.unwrap();
    assert_eq!(facts.version, TlsVersion::Tls13);
    assert!(
        facts.cipher_suite.name.starts_with("TLS_AES_")
            || facts.cipher_suite.name.starts_with("TLS_CHACHA20")
    );
    assert_eq!(facts.key_exchange_group.as_ref().unwrap().name, "X25519");
    assert_eq!(facts.chain, leaf.chain);
    assert_eq!(facts.stapled_ocsp.as_deref(), Some(&staple[..]));
    assert_eq!(facts.sni.as_deref(), Some("mx.example.test"));

    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping");

    let trust = trust(&pki);
    let report = evaluate(
        &facts.chain,
        &CertPolicy::new(&trust, Some("mx.example.test"), UnixTime::now()),
    );
    assert!(report.is_acceptable(), "{report:?}");
    assert!(report.days_to_expiry.unwrap() >= 88);
}

#[tokio::test]
async fn records_tls12_and_accepts_bad_certificates() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.expired("mx.example.test").unwrap();
    let config = leaf
        .server_config(&[&rustls::version::TLS12], None)
        .unwrap();
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(serve(config, server));

    let (_stream, facts) = handshake(client, &HandshakeOptions::default())
        .await
        .unwrap();
    assert_eq!(facts.version, TlsVersion::Tls12);
    assert!(
        facts.cipher_suite.name.starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{}",
        facts.cipher_suite
    );
    assert_eq!(facts.sni, None);
    assert_eq!(facts.stapled_ocsp, None);

    let trust = trust(&pki);
    let report = evaluate(
        &facts.chain,
        &CertPolicy::new(&trust, Some("mx.example.test"), UnixTime::now()),
    );
    assert!(report.expired);
    assert!(!report.is_acceptable());
    assert!(matches!(
        report.most_specific(),
        Some(CertProblem::Expired { .. })
    ));
}

#[tokio::test]
async fn tls13_only_client_against_tls12_only_server_fails_with_alert() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.example.test").unwrap();
    let config = leaf
        .server_config(&[&rustls::version::TLS12], None)
        .unwrap();
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(serve(config, server));
    let mut options = HandshakeOptions::default();
    options.versions = VersionChoice::Tls13Only;
    let failure = handshake(client, &options).await.unwrap_err();
    assert!(
        matches!(
            failure.error,
            Error::AlertReceived { .. } | Error::NoCommonParameters { .. }
        ),
        "{failure:?}"
    );
}

#[tokio::test]
async fn garbage_instead_of_tls_is_not_tls() {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 512];
        let _ = server.read(&mut buf).await;
        let _ = server.write_all(b"220 this is not TLS at all\r\n").await;
    });
    let failure = handshake(client, &HandshakeOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(failure.error, Error::NotTls { .. }), "{failure:?}");
    assert!(failure.partial.chain.is_empty());
}

#[tokio::test]
async fn reset_during_handshake_is_io() {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 512];
        let _ = server.read(&mut buf).await;
        drop(server);
    });
    let failure = handshake(client, &HandshakeOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(failure.error, Error::Io(_)), "{failure:?}");
}

#[tokio::test]
async fn unknown_cipher_suite_name_is_a_config_error() {
    let (client, _server) = tokio::io::duplex(1024);
    let mut options = HandshakeOptions::default();
    options.cipher_suites = vec!["TLS_RSA_WITH_RC4_128_MD5".into()];
    let failure = handshake(client, &options).await.unwrap_err();
    assert!(matches!(failure.error, Error::UnknownCipherSuite { .. }));
}

#[test]
fn wrong_name_and_self_signed_are_reported() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let trust = trust(&pki);
    let wrong = pki.wrong_name().unwrap();
    let r = evaluate(
        &wrong.chain,
        &CertPolicy::new(&trust, Some("mx.example.test"), UnixTime::now()),
    );
    assert!(r.chain_valid);
    assert_eq!(r.name_match, Some(false));
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::NameMismatch { .. })
    ));

    let selfs = pki.self_signed("mx.example.test").unwrap();
    let r = evaluate(
        &selfs.chain,
        &CertPolicy::new(&trust, Some("mx.example.test"), UnixTime::now()),
    );
    assert!(r.self_signed && !r.chain_valid);
    assert_eq!(r.name_match, Some(true));
    assert!(!r.is_acceptable());
}

#[tokio::test]
async fn client_certificate_is_presented_when_asked() {
    use rustls::server::WebPkiClientVerifier;
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let server_leaf = pki.valid("mx.lab.test").unwrap();
    let client_leaf = pki.valid("client.lab.test").unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.root().der().clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(server_leaf.chain.clone(), server_leaf.key())
            .unwrap(),
    );
    for present in [true, false] {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(serve(config.clone(), server_io));
        let mut options = HandshakeOptions::default();
        options.sni = Some("mx.lab.test".into());
        if present {
            options.client_certificate = Some(checktls_tls::handshake::ClientCertificate {
                chain: client_leaf.chain.clone(),
                key: client_leaf.key(),
            });
        }
        let echoed = match handshake(client_io, &options).await {
            Ok((mut tls, _)) => {
                // TLS 1.3: the server judges the client certificate after the handshake; the
                // echo proves it was accepted.
                let _ = tls.write_all(b"ping").await;
                let mut buf = [0u8; 4];
                tls.read_exact(&mut buf).await.is_ok() && &buf == b"ping"
            }
            Err(_) => false,
        };
        assert_eq!(echoed, present, "client certificate presented: {present}");
        let _ = server.await;
    }
}

#[tokio::test]
async fn strict_verification_refuses_what_a_submitting_client_must_refuse() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let other = Pki::generate(SystemTime::now()).unwrap();
    let tls13: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let mut options = HandshakeOptions::default();
    options.sni = Some("relay.example.test".into());
    options.verify = Some(trust(&pki));

    // A good chain for the right name passes.
    let good = pki.valid("relay.example.test").unwrap();
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(serve(good.server_config(tls13, None).unwrap(), server));
    let (_, facts) = handshake(client, &options).await.expect("trusted relay");
    assert_eq!(facts.chain, good.chain);

    // The wrong name, another CA, an expired leaf: refused, with the chain still recorded.
    let bad = [
        pki.valid("other.example.test").unwrap(),
        other.valid("relay.example.test").unwrap(),
        pki.expired("relay.example.test").unwrap(),
    ];
    for leaf in bad {
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(serve(leaf.server_config(tls13, None).unwrap(), server));
        let failure = match handshake(client, &options).await {
            Ok(_) => panic!("accepted an untrusted relay"),
            Err(f) => f,
        };
        assert_eq!(failure.partial.chain, leaf.chain, "{failure}");
    }

    // Without `verify` the same bad leaf is accepted and recorded.
    options.verify = None;
    let leaf = other.valid("relay.example.test").unwrap();
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(serve(leaf.server_config(tls13, None).unwrap(), server));
    assert!(handshake(client, &options).await.is_ok());
}
