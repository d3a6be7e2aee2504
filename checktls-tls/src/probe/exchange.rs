//! The conversations one probe connection holds, as sans-I/O state machines: bytes in,
//! bytes out, and an [`Outcome`] at the end. The driver owns the socket and the clock.
//!
//! ```text
//!   Conversation::start(random) ─► bytes to send
//!   input(bytes received) ─► Next::Send(bytes) | Next::Wait | Next::Done
//!   finish(Ending) ─► Outcome
//!
//!   Hello:       ClientHello ─► first flight                  ─► Outcome::Answer
//!   Heartbleed:  ClientHello ─► flight ─► heartbeat(len 64, 0 bytes) + close_notify
//!                ─► heartbeat reply? (vulnerable) | alert/close (not)  ─► Outcome::Heartbleed
//!   CCS:         ClientHello ─► flight ─► ChangeCipherSpec + a 32-byte "encrypted" record
//!                ─► unexpected_message (patched) | bad_record_mac (accepted) ─► Outcome::Ccs
//!   CCS riding:  the same on an enumeration hello ─► Outcome::Rider { hello: the Answer, check }
//! ```

use serde::{Deserialize, Serialize};

use super::hello::{ClientHello, ssl2_client_hello, ssl2_compatible_client_hello};
use super::parse::{
    FlightError, FlightParser, RecordReader, ServerAnswer, alert, alert_name, content, heartbeat,
};

/// What the driver does next.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Send these bytes, then keep reading.
    Send(Vec<u8>),
    /// Keep reading.
    Wait,
    /// The conversation is over: close the connection.
    Done,
}

/// How the connection ended, as the driver saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// The conversation said [`Next::Done`].
    Done,
    /// The server closed the connection.
    Closed,
    /// No answer within the time allowed.
    TimedOut {
        /// The time allowed, in milliseconds.
        ms: u64,
    },
    /// The connection could not be opened, or failed.
    Failed(String),
}

impl Ending {
    fn describe(&self) -> String {
        match self {
            Self::Done => "done".into(),
            Self::Closed => "the server closed the connection".into(),
            Self::TimedOut { ms } => format!("no answer within {ms} ms"),
            Self::Failed(e) => e.clone(),
        }
    }
}

/// What the server did in a Heartbleed check.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HeartbleedResult {
    /// It answered a heartbeat whose payload_length exceeded the record: it read past the
    /// request (RFC 6520 §4 says to discard such a message silently).
    Leaked {
        /// The payload_length it echoed.
        payload_length: u16,
        /// The bytes it sent after the length (of memory it should not have sent).
        carried: usize,
    },
    /// It discarded the request (an alert, a close, or nothing before our close_notify was
    /// answered).
    Discarded {
        /// What it did.
        how: String,
    },
    /// The ClientHello was refused: nothing to test at this version.
    Refused(String),
    /// No conclusion (a timeout with the connection still open).
    Unknown(String),
}

/// What the server did in a CCS injection check.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CcsResult {
    /// It accepted the early ChangeCipherSpec: the record after it was decrypted with keys
    /// that cannot exist yet (alert bad_record_mac or decryption_failed, or silence).
    Accepted {
        /// What it answered.
        how: String,
    },
    /// It refused the early ChangeCipherSpec (unexpected_message, another alert, or a close).
    Rejected {
        /// What it answered.
        how: String,
    },
    /// The ClientHello was refused.
    Refused(String),
}

/// The outcome of one connection.
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered the ClientHello.
    Answer(ServerAnswer),
    /// It did not answer with anything we could read (closed, timed out, not TLS).
    Failed(String),
    /// A Heartbleed check's result.
    Heartbleed(HeartbleedResult),
    /// A CCS injection check's result.
    Ccs(CcsResult),
    /// A full handshake's result (and its renegotiation attempt).
    Handshake(super::tls12::HandshakeResult),
    /// How the server answered one ROBOT variant.
    Robot {
        /// The variant sent.
        variant: super::robot::Variant,
        /// Its answer (an alert, a close, no answer).
        answer: String,
    },
    /// A check that rode on an enumeration hello: what the hello got (as a plain hello's
    /// [`Outcome::Answer`] or [`Outcome::Failed`]), then the check's own outcome.
    Rider {
        /// The hello's outcome.
        hello: Box<Outcome>,
        /// The check's outcome.
        check: Box<Outcome>,
    },
}

