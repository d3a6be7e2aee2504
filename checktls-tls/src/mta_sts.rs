//! MTA-STS (RFC 8461): the policy file, its parser, how it applies to each MX, and (feature
//! `tokio`) its strict fetch over HTTPS.
//!
//! ```text
//!   _mta-sts TXT (checktls-dns) ──► fetch_policy: https://mta-sts.<domain>/.well-known/mta-sts.txt
//!        strict certificate, no redirects, text/plain, ≤ 64 KiB, time-bounded
//!   ──► parse_policy ──► Policy { mode, mx patterns, max_age } + findings
//!   ──► Policy::covers(mx) / host_verdict(mx, tls_ok) ──► pass | fail (enforce) | warn (testing)
//! ```
//!
//! ```
//! use checktls_tls::mta_sts::{parse_policy, Mode};
//!
//! let parsed = parse_policy("version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 604800\n");
//! let policy = parsed.policy.unwrap();
//! assert_eq!(policy.mode, Mode::Enforce);
//! assert!(policy.covers("mx1.example.com") && !policy.covers("a.b.example.com"));
//! ```

use checktls_dns::Finding;
use serde::{Deserialize, Serialize};

/// The most bytes of a policy read (RFC 8461 §3.3 suggests 64 KiB as a sane bound).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// The largest max_age allowed (RFC 8461 §3.2: 31557600, about a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The most `mx` patterns kept; more are noted and ignored.
pub const MAX_MX_PATTERNS: usize = 256;

/// A policy mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Mode {
    /// Senders must not deliver without validated TLS to a matching MX.
    Enforce,
    /// Senders deliver anyway and report failures.
    Testing,
    /// No policy in effect.
    None,
}

impl Mode {
    /// `enforce`, `testing`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
        }
    }
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// The MX patterns, lower-cased.
    pub mx: Vec<String>,
    /// How long senders may cache the policy, in seconds.
    pub max_age: u64,
}

/// A policy and what was noticed reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ParsedPolicy {
    /// The policy, when it is valid.
    pub policy: Option<Policy>,
    /// What was noticed, errors first.
    pub findings: Vec<Finding>,
}

impl Policy {
    /// Whether `host` matches one of the `mx` patterns (RFC 8461 §4.1): the same name, or a
    /// `*.` pattern matching exactly one leftmost label.
    pub fn covers(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| {
            let p = p.trim_end_matches('.');
            match p.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => host == p,
            }
        })
    }

    /// The policy's effect on one MX host: [`HostEffect::Pass`] when the host is covered and
    /// TLS validated, otherwise [`HostEffect::Fail`] under enforce (a sender would not deliver),
    /// [`HostEffect::Warn`] under testing, [`HostEffect::None`] under mode none.
    pub fn effect(&self, host: &str, validated_tls: bool) -> HostEffect {
        let ok = self.covers(host) && validated_tls;
        match (self.mode, ok) {
            (Mode::None, _) => HostEffect::None,
            (_, true) => HostEffect::Pass,
            (Mode::Enforce, false) => HostEffect::Fail,
            (Mode::Testing, false) => HostEffect::Warn,
        }
    }

    /// [`Policy::effect`] by name: `pass`, `fail`, `warn` or `none`.
    pub fn host_verdict(&self, host: &str, validated_tls: bool) -> &'static str {
        self.effect(host, validated_tls).name()
    }
}

/// What a policy means for mail to one MX host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum HostEffect {
    /// The host is covered and its TLS validated: senders deliver.
    Pass,
    /// Under enforce, the host is not covered or its TLS did not validate: senders do not
    /// deliver to it.
    Fail,
    /// Under testing, the same: senders deliver anyway and report the failure (TLS-RPT).
    Warn,
    /// No policy in force (mode none, or no valid policy with a TXT id).
    None,
}

impl HostEffect {
    /// `pass`, `fail`, `warn`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::None => "none",
        }
    }
}

/// One MX host as the receiver test saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct MxTls<'a> {
    /// The MX host name.
    pub host: &'a str,
    /// A TLS session was negotiated and the certificate validated (chain, name, dates): what
    /// RFC 8461 §4.2 asks of a sender.
    pub tls_validated: bool,
}

