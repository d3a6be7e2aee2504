//! In-process SMTP receivers with chosen postures, on loopback.
//!
//! ```text
//!   SmtpReceiver::start("127.0.0.11:0", Posture::tls(&leaf).tls12_only())
//!     accept ─► 220 ─► EHLO ─► 250-STARTTLS ... ─► STARTTLS ─► TLS (rustls, the posture's
//!     versions and certificate) ─► EHLO ─► MAIL ─► RCPT ─► DATA ─► QUIT
//!   Behaviours for hostile-server tests: 421 greeting, tarpit, endless multi-line reply,
//!   a line over 1 MiB, reset during TLS, garbage instead of TLS, plaintext injected after
//!   the 220 to STARTTLS, EHLO refused, silence.
//! ```
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls_lab::Error> {
//! use checktls_lab::pki::Pki;
//! use checktls_lab::smtp::{Posture, SmtpReceiver};
//!
//! let pki = Pki::generate(std::time::SystemTime::now())?;
//! let leaf = pki.valid("mx.lab.test")?;
//! let rx = SmtpReceiver::start("127.0.0.1:0".parse().unwrap(), Posture::tls(&leaf)?).await?;
//! println!("listening on {}", rx.addr());
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::Error;
use crate::pki::Leaf;

/// A byte stream the receiver talks over (plain TCP, or TLS over it).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A boxed stream.
pub type BoxStream = Box<dyn Stream>;

/// A handler given the raw stream right after the 220 to STARTTLS (or at connect, with direct
/// TLS): for legacy TLS responders written without rustls.
pub type CustomTls =
    Arc<dyn Fn(BoxStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A hostile or odd behaviour.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// A well-behaved server.
    #[default]
    Normal,
    /// `421` to every connection.
    Greeting421,
    /// The greeting one byte per second.
    Tarpit,
    /// An EHLO reply of continuation lines that never ends.
    EndlessMultiline,
    /// A greeting line of more than 1 MiB.
    LongLine,
    /// The connection reset in the middle of the TLS handshake.
    ResetDuringTls,
    /// Garbage instead of a TLS ServerHello.
    GarbageInsteadOfTls,
    /// A plaintext reply sent right after the 220 to STARTTLS, before the handshake.
    InjectAfterStarttls,
    /// EHLO refused with 502 (HELO works).
    EhloRefused,
    /// Accepts the connection and never says anything.
    Silent,
    /// After the 220 to STARTTLS: a TLS 1.2 ServerHello and the posture's certificate chain,
    /// then a fatal internal_error alert instead of the rest of the handshake, as OpenSMTPD 6.8
    /// on OpenSSL 3 does (see [`crate::legacy::LegacyPosture::aborting`]). Needs a leaf
    /// ([`Posture::tls`]).
    AbortAfterServerHello,
}

/// Session limits per client address, as Postfix's anvil applies them
/// (`smtpd_client_connection_count_limit`, `smtpd_client_connection_rate_limit` over
/// `anvil_rate_time_unit`): beyond them a connection gets `421 4.7.0 ... too many
/// connections` and is closed. Refused connections count in the rate, as anvil counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Sessions open at once.
    pub at_once: usize,
    /// Connections per window (refused ones included).
    pub per_window: usize,
    /// The window: it starts at the first connection after the last one ended.
    pub window: Duration,
}

#[derive(Debug, Default)]
struct LimitState {
    /// Per client address: sessions open, the window's start and its connections.
    clients:
        std::collections::HashMap<std::net::IpAddr, (usize, Option<std::time::Instant>, usize)>,
}

/// What a receiver does. Start from [`Posture::tls`] or [`Posture::plain`].
#[derive(Clone)]
pub struct Posture {
    banner: String,
    tls: Option<Arc<ServerConfig>>,
    offer_starttls: bool,
    direct_tls: bool,
    refuse_rcpt: bool,
    require_tls_for_mail: bool,
    auth: Option<(String, String)>,
    behaviour: Behaviour,
    custom_tls: Option<CustomTls>,
    leaf: Option<Leaf>,
    gauges: Vec<Arc<Gauge>>,
    hold: Option<Duration>,
    limits: Option<SessionLimits>,
    /// A command verb (upper case) whose reply is held back this long.
    slow: Option<(String, Duration)>,
}

