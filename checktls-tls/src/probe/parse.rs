//! The server's answers, parsed by hand and bounded: records; the first flight (ServerHello
//! and its extensions, HelloRetryRequest, Certificate, ServerKeyExchange, CertificateStatus,
//! ServerHelloDone); alerts; heartbeat messages; SSLv2 SERVER-HELLO and ERROR.
//!
//! ```text
//!   bytes ─► feed() ─► RecordReader (type 20..=24, ≤ 18 KiB each, ≤ 256 KiB in all)
//!              └─► handshake messages: ServerHello ─ Certificate ─ … ─ ServerHelloDone
//!   answer() ─► Ok(None) more bytes needed | Ok(Some(ServerAnswer)) | Err(FlightError)
//! ```

use serde::{Deserialize, Serialize};

use super::hello::{HELLO_RETRY_RANDOM, ext};
use super::suites::{KeyExchange, SuiteInfo};
use crate::version::TlsVersion;

/// The most bytes of a server's first flight kept.
pub const MAX_FLIGHT: usize = 256 * 1024;
/// The largest TLS record accepted (RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_RECORD: usize = 16384 + 2048;

/// A record's content type.
pub mod content {
    /// change_cipher_spec.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data.
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat (RFC 6520).
    pub const HEARTBEAT: u8 = 24;
}

/// One TLS extension as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Extension {
    /// Its code point.
    pub kind: u16,
    /// Its body.
    pub data: Vec<u8>,
}

/// A ServerHello (or a TLS 1.3 HelloRetryRequest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerHello {
    /// The version chosen (from supported_versions for TLS 1.3).
    pub version: TlsVersion,
    /// The server random.
    pub random: [u8; 32],
    /// The session id (echoed when the server resumes it).
    pub session_id: Vec<u8>,
    /// The cipher suite.
    pub cipher: u16,
    /// The compression method (0 null, 1 DEFLATE).
    pub compression: u8,
    /// The extensions, in the server's order.
    pub extensions: Vec<Extension>,
    /// A HelloRetryRequest (RFC 8446 §4.1.4): the server wants a key share for
    /// [`ServerHello::group`].
    pub retry: bool,
}

impl ServerHello {
    /// The body of extension `kind`, if present.
    pub fn extension(&self, kind: u16) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| e.data.as_slice())
    }

    /// Whether extension `kind` is present.
    pub fn has(&self, kind: u16) -> bool {
        self.extension(kind).is_some()
    }

    /// The TLS 1.3 key-exchange group (key_share; a HelloRetryRequest names it alone).
    pub fn group(&self) -> Option<u16> {
        let ks = self.extension(ext::KEY_SHARE)?;
        u16::try_from(be16(ks, 0)?).ok()
    }

    /// renegotiation_info's renegotiated_connection (RFC 5746 §3.4); `Some(empty)` on an
    /// initial handshake with secure renegotiation.
    pub fn renegotiation_info(&self) -> Option<&[u8]> {
        let body = self.extension(ext::RENEGOTIATION_INFO)?;
        let len = usize::from(*body.first()?);
        body.get(1..1 + len)
    }
}

/// A server's first flight up to ServerHelloDone (TLS 1.2 and older), or its ServerHello or
/// HelloRetryRequest (TLS 1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerFlight {
    /// The ServerHello.
    pub hello: ServerHello,
    /// The certificates sent in the clear, leaf first, DER.
    pub chain: Vec<Vec<u8>>,
    /// The ServerKeyExchange body; read it with [`server_key_exchange`].
    pub key_exchange: Option<Vec<u8>>,
    /// The OCSP response of a CertificateStatus message (a stapled response).
    pub ocsp_staple: Option<Vec<u8>>,
    /// The server asked for a client certificate.
    pub certificate_request: bool,
    /// The flight ended with ServerHelloDone (a full handshake follows).
    pub done: bool,
    /// The flight ended with ChangeCipherSpec right after the ServerHello: the server resumed
    /// the session offered.
    pub resumed: bool,
    /// The handshake messages received, headers included (for the Finished hash).
    pub transcript: Vec<u8>,
    /// The alert that cut the flight short (its description), when one came before
    /// ServerHelloDone: the server chose a version and suite and then aborted.
    #[serde(default)]
    pub alert: Option<u8>,
}

