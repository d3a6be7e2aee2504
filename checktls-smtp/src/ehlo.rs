//! EHLO capabilities (RFC 5321 §4.1.1.1 and the extensions' RFCs), typed.
//!
//! ```
//! use checktls_smtp::ehlo::Capabilities;
//! use checktls_smtp::reply::Reply;
//!
//! let reply = Reply { code: 250, enhanced: None, lines: vec![
//!     "mx.example.com Hello".into(), "SIZE 35882577".into(), "STARTTLS".into(),
//!     "AUTH PLAIN LOGIN".into(), "PIPELINING".into(),
//! ]};
//! let caps = Capabilities::from_reply(&reply);
//! assert_eq!(caps.domain, "mx.example.com");
//! assert!(caps.starttls && caps.pipelining);
//! assert_eq!(caps.size, Some(35882577));
//! assert_eq!(caps.auth, ["PLAIN", "LOGIN"]);
//! ```

use serde::{Deserialize, Serialize};

use crate::reply::Reply;

/// What a server announced in its EHLO reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The domain the server named on its first line.
    pub domain: String,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// SASL mechanisms (RFC 4954), upper-cased.
    pub auth: Vec<String>,
    /// The SIZE limit (RFC 1870), when announced with a number.
    pub size: Option<u64>,
    /// PIPELINING (RFC 2920). Announced only: this client never pipelines.
    pub pipelining: bool,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// CHUNKING (RFC 3030).
    pub chunking: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
    /// REQUIRETLS (RFC 8689).
    pub requiretls: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// Every other keyword with its parameters, as announced.
    pub other: Vec<String>,
}

impl Capabilities {
    /// Reads the capabilities of a 250 reply to EHLO. Unknown keywords are kept in `other`;
    /// nothing here fails.
    pub fn from_reply(reply: &Reply) -> Self {
        let mut caps = Self::default();
        let mut lines = reply.lines.iter();
        if let Some(first) = lines.next() {
            caps.domain = first
                .split_ascii_whitespace()
                .next()
                .unwrap_or_default()
                .chars()
                .take(255)
                .collect();
        }
        for line in lines.take(128) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            match keyword.as_str() {
                "STARTTLS" => caps.starttls = true,
                "AUTH" => caps.auth.extend(
                    words
                        .take(32)
                        .map(|w| w.to_ascii_uppercase().chars().take(40).collect()),
                ),
                "SIZE" => caps.size = words.next().and_then(|n| n.parse().ok()),
                "PIPELINING" => caps.pipelining = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "CHUNKING" => caps.chunking = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "REQUIRETLS" => caps.requiretls = true,
                "DSN" => caps.dsn = true,
                _ => caps.other.push(line.chars().take(200).collect()),
            }
        }
        caps.auth.dedup();
        caps
    }

    /// Whether the server offers a SASL mechanism (case-insensitive).
    pub fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply {
            code: 250,
            enhanced: None,
            lines: lines.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn keywords_are_case_insensitive_and_others_kept() {
        let c = Capabilities::from_reply(&reply(&[
            "mx.example.net",
            "starttls",
            "auth=LOGIN PLAIN",
            "Auth plain cram-md5",
            "SIZE",
            "X-EXPS GSSAPI",
            "SMTPUTF8",
            "REQUIRETLS",
        ]));
        assert!(c.starttls && c.smtputf8 && c.requiretls);
        assert_eq!(c.auth, ["PLAIN", "CRAM-MD5"]);
        assert!(c.offers_auth("plain"));
        assert_eq!(c.size, None);
        assert_eq!(c.other, ["auth=LOGIN PLAIN", "X-EXPS GSSAPI"]);
    }

    #[test]
    fn empty_reply() {
        let c = Capabilities::from_reply(&reply(&[]));
        assert_eq!(c, Capabilities::default());
    }
}
