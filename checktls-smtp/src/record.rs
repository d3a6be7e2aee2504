//! What a probe records: stages with timings, a transcript, findings and how it ended.
//!
//! ```text
//!   SmtpRecord
//!   ├── stages      [{stage: answer, ok: true, ms: 1}, {stage: connect, ...}, ...]
//!   ├── transcript  [000.001] Connected to server
//!   │               [000.004] <--  220 mx.example.com ESMTP
//!   │               [000.004]  --> EHLO checktls.invalid
//!   │               [000.031]  ~~> EHLO checktls.invalid          (after STARTTLS)
//!   ├── raw         both directions' bytes, for a hex dump (when asked)
//!   ├── ehlo1, ehlo2, tls, tls_failure, findings
//!   └── outcome     completed | stopped after X | failed at stage X because Y
//! ```

use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ehlo::Capabilities;
use crate::reply::{Reply, ReplyError};

pub use checktls_types::Stage;

/// One stage's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StageResult {
    /// The stage.
    pub stage: Stage,
    /// Passed or failed.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

/// Who said a transcript line, and whether it travelled encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Direction {
    /// We sent it in plaintext (`-->`).
    Sent,
    /// We received it in plaintext (`<--`).
    Received,
    /// We sent it over TLS (`~~>`).
    SentEncrypted,
    /// We received it over TLS (`<~~`).
    ReceivedEncrypted,
    /// A note of ours about what happened.
    Note,
}

impl Direction {
    /// The arrow CheckTLS prints.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => " -->",
            Direction::Received => "<-- ",
            Direction::SentEncrypted => " ~~>",
            Direction::ReceivedEncrypted => "<~~ ",
            Direction::Note => "",
        }
    }
}

/// One transcript line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Time since the probe started, in microseconds.
    pub at_us: u64,
    /// Direction.
    pub direction: Direction,
    /// The text (secrets already redacted).
    pub text: String,
}

impl Event {
    /// CheckTLS's rendering of the line: `[SSS.mmm] <arrow> text`.
    pub fn render(&self) -> String {
        let ms = self.at_us / 1000;
        let arrow = self.direction.arrow();
        if arrow.is_empty() {
            format!("[{:03}.{:03}] {}", ms / 1000, ms % 1000, self.text)
        } else {
            format!("[{:03}.{:03}] {arrow} {}", ms / 1000, ms % 1000, self.text)
        }
    }
}

/// The transcript of a probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transcript {
    /// The lines, in order.
    pub events: Vec<Event>,
}

/// The most transcript lines kept; later ones are counted, not kept.
pub const MAX_TRANSCRIPT_EVENTS: usize = 2000;

impl Transcript {
    /// Adds a line at `at` (time since the start).
    pub fn push(&mut self, at: Duration, direction: Direction, text: impl Into<String>) {
        if self.events.len() >= MAX_TRANSCRIPT_EVENTS {
            return;
        }
        let mut text: String = text.into();
        if text.len() > 1024 {
            let mut cut = 1024;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [...]");
        }
        self.events.push(Event {
            at_us: u64::try_from(at.as_micros()).unwrap_or(u64::MAX),
            direction,
            text,
        });
    }

    /// Adds each line of a reply.
    pub fn push_reply(&mut self, at: Duration, encrypted: bool, reply: &Reply) {
        let dir = if encrypted {
            Direction::ReceivedEncrypted
        } else {
            Direction::Received
        };
        for line in reply.wire_lines() {
            self.push(at, dir, line);
        }
    }

    /// CheckTLS's rendering: `[SSS.mmm] <arrow> text`, one line per event.
    pub fn render(&self) -> Vec<String> {
        self.events.iter().map(Event::render).collect()
    }

    /// Whether any line contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.events.iter().any(|e| e.text.contains(needle))
    }
}

/// The raw bytes of a probe, both ways, in order (plaintext, and decrypted after TLS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RawTraffic {
    /// Chunks in order: `true` for bytes we sent.
    pub chunks: Vec<(bool, Vec<u8>)>,
    /// Bytes dropped after the bound.
    pub dropped: usize,
}

/// The most raw bytes kept.
pub const MAX_RAW_BYTES: usize = 1 << 20;

impl RawTraffic {
    /// Adds a chunk (bounded by [`MAX_RAW_BYTES`]).
    pub fn push(&mut self, sent: bool, bytes: &[u8]) {
        let used: usize = self.chunks.iter().map(|(_, c)| c.len()).sum();
        let room = MAX_RAW_BYTES.saturating_sub(used);
        let keep = bytes.len().min(room);
        self.dropped += bytes.len() - keep;
        if keep > 0 {
            let slice = bytes.get(..keep).unwrap_or_default();
            match self.chunks.last_mut() {
                Some((s, c)) if *s == sent => c.extend_from_slice(slice),
                _ => self.chunks.push((sent, slice.to_vec())),
            }
        }
    }

