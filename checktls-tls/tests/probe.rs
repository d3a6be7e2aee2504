//! The legacy ClientHello prober against lab responders (SSLv2-, SSLv3-, TLS 1.0- and
//! TLS 1.1-only, weak suites, SSLv2-compatible hellos, behind STARTTLS), a modern rustls
//! server, a silent server and a server that does not speak TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use checktls_lab::legacy::{CcsMode, HeartbeatMode, LegacyPosture, LegacyServer};
use checktls_lab::pki::Pki;
use checktls_lab::smtp::SmtpReceiver;
use checktls_tls::TlsVersion;
use checktls_tls::net::BoxStream;
use checktls_tls::probe::{ProbeOptions, ProbeReport, Verdict, VersionResult, Weakness, probe};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn options() -> ProbeOptions {
    let mut o = ProbeOptions::default();
    o.sni = Some("mx.lab.test".into());
    o
}

async fn run_with(addr: SocketAddr, o: &ProbeOptions) -> ProbeReport {
    let opener = move || async move {
        TcpStream::connect(addr)
            .await
            .map(|s| Box::new(s) as BoxStream)
    };
    probe(&opener, o).await
}

async fn run(addr: SocketAddr) -> ProbeReport {
    run_with(addr, &options()).await
}

fn result(r: &ProbeReport, v: TlsVersion) -> &VersionResult {
    r.versions.iter().find(|x| x.version == v).unwrap()
}

fn names(v: &VersionResult) -> Vec<&str> {
    v.suites.iter().map(|s| s.name.as_str()).collect()
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
        assert_eq!(
            result(&r, version_of(wire)).weaknesses,
            [
                Weakness::OldVersion,
                Weakness::CbcOnly,
                Weakness::StaticRsa,
                Weakness::Des
            ]
        );
        assert_eq!(r.weaknesses, result(&r, version_of(wire)).weaknesses);
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

fn version_of(wire: u16) -> TlsVersion {
    TlsVersion::from_wire(wire).unwrap()
}

#[tokio::test]
async fn finds_an_sslv2_only_server() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let server = LegacyServer::start(
        "127.0.0.1:0".parse().unwrap(),
        LegacyPosture::only(0x0002, leaf.chain.clone()),
    )
    .await
    .unwrap();
    let r = run(server.addr()).await;
    assert_eq!(r.best, Some(TlsVersion::Ssl2), "{:#?}", r.versions);
    for v in TlsVersion::ALL {
        assert_eq!(r.accepts(v), v == TlsVersion::Ssl2);
    }
    let v2 = result(&r, TlsVersion::Ssl2);
    assert_eq!(
        names(v2),
        [
            "SSL_CK_RC4_128_WITH_MD5",
            "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
        ]
    );
    assert_eq!(r.chain, leaf.chain[..1], "SSLv2 sends the leaf alone");
    for w in [
        Weakness::OldVersion,
        Weakness::Rc4,
        Weakness::Des,
        Weakness::StaticRsa,
    ] {
        assert!(r.weaknesses.contains(&w), "{w:?} in {:?}", r.weaknesses);
    }
    // The TLS hellos got a closed connection.
    let tls10 = result(&r, TlsVersion::Tls10);
    assert!(
        tls10.refusal.as_deref().unwrap().contains("closed"),
        "{tls10:?}"
    );

    // No kind in common: an SSLv2 ERROR.
    let mut posture = LegacyPosture::only(0x0002, leaf.chain.clone());
    posture.ssl2_ciphers = vec![[0x08, 0x00, 0x80]];
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .unwrap();
    let r = run(server.addr()).await;
    assert_eq!(r.best, None);
    assert_eq!(
        result(&r, TlsVersion::Ssl2).refusal.as_deref(),
        Some("SSLv2 error 1 (no cipher)")
    );
}

