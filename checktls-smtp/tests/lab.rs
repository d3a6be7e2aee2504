//! The driver against every lab posture and hostile behaviour, over real loopback TCP and real
//! TLS with generated certificates.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use checktls_lab::pki::Pki;
use checktls_lab::smtp::{Behaviour, Gauge, Posture, SessionLimits, SmtpReceiver};
use checktls_smtp::record::Direction;
use checktls_smtp::{
    Auth, AuthMechanism, FailReason, Finding, Outcome, ProbeOptions, Secret, SmtpRecord, Socks5,
    Stage, StopAfter, Timeouts, TlsMode, open_for_tls, probe,
};
use checktls_tls::{FailureKind, TlsVersion};

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate(SystemTime::now()).expect("lab PKI"))
}

async fn receiver(posture: Posture) -> SmtpReceiver {
    SmtpReceiver::start("127.0.0.1:0".parse().unwrap(), posture)
        .await
        .expect("receiver")
}

fn options() -> ProbeOptions {
    let mut o = ProbeOptions::default();
    o.session.rcpt_to = Some("user@lab.test".into());
    o.session.timeouts = Timeouts::uniform(Duration::from_secs(5));
    o.tls.sni = Some("mx.lab.test".into());
    o
}

fn stages(r: &SmtpRecord) -> Vec<(&'static str, bool)> {
    r.stages.iter().map(|s| (s.stage.name(), s.ok)).collect()
}

async fn valid() -> SmtpReceiver {
    receiver(Posture::tls(&pki().valid("mx.lab.test").unwrap()).unwrap()).await
}

#[tokio::test]
async fn tls13_every_stage_passes() {
    let rx = valid().await;
    let r = probe(rx.addr(), &options()).await;
    assert_eq!(
        stages(&r),
        [
            ("answer", true),
            ("connect", true),
            ("ehlo", true),
            ("tls_offered", true),
            ("cert", true),
            ("secure", true),
            ("mail_from", true),
            ("rcpt_to", true)
        ],
        "{:#?}",
        r.transcript.render()
    );
    assert_eq!(
        r.outcome,
        Outcome::Stopped {
            after: Stage::RcptTo
        }
    );
    let tls = r.tls.as_ref().expect("TLS facts");
    assert_eq!(tls.version, TlsVersion::Tls13);
    assert_eq!(tls.chain.len(), 2, "leaf and intermediate");
    assert_eq!(tls.sni.as_deref(), Some("mx.lab.test"));
    let lines = r.transcript.render();
    assert!(
        lines.iter().any(|l| l.contains("<--  220 mx.lab.test")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains(" --> STARTTLS")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" ~~> EHLO checktls.invalid"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" ~~> RCPT TO:<user@lab.test>"))
    );
    assert!(lines.iter().any(|l| l.contains("<~~  250 2.1.5")));
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with('[') && l.as_bytes()[4] == b'.')
    );
    let caps = r.ehlo.before_tls.as_ref().unwrap();
    assert!(caps.starttls && caps.pipelining);
    assert!(!r.ehlo.after_tls.as_ref().unwrap().starttls);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[tokio::test]
async fn tls12_only() {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let rx = receiver(Posture::tls(&leaf).unwrap().tls12_only().unwrap()).await;
    let r = probe(rx.addr(), &options()).await;
    assert_eq!(r.tls.as_ref().unwrap().version, TlsVersion::Tls12);
    assert!(r.passed(Stage::Secure) && r.passed(Stage::RcptTo));
}

#[tokio::test]
async fn bad_certificates_are_recorded_not_refused() {
    for leaf in [
        pki().expired("mx.lab.test").unwrap(),
        pki().wrong_name().unwrap(),
        pki().self_signed("mx.lab.test").unwrap(),
    ] {
        let rx = receiver(Posture::tls(&leaf).unwrap()).await;
        let r = probe(rx.addr(), &options()).await;
        assert!(r.passed(Stage::Secure), "{:?}", r.outcome);
        assert_eq!(r.tls.as_ref().unwrap().chain.first(), leaf.chain.first());
    }
}

