//! A real Postfix (the Debian package) configured and started by the test suite on a loopback
//! address, with a generated certificate; stopped, by its own master's pid, when dropped.
//!
//! ```text
//!   PostfixConfig::new("127.0.0.61".parse()?).tls(&leaf).protocols(">=TLSv1.3")
//!     ─► temp dir: main.cf, master.cf, cert/key, queue/, data/, maillog
//!     ─► `postfix -c DIR start` (needs root and /usr/sbin/postfix)
//!     ─► Postfix listening on 127.0.0.61:<free port>
//! ```
//!
//! Mail for the configured local domain is accepted for any user and delivered to
//! `mailbox_dir/<user>` (mbox); mail for other domains is refused unless relaying is allowed.
//!
//! ```no_run
//! # fn run() -> Result<(), checktls_lab::Error> {
//! use checktls_lab::postfix::{Postfix, PostfixConfig};
//! let pf = Postfix::start(PostfixConfig::new("127.0.0.61".parse().unwrap()))?;
//! println!("Postfix on {}", pf.addr());
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Error;
use crate::pki::Leaf;

/// Where Debian installs the `postfix` command.
pub const POSTFIX: &str = "/usr/sbin/postfix";

/// How to configure the instance.
#[derive(Clone, Debug)]
pub struct PostfixConfig {
    ip: IpAddr,
    port: Option<u16>,
    hostname: String,
    local_domain: String,
    tls: Option<(String, String)>,
    protocols: Option<String>,
    security_level: String,
    relay_from_loopback: bool,
    sasl_users: Vec<(String, String)>,
    require_tls_for_auth: bool,
    extra: Vec<String>,
    also: Vec<IpAddr>,
    postscreen: bool,
    master_extra: Vec<String>,
    chain_files: Vec<String>,
    sni: Vec<(String, String)>,
}

