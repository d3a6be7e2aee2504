//! Properties of the parser: it never panics, its error positions are inside the input, and
//! a batch written out and read back is the same batch.

use checktls_batch::model::{Function, Test, Value};
use checktls_batch::{Error, Position, parse};
use proptest::prelude::*;

const SEED: &str = include_str!("golden/04-mimecast-default.xml");
const FEATURES: &str = include_str!("golden/08-extensions.xml");

fn position(e: &Error) -> Option<Position> {
    let text = e.to_string();
    let mut parts = text.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    Some(Position { line, column })
}

fn check_position(input: &str, e: &Error) {
    if let Some(p) = position(e) {
        let lines: Vec<&str> = input.split('\n').collect();
        assert!(
            p.line >= 1 && (p.line as usize) <= lines.len(),
            "{e} in {} lines",
            lines.len()
        );
        let line = lines[p.line as usize - 1];
        assert!(
            p.column >= 1 && (p.column as usize) <= line.chars().count() + 1,
            "{e}: line has {} characters",
            line.chars().count()
        );
    }
}

#[derive(Debug, Clone)]
struct Gen {
    target: String,
    sni: Option<String>,
    port: Option<u16>,
    count: Option<u32>,
    quick: Option<bool>,
    suppress: Option<(Function, Test, u16)>,
}

fn domain() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}[a-z0-9]\\.(example|test|com)"
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        domain(),
        (domain(), "[a-z]{1,8}").prop_map(|(d, u)| format!("{u}@{d}")),
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
    ]
}

fn spec() -> impl Strategy<Value = Gen> {
    let function = prop_oneof![
        Just(Function::Minimum),
        Just(Function::Maximum),
        Just(Function::Average),
        Just(Function::Count)
    ];
    let test = prop_oneof![
        Just(Test::Eq),
        Just(Test::Ne),
        Just(Test::Lt),
        Just(Test::Le),
        Just(Test::Gt),
        Just(Test::Ge)
    ];
    (
        target(),
        proptest::option::of(domain()),
        proptest::option::of(1u16..),
        proptest::option::of(1u32..=100),
        proptest::option::of(any::<bool>()),
        proptest::option::of((function, test, 0u16..200)),
    )
        .prop_map(|(target, sni, port, count, quick, suppress)| Gen {
            target,
            sni,
            port,
            count,
            quick,
            suppress,
        })
}

fn write(targets: &[Gen]) -> String {
    let mut xml =
        String::from("<BatchTest TestType=\"receiver\" xmlns:ct=\"urn:checktls-rs:batch:1\">\n");
    for t in targets {
        xml.push_str("  <Target");
        if let Some(s) = &t.sni {
            xml.push_str(&format!(" SNI=\"{s}\""));
        }
        if let Some(p) = t.port {
            xml.push_str(&format!(" Port=\"{p}\""));
        }
        if let Some(c) = t.count {
            xml.push_str(&format!(" Count=\"{c}\""));
        }
        if let Some(q) = t.quick {
            xml.push_str(&format!(" ct:Quick=\"{q}\""));
        }
        xml.push('>');
        if let Some((f, op, v)) = t.suppress {
            xml.push_str(&format!(
                "<Suppress Function=\"{}\" Test=\"{}\" Value=\"{v}\"/>",
                f.name(),
                op.name()
            ));
        }
        xml.push_str(&t.target);
        xml.push_str("</Target>\n");
    }
    xml.push_str("</BatchTest>\n");
    xml
}

proptest! {
    #[test]
    fn never_panics_on_any_text(s in "\\PC{0,400}") {
        if let Err(e) = parse(&s) {
            check_position(&s, &e);
        }
    }

    #[test]
    fn never_panics_on_a_damaged_batch(
        which in any::<bool>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in "[<>&;\"'=/a-zA-Z0-9 \\n:!\\[\\]-]{0,12}",
    ) {
        let base = if which { SEED } else { FEATURES };
        let mut i = at.index(base.len());
        while !base.is_char_boundary(i) { i -= 1; }
        let mut j = (i + cut).min(base.len());
        while !base.is_char_boundary(j) { j -= 1; }
        let damaged = format!("{}{}{}", &base[..i], insert, &base[j..]);
        match parse(&damaged) {
            Ok(b) => prop_assert!(!b.targets.is_empty()),
            Err(e) => check_position(&damaged, &e),
        }
    }

    #[test]
    fn written_batches_read_back(targets in proptest::collection::vec(spec(), 1..20)) {
        let xml = write(&targets);
        let b = parse(&xml).unwrap();
        prop_assert_eq!(b.targets.len(), targets.len());
        for (got, want) in b.targets.iter().zip(&targets) {
            prop_assert_eq!(&got.text, &want.target);
            prop_assert_eq!(&got.options.sni, &want.sni);
            prop_assert_eq!(got.options.port, want.port);
            prop_assert_eq!(got.options.count(), want.count.unwrap_or(1));
            prop_assert_eq!(got.options.quick, want.quick);
            match want.suppress {
                None => prop_assert!(got.suppress.is_empty()),
                Some((f, op, v)) => {
                    prop_assert_eq!(got.suppress[0].function, f);
                    prop_assert_eq!(got.suppress[0].test, op);
                    prop_assert_eq!(&got.suppress[0].value, &Value::Number(f64::from(v)));
                }
            }
        }
        let total: usize = targets.iter().map(|t| t.count.unwrap_or(1) as usize).sum();
        prop_assert_eq!(b.test_count(), total);
    }
}
