//! Interoperability with real DNS servers from Debian: Knot DNS serves the lab's signed zones
//! (exported as zone files) and a zone Knot signs itself; Unbound validates them as a
//! recursive resolver. Our resolver asks Knot directly and through Unbound, and every proof must
//! agree with Unbound's verdict (AD bit: secure; no AD: insecure; SERVFAIL: bogus) and with what
//! our resolver says about the same zones served by the in-process lab.
//!
//! Run as root (CI does): `cargo test -p checktls-dns --test interop -- --ignored`. The daemons
//! are started in the foreground as children, on ephemeral loopback ports, with their files in a
//! temporary directory, and killed by PID when the test ends, even if it fails.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use checktls_dns::resolver::{Dnssec, Nameservers, Resolver, ResolverOptions};
use checktls_dns::{DomainName, Error, Proof, Rcode, TrustAnchors};
use checktls_lab::dns::{DnsLab, DnsLabBuilder, MailDomain, Signing};

/// Removes the directory when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("checktls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A daemon we started; killed by PID when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &'static str, binary: &Path, args: &[&str], log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self { name, child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary at its Debian location or on PATH; a missing one fails the test with a clear message.
fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "{name} not found: install the Debian packages knot, knot-dnsutils and unbound (.ci/run does)"
    );
}

