//! How the receiver test spends its waiting, asserted on order and counts (never on time):
//!
//! - slow mail-domain records do not delay the SMTP stages: with the lab DNS holding the SPF,
//!   DMARC and BIMI answers for 2 s, the SMTP dialog is over (QUIT received) before any of
//!   them is answered, and the report still holds all three;
//! - (interop, `#[ignore]`d, run by .ci/run) the DNS questions of one receiver test of a
//!   one-MX signed domain, root → tld → domain, counted by a real authoritative server (Knot's
//!   mod-stats): at most 20 (each zone's DNSKEY and DS asked once).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use checktls::options::ReceiverOptions;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::dns::{DnsLab, DnsLabBuilder, MailDomain, Signing};
use checktls_lab::pki::Pki;
use checktls_lab::smtp::{Gauge, Posture, SmtpReceiver};
use tokio::net::TcpListener;

/// A lab receiver for `mx.<domain>` on `ip` (free port), counting its sessions.
async fn receiver(pki: &Pki, domain: &str, ip: Ipv4Addr) -> (SmtpReceiver, Arc<Gauge>, u16) {
    let leaf = pki.valid(&format!("mx.{domain}")).unwrap();
    let gauge = Gauge::new();
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rx = SmtpReceiver::serve(
        listener,
        Posture::tls(&leaf).unwrap().count_into(Arc::clone(&gauge)),
    );
    (rx, gauge, port)
}

fn options(port: u16, dns: SocketAddr, anchor: &str) -> ReceiverOptions {
    let mut o = ReceiverOptions::default();
    o.port = Some(port);
    o.timeout = Duration::from_secs(10);
    o.resolver.nameservers = vec![dns];
    o.resolver.dnssec_anchors = Some(anchor.to_owned());
    o.allow_non_global = true; // the lab lives on loopback
    o
}

async fn checker(o: ReceiverOptions, pki: &Pki) -> Checker {
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    Checker::builder(o)
        .trust(trust)
        .https_connector(Arc::new(StaticConnector::new().allowing_non_global()))
        .build()
        .await
        .unwrap()
}

/// A one-MX domain with everything the default level asks for, under a signed `test` zone.
fn one_mx_domain(domain: &str, ip: Ipv4Addr) -> DnsLabBuilder {
    DnsLab::builder()
        .reverse_dns(false)
        .zone("test", Signing::Signed, "")
        .mail_domain(
            MailDomain::new(domain)
                .mx(10, "mx", [IpAddr::V4(ip)])
                .tls_rpt(&format!("mailto:tls@{domain}"))
                .spf("v=spf1 mx -all")
                .dmarc(&format!("v=DMARC1; p=reject; rua=mailto:d@{domain}"))
                .bimi(&format!("v=BIMI1; l=https://{domain}/logo.svg")),
        )
}

#[tokio::test]
async fn slow_spf_dmarc_and_bimi_answers_do_not_delay_the_smtp_stages() {
    let ip = Ipv4Addr::new(127, 0, 0, 1);
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let (_rx, gauge, port) = receiver(&pki, "slow.test", ip).await;
    let slow = Duration::from_secs(2);
    let dns = one_mx_domain("slow.test", ip)
        .delay("slow.test", "TXT", slow)
        .delay("_dmarc.slow.test", "TXT", slow)
        .delay("default._bimi.slow.test", "TXT", slow)
        .start()
        .await
        .unwrap();
    let c = checker(options(port, dns.addr(), dns.trust_anchor()), &pki).await;
    let target: Target = "postmaster@slow.test".parse().unwrap();
    let check = tokio::spawn(async move { c.check(&target).await });

    // The SMTP dialog ends (QUIT received) ...
    let bound = Instant::now() + Duration::from_secs(30);
    while gauge.quits() == 0 {
        assert!(Instant::now() < bound, "the receiver never saw QUIT");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ... while the slow questions are asked and none of them is answered yet.
    let (asked, answered) = dns.delayed();
    assert!(asked >= 1, "the slow names were asked first ({asked})");
    assert_eq!(
        answered, 0,
        "the SMTP stages waited for a slow SPF/DMARC/BIMI answer"
    );

    let report = check.await.unwrap().unwrap();
    // (A slow question may be sent again by the resolver's retry before the first answer.)
    let (asked, answered) = dns.delayed();
    assert!(
        asked >= 3 && answered >= 3,
        "{asked} asked, {answered} answered"
    );
    assert_eq!(gauge.connections(), 1);
    let mx = &report.mx[0];
    assert_eq!(
        mx.tls.as_ref().map(|t| t.version),
        Some(checktls::tls::TlsVersion::Tls13),
        "{mx:?}"
    );
    // Nothing is lost: the slow records are in the report.
    let dns_json = serde_json::to_value(report.dns.as_ref().unwrap()).unwrap();
    for part in ["spf", "dmarc", "bimi"] {
        assert!(
            dns_json[part]["ok"].is_object() || dns_json[part].get("answer").is_some(),
            "{part} missing: {}",
            dns_json[part]
        );
    }
    let spf = report.dns.as_ref().unwrap().spf.as_ref().unwrap();
    assert!(spf.is_ok(), "{spf:?}");
}

// ---------------------------------------------------------------- Knot counts the questions

/// A binary at its Debian location or on PATH; a missing one fails the test.
fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: install the Debian packages knot and knot-dnsutils (.ci/run does)");
}

fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// knotd, killed by its pid when dropped; its directory removed.
struct Knot {
    child: Child,
    dir: PathBuf,
    conf: PathBuf,
}

impl Knot {
    /// The questions Knot has received so far (mod-stats, every query type).
    fn questions(&self) -> usize {
        let out = Command::new(binary("knotc"))
            .arg("-c")
            .arg(&self.conf)
            .args(["stats", "mod-stats"])
            .output()
            .expect("knotc");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("query-type"))
            .filter_map(|l| l.rsplit(" = ").next()?.trim().parse::<usize>().ok())
            .sum()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("knot.log")).unwrap_or_default()
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_knot(zones: &checktls_lab::dns::LabZones) -> (Knot, SocketAddr) {
    let dir = std::env::temp_dir().join(format!("checktls-speed-knot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = zones.write_zone_files(&dir).unwrap();
    let port = free_port();
    let mut conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n\
         control:\n  listen: \"{d}/knot.sock\"\n\
         log:\n  - target: stderr\n    any: warning\n\
         mod-stats:\n  - id: count\n    request-protocol: on\n    query-type: on\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    \
         zonefile-load: whole\n    journal-content: none\n    global-module: mod-stats/count\n\
         zone:\n",
        d = dir.display()
    );
    for (origin, path) in &files {
        conf.push_str(&format!(
            "  - domain: \"{origin}\"\n    file: \"{}\"\n",
            path.display()
        ));
    }
    let conf_path = dir.join("knot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(binary("knotd"))
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("knot.log")).unwrap())
        .spawn()
        .expect("knotd");
    let knot = Knot {
        child,
        dir,
        conf: conf_path,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let bound = Instant::now() + Duration::from_secs(20);
    while knot.questions() == 0
        && !Command::new(binary("kdig"))
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "+short",
                "one.test",
                "MX",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("mx.one.test"))
    {
        assert!(
            Instant::now() < bound,
            "Knot did not answer: {}",
            knot.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (knot, addr)
}

#[tokio::test]
#[ignore = "interop: needs knotd, knotc and kdig (Debian packages knot, knot-dnsutils); run by .ci/run"]
async fn one_receiver_test_asks_knot_at_most_20_questions() {
    let ip = Ipv4Addr::new(127, 0, 0, 1);
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let (_rx, gauge, port) = receiver(&pki, "one.test", ip).await;
    let zones = one_mx_domain("one.test", ip).build().unwrap();
    let (knot, addr) = start_knot(&zones);
    let c = checker(options(port, addr, zones.trust_anchor()), &pki).await;
    let before = knot.questions();
    let report = c
        .check(&"postmaster@one.test".parse().unwrap())
        .await
        .unwrap();
    let asked = knot.questions() - before;
    assert_eq!(gauge.quits(), 1, "one SMTP dialog");
    let found = report.dns.as_ref().unwrap();
    let mx = found.mx.as_ref().unwrap();
    assert!(
        mx.answer.proof.is_secure() && mx.hosts[0].addresses.proof().is_secure(),
        "the chain root → test → one.test validates: {:?}",
        mx.answer.proof
    );
    assert!(found.spf.as_ref().unwrap().is_ok() && found.dmarc.as_ref().unwrap().is_ok());
    // MX, A, AAAA, TLSA, _mta-sts, _smtp._tls, SPF, DMARC, BIMI: 9 questions; the keys: DNSKEY
    // of ., test and one.test, DS of test and one.test: 5. Room for retries and zone cuts.
    assert!(
        asked <= 20,
        "{asked} questions for one receiver test (at most 20)\n{}",
        knot.log()
    );
    // A second check through a new run of the same checker: the keys are kept (cache on), so
    // only the questions themselves (answer cache: none either, within their TTL) are asked.
    let before = knot.questions();
    c.check(&"postmaster@one.test".parse().unwrap())
        .await
        .unwrap();
    let again = knot.questions() - before;
    assert!(
        again <= asked,
        "{again} questions the second time, {asked} the first"
    );
    println!("questions: first check {asked}, second {again}");
    // With the DNS cache off, keys are still asked once per check.
    let mut o = options(port, addr, zones.trust_anchor());
    o.resolver.no_cache = true;
    let cold = checker(o, &pki).await;
    let before = knot.questions();
    cold.check(&"postmaster@one.test".parse().unwrap())
        .await
        .unwrap();
    let uncached = knot.questions() - before;
    println!("questions with the DNS cache off: {uncached}");
    assert!(uncached <= 20, "{uncached} questions with the cache off");
}
