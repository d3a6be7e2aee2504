//! Memory per concurrent probe: 2,000 receiver tests held open at once by a tarpit receiver.
//!
//! Method: the tarpit is a listening socket on 127.0.0.1 with a backlog of 4,096 that never
//! accepts, so the kernel completes every TCP handshake and no greeting ever comes: each
//! receiver test waits at the Answer stage with its socket open, as against a real tarpit.
//! The figure is the process's peak resident memory (VmHWM) with all 2,000 waiting, minus its
//! resident memory when idle (runtime, checker and targets made, nothing started), divided by
//! 2,000. It counts everything a receiver test holds while it waits: the run, the plan, the
//! SMTP session and its buffers, the task and the socket's user-space side (kernel socket
//! buffers are not in RSS).
//!
//! `cargo bench --bench probe_memory` (raises its own open-file limit with util-linux's
//! `prlimit`). Not a criterion benchmark: it measures memory, once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checktls::options::ReceiverOptions;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use tokio::net::TcpSocket;

#[path = "support/mod.rs"]
mod support;

const PROBES: usize = 2000;

fn main() {
    let probes = if std::env::args().any(|a| a == "--bench") {
        PROBES
    } else {
        100 // `cargo test --benches`: a short run
    };
    // 2,000 client sockets need more than the usual 1,024 open files.
    let _ = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            "--nofile=16384:16384",
        ])
        .status();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run(probes));
}

async fn run(probes: usize) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .expect("bind");
    let tarpit = socket.listen(4096).expect("listen"); // never accepted
    let port = tarpit.local_addr().expect("addr").port();
    let mut opts = ReceiverOptions::default();
    opts.port = Some(port);
    opts.timeout = Duration::from_secs(120);
    opts.allow_non_global = true;
    // An address target asks no DNS; a name server on loopback all the same, never the system's.
    opts.resolver.nameservers = vec![SocketAddr::from(([127, 0, 0, 1], 9))];
    opts.revocation = false;
    opts.connections_per_address = probes;
    opts.concurrency = probes;
    let checker = Checker::builder(opts)
        .https_connector(Arc::new(StaticConnector::new()))
        .build()
        .await
        .expect("checker");
    let targets: Vec<Target> = (0..probes)
        .map(|_| "127.0.0.1".parse().expect("target"))
        .collect();
    let (idle, _) = support::memory_kib();
    let mut set = tokio::task::JoinSet::new();
    for t in targets {
        let c = checker.clone();
        set.spawn(async move { c.check(&t).await.map(|r| r.score()) });
    }
    // Wait until every probe has connected (the tarpit's queue holds them all) and the
    // resident memory has stopped growing.
    let bound = Instant::now() + Duration::from_secs(60);
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let established = established_to(port);
        let (rss, _) = support::memory_kib();
        if (established >= probes && rss == last) || Instant::now() > bound {
            break;
        }
        last = rss;
    }
    let established = established_to(port);
    let (rss, peak) = support::memory_kib();
    assert!(
        established >= probes,
        "only {established} of {probes} probes connected (open-file limit?)"
    );
    println!(
        "{probes} probes held open: idle {idle} KiB, now {rss} KiB, peak {peak} KiB; \
         {:.1} KiB per probe (peak minus idle, divided by the probes)",
        peak.saturating_sub(idle) as f64 / probes as f64
    );
    set.abort_all();
}

/// Established TCP connections to `port` on 127.0.0.1, from /proc/net/tcp (client side).
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(2) == Some(&remote.as_str()) && f.get(3) == Some(&"01")
        })
        .count()
}