impl std::fmt::Debug for Posture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Posture")
            .field("banner", &self.banner)
            .field("tls", &self.tls.is_some())
            .field("offer_starttls", &self.offer_starttls)
            .field("behaviour", &self.behaviour)
            .finish_non_exhaustive()
    }
}

impl Posture {
    /// STARTTLS with TLS 1.3 and 1.2, presenting `leaf`.
    pub fn tls(leaf: &Leaf) -> Result<Self, Error> {
        let config =
            leaf.server_config(&[&rustls::version::TLS13, &rustls::version::TLS12], None)?;
        Ok(Self {
            leaf: Some(leaf.clone()),
            ..Self::plain().with_tls_config(config)
        })
    }

    /// No TLS at all: STARTTLS is not offered.
    pub fn plain() -> Self {
        Self {
            banner: "mx.lab.test".to_owned(),
            tls: None,
            offer_starttls: false,
            direct_tls: false,
            refuse_rcpt: false,
            require_tls_for_mail: false,
            auth: None,
            behaviour: Behaviour::Normal,
            custom_tls: None,
            leaf: None,
            gauges: Vec::new(),
            hold: None,
            limits: None,
            slow: None,
        }
    }

    /// Limits sessions per client address (421 beyond them), as Postfix's anvil does.
    pub fn limits(mut self, limits: SessionLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// STARTTLS with this rustls configuration.
    pub fn with_tls_config(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self.offer_starttls = true;
        self
    }

    /// TLS 1.2 only (needs a leaf given to [`Posture::tls`]).
    pub fn tls12_only(self) -> Result<Self, Error> {
        let Some(leaf) = self.leaf.clone() else {
            return Ok(self);
        };
        let config = leaf.server_config(&[&rustls::version::TLS12], None)?;
        Ok(self.with_tls_config(config))
    }

    /// TLS 1.3 only.
    pub fn tls13_only(self) -> Result<Self, Error> {
        let Some(leaf) = self.leaf.clone() else {
            return Ok(self);
        };
        let config = leaf.server_config(&[&rustls::version::TLS13], None)?;
        Ok(self.with_tls_config(config))
    }

    /// Keeps the TLS configuration but does not offer STARTTLS (it still answers a compelled
    /// STARTTLS).
    pub fn no_starttls(mut self) -> Self {
        self.offer_starttls = false;
        self
    }

    /// TLS on connect (SMTPS, port 465 style).
    pub fn direct_tls(mut self) -> Self {
        self.direct_tls = true;
        self
    }

    /// The name in the greeting and EHLO reply.
    pub fn banner(mut self, name: &str) -> Self {
        self.banner = name.to_owned();
        self
    }

    /// Refuses every RCPT TO with 550.
    pub fn refuse_rcpt(mut self) -> Self {
        self.refuse_rcpt = true;
        self
    }

    /// Refuses MAIL FROM without TLS (530 5.7.0): a mandatory-TLS receiver.
    pub fn require_tls(mut self) -> Self {
        self.require_tls_for_mail = true;
        self
    }

    /// Offers AUTH PLAIN and LOGIN for this user and password, and requires it for MAIL FROM.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// A behaviour.
    pub fn behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Counts connections, the most open at once and dialogs that ended with QUIT into
    /// `gauge` (call again to count into several: one per listener and one per address).
    pub fn count_into(mut self, gauge: Arc<Gauge>) -> Self {
        self.gauges.push(gauge);
        self
    }

    /// Waits this long before the greeting, so that connections overlap.
    pub fn hold(mut self, wait: Duration) -> Self {
        self.hold = Some(wait);
        self
    }

    /// Waits `wait` before answering the command `verb` (`MAIL`, `RCPT`, ...): one stage
    /// of the test is slow, so a live view sees the stages before it arrive first.
    pub fn slow_reply(mut self, verb: &str, wait: Duration) -> Self {
        self.slow = Some((verb.to_ascii_uppercase(), wait));
        self
    }

    /// After the 220 to STARTTLS, hands the raw TCP stream to `handler` instead of rustls.
    pub fn custom_tls(mut self, handler: CustomTls) -> Self {
        self.custom_tls = Some(handler);
        self.offer_starttls = true;
        self
    }
}

/// Counts of what receivers saw, shared by the receivers that count into it.
#[derive(Debug, Default)]
pub struct Gauge {
    open: AtomicUsize,
    most_open: AtomicUsize,
    connections: AtomicUsize,
    quits: AtomicUsize,
    refused: AtomicUsize,
}

impl Gauge {
    /// A gauge at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The most connections that were open at once.
    pub fn most_open(&self) -> usize {
        self.most_open.load(Ordering::SeqCst)
    }