/// An ephemeral loopback port free for both UDP and TCP at the time of asking.
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// One raw query (DO bit set, RD set) over UDP: the response code and the AD bit.
fn raw_query(server: SocketAddr, name: &str, qtype: u16) -> Option<(u8, bool)> {
    let mut q = vec![0x4a, 0x5b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        q.push(u8::try_from(label.len()).ok()?);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    // OPT: root, type 41, payload 1232, ext-rcode 0, version 0, DO bit, no options.
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    socket.send_to(&q, server).ok()?;
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    let head = buf.get(..n.min(4))?;
    if head.len() < 4 || head[0] != 0x4a || head[1] != 0x5b {
        return None;
    }
    Some((head[3] & 0x0f, head[3] & 0x20 != 0))
}

const MX: u16 = 15;
const SERVFAIL: u8 = 2;

fn d(s: &str) -> DomainName {
    s.parse().expect("valid name")
}

fn lab_zones() -> DnsLabBuilder {
    let ip = |n: u8| std::net::IpAddr::from([127, 0, 0, n]);
    DnsLab::builder()
        .reverse_dns(false)
        .mail_domain(
            MailDomain::new("secure.test")
                .mx(10, "mx", [ip(2)])
                .tlsa(
                    "mx",
                    25,
                    "3 1 1 8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922",
                )
                .spf("v=spf1 mx -all")
                .dmarc("v=DMARC1; p=reject; rua=mailto:d@secure.test"),
        )
        .mail_domain(
            MailDomain::new("insecure.test")
                .signing(Signing::Unsigned)
                .mx(10, "mx", [ip(3)]),
        )
        .mail_domain(
            MailDomain::new("expired.test")
                .signing(Signing::ExpiredSignatures)
                .mx(10, "mx", [ip(4)]),
        )
        .mail_domain(
            MailDomain::new("wrongkey.test")
                .signing(Signing::WrongKey)
                .mx(10, "mx", [ip(5)]),
        )
        .mail_domain(
            MailDomain::new("nods.test")
                .signing(Signing::MissingDs)
                .mx(10, "mx", [ip(6)]),
        )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Secure,
    Insecure,
    Bogus,
}

fn verdict(proof: &Proof) -> Verdict {
    match proof {
        Proof::Secure => Verdict::Secure,
        Proof::Insecure => Verdict::Insecure,
        Proof::Bogus { .. } => Verdict::Bogus,
        other => panic!("unexpected proof {other:?}"),
    }
}

async fn resolver(server: SocketAddr, anchors: TrustAnchors) -> Resolver {
    let mut o = ResolverOptions::default();
    o.nameservers = Nameservers::Given(vec![server]);
    o.dnssec = Dnssec::Validate(anchors);
    o.cache = false;
    o.timeout = Duration::from_secs(5);
    Resolver::new(o).await.expect("resolver builds")
}

/// Waits until a server answers a query for `name`.
async fn wait_for(server: SocketAddr, name: &str, daemon: &mut Daemon) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        daemon.assert_running();
        if raw_query(server, name, 6).is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not answer in 30 s:\n{}",
            daemon.name,
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "interop: needs knotd, keymgr (knot) and unbound from Debian, run as root"]
async fn knot_and_unbound_agree_with_our_validation() {
    let knotd = binary("knotd");
    let keymgr = binary("keymgr");
    let unbound = binary("unbound");
    let dir = TempDir::new("dns-interop");
    let zones = lab_zones().build().expect("lab zones build");
    let files = zones.write_zone_files(&dir.0).expect("write zone files");
    // A zone Knot signs itself (one combined key), validated from a DS anchor read from keymgr.
    std::fs::write(
        dir.0.join("auto.test.zone"),
        "auto.test. 300 IN SOA ns.lab. hostmaster.lab. 1 3600 600 86400 300\n\
         auto.test. 300 IN NS ns.lab.\n\
         auto.test. 300 IN MX 10 mx.auto.test.\n\
         mx.auto.test. 300 IN A 127.0.0.7\n",
    )
    .expect("write zone");

    let knot_port = free_port();
    let knot_addr = SocketAddr::from(([127, 0, 0, 1], knot_port));
    let mut conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{knot_port}\n\
         database:\n  storage: \"{d}\"\n\
         log:\n  - target: stderr\n    any: info\n\
         policy:\n  - id: csk\n    single-type-signing: on\n    algorithm: ecdsap256sha256\n    nsec3: off\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n\
         zone:\n  - domain: auto.test.\n    file: auto.test.zone\n    dnssec-signing: on\n    dnssec-policy: csk\n",
        d = dir.0.display()
    );
    for (origin, path) in &files {
        conf.push_str(&format!(
            "  - domain: \"{origin}\"\n    file: \"{}\"\n",
            path.display()
        ));
    }
    let knot_conf = dir.0.join("knot.conf");
    std::fs::write(&knot_conf, &conf).expect("write knot.conf");
    let conf_arg = knot_conf.to_string_lossy().into_owned();
    let mut knot = Daemon::start("knotd", &knotd, &["-c", &conf_arg], dir.0.join("knot.log"));
    wait_for(knot_addr, "secure.test", &mut knot).await;

    // The DS of the zone Knot signed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let auto_ds = loop {
        let out = Command::new(&keymgr)
            .args(["-c", &conf_arg, "auto.test.", "ds"])
            .output()
            .expect("run keymgr");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ds: Vec<&str> = text.lines().filter(|l| l.contains(" DS ")).collect();
        if !ds.is_empty() && raw_query(knot_addr, "auto.test", 48).is_some() {
            break ds.join("\n");
        }
        assert!(
            Instant::now() < deadline,
            "keymgr gave no DS for auto.test: {text} {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            knot.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let unbound_port = free_port();
    let unbound_addr = SocketAddr::from(([127, 0, 0, 1], unbound_port));
    let anchor_file = dir.0.join("anchors.ds");
    std::fs::write(
        &anchor_file,
        format!("{}\n{auto_ds}\n", zones.trust_anchor_ds()),
    )
    .expect("write anchors");
    let unbound_conf = dir.0.join("unbound.conf");
    std::fs::write(
        &unbound_conf,
        format!(
            "server:\n  interface: 127.0.0.1@{unbound_port}\n  port: {unbound_port}\n  do-ip6: no\n\
             \x20 do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  username: \"\"\n  chroot: \"\"\n\
             \x20 directory: \"{d}\"\n  pidfile: \"\"\n  do-not-query-localhost: no\n\
             \x20 trust-anchor-file: \"{a}\"\n  module-config: \"validator iterator\"\n\
             \x20 access-control: 127.0.0.0/8 allow\n  verbosity: 1\n  val-log-level: 2\n\
             \x20 local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  aggressive-nsec: no\n  cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n\
             remote-control:\n  control-enable: no\n\
             forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@{knot_port}\n",
            d = dir.0.display(),
            a = anchor_file.display()
        ),
    )
    .expect("write unbound.conf");
    let unbound_conf_arg = unbound_conf.to_string_lossy().into_owned();
    let mut validator = Daemon::start(
        "unbound",
        &unbound,
        &["-d", "-c", &unbound_conf_arg],
        dir.0.join("unbound.log"),
    );
    wait_for(unbound_addr, "secure.test", &mut validator).await;

    let lab_anchor = TrustAnchors::parse(zones.trust_anchor()).expect("lab anchor");
    let mut anchors = lab_anchor.clone();
    anchors.extend(TrustAnchors::parse(&auto_ds).expect("keymgr DS parses"));
    let direct = resolver(knot_addr, anchors.clone()).await;
    let through = resolver(unbound_addr, anchors).await;
    // The same zones served by our own lab, with their own keys.
    let lab = lab_zones().start().await.expect("lab starts");
    let ours = resolver(
        lab.addr(),
        TrustAnchors::parse(lab.trust_anchor()).expect("anchor"),
    )
    .await;

    let cases = [
        ("secure.test", Verdict::Secure),
        ("nothere.secure.test", Verdict::Secure),
        ("insecure.test", Verdict::Insecure),
        ("expired.test", Verdict::Bogus),
        ("wrongkey.test", Verdict::Bogus),
        ("nods.test", Verdict::Bogus),
        ("auto.test", Verdict::Secure),
    ];
    for (name, expected) in cases {
        let knot_answer = direct
            .lookup_mx(&d(name))
            .await
            .unwrap_or_else(|e| panic!("{name} via knot: {e}"));
        assert_eq!(
            verdict(&knot_answer.proof),
            expected,
            "{name} via knot: {:?}",
            knot_answer.proof
        );
        if name != "auto.test" {
            let lab_answer = ours
                .lookup_mx(&d(name))
                .await
                .unwrap_or_else(|e| panic!("{name} via lab: {e}"));
            assert_eq!(verdict(&lab_answer.proof), expected, "{name} via our lab");
            assert_eq!(
                knot_answer.outcome, lab_answer.outcome,
                "{name}: same records from knot and the lab"
            );
        }
        let (rcode, ad) = raw_query(unbound_addr, name, MX)
            .unwrap_or_else(|| panic!("{name}: unbound did not answer"));
        let via_unbound = through.lookup_mx(&d(name)).await;
        match expected {
            Verdict::Secure => {
                assert!(
                    ad && rcode != SERVFAIL,
                    "{name}: unbound rcode {rcode} ad {ad}"
                );
                assert_eq!(
                    via_unbound.expect("answered").proof,
                    Proof::Secure,
                    "{name} through unbound"
                );
            }
            Verdict::Insecure => {
                assert!(
                    !ad && rcode != SERVFAIL,
                    "{name}: unbound rcode {rcode} ad {ad}"
                );
                assert_eq!(
                    via_unbound.expect("answered").proof,
                    Proof::Insecure,
                    "{name} through unbound"
                );
            }
            Verdict::Bogus => {
                assert_eq!(
                    rcode,
                    SERVFAIL,
                    "{name}: unbound must refuse bogus data\n{}",
                    validator.log()
                );
                match via_unbound {
                    Err(Error::ResponseCode {
                        rcode: Rcode::ServFail,
                        ..
                    }) => {}
                    other => panic!("{name} through unbound: expected SERVFAIL, got {other:?}"),
                }
            }
        }
    }
    // The reasons our validation gives for the bogus zones served by Knot.
    for (name, why) in [
        ("expired.test", "expired"),
        ("wrongkey.test", "match no key"),
        ("nods.test", "says one exists"),
    ] {
        match direct.lookup_mx(&d(name)).await.expect("answered").proof {
            Proof::Bogus { reason: Some(r) } => assert!(r.contains(why), "{name}: {r}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // TLSA from Knot, secure.
    let tlsa = direct
        .lookup_tlsa(&d("_25._tcp.mx.secure.test"))
        .await
        .expect("answered");
    assert_eq!(tlsa.proof, Proof::Secure);
    assert_eq!(tlsa.records().len(), 1);
    knot.assert_running();
    validator.assert_running();
}