    /// A hex dump: per chunk a header (`>>> sent` / `<<< received`), then 16 bytes per line
    /// with offsets and printable characters. Secrets sent for AUTH are redacted in the record.
    pub fn hex_dump(&self) -> String {
        let mut out = String::new();
        for (sent, bytes) in &self.chunks {
            let _ = writeln!(
                out,
                "{} {} bytes",
                if *sent { ">>> sent" } else { "<<< received" },
                bytes.len()
            );
            for (i, row) in bytes.chunks(16).enumerate() {
                let _ = write!(out, "{:06x}  ", i * 16);
                for j in 0..16 {
                    match row.get(j) {
                        Some(b) => {
                            let _ = write!(out, "{b:02x} ");
                        }
                        None => out.push_str("   "),
                    }
                }
                out.push(' ');
                for b in row {
                    out.push(if b.is_ascii_graphic() || *b == b' ' {
                        char::from(*b)
                    } else {
                        '.'
                    });
                }
                out.push('\n');
            }
        }
        if self.dropped > 0 {
            let _ = writeln!(out, "({} more bytes not kept)", self.dropped);
        }
        out
    }
}

/// Something noticed about the server, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// The server does not offer STARTTLS.
    NoStartTls,
    /// EHLO was refused; HELO was used instead.
    HeloFallback {
        /// The code EHLO got.
        code: u16,
    },
    /// The server refused STARTTLS although it offered it, or when compelled.
    StartTlsRefused {
        /// The reply.
        reply: String,
    },
    /// The server sent bytes after its 220 to STARTTLS, before the TLS handshake (a command
    /// injection attempt or a broken server); they were discarded (RFC 3207 §5).
    PlaintextInjection {
        /// How many bytes.
        bytes: usize,
    },
    /// The EHLO after TLS still offers STARTTLS (RFC 3207 §4.2).
    StartTlsAfterTls,
    /// AssureTLS: MAIL FROM in plaintext was refused: the server mandates TLS.
    PlaintextRefused {
        /// The reply.
        reply: String,
    },
    /// AssureTLS: MAIL FROM in plaintext was accepted: the server does not mandate TLS.
    PlaintextAccepted,
    /// The server's greeting or replies were slow to come (more than half the stage timeout).
    Slow {
        /// The stage.
        stage: Stage,
        /// Milliseconds.
        ms: u64,
    },
    /// AUTH was offered but not the mechanism asked for, or it failed.
    AuthFailed {
        /// Why.
        detail: String,
    },
    /// The credentials were not sent: the session was not over TLS whose certificate passed
    /// the strict check (or a DANE match). See [`Withheld`].
    AuthWithheld {
        /// Why.
        why: Withheld,
    },
    /// The credentials were sent over TLS whose certificate was NOT verified, because the
    /// caller chose the dangerous option that allows it (a lab).
    AuthOverUnverifiedTls {
        /// What the check said of the certificate.
        detail: String,
    },
}

/// Why AUTH credentials were withheld.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Withheld {
    /// The session is not encrypted (STARTTLS not offered, refused, or failed).
    NotEncrypted,
    /// TLS was negotiated, but the server's certificate did not pass the check.
    Unverified {
        /// What the check said.
        detail: String,
    },
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withheld::NotEncrypted => f.write_str("the session is not encrypted"),
            Withheld::Unverified { detail } => {
                write!(f, "the server's certificate was not verified ({detail})")
            }
        }
    }
}

impl Finding {
    /// A stable code, e.g. `smtp.no_starttls`.
    pub fn code(&self) -> &'static str {
        match self {
            Finding::NoStartTls => "smtp.no_starttls",
            Finding::HeloFallback { .. } => "smtp.helo_fallback",
            Finding::StartTlsRefused { .. } => "smtp.starttls_refused",
            Finding::PlaintextInjection { .. } => "smtp.plaintext_injection",
            Finding::StartTlsAfterTls => "smtp.starttls_after_tls",
            Finding::PlaintextRefused { .. } => "smtp.plaintext_refused",
            Finding::PlaintextAccepted => "smtp.plaintext_accepted",
            Finding::Slow { .. } => "smtp.slow",
            Finding::AuthFailed { .. } => "smtp.auth_failed",
            Finding::AuthWithheld { .. } => "smtp.auth_withheld",
            Finding::AuthOverUnverifiedTls { .. } => "smtp.auth_over_unverified_tls",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::NoStartTls => f.write_str("the server does not offer STARTTLS"),
            Finding::HeloFallback { code } => {
                write!(f, "EHLO was refused ({code}); HELO was used")
            }
            Finding::StartTlsRefused { reply } => write!(f, "STARTTLS was refused: {reply}"),
            Finding::PlaintextInjection { bytes } => write!(
                f,
                "{bytes} bytes arrived after the 220 to STARTTLS, before TLS; discarded"
            ),
            Finding::StartTlsAfterTls => {
                f.write_str("STARTTLS is still offered after TLS (see RFC 3207 §4.2)")
            }
            Finding::PlaintextRefused { reply } => {
                write!(f, "MAIL FROM in plaintext was refused: {reply}")
            }
            Finding::PlaintextAccepted => f.write_str("MAIL FROM in plaintext was accepted"),
            Finding::Slow { stage, ms } => write!(f, "the {stage} stage took {ms} ms"),
            Finding::AuthFailed { detail } => write!(f, "AUTH failed: {detail}"),
            Finding::AuthWithheld { why } => write!(
                f,
                "the AUTH credentials were withheld: {why}; they are sent only over TLS whose \
                 certificate chains to a trusted anchor and names the host (or matches DANE)"
            ),
            Finding::AuthOverUnverifiedTls { detail } => write!(
                f,
                "the AUTH credentials were sent over TLS whose certificate was not verified \
                 ({detail}), because the dangerous option allowing it was set"
            ),
        }
    }
}

