//! The SMTP TLS Reporting record at `_smtp._tls.<domain>` (RFC 8460 §3):
//! `v=TLSRPTv1; rua=mailto:...,https://...`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Field, Finding, Parsed, Severity, bounded, cut, duplicate, fields, select};

/// A usable TLS-RPT record.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TlsRptRecord {
    /// Where reports go: `mailto:` and `https:` URIs, in order.
    pub rua: Vec<String>,
    /// Other fields, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<(String, String)>,
}

impl TlsRptRecord {
    /// A record with these report URIs.
    pub fn new(rua: Vec<String>) -> Self {
        Self {
            rua,
            extensions: Vec::new(),
        }
    }
}

impl fmt::Display for TlsRptRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v=TLSRPTv1; rua={}", self.rua.join(","))?;
        super::write_extensions(f, &self.extensions)
    }
}

/// Picks and parses the record from the TXT RRset at `_smtp._tls.<domain>`: records not
/// starting with `v=TLSRPTv1` are discarded; several means none is used (RFC 8460 §3).
pub fn check<S: AsRef<str>>(texts: &[S]) -> Parsed<TlsRptRecord> {
    let texts: Vec<String> = texts.iter().map(|t| t.as_ref().to_owned()).collect();
    match select(
        &texts,
        |t| super::starts_with_version(t, "TLSRPTv1", false),
        ("tls_rpt.missing", "tls_rpt.multiple"),
        "TLS-RPT (v=TLSRPTv1)",
    ) {
        Ok(one) => parse(one),
        Err(none) => none,
    }
}

/// Parses one TLS-RPT record.
pub fn parse(text: &str) -> Parsed<TlsRptRecord> {
    let mut findings = Vec::new();
    let text = bounded(text, "tls_rpt.too_long", &mut findings);
    let fields = match fields(text, "tls_rpt.syntax") {
        Ok(f) => f,
        Err(e) => return Parsed::invalid(e),
    };
    match fields.first() {
        Some(Field {
            name: "v",
            value: "TLSRPTv1",
            ..
        }) => {}
        _ => {
            return Parsed::invalid(Finding::at(
                "tls_rpt.version",
                Severity::Error,
                0,
                "the record must start with v=TLSRPTv1",
            ));
        }
    }
    if let Some(d) = duplicate(&fields, false) {
        return Parsed::invalid(Finding::at(
            "tls_rpt.duplicate",
            Severity::Error,
            d.pos,
            format!("field {} appears twice", d.name),
        ));
    }
    let mut rua = None;
    let mut extensions = Vec::new();
    for f in &fields[1..] {
        match f.name {
            "rua" => {
                let mut uris = Vec::new();
                let mut offset = f.value_pos;
                for part in f.value.split(',') {
                    let uri = part.trim();
                    let at = offset + (part.len() - part.trim_start().len());
                    offset += part.len() + 1;
                    if uri.is_empty() || uri.contains(char::is_whitespace) {
                        return Parsed::invalid(Finding::at(
                            "tls_rpt.syntax",
                            Severity::Error,
                            at,
                            "rua holds an empty URI or one with spaces",
                        ));
                    }
                    if super::mailto_domain(uri).is_some() || super::is_https_uri(uri) {
                        // fine
                    } else if uri.len() >= 5 && uri[..5].eq_ignore_ascii_case("http:") {
                        findings.push(Finding::at(
                            "tls_rpt.http_uri",
                            Severity::Error,
                            at,
                            format!("{} must use https, not http", cut(uri)),
                        ));
                    } else {
                        findings.push(Finding::at(
                            "tls_rpt.bad_uri",
                            Severity::Error,
                            at,
                            format!(
                                "{} is neither a mailto: address nor an https: URL",
                                cut(uri)
                            ),
                        ));
                    }
                    uris.push(uri.to_owned());
                }
                rua = Some(uris);
            }
            "v" => {}
            other => {
                if f.value.is_empty() || f.value.contains(char::is_whitespace) {
                    return Parsed::invalid(Finding::at(
                        "tls_rpt.syntax",
                        Severity::Error,
                        f.value_pos,
                        format!("field {other} has an empty value or spaces"),
                    ));
                }
                findings.push(Finding::at(
                    "tls_rpt.extension",
                    Severity::Info,
                    f.pos,
                    format!("unknown field {other} is ignored"),
                ));
                extensions.push((other.to_owned(), f.value.to_owned()));
            }
        }
    }
    let Some(rua) = rua else {
        findings.push(Finding::error(
            "tls_rpt.missing_rua",
            "the record has no rua field: reports have nowhere to go",
        ));
        return Parsed::new(None, findings);
    };
    Parsed::new(Some(TlsRptRecord { rua, extensions }), findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = parse("v=TLSRPTv1; rua=mailto:tls@example.com, https://r.example.com/x");
        assert_eq!(p.value.as_ref().unwrap().rua.len(), 2);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        let p = parse("v=TLSRPTv1; rua=http://r.example.com");
        assert_eq!(p.findings[0].code, "tls_rpt.http_uri");
        assert!(parse("v=TLSRPTv1;").value.is_none());
        assert!(parse("v=TLSRPTv1; rua=,").value.is_none());
    }
}
