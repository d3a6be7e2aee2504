//! The cost of the pure TLS judgements on a lab chain: certificate evaluation, DANE matching,
//! OCSP request building and response checking, CRL checking (a CRL of 1000 entries).
//!
//! `cargo bench --bench tls`

use std::hint::black_box;
use std::time::SystemTime;

use checktls::dns::{Proof, TlsaMatching, TlsaRecord, TlsaSelector, TlsaUsage};
use checktls::tls::TrustStore;
use checktls::tls::cert::{CertPolicy, evaluate};
use checktls::tls::dane;
use checktls::tls::revocation::{check_crl, check_ocsp_response, ocsp_request};
use checktls_lab::crl::{CrlMode, RevokedEntry, signed_crl};
use checktls_lab::ocsp::{CertState, OcspMode, Responder};
use checktls_lab::pki::{Pki, random_serial};
use criterion::{Criterion, criterion_group, criterion_main};
use rustls_pki_types::UnixTime;
use x509_parser::prelude::{FromDer, X509Certificate};

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn bench(c: &mut Criterion) {
    let pki = Pki::generate(SystemTime::now()).expect("lab PKI");
    let leaf = pki.valid("mx.example.test").expect("lab leaf");
    let (leaf_der, issuer_der) = (&leaf.chain[0], &leaf.chain[1]);
    let now = UnixTime::now();

    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).expect("lab root");
    c.bench_function("cert_evaluate_chain_of_2", |b| {
        b.iter(|| {
            let policy = CertPolicy::new(&trust, Some("mx.example.test"), now);
            black_box(evaluate(black_box(&leaf.chain), &policy))
        })
    });

    let spki = {
        let (_, cert) = X509Certificate::from_der(leaf_der).expect("leaf parses");
        cert.public_key().raw.to_vec()
    };
    let ee = TlsaRecord {
        usage: TlsaUsage::DaneEe,
        selector: TlsaSelector::SubjectPublicKeyInfo,
        matching: TlsaMatching::Sha256,
        data: sha256(&spki),
    };
    let ta = TlsaRecord {
        usage: TlsaUsage::DaneTa,
        selector: TlsaSelector::FullCertificate,
        matching: TlsaMatching::Sha256,
        data: sha256(issuer_der),
    };
    let names = ["mx.example.test"];
    c.bench_function("dane_3_1_1_match", |b| {
        b.iter(|| {
            black_box(dane::evaluate(
                black_box(std::slice::from_ref(&ee)),
                &Proof::Secure,
                &leaf.chain,
                &names,
                now,
            ))
        })
    });
    c.bench_function("dane_2_0_1_match", |b| {
        b.iter(|| {
            black_box(dane::evaluate(
                black_box(std::slice::from_ref(&ta)),
                &Proof::Secure,
                &leaf.chain,
                &names,
                now,
            ))
        })
    });

    let nonce = [7u8; 16];
    c.bench_function("ocsp_request", |b| {
        b.iter(|| black_box(ocsp_request(leaf_der, issuer_der, Some(&nonce))))
    });
    let request = ocsp_request(leaf_der, issuer_der, Some(&nonce)).expect("request");
    for (mode, name) in [
        (OcspMode::Normal, "ocsp_check_response_direct"),
        (OcspMode::Delegated, "ocsp_check_response_delegated"),
    ] {
        let responder = Responder::new(&pki, mode).expect("responder");
        let response = responder
            .respond(&request, |_| CertState::Good, pki.now())
            .expect("response");
        c.bench_function(name, |b| {
            b.iter(|| {
                black_box(check_ocsp_response(
                    black_box(&response),
                    leaf_der,
                    issuer_der,
                    Some(&nonce),
                    now,
                ))
            })
        });
    }

    let entries: Vec<RevokedEntry> = (0..1000u32)
        .map(|i| RevokedEntry {
            serial: random_serial().expect("serial"),
            reason: u8::try_from(i % 6).ok(),
        })
        .collect();
    let crl = signed_crl(&pki, &entries, CrlMode::Normal, pki.now()).expect("CRL");
    c.bench_function("crl_check_1000_entries", |b| {
        b.iter(|| black_box(check_crl(black_box(&crl), leaf_der, issuer_der, now)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