/// Why a probe stopped before it meant to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum FailReason {
    /// The TCP connection was refused.
    #[error("connection refused")]
    Refused,
    /// The address could not be reached (no route, network unreachable, proxy failure).
    #[error("unreachable: {detail}")]
    Unreachable {
        /// The system's or proxy's message.
        detail: String,
    },
    /// The stage's time ran out.
    #[error("timed out after {ms} ms")]
    Timeout {
        /// The limit, in milliseconds.
        ms: u64,
    },
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The connection was reset or broke.
    #[error("connection error: {detail}")]
    Io {
        /// The system's message.
        detail: String,
    },
    /// A 4xx reply: try later (a 421 greeting means the server is busy).
    #[error("temporary failure {code}: {text}")]
    Temporary {
        /// The code.
        code: u16,
        /// The first line of text.
        text: String,
    },
    /// A 5xx reply.
    #[error("permanent failure {code}: {text}")]
    Permanent {
        /// The code.
        code: u16,
        /// The first line of text.
        text: String,
    },
    /// Bytes that are not SMTP, or a reply past the bounds.
    #[error("protocol violation: {0}")]
    Protocol(ReplyError),
    /// An unexpected reply code for the command.
    #[error("unexpected reply {code} to {command}")]
    Unexpected {
        /// The command.
        command: String,
        /// The code.
        code: u16,
    },
    /// TLS could not be negotiated.
    #[error("TLS failed: {detail}")]
    Tls {
        /// The TLS error.
        detail: String,
    },
    /// STARTTLS was not offered and TLS was required (AUTH, or compel off while TLS is needed).
    #[error("STARTTLS is not offered")]
    NoStartTls,
    /// AUTH was asked for, but the credentials were withheld (see [`Withheld`]).
    #[error("AUTH credentials withheld: {why}")]
    AuthWithheld {
        /// Why.
        why: Withheld,
    },
    /// An option holds a character that cannot go on an SMTP command line (CR, LF, NUL or
    /// another control character): nothing was sent.
    #[error("the {field} holds a control character (at byte {at}); nothing was sent")]
    InvalidArgument {
        /// Which option.
        field: Argument,
        /// The byte offset of the first bad character.
        at: usize,
    },
}

/// A command argument the session puts on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Argument {
    /// The EHLO (or HELO) name.
    EhloName,
    /// The MAIL FROM address.
    MailFrom,
    /// The RCPT TO address.
    RcptTo,
    /// The AUTH user name.
    AuthUser,
    /// The AUTH password.
    AuthPassword,
}

impl fmt::Display for Argument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Argument::EhloName => "EHLO name",
            Argument::MailFrom => "MAIL FROM address",
            Argument::RcptTo => "RCPT TO address",
            Argument::AuthUser => "AUTH user name",
            Argument::AuthPassword => "AUTH password",
        })
    }
}

/// How a probe ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Outcome {
    /// Every stage asked for was run (and QUIT sent).
    Completed,
    /// Stopped after the stage asked for.
    Stopped {
        /// The last stage run.
        after: Stage,
    },
    /// Stopped early.
    Failed {
        /// The stage that failed.
        stage: Stage,
        /// Why.
        reason: FailReason,
    },
}

impl Outcome {
    /// Whether the server asked us to come back later: a 4xx greeting, or a 421 ("service
    /// not available, closing", RFC 5321 §3.8) at any stage (EHLO, STARTTLS, MAIL FROM, RCPT
    /// TO). The host was busy, not tested: the caller backs off and tries again.
    pub fn is_busy(&self) -> bool {
        match self {
            Outcome::Failed {
                stage: Stage::Connect,
                reason: FailReason::Temporary { .. },
            } => true,
            Outcome::Failed {
                reason: FailReason::Temporary { code, .. },
                ..
            } => *code == 421,
            _ => false,
        }
    }

