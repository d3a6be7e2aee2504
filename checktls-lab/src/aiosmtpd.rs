//! Small real servers from Debian packages for the interop suite, started by the test with
//! their own configuration and stopped, by their own pid, when dropped: aiosmtpd (Python's
//! asyncio SMTP server, `python3-aiosmtpd`) and postgrey (the greylisting policy server
//! Postfix asks at RCPT TO, `postgrey`).
//!
//! ```text
//!   Aiosmtpd::start(addr, &leaf)  ─► /usr/bin/python3 -m aiosmtpd -n -l ADDR --tlscert --tlskey
//!                                    (STARTTLS offered, not required; a sink handler)
//!   Postgrey::start(port, delay)  ─► postgrey --inet=127.0.0.1:PORT --dbdir=TEMP --delay=N
//!                                    (Postfix: check_policy_service inet:127.0.0.1:PORT)
//! ```
//!
//! ```no_run
//! # fn run(leaf: &checktls_lab::pki::Leaf) -> Result<(), checktls_lab::Error> {
//! use checktls_lab::aiosmtpd::Aiosmtpd;
//! let s = Aiosmtpd::start("127.0.0.78:25".parse().unwrap(), leaf)?;
//! println!("aiosmtpd on {}", s.addr());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::Error;
use crate::pki::Leaf;

/// Debian's Python, which has `python3-aiosmtpd`.
pub const PYTHON: &str = "/usr/bin/python3";
/// Debian's postgrey.
pub const POSTGREY: &str = "/usr/sbin/postgrey";

fn failed(what: impl Into<String>) -> Error {
    Error::Io(std::io::Error::other(what.into()))
}

/// A child process in a temp dir of its own; stopped by its pid and the dir removed when
/// dropped.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn spawn(dir: PathBuf, cmd: &mut Command, addr: SocketAddr) -> Result<Self, Error> {
        let log = std::fs::File::create(dir.join("log"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut me = Self { child, dir };
        if !crate::wait_listening(addr, || matches!(me.child.try_wait(), Ok(Some(_)))) {
            return Err(failed(format!(
                "{cmd:?} did not listen on {addr}: {}",
                me.log()
            )));
        }
        Ok(me)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        crate::stop_child(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(what: &str, addr: SocketAddr) -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!(
        "checktls-{what}-{}-{}-{}",
        std::process::id(),
        addr.ip(),
        addr.port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A running aiosmtpd.
pub struct Aiosmtpd {
    addr: SocketAddr,
    daemon: Daemon,
}

impl std::fmt::Debug for Aiosmtpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aiosmtpd")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Aiosmtpd {
    /// Starts aiosmtpd on `addr`, offering STARTTLS with `leaf` (not requiring it), with a
    /// handler that accepts and discards every message.
    pub fn start(addr: SocketAddr, leaf: &Leaf) -> Result<Self, Error> {
        let dir = temp_dir("aiosmtpd", addr)?;
        std::fs::write(dir.join("cert.pem"), leaf.chain_pem())?;
        std::fs::write(dir.join("key.pem"), leaf.key_pem())?;
        let listen = match addr {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("{}:{}", a.ip(), a.port()),
        };
        let daemon = Daemon::spawn(
            dir.clone(),
            Command::new(PYTHON)
                .args(["-m", "aiosmtpd", "-n", "-l", &listen, "-c"])
                .arg("aiosmtpd.handlers.Sink")
                .arg("--tlscert")
                .arg(dir.join("cert.pem"))
                .arg("--tlskey")
                .arg(dir.join("key.pem"))
                .arg("--no-requiretls"),
            addr,
        )?;
        Ok(Self { addr, daemon })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it printed.
    pub fn log(&self) -> String {
        self.daemon.log()
    }
}

/// A running postgrey.
pub struct Postgrey {
    addr: SocketAddr,
    _daemon: Daemon,
}

impl std::fmt::Debug for Postgrey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgrey")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Postgrey {
    /// Starts postgrey on 127.0.0.1:`port`, greylisting for `delay`; its database in a temp
    /// dir owned by the postgrey user.
    pub fn start(port: u16, delay: Duration) -> Result<Self, Error> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = temp_dir("postgrey", addr)?;
        let db = dir.join("db");
        std::fs::create_dir_all(&db)?;
        let out = Command::new("chown").arg("postgrey").arg(&db).output()?;
        if !out.status.success() {
            return Err(failed(format!(
                "chown postgrey: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let daemon = Daemon::spawn(
            dir.clone(),
            Command::new(POSTGREY)
                .arg(format!("--inet=127.0.0.1:{port}"))
                .arg(format!("--dbdir={}", db.display()))
                .arg(format!("--delay={}", delay.as_secs()))
                .arg(format!("--pidfile={}", dir.join("pid").display())),
            addr,
        )?;
        Ok(Self {
            addr,
            _daemon: daemon,
        })
    }

    /// The `check_policy_service` argument for Postfix.
    pub fn policy_service(&self) -> String {
        format!("inet:{}", self.addr)
    }
}
