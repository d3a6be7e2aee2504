//! The sans-I/O SMTP session: it decides what to send and judges what comes back; the caller
//! moves the bytes, runs the TLS handshake and tells it the time.
//!
//! ```text
//!   caller (driver)                    Session
//!   ───────────────                    ───────
//!   next_action() ◄──────────────────  Connect / Read / Send{bytes} / StartTls / Close
//!   connect, read, write, handshake
//!   on_connected / on_reply / on_tls / on_failed ──► stages, transcript, findings
//!   finish() ◄─────────────────────────  SessionRecord
//! ```
//!
//! Every reply is awaited before the next command (no pipelining). Time is an input: each call
//! takes `now`, the time since the probe started, and each action carries the stage's timeout.
//!
//! ```
//! use std::time::Duration;
//! use checktls_smtp::session::{Action, Session, SessionOptions, StopAfter};
//! use checktls_smtp::reply::Reply;
//! use checktls_smtp::record::Stage;
//!
//! let mut options = SessionOptions::default();
//! options.stop_after = StopAfter::Ehlo1;
//! let mut s = Session::new(options);
//! let ms = Duration::from_millis;
//! assert!(matches!(s.next_action(), Action::Connect { .. }));
//! s.on_connected(ms(3));
//! assert!(matches!(s.next_action(), Action::Read { .. }));
//! s.on_reply(Reply { code: 220, enhanced: None, lines: vec!["mx ESMTP".into()] }, ms(10));
//! let Action::Send { bytes, .. } = s.next_action() else { panic!() };
//! assert_eq!(bytes, b"EHLO checktls.invalid\r\n");
//! s.on_reply(Reply { code: 250, enhanced: None, lines: vec!["mx".into(), "STARTTLS".into()] }, ms(12));
//! let Action::Send { bytes, .. } = s.next_action() else { panic!() };
//! assert_eq!(bytes, b"QUIT\r\n");
//! s.on_reply(Reply { code: 221, enhanced: None, lines: vec!["bye".into()] }, ms(13));
//! assert!(matches!(s.next_action(), Action::Close));
//! let record = s.finish();
//! assert!(record.passed(Stage::Ehlo) && record.passed(Stage::TlsOffered));
//! ```

use std::time::Duration;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use crate::ehlo::Capabilities;
use crate::record::{
    Argument, Direction, Ehlos, FailReason, Finding, Outcome, SessionRecord, Stage, StageResult,
    Transcript, Withheld,
};
use crate::reply::{Limits, Reply};

pub use checktls_types::{StopAfter, TlsMode};

/// How long each wait may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Timeouts {
    /// The TCP connection (and the SOCKS5 negotiation).
    pub connect: Duration,
    /// The greeting.
    pub greeting: Duration,
    /// Each command's reply.
    pub command: Duration,
    /// The TLS handshake.
    pub tls: Duration,
    /// The reply to the end of the message (RFC 5321 suggests 10 minutes; default 60 s).
    pub data_end: Duration,
}

impl Timeouts {
    /// The same limit for every wait.
    pub fn uniform(limit: Duration) -> Self {
        Self {
            connect: limit,
            greeting: limit,
            command: limit,
            tls: limit,
            data_end: limit,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            data_end: Duration::from_secs(60),
            ..Self::uniform(Duration::from_secs(30))
        }
    }
}

/// A SASL mechanism.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum AuthMechanism {
    /// PLAIN (RFC 4616).
    #[default]
    Plain,
    /// LOGIN.
    Login,
}

pub use checktls_types::Secret;

/// AUTH credentials for a private system.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Auth {
    /// The mechanism.
    pub mechanism: AuthMechanism,
    /// The user name.
    pub user: String,
    /// The password.
    pub secret: Secret,
}

/// What the session does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct SessionOptions {
    /// The EHLO name. Default: `checktls.invalid`.
    pub ehlo_name: String,
    /// The MAIL FROM address. Default: `test@checktls.invalid`.
    pub mail_from: String,
    /// The RCPT TO address; `None` skips RCPT TO (a domain alone is tested).
    pub rcpt_to: Option<String>,
    /// Where to stop.
    pub stop_after: StopAfter,
    /// The waits.
    pub timeouts: Timeouts,
    /// How TLS starts: STARTTLS when offered (the default), on connect (port 465, no
    /// STARTTLS), or STARTTLS even when not offered.
    pub tls_mode: TlsMode,
    /// AssureTLS: skip STARTTLS and try MAIL FROM in plaintext; the host passes if it refuses.
    pub plaintext_mail_from: bool,
    /// AUTH after the EHLO over TLS. The credentials go only over TLS whose certificate the
    /// caller verified ([`Session::on_peer_identity`]); otherwise the MAIL FROM stage fails
    /// with [`FailReason::AuthWithheld`].
    pub auth: Option<Auth>,
    /// DANGER: send AUTH credentials over TLS whose certificate was not verified (never in
    /// plaintext). For a lab whose certificates are not trusted; off by default, and the
    /// record says when it was used ([`Finding::AuthOverUnverifiedTls`]).
    pub danger_auth_over_unverified_tls: bool,
    /// Never go on without TLS: when STARTTLS is not offered (and not compelled) or is
    /// refused, end with [`FailReason::NoStartTls`] at the TlsOffered stage, before AUTH or
    /// MAIL FROM. A mail client submitting to a relay sets this; a receiver test does not.
    pub require_tls: bool,
    /// The message for DATA (headers and body; dot-stuffed here). Needed for `StopAfter::Data`.
    pub message: Option<Vec<u8>>,
    /// Bounds on replies.
    pub limits: Limits,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            ehlo_name: "checktls.invalid".to_owned(),
            mail_from: "test@checktls.invalid".to_owned(),
            rcpt_to: None,
            stop_after: StopAfter::RcptTo,
            timeouts: Timeouts::default(),
            tls_mode: TlsMode::StartTls,
            plaintext_mail_from: false,
            auth: None,
            danger_auth_over_unverified_tls: false,
            require_tls: false,
            message: None,
            limits: Limits::default(),
        }
    }
}

