//! A raw ClientHello prober (no TLS library): every protocol version from SSLv2 to TLS 1.3,
//! every cipher suite and key-exchange group a server accepts, its preferences, the
//! certificates it serves, and the classic weaknesses (downgrade, renegotiation, compression,
//! Heartbleed, CCS injection, ...), each as typed data.
//!
//! ```text
//!   plan::Planner (pure: what to send next, given what was learnt)
//!     ├─ per version: offer every suite, remove the one chosen, repeat (N+1 hellos for N
//!     │  suites), then one reordered hello: the server's preference or the client's
//!     ├─ groups: TLS 1.3 HelloRetryRequests, TLS 1.2 ServerKeyExchange curves, by elimination
//!     └─ checks: TLS_FALLBACK_SCSV, Heartbleed, CCS injection (exchange::*), and what every
//!        ServerHello says (renegotiation_info, compression, EMS, EtM, OCSP, tickets)
//!   driver::probe (tokio): at most `parallel` connections at once, each from a StreamOpener
//!     (plain TCP, or SMTP up to the 220 to STARTTLS), bounded in time and count
//!   ─► ProbeReport { versions[], groups, certificates[], checks, findings[] }
//! ```
//!
//! No handshake is completed: the first flight is read, bounded in size and time, and the
//! checks send at most a few records more in the clear.
//!
//! ```
//! use checktls_tls::probe::{hello::ClientHello, parse::{FlightParser, ServerAnswer}};
//! use checktls_tls::TlsVersion;
//!
//! let record = ClientHello::new(TlsVersion::Tls12, vec![0xC02F]).record([7; 32]);
//! assert_eq!(record[0], 0x16); // a handshake record
//! let mut parser = FlightParser::new();
//! parser.feed(&[21, 3, 3, 0, 2, 2, 70]).unwrap(); // a fatal protocol_version alert
//! assert_eq!(parser.answer().unwrap(), Some(ServerAnswer::Alert { level: 2, description: 70 }));
//! ```

pub mod exchange;
pub mod hello;
pub mod parse;
pub mod plan;
pub mod robot;
pub mod suites;
pub mod tls12;

use checktls_dns::Severity;
use serde::{Deserialize, Serialize};

use self::suites::Authentication;
use crate::version::{CipherSuite, NamedGroup, TlsVersion};

/// A weakness of the server, found by the prober.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// A deprecated or prohibited protocol version (before TLS 1.2).
    OldVersion,
    /// An export-grade suite.
    Export,
    /// No encryption.
    Null,
    /// RC4 (RFC 7465 prohibits it).
    Rc4,
    /// DES or 3DES (64-bit blocks: Sweet32).
    Des,
    /// A CBC suite preferred: at TLS 1.2 where AEAD was offered, or at an old version that has
    /// nothing else.
    CbcOnly,
    /// Static RSA key exchange: no forward secrecy (and the ground for ROBOT).
    StaticRsa,
    /// Anonymous key exchange: no authentication, anyone in the path can read the mail.
    Anonymous,
    /// Static (EC)DH key exchange: no forward secrecy.
    StaticDh,
    /// An obsolete 64-bit-block cipher other than DES: RC2, IDEA.
    Obsolete,
    /// Finite-field DH with a prime under 2048 bits (Logjam: under 1024 is broken).
    SmallDh,
    /// A certificate signed with SHA-1 or MD5.
    Sha1Signature,
    /// No protection against version downgrade (TLS_FALLBACK_SCSV, RFC 7507, ignored).
    NoFallbackProtection,
    /// No secure renegotiation (RFC 5746): the renegotiation_info extension missing.
    InsecureRenegotiation,
    /// Client-initiated renegotiation accepted (a denial-of-service lever).
    ClientRenegotiation,
    /// TLS compression (CRIME).
    Compression,
    /// Heartbleed (CVE-2014-0160): heartbeat replies longer than the request.
    Heartbleed,
    /// OpenSSL CCS injection (CVE-2014-0224): an early ChangeCipherSpec accepted.
    CcsInjection,
    /// A Bleichenbacher padding oracle on RSA key exchange (ROBOT).
    Robot,
}

