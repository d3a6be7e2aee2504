//! Properties of the sans-I/O session under any server: whatever the replies, failures and TLS
//! results, and whatever the options, the dialog ends, records each stage once, fails the stage
//! its outcome names, sends well-formed commands, never sends after QUIT or Close, marks lines
//! encrypted only after TLS, and never lets the AUTH secret into the record.

use std::time::Duration;

use proptest::prelude::*;

use checktls_smtp::record::{Direction, SessionRecord};
use checktls_smtp::reply::Reply;
use checktls_smtp::session::{Action, Session};
use checktls_smtp::{
    Auth, AuthMechanism, FailReason, Outcome, Secret, SessionOptions, Stage, StopAfter, TlsMode,
};

const SECRET: &str = "hunter2-Secret";
/// The secret in base64 (AUTH LOGIN) and the PLAIN token `\0bob\0hunter2-Secret` in base64.
const ENCODED: [&str; 2] = ["aHVudGVyMi1TZWNyZXQ", "AGJvYgBodW50ZXIyLVNlY3JldA"];

/// What the fake server does at one step.
#[derive(Clone, Debug)]
enum Event {
    /// The reply a willing server gives to the command just sent (so runs get deep).
    Willing,
    /// Any reply.
    Reply(u16, Vec<&'static str>),
    /// The wait fails (closed, timeout, reset).
    Fail(u8),
}

/// A willing server's reply to `sent` (`None`: the greeting); `prev` is the command before.
fn willing(sent: Option<&[u8]>, prev: Option<&[u8]>) -> (u16, Vec<&'static str>) {
    let Some(sent) = sent else {
        return (220, vec!["mx.example.com ESMTP"]);
    };
    let word = |w: &[u8]| sent.len() >= w.len() && sent[..w.len()].eq_ignore_ascii_case(w);
    if sent.ends_with(b"\r\n.\r\n") {
        (250, vec!["2.0.0 queued"])
    } else if word(b"EHLO") {
        (250, vec!["mx.example.com", "STARTTLS", "AUTH PLAIN LOGIN"])
    } else if word(b"HELO") || word(b"MAIL") || word(b"RCPT") {
        (250, vec!["ok"])
    } else if word(b"STARTTLS") {
        (220, vec!["2.0.0 go ahead"])
    } else if word(b"AUTH LOGIN") {
        (334, vec!["VXNlcm5hbWU6"])
    } else if word(b"AUTH PLAIN") {
        (235, vec!["2.7.0 ok"])
    } else if word(b"DATA") {
        (354, vec!["go ahead"])
    } else if word(b"QUIT") {
        (221, vec!["bye"])
    } else if prev.is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH LOGIN\r\n")) {
        // The user name of AUTH LOGIN: now the password.
        (334, vec!["UGFzc3dvcmQ6"])
    } else {
        (235, vec!["2.7.0 ok"])
    }
}

fn event() -> impl Strategy<Value = Event> {
    let code = prop_oneof![
        4 => Just(220u16),
        1 => Just(221),
        1 => Just(235),
        6 => Just(250),
        2 => Just(334),
        2 => Just(354),
        1 => Just(421),
        1 => Just(454),
        1 => Just(502),
        1 => Just(530),
        1 => Just(550),
        1 => Just(554),
        1 => 200u16..600,
    ];
    let line = prop_oneof![
        Just("mx.example.com"),
        Just("STARTTLS"),
        Just("AUTH PLAIN LOGIN"),
        Just("starttls"),
        Just("2.0.0 ok"),
        Just(""),
    ];
    prop_oneof![
        12 => Just(Event::Willing),
        5 => (code, proptest::collection::vec(line, 1..4)).prop_map(|(c, l)| Event::Reply(c, l)),
        1 => any::<u8>().prop_map(Event::Fail),
    ]
}

fn stop_after() -> impl Strategy<Value = StopAfter> {
    prop_oneof![
        Just(StopAfter::Answer),
        Just(StopAfter::Connect),
        Just(StopAfter::Ehlo1),
        Just(StopAfter::Starttls),
        Just(StopAfter::Ehlo2),
        Just(StopAfter::MailFrom),
        Just(StopAfter::RcptTo),
        Just(StopAfter::Data),
    ]
}

