//! The tokio driver: moves the session's bytes over TCP (or SOCKS5), runs the TLS handshake
//! with checktls-tls, bounds every wait, and records.
//!
//! ```text
//!   probe(addr, &ProbeOptions)
//!     TCP connect (or SOCKS5) ─► Session::next_action loop:
//!        Read/Send  ─► ReplyParser (bounded) under the stage's timeout
//!        StartTls   ─► discard injected plaintext ─► checktls_tls::handshake ─► TlsFacts
//!     ─► SmtpRecord { stages, transcript, raw, tls, tls_failure, findings, outcome }
//! ```
//!
//! ```no_run
//! # async fn run() {
//! use checktls_smtp::{probe, ProbeOptions};
//!
//! let mut options = ProbeOptions::default();
//! options.tls.sni = Some("mx.example.com".into());
//! let record = probe("127.0.0.1:25".parse().unwrap(), &options).await;
//! for line in record.transcript.render() {
//!     println!("{line}");
//! }
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use checktls_tls::TlsFacts;
use checktls_tls::facts::{FailureKind, PartialFacts};
use checktls_tls::handshake::{HandshakeOptions, handshake};
use checktls_tls::net::BoxStream;

use crate::record::{Event, FailReason, RawTraffic, SessionRecord, StageResult};
use crate::reply::ReplyParser;
use crate::session::{Action, PeerIdentity, Secret, Session, SessionOptions};

/// A SOCKS5 proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Socks5 {
    /// The proxy's address.
    pub proxy: SocketAddr,
    /// User name and password, when the proxy asks for them.
    pub credentials: Option<(String, Secret)>,
}

/// Decides, after a handshake that completed, whether the server's certificate is verified
/// well enough to send it AUTH credentials. The receiver test checks the chain, the host's
/// name and the dates against its trust store, or a DANE match (RFC 7672).
pub trait PeerCheck: Send + Sync + std::fmt::Debug {
    /// The verdict on what the handshake recorded.
    fn check(&self, facts: &TlsFacts) -> PeerIdentity;
}

/// The strict check, at the time of the check: the chain leads to one of `trust`'s anchors,
/// names `name` and is within its dates, and the leaf is not self-signed.
#[derive(Clone, Debug)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct StrictPeerCheck {
    /// The trust anchors.
    pub trust: checktls_tls::TrustStore,
    /// The host name the certificate must carry.
    pub name: String,
}

impl PeerCheck for StrictPeerCheck {
    fn check(&self, facts: &TlsFacts) -> PeerIdentity {
        let policy = checktls_tls::cert::CertPolicy::new(
            &self.trust,
            Some(self.name.as_str()),
            rustls_pki_types::UnixTime::now(),
        );
        let report = checktls_tls::cert::evaluate(&facts.chain, &policy);
        if report.is_acceptable() {
            PeerIdentity::Verified
        } else {
            PeerIdentity::Unverified {
                detail: report.most_specific().map_or_else(
                    || "the certificate was not acceptable".to_owned(),
                    ToString::to_string,
                ),
            }
        }
    }
}

/// What a probe reports while it runs: each transcript line and each stage result as soon as
/// the session records it (the record at the end holds them all). Called on the probe's task:
/// keep it quick (send into a channel).
pub trait ProbeObserver: Send + Sync + std::fmt::Debug {
    /// A transcript line was recorded.
    fn line(&self, address: SocketAddr, event: &Event);
    /// A stage passed or failed (a stage may be reported again when a later step revises it).
    fn stage(&self, address: SocketAddr, stage: StageResult);
}

/// What a probe does: the session's options, the TLS handshake's, and how to connect.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// The SMTP dialog.
    pub session: SessionOptions,
    /// The TLS handshake: SNI (set it to the MX name), versions, cipher suites, client
    /// certificate.
    pub tls: HandshakeOptions,
    /// Connect through a SOCKS5 proxy.
    pub socks5: Option<Socks5>,
    /// Keep the raw bytes both ways (decrypted after TLS) for a hex dump.
    pub record_raw: bool,
    /// How the server's certificate is verified before AUTH credentials are sent. `None`:
    /// verified only when the handshake itself verified it ([`HandshakeOptions::verify`]);
    /// otherwise credentials are withheld.
    pub peer_check: Option<std::sync::Arc<dyn PeerCheck>>,
    /// Told of each transcript line and stage as the probe goes (a live view).
    pub observer: Option<std::sync::Arc<dyn ProbeObserver>>,
}