/// The judgement of one MX host under the policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostEvaluation {
    /// The MX host name.
    pub host: String,
    /// It matches one of the policy's `mx` patterns.
    pub covered: bool,
    /// Its TLS validated.
    pub tls_validated: bool,
    /// What the policy means for mail to it.
    pub effect: HostEffect,
}

/// A domain's MTA-STS posture: the policy in force and its effect on every MX.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Evaluation {
    /// A valid policy and a TXT record with an id: senders apply the policy.
    pub in_force: bool,
    /// The policy's mode, when a valid policy was read.
    pub mode: Option<Mode>,
    /// Per MX host, in the order given.
    pub hosts: Vec<HostEvaluation>,
    /// What was noticed, errors first.
    pub findings: Vec<Finding>,
}

/// Judges a domain's MTA-STS posture (RFC 8461 §3, §4): the `_mta-sts` TXT id (`txt_id`, as
/// parsed by checktls-dns), the policy read (`None` when none could be fetched or it was
/// invalid), and each MX with its TLS outcome. Every MX must match a pattern; under enforce a
/// host that is not covered or fails TLS is an error, under testing a warning.
pub fn evaluate(txt_id: Option<&str>, policy: Option<&Policy>, hosts: &[MxTls<'_>]) -> Evaluation {
    let mut findings = Vec::new();
    let id_ok = txt_id.is_some_and(|id| !id.is_empty());
    if !id_ok {
        findings.push(Finding::error(
            "mta_sts.no_id",
            "the _mta-sts TXT record has no valid id: senders ignore the policy",
        ));
    }
    if policy.is_none() {
        findings.push(Finding::error(
            "mta_sts.no_policy",
            "no valid policy was read: senders without a cached policy apply none",
        ));
    }
    let in_force = id_ok && policy.is_some();
    let mut out = Vec::with_capacity(hosts.len());
    for h in hosts {
        let covered = policy.is_some_and(|p| p.covers(h.host));
        let effect = match policy {
            Some(p) if in_force => p.effect(h.host, h.tls_validated),
            _ => HostEffect::None,
        };
        let mode = policy.map(|p| p.mode);
        let severe = |code: &'static str, text: String| match mode {
            Some(Mode::Enforce) => Finding::error(code, text),
            _ => Finding::warning(code, text),
        };
        if in_force && mode != Some(Mode::None) {
            if !covered {
                findings.push(severe(
                    "mta_sts.mx_not_covered",
                    format!("the MX {} matches no mx pattern of the policy", h.host),
                ));
            } else if !h.tls_validated {
                findings.push(severe(
                    "mta_sts.host_fails",
                    format!(
                        "{} did not offer validated TLS: under mode {} senders {}",
                        h.host,
                        mode.map_or("?", Mode::name),
                        if mode == Some(Mode::Enforce) {
                            "would not deliver to it"
                        } else {
                            "deliver anyway and report it"
                        }
                    ),
                ));
            }
        }
        out.push(HostEvaluation {
            host: h.host.to_owned(),
            covered,
            tls_validated: h.tls_validated,
            effect,
        });
    }
    if in_force && policy.is_some_and(|p| p.mode == Mode::None) {
        findings.push(Finding::info(
            "mta_sts.mode_none",
            "the policy's mode is none: MTA-STS is withdrawn",
        ));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Evaluation {
        in_force,
        mode: policy.map(|p| p.mode),
        hosts: out,
        findings,
    }
}

/// An extension field name (RFC 8461 §3.2): a letter or digit, then up to 31 letters, digits,
/// `_`, `-` or `.`.
fn extension_name(k: &str) -> bool {
    k.len() <= 32
        && k.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Whether `v` is an `mx` value: a host name or `*.` and one, of LDH (and `_`) labels.
fn valid_mx(v: &str) -> bool {
    let body = v.strip_prefix("*.").unwrap_or(v);
    let body = body.strip_suffix('.').unwrap_or(body);
    body.len() <= 253
        && body.contains('.')
        && body.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Parses a policy file (RFC 8461 §3.2): `key: value` lines separated by CRLF or LF; version
/// `STSv1`, mode, one or more `mx`, max_age. Unknown keys are ignored (noted); never panics.
pub fn parse_policy(text: &str) -> ParsedPolicy {
    let mut findings = Vec::new();
    let mut version = None;
    let mut mode = None;
    let mut mx = Vec::new();
    let mut max_age = None;
    if text.len() > MAX_POLICY_BYTES {
        findings.push(Finding::error(
            "mta_sts.policy_too_large",
            format!("the policy is larger than {MAX_POLICY_BYTES} bytes"),
        ));
        return ParsedPolicy {
            policy: None,
            findings,
        };
    }
    let mut loose = false;
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            findings.push(Finding::error(
                "mta_sts.bad_line",
                format!("line {}: not `key: value`", n + 1),
            ));
            continue;
        };
        // RFC 8461 §3.2: `key ":" *WSP value *WSP`; whitespace around the key is tolerated, noted.
        loose |= key.trim() != key;
        let value = value.trim();
        match key.trim() {
            "version" => {
                if version.is_some() {
                    findings.push(Finding::warning(
                        "mta_sts.duplicate_version",
                        format!("line {}: version given again, ignored", n + 1),
                    ));
                } else {
                    version = Some(value.to_owned());
                }
            }
            "mode" => {
                let m = match value {
                    "enforce" => Some(Mode::Enforce),
                    "testing" => Some(Mode::Testing),
                    "none" => Some(Mode::None),
                    _ => {
                        findings.push(Finding::error(
                            "mta_sts.bad_mode",
                            format!(
                                "line {}: mode {value:?} is not enforce, testing or none",
                                n + 1
                            ),
                        ));
                        None
                    }
                };
                if mode.is_some() {
                    findings.push(Finding::warning(
                        "mta_sts.duplicate_mode",
                        format!("line {}: mode given again, ignored", n + 1),
                    ));
                }
                mode = mode.or(m);
            }
            "mx" => {
                let v = value.to_ascii_lowercase();
                if !valid_mx(&v) {
                    findings.push(Finding::error(
                        "mta_sts.bad_mx",
                        format!(
                            "line {}: {value:?} is not a host name or *.domain pattern",
                            n + 1
                        ),
                    ));
                } else if mx.len() < MAX_MX_PATTERNS {
                    mx.push(v);
                } else if mx.len() == MAX_MX_PATTERNS {
                    findings.push(Finding::warning(
                        "mta_sts.too_many_mx",
                        format!("more than {MAX_MX_PATTERNS} mx patterns: the rest are ignored"),
                    ));
                    mx.push(String::new());
                }
            }
            "max_age" => match value.parse::<u64>() {
                Ok(a)
                    if a <= MAX_AGE_LIMIT
                        && value.len() <= 10
                        && value.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    if max_age.is_some() {
                        findings.push(Finding::warning(
                            "mta_sts.duplicate_max_age",
                            format!("line {}: max_age given again, ignored", n + 1),
                        ));
                    } else {
                        max_age = Some(a);
                    }
                }
                _ => findings.push(Finding::error(
                    "mta_sts.bad_max_age",
                    format!(
                        "line {}: max_age {value:?} is not 0 to {MAX_AGE_LIMIT}",
                        n + 1
                    ),
                )),
            },
            other if extension_name(other) => findings.push(Finding::info(
                "mta_sts.unknown_key",
                format!("line {}: unknown key {other:?} ignored", n + 1),
            )),
            other => findings.push(Finding::error(
                "mta_sts.bad_line",
                format!(
                    "line {}: {:?} is not a field name",
                    n + 1,
                    other.chars().take(40).collect::<String>()
                ),
            )),
        }
    }
    // The sentinel pushed when the pattern limit was reached.
    mx.retain(|m| !m.is_empty());
    if loose {
        findings.push(Finding::info(
            "mta_sts.loose_syntax",
            "whitespace around a key: tolerated, not RFC 8461 syntax",
        ));
    }
    match version.as_deref() {
        Some("STSv1") => {}
        Some(v) => findings.push(Finding::error(
            "mta_sts.bad_version",
            format!("version {v:?} is not STSv1"),
        )),
        None => findings.push(Finding::error("mta_sts.no_version", "no version")),
    }
    if mode.is_none() {
        findings.push(Finding::error("mta_sts.no_mode", "no valid mode"));
    }
    if max_age.is_none() {
        findings.push(Finding::error("mta_sts.no_max_age", "no valid max_age"));
    }
    if mx.is_empty() && mode != Some(Mode::None) {
        findings.push(Finding::error("mta_sts.no_mx", "no mx pattern"));
    }
    if let Some(a) = max_age
        && a < 86_400
        && mode == Some(Mode::Enforce)
    {
        findings.push(Finding::warning(
            "mta_sts.short_max_age",
            format!("max_age {a} is under a day: senders will refetch often"),
        ));
    }
    let valid = version.as_deref() == Some("STSv1")
        && mode.is_some()
        && max_age.is_some()
        && (!mx.is_empty() || mode == Some(Mode::None));
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    ParsedPolicy {
        policy: match (valid, mode, max_age) {
            (true, Some(mode), Some(max_age)) => Some(Policy { mode, mx, max_age }),
            _ => None,
        },
        findings,
    }
}

