//! The legacy prober's and MTA-STS's pure cores: parse a server's first flight (ServerHello,
//! a two-certificate chain, ServerHelloDone), build a ClientHello, parse and judge a policy;
//! and one whole probe of a TLS 1.0-only lab responder over loopback.
//!
//! `cargo bench --bench tls_probe`

use std::hint::black_box;
use std::time::SystemTime;

use checktls::tls::TlsVersion;
use checktls::tls::mta_sts::{MxTls, evaluate, parse_policy};
use checktls::tls::net::BoxStream;
use checktls::tls::probe::hello::client_hello;
use checktls::tls::probe::parse::FlightParser;
use checktls::tls::probe::suites::legacy_suites;
use checktls::tls::probe::{ProbeOptions, probe};
use checktls_lab::legacy::{LegacyPosture, LegacyServer};
use checktls_lab::pki::Pki;
use criterion::{Criterion, criterion_group, criterion_main};

fn u24(n: usize) -> [u8; 3] {
    [(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

/// ServerHello + Certificate(chain) + ServerHelloDone in TLS records of at most 16 KiB.
fn server_flight(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[7; 32]);
    sh.push(0);
    sh.extend_from_slice(&0xC02Fu16.to_be_bytes());
    sh.push(0);
    let mut hs = vec![2];
    hs.extend_from_slice(&u24(sh.len()));
    hs.extend_from_slice(&sh);
    let mut list = Vec::new();
    for c in chain {
        list.extend_from_slice(&u24(c.len()));
        list.extend_from_slice(c);
    }
    hs.push(11);
    hs.extend_from_slice(&u24(list.len() + 3));
    hs.extend_from_slice(&u24(list.len()));
    hs.extend_from_slice(&list);
    hs.extend_from_slice(&[14, 0, 0, 0]);
    let mut out = Vec::new();
    for part in hs.chunks(16384) {
        out.extend_from_slice(&[22, 3, 3]);
        out.extend_from_slice(&u16::try_from(part.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn bench(c: &mut Criterion) {
    let pki = Pki::generate(SystemTime::now()).expect("lab PKI");
    let leaf = pki.valid("mx.lab.test").expect("leaf");
    let chain: Vec<Vec<u8>> = leaf.chain.iter().map(|c| c.to_vec()).collect();
    let flight = server_flight(&chain);

    c.bench_function("probe/parse_server_flight", |b| {
        b.iter(|| {
            let mut p = FlightParser::new();
            p.feed(black_box(&flight)).expect("within bounds");
            black_box(p.answer().expect("a flight"))
        })
    });
    c.bench_function("probe/parse_server_flight_1460B_segments", |b| {
        b.iter(|| {
            let mut p = FlightParser::new();
            let mut answer = None;
            for seg in black_box(&flight).chunks(1460) {
                p.feed(seg).expect("within bounds");
                answer = p.answer().expect("a flight");
                if answer.is_some() {
                    break;
                }
            }
            black_box(answer)
        })
    });
    let all = legacy_suites();
    c.bench_function("probe/client_hello_tls12_every_suite", |b| {
        b.iter(|| {
            black_box(client_hello(
                TlsVersion::Tls12,
                black_box(&all),
                Some("mx.example.com"),
                [9; 32],
            ))
        })
    });

    let policy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n";
    c.bench_function("mta_sts/parse_policy", |b| {
        b.iter(|| black_box(parse_policy(black_box(policy))))
    });
    let mut big = String::from("version: STSv1\nmode: testing\nmax_age: 86400\n");
    for i in 0..256 {
        big.push_str(&format!("mx: mx{i}.example.com\n"));
    }
    c.bench_function("mta_sts/parse_policy_256_mx", |b| {
        b.iter(|| black_box(parse_policy(black_box(&big))))
    });
    let parsed = parse_policy(policy).policy.expect("valid");
    let hosts = [
        MxTls {
            host: "mx1.example.com",
            tls_validated: true,
        },
        MxTls {
            host: "b1.backup.example.com",
            tls_validated: false,
        },
        MxTls {
            host: "mx2.example.com",
            tls_validated: true,
        },
    ];
    c.bench_function("mta_sts/evaluate_3_mx", |b| {
        b.iter(|| black_box(evaluate(Some("20240101"), Some(&parsed), black_box(&hosts))))
    });

    // One whole probe (six versions, three suites found at TLS 1.0, preference, groups, checks).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(LegacyServer::start(
            "127.0.0.1:0".parse().expect("address"),
            LegacyPosture::only(0x0301, leaf.chain.clone()),
        ))
        .expect("lab responder");
    let addr = server.addr();
    let opener = move || async move {
        tokio::net::TcpStream::connect(addr)
            .await
            .map(|s| Box::new(s) as BoxStream)
    };
    let options = ProbeOptions::default();
    let mut group = c.benchmark_group("probe");
    group.sample_size(20);
    group.bench_function("lab_tls10_only_all_versions", |b| {
        b.iter(|| {
            let r = rt.block_on(probe(&opener, &options));
            assert_eq!(r.best, Some(TlsVersion::Tls10));
            black_box(r)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
