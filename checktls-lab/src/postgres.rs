//! A real PostgreSQL (the Debian package) in a temporary directory, started and stopped by the
//! test suite: `initdb` and `postgres` run as the unprivileged user `nobody` when we are root
//! (initdb refuses root), listening on a chosen address and a Unix socket in the directory.
//!
//! ```text
//!   Postgres::start(PostgresConfig::new("127.0.0.1".parse()?))
//!     ─► temp dir (owned by nobody) ─► initdb -U checktls --auth=trust (no fsync)
//!     ─► postgres -D data -h ADDRESS -p PORT -k DIR   (its pid kept; fsync off: test data)
//!     ─► pg_isready until it answers
//!   drop ─► SIGINT to that pid (fast shutdown), SIGKILL after 10 s ─► temp dir removed
//! ```
//!
//! Authentication is `trust`: the server listens on loopback, or inside a network namespace
//! the test made; never on a shared network.
//!
//! ```no_run
//! # fn run() -> Result<(), checktls_lab::Error> {
//! use checktls_lab::postgres::{Postgres, PostgresConfig};
//! let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().unwrap()))?;
//! pg.create_database("history")?;
//! println!("{}", pg.url("history"));
//! # Ok(()) }
//! ```

use std::net::{IpAddr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::pki::Leaf;

/// The uid and gid the server runs as when we are root (Debian's `nobody` / `nogroup`).
const NOBODY: u32 = 65534;

/// Where Debian installs PostgreSQL's programs: `/usr/lib/postgresql/VERSION/bin`, the
/// newest version found.
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// How to run the server.
#[derive(Clone, Debug)]
pub struct PostgresConfig {
    listen: IpAddr,
    port: Option<u16>,
    max_connections: u32,
    tls: Option<(String, String)>,
}

impl PostgresConfig {
    /// Listens on `listen` (a free port is picked), 200 connections at most.
    pub fn new(listen: IpAddr) -> Self {
        Self {
            listen,
            port: None,
            max_connections: 200,
            tls: None,
        }
    }

    /// TLS with this certificate, and only TLS: every TCP client must use it (`hostssl` in
    /// pg_hba.conf; the Unix socket stays open for the harness's own psql).
    pub fn tls(mut self, leaf: &Leaf) -> Self {
        self.tls = Some((leaf.chain_pem(), leaf.key_pem()));
        self
    }

    /// A fixed port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
}

/// A running PostgreSQL; stopped, by its own pid, when dropped.
pub struct Postgres {
    child: Child,
    dir: PathBuf,
    bin: PathBuf,
    listen: IpAddr,
    port: u16,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("listen", &self.listen)
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command run as `nobody` when we are root, else as ourselves.
fn as_server_user(program: &Path) -> Command {
    if root() {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn failed(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("{what}: {detail}")))
}

impl Postgres {
    /// Whether PostgreSQL's programs are installed (the Debian package `postgresql`).
    pub fn available() -> bool {
        bin_dir().is_some()
    }

    /// Creates the cluster in a new temp dir and starts the server; returns once it accepts
    /// connections. Fails (never skips) when PostgreSQL is not installed.
    pub fn start(config: PostgresConfig) -> Result<Self, Error> {
        let bin = bin_dir().ok_or_else(|| {
            failed(
                "PostgreSQL",
                "not installed: /usr/lib/postgresql/*/bin/postgres (Debian package postgresql)",
            )
        })?;
        let port = match config.port {
            Some(p) => p,
            None => TcpListener::bind((config.listen, 0))?.local_addr()?.port(),
        };
        let dir =
            std::env::temp_dir().join(format!("checktls-postgres-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if root() {
            std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY))?;
        }
        let data = dir.join("data");
        let out = as_server_user(&bin.join("initdb"))
            .args(["-U", "checktls", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .args(["--locale=C", "-D"])
            .arg(&data)
            .output()?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(failed("initdb", String::from_utf8_lossy(&out.stderr)));
        }
        // Any client of the listening address may connect (the address is loopback or in a
        // namespace the test made).
        let host = if config.tls.is_some() {
            "hostssl"
        } else {
            "host"
        };
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n{host} all all 0.0.0.0/0 trust\n{host} all all ::/0 trust\n"
            ),
        )?;
        let mut tls_args = Vec::new();
        if let Some((chain, key)) = &config.tls {
            let (crt, pem) = (dir.join("server.crt"), dir.join("server.key"));
            std::fs::write(&crt, chain)?;
            std::fs::write(&pem, key)?;
            std::fs::set_permissions(&pem, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            if root() {
                std::os::unix::fs::chown(&crt, Some(NOBODY), Some(NOBODY))?;
                std::os::unix::fs::chown(&pem, Some(NOBODY), Some(NOBODY))?;
            }
            tls_args = vec![
                "-c".to_owned(),
                "ssl=on".to_owned(),
                "-c".to_owned(),
                format!("ssl_cert_file={}", crt.display()),
                "-c".to_owned(),
                format!("ssl_key_file={}", pem.display()),
            ];
        }
        let log = std::fs::File::create(dir.join("postgres.log"))?;
        if root() {
            std::os::unix::fs::chown(dir.join("postgres.log"), Some(NOBODY), Some(NOBODY))?;
        }
        let child = as_server_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", &config.listen.to_string(), "-p", &port.to_string()])
            .arg("-k")
            .arg(&dir)
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(&tls_args)
            .args(["-c", &format!("max_connections={}", config.max_connections)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let pg = Self {
            child,
            dir,
            bin,
            listen: config.listen,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(pg.bin.join("pg_isready"))
                .arg("-h")
                .arg(&pg.dir)
                .args(["-p", &port.to_string()])
                .args(["-U", "checktls", "-d", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(pg);
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
                return Err(failed("postgres did not start", log));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The address it listens on.
    pub fn listen(&self) -> IpAddr {
        self.listen
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL of database `db` as user `checktls`.
    pub fn url(&self, db: &str) -> String {
        let host = match self.listen {
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        };
        format!("postgres://checktls@{host}:{}/{db}", self.port)
    }

    /// Runs SQL with `psql` in database `db` (over the Unix socket); returns what it printed (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, Error> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string()])
            .args([
                "-U",
                "checktls",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ])
            .output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(failed("psql", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) -> Result<(), Error> {
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(failed("database name", name));
        }
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .map(|_| ())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (ends the sessions, stops cleanly).
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
