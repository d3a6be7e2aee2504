//! The parser: the seed's examples, DEFAULT inheritance, extensions, secrets, and errors
//! that name the exact line and column.

use std::time::Duration;

use checktls_batch::field::{Field, MxField};
use checktls_batch::model::{
    AuthType, CertNames, Function, GivenHost, HostSpec, IpFamily, Limit, Recipient, StopAfter,
    Target, Test, TlsMode, TotalFunction, Value,
};
use checktls_batch::report::{Stage, TlsVersion};
use checktls_batch::{Error, Format, Limits, TestType, parse, parse_bytes, parse_with};

fn golden(name: &str) -> String {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn seed_check_each_host() {
    let b = parse(&golden("01-mimecast-check-each-host.xml")).unwrap();
    assert_eq!(b.test_type, TestType::Receiver);
    assert_eq!(b.targets.len(), 22);
    let first = &b.targets[0];
    assert_eq!(first.text, "205.139.110.177");
    assert_eq!(
        first.target,
        Target::Ip {
            address: "205.139.110.177".parse().unwrap(),
            port: None
        }
    );
    assert_eq!(
        first.options.sni.as_deref(),
        Some("us-smtp-inbound-1.mimecast.com")
    );
    assert_eq!(
        b.targets[21].options.sni.as_deref(),
        Some("us-smtp-o365-outbound-1.mimecast.com")
    );
    assert!(b.targets.iter().all(|t| t.suppress.is_empty()));
    assert_eq!(b.deliveries.len(), 1);
    assert_eq!(
        b.deliveries[0].to,
        [Recipient::Email("checktls@mimecast.com".into())]
    );
    assert_eq!(b.deliveries[0].format, Format::Text);
    assert!(b.total.is_none());
    assert_eq!(b.test_count(), 22);
}

#[test]
fn seed_delivery_suppress() {
    let b = parse(&golden("02-mimecast-delivery-suppress.xml")).unwrap();
    let s = &b.deliveries[0].suppress;
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].function, s[0].test, &s[0].value, s[0].field),
        (
            Function::Minimum,
            Test::Ge,
            &Value::Number(114.0),
            Field::Score
        )
    );
}

#[test]
fn seed_target_suppress_and_default_agree() {
    let each = parse(&golden("03-mimecast-only-problem-hosts.xml")).unwrap();
    let default = parse(&golden("04-mimecast-default.xml")).unwrap();
    assert_eq!(each.targets.len(), 22);
    assert_eq!(default.targets.len(), 22, "DEFAULT is not a target");
    for (a, b) in each.targets.iter().zip(&default.targets) {
        assert_eq!(a.target, b.target);
        assert_eq!(a.options, b.options);
        assert_eq!(a.suppress.len(), 1);
        assert_eq!(
            (
                a.suppress[0].function,
                a.suppress[0].test,
                &a.suppress[0].value
            ),
            (
                b.suppress[0].function,
                b.suppress[0].test,
                &b.suppress[0].value
            )
        );
    }
}

#[test]
fn every_golden_batch_parses() {
    let dir = format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml")
            && !path.to_string_lossy().contains(".expected")
        {
            let xml = std::fs::read_to_string(&path).unwrap();
            parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 11, "{n} batches");
}

#[test]
fn default_is_inherited_overridden_and_replaced() {
    let b = parse(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">
  <Target Port="2525" SMTPTimeOut="20" ct:Quick="on"><Suppress Function="minimum" Test="ge" Value="100"/>DEFAULT</Target>
  <Target>one.example</Target>
  <Target Port="25"><Suppress Function="average" Test="gt" Value="50"/>two.example</Target>
  <Target Count="2">DEFAULT</Target>
  <Target>three.example</Target>
</BatchTest>"#,
    )
    .unwrap();
    let [one, two, three] = &b.targets[..] else {
        panic!("{:?}", b.targets)
    };
    assert_eq!(one.options.port, Some(2525));
    assert_eq!(one.options.smtp_timeout, Some(Duration::from_secs(20)));
    assert_eq!(one.options.quick, Some(true));
    assert_eq!(one.suppress[0].value, Value::Number(100.0));
    // Its own attribute wins; its own Suppress replaces the inherited one.
    assert_eq!(two.options.port, Some(25));
    assert_eq!(two.options.smtp_timeout, Some(Duration::from_secs(20)));
    assert_eq!(two.suppress.len(), 1);
    assert_eq!(two.suppress[0].function, Function::Average);
    // A later DEFAULT replaces the earlier one entirely.
    assert_eq!(three.options.port, None);
    assert_eq!(three.options.count(), 2);
    assert!(three.suppress.is_empty());
    assert_eq!(b.test_count(), 1 + 1 + 2);
}