    /// Connections accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Dialogs that ended with the client's QUIT.
    pub fn quits(&self) -> usize {
        self.quits.load(Ordering::SeqCst)
    }

    /// Connections refused with 421 by the session limits (counted in
    /// [`connections`](Self::connections) and [`most_open`](Self::most_open) too).
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

/// One open connection in its gauges, for as long as it lives.
struct Counted(Vec<Arc<Gauge>>);

impl Counted {
    fn new(gauges: &[Arc<Gauge>]) -> Self {
        for g in gauges {
            g.connections.fetch_add(1, Ordering::SeqCst);
            let now = g.open.fetch_add(1, Ordering::SeqCst) + 1;
            g.most_open.fetch_max(now, Ordering::SeqCst);
        }
        Self(gauges.to_vec())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        for g in &self.0 {
            g.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// What a receiver saw.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Messages received (DATA), as sent.
    pub messages: Vec<Vec<u8>>,
    /// Every command line received, in order (AUTH payloads included: tests check for leaks
    /// on the client side, not here).
    pub commands: Vec<String>,
}

/// A running receiver; stops when dropped. Its posture can be changed while it runs
/// ([`SmtpReceiver::set_posture`]): a server that changes between two tests.
pub struct SmtpReceiver {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Seen>>,
    posture: Arc<Mutex<Arc<Posture>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SmtpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpReceiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpReceiver {
    /// Listens on `bind` (port 0 for an ephemeral port) with `posture`.
    pub async fn start(bind: SocketAddr, posture: Posture) -> Result<Self, Error> {
        let listener = TcpListener::bind(bind).await?;
        Ok(Self::serve(listener, posture))
    }

    /// Serves `posture` on a listener the caller bound.
    pub fn serve(listener: TcpListener, posture: Posture) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let current = Arc::new(Mutex::new(Arc::new(posture)));
        let (c, s, p) = (connections.clone(), seen.clone(), current.clone());
        let limit_state = Arc::new(Mutex::new(LimitState::default()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                c.fetch_add(1, Ordering::SeqCst);
                // Each connection gets the posture of the moment it was accepted.
                let posture = match p.lock() {
                    Ok(g) => g.clone(),
                    Err(e) => e.into_inner().clone(),
                };
                let seen = s.clone();
                let admitted = match posture.limits {
                    Some(l) => admit(&limit_state, peer.ip(), l),
                    None => true,
                };
                if !admitted {
                    for g in &posture.gauges {
                        g.refused.fetch_add(1, Ordering::SeqCst);
                    }
                    let b = posture.banner.clone();
                    let counted = Counted::new(&posture.gauges);
                    tokio::spawn(async move {
                        let _counted = counted;
                        let mut s: BoxStream = Box::new(tcp);
                        let _ = write(
                            &mut s,
                            &format!(
                                "421 4.7.0 {b} Error: too many connections from {}\r\n",
                                peer.ip()
                            ),
                        )
                        .await;
                    });
                    continue;
                }
                let session = posture
                    .limits
                    .map(|_| Leaving(limit_state.clone(), peer.ip()));
                tokio::spawn(async move {
                    let _session = session;
                    let _counted = Counted::new(&posture.gauges);
                    let _ = tcp.set_nodelay(true);
                    if let Some(wait) = posture.hold {
                        tokio::time::sleep(wait).await;
                    }
                    let _ = serve_connection(tcp, &posture, &seen).await;
                });
            }
        });
        Self {
            addr,
            connections,
            seen,
            posture: current,
            task,
        }
    }

    /// Changes the posture: connections accepted from now on get `posture`.
    pub fn set_posture(&self, posture: Posture) {
        match self.posture.lock() {
            Ok(mut g) => *g = Arc::new(posture),
            Err(e) => *e.into_inner() = Arc::new(posture),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// What it saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Forgets what it saw (a long benchmark that measures the client's memory keeps the
    /// server's record from counting).
    pub fn forget_seen(&self) {
        if let Ok(mut s) = self.seen.lock() {
            *s = Seen::default();
        }
    }
}

/// Whether one more session from `client` is within `limits`; counts it in the window.
fn admit(state: &Mutex<LimitState>, client: std::net::IpAddr, limits: SessionLimits) -> bool {
    let mut st = match state.lock() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    let now = std::time::Instant::now();
    let (open, start, count) = st.clients.entry(client).or_insert((0, None, 0));
    if start.is_none_or(|t| now.duration_since(t) >= limits.window) {
        *start = Some(now);
        *count = 0;
    }
    *count += 1;
    if *open >= limits.at_once || *count > limits.per_window {
        return false;
    }
    *open += 1;
    true
}

/// A session admitted under the limits; it leaves them when dropped.
struct Leaving(Arc<Mutex<LimitState>>, std::net::IpAddr);

impl Drop for Leaving {
    fn drop(&mut self) {
        let mut st = match self.0.lock() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        if let Some((open, _, _)) = st.clients.get_mut(&self.1) {
            *open = open.saturating_sub(1);
        }
    }
}

async fn write(s: &mut BoxStream, text: &str) -> std::io::Result<()> {
    s.write_all(text.as_bytes()).await?;
    s.flush().await
}

/// Reads one line (at most 64 KiB), `None` at end of stream.
async fn read_line(s: &mut BoxStream, buf: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    loop {
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            return Ok(Some(text));
        }
        if buf.len() > 65536 {
            return Err(std::io::Error::other("line too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

fn record(seen: &Mutex<Seen>, line: &str) {
    if let Ok(mut s) = seen.lock()
        && s.commands.len() < 10_000
    {
        s.commands.push(line.to_owned());
    }
}

async fn serve_connection(
    tcp: TcpStream,
    posture: &Posture,
    seen: &Mutex<Seen>,
) -> std::io::Result<()> {
    let b = &posture.banner;
    let mut tcp = Some(tcp);
    let mut s: BoxStream;
    let mut encrypted = false;
    if posture.direct_tls {
        let Some(raw) = tcp.take() else {
            return Ok(());
        };
        if let Some(handler) = &posture.custom_tls {
            handler(Box::new(raw)).await;
            return Ok(());
        }
        let Some(config) = &posture.tls else {
            return Ok(());
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
        s = Box::new(acceptor.accept(raw).await?);
        encrypted = true;
    } else {
        let Some(raw) = tcp.take() else {
            return Ok(());
        };
        s = Box::new(raw);
    }
    match posture.behaviour {
        Behaviour::Greeting421 => {
            write(&mut s, &format!("421 4.3.2 {b} busy, try later\r\n")).await?;
            return Ok(());
        }
        Behaviour::Silent => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        Behaviour::Tarpit => {
            for byte in format!("220 {b} ESMTP slowly\r\n").bytes() {
                s.write_all(&[byte]).await?;
                s.flush().await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Behaviour::LongLine => {
            let chunk = vec![b'x'; 64 * 1024];
            s.write_all(b"220 ").await?;
            for _ in 0..17 {
                s.write_all(&chunk).await?;
            }
            s.write_all(b"\r\n").await?;
            s.flush().await?;
        }
        _ => write(&mut s, &format!("220 {b} ESMTP checktls lab\r\n")).await?,
    }
    let mut buf = Vec::new();
    let mut authed = posture.auth.is_none();
    let mut mail = false;
    let mut rcpts = 0usize;
    loop {
        let Some(line) = read_line(&mut s, &mut buf).await? else {
            return Ok(());
        };
        record(seen, &line);
        let upper = line.to_ascii_uppercase();
        let verb = upper
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Some((slow, wait)) = &posture.slow
            && *slow == verb
        {
            tokio::time::sleep(*wait).await;
        }
        match verb.as_str() {
            "EHLO" if posture.behaviour == Behaviour::EhloRefused => {
                write(&mut s, "502 5.5.2 EHLO not implemented\r\n").await?;
            }
            "EHLO" if posture.behaviour == Behaviour::EndlessMultiline => {
                // Continuation lines for as long as the client listens (bounded by the
                // client's limits; stop after 10 MiB in any case).
                let mut sent = 0usize;
                while sent < 10 << 20 {
                    let l = format!("250-{b} capability line {sent}\r\n");
                    if s.write_all(l.as_bytes()).await.is_err() {
                        return Ok(());
                    }
                    sent += l.len();
                }
                return Ok(());
            }
            "EHLO" => {
                let mut caps = vec![
                    format!("{b} Hello"),
                    "PIPELINING".into(),
                    "SIZE 10240000".into(),
                ];
                if posture.offer_starttls
                    && !encrypted
                    && (posture.tls.is_some() || posture.custom_tls.is_some())
                {
                    caps.push("STARTTLS".into());
                }
                if posture.auth.is_some() {
                    caps.push("AUTH PLAIN LOGIN".into());
                }
                caps.push("ENHANCEDSTATUSCODES".into());
                caps.push("8BITMIME".into());
                let n = caps.len();
                let mut out = String::new();
                for (i, c) in caps.iter().enumerate() {
                    let sep = if i + 1 == n { ' ' } else { '-' };
                    out.push_str(&format!("250{sep}{c}\r\n"));
                }
                write(&mut s, &out).await?;
            }
            "HELO" => write(&mut s, &format!("250 {b}\r\n")).await?,
            "STARTTLS" if encrypted => write(&mut s, "503 5.5.1 already in TLS\r\n").await?,
            "STARTTLS" => {
                if posture.tls.is_none() && posture.custom_tls.is_none() {
                    write(&mut s, "454 4.7.0 TLS not available\r\n").await?;
                    continue;
                }
                match posture.behaviour {
                    Behaviour::InjectAfterStarttls => {
                        write(&mut s, "220 2.0.0 Ready to start TLS\r\n250 injected\r\n").await?;
                    }
                    _ => write(&mut s, "220 2.0.0 Ready to start TLS\r\n").await?,
                }
                match posture.behaviour {
                    Behaviour::AbortAfterServerHello => {
                        let chain = posture
                            .leaf
                            .as_ref()
                            .map(|l| l.chain.clone())
                            .unwrap_or_default();
                        let aborting = crate::legacy::LegacyPosture::aborting(chain);
                        let _ = crate::legacy::answer(s, &aborting).await;
                        return Ok(());
                    }
                    Behaviour::ResetDuringTls => {
                        // Read the ClientHello, then drop the connection.
                        let mut hello = [0u8; 512];
                        let _ = s.read(&mut hello).await;
                        return Ok(());
                    }
                    Behaviour::GarbageInsteadOfTls => {
                        let mut hello = [0u8; 512];
                        let _ = s.read(&mut hello).await;
                        write(&mut s, "this is not a TLS server hello\r\n").await?;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return Ok(());
                    }
                    _ => {}
                }
                if let Some(handler) = &posture.custom_tls {
                    handler(s).await;
                    return Ok(());
                }
                let Some(config) = &posture.tls else {
                    return Ok(());
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                s = Box::new(acceptor.accept(s).await?);
                encrypted = true;
                buf.clear();
            }
            "AUTH" => {
                let Some((user, pass)) = &posture.auth else {
                    write(&mut s, "502 5.5.1 no AUTH here\r\n").await?;
                    continue;
                };
                let words: Vec<&str> = line.split_whitespace().collect();
                let ok = match words.get(1).map(|w| w.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let token = match words.get(2) {
                            Some(t) => (*t).to_owned(),
                            None => {
                                write(&mut s, "334 \r\n").await?;
                                read_line(&mut s, &mut buf).await?.unwrap_or_default()
                            }
                        };
                        decode(&token) == format!("\0{user}\0{pass}")
                    }
                    Some("LOGIN") => {
                        write(&mut s, "334 VXNlcm5hbWU6\r\n").await?;
                        let u = read_line(&mut s, &mut buf).await?.unwrap_or_default();
                        write(&mut s, "334 UGFzc3dvcmQ6\r\n").await?;
                        let p = read_line(&mut s, &mut buf).await?.unwrap_or_default();
                        decode(&u) == *user && decode(&p) == *pass
                    }
                    _ => false,
                };
                if ok {
                    authed = true;
                    write(&mut s, "235 2.7.0 Authentication successful\r\n").await?;
                } else {
                    write(&mut s, "535 5.7.8 Authentication credentials invalid\r\n").await?;
                }
            }
            "MAIL" => {
                if posture.require_tls_for_mail && !encrypted {
                    write(&mut s, "530 5.7.0 Must issue a STARTTLS command first\r\n").await?;
                } else if !authed {
                    write(&mut s, "530 5.7.0 Authentication required\r\n").await?;
                } else {
                    mail = true;
                    write(&mut s, "250 2.1.0 Sender OK\r\n").await?;
                }
            }
            "RCPT" => {
                if !mail {
                    write(&mut s, "503 5.5.1 MAIL first\r\n").await?;
                } else if posture.refuse_rcpt {
                    write(
                        &mut s,
                        "550 5.1.1 Recipient address rejected: User unknown\r\n",
                    )
                    .await?;
                } else {
                    rcpts += 1;
                    write(&mut s, "250 2.1.5 Recipient OK\r\n").await?;
                }
            }
            "DATA" => {
                if rcpts == 0 {
                    write(&mut s, "503 5.5.1 RCPT first\r\n").await?;
                    continue;
                }
                write(&mut s, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut message = Vec::new();
                loop {
                    let Some(l) = read_line(&mut s, &mut buf).await? else {
                        return Ok(());
                    };
                    if l == "." {
                        break;
                    }
                    if message.len() < 1 << 20 {
                        message.extend_from_slice(l.strip_prefix('.').unwrap_or(&l).as_bytes());
                        message.extend_from_slice(b"\r\n");
                    }
                }
                if let Ok(mut seen) = seen.lock() {
                    seen.messages.push(message);
                }
                write(&mut s, "250 2.0.0 Ok: queued\r\n").await?;
            }
            "RSET" => {
                mail = false;
                rcpts = 0;
                write(&mut s, "250 2.0.0 Ok\r\n").await?;
            }
            "NOOP" => write(&mut s, "250 2.0.0 Ok\r\n").await?,
            "QUIT" => {
                for g in &posture.gauges {
                    g.quits.fetch_add(1, Ordering::SeqCst);
                }
                write(&mut s, "221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => write(&mut s, "500 5.5.2 Command unrecognized\r\n").await?,
        }
    }
}

fn decode(b64: &str) -> String {
    use base64ct::{Base64, Encoding};
    Base64::decode_vec(b64.trim())
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}
