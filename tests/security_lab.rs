//! What a hostile receiver cannot make the receiver test do, on the embedded lab: get AUTH
//! credentials without verified TLS, steer revocation fetches to loopback or link-local
//! addresses, pass a forged stapled OCSP response off as good, make us probe thousands of
//! addresses, smuggle control characters into the output, or hold the test past its
//! deadline. And a long-lived checker sees a server that changed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use checktls::options::{AuthCredentials, ReceiverOptions};
use checktls::output::{Format, Level, render};
use checktls::report::{HostReport, ReceiverReport};
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::dns::{DnsLab, MailDomain};
use checktls_lab::ocsp::{CertState, OcspMode, Responder, RevocationServer};
use checktls_lab::pki::{Leaf, LeafIssuer, LeafSpec, Pki};
use checktls_lab::smtp::{Behaviour, Posture, SmtpReceiver};

const NAME: &str = "mx.auth.test";

fn lab_trust(pki: &Pki) -> TrustStore {
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).expect("root");
    trust
}

/// A checker for a given host `127.0.0.1:port` named by SNI, with AUTH credentials.
async fn auth_checker(pki: &Pki, tweak: impl FnOnce(&mut ReceiverOptions)) -> Checker {
    let mut o = ReceiverOptions::default();
    o.timeout = Duration::from_secs(5);
    o.sni = Some(NAME.into());
    o.revocation = false;
    o.auth = Some(AuthCredentials {
        user: "bob".into(),
        password: "hunter2".into(),
        login: false,
    });
    tweak(&mut o);
    Checker::builder(o)
        .trust(lab_trust(pki))
        .build()
        .await
        .expect("checker")
}

async fn check_at(c: &Checker, addr: SocketAddr) -> ReceiverReport {
    let t: Target = format!("postmaster@auth.test[{}:{}]", addr.ip(), addr.port())
        .parse()
        .expect("target");
    c.check(&t).await.expect("report")
}

fn host(r: &ReceiverReport) -> &HostReport {
    r.mx.first().expect("one host")
}

fn stage_ok(h: &HostReport, name: &str) -> Option<bool> {
    h.stages
        .iter()
        .find(|s| s.stage.name() == name)
        .map(|s| s.ok)
}

fn auth_lines(rx: &SmtpReceiver) -> Vec<String> {
    rx.seen()
        .commands
        .into_iter()
        .filter(|c| c.to_ascii_uppercase().starts_with("AUTH"))
        .collect()
}

async fn receiver(posture: Posture) -> SmtpReceiver {
    SmtpReceiver::start("127.0.0.1:0".parse().expect("addr"), posture)
        .await
        .expect("receiver")
}

#[tokio::test]
async fn credentials_go_only_over_verified_tls() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let c = auth_checker(&pki, |_| {}).await;
    let cases: Vec<(&str, Posture, &str)> = vec![
        (
            "STARTTLS stripped, AUTH offered",
            Posture::plain().auth("bob", "hunter2"),
            "not encrypted",
        ),
        (
            "self-signed",
            Posture::tls(&pki.self_signed(NAME).expect("leaf"))
                .expect("posture")
                .auth("bob", "hunter2"),
            "self-signed",
        ),
        (
            "another name",
            Posture::tls(&pki.wrong_name().expect("leaf"))
                .expect("posture")
                .auth("bob", "hunter2"),
            "does not name",
        ),
        (
            "expired",
            Posture::tls(&pki.expired(NAME).expect("leaf"))
                .expect("posture")
                .auth("bob", "hunter2"),
            "expired",
        ),
    ];
    for (what, posture, why) in cases {
        let rx = receiver(posture).await;
        let r = check_at(&c, rx.addr()).await;
        let h = host(&r);
        assert!(auth_lines(&rx).is_empty(), "{what}: the server saw AUTH");
        let withheld = h
            .findings
            .iter()
            .find(|f| f.code == "smtp.auth_withheld")
            .unwrap_or_else(|| panic!("{what}: no finding: {:?}", h.findings));
        assert!(
            withheld.message.contains(why),
            "{what}: {}",
            withheld.message
        );
        assert_eq!(stage_ok(h, "mail_from"), Some(false), "{what}");
        assert!(
            h.error.as_deref().is_some_and(|e| e.contains("withheld")),
            "{what}: {:?}",
            h.error
        );
    }
    // A certificate that passes: AUTH goes through, and MAIL FROM after it.
    let rx = receiver(
        Posture::tls(&pki.valid(NAME).expect("leaf"))
            .expect("posture")
            .auth("bob", "hunter2"),
    )
    .await;
    let r = check_at(&c, rx.addr()).await;
    let h = host(&r);
    assert_eq!(auth_lines(&rx).len(), 1, "{:?}", h.transcript);
    assert_eq!(stage_ok(h, "mail_from"), Some(true), "{:?}", h.transcript);
    assert_eq!(stage_ok(h, "rcpt_to"), Some(true));
    let text = render(&r, Level::Smtp, Format::Text);
    assert!(text.contains("AUTH PLAIN <redacted>") && !text.contains("hunter2"));
}