#[test]
fn extensions_are_read() {
    let b = parse(&golden("08-extensions.xml")).unwrap();
    assert_eq!(b.name.as_deref(), Some("options"));
    assert_eq!(
        b.description.as_deref(),
        Some("Every extension attribute once")
    );
    let o = &b.targets[2].options;
    assert_eq!(o.tls_mode, Some(TlsMode::Compel));
    assert_eq!(o.stop_after, Some(StopAfter::Ehlo2));
    assert_eq!(o.mx_limit, Some(Limit::Count(1)));
    assert_eq!(o.host_limit, Some(Limit::Percent(50)));
    assert_eq!(o.ignore_no_connect, Some(true));
    assert_eq!(o.check_ocsp, Some(false));
    assert_eq!(o.ip, Some(IpFamily::V4));
    assert_eq!(o.ehlo_name.as_deref(), Some("probe.example.com"));
    assert_eq!(o.mail_from.as_deref(), Some("probe@example.com"));
    assert_eq!(o.send_email, Some(false));
    assert_eq!(o.expiry_warning_days, Some(21));
    assert_eq!(o.cert_names, Some(CertNames::MxHostOrDomain));
    assert_eq!(
        b.targets[2].suppress[0].field,
        Field::Mx(MxField::StageMs(Stage::Connect))
    );
    assert_eq!(b.targets[1].options.tls_mode, Some(TlsMode::Direct));
    assert_eq!(b.targets[1].options.port, Some(465));
    assert_eq!(b.deliveries[0].subject.as_deref(), Some("Batch: options"));
    assert_eq!(b.deliveries[0].format, Format::XmlMatrix);
}

#[test]
fn any_prefix_bound_to_the_extension_namespace_works() {
    let b = parse(
        r#"<BatchTest TestType="receiver" xmlns:rs="urn:checktls-rs:batch:1"><Target rs:DirectTLS="1">a.example</Target></BatchTest>"#,
    )
    .unwrap();
    assert_eq!(b.targets[0].options.tls_mode, Some(TlsMode::Direct));
}

/// ct:DirectTLS and ct:CompelTLS are one choice: both on is refused where the second is
/// written; either given replaces the DEFAULT's choice; either given as no is STARTTLS.
#[test]
fn direct_and_compel_tls_are_one_choice() {
    let e = at(
        &format!(
            "{HEAD}  <Target ct:CompelTLS=\"yes\" ct:DirectTLS=\"1\">a.example</Target>\n</BatchTest>"
        ),
        2,
        44,
    );
    assert!(
        e.to_string()
            .contains("not both ct:DirectTLS and ct:CompelTLS"),
        "{e}"
    );
    let b = parse(&format!(
        r#"{HEAD}<Target ct:CompelTLS="yes">DEFAULT</Target>
  <Target>a.example</Target>
  <Target ct:DirectTLS="yes">b.example</Target>
  <Target ct:DirectTLS="no">c.example</Target>
  <Target ct:CompelTLS="no" ct:DirectTLS="no">d.example</Target>
</BatchTest>"#
    ))
    .unwrap();
    let modes: Vec<Option<TlsMode>> = b.targets.iter().map(|t| t.options.tls_mode).collect();
    assert_eq!(
        modes,
        [
            Some(TlsMode::Compel),
            Some(TlsMode::Direct),
            Some(TlsMode::StartTls),
            Some(TlsMode::StartTls)
        ]
    );
    let e = err(&format!(
        "{HEAD}  <Target ct:CertNames=\"domain\">a.example</Target>\n</BatchTest>"
    ));
    assert!(
        e.to_string().contains("one of mx-host, mx-host-or-domain"),
        "{e}"
    );
}

#[test]
fn a_checktls_default_namespace_and_schema_location_are_accepted() {
    let b = parse(
        r#"<?xml version="1.0"?>
<BatchTest xmlns="http://www.checktls.com/BatchTest" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.checktls.com/BatchTest BatchTest.xsd" TestType="Receiver">
  <!-- a comment -->
  <Target>user@example.com</Target>
</BatchTest>"#,
    )
    .unwrap();
    let t = &b.targets[0].target;
    assert!(matches!(t, Target::Address { host: None, .. }), "{t:?}");
    assert_eq!(t.address().as_deref(), Some("user@example.com"));
}

