//! Golden tests for the record parsers: each `tests/data/<parser>/NNN.txt` (one record; the
//! trailing newline is not part of it) beside `NNN.expected.json` (the parse and the canonical
//! form). One directory-walking test per parser.
//!
//! Bless (rewrite the expected files from the current output) after an intended change:
//!
//! ```sh
//! CHECKTLS_BLESS=1 cargo test -p checktls-dns --test golden
//! git diff checktls-dns/tests/data   # review every change
//! ```

use std::fmt::Display;
use std::path::{Path, PathBuf};

use checktls_dns::records::{Parsed, bimi, dkim, dmarc, mta_sts, spf, tls_rpt};
use serde::Serialize;
use serde_json::{Value, json};

fn output<T: Serialize + Display>(parsed: Parsed<T>) -> Value {
    let canonical = parsed.value.as_ref().map(ToString::to_string);
    json!({ "parsed": parsed, "canonical": canonical })
}

fn run(parser: &str, parse: impl Fn(&str) -> Value) {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(parser);
    let bless = std::env::var_os("CHECKTLS_BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    let mut failures = Vec::new();
    for input in &inputs {
        let raw = std::fs::read_to_string(input).expect("input is UTF-8");
        let text = raw.strip_suffix('\n').unwrap_or(&raw);
        let got = parse(text);
        let expected_path = input.with_extension("expected.json");
        let pretty = serde_json::to_string_pretty(&got).expect("serialises") + "\n";
        if bless {
            std::fs::write(&expected_path, pretty).expect("write expected");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) => {
                let expected: Value = serde_json::from_str(&expected)
                    .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
                if expected != got {
                    failures.push(format!(
                        "{}\n--- expected\n{}\n--- got\n{pretty}",
                        input.display(),
                        serde_json::to_string_pretty(&expected).unwrap_or_default()
                    ));
                }
            }
            Err(_) => failures.push(format!(
                "{}: no {} (run with CHECKTLS_BLESS=1 to create it)",
                input.display(),
                expected_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden files differ:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn mta_sts_txt() {
    run("mta_sts", |t| output(mta_sts::parse(t)));
}

#[test]
fn tls_rpt_txt() {
    run("tls_rpt", |t| output(tls_rpt::parse(t)));
}

#[test]
fn spf_record() {
    run("spf", |t| {
        let mut v = output(spf::parse(t));
        v["local_lookups"] = json!(spf::parse(t).value.map(|r| r.local_lookups()));
        v
    });
}

#[test]
fn dmarc_record() {
    run("dmarc", |t| output(dmarc::parse(t)));
}

#[test]
fn dkim_key() {
    run("dkim", |t| {
        let parsed = dkim::parse(t);
        let bits = parsed.value.as_ref().map(|k| k.key_bits());
        let mut v = output(parsed);
        v["key_bits"] = json!(bits);
        v
    });
}

#[test]
fn bimi_record() {
    run("bimi", |t| output(bimi::parse(t)));
}
