//! DNS benchmarks: the record parsers, and MX discovery and whole-domain discovery against the
//! in-process lab server (loopback, DNSSEC validation on, cache off so every lookup is real).
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

criterion_group!(benches, parsers, lab);
criterion_main!(benches);
