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
        }
    }
}

/// A ClientHello as the responder reads it.
#[derive(Debug, PartialEq, Eq)]
enum Hello {
    /// A TLS record (or the SSLv2-compatible format with a version of 3.0 or later).
    Tls { version: u16, suites: Vec<u16> },
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
    Some(Hello::Tls { version, suites })
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
    let (client_version, offered) = match hello {
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
            (version, suites)
        }
        Hello::Tls { version, suites } if !ssl2_server => (version, suites),
        // An SSLv2 CLIENT-HELLO to a TLS server, TLS to an SSLv2 server: hang up.
        _ => return Ok(()),
    };
    let v = client_version.min(posture.max);
    if v < posture.min {
        stream.write_all(&record(21, posture.min, &[2, 70])).await?;
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
    sh.push(0);
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
    // ServerHelloDone.
    hs.extend_from_slice(&[14, 0, 0, 0]);
    for part in hs.chunks(16384) {
        stream.write_all(&record(22, v, part)).await?;
    }
    linger(stream).await
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
