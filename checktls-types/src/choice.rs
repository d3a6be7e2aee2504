//! Choices of a receiver test that more than one layer reads: how TLS starts on the SMTP
//! connection (the session, the receiver test, the Batch's `ct:DirectTLS`/`ct:CompelTLS`) and
//! which names a certificate may carry (the receiver test, the Batch's `ct:CertNames`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;

/// How TLS starts on the SMTP connection. One choice: TLS on connect and a compelled
/// STARTTLS cannot both apply.
///
/// ```
/// use checktls_types::TlsMode;
///
/// assert_eq!(TlsMode::default(), TlsMode::StartTls);
/// assert_eq!(TlsMode::from_flags(true, false), Some(TlsMode::Direct));
/// assert_eq!(TlsMode::from_flags(true, true), None); // they contradict
/// assert_eq!("compel".parse::<TlsMode>(), Ok(TlsMode::Compel));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the SMTP session and the receiver test; a new way to start TLS must be handled there
pub enum TlsMode {
    /// STARTTLS after EHLO when the server offers it (RFC 3207): how mail travels on port 25.
    #[default]
    StartTls,
    /// TLS on connect, no STARTTLS (SMTPS, RFC 8314): port 465 unless another is given.
    Direct,
    /// STARTTLS even when the server does not offer it (CheckTLS's Compel TLS).
    Compel,
}

impl TlsMode {
    /// Every mode.
    pub const ALL: [Self; 3] = [Self::StartTls, Self::Direct, Self::Compel];

    /// The name on command lines and in files: `starttls`, `direct`, `compel`.
    pub fn name(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Direct => "direct",
            Self::Compel => "compel",
        }
    }

    /// The mode two yes/no choices name (CheckTLS's Direct TLS and Compel TLS boxes, the
    /// command's `--direct-tls` and `--compel-tls`): `None` when both are on, which
    /// contradict.
    pub fn from_flags(direct_tls: bool, compel_tls: bool) -> Option<Self> {
        match (direct_tls, compel_tls) {
            (true, true) => None,
            (true, false) => Some(Self::Direct),
            (false, true) => Some(Self::Compel),
            (false, false) => Some(Self::StartTls),
        }
    }

    /// The port a test uses when none is given: 465 for direct TLS, else 25.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Direct => 465,
            Self::StartTls | Self::Compel => 25,
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TlsMode {
    type Err = UnknownName;
    /// Reads a name in any case, with or without `_`, `-` or spaces (`STARTTLS`, `start-tls`).
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        find(s, Self::ALL, Self::name)
    }
}

/// Which names a certificate may carry to pass the Cert stage.
///
/// ```
/// use checktls_types::CertNames;
///
/// assert_eq!(CertNames::default(), CertNames::MxHost);
/// assert_eq!("mx-host-or-domain".parse(), Ok(CertNames::MxHostOrDomain));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the receiver test; a new choice must be implemented there
pub enum CertNames {
    /// The MX host name (or the SNI the test was told to send): what CheckTLS verifies and
    /// what MTA-STS requires (RFC 8461 §4.1).
    #[default]
    MxHost,
    /// The MX host name, or else the mail domain of the target: a certificate that names
    /// `example.com` passes for `mx1.example.com`. Some senders take the domain as a
    /// reference identity too (RFC 7672 §3.2.2 lists the next-hop domain beside the MX host
    /// for DANE-TA; RFC 7817 §3 the domain of the address for a mail client). Where there
    /// is no host name to check (an address given without SNI), there is no name check
    /// either way.
    MxHostOrDomain,
}

impl CertNames {
    /// Every choice.
    pub const ALL: [Self; 2] = [Self::MxHost, Self::MxHostOrDomain];

    /// The name on command lines and in files: `mx-host`, `mx-host-or-domain`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MxHost => "mx-host",
            Self::MxHostOrDomain => "mx-host-or-domain",
        }
    }
}

impl fmt::Display for CertNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CertNames {
    type Err = UnknownName;
    /// Reads a name in any case, with or without `_`, `-` or spaces (`MxHostOrDomain`).
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        find(s, Self::ALL, Self::name)
    }
}

fn find<T: Copy, const N: usize>(
    s: &str,
    all: [T; N],
    name: fn(T) -> &'static str,
) -> Result<T, UnknownName> {
    let squash = |t: &str| t.to_ascii_lowercase().replace(['_', '-', ' '], "");
    let want = squash(s.trim());
    all.into_iter()
        .find(|v| squash(name(*v)) == want)
        .ok_or_else(|| UnknownName {
            given: s.to_owned(),
            expected: format!(
                "one of {}",
                all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for m in TlsMode::ALL {
            assert_eq!(m.name().parse::<TlsMode>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        for c in CertNames::ALL {
            assert_eq!(c.name().parse::<CertNames>(), Ok(c));
            let json = serde_json::to_string(&c).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", c.name()));
        }
        assert_eq!("STARTTLS".parse::<TlsMode>(), Ok(TlsMode::StartTls));
        assert_eq!("MxHostOrDomain".parse(), Ok(CertNames::MxHostOrDomain));
        let e = "domain".parse::<CertNames>().unwrap_err();
        assert_eq!(e.expected, "one of mx-host, mx-host-or-domain");
        assert_eq!(TlsMode::Direct.default_port(), 465);
        assert_eq!(TlsMode::Compel.default_port(), 25);
    }
}