#[test]
fn fields_and_values_are_typed() {
    let b = parse(&golden("07-field-alerts.xml")).unwrap();
    let s = &b.targets[0].suppress;
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].field, Field::Mx(MxField::CertDaysToExpiry));
    assert_eq!(s[1].value, Value::Number(1.0));
    assert_eq!(s[2].value, Value::Version(TlsVersion::Tls12));
    assert!(b.targets.iter().all(|t| t.suppress.len() == 3));
    assert_eq!(b.deliveries[0].suppress[0].function, Function::Count);
}

#[test]
fn total_and_its_threshold() {
    let b = parse(&golden("05-count-and-total.xml")).unwrap();
    let t = b.total.as_ref().unwrap();
    assert_eq!(
        (t.function, t.test, t.threshold),
        (TotalFunction::Average, Test::Ge, 100.0)
    );
    assert_eq!(b.test_count(), 7);
    let b = parse(&golden("10-assuretls.xml")).unwrap();
    assert_eq!(b.test_type, TestType::AssureTls);
    let t = b.total.as_ref().unwrap();
    assert_eq!(
        (t.function, t.test, t.threshold),
        (TotalFunction::Minimum, Test::Ge, 90.0)
    );
}

#[test]
fn auth_is_read_and_the_password_is_redacted() {
    let xml = golden("06-private-system.xml");
    let b = parse(&xml).unwrap();
    let o = &b.targets[0].options;
    let auth = o.auth().unwrap();
    assert_eq!(auth.mechanism, AuthType::Plain);
    assert_eq!(auth.user, "monitor");
    assert_eq!(auth.password.expose(), "not-a-real-password");
    let host: GivenHost = "submit.example.net".parse().unwrap();
    assert_eq!(o.host.as_ref(), Some(&host));
    assert_eq!(o.port, Some(587));
    // The Host attribute is the target's given host: no MX lookup.
    assert_eq!(b.targets[0].target.given_host(), Some(host));
    let debug = format!("{b:?}");
    assert!(!debug.contains("not-a-real-password"), "{debug}");
    let redacted = b.redacted_source();
    assert!(!redacted.contains("not-a-real-password"));
    assert!(redacted.contains(r#"AuthPass="********""#));
    assert_eq!(redacted.replace("********", "not-a-real-password"), xml);
}

#[test]
fn entities_are_predefined_or_character_references_only() {
    let b = parse(
        "<BatchTest TestType=\"receiver\"><Target SNI=\"mx&#46;example&#x2E;com\">&#x61;.example</Target><Delivery ct:Subject=\"a &amp; b\" xmlns:ct=\"urn:checktls-rs:batch:1\"><To>x@example.com</To></Delivery></BatchTest>",
    )
    .unwrap();
    assert_eq!(b.targets[0].options.sni.as_deref(), Some("mx.example.com"));
    assert_eq!(b.targets[0].text, "a.example");
    assert_eq!(b.deliveries[0].subject.as_deref(), Some("a & b"));
}

#[test]
fn cdata_text_is_read() {
    let b = parse(
        "<BatchTest TestType=\"receiver\"><Target><![CDATA[cdata.example]]></Target></BatchTest>",
    )
    .unwrap();
    assert_eq!(b.targets[0].text, "cdata.example");
}

// ---- errors, each with its exact line and column ----

#[track_caller]
fn err(xml: &str) -> Error {
    match parse(xml) {
        Ok(b) => panic!("parsed: {b:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn at(xml: &str, line: u32, column: u32) -> Error {
    let e = err(xml);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{line}:{column}: ")),
        "expected {line}:{column}, got: {text}"
    );
    e
}

const HEAD: &str = "<BatchTest TestType=\"receiver\" xmlns:ct=\"urn:checktls-rs:batch:1\">\n";

#[test]
fn error_unknown_attribute() {
    let e = at(
        &format!("{HEAD}  <Target Prot=\"25\">example.com</Target>\n</BatchTest>"),
        2,
        11,
    );
    assert!(matches!(e, Error::UnknownAttribute { ref attribute, .. } if attribute == "Prot"));
    assert!(
        e.to_string().contains("expected one of SNI, Host, Port"),
        "{e}"
    );
}

#[test]
fn error_unknown_extension_attribute() {
    let e = at(
        &format!("{HEAD}  <Target ct:Fast=\"1\">example.com</Target>\n</BatchTest>"),
        2,
        11,
    );
    assert!(matches!(e, Error::UnknownAttribute { ref attribute, .. } if attribute == "ct:Fast"));
}

#[test]
fn error_attribute_in_a_foreign_namespace() {
    let e = at(
        "<BatchTest TestType=\"receiver\" xmlns:x=\"urn:other\">\n<Target x:SNI=\"a\">a.example</Target></BatchTest>",
        2,
        9,
    );
    assert!(matches!(e, Error::UnknownAttribute { .. }));
}

#[test]
fn error_bad_boolean() {
    let e = at(
        &format!("{HEAD}<Target ct:DirectTLS=\"maybe\">example.com</Target></BatchTest>"),
        2,
        23,
    );
    assert!(matches!(
        e,
        Error::BadValue {
            name: "ct:DirectTLS",
            ..
        }
    ));
    assert!(e.to_string().contains("expected true or false"));
}

#[test]
fn error_unknown_element() {
    let e = at(
        &format!("{HEAD}\n   <Targt>example.com</Targt>\n</BatchTest>"),
        3,
        4,
    );
    assert!(
        matches!(e, Error::UnexpectedElement { ref found, parent: "BatchTest", .. } if found == "Targt")
    );
    assert!(
        e.to_string()
            .contains("expected <Target>, <Total> or <Delivery>")
    );
}

#[test]
fn error_missing_test_type() {
    let e = at(
        "\n\n  <BatchTest>\n<Target>a.example</Target></BatchTest>",
        3,
        3,
    );
    assert!(matches!(
        e,
        Error::Missing {
            element: "BatchTest",
            ..
        }
    ));
}

#[test]
fn error_unsupported_test_type() {
    let e = at(
        "<BatchTest TestType=\"thru\"><Target>a.example</Target></BatchTest>",
        1,
        22,
    );
    assert!(
        e.to_string()
            .contains("thru and sender batches are not supported"),
        "{e}"
    );
}

#[test]
fn error_wrong_root() {
    let e = at(
        "<?xml version=\"1.0\"?>\n<Batch TestType=\"receiver\"/>",
        2,
        1,
    );
    assert!(matches!(e, Error::Root { ref found, .. } if found == "Batch"));
}

#[test]
fn error_bad_target_text() {
    let e = at(
        &format!(
            "{HEAD}  <Target SNI=\"x.example\">\n      not a target\n  </Target>\n</BatchTest>"
        ),
        3,
        7,
    );
    assert!(matches!(e, Error::BadTarget { .. }));
}

/// The Batch reads its targets with the receiver test's grammar: what it accepts, the
/// receiver test can run, and a bad one is refused with where in the text and what was
/// expected.
#[test]
fn targets_are_read_with_the_receiver_grammar() {
    let e = at(
        &format!("{HEAD}  <Target>user@@example.com</Target>\n</BatchTest>"),
        2,
        11,
    );
    let Error::BadTarget {
        position, expected, ..
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(*position, 5, "{e}");
    assert!(expected.contains("one '@'"), "{e}");
    assert!(e.to_string().contains("at character 5"), "{e}");
    // An address literal cannot be tested: refused when the file is read, not at run time.
    let e = at(
        &format!("{HEAD}  <Target>user@[192.0.2.1]</Target>\n</BatchTest>"),
        2,
        11,
    );
    assert!(e.to_string().contains("address literal"), "{e}");

    // A host in the text wins over Host; Host applies to a domain or an address, not to an
    // IP target (which is its own host).
    let b = parse(&format!(
        r#"{HEAD}<Target Host="mx.example.net:2525">DEFAULT</Target>
  <Target>a.example</Target>
  <Target>user@b.example[[2001:db8::25]:587]</Target>
  <Target>[IPv6:2001:db8::7]</Target>
</BatchTest>"#
    ))
    .unwrap();
    let hosts: Vec<String> = b
        .targets
        .iter()
        .map(|t| {
            t.target
                .given_host()
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        hosts,
        ["mx.example.net:2525", "[2001:db8::25]:587", "[2001:db8::7]"]
    );
    assert_eq!(
        b.targets[2].text, "[IPv6:2001:db8::7]",
        "the text as written"
    );
    assert!(matches!(
        b.targets[0].options.host.as_ref().map(|h| &h.host),
        Some(HostSpec::Name(_))
    ));
}

#[test]
fn a_host_that_is_no_host_is_refused_where_it_is_written() {
    let e = at(
        &format!("{HEAD}  <Target Host=\"mx..test\">a.example</Target>\n</BatchTest>"),
        2,
        17,
    );
    let text = e.to_string();
    assert!(
        text.contains("Host") && text.contains("a host name"),
        "{text}"
    );
    let e = at(
        &format!("{HEAD}  <Target Host=\"mx.test:0\">a.example</Target>\n</BatchTest>"),
        2,
        17,
    );
    assert!(e.to_string().contains("a port from 1 to 65535"), "{e}");
}

#[test]
fn error_empty_target() {
    let e = at(
        &format!("{HEAD}  <Target SNI=\"x.example\"/>\n</BatchTest>"),
        2,
        3,
    );
    assert!(matches!(
        e,
        Error::Missing {
            element: "Target",
            ..
        }
    ));
}

#[test]
fn error_target_text_in_two_pieces() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example<Suppress Function=\"count\" Test=\"eq\" Value=\"1\"/>b.example</Target></BatchTest>"
        ),
        2,
        66,
    );
    assert!(matches!(
        e,
        Error::UnexpectedText {
            element: "Target",
            ..
        }
    ));
}

#[test]
fn error_suppress_without_value() {
    let e = at(
        &format!(
            "{HEAD}<Target>\n  <Suppress Function=\"minimum\" Test=\"ge\"/>a.example</Target></BatchTest>"
        ),
        3,
        3,
    );
    assert!(
        matches!(e, Error::Missing { element: "Suppress", what, .. } if what.contains("Value"))
    );
}

#[test]
fn error_suppress_bad_test() {
    let e = at(
        &format!(
            "{HEAD}<Target><Suppress Function=\"minimum\" Test=\"gte\" Value=\"1\"/>a.example</Target></BatchTest>"
        ),
        2,
        44,
    );
    assert!(
        e.to_string()
            .contains("expected one of eq, ne, lt, le, gt, ge"),
        "{e}"
    );
}

#[test]
fn error_suppress_bad_function() {
    let e = at(
        &format!(
            "{HEAD}<Target><Suppress Function=\"median\" Test=\"ge\" Value=\"1\"/>a.example</Target></BatchTest>"
        ),
        2,
        29,
    );
    assert!(
        e.to_string()
            .contains("expected one of minimum, maximum, average, count"),
        "{e}"
    );
}

#[test]
fn error_suppress_unknown_field() {
    let e = at(
        &format!(
            "{HEAD}<Target><Suppress Function=\"minimum\" Test=\"ge\" Value=\"1\" ct:Field=\"mx.colour\"/>a.example</Target></BatchTest>"
        ),
        2,
        68,
    );
    assert!(matches!(
        e,
        Error::BadValue {
            name: "ct:Field",
            ..
        }
    ));
    assert!(e.to_string().contains("mx.cert_days_to_expiry"));
}

#[test]
fn error_suppress_value_of_the_wrong_type() {
    let e = at(
        &format!(
            "{HEAD}<Target><Suppress Function=\"minimum\" Test=\"ge\" Value=\"1.2.3\" ct:Field=\"mx.tls_version\"/>a.example</Target></BatchTest>"
        ),
        2,
        55,
    );
    assert!(e.to_string().contains("expected a TLS version"), "{e}");
}

#[test]
fn error_average_of_text() {
    let e = at(
        &format!(
            "{HEAD}<Target><Suppress Function=\"average\" Test=\"eq\" Value=\"x\" ct:Field=\"mx.cipher\"/>a.example</Target></BatchTest>"
        ),
        2,
        29,
    );
    assert!(e.to_string().contains("has no average"), "{e}");
}

#[test]
fn error_field_with_count() {
    let e = at(
        &format!(
            "{HEAD}<Target><Suppress Function=\"count\" Test=\"eq\" Value=\"0\" ct:Field=\"score\"/>a.example</Target></BatchTest>"
        ),
        2,
        66,
    );
    assert!(matches!(
        e,
        Error::BadValue {
            name: "ct:Field",
            ..
        }
    ));
}

#[test]
fn error_total_twice() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example</Target>\n<Total Function=\"average\"/>\n  <Total Function=\"minimum\"/></BatchTest>"
        ),
        4,
        3,
    );
    assert!(matches!(
        e,
        Error::Repeated {
            element: "Total",
            ..
        }
    ));
}