/// Why a policy could not be read (RFC 8461 §3.3): each is a finding, not an error of the test.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FetchFailure {
    /// `mta-sts.<domain>` could not be reached (no address, refused, unreachable).
    Connect {
        /// What the transport said.
        detail: String,
    },
    /// The HTTPS certificate did not validate strictly (chain, name `mta-sts.<domain>`, dates).
    Certificate {
        /// Why.
        detail: String,
    },
    /// The exchange did not finish within the time bound.
    Timeout {
        /// The bound, in milliseconds.
        after_ms: u64,
    },
    /// The body is larger than allowed.
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// A redirect: senders must not follow it.
    Redirect {
        /// The 3xx status.
        status: u16,
        /// Its Location header.
        location: Option<String>,
    },
    /// A status other than 200.
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The content type is not `text/plain`.
    ContentType {
        /// The Content-Type header, if any.
        content_type: Option<String>,
    },
    /// The body is not UTF-8 text.
    NotText,
    /// The HTTP exchange itself failed (TLS alert, malformed response, closed early).
    Http {
        /// What failed.
        detail: String,
    },
}

impl FetchFailure {
    /// The finding code: `mta_sts.connect_failed`, `mta_sts.certificate`, `mta_sts.timeout`,
    /// `mta_sts.too_large`, `mta_sts.redirect`, `mta_sts.http_status`, `mta_sts.content_type`,
    /// `mta_sts.not_text`, `mta_sts.http_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "mta_sts.connect_failed",
            Self::Certificate { .. } => "mta_sts.certificate",
            Self::Timeout { .. } => "mta_sts.timeout",
            Self::TooLarge { .. } => "mta_sts.too_large",
            Self::Redirect { .. } => "mta_sts.redirect",
            Self::HttpStatus { .. } => "mta_sts.http_status",
            Self::ContentType { .. } => "mta_sts.content_type",
            Self::NotText => "mta_sts.not_text",
            Self::Http { .. } => "mta_sts.http_failed",
        }
    }
}

