//! A responder that answers ClientHellos like an old server that speaks only SSLv2, SSLv3,
//! TLS 1.0 or TLS 1.1 (or a range): a ServerHello, its Certificate and ServerHelloDone in the
//! clear, or a protocol_version / handshake_failure alert; an SSLv2 SERVER-HELLO or ERROR. It
//! never completes a handshake: it exists to be found by the legacy prober. It reads TLS
//! ClientHellos, SSLv2 CLIENT-HELLOs and SSLv2-compatible ClientHellos (RFC 5246 E.2).
//!
//! ```text
//!   ClientHello (client_version V, suites S) ──► v = min(V, max)
//!     v < min        ──► alert protocol_version
//!     no common suite ──► alert handshake_failure
//!     otherwise      ──► ServerHello(v, first of the posture's suites in S) + Certificate + Done
//!   SSLv2-format hello to an SSLv2 server (max = 0x0002)
//!     common kinds   ──► SERVER-HELLO(certificate, the posture's kinds offered)
//!     none           ──► ERROR no-cipher
//!   SSLv2 CLIENT-HELLO to a TLS server, TLS hello to an SSLv2 server ──► connection closed
//!
//!   after the flight, the posture's weaknesses (each off by default, for a patched server):
//!     heartbeat request  ──► Conforming: discarded (RFC 6520 §4) │ Bleeding: a reply carrying
//!                            payload_length bytes whatever the request held (CVE-2014-0160)
//!     early ChangeCipherSpec ──► Refuse: unexpected_message │ Accept: silence, then
//!                            bad_record_mac for the next record (CVE-2014-0224)
//!     close_notify ──► close_notify; anything else ──► unexpected_message
//!   renegotiation_info echoed (RFC 5746) unless `insecure_renegotiation`; DEFLATE chosen when
//!   offered if `compression`; TLS_FALLBACK_SCSV below `max` refused unless `ignore_fallback_scsv`
//! ```
//!
//! ```no_run
//! # async fn run(chain: Vec<rustls_pki_types::CertificateDer<'static>>) -> Result<(), checktls_lab::Error> {
//! use checktls_lab::legacy::{LegacyPosture, LegacyServer};
//! let server = LegacyServer::start("127.0.0.1:0".parse().unwrap(), LegacyPosture::only(0x0301, chain)).await?;
//! println!("a TLS 1.0-only server on {}", server.addr());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Error;

/// The SSLv2 wire version.
pub const SSL2: u16 = 0x0002;

/// What the old server accepts.
#[derive(Clone, Debug)]
pub struct LegacyPosture {
    /// The oldest version accepted (wire code: 0x0002 SSLv2, 0x0300 SSLv3, 0x0301 TLS 1.0,
    /// 0x0302 TLS 1.1).
    pub min: u16,
    /// The newest version accepted. 0x0002 makes an SSLv2-only server.
    pub max: u16,
    /// Its suites, in preference order.
    pub suites: Vec<u16>,
    /// Its SSLv2 cipher kinds (3 bytes each), for an SSLv2 server.
    pub ssl2_ciphers: Vec<[u8; 3]>,
    /// The chain it sends, leaf first (an SSLv2 server sends the leaf only).
    pub chain: Vec<CertificateDer<'static>>,
    /// Never send renegotiation_info (a server from before RFC 5746).
    pub insecure_renegotiation: bool,
    /// Choose DEFLATE compression when the client offers it (CRIME).
    pub compression: bool,
    /// Accept a TLS_FALLBACK_SCSV hello below `max` (no RFC 7507).
    pub ignore_fallback_scsv: bool,
    /// How heartbeat requests are answered.
    pub heartbeat: HeartbeatMode,
    /// What an early ChangeCipherSpec does.
    pub early_ccs: CcsMode,
    /// The RSA key of the chain's leaf, to read RSA ClientKeyExchanges (ROBOT postures).
    pub rsa: Option<std::sync::Arc<crate::rsa::RsaKey>>,
    /// Instead of ServerHelloDone, send this fatal alert right after the Certificate: a server
    /// that chose a version and suite and then aborted the handshake (OpenSMTPD 6.8 on
    /// OpenSSL 3 sends internal_error, 80, because its privilege-separated signing fails).
    pub abort_after_certificate: Option<u8>,
    /// Answer a ClientKeyExchange whose PKCS#1 padding is wrong at once with
    /// handshake_failure, and a well-padded one only after the Finished (bad_record_mac): a
    /// Bleichenbacher oracle. Otherwise every ClientKeyExchange gets the same answer.
    pub padding_oracle: bool,
    /// Heartbeat records received, on every connection of this posture and its clones (for
    /// tests: a check that should send none).
    pub heartbeats_seen: Arc<AtomicUsize>,
}