/// The first control character (CR, LF, NUL, any other C0 or C1 control, DEL) in `value`.
fn control_at(value: &str) -> Option<usize> {
    value
        .char_indices()
        .find(|(_, c)| c.is_control())
        .map(|(i, _)| i)
}

impl SessionOptions {
    /// Checks every argument the session may put on a command line: none may hold a control
    /// character, so no option can end a command early or smuggle in another (CR, LF), cut a
    /// SASL token (NUL) or garble a transcript.
    pub fn validate(&self) -> Result<(), FailReason> {
        let mut args: Vec<(Argument, &str)> = vec![
            (Argument::EhloName, &self.ehlo_name),
            (Argument::MailFrom, &self.mail_from),
        ];
        if let Some(r) = &self.rcpt_to {
            args.push((Argument::RcptTo, r));
        }
        if let Some(a) = &self.auth {
            args.push((Argument::AuthUser, &a.user));
            args.push((Argument::AuthPassword, a.secret.expose()));
        }
        for (field, value) in args {
            if let Some(at) = control_at(value) {
                return Err(FailReason::InvalidArgument { field, at });
            }
        }
        Ok(())
    }
}

/// What the caller's check of the server's certificate says, for the credentials' sake: the
/// driver tells the session after the handshake ([`Session::on_peer_identity`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerIdentity {
    /// The chain validated to a trusted anchor, names the host and is current; or a DANE
    /// record matched.
    Verified,
    /// It did not; why.
    Unverified {
        /// What the check said.
        detail: String,
    },
}

/// What the caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Action {
    /// Open the connection within `timeout`; then [`Session::on_connected`].
    Connect {
        /// The limit.
        timeout: Duration,
    },
    /// Read one reply within `timeout`; then [`Session::on_reply`].
    Read {
        /// The limit.
        timeout: Duration,
    },
    /// Write `bytes`, then read one reply within `timeout`; then [`Session::on_reply`].
    Send {
        /// The bytes to write.
        bytes: Vec<u8>,
        /// Whether the bytes carry a secret: raw recordings must not keep them.
        secret: bool,
        /// The limit.
        timeout: Duration,
    },
    /// Run the TLS handshake within `timeout` (after discarding any bytes received since the
    /// last reply: see [`Session::on_injected`]); then [`Session::on_tls`].
    StartTls {
        /// The limit.
        timeout: Duration,
    },
    /// Close the connection: the dialog is over.
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Start,
    Connecting,
    Greeting,
    Ehlo { after_tls: bool },
    Helo,
    StartTls,
    Handshake,
    AuthStart,
    AuthUser,
    AuthPass,
    MailFrom,
    RcptTo,
    Data,
    Message,
    Quit,
    Done,
}

