//! Parsers and checks for the mail-domain TXT records. Pure: text in, a value and findings out;
//! no I/O, no clock, no panic on any input.
//!
//! ```text
//!   TXT strings (from the resolver, a file, a test)
//!        │ check(&[texts])  picks the one record of its version (or reports none / several)
//!        │ parse(text)      one record
//!        ▼
//!   Parsed<T> { value: Option<T>, findings: Vec<Finding> }
//!        │ value.to_string()  re-parses to the same value
//! ```
//!
//! Each record type's `Display` writes a canonical form that [`parse`](spf::parse)s back to an
//! equal value; the findings may differ (a canonical form has no stray spaces).
//!
//! ```
//! use checktls_dns::records::{dmarc, Severity};
//!
//! let parsed = dmarc::parse("v=DMARC1; p=none; rua=mailto:reports@example.com");
//! let record = parsed.value.as_ref().unwrap();
//! assert_eq!(record.policy, Some(dmarc::Policy::None));
//! assert!(parsed.findings.iter().any(|f| f.code == "dmarc.monitoring_only"));
//! assert_eq!(dmarc::parse(&record.to_string()).value.as_ref(), Some(record));
//! # let _ = Severity::Info;
//! ```

use serde::{Deserialize, Serialize};

pub use crate::finding::{Finding, Severity};

pub mod bimi;
pub mod dkim;
pub mod dmarc;
pub mod mta_sts;
pub mod spf;
pub mod tls_rpt;

/// A parsed record: its value when it is usable as the record it claims to be, and what was
/// noticed. `value` is `None` when receivers would ignore the record (wrong version, broken
/// syntax, a required tag missing); an [`Severity::Error`] finding then says why.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Parsed_{T}"))]
pub struct Parsed<T> {
    /// The record, if usable.
    pub value: Option<T>,
    /// What was noticed, worst first is not guaranteed: see [`Parsed::worst`].
    pub findings: Vec<Finding>,
}

impl<T> Parsed<T> {
    pub(crate) fn new(value: Option<T>, findings: Vec<Finding>) -> Self {
        Self { value, findings }
    }

    pub(crate) fn invalid(finding: Finding) -> Self {
        Self {
            value: None,
            findings: vec![finding],
        }
    }

    /// The worst severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        crate::finding::worst(&self.findings)
    }

    /// Whether the record is usable and nothing reached [`Severity::Error`].
    pub fn is_clean(&self) -> bool {
        self.value.is_some() && self.worst() < Some(Severity::Error)
    }
}

/// The longest record text the parsers look at; longer input is reported and cut, which bounds
/// the work on hostile input (real records are under 4 KiB).
pub(crate) const MAX_TEXT: usize = 16 * 1024;

/// Cuts `text` to [`MAX_TEXT`] on a character boundary, noting it.
pub(crate) fn bounded<'a>(
    text: &'a str,
    code: &'static str,
    findings: &mut Vec<Finding>,
) -> &'a str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    findings.push(Finding::at(
        code,
        Severity::Error,
        end,
        format!(
            "record is {} bytes long; only the first {MAX_TEXT} were read",
            text.len()
        ),
    ));
    &text[..end]
}

/// One `name=value` field of a tag list (RFC 6376 §3.2, also DMARC, BIMI, MTA-STS, TLS-RPT).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    /// Byte offset of the name.
    pub(crate) pos: usize,
    /// Byte offset of the value.
    pub(crate) value_pos: usize,
}

fn is_wsp(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits a tag list into fields: `;`-separated, whitespace around names, `=` and values
/// ignored, empty fields (a trailing `;`) skipped. Names must be letters, digits, `_`, `-` or
/// `.` and start with a letter or digit; values printable ASCII with inner whitespace.
pub(crate) fn fields<'a>(text: &'a str, code: &'static str) -> Result<Vec<Field<'a>>, Finding> {
    let mut out = Vec::new();
    let mut start = 0;
    for segment in text.split(';') {
        let seg_start = start;
        start += segment.len() + 1;
        let lead = segment.len() - segment.trim_start_matches(is_wsp).len();
        let trimmed = segment.trim_matches(is_wsp);
        if trimmed.is_empty() {
            continue;
        }
        let pos = seg_start + lead;
        let Some((raw_name, raw_value)) = trimmed.split_once('=') else {
            return Err(Finding::at(
                code,
                Severity::Error,
                pos,
                format!("{:?} is not a name=value field", cut(trimmed)),
            ));
        };
        let name = raw_name.trim_end_matches(is_wsp);
        if name.is_empty() {
            return Err(Finding::at(
                code,
                Severity::Error,
                pos,
                "a field has no name",
            ));
        }
        if let Some((i, c)) = name
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_alphanumeric() || (i > 0 && matches!(c, '_' | '-' | '.'))))
        {
            return Err(Finding::at(
                code,
                Severity::Error,
                pos + i,
                format!("character {c:?} not allowed in a field name"),
            ));
        }
        let value = raw_value.trim_start_matches(is_wsp);
        let value_pos = pos + raw_name.len() + 1 + (raw_value.len() - value.len());
        if let Some((i, c)) = value
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_graphic() || is_wsp(c)))
        {
            return Err(Finding::at(
                code,
                Severity::Error,
                value_pos + i,
                format!("character {c:?} not allowed in the value of {name}"),
            ));
        }
        out.push(Field {
            name,
            value,
            pos,
            value_pos,
        });
    }
    Ok(out)
}