#[tokio::test]
async fn no_starttls_goes_on_in_plaintext() {
    let rx = receiver(Posture::plain()).await;
    let r = probe(rx.addr(), &options()).await;
    assert_eq!(
        stages(&r),
        [
            ("answer", true),
            ("connect", true),
            ("ehlo", true),
            ("tls_offered", false),
            ("secure", false),
            ("mail_from", true),
            ("rcpt_to", true)
        ]
    );
    assert!(r.tls.is_none());
    assert!(r.findings.contains(&Finding::NoStartTls));
    assert!(
        r.transcript
            .render()
            .iter()
            .any(|l| l.contains(" --> RCPT TO"))
    );
}

#[tokio::test]
async fn compel_tls_sends_starttls_when_not_offered() {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let rx = receiver(Posture::tls(&leaf).unwrap().no_starttls()).await;
    let mut o = options();
    o.session.tls_mode = TlsMode::Compel;
    let r = probe(rx.addr(), &o).await;
    assert!(r.passed(Stage::Secure), "{:#?}", r.transcript.render());
}

#[tokio::test]
async fn refused_rcpt() {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let rx = receiver(Posture::tls(&leaf).unwrap().refuse_rcpt()).await;
    let r = probe(rx.addr(), &options()).await;
    assert!(r.passed(Stage::MailFrom));
    assert!(!r.passed(Stage::RcptTo));
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::RcptTo,
            reason: FailReason::Permanent { code: 550, .. }
        }
    ));
}

#[tokio::test]
async fn domain_only_sends_no_rcpt() {
    let rx = valid().await;
    let mut o = options();
    o.session.rcpt_to = None;
    let r = probe(rx.addr(), &o).await;
    assert!(r.stage(Stage::RcptTo).is_none());
    assert_eq!(
        r.outcome,
        Outcome::Stopped {
            after: Stage::MailFrom
        }
    );
}

#[tokio::test]
async fn stop_after_each_stage() {
    let rx = valid().await;
    // (stop, the outcome's stage, the last stage recorded: after EHLO1 whether TLS is offered
    // is known from the capabilities)
    let cases = [
        (StopAfter::Answer, Stage::Answer, Stage::Answer),
        (StopAfter::Connect, Stage::Connect, Stage::Connect),
        (StopAfter::Ehlo1, Stage::Ehlo, Stage::TlsOffered),
        (StopAfter::Starttls, Stage::Secure, Stage::Secure),
        (StopAfter::Ehlo2, Stage::Secure, Stage::Secure),
        (StopAfter::MailFrom, Stage::MailFrom, Stage::MailFrom),
        (StopAfter::RcptTo, Stage::RcptTo, Stage::RcptTo),
    ];
    for (stop, after, last) in cases {
        let mut o = options();
        o.session.stop_after = stop;
        let r = probe(rx.addr(), &o).await;
        assert_eq!(r.outcome, Outcome::Stopped { after }, "{stop:?}");
        assert_eq!(
            r.stages.last().map(|s| s.stage),
            Some(last),
            "{stop:?}: {:?}",
            r.stages
        );
        assert!(r.stages.iter().all(|s| s.ok), "{stop:?}: {:?}", r.stages);
    }
}

#[tokio::test]
async fn data_sends_a_message() {
    let rx = valid().await;
    let mut o = options();
    o.session.stop_after = StopAfter::Data;
    o.session.message = Some(b"Subject: lab\r\n\r\n.leading dot\r\nbody\r\n".to_vec());
    let r = probe(rx.addr(), &o).await;
    assert!(
        r.passed(Stage::Data) && r.passed(Stage::Email),
        "{:?}",
        r.stages
    );
    assert_eq!(r.outcome, Outcome::Completed);
    let seen = rx.seen();
    assert_eq!(seen.messages.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&seen.messages[0]),
        "Subject: lab\r\n\r\n.leading dot\r\nbody\r\n"
    );
}

#[tokio::test]
async fn direct_tls() {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let rx = receiver(Posture::tls(&leaf).unwrap().direct_tls()).await;
    let mut o = options();
    o.session.tls_mode = TlsMode::Direct;
    let r = probe(rx.addr(), &o).await;
    assert!(
        r.passed(Stage::Secure) && r.passed(Stage::RcptTo),
        "{:#?}",
        r.transcript.render()
    );
    assert!(
        r.transcript
            .events
            .iter()
            .any(|e| e.direction == Direction::ReceivedEncrypted && e.text.starts_with("220"))
    );
    assert!(!r.transcript.render().iter().any(|l| l.contains("STARTTLS")));
}

