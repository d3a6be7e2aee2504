//! The receiver test's speed on the embedded lab: one target, and 1,000 targets over 50 lab
//! receivers (targets per second; the process's peak memory is printed at the end).
//!
//! `cargo bench --bench receiver`

use std::sync::Arc;
use std::time::{Duration, Instant};

use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::scenario::Scenario;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/mod.rs"]
mod support;

use support::{farm, options};

const RECEIVERS: u8 = 50;
const TARGETS: usize = 1000;

fn one_target(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let lab = rt.block_on(Scenario::start()).expect("lab");
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).expect("root");
    let mut routes = StaticConnector::new().allowing_non_global();
    for (h, a) in lab.https_routes() {
        routes.insert(h, *a);
    }
    let opts = options(lab.smtp_port(), lab.dns_addr(), lab.trust_anchor());
    let target: Target = "user@best.test".parse().expect("target");
    c.bench_function(
        "receiver: one target on the lab (DNS, STARTTLS, DANE, MTA-STS, score)",
        |b| {
            b.iter(|| {
                // A new checker each time: no probe or DNS cache carried over.
                let report = rt.block_on(async {
                    let checker = Checker::builder(opts.clone())
                        .trust(trust.clone())
                        .https_connector(Arc::new(routes.clone()))
                        .build()
                        .await
                        .expect("checker");
                    checker.check(&target).await.expect("report")
                });
                assert_eq!(report.score(), 121);
            })
        },
    );
}

fn thousand_targets(c: &mut Criterion) {
    // The lab on a runtime of its own, so the client's CPU can be told from the lab's by the
    // names of their threads.
    let lab_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("lab")
        .enable_all()
        .build()
        .expect("runtime");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("client")
        .enable_all()
        .build()
        .expect("runtime");
    let farm = lab_rt.block_on(farm(RECEIVERS));
    let targets: Vec<Target> = (0..TARGETS)
        .map(|j| {
            format!("user{j}@d{}.bench.test", j % usize::from(RECEIVERS))
                .parse()
                .expect("target")
        })
        .collect();
    let opts = options(farm.port, farm.dns.addr(), farm.dns.trust_anchor());
    let mut g = c.benchmark_group("receiver");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("1000 targets over 50 lab receivers", |b| {
        b.iter(|| {
            let start = Instant::now();
            let done = rt.block_on(async {
                let checker = Checker::builder(opts.clone())
                    .trust(farm.trust.clone())
                    .build()
                    .await
                    .expect("checker");
                let mut set = tokio::task::JoinSet::new();
                for t in &targets {
                    let (c, t) = (checker.clone(), t.clone());
                    set.spawn(async move { c.check(&t).await.map(|r| r.score()) });
                }
                // Count the targets that passed; tally what the others got, so a shortfall
                // says what happened.
                let mut ok = 0usize;
                let mut other = std::collections::BTreeMap::<String, usize>::new();
                while let Some(r) = set.join_next().await {
                    let key = match r {
                        Ok(Ok(114..)) => {
                            ok += 1;
                            continue;
                        }
                        Ok(Ok(score)) => format!("score {score}"),
                        Ok(Err(e)) => format!("error: {e}"),
                        Err(e) => format!("task: {e}"),
                    };
                    *other.entry(key).or_default() += 1;
                }
                (ok, other)
            });
            assert_eq!(done.0, TARGETS, "targets short of 114: {:?}", done.1);
            start.elapsed()
        })
    });
    g.finish();
    let (rss, peak) = support::memory_kib();
    println!("VmRSS {rss} kB, VmHWM {peak} kB");
    // DNS questions and CPU per receiver test, over one more round of the 1,000 (the lab's
    // DNS and receivers run in this process, so the CPU figure includes their side).
    let questions = farm.dns.queries();
    let cpu = support::cpu_ms();
    let client_cpu = support::threads_cpu_ms("client");
    let start = Instant::now();
    rt.block_on(async {
        let checker = Checker::builder(opts.clone())
            .trust(farm.trust.clone())
            .build()
            .await
            .expect("checker");
        let mut set = tokio::task::JoinSet::new();
        for t in &targets {
            let (c, t) = (checker.clone(), t.clone());
            set.spawn(async move { c.check(&t).await.map(|r| r.score()) });
        }
        while set.join_next().await.is_some() {}
    });
    let wall = start.elapsed();
    let per_test = (support::cpu_ms() - cpu) as f64 / TARGETS as f64;
    let client_per_test = (support::threads_cpu_ms("client") - client_cpu) as f64 / TARGETS as f64;
    println!(
        "{TARGETS} targets: {:.0} targets/s, {:.2} DNS questions per target, {per_test:.2} ms \
         CPU per target (client and in-process lab)",
        TARGETS as f64 / wall.as_secs_f64(),
        (farm.dns.queries() - questions) as f64 / TARGETS as f64,
    );
    // The handshake's own cost, the same way: the same 1,000 connections, each taken through
    // the SMTP dialog to STARTTLS and a TLS handshake (the probe's own), then dropped; no DNS,
    // no judgement. What the receiver test costs beyond it is what the checker adds.
    let cpu = support::cpu_ms();
    let client_cpu = support::threads_cpu_ms("client");
    let ok = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for j in 0..TARGETS {
            let i = j % usize::from(RECEIVERS);
            let addr = std::net::SocketAddr::new(
                std::net::Ipv4Addr::new(127, 0, 1, 100 + i as u8).into(),
                farm.port,
            );
            set.spawn(async move {
                let mut o = checktls::smtp::ProbeOptions::default();
                o.session.ehlo_name = "bench.invalid".into();
                let Ok((stream, _)) = checktls::smtp::open_for_tls(addr, &o).await else {
                    return false;
                };
                let mut h = checktls::tls::handshake::HandshakeOptions::default();
                h.sni = Some(format!("mx.d{i}.bench.test"));
                checktls::tls::handshake::handshake(stream, &h)
                    .await
                    .is_ok()
            });
        }
        let mut ok = 0usize;
        while let Some(r) = set.join_next().await {
            ok += usize::from(r.unwrap_or(false));
        }
        ok
    });
    assert_eq!(ok, TARGETS, "handshakes that completed");
    let per_handshake = (support::cpu_ms() - cpu) as f64 / TARGETS as f64;
    let client_per_handshake =
        (support::threads_cpu_ms("client") - client_cpu) as f64 / TARGETS as f64;
    println!(
        "{TARGETS} bare STARTTLS handshakes: {per_handshake:.2} ms CPU each (client and lab); \
         the receiver test adds {:.2} ms",
        per_test - per_handshake
    );
    println!(
        "the client's threads alone: {client_per_test:.2} ms per receiver test, \
         {client_per_handshake:.2} ms per bare handshake, {:.2} ms beyond it",
        client_per_test - client_per_handshake
    );
}

criterion_group!(benches, one_target, thousand_targets);
criterion_main!(benches);
