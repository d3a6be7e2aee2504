//! Interoperability with a real Postfix (Debian package), configured and started by the test on
//! loopback with a generated certificate. Run by .ci/run (`cargo test -- --ignored`).

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use checktls_lab::pki::Pki;
use checktls_lab::postfix::{Postfix, PostfixConfig};
use checktls_smtp::{
    FailReason, Finding, Outcome, ProbeOptions, Stage, StopAfter, Timeouts, TlsMode, probe,
};
use checktls_tls::TlsVersion;

fn options(rcpt: &str) -> ProbeOptions {
    let mut o = ProbeOptions::default();
    o.session.rcpt_to = Some(rcpt.into());
    o.session.timeouts = Timeouts::uniform(Duration::from_secs(10));
    o.tls.sni = Some("postfix.lab.test".into());
    o
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

#[tokio::test]
#[ignore = "interop: needs root and the Debian package postfix; run by .ci/run"]
async fn postfix_starttls_tls13_tls12_refused_rcpt_and_plain() {
    assert!(
        Postfix::available(),
        "postfix is not installed or we are not root"
    );
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let leaf = pki.valid("postfix.lab.test").unwrap();

    // TLS 1.3 (Postfix's default with OpenSSL 3).
    let pf = Postfix::start(PostfixConfig::new(ip(61)).tls(&leaf)).unwrap();
    let r = probe(pf.addr(), &options("someone@accept.test")).await;
    assert!(
        Stage::ALL[..8].iter().all(|s| r.passed(*s)),
        "{:?}\n{}\n{}",
        r.stages,
        r.transcript.render().join("\n"),
        pf.log()
    );
    assert_eq!(r.tls.as_ref().unwrap().version, TlsVersion::Tls13);
    assert_eq!(r.tls.as_ref().unwrap().chain.len(), 2);
    assert!(r.transcript.contains("ESMTP checktls interop"));

    // RCPT TO for a domain it does not accept: refused.
    let r = probe(pf.addr(), &options("someone@elsewhere.test")).await;
    assert!(r.passed(Stage::MailFrom));
    assert!(!r.passed(Stage::RcptTo));
    assert!(
        matches!(
            r.outcome,
            Outcome::Failed {
                stage: Stage::RcptTo,
                reason: FailReason::Permanent { code: 554, .. }
            }
        ),
        "{:?}",
        r.outcome
    );
    drop(pf);

    // TLS 1.2 only.
    let pf = Postfix::start(PostfixConfig::new(ip(62)).tls(&leaf).protocols("<=TLSv1.2")).unwrap();
    let r = probe(pf.addr(), &options("a@accept.test")).await;
    assert_eq!(
        r.tls.as_ref().map(|t| t.version),
        Some(TlsVersion::Tls12),
        "{}",
        pf.log()
    );
    assert!(r.passed(Stage::RcptTo));
    drop(pf);

    // No STARTTLS.
    let pf = Postfix::start(PostfixConfig::new(ip(63))).unwrap();
    let r = probe(pf.addr(), &options("a@accept.test")).await;
    assert!(r.findings.contains(&Finding::NoStartTls));
    assert!(!r.passed(Stage::TlsOffered) && !r.passed(Stage::Secure));
    assert!(r.passed(Stage::RcptTo));
    // Compelled STARTTLS on a Postfix without TLS is refused, and the dialog goes on.
    let mut o = options("a@accept.test");
    o.session.tls_mode = TlsMode::Compel;
    o.session.stop_after = StopAfter::MailFrom;
    let r = probe(pf.addr(), &o).await;
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::StartTlsRefused { .. })),
        "{:?}",
        r.findings
    );
    assert!(r.passed(Stage::MailFrom));
}
