//! A raw ClientHello prober (no TLS library): which of SSLv2, SSLv3, TLS 1.0, 1.1, 1.2 and 1.3
//! a server accepts, which suites it picks, and the chain it sends with TLS 1.2 and older.
//!
//! ```text
//!   for each version (newest first):
//!     opener.open() ─► fresh stream positioned for a ClientHello (plain TCP for direct TLS;
//!                      after the 220 to STARTTLS for SMTP: checktls-smtp's open_for_tls)
//!     ─► hello::client_hello(version, suites) ─► parse::FlightParser ─► ServerAnswer
//!     accepted? then ask again without the chosen suite, to list the suites (bounded)
//!   ─► ProbeReport { versions[], best, chain, weaknesses }
//! ```
//!
//! The handshake is never completed: only the server's first flight is read, bounded in size
//! and time. Weak choices (export, NULL, RC4, 3DES/DES, CBC-only, static RSA, anonymous) are
//! findings.
//!
//! ```
//! use checktls_tls::probe::{hello, parse::{FlightParser, ServerAnswer}};
//! use checktls_tls::TlsVersion;
//!
//! let record = hello::client_hello(TlsVersion::Tls12, &[0xC02F], Some("mx.example.com"), [7; 32]);
//! assert_eq!(record[0], 0x16); // a handshake record
//! let mut parser = FlightParser::new();
//! parser.feed(&[21, 3, 3, 0, 2, 2, 70]).unwrap(); // a fatal protocol_version alert
//! assert_eq!(parser.answer().unwrap(), Some(ServerAnswer::Alert { level: 2, description: 70 }));
//! ```

pub mod hello;
pub mod parse;

use serde::{Deserialize, Serialize};

use crate::version::{CipherSuite, TlsVersion};

/// A weak choice the server made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// A deprecated or prohibited protocol version (before TLS 1.2).
    OldVersion,
    /// An export-grade suite.
    Export,
    /// No encryption.
    Null,
    /// RC4.
    Rc4,
    /// DES or 3DES.
    Des,
    /// A CBC suite preferred: at TLS 1.2 where AEAD was offered, or at an old version that has
    /// nothing else.
    CbcOnly,
    /// Static RSA key exchange: no forward secrecy.
    StaticRsa,
    /// Anonymous key exchange: no authentication.
    Anonymous,
    /// Static (EC)DH key exchange: no forward secrecy.
    StaticDh,
    /// An obsolete 64-bit-block cipher other than DES: RC2, IDEA.
    Obsolete,
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
        }
    }
}

/// The weaknesses of a suite, judged from its IANA (or SSLv2 `SSL_CK_`) name.
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

/// What one version gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResult {
    /// The version offered.
    pub version: TlsVersion,
    /// The server accepted it (answered with a ServerHello of that version).
    pub accepted: bool,
    /// The suites it picked, in the order found (its preference). For SSLv2: the cipher kinds
    /// it listed.
    pub suites: Vec<CipherSuite>,
    /// The weak choices at this version, each once: the version itself when deprecated, every
    /// weakness of a suite found, and [`Weakness::CbcOnly`] when the preferred suite is CBC.
    #[serde(default)]
    pub weaknesses: Vec<Weakness>,
    /// Otherwise: what it answered (an alert, another version, a closed connection).
    pub refusal: Option<String>,
}

impl VersionResult {
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
        self.weaknesses = w;
    }
}

/// What the prober found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The weak choices, each once: every accepted version's weaknesses, except
    /// [`Weakness::CbcOnly`], which is taken from the best version alone (an old version's CBC
    /// is already [`Weakness::OldVersion`]).
    pub weaknesses: Vec<Weakness>,
}

impl ProbeReport {
    /// Whether a version was accepted.
    pub fn accepts(&self, version: TlsVersion) -> bool {
        self.versions
            .iter()
            .any(|v| v.version == version && v.accepted)
    }
}

#[cfg(feature = "tokio")]
mod driver;
#[cfg(feature = "tokio")]
pub use driver::{ProbeOptions, StreamOpener, probe, probe_version};

impl ProbeReport {
    /// Adds one version's result, updating `best`, `best_suite` and `weaknesses`.
    pub fn push(&mut self, mut result: VersionResult) {
        result.judge();
        let best = result.accepted && self.best.is_none_or(|b| result.version > b);
        if best {
            self.best = Some(result.version);
            self.best_suite = result.suites.first().cloned();
        }
        self.versions.push(result);
        let best_version = self.best;
        let mut w: Vec<Weakness> = Vec::new();
        for r in self.versions.iter().filter(|r| r.accepted) {
            for &x in &r.weaknesses {
                if (x != Weakness::CbcOnly || Some(r.version) == best_version) && !w.contains(&x) {
                    w.push(x);
                }
            }
        }
        self.weaknesses = w;
    }
}

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
        r.push(VersionResult {
            version: TlsVersion::Tls12,
            accepted: true,
            suites: vec![suite(0xC02F), suite(0xC013)],
            weaknesses: vec![],
            refusal: None,
        });
        r.push(VersionResult {
            version: TlsVersion::Tls11,
            accepted: false,
            suites: vec![],
            weaknesses: vec![],
            refusal: Some("alert 70 (protocol_version)".into()),
        });
        r.push(VersionResult {
            version: TlsVersion::Tls10,
            accepted: true,
            suites: vec![suite(0xC013), suite(0x0005)],
            weaknesses: vec![],
            refusal: None,
        });
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
    }
}