#[tokio::test]
async fn auth_plain_and_login_never_show_the_secret() {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let rx = receiver(Posture::tls(&leaf).unwrap().auth("alice", "s3cret-pa55")).await;
    let mut trust = checktls_tls::TrustStore::empty();
    trust.add_der(pki().root().der().clone()).unwrap();
    for mechanism in [AuthMechanism::Plain, AuthMechanism::Login] {
        let mut o = options();
        o.record_raw = true;
        // The strict check of the driver: the lab's root, the host's name.
        o.peer_check = Some(std::sync::Arc::new(checktls_smtp::StrictPeerCheck {
            trust: trust.clone(),
            name: "mx.lab.test".into(),
        }));
        o.session.auth = Some(Auth {
            mechanism,
            user: "alice".into(),
            secret: Secret::new("s3cret-pa55"),
        });
        let r = probe(rx.addr(), &o).await;
        assert!(
            r.passed(Stage::MailFrom),
            "{mechanism:?}: {:#?}",
            r.transcript.render()
        );
        let everything = format!(
            "{}\n{:?}\n{}\n{}",
            r.transcript.render().join("\n"),
            r,
            serde_json::to_string(&r).unwrap(),
            r.raw.as_ref().unwrap().hex_dump()
        );
        for leak in ["s3cret-pa55", "czNjcmV0LXBhNTU", "AGFsaWNlAHMzY3JldC1wYTU1"] {
            assert!(!everything.contains(leak), "{mechanism:?} leaked {leak}");
        }
        assert!(r.transcript.contains("<redacted>"));
    }
    // The same strict check for another name: the credentials stay home.
    let before = rx.seen().commands.len();
    let mut o = options();
    o.session.auth = Some(Auth {
        mechanism: AuthMechanism::Plain,
        user: "alice".into(),
        secret: Secret::new("s3cret-pa55"),
    });
    o.peer_check = Some(std::sync::Arc::new(checktls_smtp::StrictPeerCheck {
        trust,
        name: "other.lab.test".into(),
    }));
    let r = probe(rx.addr(), &o).await;
    assert!(!r.passed(Stage::MailFrom));
    let seen = rx.seen().commands;
    assert!(
        !seen[before..].iter().any(|c| c.starts_with("AUTH")),
        "{seen:?}"
    );
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, checktls_smtp::Finding::AuthWithheld { .. }))
    );
}

#[tokio::test]
async fn assure_tls_plaintext_mail_from() {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let strict = receiver(Posture::tls(&leaf).unwrap().require_tls()).await;
    let lax = valid().await;
    let mut o = options();
    o.session.plaintext_mail_from = true;
    let r = probe(strict.addr(), &o).await;
    assert!(!r.passed(Stage::MailFrom));
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::PlaintextRefused { .. }))
    );
    assert!(r.tls.is_none());
    let r = probe(lax.addr(), &o).await;
    assert!(r.findings.contains(&Finding::PlaintextAccepted));
}

#[tokio::test]
async fn socks5_with_and_without_credentials() {
    let rx = valid().await;
    let open = checktls_lab::socks5::Socks5Proxy::start(None)
        .await
        .unwrap();
    let mut o = options();
    o.socks5 = Some(Socks5 {
        proxy: open.addr(),
        credentials: None,
    });
    let r = probe(rx.addr(), &o).await;
    assert!(r.passed(Stage::RcptTo), "{:?}", r.outcome);
    assert_eq!(open.relayed(), 1);

    let closed = checktls_lab::socks5::Socks5Proxy::start(Some(("u".into(), "p".into())))
        .await
        .unwrap();
    o.socks5 = Some(Socks5 {
        proxy: closed.addr(),
        credentials: Some(("u".into(), Secret::new("p"))),
    });
    assert!(probe(rx.addr(), &o).await.passed(Stage::Secure));
    o.socks5 = Some(Socks5 {
        proxy: closed.addr(),
        credentials: Some(("u".into(), Secret::new("wrong"))),
    });
    let r = probe(rx.addr(), &o).await;
    assert!(!r.passed(Stage::Answer));
}

#[tokio::test]
async fn connection_refused() {
    // Bind and drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = probe(SocketAddr::from(([127, 0, 0, 1], port)), &options()).await;
    assert_eq!(stages(&r), [("answer", false)]);
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Answer,
            reason: FailReason::Refused
        }
    ));
}

