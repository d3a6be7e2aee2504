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
}
