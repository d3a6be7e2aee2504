//! Property tests: no parser panics on any input, and formatting a parsed value then parsing it
//! again gives the same value (for arbitrary text, for text built from each record's own
//! vocabulary, and for values generated directly).

use std::net::{Ipv4Addr, Ipv6Addr};

use checktls_dns::mx::{MxLimit, MxRecord, sort};
use checktls_dns::records::{Parsed, bimi, dkim, dmarc, mta_sts, spf, tls_rpt};
use checktls_dns::{DomainName, TrustAnchor, TrustAnchors};
use proptest::prelude::*;

fn round_trips<T: std::fmt::Display + PartialEq + std::fmt::Debug>(
    text: &str,
    parse: fn(&str) -> Parsed<T>,
) -> Result<(), TestCaseError> {
    let first = parse(text);
    if let Some(value) = first.value {
        let shown = value.to_string();
        let again = parse(&shown);
        prop_assert_eq!(
            again.value.as_ref(),
            Some(&value),
            "{:?} -> {:?}",
            text,
            shown
        );
    }
    Ok(())
}

/// Text assembled from a record's own words and separators, so the parsers get past their
/// first checks far more often than with random strings.
fn soup(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => proptest::sample::select(words).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
        1 => "\\PC{0,4}",
    ];
    let sep =
        proptest::sample::select(&["", " ", ";", "; ", "=", ":", ",", "/", "  ", "\t", "!"][..]);
    proptest::collection::vec((word, sep), 0..14)
        .prop_map(|parts| parts.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
}

