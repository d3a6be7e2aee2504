//! The server's first flight, parsed by hand and bounded: ServerHello (the version and suite
//! chosen), Certificate (TLS 1.2 and older), ServerHelloDone, alerts; SSLv2 SERVER-HELLO and
//! ERROR.
//!
//! ```text
//!   bytes ─► feed() ─► records (type 20..=23, ≤ 18 KiB each, ≤ 256 KiB in all)
//!              └─► handshake messages: ServerHello ─ Certificate ─ … ─ ServerHelloDone
//!   answer() ─► Ok(None) more bytes needed | Ok(Some(ServerAnswer)) | Err(FlightError)
//! ```

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
        /// The cipher suite.
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
        // An SSLv2 message: a 2-byte header with the high bit set (no TLS record type has it).
        if self.consumed == 0 && self.buf.first().is_some_and(|b| b & 0x80 != 0) {
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
                let certificate = m.get(11..11 + cert_len).ok_or(bad.clone())?.to_vec();
                let specs = m
                    .get(11 + cert_len..11 + cert_len + specs_len)
                    .ok_or(bad.clone())?;
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
        let want = ServerAnswer::Hello {
            version: TlsVersion::Tls12,
            cipher: 0xC02F,
            chain: vec![b"leaf".to_vec(), b"intermediate".to_vec()],
        };
        for chunk in [1, 2, 7, 64, bytes.len()] {
            assert_eq!(parse(&bytes, chunk).unwrap(), Some(want.clone()), "{chunk}");
        }
        // Incomplete: more bytes needed.
        assert_eq!(parse(&bytes[..bytes.len() - 1], 5).unwrap(), None);
    }

    #[test]
    fn tls13_from_supported_versions() {
        // supported_versions = TLS 1.3, key_share present: the hello ends the clear flight.
        let exts = [0, 43, 0, 2, 3, 4, 0, 51, 0, 4, 0, 29, 0, 0];
        let bytes = record(22, &server_hello(0x0303, 0x1301, &exts));
        assert_eq!(
            parse(&bytes, 3).unwrap(),
            Some(ServerAnswer::Hello {
                version: TlsVersion::Tls13,
                cipher: 0x1301,
                chain: vec![]
            })
        );
        // A ServerHello then ChangeCipherSpec (TLS 1.2 resumption): the flight ends.
        let mut bytes = record(22, &server_hello(0x0301, 0x002F, &[]));
        bytes.extend(record(20, &[1]));
        assert!(matches!(
            parse(&bytes, 100).unwrap(),
            Some(ServerAnswer::Hello {
                version: TlsVersion::Tls10,
                cipher: 0x002F,
                ..
            })
        ));
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
        assert!(matches!(
            parse(&bytes, 9).unwrap(),
            Some(ServerAnswer::Hello {
                version: TlsVersion::Tls11,
                ..
            })
        ));
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
            let want = Some(ServerAnswer::Hello { version: TlsVersion::Tls12, cipher, chain: certs.clone() });
            proptest::prop_assert_eq!(parse(&bytes, chunk).unwrap(), want);
        }
    }
}