/// What the server answered a ClientHello with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerAnswer {
    /// A ServerHello (and the rest of the first flight).
    Hello(Box<ServerFlight>),
    /// An alert.
    Alert {
        /// Level (1 warning, 2 fatal).
        level: u8,
        /// Description (40 handshake_failure, 70 protocol_version, ...).
        description: u8,
    },
    /// An SSLv2 SERVER-HELLO: the server speaks SSL 2.0.
    Ssl2Hello {
        /// The cipher kinds it supports among those offered (3 bytes each), in its order.
        ciphers: Vec<[u8; 3]>,
        /// Its certificate, DER (empty when it sent none).
        certificate: Vec<u8>,
    },
    /// An SSLv2 ERROR message.
    Ssl2Error {
        /// The error code (1 no cipher, 2 no certificate, 4 bad certificate, 6 unsupported
        /// certificate type).
        code: u16,
    },
}

/// Why the bytes are not a TLS server flight.
#[non_exhaustive]
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

/// One record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The content type.
    pub kind: u8,
    /// The record version.
    pub version: u16,
    /// The body (still encrypted, when it is).
    pub body: Vec<u8>,
}

/// Splits bytes into TLS records, bounded: no record over [`MAX_RECORD`], no more than
/// [`MAX_FLIGHT`] bytes in all.
#[derive(Clone, Debug, Default)]
pub struct RecordReader {
    buf: Vec<u8>,
    total: usize,
}

impl RecordReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes received.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FlightError> {
        self.total = self.total.saturating_add(bytes.len());
        if self.total > MAX_FLIGHT {
            return Err(FlightError::TooLarge(format!(
                "over {MAX_FLIGHT} bytes from the server"
            )));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The bytes received and not yet read as records.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The next whole record; `Ok(None)` when more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Record>, FlightError> {
        let Some(&kind) = self.buf.first() else {
            return Ok(None);
        };
        if !matches!(kind, 20..=24) {
            return Err(FlightError::NotTls(format!("record type {kind}")));
        }
        let (Some(version), Some(len)) = (be16(&self.buf, 1), be16(&self.buf, 3)) else {
            return Ok(None);
        };
        if len > MAX_RECORD {
            return Err(FlightError::TooLarge(format!("a record of {len} bytes")));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let body: Vec<u8> = self.buf.drain(..5 + len).skip(5).collect();
        Ok(Some(Record {
            kind,
            version: u16::try_from(version).unwrap_or(0),
            body,
        }))
    }
}

/// An incremental parser of the server's first flight.
#[derive(Clone, Debug, Default)]
pub struct FlightParser {
    records: RecordReader,
    handshake: Vec<u8>,
    flight: Option<ServerFlight>,
    done: bool,
    started: bool,
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at.checked_add(1)?)?,
    ])))
}

pub(crate) fn be24(b: &[u8], at: usize) -> Option<usize> {
    Some(
        (usize::from(*b.get(at)?) << 16)
            | (usize::from(*b.get(at.checked_add(1)?)?) << 8)
            | usize::from(*b.get(at.checked_add(2)?)?),
    )
}

/// `b[at..at + len]`, if it is all there.
pub(crate) fn slice(b: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    b.get(at..at.checked_add(len)?)
}

