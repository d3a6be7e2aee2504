//! A responder that answers ClientHellos like an old server that speaks only SSLv3, TLS 1.0 or
//! TLS 1.1 (or a range): a ServerHello, its Certificate and ServerHelloDone in the clear, or a
//! protocol_version / handshake_failure alert. It never completes a handshake: it exists to be
//! found by the legacy prober.
//!
//! ```text
//!   ClientHello (client_version V, suites S) ──► v = min(V, max)
//!     v < min        ──► alert protocol_version
//!     no common suite ──► alert handshake_failure
//!     otherwise      ──► ServerHello(v, first of the posture's suites in S) + Certificate + Done
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

/// What the old server accepts.
#[derive(Clone, Debug)]
pub struct LegacyPosture {
    /// The oldest version accepted (wire code: 0x0300 SSLv3, 0x0301 TLS 1.0, 0x0302 TLS 1.1).
    pub min: u16,
    /// The newest version accepted.
    pub max: u16,
    /// Its suites, in preference order.
    pub suites: Vec<u16>,
    /// The chain it sends, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

impl LegacyPosture {
    /// Exactly one version, with ECDHE-RSA-AES128-SHA, AES128-SHA and 3DES (in that order).
    pub fn only(version: u16, chain: Vec<CertificateDer<'static>>) -> Self {
        Self {
            min: version,
            max: version,
            suites: vec![0xC013, 0x002F, 0x000A],
            chain,
        }
    }
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
fn read_hello(rec: &[u8]) -> Option<(u16, Vec<u16>)> {
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
    Some((version, suites))
}

fn record(kind: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Answers one ClientHello on `stream` as `posture` says, then waits briefly and returns.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    posture: &LegacyPosture,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let hello = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await??;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.first().is_some_and(|b| b & 0x80 != 0) {
            // SSLv2-format hello: an old TLS server drops the connection.
            return Ok(());
        }
        if let Some(len) = be16(&buf, 3)
            && buf.len() >= 5 + len
        {
            break read_hello(&buf);
        }
        if buf.len() > 65536 {
            return Ok(());
        }
    };
    let Some((client_version, offered)) = hello else {
        return Ok(());
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
    stream.flush().await?;
    // Wait for the client to give up (it never sends a usable key exchange).
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
