//! The receiver test's options, with CheckTLS's names where it has them.
//!
//! ```text
//!   ReceiverOptions
//!   ├── what to test     port, tls_mode (STARTTLS / direct / compel), sni, ehlo_name,
//!   │                    mail_from, send_email, stop_after, assure_tls, ip (IPv4/IPv6),
//!   │                    mx_limit, host_limit, legacy_probe (never / when refused / full)
//!   ├── how long         timeout (per stage), connections_per_address
//!   ├── what to judge    revocation, min_score, expiry_warning_days, cert_names
//!   ├── how to reach     socks5, auth, client certificate, tls versions / cipher suites
//!   └── ResolverSetup    nameservers, tcp, cache, DNSSEC anchors
//! ```
//!
//! Choices that are one of several are enums, so no two options can contradict each other:
//! [`TlsMode`] (TLS on connect and a compelled STARTTLS cannot both apply), [`LegacyProbe`]
//! and [`CertNames`].
//!
//! ```
//! use checktls::options::{CertNames, LegacyProbe, ReceiverOptions, TlsMode};
//! use std::time::Duration;
//!
//! let quick = ReceiverOptions::quick();
//! assert_eq!(quick.timeout, Duration::from_secs(11));
//! assert!(quick.ignore_no_connect && !quick.revocation);
//!
//! let mut smtps = ReceiverOptions::default();
//! smtps.tls_mode = TlsMode::Direct;
//! assert_eq!(smtps.effective_port(), 465);
//! assert_eq!(smtps.legacy_probe, LegacyProbe::WhenRefused);
//! assert_eq!(smtps.cert_names, CertNames::MxHost);
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use crate::dns::MxLimit;
use crate::dns::discovery::IpChoice;

pub use crate::tls::handshake::VersionChoice;
pub use checktls_types::{CertNames, StopAfter, TlsMode};

/// When the legacy ClientHello prober runs: the raw prober that sees what rustls does not
/// speak (SSLv2, SSLv3, TLS 1.0 and 1.1, suites rustls lacks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LegacyProbe {
    /// Never (the command's `--no-legacy-probe`).
    Never,
    /// When the server refused every version or suite rustls offered: the versions and
    /// their preferred suites, so a TLS 1.0-only server is graded for TLS 1.0, not as
    /// plaintext. The default.
    #[default]
    WhenRefused,
    /// On every host, listing every protocol, suite and group with the checks (Heartbleed,
    /// CCS injection, ...): the command's level sslprobe.
    Full,
}

/// Credentials for AUTH on a private system. The password never appears in Debug output,
/// transcripts or reports.
#[derive(Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct AuthCredentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
    /// Use LOGIN instead of PLAIN.
    pub login: bool,
}

impl AuthCredentials {
    /// The SMTP session's AUTH: PLAIN, or LOGIN when asked; the password wrapped as a secret.
    pub fn to_smtp(&self) -> crate::smtp::Auth {
        crate::smtp::Auth {
            mechanism: if self.login {
                crate::smtp::AuthMechanism::Login
            } else {
                crate::smtp::AuthMechanism::Plain
            },
            user: self.user.clone(),
            secret: crate::smtp::Secret::new(self.password.clone()),
        }
    }
}

impl std::fmt::Debug for AuthCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("login", &self.login)
            .finish()
    }
}

/// How DNS is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolverSetup {
    /// Name servers to ask instead of the system's.
    pub nameservers: Vec<SocketAddr>,
    /// DNS over TCP only.
    pub tcp: bool,
    /// Turn the cache off: every lookup is asked again.
    pub no_cache: bool,
    /// DNSSEC trust anchors (DNSKEY or DS records in zone-file syntax) instead of the IANA root's.
    pub dnssec_anchors: Option<String>,
    /// Ask the domain's authoritative servers directly (CheckTLS's "SOA" option).
    pub authoritative: bool,
    /// Per-attempt DNS timeout. Default: 5 s.
    pub timeout: Option<Duration>,
}

