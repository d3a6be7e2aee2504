//! The receiver test end to end on the embedded lab: real DNS (signed), real SMTP receivers
//! over real TLS with generated certificates, real HTTPS for MTA-STS, all on loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use checktls::options::{CertNames, LegacyProbe, ReceiverOptions};
use checktls::output::{Format, Level, render};
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, ReceiverReport, Target};
use checktls_lab::dns::{DnsLab, MailDomain};
use checktls_lab::pki::Pki;
use checktls_lab::scenario::Scenario;
use checktls_lab::smtp::{Posture, SmtpReceiver};

async fn checker(lab: &Scenario, tweak: impl FnOnce(&mut ReceiverOptions)) -> Checker {
    let mut opts = ReceiverOptions::default();
    opts.port = Some(lab.smtp_port());
    opts.timeout = Duration::from_secs(5);
    opts.resolver.nameservers = vec![lab.dns_addr()];
    opts.allow_non_global = true; // the lab lives on loopback
    opts.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    tweak(&mut opts);
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).unwrap();
    let mut routes = StaticConnector::new().allowing_non_global();
    for (h, a) in lab.https_routes() {
        routes.insert(h, *a);
    }
    Checker::builder(opts)
        .trust(trust)
        .https_connector(Arc::new(routes))
        .build()
        .await
        .unwrap()
}

async fn check(c: &Checker, target: &str) -> ReceiverReport {
    c.check(&target.parse::<Target>().unwrap()).await.unwrap()
}

#[tokio::test]
async fn every_posture_lands_in_its_band() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    for d in lab.domains() {
        let r = check(&c, d.domain).await;
        assert!(
            (d.expect.0..=d.expect.1).contains(&r.score()),
            "{} ({}): {} not in {:?}\n{}",
            d.domain,
            d.posture,
            r.score(),
            d.expect,
            render(&r, Level::Detail, Format::Text)
        );
    }
}

#[tokio::test]
async fn calibration_points_and_the_four_figures() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "tls13.test").await;
    assert_eq!(r.score(), 114);
    let r = check(&c, "expired.test").await;
    assert_eq!(r.score(), 112);
    let cert = r.mx[0].certificate.as_ref().unwrap();
    assert!(cert.chain_valid && cert.expired && cert.days_to_expiry.unwrap() < 0);
    let r = check(&c, "best.test").await;
    let cf = &r.confidence_factor;
    assert_eq!(
        (cf.score, cf.max, cf.percent, cf.best_in_class),
        (121, 121, 100, 121)
    );
    assert_eq!(r.mx[0].dane.status.name(), "matched");
    assert_eq!(r.mx[0].mta_sts.verdict.name(), "pass");
    assert_eq!(
        r.mta_sts.as_ref().unwrap().mode.map(|m| m.name()),
        Some("enforce")
    );
}

#[tokio::test]
async fn stages_and_tls_of_an_address_target() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "someone@tls13.test").await;
    let h = &r.mx[0];
    let names: Vec<(&str, bool)> = h.stages.iter().map(|s| (s.stage.name(), s.ok)).collect();
    assert_eq!(
        names,
        [
            ("answer", true),
            ("connect", true),
            ("ehlo", true),
            ("tls_offered", true),
            ("cert", true),
            ("secure", true),
            ("mail_from", true),
            ("rcpt_to", true)
        ]
    );
    assert_eq!(h.tls.as_ref().unwrap().version.name(), "TLSv1.3");
    assert_eq!(h.port, lab.smtp_port());
    assert_eq!(h.address.unwrap().to_string(), "127.0.0.21");
    assert!(
        h.transcript
            .iter()
            .any(|l| l.contains("~~> RCPT TO:<someone@tls13.test>"))
    );
    // The plain receiver: no TLS, Cert not run, Secure failed.
    let r = check(&c, "plain.test").await;
    let h = &r.mx[0];
    assert!(h.tls.is_none() && h.certificate.is_none());
    assert!(h.findings.iter().any(|f| f.code == "smtp.no_starttls"));
}

