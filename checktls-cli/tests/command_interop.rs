//! The `checktls` command against real servers from Debian packages, inside a network namespace
//! this test creates (`unshare -n`): Knot serving signed zones on 127.0.0.1:53, and a real
//! Postfix per posture on 127.0.0.8x:25. Run by .ci/run (`cargo test -- --ignored`).
//!
//! ```text
//!   host  ──unshare -n -m──►  new namespace (only its own loopback, its own /etc/hosts)
//!                          knotd 127.0.0.1:53  (zones signed by the lab, anchor given; best.test
//!                                               signed by Knot itself, KSK+ZSK, anchored by
//!                                               its KSK's DS from keymgr)
//!                          postfix 127.0.0.81..89:25 (TLS 1.3, 1.2 only, expired, wrong name,
//!                                                     no STARTTLS, TLS 1.0 only, two MX, best:
//!                                                     DANE 3 1 1 + MTA-STS enforce)
//!                          MTA-STS policy over HTTPS on 127.0.0.89:443
//!                          checktls receiver <domain> --nameserver 127.0.0.1:53 ...
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use checktls_lab::dns::{DnsLab, MailDomain};
use checktls_lab::mta_sts::{PolicyPosture, PolicyServer, policy_text};
use checktls_lab::pki::{Pki, pem_encode};
use checktls_lab::postfix::{Postfix, PostfixConfig};

const MARK: &str = "CHECKTLS_IN_NETNS";

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