impl PostfixConfig {
    /// Listens on `ip` (a free port is picked), no TLS, mail for `accept.test` accepted.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            port: None,
            hostname: "postfix.lab.test".into(),
            local_domain: "accept.test".into(),
            tls: None,
            protocols: None,
            security_level: "none".into(),
            relay_from_loopback: false,
            sasl_users: Vec::new(),
            require_tls_for_auth: true,
            extra: Vec::new(),
            also: Vec::new(),
            postscreen: false,
            master_extra: Vec::new(),
            chain_files: Vec::new(),
            sni: Vec::new(),
        }
    }

    /// Listens on these addresses too, same port and configuration (one smtpd service
    /// each): many receivers from one instance, for throughput tests.
    pub fn also_listen(mut self, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.also.extend(ips);
        self
    }

    /// postscreen(8) in front of smtpd: the listener runs postscreen, which hands clients
    /// that pass its tests to smtpd (`smtpd pass`), with tlsproxy(8) for its STARTTLS and
    /// dnsblog(8). Its tests are set with [`main_cf`](Self::main_cf) lines
    /// (`postscreen_greet_action = enforce`, `postscreen_pipelining_enable = yes`, ...).
    pub fn postscreen(mut self) -> Self {
        self.postscreen = true;
        self
    }

    /// Any other master.cf line, appended last.
    pub fn master_cf(mut self, line: &str) -> Self {
        self.master_extra.push(line.to_owned());
        self
    }

    /// Offers STARTTLS with these key-and-chain files (PEM: the key, then the chain as the
    /// server sends it), one per algorithm: `smtpd_tls_chain_files` (Postfix 3.4+). For two
    /// certificates (RSA and ECDSA), a leaf without its intermediate, a chain in the wrong
    /// order.
    pub fn chain_files(mut self, files: &[String]) -> Self {
        self.chain_files = files.to_vec();
        self.security_level = "may".into();
        self
    }

    /// Presents a different key and chain (PEM, key first) to clients that send this SNI
    /// name: `tls_server_sni_maps`, built with `postmap -F`.
    pub fn sni(mut self, name: &str, key_and_chain: &str) -> Self {
        self.sni.push((name.to_owned(), key_and_chain.to_owned()));
        self
    }

    /// Any other main.cf line (`name = value`), appended last.
    pub fn main_cf(mut self, line: &str) -> Self {
        self.extra.push(line.to_owned());
        self
    }

    /// An old server: only `protocol` (e.g. `TLSv1`), with OpenSSL's security level 0 so
    /// Debian's OpenSSL still speaks it.
    pub fn legacy_only(self, protocol: &str) -> Self {
        self.protocols(&format!(">={protocol}, <={protocol}"))
            .main_cf("tls_medium_cipherlist = DEFAULT:@SECLEVEL=0")
            .main_cf("smtpd_tls_ciphers = medium")
            .main_cf("smtpd_tls_mandatory_ciphers = medium")
    }

    /// A fixed port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The host name in the banner (`myhostname`).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.into();
        self
    }

    /// The domain whose mail is accepted for any user (`mydestination`).
    pub fn local_domain(mut self, domain: &str) -> Self {
        self.local_domain = domain.into();
        self
    }

    /// Offers STARTTLS with this certificate (`smtpd_tls_security_level = may`).
    pub fn tls(mut self, leaf: &Leaf) -> Self {
        self.tls = Some((leaf.chain_pem(), leaf.key_pem()));
        self.security_level = "may".into();
        self
    }

    /// `smtpd_tls_protocols`, e.g. `>=TLSv1.3` or `<=TLSv1.2`.
    pub fn protocols(mut self, protocols: &str) -> Self {
        self.protocols = Some(protocols.into());
        self
    }

    /// Relays mail from loopback clients (`mynetworks = 127.0.0.0/8`).
    pub fn relay_from_loopback(mut self) -> Self {
        self.relay_from_loopback = true;
        self
    }

    /// Offers AUTH without TLS too (`smtpd_tls_auth_only = no`): what a server that lost its
    /// STARTTLS, or an attacker who stripped it, looks like.
    pub fn auth_without_tls(mut self) -> Self {
        self.require_tls_for_auth = false;
        self
    }

    /// SASL AUTH (PLAIN, LOGIN) with these users, checked by Dovecot-less Cyrus `sasldb`:
    /// needs the Debian packages `sasl2-bin` and `libsasl2-modules`.
    pub fn sasl_user(mut self, user: &str, password: &str) -> Self {
        self.sasl_users.push((user.into(), password.into()));
        self
    }
}

/// A running Postfix; stopped when dropped.
pub struct Postfix {
    dir: PathBuf,
    addr: SocketAddr,
    master_pid: Option<i32>,
}

impl std::fmt::Debug for Postfix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postfix")
            .field("addr", &self.addr)
            .field("dir", &self.dir)
            .finish()
    }
}

fn free_port(ip: IpAddr) -> Result<u16, Error> {
    Ok(TcpListener::bind((ip, 0))?.local_addr()?.port())
}

fn run(cmd: &mut Command) -> Result<String, Error> {
    let out = cmd.output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(Error::Io(std::io::Error::other(format!(
            "{cmd:?} failed: {text}"
        ))))
    }
}

const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

impl Postfix {
    /// Whether Postfix is installed and we are root (what [`Postfix::start`] needs).
    pub fn available() -> bool {
        Path::new(POSTFIX).exists()
            && Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0"))
    }

