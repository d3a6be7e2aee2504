//! The lab's reports as JSON and XML, held to golden files: a change of the report's shape or
//! content shows here as a diff. What differs from run to run (times, ports, generated keys,
//! certificates and dates) is replaced by placeholders before the comparison.
//!
//! Every report also reads back from its JSON (serde) as an equal report, and its JSON, as
//! serde writes it and at each level rendered here, is valid against the report's JSON Schema
//! (so are the reports of a second pass with AssureTLS, the full prober and raw traffic on),
//! `schema/report.schema.json` (checked with boon, a validator independent of schemars, which
//! makes the schema from the types: `checktls::output::json_schema()`). The checked-in schema is
//! held to what the types make, like the golden files.
//!
//! Bless after an intended change: `CHECKTLS_BLESS=1 cargo test --test report_golden`, then
//! read the diff of `tests/golden/reports/` and `schema/report.schema.json`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use checktls::options::ReceiverOptions;
use checktls::output::{Format, Level, render};
use checktls::report::ReceiverReport;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::scenario::Scenario;
use regex::Regex;

/// Keys whose values change from run to run.
const VOLATILE_KEYS: &[&str] = &[
    "ms",
    "handshake_ms",
    "duration_ms",
    "started_unix",
    "elapsed_ms",
    "at_us",
    "sha256",
    "pem",
    "not_before",
    "not_after",
    "port",
    "id",
    // Whole days from a certificate made "now": 90 or 89 by when the test reads it.
    "days_to_expiry",
];

fn placeholders(text: &str) -> String {
    static RULES: std::sync::LazyLock<Vec<(Regex, &'static str)>> =
        std::sync::LazyLock::new(|| {
            RULE_TEXTS
                .iter()
                .map(|(p, w)| (Regex::new(p).expect("pattern"), *w))
                .collect()
        });
    let mut out = text.to_owned();
    for (re, with) in RULES.iter() {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

const RULE_TEXTS: [(&str, &str); 10] = [
    // Certificates in PEM (made afresh each run).
    (
        r"(?s)-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?",
        "PEM",
    ),
    // The lab's SMTP port, in TLSA names and XML attributes.
    (r"_\d+\._tcp", "_PORT._tcp"),
    (r#"port="\d+""#, r#"port="PORT""#),
    // Transcript times.
    (r"\[\d{3}\.\d{3}\]", "[SSS.mmm]"),
    // Loopback ports.
    (r"(127\.0\.\d+\.\d+)(\]?):\d{2,5}", "$1$2:PORT"),
    // Hex of keys and digests (TLSA data, fingerprints, key tags aside).
    (r"\b[0-9A-Fa-f]{32,}\b", "HEX"),
    // Base64 of keys and signatures (DNSKEY, DS, RRSIG in records).
    (r"[A-Za-z0-9+/]{40,}={0,2}", "B64"),
    // Dates and times.
    (
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
        "DATE",
    ),
    // Unix times in texts.
    (r"\b1[6-9]\d{8}\b", "UNIX"),
    // Milliseconds in texts ("took 12 ms").
    (r"\b\d+ ms\b", "N ms"),
];

fn normalise_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, value) in map.iter_mut() {
                if VOLATILE_KEYS.contains(&k.as_str()) && !value.is_null() {
                    *value = serde_json::Value::String("<volatile>".into());
                } else {
                    normalise_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalise_json),
        serde_json::Value::String(s) => *s = placeholders(s),
        _ => {}
    }
}

fn json(report: &ReceiverReport, level: Level) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&render(report, level, Format::Json)).expect("json");
    normalise_json(&mut v);
    let mut s = serde_json::to_string_pretty(&v).expect("json");
    s.push('\n');
    s
}

fn xml(report: &ReceiverReport, level: Level) -> String {
    let ms = Regex::new(r#"ms="\d+""#).expect("pattern");
    let text = render(report, level, Format::Xml);
    placeholders(&ms.replace_all(&text, r#"ms="N""#))
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reports")
}

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json")
}

/// The schema as the types make it, as it is checked in.
fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&checktls::output::json_schema()).expect("json");
    text.push('\n');
    text
}

/// The checked-in schema, compiled: its root or one of its definitions (`#/$defs/Name`).
struct Validator {
    schemas: boon::Schemas,
    compiler: boon::Compiler,
}

impl Validator {
    const URL: &str = "urn:checktls:report.schema.json";

