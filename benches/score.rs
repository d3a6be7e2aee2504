//! The Confidence Factor's cost: one host, and a target of ten hosts.
//!
//! `cargo bench --bench score`

use std::hint::black_box;

use checktls::score::{
    CertEvidence, CipherEvidence, DaneEvidence, HostEvidence, KeyAlgorithm, KeyEvidence,
    MtaStsEvidence, SignatureHash, Stage, Stages, StsMode, TargetOptions, TlsEvidence, TlsVersion,
    score_host, score_target,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn host(i: u16) -> HostEvidence {
    let version = TlsVersion::ALL[usize::from(i) % TlsVersion::ALL.len()];
    HostEvidence {
        name: format!("mx{i}.example.com"),
        address: None,
        preference: 10 * (i / 2),
        stages: Stages::through(Stage::RcptTo),
        tls: Some(TlsEvidence {
            version,
            cipher: CipherEvidence::from_name("ECDHE-RSA-AES128-SHA")
                .unwrap_or(CipherEvidence::strong(128)),
            certificate: Some(CertEvidence {
                name_match: Some(!i.is_multiple_of(3)),
                days_to_expiry: Some(i64::from(i) * 10),
                key: Some(KeyEvidence {
                    algorithm: KeyAlgorithm::Rsa,
                    bits: 2048,
                }),
                weakest_signature: Some(SignatureHash::Sha256),
                ..CertEvidence::verified()
            }),
        }),
        mta_sts: MtaStsEvidence {
            tested: true,
            policy_valid: true,
            mode: StsMode::Enforce,
            host_covered: i.is_multiple_of(2),
        },
        dane: DaneEvidence {
            tested: true,
            ..DaneEvidence::default()
        },
        plaintext_refused: None,
        busy: false,
    }
}

fn bench(c: &mut Criterion) {
    let one = host(1);
    c.bench_function("score_host", |b| b.iter(|| score_host(black_box(&one))));
    let ten: Vec<HostEvidence> = (0..10).map(host).collect();
    let options = TargetOptions::default();
    c.bench_function("score_target_10_hosts", |b| {
        b.iter(|| score_target(black_box(&ten), black_box(&options)))
    });
    c.bench_function("cipher_from_name", |b| {
        b.iter(|| CipherEvidence::from_name(black_box("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