#[tokio::test]
async fn the_dangerous_option_sends_over_unverified_tls_and_says_so() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let c = auth_checker(&pki, |o| o.danger_auth_over_unverified_tls = true).await;
    let rx = receiver(
        Posture::tls(&pki.self_signed(NAME).expect("leaf"))
            .expect("posture")
            .auth("bob", "hunter2"),
    )
    .await;
    let r = check_at(&c, rx.addr()).await;
    assert_eq!(auth_lines(&rx).len(), 1);
    assert!(
        host(&r)
            .findings
            .iter()
            .any(|f| f.code == "smtp.auth_over_unverified_tls")
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "smtp.danger_auth_over_unverified_tls")
    );
    // Never in plaintext, even then.
    let plain = receiver(Posture::plain().auth("bob", "hunter2")).await;
    check_at(&c, plain.addr()).await;
    assert!(auth_lines(&plain).is_empty());
}

#[tokio::test]
async fn control_characters_in_any_option_are_refused_before_anything_is_sent() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    for tweak in [
        (|o: &mut ReceiverOptions| o.ehlo_name = "x\r\nMAIL FROM:<a@b>".into())
            as fn(&mut ReceiverOptions),
        |o| o.mail_from = "a@b>\nRCPT TO:<c@d>".into(),
        |o| {
            if let Some(a) = &mut o.auth {
                a.password = "pw\0x".into();
            }
        },
    ] {
        let mut o = ReceiverOptions::default();
        o.auth = Some(AuthCredentials {
            user: "bob".into(),
            password: "pw".into(),
            login: false,
        });
        tweak(&mut o);
        let err = Checker::builder(o)
            .trust(lab_trust(&pki))
            .build()
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("control character"), "{err}");
    }
}

/// A leaf for `NAME` with revocation URLs, issued as `issuer` says.
fn leaf_with_urls(pki: &Pki, issuer: LeafIssuer, ocsp: String, crl: String) -> Leaf {
    let mut spec = LeafSpec::new(&[NAME], pki.now());
    spec.issuer = issuer;
    spec.ocsp_url = Some(ocsp);
    spec.crl_url = Some(crl);
    pki.leaf(&spec).expect("leaf")
}

async fn revocation_checker(pki: &Pki, allow_non_global: bool) -> Checker {
    let mut o = ReceiverOptions::default();
    o.timeout = Duration::from_secs(5);
    o.sni = Some(NAME.into());
    o.revocation = true;
    o.allow_non_global = allow_non_global;
    Checker::builder(o)
        .trust(lab_trust(pki))
        .build()
        .await
        .expect("checker")
}