impl Weakness {
    /// A short phrase for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::OldVersion => "a protocol version older than TLS 1.2",
            Self::Export => "an export-grade cipher",
            Self::Null => "no encryption (NULL cipher)",
            Self::Rc4 => "RC4",
            Self::Des => "DES or 3DES",
            Self::CbcOnly => "CBC mode preferred, no AEAD",
            Self::StaticRsa => "static RSA key exchange (no forward secrecy)",
            Self::Anonymous => "anonymous key exchange (no authentication)",
            Self::StaticDh => "static (EC)DH key exchange (no forward secrecy)",
            Self::Obsolete => "an obsolete cipher (RC2, IDEA)",
            Self::SmallDh => "Diffie-Hellman parameters under 2048 bits",
            Self::Sha1Signature => "a certificate signed with SHA-1 or MD5",
            Self::NoFallbackProtection => "no downgrade protection (TLS_FALLBACK_SCSV ignored)",
            Self::InsecureRenegotiation => "insecure renegotiation (no RFC 5746)",
            Self::ClientRenegotiation => "client-initiated renegotiation allowed",
            Self::Compression => "TLS compression (CRIME)",
            Self::Heartbleed => "Heartbleed (CVE-2014-0160)",
            Self::CcsInjection => "CCS injection (CVE-2014-0224)",
            Self::Robot => "a Bleichenbacher padding oracle (ROBOT)",
        }
    }

    /// How much it matters: `Error` when mail can be read or forged by someone in the path
    /// (no encryption, no authentication, broken ciphers, memory disclosure, key recovery),
    /// `Warning` when it is weaker than it should be.
    pub fn severity(self) -> Severity {
        match self {
            Self::Export
            | Self::Null
            | Self::Rc4
            | Self::Anonymous
            | Self::Heartbleed
            | Self::CcsInjection
            | Self::Robot
            | Self::Compression
            | Self::InsecureRenegotiation => Severity::Error,
            Self::OldVersion
            | Self::Des
            | Self::CbcOnly
            | Self::StaticRsa
            | Self::StaticDh
            | Self::Obsolete
            | Self::SmallDh
            | Self::Sha1Signature
            | Self::NoFallbackProtection
            | Self::ClientRenegotiation => Severity::Warning,
        }
    }
}

/// The weaknesses of a suite, judged from its IANA (or SSLv2 `SSL_CK_`) name and the IANA
/// table's properties.
pub fn suite_weaknesses(name: &str) -> Vec<Weakness> {
    let mut out = Vec::new();
    let mut add = |cond: bool, w| {
        if cond {
            out.push(w);
        }
    };
    add(name.contains("EXPORT"), Weakness::Export);
    add(name.contains("NULL"), Weakness::Null);
    add(name.contains("RC4"), Weakness::Rc4);
    add(name.contains("DES"), Weakness::Des);
    add(name.contains("_CBC"), Weakness::CbcOnly);
    add(
        name.starts_with("TLS_RSA_") || name.starts_with("SSL_RSA_") || name.starts_with("SSL_CK_"),
        Weakness::StaticRsa,
    );
    add(name.contains("_anon_"), Weakness::Anonymous);
    add(
        [
            "TLS_DH_DSS_",
            "TLS_DH_RSA_",
            "TLS_ECDH_ECDSA_",
            "TLS_ECDH_RSA_",
        ]
        .iter()
        .any(|p| name.starts_with(p)),
        Weakness::StaticDh,
    );
    add(
        name.contains("RC2") || name.contains("IDEA"),
        Weakness::Obsolete,
    );
    out
}

/// Whose order decides the suite (or group) chosen.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// The server's: the list is in its order of preference.
    Server,
    /// The client's: the server takes the first it supports of what is offered.
    Client,
    /// Not known (fewer than two accepted, or not tested).
    #[default]
    Unknown,
}

/// What the key exchange of one accepted suite used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct SuiteKeyExchange {
    /// The suite's code point.
    pub suite: u16,
    /// The named group of an ECDHE (or TLS 1.3) exchange.
    pub group: Option<NamedGroup>,
    /// The prime's size of a finite-field DH exchange.
    pub dh_bits: Option<u16>,
    /// The signature scheme of the ServerKeyExchange (TLS 1.2).
    pub signature_scheme: Option<u16>,
}