/// Why TLS failed, with what was seen before it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TlsFailure {
    /// The TLS error, in a sentence (for a handshake the server aborted: the version it chose
    /// and the alert).
    pub error: String,
    /// How it failed: refused before any ServerHello, an older version chosen, aborted after
    /// the ServerHello, or otherwise (a timeout, bytes that are not TLS).
    pub kind: FailureKind,
    /// The certificates seen and the time taken.
    pub partial: PartialFacts,
}

/// Everything one probe recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SmtpRecord {
    /// The address probed.
    pub address: SocketAddr,
    /// Stages, transcript, EHLO capabilities, findings, outcome.
    #[serde(flatten)]
    pub session: SessionRecord,
    /// The TLS session, when one was negotiated.
    pub tls: Option<TlsFacts>,
    /// Why TLS failed, when it did.
    pub tls_failure: Option<TlsFailure>,
    /// The raw traffic, when asked for.
    pub raw: Option<RawTraffic>,
    /// How long the probe took, in milliseconds.
    pub elapsed_ms: u64,
}

impl std::ops::Deref for SmtpRecord {
    type Target = SessionRecord;
    fn deref(&self) -> &SessionRecord {
        &self.session
    }
}

/// Probes `addr` (directly, or through the SOCKS5 proxy of the options).
pub async fn probe(addr: SocketAddr, options: &ProbeOptions) -> SmtpRecord {
    let mut driver = Driver::new(addr, options);
    driver.run(None, false).await;
    driver.finish()
}

/// Probes over a stream that is already connected (the Answer stage passes at once).
pub async fn probe_stream<S>(stream: S, peer: SocketAddr, options: &ProbeOptions) -> SmtpRecord
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut driver = Driver::new(peer, options);
    driver.run(Some(Box::new(stream)), false).await;
    driver.finish()
}

/// Runs the dialog up to the 220 to STARTTLS (or just connects, with direct TLS) and hands the
/// stream over, positioned for a ClientHello: for probers that speak TLS themselves. `Err`
/// carries the record when the server did not get that far.
pub async fn open_for_tls(
    addr: SocketAddr,
    options: &ProbeOptions,
) -> Result<(BoxStream, SmtpRecord), Box<SmtpRecord>> {
    let mut driver = Driver::new(addr, options);
    let stream = driver.run(None, true).await;
    let record = driver.finish();
    match stream {
        Some(s) => Ok((s, record)),
        None => Err(Box::new(record)),
    }
}

/// A TCP stream that acknowledges what it receives at once (TCP_QUICKACK after each read and
/// write). Why: a TLS 1.3 server sends its session tickets just after the handshake, then the
/// reply to our EHLO. Our kernel delays the ACK of the tickets (the dialog looks interactive,
/// so the ACK waits to ride on our next data, up to 40 ms), and a server without TCP_NODELAY
/// (Postfix) holds its small EHLO reply back until the tickets are acknowledged (Nagle's
/// algorithm): about one probe in three stalled 40 ms. Quick ACKs cost a few empty segments
/// per probe. Linux only; elsewhere a plain stream.
struct QuickAck(TcpStream);

impl QuickAck {
    fn ack_now(&self) {
        #[cfg(target_os = "linux")]
        let _ = self.0.set_quickack(true);
    }
}

impl tokio::io::AsyncRead for QuickAck {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.ack_now();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for QuickAck {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.0).poll_write(cx, buf);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.ack_now();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

struct Driver<'a> {
    addr: SocketAddr,
    options: &'a ProbeOptions,
    session: Option<Session>,
    parser: ReplyParser,
    start: Instant,
    raw: Option<RawTraffic>,
    tls: Option<TlsFacts>,
    tls_failure: Option<TlsFailure>,
    /// How many transcript lines, and which stage results, the observer has been told.
    told_lines: usize,
    told_stages: Vec<StageResult>,
}

enum WaitError {
    Timeout(Duration),
    Failed(FailReason),
}