impl std::fmt::Display for FetchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect { detail } => write!(f, "could not connect: {detail}"),
            Self::Certificate { detail } => write!(f, "the certificate was rejected: {detail}"),
            Self::Timeout { after_ms } => write!(f, "no complete answer within {after_ms} ms"),
            Self::TooLarge { limit } => write!(f, "the policy is larger than {limit} bytes"),
            Self::Redirect { status, location } => write!(
                f,
                "HTTP {status} redirect to {} (RFC 8461 §3.3: redirects must not be followed)",
                location.as_deref().unwrap_or("?")
            ),
            Self::HttpStatus { status } => write!(f, "HTTP {status}"),
            Self::ContentType { content_type } => write!(
                f,
                "content type {:?} is not text/plain",
                content_type.as_deref().unwrap_or("")
            ),
            Self::NotText => f.write_str("the body is not UTF-8 text"),
            Self::Http { detail } => write!(f, "the HTTP exchange failed: {detail}"),
        }
    }
}

#[cfg(feature = "tokio")]
pub use fetch::{PolicyFetch, fetch_policy};

#[cfg(feature = "tokio")]
mod fetch {
    use super::{FetchFailure, MAX_POLICY_BYTES, ParsedPolicy, parse_policy};
    use crate::Error;
    use crate::http::{HttpOptions, HttpRequest, HttpResponse, fetch};
    use crate::net::Connector;
    use checktls_dns::Finding;
    use serde::{Deserialize, Serialize};