/// How the responder treats heartbeats (RFC 6520).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeartbeatMode {
    /// No heartbeat extension: requests get unexpected_message.
    #[default]
    Absent,
    /// The extension acknowledged; a request whose payload_length exceeds the record is
    /// discarded silently, as RFC 6520 §4 requires.
    Conforming,
    /// The extension acknowledged; every request is answered with payload_length bytes,
    /// whatever the record held (the Heartbleed bug; the bytes are a fixed filler).
    Bleeding,
}

/// What an early ChangeCipherSpec (before the client's key exchange) does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CcsMode {
    /// unexpected_message, as a patched server does.
    #[default]
    Refuse,
    /// Taken silently; the next record fails its (non-existent) keys: bad_record_mac
    /// (CVE-2014-0224).
    Accept,
}

impl LegacyPosture {
    /// Exactly one version, with ECDHE-RSA-AES128-SHA, AES128-SHA and 3DES (in that order);
    /// for SSLv2 (0x0002), the kinds RC4-128-MD5 and DES-192-EDE3-CBC-MD5.
    pub fn only(version: u16, chain: Vec<CertificateDer<'static>>) -> Self {
        Self {
            min: version,
            max: version,
            suites: vec![0xC013, 0x002F, 0x000A],
            ssl2_ciphers: if version == SSL2 {
                vec![[0x01, 0x00, 0x80], [0x07, 0x00, 0xC0]]
            } else {
                Vec::new()
            },
            chain,
            insecure_renegotiation: false,
            compression: false,
            ignore_fallback_scsv: false,
            heartbeat: HeartbeatMode::Absent,
            early_ccs: CcsMode::Refuse,
            rsa: None,
            padding_oracle: false,
            abort_after_certificate: None,
            heartbeats_seen: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A server that offers TLS 1.0 to 1.2 with ECDHE-RSA-AES128-GCM (and CBC suites), sends
    /// ServerHello and its Certificate, and then a fatal internal_error alert instead of the
    /// rest of its flight: what OpenSMTPD 6.8 on OpenSSL 3 does on every connection.
    pub fn aborting(chain: Vec<CertificateDer<'static>>) -> Self {
        Self {
            min: 0x0301,
            max: 0x0303,
            suites: vec![0xC02F, 0xC013, 0x002F],
            abort_after_certificate: Some(80),
            ..Self::only(0x0303, chain)
        }
    }
}

/// A ClientHello as the responder reads it.
#[derive(Debug, PartialEq, Eq)]
enum Hello {
    /// A TLS record (or the SSLv2-compatible format with a version of 3.0 or later).
    Tls {
        version: u16,
        suites: Vec<u16>,
        compression: Vec<u8>,
        extensions: Vec<u16>,
    },
    /// An SSLv2-format hello: its version and every 3-byte kind.
    Ssl2 { version: u16, kinds: Vec<[u8; 3]> },
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn u24(v: usize) -> [u8; 3] {
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// (client_version, offered suites) of a ClientHello record, if it is one.
fn read_hello(rec: &[u8]) -> Option<Hello> {
    if *rec.first()? != 0x16 || *rec.get(5)? != 1 {
        return None;
    }
    let body = rec.get(9..)?;
    let version = u16::try_from(be16(body, 0)?).ok()?;
    let sid = usize::from(*body.get(34)?);
    let at = 35 + sid;
    let n = be16(body, at)?;
    let list = body.get(at + 2..at + 2 + n)?;
    let suites = list
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let at = at + 2 + n;
    let cn = usize::from(*body.get(at)?);
    let compression = body.get(at + 1..at + 1 + cn)?.to_vec();
    let mut extensions = Vec::new();
    let at = at + 1 + cn;
    if let Some(total) = be16(body, at) {
        let exts = body.get(at + 2..at + 2 + total)?;
        let mut i = 0;
        while let (Some(kind), Some(len)) = (be16(exts, i), be16(exts, i + 2)) {
            extensions.push(u16::try_from(kind).ok()?);
            i += 4 + len;
        }
    }
    Some(Hello::Tls {
        version,
        suites,
        compression,
        extensions,
    })
}

/// An SSLv2-format CLIENT-HELLO message body (after the 2-byte header).
fn read_ssl2_hello(m: &[u8]) -> Option<Hello> {
    if *m.first()? != 1 {
        return None;
    }
    let version = u16::try_from(be16(m, 1)?).ok()?;
    let specs_len = be16(m, 3)?;
    let specs = m.get(9..9 + specs_len)?;
    let kinds: Vec<[u8; 3]> = specs
        .chunks_exact(3)
        .filter_map(|c| <[u8; 3]>::try_from(c).ok())
        .collect();
    Some(Hello::Ssl2 { version, kinds })
}

fn ssl2_message(body: &[u8]) -> Vec<u8> {
    let len = body.len().min(0x7fff) | 0x8000;
    let mut out = vec![(len >> 8) as u8, len as u8];
    out.extend_from_slice(body);
    out
}

/// An SSLv2 SERVER-HELLO carrying the leaf and `kinds`.
fn ssl2_server_hello(leaf: &[u8], kinds: &[[u8; 3]]) -> Vec<u8> {
    let mut m = vec![4, 0, 1]; // SERVER-HELLO, no session hit, X.509 certificate
    m.extend_from_slice(&SSL2.to_be_bytes());
    let cert_len = u16::try_from(leaf.len()).unwrap_or(0);
    m.extend_from_slice(&cert_len.to_be_bytes());
    m.extend_from_slice(&u16::try_from(kinds.len() * 3).unwrap_or(0).to_be_bytes());
    m.extend_from_slice(&16u16.to_be_bytes()); // connection id length
    m.extend_from_slice(leaf.get(..usize::from(cert_len)).unwrap_or_default());
    for k in kinds {
        m.extend_from_slice(k);
    }
    m.extend_from_slice(&[0x3c; 16]);
    ssl2_message(&m)
}

fn record(kind: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads one ClientHello (bounded: 64 KiB, 10 s); `None` when the peer closed or sent
/// something else.
async fn read_client_hello<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Hello>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await??;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.first().is_some_and(|b| b & 0x80 != 0) {
            let Some(len) = be16(&buf, 0).map(|l| l & 0x7fff) else {
                continue;
            };
            if let Some(m) = buf.get(2..2 + len) {
                return Ok(read_ssl2_hello(m));
            }
        } else if let Some(len) = be16(&buf, 3)
            && buf.len() >= 5 + len
        {
            return Ok(read_hello(&buf));
        }
        if buf.len() > 65536 {
            return Ok(None);
        }
    }
}

/// Answers one ClientHello on `stream` as `posture` says, then waits briefly and returns.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    posture: &LegacyPosture,
) -> std::io::Result<()> {
    let Some(hello) = read_client_hello(&mut stream).await? else {
        return Ok(());
    };
    let ssl2_server = posture.max == SSL2;
    let (client_version, offered, compression, extensions) = match hello {
        // An SSLv2 server answers any SSLv2-format hello in SSLv2.
        Hello::Ssl2 { kinds, .. } if ssl2_server => {
            let common: Vec<[u8; 3]> = posture
                .ssl2_ciphers
                .iter()
                .filter(|k| kinds.contains(k))
                .copied()
                .collect();
            let reply = if common.is_empty() {
                ssl2_message(&[0, 0, 1]) // ERROR no-cipher
            } else {
                let leaf = posture
                    .chain
                    .first()
                    .map(|c| c.as_ref())
                    .unwrap_or_default();
                ssl2_server_hello(leaf, &common)
            };
            stream.write_all(&reply).await?;
            return linger(stream).await;
        }
        // SSLv2-compatible: a TLS server answers it in TLS.
        Hello::Ssl2 { version, kinds } if version >= 0x0300 && !ssl2_server => {
            let suites = kinds
                .iter()
                .filter(|k| k[0] == 0)
                .map(|k| u16::from_be_bytes([k[1], k[2]]))
                .collect();
            (version, suites, vec![0], Vec::new())
        }
        Hello::Tls {
            version,
            suites,
            compression,
            extensions,
        } if !ssl2_server => (version, suites, compression, extensions),
        // An SSLv2 CLIENT-HELLO to a TLS server, TLS to an SSLv2 server: hang up.
        _ => return Ok(()),
    };
    let v = client_version.min(posture.max);
    if v < posture.min {
        stream.write_all(&record(21, posture.min, &[2, 70])).await?;
        return stream.flush().await;
    }
    if offered.contains(&0x5600) && v < posture.max && !posture.ignore_fallback_scsv {
        // RFC 7507: a fallback below what the server supports.
        stream.write_all(&record(21, v, &[2, 86])).await?;
        return stream.flush().await;
    }
    let Some(&suite) = posture.suites.iter().find(|s| offered.contains(s)) else {
        stream.write_all(&record(21, v, &[2, 40])).await?;
        return stream.flush().await;
    };
    let mut hs = Vec::new();
    // ServerHello.
    let mut sh = v.to_be_bytes().to_vec();
    sh.extend_from_slice(&[0x5a; 32]);
    sh.push(0);
    sh.extend_from_slice(&suite.to_be_bytes());
    sh.push(u8::from(posture.compression && compression.contains(&1)));
    let mut exts = Vec::new();
    let wants_ri = offered.contains(&0x00FF) || extensions.contains(&0xFF01);
    if wants_ri && !posture.insecure_renegotiation && v >= 0x0301 {
        exts.extend_from_slice(&[0xFF, 0x01, 0, 1, 0]);
    }
    if extensions.contains(&15) && posture.heartbeat != HeartbeatMode::Absent {
        exts.extend_from_slice(&[0, 15, 0, 1, 1]);
    }
    if !exts.is_empty() {
        sh.extend_from_slice(&u16::try_from(exts.len()).unwrap_or(0).to_be_bytes());
        sh.extend_from_slice(&exts);
    }
    hs.push(2);
    hs.extend_from_slice(&u24(sh.len()));
    hs.extend_from_slice(&sh);
    // Certificate.
    let mut list = Vec::new();
    for c in &posture.chain {
        list.extend_from_slice(&u24(c.len()));
        list.extend_from_slice(c.as_ref());
    }
    let mut cert = u24(list.len()).to_vec();
    cert.extend_from_slice(&list);
    hs.push(11);
    hs.extend_from_slice(&u24(cert.len()));
    hs.extend_from_slice(&cert);
    if let Some(alert) = posture.abort_after_certificate {
        for part in hs.chunks(16384) {
            stream.write_all(&record(22, v, part)).await?;
        }
        stream.write_all(&record(21, v, &[2, alert])).await?;
        stream.flush().await?;
        return linger(stream).await;
    }
    // ServerHelloDone.
    hs.extend_from_slice(&[14, 0, 0, 0]);
    for part in hs.chunks(16384) {
        stream.write_all(&record(22, v, part)).await?;
    }
    stream.flush().await?;
    after_flight(stream, posture, v).await
}

/// Reads the client's records after the flight and answers as the posture says, for at most
/// 2 s or 64 records.
async fn after_flight<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    posture: &LegacyPosture,
    v: u16,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut ccs_taken = false;
    let mut key_exchange = false;
    for _ in 0..64 {
        // The next whole record, if any.
        let (kind, body) = loop {
            if let Some(len) = be16(&buf, 3)
                && buf.len() >= 5 + len
            {
                let rec: Vec<u8> = buf.drain(..5 + len).collect();
                break (rec[0], rec[5..].to_vec());
            }
            let n =
                match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => n,
                    _ => return Ok(()),
                };
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        };
        if kind == 24 {
            posture.heartbeats_seen.fetch_add(1, Ordering::Relaxed);
        }
        let reply = match (kind, body.as_slice()) {
            // A heartbeat request.
            (24, [1, hi, lo, rest @ ..]) if posture.heartbeat != HeartbeatMode::Absent => {
                let claimed = usize::from(u16::from_be_bytes([*hi, *lo]));
                match posture.heartbeat {
                    HeartbeatMode::Bleeding => {
                        // payload_length bytes echoed whatever arrived: a filler stands for
                        // the memory that followed the request.
                        let mut payload = rest.to_vec();
                        payload.resize(claimed, 0xB1);
                        let mut r = vec![2, *hi, *lo];
                        r.extend_from_slice(&payload);
                        r.extend_from_slice(&[0; 16]);
                        Some(record(24, v, &r))
                    }
                    _ if rest.len() < claimed + 16 => None, // RFC 6520 §4: discard silently
                    _ => {
                        let mut r = vec![2, *hi, *lo];
                        r.extend_from_slice(rest.get(..claimed).unwrap_or_default());
                        r.extend_from_slice(&[0; 16]);
                        Some(record(24, v, &r))
                    }
                }
            }
            // An RSA ClientKeyExchange: length-prefixed ciphertext (RFC 5246 §7.4.7.1).
            (22, [16, _, _, _, hi, lo, c @ ..]) if posture.rsa.is_some() && !key_exchange => {
                key_exchange = true;
                let valid = posture.rsa.as_ref().is_some_and(|k| {
                    let n = usize::from(u16::from_be_bytes([*hi, *lo]));
                    let m = k.decrypt(c.get(..n).unwrap_or_default());
                    let sep = m.iter().skip(2).position(|b| *b == 0).map(|i| i + 2);
                    m.starts_with(&[0, 2])
                        && sep.is_some_and(|i| i >= 10 && m.len() - i - 1 == 48)
                        && sep.and_then(|i| m.get(i + 1..i + 3)) == Some(&v.to_be_bytes()[..])
                });
                if posture.padding_oracle && !valid {
                    stream.write_all(&record(21, v, &[2, 40])).await?;
                    return stream.flush().await;
                }
                None
            }
            (20, _) if key_exchange => None,
            // The Finished after a key exchange: its keys never match ours.
            _ if key_exchange => {
                stream.write_all(&record(21, v, &[2, 20])).await?;
                return stream.flush().await;
            }
            (20, _) if posture.early_ccs == CcsMode::Accept && !ccs_taken => {
                ccs_taken = true;
                None
            }
            // After an accepted early CCS every record "fails to decrypt".
            _ if ccs_taken => {
                stream.write_all(&record(21, v, &[2, 20])).await?;
                return stream.flush().await;
            }
            (21, [_, 0]) => {
                stream.write_all(&record(21, v, &[1, 0])).await?;
                return stream.flush().await;
            }
            _ => {
                stream.write_all(&record(21, v, &[2, 10])).await?;
                return stream.flush().await;
            }
        };
        if let Some(r) = reply {
            stream.write_all(&r).await?;
            stream.flush().await?;
        }
    }
    Ok(())
}

/// Flushes, then waits for the client to give up (it never sends a usable key exchange).
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> std::io::Result<()> {
    stream.flush().await?;
    let mut chunk = [0u8; 512];
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut chunk)).await;
    Ok(())
}

/// A TCP listener answering every connection with [`answer`]; stops when dropped.
pub struct LegacyServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for LegacyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LegacyServer {
    /// Listens on `bind`.
    pub async fn start(bind: SocketAddr, posture: LegacyPosture) -> Result<Self, Error> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let posture = Arc::new(posture);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let p = posture.clone();
                tokio::spawn(async move {
                    let _ = answer(tcp, &p).await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
