//! The receiver test's JSON report of every lab domain, compared with a golden file: grades,
//! findings, stages, TLS facts, DNS answers and proofs must not change when only the speed of
//! the test does (issue 15: the DNS and SMTP stages overlap, keys are asked once).
//!
//! What differs from run to run is replaced before comparing: times and durations, the lab's
//! ephemeral ports, and what the freshly generated PKI and DNSSEC keys make of the bytes
//! (certificates, keys, digests, serials, dates). Everything else is compared as is.
//!
//! Bless (after a change that is meant to change reports):
//! `CHECKTLS_BLESS=1 cargo test --test golden_receiver`, then review the diff of
//! `tests/golden/receiver/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use checktls::options::ReceiverOptions;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::scenario::Scenario;
use serde_json::Value;

/// Keys whose values change from run to run (times, generated keys and certificates).
const VARYING: &[&str] = &[
    "started_unix",
    "duration_ms",
    "elapsed_ms",
    "handshake_ms",
    "ms",
    "not_before",
    "not_after",
    "serial",
    "pem",
    "der",
    "sha256",
    "sha1",
    "fingerprint",
    "fingerprint_sha256",
    "spki_sha256",
    "public_key",
    "modulus",
    "signature",
    "key_tag",
    "data",
    "expires_in_days",
    "days_left",
    "valid_days",
    "ttl",
    "days_to_expiry",
];

fn normalize(v: &Value, ports: &[String]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let lab_port =
                        k == "port" && x.as_u64().is_some_and(|n| ports.contains(&n.to_string()));
                    let x = if VARYING.contains(&k.as_str()) {
                        Value::String(format!("<{k}>"))
                    } else if lab_port {
                        Value::String("<port>".to_owned())
                    } else {
                        normalize(x, ports)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize(x, ports)).collect()),
        Value::String(s) => Value::String(text(s, ports)),
        other => other.clone(),
    }
}

/// Ports replaced, long hex runs and base64 blobs masked, times masked (in ms, and the
/// transcript's `[000.004]`).
fn text(s: &str, ports: &[String]) -> String {
    let mut out = s.to_owned();
    let b = out.as_bytes();
    if b.len() >= 9
        && b[0] == b'['
        && b[4] == b'.'
        && b[8] == b']'
        && b[1..4].iter().chain(&b[5..8]).all(u8::is_ascii_digit)
    {
        out.replace_range(..9, "[t]");
    }
    for p in ports {
        out = out.replace(p.as_str(), "<port>");
    }
    let mut masked = String::with_capacity(out.len());
    let mut word = String::new();
    let flush = |word: &mut String, masked: &mut String| {
        let hex = word.len() >= 16 && word.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
        let b64 = word.len() >= 40
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
        // An address with an ephemeral port (OCSP and CRL URLs of the lab).
        let with_port = word.split_once(':').and_then(|(a, p)| {
            let n = p.chars().take_while(char::is_ascii_digit).count();
            let rest = p.get(n..).unwrap_or_default();
            (!a.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && n >= 4
                && rest.chars().all(|c| c == '/' || c == ':'))
            .then(|| format!("{a}:<port>{rest}"))
        });
        if let Some(w) = with_port {
            *word = w;
        }
        // A Unix time.
        if word.len() >= 9 && word.chars().all(|c| c.is_ascii_digit()) {
            *word = "<time>".to_owned();
        }
        let ms = word.ends_with("ms") && word[..word.len() - 2].chars().all(|c| c.is_ascii_digit());
        masked.push_str(if hex || b64 {
            "<bytes>"
        } else if ms && word.len() > 2 {
            "<n>ms"
        } else {
            word
        });
        word.clear();
    };
    for c in out.chars() {
        if c.is_ascii_alphanumeric() || "+/=:".contains(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut masked);
            masked.push(c);
        }
    }
    flush(&mut word, &mut masked);
    masked
}

#[tokio::test]
async fn every_lab_report_matches_its_golden_file() {
    let lab = Scenario::start().await.unwrap();
    let mut opts = ReceiverOptions::default();
    opts.port = Some(lab.smtp_port());
    opts.timeout = Duration::from_secs(5);
    opts.resolver.nameservers = vec![lab.dns_addr()];
    opts.allow_non_global = true; // the lab lives on loopback
    opts.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).unwrap();
    let mut routes = StaticConnector::new().allowing_non_global();
    let mut ports = vec![
        lab.smtp_port().to_string(),
        lab.dns_addr().port().to_string(),
    ];
    for (h, a) in lab.https_routes() {
        routes.insert(h, *a);
        ports.push(a.port().to_string());
    }
    // Longest first, so a port that is a prefix of another is not replaced inside it.
    ports.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let checker = Checker::builder(opts)
        .trust(trust)
        .https_connector(Arc::new(routes))
        .build()
        .await
        .unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/receiver");
    let bless = std::env::var_os("CHECKTLS_BLESS").is_some();
    let mut differ = Vec::new();
    for d in lab.domains() {
        let target: Target = format!("postmaster@{}", d.domain).parse().unwrap();
        let report = checker.check(&target).await.unwrap();
        let json = normalize(&serde_json::to_value(&report).unwrap(), &ports);
        let text = serde_json::to_string_pretty(&json).unwrap() + "\n";
        let path = dir.join(format!("{}.json", d.domain));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with CHECKTLS_BLESS=1)", path.display()));
        if want != text {
            let first = want
                .lines()
                .zip(text.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| format!("line {}: want {a}\n          got  {b}", i + 1))
                .unwrap_or_else(|| "lengths differ".to_owned());
            differ.push(format!("{}: {first}", d.domain));
        }
    }
    assert!(differ.is_empty(), "reports changed:\n{}", differ.join("\n"));
}