impl From<WaitError> for FailReason {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Timeout(d) => FailReason::Timeout {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            WaitError::Failed(r) => r,
        }
    }
}

fn io_reason(e: &io::Error) -> FailReason {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => FailReason::Refused,
        io::ErrorKind::UnexpectedEof => FailReason::Closed,
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
            FailReason::Unreachable {
                detail: e.to_string(),
            }
        }
        _ => FailReason::Io {
            detail: e.to_string(),
        },
    }
}

impl<'a> Driver<'a> {
    fn new(addr: SocketAddr, options: &'a ProbeOptions) -> Self {
        Self {
            addr,
            options,
            session: Some(Session::new(options.session.clone())),
            parser: ReplyParser::new(options.session.limits),
            start: Instant::now(),
            raw: options.record_raw.then(RawTraffic::default),
            tls: None,
            tls_failure: None,
            told_lines: 0,
            told_stages: Vec::new(),
        }
    }

    /// Tells the observer, if any, what the session recorded since the last call.
    fn tell(&mut self, session: &Session) {
        let Some(observer) = &self.options.observer else {
            return;
        };
        let events = &session.transcript().events;
        for e in events.iter().skip(self.told_lines) {
            observer.line(self.addr, e);
        }
        self.told_lines = events.len();
        for s in session.stages() {
            if !self.told_stages.contains(s) {
                observer.stage(self.addr, *s);
                self.told_stages.push(*s);
            }
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn finish(mut self) -> SmtpRecord {
        let elapsed_ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let session = self
            .session
            .take()
            .map(Session::finish)
            .unwrap_or_else(|| Session::new(SessionOptions::default()).finish());
        SmtpRecord {
            address: self.addr,
            session,
            tls: self.tls,
            tls_failure: self.tls_failure,
            raw: self.raw,
            elapsed_ms,
        }
    }

    /// The verdict on the server's certificate, when credentials may have to be sent.
    fn identity(&self, facts: &TlsFacts) -> Option<PeerIdentity> {
        self.options.session.auth.as_ref()?;
        if self.options.tls.verify.is_some() {
            // The handshake refuses what the strict check refuses: it completed, so it passed.
            return Some(PeerIdentity::Verified);
        }
        Some(match &self.options.peer_check {
            Some(check) => check.check(facts),
            None => PeerIdentity::Unverified {
                detail: "no certificate check was configured".into(),
            },
        })
    }

    async fn connect(&self) -> io::Result<BoxStream> {
        match &self.options.socks5 {
            None => {
                let s = TcpStream::connect(self.addr).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(QuickAck(s)))
            }
            Some(proxy) => {
                let result = match &proxy.credentials {
                    None => tokio_socks::tcp::Socks5Stream::connect(proxy.proxy, self.addr).await,
                    Some((user, pass)) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_password(
                            proxy.proxy,
                            self.addr,
                            user,
                            pass.expose(),
                        )
                        .await
                    }
                };
                match result {
                    Ok(s) => Ok(Box::new(s)),
                    Err(tokio_socks::Error::Io(e)) => Err(e),
                    Err(e) => Err(io::Error::new(
                        io::ErrorKind::HostUnreachable,
                        format!("SOCKS5 proxy: {e}"),
                    )),
                }
            }
        }
    }