const SPF_WORDS: &[&str] = &[
    "v=spf1",
    "-all",
    "~all",
    "?all",
    "+all",
    "all",
    "mx",
    "a",
    "ptr",
    "include:",
    "exists:",
    "ip4:",
    "ip6:",
    "192.0.2.1",
    "2001:db8::",
    "/24",
    "//64",
    "example.com",
    "_spf.example.net",
    "redirect=",
    "exp=",
    "%{i}",
    "%{d}",
    "%{l1r-}",
    "%%",
    "%_",
    "%-",
    "a:",
    "mx:",
    ".",
];
const DMARC_WORDS: &[&str] = &[
    "v=DMARC1",
    "p=",
    "sp=",
    "np=",
    "none",
    "quarantine",
    "reject",
    "adkim=",
    "aspf=",
    "r",
    "s",
    "pct=",
    "50",
    "100",
    "fo=",
    "1:d",
    "rf=",
    "afrf",
    "ri=",
    "86400",
    "rua=",
    "ruf=",
    "mailto:a@example.com",
    "!10m",
    "https://r.example.com",
    "t=y",
];
const STS_WORDS: &[&str] = &[
    "v=STSv1", "id=", "20240101", "abc", "ext=", "x", "v=", "STSv1",
];
const RPT_WORDS: &[&str] = &[
    "v=TLSRPTv1",
    "rua=",
    "mailto:tls@example.com",
    "https://r.example.com/x",
    "http://x",
    ",",
];
const DKIM_WORDS: &[&str] = &[
    "v=DKIM1",
    "k=",
    "rsa",
    "ed25519",
    "h=",
    "sha256",
    "sha1",
    "p=",
    "AAAA",
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ",
    "s=",
    "email",
    "*",
    "t=",
    "y",
    "n=",
    "note",
    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
];
const BIMI_WORDS: &[&str] = &[
    "v=BIMI1",
    "l=",
    "a=",
    "https://example.com/logo.svg",
    "https://example.com/vmc.pem",
    "avp=",
    "brand",
    "personal",
    "http://x.png",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_and_round_trip_on_any_text(text in "\\PC{0,200}") {
        round_trips(&text, mta_sts::parse)?;
        round_trips(&text, tls_rpt::parse)?;
        round_trips(&text, spf::parse)?;
        round_trips(&text, dmarc::parse)?;
        round_trips(&text, dkim::parse)?;
        round_trips(&text, bimi::parse)?;
        let _ = DomainName::parse(&text);
        let _ = TrustAnchors::parse(&text);
    }

    #[test]
    fn spf_round_trips_on_record_soup(text in soup(SPF_WORDS)) {
        round_trips(&text, spf::parse)?;
        round_trips(&format!("v=spf1 {text}"), spf::parse)?;
    }

    #[test]
    fn dmarc_round_trips_on_record_soup(text in soup(DMARC_WORDS)) {
        round_trips(&text, dmarc::parse)?;
        round_trips(&format!("v=DMARC1; {text}"), dmarc::parse)?;
    }

    #[test]
    fn mta_sts_and_tls_rpt_round_trip_on_record_soup(a in soup(STS_WORDS), b in soup(RPT_WORDS)) {
        round_trips(&a, mta_sts::parse)?;
        round_trips(&format!("v=STSv1; {a}"), mta_sts::parse)?;
        round_trips(&b, tls_rpt::parse)?;
        round_trips(&format!("v=TLSRPTv1; {b}"), tls_rpt::parse)?;
    }

    #[test]
    fn dkim_and_bimi_round_trip_on_record_soup(a in soup(DKIM_WORDS), b in soup(BIMI_WORDS)) {
        round_trips(&a, dkim::parse)?;
        round_trips(&format!("v=DKIM1; {a}"), dkim::parse)?;
        round_trips(&b, bimi::parse)?;
        round_trips(&format!("v=BIMI1; {b}"), bimi::parse)?;
    }

    #[test]
    fn generated_spf_records_round_trip(record in spf_record()) {
        let text = record.to_string();
        let parsed = spf::parse(&text);
        prop_assert_eq!(parsed.value.as_ref(), Some(&record), "{}", text);
    }

    #[test]
    fn generated_dmarc_records_round_trip(text in dmarc_text()) {
        let parsed = dmarc::parse(&text);
        let value = parsed.value.clone();
        prop_assert!(value.is_some(), "{}: {:?}", text, parsed.findings);
        round_trips(&text, dmarc::parse)?;
    }

    #[test]
    fn generated_dkim_keys_round_trip(key in proptest::collection::vec(any::<u8>(), 0..300), ed in any::<bool>(), testing in any::<bool>()) {
        use base64ct::{Base64, Encoding};
        let text = format!(
            "v=DKIM1; k={}; {}p={}",
            if ed { "ed25519" } else { "rsa" },
            if testing { "t=y; " } else { "" },
            Base64::encode_string(&key)
        );
        let parsed = dkim::parse(&text);
        let value = parsed.value.expect("generated keys parse");
        prop_assert_eq!(&value.public_key, &key);
        prop_assert_eq!(value.is_testing(), testing);
        round_trips(&text, dkim::parse)?;
    }

    #[test]
    fn generated_mta_sts_tls_rpt_and_bimi_round_trip(id in "[A-Za-z0-9]{1,32}", user in "[a-z]{1,10}", path in "[a-z/]{0,20}") {
        let sts = mta_sts::parse(&format!("v=STSv1; id={id}"));
        prop_assert_eq!(sts.value.as_ref().map(|v| v.id.as_str()), Some(id.as_str()));
        let rpt = format!("v=TLSRPTv1; rua=mailto:{user}@example.com,https://example.com/{path}");
        prop_assert_eq!(tls_rpt::parse(&rpt).value.map(|v| v.rua.len()), Some(2));
        round_trips(&rpt, tls_rpt::parse)?;
        let b = format!("v=BIMI1; l=https://example.com/{path}.svg; a=https://example.com/{user}.pem");
        prop_assert!(bimi::parse(&b).is_clean(), "{}", b);
        round_trips(&b, bimi::parse)?;
    }

    #[test]
    fn domain_names_round_trip(labels in proptest::collection::vec("[a-zA-Z0-9_-]{1,20}", 1..6)) {
        let text = labels.join(".");
        let name = DomainName::parse(&text).expect("generated names are valid");
        prop_assert_eq!(name.as_str(), text.to_ascii_lowercase());
        prop_assert_eq!(DomainName::parse(&name.to_fqdn()).expect("fqdn parses"), name.clone());
        prop_assert!(name.is_subdomain_of(&name));
        if let Some(parent) = name.parent() {
            prop_assert!(name.is_subdomain_of(&parent));
        }
    }

    #[test]
    fn trust_anchors_round_trip(key in proptest::collection::vec(any::<u8>(), 1..64), digest in proptest::collection::vec(any::<u8>(), 1..48), tag in any::<u16>(), alg in 1u8..20, zone in "([a-z]{1,8}\\.){0,3}") {
        let zone = if zone.is_empty() { DomainName::root() } else { DomainName::parse(&zone).expect("valid") };
        let mut anchors = TrustAnchors::none();
        anchors.push(TrustAnchor::Dnskey { zone: zone.clone(), flags: 257, protocol: 3, algorithm: alg, public_key: key });
        anchors.push(TrustAnchor::Ds { zone, key_tag: tag, algorithm: alg, digest_type: 2, digest });
        let again = TrustAnchors::parse(&anchors.to_string()).expect("formatted anchors parse");
        prop_assert_eq!(again, anchors);
    }

    #[test]
    fn mx_limits_select_a_prefix_that_grows_with_n(prefs in proptest::collection::vec(0u16..5, 0..12), n in 0usize..15, p in 0u8..=100) {
        let mut records: Vec<MxRecord> = prefs
            .iter()
            .enumerate()
            .map(|(i, &pref)| MxRecord::new(pref, DomainName::parse(&format!("mx{i}.example.com")).expect("valid")))
            .collect();
        sort(&mut records);
        prop_assert!(records.windows(2).all(|w| (w[0].preference, &w[0].exchange) <= (w[1].preference, &w[1].exchange)));
        for limit in [MxLimit::Hosts(n), MxLimit::Levels(n), MxLimit::HostsPercent(p), MxLimit::LevelsPercent(p)] {
            let k = limit.select(&records);
            prop_assert!(k <= records.len());
            if k > 0 && k < records.len() && matches!(limit, MxLimit::Levels(_) | MxLimit::LevelsPercent(_)) {
                // A level is never split.
                prop_assert_ne!(records[k - 1].preference, records[k].preference);
            }
        }
        prop_assert!(MxLimit::Hosts(n).select(&records) <= MxLimit::Hosts(n + 1).select(&records));
        prop_assert!(MxLimit::Levels(n).select(&records) <= MxLimit::Levels(n + 1).select(&records));
        prop_assert_eq!(MxLimit::All.select(&records), records.len());
    }
}

