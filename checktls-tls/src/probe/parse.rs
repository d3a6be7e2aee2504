//! The server's first flight, parsed by hand and bounded: ServerHello (the version and suite
//! chosen), Certificate (TLS 1.2 and older), ServerHelloDone, alerts, SSLv2 SERVER-HELLO.

use serde::{Deserialize, Serialize};

use crate::version::TlsVersion;

/// The most bytes of a server's first flight kept.
pub const MAX_FLIGHT: usize = 256 * 1024;
/// The largest TLS record accepted (RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_RECORD: usize = 16384 + 2048;

/// What the server answered a ClientHello with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum ServerAnswer {
    /// A ServerHello.
    Hello {
        /// The version the server chose (from supported_versions for TLS 1.3).
        version: TlsVersion,
        /// The cipher suite (for SSLv2: the first 3-byte spec, as `0x00XXYY`-less u16 of its
        /// first two bytes).
        cipher: u16,
        /// The certificates sent in the clear (TLS 1.2 and older), leaf first, DER.
        chain: Vec<Vec<u8>>,
    },
    /// An alert.
    Alert {
        /// Level (1 warning, 2 fatal).
        level: u8,
        /// Description (40 handshake_failure, 70 protocol_version, ...).
        description: u8,
    },
}

/// Why the bytes are not a TLS server flight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FlightError {
    /// Not a TLS record or SSLv2 message.
    #[error("not TLS: {0}")]
    NotTls(String),
    /// Past a size bound.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A malformed message.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// An incremental parser of the server's first flight.
