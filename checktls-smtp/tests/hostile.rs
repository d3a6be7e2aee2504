//! The driver against scripted servers on loopback that misbehave in ways the lab receivers do
//! not: a banner of another protocol, a close in the middle of a reply, mixed reply codes,
//! silence or a close during the TLS handshake, a QUIT never answered, a message never
//! acknowledged, bytes that are not UTF-8, replies at and over the line bound.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use checktls_smtp::reply::{Limits, ReplyError};
use checktls_smtp::{
    FailReason, Finding, Outcome, ProbeOptions, SmtpRecord, Stage, StopAfter, Timeouts, probe,
};

/// What a scripted server does once its script is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    /// Closes its side of the connection (a FIN, then it reads until the client closes: no
    /// reset, so the client sees the end of the stream whatever it sends meanwhile).
    Close,
    /// Keeps the connection open, reading and never answering.
    Hang,
}

/// A server on loopback that writes `script[0]` on connect, then for each later entry reads
/// one line from the client and writes the entry. Stops (its task aborted) when dropped.
struct Scripted {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_line(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    loop {
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            buf.drain(..=nl);
            return Some(());
        }
        let mut chunk = [0u8; 4096];
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve(mut tcp: TcpStream, script: Vec<Vec<u8>>, then: Then) {
    let mut buf = Vec::new();
    for (i, bytes) in script.iter().enumerate() {
        if i > 0 && read_line(&mut tcp, &mut buf).await.is_none() {
            return;
        }
        if tcp.write_all(bytes).await.is_err() {
            return;
        }
    }
    if then == Then::Close {
        let _ = tcp.shutdown().await;
    }
    let mut sink = [0u8; 4096];
    while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
}

async fn scripted(script: &[&[u8]], then: Then) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script: Vec<Vec<u8>> = script.iter().map(|s| s.to_vec()).collect();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve(tcp, script.clone(), then));
        }
    });
    Scripted { addr, task }
}

fn options(timeout: Duration) -> ProbeOptions {
    let mut o = ProbeOptions::default();
    o.session.rcpt_to = Some("user@lab.test".into());
    o.session.timeouts = Timeouts::uniform(timeout);
    o.tls.sni = Some("mx.lab.test".into());
    o
}

async fn run(script: &[&[u8]], then: Then, o: &ProbeOptions) -> SmtpRecord {
    let server = scripted(script, then).await;
    probe(server.addr, o).await
}

fn stages(r: &SmtpRecord) -> Vec<(Stage, bool)> {
    r.stages.iter().map(|s| (s.stage, s.ok)).collect()
}

const GREETING: &[u8] = b"220 mx.lab.test ESMTP\r\n";
const EHLO_TLS: &[u8] = b"250-mx.lab.test\r\n250 STARTTLS\r\n";
const EHLO_PLAIN: &[u8] = b"250-mx.lab.test\r\n250 8BITMIME\r\n";

#[tokio::test]
async fn another_protocols_banner_is_a_protocol_violation() {
    let o = options(Duration::from_secs(5));
    let r = run(&[b"SSH-2.0-OpenSSH_9.6\r\n"], Then::Hang, &o).await;
    assert_eq!(
        stages(&r),
        [(Stage::Answer, true), (Stage::Connect, false)],
        "{:?}",
        r.outcome
    );
    let Outcome::Failed {
        stage: Stage::Connect,
        reason: FailReason::Protocol(ReplyError::Malformed { line }),
    } = &r.outcome
    else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(line, "SSH-2.0-OpenSSH_9.6");
    assert!(r.greeting.is_none());
    // Nothing was sent to a server that is not SMTP.
    assert!(
        !r.transcript.render().iter().any(|l| l.contains(" --> ")),
        "{:#?}",
        r.transcript.render()
    );
}

#[tokio::test]
async fn closed_right_after_the_greeting() {
    let o = options(Duration::from_secs(5));
    let r = run(&[GREETING], Then::Close, &o).await;
    assert!(r.passed(Stage::Connect));
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Ehlo,
            reason: FailReason::Closed
        }
    );
}