    /// A temporary refusal of the recipient other than 421 (a 450, 451 or 452 at RCPT TO:
    /// greylisting, postscreen's "come back later"): a temporary result, not a judgement of
    /// the server's TLS. The code and the reply text.
    pub fn rcpt_deferred(&self) -> Option<(u16, &str)> {
        match self {
            Outcome::Failed {
                stage: Stage::RcptTo,
                reason: FailReason::Temporary { code, text },
            } if *code != 421 => Some((*code, text.as_str())),
            _ => None,
        }
    }

    /// How long the server asked us to wait, when its temporary refusal says so in its text
    /// ("try again in 30 seconds", "retry after 2 minutes", "wait 10s").
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Outcome::Failed {
                reason: FailReason::Temporary { text, .. },
                ..
            } => wait_in_text(text),
            _ => None,
        }
    }
}

/// A number of seconds or minutes named in a reply's text: a number followed by `s`, `sec`,
/// `second(s)`, `m`, `min`, `minute(s)` (at most an hour is believed).
pub fn wait_in_text(text: &str) -> Option<std::time::Duration> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit)
            || (i > 0
                && bytes
                    .get(i - 1)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let number: u64 = lower.get(start..i)?.parse().ok()?;
        let unit: String = lower
            .get(i..)?
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let secs = match unit.as_str() {
            "s" | "sec" | "secs" | "second" | "seconds" => Some(number),
            "m" | "min" | "mins" | "minute" | "minutes" => number.checked_mul(60),
            _ => None,
        };
        if let Some(secs) = secs.filter(|s| (1..=3600).contains(s)) {
            return Some(std::time::Duration::from_secs(secs));
        }
    }
    None
}

/// Both EHLO replies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Ehlos {
    /// Before TLS.
    pub before_tls: Option<Capabilities>,
    /// After TLS.
    pub after_tls: Option<Capabilities>,
}

/// The record of one SMTP probe (sans TLS facts: see the driver's `SmtpRecord`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The stages run, in order.
    pub stages: Vec<StageResult>,
    /// The transcript.
    pub transcript: Transcript,
    /// The capabilities announced.
    pub ehlo: Ehlos,
    /// The greeting.
    pub greeting: Option<Reply>,
    /// What was noticed.
    pub findings: Vec<Finding>,
    /// How it ended.
    pub outcome: Outcome,
}

impl SessionRecord {
    /// The result of a stage, if it was run.
    pub fn stage(&self, stage: Stage) -> Option<StageResult> {
        self.stages.iter().copied().find(|s| s.stage == stage)
    }

    /// Whether a stage was run and passed.
    pub fn passed(&self, stage: Stage) -> bool {
        self.stage(stage).is_some_and(|s| s.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(stage: Stage, code: u16, text: &str) -> Outcome {
        Outcome::Failed {
            stage,
            reason: FailReason::Temporary {
                code,
                text: text.into(),
            },
        }
    }

    #[test]
    fn busy_deferred_and_the_wait_named_in_the_text() {
        let too_many = "4.7.0 mx Error: too many connections from 127.0.0.1";
        for stage in [
            Stage::Connect,
            Stage::Ehlo,
            Stage::TlsOffered,
            Stage::MailFrom,
        ] {
            assert!(temp(stage, 421, too_many).is_busy(), "{stage}");
        }
        assert!(temp(Stage::Connect, 450, "later").is_busy());
        // Greylisting at RCPT TO: deferred, not busy.
        let grey = temp(Stage::RcptTo, 450, "4.2.0 Greylisted, see http://postgrey");
        assert!(!grey.is_busy());
        assert_eq!(grey.rcpt_deferred().map(|(c, _)| c), Some(450));
        assert!(temp(Stage::RcptTo, 421, too_many).rcpt_deferred().is_none());
        assert!(temp(Stage::RcptTo, 421, too_many).is_busy());
        let secs = |t: &str| wait_in_text(t).map(|d| d.as_secs());
        assert_eq!(secs("try again in 30 seconds"), Some(30));
        assert_eq!(secs("4.7.0 retry after 2 minutes"), Some(120));
        assert_eq!(secs("wait 10s please"), Some(10));
        assert_eq!(secs(too_many), None, "an address is not a wait");
        assert_eq!(secs("4.7.0 see RFC 5321"), None);
        assert_eq!(
            secs("come back in 99999 seconds"),
            None,
            "more than an hour"
        );
        assert_eq!(
            temp(Stage::Connect, 421, "busy, try again in 5 s").retry_after(),
            Some(std::time::Duration::from_secs(5))
        );
    }
}
