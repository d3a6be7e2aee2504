//! The full prober against sslyze's default scan, side by side on one real Postfix host
//! (Debian's Postfix 3.7 with its default, opportunistic cipher lists and an RSA certificate,
//! behind STARTTLS on a loopback address): wall time of each scan and the SMTP connections
//! each made (from Postfix's own log). Needs root, Postfix, openssl and sslyze.
//!
//! `cargo bench --bench sslprobe_vs_sslyze` (optionally `-- RUNS`, default 10). With
//! `-- timeline` it also prints one probe's connections as they ran: when each opened and
//! closed, what it was for, and how long the two lanes stood idle. `-- ours-only` runs our
//! probe alone RUNS times (to profile it); `-- on-main` blocks on it from the main thread.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checktls::smtp;
use checktls::tls::probe::{ProbeOptions, ProbeReport, probe};
use checktls_lab::postfix::{Postfix, PostfixConfig};

mod support;

fn connections(pf: &Postfix) -> usize {
    pf.log().matches("connect from").count() - pf.log().matches("disconnect from").count()
}

/// Waits until the server is quiet: at least a second, then until its log stops growing for
/// half a second (at most 10 s). Each timed scan, theirs and ours alike, then starts on an idle
/// Postfix, not one still logging and reaping the processes of the scan before (591 sessions
/// of sslyze's took Postfix more than the 300 ms this bench waited at first, and slowed the
/// scan after them by a fifth).
fn quiet(pf: &Postfix) {
    std::thread::sleep(Duration::from_secs(1));
    let start = Instant::now();
    let mut last = pf.log().len();
    while start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(500));
        let now = pf.log().len();
        if now == last {
            break;
        }
        last = now;
    }
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

/// What one probe did over time: each connection's open and close, from its start.
#[derive(Default)]
struct Timeline {
    opened: Vec<Duration>,
    closed: Vec<(Duration, String)>,
}

/// Our probe as the receiver test runs it: in a task of its own on the runtime's workers,
/// which then drive its sockets themselves. With `on-main` on the command line, the future is
/// blocked on from the main thread instead, which a worker wakes at every socket event (about
/// 6 ms more client CPU per probe, measured).
async fn ours(addr: SocketAddr) -> ProbeReport {
    if std::env::args().any(|a| a == "on-main") {
        return ours_traced(addr, None).await;
    }
    tokio::spawn(ours_traced(addr, None))
        .await
        .expect("the probe task")
}

async fn ours_traced(
    addr: SocketAddr,
    trace: Option<std::sync::Arc<std::sync::Mutex<Timeline>>>,
) -> ProbeReport {
    let t0 = Instant::now();
    let mut session = smtp::ProbeOptions::default();
    session.session.ehlo_name = "bench.lab.test".into();
    session.tls.sni = Some("mx.lab.test".into());
    let on_open = trace.clone();
    let opener = move || {
        let o = session.clone();
        if let Some(t) = &on_open
            && let Ok(mut t) = t.lock()
        {
            t.opened.push(t0.elapsed());
        }
        async move {
            smtp::open_for_tls(addr, &o)
                .await
                .map(|(s, _)| s)
                .map_err(|r| std::io::Error::other(format!("{:?}", r.outcome)))
        }
    };
    let mut o = ProbeOptions::default();
    o.sni = Some("mx.lab.test".into());
    if let Some(t) = trace {
        o.progress = Some(checktls::tls::probe::ProgressFn(std::sync::Arc::new(
            move |p: &checktls::tls::probe::Progress| {
                if let Ok(mut t) = t.lock() {
                    t.closed.push((t0.elapsed(), p.label.clone()));
                }
            },
        )));
    }
    probe(&opener, &o).await
}