prop_compose! {
    fn options()(
        stop in stop_after(),
        tls_mode in prop_oneof![Just(TlsMode::StartTls), Just(TlsMode::Direct), Just(TlsMode::Compel)],
        plaintext_mail_from in any::<bool>(),
        rcpt in any::<bool>(),
        message in any::<bool>(),
        auth in proptest::option::of(prop_oneof![Just(AuthMechanism::Plain), Just(AuthMechanism::Login)]),
    ) -> SessionOptions {
        SessionOptions {
            stop_after: stop,
            tls_mode,
            plaintext_mail_from,
            rcpt_to: rcpt.then(|| "user@example.com".to_owned()),
            message: message.then(|| b"Subject: x\r\n\r\n.dot\r\nbody".to_vec()),
            auth: auth.map(|mechanism| Auth { mechanism, user: "bob".into(), secret: Secret::new(SECRET) }),
            ..SessionOptions::default()
        }
    }
}

/// What a run produced, besides the record.
struct Run {
    record: SessionRecord,
    /// The bytes of every Send, in order.
    sent: Vec<Vec<u8>>,
    /// Whether the session asked to close.
    closed: bool,
    /// Actions handed out after the first Close that were not Close.
    after_close: usize,
}

fn run(options: SessionOptions, events: &[Event], tls: &[bool], connect_ok: bool) -> Run {
    let mut s = Session::new(options);
    let mut events = events.iter();
    let mut tls = tls.iter();
    let mut sent = Vec::new();
    let mut t = Duration::ZERO;
    let mut closed = false;
    let mut after_close = 0;
    let mut give = |s: &mut Session, sent: &[Vec<u8>], t: Duration| {
        let last = sent.last().map(Vec::as_slice);
        let prev = sent
            .len()
            .checked_sub(2)
            .and_then(|i| sent.get(i))
            .map(Vec::as_slice);
        let (code, lines) = match events.next() {
            Some(Event::Willing) => willing(last, prev),
            Some(Event::Reply(code, lines)) => (*code, lines.clone()),
            Some(Event::Fail(n)) => {
                let reason = match n % 3 {
                    0 => FailReason::Closed,
                    1 => FailReason::Timeout { ms: 10 },
                    _ => FailReason::Io {
                        detail: "reset".into(),
                    },
                };
                return s.on_failed(reason, t);
            }
            // The script ran out: the server went away.
            None => return s.on_failed(FailReason::Closed, t),
        };
        let reply = Reply {
            code,
            enhanced: None,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        };
        s.on_reply(reply, t);
    };
    // A complete dialog takes fewer than 20 actions; 40 leaves room and proves the end.
    for _ in 0..40 {
        t += Duration::from_millis(5);
        match s.next_action() {
            Action::Connect { .. } if connect_ok => s.on_connected(t),
            Action::Connect { .. } => s.on_failed(FailReason::Refused, t),
            Action::Read { .. } => give(&mut s, &sent, t),
            Action::Send { bytes, .. } => {
                s.on_sent(t);
                sent.push(bytes);
                give(&mut s, &sent, t + Duration::from_millis(1));
            }
            Action::StartTls { .. } => match tls.next() {
                Some(true) | None => {
                    s.on_tls(Ok(true), t);
                    s.on_peer_identity(checktls_smtp::PeerIdentity::Verified, t);
                }
                Some(false) => s.on_tls(Err("handshake failure".into()), t),
            },
            Action::Close => {
                closed = true;
                break;
            }
        }
    }
    if closed {
        for _ in 0..3 {
            if s.next_action() != Action::Close {
                after_close += 1;
            }
        }
    }
    Run {
        record: s.finish(),
        sent,
        closed,
        after_close,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_server_any_options(
        options in options(),
        events in proptest::collection::vec(event(), 0..24),
        tls in proptest::collection::vec(any::<bool>(), 0..3),
        connect_ok in proptest::bool::weighted(0.95),
    ) {
        let plaintext_mail_from = options.plaintext_mail_from;
        let is_data_run = options.stop_after == StopAfter::Data && options.message.is_some();
        let r = run(options, &events, &tls, connect_ok);
        let rec = &r.record;

        // The dialog ends, and stays ended.
        prop_assert!(r.closed, "no Close within 40 actions: {:?}", rec.transcript.render());
        prop_assert_eq!(r.after_close, 0);

        // Each stage at most once, in stage order.
        let order: Vec<Stage> = rec.stages.iter().map(|s| s.stage).collect();
        let mut sorted = order.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&order, &sorted);

        // The outcome's failed stage is recorded as failed; without a failure, only the TLS
        // stages (plaintext fallback) or an AssureTLS MAIL FROM may have failed.
        match &rec.outcome {
            Outcome::Failed { stage, .. } => {
                prop_assert_eq!(rec.stage(*stage).map(|s| s.ok), Some(false), "{:?}", rec.stages);
            }
            Outcome::Stopped { after } => {
                prop_assert!(rec.stage(*after).is_some(), "stopped after {after:?}: {:?}", rec.stages);
            }
            Outcome::Completed => {
                prop_assert!(plaintext_mail_from || is_data_run, "{:?}", rec.stages);
            }
        }
        if !matches!(rec.outcome, Outcome::Failed { .. }) {
            for s in rec.stages.iter().filter(|s| !s.ok) {
                let allowed = matches!(s.stage, Stage::TlsOffered | Stage::Cert | Stage::Secure)
                    || (plaintext_mail_from && s.stage == Stage::MailFrom);
                prop_assert!(allowed, "{:?} failed, outcome {:?}", s.stage, rec.outcome);
            }
        }

        // Commands are single CRLF-terminated lines (the message is the only multi-line
        // write, and it ends with the lone dot); nothing follows QUIT.
        for (i, bytes) in r.sent.iter().enumerate() {
            prop_assert!(bytes.ends_with(b"\r\n"));
            if bytes.ends_with(b"\r\n.\r\n") {
                continue;
            }
            let body = &bytes[..bytes.len() - 2];
            prop_assert!(!body.contains(&b'\r') && !body.contains(&b'\n'), "{:?}", bytes);
            if bytes.as_slice() == b"QUIT\r\n" {
                prop_assert_eq!(i + 1, r.sent.len(), "a command after QUIT");
            }
        }

        // Lines travel encrypted only after TLS was negotiated.
        let tls_at = rec
            .transcript
            .events
            .iter()
            .position(|e| e.text == "Connection converted to SSL");
        for (i, e) in rec.transcript.events.iter().enumerate() {
            if matches!(e.direction, Direction::SentEncrypted | Direction::ReceivedEncrypted) {
                prop_assert!(tls_at.is_some_and(|at| at < i), "{:?}", rec.transcript.render());
            }
        }

        // The secret is on the wire only in AUTH payloads, never in the record.
        let everything = format!("{}\n{rec:?}", rec.transcript.render().join("\n"));
        prop_assert!(!everything.contains(SECRET));
        for enc in ENCODED {
            prop_assert!(!everything.contains(enc), "{enc} in the record");
        }
    }
}

/// The willing server of the properties takes every dialog to its end, so the properties see
/// deep states (AUTH over TLS, DATA, the message), not only early failures.
#[test]
fn a_willing_server_takes_the_dialog_to_the_end() {
    for mechanism in [AuthMechanism::Plain, AuthMechanism::Login] {
        let options = SessionOptions {
            stop_after: StopAfter::Data,
            rcpt_to: Some("user@example.com".into()),
            message: Some(b"Subject: x\r\n\r\nbody\r\n".to_vec()),
            auth: Some(Auth {
                mechanism,
                user: "bob".into(),
                secret: Secret::new(SECRET),
            }),
            ..SessionOptions::default()
        };
        let r = run(options, &vec![Event::Willing; 20], &[true], true);
        assert_eq!(r.record.outcome, Outcome::Completed, "{mechanism:?}");
        assert!(
            r.record.stages.iter().all(|s| s.ok),
            "{:?}",
            r.record.stages
        );
        assert!(r.record.passed(Stage::Secure) && r.record.passed(Stage::Email));
        assert_eq!(r.sent.last().map(Vec::as_slice), Some(&b"QUIT\r\n"[..]));
        assert!(r.record.transcript.contains("Authenticated"));
    }
}
