//! checktls beside posttls-finger and openssl s_client against a real Postfix (TLS 1.2 and
//! 1.3, RSA-2048 leaf from a test root) on loopback, in one criterion run:
//!
//! - one receiver test of a TLS 1.3 host: checktls in-process (`Checker::check`), the
//!   `checktls receiver` command (whole process), `posttls-finger -l secure` and
//!   `openssl s_client -verify_return_error` (whole processes);
//! - 50 targets on 50 listeners of the same Postfix: checktls in-process (one run, the batch
//!   path) against posttls-finger 8 at a time.
//!
//! Criterion runs one function after the other; on a shared machine the load may change
//! between them, so the bench ends with interleaved pairs (A B A B ..., 15 of each
//! comparison) and prints the median of the pairwise ratios A/B, which holds while the
//! machine's speed drifts.
//!
//! Addresses are given (no DNS): the DNS side is measured by benches/dns.rs, tests/speed.rs
//! and benches/compare.sh. Needs root and the Debian packages postfix and openssl:
//! `cargo bench --bench vs_posttls_finger` (it fails, saying so, without them).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use checktls::options::ReceiverOptions;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::pki::{Pki, pem_encode};
use checktls_lab::postfix::{Postfix, PostfixConfig};
use criterion::{Criterion, criterion_group, criterion_main};

const HOSTS: u8 = 50;

fn ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 3, 10 + i)
}

fn quiet(cmd: &mut Command) {
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.code().is_some(), "{cmd:?} was killed");
}