/// One connection's conversation.
pub trait Conversation: Send {
    /// The first bytes to send; `random` is fresh randomness for the client random.
    fn start(&mut self, random: [u8; 32]) -> Vec<u8>;
    /// Bytes received.
    fn input(&mut self, bytes: &[u8]) -> Next;
    /// The end: what was learnt.
    fn finish(self: Box<Self>, ending: Ending) -> Outcome;
}

/// The form a hello is sent in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelloForm {
    /// A TLS record.
    Tls(ClientHello),
    /// The SSLv2-compatible format (RFC 5246 appendix E.2).
    Ssl2Compatible(ClientHello),
    /// An SSLv2 CLIENT-HELLO offering every SSLv2 kind.
    Ssl2,
}

/// Sends a ClientHello and reads the first flight.
#[derive(Debug)]
pub struct HelloExchange {
    form: HelloForm,
    parser: FlightParser,
    result: Option<Result<ServerAnswer, FlightError>>,
}

impl HelloExchange {
    /// A conversation sending `form`.
    pub fn new(form: HelloForm) -> Self {
        Self {
            form,
            parser: FlightParser::new(),
            result: None,
        }
    }
}

impl Conversation for HelloExchange {
    fn start(&mut self, random: [u8; 32]) -> Vec<u8> {
        match &self.form {
            HelloForm::Tls(h) => h.record(random),
            HelloForm::Ssl2Compatible(h) => {
                ssl2_compatible_client_hello(h.version, &h.suites, random)
            }
            HelloForm::Ssl2 => {
                let mut challenge = [0u8; 16];
                challenge.copy_from_slice(random.get(..16).unwrap_or(&[0; 16]));
                ssl2_client_hello(challenge)
            }
        }
    }

    fn input(&mut self, bytes: &[u8]) -> Next {
        if let Err(e) = self.parser.feed(bytes) {
            self.result = Some(Err(e));
            return Next::Done;
        }
        match self.parser.answer() {
            Ok(None) => Next::Wait,
            Ok(Some(a)) => {
                self.result = Some(Ok(a));
                Next::Done
            }
            Err(e) => {
                self.result = Some(Err(e));
                Next::Done
            }
        }
    }

    fn finish(self: Box<Self>, ending: Ending) -> Outcome {
        match self.result {
            Some(Ok(a)) => Outcome::Answer(a),
            Some(Err(e)) => Outcome::Failed(e.to_string()),
            None => Outcome::Failed(ending.describe()),
        }
    }
}

