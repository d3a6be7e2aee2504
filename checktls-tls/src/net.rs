//! How the network fetches (OCSP, CRL, MTA-STS policies) reach a host: a [`Connector`] turns a
//! host name and port into a stream, so the caller decides resolution (its own DNS, a lab
//! address, a SOCKS5 proxy) and this crate never resolves names itself.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a connector returns.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A boxed stream.
pub type BoxStream = Box<dyn Stream>;

/// The future a [`Connector`] returns.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>>;

/// Opens a stream to `host:port`.
pub trait Connector: Send + Sync {
    /// Connects to `host` (a name or an IP address literal) on `port`.
    fn connect<'a>(&'a self, host: &'a str, port: u16) -> ConnectFuture<'a>;
}

/// Connects over TCP, resolving names with the operating system's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16) -> ConnectFuture<'a> {
        Box::pin(async move {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let stream = tokio::net::TcpStream::connect((host, port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

/// Connects over TCP to fixed addresses: each host name maps to a socket address, whatever the
/// port asked for; address literals connect as they are. For labs and tests; unknown names
/// fail with `NotFound`.
#[derive(Clone, Debug, Default)]
pub struct StaticConnector {
    map: HashMap<String, SocketAddr>,
}

impl StaticConnector {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends connections for `host` (case-insensitive) to `addr`.
    pub fn with(mut self, host: &str, addr: SocketAddr) -> Self {
        self.insert(host, addr);
        self
    }

    /// Sends connections for `host` (case-insensitive) to `addr`.
    pub fn insert(&mut self, host: &str, addr: SocketAddr) {
        self.map
            .insert(host.trim_end_matches('.').to_ascii_lowercase(), addr);
    }
}

impl Connector for StaticConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16) -> ConnectFuture<'a> {
        Box::pin(async move {
            let key = host.trim_end_matches('.').to_ascii_lowercase();
            // An address literal needs no mapping.
            let literal = key
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, port));
            let Some(addr) = self.map.get(&key).copied().or(literal) else {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no address configured for {host}"),
                ));
            };
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}
