//! The crate's one error type.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::answer::Query;

/// A DNS response code other than NOERROR and NXDOMAIN (RFC 1035 §4.1.1, RFC 6895).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rcode {
    /// SERVFAIL (2): the server could not answer; temporary. Also what a validating resolver
    /// answers for bogus data.
    ServFail,
    /// REFUSED (5).
    Refused,
    /// FORMERR (1).
    FormErr,
    /// NOTIMP (4).
    NotImp,
    /// NOTAUTH (9): the server is not authoritative for the zone.
    NotAuth,
    /// Any other code.
    Other(u16),
}

impl Rcode {
    /// From the numeric code.
    pub fn from_u16(code: u16) -> Self {
        match code {
            1 => Self::FormErr,
            2 => Self::ServFail,
            4 => Self::NotImp,
            5 => Self::Refused,
            9 => Self::NotAuth,
            n => Self::Other(n),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServFail => f.write_str("SERVFAIL"),
            Self::Refused => f.write_str("REFUSED"),
            Self::FormErr => f.write_str("FORMERR"),
            Self::NotImp => f.write_str("NOTIMP"),
            Self::NotAuth => f.write_str("NOTAUTH"),
            Self::Other(n) => write!(f, "RCODE{n}"),
        }
    }
}

/// Why a lookup or a configuration step could not be carried out.
///
/// NXDOMAIN, NODATA and bogus answers are not errors: they are [`Outcome`](crate::Outcome)s and
/// [`Proof`](crate::Proof)s. Errors are for when no answer came ([`Timeout`](Self::Timeout),
/// [`ResponseCode`](Self::ResponseCode) SERVFAIL, [`Network`](Self::Network)), which
/// [`is_temporary`](Self::is_temporary) tells apart, and for bad input from the caller.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum Error {
    /// A domain name is not valid.
    #[error("invalid domain name {input:?} at byte {position}: {reason}")]
    InvalidName {
        /// The text given (cut to 300 characters).
        input: String,
        /// The byte offset of the problem.
        position: usize,
        /// What is wrong.
        reason: std::borrow::Cow<'static, str>,
    },
    /// Trust anchors in zone-file syntax could not be read.
    #[error("trust anchors ({origin}) line {line}, column {column}: {reason}")]
    TrustAnchorSyntax {
        /// Where they came from: a path, or `<inline>`.
        origin: String,
        /// The line (from 1).
        line: usize,
        /// The column (from 1).
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    ReadFile {
        /// The path.
        path: String,
        /// The operating system's message.
        reason: String,
    },
    /// The system's resolver configuration could not be read or names no servers.
    #[error("system resolver configuration unusable: {reason}")]
    SystemConfig {
        /// What went wrong.
        reason: String,
    },
    /// A resolver option is out of range or contradicts another.
    #[error("invalid resolver option {option}: {reason}")]
    InvalidOption {
        /// The option's field name.
        option: std::borrow::Cow<'static, str>,
        /// What is wrong.
        reason: std::borrow::Cow<'static, str>,
    },
    /// No answer came in time from any server, after every attempt (temporary).
    #[error("timed out: {query}")]
    Timeout {
        /// The question.
        query: Query,
    },
    /// The server answered with an error code other than NXDOMAIN (SERVFAIL is temporary).
    #[error("{query}: server answered {rcode}")]
    ResponseCode {
        /// The question.
        query: Query,
        /// The response code.
        rcode: Rcode,
    },
    /// The servers could not be reached or the exchange broke (temporary).
    #[error("{query}: network error: {detail}")]
    Network {
        /// The question.
        query: Query,
        /// What the transport said.
        detail: String,
    },
    /// An answer did not make sense (record data for the wrong type, a name that is not valid).
    #[error("{query}: malformed answer: {detail}")]
    Malformed {
        /// The question.
        query: Query,
        /// What was wrong with it.
        detail: String,
    },
    /// The zone of a domain, or its authoritative servers' addresses, could not be found.
    #[error("no authoritative servers found for {zone}")]
    NoAuthoritativeServers {
        /// The zone (or the domain, if its zone was not found).
        zone: crate::DomainName,
    },
    /// A CNAME chain looped or grew longer than the limit.
    #[error("{query}: CNAME chain loops or exceeds {limit} links")]
    CnameChain {
        /// The question.
        query: Query,
        /// The limit.
        limit: usize,
    },
}

impl Error {
    /// Whether trying again later may succeed: timeouts, SERVFAIL and network failures
    /// (an SMTP client treats these as temporary, RFC 7672 §2.1.1).
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Network { .. } => true,
            Self::ResponseCode { rcode, .. } => *rcode == Rcode::ServFail,
            _ => false,
        }
    }

    /// The question the error is about, where there is one.
    pub fn query(&self) -> Option<&Query> {
        match self {
            Self::Timeout { query }
            | Self::ResponseCode { query, .. }
            | Self::Network { query, .. }
            | Self::Malformed { query, .. }
            | Self::CnameChain { query, .. } => Some(query),
            _ => None,
        }
    }
}

impl From<checktls_types::NameError> for Error {
    fn from(e: checktls_types::NameError) -> Self {
        Self::InvalidName {
            input: e.input,
            position: e.position,
            reason: e.reason.into(),
        }
    }
}