fn record(kind: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn refusal(a: &Result<ServerAnswer, String>) -> String {
    match a {
        Ok(ServerAnswer::Alert { description, .. }) => {
            format!("alert {description} ({})", alert_name(*description))
        }
        Ok(ServerAnswer::Hello(f)) if !f.done => "the server did not send ServerHelloDone".into(),
        Ok(_) => "an SSLv2 answer".into(),
        Err(e) => e.clone(),
    }
}

/// The payload_length the heartbeat request claims (with no payload at all).
pub const HEARTBEAT_CLAIM: u16 = 64;

/// The Heartbleed check (RFC 6520 §4, CVE-2014-0160): after the server's first flight, a
/// heartbeat request claiming [`HEARTBEAT_CLAIM`] payload bytes and carrying none, then a
/// close_notify so a server that discards the request answers promptly.
#[derive(Debug)]
pub struct HeartbleedExchange {
    hello: ClientHello,
    flight: FlightParser,
    first: Option<Result<ServerAnswer, String>>,
    records: RecordReader,
    result: Option<HeartbleedResult>,
}

impl HeartbleedExchange {
    /// A check sending `hello` (with the heartbeat extension added).
    pub fn new(mut hello: ClientHello) -> Self {
        hello.heartbeat = true;
        Self {
            hello,
            flight: FlightParser::new(),
            first: None,
            records: RecordReader::new(),
            result: None,
        }
    }

    fn wire(&self) -> u16 {
        self.hello.version.wire().min(0x0303)
    }
}

impl Conversation for HeartbleedExchange {
    fn start(&mut self, random: [u8; 32]) -> Vec<u8> {
        self.hello.record(random)
    }

    fn input(&mut self, bytes: &[u8]) -> Next {
        if self.first.is_none() {
            if let Err(e) = self.flight.feed(bytes) {
                self.first = Some(Err(e.to_string()));
                return Next::Done;
            }
            match self.flight.answer() {
                Ok(None) => return Next::Wait,
                Err(e) => {
                    self.first = Some(Err(e.to_string()));
                    return Next::Done;
                }
                Ok(Some(a)) => {
                    let ready = matches!(&a, ServerAnswer::Hello(f) if f.done);
                    self.first = Some(Ok(a));
                    if !ready {
                        return Next::Done;
                    }
                    let rest = self.flight.rest().to_vec();
                    let v = self.wire();
                    let claim = HEARTBEAT_CLAIM.to_be_bytes();
                    let mut out = record(content::HEARTBEAT, v, &[1, claim[0], claim[1]]);
                    out.extend(record(content::ALERT, v, &[1, 0]));
                    if !rest.is_empty() {
                        let _ = self.records.feed(&rest);
                    }
                    return match self.read() {
                        Next::Wait => Next::Send(out),
                        other => other,
                    };
                }
            }
        }
        if self.records.feed(bytes).is_err() {
            self.result = Some(HeartbleedResult::Unknown("too much data".into()));
            return Next::Done;
        }
        self.read()
    }

    fn finish(self: Box<Self>, ending: Ending) -> Outcome {
        let first = match self.first {
            Some(Ok(ServerAnswer::Hello(f))) if f.done => Ok(()),
            Some(other) => Err(refusal(&other)),
            None => Err(ending.describe()),
        };
        Outcome::Heartbleed(match (first, self.result) {
            (Err(e), _) => HeartbleedResult::Refused(e),
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => match ending {
                Ending::Closed => HeartbleedResult::Discarded {
                    how: "closed the connection".into(),
                },
                other => HeartbleedResult::Unknown(other.describe()),
            },
        })
    }
}

impl HeartbleedExchange {
    fn read(&mut self) -> Next {
        loop {
            match self.records.next_record() {
                Ok(None) => return Next::Wait,
                Err(e) => {
                    self.result = Some(HeartbleedResult::Discarded {
                        how: format!("answered with {e}"),
                    });
                    return Next::Done;
                }
                Ok(Some(r)) if r.kind == content::HEARTBEAT => {
                    if let Some(h) = heartbeat(&r.body)
                        && h.kind == 2
                    {
                        self.result = Some(HeartbleedResult::Leaked {
                            payload_length: h.payload_length,
                            carried: h.carried,
                        });
                        return Next::Done;
                    }
                }
                Ok(Some(r)) if r.kind == content::ALERT => {
                    let how = match alert(&r.body) {
                        Some((_, d)) => format!("alert {d} ({})", alert_name(d)),
                        None => "an alert".into(),
                    };
                    self.result = Some(HeartbleedResult::Discarded { how });
                    return Next::Done;
                }
                Ok(Some(_)) => {}
            }
        }
    }
}

/// The CCS injection check (CVE-2014-0224): after the server's first flight, a
/// ChangeCipherSpec before any key exchange, then a 32-byte record that only a server that
/// switched to (non-existent) keys would try to decrypt.
#[derive(Debug)]
pub struct CcsExchange {
    hello: ClientHello,
    flight: FlightParser,
    first: Option<Result<ServerAnswer, String>>,
    records: RecordReader,
    result: Option<CcsResult>,
    riding: bool,
}

impl CcsExchange {
    /// A check sending `hello`.
    pub fn new(hello: ClientHello) -> Self {
        Self {
            hello,
            flight: FlightParser::new(),
            first: None,
            records: RecordReader::new(),
            result: None,
            riding: false,
        }
    }

    /// The check riding on an enumeration hello: it ends in [`Outcome::Rider`], which also
    /// gives the hello's answer, so the connection serves both.
    pub fn riding(hello: ClientHello) -> Self {
        Self {
            riding: true,
            ..Self::new(hello)
        }
    }

    fn read(&mut self) -> Next {
        loop {
            match self.records.next_record() {
                Ok(None) => return Next::Wait,
                Err(e) => {
                    self.result = Some(CcsResult::Rejected {
                        how: format!("answered with {e}"),
                    });
                    return Next::Done;
                }
                Ok(Some(r)) if r.kind == content::ALERT => {
                    // An alert record the server encrypted (not two bytes) also means it
                    // switched keys.
                    self.result = Some(match alert(&r.body) {
                        Some((_, d @ (20 | 21))) => CcsResult::Accepted {
                            how: format!("alert {d} ({}) for the record after it", alert_name(d)),
                        },
                        Some((_, d)) => CcsResult::Rejected {
                            how: format!("alert {d} ({})", alert_name(d)),
                        },
                        None => CcsResult::Accepted {
                            how: "an encrypted alert".into(),
                        },
                    });
                    return Next::Done;
                }
                Ok(Some(_)) => {}
            }
        }
    }
}

impl Conversation for CcsExchange {
    fn start(&mut self, random: [u8; 32]) -> Vec<u8> {
        self.hello.record(random)
    }

    fn input(&mut self, bytes: &[u8]) -> Next {
        if self.first.is_none() {
            if let Err(e) = self.flight.feed(bytes) {
                self.first = Some(Err(e.to_string()));
                return Next::Done;
            }
            match self.flight.answer() {
                Ok(None) => return Next::Wait,
                Err(e) => {
                    self.first = Some(Err(e.to_string()));
                    return Next::Done;
                }
                Ok(Some(a)) => {
                    let ready = matches!(&a, ServerAnswer::Hello(f) if f.done);
                    self.first = Some(Ok(a));
                    if !ready {
                        return Next::Done;
                    }
                    let v = self.hello.version.wire().min(0x0303);
                    let mut out = record(content::CHANGE_CIPHER_SPEC, v, &[1]);
                    out.extend(record(content::ALERT, v, &[0x5c; 32]));
                    let rest = self.flight.rest().to_vec();
                    if !rest.is_empty() {
                        let _ = self.records.feed(&rest);
                    }
                    return match self.read() {
                        Next::Wait => Next::Send(out),
                        other => other,
                    };
                }
            }
        }
        if self.records.feed(bytes).is_err() {
            self.result = Some(CcsResult::Rejected {
                how: "too much data".into(),
            });
            return Next::Done;
        }
        self.read()
    }

    fn finish(self: Box<Self>, ending: Ending) -> Outcome {
        let hello = match &self.first {
            Some(Ok(a)) => Outcome::Answer(a.clone()),
            Some(Err(e)) => Outcome::Failed(e.clone()),
            None => Outcome::Failed(ending.describe()),
        };
        let riding = self.riding;
        let first = match self.first {
            Some(Ok(ServerAnswer::Hello(f))) if f.done => Ok(()),
            Some(other) => Err(refusal(&other)),
            None => Err(ending.describe()),
        };
        let check = Outcome::Ccs(match (first, self.result) {
            (Err(e), _) => CcsResult::Refused(e),
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => match ending {
                Ending::Closed => CcsResult::Rejected {
                    how: "closed the connection".into(),
                },
                // Silence: it took the ChangeCipherSpec and waits for more.
                other => CcsResult::Accepted {
                    how: format!("no alert ({})", other.describe()),
                },
            },
        });
        if riding {
            Outcome::Rider {
                hello: Box::new(hello),
                check: Box::new(check),
            }
        } else {
            check
        }
    }
}

/// Runs a conversation over in-memory server bytes (split at `chunk`): for tests and fuzzing.
pub fn replay(mut c: Box<dyn Conversation>, server: &[u8], chunk: usize) -> (Vec<u8>, Outcome) {
    let mut sent = c.start([7; 32]);
    for part in server.chunks(chunk.max(1)) {
        match c.input(part) {
            Next::Send(b) => sent.extend(b),
            Next::Wait => {}
            Next::Done => return (sent, c.finish(Ending::Done)),
        }
    }
    (sent, c.finish(Ending::Closed))
}