#[tokio::test]
async fn a_peer_cannot_steer_revocation_fetches() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .expect("responder");
    // A self-signed leaf naming the loopback responder and the link-local metadata address:
    // its chain validates to nothing, so no URL of it is followed, allowed or not.
    let selfsigned = leaf_with_urls(
        &pki,
        LeafIssuer::SelfSigned,
        server.ocsp_url(),
        "http://169.254.169.254/latest/meta-data/crl".into(),
    );
    let rx = receiver(Posture::tls(&selfsigned).expect("posture")).await;
    for allow in [false, true] {
        let r = check_at(&revocation_checker(&pki, allow).await, rx.addr()).await;
        let rev = &host(&r).revocation;
        assert_eq!(rev.status.name(), "could_not_check", "{rev:?}");
        assert!(rev.detail.contains("does not validate"), "{rev:?}");
    }
    assert_eq!(server.requests(), 0, "no fetch for a self-signed leaf");

    // A leaf that validates, whose responder is on loopback: not fetched unless allowed.
    let revoked = leaf_with_urls(
        &pki,
        LeafIssuer::Intermediate,
        server.ocsp_url(),
        server.crl_url(),
    );
    server.set(&revoked.serial, CertState::Revoked { reason: 1 });
    let rx = receiver(Posture::tls(&revoked).expect("posture")).await;
    let r = check_at(&revocation_checker(&pki, false).await, rx.addr()).await;
    let rev = &host(&r).revocation;
    assert_eq!(rev.status.name(), "could_not_check", "{rev:?}");
    assert!(rev.detail.contains("not a global address"), "{rev:?}");
    assert_eq!(
        server.requests(),
        0,
        "nothing reached the loopback responder"
    );
    let r = check_at(&revocation_checker(&pki, true).await, rx.addr()).await;
    assert_eq!(host(&r).revocation.status.name(), "revoked");
    assert!(server.requests() > 0);
}

#[tokio::test]
async fn a_staple_signed_by_an_impostor_issuer_is_never_good() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let server = RevocationServer::start(&pki, OcspMode::Normal)
        .await
        .expect("responder");
    let mut leaf = leaf_with_urls(
        &pki,
        LeafIssuer::Intermediate,
        server.ocsp_url(),
        server.crl_url(),
    );
    server.set(&leaf.serial, CertState::Revoked { reason: 1 });
    // The impostor has the real intermediate's name and its own key; the server sends it
    // second (where a naive check looks for the issuer), the real intermediate third, and
    // staples a "good" the impostor signed.
    let impostor = pki.impostor_intermediate().expect("impostor");
    let staple = Responder::signing_as(&impostor)
        .expect("responder")
        .staple(leaf.cert(), CertState::Good, pki.now())
        .expect("staple");
    leaf.chain = vec![
        leaf.cert().clone(),
        impostor.der().clone(),
        pki.intermediate().der().clone(),
    ];
    let config = leaf
        .server_config(
            &[&rustls::version::TLS13, &rustls::version::TLS12],
            Some(staple),
        )
        .expect("config");
    let rx = receiver(Posture::plain().with_tls_config(config)).await;
    // The responder reachable: the truth (revoked). Not reachable: no verdict. Never good.
    for (allow, want) in [(true, "revoked"), (false, "could_not_check")] {
        let r = check_at(&revocation_checker(&pki, allow).await, rx.addr()).await;
        let h = host(&r);
        let cert = h.certificate.as_ref().expect("certificate");
        assert!(
            cert.chain_valid,
            "the real path validates: {:?}",
            cert.problems
        );
        assert_eq!(h.revocation.status.name(), want, "{:?}", h.revocation);
    }
}

#[tokio::test]
async fn an_mx_set_of_five_thousand_addresses_is_probed_within_the_caps() {
    // 50 MX hosts with 100 addresses each; one of them is a real lab receiver.
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let rx =
        receiver(Posture::tls(&pki.valid("mx0.many.test").expect("leaf")).expect("posture")).await;
    let mut domain = MailDomain::new("many.test");
    for h in 0..50u8 {
        let addrs: Vec<IpAddr> = (0..100u8)
            .map(|a| {
                if h == 0 && a == 0 {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    IpAddr::V4(Ipv4Addr::new(127, 77, h, a + 1))
                }
            })
            .collect();
        domain = domain.mx(10, &format!("mx{h}"), addrs);
    }
    let dns = DnsLab::builder()
        .mail_domain(domain)
        .start()
        .await
        .expect("dns");
    for allow in [false, true] {
        let mut o = ReceiverOptions::default();
        o.port = Some(rx.addr().port());
        o.timeout = Duration::from_secs(2);
        o.revocation = false;
        o.allow_non_global = allow;
        o.resolver.nameservers = vec![dns.addr()];
        o.resolver.dnssec_anchors = Some(dns.trust_anchor().to_owned());
        let c = Checker::builder(o)
            .trust(lab_trust(&pki))
            .build()
            .await
            .expect("checker");
        let before = rx.connections();
        let r = c
            .check(&"many.test".parse().expect("target"))
            .await
            .expect("report");
        let with_address = r.mx.iter().filter(|h| h.address.is_some()).count();
        assert!(with_address <= 32, "{with_address} addresses in the report");
        assert!(r.findings.iter().any(|f| f.code == "dns.probes_capped"));
        assert!(
            r.mx.iter()
                .any(|h| h.findings.iter().any(|f| f.code == "dns.addresses_capped"))
        );
        let answered = r.mx.iter().filter(|h| h.answered()).count();
        if allow {
            assert!(rx.connections() > before, "the lab receiver was probed");
            assert!(answered >= 1);
        } else {
            assert_eq!(rx.connections(), before, "no non-global address is probed");
            assert_eq!(answered, 0);
            assert!(r.mx.iter().all(|h| {
                h.findings
                    .iter()
                    .any(|f| f.code == "dns.non_global_address")
            }));
        }
    }
}

