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

/// A policy mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// The MX patterns, lower-cased.
    pub mx: Vec<String>,
    /// How long senders may cache the policy, in seconds.
    pub max_age: u64,
}

/// A policy and what was noticed reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

    /// The policy's effect on one MX host: `pass` when the host is covered and TLS
    /// validated, otherwise `fail` under enforce (a sender would not deliver), `warn` under
    /// testing, `none` under mode none.
    pub fn host_verdict(&self, host: &str, validated_tls: bool) -> &'static str {
        let ok = self.covers(host) && validated_tls;
        match (self.mode, ok) {
            (Mode::None, _) => "none",
            (_, true) => "pass",
            (Mode::Enforce, false) => "fail",
            (Mode::Testing, false) => "warn",
        }
    }
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
        let value = value.trim();
        match key.trim() {
            "version" => {
                if version.is_some() {
                    findings.push(Finding::warning(
                        "mta_sts.duplicate_version",
                        "version given twice",
                    ));
                }
                version = Some(value.to_owned());
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
                        "mode given twice",
                    ));
                }
                mode = mode.or(m);
            }
            "mx" => {
                let v = value.to_ascii_lowercase();
                let body = v.strip_prefix("*.").unwrap_or(&v);
                if body.is_empty() || body.contains('*') || !body.contains('.') {
                    findings.push(Finding::error(
                        "mta_sts.bad_mx",
                        format!(
                            "line {}: {value:?} is not a host name or *.domain pattern",
                            n + 1
                        ),
                    ));
                } else if mx.len() < 256 {
                    mx.push(v);
                }
            }
            "max_age" => match value.parse::<u64>() {
                Ok(a) if a <= MAX_AGE_LIMIT && !value.is_empty() && value.len() <= 10 => {
                    max_age = Some(a);
                }
                _ => findings.push(Finding::error(
                    "mta_sts.bad_max_age",
                    format!(
                        "line {}: max_age {value:?} is not 0 to {MAX_AGE_LIMIT}",
                        n + 1
                    ),
                )),
            },
            other => findings.push(Finding::info(
                "mta_sts.unknown_key",
                format!("line {}: unknown key {other:?} ignored", n + 1),
            )),
        }
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

#[cfg(feature = "tokio")]
pub use fetch::{PolicyFetch, fetch_policy};

#[cfg(feature = "tokio")]
mod fetch {
    use super::{MAX_POLICY_BYTES, ParsedPolicy, parse_policy};
    use crate::http::{HttpOptions, HttpRequest, fetch};
    use crate::net::Connector;
    use checktls_dns::Finding;
    use serde::Serialize;

    /// The result of fetching a domain's policy.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct PolicyFetch {
        /// The URL fetched.
        pub url: String,
        /// The parsed policy, when a body was received with status 200 and text/plain.
        pub parsed: Option<ParsedPolicy>,
        /// Why not, or what was noticed about the HTTP exchange.
        pub findings: Vec<Finding>,
    }

    /// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` through `connector`: strict
    /// certificate check against `options.trust`, no redirects, `text/plain` required, at most
    /// 64 KiB, within `options.timeout`.
    pub async fn fetch_policy(
        domain: &str,
        connector: &dyn Connector,
        options: &HttpOptions,
    ) -> PolicyFetch {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
        let mut options = options.clone();
        options.max_body = options.max_body.min(MAX_POLICY_BYTES);
        let mut findings = Vec::new();
        let response = match fetch(connector, &HttpRequest::get(&url), &options).await {
            Ok(r) => r,
            Err(e) => {
                findings.push(Finding::error(
                    "mta_sts.fetch_failed",
                    format!("{url}: {e}"),
                ));
                return PolicyFetch {
                    url,
                    parsed: None,
                    findings,
                };
            }
        };
        if (300..400).contains(&response.status) {
            findings.push(Finding::error(
                "mta_sts.redirect",
                format!(
                    "{url} redirects to {} (RFC 8461 §3.3: redirects must not be followed)",
                    response.location.as_deref().unwrap_or("?")
                ),
            ));
        } else if response.status != 200 {
            findings.push(Finding::error(
                "mta_sts.http_status",
                format!("{url}: HTTP {}", response.status),
            ));
        } else {
            let ct = response.content_type.as_deref().unwrap_or("");
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media != "text/plain" {
                findings.push(Finding::error(
                    "mta_sts.content_type",
                    format!("{url}: content type {ct:?} is not text/plain"),
                ));
            } else {
                let text = String::from_utf8_lossy(&response.body);
                return PolicyFetch {
                    url,
                    parsed: Some(parse_policy(&text)),
                    findings,
                };
            }
        }
        PolicyFetch {
            url,
            parsed: None,
            findings,
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

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = parse_policy(&s);
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