#[tokio::test]
async fn json_has_the_documented_fields() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "best.test").await;
    let v: serde_json::Value =
        serde_json::from_str(&render(&r, Level::Matrix, Format::Json)).unwrap();
    assert_eq!(v["target"], "best.test");
    for k in ["score", "max", "percent", "best_in_class"] {
        assert!(v["confidence_factor"][k].is_u64(), "{k}");
    }
    let mx = &v["mx"][0];
    for k in [
        "name",
        "preference",
        "address",
        "port",
        "score",
        "stages",
        "tls",
        "certificate",
        "dane",
        "mta_sts",
    ] {
        assert!(!mx[k].is_null(), "mx.{k} missing: {mx}");
    }
    assert_eq!(mx["stages"][0]["stage"], "answer");
    assert!(mx["stages"][0]["ok"].is_boolean() && mx["stages"][0]["ms"].is_u64());
    assert_eq!(mx["tls"]["version"], "TLSv1.3");
    assert!(
        mx["tls"]["cipher"].as_str().unwrap().starts_with("TLS13_")
            || mx["tls"]["cipher"].as_str().unwrap().starts_with("TLS_")
    );
    for k in ["chain_valid", "name_match", "expired", "days_to_expiry"] {
        assert!(!mx["certificate"][k].is_null(), "certificate.{k}");
    }
    assert!(
        mx.get("transcript").is_none(),
        "no transcript below level smtp"
    );
    let v: serde_json::Value =
        serde_json::from_str(&render(&r, Level::Smtp, Format::Json)).unwrap();
    assert!(v["mx"][0]["transcript"].as_array().unwrap().len() > 5);
    // A host without TLS has null tls and certificate.
    let r = check(&c, "plain.test").await;
    let v: serde_json::Value =
        serde_json::from_str(&render(&r, Level::Matrix, Format::Json)).unwrap();
    assert!(v["mx"][0]["tls"].is_null() && v["mx"][0]["certificate"].is_null());
}

#[tokio::test]
async fn xml_is_well_formed_with_checktls_names() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "user@best.test").await;
    for level in [
        Level::Score,
        Level::Matrix,
        Level::Detail,
        Level::CertDetail,
    ] {
        let xml = render(&r, level, Format::Xml);
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut depth = 0i32;
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(_) => depth += 1,
                quick_xml::events::Event::End(_) => depth -= 1,
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0);
        for name in [
            "<CheckTLS",
            "<eMailAddress>user@best.test</eMailAddress>",
            "<ConfidenceFactor>121</ConfidenceFactor>",
            "<MX name=\"mx.best.test\"",
        ] {
            assert!(xml.contains(name), "{level:?}: {name}\n{xml}");
        }
        if level >= Level::Matrix {
            assert!(xml.contains("<SSLVersion>TLSv1_3</SSLVersion>"), "{xml}");
        }
        if level >= Level::Detail {
            assert!(
                xml.contains("<Certs count=\"2\">")
                    && xml.contains("<commonName>mx.best.test</commonName>"),
                "{xml}"
            );
        }
    }
}

#[tokio::test]
async fn text_levels() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |o| o.record_raw = true).await;
    let r = check(&c, "u@expired.test").await;
    let score = render(&r, Level::Score, Format::Text);
    assert!(score.contains("Confidence Factor: 112") && !score.contains("MX Server"));
    let matrix = render(&r, Level::Matrix, Format::Text);
    assert!(matrix.contains("MX Server") && matrix.contains("Average") && matrix.contains("FAIL"));
    let smtp = render(&r, Level::Smtp, Format::Text);
    assert!(
        smtp.contains("Trying TLS on mx.expired.test[127.0.0.23]") && smtp.contains(" ~~> EHLO")
    );
    let detail = render(&r, Level::Detail, Format::Text);
    assert!(detail.contains("Certificate 1 of 2 in chain:") && detail.contains("EXPIRED"));
    let certdetail = render(&r, Level::CertDetail, Format::Text);
    assert!(certdetail.contains("-----BEGIN CERTIFICATE-----"));
    assert!(!detail.contains("-----BEGIN CERTIFICATE-----"));
    let ssl = render(&r, Level::SslDetail, Format::Text);
    assert!(ssl.contains("Key exchange:"));
    let debug = render(&r, Level::Debug, Format::Text);
    assert!(debug.contains(">>> sent") && !debug.contains("Confidence Factor"));
}