/// Finds a field repeated (names compared as given or ignoring case).
pub(crate) fn duplicate<'a>(fields: &[Field<'a>], ignore_case: bool) -> Option<Field<'a>> {
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].iter().any(|g| {
            if ignore_case {
                g.name.eq_ignore_ascii_case(f.name)
            } else {
                g.name == f.name
            }
        }) {
            return Some(*f);
        }
    }
    None
}

/// Whether `text` starts with the version tag `v=<version>` (version compared as given or
/// ignoring case) followed by the end, `;` or whitespace.
pub(crate) fn starts_with_version(text: &str, version: &str, ignore_case: bool) -> bool {
    let Some(rest) = text.strip_prefix("v=").or_else(|| {
        if ignore_case {
            text.strip_prefix("V=")
        } else {
            None
        }
    }) else {
        return false;
    };
    let Some(head) = rest.get(..version.len()) else {
        return false;
    };
    let same = if ignore_case {
        head.eq_ignore_ascii_case(version)
    } else {
        head == version
    };
    same && rest[version.len()..]
        .chars()
        .next()
        .is_none_or(|c| c == ';' || is_wsp(c))
}

/// Picks the one record of a version from an RRset, as every one of these records is picked:
/// others are discarded, and none or several means no usable record.
pub(crate) fn select<'a, T>(
    texts: &'a [String],
    is_candidate: impl Fn(&str) -> bool,
    codes: (&'static str, &'static str),
    what: &str,
) -> Result<&'a str, Parsed<T>> {
    let candidates: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|t| is_candidate(t))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(Parsed::invalid(Finding::error(
            codes.0,
            format!("no {what} record"),
        ))),
        many => Err(Parsed::invalid(Finding::error(
            codes.1,
            format!(
                "{} {what} records: receivers treat this as no record",
                many.len()
            ),
        ))),
    }
}

/// A short form of untrusted text for messages.
pub(crate) fn cut(s: &str) -> String {
    const KEEP: usize = 60;
    if s.len() <= KEEP {
        return s.to_owned();
    }
    let mut end = KEEP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Writes extension fields `; name=value` in order.
pub(crate) fn write_extensions(
    f: &mut std::fmt::Formatter<'_>,
    extensions: &[(String, String)],
) -> std::fmt::Result {
    for (k, v) in extensions {
        write!(f, "; {k}={v}")?;
    }
    Ok(())
}

/// Whether a URI is `https://` with a host.
pub(crate) fn is_https_uri(uri: &str) -> bool {
    uri.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        && uri[8..]
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

/// The domain of a `mailto:` URI's address, if it is one.
pub(crate) fn mailto_domain(uri: &str) -> Option<&str> {
    let rest = uri
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("mailto:"))
        .map(|_| &uri[7..])?;
    let addr = rest.split(['?', '!']).next()?;
    let (local, domain) = addr.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields() {
        let f = fields(" v=DKIM1 ;k = rsa; p=AB CD;", "x").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!((f[1].name, f[1].value), ("k", "rsa"));
        assert_eq!(f[1].value_pos, 14);
        assert_eq!(f[2].value, "AB CD");
        assert!(fields("v=1; junk", "x").is_err());
        assert!(fields("v=1; =x", "x").is_err());
        assert!(fields("v=1; a=é", "x").is_err());
        assert!(fields("", "x").unwrap().is_empty());
    }

    #[test]
    fn versions() {
        assert!(starts_with_version("v=spf1 -all", "spf1", true));
        assert!(starts_with_version("v=spf1", "spf1", true));
        assert!(!starts_with_version("v=spf10", "spf1", true));
        assert!(starts_with_version("V=SPF1 a", "spf1", true));
        assert!(!starts_with_version("v=stsv1;", "STSv1", false));
        assert!(starts_with_version("v=STSv1;id=1", "STSv1", false));
    }

    #[test]
    fn uris() {
        assert!(is_https_uri("https://example.com/x"));
        assert!(!is_https_uri("https:///x"));
        assert!(!is_https_uri("http://example.com"));
        assert_eq!(mailto_domain("mailto:a@b.example!10m"), Some("b.example"));
        assert_eq!(mailto_domain("mailto:@b"), None);
        assert_eq!(mailto_domain("https://x"), None);
    }
}