    fn new() -> Self {
        let text = std::fs::read_to_string(schema_path())
            .unwrap_or_else(|e| panic!("{}: {e} (bless first)", schema_path().display()));
        let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler.add_resource(Self::URL, schema).expect("resource");
        Self {
            schemas: boon::Schemas::new(),
            compiler,
        }
    }

    /// Why `value` is not valid against the schema at `fragment` (`""` for the report), if it
    /// is not.
    fn violations(&mut self, value: &serde_json::Value, fragment: &str) -> Option<String> {
        let index = self
            .compiler
            .compile(&format!("{}#{fragment}", Self::URL), &mut self.schemas)
            .unwrap_or_else(|e| panic!("the schema does not compile: {e:#}"));
        self.schemas
            .validate(value, index)
            .err()
            .map(|e| format!("{e}"))
    }
}

#[test]
fn the_checked_in_schema_is_what_the_types_make() {
    let text = schema_text();
    if std::env::var_os("CHECKTLS_BLESS").is_some() {
        std::fs::create_dir_all(schema_path().parent().expect("dir")).expect("dir");
        std::fs::write(schema_path(), &text).expect("write");
        return;
    }
    let want = std::fs::read_to_string(schema_path())
        .unwrap_or_else(|e| panic!("{}: {e} (bless first)", schema_path().display()));
    assert!(
        want == text,
        "{} is not what the types make (bless it):\n{}",
        schema_path().display(),
        first_difference(&want, &text)
    );
}

#[test]
fn the_schema_refuses_what_is_never_written() {
    use serde_json::json;
    let mut v = Validator::new();
    let ok = |v: &mut Validator, value: serde_json::Value, at: &str| {
        assert_eq!(v.violations(&value, at), None, "{at}: {value}");
    };
    let refused = |v: &mut Validator, value: serde_json::Value, at: &str| {
        assert!(v.violations(&value, at).is_some(), "{at} accepts {value}");
    };
    ok(&mut v, json!("TLSv1.3"), "/$defs/TlsVersion");
    refused(&mut v, json!("TLSv9"), "/$defs/TlsVersion");
    refused(&mut v, json!("TLSv1_3"), "/$defs/TlsVersion"); // read, never written
    let stage = json!({"stage": "ehlo", "ok": true, "ms": 3});
    ok(&mut v, stage.clone(), "/$defs/StageView");
    refused(
        &mut v,
        json!({"stage": "helo", "ok": true, "ms": 3}),
        "/$defs/StageView",
    );
    refused(
        &mut v,
        json!({"stage": "ehlo", "ok": true}),
        "/$defs/StageView",
    );
    refused(
        &mut v,
        json!({"stage": "ehlo", "ok": true, "ms": -1}),
        "/$defs/StageView",
    );
    refused(
        &mut v,
        json!({"stage": "ehlo", "ok": true, "ms": 3, "s": 0}),
        "/$defs/StageView",
    );
    // Lookups: {"ok": value} or {"error": error}, never both; names in lower case.
    let timeout = json!({"error": "timeout", "query": {"name": "example.com", "type": "MX"}});
    ok(&mut v, json!({"error": timeout}), "/$defs/Lookup_MxSet");
    refused(
        &mut v,
        json!({"error": timeout, "ok": null}),
        "/$defs/Lookup_MxSet",
    );
    refused(&mut v, json!("Example.com"), "/$defs/DomainName");
    // A whole report without its grade.
    refused(
        &mut v,
        json!({"target": "example.com", "started_unix": 0, "duration_ms": 0, "tested": false,
               "dns": null, "mta_sts": null, "mx": [], "findings": []}),
        "",
    );
}

