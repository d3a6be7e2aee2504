//! The SMTP client's cost: parsing replies, a whole dialog through the sans-I/O session (no
//! I/O), and a full probe of a lab receiver over loopback TLS.
//!
//! `cargo bench --bench smtp`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use checktls::smtp::reply::{Limits, Reply, ReplyParser};
use checktls::smtp::session::{Action, Session, SessionOptions};
use checktls::smtp::{ProbeOptions, Stage, probe};
use checktls_lab::pki::Pki;
use checktls_lab::smtp::{Posture, SmtpReceiver};
use criterion::{Criterion, criterion_group, criterion_main};

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

fn replies(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply");
    g.bench_function("one line", |b| {
        b.iter(|| {
            parse_all(black_box(
                b"250 2.1.5 <user@example.com>... Recipient ok\r\n",
            ))
        })
    });
    g.bench_function("10-line EHLO", |b| b.iter(|| parse_all(black_box(EHLO))));
    let many: Vec<u8> = EHLO
        .iter()
        .copied()
        .cycle()
        .take(EHLO.len() * 100)
        .collect();
    g.bench_function("100 EHLO replies in one buffer", |b| {
        b.iter(|| parse_all(black_box(&many)))
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
    c.bench_function("session: a whole dialog in memory", |b| {
        b.iter(|| {
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
            black_box(s.finish())
        })
    });
}

fn lab_probe(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid("mx.lab.test").expect("leaf");
    let rx = rt
        .block_on(SmtpReceiver::start(
            "127.0.0.1:0".parse().expect("addr"),
            Posture::tls(&leaf).expect("posture"),
        ))
        .expect("receiver");
    let mut options = ProbeOptions::default();
    options.session.rcpt_to = Some("user@lab.test".into());
    options.tls.sni = Some("mx.lab.test".into());
    c.bench_function("probe: lab receiver, STARTTLS TLS 1.3, to RCPT TO", |b| {
        b.iter(|| {
            let r = rt.block_on(probe(rx.addr(), &options));
            assert!(r.passed(Stage::RcptTo));
            black_box(r)
        })
    });
}

criterion_group!(benches, replies, session, lab_probe);
criterion_main!(benches);