    /// Writes the configuration into a new temp dir and starts Postfix; waits until it
    /// accepts connections (at most 20 s).
    pub fn start(config: PostfixConfig) -> Result<Self, Error> {
        let port = match config.port {
            Some(p) => p,
            None => free_port(config.ip)?,
        };
        let dir = std::env::temp_dir().join(format!(
            "checktls-postfix-{}-{}-{port}",
            std::process::id(),
            config.ip
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("queue"))?;
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::create_dir_all(dir.join("mail"))?;
        let chmod = |p: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        };
        chmod(&dir, 0o755)?;
        chmod(&dir.join("mail"), 0o1777)?;
        run(Command::new("chown").arg("postfix").arg(dir.join("data")))?;
        let bind = match config.ip {
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        };
        let mut main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {q}\n\
             data_directory = {d}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = {h}\n\
             mydomain = lab.test\n\
             myorigin = $myhostname\n\
             mydestination = {local}\n\
             inet_interfaces = loopback-only\n\
             inet_protocols = {proto}\n\
             mynetworks = {nets}\n\
             relay_domains =\n\
             relayhost =\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             home_mailbox =\n\
             mail_spool_directory = {mail}\n\
             biff = no\n\
             smtpd_banner = $myhostname ESMTP checktls interop\n\
             smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination\n\
             smtpd_recipient_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination\n\
             maillog_file_prefixes = {dir}\n\
             maillog_file = {dir}/maillog\n\
             smtpd_tls_security_level = {level}\n\
             smtp_tls_security_level = none\n\
             default_transport = error:no outbound mail from the lab\n\
             relay_transport = error:no outbound mail from the lab\n\
             disable_dns_lookups = yes\n\
             smtp_dns_support_level = disabled\n",
            q = dir.join("queue").display(),
            d = dir.join("data").display(),
            h = config.hostname,
            local = config.local_domain,
            proto = if config.ip.is_ipv6() { "ipv6" } else { "ipv4" },
            nets = if config.relay_from_loopback {
                "127.0.0.0/8 [::1]/128"
            } else {
                "127.0.0.255/32"
            },
            mail = dir.join("mail").display(),
            dir = dir.display(),
            level = config.security_level,
        );
        if !config.chain_files.is_empty() {
            let mut names = Vec::new();
            for (i, pem) in config.chain_files.iter().enumerate() {
                let f = dir.join(format!("chain{i}.pem"));
                std::fs::write(&f, pem)?;
                chmod(&f, 0o600)?;
                names.push(f.display().to_string());
            }
            main.push_str(&format!(
                "smtpd_tls_chain_files = {}\nsmtpd_tls_loglevel = 1\n",
                names.join(", ")
            ));
            if let Some(p) = &config.protocols {
                main.push_str(&format!(
                    "smtpd_tls_protocols = {p}\nsmtpd_tls_mandatory_protocols = {p}\n"
                ));
            }
        }
        if !config.sni.is_empty() {
            let mut table = String::new();
            for (i, (name, pem)) in config.sni.iter().enumerate() {
                let f = dir.join(format!("sni{i}.pem"));
                std::fs::write(&f, pem)?;
                chmod(&f, 0o600)?;
                table.push_str(&format!("{name} {}\n", f.display()));
            }
            std::fs::write(dir.join("sni"), table)?;
            main.push_str(&format!(
                "tls_server_sni_maps = hash:{}\n",
                dir.join("sni").display()
            ));
        }
        if let Some((chain, key)) = &config.tls {
            std::fs::write(dir.join("cert.pem"), chain)?;
            std::fs::write(dir.join("key.pem"), key)?;
            chmod(&dir.join("key.pem"), 0o600)?;
            main.push_str(&format!(
                "smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\nsmtpd_tls_loglevel = 1\n",
                dir.join("cert.pem").display(),
                dir.join("key.pem").display()
            ));
            if let Some(p) = &config.protocols {
                main.push_str(&format!(
                    "smtpd_tls_protocols = {p}\nsmtpd_tls_mandatory_protocols = {p}\n"
                ));
            }
        }
        if !config.sasl_users.is_empty() {
            let sasl_dir = dir.join("sasl");
            std::fs::create_dir_all(&sasl_dir)?;
            let db = dir.join("sasldb2");
            for (user, pass) in &config.sasl_users {
                let mut child = Command::new("saslpasswd2")
                    .args(["-p", "-c", "-f"])
                    .arg(&db)
                    .args(["-u", &config.hostname, user])
                    .stdin(std::process::Stdio::piped())
                    .spawn()?;
                if let Some(mut stdin) = child.stdin.take() {
                    use std::io::Write;
                    stdin.write_all(pass.as_bytes())?;
                }
                let status = child.wait()?;
                if !status.success() {
                    return Err(Error::Io(std::io::Error::other("saslpasswd2 failed")));
                }
            }
            run(Command::new("chown").arg("postfix").arg(&db))?;
            std::fs::write(
                sasl_dir.join("smtpd.conf"),
                format!(
                    "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {}\n",
                    db.display()
                ),
            )?;
            main.push_str(&format!(
                "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = cyrus\nsmtpd_sasl_path = smtpd\n\
                 cyrus_sasl_config_path = {}\nsmtpd_sasl_local_domain = {}\n\
                 smtpd_tls_auth_only = {}\nbroken_sasl_auth_clients = no\n",
                sasl_dir.display(),
                config.hostname,
                if config.require_tls_for_auth {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
        for line in &config.extra {
            main.push_str(line);
            main.push('\n');
        }
        let mut master = if config.postscreen {
            format!(
                "{bind}:{port} inet n - n - 1 postscreen\n\
                 smtpd     pass  -       -       n       -       -       smtpd\n\
                 dnsblog   unix  -       -       n       -       0       dnsblog\n\
                 tlsproxy  unix  -       -       n       -       0       tlsproxy\n\
                 {MASTER_CF}"
            )
        } else {
            format!("{bind}:{port} inet n - n - - smtpd\n{MASTER_CF}")
        };
        for line in &config.master_extra {
            master.push_str(line);
            master.push('\n');
        }
        if config.postscreen {
            main.push_str(&format!(
                "postscreen_cache_map = btree:{}/postscreen_cache\n",
                dir.join("data").display()
            ));
        }
        std::fs::write(dir.join("main.cf"), main)?;
        for ip in &config.also {
            let bind = match ip {
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            };
            master.push_str(&format!("{bind}:{port} inet n - n - - smtpd\n"));
        }
        std::fs::write(dir.join("master.cf"), master)?;
        if !config.sni.is_empty() {
            // -F: the values are files whose keys and chains go into the table itself.
            run(Command::new("postmap")
                .arg("-F")
                .arg("-c")
                .arg(&dir)
                .arg(format!("hash:{}", dir.join("sni").display())))?;
        }
        run(Command::new(POSTFIX).arg("-c").arg(&dir).arg("check"))?;
        run(Command::new(POSTFIX).arg("-c").arg(&dir).arg("start"))?;
        let addr = SocketAddr::new(config.ip, port);
        let mut me = Self {
            dir,
            addr,
            master_pid: None,
        };
        // `postfix start` daemonizes: no child of ours to watch, only the time.
        if !crate::wait_listening(addr, || false) {
            return Err(Error::Io(std::io::Error::other(format!(
                "Postfix did not listen on {addr}: {}",
                me.log()
            ))));
        }
        me.master_pid = std::fs::read_to_string(me.dir.join("queue/pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Ok(me)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its configuration and spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mail log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Stops Postfix (its daemons log their last statistics: anvil's "max connection count"
    /// and "max connection rate") and returns the whole mail log.
    pub fn stop(mut self) -> String {
        self.halt();
        // The daemons write their last lines as they exit.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && self
                .master_pid
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        // Stopped: Drop must not signal a pid that may have been reused.
        self.master_pid = None;
        self.log()
    }

    fn halt(&mut self) {
        let stopped = Command::new(POSTFIX)
            .arg("-c")
            .arg(&self.dir)
            .arg("stop")
            .output()
            .is_ok_and(|o| o.status.success());
        if !stopped && let Some(pid) = self.master_pid {
            // Only our own master, by the pid it wrote.
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }

    /// The mbox of a local user (empty if none yet).
    pub fn mailbox(&self, user: &str) -> String {
        std::fs::read_to_string(self.dir.join("mail").join(user)).unwrap_or_default()
    }

    /// Waits up to `timeout` for the mbox of `user` to contain `needle`.
    pub fn wait_for_mail(&self, user: &str, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mbox = self.mailbox(user);
            if mbox.contains(needle) {
                return Some(mbox);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.halt();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
