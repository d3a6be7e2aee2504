//! Issue 13 on the hermetic lab: the two receivers the seed's Vagaries section is about, so the
//! plain `cargo test` catches a regression without the real servers (the interop suite,
//! `tests/receivers_interop.rs`, proves each against OpenSMTPD and Postfix).
//!
//! | posture | lab behaviour | expected |
//! |---|---|---|
//! | aborting | TLS 1.2 ServerHello, Certificate, fatal internal_error (OpenSMTPD 6.8 on OpenSSL 3) | no-encryption band (< 50), `secure` not ok, `tls.handshake_aborted` naming the alert, no legacy prober; at level sslprobe the prober's TLS 1.2 is "offered, not completed" |
//! | rate-limited | three MX names on one address; 1 session at a time, 2 per window per client, 421 beyond | TLS 1.3 band (114) every run; never two connections at once; two sessions per run (the third name reuses the facts) |

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use checktls::options::{LegacyProbe, ReceiverOptions};
use checktls::output::{Format, Level, render};
use checktls::tls::TrustStore;
use checktls::{Checker, ReceiverReport, Target};
use checktls_lab::dns::{DnsLab, MailDomain};
use checktls_lab::pki::Pki;
use checktls_lab::smtp::{Behaviour, Gauge, Posture, SessionLimits, SmtpReceiver};

const ABORT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 13, 1);
const RATE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 13, 2);

struct Lab {
    pki: Pki,
    dns: DnsLab,
    port: u16,
    gauge: Arc<Gauge>,
    _receivers: Vec<SmtpReceiver>,
}

async fn lab(window: Duration) -> Lab {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let v4 = |ip: Ipv4Addr| [IpAddr::V4(ip)];
    let dns = DnsLab::builder()
        .mail_domain(MailDomain::new("abort.test").mx(10, "mx", v4(ABORT_IP)))
        .mail_domain(
            MailDomain::new("rate.test")
                .mx(10, "mx1", v4(RATE_IP))
                .mx(20, "mx2", v4(RATE_IP))
                .mx(30, "mx3", v4(RATE_IP)),
        )
        .start()
        .await
        .unwrap();
    let aborting = Posture::tls(&pki.valid("mx.abort.test").unwrap())
        .unwrap()
        .behaviour(Behaviour::AbortAfterServerHello);
    let rx1 = SmtpReceiver::start(SocketAddr::new(IpAddr::V4(ABORT_IP), 0), aborting)
        .await
        .unwrap();
    let port = rx1.addr().port();
    // One certificate naming the three MX hosts: SNI changes nothing.
    let leaf = pki
        .leaf(&checktls_lab::pki::LeafSpec::new(
            &["mx1.rate.test", "mx2.rate.test", "mx3.rate.test"],
            SystemTime::now(),
        ))
        .unwrap();
    let gauge = Gauge::new();
    let limited = Posture::tls(&leaf)
        .unwrap()
        .limits(SessionLimits {
            at_once: 1,
            per_window: 2,
            window,
        })
        .count_into(gauge.clone());
    let rx2 = SmtpReceiver::start(SocketAddr::new(IpAddr::V4(RATE_IP), port), limited)
        .await
        .unwrap();
    Lab {
        pki,
        dns,
        port,
        gauge,
        _receivers: vec![rx1, rx2],
    }
}

async fn checker(lab: &Lab, tweak: impl FnOnce(&mut ReceiverOptions)) -> Checker {
    let mut opts = ReceiverOptions::default();
    opts.port = Some(lab.port);
    opts.timeout = Duration::from_secs(5);
    opts.deadline = Duration::from_secs(60);
    opts.revocation = false;
    opts.resolver.nameservers = vec![lab.dns.addr()];
    opts.resolver.dnssec_anchors = Some(lab.dns.trust_anchor().to_owned());
    opts.allow_non_global = true; // the lab lives on loopback
    tweak(&mut opts);
    let mut trust = TrustStore::empty();
    trust.add_der(lab.pki.root().der().clone()).unwrap();
    Checker::builder(opts).trust(trust).build().await.unwrap()
}

async fn check(c: &Checker, target: &str) -> ReceiverReport {
    c.check(&target.parse::<Target>().unwrap()).await.unwrap()
}

fn stage(r: &ReceiverReport, host: usize, name: &str) -> Option<bool> {
    r.mx[host]
        .stages
        .iter()
        .find(|s| s.stage.name() == name)
        .map(|s| s.ok)
}

