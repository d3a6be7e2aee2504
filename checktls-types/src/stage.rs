//! The SMTP stages of a receiver test and where the dialog stops.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;

/// A stage of a receiver test, in CheckTLS's order (the columns of its MX matrix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // CheckTLS's ten columns
pub enum Stage {
    /// The server accepted the TCP connection.
    Answer,
    /// The server's greeting let us in (220).
    Connect,
    /// EHLO (or HELO) was accepted.
    Ehlo,
    /// STARTTLS was offered (or TLS on connect).
    TlsOffered,
    /// The certificate passed CheckTLS's stringent check (chain, name, dates, not self-signed).
    Cert,
    /// TLS was negotiated and the EHLO after it accepted.
    Secure,
    /// MAIL FROM was accepted.
    MailFrom,
    /// RCPT TO was accepted.
    RcptTo,
    /// DATA was accepted (354): only when a message is sent.
    Data,
    /// The message was accepted: only when a message is sent.
    Email,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Self; 10] = [
        Self::Answer,
        Self::Connect,
        Self::Ehlo,
        Self::TlsOffered,
        Self::Cert,
        Self::Secure,
        Self::MailFrom,
        Self::RcptTo,
        Self::Data,
        Self::Email,
    ];

    /// The eight stages of a receiver test that sends no message.
    pub const RECEIVER: [Self; 8] = [
        Self::Answer,
        Self::Connect,
        Self::Ehlo,
        Self::TlsOffered,
        Self::Cert,
        Self::Secure,
        Self::MailFrom,
        Self::RcptTo,
    ];

    /// The name reports use: `answer`, `connect`, `ehlo`, `tls_offered`, `cert`, `secure`,
    /// `mail_from`, `rcpt_to`, `data`, `email`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Connect => "connect",
            Self::Ehlo => "ehlo",
            Self::TlsOffered => "tls_offered",
            Self::Cert => "cert",
            Self::Secure => "secure",
            Self::MailFrom => "mail_from",
            Self::RcptTo => "rcpt_to",
            Self::Data => "data",
            Self::Email => "email",
        }
    }

    /// The column of CheckTLS's pager format (`Ans`, `Con`, `HELO`, `TLS`, ...).
    pub fn pager_column(self) -> &'static str {
        match self {
            Self::Answer => "Ans",
            Self::Connect => "Con",
            Self::Ehlo => "HELO",
            Self::TlsOffered => "TLS",
            Self::Cert => "Cert",
            Self::Secure => "Sec",
            Self::MailFrom => "From",
            Self::RcptTo => "To",
            Self::Data => "Data",
            Self::Email => "Email",
        }
    }

    /// The element of CheckTLS's xml-matrix format (`Answer`, `TLSAdv`, `CertOK`, ...).
    pub fn xml_name(self) -> &'static str {
        match self {
            Self::Answer => "Answer",
            Self::Connect => "Connect",
            Self::Ehlo => "HELO",
            Self::TlsOffered => "TLSAdv",
            Self::Cert => "CertOK",
            Self::Secure => "TLSNeg",
            Self::MailFrom => "SndrOK",
            Self::RcptTo => "RcvrOK",
            Self::Data => "Data",
            Self::Email => "Email",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| UnknownName {
                given: s.to_owned(),
                expected: names(Self::ALL.iter().map(|s| s.name())),
            })
    }
}

/// Where the SMTP dialog stops (CheckTLS's STOPAFTER), in the order the stages come.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // CheckTLS's eight choices
pub enum StopAfter {
    /// After the TCP connection.
    Answer,
    /// After the greeting.
    Connect,
    /// After the first EHLO.
    Ehlo1,
    /// After STARTTLS and the TLS handshake.
    Starttls,
    /// After the EHLO over TLS.
    Ehlo2,
    /// After MAIL FROM.
    MailFrom,
    /// After RCPT TO (the default; nothing is sent).
    #[default]
    RcptTo,
    /// After DATA and the message.
    Data,
}

impl StopAfter {
    /// Every stop, in order.
    pub const ALL: [Self; 8] = [
        Self::Answer,
        Self::Connect,
        Self::Ehlo1,
        Self::Starttls,
        Self::Ehlo2,
        Self::MailFrom,
        Self::RcptTo,
        Self::Data,
    ];

    /// The name on command lines and in Batch files: `answer`, `connect`, `ehlo1`,
    /// `starttls`, `ehlo2`, `mailfrom`, `rcptto`, `data`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Connect => "connect",
            Self::Ehlo1 => "ehlo1",
            Self::Starttls => "starttls",
            Self::Ehlo2 => "ehlo2",
            Self::MailFrom => "mailfrom",
            Self::RcptTo => "rcptto",
            Self::Data => "data",
        }
    }
}

impl fmt::Display for StopAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StopAfter {
    type Err = UnknownName;
    /// Reads a name in any case, with or without `_`, `-` or spaces (`mail_from`, `MailFrom`).
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let want = s.to_ascii_lowercase().replace(['_', '-', ' '], "");
        Self::ALL
            .into_iter()
            .find(|v| v.name() == want)
            .ok_or_else(|| UnknownName {
                given: s.to_owned(),
                expected: names(Self::ALL.iter().map(|s| s.name())),
            })
    }
}

fn names<'a>(all: impl Iterator<Item = &'a str>) -> String {
    format!("one of {}", all.collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(s.name().parse::<Stage>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap_or_default(),
                format!("\"{}\"", s.name())
            );
        }
        for s in StopAfter::ALL {
            assert_eq!(s.name().parse::<StopAfter>(), Ok(s));
        }
        assert_eq!("Mail_From".parse::<StopAfter>(), Ok(StopAfter::MailFrom));
        assert!("nowhere".parse::<StopAfter>().is_err());
    }
}
