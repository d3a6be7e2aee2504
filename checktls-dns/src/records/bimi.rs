//! BIMI assertion records at `<selector>._bimi.<domain>` (draft-brand-indicators-for-message-
//! identification): `v=BIMI1; l=<https SVG URL>; a=<https URL of the mark certificate>`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Finding, Parsed, Severity, bounded, cut, duplicate, fields, select};

/// A usable BIMI record. `Some("")` for `l`/`a` means the tag is present and empty.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BimiRecord {
    /// `l`: where the logo (SVG Tiny PS) is; empty declines to publish one.
    pub logo: Option<String>,
    /// `a`: where the mark certificate (VMC or CMC, PEM) is.
    pub authority: Option<String>,
    /// `avp`: avatar preference (`brand` or `personal`).
    pub avatar_preference: Option<String>,
    /// Other tags, in order.
    pub extensions: Vec<(String, String)>,
}

impl BimiRecord {
    /// Whether the record declines BIMI (`l` and `a` both empty or absent).
    pub fn is_declination(&self) -> bool {
        self.logo.as_deref().unwrap_or("").is_empty()
            && self.authority.as_deref().unwrap_or("").is_empty()
    }
}

impl fmt::Display for BimiRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=BIMI1")?;
        for (tag, v) in [
            ("l", &self.logo),
            ("a", &self.authority),
            ("avp", &self.avatar_preference),
        ] {
            if let Some(v) = v {
                write!(f, "; {tag}={v}")?;
            }
        }
        super::write_extensions(f, &self.extensions)
    }
}

/// Picks and parses the record from the TXT RRset at a BIMI selector: records not starting with
/// `v=BIMI1` are discarded; several means none is used.
pub fn check<S: AsRef<str>>(texts: &[S]) -> Parsed<BimiRecord> {
    let texts: Vec<String> = texts.iter().map(|t| t.as_ref().to_owned()).collect();
    match select(
        &texts,
        |t| super::starts_with_version(t, "BIMI1", false),
        ("bimi.missing", "bimi.multiple"),
        "BIMI (v=BIMI1)",
    ) {
        Ok(one) => parse(one),
        Err(none) => none,
    }
}

/// Parses one BIMI record.
pub fn parse(text: &str) -> Parsed<BimiRecord> {
    let mut findings = Vec::new();
    let text = bounded(text, "bimi.too_long", &mut findings);
    let fields = match fields(text, "bimi.syntax") {
        Ok(f) => f,
        Err(e) => return Parsed::invalid(e),
    };
    match fields.first() {
        Some(f) if f.name == "v" && f.value == "BIMI1" => {}
        _ => {
            return Parsed::invalid(Finding::at(
                "bimi.version",
                Severity::Error,
                0,
                "the record must start with v=BIMI1",
            ));
        }
    }
    if let Some(d) = duplicate(&fields, true) {
        return Parsed::invalid(Finding::at(
            "bimi.duplicate",
            Severity::Error,
            d.pos,
            format!("tag {} appears twice", d.name),
        ));
    }
    let mut r = BimiRecord::default();
    for f in &fields[1..] {
        let name = f.name.to_ascii_lowercase();
        if f.value.contains(char::is_whitespace) {
            return Parsed::invalid(Finding::at(
                "bimi.syntax",
                Severity::Error,
                f.value_pos,
                format!("the value of {name} contains spaces"),
            ));
        }
        match name.as_str() {
            "l" | "a" => {
                let v = f.value.to_owned();
                if !v.is_empty() && !super::is_https_uri(&v) {
                    findings.push(Finding::at(
                        "bimi.not_https",
                        Severity::Error,
                        f.value_pos,
                        format!("{name}={} must be an https: URL", cut(&v)),
                    ));
                }
                if name == "l" {
                    let path = v.split(['?', '#']).next().unwrap_or("");
                    if !v.is_empty() && !path.to_ascii_lowercase().ends_with(".svg") {
                        findings.push(Finding::at(
                            "bimi.not_svg",
                            Severity::Warning,
                            f.value_pos,
                            "the logo should be an SVG Tiny PS file (.svg)",
                        ));
                    }
                    r.logo = Some(v);
                } else {
                    r.authority = Some(v);
                }
            }
            "avp" => {
                if !matches!(f.value, "brand" | "personal") {
                    findings.push(Finding::at(
                        "bimi.avp",
                        Severity::Warning,
                        f.value_pos,
                        "avp= should be brand or personal",
                    ));
                }
                r.avatar_preference = Some(f.value.to_owned());
            }
            "v" => {}
            _ => {
                findings.push(Finding::at(
                    "bimi.unknown_tag",
                    Severity::Info,
                    f.pos,
                    format!("unknown tag {name} is ignored"),
                ));
                r.extensions.push((name.clone(), f.value.to_owned()));
            }
        }
    }
    if r.is_declination() {
        findings.push(Finding::info(
            "bimi.declined",
            "l= and a= are empty: the domain declines to show a logo",
        ));
    } else {
        if r.logo.as_deref().unwrap_or("").is_empty() {
            findings.push(Finding::error(
                "bimi.no_logo",
                "no l= logo URL: there is nothing to show",
            ));
        }
        if r.authority.as_deref().unwrap_or("").is_empty() {
            findings.push(Finding::warning(
                "bimi.no_authority",
                "no a= mark certificate: most mailbox providers show no logo without a VMC or CMC",
            ));
        }
    }
    Parsed::new(Some(r), findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = parse("v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem");
        let r = p.value.as_ref().unwrap();
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(parse(&r.to_string()).value.as_ref(), Some(r));
        let p = parse("v=BIMI1; l=; a=;");
        assert!(p.value.unwrap().is_declination());
        let p = parse("v=BIMI1; l=http://example.com/logo.png");
        let codes: Vec<_> = p.findings.iter().map(|f| f.code.as_ref()).collect();
        assert_eq!(
            codes,
            ["bimi.not_https", "bimi.not_svg", "bimi.no_authority"]
        );
    }
}