    /// Reads one reply within `timeout`.
    async fn read_reply(
        &mut self,
        stream: &mut BoxStream,
        timeout: Duration,
    ) -> Result<crate::reply::Reply, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            match self.parser.next_reply() {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => return Err(WaitError::Failed(FailReason::Protocol(e))),
            }
            let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => return Err(WaitError::Timeout(timeout)),
                Ok(Err(e)) => return Err(WaitError::Failed(io_reason(&e))),
                Ok(Ok(0)) => return Err(WaitError::Failed(FailReason::Closed)),
                Ok(Ok(n)) => n,
            };
            let chunk = buf.get(..n).unwrap_or_default();
            if let Some(raw) = &mut self.raw {
                raw.push(false, chunk);
            }
            self.parser.feed(chunk);
        }
    }

    async fn write(
        &mut self,
        stream: &mut BoxStream,
        bytes: &[u8],
        secret: bool,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        if let Some(raw) = &mut self.raw {
            if secret {
                raw.push(true, b"<redacted>\r\n");
            } else {
                raw.push(true, bytes);
            }
        }
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(WaitError::Timeout(timeout)),
            Ok(Err(e)) => Err(WaitError::Failed(io_reason(&e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Runs the session. With `until_tls`, stops at the TLS handshake and returns the stream.
    async fn run(&mut self, given: Option<BoxStream>, until_tls: bool) -> Option<BoxStream> {
        let mut given = given;
        let mut stream: Option<BoxStream> = None;
        // The session is taken out while awaiting so `self` can be borrowed mutably.
        let mut session = self.session.take()?;
        // A bound on the number of steps, whatever a server does.
        for _ in 0..64 {
            self.tell(&session);
            let action = session.next_action();
            match action {
                Action::Connect { timeout } => {
                    if let Some(s) = given.take() {
                        stream = Some(s);
                        session.on_connected(Duration::ZERO);
                        continue;
                    }
                    match tokio::time::timeout(timeout, self.connect()).await {
                        Ok(Ok(s)) => {
                            stream = Some(s);
                            session.on_connected(self.now());
                        }
                        Ok(Err(e)) => session.on_failed(io_reason(&e), self.now()),
                        Err(_) => session.on_failed(WaitError::Timeout(timeout).into(), self.now()),
                    }
                }
                Action::Read { timeout } => {
                    let Some(s) = stream.as_mut() else { break };
                    match self.read_reply(s, timeout).await {
                        Ok(r) => session.on_reply(r, self.now()),
                        Err(e) => session.on_failed(e.into(), self.now()),
                    }
                }
                Action::Send {
                    bytes,
                    secret,
                    timeout,
                } => {
                    let Some(s) = stream.as_mut() else { break };
                    session.on_sent(self.now());
                    if let Err(e) = self.write(s, &bytes, secret, timeout).await {
                        session.on_failed(e.into(), self.now());
                        continue;
                    }
                    match self.read_reply(s, timeout).await {
                        Ok(r) => session.on_reply(r, self.now()),
                        Err(e) => session.on_failed(e.into(), self.now()),
                    }
                }
                Action::StartTls { timeout } => {
                    let Some(s) = stream.take() else { break };
                    let injected = self.parser.discard_pending();
                    if !injected.is_empty() {
                        session.on_injected(injected.len(), self.now());
                    }
                    if until_tls {
                        session.note(self.now(), "Stream handed over for a ClientHello");
                        self.session = Some(session);
                        return Some(s);
                    }
                    match tokio::time::timeout(timeout, handshake(s, &self.options.tls)).await {
                        Ok(Ok((tls, facts))) => {
                            let now = self.now();
                            session.note(now, format!("SSLVersion in use: {}", facts.version));
                            session.note(now, format!("Cipher in use: {}", facts.cipher_suite));
                            let has_cert = !facts.chain.is_empty();
                            let identity = self.identity(&facts);
                            self.tls = Some(facts);
                            stream = Some(Box::new(tls));
                            session.on_tls(Ok(has_cert), now);
                            if let Some(identity) = identity {
                                session.on_peer_identity(identity, self.now());
                            }
                        }
                        Ok(Err(failure)) => {
                            let detail = failure.describe();
                            self.tls_failure = Some(TlsFailure {
                                error: detail.clone(),
                                kind: failure.kind(),
                                partial: failure.partial,
                            });
                            session.on_tls(Err(detail), self.now());
                        }
                        Err(_) => {
                            let detail =
                                format!("the handshake took more than {} ms", timeout.as_millis());
                            self.tls_failure = Some(TlsFailure {
                                error: detail.clone(),
                                kind: FailureKind::Other,
                                partial: PartialFacts::default(),
                            });
                            session.on_tls(Err(detail), self.now());
                        }
                    }
                }
                Action::Close => {
                    if let Some(s) = stream.as_mut() {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(200), s.shutdown()).await;
                    }
                    break;
                }
            }
        }
        if until_tls {
            session.note(self.now(), "The server did not get as far as TLS");
        }
        self.tell(&session);
        self.session = Some(session);
        None
    }
}
