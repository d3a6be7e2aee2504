//! What the server's first bytes of a handshake showed, read beside the TLS library: whether a
//! ServerHello came (and which version it chose) and any alert sent in the clear. The receiver
//! test needs this to tell a server that *refused* what was offered (an alert or a close
//! before any ServerHello: an older client may get further) from one that *chose* a version
//! and suite and then *aborted* the handshake (no sender gets an encrypted session).
//!
//! ```text
//!   bytes from the server ─► feed() ─► records (bounded, as the prober reads them)
//!      handshake record, type 2 ─► ServerHello: the version chosen (supported_versions too)
//!      alert in the clear       ─► (level, description)
//!      ChangeCipherSpec / application data ─► encrypted from here: stop reading
//! ```
//!
//! Pure and bounded: the same record reader as the prober ([`crate::probe::parse`]), at most
//! [`crate::probe::parse::MAX_FLIGHT`] bytes, no allocation beyond that.
//!
//! ```
//! use checktls_tls::first_flight::FirstFlight;
//! let mut f = FirstFlight::default();
//! f.feed(&[21, 3, 3, 0, 2, 2, 40]); // handshake_failure, before any ServerHello
//! assert_eq!(f.server_hello(), None);
//! assert_eq!(f.alert(), Some(40));
//! ```

use crate::probe::parse::{RecordReader, be24, content, server_hello};
use crate::version::TlsVersion;

/// The server's side of a handshake as far as it can be read in the clear.
#[derive(Clone, Debug, Default)]
pub struct FirstFlight {
    records: RecordReader,
    handshake: Vec<u8>,
    server_hello: Option<TlsVersion>,
    alert: Option<u8>,
    stopped: bool,
}

impl FirstFlight {
    /// Adds bytes the server sent.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.stopped || bytes.is_empty() {
            return;
        }
        if self.records.feed(bytes).is_err() {
            self.stopped = true;
            return;
        }
        while !self.stopped {
            let record = match self.records.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(_) => {
                    self.stopped = true;
                    return;
                }
            };
            match record.kind {
                content::ALERT => {
                    if self.alert.is_none() && record.body.len() == 2 {
                        self.alert = record.body.get(1).copied();
                    }
                }
                content::HANDSHAKE if self.server_hello.is_none() => {
                    if self.handshake.len() + record.body.len() > crate::probe::parse::MAX_FLIGHT {
                        self.stopped = true;
                        return;
                    }
                    self.handshake.extend_from_slice(&record.body);
                    let (Some(&kind), Some(len)) =
                        (self.handshake.first(), be24(&self.handshake, 1))
                    else {
                        continue;
                    };
                    if kind != 2 {
                        // Not a ServerHello first: not a handshake we can read.
                        self.stopped = true;
                        return;
                    }
                    if let Some(body) = self.handshake.get(4..4 + len) {
                        match server_hello(body) {
                            Some(h) => self.server_hello = Some(h.version),
                            None => self.stopped = true,
                        }
                        self.handshake = Vec::new();
                    }
                }
                // The rest of a TLS 1.2 flight in the clear: nothing more to learn from it.
                content::HANDSHAKE => {}
                // Encrypted from here on (TLS 1.3 after its ServerHello, TLS 1.2 after CCS).
                _ => self.stopped = true,
            }
        }
    }

    /// The version the server chose in its ServerHello, once one came.
    pub fn server_hello(&self) -> Option<TlsVersion> {
        self.server_hello
    }

    /// The description of the first alert the server sent in the clear (40
    /// handshake_failure, 70 protocol_version, 80 internal_error, ...).
    pub fn alert(&self) -> Option<u8> {
        self.alert
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

    fn hello(version: [u8; 2], supported: Option<[u8; 2]>) -> Vec<u8> {
        let mut m = version.to_vec();
        m.extend_from_slice(&[7; 32]);
        m.push(0); // session id
        m.extend_from_slice(&[0x13, 0x01, 0]); // suite, compression
        if let Some(v) = supported {
            m.extend_from_slice(&[0, 6, 0, 43, 0, 2, v[0], v[1]]);
        }
        let mut h = vec![2, 0, 0, u8::try_from(m.len()).unwrap()];
        h.extend_from_slice(&m);
        record(22, &h)
    }

    #[test]
    fn refusal_abort_and_older_version_told_apart() {
        // An alert before any ServerHello: a refusal.
        let mut f = FirstFlight::default();
        f.feed(&record(21, &[2, 70]));
        assert_eq!((f.server_hello(), f.alert()), (None, Some(70)));
        // TLS 1.3 ServerHello, then encrypted records: the version is known, nothing more.
        let mut f = FirstFlight::default();
        let mut bytes = hello([3, 3], Some([3, 4]));
        bytes.extend(record(20, &[1]));
        bytes.extend(record(23, &[0xAA; 40]));
        bytes.extend(record(21, &[2, 80])); // not read: after encryption started
        for chunk in bytes.chunks(3) {
            f.feed(chunk);
        }
        assert_eq!(
            (f.server_hello(), f.alert()),
            (Some(TlsVersion::Tls13), None)
        );
        // TLS 1.2 ServerHello, Certificate, then a fatal internal_error in the clear.
        let mut f = FirstFlight::default();
        let mut bytes = hello([3, 3], None);
        bytes.extend(record(22, &[11, 0, 0, 3, 0, 0, 0]));
        bytes.extend(record(21, &[2, 80]));
        f.feed(&bytes);
        assert_eq!(
            (f.server_hello(), f.alert()),
            (Some(TlsVersion::Tls12), Some(80))
        );
        // An older version chosen.
        let mut f = FirstFlight::default();
        f.feed(&hello([3, 1], None));
        assert_eq!(f.server_hello(), Some(TlsVersion::Tls10));
        // Not TLS at all: nothing learnt, no panic.
        let mut f = FirstFlight::default();
        f.feed(b"220 this is not TLS\r\n");
        assert_eq!((f.server_hello(), f.alert()), (None, None));
    }
}
