#![allow(dead_code)] // each benchmark uses part of it
//! A farm of lab receivers for the benchmarks: one signed mail domain per receiver
//! (`d{i}.bench.test`, MX `mx.d{i}.bench.test` on 127.0.1.{100+i}), all on one port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use checktls::options::ReceiverOptions;
use checktls::tls::TrustStore;
use checktls_lab::dns::{DnsLab, MailDomain};
use checktls_lab::pki::{Leaf, Pki};
use checktls_lab::smtp::{Posture, SmtpReceiver};
use tokio::net::TcpListener;

pub(crate) struct Farm {
    pub(crate) receivers: Vec<SmtpReceiver>,
    pub(crate) leaves: Vec<Leaf>,
    pub(crate) pki: Pki,
    pub(crate) dns: DnsLab,
    pub(crate) port: u16,
    pub(crate) trust: TrustStore,
}

/// Receiver options for the farm (or any lab): its port and DNS, loopback allowed.
pub(crate) fn options(port: u16, dns: SocketAddr, anchor: &str) -> ReceiverOptions {
    let mut o = ReceiverOptions::default();
    o.port = Some(port);
    o.timeout = Duration::from_secs(10);
    o.resolver.nameservers = vec![dns];
    o.allow_non_global = true; // the lab lives on loopback
    o.resolver.dnssec_anchors = Some(anchor.to_owned());
    o
}

/// `n` receivers (at most 150), TLS 1.3 with valid certificates.
pub(crate) async fn farm(n: u8) -> Farm {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let ip = |i: u8| Ipv4Addr::new(127, 0, 1, 100 + i);
    let mut builder = DnsLab::builder();
    for i in 0..n {
        builder = builder.mail_domain(MailDomain::new(&format!("d{i}.bench.test")).mx(
            10,
            "mx",
            [IpAddr::V4(ip(i))],
        ));
    }
    let dns = builder.start().await.expect("dns");
    let leaves: Vec<Leaf> = (0..n)
        .map(|i| pki.valid(&format!("mx.d{i}.bench.test")).expect("leaf"))
        .collect();
    'retry: loop {
        let first = TcpListener::bind((ip(0), 0)).await.expect("bind");
        let port = first.local_addr().expect("addr").port();
        let mut listeners = vec![first];
        for i in 1..n {
            match TcpListener::bind((ip(i), port)).await {
                Ok(l) => listeners.push(l),
                Err(_) => continue 'retry,
            }
        }
        let receivers = listeners
            .into_iter()
            .zip(&leaves)
            .map(|(l, leaf)| SmtpReceiver::serve(l, Posture::tls(leaf).expect("posture")))
            .collect();
        let mut trust = TrustStore::empty();
        trust.add_der(pki.root().der().clone()).expect("root");
        return Farm {
            receivers,
            leaves,
            pki,
            dns,
            port,
            trust,
        };
    }
}

/// This process's resident and peak memory, in KiB, from /proc.
pub(crate) fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The numeric fields of /proc/self/stat after the command name (which may hold spaces):
/// state is the first.
fn self_stat() -> Vec<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect()
}

/// This process's CPU time so far (user + system), in milliseconds, from /proc (10 ms ticks).
pub(crate) fn cpu_ms() -> u64 {
    let f = self_stat();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10
}

/// The CPU time (user + system, milliseconds) of this process's waited-for children, from
/// /proc (10 ms ticks).
pub(crate) fn children_cpu_ms() -> u64 {
    let f = self_stat();
    // cutime and cstime are fields 16 and 17 of the line, 14 and 15 after the name.
    (f.get(13).copied().unwrap_or(0) + f.get(14).copied().unwrap_or(0)) * 10
}

/// The CPU time (user + system, milliseconds) of this process's threads whose name starts with
/// `prefix` (a tokio runtime's workers are named with `thread_name`), from /proc (10 ms ticks).
pub(crate) fn threads_cpu_ms(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut ticks = 0;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |(_, n)| n);
        if !name.starts_with(prefix) {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        ticks += f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    }
    ticks * 10
}