impl FlightParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes received.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FlightError> {
        self.records.feed(bytes)
    }

    /// Bytes received after the flight (records not read yet).
    pub fn rest(&self) -> &[u8] {
        self.records.pending()
    }

    /// The answer, once known; `Ok(None)` when more bytes are needed.
    pub fn answer(&mut self) -> Result<Option<ServerAnswer>, FlightError> {
        // An SSLv2 message: a 2-byte header with the high bit set (no TLS record type has it).
        if !self.started
            && self
                .records
                .pending()
                .first()
                .is_some_and(|b| b & 0x80 != 0)
        {
            return ssl2(self.records.pending());
        }
        loop {
            if self.done {
                return Ok(self.flight.take().map(|f| ServerAnswer::Hello(Box::new(f))));
            }
            let Some(record) = self.records.next_record()? else {
                return Ok(None);
            };
            self.started = true;
            match record.kind {
                content::ALERT => {
                    let (Some(&level), Some(&description)) =
                        (record.body.first(), record.body.get(1))
                    else {
                        return Err(FlightError::Malformed("alert"));
                    };
                    if let Some(f) = &mut self.flight {
                        // An alert after the hello ends the flight.
                        if !f.done {
                            f.alert = Some(description);
                        }
                        self.done = true;
                        continue;
                    }
                    return Ok(Some(ServerAnswer::Alert { level, description }));
                }
                content::HANDSHAKE => {
                    if self.handshake.len() + record.body.len() > MAX_FLIGHT {
                        return Err(FlightError::TooLarge("a handshake flight".into()));
                    }
                    self.handshake.extend_from_slice(&record.body);
                    self.handshake_messages()?;
                }
                content::CHANGE_CIPHER_SPEC => match &mut self.flight {
                    Some(f) => {
                        f.resumed = !f.done && f.chain.is_empty();
                        self.done = true;
                    }
                    None => return Err(FlightError::Malformed("record before ServerHello")),
                },
                // Encrypted data or a heartbeat: nothing more in the clear.
                _ => {
                    if self.flight.is_some() {
                        self.done = true;
                    } else {
                        return Err(FlightError::Malformed("record before ServerHello"));
                    }
                }
            }
        }
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
            let whole: Vec<u8> = self.handshake.drain(..4 + len).collect();
            let msg = whole.get(4..).unwrap_or_default();
            let Some(flight) = &mut self.flight else {
                if ty != 2 {
                    return Err(FlightError::Malformed("handshake before ServerHello"));
                }
                let hello = server_hello(msg).ok_or(FlightError::Malformed("ServerHello"))?;
                let tls13 = hello.version == TlsVersion::Tls13;
                self.flight = Some(ServerFlight {
                    hello,
                    chain: Vec::new(),
                    key_exchange: None,
                    ocsp_staple: None,
                    certificate_request: false,
                    done: false,
                    resumed: false,
                    transcript: whole,
                    alert: None,
                });
                if tls13 {
                    self.done = true;
                    return Ok(());
                }
                continue;
            };
            flight.transcript.extend_from_slice(&whole);
            match ty {
                11 => {
                    flight.chain =
                        certificates(msg).ok_or(FlightError::Malformed("Certificate"))?;
                }
                12 => flight.key_exchange = Some(msg.to_vec()),
                13 => flight.certificate_request = true,
                14 => {
                    flight.done = true;
                    self.done = true;
                    return Ok(());
                }
                22 => {
                    // CertificateStatus: status_type ocsp(1), then the response (RFC 6066 §8).
                    if msg.first() == Some(&1)
                        && let Some(n) = be24(msg, 1)
                    {
                        flight.ocsp_staple = slice(msg, 4, n).map(<[u8]>::to_vec);
                    }
                }
                _ => {}
            }
        }
    }
}