#[test]
fn error_total_without_function() {
    let e = at(
        &format!("{HEAD}<Target>a.example</Target><Total/></BatchTest>"),
        2,
        27,
    );
    assert!(matches!(
        e,
        Error::Missing {
            element: "Total",
            ..
        }
    ));
}

#[test]
fn error_delivery_without_to() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example</Target>\n <Delivery><Format>csv</Format></Delivery></BatchTest>"
        ),
        3,
        2,
    );
    assert!(matches!(
        e,
        Error::Missing {
            element: "Delivery",
            ..
        }
    ));
}

#[test]
fn error_bad_recipient() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example</Target><Delivery><To> nobody </To></Delivery></BatchTest>"
        ),
        2,
        42,
    );
    assert!(
        e.to_string().contains("expected an email address or File"),
        "{e}"
    );
}

#[test]
fn error_unknown_format() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example</Target><Delivery><To>File</To>\n<Format>excel</Format></Delivery></BatchTest>"
        ),
        3,
        9,
    );
    assert!(
        e.to_string().contains("expected one of text, csv, pager"),
        "{e}"
    );
}

#[test]
fn error_format_twice() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example</Target><Delivery><To>File</To><Format>csv</Format><Format>xml</Format></Delivery></BatchTest>"
        ),
        2,
        70,
    );
    assert!(matches!(
        e,
        Error::Repeated {
            element: "Format",
            ..
        }
    ));
}

