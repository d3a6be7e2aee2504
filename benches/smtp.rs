//! The SMTP client's cost: parsing replies, a whole dialog through the sans-I/O session (no
//! I/O), and a full probe of a lab receiver over loopback, with STARTTLS and in plaintext.
//!
//! ```text
//!   reply/*     bytes ─► ReplyParser ─► Reply        (pure; throughput in bytes)
//!   session     scripted replies ─► Session          (pure; a fake clock, no I/O)
//!   probe/*     probe() ─► TCP ─► lab SmtpReceiver   (loopback; the receiver on the same runtime)
//! ```
//!
//! `cargo bench --bench smtp`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use checktls::smtp::record::SessionRecord;
use checktls::smtp::reply::{Limits, Reply, ReplyParser};
use checktls::smtp::session::{Action, Session, SessionOptions};
use checktls::smtp::{ProbeOptions, Stage, probe};
use checktls_lab::pki::Pki;
use checktls_lab::smtp::{Posture, SmtpReceiver};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const EHLO: &[u8] = b"250-mx.example.com Hello client.example.net [192.0.2.1]\r\n250-SIZE 52428800\r\n\
250-8BITMIME\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n\
250-SMTPUTF8\r\n250-DSN\r\n250 STARTTLS\r\n";

fn parse_all(bytes: &[u8]) -> usize {
    let mut p = ReplyParser::new(Limits::default());
    p.feed(bytes);
    let mut n = 0;
    while let Ok(Some(r)) = p.next_reply() {
        n += r.lines.len();
    }
    n
}

const ONE: &[u8] = b"250 2.1.5 <user@example.com>... Recipient ok\r\n";

fn replies(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply");
    g.throughput(Throughput::Bytes(ONE.len() as u64));
    g.bench_function("one line", |b| b.iter(|| parse_all(black_box(ONE))));
    g.throughput(Throughput::Bytes(EHLO.len() as u64));
    g.bench_function("10-line EHLO", |b| b.iter(|| parse_all(black_box(EHLO))));
    let many = ONE.repeat(1000);
    assert_eq!(parse_all(&many), 1000);
    g.throughput(Throughput::Bytes(many.len() as u64));
    g.bench_function("1000 one-line replies in one buffer", |b| {
        b.iter(|| parse_all(black_box(&many)))
    });
    let ehlos = EHLO.repeat(100);
    assert_eq!(parse_all(&ehlos), 1000);
    g.throughput(Throughput::Bytes(ehlos.len() as u64));
    g.bench_function("100 EHLO replies (1000 lines) in one buffer", |b| {
        b.iter(|| parse_all(black_box(&ehlos)))
    });
    g.finish();
}

fn reply(code: u16, lines: &[&str]) -> Reply {
    Reply {
        code,
        enhanced: None,
        lines: lines.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Drives a session through a scripted dialog with a fake clock: EHLO, STARTTLS, the
/// handshake (reported as done), EHLO again, MAIL FROM, RCPT TO, QUIT.
fn dialog(script: &[Reply]) -> SessionRecord {
    let options = SessionOptions {
        rcpt_to: Some("user@example.com".into()),
        ..SessionOptions::default()
    };
    let mut s = Session::new(options);
    let mut replies = script.iter().cloned();
    let mut t = Duration::ZERO;
    loop {
        t += Duration::from_millis(1);
        match s.next_action() {
            Action::Connect { .. } => s.on_connected(t),
            Action::Read { .. } | Action::Send { .. } => {
                s.on_sent(t);
                match replies.next() {
                    Some(r) => s.on_reply(r, t),
                    None => break,
                }
            }
            Action::StartTls { .. } => s.on_tls(Ok(true), t),
            Action::Close => break,
        }
    }
    s.finish()
}

fn session(c: &mut Criterion) {
    let script = [
        reply(220, &["mx ESMTP"]),
        reply(250, &["mx", "PIPELINING", "STARTTLS"]),
        reply(220, &["go ahead"]),
        reply(250, &["mx", "PIPELINING"]),
        reply(250, &["2.1.0 ok"]),
        reply(250, &["2.1.5 ok"]),
        reply(221, &["bye"]),
    ];
    // The script goes the whole way: what is measured is a full dialog.
    let record = dialog(&script);
    assert!(record.passed(Stage::Secure) && record.passed(Stage::RcptTo));
    c.bench_function("session: a whole dialog in memory", |b| {
        b.iter(|| black_box(dialog(black_box(&script))))
    });
}

fn lab_probe(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid("mx.lab.test").expect("leaf");
    let start = |posture| {
        rt.block_on(SmtpReceiver::start(
            "127.0.0.1:0".parse().expect("addr"),
            posture,
        ))
        .expect("receiver")
    };
    let tls = start(Posture::tls(&leaf).expect("posture"));
    let tls12 = start(
        Posture::tls(&leaf)
            .and_then(Posture::tls12_only)
            .expect("posture"),
    );
    let plain = start(Posture::plain());
    let mut options = ProbeOptions::default();
    options.session.rcpt_to = Some("user@lab.test".into());
    options.tls.sni = Some("mx.lab.test".into());
    let mut g = c.benchmark_group("probe");
    for (name, rx, secure) in [
        ("lab receiver, STARTTLS TLS 1.3, to RCPT TO", &tls, true),
        ("lab receiver, STARTTLS TLS 1.2, to RCPT TO", &tls12, true),
        (
            "lab receiver, plaintext (no STARTTLS), to RCPT TO",
            &plain,
            false,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = rt.block_on(probe(rx.addr(), &options));
                assert!(r.passed(Stage::RcptTo) && r.passed(Stage::Secure) == secure);
                black_box(r)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, replies, session, lab_probe);
criterion_main!(benches);