    /// The result of fetching a domain's policy.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[non_exhaustive]
    pub struct PolicyFetch {
        /// The URL fetched.
        pub url: String,
        /// The parsed policy, when a body was received with status 200 and text/plain.
        pub parsed: Option<ParsedPolicy>,
        /// Why no policy could be read, when none could.
        pub failure: Option<FetchFailure>,
        /// The failure as a finding (code from [`FetchFailure::code`]); the policy's own
        /// findings are in `parsed`.
        pub findings: Vec<Finding>,
    }

    /// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` through `connector`: strict
    /// certificate check against `options.trust`, no redirects, `text/plain` required, at most
    /// 64 KiB (or `options.max_body` if smaller), within `options.timeout`.
    pub async fn fetch_policy(
        domain: &str,
        connector: &dyn Connector,
        options: &HttpOptions,
    ) -> PolicyFetch {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
        let mut options = options.clone();
        options.max_body = options.max_body.min(MAX_POLICY_BYTES);
        let outcome = fetch(connector, &HttpRequest::get(&url), &options)
            .await
            .map_err(classify)
            .and_then(read_body);
        match outcome {
            Ok(text) => PolicyFetch {
                url,
                parsed: Some(parse_policy(&text)),
                failure: None,
                findings: Vec::new(),
            },
            Err(failure) => PolicyFetch {
                findings: vec![Finding::error(failure.code(), format!("{url}: {failure}"))],
                url,
                parsed: None,
                failure: Some(failure),
            },
        }
    }

