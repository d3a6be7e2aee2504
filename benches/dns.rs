//! DNS benchmarks: the record parsers, MX discovery and whole-domain discovery against the
//! in-process lab server (loopback, DNSSEC validation on, cache off so every lookup is real), and
//! DNSSEC validation of a chain root → tld → domain (KSK+ZSK everywhere) for MX + A + TLSA, cold
//! (a new resolver: every DNSKEY and DS fetched and checked) and warm (keys kept, answers asked).
//!
//! ```sh
//! cargo bench --bench dns
//! ```

use std::hint::black_box;

use checktls::dns::discovery::IpChoice;
use checktls::dns::records::{dkim, dmarc, mta_sts, spf, tls_rpt};
use checktls::dns::resolver::{DiscoveryOptions, Dnssec, Nameservers, Resolver, ResolverOptions};
use checktls::dns::{DomainName, MxLimit, TrustAnchors};
use criterion::{Criterion, criterion_group, criterion_main};

const SPF: &str = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.net a mx:example.org/24 exists:%{i}._spf.example.com ~all";
const DMARC: &str = "v=DMARC1; p=quarantine; sp=reject; adkim=s; aspf=r; pct=100; fo=1:d; ri=86400; rua=mailto:agg@example.com!10m,mailto:x@example.net; ruf=mailto:f@example.com";
const DKIM: &str = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";

fn parsers(c: &mut Criterion) {
    c.bench_function("parse/spf", |b| b.iter(|| spf::parse(black_box(SPF))));
    c.bench_function("parse/dmarc", |b| b.iter(|| dmarc::parse(black_box(DMARC))));
    c.bench_function("parse/dkim_rsa1024", |b| {
        b.iter(|| dkim::parse(black_box(DKIM)))
    });
    c.bench_function("parse/mta_sts", |b| {
        b.iter(|| mta_sts::parse(black_box("v=STSv1; id=20240101T000000;")))
    });
    c.bench_function("parse/tls_rpt", |b| {
        b.iter(|| {
            tls_rpt::parse(black_box(
                "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/x",
            ))
        })
    });
}

fn lab(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let lab = rt
        .block_on(checktls_lab::dns::DnsLab::sample().start())
        .expect("lab starts");
    let mut options = ResolverOptions::default();
    options.nameservers = Nameservers::Given(vec![lab.addr()]);
    options.dnssec = Dnssec::Validate(TrustAnchors::parse(lab.trust_anchor()).expect("anchor"));
    options.cache = false;
    let uncached = rt
        .block_on(Resolver::new(options.clone()))
        .expect("resolver");
    options.cache = true;
    let cached = rt.block_on(Resolver::new(options)).expect("resolver");
    let domain: DomainName = "example.test".parse().expect("name");
    c.bench_function("lab/mx_with_addresses_validated_uncached", |b| {
        b.iter(|| rt.block_on(uncached.mx(&domain, MxLimit::All, IpChoice::Both)))
    });
    c.bench_function("lab/mx_with_addresses_cached", |b| {
        b.iter(|| rt.block_on(cached.mx(&domain, MxLimit::All, IpChoice::Both)))
    });
    let options = DiscoveryOptions::default();
    c.bench_function("lab/discover_domain_validated_uncached", |b| {
        b.iter(|| rt.block_on(uncached.discover(&domain, &options)))
    });
}

/// MX, the MX host's A, and its TLSA: what a receiver test asks before it connects.
async fn mx_a_tlsa(r: &Resolver, domain: &DomainName, mx: &DomainName, tlsa: &DomainName) {
    let (m, a, t) = tokio::join!(r.lookup_mx(domain), r.lookup_a(mx), r.lookup_tlsa(tlsa));
    let secure = [m.map(|x| x.proof), a.map(|x| x.proof), t.map(|x| x.proof)]
        .into_iter()
        .all(|p| p.is_ok_and(|p| p.is_secure()));
    assert!(secure, "the chain validates");
}

fn chain(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let lab = rt
        .block_on(
            checktls_lab::dns::DnsLab::builder()
                .reverse_dns(false)
                .zone("tld", checktls_lab::dns::Signing::Signed, "")
                .mail_domain(
                    checktls_lab::dns::MailDomain::new("mail.tld")
                        .mx(10, "mx", ["127.0.0.2".parse().expect("ip")])
                        .tlsa(
                            "mx",
                            25,
                            "3 1 1 8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922",
                        ),
                )
                .start(),
        )
        .expect("lab starts");
    let mut options = ResolverOptions::default();
    options.nameservers = Nameservers::Given(vec![lab.addr()]);
    options.dnssec = Dnssec::Validate(TrustAnchors::parse(lab.trust_anchor()).expect("anchor"));
    options.cache = false;
    let domain: DomainName = "mail.tld".parse().expect("name");
    let mx: DomainName = "mx.mail.tld".parse().expect("name");
    let tlsa: DomainName = "_25._tcp.mx.mail.tld".parse().expect("name");
    c.bench_function("dnssec/chain_mx_a_tlsa_cold", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = Resolver::new(options.clone()).await.expect("resolver");
                mx_a_tlsa(&r, &domain, &mx, &tlsa).await;
            })
        })
    });
    let mut warm_options = options.clone();
    warm_options.keep_keys = true;
    let warm = rt.block_on(Resolver::new(warm_options)).expect("resolver");
    rt.block_on(mx_a_tlsa(&warm, &domain, &mx, &tlsa));
    c.bench_function("dnssec/chain_mx_a_tlsa_warm_keys", |b| {
        b.iter(|| rt.block_on(mx_a_tlsa(&warm, &domain, &mx, &tlsa)))
    });
    let before = lab.queries();
    rt.block_on(async {
        let r = Resolver::new(options.clone()).await.expect("resolver");
        mx_a_tlsa(&r, &domain, &mx, &tlsa).await;
    });
    let cold_queries = lab.queries() - before;
    let before = lab.queries();
    rt.block_on(mx_a_tlsa(&warm, &domain, &mx, &tlsa));
    println!(
        "queries per round: cold {cold_queries}, warm {}",
        lab.queries() - before
    );
}

criterion_group!(benches, parsers, lab, chain);
criterion_main!(benches);