async fn hostile(behaviour: Behaviour, timeout: Duration) -> (SmtpRecord, Duration) {
    let leaf = pki().valid("mx.lab.test").unwrap();
    let rx = receiver(Posture::tls(&leaf).unwrap().behaviour(behaviour)).await;
    let mut o = options();
    o.session.timeouts = Timeouts::uniform(timeout);
    let start = Instant::now();
    let r = probe(rx.addr(), &o).await;
    (r, start.elapsed())
}

#[tokio::test]
async fn hostile_421_greeting_is_busy() {
    let (r, _) = hostile(Behaviour::Greeting421, Duration::from_secs(5)).await;
    assert!(r.outcome.is_busy(), "{:?}", r.outcome);
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Connect,
            reason: FailReason::Temporary { code: 421, .. }
        }
    ));
}

#[tokio::test]
async fn hostile_tarpit_times_out_at_the_stage_deadline() {
    let (r, took) = hostile(Behaviour::Tarpit, Duration::from_millis(1500)).await;
    assert!(
        matches!(
            r.outcome,
            Outcome::Failed {
                stage: Stage::Connect,
                reason: FailReason::Timeout { ms: 1500 }
            }
        ),
        "{:?}",
        r.outcome
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn hostile_silence_times_out() {
    let (r, _) = hostile(Behaviour::Silent, Duration::from_millis(500)).await;
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Connect,
            reason: FailReason::Timeout { .. }
        }
    ));
}

#[tokio::test]
async fn hostile_endless_multiline_reply_is_bounded() {
    let (r, _) = hostile(Behaviour::EndlessMultiline, Duration::from_secs(10)).await;
    assert!(
        matches!(
            r.outcome,
            Outcome::Failed {
                stage: Stage::Ehlo,
                reason: FailReason::Protocol(
                    checktls_smtp::reply::ReplyError::ReplyTooLarge { .. }
                )
            }
        ),
        "{:?}",
        r.outcome
    );
    assert!(r.transcript.events.len() <= checktls_smtp::record::MAX_TRANSCRIPT_EVENTS);
}

#[tokio::test]
async fn hostile_line_over_a_mebibyte_is_refused() {
    let (r, _) = hostile(Behaviour::LongLine, Duration::from_secs(10)).await;
    assert!(
        matches!(
            r.outcome,
            Outcome::Failed {
                stage: Stage::Connect,
                reason: FailReason::Protocol(checktls_smtp::reply::ReplyError::LineTooLong { .. })
            }
        ),
        "{:?}",
        r.outcome
    );
}

#[tokio::test]
async fn hostile_reset_and_garbage_during_tls() {
    for behaviour in [Behaviour::ResetDuringTls, Behaviour::GarbageInsteadOfTls] {
        let (r, _) = hostile(behaviour, Duration::from_secs(5)).await;
        assert!(r.passed(Stage::TlsOffered));
        assert!(!r.passed(Stage::Secure), "{behaviour:?}");
        assert!(
            matches!(
                r.outcome,
                Outcome::Failed {
                    stage: Stage::Secure,
                    reason: FailReason::Tls { .. }
                }
            ),
            "{behaviour:?}: {:?}",
            r.outcome
        );
        assert!(r.tls_failure.is_some());
    }
}

#[tokio::test]
async fn hostile_abort_after_server_hello_is_an_aborted_handshake() {
    // OpenSMTPD 6.8 on OpenSSL 3: ServerHello, Certificate, then alert 80.
    let (r, _) = hostile(Behaviour::AbortAfterServerHello, Duration::from_secs(5)).await;
    assert!(r.passed(Stage::TlsOffered));
    assert!(!r.passed(Stage::Secure));
    assert!(r.tls.is_none(), "no session: {:?}", r.tls);
    assert!(
        matches!(
            r.outcome,
            Outcome::Failed {
                stage: Stage::Secure,
                reason: FailReason::Tls { .. }
            }
        ),
        "{:?}",
        r.outcome
    );
    let failure = r.tls_failure.as_ref().expect("the failure is recorded");
    assert_eq!(
        failure.kind,
        FailureKind::Aborted {
            version: TlsVersion::Tls12
        }
    );
    assert!(!failure.kind.is_refusal(), "no fallback prober for it");
    assert_eq!(failure.partial.alert, Some(80), "internal_error");
    assert!(
        failure.error.contains("TLSv1.2"),
        "the version it chose is named: {}",
        failure.error
    );
    // No stage after the failed handshake was attempted.
    assert!(!r.passed(Stage::MailFrom) && !r.passed(Stage::RcptTo));
}