/// How far the server carried a handshake at one version. Only a version whose handshake the
/// server carried through its part ([`Completion::FlightComplete`]) earns a TLS band in the
/// receiver test; [`Completion::OfferedNotCompleted`] never does.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    /// Not accepted, or not probed.
    #[default]
    None,
    /// The server's whole first flight came: ServerHello through ServerHelloDone (or an
    /// abbreviated handshake's ChangeCipherSpec; SSLv2's SERVER-HELLO). The server chose the
    /// version and did its part up to the client's key exchange. TLS 1.2 and older.
    FlightComplete,
    /// Offered, not completed: the server chose this version, but the handshake was not
    /// carried to its end. A TLS 1.3 answer is always this (the prober sends no key share, so
    /// it sees a HelloRetryRequest and nothing the server signed), and so is a TLS 1.2-or-older
    /// flight cut by an alert or a close before ServerHelloDone.
    OfferedNotCompleted,
}

impl Completion {
    /// Whether the version counts as negotiated (earns a TLS band).
    pub fn counts(self) -> bool {
        self == Self::FlightComplete
    }
}

/// What one version gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct VersionResult {
    /// The version offered.
    pub version: TlsVersion,
    /// The server accepted it (answered with a ServerHello of that version).
    pub accepted: bool,
    /// Every suite it accepts, in the order found: its preference when `preference` is
    /// [`Preference::Server`]. For SSLv2: the cipher kinds it listed.
    pub suites: Vec<CipherSuite>,
    /// Whose order chooses the suite.
    #[serde(default)]
    pub preference: Preference,
    /// The key exchange of each suite found (ECDHE group, DH size).
    #[serde(default)]
    pub key_exchange: Vec<SuiteKeyExchange>,
    /// The weak choices at this version, each once: the version itself when deprecated, every
    /// weakness of a suite found, and [`Weakness::CbcOnly`] when the preferred suite is CBC.
    #[serde(default)]
    pub weaknesses: Vec<Weakness>,
    /// Otherwise: what it answered (an alert, another version, a closed connection).
    pub refusal: Option<String>,
    /// The enumeration stopped before the server refused (a connection or time bound).
    #[serde(default)]
    pub truncated: bool,
    /// How far the server carried the handshake at this version.
    #[serde(default)]
    pub completion: Completion,
    /// Why the handshake was not completed, when it was not (an alert after ServerHello).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_completed: Option<String>,
}

impl VersionResult {
    /// An empty result for `version`.
    pub fn new(version: TlsVersion) -> Self {
        Self {
            version,
            accepted: false,
            suites: Vec::new(),
            preference: Preference::Unknown,
            key_exchange: Vec::new(),
            weaknesses: Vec::new(),
            refusal: None,
            truncated: false,
            completion: Completion::None,
            not_completed: None,
        }
    }

    /// Judges the suites found (first = preferred) and sets `weaknesses`.
    fn judge(&mut self) {
        let mut w = Vec::new();
        if self.accepted && self.version.is_deprecated() {
            w.push(Weakness::OldVersion);
        }
        for (i, suite) in self.suites.iter().enumerate() {
            for x in suite_weaknesses(&suite.name) {
                // CBC counts when it is the server's preference, not as a fallback it allows.
                if (x != Weakness::CbcOnly || i == 0) && !w.contains(&x) {
                    w.push(x);
                }
            }
        }
        if self
            .key_exchange
            .iter()
            .any(|k| k.dh_bits.is_some_and(|b| b < 2048))
            && !w.contains(&Weakness::SmallDh)
        {
            w.push(Weakness::SmallDh);
        }
        self.weaknesses = w;
    }
}