/// Prints one traced probe: the connections in the order they closed, and the lanes' idle time.
fn print_timeline(t: &Timeline, total: Duration, parallel: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "timeline of one probe ({} connections, {:.1} ms):",
        t.closed.len(),
        ms(total)
    );
    for (i, (at, label)) in t.closed.iter().enumerate() {
        println!("  #{i:<3} closed at {:>7.1} ms  {label}", ms(*at));
    }
    // Lane use: the number running between events, integrated over the probe.
    let mut events: Vec<(Duration, i32)> = t.opened.iter().map(|&d| (d, 1)).collect();
    events.extend(t.closed.iter().map(|(d, _)| (*d, -1)));
    events.sort();
    let (mut running, mut last, mut idle) = (0i32, Duration::ZERO, 0.0f64);
    for (at, delta) in events {
        let free = (parallel as i32 - running).max(0);
        idle += f64::from(free) * ms(at.saturating_sub(last));
        running += delta;
        last = at;
    }
    idle += parallel as f64 * ms(total.saturating_sub(last));
    println!(
        "  lanes: {parallel}, idle lane time {idle:.1} ms of {:.1} ms ({:.0}%)",
        parallel as f64 * ms(total),
        100.0 * idle / (parallel as f64 * ms(total)).max(1e-9)
    );
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let timeline = std::env::args().any(|a| a == "timeline");
    // `ours-only`: our probe alone, RUNS times back to back (to profile it).
    let ours_only = std::env::args().any(|a| a == "ours-only");
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
    if ours_only {
        let _ = rt.block_on(ours(addr));
        let (cpu, t) = (support::cpu_ms(), Instant::now());
        for _ in 0..runs {
            let _ = rt.block_on(ours(addr));
        }
        println!(
            "checktls full probe alone: {runs} runs, {:.1} ms each, client CPU {:.1} ms each",
            t.elapsed().as_secs_f64() * 1e3 / runs.max(1) as f64,
            support::cpu_ms().saturating_sub(cpu) as f64 / runs.max(1) as f64
        );
        drop(pf);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // Warm-up: one of each (the first Postfix processes, Python's imports).
    let _ = sslyze();
    let warm = rt.block_on(ours(addr));
    if timeline {
        quiet(&pf);
        let trace = std::sync::Arc::new(std::sync::Mutex::new(Timeline::default()));
        let t = Instant::now();
        let r = rt.block_on(ours_traced(addr, Some(trace.clone())));
        let total = t.elapsed();
        if let Ok(t) = trace.lock() {
            print_timeline(&t, total, 2);
        }
        println!("  ({} connections in the report)", r.connections);
        for v in &r.versions {
            println!(
                "  {}: {} suites, preference {:?}",
                v.version,
                v.suites.len(),
                v.preference
            );
        }
        println!(
            "  groups: TLS 1.3 {:?} ({:?}), ECDHE at {:?} {:?}",
            r.groups.tls13, r.groups.tls13_preference, r.groups.ecdhe_version, r.groups.ecdhe
        );
    }
    let tls12 = warm
        .version(checktls::tls::TlsVersion::Tls12)
        .map_or(0, |v| v.suites.len());
    let mut theirs_t = Vec::new();
    let mut ours_t = Vec::new();
    let mut theirs_c = Vec::new();
    let mut ours_c = Vec::new();
    let (mut theirs_cpu, mut ours_cpu) = (0u64, 0u64);
    for _ in 0..runs {
        quiet(&pf);
        let before = connections(&pf);
        let cpu = support::children_cpu_ms();
        theirs_t.push(sslyze());
        theirs_cpu += support::children_cpu_ms() - cpu;
        quiet(&pf);
        let mid = connections(&pf);
        let cpu = support::cpu_ms();
        let t = Instant::now();
        let r = rt.block_on(ours(addr));
        ours_t.push(t.elapsed());
        ours_cpu += support::cpu_ms().saturating_sub(cpu);
        quiet(&pf);
        let after = connections(&pf);
        theirs_c.push(mid - before);
        ours_c.push(after - mid);
        assert_eq!(
            r.connections,
            ours_c.last().copied().unwrap_or(0).max(r.connections)
        );
    }
    println!(
        "checktls runs (ms): {:?}",
        ours_t
            .iter()
            .map(|d| (d.as_secs_f64() * 1e4).round() / 10.0)
            .collect::<Vec<_>>()
    );
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
        "client CPU per scan (user + system, mean): sslyze {:.0} ms, checktls {:.1} ms",
        theirs_cpu as f64 / runs.max(1) as f64,
        ours_cpu as f64 / runs.max(1) as f64
    );
    println!(
        "speed-up: {:.1}x (medians)",
        tm.as_secs_f64() / om.as_secs_f64().max(1e-9)
    );
    drop(pf);
    let _ = std::fs::remove_dir_all(&dir);
}
