//! Hermetic tests of the resolver against the lab's authoritative server (checktls-lab), on
//! loopback: MX sets, addresses, CNAMEs, DNSSEC proofs, TLSA, the mail records, reverse DNS,
//! timeouts, SERVFAIL, caching, TCP and authoritative-direct queries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use checktls_dns::discovery::IpChoice;
use checktls_dns::resolver::{DiscoveryOptions, Dnssec, Nameservers, Resolver, ResolverOptions};
use checktls_dns::{DomainName, Error, MxKind, MxLimit, Outcome, Proof, TrustAnchors};
use checktls_lab::dns::{DnsLab, MailDomain, Signing, SilentDns};

const TLSA_HASH: &str = "8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922";

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn d(s: &str) -> DomainName {
    s.parse().expect("test names are valid")
}

fn options(lab: &DnsLab) -> ResolverOptions {
    let mut o = ResolverOptions::default();
    o.nameservers = Nameservers::Given(vec![lab.addr()]);
    o.dnssec =
        Dnssec::Validate(TrustAnchors::parse(lab.trust_anchor()).expect("lab anchor parses"));
    o.timeout = Duration::from_secs(5);
    o
}

async fn resolver(lab: &DnsLab) -> Resolver {
    Resolver::new(options(lab)).await.expect("resolver builds")
}

/// The zones most tests share.
fn lab() -> checktls_lab::dns::DnsLabBuilder {
    DnsLab::sample()
        .mail_domain(
            MailDomain::new("ties.test")
                .mx(10, "b", [v4(11)])
                .mx(10, "a", [v4(12)])
                .mx(10, "c", [v4(13)])
                .mx(20, "d", [v4(14)])
                .mx(30, "e", [v4(15)]),
        )
        .mail_domain(MailDomain::new("implicit.test").address("@", [v4(16)]))
        .mail_domain(MailDomain::new("noaddr.test").mx(10, "mx", []))
        .mail_domain(MailDomain::new("v6only.test").mx(10, "mx", [IpAddr::V6(Ipv6Addr::LOCALHOST)]))
        .mail_domain(
            MailDomain::new("alias.test")
                .mx(10, "mx", [])
                .cname("mx", "hop1")
                .cname("hop1", "hop2")
                .address("hop2", [v4(17)])
                .tlsa("hop2", 25, &format!("3 1 1 {TLSA_HASH}"))
                .cname("loop1", "loop2")
                .cname("loop2", "loop1"),
        )
        .mail_domain(
            MailDomain::new("tlsacname.test")
                .mx(10, "mx", [v4(18)])
                .cname("_25._tcp.mx", "_hop.tlsacname.test")
                .cname("_hop", "_25._tcp.mx1.example.test"),
        )
        .mail_domain(
            MailDomain::new("wrongkey.test")
                .signing(Signing::WrongKey)
                .mx(10, "mx", [v4(19)]),
        )
        .mail_domain(MailDomain::new("nods.test").signing(Signing::MissingDs).mx(
            10,
            "mx",
            [v4(20)],
        ))
}