#[tokio::test]
async fn closed_in_the_middle_of_a_reply() {
    let o = options(Duration::from_secs(5));
    let r = run(
        &[GREETING, b"250-mx.lab.test\r\n250-PIPELI"],
        Then::Close,
        &o,
    )
    .await;
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Ehlo,
            reason: FailReason::Closed
        }
    );
    // The half reply is no capability list.
    assert!(r.ehlo.before_tls.is_none());
}

#[tokio::test]
async fn a_reply_whose_lines_carry_different_codes() {
    let o = options(Duration::from_secs(5));
    let r = run(
        &[GREETING, b"250-mx.lab.test\r\n251 STARTTLS\r\n"],
        Then::Hang,
        &o,
    )
    .await;
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Ehlo,
            reason: FailReason::Protocol(ReplyError::MixedCodes {
                first: 250,
                then: 251
            })
        }
    );
}

#[tokio::test]
async fn ehlo_and_helo_both_refused() {
    let o = options(Duration::from_secs(5));
    let script: &[&[u8]] = &[
        GREETING,
        b"500 5.5.1 what?\r\n",
        b"500 5.5.1 what?\r\n",
        b"221 bye\r\n",
    ];
    let r = run(script, Then::Close, &o).await;
    assert!(r.findings.contains(&Finding::HeloFallback { code: 500 }));
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Ehlo,
            reason: FailReason::Permanent { code: 500, .. }
        }
    ));
    let lines = r.transcript.render();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" --> HELO checktls.invalid"))
    );
    assert!(lines.iter().any(|l| l.ends_with(" --> QUIT")), "{lines:#?}");
}

#[tokio::test]
async fn a_server_shutting_down_at_ehlo() {
    let o = options(Duration::from_secs(5));
    let r = run(&[GREETING, b"421 4.3.2 shutting down\r\n"], Then::Close, &o).await;
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Ehlo,
            reason: FailReason::Temporary { code: 421, .. }
        }
    ));
}

#[tokio::test]
async fn silence_during_the_tls_handshake_times_out() {
    let mut o = options(Duration::from_secs(5));
    o.session.timeouts.tls = Duration::from_millis(400);
    let script: &[&[u8]] = &[GREETING, EHLO_TLS, b"220 2.0.0 go ahead\r\n"];
    let r = run(script, Then::Hang, &o).await;
    assert_eq!(
        stages(&r),
        [
            (Stage::Answer, true),
            (Stage::Connect, true),
            (Stage::Ehlo, true),
            (Stage::TlsOffered, true),
            (Stage::Cert, false),
            (Stage::Secure, false)
        ]
    );
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Secure,
            reason: FailReason::Tls { .. }
        }
    ));
    let failure = r.tls_failure.as_ref().expect("the TLS failure");
    assert!(failure.error.contains("400 ms"), "{}", failure.error);
    assert!(failure.partial.chain.is_empty());
    assert!(r.tls.is_none());
}

#[tokio::test]
async fn closed_after_the_220_to_starttls() {
    let o = options(Duration::from_secs(5));
    let script: &[&[u8]] = &[GREETING, EHLO_TLS, b"220 2.0.0 go ahead\r\n"];
    let r = run(script, Then::Close, &o).await;
    assert!(r.passed(Stage::TlsOffered));
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Secure,
            reason: FailReason::Tls { .. }
        }
    ));
    assert!(r.tls_failure.is_some());
}

#[tokio::test]
async fn a_quit_never_answered_costs_a_bounded_wait() {
    let mut o = options(Duration::from_millis(300));
    o.session.stop_after = StopAfter::Connect;
    let r = run(&[GREETING], Then::Hang, &o).await;
    // The result stands; the unanswered QUIT only ends the wait.
    assert_eq!(
        r.outcome,
        Outcome::Stopped {
            after: Stage::Connect
        }
    );
    assert!(
        r.transcript
            .render()
            .iter()
            .any(|l| l.ends_with(" --> QUIT"))
    );
    assert!(r.transcript.contains("timed out after 300 ms"));
}

