//! A minimal SOCKS5 proxy (RFC 1928, with RFC 1929 user/password) for loopback tests. It only
//! connects to loopback addresses.
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls_lab::Error> {
//! let proxy = checktls_lab::socks5::Socks5Proxy::start(None).await?;
//! println!("SOCKS5 on {}", proxy.addr());
//! # Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::Error;

/// A running proxy on 127.0.0.1; stops when dropped.
pub struct Socks5Proxy {
    addr: SocketAddr,
    relayed: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Socks5Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Socks5Proxy {
    /// Starts a proxy; with `credentials`, clients must authenticate with them.
    pub async fn start(credentials: Option<(String, String)>) -> Result<Self, Error> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let relayed = Arc::new(AtomicUsize::new(0));
        let counter = relayed.clone();
        let credentials = Arc::new(credentials);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                let credentials = credentials.clone();
                tokio::spawn(async move {
                    if let Ok(upstream) = negotiate(client, &credentials).await {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let (mut a, mut b) = upstream;
                        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                    }
                });
            }
        });
        Ok(Self {
            addr,
            relayed,
            task,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections relayed so far.
    pub fn relayed(&self) -> usize {
        self.relayed.load(Ordering::SeqCst)
    }
}

async fn negotiate(
    mut c: TcpStream,
    credentials: &Option<(String, String)>,
) -> std::io::Result<(TcpStream, TcpStream)> {
    let bad = || std::io::Error::other("bad SOCKS5 request");
    let mut head = [0u8; 2];
    c.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(bad());
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    c.read_exact(&mut methods).await?;
    match credentials {
        None => {
            if !methods.contains(&0) {
                c.write_all(&[5, 0xff]).await?;
                return Err(bad());
            }
            c.write_all(&[5, 0]).await?;
        }
        Some((user, pass)) => {
            if !methods.contains(&2) {
                c.write_all(&[5, 0xff]).await?;
                return Err(bad());
            }
            c.write_all(&[5, 2]).await?;
            let mut v = [0u8; 2];
            c.read_exact(&mut v).await?;
            let mut u = vec![0u8; usize::from(v[1])];
            c.read_exact(&mut u).await?;
            let mut pl = [0u8; 1];
            c.read_exact(&mut pl).await?;
            let mut p = vec![0u8; usize::from(pl[0])];
            c.read_exact(&mut p).await?;
            if u != user.as_bytes() || p != pass.as_bytes() {
                c.write_all(&[1, 1]).await?;
                return Err(bad());
            }
            c.write_all(&[1, 0]).await?;
        }
    }
    let mut req = [0u8; 4];
    c.read_exact(&mut req).await?;
    if req[0] != 5 || req[1] != 1 {
        return Err(bad());
    }
    let ip: IpAddr = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a).await?;
            IpAddr::V4(Ipv4Addr::from(a))
        }
        4 => {
            let mut a = [0u8; 16];
            c.read_exact(&mut a).await?;
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return Err(bad()),
    };
    let mut port = [0u8; 2];
    c.read_exact(&mut port).await?;
    let target = SocketAddr::new(ip, u16::from_be_bytes(port));
    if !target.ip().is_loopback() {
        c.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Err(bad());
    }
    match TcpStream::connect(target).await {
        Ok(up) => {
            c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
            Ok((c, up))
        }
        Err(e) => {
            c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            Err(e)
        }
    }
}