/// A checker of the lab; with `every_part`, also AssureTLS, the full prober and raw traffic.
async fn lab_checker(lab: &Scenario, every_part: bool) -> Checker {
    let mut opts = ReceiverOptions::default();
    opts.port = Some(lab.smtp_port());
    opts.timeout = Duration::from_secs(5);
    opts.resolver.nameservers = vec![lab.dns_addr()];
    opts.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    opts.allow_non_global = true; // the lab lives on loopback
    if every_part {
        opts.assure_tls = true;
        opts.legacy_probe = checktls::options::LegacyProbe::Full;
        opts.record_raw = true;
    }
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).expect("root");
    let mut routes = StaticConnector::new().allowing_non_global();
    for (h, a) in lab.https_routes() {
        routes.insert(h, *a);
    }
    Checker::builder(opts)
        .trust(trust)
        .https_connector(Arc::new(routes))
        .build()
        .await
        .expect("checker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_reports_match_their_golden_files() {
    let lab = Scenario::start().await.expect("lab");
    let checker = lab_checker(&lab, false).await;
    let bless = std::env::var_os("CHECKTLS_BLESS").is_some();
    let dir = golden_dir();
    if bless {
        std::fs::create_dir_all(&dir).expect("dir");
    }
    let mut differ = Vec::new();
    let mut validator = Validator::new();
    let (mut validated, mut invalid, mut broken) = (0, Vec::new(), None);
    for d in lab.domains() {
        let target: Target = format!("postmaster@{}", d.domain).parse().expect("target");
        let report = checker.check(&target).await.expect("report");
        // Every report reads back from its JSON as the same report.
        let json_text = serde_json::to_string(&report).expect("serialise");
        let back: ReceiverReport = serde_json::from_str(&json_text)
            .unwrap_or_else(|e| panic!("{}: the JSON does not read back: {e}", d.domain));
        assert!(back == report, "{}: the report read back differs", d.domain);
        // The JSON as serde writes it (every field) and as each level renders it is valid.
        let mut written = vec![("serde", json_text)];
        for level in [Level::Matrix, Level::CertDetail] {
            written.push((level.name(), render(&report, level, Format::Json)));
        }
        for (how, text) in written {
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            if let Some(why) = validator.violations(&value, "") {
                invalid.push(format!("{} ({how}): {why}", d.domain));
            }
            validated += 1;
            if broken.is_none() && value.pointer("/mx/0/tls/version").is_some() {
                broken = Some(value);
            }
        }
        for (level, name) in [(Level::Matrix, "matrix"), (Level::CertDetail, "certdetail")] {
            for (ext, text) in [("json", json(&report, level)), ("xml", xml(&report, level))] {
                let path = dir.join(format!("{}.{name}.{ext}", d.domain));
                if bless {
                    std::fs::write(&path, &text).expect("write");
                    continue;
                }
                let want = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e} (bless first)", path.display()));
                if want != text {
                    differ.push(format!(
                        "{}:\n{}",
                        path.display(),
                        first_difference(&want, &text)
                    ));
                }
            }
        }
    }
    // The parts the golden reports leave out (AssureTLS, the full prober, raw traffic), at
    // the levels that show them.
    let checker = lab_checker(&lab, true).await;
    for d in lab.domains() {
        let target: Target = format!("postmaster@{}", d.domain).parse().expect("target");
        let report = checker.check(&target).await.expect("report");
        let mut written = vec![("serde", serde_json::to_string(&report).expect("serialise"))];
        for level in [Level::SslDetail, Level::Debug, Level::SslProbe] {
            written.push((level.name(), render(&report, level, Format::Json)));
        }
        for (how, text) in written {
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            if let Some(why) = validator.violations(&value, "") {
                invalid.push(format!("{} (every part, {how}): {why}", d.domain));
            }
            validated += 1;
        }
    }
    assert!(invalid.is_empty(), "{}", invalid.join("\n\n"));
    assert!(
        validated >= 7 * lab.domains().len(),
        "{validated} reports validated"
    );
    eprintln!(
        "{validated} report JSONs valid against {}",
        schema_path().display()
    );
    // The same reports, broken, are not.
    let report = broken.expect("a report with TLS");
    for (what, at, with) in [
        (
            "an unknown TLS version",
            "/mx/0/tls/version",
            Some(serde_json::json!("TLSv9")),
        ),
        ("no grade", "/confidence_factor", None),
        (
            "a misspelt field",
            "/mx/0/tls/cypher",
            Some(serde_json::json!("x")),
        ),
    ] {
        let mut value = report.clone();
        let (parent, key) = at.rsplit_once('/').expect("pointer");
        let obj = value
            .pointer_mut(parent)
            .and_then(|p| p.as_object_mut())
            .expect("parent");
        match with {
            Some(w) => obj.insert(key.to_owned(), w),
            None => obj.remove(key),
        };
        assert!(
            validator.violations(&value, "").is_some(),
            "a report with {what} ({at}) is valid against the schema"
        );
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (a, b)) in want.lines().zip(got.lines()).enumerate() {
        if a != b {
            return format!("line {}:\n  want: {a}\n  got:  {b}", i + 1);
        }
    }
    format!(
        "one is longer: {} lines against {}",
        want.lines().count(),
        got.lines().count()
    )
}