#[tokio::test]
async fn a_handshake_aborted_after_server_hello_is_no_encryption() {
    let lab = lab(Duration::from_secs(2)).await;
    let c = checker(&lab, |_| {}).await;
    let r = check(&c, "abort.test").await;
    let text = render(&r, Level::Detail, Format::Text);
    assert!(r.score() < 50, "no-encryption band: {}\n{text}", r.score());
    let mx = &r.mx[0];
    assert!(mx.tls.is_none(), "no session: {text}");
    assert_eq!(stage(&r, 0, "secure"), Some(false), "{text}");
    assert_eq!(stage(&r, 0, "cert"), Some(false), "{text}");
    assert_eq!(stage(&r, 0, "tls_offered"), Some(true), "{text}");
    let aborted = mx
        .findings
        .iter()
        .find(|f| f.code == "tls.handshake_aborted")
        .unwrap_or_else(|| panic!("the abort is named: {text}"));
    assert!(
        aborted.message.contains("TLSv1.2") && aborted.message.contains("InternalError"),
        "the version chosen and the alert: {}",
        aborted.message
    );
    assert!(mx.sslprobe.is_none(), "no legacy prober for an abort");
    assert!(!mx.findings.iter().any(|f| f.code == "tls.legacy_only"));

    // At level sslprobe the prober runs, and marks what it could not finish.
    let c = checker(&lab, |o| o.legacy_probe = LegacyProbe::Full).await;
    let r = check(&c, "abort.test").await;
    assert!(r.score() < 50, "still no encryption: {}", r.score());
    let probe = r.mx[0].sslprobe.as_ref().expect("the sslprobe level ran");
    let v12 = probe
        .version(checktls::tls::TlsVersion::Tls12)
        .expect("TLS 1.2 probed");
    assert_eq!(
        v12.completion,
        checktls::tls::probe::Completion::OfferedNotCompleted,
        "{v12:?}"
    );
    assert!(
        v12.not_completed
            .as_deref()
            .is_some_and(|w| w.contains("80")),
        "{v12:?}"
    );
    assert!(probe.best_negotiated().is_none());
    assert!(r.mx[0].tls.is_none());
}

#[tokio::test]
async fn three_names_on_a_rate_limited_address_grade_tls13_every_run() {
    let window = Duration::from_secs(2);
    let lab = lab(window).await;
    let runs = 4;
    let started = Instant::now();
    for run in 0..runs {
        // A fresh checker per run, as separate invocations of the command would be.
        let c = checker(&lab, |_| {}).await;
        let r = check(&c, "rate.test").await;
        let text = render(&r, Level::Detail, Format::Text);
        assert_eq!(r.score(), 114, "run {run}: TLS 1.3 band\n{text}");
        assert_eq!(r.mx.len(), 3);
        for h in &r.mx {
            assert_eq!(
                h.tls.as_ref().map(|t| t.version.name()),
                Some("TLSv1.3"),
                "{text}"
            );
            assert!(!h.findings.iter().any(|f| f.code == "smtp.busy"), "{text}");
        }
        // The third name reuses the facts: SNI changes nothing on this server.
        assert!(
            r.mx[2]
                .findings
                .iter()
                .any(|f| f.code == "smtp.facts_reused"),
            "{text}"
        );
    }
    let g = &lab.gauge;
    assert_eq!(g.most_open(), 1, "never two connections at once");
    assert_eq!(
        g.connections() - g.refused(),
        2 * runs,
        "two sessions per run: {} connections, {} refused",
        g.connections(),
        g.refused()
    );
    // Each window admits two sessions: the runs cannot go faster than the server allows.
    let least = window * u32::try_from(runs - 1).unwrap();
    assert!(
        started.elapsed() >= least,
        "{:?} < {least:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_busy_on_every_try_is_left_out_not_zero() {
    let lab = lab(Duration::from_secs(600)).await;
    // Spend the window's two sessions, then test with a deadline too short to wait it out.
    let c = checker(&lab, |_| {}).await;
    assert_eq!(check(&c, "rate.test").await.score(), 114);
    let c = checker(&lab, |o| o.deadline = Duration::from_secs(8)).await;
    let r = check(&c, "rate.test").await;
    let text = render(&r, Level::Detail, Format::Text);
    assert_eq!(r.score(), 50, "nothing else tested: 50, never 0\n{text}");
    let busy = r.mx[0]
        .findings
        .iter()
        .find(|f| f.code == "smtp.busy")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        busy.message.contains("too many connections"),
        "the limit is named: {}",
        busy.message
    );
    assert_eq!(lab.gauge.most_open(), 1);
}
