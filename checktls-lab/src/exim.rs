//! A real Exim 4 (Debian's `exim4-daemon-light`, built with GnuTLS), unpacked beside Postfix
//! rather than installed (the packages conflict), started by the test suite with its own
//! configuration (`exim4 -C`) and stopped, by its own pid, when dropped.
//!
//! ```text
//!   Exim::start(EximConfig::new("127.0.0.79:25".parse()?, &leaf))
//!     ─► temp dir: exim.conf, cert/key, spool/, log/ (owned by Debian-exim)
//!     ─► `exim4 -C exim.conf -bd -oX PORT -oP pid`  (needs root and the user Debian-exim)
//! ```
//!
//! Its main log has a line for each RCPT TO naming the TLS version and suite it came over
//! (`RCPT TO:<..> from [ip] over TLS1.3 TLS1.3:ECDHE_X25519__...`), the server's own account of
//! the session.
//!
//! The binary is `$CHECKTLS_EXIM`, else [`DEFAULT_EXIM`] (where `.ci/run` unpacks the
//! package); `.ci/run` adds the user `Debian-exim`, as the package's postinst would.
//!
//! ```no_run
//! # fn run(leaf: &checktls_lab::pki::Leaf) -> Result<(), checktls_lab::Error> {
//! use checktls_lab::exim::{Exim, EximConfig};
//! let s = Exim::start(EximConfig::new("127.0.0.79:25".parse().unwrap(), leaf))?;
//! println!("Exim on {}", s.addr());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;
use crate::pki::Leaf;

/// Where `.ci/run` unpacks Debian's exim4-daemon-light package.
pub const DEFAULT_EXIM: &str = "/opt/checktls-interop/exim4/usr/sbin/exim4";

/// The exim4 binary: `$CHECKTLS_EXIM`, else [`DEFAULT_EXIM`].
pub fn binary() -> PathBuf {
    std::env::var_os("CHECKTLS_EXIM").map_or_else(|| PathBuf::from(DEFAULT_EXIM), PathBuf::from)
}

/// How to configure the instance.
#[derive(Clone, Debug)]
pub struct EximConfig {
    addr: SocketAddr,
    hostname: String,
    chain_pem: String,
    key_pem: String,
    local_domain: String,
}

impl EximConfig {
    /// Listens on `addr`, offering STARTTLS with `leaf`; mail for `accept.test` is accepted.
    pub fn new(addr: SocketAddr, leaf: &Leaf) -> Self {
        Self {
            addr,
            hostname: "exim.lab.test".into(),
            chain_pem: leaf.chain_pem(),
            key_pem: leaf.key_pem(),
            local_domain: "accept.test".into(),
        }
    }

    /// The host name in the banner (`primary_hostname`).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.into();
        self
    }

    /// The domain whose mail is accepted.
    pub fn local_domain(mut self, domain: &str) -> Self {
        self.local_domain = domain.into();
        self
    }
}

/// A running Exim; stopped when dropped.
pub struct Exim {
    dir: PathBuf,
    addr: SocketAddr,
    child: std::process::Child,
}

impl std::fmt::Debug for Exim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exim")
            .field("addr", &self.addr)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn failed(what: impl Into<String>) -> Error {
    Error::Io(std::io::Error::other(what.into()))
}

impl Exim {
    /// Writes the configuration and starts the daemon in the foreground; waits until it
    /// accepts connections (at most 20 s).
    pub fn start(config: EximConfig) -> Result<Self, Error> {
        let exim = binary();
        if !exim.exists() {
            return Err(failed(format!(
                "{} is missing: unpack Debian's exim4-daemon-light there (see .ci/run) or set \
                 CHECKTLS_EXIM",
                exim.display()
            )));
        }
        if !Command::new("id")
            .arg("Debian-exim")
            .output()?
            .status
            .success()
        {
            return Err(failed(
                "the system user Debian-exim is missing (see .ci/run)",
            ));
        }
        let dir = std::env::temp_dir().join(format!(
            "checktls-exim-{}-{}",
            std::process::id(),
            config.addr.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["spool", "log"] {
            std::fs::create_dir_all(dir.join(d))?;
            let out = Command::new("chown")
                .arg("-R")
                .arg("Debian-exim")
                .arg(dir.join(d))
                .output()?;
            if !out.status.success() {
                return Err(failed("chown Debian-exim"));
            }
        }
        let chmod = |p: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        };
        chmod(&dir, 0o755)?;
        std::fs::write(dir.join("cert.pem"), &config.chain_pem)?;
        std::fs::write(dir.join("key.pem"), &config.key_pem)?;
        // Exim reads its key after dropping to Debian-exim.
        let _ = Command::new("chown")
            .arg("Debian-exim")
            .arg(dir.join("key.pem"))
            .status();
        chmod(&dir.join("key.pem"), 0o600)?;
        let ip = config.addr.ip();
        std::fs::write(
            dir.join("exim.conf"),
            format!(
                "exim_user = Debian-exim\n\
                 exim_group = Debian-exim\n\
                 keep_environment =\n\
                 spool_directory = {spool}\n\
                 log_file_path = {log}/%slog\n\
                 log_selector = +smtp_connection +smtp_no_mail +tls_cipher\n\
                 primary_hostname = {host}\n\
                 domainlist local_domains = {local}\n\
                 local_interfaces = <; {ip}\n\
                 daemon_smtp_ports = {port}\n\
                 tls_advertise_hosts = *\n\
                 tls_certificate = {cert}\n\
                 tls_privatekey = {key}\n\
                 acl_smtp_rcpt = acl_check_rcpt\n\
                 begin acl\n\
                 acl_check_rcpt:\n\
                 \x20 warn logwrite = RCPT TO:<$local_part@$domain> from [$sender_host_address] \
                 over ${{if def:tls_in_ver{{$tls_in_ver $tls_in_cipher}}{{no TLS}}}}\n\
                 \x20 accept domains = +local_domains\n\
                 \x20 deny message = relay not permitted\n\
                 begin routers\n\
                 begin transports\n",
                spool = dir.join("spool").display(),
                log = dir.join("log").display(),
                host = config.hostname,
                local = config.local_domain,
                port = config.addr.port(),
                cert = dir.join("cert.pem").display(),
                key = dir.join("key.pem").display(),
            ),
        )?;
        let out = std::fs::File::create(dir.join("stderr"))?;
        let child = Command::new(&exim)
            .arg("-C")
            .arg(dir.join("exim.conf"))
            .args(["-bdf", "-oX", &config.addr.port().to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut me = Self {
            dir,
            addr: config.addr,
            child,
        };
        let addr = me.addr;
        if !crate::wait_listening(addr, || matches!(me.child.try_wait(), Ok(Some(_)))) {
            return Err(failed(format!(
                "Exim did not listen on {addr}: {}",
                me.log()
            )));
        }
        Ok(me)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its main log (and what it printed) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/mainlog")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        crate::stop_child(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