#[tokio::test]
async fn given_host_quick_mode_and_shared_probes() {
    let lab = Scenario::start().await.unwrap();
    let port = lab.smtp_port();
    let c = checker(&lab, |_| {}).await;
    // A given host skips MX discovery.
    let r = check(&c, &format!("u@elsewhere.test[mx.tls13.test:{port}]")).await;
    assert_eq!(r.mx.len(), 1);
    assert_eq!(r.mx[0].name, "mx.tls13.test");
    assert_eq!(r.score(), 114);
    // Two targets sharing an MX address, in one run: probed once.
    let run = c.run();
    let before = run.probes_run();
    run.check(&"plain.test".parse().unwrap()).await.unwrap();
    let after_plain = run.probes_run();
    run.check(&"twomx.test".parse().unwrap()).await.unwrap();
    assert_eq!(
        run.probes_run(),
        after_plain + 1,
        "mx.plain.test was probed once ({before})"
    );
    // A check outside the run observes afresh, and leaves the run alone.
    check(&c, "plain.test").await;
    assert_eq!(run.probes_run(), after_plain + 1);
    // Quick: the first answering host only, QFactor.
    let q = checker(&lab, |o| {
        *o = {
            let mut q = ReceiverOptions::quick();
            q.port = o.port;
            q.resolver = o.resolver.clone();
            q.allow_non_global = o.allow_non_global;
            q
        }
    })
    .await;
    let r = check(&q, "twomx.test").await;
    assert_eq!(
        r.score(),
        114,
        "{}",
        render(&r, Level::Matrix, Format::Text)
    );
    assert!(r.mx[1].stages.is_empty());
    assert_eq!(
        r.mx[0].stages.last().map(|s| s.stage.name()),
        Some("secure")
    );
}

#[tokio::test]
async fn ignore_no_connect_and_nothing_tested() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "unreachable.test").await;
    assert!(!r.tested);
    assert_eq!(r.score(), 50);
    let c = checker(&lab, |o| o.ignore_no_connect = true).await;
    let r = check(&c, "twomx.test").await;
    assert!(r.tested);
}

#[tokio::test]
async fn assure_tls_gives_assuredness() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |o| o.assure_tls = true).await;
    let r = check(&c, "tls13.test").await;
    let a = r.assuredness.as_ref().unwrap();
    assert_eq!(
        a.factor, 0,
        "the lab receiver accepts MAIL FROM in plaintext"
    );
    assert!(
        r.mx[0]
            .findings
            .iter()
            .any(|f| f.code == "smtp.plaintext_accepted")
    );
}

#[tokio::test]
async fn a_tls10_only_server_is_found_by_the_legacy_prober() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "legacy10.test").await;
    assert!(
        (64..=74).contains(&r.score()),
        "{}",
        render(&r, Level::Detail, Format::Text)
    );
    let h = &r.mx[0];
    let tls = h.tls.as_ref().unwrap();
    assert_eq!((tls.version.name(), tls.source.name()), ("TLSv1", "prober"));
    assert!(tls.deprecated);
    assert!(
        h.certificate.as_ref().unwrap().chain_valid,
        "the chain came in the clear"
    );
    assert!(h.findings.iter().any(|f| f.code == "tls.legacy_only"));
    let probe = h.sslprobe.as_ref().unwrap();
    assert_eq!(probe.best, Some(checktls::tls::TlsVersion::Tls10));
    let text = render(&r, Level::SslProbe, Format::Text);
    assert!(
        text.contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
        "{text}"
    );
    // The sslprobe level lists every version of a modern host too.
    let c = checker(&lab, |o| o.legacy_probe = LegacyProbe::Full).await;
    let r = check(&c, "tls13.test").await;
    let probe = r.mx[0].sslprobe.as_ref().unwrap();
    assert_eq!(probe.best, Some(checktls::tls::TlsVersion::Tls13));
    assert!(probe.findings.is_empty(), "{:?}", probe.findings);
    assert_eq!(r.score(), 114);
    let text = render(&r, Level::SslProbe, Format::Text);
    assert!(
        text.contains("heartbleed") && text.contains("groups (TLSv1.3)"),
        "{text}"
    );
    let xml = render(&r, Level::SslProbe, Format::Xml);
    assert!(
        xml.contains("<SSLProbe>") && xml.contains("<Check name=\"heartbleed\""),
        "{xml}"
    );
}

