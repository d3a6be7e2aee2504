//! Judge a certificate chain, TLSA records and an OCSP response from files, with no network:
//! the certificate (chain, name, dates, keys, signatures), DANE, and revocation.
//!
//! ```sh
//! cargo run --example validate_offline -- --chain chain.pem --name mx.example.com \
//!     [--ca roots.pem] [--tlsa tlsa.txt] [--ocsp response.der]
//! cargo run --example validate_offline -- --lab      # judge a lab-generated chain
//! ```
//! `tlsa.txt` holds one record per line in presentation form (`3 1 1 <hex>`), taken as
//! DNSSEC-secure (say `--insecure` otherwise).

use std::process::ExitCode;

use checktls::dns::{Proof, TlsaRecord};
use checktls::tls::TrustStore;
use checktls::tls::cert::{CertPolicy, evaluate};
use checktls::tls::dane;
use checktls::tls::revocation::check_ocsp_response;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("validate_offline: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let (mut chain_file, mut name, mut ca, mut tlsa, mut ocsp) = (None, None, None, None, None);
    let (mut lab, mut insecure) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--chain" => chain_file = args.next(),
            "--name" => name = args.next(),
            "--ca" => ca = args.next(),
            "--tlsa" => tlsa = args.next(),
            "--ocsp" => ocsp = args.next(),
            "--lab" => lab = true,
            "--insecure" => insecure = true,
            other => return fail(format!("unknown argument {other}")),
        }
    }
    let mut trust = TrustStore::mozilla();
    let chain: Vec<CertificateDer<'static>> = if lab {
        let Ok(pki) = checktls_lab::pki::Pki::generate(std::time::SystemTime::now()) else {
            return fail("the lab PKI could not be made");
        };
        let Ok(leaf) = pki.valid("mx.lab.test") else {
            return fail("the lab leaf could not be made");
        };
        trust = TrustStore::empty();
        if let Err(e) = trust.add_der(pki.root().der().clone()) {
            return fail(e);
        }
        name = name.or(Some("mx.lab.test".into()));
        leaf.chain
    } else {
        let Some(f) = chain_file else {
            return fail("give --chain FILE (PEM) or --lab");
        };
        match std::fs::read(&f)
            .map(|b| CertificateDer::pem_slice_iter(&b).collect::<Result<Vec<_>, _>>())
        {
            Ok(Ok(c)) if !c.is_empty() => c,
            Ok(_) => return fail(format!("{f}: no certificate in PEM")),
            Err(e) => return fail(format!("{f}: {e}")),
        }
    };
    if let Some(f) = ca
        && let Err(e) = trust.add_pem_file(std::path::Path::new(&f))
    {
        return fail(format!("{f}: {e}"));
    }
    let now = UnixTime::now();
    let report = evaluate(&chain, &CertPolicy::new(&trust, name.as_deref(), now));
    println!("certificate: acceptable {}", report.is_acceptable());
    println!(
        "  chain valid {}, name match {:?} ({:?}), expired {}, days left {:?}",
        report.chain_valid,
        report.name_match,
        report.matched_name,
        report.expired,
        report.days_to_expiry
    );
    for step in &report.path {
        println!("  path: {step}");
    }
    for p in &report.problems {
        println!("  problem: {p:?}");
    }
    if let Some(f) = tlsa {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => return fail(format!("{f}: {e}")),
        };
        let records: Result<Vec<TlsaRecord>, String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::parse)
            .collect();
        let records = match records {
            Ok(r) => r,
            Err(e) => return fail(format!("{f}: {e}")),
        };
        let proof = if insecure {
            Proof::Insecure
        } else {
            Proof::Secure
        };
        let n = name.clone().unwrap_or_default();
        let d = dane::evaluate(&records, &proof, &chain, &[n.as_str()], now);
        println!("DANE: {} {:?}", d.status.name(), d.matched);
        for note in &d.notes {
            println!("  {note}");
        }
    }
    if let Some(f) = ocsp {
        let (Some(leaf), Some(issuer)) = (chain.first(), chain.get(1)) else {
            return fail("OCSP needs the leaf and its issuer in the chain");
        };
        match std::fs::read(&f) {
            Ok(bytes) => println!(
                "OCSP: {:?}",
                check_ocsp_response(&bytes, leaf, issuer, None, now)
            ),
            Err(e) => return fail(format!("{f}: {e}")),
        }
    }
    ExitCode::SUCCESS
}