fn ssl2(b: &[u8]) -> Result<Option<ServerAnswer>, FlightError> {
    let Some(len) = be16(b, 0).map(|l| l & 0x7fff) else {
        return Ok(None);
    };
    if b.len() < 2 + len {
        return Ok(None);
    }
    let bad = FlightError::Malformed("SSLv2 message");
    let m = b.get(2..2 + len).ok_or(bad.clone())?;
    match m.first() {
        // MSG-ERROR
        Some(0) => {
            let code = be16(m, 1).and_then(|c| u16::try_from(c).ok());
            Ok(Some(ServerAnswer::Ssl2Error {
                code: code.ok_or(bad)?,
            }))
        }
        // MSG-SERVER-HELLO: hit, cert type, version, cert len, specs len, conn id len.
        Some(4) => {
            let cert_len = be16(m, 5).ok_or(bad.clone())?;
            let specs_len = be16(m, 7).ok_or(bad.clone())?;
            let certificate = slice(m, 11, cert_len).ok_or(bad.clone())?.to_vec();
            let specs = slice(m, 11 + cert_len, specs_len).ok_or(bad.clone())?;
            if specs.len() % 3 != 0 {
                return Err(bad);
            }
            let ciphers = specs
                .chunks_exact(3)
                .filter_map(|c| <[u8; 3]>::try_from(c).ok())
                .collect();
            Ok(Some(ServerAnswer::Ssl2Hello {
                ciphers,
                certificate,
            }))
        }
        Some(t) => Err(FlightError::NotTls(format!("SSLv2 message type {t}"))),
        None => Err(bad),
    }
}

/// A ServerHello body (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3).
pub fn server_hello(m: &[u8]) -> Option<ServerHello> {
    let legacy = u16::try_from(be16(m, 0)?).ok()?;
    let random: [u8; 32] = slice(m, 2, 32)?.try_into().ok()?;
    let sid_len = usize::from(*m.get(34)?);
    if sid_len > 32 {
        return None;
    }
    let session_id = slice(m, 35, sid_len)?.to_vec();
    let at = 35 + sid_len;
    let cipher = u16::try_from(be16(m, at)?).ok()?;
    let compression = *m.get(at + 2)?;
    let mut version = TlsVersion::from_wire(legacy)?;
    let mut extensions = Vec::new();
    let ext_at = at + 3;
    if let Some(total) = be16(m, ext_at) {
        let exts = slice(m, ext_at + 2, total)?;
        let mut i = 0;
        while i < exts.len() {
            let kind = u16::try_from(be16(exts, i)?).ok()?;
            let len = be16(exts, i + 2)?;
            let data = slice(exts, i + 4, len)?.to_vec();
            if extensions.iter().any(|e: &Extension| e.kind == kind) {
                return None; // RFC 8446 §4.2: at most one of each
            }
            if kind == ext::SUPPORTED_VERSIONS {
                version = TlsVersion::from_wire(u16::try_from(be16(&data, 0)?).ok()?)?;
            }
            extensions.push(Extension { kind, data });
            i += 4 + len;
        }
    }
    Some(ServerHello {
        version,
        random,
        session_id,
        cipher,
        compression,
        extensions,
        retry: random == HELLO_RETRY_RANDOM,
    })
}

/// The certificate list of a TLS 1.2-or-older Certificate message.
fn certificates(m: &[u8]) -> Option<Vec<Vec<u8>>> {
    let total = be24(m, 0)?;
    let list = slice(m, 3, total)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < list.len() && out.len() < 16 {
        let len = be24(list, i)?;
        out.push(slice(list, i + 3, len)?.to_vec());
        i += 3 + len;
    }
    Some(out)
}

/// The server's key-exchange parameters (RFC 5246 §7.4.3, RFC 8422 §5.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyExchangeParams {
    /// An elliptic-curve point on a named group.
    Ec {
        /// The named group.
        group: u16,
        /// The server's public point.
        public: Vec<u8>,
    },
    /// Finite-field Diffie-Hellman.
    Dh {
        /// The prime, big-endian.
        p: Vec<u8>,
        /// The generator.
        g: Vec<u8>,
        /// The server's public value.
        public: Vec<u8>,
    },
}

