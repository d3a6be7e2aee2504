//! Entry points for the fuzz targets (not part of the API).

use std::time::Duration;

use crate::ehlo::Capabilities;
use crate::reply::{Limits, ReplyParser};
use crate::session::{Action, Session, SessionOptions, StopAfter};

/// Feeds arbitrary bytes to the reply parser, in chunks split at the first byte.
pub fn reply(data: &[u8]) {
    let (split, rest) = data
        .split_first()
        .map_or((0, data), |(b, r)| (*b as usize, r));
    let mut p = ReplyParser::new(Limits {
        max_line: 512,
        max_lines: 64,
        max_reply: 8192,
    });
    for chunk in rest.chunks(split.max(1)) {
        p.feed(chunk);
        while let Ok(Some(r)) = p.next_reply() {
            let _ = r.wire_lines();
        }
    }
}

/// Parses arbitrary bytes as an EHLO reply.
pub fn ehlo(data: &[u8]) {
    let mut p = ReplyParser::new(Limits::default());
    p.feed(data);
    p.feed(b"\r\n");
    while let Ok(Some(r)) = p.next_reply() {
        let _ = Capabilities::from_reply(&r);
    }
}

/// Drives a whole session with arbitrary server bytes as every reply; TLS "succeeds" when the
/// first byte is even.
pub fn session(data: &[u8]) {
    let options = SessionOptions {
        rcpt_to: Some("user@example.com".into()),
        stop_after: StopAfter::Data,
        message: Some(b"Subject: x\r\n\r\n.body\r\n".to_vec()),
        ..SessionOptions::default()
    };
    let tls_ok = data.first().is_some_and(|b| b % 2 == 0);
    let mut s = Session::new(options);
    let mut p = ReplyParser::new(Limits::default());
    p.feed(data);
    let mut t = Duration::ZERO;
    for _ in 0..64 {
        t += Duration::from_millis(1);
        match s.next_action() {
            Action::Connect { .. } => s.on_connected(t),
            Action::Read { .. } | Action::Send { .. } => {
                s.on_sent(t);
                match p.next_reply() {
                    Ok(Some(r)) => s.on_reply(r, t),
                    Ok(None) => s.on_failed(crate::FailReason::Closed, t),
                    Err(e) => s.on_failed(crate::FailReason::Protocol(e), t),
                }
            }
            Action::StartTls { .. } => {
                let n = p.discard_pending().len();
                if n > 0 {
                    s.on_injected(n, t);
                }
                s.on_tls(if tls_ok { Ok(true) } else { Err("x".into()) }, t);
            }
            Action::Close => break,
        }
    }
    let record = s.finish();
    let _ = record.transcript.render();
    // What the politeness reads from the outcome: busy, deferred, a wait named in the text.
    let busy = record.outcome.is_busy();
    let deferred = record.outcome.rcpt_deferred().is_some();
    assert!(
        !(busy && deferred),
        "a refusal is busy or deferred, not both"
    );
    if let Some(wait) = record.outcome.retry_after() {
        assert!(wait.as_secs() <= 3600);
    }
}

/// Arbitrary option strings (EHLO name, MAIL FROM, RCPT TO, AUTH user and password, taken from
/// the input split at 0xFF bytes), then arbitrary server bytes: whatever they are, no command
/// line carries a CR or LF before its terminator, and invalid options send nothing at all.
pub fn session_options(data: &[u8]) {
    use crate::session::{Auth, AuthMechanism, PeerIdentity, Secret};
    let mut parts = data.splitn(6, |b| *b == 0xff);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (ehlo_name, mail_from, rcpt, user, pass) = (text(), text(), text(), text(), text());
    let server = parts.next().unwrap_or_default();
    let flags = server.first().copied().unwrap_or(0);
    let options = SessionOptions {
        ehlo_name,
        mail_from,
        rcpt_to: Some(rcpt),
        auth: (flags & 1 == 1).then(|| Auth {
            mechanism: if flags & 2 == 2 {
                AuthMechanism::Login
            } else {
                AuthMechanism::Plain
            },
            user,
            secret: Secret::new(pass),
        }),
        danger_auth_over_unverified_tls: flags & 4 == 4,
        stop_after: StopAfter::RcptTo,
        ..SessionOptions::default()
    };
    let valid = options.validate().is_ok();
    let mut s = Session::new(options);
    let mut p = ReplyParser::new(Limits::default());
    p.feed(server);
    let mut t = Duration::ZERO;
    for _ in 0..64 {
        t += Duration::from_millis(1);
        match s.next_action() {
            Action::Connect { .. } => {
                assert!(valid, "a session with invalid options must not connect");
                s.on_connected(t);
            }
            Action::Send { bytes, .. } => {
                assert!(valid, "a session with invalid options must not send");
                let body = bytes.strip_suffix(b"\r\n");
                assert!(
                    body.is_some_and(|b| !b.contains(&b'\r') && !b.contains(&b'\n')),
                    "a command line with CR or LF before its end: {bytes:?}"
                );
                s.on_sent(t);
                match p.next_reply() {
                    Ok(Some(r)) => s.on_reply(r, t),
                    Ok(None) => s.on_failed(crate::FailReason::Closed, t),
                    Err(e) => s.on_failed(crate::FailReason::Protocol(e), t),
                }
            }
            Action::Read { .. } => match p.next_reply() {
                Ok(Some(r)) => s.on_reply(r, t),
                Ok(None) => s.on_failed(crate::FailReason::Closed, t),
                Err(e) => s.on_failed(crate::FailReason::Protocol(e), t),
            },
            Action::StartTls { .. } => {
                let _ = p.discard_pending();
                s.on_tls(Ok(true), t);
                let identity = if flags & 8 == 8 {
                    PeerIdentity::Verified
                } else {
                    PeerIdentity::Unverified {
                        detail: "fuzz".into(),
                    }
                };
                s.on_peer_identity(identity, t);
            }
            Action::Close => break,
        }
    }
    let _ = s.finish().transcript.render();
}