#[tokio::test]
async fn ssl2_compatible_hellos_are_answered_in_tls() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let server = LegacyServer::start(
        "127.0.0.1:0".parse().unwrap(),
        LegacyPosture::only(0x0301, leaf.chain.clone()),
    )
    .await
    .unwrap();
    let mut o = options();
    o.ssl2_compatible = true;
    let r = run_with(server.addr(), &o).await;
    assert_eq!(r.best, Some(TlsVersion::Tls10), "{:#?}", r.versions);
    assert_eq!(
        names(result(&r, TlsVersion::Tls10)),
        [
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        ]
    );
    assert_eq!(r.chain, leaf.chain);
}

#[tokio::test]
async fn weak_suites_and_the_connection_bound() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let mut posture = LegacyPosture::only(0x0301, leaf.chain.clone());
    // Export RC4 preferred, then NULL, anonymous DH, static ECDH, IDEA.
    posture.suites = vec![0x0003, 0x0001, 0x0034, 0xC004, 0x0007];
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .unwrap();
    let addr = server.addr();
    let opened = Arc::new(AtomicUsize::new(0));
    let count = opened.clone();
    let opener = move || {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            TcpStream::connect(addr)
                .await
                .map(|s| Box::new(s) as BoxStream)
        }
    };
    let mut o = options();
    o.max_suites = 5;
    o.groups = false;
    o.preference = false;
    o.checks = false;
    let r = probe(&opener, &o).await;
    let tls10 = result(&r, TlsVersion::Tls10);
    assert_eq!(
        names(tls10),
        [
            "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
            "TLS_RSA_WITH_NULL_MD5",
            "TLS_DH_anon_WITH_AES_128_CBC_SHA",
            "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_IDEA_CBC_SHA"
        ]
    );
    for w in [
        Weakness::OldVersion,
        Weakness::Export,
        Weakness::Rc4,
        Weakness::StaticRsa,
        Weakness::Null,
        Weakness::Anonymous,
        Weakness::StaticDh,
        Weakness::Obsolete,
    ] {
        assert!(r.weaknesses.contains(&w), "{w:?} in {:?}", r.weaknesses);
    }
    // The preferred suite is a stream cipher: CBC is only a fallback.
    assert!(!r.weaknesses.contains(&Weakness::CbcOnly));
    // Five versions refused with one connection each, five for TLS 1.0.
    assert_eq!(opened.load(Ordering::SeqCst), 5 + 5);
    assert_eq!(r.connections, 10);

    // max_suites bounds the connections per accepted version.
    opened.store(0, Ordering::SeqCst);
    o.max_suites = 2;
    o.versions = vec![TlsVersion::Tls10];
    let r = probe(&opener, &o).await;
    assert_eq!(result(&r, TlsVersion::Tls10).suites.len(), 2);
    assert_eq!(opened.load(Ordering::SeqCst), 2);
}

/// A test-only STARTTLS opener: the SMTP dialog up to the 220 that answers STARTTLS.
async fn starttls(addr: SocketAddr) -> std::io::Result<BoxStream> {
    let mut s = BufReader::new(TcpStream::connect(addr).await?);
    async fn reply(s: &mut BufReader<TcpStream>) -> std::io::Result<String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if s.read_line(&mut line).await? == 0 || all.len() > 8192 {
                return Err(std::io::Error::other("closed during the SMTP dialog"));
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(all);
            }
        }
    }
    assert!(reply(&mut s).await?.starts_with("220"));
    s.get_mut().write_all(b"EHLO probe.lab.test\r\n").await?;
    assert!(reply(&mut s).await?.contains("STARTTLS"));
    s.get_mut().write_all(b"STARTTLS\r\n").await?;
    assert!(reply(&mut s).await?.starts_with("220"));
    Ok(Box::new(s.into_inner()))
}

#[tokio::test]
async fn behind_starttls() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let receiver = SmtpReceiver::start(
        "127.0.0.1:0".parse().unwrap(),
        checktls_lab::scenario::legacy_posture(leaf.clone(), 0x0302),
    )
    .await
    .unwrap();
    let addr = receiver.addr();
    let opener = move || starttls(addr);
    let r = probe(&opener, &options()).await;
    assert_eq!(r.best, Some(TlsVersion::Tls11), "{:#?}", r.versions);
    assert!(!r.accepts(TlsVersion::Tls12) && !r.accepts(TlsVersion::Tls10));
    assert_eq!(r.chain, leaf.chain);
    assert!(receiver.connections() >= 6);
}

