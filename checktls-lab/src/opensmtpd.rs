//! A real OpenSMTPD (Debian's `opensmtpd` package, unpacked beside Postfix rather than
//! installed: the two packages conflict) started by the test suite with its own configuration,
//! in the caller's mount namespace; stopped, by its own pid, when dropped.
//!
//! ```text
//!   OpenSmtpd::start(OpenSmtpdConfig::new("127.0.0.70:25".parse()?, &leaf))
//!     ─► temp dir: smtpd.conf, cert/key, spool/, empty/
//!     ─► bind mounts (the paths compiled into smtpd): spool/ on /var/spool/smtpd,
//!        empty/ on /var/lib/opensmtpd/empty  (call it inside `unshare --mount`)
//!     ─► `smtpd -d -f smtpd.conf` (foreground; its log is its standard error)
//! ```
//!
//! OpenSMTPD 6.8 on OpenSSL 3 (Debian 12) aborts every TLS handshake with an RSA key: it sends
//! ServerHello and its Certificate, then a fatal internal_error alert, because its
//! privilege-separated signing fails. With an ECDSA key the handshake completes and the same
//! alert follows at once. Both are postures the receiver test must grade as "no encryption".
//!
//! The binary is `$CHECKTLS_OPENSMTPD`, else [`DEFAULT_SMTPD`] (where `.ci/run` unpacks the
//! package); it needs the system users `opensmtpd` and `opensmtpq` (`.ci/run` adds them, as
//! the package's postinst would) and root.
//!
//! ```no_run
//! # fn run(leaf: &checktls_lab::pki::Leaf) -> Result<(), checktls_lab::Error> {
//! use checktls_lab::opensmtpd::{OpenSmtpd, OpenSmtpdConfig};
//! let s = OpenSmtpd::start(OpenSmtpdConfig::new("127.0.0.70:25".parse().unwrap(), leaf))?;
//! println!("OpenSMTPD on {}", s.addr());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::Error;
use crate::pki::Leaf;

/// Where `.ci/run` unpacks Debian's opensmtpd package.
pub const DEFAULT_SMTPD: &str = "/opt/checktls-interop/opensmtpd/usr/sbin/smtpd";

/// The smtpd binary: `$CHECKTLS_OPENSMTPD`, else [`DEFAULT_SMTPD`].
pub fn binary() -> PathBuf {
    std::env::var_os("CHECKTLS_OPENSMTPD")
        .map_or_else(|| PathBuf::from(DEFAULT_SMTPD), PathBuf::from)
}

/// How to configure the instance.
#[derive(Clone, Debug)]
pub struct OpenSmtpdConfig {
    addr: SocketAddr,
    hostname: String,
    chain_pem: String,
    key_pem: String,
    local_domain: String,
}

impl OpenSmtpdConfig {
    /// Listens on `addr` with STARTTLS (`listen on ... tls`) presenting `leaf`; mail for
    /// `accept.test` is accepted.
    pub fn new(addr: SocketAddr, leaf: &Leaf) -> Self {
        Self {
            addr,
            hostname: "opensmtpd.lab.test".into(),
            chain_pem: leaf.chain_pem(),
            key_pem: leaf.key_pem(),
            local_domain: "accept.test".into(),
        }
    }

    /// Listens on `addr` presenting this chain and key (PEM): for a key the lab's PKI does
    /// not make (RSA, made with `openssl req`).
    pub fn with_pem(addr: SocketAddr, chain_pem: &str, key_pem: &str) -> Self {
        Self {
            addr,
            hostname: "opensmtpd.lab.test".into(),
            chain_pem: chain_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            local_domain: "accept.test".into(),
        }
    }

    /// The host name in the banner.
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.into();
        self
    }
}

/// A running OpenSMTPD; stopped when dropped.
pub struct OpenSmtpd {
    dir: PathBuf,
    addr: SocketAddr,
    child: Child,
    mounts: Vec<PathBuf>,
}

impl std::fmt::Debug for OpenSmtpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSmtpd")
            .field("addr", &self.addr)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn failed(what: impl Into<String>) -> Error {
    Error::Io(std::io::Error::other(what.into()))
}

fn bind_mount(from: &Path, on: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(on)?;
    let out = Command::new("mount")
        .arg("--bind")
        .arg(from)
        .arg(on)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(format!(
            "mount --bind {} {}: {}",
            from.display(),
            on.display(),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl OpenSmtpd {
    /// Writes the configuration, mounts the spool, starts smtpd and waits until it accepts
    /// connections (at most 20 s). Call it in a mount namespace of the caller's own: the
    /// mounts are on paths of the host.
    pub fn start(config: OpenSmtpdConfig) -> Result<Self, Error> {
        let smtpd = binary();
        if !smtpd.exists() {
            return Err(failed(format!(
                "{} is missing: unpack Debian's opensmtpd package there (see .ci/run) or set \
                 CHECKTLS_OPENSMTPD",
                smtpd.display()
            )));
        }
        for user in ["opensmtpd", "opensmtpq"] {
            let known = Command::new("id").arg(user).output()?.status.success();
            if !known {
                return Err(failed(format!(
                    "the system user {user} is missing (adduser --system {user}; see .ci/run)"
                )));
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "checktls-opensmtpd-{}-{}",
            std::process::id(),
            config.addr.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("spool"))?;
        std::fs::create_dir_all(dir.join("empty"))?;
        let chmod = |p: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        };
        chmod(&dir, 0o755)?;
        chmod(&dir.join("spool"), 0o711)?;
        std::fs::write(dir.join("cert.pem"), &config.chain_pem)?;
        std::fs::write(dir.join("key.pem"), &config.key_pem)?;
        chmod(&dir.join("key.pem"), 0o600)?;
        let listen = match config.addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => a.ip().to_string(),
        };
        std::fs::write(
            dir.join("smtpd.conf"),
            format!(
                "pki {h} cert \"{cert}\"\n\
                 pki {h} key \"{key}\"\n\
                 listen on {listen} port {port} tls pki {h} hostname {h}\n\
                 action \"local\" mbox\n\
                 match from any for domain \"{local}\" action \"local\"\n",
                h = config.hostname,
                cert = dir.join("cert.pem").display(),
                key = dir.join("key.pem").display(),
                port = config.addr.port(),
                local = config.local_domain,
            ),
        )?;
        let spool = PathBuf::from("/var/spool/smtpd");
        let empty = PathBuf::from("/var/lib/opensmtpd/empty");
        bind_mount(&dir.join("spool"), &spool)?;
        bind_mount(&dir.join("empty"), &empty)?;
        let log = std::fs::File::create(dir.join("smtpd.log"))?;
        let child = Command::new(&smtpd)
            .arg("-d")
            .arg("-f")
            .arg(dir.join("smtpd.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut me = Self {
            dir,
            addr: config.addr,
            child,
            mounts: vec![spool, empty],
        };
        let addr = me.addr;
        if !crate::wait_listening(addr, || matches!(me.child.try_wait(), Ok(Some(_)))) {
            return Err(failed(format!(
                "OpenSMTPD did not listen on {addr}: {}",
                me.log()
            )));
        }
        Ok(me)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its log so far (smtpd -d writes it to standard error).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("smtpd.log")).unwrap_or_default()
    }
}

impl Drop for OpenSmtpd {
    fn drop(&mut self) {
        crate::stop_child(&mut self.child);
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg(m).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