/// The receiver test's options. [`Default`] is CheckTLS's full test; [`ReceiverOptions::quick`]
/// its Quick test.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReceiverOptions {
    /// The SMTP port of every MX. Default: 25 (465 with [`TlsMode::Direct`]).
    pub port: Option<u16>,
    /// How TLS starts: STARTTLS when offered (the default), on connect (SMTPS, no
    /// STARTTLS), or STARTTLS even when not offered (CheckTLS's Compel TLS).
    pub tls_mode: TlsMode,
    /// The name sent in SNI. Default: the MX host name.
    pub sni: Option<String>,
    /// The EHLO name. Default: `checktls.invalid`.
    pub ehlo_name: String,
    /// The MAIL FROM address. Default: `test@checktls.invalid`.
    pub mail_from: String,
    /// Send a test message (DATA): the Data and Email stages.
    pub send_email: bool,
    /// Where the SMTP dialog stops. Default: after RCPT TO (after DATA with `send_email`).
    pub stop_after: StopAfter,
    /// AssureTLS: ignore the offered STARTTLS and try MAIL FROM in plaintext; a host passes only
    /// if it refuses.
    pub assure_tls: bool,
    /// Address families. Default: both.
    pub ip: IpChoice,
    /// Which MX preference levels to test. Default: all.
    pub mx_limit: MxLimit,
    /// Which MX hosts to test (after `mx_limit`). Default: all.
    pub host_limit: MxLimit,
    /// Test one MX host only: the first that answers (Quick).
    pub first_answering_host_only: bool,
    /// Per-stage timeout. Default: 30 s (Quick: 11 s).
    pub timeout: Duration,
    /// Leave hosts that do not answer out of the grade (CheckTLS's IgnoreNoConnect).
    pub ignore_no_connect: bool,
    /// Check OCSP and CRL revocation (CheckTLS's CHECKOCSP). Default: on (Quick: off).
    pub revocation: bool,
    /// When the legacy ClientHello prober runs. Default: when the server refused what
    /// rustls offered.
    pub legacy_probe: LegacyProbe,
    /// The grade at which the test counts as passed (the command's exit code). Default: 90.
    pub min_score: u16,
    /// Warn when a certificate expires within this many days. Default: 30.
    pub expiry_warning_days: u32,
    /// Which names a certificate may carry to pass the Cert stage. Default: the MX host
    /// name (or the SNI given), as CheckTLS checks.
    pub cert_names: CertNames,
    /// At most this many connections at once to one address. Default: 2.
    pub connections_per_address: usize,
    /// MX names that share one address and port are probed at most this many at a time, in
    /// preference order, and the TLS facts of one are reused for the others when the server
    /// presents the same certificate whatever the SNI (two sessions show it). Default: 1.
    pub shared_address_sessions: usize,
    /// At most this many hosts probed at once in one run. Default: 64.
    pub concurrency: usize,
    /// At most this many addresses of one MX host are probed (in DNS order, IPv4 first); the
    /// rest are reported, not probed. Default: 8.
    pub max_addresses_per_host: usize,
    /// At most this many addresses are probed for one target, across its MX hosts in
    /// preference order; the rest are reported, not probed. Default: 32.
    pub max_probes_per_target: usize,
    /// Probe and fetch addresses that are not globally routable (loopback, private,
    /// link-local, ...). Default: off: such addresses in MX, A or AAAA answers are reported as
    /// a finding and not probed, and OCSP, CRL and MTA-STS fetches (whose URLs and names a
    /// peer chooses) never go there. Labs and private systems tested on purpose turn it on.
    /// An IP address given in the target itself is always probed: the user chose it.
    pub allow_non_global: bool,
    /// DANGER: send AUTH credentials over TLS whose certificate was not verified (never in
    /// plaintext). Default: off: credentials go only over TLS whose certificate chains to a
    /// trusted anchor, names the host and is current, or matches DANE. The report says when
    /// this was used.
    pub danger_auth_over_unverified_tls: bool,
    /// The whole receiver test (discovery, every probe, fetches) ends within this; what did
    /// not finish is reported as cut off. Default: 5 minutes (Quick: 1 minute).
    pub deadline: Duration,
    /// A SOCKS5 proxy for the SMTP connections.
    pub socks5: Option<SocketAddr>,
    /// AUTH on a private system.
    pub auth: Option<AuthCredentials>,
    /// Record the raw traffic for a hex dump (level debug).
    pub record_raw: bool,
    /// The TLS versions rustls offers: 1.3 and 1.2 (the default), or one of them (older
    /// versions are the legacy prober's).
    pub tls_versions: VersionChoice,
    /// Cipher suites to offer (IANA names); empty offers the defaults. Checked when the
    /// checker is built ([`ReceiverOptions::validate`]): an unknown name is refused there.
    pub cipher_suites: Vec<String>,
    /// A client certificate to present when a server asks for one.
    pub client_certificate: Option<crate::tls::handshake::ClientCertificate>,
    /// How DNS is asked.
    pub resolver: ResolverSetup,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        Self {
            port: None,
            tls_mode: TlsMode::StartTls,
            sni: None,
            ehlo_name: "checktls.invalid".to_owned(),
            mail_from: "test@checktls.invalid".to_owned(),
            send_email: false,
            stop_after: StopAfter::RcptTo,
            assure_tls: false,
            ip: IpChoice::Both,
            mx_limit: MxLimit::All,
            host_limit: MxLimit::All,
            first_answering_host_only: false,
            timeout: Duration::from_secs(30),
            ignore_no_connect: false,
            revocation: true,
            legacy_probe: LegacyProbe::WhenRefused,
            min_score: 90,
            expiry_warning_days: 30,
            cert_names: CertNames::MxHost,
            connections_per_address: 2,
            shared_address_sessions: 1,
            concurrency: 64,
            max_addresses_per_host: 8,
            max_probes_per_target: 32,
            allow_non_global: false,
            danger_auth_over_unverified_tls: false,
            deadline: Duration::from_secs(300),
            socks5: None,
            auth: None,
            record_raw: false,
            tls_versions: VersionChoice::default(),
            cipher_suites: Vec::new(),
            client_certificate: None,
            resolver: ResolverSetup::default(),
        }
    }
}