#[tokio::test]
async fn silence_and_plaintext_are_refusals() {
    // Accepts and never answers: every version times out, quickly.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            kept.push(s);
        }
    });
    let mut o = options();
    o.timeout = Duration::from_millis(200);
    o.versions = vec![TlsVersion::Tls12, TlsVersion::Tls10];
    let r = run_with(addr, &o).await;
    assert_eq!(r.best, None);
    assert_eq!(r.versions.len(), 2);
    for v in &r.versions {
        assert_eq!(v.refusal.as_deref(), Some("no answer within 200 ms"));
    }
    hold.abort();

    // Answers with an SMTP banner: not TLS.
    let smtp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = smtp.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        while let Ok((mut s, _)) = smtp.accept().await {
            let _ = s.write_all(b"220 mx.lab.test ESMTP\r\n").await;
        }
    });
    let r = run(addr).await;
    assert_eq!(r.best, None);
    assert!(
        r.versions
            .iter()
            .all(|v| v.refusal.as_deref().unwrap().contains("not TLS")),
        "{:#?}",
        r.versions
    );
    serve.abort();
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
    // rustls ignores TLS_FALLBACK_SCSV but marks a TLS 1.2 answer with the RFC 8446
    // downgrade sentinel, which protects TLS 1.3 clients the same way.
    assert_eq!(r.checks.fallback_scsv.verdict, Verdict::Protected);
    assert!(r.checks.fallback_scsv.detail.contains("sentinel"));
    let g: Vec<&str> = r.groups.tls13.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        g,
        ["secp256r1", "secp384r1", "X25519"],
        "rustls's groups, in our order"
    );
    assert_eq!(
        r.groups.tls13_preference,
        checktls_tls::probe::Preference::Client,
        "rustls takes the client's first group it supports"
    );
}

