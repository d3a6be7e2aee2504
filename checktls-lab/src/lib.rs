//! The checktls lab: everything a receiver test talks to, in-process and on loopback, for the
//! test suites, the benchmarks and `checktls demo`.
//!
//! ```text
//!   tests / benches / `checktls demo`
//!        │ start servers on 127.0.0.1:0 (ephemeral ports), get their addresses
//!        ▼
//!   ┌──────────────────────────────── checktls-lab ─────────────────────────────────┐
//!   │ pki      root + intermediate CA, leaves of every posture (rcgen)               │
//!   │ smtp     SMTP receivers with chosen postures and hostile behaviours            │
//!   │ dns      an authoritative DNS server with signed (and broken) zones            │
//!   │ mta_sts  HTTPS for MTA-STS policies (good and broken); ocsp: OCSP and CRLs      │
//!   │ legacy   a ClientHello responder that answers like an SSLv3/TLS 1.0/1.1 server  │
//!   └────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The lab is `publish = false`: it exists to exercise the published crates. It depends on none
//! of them, so the servers here are independent implementations, not mirrors of the client code.
//!
//! ```
//! # fn main() -> Result<(), checktls_lab::Error> {
//! use std::time::SystemTime;
//!
//! let pki = checktls_lab::pki::Pki::generate(SystemTime::now())?;
//! let leaf = pki.valid("mx.example.test")?;
//! assert_eq!(leaf.chain.len(), 2); // leaf + intermediate
//! # Ok(())
//! # }
//! ```
// The lab's servers and settings are built by the tests that use them, with struct literals;
// it is not published, so it has no API to keep open for growth.
#![allow(clippy::exhaustive_structs, clippy::exhaustive_enums)]

pub mod aiosmtpd;
pub mod crl;
pub mod dns;
pub mod exim;
pub mod http;
pub mod legacy;
pub mod mta_sts;
pub mod ocsp;
pub mod opensmtpd;
pub mod pki;
pub mod postfix;
pub mod postgres;
pub mod rsa;
pub mod scenario;
pub mod smtp;
pub mod socks5;

/// What can go wrong while building the lab.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A TLS configuration was refused.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The lab's DNS zones could not be built (bad zone text, a signing failure).
    #[error("lab DNS: {reason}")]
    DnsLab {
        /// What went wrong.
        reason: String,
    },
    /// An I/O error (binding a listener, reading a fixture).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Waits until something accepts TCP connections on `addr`, as the harnesses of real servers
/// (Postfix, Exim, OpenSMTPD, aiosmtpd) do after starting one: true when it does within 20 s,
/// false when the time runs out or `exited()` says the server's process is gone.
pub(crate) fn wait_listening(addr: std::net::SocketAddr, mut exited: impl FnMut() -> bool) -> bool {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline || exited() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Stops a server process the harness started (ours, by its pid): SIGTERM, up to 3 s for it to
/// exit, then SIGKILL; reaped either way.
pub(crate) fn stop_child(child: &mut std::process::Child) {
    use std::time::{Duration, Instant};
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