impl ReceiverOptions {
    /// CheckTLS's Quick test: stop after the second EHLO, no revocation check, 11 s timeout,
    /// ignore hosts that do not answer, one MX host (the first that answers). Each field can
    /// be changed afterwards.
    pub fn quick() -> Self {
        Self {
            stop_after: StopAfter::Ehlo2,
            revocation: false,
            timeout: Duration::from_secs(11),
            ignore_no_connect: true,
            first_answering_host_only: true,
            deadline: Duration::from_secs(60),
            ..Self::default()
        }
    }

    /// The port used for every MX.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.tls_mode.default_port())
    }

    /// Which addresses fetches driven by peer data may reach.
    pub fn address_policy(&self) -> crate::tls::net::AddressPolicy {
        if self.allow_non_global {
            crate::tls::net::AddressPolicy::AllowNonGlobal
        } else {
            crate::tls::net::AddressPolicy::GlobalOnly
        }
    }

    /// Checks what can be checked before any test: every string that goes on an SMTP
    /// command line (EHLO name, MAIL FROM, AUTH user and password) is free of control
    /// characters, and every cipher suite named is one the handshake can offer.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let session = crate::smtp::SessionOptions {
            ehlo_name: self.ehlo_name.clone(),
            mail_from: self.mail_from.clone(),
            auth: self.auth.as_ref().map(AuthCredentials::to_smtp),
            ..crate::smtp::SessionOptions::default()
        };
        session
            .validate()
            .map_err(|e| crate::Error::BadOption(e.to_string()))?;
        crate::tls::handshake::check_cipher_suites(&self.cipher_suites)?;
        Ok(())
    }
}
