//! ROBOT (Böck, Somorovsky, Young, USENIX Security 2018): does the server answer RSA
//! ClientKeyExchanges differently depending on their PKCS#1 v1.5 padding? Five ciphertexts,
//! one per connection, each followed by ChangeCipherSpec and a Finished the server cannot
//! decrypt; the answers (alert, close, silence) are compared. Identical answers: no oracle.
//!
//! ```text
//!   m = 00 02 ‖ nonzero PS ‖ 00 ‖ version ‖ 46 random     Valid
//!       41 17 ‖ …                                          WrongStart
//!       00 02 ‖ PS ‖ 00 ‖ 8 bytes                          ShortSecret (0x00 too late)
//!       00 02 ‖ nonzero to the end                          NoSeparator
//!       00 02 ‖ PS ‖ 00 ‖ 02 02 ‖ 46 random                 WrongVersion
//!   c = m^e mod n (the leaf's key) ─► ClientKeyExchange, ChangeCipherSpec, Finished(garbage)
//! ```

use serde::{Deserialize, Serialize};

use super::exchange::{Conversation, Ending, Next, Outcome};
use super::hello::ClientHello;
use super::parse::{FlightParser, RecordReader, ServerAnswer, alert, alert_name, content};

/// The five ClientKeyExchange plaintexts.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Correct padding and version.
    Valid,
    /// The first two bytes wrong (not 00 02).
    WrongStart,
    /// The 00 separator too late: an 8-byte premaster secret.
    ShortSecret,
    /// No 00 separator at all.
    NoSeparator,
    /// Correct padding, a wrong version in the premaster secret.
    WrongVersion,
}

impl Variant {
    /// All five, in order.
    pub const ALL: [Self; 5] = [
        Self::Valid,
        Self::WrongStart,
        Self::ShortSecret,
        Self::NoSeparator,
        Self::WrongVersion,
    ];

    /// The plaintext block for a `k`-byte modulus, with randomness from `seed`.
    pub fn block(self, k: usize, version: u16, seed: [u8; 32]) -> Vec<u8> {
        let mut stream = Vec::new();
        let mut counter = 0u32;
        while stream.len() < k {
            let mut input = seed.to_vec();
            input.extend_from_slice(&counter.to_be_bytes());
            stream.extend(
                ring::digest::digest(&ring::digest::SHA256, &input)
                    .as_ref()
                    .iter()
                    .map(|b| if *b == 0 { 0x33 } else { *b }),
            );
            counter += 1;
        }
        let nonzero = |n: usize| stream.get(..n).unwrap_or_default().to_vec();
        let ver = version.to_be_bytes();
        let secret = |v: [u8; 2], len: usize| {
            let mut s = v.to_vec();
            s.extend_from_slice(stream.get(..len.saturating_sub(2)).unwrap_or_default());
            s
        };
        let pad = |secret: Vec<u8>, start: [u8; 2]| {
            let mut m = start.to_vec();
            m.extend(nonzero(k.saturating_sub(3 + secret.len())));
            m.push(0);
            m.extend(secret);
            m
        };
        match self {
            Self::Valid => pad(secret(ver, 48), [0, 2]),
            Self::WrongStart => pad(secret(ver, 48), [0x41, 0x17]),
            Self::ShortSecret => pad(secret(ver, 8), [0, 2]),
            Self::NoSeparator => {
                let mut m = vec![0, 2];
                m.extend(nonzero(k.saturating_sub(2)));
                m
            }
            Self::WrongVersion => pad(secret([2, 2], 48), [0, 2]),
        }
    }
}

/// One variant's connection.
#[derive(Debug)]
pub struct RobotExchange {
    hello: ClientHello,
    variant: Variant,
    seed: [u8; 32],
    flight: FlightParser,
    records: RecordReader,
    sent: bool,
    answer: Option<String>,
}

impl RobotExchange {
    /// `hello` offers RSA key-exchange suites only.
    pub fn new(hello: ClientHello, variant: Variant) -> Self {
        Self {
            hello,
            variant,
            seed: [0; 32],
            flight: FlightParser::new(),
            records: RecordReader::new(),
            sent: false,
            answer: None,
        }
    }

    fn read(&mut self) -> Next {
        self.answer = Some(match self.records.next_record() {
            Ok(None) => return Next::Wait,
            Err(e) => format!("unreadable ({e})"),
            Ok(Some(r)) if r.kind == content::ALERT => match alert(&r.body) {
                Some((_, d)) => format!("alert {d} ({})", alert_name(d)),
                None => "an encrypted alert".into(),
            },
            Ok(Some(r)) => format!("a record of type {}", r.kind),
        });
        Next::Done
    }
}

fn record(kind: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
    r.extend_from_slice(body);
    r
}

impl Conversation for RobotExchange {
    fn start(&mut self, random: [u8; 32]) -> Vec<u8> {
        self.seed = random;
        self.hello.record(random)
    }

    fn input(&mut self, bytes: &[u8]) -> Next {
        if self.sent {
            if self.records.feed(bytes).is_err() {
                self.answer = Some("too much data".into());
                return Next::Done;
            }
            return self.read();
        }
        if let Err(e) = self.flight.feed(bytes) {
            self.answer = Some(format!("no flight ({e})"));
            return Next::Done;
        }
        match self.flight.answer() {
            Ok(None) => Next::Wait,
            Ok(Some(ServerAnswer::Hello(f))) if f.done => {
                let v = self.hello.version.wire();
                let Some((n, _)) = f.chain.first().and_then(|l| super::tls12::rsa_key(l)) else {
                    self.answer = Some("no RSA certificate".into());
                    return Next::Done;
                };
                let block = self.variant.block(n.len(), v, self.seed);
                let rng = ring::rand::SystemRandom::new();
                let Some(c) = f
                    .chain
                    .first()
                    .and_then(|l| super::tls12::rsa_encrypt(l, &block, true, &rng))
                else {
                    self.answer = Some("no RSA certificate".into());
                    return Next::Done;
                };
                let mut cke = vec![16];
                let len = c.len() + 2;
                cke.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
                cke.extend_from_slice(&u16::try_from(c.len()).unwrap_or(0).to_be_bytes());
                cke.extend_from_slice(&c);
                let wire = v.min(0x0303);
                let mut out = record(content::HANDSHAKE, wire, &cke);
                out.extend(record(content::CHANGE_CIPHER_SPEC, wire, &[1]));
                out.extend(record(content::HANDSHAKE, wire, &[0x42; 48]));
                self.sent = true;
                let rest = self.flight.rest().to_vec();
                let _ = self.records.feed(&rest);
                match self.read() {
                    Next::Wait => Next::Send(out),
                    other => other,
                }
            }
            Ok(Some(_)) => {
                self.answer = Some("the hello was refused".into());
                Next::Done
            }
            Err(e) => {
                self.answer = Some(format!("no flight ({e})"));
                Next::Done
            }
        }
    }

    fn finish(self: Box<Self>, ending: Ending) -> Outcome {
        let answer = match (self.answer, ending) {
            (Some(a), _) => a,
            (None, Ending::Closed) => "closed the connection".into(),
            (None, Ending::TimedOut { .. }) => "no answer".into(),
            (None, Ending::Done) => "done".into(),
            (None, Ending::Failed(e)) => e,
        };
        Outcome::Robot {
            variant: self.variant,
            answer: if self.sent {
                answer
            } else {
                format!("before the key exchange: {answer}")
            },
        }
    }
}