struct Knot {
    child: Child,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sh(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn knotd() -> PathBuf {
    ["/usr/sbin/knotd", "/usr/bin/knotd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("knotd (Debian package knot)")
}

struct Run {
    code: i32,
    json: serde_json::Value,
}

fn checktls(domain: &str, dir: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args([
            "receiver",
            domain,
            "--allow-private-addresses",
            "--nameserver",
            "127.0.0.1:53",
            "--format",
            "json",
            "--timeout",
            "5",
        ])
        .arg("--dnssec-anchor")
        .arg(dir.join("anchor.txt"))
        .arg("--ca-file")
        .arg(dir.join("root.pem"))
        .output()
        .expect("the checktls binary");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{domain}: not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
    }
}

fn inside_namespace() {
    sh("ip", &["link", "set", "lo", "up"]);
    let dir = std::env::temp_dir().join(format!("checktls-command-interop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pki = Pki::generate(SystemTime::now()).unwrap();
    std::fs::write(
        dir.join("root.pem"),
        pem_encode("CERTIFICATE", pki.root().der()),
    )
    .unwrap();

    // DNS: zones signed by the lab, served by a real Knot.
    let a = |l: u8| [IpAddr::V4(ip(l))];
    let zones = DnsLab::builder()
        .mail_domain(MailDomain::new("tls13.test").mx(10, "mx", a(81)))
        .mail_domain(MailDomain::new("tls12.test").mx(10, "mx", a(82)))
        .mail_domain(MailDomain::new("expired.test").mx(10, "mx", a(83)))
        .mail_domain(MailDomain::new("wrongname.test").mx(10, "mx", a(84)))
        .mail_domain(MailDomain::new("plain.test").mx(10, "mx", a(85)))
        .mail_domain(MailDomain::new("legacy10.test").mx(10, "mx", a(86)))
        .mail_domain(MailDomain::new("unreachable.test").mx(10, "mx", a(87)))
        .mail_domain(
            MailDomain::new("twomx.test")
                .mx(10, "mx", a(88))
                .mx(20, "mx.plain.test", []),
        )
        .build()
        .unwrap();
    std::fs::write(dir.join("anchor.txt"), zones.trust_anchor()).unwrap();
    let files = zones.write_zone_files(&dir).unwrap();
    // best.test: Knot signs it itself, with a KSK (257) and a ZSK (256), ECDSA P-256, NSEC; the
    // TLSA record is DANE-EE 3 1 1 of the Postfix certificate; MTA-STS in enforce mode.
    let best_leaf = pki.valid("mx.best.test").unwrap();
    let spki_sha256 = {
        let (_, cert) = x509_parser::parse_x509_certificate(best_leaf.chain[0].as_ref()).unwrap();
        let d = ring::digest::digest(&ring::digest::SHA256, cert.tbs_certificate.subject_pki.raw);
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    std::fs::write(
        dir.join("best.test.zone"),
        format!(
            "best.test. 300 IN SOA ns.lab. hostmaster.lab. 1 3600 600 86400 300\n\
             best.test. 300 IN NS ns.lab.\n\
             best.test. 300 IN MX 10 mx.best.test.\n\
             mx.best.test. 300 IN A 127.0.0.89\n\
             _25._tcp.mx.best.test. 300 IN TLSA 3 1 1 {spki_sha256}\n\
             _mta-sts.best.test. 300 IN TXT \"v=STSv1; id=20261122T000000\"\n\
             mta-sts.best.test. 300 IN A 127.0.0.89\n\
             _smtp._tls.best.test. 300 IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@best.test\"\n\
             best.test. 300 IN TXT \"v=spf1 mx -all\"\n\
             _dmarc.best.test. 300 IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@best.test\"\n"
        ),
    )
    .unwrap();
    let mut conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@53\n\
         database:\n  storage: \"{d}\"\n\
         log:\n  - target: stderr\n    any: warning\n\
         policy:\n  - id: kz\n    algorithm: ecdsap256sha256\n    single-type-signing: off\n    nsec3: off\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n\
         zone:\n\
         \x20 - domain: best.test.\n    file: \"{d}/best.test.zone\"\n    dnssec-signing: on\n    dnssec-policy: kz\n",
        d = dir.display()
    );
    for (origin, path) in &files {
        conf.push_str(&format!(
            "  - domain: \"{origin}\"\n    file: \"{}\"\n",
            path.display()
        ));
    }
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    let child = Command::new(knotd())
        .arg("-c")
        .arg(dir.join("knot.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("knot.log")).unwrap())
        .spawn()
        .expect("knotd");
    let _knot = Knot { child };
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| {
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            // A bare query for ./SOA: any answer means Knot is up.
            s.send_to(
                &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1],
                "127.0.0.1:53",
            )?;
            let mut b = [0u8; 512];
            s.recv_from(&mut b).map(|_| ())
        })
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "knot did not answer: {}",
            std::fs::read_to_string(dir.join("knot.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The DS of best.test's KSK, as keymgr gives it, beside the lab's root key.
    let keymgr = ["/usr/sbin/keymgr", "/usr/bin/keymgr"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("keymgr (Debian package knot)");
    let deadline = Instant::now() + Duration::from_secs(30);
    let best_ds = loop {
        let out = Command::new(&keymgr)
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .args(["best.test.", "ds"])
            .output()
            .expect("keymgr");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(line) = text
            .lines()
            .find(|l| l.contains(" DS ") && l.contains(" 13 2 "))
        {
            break line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "keymgr gave no DS for best.test: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::fs::write(
        dir.join("anchor.txt"),
        format!("{}\n{best_ds}\n", zones.trust_anchor()),
    )
    .unwrap();
    // Until Knot has signed best.test, its DNSKEY set is not there: wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Command::new("kdig")
        .args(["@127.0.0.1", "-p", "53", "+short", "best.test", "DNSKEY"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("257 3 13"))
    {
        assert!(Instant::now() < deadline, "Knot did not sign best.test");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The MTA-STS policy host is found by the system resolver (getaddrinfo), not by
    // --nameserver: inside this namespace's own mount namespace, /etc/hosts names it.
    std::fs::write(
        dir.join("hosts"),
        "127.0.0.1 localhost\n127.0.0.89 mta-sts.best.test\n",
    )
    .unwrap();
    sh(
        "mount",
        &["--bind", &dir.join("hosts").to_string_lossy(), "/etc/hosts"],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _policy = rt
        .block_on(PolicyServer::start_on(
            "127.0.0.89:443".parse().unwrap(),
            &pki,
            "best.test",
            PolicyPosture::Valid(policy_text("enforce", &["mx.best.test"], 604_800)),
        ))
        .unwrap();

    // Real Postfix receivers, one per posture, all on port 25.
    let pf = |last: u8, name: &str, cfg: fn(PostfixConfig, &Pki, &str) -> PostfixConfig| {
        Postfix::start(cfg(
            PostfixConfig::new(IpAddr::V4(ip(last)))
                .port(25)
                .hostname(name),
            &pki,
            name,
        ))
        .unwrap_or_else(|e| panic!("postfix for {name}: {e}"))
    };
    let _servers = [
        pf(81, "mx.tls13.test", |c, p, n| c.tls(&p.valid(n).unwrap())),
        pf(82, "mx.tls12.test", |c, p, n| {
            c.tls(&p.valid(n).unwrap()).protocols("<=TLSv1.2")
        }),
        pf(83, "mx.expired.test", |c, p, n| {
            c.tls(&p.expired(n).unwrap())
        }),
        pf(84, "mx.wrongname.test", |c, p, _| {
            c.tls(&p.wrong_name().unwrap())
        }),
        pf(85, "mx.plain.test", |c, _, _| c),
        pf(86, "mx.legacy10.test", |c, p, n| {
            c.tls(&p.valid(n).unwrap()).legacy_only("TLSv1")
        }),
        pf(88, "mx.twomx.test", |c, p, n| c.tls(&p.valid(n).unwrap())),
        Postfix::start(
            PostfixConfig::new(IpAddr::V4(ip(89)))
                .port(25)
                .hostname("mx.best.test")
                .tls(&best_leaf),
        )
        .unwrap(),
    ];

    let band = |domain: &str, lo: u64, hi: u64, code: i32| {
        let r = checktls(domain, &dir);
        let score = r.json["confidence_factor"]["score"].as_u64().unwrap_or(999);
        assert!(
            (lo..=hi).contains(&score) && r.code == code,
            "{domain}: score {score} (want {lo}..={hi}), exit {} (want {code})\n{}\nMTA-STS: {}",
            r.code,
            serde_json::to_string_pretty(&r.json["mx"]).unwrap_or_default(),
            r.json["mta_sts"]
        );
        r.json
    };
    let j = band("tls13.test", 114, 114, 0);
    assert_eq!(j["mx"][0]["tls"]["version"], "TLSv1.3");
    let j = band("tls12.test", 88, 103, 0);
    assert_eq!(j["mx"][0]["tls"]["version"], "TLSv1.2");
    let j = band("expired.test", 112, 112, 0);
    assert_eq!(j["mx"][0]["certificate"]["expired"], true);
    band("wrongname.test", 104, 113, 0);
    band("plain.test", 0, 49, 1);
    let j = band("legacy10.test", 64, 74, 1);
    assert_eq!(j["mx"][0]["tls"]["version"], "TLSv1");
    band("unreachable.test", 50, 50, 3);
    // A KSK+ZSK zone signed and served by Knot, anchored by its KSK's DS: every answer secure,
    // DANE 3 1 1 matched, MTA-STS enforced, TLS 1.3: best in class, 121.
    let j = band("best.test", 121, 121, 0);
    let mx = &j["mx"][0];
    assert_eq!(mx["tls"]["version"], "TLSv1.3");
    assert_eq!(mx["dane"]["status"], "matched", "{mx}");
    assert_eq!(mx["dane"]["applicability"]["verdict"], "applies", "{mx}");
    assert_eq!(mx["dane"]["applicability"]["addresses"]["state"], "secure");
    assert_eq!(mx["dane"]["applicability"]["tlsa"]["state"], "secure");
    assert_eq!(mx["mta_sts"]["verdict"], "pass", "{mx}");
    let proofs = proofs_in(&j);
    assert!(
        proofs.len() >= 5 && proofs.iter().all(|p| p == "secure"),
        "every DNS answer of best.test must be secure: {proofs:?}\n{}",
        serde_json::to_string_pretty(&j).unwrap_or_default()
    );
    let j = band("twomx.test", 50, 113, 1);
    assert_eq!(j["mx"].as_array().map(Vec::len), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every DNSSEC proof state in a report (objects `{"state": ...}` under any key), for the
/// domain's own answers (reverse DNS, which the lab does not serve for best.test, left out).
fn proofs_in(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if key == "proof"
                    && let Some(s) = m.get("state").and_then(|s| s.as_str())
                {
                    out.push(s.to_owned());
                }
                for (k, x) in m {
                    if k != "reverse_dns" && k != "ptr" {
                        walk(x, k, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            _ => {}
        }
    }
    walk(v, "", &mut out);
    out
}

#[test]
#[ignore = "interop: needs root, util-linux unshare, iproute2, and the Debian packages postfix and knot; run by .ci/run"]
fn the_command_against_real_postfix_and_knot_in_a_network_namespace() {
    if std::env::var_os(MARK).is_some() {
        inside_namespace();
        return;
    }
    // Run this same test again inside a new network namespace.
    let status = Command::new("unshare")
        // A mount namespace too, so the namespace can have its own /etc/hosts (below).
        .args(["--net", "--mount", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_command_against_real_postfix_and_knot_in_a_network_namespace",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MARK, "1")
        .status()
        .expect("unshare (util-linux)");
    assert!(
        status.success(),
        "the test failed inside the namespace (output above)"
    );
}