impl KeyExchangeParams {
    /// The size of the DH prime in bits (leading zero bits not counted).
    pub fn dh_bits(&self) -> Option<u16> {
        let Self::Dh { p, .. } = self else {
            return None;
        };
        let first = p.iter().position(|b| *b != 0)?;
        let lead = p.get(first)?.leading_zeros() as usize;
        u16::try_from((p.len() - first) * 8 - lead).ok()
    }
}

/// A ServerKeyExchange, read for the suite chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerKeyExchange {
    /// The parameters.
    pub params: KeyExchangeParams,
    /// The signature scheme (TLS 1.2; absent for anonymous suites and before TLS 1.2).
    pub signature_scheme: Option<u16>,
}

/// Reads a ServerKeyExchange body for `suite` at `version`; `None` when malformed or not a
/// (EC)DH exchange.
pub fn server_key_exchange(
    body: &[u8],
    suite: &SuiteInfo,
    version: TlsVersion,
) -> Option<ServerKeyExchange> {
    let mut at = 0;
    if matches!(suite.kx, KeyExchange::DhePsk | KeyExchange::EcdhePsk) {
        at += 2 + be16(body, 0)?; // psk_identity_hint
    }
    let (params, end) = match suite.kx {
        KeyExchange::Ecdhe | KeyExchange::Ecdh | KeyExchange::EcdhePsk => {
            if *body.get(at)? != 3 {
                return None; // only named_curve
            }
            let group = u16::try_from(be16(body, at + 1)?).ok()?;
            let n = usize::from(*body.get(at + 3)?);
            let public = slice(body, at + 4, n)?.to_vec();
            (KeyExchangeParams::Ec { group, public }, at + 4 + n)
        }
        KeyExchange::Dhe | KeyExchange::Dh | KeyExchange::DhePsk => {
            let pn = be16(body, at)?;
            let p = slice(body, at + 2, pn)?.to_vec();
            let at = at + 2 + pn;
            let gn = be16(body, at)?;
            let g = slice(body, at + 2, gn)?.to_vec();
            let at = at + 2 + gn;
            let yn = be16(body, at)?;
            let public = slice(body, at + 2, yn)?.to_vec();
            (KeyExchangeParams::Dh { p, g, public }, at + 2 + yn)
        }
        _ => return None,
    };
    let signature_scheme = if version >= TlsVersion::Tls12
        && suite.auth != super::suites::Authentication::Anonymous
        && suite.auth != super::suites::Authentication::Psk
    {
        be16(body, end).and_then(|s| u16::try_from(s).ok())
    } else {
        None
    };
    Some(ServerKeyExchange {
        params,
        signature_scheme,
    })
}

/// A heartbeat message (RFC 6520 §4) as received, read within its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Heartbeat {
    /// 1 request, 2 response.
    pub kind: u8,
    /// The payload length it claims.
    pub payload_length: u16,
    /// The bytes after the length field actually in the record (payload and padding).
    pub carried: usize,
}

/// Reads a heartbeat record body; `None` when it is shorter than its header.
pub fn heartbeat(body: &[u8]) -> Option<Heartbeat> {
    Some(Heartbeat {
        kind: *body.first()?,
        payload_length: u16::try_from(be16(body, 1)?).ok()?,
        carried: body.len().checked_sub(3)?,
    })
}

/// An alert record body: (level, description).
pub fn alert(body: &[u8]) -> Option<(u8, u8)> {
    match body {
        [level, description] => Some((*level, *description)),
        _ => None,
    }
}