#[tokio::test]
async fn hostile_session_limits_answer_421_beyond_them() {
    // Postfix's anvil: one session at a time, two per window per client, 421 beyond.
    let leaf = pki().valid("mx.lab.test").unwrap();
    let gauge = Gauge::new();
    // Long enough that the three first connections fall in one window on a loaded machine.
    let window = Duration::from_secs(4);
    let rx = receiver(
        Posture::tls(&leaf)
            .unwrap()
            .limits(SessionLimits {
                at_once: 1,
                per_window: 2,
                window,
            })
            .count_into(gauge.clone()),
    )
    .await;
    let o = options();
    // A session held open: the next one is refused (one at a time).
    let mut held = tokio::net::TcpStream::connect(rx.addr()).await.unwrap();
    let mut greeting = [0u8; 3];
    tokio::io::AsyncReadExt::read_exact(&mut held, &mut greeting)
        .await
        .unwrap();
    assert_eq!(&greeting, b"220");
    let r = probe(rx.addr(), &o).await;
    assert!(r.outcome.is_busy(), "one at a time: {:?}", r.outcome);
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Connect,
            reason: FailReason::Temporary { code: 421, .. }
        }
    ));
    drop(held);
    // The window is spent (the held session and the refused one): refused again.
    let r = probe(rx.addr(), &o).await;
    assert!(r.outcome.is_busy(), "two per window: {:?}", r.outcome);
    assert_eq!(gauge.refused(), 2);
    // A new window: the whole dialog goes through.
    tokio::time::sleep(window + Duration::from_millis(200)).await;
    let r = probe(rx.addr(), &o).await;
    assert!(r.passed(Stage::RcptTo), "{:?}", r.outcome);
    assert_eq!(r.tls.as_ref().map(|t| t.version), Some(TlsVersion::Tls13));
    assert_eq!(gauge.refused(), 2);
    assert_eq!(gauge.connections(), 4);
}

#[tokio::test]
async fn hostile_plaintext_injection_is_reported_and_discarded() {
    let (r, _) = hostile(Behaviour::InjectAfterStarttls, Duration::from_secs(5)).await;
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::PlaintextInjection { bytes: 14 })),
        "{:?}",
        r.findings
    );
    assert!(
        r.passed(Stage::Secure) && r.passed(Stage::RcptTo),
        "{:?}",
        r.stages
    );
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    let (r, _) = hostile(Behaviour::EhloRefused, Duration::from_secs(5)).await;
    assert!(r.findings.contains(&Finding::HeloFallback { code: 502 }));
    assert!(r.passed(Stage::Ehlo));
    assert!(
        r.transcript
            .render()
            .iter()
            .any(|l| l.contains(" --> HELO"))
    );
}

#[tokio::test]
async fn open_for_tls_hands_over_the_stream_at_the_client_hello() {
    let rx = valid().await;
    let (stream, record) = open_for_tls(rx.addr(), &options()).await.expect("stream");
    assert!(record.passed(Stage::TlsOffered));
    // The stream is where a ClientHello goes: a real handshake on it succeeds.
    let mut tls = checktls_tls::handshake::HandshakeOptions::default();
    tls.sni = Some("mx.lab.test".into());
    let (_, facts) = checktls_tls::handshake::handshake(stream, &tls)
        .await
        .expect("handshake");
    assert_eq!(facts.version, TlsVersion::Tls13);
    // A server without STARTTLS gives the record back.
    let plain = receiver(Posture::plain()).await;
    assert!(open_for_tls(plain.addr(), &options()).await.is_err());
}

#[tokio::test]
async fn raw_traffic_hex_dump() {
    let rx = valid().await;
    let mut o = options();
    o.record_raw = true;
    let r = probe(rx.addr(), &o).await;
    let dump = r.raw.as_ref().unwrap().hex_dump();
    assert!(dump.contains(">>> sent") && dump.contains("<<< received"));
    assert!(dump.contains("45 48 4c 4f"), "EHLO in hex");
}
