//! The lab's reports as JSON and XML, held to golden files: a change of the report's shape or
//! content shows here as a diff. What differs from run to run (times, ports, generated keys,
//! certificates and dates) is replaced by placeholders before the comparison.
//!
//! Every report also reads back from its JSON (serde) as an equal report.
//!
//! Bless after an intended change: `CHECKTLS_BLESS=1 cargo test --test report_golden`, then
//! read the diff of `tests/golden/reports/`.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_reports_match_their_golden_files() {
    let lab = Scenario::start().await.expect("lab");
    let mut opts = ReceiverOptions::default();
    opts.port = Some(lab.smtp_port());
    opts.timeout = Duration::from_secs(5);
    opts.resolver.nameservers = vec![lab.dns_addr()];
    opts.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    opts.allow_non_global = true; // the lab lives on loopback
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).expect("root");
    let mut routes = StaticConnector::new().allowing_non_global();
    for (h, a) in lab.https_routes() {
        routes.insert(h, *a);
    }
    let checker = Checker::builder(opts)
        .trust(trust)
        .https_connector(Arc::new(routes))
        .build()
        .await
        .expect("checker");
    let bless = std::env::var_os("CHECKTLS_BLESS").is_some();
    let dir = golden_dir();
    if bless {
        std::fs::create_dir_all(&dir).expect("dir");
    }
    let mut differ = Vec::new();
    for d in lab.domains() {
        let target: Target = format!("postmaster@{}", d.domain).parse().expect("target");
        let report = checker.check(&target).await.expect("report");
        // Every report reads back from its JSON as the same report.
        let json_text = serde_json::to_string(&report).expect("serialise");
        let back: ReceiverReport = serde_json::from_str(&json_text)
            .unwrap_or_else(|e| panic!("{}: the JSON does not read back: {e}", d.domain));
        assert!(back == report, "{}: the report read back differs", d.domain);
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
