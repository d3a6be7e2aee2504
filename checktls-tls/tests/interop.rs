//! Interoperability with real servers from Debian packages, started by the test on loopback and
//! stopped by their own pid: `openssl s_server` accepting only TLS 1.0 or only TLS 1.1, found by
//! the legacy prober; nginx serving an MTA-STS policy over HTTPS, fetched by `fetch_policy`.
//! Run by .ci/run (`cargo test -- --ignored`).

use std::net::{SocketAddr, TcpStream as StdTcp};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use checktls_lab::pki::{LeafSpec, Pki};
use checktls_tls::TlsVersion;
use checktls_tls::TrustStore;
use checktls_tls::http::HttpOptions;
use checktls_tls::mta_sts::{FetchFailure, Mode, fetch_policy};
use checktls_tls::net::{BoxStream, StaticConnector};
use checktls_tls::probe::{ProbeOptions, Weakness, probe};

/// A child process killed (by its pid, which we own) when dropped, with its temp dir.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM first, so a daemon stops its own children; SIGKILL if it lingers.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("checktls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port(ip: [u8; 4]) -> u16 {
    std::net::TcpListener::bind(SocketAddr::from((ip, 0)))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(addr: SocketAddr, child: &mut Child, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while StdTcp::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the daemon exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn s_server(ip: [u8; 4], version_flag: &str, pki: &Pki) -> (Daemon, SocketAddr) {
    let dir = temp_dir(&format!("s_server{version_flag}"));
    let leaf = pki.valid("mx.lab.test").unwrap();
    let pem = leaf.chain_pem();
    let end = "-----END CERTIFICATE-----\n";
    let cut = pem.find(end).unwrap() + end.len();
    std::fs::write(dir.join("leaf.pem"), &pem[..cut]).unwrap();
    std::fs::write(dir.join("intermediate.pem"), &pem[cut..]).unwrap();
    std::fs::write(dir.join("key.pem"), leaf.key_pem()).unwrap();
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let log = dir.join("log");
    let mut child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(addr.to_string())
        .arg("-cert")
        .arg(dir.join("leaf.pem"))
        .arg("-cert_chain")
        .arg(dir.join("intermediate.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .args([version_flag, "-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("openssl (Debian package openssl)");
    wait_listening(addr, &mut child, &log);
    (Daemon { child, dir }, addr)
}

#[tokio::test]
#[ignore = "interop: needs the Debian package openssl; run by .ci/run"]
async fn openssl_s_server_tls10_only_and_tls11_only_are_found() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    for (flag, version, ip) in [
        ("-tls1", TlsVersion::Tls10, [127, 0, 0, 71]),
        ("-tls1_1", TlsVersion::Tls11, [127, 0, 0, 72]),
    ] {
        let (_daemon, addr) = s_server(ip, flag, &pki);
        let opener = move || async move {
            tokio::net::TcpStream::connect(addr)
                .await
                .map(|s| Box::new(s) as BoxStream)
        };
        let mut o = ProbeOptions::default();
        o.sni = Some("mx.lab.test".into());
        let r = probe(&opener, &o).await;
        for v in TlsVersion::ALL {
            assert_eq!(r.accepts(v), v == version, "{flag}: {v}: {:#?}", r.versions);
        }
        assert_eq!(r.best, Some(version));
        assert!(
            r.best_suite.as_ref().unwrap().name.contains("ECDHE_ECDSA"),
            "{:?}",
            r.best_suite
        );
        assert_eq!(r.chain.len(), 2, "leaf and intermediate in the clear");
        assert!(r.weaknesses.contains(&Weakness::OldVersion));
        // With an ECDSA key and DEFAULT:@SECLEVEL=0, OpenSSL has two TLS 1.0/1.1 suites; the
        // prober lists both, then the server has none left (handshake_failure).
        let found: Vec<&str> = r
            .versions
            .iter()
            .find(|v| v.accepted)
            .unwrap()
            .suites
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            found,
            [
                "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
                "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
            ]
        );
    }
}

#[tokio::test]
#[ignore = "interop: needs the Debian package openssl; run by .ci/run"]
async fn openssl_rsa_server_preference_static_rsa_and_ssl2_compatible_hellos() {
    // An RSA key made by openssl itself (ring cannot generate RSA keys for rcgen).
    let dir = temp_dir("s_server-rsa");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=mx.lab.test", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (Debian package openssl)");
    assert!(made.success());
    let ip = [127, 0, 0, 74];
    let addr = SocketAddr::from((ip, free_port(ip)));
    let log = dir.join("log");
    let mut child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(addr.to_string())
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        // TLS 1.0 only, the server's preference: static RSA first, then DHE.
        .args(["-tls1", "-serverpref"])
        .args(["-cipher", "AES128-SHA:DHE-RSA-AES256-SHA:@SECLEVEL=0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("openssl (Debian package openssl)");
    wait_listening(addr, &mut child, &log);
    let _daemon = Daemon { child, dir };

    let opener = move || async move {
        tokio::net::TcpStream::connect(addr)
            .await
            .map(|s| Box::new(s) as BoxStream)
    };
    let mut o = ProbeOptions::default();
    o.sni = Some("mx.lab.test".into());
    let r = probe(&opener, &o).await;
    assert_eq!(r.best, Some(TlsVersion::Tls10), "{:#?}", r.versions);
    let found: Vec<&str> = r
        .versions
        .iter()
        .find(|v| v.accepted)
        .unwrap()
        .suites
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        found,
        [
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"
        ],
        "the server's order, though the client offered DHE first"
    );
    assert_eq!(
        r.weaknesses,
        [Weakness::OldVersion, Weakness::CbcOnly, Weakness::StaticRsa]
    );
    assert_eq!(r.chain.len(), 1);

    // OpenSSL still answers the SSLv2-compatible ClientHello format, in TLS.
    o.ssl2_compatible = true;
    o.versions = vec![TlsVersion::Tls10, TlsVersion::Ssl3];
    let r = probe(&opener, &o).await;
    assert_eq!(r.best, Some(TlsVersion::Tls10), "{:#?}", r.versions);
    assert_eq!(
        r.best_suite.as_ref().unwrap().name,
        "TLS_RSA_WITH_AES_128_CBC_SHA"
    );
    assert!(!r.accepts(TlsVersion::Ssl3));
}

#[tokio::test]
#[ignore = "interop: needs the Debian package nginx-light; run by .ci/run"]
async fn nginx_serves_an_mta_sts_policy() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let dir = temp_dir("nginx");
    let leaf = pki
        .leaf(&LeafSpec::new(
            &["mta-sts.lab.test", "mta-sts.moved.test"],
            pki.now(),
        ))
        .unwrap();
    std::fs::write(dir.join("chain.pem"), leaf.chain_pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf.key_pem()).unwrap();
    std::fs::create_dir_all(dir.join("www/.well-known")).unwrap();
    std::fs::write(
        dir.join("www/.well-known/mta-sts.txt"),
        "version: STSv1\r\nmode: enforce\r\nmx: mx.lab.test\r\nmx: *.backup.lab.test\r\nmax_age: 86400\r\n",
    )
    .unwrap();
    let ip = [127, 0, 0, 73];
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp;\n  \
             types {{ text/plain txt; }}\n  default_type application/octet-stream;\n  \
             server {{\n    listen {addr} ssl;\n    server_name mta-sts.lab.test;\n    \
             ssl_certificate {d}/chain.pem;\n    ssl_certificate_key {d}/key.pem;\n    \
             root {d}/www;\n  }}\n  \
             server {{\n    listen {addr} ssl;\n    server_name mta-sts.moved.test;\n    \
             ssl_certificate {d}/chain.pem;\n    ssl_certificate_key {d}/key.pem;\n    \
             location = /.well-known/mta-sts.txt {{ return 301 https://elsewhere.test/; }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let log = dir.join("error.log");
    let mut child = Command::new("nginx")
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (Debian package nginx-light)");
    wait_listening(addr, &mut child, &log);
    let daemon = Daemon { child, dir };

    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let mut o = HttpOptions::default();
    o.trust = trust;
    let conn = StaticConnector::new().with("mta-sts.lab.test", addr);
    let f = fetch_policy("lab.test", &conn, &o).await;
    assert!(f.findings.is_empty(), "{:?}", f.findings);
    let p = f.parsed.unwrap().policy.unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert!(p.covers("mx.lab.test") && p.covers("a.backup.lab.test"));
    // A certificate the client does not trust is refused.
    let mut o2 = HttpOptions::default();
    o2.trust = TrustStore::empty();
    let f = fetch_policy("lab.test", &conn, &o2).await;
    assert!(f.parsed.is_none());
    assert!(
        matches!(f.failure, Some(FetchFailure::Certificate { .. })),
        "{:?}",
        f.failure
    );
    assert_eq!(f.findings[0].code, "mta_sts.certificate");
    // nginx's redirect is reported, not followed.
    let conn = StaticConnector::new().with("mta-sts.moved.test", addr);
    let f = fetch_policy("moved.test", &conn, &o).await;
    assert_eq!(
        f.failure,
        Some(FetchFailure::Redirect {
            status: 301,
            location: Some("https://elsewhere.test/".into())
        })
    );
    drop(daemon);
}

#[tokio::test]
#[ignore = "interop: needs the Debian package openssl; run by .ci/run"]
async fn openssl_ocsp_responder_answers_our_queries() {
    use checktls_lab::pki::{LeafSpec, pem_encode};
    use checktls_tls::revocation::{RevocationCache, RevocationSource, RevocationStatus, check};
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let dir = temp_dir("ocsp");
    // `openssl ocsp -port` takes a port only (it listens on every interface of this machine;
    // the test's traffic goes to 127.0.0.1 only).
    let port = free_port([127, 0, 0, 1]);
    let url = format!("http://127.0.0.1:{port}/");
    let make = |name: &str| {
        let mut spec = LeafSpec::new(&[name], pki.now());
        spec.ocsp_url = Some(url.clone());
        pki.leaf(&spec).unwrap()
    };
    let good = make("good.lab.test");
    let revoked = make("revoked.lab.test");
    let hex = |serial: &[u8]| {
        serial
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };
    let index = format!(
        "V\t301231000000Z\t\t{}\tunknown\t/CN=good.lab.test\nR\t301231000000Z\t250101000000Z,keyCompromise\t{}\tunknown\t/CN=revoked.lab.test\n",
        hex(&good.serial),
        hex(&revoked.serial)
    );
    std::fs::write(dir.join("index.txt"), index).unwrap();
    std::fs::write(dir.join("inter.pem"), pki.intermediate().pem()).unwrap();
    std::fs::write(
        dir.join("inter.key"),
        pem_encode("PRIVATE KEY", pki.intermediate().key_der().secret_der()),
    )
    .unwrap();
    let log = dir.join("log");
    let mut child = Command::new("openssl")
        .current_dir(&dir)
        .args([
            "ocsp",
            "-index",
            "index.txt",
            "-port",
            &port.to_string(),
            "-rsigner",
            "inter.pem",
            "-rkey",
            "inter.key",
            "-CA",
            "inter.pem",
            "-ndays",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("openssl (Debian package openssl)");
    // The responder serves one connection at a time and a bare probe connection would hold
    // it: wait for its log line instead.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("waiting for OCSP client")
    {
        assert!(Instant::now() < deadline, "openssl ocsp did not start");
        assert!(child.try_wait().unwrap().is_none(), "openssl ocsp exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    let daemon = Daemon { child, dir };
    let options = HttpOptions::default();
    let cache = RevocationCache::new();
    // openssl ocsp listens on loopback: allowed explicitly.
    let connector = checktls_tls::net::TcpConnector::allowing_non_global();
    let budget = checktls_tls::revocation::FetchBudget::default();
    let via = checktls_tls::revocation::Fetch {
        connector: &connector,
        options: &options,
        cache: &cache,
        budget: &budget,
    };
    let r = check(
        &good.chain[0],
        &good.chain[1],
        None,
        &via,
        rustls_pki_types::UnixTime::now(),
    )
    .await;
    assert_eq!(
        (r.status.clone(), r.source),
        (RevocationStatus::Good, Some(RevocationSource::Ocsp)),
        "{:?}\n{}",
        r.attempts,
        std::fs::read_to_string(daemon.dir.join("log")).unwrap_or_default()
    );
    let r = check(
        &revoked.chain[0],
        &revoked.chain[1],
        None,
        &via,
        rustls_pki_types::UnixTime::now(),
    )
    .await;
    match r.status {
        RevocationStatus::Revoked { reason, .. } => {
            assert_eq!(reason.as_deref(), Some("keyCompromise"))
        }
        other => panic!("{other:?}: {:?}", r.attempts),
    }
}