#[test]
fn error_only_node_with_a_text_format() {
    let e = at(
        &format!(
            "{HEAD}<Target>a.example</Target><Delivery><To>File</To><OnlyNode>MX</OnlyNode></Delivery></BatchTest>"
        ),
        2,
        50,
    );
    assert!(matches!(e, Error::UnexpectedElement { ref found, .. } if found == "OnlyNode"));
}

#[test]
fn error_count_out_of_range() {
    let e = at(
        &format!("{HEAD}<Target Count=\"0\">a.example</Target></BatchTest>"),
        2,
        16,
    );
    assert!(
        e.to_string().contains("a whole number from 1 to 100"),
        "{e}"
    );
    at(
        &format!("{HEAD}<Target Count=\"101\">a.example</Target></BatchTest>"),
        2,
        16,
    );
}

#[test]
fn error_port_out_of_range() {
    let e = at(
        &format!("{HEAD}<Target Port=\"70000\">a.example</Target></BatchTest>"),
        2,
        15,
    );
    assert!(matches!(e, Error::BadValue { name: "Port", .. }));
}

#[test]
fn error_password_without_user_never_shows_the_password() {
    let e = at(
        &format!("{HEAD}<Target AuthPass=\"hunter2-secret\">a.example</Target></BatchTest>"),
        2,
        1,
    );
    assert!(matches!(
        e,
        Error::Missing {
            what: "AuthUser when AuthPass or ct:AuthPassEnv is given",
            ..
        }
    ));
    let e = at(
        &format!(
            "{HEAD}<Target AuthUser=\"u\" AuthPass=\"hunter2&secret;\">a.example</Target></BatchTest>"
        ),
        2,
        32,
    );
    assert!(matches!(e, Error::BadSecret { .. }));
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("secret;"),
        "{shown}"
    );
}