fn domain_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}\\.(com|net|example|test)",
        "_spf\\.[a-z]{1,8}\\.com",
        Just("%{i}._spf.example.com".to_owned()),
        Just("%{d}".to_owned()),
    ]
}

fn spf_record() -> impl Strategy<Value = spf::SpfRecord> {
    let qualifier = proptest::sample::select(
        &[
            spf::Qualifier::Pass,
            spf::Qualifier::Fail,
            spf::Qualifier::SoftFail,
            spf::Qualifier::Neutral,
        ][..],
    );
    let mechanism = prop_oneof![
        Just(spf::Mechanism::All),
        domain_spec().prop_map(|domain| spf::Mechanism::Include { domain }),
        domain_spec().prop_map(|domain| spf::Mechanism::Exists { domain }),
        (
            proptest::option::of(domain_spec()),
            proptest::option::of(0u8..=32),
            proptest::option::of(0u8..=128)
        )
            .prop_map(|(domain, cidr4, cidr6)| spf::Mechanism::A {
                domain,
                cidr4,
                cidr6
            }),
        (
            proptest::option::of(domain_spec()),
            proptest::option::of(0u8..=32),
            proptest::option::of(0u8..=128)
        )
            .prop_map(|(domain, cidr4, cidr6)| spf::Mechanism::Mx {
                domain,
                cidr4,
                cidr6
            }),
        proptest::option::of(domain_spec()).prop_map(|domain| spf::Mechanism::Ptr { domain }),
        (any::<u32>(), proptest::option::of(0u8..=32)).prop_map(|(a, prefix)| {
            spf::Mechanism::Ip4 {
                address: Ipv4Addr::from(a),
                prefix,
            }
        }),
        (any::<u128>(), proptest::option::of(0u8..=128)).prop_map(|(a, prefix)| {
            spf::Mechanism::Ip6 {
                address: Ipv6Addr::from(a),
                prefix,
            }
        }),
    ];
    let directive =
        (qualifier, mechanism).prop_map(|(qualifier, mechanism)| spf::Term::Directive {
            qualifier,
            mechanism,
        });
    (
        proptest::collection::vec(directive, 0..8),
        proptest::option::of(domain_spec()),
        proptest::option::of("[a-z]{1,6}"),
    )
        .prop_map(|(mut terms, redirect, unknown)| {
            if let Some(domain) = redirect {
                terms.push(spf::Term::Redirect { domain });
            }
            if let Some(name) = unknown {
                terms.push(spf::Term::Unknown {
                    name: format!("x-{name}"),
                    value: "v".to_owned(),
                });
            }
            spf::SpfRecord::new(terms)
        })
}

fn dmarc_text() -> impl Strategy<Value = String> {
    let policy = proptest::sample::select(&["none", "quarantine", "reject"][..]);
    (
        policy.clone(),
        proptest::option::of(policy),
        proptest::option::of(0u8..=100),
        proptest::option::of(proptest::sample::select(&["r", "s"][..])),
        proptest::collection::vec("[a-z]{1,8}", 0..3),
        proptest::option::of(1u32..1_000_000),
    )
        .prop_map(|(p, sp, pct, adkim, rua, ri)| {
            let mut t = format!("v=DMARC1; p={p}");
            if let Some(sp) = sp {
                t.push_str(&format!("; sp={sp}"));
            }
            if let Some(pct) = pct {
                t.push_str(&format!("; pct={pct}"));
            }
            if let Some(a) = adkim {
                t.push_str(&format!("; adkim={a}"));
            }
            if !rua.is_empty() {
                let uris: Vec<String> = rua
                    .iter()
                    .map(|u| format!("mailto:{u}@example.com"))
                    .collect();
                t.push_str(&format!("; rua={}", uris.join(",")));
            }
            if let Some(ri) = ri {
                t.push_str(&format!("; ri={ri}"));
            }
            t
        })
}
