//! The receiver test's speed on the embedded lab: one target, and 1,000 targets over 50 lab
//! receivers (targets per second; the process's peak memory is printed at the end).
//!
//! `cargo bench --bench receiver`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use checktls::options::ReceiverOptions;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::dns::{DnsLab, MailDomain};
use checktls_lab::pki::Pki;
use checktls_lab::scenario::Scenario;
use checktls_lab::smtp::{Posture, SmtpReceiver};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::net::TcpListener;

const RECEIVERS: u8 = 50;
const TARGETS: usize = 1000;

fn options(port: u16, dns: SocketAddr, anchor: &str) -> ReceiverOptions {
    let mut o = ReceiverOptions::default();
    o.port = Some(port);
    o.timeout = Duration::from_secs(10);
    o.resolver.nameservers = vec![dns];
    o.allow_non_global = true; // the lab lives on loopback
    o.resolver.dnssec_anchors = Some(anchor.to_owned());
    o
}

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

struct Farm {
    _receivers: Vec<SmtpReceiver>,
    dns: DnsLab,
    port: u16,
    trust: TrustStore,
}

async fn farm() -> Farm {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let ip = |i: u8| Ipv4Addr::new(127, 0, 1, 100 + i);
    let mut builder = DnsLab::builder();
    for i in 0..RECEIVERS {
        builder = builder.mail_domain(MailDomain::new(&format!("d{i}.bench.test")).mx(
            10,
            "mx",
            [IpAddr::V4(ip(i))],
        ));
    }
    let dns = builder.start().await.expect("dns");
    'retry: loop {
        let first = TcpListener::bind((ip(0), 0)).await.expect("bind");
        let port = first.local_addr().expect("addr").port();
        let mut listeners = vec![first];
        for i in 1..RECEIVERS {
            match TcpListener::bind((ip(i), port)).await {
                Ok(l) => listeners.push(l),
                Err(_) => continue 'retry,
            }
        }
        let receivers = listeners
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let leaf = pki.valid(&format!("mx.d{i}.bench.test")).expect("leaf");
                SmtpReceiver::serve(l, Posture::tls(&leaf).expect("posture"))
            })
            .collect();
        let mut trust = TrustStore::empty();
        trust.add_der(pki.root().der().clone()).expect("root");
        return Farm {
            _receivers: receivers,
            dns,
            port,
            trust,
        };
    }
}

fn thousand_targets(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let farm = rt.block_on(farm());
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
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        {
            println!("{line}");
        }
    }
}

criterion_group!(benches, one_target, thousand_targets);
criterion_main!(benches);
