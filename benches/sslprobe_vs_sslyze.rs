//! The full prober against sslyze's default scan, side by side on one real Postfix host
//! (Debian's Postfix 3.7 with its default, opportunistic cipher lists and an RSA certificate,
//! behind STARTTLS on a loopback address): wall time of each scan and the SMTP connections
//! each made (from Postfix's own log). Needs root, Postfix, openssl and sslyze.
//!
//! `cargo bench --bench sslprobe_vs_sslyze` (optionally `-- RUNS`, default 10)

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checktls::smtp;
use checktls::tls::probe::{ProbeOptions, ProbeReport, probe};
use checktls_lab::postfix::{Postfix, PostfixConfig};

fn connections(pf: &Postfix) -> usize {
    pf.log().matches("connect from").count() - pf.log().matches("disconnect from").count()
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let mid = v.get(v.len() / 2).copied().unwrap_or_default();
    (
        mid,
        v.first().copied().unwrap_or_default(),
        v.last().copied().unwrap_or_default(),
    )
}

async fn ours(addr: SocketAddr) -> ProbeReport {
    let mut session = smtp::ProbeOptions::default();
    session.session.ehlo_name = "bench.lab.test".into();
    session.tls.sni = Some("mx.lab.test".into());
    let opener = move || {
        let o = session.clone();
        async move {
            smtp::open_for_tls(addr, &o)
                .await
                .map(|(s, _)| s)
                .map_err(|r| std::io::Error::other(format!("{:?}", r.outcome)))
        }
    };
    let mut o = ProbeOptions::default();
    o.sni = Some("mx.lab.test".into());
    probe(&opener, &o).await
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    if !Postfix::available() {
        eprintln!("needs root and /usr/sbin/postfix");
        std::process::exit(1);
    }
    let dir = std::env::temp_dir().join(format!("checktls-bench-sslprobe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=mx.lab.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let pf = Postfix::start(
        PostfixConfig::new("127.0.0.87".parse().expect("address"))
            .main_cf(&format!("smtpd_tls_cert_file = {}", cert.display()))
            .main_cf(&format!("smtpd_tls_key_file = {}", key.display()))
            .main_cf("smtpd_tls_security_level = may"),
    )
    .expect("Postfix");
    let addr = pf.addr();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = addr.to_string();
    let sslyze = || {
        let t = Instant::now();
        let status = Command::new("sslyze")
            .args(["--quiet", "--starttls", "smtp", &target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("sslyze (pip install sslyze)");
        assert!(status.code().is_some(), "sslyze was killed");
        t.elapsed()
    };
    // Warm-up: one of each (the first Postfix processes, Python's imports).
    let _ = sslyze();
    let warm = rt.block_on(ours(addr));
    let tls12 = warm
        .version(checktls::tls::TlsVersion::Tls12)
        .map_or(0, |v| v.suites.len());
    let mut theirs_t = Vec::new();
    let mut ours_t = Vec::new();
    let mut theirs_c = Vec::new();
    let mut ours_c = Vec::new();
    for _ in 0..runs {
        std::thread::sleep(Duration::from_millis(300));
        let before = connections(&pf);
        theirs_t.push(sslyze());
        std::thread::sleep(Duration::from_millis(300));
        let mid = connections(&pf);
        let t = Instant::now();
        let r = rt.block_on(ours(addr));
        ours_t.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(300));
        let after = connections(&pf);
        theirs_c.push(mid - before);
        ours_c.push(after - mid);
        assert_eq!(
            r.connections,
            ours_c.last().copied().unwrap_or(0).max(r.connections)
        );
    }
    let (tm, tmin, tmax) = median(theirs_t);
    let (om, omin, omax) = median(ours_t);
    println!("one Postfix 3.7 host, default cipher lists, STARTTLS, {runs} runs each, interleaved");
    println!(
        "sslyze default scan:    median {:>8.1} ms (min {:.1}, max {:.1}), {} SMTP connections",
        tm.as_secs_f64() * 1e3,
        tmin.as_secs_f64() * 1e3,
        tmax.as_secs_f64() * 1e3,
        theirs_c.iter().max().copied().unwrap_or(0)
    );
    println!(
        "checktls full probe:    median {:>8.1} ms (min {:.1}, max {:.1}), {} SMTP connections ({} TLS 1.2 suites found, every version, groups, checks)",
        om.as_secs_f64() * 1e3,
        omin.as_secs_f64() * 1e3,
        omax.as_secs_f64() * 1e3,
        ours_c.iter().max().copied().unwrap_or(0),
        tls12
    );
    println!(
        "speed-up: {:.1}x (medians)",
        tm.as_secs_f64() / om.as_secs_f64().max(1e-9)
    );
    drop(pf);
    let _ = std::fs::remove_dir_all(&dir);
}