#[test]
fn error_duplicate_attribute() {
    let e = at(
        &format!("{HEAD}<Target Port=\"25\" Port=\"26\">a.example</Target></BatchTest>"),
        2,
        19,
    );
    assert!(matches!(e, Error::DuplicateAttribute { .. }));
}

#[test]
fn error_doctype_is_refused() {
    let e = at(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE BatchTest [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>\n<BatchTest TestType=\"receiver\"><Target>&b;</Target></BatchTest>",
        2,
        1,
    );
    assert!(matches!(e, Error::Doctype { .. }));
}

#[test]
fn error_undeclared_entity() {
    let e = at(
        &format!("{HEAD}<Target>&lab;.example</Target></BatchTest>"),
        2,
        9,
    );
    assert!(matches!(e, Error::Entity { ref name, .. } if name == "lab"));
}

#[test]
fn error_mismatched_end_tag() {
    let e = at(
        &format!("{HEAD}<Target>a.example</Targe>\n</BatchTest>"),
        2,
        18,
    );
    assert!(matches!(e, Error::Malformed { .. }));
}

#[test]
fn error_unterminated_file() {
    let e = at(&format!("{HEAD}<Target>a.example</Target>\n"), 3, 1);
    assert!(matches!(e, Error::Malformed { .. }));
}

#[test]
fn error_text_after_the_root() {
    let e = at(
        &format!("{HEAD}<Target>a.example</Target></BatchTest>\n  trailing"),
        3,
        3,
    );
    assert!(matches!(e, Error::UnexpectedText { .. }));
}

#[test]
fn error_no_real_target() {
    let e = at(
        &format!("{HEAD}<Target Port=\"25\">DEFAULT</Target></BatchTest>"),
        1,
        1,
    );
    assert!(matches!(
        e,
        Error::Missing {
            what: "at least one <Target> that is not DEFAULT",
            ..
        }
    ));
}

#[test]
fn error_columns_count_characters_not_bytes() {
    // "é" is two bytes; the column counts it once.
    let e = at(
        "<BatchTest TestType=\"receiver\" ct:Description=\"é\" xmlns:ct=\"urn:checktls-rs:batch:1\" Bad=\"1\"><Target>a.example</Target></BatchTest>",
        1,
        86,
    );
    assert!(matches!(e, Error::UnknownAttribute { .. }));
}

#[test]
fn error_size_bounds() {
    let mut limits = Limits::default();
    limits.max_bytes = 100;
    let big = format!(
        "{HEAD}{}</BatchTest>",
        "<Target>a.example</Target>".repeat(10)
    );
    assert!(matches!(
        parse_with(&big, &limits),
        Err(Error::TooLarge { limit: 100, .. })
    ));
    let mut limits = Limits::default();
    limits.max_targets = 3;
    let e = parse_with(&big, &limits).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Limit {
                what: "targets",
                limit: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with("2:79: "), "{e}");
    let long = format!(
        "{HEAD}<Target>{}.example</Target></BatchTest>",
        "a".repeat(5000)
    );
    assert!(matches!(parse(&long), Err(Error::Limit { .. })));
}

#[test]
fn error_not_utf8() {
    let e = parse_bytes(
        b"<BatchTest TestType=\"receiver\">\n<Target>\xff</Target></BatchTest>",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("2:9: "), "{e}");
}

#[test]
fn a_byte_order_mark_is_allowed_and_columns_stay_right() {
    let e = err(
        "\u{feff}<BatchTest TestType=\"receiver\" Bad=\"1\"><Target>a.example</Target></BatchTest>",
    );
    assert!(e.to_string().starts_with("1:32: "), "{e}");
}

#[test]
fn schedule_time_zone_and_alert_are_read() {
    let b = parse(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1"
  ct:Schedule="weekly on monday 06:00" ct:TimeZone="Europe/Berlin" ct:Alert="change"><Target>a.example</Target></BatchTest>"#,
    )
    .unwrap();
    let s = b.schedule.unwrap();
    assert_eq!(
        (s.expression.as_str(), s.time_zone.as_str()),
        ("weekly on monday 06:00", "Europe/Berlin")
    );
    assert_eq!(b.alert, checktls_batch::model::Alert::Change);
}

#[test]
fn error_bad_schedule_time_zone_and_alert() {
    let head = "<BatchTest TestType=\"receiver\" xmlns:ct=\"urn:checktls-rs:batch:1\"\n  ";
    let tail = "><Target>a.example</Target></BatchTest>";
    let e = at(&format!("{head}ct:Schedule=\"every tuesday\"{tail}"), 2, 16);
    assert!(e.to_string().contains("ct:Schedule"), "{e}");
    let e = at(
        &format!("{head}ct:Schedule=\"daily\" ct:TimeZone=\"Mars/Olympus\"{tail}"),
        2,
        36,
    );
    assert!(e.to_string().contains("IANA"), "{e}");
    let e = at(&format!("{head}ct:Alert=\"sometimes\"{tail}"), 2, 13);
    assert!(e.to_string().contains("change-or-failure"), "{e}");
    let e = at(&format!("{head}ct:TimeZone=\"UTC\"{tail}"), 2, 16);
    assert!(e.to_string().contains("ct:Schedule"), "{e}");
}