fn compare(c: &mut Criterion) {
    assert!(
        Postfix::available(),
        "this benchmark needs root and the Debian package postfix"
    );
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid("mx.bench.test").expect("leaf");
    let pf = Postfix::start(
        PostfixConfig::new(IpAddr::V4(ip(0)))
            .hostname("mx.bench.test")
            .tls(&leaf)
            .also_listen((1..HOSTS).map(|i| IpAddr::V4(ip(i)))),
    )
    .expect("postfix");
    let port = pf.addr().port();
    let dir = std::env::temp_dir().join(format!("checktls-vs-pf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let root = dir.join("root.pem");
    std::fs::write(&root, pem_encode("CERTIFICATE", pki.root().der())).expect("root");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut opts = ReceiverOptions::default();
    opts.port = Some(port);
    opts.sni = Some("mx.bench.test".into());
    opts.allow_non_global = true;
    opts.revocation = false;
    opts.resolver.nameservers = vec![SocketAddr::from(([127, 0, 0, 1], 9))]; // never asked
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).expect("root");
    let checker = rt
        .block_on(
            Checker::builder(opts)
                .trust(trust)
                .https_connector(Arc::new(StaticConnector::new()))
                .build(),
        )
        .expect("checker");
    let one: Target = ip(0).to_string().parse().expect("target");
    let report = rt.block_on(checker.check(&one)).expect("report");
    assert_eq!(
        report.mx[0].tls.as_ref().map(|t| t.version),
        Some(checktls::tls::TlsVersion::Tls13)
    );
    let mail_config = pf.dir().to_path_buf();
    let finger = |host: Ipv4Addr| {
        let mut cmd = Command::new("posttls-finger");
        cmd.env("MAIL_CONFIG", &mail_config)
            .args(["-c", "-l", "secure", "-F"])
            .arg(&root)
            .arg(format!("[{host}]:{port}"))
            .arg("mx.bench.test");
        cmd
    };

    let in_process = || {
        rt.block_on(checker.check(&one)).expect("report");
    };
    let as_process = || {
        quiet(
            Command::new(env!("CARGO_BIN_EXE_checktls"))
                .args(["receiver", &ip(0).to_string(), "--sni", "mx.bench.test"])
                .args(["--port", &port.to_string(), "--allow-private-addresses"])
                .args(["--nameserver", "127.0.0.1:9", "--ca-file"])
                .arg(&root),
        )
    };
    let finger_one = || quiet(&mut finger(ip(0)));
    let s_client = || {
        quiet(
            Command::new("openssl")
                .args(["s_client", "-brief", "-starttls", "smtp", "-connect"])
                .arg(format!("{}:{port}", ip(0)))
                .args(["-servername", "mx.bench.test", "-verify_hostname"])
                .args(["mx.bench.test", "-verify_return_error", "-CAfile"])
                .arg(&root),
        )
    };
    let mut g = c.benchmark_group("one receiver test of TLS 1.3 Postfix");
    g.sample_size(30);
    g.bench_function("checktls in-process", |b| b.iter(in_process));
    g.bench_function("checktls receiver (process)", |b| b.iter(as_process));
    g.bench_function("posttls-finger -l secure (process)", |b| b.iter(finger_one));
    g.bench_function("openssl s_client (process)", |b| b.iter(s_client));
    g.finish();

    let targets: Vec<Target> = (0..HOSTS)
        .map(|i| ip(i).to_string().parse().expect("target"))
        .collect();
    let batch = || {
        rt.block_on(async {
            let run = checker.run();
            let mut set = tokio::task::JoinSet::new();
            for t in &targets {
                let (r, t) = (run.clone(), t.clone());
                set.spawn(async move { r.check(&t).await.map(|r| r.score()) });
            }
            let mut graded = 0;
            while let Some(r) = set.join_next().await {
                graded += usize::from(matches!(r, Ok(Ok(100..))));
            }
            assert_eq!(graded, usize::from(HOSTS));
        })
    };
    let finger_batch = || {
        let mut running = Vec::new();
        for i in 0..HOSTS {
            if running.len() == 8 {
                let mut first: std::process::Child = running.remove(0);
                let _ = first.wait();
            }
            running.push(
                finger(ip(i))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("posttls-finger"),
            );
        }
        for mut child in running {
            let _ = child.wait();
        }
    };
    let mut g = c.benchmark_group("50 targets on 50 Postfix listeners");
    g.sample_size(10);
    g.bench_function("checktls in-process (one run)", |b| b.iter(batch));
    g.bench_function("posttls-finger x8 (processes)", |b| b.iter(finger_batch));
    g.finish();

    println!("interleaved pairs (A B A B ...), median of the pairwise ratios A/B:");
    pairs(
        "checktls in-process / posttls-finger",
        in_process,
        finger_one,
    );
    pairs(
        "checktls receiver (process) / posttls-finger",
        as_process,
        finger_one,
    );
    pairs(
        "checktls receiver (process) / openssl s_client",
        as_process,
        s_client,
    );
    pairs(
        "50 targets: checktls in-process / posttls-finger x8",
        batch,
        finger_batch,
    );
    drop(pf);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 15 runs of `a` and of `b` taken in turn (after one warm-up each): the median times and the
/// median, least and greatest of the 15 ratios of back-to-back pairs.
fn pairs(what: &str, mut a: impl FnMut(), mut b: impl FnMut()) {
    const PAIRS: usize = 15;
    let timed = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    timed(&mut a);
    timed(&mut b);
    let (mut ta, mut tb, mut ratios): (Vec<Duration>, Vec<Duration>, Vec<f64>) =
        (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        let x = timed(&mut a);
        let y = timed(&mut b);
        ratios.push(x.as_secs_f64() / y.as_secs_f64().max(1e-9));
        ta.push(x);
        tb.push(y);
    }
    ta.sort();
    tb.sort();
    ratios.sort_by(f64::total_cmp);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {what}: A {:.1} ms, B {:.1} ms, ratio {:.2} (min {:.2}, max {:.2}; {PAIRS} pairs)",
        ms(ta[PAIRS / 2]),
        ms(tb[PAIRS / 2]),
        ratios[PAIRS / 2],
        ratios[0],
        ratios[PAIRS - 1]
    );
}

criterion_group!(benches, compare);
criterion_main!(benches);