    /// The policy text of a response, or why it is not one.
    fn read_body(response: HttpResponse) -> Result<String, FetchFailure> {
        match response.status {
            200 => {}
            status @ 300..=399 => {
                return Err(FetchFailure::Redirect {
                    status,
                    location: response.location,
                });
            }
            status => return Err(FetchFailure::HttpStatus { status }),
        }
        let media = response
            .content_type
            .as_deref()
            .and_then(|ct| ct.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        if media.as_deref() != Some("text/plain") {
            return Err(FetchFailure::ContentType {
                content_type: response.content_type,
            });
        }
        String::from_utf8(response.body).map_err(|_| FetchFailure::NotText)
    }

    fn classify(e: Error) -> FetchFailure {
        match e {
            Error::HttpConnect { detail, .. } => FetchFailure::Connect { detail },
            Error::CertificateRejected { detail, .. } => FetchFailure::Certificate { detail },
            Error::HttpTimeout { after, .. } => FetchFailure::Timeout {
                after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            },
            Error::HttpBodyTooLarge { limit, .. } => FetchFailure::TooLarge { limit },
            other => FetchFailure::Http {
                detail: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_policies() {
        let p = parse_policy(
            "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n",
        );
        let policy = p.policy.unwrap();
        assert_eq!(policy.mode, Mode::Testing);
        assert!(policy.covers("MX1.example.com."));
        assert!(policy.covers("a.example.net"));
        assert!(!policy.covers("example.net"));
        assert!(!policy.covers("mx2.example.com"));
        assert_eq!(policy.host_verdict("mx2.example.com", true), "warn");
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 0\n")
            .policy
            .unwrap();
        assert_eq!(none.host_verdict("x.y", false), "none");
    }

    #[test]
    fn enforce_verdicts() {
        let p =
            parse_policy("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n")
                .policy
                .unwrap();
        assert_eq!(p.host_verdict("mx.example.com", true), "pass");
        assert_eq!(p.host_verdict("mx.example.com", false), "fail");
        assert_eq!(p.host_verdict("other.example.com", true), "fail");
    }

    #[test]
    fn errors() {
        let cases = [
            ("mode: enforce\nmx: a.b\nmax_age: 1", "mta_sts.no_version"),
            (
                "version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1",
                "mta_sts.bad_version",
            ),
            (
                "version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1",
                "mta_sts.bad_mode",
            ),
            ("version: STSv1\nmode: enforce\nmax_age: 1", "mta_sts.no_mx"),
            (
                "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 99999999999",
                "mta_sts.bad_max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: *.*.b\nmax_age: 1",
                "mta_sts.bad_mx",
            ),
            ("<html>not a policy</html>", "mta_sts.bad_line"),
        ];
        for (text, code) in cases {
            let p = parse_policy(text);
            assert!(p.policy.is_none(), "{text}");
            assert!(
                p.findings.iter().any(|f| f.code == code),
                "{text}: {:?}",
                p.findings
            );
        }
        let big = "x".repeat(MAX_POLICY_BYTES + 1);
        assert_eq!(
            parse_policy(&big).findings[0].code,
            "mta_sts.policy_too_large"
        );
    }

    #[test]
    fn syntax_details() {
        // LF or CRLF, mixed; duplicates: the first wins.
        let p = parse_policy(
            "version: STSv1\nmode: testing\r\nmode: enforce\nmx: a.example\nmax_age: 5\nmax_age: 6",
        );
        let policy = p.policy.unwrap();
        assert_eq!((policy.mode, policy.max_age), (Mode::Testing, 5));
        let codes: Vec<_> = p.findings.iter().map(|f| f.code.as_ref()).collect();
        assert!(codes.contains(&"mta_sts.duplicate_mode"), "{codes:?}");
        assert!(codes.contains(&"mta_sts.duplicate_max_age"), "{codes:?}");
        // Extension keys are ignored; a key that is no field name is a syntax error.
        let p = parse_policy("version: STSv1\nmode: none\nmax_age: 0\nx-note_1: hi\n");
        assert!(p.policy.is_some());
        assert_eq!(p.findings[0].code, "mta_sts.unknown_key");
        let p = parse_policy("version: STSv1\nmode: none\nmax_age: 0\nbad key!: hi\n");
        assert!(p.findings.iter().any(|f| f.code == "mta_sts.bad_line"));
        // Whitespace around a key is tolerated and noted.
        let p = parse_policy(" version : STSv1\nmode:enforce\nmx:\tmx.a.example \nmax_age: 86400");
        assert!(p.policy.unwrap().covers("mx.a.example"));
        assert!(p.findings.iter().any(|f| f.code == "mta_sts.loose_syntax"));
        // Bad mx values.
        for bad in [
            "*", "*.", "com", "a..b", "-a.b", "a_b.c-", "*.*.a.b", "m*x.a.b", "a.b/c",
        ] {
            let p = parse_policy(&format!(
                "version: STSv1\nmode: enforce\nmx: {bad}\nmax_age: 1"
            ));
            assert!(p.policy.is_none(), "{bad}");
            assert!(
                p.findings.iter().any(|f| f.code == "mta_sts.bad_mx"),
                "{bad}"
            );
        }
        // max_age: digits only, at most the limit.
        for bad in ["+5", "-1", "1e3", "31557601", ""] {
            let p = parse_policy(&format!(
                "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: {bad}"
            ));
            assert!(
                p.findings.iter().any(|f| f.code == "mta_sts.bad_max_age"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_policy("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557600")
                .policy
                .unwrap()
                .max_age,
            MAX_AGE_LIMIT
        );
        // Too many patterns: the first ones are kept, the rest noted.
        let mut text = "version: STSv1\nmode: enforce\nmax_age: 86400\n".to_owned();
        for i in 0..300 {
            text.push_str(&format!("mx: mx{i}.example\n"));
        }
        let p = parse_policy(&text);
        assert_eq!(p.policy.unwrap().mx.len(), MAX_MX_PATTERNS);
        assert!(p.findings.iter().any(|f| f.code == "mta_sts.too_many_mx"));
    }

    fn policy(text: &str) -> Policy {
        parse_policy(text).policy.unwrap()
    }

    fn codes(e: &Evaluation) -> Vec<&str> {
        e.findings.iter().map(|f| f.code.as_ref()).collect()
    }

    #[test]
    fn evaluate_enforce() {
        let p = policy("version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 604800\n");
        let hosts = [
            MxTls {
                host: "mx1.example.com",
                tls_validated: true,
            },
            MxTls {
                host: "mx2.example.com",
                tls_validated: false,
            },
            MxTls {
                host: "backup.example.net",
                tls_validated: true,
            },
        ];
        let e = evaluate(Some("20240101"), Some(&p), &hosts);
        assert!(e.in_force);
        let effects: Vec<_> = e.hosts.iter().map(|h| h.effect).collect();
        assert_eq!(
            effects,
            [HostEffect::Pass, HostEffect::Fail, HostEffect::Fail]
        );
        assert_eq!(e.hosts.iter().filter(|h| h.covered).count(), 2);
        assert_eq!(codes(&e), ["mta_sts.host_fails", "mta_sts.mx_not_covered"]);
        assert!(
            e.findings
                .iter()
                .all(|f| f.severity == checktls_dns::Severity::Error)
        );
    }

    #[test]
    fn evaluate_testing_and_none() {
        let p = policy("version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n");
        let hosts = [
            MxTls {
                host: "mx.example.com",
                tls_validated: false,
            },
            MxTls {
                host: "other.example.com",
                tls_validated: true,
            },
        ];
        let e = evaluate(Some("1"), Some(&p), &hosts);
        assert_eq!(e.hosts[0].effect, HostEffect::Warn);
        assert_eq!(e.hosts[1].effect, HostEffect::Warn);
        assert!(
            e.findings
                .iter()
                .all(|f| f.severity == checktls_dns::Severity::Warning)
        );
        let none = policy("version: STSv1\nmode: none\nmax_age: 0\n");
        let e = evaluate(Some("1"), Some(&none), &hosts);
        assert!(e.hosts.iter().all(|h| h.effect == HostEffect::None));
        assert_eq!(codes(&e), ["mta_sts.mode_none"]);
    }

    #[test]
    fn evaluate_needs_id_and_policy() {
        let p = policy("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n");
        let hosts = [MxTls {
            host: "mx.example.com",
            tls_validated: false,
        }];
        // No TXT id: senders ignore the policy, so nothing fails under it.
        let e = evaluate(None, Some(&p), &hosts);
        assert!(!e.in_force);
        assert_eq!(e.hosts[0].effect, HostEffect::None);
        assert!(e.hosts[0].covered);
        assert_eq!(codes(&e), ["mta_sts.no_id"]);
        let e = evaluate(Some("1"), None, &hosts);
        assert_eq!((e.in_force, e.mode), (false, None));
        assert_eq!(codes(&e), ["mta_sts.no_policy"]);
        assert_eq!(
            evaluate(Some(""), Some(&p), &hosts).findings[0].code,
            "mta_sts.no_id"
        );
    }

    #[test]
    fn failure_codes_are_distinct() {
        let all = [
            FetchFailure::Connect {
                detail: String::new(),
            },
            FetchFailure::Certificate {
                detail: String::new(),
            },
            FetchFailure::Timeout { after_ms: 1 },
            FetchFailure::TooLarge { limit: 1 },
            FetchFailure::Redirect {
                status: 301,
                location: None,
            },
            FetchFailure::HttpStatus { status: 404 },
            FetchFailure::ContentType { content_type: None },
            FetchFailure::NotText,
            FetchFailure::Http {
                detail: String::new(),
            },
        ];
        let mut codes: Vec<_> = all.iter().map(FetchFailure::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(all[4].to_string().contains("must not be followed"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}", host in "[a-z.*]{0,20}", ok: bool) {
            let parsed = parse_policy(&s);
            let e = evaluate(Some("id"), parsed.policy.as_ref(), &[MxTls { host: &host, tls_validated: ok }]);
            proptest::prop_assert_eq!(e.hosts.len(), 1);
        }

        #[test]
        fn round_trip(mode in 0..3usize, hosts in proptest::collection::vec("[a-z]{1,8}\\.[a-z]{2,6}", 1..4), age in 0u64..=MAX_AGE_LIMIT) {
            let m = ["enforce", "testing", "none"][mode];
            let mut text = format!("version: STSv1\nmode: {m}\n");
            for h in &hosts { text.push_str(&format!("mx: {h}\n")); }
            text.push_str(&format!("max_age: {age}\n"));
            let p = parse_policy(&text).policy.unwrap();
            proptest::prop_assert_eq!(p.mode.name(), m);
            proptest::prop_assert_eq!(p.max_age, age);
            for h in &hosts { proptest::prop_assert!(p.covers(h)); }
        }
    }
}
