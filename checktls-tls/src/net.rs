//! How the network fetches (OCSP, CRL, MTA-STS policies) reach a host: a [`Connector`] turns a
//! host name and port into a stream, so the caller decides resolution (its own DNS, a lab
//! address, a SOCKS5 proxy) and this crate never resolves names itself.
//!
//! The URLs fetched come from what a peer controls (a certificate's AIA and CRL distribution
//! points, an MTA-STS domain's DNS), so the connectors here refuse addresses that are not
//! globally routable ([`is_global`]: loopback, private, link-local such as a cloud's metadata
//! service at 169.254.169.254, multicast, documentation and other special-purpose ranges)
//! unless the caller allowed them with [`AddressPolicy::AllowNonGlobal`] (a lab).
//!
//! ```
//! use checktls_tls::net::is_global;
//! assert!(!is_global("169.254.169.254".parse().unwrap()));
//! assert!(!is_global("10.1.2.3".parse().unwrap()));
//! assert!(is_global("192.0.43.10".parse().unwrap()));
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// Which addresses a connector may reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressPolicy {
    /// Only globally routable addresses (the default): a peer cannot make us fetch from
    /// loopback, private networks or link-local services.
    #[default]
    GlobalOnly,
    /// Any address: for labs and tests on loopback, and for private systems the user tests on
    /// purpose.
    AllowNonGlobal,
}

impl AddressPolicy {
    /// Whether `ip` may be reached.
    pub fn allows(self, ip: IpAddr) -> bool {
        self == AddressPolicy::AllowNonGlobal || is_global(ip)
    }

    fn refuse(host: &str, ip: IpAddr) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{host} is {ip}, which is not a global address: not fetched"),
        )
    }
}

/// Whether `ip` is globally routable: not in a special-purpose range of the IANA IPv4 and IPv6
/// Special-Purpose Address Registries (RFC 6890 and its updates) that is not globally
/// reachable. IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4 address.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                    // "this network" (RFC 791)
        || a == 10                              // private (RFC 1918)
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || a == 127                             // loopback
        || (a == 169 && b == 254)               // link-local (RFC 3927): cloud metadata
        || (a == 172 && (16..32).contains(&b))  // private
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments (RFC 6890)
        || (a == 192 && b == 0 && c == 2)       // documentation TEST-NET-1
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)               // private
        || (a == 198 && (18..20).contains(&b))  // benchmarking (RFC 2544)
        || (a == 198 && b == 51 && c == 100)    // documentation TEST-NET-2
        || (a == 203 && b == 0 && c == 113)     // documentation TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    let s = ip.segments();
    // NAT64 well-known prefix (RFC 6052): judge the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_global_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xff00) == 0xff00             // multicast
        || (s[0] & 0xfe00) == 0xfc00             // unique local (RFC 4193)
        || (s[0] & 0xffc0) == 0xfe80             // link-local
        || (s[0] & 0xffc0) == 0xfec0             // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8)    // documentation (RFC 3849)
        || (s[0] == 0x3fff && s[1] < 0x1000)     // documentation (RFC 9637)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only (RFC 6666)
        || (s[0] == 0x2001 && s[1] < 0x0200)     // IETF protocol assignments (RFC 2928)
        || s[0] == 0x2002                        // 6to4 (its IPv4 address may be private)
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001)) // local-use NAT64 (RFC 8215)
}

/// Connects over TCP, resolving names with the operating system's resolver, to the first
/// address its [`AddressPolicy`] allows (by default global addresses only).
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpConnector {
    policy: AddressPolicy,
}

impl TcpConnector {
    /// A connector that reaches global addresses only (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// A connector under `policy`.
    pub fn with_policy(policy: AddressPolicy) -> Self {
        Self { policy }
    }

    /// A connector that reaches any address, loopback and private ones included (labs).
    pub fn allowing_non_global() -> Self {
        Self::with_policy(AddressPolicy::AllowNonGlobal)
    }
}

impl Connector for TcpConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16) -> ConnectFuture<'a> {
        Box::pin(async move {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let mut last = None;
            for addr in tokio::net::lookup_host((bare, port)).await? {
                if !self.policy.allows(addr.ip()) {
                    last = Some(AddressPolicy::refuse(host, addr.ip()));
                    continue;
                }
                match tokio::net::TcpStream::connect(addr).await {
                    Ok(stream) => {
                        stream.set_nodelay(true)?;
                        return Ok(Box::new(stream) as BoxStream);
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
            }))
        })
    }
}

/// Connects over TCP to fixed addresses: each host name maps to a socket address, whatever the
/// port asked for (the caller chose those addresses); address literals connect as they are
/// when the [`AddressPolicy`] allows them (by default global addresses only). For labs and
/// tests; unknown names fail with `NotFound`.
#[derive(Clone, Debug, Default)]
pub struct StaticConnector {
    map: HashMap<String, SocketAddr>,
    policy: AddressPolicy,
}

impl StaticConnector {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets address literals reach any address, loopback and private ones included.
    #[must_use]
    pub fn allowing_non_global(mut self) -> Self {
        self.policy = AddressPolicy::AllowNonGlobal;
        self
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
            if let Some(l) = literal
                && !self.map.contains_key(&key)
                && !self.policy.allows(l.ip())
            {
                return Err(AddressPolicy::refuse(host, l.ip()));
            }
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