/// Each check against a lab posture that has the weakness, and against the same posture
/// patched: the check reports the first and not the second.
#[tokio::test]
async fn each_check_reports_the_vulnerable_posture_and_not_the_patched_one() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.lab.test").unwrap();
    // Patched: TLS 1.0 to 1.2, renegotiation_info, SCSV honoured, no compression, heartbeats
    // by RFC 6520, early CCS refused.
    let mut patched = LegacyPosture::only(0x0301, leaf.chain.clone());
    patched.max = 0x0303;
    patched.heartbeat = HeartbeatMode::Conforming;
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), patched.clone())
        .await
        .unwrap();
    let r = run(server.addr()).await;
    let c = &r.checks;
    assert_eq!(
        c.heartbleed.verdict,
        Verdict::Protected,
        "{:?}",
        c.heartbleed
    );
    assert_eq!(
        c.ccs_injection.verdict,
        Verdict::Protected,
        "{:?}",
        c.ccs_injection
    );
    assert_eq!(
        c.fallback_scsv.verdict,
        Verdict::Protected,
        "{:?}",
        c.fallback_scsv
    );
    assert_eq!(c.secure_renegotiation.verdict, Verdict::Protected);
    assert_eq!(c.compression.verdict, Verdict::Protected);
    for w in [
        Weakness::Heartbleed,
        Weakness::CcsInjection,
        Weakness::NoFallbackProtection,
        Weakness::InsecureRenegotiation,
        Weakness::Compression,
    ] {
        assert!(!r.weaknesses.contains(&w), "{w:?} in {:?}", r.weaknesses);
    }

    // Each weakness alone.
    type Weaken = fn(&mut LegacyPosture);
    let cases: [(&str, Weaken, Weakness); 5] = [
        (
            "heartbleed",
            |p| p.heartbeat = HeartbeatMode::Bleeding,
            Weakness::Heartbleed,
        ),
        (
            "ccs",
            |p| p.early_ccs = CcsMode::Accept,
            Weakness::CcsInjection,
        ),
        (
            "fallback",
            |p| p.ignore_fallback_scsv = true,
            Weakness::NoFallbackProtection,
        ),
        (
            "renegotiation",
            |p| p.insecure_renegotiation = true,
            Weakness::InsecureRenegotiation,
        ),
        (
            "compression",
            |p| p.compression = true,
            Weakness::Compression,
        ),
    ];
    for (name, weaken, weakness) in cases {
        let mut posture = patched.clone();
        weaken(&mut posture);
        let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
            .await
            .unwrap();
        let r = run(server.addr()).await;
        assert!(
            r.weaknesses.contains(&weakness),
            "{name}: {:?} {:#?}",
            r.weaknesses,
            r.checks
        );
        let f = r.findings.iter().find(|f| f.weakness == weakness).unwrap();
        assert_eq!(f.severity, weakness.severity());
        // Nothing else is reported vulnerable.
        let others = [
            Weakness::Heartbleed,
            Weakness::CcsInjection,
            Weakness::NoFallbackProtection,
            Weakness::InsecureRenegotiation,
            Weakness::Compression,
        ];
        for w in others.iter().filter(|w| **w != weakness) {
            assert!(!r.weaknesses.contains(w), "{name}: {w:?} too");
        }
    }

    // No heartbeat extension at all: no ServerHello echoes it, so the check needs no
    // connection of its own and sends no heartbeat (RFC 6520 §3 forbids one the peer did not
    // allow).
    let mut posture = patched.clone();
    posture.heartbeat = HeartbeatMode::Absent;
    posture.heartbeats_seen = Arc::new(AtomicUsize::new(0));
    let seen = posture.heartbeats_seen.clone();
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .unwrap();
    let r = run(server.addr()).await;
    assert_eq!(r.checks.heartbleed.verdict, Verdict::Protected);
    assert!(
        r.checks
            .heartbleed
            .detail
            .contains("echoed the heartbeat extension"),
        "{:?}",
        r.checks.heartbleed
    );
    assert_eq!(seen.load(Ordering::Relaxed), 0, "a heartbeat was sent");
    // The server that echoes it gets the check's request (the patched posture above).
    let mut posture = patched.clone();
    posture.heartbeats_seen = Arc::new(AtomicUsize::new(0));
    let seen = posture.heartbeats_seen.clone();
    let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .unwrap();
    let r = run(server.addr()).await;
    assert_eq!(r.checks.heartbleed.verdict, Verdict::Protected);
    assert_eq!(seen.load(Ordering::Relaxed), 1, "{:?}", r.checks.heartbleed);
}

/// ROBOT against the lab's RSA responder: a Bleichenbacher oracle (bad padding refused at
/// once, good padding only after the Finished) is found, twice alike; the same server
/// answering every ClientKeyExchange alike is not flagged.
#[tokio::test]
async fn robot_finds_the_padding_oracle_and_not_the_uniform_server() {
    use checktls_lab::rsa::RsaKey;
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let key = Arc::new(RsaKey::generate(1024).unwrap());
    let chain = key.chain(&pki, "mx.lab.test").unwrap();
    for oracle in [true, false] {
        let mut posture = LegacyPosture::only(0x0303, chain.clone());
        posture.suites = vec![0x002F, 0x009C];
        posture.rsa = Some(key.clone());
        posture.padding_oracle = oracle;
        let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), posture)
            .await
            .unwrap();
        let r = run(server.addr()).await;
        let robot = &r.checks.robot;
        if oracle {
            assert_eq!(robot.verdict, Verdict::Vulnerable, "{robot:?}");
            assert!(robot.detail.contains("strong"), "{robot:?}");
            assert!(r.weaknesses.contains(&Weakness::Robot));
        } else {
            assert_eq!(robot.verdict, Verdict::Protected, "{robot:?}");
            assert!(
                robot.detail.contains("alert 20 (bad_record_mac)"),
                "{robot:?}"
            );
            assert!(!r.weaknesses.contains(&Weakness::Robot));
        }
    }
}
