//! The MTA-STS TXT record at `_mta-sts.<domain>` (RFC 8461 §3.1): `v=STSv1; id=<1-32 alnum>;`.
//! It announces that a policy exists and its version; the policy itself is fetched over HTTPS
//! (checktls-tls).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Field, Finding, Parsed, Severity, bounded, cut, duplicate, fields, select};

/// A usable MTA-STS TXT record.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MtaStsTxt {
    /// The policy id: senders refetch the policy when it changes.
    pub id: String,
    /// Other fields, in order (ignored by senders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<(String, String)>,
}

impl MtaStsTxt {
    /// A record with this id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            extensions: Vec::new(),
        }
    }
}

impl fmt::Display for MtaStsTxt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v=STSv1; id={}", self.id)?;
        super::write_extensions(f, &self.extensions)
    }
}

/// Picks and parses the record from the TXT RRset at `_mta-sts.<domain>`: records not starting
/// with `v=STSv1` are discarded; none or several means no policy (RFC 8461 §3.1).
pub fn check<S: AsRef<str>>(texts: &[S]) -> Parsed<MtaStsTxt> {
    let texts: Vec<String> = texts.iter().map(|t| t.as_ref().to_owned()).collect();
    match select(
        &texts,
        |t| super::starts_with_version(t, "STSv1", false),
        ("mta_sts.missing", "mta_sts.multiple"),
        "MTA-STS (v=STSv1)",
    ) {
        Ok(one) => parse(one),
        Err(none) => none,
    }
}

/// Parses one MTA-STS TXT record.
pub fn parse(text: &str) -> Parsed<MtaStsTxt> {
    let mut findings = Vec::new();
    let text = bounded(text, "mta_sts.too_long", &mut findings);
    let fields = match fields(text, "mta_sts.syntax") {
        Ok(f) => f,
        Err(e) => return Parsed::invalid(e),
    };
    match fields.first() {
        Some(Field {
            name: "v",
            value: "STSv1",
            ..
        }) => {}
        _ => {
            return Parsed::invalid(Finding::at(
                "mta_sts.version",
                Severity::Error,
                0,
                "the record must start with v=STSv1",
            ));
        }
    }
    if let Some(d) = duplicate(&fields, false) {
        return Parsed::invalid(Finding::at(
            "mta_sts.duplicate",
            Severity::Error,
            d.pos,
            format!("field {} appears twice", d.name),
        ));
    }
    let mut id = None;
    let mut extensions = Vec::new();
    for f in &fields[1..] {
        if let Some((i, c)) = f
            .value
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || c == '=')
        {
            return Parsed::invalid(Finding::at(
                "mta_sts.syntax",
                Severity::Error,
                f.value_pos + i,
                format!("character {c:?} not allowed in an MTA-STS field value"),
            ));
        }
        if f.name.len() > 32 {
            return Parsed::invalid(Finding::at(
                "mta_sts.syntax",
                Severity::Error,
                f.pos,
                "field names are at most 32 characters",
            ));
        }
        match f.name {
            "id" => {
                if f.value.is_empty()
                    || f.value.len() > 32
                    || !f.value.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Parsed::invalid(Finding::at(
                        "mta_sts.bad_id",
                        Severity::Error,
                        f.value_pos,
                        format!("id {:?} must be 1 to 32 letters and digits", cut(f.value)),
                    ));
                }
                id = Some(f.value.to_owned());
            }
            "v" => {}
            other => {
                if f.value.is_empty() {
                    return Parsed::invalid(Finding::at(
                        "mta_sts.syntax",
                        Severity::Error,
                        f.value_pos,
                        format!("field {other} has an empty value"),
                    ));
                }
                findings.push(Finding::at(
                    "mta_sts.extension",
                    Severity::Info,
                    f.pos,
                    format!("unknown field {other} is ignored"),
                ));
                extensions.push((other.to_owned(), f.value.to_owned()));
            }
        }
    }
    let Some(id) = id else {
        findings.push(Finding::error(
            "mta_sts.missing_id",
            "the record has no id field",
        ));
        return Parsed::new(None, findings);
    };
    Parsed::new(Some(MtaStsTxt { id, extensions }), findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = parse("v=STSv1; id=20190429T010101;");
        assert_eq!(p.value.as_ref().unwrap().id, "20190429T010101");
        assert!(p.findings.is_empty());
        assert!(parse("v=STSv1; id=").value.is_none());
        assert!(parse("v=STSv1; id=a-b").value.is_none());
        assert!(parse("v=STSv1").value.is_none());
        assert!(parse("id=1; v=STSv1").value.is_none());
        assert!(parse("v=STSv1; id=1; id=2").value.is_none());
    }

    #[test]
    fn picks_one() {
        assert!(check(&["v=spf1 -all", "v=STSv1; id=1"]).value.is_some());
        assert_eq!(
            check(&["v=STSv1; id=1", "v=STSv1; id=2"]).findings[0].code,
            "mta_sts.multiple"
        );
        assert_eq!(check::<&str>(&[]).findings[0].code, "mta_sts.missing");
    }
}