#[tokio::test]
async fn revocation_over_ocsp() {
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "revoked.test").await;
    let h = &r.mx[0];
    assert_eq!(
        (
            h.revocation.status.name(),
            h.revocation.source.map(|s| s.name())
        ),
        ("revoked", Some("ocsp"))
    );
    assert!(h.stages.iter().any(|s| s.stage.name() == "cert" && !s.ok));
    assert!(h.findings.iter().any(|f| f.code == "cert.revoked"));
    assert!((104..=113).contains(&r.score()));
    let r = check(&c, "best.test").await;
    assert_eq!(r.mx[0].revocation.status.name(), "good");
    // Turned off (CheckTLS's CHECKOCSP off): not checked, and the revoked host scores as valid.
    let c = checker(&lab, |o| o.revocation = false).await;
    let r = check(&c, "revoked.test").await;
    assert_eq!(r.mx[0].revocation.status.name(), "not_checked");
    assert_eq!(r.score(), 114);
}

/// DANE through a CNAME (RFC 7672 §2.2.2): the TLSA name is an alias of a record in another
/// signed zone; the receiver test follows it and matches.
#[tokio::test]
async fn dane_tlsa_through_a_cname() {
    use checktls_lab::dns::{DnsLab, MailDomain};
    use checktls_lab::pki::Pki;
    use checktls_lab::smtp::{Posture, SmtpReceiver};
    use std::net::{IpAddr, Ipv4Addr};

    let pki = Pki::generate(std::time::SystemTime::now()).unwrap();
    let leaf = pki.valid("mx.alias.test").unwrap();
    let rx = SmtpReceiver::start(
        "127.0.0.41:0".parse().unwrap(),
        Posture::tls(&leaf).unwrap(),
    )
    .await
    .unwrap();
    let port = rx.addr().port();
    let spki = x509_parser::parse_x509_certificate(leaf.cert().as_ref())
        .unwrap()
        .1;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.tbs_certificate.subject_pki.raw);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let dns = DnsLab::builder()
        .mail_domain(
            MailDomain::new("alias.test")
                .mx(10, "mx", [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 41))])
                .cname(&format!("_{port}._tcp.mx"), "tlsa.keys.test"),
        )
        .mail_domain(MailDomain::new("keys.test").record(&format!("tlsa TLSA 3 1 1 {hex}")))
        .start()
        .await
        .unwrap();
    let mut opts = ReceiverOptions::default();
    opts.port = Some(port);
    opts.resolver.nameservers = vec![dns.addr()];
    opts.allow_non_global = true; // the lab lives on loopback
    opts.resolver.dnssec_anchors = Some(dns.trust_anchor().to_owned());
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let c = Checker::builder(opts).trust(trust).build().await.unwrap();
    let r = check(&c, "alias.test").await;
    let d = &r.mx[0].dane;
    assert_eq!(d.status.name(), "matched", "{d:?}");
    assert!(d.matched.as_deref().unwrap().contains("at depth 0"));
}

/// Many addresses at one domain: a test that stops before RCPT TO holds one dialog per MX
/// address for all of them (examples/check_many.rs); one that reaches RCPT TO asks the server
/// about each recipient, so it holds one dialog per address and MX address, and the RCPT TO
/// stage appears in each report.
#[tokio::test]
async fn addresses_of_one_domain_share_dialogs_only_before_rcpt_to() {
    use checktls::options::StopAfter;
    let lab = Scenario::start().await.unwrap();
    let addresses: Vec<Target> = (0..40)
        .map(|i| format!("user{i}@twomx.test").parse().unwrap())
        .collect();

    let c = checker(&lab, |o| o.stop_after = StopAfter::MailFrom).await;
    let run = c.run();
    let mut grades = Vec::new();
    for t in &addresses {
        let r = run.check(t).await.unwrap();
        assert_eq!(r.mx.len(), 2);
        assert!(
            r.mx.iter()
                .all(|h| h.stages.iter().all(|s| s.stage.name() != "rcpt_to"))
        );
        grades.push(r.score());
    }
    assert_eq!(
        run.probes_run(),
        2,
        "one dialog per MX address for 40 addresses"
    );
    assert!(grades.windows(2).all(|w| w[0] == w[1]), "{grades:?}");

    let c = checker(&lab, |o| o.stop_after = StopAfter::RcptTo).await;
    let run = c.run();
    for t in &addresses[..5] {
        let r = run.check(t).await.unwrap();
        assert!(
            r.mx.iter()
                .any(|h| h.stages.iter().any(|s| s.stage.name() == "rcpt_to")),
            "{}",
            render(&r, Level::Matrix, Format::Text)
        );
    }
    assert_eq!(
        run.probes_run(),
        10,
        "one dialog per address and MX address"
    );
}

