//! Properties of the target grammar: every target reads back from its text, reading never
//! panics, and an error's position lies within the input.

use std::net::IpAddr;
use std::num::NonZeroU16;

use checktls_types::DomainName;
use checktls_types::target::{GivenHost, HostSpec, LocalPart, Target};
use proptest::prelude::*;

/// A label of host-name characters (never all digits: a letter comes first).
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}(-[a-zA-Z0-9_]{1,4})?"
}

fn domain() -> impl Strategy<Value = DomainName> {
    proptest::collection::vec(label(), 2..5)
        .prop_map(|l| DomainName::parse(&l.join(".")).expect("generated names are valid"))
}

fn local_part() -> impl Strategy<Value = LocalPart> {
    prop_oneof![
        "[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,30}",
        "\"[A-Za-z0-9@<>(),;:.-]{0,20}\"",
    ]
    .prop_map(|l| LocalPart::parse(&l).expect("generated local parts are valid"))
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from),
    ]
}

fn port() -> impl Strategy<Value = Option<NonZeroU16>> {
    proptest::option::of(any::<NonZeroU16>())
}

fn given_host() -> impl Strategy<Value = GivenHost> {
    let host = prop_oneof![
        domain().prop_map(HostSpec::Name),
        label().prop_map(|l| HostSpec::Name(DomainName::parse(&l).expect("one label"))),
        ip().prop_map(HostSpec::Ip),
    ];
    (host, port()).prop_map(|(h, p)| GivenHost::new(h, p))
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (domain(), proptest::option::of(given_host()))
            .prop_map(|(domain, host)| Target::Domain { domain, host }),
        (local_part(), domain(), proptest::option::of(given_host())).prop_map(
            |(local_part, domain, host)| Target::Address {
                local_part,
                domain,
                host
            }
        ),
        (ip(), port()).prop_map(|(address, port)| Target::Ip { address, port }),
    ]
}

proptest! {
    #[test]
    fn every_target_reads_back_from_its_text(t in target()) {
        let text = t.to_string();
        let again: Target = text
            .parse()
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&again, &t, "{}", text);
        // And through serde, as reports carry it.
        let json = serde_json::to_string(&t).expect("json");
        prop_assert_eq!(serde_json::from_str::<Target>(&json).expect("back"), t);
    }

    #[test]
    fn a_given_host_reads_back_from_its_text(h in given_host()) {
        let text = h.to_string();
        prop_assert_eq!(text.parse::<GivenHost>().expect("reads back"), h, "{}", text);
    }

    #[test]
    fn reading_never_panics_and_errors_point_into_the_input(s in "\\PC{0,80}") {
        if let Err(e) = s.parse::<Target>() {
            prop_assert!(e.position <= s.chars().count(), "{}", e);
            prop_assert!(!e.expected.is_empty());
        }
        if let Err(e) = s.parse::<GivenHost>() {
            prop_assert!(e.position <= s.chars().count(), "{}", e);
        }
    }

    #[test]
    fn target_like_text_reads_back_when_it_reads(s in "[a-z0-9@\\[\\]:.\"-]{0,40}") {
        if let Ok(t) = s.parse::<Target>() {
            prop_assert_eq!(t.to_string().parse::<Target>().expect("reads back"), t);
        }
    }
}