/// The SMTP session. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    options: SessionOptions,
    step: Step,
    next_send: Option<(Vec<u8>, bool, Duration)>,
    encrypted: bool,
    stages: Vec<StageResult>,
    transcript: Transcript,
    ehlo: Ehlos,
    greeting: Option<Reply>,
    findings: Vec<Finding>,
    outcome: Option<Outcome>,
    /// When the current wait started.
    since: Duration,
    /// When TLS started (for Secure's time).
    tls_started: Duration,
    /// The transcript text of the command handed out and not yet sent.
    pending_shown: Option<String>,
    /// What the caller said of the server's certificate (None: not told, so not verified).
    peer: Option<PeerIdentity>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Session {
    /// A session that has not connected yet.
    pub fn new(options: SessionOptions) -> Self {
        Self {
            options,
            step: Step::Start,
            next_send: None,
            encrypted: false,
            stages: Vec::new(),
            transcript: Transcript::default(),
            ehlo: Ehlos::default(),
            greeting: None,
            findings: Vec::new(),
            outcome: None,
            since: Duration::ZERO,
            tls_started: Duration::ZERO,
            pending_shown: None,
            peer: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// Whether the dialog is running over TLS.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The stages recorded so far (in the order they were reached; a stage recorded again
    /// replaces the earlier result).
    pub fn stages(&self) -> &[StageResult] {
        &self.stages
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Adds a note of the caller's to the transcript.
    pub fn note(&mut self, now: Duration, text: impl Into<String>) {
        self.transcript.push(now, Direction::Note, text);
    }

    /// Records a finding of the caller's.
    pub fn add_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Records (or replaces) a stage's result.
    pub fn set_stage(&mut self, stage: Stage, ok: bool, ms_taken: u64) {
        self.stages.retain(|s| s.stage != stage);
        self.stages.push(StageResult {
            stage,
            ok,
            ms: ms_taken,
        });
    }

    /// TLS on connect: no STARTTLS.
    fn direct(&self) -> bool {
        self.options.tls_mode == TlsMode::Direct
    }

    fn stage(&mut self, stage: Stage, ok: bool, now: Duration) {
        let taken = now.saturating_sub(self.since);
        self.set_stage(stage, ok, ms(taken));
        let limit = match stage {
            Stage::Answer => self.options.timeouts.connect,
            Stage::Connect => self.options.timeouts.greeting,
            Stage::Cert | Stage::Secure => self.options.timeouts.tls,
            Stage::Email => self.options.timeouts.data_end,
            _ => self.options.timeouts.command,
        };
        if ok && taken > limit / 2 && stage != Stage::Secure {
            self.findings.push(Finding::Slow {
                stage,
                ms: ms(taken),
            });
        }
    }

    fn sent_dir(&self) -> Direction {
        if self.encrypted {
            Direction::SentEncrypted
        } else {
            Direction::Sent
        }
    }

    fn send(&mut self, step: Step, line: String, shown: &str, secret: bool, timeout: Duration) {
        if let Some(at) = control_at(&line) {
            // Options were validated at the start; this holds whatever a later change does.
            let field = match step {
                Step::MailFrom => Argument::MailFrom,
                Step::RcptTo => Argument::RcptTo,
                Step::AuthStart | Step::AuthUser | Step::AuthPass => Argument::AuthUser,
                _ => Argument::EhloName,
            };
            self.outcome = Some(Outcome::Failed {
                stage: self.current_stage(),
                reason: FailReason::InvalidArgument { field, at },
            });
            self.step = Step::Done;
            return;
        }
        self.step = step;
        self.next_send = Some((format!("{line}\r\n").into_bytes(), secret, timeout));
        self.pending_shown = Some(shown.to_owned());
    }

    fn fail(&mut self, stage: Stage, reason: FailReason, now: Duration, quit: bool) {
        self.stage(stage, false, now);
        self.outcome = Some(Outcome::Failed { stage, reason });
        if quit {
            self.quit();
        } else {
            self.step = Step::Done;
        }
    }

    fn quit(&mut self) {
        let t = self.options.timeouts.command.min(Duration::from_secs(5));
        self.send(Step::Quit, "QUIT".into(), "QUIT", false, t);
    }

    fn stop(&mut self, after: Stage) {
        if self.outcome.is_none() {
            self.outcome = Some(Outcome::Stopped { after });
        }
        if after == Stage::Answer {
            self.step = Step::Done;
        } else {
            self.quit();
        }
    }

    /// What to do next.
    pub fn next_action(&mut self) -> Action {
        match self.step {
            Step::Start => {
                if let Err(reason) = self.options.validate() {
                    // Nothing is sent: not even the connection is opened.
                    self.note(Duration::ZERO, reason.to_string());
                    self.set_stage(Stage::Answer, false, 0);
                    self.outcome = Some(Outcome::Failed {
                        stage: Stage::Answer,
                        reason,
                    });
                    self.step = Step::Done;
                    return Action::Close;
                }
                self.step = Step::Connecting;
                Action::Connect {
                    timeout: self.options.timeouts.connect,
                }
            }
            Step::Connecting => Action::Connect {
                timeout: self.options.timeouts.connect,
            },
            Step::Greeting if self.greeting.is_none() && self.next_send.is_none() => Action::Read {
                timeout: self.options.timeouts.greeting,
            },
            Step::Handshake => Action::StartTls {
                timeout: self.options.timeouts.tls,
            },
            Step::Done => Action::Close,
            _ => match self.next_send.take() {
                Some((bytes, secret, timeout)) => Action::Send {
                    bytes,
                    secret,
                    timeout,
                },
                None => {
                    self.step = Step::Done;
                    Action::Close
                }
            },
        }
    }

    /// The connection is open (at `now`, time since the probe started).
    pub fn on_connected(&mut self, now: Duration) {
        self.stage(Stage::Answer, true, now);
        self.note(now, "Connected to server");
        self.since = now;
        if self.options.stop_after == StopAfter::Answer {
            self.stop(Stage::Answer);
        } else if self.direct() {
            self.set_stage(Stage::TlsOffered, true, 0);
            self.tls_started = now;
            self.step = Step::Handshake;
        } else {
            self.step = Step::Greeting;
        }
    }

    /// The wait of the last action failed: time ran out, the connection broke, or the bytes
    /// were not SMTP. The stage in progress fails with `reason`.
    pub fn on_failed(&mut self, reason: FailReason, now: Duration) {
        let stage = self.current_stage();
        self.note(now, format!("{stage}: {reason}"));
        if self.step == Step::Quit {
            // QUIT's reply does not matter.
            self.step = Step::Done;
            return;
        }
        // After an I/O failure the connection is not used again.
        self.fail(stage, reason, now, false);
    }

    fn current_stage(&self) -> Stage {
        match self.step {
            Step::Start | Step::Connecting => Stage::Answer,
            Step::Greeting => Stage::Connect,
            Step::Ehlo { after_tls: false } | Step::Helo => Stage::Ehlo,
            Step::StartTls => Stage::TlsOffered,
            Step::Handshake | Step::Ehlo { after_tls: true } => Stage::Secure,
            Step::AuthStart | Step::AuthUser | Step::AuthPass | Step::MailFrom => Stage::MailFrom,
            Step::RcptTo => Stage::RcptTo,
            Step::Data => Stage::Data,
            Step::Message | Step::Quit | Step::Done => Stage::Email,
        }
    }

    /// Bytes arrived after the 220 to STARTTLS and before the handshake; the caller discarded
    /// them (RFC 3207 §5).
    pub fn on_injected(&mut self, bytes: usize, now: Duration) {
        self.findings.push(Finding::PlaintextInjection { bytes });
        self.note(
            now,
            format!("{bytes} bytes received before the TLS handshake were discarded"),
        );
    }

    /// The TLS handshake ended: `Ok(certificate_presented)` or `Err(why)`.
    pub fn on_tls(&mut self, result: Result<bool, String>, now: Duration) {
        let hs = now.saturating_sub(self.tls_started);
        match result {
            Ok(cert) => {
                self.encrypted = true;
                self.set_stage(Stage::Cert, cert, ms(hs));
                self.note(now, "Connection converted to SSL");
                if self.options.stop_after == StopAfter::Starttls && !self.direct() {
                    self.set_stage(Stage::Secure, true, ms(hs));
                    self.stop(Stage::Secure);
                    return;
                }
                self.since = now;
                if self.direct() {
                    self.step = Step::Greeting;
                } else {
                    self.ehlo(true);
                }
            }
            Err(why) => {
                self.set_stage(Stage::Cert, false, ms(hs));
                self.note(now, format!("TLS failed: {why}"));
                self.since = self.tls_started;
                self.fail(Stage::Secure, FailReason::Tls { detail: why }, now, false);
            }
        }
    }

    /// What the caller's check of the server's certificate said (call it after a successful
    /// [`on_tls`](Self::on_tls)). Without it the server counts as not verified, and AUTH
    /// credentials are withheld.
    pub fn on_peer_identity(&mut self, identity: PeerIdentity, now: Duration) {
        if let PeerIdentity::Unverified { detail } = &identity {
            self.note(now, format!("Server certificate not verified: {detail}"));
        }
        self.peer = Some(identity);
    }

    fn ehlo(&mut self, after_tls: bool) {
        let line = format!("EHLO {}", self.options.ehlo_name);
        let t = self.options.timeouts.command;
        let shown = line.clone();
        self.send(Step::Ehlo { after_tls }, line, &shown, false, t);
    }

    /// A reply to the last action arrived at `now`.
    pub fn on_reply(&mut self, reply: Reply, now: Duration) {
        self.transcript.push_reply(now, self.encrypted, &reply);
        let step = self.step;
        match step {
            Step::Greeting => self.greeting_reply(reply, now),
            Step::Ehlo { after_tls } => self.ehlo_reply(reply, after_tls, now),
            Step::Helo => self.helo_reply(reply, now),
            Step::StartTls => {
                if reply.code == 421 {
                    // "Closing": busy, not a refusal of TLS.
                    self.fail(Stage::TlsOffered, reply_reason(&reply), now, true);
                } else if reply.code == 220 {
                    self.stage(Stage::TlsOffered, true, now);
                    self.note(now, "STARTTLS command works on this server");
                    self.tls_started = now;
                    self.step = Step::Handshake;
                } else {
                    self.findings.push(Finding::StartTlsRefused {
                        reply: reply.to_string(),
                    });
                    if self.options.require_tls {
                        self.fail(Stage::TlsOffered, FailReason::NoStartTls, now, true);
                        return;
                    }
                    self.stage(Stage::TlsOffered, false, now);
                    self.set_stage(Stage::Secure, false, 0);
                    // Go on in plaintext, as a sender would.
                    self.after_ehlo(now);
                }
            }
            Step::AuthStart | Step::AuthUser | Step::AuthPass => self.auth_reply(reply, now),
            Step::MailFrom => self.mail_reply(reply, now),
            Step::RcptTo => {
                let ok = reply.is_positive();
                self.stage(Stage::RcptTo, ok, now);
                if !ok {
                    self.outcome = Some(Outcome::Failed {
                        stage: Stage::RcptTo,
                        reason: reply_reason(&reply),
                    });
                    self.quit();
                } else if self.options.stop_after == StopAfter::Data
                    && self.options.message.is_some()
                {
                    self.since = now;
                    let t = self.options.timeouts.command;
                    self.send(Step::Data, "DATA".into(), "DATA", false, t);
                } else {
                    self.note(now, "Recipient OK, email address proofed");
                    self.stop(Stage::RcptTo);
                }
            }
            Step::Data => {
                let ok = reply.code == 354;
                self.stage(Stage::Data, ok, now);
                if ok {
                    self.since = now;
                    let body = dot_stuff(self.options.message.as_deref().unwrap_or_default());
                    self.step = Step::Message;
                    let t = self.options.timeouts.data_end;
                    self.next_send = Some((body, false, t));
                    self.pending_shown = Some("<message>".into());
                } else {
                    self.outcome = Some(Outcome::Failed {
                        stage: Stage::Data,
                        reason: reply_reason(&reply),
                    });
                    self.quit();
                }
            }
            Step::Message => {
                let ok = reply.is_positive();
                self.stage(Stage::Email, ok, now);
                if ok {
                    self.outcome = Some(Outcome::Completed);
                    self.quit();
                } else {
                    self.outcome = Some(Outcome::Failed {
                        stage: Stage::Email,
                        reason: reply_reason(&reply),
                    });
                    self.quit();
                }
            }
            Step::Quit => self.step = Step::Done,
            Step::Start | Step::Connecting | Step::Handshake | Step::Done => {
                // A reply nobody asked for: ignore it (it is in the transcript).
            }
        }
    }

    fn greeting_reply(&mut self, reply: Reply, now: Duration) {
        let code = reply.code;
        self.greeting = Some(reply.clone());
        if code == 220 {
            self.stage(Stage::Connect, true, now);
            self.note(now, "We are allowed to connect");
            if self.options.stop_after == StopAfter::Connect {
                self.stop(Stage::Connect);
            } else {
                self.since = now;
                let after_tls = self.direct();
                self.ehlo(after_tls);
            }
        } else {
            // 421, 554 and the like: say QUIT politely and stop.
            self.fail(Stage::Connect, reply_reason(&reply), now, true);
        }
    }

    fn ehlo_reply(&mut self, reply: Reply, after_tls: bool, now: Duration) {
        if reply.is_positive() {
            let caps = Capabilities::from_reply(&reply);
            if after_tls {
                if caps.starttls && !self.direct() {
                    self.findings.push(Finding::StartTlsAfterTls);
                }
                self.ehlo.after_tls = Some(caps);
                let since_tls = now.saturating_sub(self.tls_started);
                self.set_stage(Stage::Secure, true, ms(since_tls));
                self.note(now, "TLS successfully started on this server");
                if self.direct() {
                    self.set_stage(Stage::Ehlo, true, ms(now.saturating_sub(self.since)));
                }
                if self.options.stop_after <= StopAfter::Ehlo2 {
                    self.stop(Stage::Secure);
                } else {
                    self.since = now;
                    self.mail_or_auth(now);
                }
            } else {
                self.stage(Stage::Ehlo, true, now);
                self.note(now, "We can use this server");
                self.ehlo.before_tls = Some(caps);
                self.after_first_ehlo(now);
            }
        } else if after_tls {
            self.fail(Stage::Secure, reply_reason(&reply), now, true);
        } else if reply.is_permanent() {
            // EHLO refused: fall back to HELO (RFC 5321 §4.1.4).
            self.findings
                .push(Finding::HeloFallback { code: reply.code });
            let line = format!("HELO {}", self.options.ehlo_name);
            let t = self.options.timeouts.command;
            let shown = line.clone();
            self.send(Step::Helo, line, &shown, false, t);
        } else {
            self.fail(Stage::Ehlo, reply_reason(&reply), now, true);
        }
    }

    fn helo_reply(&mut self, reply: Reply, now: Duration) {
        if reply.is_positive() {
            self.stage(Stage::Ehlo, true, now);
            self.ehlo.before_tls = Some(Capabilities {
                domain: reply
                    .text()
                    .split_ascii_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                ..Capabilities::default()
            });
            self.after_first_ehlo(now);
        } else {
            self.fail(Stage::Ehlo, reply_reason(&reply), now, true);
        }
    }

    fn after_first_ehlo(&mut self, now: Duration) {
        let offered = self.ehlo.before_tls.as_ref().is_some_and(|c| c.starttls);
        if offered {
            self.note(now, "TLS is an option on this server");
        }
        if self.options.plaintext_mail_from {
            // AssureTLS: do not take the offered STARTTLS; see whether MAIL FROM is refused.
            self.set_stage(Stage::TlsOffered, offered, 0);
            self.since = now;
            self.mail_from();
            return;
        }
        if self.options.stop_after == StopAfter::Ehlo1 {
            self.set_stage(Stage::TlsOffered, offered, 0);
            self.stop(Stage::Ehlo);
            return;
        }
        if offered || (self.options.tls_mode == TlsMode::Compel) {
            self.since = now;
            let t = self.options.timeouts.command;
            self.send(Step::StartTls, "STARTTLS".into(), "STARTTLS", false, t);
        } else {
            self.findings.push(Finding::NoStartTls);
            self.note(now, "TLS is not an option on this server");
            if self.options.require_tls {
                self.fail(Stage::TlsOffered, FailReason::NoStartTls, now, true);
                return;
            }
            self.set_stage(Stage::TlsOffered, false, 0);
            self.set_stage(Stage::Secure, false, 0);
            self.after_ehlo(now);
        }
    }

    /// Carry on in plaintext after TLS was not to be had.
    fn after_ehlo(&mut self, now: Duration) {
        if self.options.stop_after <= StopAfter::Ehlo2 {
            self.stop(Stage::Ehlo);
        } else {
            self.since = now;
            self.mail_or_auth(now);
        }
    }

    fn mail_or_auth(&mut self, now: Duration) {
        let Some(auth) = self.options.auth.clone() else {
            self.mail_from();
            return;
        };
        // Credentials go only over TLS whose certificate passed the caller's check.
        let withheld = if !self.encrypted {
            Some(Withheld::NotEncrypted)
        } else {
            match &self.peer {
                Some(PeerIdentity::Verified) => None,
                Some(PeerIdentity::Unverified { detail })
                    if self.options.danger_auth_over_unverified_tls =>
                {
                    self.findings.push(Finding::AuthOverUnverifiedTls {
                        detail: detail.clone(),
                    });
                    None
                }
                Some(PeerIdentity::Unverified { detail }) => Some(Withheld::Unverified {
                    detail: detail.clone(),
                }),
                None => Some(Withheld::Unverified {
                    detail: "the certificate was not checked".into(),
                }),
            }
        };
        if let Some(why) = withheld {
            self.note(now, format!("AUTH credentials withheld: {why}"));
            self.findings
                .push(Finding::AuthWithheld { why: why.clone() });
            self.fail(Stage::MailFrom, FailReason::AuthWithheld { why }, now, true);
            return;
        }
        let caps = if self.encrypted {
            self.ehlo.after_tls.as_ref()
        } else {
            self.ehlo.before_tls.as_ref()
        };
        let name = match auth.mechanism {
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Login => "LOGIN",
        };
        if !caps.is_some_and(|c| c.offers_auth(name)) {
            self.findings.push(Finding::AuthFailed {
                detail: format!("the server does not offer AUTH {name}"),
            });
            self.note(
                now,
                format!("AUTH {name} is not offered; going on without it"),
            );
            self.mail_from();
            return;
        }
        let t = self.options.timeouts.command;
        match auth.mechanism {
            AuthMechanism::Plain => {
                let token = format!("\0{}\0{}", auth.user, auth.secret.expose());
                let line = format!("AUTH PLAIN {}", Base64::encode_string(token.as_bytes()));
                self.send(Step::AuthPass, line, "AUTH PLAIN <redacted>", true, t);
            }
            AuthMechanism::Login => {
                self.send(Step::AuthStart, "AUTH LOGIN".into(), "AUTH LOGIN", false, t);
            }
        }
    }

    fn auth_reply(&mut self, reply: Reply, now: Duration) {
        let t = self.options.timeouts.command;
        let Some(auth) = self.options.auth.clone() else {
            self.mail_from();
            return;
        };
        match (self.step, reply.code) {
            (Step::AuthStart, 334) => {
                let line = Base64::encode_string(auth.user.as_bytes());
                let shown = line.clone();
                self.send(Step::AuthUser, line, &shown, false, t);
            }
            (Step::AuthUser, 334) => {
                let line = Base64::encode_string(auth.secret.expose().as_bytes());
                self.send(Step::AuthPass, line, "<redacted>", true, t);
            }
            (Step::AuthPass, 235) => {
                self.note(now, "Authenticated");
                self.since = now;
                self.mail_from();
            }
            _ => {
                self.findings.push(Finding::AuthFailed {
                    detail: reply.to_string(),
                });
                self.fail(Stage::MailFrom, reply_reason(&reply), now, true);
            }
        }
    }

    fn mail_from(&mut self) {
        let line = format!("MAIL FROM:<{}>", self.options.mail_from);
        let t = self.options.timeouts.command;
        let shown = line.clone();
        self.send(Step::MailFrom, line, &shown, false, t);
    }

    fn mail_reply(&mut self, reply: Reply, now: Duration) {
        let ok = reply.is_positive();
        if self.options.plaintext_mail_from {
            self.stage(Stage::MailFrom, ok, now);
            if ok {
                self.findings.push(Finding::PlaintextAccepted);
                self.note(now, "Sender accepted in plaintext: TLS is not mandatory");
            } else {
                self.findings.push(Finding::PlaintextRefused {
                    reply: reply.to_string(),
                });
                self.note(now, "Sender refused in plaintext: TLS is mandatory");
            }
            self.outcome = Some(Outcome::Completed);
            self.quit();
            return;
        }
        self.stage(Stage::MailFrom, ok, now);
        if !ok {
            self.outcome = Some(Outcome::Failed {
                stage: Stage::MailFrom,
                reason: reply_reason(&reply),
            });
            self.quit();
            return;
        }
        self.note(now, "Sender is OK");
        if self.options.stop_after == StopAfter::MailFrom {
            self.stop(Stage::MailFrom);
            return;
        }
        match self.options.rcpt_to.clone() {
            Some(rcpt) => {
                self.since = now;
                let line = format!("RCPT TO:<{rcpt}>");
                let t = self.options.timeouts.command;
                let shown = line.clone();
                self.send(Step::RcptTo, line, &shown, false, t);
            }
            None => self.stop(Stage::MailFrom),
        }
    }

    /// The transcript line of the bytes just handed out by [`next_action`](Self::next_action)
    /// (secrets redacted), to be recorded when they are written; the driver calls this.
    pub fn on_sent(&mut self, now: Duration) {
        if let Some(shown) = self.pending_shown.take() {
            let dir = self.sent_dir();
            self.transcript.push(now, dir, shown);
        }
        self.since = now;
    }

    /// The record, once the session is over (or abandoned).
    pub fn finish(mut self) -> SessionRecord {
        self.stages.sort_by_key(|s| s.stage);
        let outcome = self.outcome.take().unwrap_or(Outcome::Completed);
        SessionRecord {
            stages: self.stages,
            transcript: self.transcript,
            ehlo: self.ehlo,
            greeting: self.greeting,
            findings: self.findings,
            outcome,
        }
    }
}

fn reply_reason(reply: &Reply) -> FailReason {
    let text = reply.text().chars().take(200).collect();
    if reply.is_transient() {
        FailReason::Temporary {
            code: reply.code,
            text,
        }
    } else if reply.is_permanent() {
        FailReason::Permanent {
            code: reply.code,
            text,
        }
    } else {
        FailReason::Unexpected {
            command: "command".into(),
            code: reply.code,
        }
    }
}

/// Dot-stuffs a message (RFC 5321 §4.5.2), normalises line ends to CRLF and appends the
/// terminating `.`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: u16, lines: &[&str]) -> Reply {
        Reply {
            code,
            enhanced: None,
            lines: lines.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Drives a session with scripted replies and a fake clock advancing `step` per action.
    fn drive(
        options: SessionOptions,
        replies: &[Reply],
        tls: Result<bool, String>,
    ) -> (SessionRecord, Vec<String>, Vec<Duration>) {
        drive_with(options, replies, tls, Some(PeerIdentity::Verified))
    }

    /// As `drive`, telling the session `peer` after a successful handshake.
    fn drive_with(
        options: SessionOptions,
        replies: &[Reply],
        tls: Result<bool, String>,
        peer: Option<PeerIdentity>,
    ) -> (SessionRecord, Vec<String>, Vec<Duration>) {
        let mut s = Session::new(options);
        let mut sent = Vec::new();
        let mut timeouts = Vec::new();
        let mut replies = replies.iter().cloned();
        let mut t = Duration::ZERO;
        for _ in 0..64 {
            t += Duration::from_millis(7);
            match s.next_action() {
                Action::Connect { timeout } => {
                    timeouts.push(timeout);
                    s.on_connected(t);
                }
                Action::Read { timeout } => {
                    timeouts.push(timeout);
                    match replies.next() {
                        Some(rep) => s.on_reply(rep, t),
                        None => s.on_failed(FailReason::Closed, t),
                    }
                }
                Action::Send { bytes, timeout, .. } => {
                    timeouts.push(timeout);
                    s.on_sent(t);
                    sent.push(String::from_utf8_lossy(&bytes).trim_end().to_owned());
                    t += Duration::from_millis(3);
                    match replies.next() {
                        Some(rep) => s.on_reply(rep, t),
                        None => s.on_failed(FailReason::Closed, t),
                    }
                }
                Action::StartTls { timeout } => {
                    timeouts.push(timeout);
                    t += Duration::from_millis(20);
                    s.on_tls(tls.clone(), t);
                    if let (Ok(_), Some(p)) = (&tls, &peer) {
                        s.on_peer_identity(p.clone(), t);
                    }
                }
                Action::Close => break,
            }
        }
        (s.finish(), sent, timeouts)
    }

    fn plain_auth(o: &mut SessionOptions) {
        o.auth = Some(Auth {
            mechanism: AuthMechanism::Plain,
            user: "bob".into(),
            secret: Secret::new("hunter2"),
        });
    }

    #[test]
    fn auth_is_withheld_without_tls() {
        let mut o = full_options();
        plain_auth(&mut o);
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "AUTH PLAIN LOGIN"]),
            r(221, &["bye"]),
        ];
        let (rec, sent, _) = drive(o, &replies, Ok(true));
        assert_eq!(sent, ["EHLO checktls.invalid", "QUIT"], "no AUTH, no MAIL");
        assert!(rec.findings.contains(&Finding::AuthWithheld {
            why: Withheld::NotEncrypted
        }));
        assert!(matches!(
            rec.outcome,
            Outcome::Failed {
                stage: Stage::MailFrom,
                reason: FailReason::AuthWithheld {
                    why: Withheld::NotEncrypted
                }
            }
        ));
        assert!(!rec.passed(Stage::MailFrom));
    }

    #[test]
    fn auth_is_withheld_over_unverified_tls_unless_the_danger_option_is_set() {
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "STARTTLS"]),
            r(220, &["go"]),
            r(250, &["mx", "AUTH PLAIN"]),
            r(235, &["ok"]),
            r(250, &["ok"]),
            r(250, &["ok"]),
            r(221, &["bye"]),
        ];
        let unverified = PeerIdentity::Unverified {
            detail: "the certificate is self-signed".into(),
        };
        for peer in [Some(unverified.clone()), None] {
            let mut o = full_options();
            plain_auth(&mut o);
            let (rec, sent, _) = drive_with(o, &replies, Ok(true), peer);
            assert_eq!(
                sent,
                [
                    "EHLO checktls.invalid",
                    "STARTTLS",
                    "EHLO checktls.invalid",
                    "QUIT"
                ]
            );
            assert!(rec.findings.iter().any(|f| matches!(
                f,
                Finding::AuthWithheld {
                    why: Withheld::Unverified { .. }
                }
            )));
            assert!(rec.passed(Stage::Secure) && !rec.passed(Stage::MailFrom));
        }
        // The lab's way out: sent over the unverified TLS, and said so.
        let mut o = full_options();
        plain_auth(&mut o);
        o.danger_auth_over_unverified_tls = true;
        let (rec, sent, _) = drive_with(o.clone(), &replies, Ok(true), Some(unverified));
        assert!(sent.iter().any(|l| l.starts_with("AUTH PLAIN ")));
        assert!(rec.passed(Stage::RcptTo));
        assert!(
            rec.findings
                .iter()
                .any(|f| matches!(f, Finding::AuthOverUnverifiedTls { .. }))
        );
        // Never in plaintext, even then.
        let plain = [
            r(220, &["mx"]),
            r(250, &["mx", "AUTH PLAIN"]),
            r(221, &["bye"]),
        ];
        let (_, sent, _) = drive(o, &plain, Ok(true));
        assert_eq!(sent, ["EHLO checktls.invalid", "QUIT"]);
    }

    #[test]
    fn control_characters_in_any_argument_send_nothing() {
        type Set = fn(&mut SessionOptions);
        let cases: [(Argument, Set); 5] = [
            (Argument::EhloName, |o| {
                o.ehlo_name = "a\r\nMAIL FROM:<x>".into()
            }),
            (Argument::MailFrom, |o| o.mail_from = "x@y>\nRSET".into()),
            (Argument::RcptTo, |o| o.rcpt_to = Some("u@v\0".into())),
            (Argument::AuthUser, |o| {
                plain_auth(o);
                if let Some(a) = &mut o.auth {
                    a.user = "bob\u{1b}[2J".into();
                }
            }),
            (Argument::AuthPassword, |o| {
                plain_auth(o);
                if let Some(a) = &mut o.auth {
                    a.secret = Secret::new("pw\u{85}x");
                }
            }),
        ];
        for (want, set) in cases {
            let mut o = full_options();
            set(&mut o);
            assert!(matches!(
                o.validate(),
                Err(FailReason::InvalidArgument { field, .. }) if field == want
            ));
            let (rec, sent, timeouts) = drive(o, &[r(220, &["mx"])], Ok(true));
            assert!(
                sent.is_empty() && timeouts.is_empty(),
                "{want}: nothing at all"
            );
            assert!(matches!(
                rec.outcome,
                Outcome::Failed {
                    reason: FailReason::InvalidArgument { field, .. },
                    ..
                } if field == want
            ));
        }
    }

    fn full_options() -> SessionOptions {
        SessionOptions {
            rcpt_to: Some("u@example.com".into()),
            timeouts: Timeouts {
                connect: Duration::from_secs(1),
                greeting: Duration::from_secs(2),
                command: Duration::from_secs(3),
                tls: Duration::from_secs(4),
                data_end: Duration::from_secs(5),
            },
            ..SessionOptions::default()
        }
    }

    #[test]
    fn full_dialog_with_a_fake_clock() {
        let replies = [
            r(220, &["mx ESMTP"]),
            r(250, &["mx", "STARTTLS"]),
            r(220, &["go ahead"]),
            r(250, &["mx"]),
            r(250, &["ok"]),
            r(250, &["ok"]),
            r(221, &["bye"]),
        ];
        let (rec, sent, timeouts) = drive(full_options(), &replies, Ok(true));
        assert_eq!(
            sent,
            [
                "EHLO checktls.invalid",
                "STARTTLS",
                "EHLO checktls.invalid",
                "MAIL FROM:<test@checktls.invalid>",
                "RCPT TO:<u@example.com>",
                "QUIT"
            ]
        );
        // Each wait carries its stage's deadline from the options.
        let secs: Vec<u64> = timeouts.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 3, 3, 4, 3, 3, 3, 3]);
        // Each command took the 3 ms the fake server took to answer.
        assert_eq!(rec.stage(Stage::Ehlo).map(|s| s.ms), Some(3));
        assert_eq!(rec.stage(Stage::MailFrom).map(|s| s.ms), Some(3));
        assert_eq!(rec.stage(Stage::Cert).map(|s| s.ms), Some(27));
        assert!(rec.stages.iter().all(|s| s.ok));
        assert_eq!(
            rec.outcome,
            Outcome::Stopped {
                after: Stage::RcptTo
            }
        );
        let lines = rec.transcript.render();
        assert_eq!(
            lines.first().map(String::as_str),
            Some("[000.007] Connected to server")
        );
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with(" ~~> MAIL FROM:<test@checktls.invalid>"))
        );
    }

    #[test]
    fn slow_replies_are_noted() {
        let mut o = full_options();
        o.timeouts.command = Duration::from_millis(4);
        o.stop_after = StopAfter::Ehlo1;
        let (rec, _, _) = drive(
            o,
            &[r(220, &["mx"]), r(250, &["mx"]), r(221, &[""])],
            Ok(true),
        );
        assert!(rec.findings.contains(&Finding::Slow {
            stage: Stage::Ehlo,
            ms: 3
        }));
    }

    #[test]
    fn require_tls_stops_before_auth_when_starttls_is_missing_or_refused() {
        let mut o = full_options();
        o.require_tls = true;
        o.auth = Some(Auth {
            mechanism: AuthMechanism::Plain,
            user: "u".into(),
            secret: Secret::new("pw"),
        });
        // Not offered.
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "AUTH PLAIN"]),
            r(221, &["bye"]),
        ];
        let (rec, sent, _) = drive(o.clone(), &replies, Ok(true));
        assert_eq!(sent, ["EHLO checktls.invalid", "QUIT"]);
        assert!(matches!(
            rec.outcome,
            Outcome::Failed {
                stage: Stage::TlsOffered,
                reason: FailReason::NoStartTls
            }
        ));
        // Offered, then refused.
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "STARTTLS", "AUTH PLAIN"]),
            r(454, &["4.7.0 TLS not available"]),
            r(221, &["bye"]),
        ];
        let (rec, sent, _) = drive(o, &replies, Ok(true));
        assert_eq!(sent, ["EHLO checktls.invalid", "STARTTLS", "QUIT"]);
        assert!(!rec.passed(Stage::TlsOffered));
    }

    #[test]
    fn starttls_refused_goes_on_in_plaintext() {
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "STARTTLS"]),
            r(454, &["4.7.0 TLS not available"]),
            r(250, &["ok"]),
            r(250, &["ok"]),
            r(221, &["bye"]),
        ];
        let (rec, sent, _) = drive(full_options(), &replies, Ok(true));
        assert!(!rec.passed(Stage::TlsOffered) && !rec.passed(Stage::Secure));
        assert!(rec.passed(Stage::RcptTo));
        assert!(sent.contains(&"RCPT TO:<u@example.com>".to_owned()));
        assert!(matches!(rec.findings[0], Finding::StartTlsRefused { .. }));
    }

    #[test]
    fn tls_failure_ends_the_dialog() {
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "STARTTLS"]),
            r(220, &["go"]),
        ];
        let (rec, sent, _) = drive(full_options(), &replies, Err("bad record".into()));
        assert_eq!(sent, ["EHLO checktls.invalid", "STARTTLS"]);
        assert!(!rec.passed(Stage::Cert) && !rec.passed(Stage::Secure));
        assert!(matches!(
            rec.outcome,
            Outcome::Failed {
                stage: Stage::Secure,
                reason: FailReason::Tls { .. }
            }
        ));
    }

    #[test]
    fn greeting_554_says_quit() {
        let (rec, sent, _) = drive(
            full_options(),
            &[r(554, &["go away"]), r(221, &[""])],
            Ok(true),
        );
        assert_eq!(sent, ["QUIT"]);
        assert!(matches!(
            rec.outcome,
            Outcome::Failed {
                stage: Stage::Connect,
                reason: FailReason::Permanent { code: 554, .. }
            }
        ));
        assert!(!rec.outcome.is_busy());
    }

    #[test]
    fn starttls_after_tls_and_auth_login_redacted() {
        let mut o = full_options();
        o.auth = Some(Auth {
            mechanism: AuthMechanism::Login,
            user: "bob".into(),
            secret: Secret::new("hunter2"),
        });
        let replies = [
            r(220, &["mx"]),
            r(250, &["mx", "STARTTLS"]),
            r(220, &["go"]),
            r(250, &["mx", "STARTTLS", "AUTH LOGIN"]),
            r(334, &["VXNlcm5hbWU6"]),
            r(334, &["UGFzc3dvcmQ6"]),
            r(235, &["ok"]),
            r(250, &["ok"]),
            r(250, &["ok"]),
            r(221, &["bye"]),
        ];
        let (rec, sent, _) = drive(o, &replies, Ok(true));
        assert!(
            sent.contains(&"aHVudGVyMg==".to_owned()),
            "the secret is on the wire"
        );
        let text = rec.transcript.render().join("\n");
        assert!(!text.contains("aHVudGVyMg==") && !text.contains("hunter2"));
        assert!(text.contains("~~> <redacted>"));
        assert!(rec.findings.contains(&Finding::StartTlsAfterTls));
        assert!(format!("{:?}", Secret::new("hunter2")).contains("redacted"));
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b".a\n..b\nc"), b"..a\r\n...b\r\nc\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }
}