/// The name of an alert description (RFC 8446 §6, RFC 5246 §7.2).
pub fn alert_name(d: u8) -> &'static str {
    match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        _ => "alert",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
        let n = body.len();
        let mut m = vec![ty, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        m.extend_from_slice(body);
        m
    }

    fn server_hello(version: u16, cipher: u16, exts: &[u8]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[9; 32]);
        b.push(4);
        b.extend_from_slice(&[1, 2, 3, 4]);
        b.extend_from_slice(&cipher.to_be_bytes());
        b.push(0);
        if !exts.is_empty() {
            b.extend_from_slice(&u16::try_from(exts.len()).unwrap().to_be_bytes());
            b.extend_from_slice(exts);
        }
        handshake(2, &b)
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            let n = c.len();
            list.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            list.extend_from_slice(c);
        }
        let n = list.len();
        let mut b = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8];
        b.extend_from_slice(&list);
        handshake(11, &b)
    }

    /// (version, cipher, chain) of an answer that is a hello.
    fn short(a: Option<ServerAnswer>) -> Option<(TlsVersion, u16, Vec<Vec<u8>>)> {
        match a? {
            ServerAnswer::Hello(f) => Some((f.hello.version, f.hello.cipher, f.chain)),
            _ => None,
        }
    }

    fn parse(bytes: &[u8], chunk: usize) -> Result<Option<ServerAnswer>, FlightError> {
        let mut p = FlightParser::new();
        for c in bytes.chunks(chunk) {
            p.feed(c)?;
            if let Some(a) = p.answer()? {
                return Ok(Some(a));
            }
        }
        p.answer()
    }

    #[test]
    fn tls12_flight_in_any_chunking() {
        let mut hs = server_hello(0x0303, 0xC02F, &[]);
        hs.extend(certificate(&[b"leaf", b"intermediate"]));
        hs.extend(handshake(12, &[0; 10])); // ServerKeyExchange: skipped
        hs.extend(handshake(14, &[]));
        // Split over two records, the Certificate message across the boundary.
        let (a, b) = hs.split_at(50);
        let mut bytes = record(22, a);
        bytes.extend(record(22, b));
        let want = (
            TlsVersion::Tls12,
            0xC02F,
            vec![b"leaf".to_vec(), b"intermediate".to_vec()],
        );
        for chunk in [1, 2, 7, 64, bytes.len()] {
            let a = parse(&bytes, chunk).unwrap();
            let ServerAnswer::Hello(f) = a.clone().unwrap() else {
                panic!()
            };
            assert!(f.done && !f.resumed);
            assert_eq!(f.key_exchange.as_deref(), Some(&[0u8; 10][..]));
            assert_eq!(short(a), Some(want.clone()), "{chunk}");
        }
        // Incomplete: more bytes needed.
        assert_eq!(parse(&bytes[..bytes.len() - 1], 5).unwrap(), None);
    }

    #[test]
    fn tls13_from_supported_versions() {
        // supported_versions = TLS 1.3, key_share present: the hello ends the clear flight.
        let exts = [0, 43, 0, 2, 3, 4, 0, 51, 0, 4, 0, 29, 0, 0];
        let bytes = record(22, &server_hello(0x0303, 0x1301, &exts));
        let a = parse(&bytes, 3).unwrap();
        assert_eq!(short(a.clone()), Some((TlsVersion::Tls13, 0x1301, vec![])));
        let ServerAnswer::Hello(f) = a.unwrap() else {
            panic!()
        };
        assert_eq!(f.hello.group(), Some(29));
        assert!(!f.hello.retry);
        // A ServerHello then ChangeCipherSpec (TLS 1.2 resumption): the flight ends.
        let mut bytes = record(22, &server_hello(0x0301, 0x002F, &[]));
        bytes.extend(record(20, &[1]));
        let a = parse(&bytes, 100).unwrap();
        assert_eq!(
            short(a.clone()).map(|x| (x.0, x.1)),
            Some((TlsVersion::Tls10, 0x002F))
        );
        let ServerAnswer::Hello(f) = a.unwrap() else {
            panic!()
        };
        assert!(f.resumed, "ChangeCipherSpec right after the hello: resumed");
    }

    #[test]
    fn alerts() {
        assert_eq!(
            parse(&record(21, &[2, 40]), 1).unwrap(),
            Some(ServerAnswer::Alert {
                level: 2,
                description: 40
            })
        );
        // An alert after the hello ends the flight with what was seen.
        let mut bytes = record(22, &server_hello(0x0302, 0x000A, &[]));
        bytes.extend(record(21, &[2, 80]));
        assert_eq!(
            short(parse(&bytes, 9).unwrap()).map(|x| x.0),
            Some(TlsVersion::Tls11)
        );
        assert_eq!(
            parse(&record(21, &[2]), 10),
            Err(FlightError::Malformed("alert"))
        );
    }

    #[test]
    fn sslv2_messages() {
        let mut m = vec![4, 0, 1, 0, 2, 0, 4, 0, 6, 0, 16];
        m.extend_from_slice(b"cert");
        m.extend_from_slice(&[1, 0, 0x80, 7, 0, 0xC0]);
        m.extend_from_slice(&[0; 16]);
        let mut bytes = vec![0x80, u8::try_from(m.len()).unwrap()];
        bytes.extend_from_slice(&m);
        assert_eq!(
            parse(&bytes, 4).unwrap(),
            Some(ServerAnswer::Ssl2Hello {
                ciphers: vec![[1, 0, 0x80], [7, 0, 0xC0]],
                certificate: b"cert".to_vec()
            })
        );
        assert_eq!(
            parse(&[0x80, 3, 0, 0, 1], 1).unwrap(),
            Some(ServerAnswer::Ssl2Error { code: 1 })
        );
        // A specs list that is not whole kinds; a truncated certificate.
        let mut bad = bytes.clone();
        bad[10] = 5;
        assert!(parse(&bad, 100).is_err());
        assert!(parse(&[0x80, 5, 4, 0, 1, 0, 2], 100).is_err());
    }

    #[test]
    fn not_tls_and_bounds() {
        assert!(matches!(
            parse(b"220 mx.example.com ESMTP\r\n", 100),
            Err(FlightError::NotTls(_))
        ));
        assert!(matches!(
            parse(&[22, 3, 3, 0x50, 0], 100),
            Err(FlightError::TooLarge(_))
        ));
        assert_eq!(
            parse(&record(22, &handshake(11, &[0, 0, 0])), 100),
            Err(FlightError::Malformed("handshake before ServerHello"))
        );
        assert_eq!(
            parse(&record(23, &[1, 2, 3]), 100),
            Err(FlightError::Malformed("record before ServerHello"))
        );
        assert_eq!(
            parse(&record(22, &handshake(2, &[3, 3])), 100),
            Err(FlightError::Malformed("ServerHello"))
        );
        // A flight that never ends is cut at MAX_FLIGHT.
        let mut p = FlightParser::new();
        let mut first = record(22, &server_hello(0x0303, 0xC02F, &[]));
        first.extend(record(22, &handshake(12, &[0; 8])));
        p.feed(&first).unwrap();
        assert_eq!(p.answer().unwrap(), None);
        let filler = record(22, &handshake(12, &vec![0; 16000]));
        let mut fed = first.len();
        let err = loop {
            match p.feed(&filler) {
                Ok(()) => {
                    fed += filler.len();
                    assert_eq!(p.answer().unwrap(), None);
                }
                Err(e) => break e,
            }
        };
        assert!(matches!(err, FlightError::TooLarge(_)));
        assert!(fed <= MAX_FLIGHT);
    }

    #[test]
    fn extensions_retry_staple_and_key_exchange() {
        // A HelloRetryRequest naming secp384r1.
        let mut b = 0x0303u16.to_be_bytes().to_vec();
        b.extend_from_slice(&HELLO_RETRY_RANDOM);
        b.push(0);
        b.extend_from_slice(&[0x13, 0x02, 0]);
        let exts = [0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 24];
        b.extend_from_slice(&u16::try_from(exts.len()).unwrap().to_be_bytes());
        b.extend_from_slice(&exts);
        let bytes = record(22, &handshake(2, &b));
        let ServerAnswer::Hello(f) = parse(&bytes, 5).unwrap().unwrap() else {
            panic!()
        };
        assert!(f.hello.retry);
        assert_eq!(f.hello.group(), Some(24));
        // Duplicate extensions are malformed.
        let dup = [0xFF, 1, 0, 1, 0, 0xFF, 1, 0, 1, 0];
        assert!(parse(&record(22, &server_hello(0x0303, 0xC02F, &dup)), 100).is_err());
        // renegotiation_info, EMS, a CertificateStatus and an ECDHE ServerKeyExchange.
        let exts = [0xFF, 1, 0, 1, 0, 0, 23, 0, 0];
        let mut hs = server_hello(0x0303, 0xC02F, &exts);
        hs.extend(certificate(&[b"leaf"]));
        hs.extend(handshake(22, &[1, 0, 0, 3, 9, 9, 9]));
        let mut ske = vec![3, 0, 29, 4, 1, 2, 3, 4];
        ske.extend_from_slice(&[8, 4, 0, 2, 0xAA, 0xBB]);
        hs.extend(handshake(12, &ske));
        hs.extend(handshake(14, &[]));
        let ServerAnswer::Hello(f) = parse(&record(22, &hs), 7).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(f.hello.renegotiation_info(), Some(&[][..]));
        assert!(f.hello.has(23));
        assert_eq!(f.ocsp_staple.as_deref(), Some(&[9, 9, 9][..]));
        let suite = crate::probe::suites::suite(0xC02F).unwrap();
        let k = server_key_exchange(f.key_exchange.as_deref().unwrap(), suite, TlsVersion::Tls12)
            .unwrap();
        assert_eq!(
            k.params,
            KeyExchangeParams::Ec {
                group: 29,
                public: vec![1, 2, 3, 4]
            }
        );
        assert_eq!(k.signature_scheme, Some(0x0804));
        // A DHE ServerKeyExchange: a 1024-bit prime (first byte 0x80).
        let mut p = vec![0x80];
        p.extend_from_slice(&[0xFF; 127]);
        let mut ske = u16::try_from(p.len()).unwrap().to_be_bytes().to_vec();
        ske.extend_from_slice(&p);
        ske.extend_from_slice(&[0, 1, 2, 0, 1, 5]);
        let dhe = crate::probe::suites::suite(0x0033).unwrap();
        let k = server_key_exchange(&ske, dhe, TlsVersion::Tls10).unwrap();
        assert_eq!(k.params.dh_bits(), Some(1024));
        assert_eq!(k.signature_scheme, None);
        assert!(server_key_exchange(&ske[..10], dhe, TlsVersion::Tls10).is_none());
    }

    #[test]
    fn heartbeats_and_alerts() {
        assert_eq!(
            heartbeat(&[2, 0, 64, 1, 2, 3]),
            Some(Heartbeat {
                kind: 2,
                payload_length: 64,
                carried: 3
            })
        );
        assert_eq!(heartbeat(&[2, 0]), None);
        assert_eq!(alert(&[2, 40]), Some((2, 40)));
        assert_eq!(alert(&[2, 40, 1]), None);
        let mut r = RecordReader::new();
        r.feed(&[24, 3, 3, 0, 3, 2, 0, 0, 21]).unwrap();
        assert_eq!(r.next_record().unwrap().unwrap().kind, 24);
        assert_eq!(r.next_record().unwrap(), None);
        assert!(r.feed(&vec![0; MAX_FLIGHT]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600), chunk in 1usize..64) {
            let _ = parse(&bytes, chunk);
        }

        #[test]
        fn chunking_does_not_matter(cipher: u16, certs in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..4), chunk in 1usize..200) {
            let mut hs = server_hello(0x0303, cipher, &[]);
            let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
            hs.extend(certificate(&refs));
            hs.extend(handshake(14, &[]));
            let bytes = record(22, &hs);
            let want = Some((TlsVersion::Tls12, cipher, certs.clone()));
            proptest::prop_assert_eq!(short(parse(&bytes, chunk).unwrap()), want);
        }
    }
}