#[tokio::test]
async fn control_characters_from_a_peer_are_escaped_in_every_level_and_format() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let banner = "mx\u{1b}[2J\u{7}evil\u{0}\u{85}\u{9b}31m\u{fffe}";
    let rx = receiver(
        Posture::tls(&pki.valid(NAME).expect("leaf"))
            .expect("posture")
            .banner(banner),
    )
    .await;
    let mut o = ReceiverOptions::default();
    o.timeout = Duration::from_secs(5);
    o.sni = Some(NAME.into());
    o.revocation = false;
    o.record_raw = true;
    let c = Checker::builder(o)
        .trust(lab_trust(&pki))
        .build()
        .await
        .expect("checker");
    let r = check_at(&c, rx.addr()).await;
    assert!(
        host(&r).transcript.iter().any(|l| l.contains('\u{1b}')),
        "the report keeps what the server sent"
    );
    let bad = |c: char| (c.is_control() && c != '\n') || c == '\u{fffe}';
    for level in Level::ALL {
        let text = render(&r, level, Format::Text);
        assert!(!text.chars().any(bad), "{level:?} text: {text:?}");
        let json = render(&r, level, Format::Json);
        assert!(!json.chars().any(bad), "{level:?} json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON parses");
        assert!(value.is_object());
        let xml = render(&r, level, Format::Xml);
        assert!(
            !xml.chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{fffe}'),
            "{level:?} xml"
        );
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{level:?}: XML not well-formed: {e}"),
            }
        }
    }
    let smtp = render(&r, Level::Smtp, Format::Text);
    assert!(
        smtp.contains("mx\\x1b[2J\\x07evil\\x00\\u{85}\\u{9b}31m\\u{fffe}"),
        "{smtp}"
    );
}

#[tokio::test]
async fn a_long_lived_checker_sees_a_changed_server_and_keeps_nothing() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid(NAME).expect("leaf");
    let rx = receiver(Posture::tls(&leaf).expect("posture")).await;
    let mut o = ReceiverOptions::default();
    o.timeout = Duration::from_secs(5);
    o.sni = Some(NAME.into());
    o.revocation = false;
    let c = Checker::builder(o)
        .trust(lab_trust(&pki))
        .https_connector(Arc::new(StaticConnector::new()))
        .build()
        .await
        .expect("checker");
    let first = check_at(&c, rx.addr()).await;
    assert_eq!(first.score(), 114);
    rx.set_posture(Posture::tls(&leaf).expect("posture").no_starttls());
    let second = check_at(&c, rx.addr()).await;
    assert!(second.score() < 50, "{}", second.score());
    rx.set_posture(Posture::tls(&pki.expired(NAME).expect("leaf")).expect("posture"));
    let third = check_at(&c, rx.addr()).await;
    assert_eq!(third.score(), 112);
    // Nothing observed is kept by the checker; politeness state only while in use.
    assert_eq!(c.cache_sizes().addresses, 0);
    // A run keeps what it observed until it is dropped.
    let run = c.run();
    let t: Target = format!("postmaster@auth.test[127.0.0.1:{}]", rx.addr().port())
        .parse()
        .expect("target");
    run.check(&t).await.expect("report");
    rx.set_posture(Posture::tls(&leaf).expect("posture"));
    assert_eq!(
        run.check(&t).await.expect("report").score(),
        112,
        "same run"
    );
    assert_eq!(run.cache_sizes().probes, 1);
    assert_eq!(c.check(&t).await.expect("report").score(), 114, "afresh");
}