#[tokio::test]
async fn a_message_never_acknowledged() {
    let mut o = options(Duration::from_secs(5));
    o.session.timeouts.data_end = Duration::from_millis(400);
    o.session.stop_after = StopAfter::Data;
    o.session.message = Some(b"Subject: x\r\n\r\nbody\r\n".to_vec());
    let script: &[&[u8]] = &[
        GREETING,
        EHLO_PLAIN,
        b"250 2.1.0 ok\r\n",
        b"250 2.1.5 ok\r\n",
        b"354 go ahead\r\n",
    ];
    let r = run(script, Then::Hang, &o).await;
    assert!(r.passed(Stage::RcptTo) && r.passed(Stage::Data));
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Email,
            reason: FailReason::Timeout { ms: 400 }
        }
    );
    assert!(r.findings.contains(&Finding::NoStartTls));
}

#[tokio::test]
async fn data_refused() {
    let mut o = options(Duration::from_secs(5));
    o.session.stop_after = StopAfter::Data;
    o.session.message = Some(b"Subject: x\r\n\r\nbody\r\n".to_vec());
    let script: &[&[u8]] = &[
        GREETING,
        EHLO_PLAIN,
        b"250 2.1.0 ok\r\n",
        b"250 2.1.5 ok\r\n",
        b"554 5.5.1 Error: no valid recipients\r\n",
        b"221 2.0.0 bye\r\n",
    ];
    let r = run(script, Then::Close, &o).await;
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Data,
            reason: FailReason::Permanent { code: 554, .. }
        }
    ));
    assert!(r.stage(Stage::Email).is_none(), "no message was sent");
    assert!(!r.transcript.contains("<message>"));
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_kept_lossily() {
    let o = options(Duration::from_secs(5));
    let script: &[&[u8]] = &[
        b"220 mx.lab.test \xff\xfe\x00\x1b[31m ESMTP\r\n",
        b"250-mx.lab.test\r\n250 X-\xc3\x28\r\n",
        b"250 2.1.0 ok\r\n",
        b"250 2.1.5 ok\r\n",
        b"221 bye\r\n",
    ];
    let r = run(script, Then::Close, &o).await;
    assert!(r.passed(Stage::RcptTo), "{:?}", r.outcome);
    let greeting = r.greeting.as_ref().expect("greeting");
    assert!(greeting.text().contains('\u{FFFD}'));
    let caps = r.ehlo.before_tls.as_ref().expect("capabilities");
    assert_eq!(caps.other, ["X-\u{FFFD}("]);
}

#[tokio::test]
async fn replies_at_and_over_the_line_bound() {
    let limit = 64;
    let mut o = options(Duration::from_secs(5));
    o.session.stop_after = StopAfter::Connect;
    o.session.limits = Limits {
        max_line: limit,
        ..Limits::default()
    };
    // A greeting line exactly at the bound passes, one byte more does not.
    let at = format!("220 {}\r\n", "x".repeat(limit - 4));
    let r = run(&[at.as_bytes(), b"221 bye\r\n"], Then::Close, &o).await;
    assert!(r.passed(Stage::Connect), "{:?}", r.outcome);
    let over = format!("220 {}\r\n", "x".repeat(limit - 3));
    let r = run(&[over.as_bytes()], Then::Hang, &o).await;
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Connect,
            reason: FailReason::Protocol(ReplyError::LineTooLong { limit })
        }
    );
}

#[tokio::test]
async fn a_reply_of_too_many_lines() {
    let mut o = options(Duration::from_secs(5));
    o.session.limits = Limits {
        max_lines: 8,
        ..Limits::default()
    };
    let ehlo: Vec<u8> = (0..9)
        .flat_map(|i| format!("250-line {i}\r\n").into_bytes())
        .chain(b"250 last\r\n".iter().copied())
        .collect();
    let r = run(&[GREETING, &ehlo], Then::Hang, &o).await;
    assert!(matches!(
        r.outcome,
        Outcome::Failed {
            stage: Stage::Ehlo,
            reason: FailReason::Protocol(ReplyError::ReplyTooLarge { limit_lines: 8, .. })
        }
    ));
}