#[tokio::test]
async fn ordinary_mx_in_preference_order_with_addresses() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let set = r
        .mx(&d("example.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(set.kind, MxKind::Listed);
    assert_eq!(set.answer.proof, Proof::Secure);
    let hosts: Vec<(u16, &str)> = set
        .hosts
        .iter()
        .map(|h| (h.record.preference, h.record.exchange.as_str()))
        .collect();
    assert_eq!(hosts, [(10, "mx1.example.test"), (20, "mx2.example.test")]);
    assert_eq!(set.hosts[0].addresses.addresses(), [v4(2)]);
    assert_eq!(
        set.hosts[1].addresses.addresses(),
        [v4(3), IpAddr::V6(Ipv6Addr::LOCALHOST)]
    );
    assert_eq!(set.hosts[1].addresses.proof(), Proof::Secure);
    assert!(
        set.hosts.iter().all(|h| h.findings.is_empty()),
        "{:?}",
        set.hosts
    );
}

#[tokio::test]
async fn equal_preferences_tie_by_name_and_limits_apply() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let names = |set: &checktls_dns::discovery::MxSet| -> Vec<String> {
        set.hosts
            .iter()
            .map(|h| h.record.exchange.to_string())
            .collect()
    };
    let all = r
        .mx(&d("ties.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(
        names(&all),
        [
            "a.ties.test",
            "b.ties.test",
            "c.ties.test",
            "d.ties.test",
            "e.ties.test"
        ]
    );
    let first_level = r
        .mx(&d("ties.test"), MxLimit::Levels(1), IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(
        names(&first_level),
        ["a.ties.test", "b.ties.test", "c.ties.test"]
    );
    assert_eq!(first_level.skipped.len(), 2);
    // The skipped hosts are not looked up: their addresses are not in the result.
    let two_hosts = r
        .mx(&d("ties.test"), MxLimit::Hosts(2), IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(names(&two_hosts), ["a.ties.test", "b.ties.test"]);
    let half_levels = r
        .mx(&d("ties.test"), MxLimit::LevelsPercent(50), IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(half_levels.hosts.len(), 4); // 50% of 3 levels rounds up to 2 levels
}

#[tokio::test]
async fn null_mx_is_reported_as_such() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let set = r
        .mx(&d("nullmx.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(set.kind, MxKind::Null);
    assert!(set.hosts.is_empty());
    assert!(set.findings.iter().any(|f| f.code == "mx.null"));
    assert_eq!(set.answer.proof, Proof::Secure);
}

#[tokio::test]
async fn no_mx_falls_back_to_the_implicit_mx() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let set = r
        .mx(&d("implicit.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(set.kind, MxKind::Implicit);
    assert!(set.answer.is_nodata());
    assert_eq!(
        set.answer.proof,
        Proof::Secure,
        "the NODATA is proven by NSEC"
    );
    assert_eq!(set.hosts.len(), 1);
    assert_eq!(set.hosts[0].record.exchange.as_str(), "implicit.test");
    assert_eq!(set.hosts[0].record.preference, 0);
    assert_eq!(set.hosts[0].addresses.addresses(), [v4(16)]);
}

#[tokio::test]
async fn nonexistent_domain_is_a_typed_outcome_with_its_proof() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let set = r
        .mx(&d("nope.example.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    assert_eq!(set.kind, MxKind::NoDomain);
    assert!(set.answer.is_nxdomain());
    assert_eq!(set.answer.proof, Proof::Secure);
    let insecure = r
        .lookup_mx(&d("nope.insecure.test"))
        .await
        .expect("answered");
    assert!(insecure.is_nxdomain());
    assert_eq!(insecure.proof, Proof::Insecure);
}

#[tokio::test]
async fn cname_chains_are_followed_and_reported() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let set = r
        .mx(&d("alias.test"), MxLimit::All, IpChoice::V4)
        .await
        .expect("answered");
    let host = &set.hosts[0];
    let hops: Vec<(&str, &str)> = host
        .addresses
        .cnames()
        .iter()
        .map(|h| (h.from.as_str(), h.to.as_str()))
        .collect();
    assert_eq!(
        hops,
        [
            ("mx.alias.test", "hop1.alias.test"),
            ("hop1.alias.test", "hop2.alias.test")
        ]
    );
    assert!(
        host.addresses
            .cnames()
            .iter()
            .all(|h| h.proof == Proof::Secure)
    );
    assert_eq!(host.addresses.canonical_name().as_str(), "hop2.alias.test");
    assert_eq!(host.addresses.addresses(), [v4(17)]);
    assert!(host.findings.iter().any(|f| f.code == "mx.cname"));
    match r.lookup_a(&d("loop1.alias.test")).await {
        Err(Error::CnameChain { .. }) => {}
        other => panic!("a CNAME loop must be an error, got {other:?}"),
    }
}

#[tokio::test]
async fn mx_host_without_addresses_is_flagged() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let set = r
        .mx(&d("noaddr.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    let host = &set.hosts[0];
    assert!(host.addresses.addresses().is_empty());
    let v4 = host
        .addresses
        .ipv4
        .as_ref()
        .expect("asked")
        .as_ref()
        .expect("answered");
    assert!(v4.is_nxdomain(), "mx.noaddr.test does not exist: {v4:?}");
    assert!(host.findings.iter().any(|f| f.code == "mx.no_address"));
}

#[tokio::test]
async fn ipv6_only_host_and_the_address_family_choice() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let both = r
        .mx(&d("v6only.test"), MxLimit::All, IpChoice::Both)
        .await
        .expect("answered");
    let host = &both.hosts[0].addresses;
    assert_eq!(host.addresses(), [IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    assert!(
        host.ipv4
            .as_ref()
            .expect("asked")
            .as_ref()
            .expect("answered")
            .is_nodata()
    );
    let v4_only = r
        .mx(&d("v6only.test"), MxLimit::All, IpChoice::V4)
        .await
        .expect("answered");
    assert!(v4_only.hosts[0].addresses.ipv6.is_none(), "AAAA not asked");
    assert!(v4_only.hosts[0].addresses.addresses().is_empty());
    assert!(
        v4_only.hosts[0]
            .findings
            .iter()
            .any(|f| f.code == "mx.no_address")
    );
    let v6_only = r
        .mx(&d("v6only.test"), MxLimit::All, IpChoice::V6)
        .await
        .expect("answered");
    assert!(v6_only.hosts[0].addresses.ipv4.is_none(), "A not asked");
    assert_eq!(v6_only.hosts[0].addresses.addresses().len(), 1);
}

#[tokio::test]
async fn secure_insecure_and_bogus_answers_with_reasons() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let secure = r.lookup_a(&d("mx1.example.test")).await.expect("answered");
    assert_eq!(secure.proof, Proof::Secure);
    let insecure = r.lookup_a(&d("mx.insecure.test")).await.expect("answered");
    assert_eq!(insecure.proof, Proof::Insecure);
    assert_eq!(insecure.records(), [Ipv4Addr::new(127, 0, 0, 4)]);
    let cases = [
        ("mx.bogus.test", "expired at"),
        ("mx.wrongkey.test", "match no key"),
        ("mx.nods.test", "NSEC record says one exists"),
    ];
    for (name, why) in cases {
        let a = r.lookup_a(&d(name)).await.expect("answered");
        // The records are kept, labelled bogus, with the reason.
        assert_eq!(a.records().len(), 1, "{name}");
        match &a.proof {
            Proof::Bogus {
                reason: Some(reason),
            } => {
                assert!(reason.contains(why), "{name}: {reason}")
            }
            other => panic!("{name}: expected bogus with a reason, got {other:?}"),
        }
    }
    // A denial in a bogus zone is bogus too.
    let nx = r
        .lookup_a(&d("nothere.bogus.test"))
        .await
        .expect("answered");
    assert!(nx.is_nxdomain());
    assert!(nx.proof.is_bogus(), "{:?}", nx.proof);
}

#[tokio::test]
async fn proofs_are_indeterminate_without_validation_or_outside_the_anchors() {
    let lab = lab().start().await.expect("lab starts");
    let mut off = options(&lab);
    off.dnssec = Dnssec::Off;
    let r = Resolver::new(off).await.expect("resolver builds");
    let a = r.lookup_a(&d("mx1.example.test")).await.expect("answered");
    assert_eq!(a.proof, Proof::Indeterminate);
    let nx = r.lookup_a(&d("nope.example.test")).await.expect("answered");
    assert!(nx.is_nxdomain());
    assert_eq!(nx.proof, Proof::Indeterminate);

    // A DS anchor for example.test only: names there validate (the DS is matched against the
    // zone's DNSKEY at start-up); names elsewhere are indeterminate.
    let root = lab.zones().zone_files()[0].text.clone();
    let ds_line = root
        .lines()
        .find(|l| l.starts_with("example.test. ") && l.contains(" DS "))
        .expect("the root delegates example.test with a DS");
    let mut scoped = options(&lab);
    scoped.dnssec = Dnssec::Validate(TrustAnchors::parse(ds_line).expect("DS line parses"));
    let r = Resolver::new(scoped).await.expect("resolver builds");
    assert_eq!(
        r.lookup_a(&d("mx1.example.test"))
            .await
            .expect("answered")
            .proof,
        Proof::Secure
    );
    assert_eq!(
        r.lookup_a(&d("mx.insecure.test"))
            .await
            .expect("answered")
            .proof,
        Proof::Indeterminate
    );
}

#[tokio::test]
async fn trust_anchors_from_a_file() {
    let lab = lab().start().await.expect("lab starts");
    let dir = std::env::temp_dir().join(format!("checktls-dns-anchor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("anchor.zone");
    std::fs::write(
        &path,
        format!("; lab root\n{}\n", lab.zones().trust_anchor_ds()),
    )
    .expect("write");
    let anchors = TrustAnchors::from_file(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let mut o = options(&lab);
    o.dnssec = Dnssec::Validate(anchors.expect("anchor file parses"));
    let r = Resolver::new(o).await.expect("resolver builds");
    assert_eq!(
        r.lookup_mx(&d("example.test"))
            .await
            .expect("answered")
            .proof,
        Proof::Secure
    );
}

#[tokio::test]
async fn tlsa_through_a_cname_and_rfc7672_base_domains() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    // TLSA RRset reached through two CNAMEs (one into another zone).
    let t = r
        .lookup_tlsa(&d("_25._tcp.mx.tlsacname.test"))
        .await
        .expect("answered");
    assert_eq!(t.cnames.len(), 2, "{t:?}");
    assert_eq!(t.canonical_name().as_str(), "_25._tcp.mx1.example.test");
    assert_eq!(t.records().len(), 1);
    assert_eq!(t.records()[0].to_string(), format!("3 1 1 {TLSA_HASH}"));
    assert_eq!(t.proof, Proof::Secure);

    // The MX host is an alias with secure addresses: the TLSA base domain is the expanded name.
    let addrs = r.host_addresses(&d("mx.alias.test"), IpChoice::V4).await;
    let lookup = r.tlsa(&addrs, 25).await.expect("answered");
    assert_eq!(lookup.base.as_str(), "hop2.alias.test");
    assert!(lookup.usable_records().is_some_and(|r| r.len() == 1));

    // A plain host: the base is the host itself; no TLSA means none usable.
    let addrs = r
        .host_addresses(&d("mx2.example.test"), IpChoice::Both)
        .await;
    let lookup = r.tlsa(&addrs, 25).await.expect("answered");
    assert_eq!(lookup.base.as_str(), "mx2.example.test");
    assert!(lookup.answer.is_nxdomain() || lookup.answer.is_nodata());
    assert!(lookup.usable_records().is_none());

    // Insecure host: DANE does not apply, and it says so.
    let addrs = r
        .host_addresses(&d("mx.insecure.test"), IpChoice::Both)
        .await;
    let lookup = r.tlsa(&addrs, 25).await.expect("answered");
    assert!(
        lookup
            .findings
            .iter()
            .any(|f| f.code == "tlsa.insecure_host")
    );
}

#[tokio::test]
async fn mta_sts_tls_rpt_spf_dmarc_bimi_and_dkim_records() {
    let lab = lab()
        .mail_domain(
            MailDomain::new("records.test")
                .mx(10, "mx", [v4(30)])
                .mta_sts("2024a")
                .tls_rpt("mailto:tls@records.test,https://reports.example.test/tls")
                .spf("v=spf1 include:_spf.records.test include:_spf2.records.test a:gone.records.test -all")
                .txt("_spf", "v=spf1 ip4:192.0.2.0/24 mx:records.test ~all")
                .txt("_spf2", "v=spf1 a:mx.records.test a:gone2.records.test -all")
                .dmarc("v=DMARC1; p=quarantine; pct=50; rua=mailto:d@records.test,mailto:agg@reports.example.test,mailto:x@unauthorised.test")
                .bimi("v=BIMI1; l=https://records.test/logo.svg; a=")
                .dkim("sel", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .dkim("selector1", "v=DKIM1; p="),
        )
        .mail_domain(MailDomain::new("reports.example.test").txt("records.test._report._dmarc", "v=DMARC1"))
        .mail_domain(MailDomain::new("unauthorised.test").mx(10, "mx", [v4(31)]))
        .mail_domain(MailDomain::new("sub.records.test").mx(10, "mx", [v4(32)]))
        .start()
        .await
        .expect("lab starts");
    let r = resolver(&lab).await;
    let domain = d("records.test");

    let sts = r.mta_sts(&domain).await.expect("answered");
    assert_eq!(sts.parsed.value.as_ref().expect("valid").id, "2024a");
    assert_eq!(sts.answer.proof, Proof::Secure);

    let rpt = r.tls_rpt(&domain).await.expect("answered");
    assert_eq!(rpt.parsed.value.as_ref().expect("valid").rua.len(), 2);

    let spf = r.spf(&domain).await.expect("answered");
    assert!(spf.parsed.value.is_some());
    // include, include, a:gone; mx:records.test in _spf; a:mx…, a:gone2 in _spf2
    assert_eq!(spf.lookups.lookups, 6, "{:#?}", spf.lookups);
    assert_eq!(spf.lookups.void_lookups, 2); // gone and gone2 do not exist
    assert!(spf.lookups.complete);
    assert!(!spf.lookups.exceeds_limits());
    assert_eq!(spf.lookups.nodes.len(), 3);

    let dmarc = r.dmarc(&domain).await.expect("answered");
    let record = dmarc.parsed.value.as_ref().expect("valid");
    assert_eq!(record.percent, Some(50));
    assert_eq!(
        dmarc.policy_domain.as_ref().map(DomainName::as_str),
        Some("records.test")
    );
    let auth: Vec<(&str, bool)> = dmarc
        .external
        .iter()
        .map(|e| (e.destination.domain.as_str(), e.authorised))
        .collect();
    assert_eq!(
        auth,
        [("reports.example.test", true), ("unauthorised.test", false)]
    );
    assert!(
        dmarc
            .findings
            .iter()
            .any(|f| f.code == "dmarc.external_unauthorised")
    );

    // No _dmarc at the subdomain: the organisational domain's record applies.
    let sub = r.dmarc(&d("sub.records.test")).await.expect("answered");
    assert!(sub.organizational_fallback);
    assert_eq!(
        sub.policy_domain.as_ref().map(DomainName::as_str),
        Some("records.test")
    );
    assert_eq!(sub.answers.len(), 2);
    assert!(sub.answers[0].is_nxdomain() || sub.answers[0].is_nodata());

    let bimi = r.bimi(&domain, "default").await.expect("answered");
    let b = bimi.parsed.value.as_ref().expect("valid");
    assert_eq!(b.logo.as_deref(), Some("https://records.test/logo.svg"));
    assert!(
        bimi.parsed
            .findings
            .iter()
            .any(|f| f.code == "bimi.no_authority")
    );
    let bimi_sub = r
        .bimi(&d("sub.records.test"), "default")
        .await
        .expect("answered");
    assert!(bimi_sub.organizational_fallback);
    assert!(bimi_sub.parsed.value.is_some());

    let dkim = r
        .dkim_selectors(&domain, &["sel".to_owned(), "missing".to_owned()], true)
        .await;
    let found: Vec<(&str, bool, bool)> = dkim
        .iter()
        .map(|c| {
            let exists = c.result.as_ref().is_ok_and(|t| t.parsed.value.is_some());
            (c.selector.as_str(), c.requested, exists)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("sel", true, true),
            ("missing", true, false),
            ("selector1", false, true)
        ]
    );
    let revoked = dkim[2].result.as_ref().expect("answered");
    assert!(revoked.parsed.value.as_ref().expect("parsed").is_revoked());
    assert_eq!(
        dkim[0]
            .result
            .as_ref()
            .expect("answered")
            .parsed
            .value
            .as_ref()
            .expect("key")
            .key_bits(),
        Some(256)
    );
}

#[tokio::test]
async fn reverse_dns_and_forward_confirmation() {
    let lab = lab()
        .reverse_dns(false)
        .mail_domain(
            MailDomain::new("rev.test")
                .mx(10, "mx", [v4(40)])
                .address("other", [v4(99)]),
        )
        .zone(
            "0.0.127.in-addr.arpa",
            Signing::Signed,
            "40 PTR mx.rev.test.\n41 PTR other.rev.test.",
        )
        .start()
        .await
        .expect("lab starts");
    let r = resolver(&lab).await;
    let ok = r.reverse_dns(v4(40)).await.expect("answered");
    assert!(ok.confirmed);
    assert_eq!(ok.ptr.records()[0].as_str(), "mx.rev.test");
    assert_eq!(ok.ptr.proof, Proof::Secure);
    let bad = r.reverse_dns(v4(41)).await.expect("answered");
    assert!(
        !bad.confirmed,
        "other.rev.test resolves to 127.0.0.99, not .41"
    );
    assert_eq!(bad.forward.len(), 1);
    let none = r.reverse_dns(v4(42)).await.expect("answered");
    assert!(none.ptr.is_nxdomain());
    assert!(!none.confirmed);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out() {
    let silent = SilentDns::start().await.expect("bind");
    let mut o = ResolverOptions::default();
    o.nameservers = Nameservers::Given(vec![silent.addr()]);
    o.timeout = Duration::from_secs(2);
    o.attempts = 2;
    let r = Resolver::new(o).await.expect("resolver builds");
    let err = r
        .lookup_mx(&d("example.test"))
        .await
        .expect_err("nobody answers");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_temporary());
    // Discovery keeps going and reports each part's error.
    let found = r
        .discover(&d("example.test"), &DiscoveryOptions::default())
        .await;
    assert!(found.mx.as_ref().is_err_and(Error::is_temporary));
    assert!(
        found
            .spf
            .as_ref()
            .is_some_and(|s| s.as_ref().is_err_and(Error::is_temporary))
    );
}

#[tokio::test]
async fn servfail_is_temporary_and_discovery_keeps_the_rest() {
    let lab = lab()
        .servfail("_mta-sts.example.test", "TXT")
        .start()
        .await
        .expect("lab starts");
    let mut o = options(&lab);
    o.attempts = 1;
    let r = Resolver::new(o).await.expect("resolver builds");
    let found = r
        .discover(&d("example.test"), &DiscoveryOptions::default())
        .await;
    match &found.mta_sts {
        Some(Err(e @ Error::ResponseCode { rcode, .. })) => {
            assert_eq!(*rcode, checktls_dns::Rcode::ServFail);
            assert!(e.is_temporary());
        }
        other => panic!("expected SERVFAIL, got {other:?}"),
    }
    let mx = found.mx.as_ref().expect("the MX set still came");
    assert_eq!(mx.hosts.len(), 2);
    assert!(found.tls_rpt.as_ref().is_some_and(|t| t.is_ok()));
    assert!(found.spf.as_ref().is_some_and(|t| t.is_ok()));
    assert_eq!(found.errors().len(), 1);
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let lab = lab().start().await.expect("lab starts");
    let cached = resolver(&lab).await;
    let name = d("example.test");
    cached.lookup_mx(&name).await.expect("answered");
    let before = lab.queries();
    cached.lookup_mx(&name).await.expect("answered");
    assert_eq!(lab.queries(), before, "a cached answer asks nothing");

    let mut o = options(&lab);
    o.cache = false;
    let uncached = Resolver::new(o).await.expect("resolver builds");
    uncached.lookup_mx(&name).await.expect("answered");
    let before = lab.queries();
    uncached.lookup_mx(&name).await.expect("answered");
    assert!(lab.queries() > before, "without a cache every lookup asks");
}

#[tokio::test]
async fn dns_over_tcp_only() {
    let lab = lab().start().await.expect("lab starts");
    let mut o = options(&lab);
    o.tcp = true;
    let r = Resolver::new(o).await.expect("resolver builds");
    let a = r
        .lookup_mx(&d("example.test"))
        .await
        .expect("answered over TCP");
    assert_eq!(a.records().len(), 2);
    assert_eq!(a.proof, Proof::Secure);
}

#[tokio::test]
async fn asking_a_different_authoritative_server() {
    // The published data, and a staging server with the change not yet published.
    let published = DnsLab::builder()
        .mail_domain(
            MailDomain::new("change.test")
                .signing(Signing::Unsigned)
                .mx(10, "old", [v4(50)])
                .record("@ NS ns.change.test.")
                .record("ns A 127.0.0.1"),
        )
        .start()
        .await
        .expect("lab starts");
    let staging = DnsLab::builder()
        .mail_domain(
            MailDomain::new("change.test")
                .signing(Signing::Unsigned)
                .mx(10, "new", [v4(51)]),
        )
        .start()
        .await
        .expect("lab starts");
    let mut o = options(&published);
    o.authoritative_port = staging.addr().port();
    let r = Resolver::new(o).await.expect("resolver builds");
    let domain = d("change.test");
    let via_cache = r.lookup_mx(&domain).await.expect("answered");
    assert_eq!(via_cache.records()[0].exchange.as_str(), "old.change.test");

    let direct = r
        .with_authoritative(&domain, &[staging.addr()])
        .await
        .expect("resolver builds");
    let answer = direct.lookup_mx(&domain).await.expect("answered");
    assert_eq!(answer.records()[0].exchange.as_str(), "new.change.test");
    assert_eq!(answer.proof, Proof::Insecure);

    // Found through the zone's SOA and NS (ns.change.test is 127.0.0.1, port as configured).
    let mut direct_options = DiscoveryOptions::default();
    direct_options.authoritative = true;
    let found = r.discover(&domain, &direct_options).await;
    assert!(found.authoritative);
    let mx = found.mx.expect("answered");
    assert_eq!(mx.hosts[0].record.exchange.as_str(), "new.change.test");
    assert_eq!(mx.hosts[0].addresses.addresses(), [v4(51)]);
}

#[tokio::test]
async fn whole_domain_discovery_keeps_everything_and_serialises() {
    let lab = lab().start().await.expect("lab starts");
    let r = resolver(&lab).await;
    let mut with_dkim = DiscoveryOptions::default();
    with_dkim.dkim_selectors = vec!["mail".to_owned()];
    let found = r.discover(&d("example.test"), &with_dkim).await;
    assert!(found.errors().is_empty(), "{:?}", found.errors());
    let mx = found.mx.as_ref().expect("answered");
    assert_eq!(mx.hosts.len(), 2);
    assert_eq!(found.hosts.len(), 2);
    let tlsa = found.hosts[0].tlsa[0].as_ref().expect("answered");
    assert_eq!(tlsa.port, 25);
    assert!(tlsa.usable_records().is_some());
    assert!(
        found.hosts[0].reverse[0]
            .as_ref()
            .expect("answered")
            .confirmed
    );
    assert_eq!(
        found.hosts[1].reverse.len(),
        2,
        "mx2 has an IPv4 and an IPv6 address"
    );
    for part in [
        found
            .mta_sts
            .as_ref()
            .map(|r| r.as_ref().map(|t| t.parsed.value.is_some())),
        found
            .tls_rpt
            .as_ref()
            .map(|r| r.as_ref().map(|t| t.parsed.value.is_some())),
        found
            .spf
            .as_ref()
            .map(|r| r.as_ref().map(|t| t.parsed.value.is_some())),
        found
            .dmarc
            .as_ref()
            .map(|r| r.as_ref().map(|t| t.parsed.value.is_some())),
        found
            .bimi
            .as_ref()
            .map(|r| r.as_ref().map(|t| t.parsed.value.is_some())),
    ] {
        assert_eq!(part, Some(Ok(true)));
    }
    assert_eq!(found.dkim.len(), 1);
    let json = serde_json::to_value(&found).expect("serialises");
    assert_eq!(json["mx"]["ok"]["answer"]["proof"]["state"], "secure");
    assert!(matches!(mx.answer.outcome, Outcome::Records(_)));
}

#[tokio::test]
async fn ksk_zsk_csk_and_nsec3_zones_validate() {
    use checktls_lab::dns::{Denial, KeyLayout};
    let lab = DnsLab::builder()
        .reverse_dns(false)
        .mail_domain(MailDomain::new("kz.test").mx(10, "mx", [v4(31)]))
        .mail_domain(
            MailDomain::new("csk.test")
                .key_layout(KeyLayout::Csk)
                .mx(10, "mx", [v4(32)]),
        )
        .mail_domain(
            MailDomain::new("n3.test")
                .denial(Denial::Nsec3 {
                    iterations: 0,
                    opt_out: false,
                })
                .mx(10, "mx", [v4(33)]),
        )
        .mail_domain(
            MailDomain::new("n3high.test")
                .denial(Denial::Nsec3 {
                    iterations: 200,
                    opt_out: false,
                })
                .mx(10, "mx", [v4(34)]),
        )
        .start()
        .await
        .expect("lab starts");
    let r = resolver(&lab).await;
    for zone in ["kz.test", "csk.test", "n3.test", "n3high.test"] {
        let mx = r.lookup_mx(&d(zone)).await.expect("answered");
        assert_eq!(mx.proof, Proof::Secure, "{zone} MX");
        let a = r
            .lookup_a(&d(&format!("mx.{zone}")))
            .await
            .expect("answered");
        assert_eq!(a.proof, Proof::Secure, "{zone} A");
    }
    for (name, want) in [
        ("nothere.kz.test", Proof::Secure),
        ("nothere.n3.test", Proof::Secure),
        // Above hickory's soft limit of 100 iterations (RFC 9276 §3.2): insecure.
        ("nothere.n3high.test", Proof::Insecure),
    ] {
        let answer = r.lookup_mx(&d(name)).await.expect("answered");
        assert_eq!(answer.outcome, Outcome::NxDomain, "{name}");
        assert_eq!(answer.proof, want, "{name}");
    }
    // The zone's own KSK as the anchor (an island of trust), by key and by DS.
    let kz = lab
        .zones()
        .zone_files()
        .iter()
        .find(|z| z.origin == "kz.test.")
        .expect("kz.test")
        .text
        .clone();
    let ksk = kz
        .lines()
        .find(|l| l.contains(" DNSKEY 257 "))
        .expect("a KSK")
        .to_owned();
    let mut o = options(&lab);
    o.dnssec = Dnssec::Validate(TrustAnchors::parse(&ksk).expect("anchor"));
    let island = Resolver::new(o).await.expect("resolver");
    let mx = island.lookup_mx(&d("kz.test")).await.expect("answered");
    assert_eq!(mx.proof, Proof::Secure, "anchored by the KSK alone");
    let root = island.lookup_mx(&d("csk.test")).await.expect("answered");
    assert_eq!(root.proof, Proof::Indeterminate, "outside the anchor");
}

/// Twenty askers of one question at once share one resolution (and one validation), with the
/// cache on; with it off, each resolves its own.
#[tokio::test]
async fn concurrent_askers_of_one_question_share_its_answer() {
    let lab = lab().start().await.expect("lab starts");
    for (cache, expected) in [(true, 1), (false, 20)] {
        let mut o = options(&lab);
        o.cache = cache;
        let r = Resolver::new(o).await.expect("resolver builds");
        let before = r.questions_resolved();
        let name = d("example.test");
        let answers = futures_util::future::join_all((0..20).map(|_| r.lookup_mx(&name))).await;
        for a in &answers {
            let a = a.as_ref().expect("answered");
            assert_eq!(a.proof, Proof::Secure);
            assert_eq!(a.records().len(), 2);
        }
        assert_eq!(
            r.questions_resolved() - before,
            expected,
            "cache {cache}: questions resolved"
        );
        // Asked again, with the cache on: from the cache.
        r.lookup_mx(&d("example.test")).await.expect("answered");
        assert_eq!(r.questions_resolved() - before, if cache { 1 } else { 21 });
    }
}