#[tokio::test]
async fn the_test_ends_at_its_deadline() {
    let rx = receiver(Posture::plain().behaviour(Behaviour::Tarpit)).await;
    let mut o = ReceiverOptions::default();
    o.timeout = Duration::from_secs(60);
    o.deadline = Duration::from_secs(2);
    let c = Checker::new(o).await.expect("checker");
    let r = check_at(&c, rx.addr()).await;
    let h = host(&r);
    assert!(
        h.findings.iter().any(|f| f.code == "check.deadline"),
        "{:?}",
        h.findings
    );
    assert!(!r.tested);
}

/// The `disconnect from ...` lines of a Postfix log: Postfix counts every command a client
/// sent there (`ehlo=2 starttls=1 auth=1 mail=1 ...`), AUTH included, failed or not.
/// Lines of sessions that sent no command (a port probe: `commands=0/0`) are left out, so a
/// caller waiting for the session under test is not satisfied by the probe before it.
fn disconnects(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("disconnect from") && l.contains(" ehlo="))
        .collect()
}

#[tokio::test]
#[ignore = "interop: needs root and the Debian packages postfix, sasl2-bin, libsasl2-modules; run by .ci/run"]
async fn a_real_postfix_sees_no_auth_unless_its_certificate_is_verified() {
    use checktls_lab::postfix::{Postfix, PostfixConfig};
    assert!(
        Postfix::available(),
        "postfix is not installed or we are not root"
    );
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let config = |last: u8| {
        PostfixConfig::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
            .hostname(NAME)
            .local_domain("auth.test")
            .sasl_user("bob", "hunter2")
    };
    let cases: Vec<(&str, PostfixConfig, &str)> = vec![
        (
            "no STARTTLS, AUTH offered in plaintext",
            config(91).auth_without_tls(),
            "not encrypted",
        ),
        (
            "self-signed",
            config(92).tls(&pki.self_signed(NAME).expect("leaf")),
            "self-signed",
        ),
        (
            "another name",
            config(93).tls(&pki.wrong_name().expect("leaf")),
            "does not name",
        ),
        (
            "expired",
            config(94).tls(&pki.expired(NAME).expect("leaf")),
            "expired",
        ),
    ];
    let c = auth_checker(&pki, |_| {}).await;
    for (what, cfg, why) in cases {
        let pf = Postfix::start(cfg).expect("postfix");
        let r = check_at(&c, pf.addr()).await;
        let h = host(&r);
        let withheld = h
            .findings
            .iter()
            .find(|f| f.code == "smtp.auth_withheld")
            .unwrap_or_else(|| panic!("{what}: {:?}\n{}", h.findings, pf.log()));
        assert!(
            withheld.message.contains(why),
            "{what}: {}",
            withheld.message
        );
        // Postfix logs its disconnect line a moment after the session ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while disconnects(&pf.log()).is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = pf.log();
        let lines = disconnects(&log);
        assert!(!lines.is_empty(), "{what}: no disconnect line\n{log}");
        assert!(
            lines.iter().all(|l| !l.contains(" auth=")),
            "{what}: Postfix counted an AUTH command:\n{log}"
        );
        assert!(!log.contains("sasl_username"), "{what}\n{log}");
    }
    // A certificate that chains to the trusted root, names the host and is current: AUTH.
    let pf = Postfix::start(config(95).tls(&pki.valid(NAME).expect("leaf"))).expect("postfix");
    let r = check_at(&c, pf.addr()).await;
    let h = host(&r);
    assert_eq!(
        stage_ok(h, "mail_from"),
        Some(true),
        "{:?}\n{}",
        h.transcript,
        pf.log()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while disconnects(&pf.log()).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = pf.log();
    assert!(log.contains("sasl_username=bob"), "{log}");
    assert!(
        disconnects(&log).iter().any(|l| l.contains(" auth=1")),
        "{log}"
    );
    assert!(!log.contains("hunter2"));
}
