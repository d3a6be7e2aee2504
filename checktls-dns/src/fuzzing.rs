//! Entry points for the fuzz targets in `fuzz/` (not part of the API). Each parses arbitrary
//! bytes and checks the round trip: a parsed value's `Display` must parse back to the same value.

use std::fmt::Display;

use crate::records::{Parsed, bimi, dkim, dmarc, mta_sts, spf, tls_rpt};

fn round_trip<T: Display + PartialEq + std::fmt::Debug>(data: &[u8], parse: fn(&str) -> Parsed<T>) {
    let text = String::from_utf8_lossy(data);
    let first = parse(&text);
    if let Some(value) = first.value {
        let again = parse(&value.to_string());
        assert_eq!(again.value.as_ref(), Some(&value), "round trip of {text:?}");
    }
}

/// MTA-STS TXT.
pub fn mta_sts_txt(data: &[u8]) {
    round_trip(data, mta_sts::parse);
}

/// TLS-RPT TXT.
pub fn tls_rpt(data: &[u8]) {
    round_trip(data, tls_rpt::parse);
}

/// SPF, and a lookup walk over answers that echo the input.
pub fn spf(data: &[u8]) {
    round_trip(data, spf::parse);
    let text = String::from_utf8_lossy(data).into_owned();
    if let Ok(root) = crate::DomainName::parse("fuzz.example") {
        let mut budget = 200;
        let _ = spf::walk(&root, |_| {
            budget -= 1;
            if budget > 0 {
                spf::SpfReply::Txt(vec![text.clone()])
            } else {
                spf::SpfReply::TempError
            }
        });
    }
}

/// DMARC, and its external destinations.
pub fn dmarc(data: &[u8]) {
    round_trip(data, dmarc::parse);
    let text = String::from_utf8_lossy(data);
    if let (Some(r), Ok(d)) = (
        dmarc::parse(&text).value,
        crate::DomainName::parse("example.com"),
    ) {
        let _ = dmarc::external_destinations(&d, &r);
    }
}

/// DKIM key.
pub fn dkim(data: &[u8]) {
    round_trip(data, dkim::parse);
    let text = String::from_utf8_lossy(data);
    if let Some(k) = dkim::parse(&text).value {
        let _ = k.key_bits();
    }
}

/// BIMI.
pub fn bimi(data: &[u8]) {
    round_trip(data, bimi::parse);
}

/// Trust anchors in zone-file syntax.
pub fn trust_anchors(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(a) = crate::TrustAnchors::parse(&text) {
        let again = crate::TrustAnchors::parse(&a.to_string());
        assert_eq!(again.as_ref().ok(), Some(&a));
    }
}

/// The DNSSEC validator on hostile upstream answers: `data` as a DNS message answers every
/// question of an MX, TLSA, A and TXT lookup (IDs and questions made to match), with the
/// message's own key-signing keys as anchors so that signatures are checked. Needs the
/// `resolver` feature.
#[cfg(feature = "resolver")]
pub fn validator(data: &[u8]) {
    crate::resolver::fuzz::validator(data);
}