#[derive(Clone, Debug, Default)]
pub struct FlightParser {
    buf: Vec<u8>,
    handshake: Vec<u8>,
    hello: Option<(TlsVersion, u16)>,
    chain: Vec<Vec<u8>>,
    done: bool,
    consumed: usize,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be24(b: &[u8], at: usize) -> Option<usize> {
    Some(
        (usize::from(*b.get(at)?) << 16)
            | (usize::from(*b.get(at + 1)?) << 8)
            | usize::from(*b.get(at + 2)?),
    )
}

impl FlightParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes received.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FlightError> {
        if self.buf.len() + bytes.len() + self.consumed > MAX_FLIGHT {
            return Err(FlightError::TooLarge(format!(
                "a first flight over {MAX_FLIGHT} bytes"
            )));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The answer, once known; `Ok(None)` when more bytes are needed.
    pub fn answer(&mut self) -> Result<Option<ServerAnswer>, FlightError> {
        // SSLv2 SERVER-HELLO: a 2-byte header with the high bit set, message type 4.
        if self.consumed == 0
            && let (Some(&b0), Some(&ty)) = (self.buf.first(), self.buf.get(2))
            && b0 & 0x80 != 0
            && ty == 4
        {
            return self.ssl2();
        }
        loop {
            if self.done {
                return Ok(self.finish());
            }
            let Some(&kind) = self.buf.first() else {
                return Ok(None);
            };
            if !matches!(kind, 20..=23) {
                return Err(FlightError::NotTls(format!("record type {kind}")));
            }
            let Some(len) = be16(&self.buf, 3) else {
                return Ok(None);
            };
            if len > MAX_RECORD {
                return Err(FlightError::TooLarge(format!("a record of {len} bytes")));
            }
            if self.buf.len() < 5 + len {
                return Ok(None);
            }
            let body: Vec<u8> = self.buf.drain(..5 + len).skip(5).collect();
            self.consumed += 5 + len;
            match kind {
                21 => {
                    let (Some(&level), Some(&description)) = (body.first(), body.get(1)) else {
                        return Err(FlightError::Malformed("alert"));
                    };
                    if self.hello.is_some() {
                        // An alert after the hello ends the flight.
                        self.done = true;
                        continue;
                    }
                    return Ok(Some(ServerAnswer::Alert { level, description }));
                }
                22 => {
                    self.handshake.extend_from_slice(&body);
                    self.handshake_messages()?;
                }
                // ChangeCipherSpec or encrypted data: nothing more in the clear.
                _ => {
                    if self.hello.is_some() {
                        self.done = true;
                    } else {
                        return Err(FlightError::Malformed("record before ServerHello"));
                    }
                }
            }
        }
    }

    fn finish(&mut self) -> Option<ServerAnswer> {
        self.hello.map(|(version, cipher)| ServerAnswer::Hello {
            version,
            cipher,
            chain: std::mem::take(&mut self.chain),
        })
    }

    fn handshake_messages(&mut self) -> Result<(), FlightError> {
        loop {
            let Some(&ty) = self.handshake.first() else {
                return Ok(());
            };
            let Some(len) = be24(&self.handshake, 1) else {
                return Ok(());
            };
            if len > MAX_FLIGHT {
                return Err(FlightError::TooLarge(format!(
                    "a handshake message of {len} bytes"
                )));
            }
            if self.handshake.len() < 4 + len {
                return Ok(());
            }
            let msg: Vec<u8> = self.handshake.drain(..4 + len).skip(4).collect();
            match ty {
                2 => {
                    let hello = server_hello(&msg).ok_or(FlightError::Malformed("ServerHello"))?;
                    self.hello = Some(hello);
                    if hello.0 == TlsVersion::Tls13 {
                        self.done = true;
                        return Ok(());
                    }
                }
                11 => {
                    self.chain = certificates(&msg).ok_or(FlightError::Malformed("Certificate"))?;
                }
                14 => {
                    self.done = true;
                    return Ok(());
                }
                _ => {}
            }
            if self.hello.is_none() && ty != 2 {
                return Err(FlightError::Malformed("handshake before ServerHello"));
            }
        }
    }

    fn ssl2(&mut self) -> Result<Option<ServerAnswer>, FlightError> {
        let b = &self.buf;
        let Some(len) = be16(b, 0).map(|l| l & 0x7fff) else {
            return Ok(None);
        };
        if b.len() < 2 + len {
            return Ok(None);
        }
        let m = b
            .get(2..2 + len)
            .ok_or(FlightError::Malformed("SSLv2 SERVER-HELLO"))?;
        let cert_len = be16(m, 5).ok_or(FlightError::Malformed("SSLv2 SERVER-HELLO"))?;
        let specs_len = be16(m, 7).ok_or(FlightError::Malformed("SSLv2 SERVER-HELLO"))?;
        let cert = m
            .get(11..11 + cert_len)
            .ok_or(FlightError::Malformed("SSLv2 certificate"))?;
        let specs = m
            .get(11 + cert_len..11 + cert_len + specs_len)
            .ok_or(FlightError::Malformed("SSLv2 cipher specs"))?;
        let cipher = be16(specs, 0)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(0);
        Ok(Some(ServerAnswer::Hello {
            version: TlsVersion::Ssl2,
            cipher,
            chain: vec![cert.to_vec()],
        }))
    }
}

/// (negotiated version, cipher suite) of a ServerHello body.
fn server_hello(m: &[u8]) -> Option<(TlsVersion, u16)> {
    let legacy = u16::try_from(be16(m, 0)?).ok()?;
    let sid_len = usize::from(*m.get(34)?);
    let at = 35 + sid_len;
    let cipher = u16::try_from(be16(m, at)?).ok()?;
    let mut version = TlsVersion::from_wire(legacy)?;
    // Extensions: look for supported_versions (43).
    let ext_at = at + 3;
    if let Some(total) = be16(m, ext_at) {
        let exts = m.get(ext_at + 2..ext_at + 2 + total)?;
        let mut i = 0;
        while i + 4 <= exts.len() {
            let kind = be16(exts, i)?;
            let len = be16(exts, i + 2)?;
            let body = exts.get(i + 4..i + 4 + len)?;
            if kind == 43 && len == 2 {
                version = TlsVersion::from_wire(u16::try_from(be16(body, 0)?).ok()?)?;
            }
            i += 4 + len;
        }
    }
    Some((version, cipher))
}

/// The certificate list of a TLS 1.2-or-older Certificate message.
fn certificates(m: &[u8]) -> Option<Vec<Vec<u8>>> {
    let total = be24(m, 0)?;
    let list = m.get(3..3 + total)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < list.len() && out.len() < 16 {
        let len = be24(list, i)?;
        out.push(list.get(i + 3..i + 3 + len)?.to_vec());
        i += 3 + len;
    }
    Some(out)
}