/// The key-exchange groups a server accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct GroupsResult {
    /// TLS 1.3 groups (found by HelloRetryRequest), in the order found.
    pub tls13: Vec<NamedGroup>,
    /// Whose order chooses the TLS 1.3 group.
    pub tls13_preference: Preference,
    /// ECDHE groups (from ServerKeyExchange) at `ecdhe_version`, in the order found.
    pub ecdhe: Vec<NamedGroup>,
    /// The version the ECDHE groups were enumerated at: the newest of TLS 1.0 to 1.2
    /// accepted.
    pub ecdhe_version: Option<TlsVersion>,
    /// The smallest finite-field DH prime seen with a DHE or anonymous DH suite, in bits.
    pub smallest_dh_bits: Option<u16>,
}

/// A certificate chain the server serves, and for which suites.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ServedChain {
    /// The authentication of the suites it was served with (RSA, ECDSA, DSS).
    pub auth: Authentication,
    /// The leaf's public key, e.g. `RSA 2048` or `EC secp256r1`.
    pub key: String,
    /// The leaf's signature algorithm, e.g. `sha256WithRSAEncryption`.
    pub signature: String,
    /// The chain, DER, leaf first.
    #[serde(with = "crate::serde_der::cert_list")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<checktls_types::schema::Base64>")
    )]
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
}

/// The result of one check.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Safe: protected, not vulnerable.
    Protected,
    /// Vulnerable (a [`Weakness`] says which).
    Vulnerable,
    /// A feature is supported (neutral or good: EMS, EtM, OCSP stapling, resumption).
    Supported,
    /// A feature is not supported.
    NotSupported,
    /// Does not apply (e.g. downgrade protection with one version; ROBOT without RSA key
    /// exchange).
    NotApplicable,
    /// Not tested (turned off, bounds reached, or not implemented for this server).
    #[default]
    NotTested,
    /// Tested, but the answers did not allow a conclusion.
    Inconclusive,
}

/// A check's verdict and what it rests on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Check {
    /// The verdict.
    pub verdict: Verdict,
    /// The evidence, in a sentence.
    pub detail: String,
}

impl Check {
    /// A verdict with its evidence.
    pub fn new(verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            verdict,
            detail: detail.into(),
        }
    }
}

/// The classic checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Checks {
    /// TLS_FALLBACK_SCSV (RFC 7507): a fallback hello refused with inappropriate_fallback.
    pub fallback_scsv: Check,
    /// Secure renegotiation (RFC 5746): renegotiation_info in the ServerHello.
    pub secure_renegotiation: Check,
    /// Client-initiated renegotiation (needs a completed handshake).
    pub client_renegotiation: Check,
    /// TLS compression (CRIME): DEFLATE offered and chosen.
    pub compression: Check,
    /// Heartbleed (RFC 6520, CVE-2014-0160).
    pub heartbleed: Check,
    /// CCS injection (CVE-2014-0224).
    pub ccs_injection: Check,
    /// ROBOT (Böck, Somorovsky, Young 2018).
    pub robot: Check,
    /// Session resumption by session id.
    pub session_id_resumption: Check,
    /// Session tickets (RFC 5077): the extension acknowledged.
    pub session_tickets: Check,
    /// OCSP stapling (RFC 6066): a CertificateStatus sent.
    pub ocsp_stapling: Check,
    /// Encrypt-then-MAC (RFC 7366) with CBC suites.
    pub encrypt_then_mac: Check,
    /// Extended master secret (RFC 7627).
    pub extended_master_secret: Check,
}

/// A weakness found, with its severity and where it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ProbeFinding {
    /// What.
    pub weakness: Weakness,
    /// How much it matters ([`Weakness::severity`]).
    pub severity: Severity,
    /// Where, in a sentence (the versions and suites, the check's evidence).
    pub detail: String,
}