/// The TLS versions option reaches the handshake: TLS 1.2 only against a host that speaks
/// 1.3 and 1.2 negotiates 1.2, and is graded in the TLS 1.2 band.
#[tokio::test]
async fn tls_versions_choose_what_is_offered() {
    use checktls::options::VersionChoice;
    let lab = Scenario::start().await.unwrap();
    let c = checker(&lab, |o| o.tls_versions = VersionChoice::Tls12Only).await;
    let r = check(&c, "tls13.test").await;
    let tls = r.mx[0].tls.as_ref().expect("TLS");
    assert_eq!(
        tls.version.name(),
        "TLSv1.2",
        "{}",
        render(&r, Level::Matrix, Format::Text)
    );
    let full = checker(&lab, |_| {}).await;
    assert!(r.score() < check(&full, "tls13.test").await.score());
}

/// Which names a certificate may carry (CheckTLS's name-matching choice): a receiver whose
/// certificate names the mail domain but not the MX host fails the Cert stage by default
/// (what CheckTLS checks) and passes when the domain is accepted, with a warning that says
/// why it passed.
#[tokio::test]
async fn a_certificate_naming_the_domain_passes_only_when_the_domain_is_accepted() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let ip = Ipv4Addr::new(127, 0, 14, 1);
    let dns = DnsLab::builder()
        .mail_domain(MailDomain::new("domaincert.test").mx(10, "mx", [IpAddr::V4(ip)]))
        .start()
        .await
        .unwrap();
    let leaf = pki.valid("domaincert.test").unwrap();
    let rx = SmtpReceiver::start(
        SocketAddr::new(IpAddr::V4(ip), 0),
        Posture::tls(&leaf).unwrap().banner("mx.domaincert.test"),
    )
    .await
    .unwrap();
    let checker = |names: CertNames| {
        let mut opts = ReceiverOptions::default();
        opts.port = Some(rx.addr().port());
        opts.timeout = Duration::from_secs(5);
        opts.revocation = false;
        opts.resolver.nameservers = vec![dns.addr()];
        opts.resolver.dnssec_anchors = Some(dns.trust_anchor().to_owned());
        opts.allow_non_global = true; // the lab lives on loopback
        opts.cert_names = names;
        let mut trust = TrustStore::empty();
        trust.add_der(pki.root().der().clone()).unwrap();
        Checker::builder(opts).trust(trust).build()
    };
    let cert_stage = |r: &ReceiverReport| {
        r.mx[0]
            .stages
            .iter()
            .find(|s| s.stage.name() == "cert")
            .map(|s| s.ok)
    };

    let strict = checker(CertNames::MxHost).await.unwrap();
    let r = check(&strict, "postmaster@domaincert.test").await;
    let text = render(&r, Level::Detail, Format::Text);
    assert_eq!(cert_stage(&r), Some(false), "{text}");
    let cert = r.mx[0].certificate.as_ref().expect("a certificate");
    assert_eq!(cert.name_match, Some(false), "{text}");
    assert!(cert.chain_valid, "only the name is wrong: {text}");
    assert!(
        !r.mx[0]
            .findings
            .iter()
            .any(|f| f.code == "cert.names_the_domain")
    );

    let lenient = checker(CertNames::MxHostOrDomain).await.unwrap();
    let r2 = check(&lenient, "postmaster@domaincert.test").await;
    let text2 = render(&r2, Level::Detail, Format::Text);
    assert_eq!(cert_stage(&r2), Some(true), "{text2}");
    let cert = r2.mx[0].certificate.as_ref().expect("a certificate");
    assert_eq!(cert.name_match, Some(true), "{text2}");
    assert_eq!(cert.matched_name.as_deref(), Some("domaincert.test"));
    let warned = r2.mx[0]
        .findings
        .iter()
        .find(|f| f.code == "cert.names_the_domain")
        .unwrap_or_else(|| panic!("the reason it passed: {text2}"));
    assert!(
        warned.message.contains("mx.domaincert.test"),
        "{}",
        warned.message
    );
    assert!(
        r2.score() > r.score(),
        "the right name scores: {} vs {}",
        r2.score(),
        r.score()
    );

    // An IP target has no domain: the choice changes nothing (and given without SNI, an
    // address has no host name to check either way).
    let ip_target = format!("{}:{}", ip, rx.addr().port());
    let r3 = check(&lenient, &ip_target).await;
    let cert = r3.mx[0].certificate.as_ref().expect("a certificate");
    assert_eq!(cert.name_match, None);
}