/// What the prober found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ProbeReport {
    /// Per version, in the order probed (newest first by default).
    pub versions: Vec<VersionResult>,
    /// The newest version accepted.
    pub best: Option<TlsVersion>,
    /// Its first suite (the server's preference).
    pub best_suite: Option<CipherSuite>,
    /// The chain sent in the clear with the newest version at or below TLS 1.2 (or SSLv2's
    /// single certificate), DER, leaf first.
    #[serde(with = "crate::serde_der::cert_list")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<checktls_types::schema::Base64>")
    )]
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Every distinct chain served (by leaf), with the authentication it was served for: a
    /// server with RSA and ECDSA certificates shows both.
    #[serde(default)]
    pub certificates: Vec<ServedChain>,
    /// Key-exchange groups and DH sizes.
    #[serde(default)]
    pub groups: GroupsResult,
    /// The classic checks.
    #[serde(default)]
    pub checks: Checks,
    /// The weak choices, each once: every accepted version's weaknesses, except
    /// [`Weakness::CbcOnly`], which is taken from the best version alone (an old version's CBC
    /// is already [`Weakness::OldVersion`]); and every check found vulnerable.
    pub weaknesses: Vec<Weakness>,
    /// The weaknesses with their severity and evidence.
    #[serde(default)]
    pub findings: Vec<ProbeFinding>,
    /// Connections opened.
    #[serde(default)]
    pub connections: usize,
    /// Wall time of the whole probe, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: u64,
}

impl ProbeReport {
    /// Whether a version was accepted.
    pub fn accepts(&self, version: TlsVersion) -> bool {
        self.versions
            .iter()
            .any(|v| v.version == version && v.accepted)
    }

    /// The newest version whose handshake the server carried through its part
    /// ([`Completion::counts`]), with its preferred suite: what a receiver test may grade when
    /// its own TLS library could not negotiate. A version only offered, not completed, never
    /// counts.
    pub fn best_negotiated(&self) -> Option<(TlsVersion, &CipherSuite)> {
        self.versions
            .iter()
            .filter(|v| v.accepted && v.completion.counts())
            .filter_map(|v| Some((v.version, v.suites.first()?)))
            .max_by_key(|(v, _)| *v)
    }

    /// The result for one version, if probed.
    pub fn version(&self, version: TlsVersion) -> Option<&VersionResult> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// Adds one version's result, updating `best`, `best_suite` and `weaknesses`.
    pub fn push(&mut self, mut result: VersionResult) {
        result.judge();
        let best = result.accepted && self.best.is_none_or(|b| result.version > b);
        if best {
            self.best = Some(result.version);
            self.best_suite = result.suites.first().cloned();
        }
        self.versions.push(result);
        self.rejudge();
    }

    /// Recomputes `weaknesses` and `findings` from the versions, certificates and checks.
    pub fn rejudge(&mut self) {
        let best_version = self.best;
        let mut found: Vec<(Weakness, String)> = Vec::new();
        let mut note = |w: Weakness, detail: String| {
            if let Some(f) = found.iter_mut().find(|(x, _)| *x == w) {
                if !f.1.contains(&detail) && f.1.len() < 400 {
                    f.1.push_str("; ");
                    f.1.push_str(&detail);
                }
            } else {
                found.push((w, detail));
            }
        };
        for r in self.versions.iter().filter(|r| r.accepted) {
            for &x in &r.weaknesses {
                if x == Weakness::CbcOnly && Some(r.version) != best_version {
                    continue;
                }
                let suites: Vec<&str> = r
                    .suites
                    .iter()
                    .filter(|s| suite_weaknesses(&s.name).contains(&x))
                    .map(|s| s.name.as_str())
                    .collect();
                let detail = match (x, suites.as_slice()) {
                    (Weakness::OldVersion, _) => format!("{} accepted", r.version),
                    (Weakness::SmallDh, _) => format!(
                        "{}: DH of {} bits",
                        r.version,
                        r.key_exchange
                            .iter()
                            .filter_map(|k| k.dh_bits)
                            .min()
                            .unwrap_or(0)
                    ),
                    (_, [one]) => format!("{}: {one}", r.version),
                    (_, [first, rest @ ..]) => {
                        format!("{}: {first} and {} more", r.version, rest.len())
                    }
                    (_, []) => format!("{}", r.version),
                };
                note(x, detail);
            }
        }
        for c in &self.certificates {
            if c.signature.to_ascii_lowercase().contains("sha1")
                || c.signature.to_ascii_lowercase().contains("md5")
            {
                note(
                    Weakness::Sha1Signature,
                    format!("the {:?} certificate: {}", c.auth, c.signature),
                );
            }
        }
        let checks = [
            (&self.checks.fallback_scsv, Weakness::NoFallbackProtection),
            (
                &self.checks.secure_renegotiation,
                Weakness::InsecureRenegotiation,
            ),
            (
                &self.checks.client_renegotiation,
                Weakness::ClientRenegotiation,
            ),
            (&self.checks.compression, Weakness::Compression),
            (&self.checks.heartbleed, Weakness::Heartbleed),
            (&self.checks.ccs_injection, Weakness::CcsInjection),
            (&self.checks.robot, Weakness::Robot),
        ];
        for (check, w) in checks {
            if check.verdict == Verdict::Vulnerable {
                note(w, check.detail.clone());
            }
        }
        self.weaknesses = found.iter().map(|(w, _)| *w).collect();
        self.findings = found
            .into_iter()
            .map(|(weakness, detail)| ProbeFinding {
                weakness,
                severity: weakness.severity(),
                detail,
            })
            .collect();
    }
}

#[cfg(feature = "tokio")]
mod driver;
#[cfg(feature = "tokio")]
pub use driver::{ProbeOptions, Progress, ProgressFn, StreamOpener, probe};

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(code: u16) -> CipherSuite {
        CipherSuite::from_code(code)
    }

    #[test]
    fn suite_names_judged() {
        use Weakness as W;
        let cases: [(&str, &[Weakness]); 8] = [
            ("TLS_AES_128_GCM_SHA256", &[]),
            ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", &[]),
            ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", &[W::CbcOnly]),
            (
                "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                &[W::Des, W::CbcOnly, W::StaticRsa],
            ),
            (
                "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
                &[W::Export, W::CbcOnly, W::StaticRsa, W::Obsolete],
            ),
            ("TLS_DH_anon_WITH_RC4_128_MD5", &[W::Rc4, W::Anonymous]),
            (
                "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
                &[W::CbcOnly, W::StaticDh],
            ),
            ("SSL_CK_RC4_128_WITH_MD5", &[W::Rc4, W::StaticRsa]),
        ];
        for (name, want) in cases {
            assert_eq!(suite_weaknesses(name), want, "{name}");
        }
    }

    #[test]
    fn report_aggregates_versions() {
        let mut r = ProbeReport::default();
        let mut v12 = VersionResult::new(TlsVersion::Tls12);
        v12.accepted = true;
        v12.suites = vec![suite(0xC02F), suite(0xC013)];
        r.push(v12);
        let mut v11 = VersionResult::new(TlsVersion::Tls11);
        v11.refusal = Some("alert 70 (protocol_version)".into());
        r.push(v11);
        let mut v10 = VersionResult::new(TlsVersion::Tls10);
        v10.accepted = true;
        v10.suites = vec![suite(0xC013), suite(0x0005)];
        r.push(v10);
        assert_eq!(r.best, Some(TlsVersion::Tls12));
        assert_eq!(r.best_suite.as_ref().map(|s| s.code), Some(0xC02F));
        assert!(r.accepts(TlsVersion::Tls10) && !r.accepts(TlsVersion::Tls11));
        // TLS 1.2 prefers AEAD (its CBC fallback is no weakness); TLS 1.0 is old and allows RC4.
        assert!(r.versions[0].weaknesses.is_empty());
        assert_eq!(
            r.versions[2].weaknesses,
            [
                Weakness::OldVersion,
                Weakness::CbcOnly,
                Weakness::Rc4,
                Weakness::StaticRsa
            ]
        );
        assert_eq!(
            r.weaknesses,
            [Weakness::OldVersion, Weakness::Rc4, Weakness::StaticRsa]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["weaknesses"][0], "old_version");
        assert_eq!(json["versions"][0]["version"], "TLSv1.2");
        assert_eq!(r.findings[1].detail, "TLSv1: TLS_RSA_WITH_RC4_128_SHA");
        assert_eq!(r.findings[1].severity, Severity::Error);
        // The report reads back as it was written.
        let back: ProbeReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        // A vulnerable check is a weakness too.
        r.checks.heartbleed = Check::new(Verdict::Vulnerable, "leaked");
        r.rejudge();
        assert!(r.weaknesses.contains(&Weakness::Heartbleed));
    }
}
