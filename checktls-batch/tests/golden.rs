//! Golden files: every batch in `tests/golden` run on the scripted executor with the
//! outcomes beside it, each format compared with its expected output.
//!
//! ```text
//!   NN-name.xml                 the batch
//!   NN-name.outcomes.json       what the scripted executor answers
//!   NN-name.expected.<format>   the shown results in each format (no selection)
//!   NN-name.expected.summary    the Total, the status and each delivery (sent or suppressed,
//!                               with its body in its own format and selection)
//! ```
//!
//! Bless (rewrite the expected files after a deliberate change, then review the diff):
//! `CHECKTLS_BLESS=1 cargo test -p checktls-batch --test golden`.
#![cfg(feature = "runtime")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use checktls_batch::eval::BatchResult;
use checktls_batch::format::render;
use checktls_batch::model::{Format, Recipient, Selection};
use checktls_batch::run::{RunOptions, run};
use checktls_batch::scripted::ScriptedExecutor;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn batches() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".xml")
                .filter(|n| !n.contains(".expected"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

async fn result_of(name: &str) -> BatchResult {
    let xml = std::fs::read_to_string(dir().join(format!("{name}.xml"))).unwrap();
    let batch = checktls_batch::parse(&xml).unwrap();
    let script = std::fs::read_to_string(dir().join(format!("{name}.outcomes.json"))).unwrap();
    let executor = ScriptedExecutor::from_json(&script).unwrap().yielding(2);
    let mut options = RunOptions::default();
    options.concurrency = 4;
    let mut seen = 0;
    let result = run(&batch, &executor, &options, |p| {
        seen += 1;
        assert_eq!(p.done, seen);
        assert_eq!(p.total, batch.test_count());
    })
    .await;
    assert_eq!(seen, batch.test_count(), "{name}: progress per test");
    for t in &result.targets {
        for o in &t.runs {
            if let checktls_batch::report::Outcome::NotTested(n) = o {
                assert_ne!(
                    n.reason, "no script for this target",
                    "{name}: {}",
                    t.target
                );
            }
        }
    }
    result
}

fn summary(name: &str, result: &BatchResult) -> String {
    let xml = std::fs::read_to_string(dir().join(format!("{name}.xml"))).unwrap();
    let batch = checktls_batch::parse(&xml).unwrap();
    let t = &result.total;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "total: {} {} {} {} -> passed={} (tested {}, not tested {})",
        t.function.name(),
        t.value.map_or("none".to_owned(), |v| format!("{v:.6}")),
        t.test.name(),
        t.threshold,
        t.passed,
        t.tested,
        t.not_tested
    );
    let _ = writeln!(
        out,
        "status: {:?} (exit {})",
        result.status(),
        result.status().exit_code()
    );
    let shown = result.lines().count();
    let all = result.all_lines().count();
    let _ = writeln!(out, "lines: {shown} shown of {all}");
    for (i, d) in batch.deliveries.iter().enumerate() {
        let to: Vec<String> =
            d.to.iter()
                .map(|r| match r {
                    Recipient::File => "File".to_owned(),
                    Recipient::Email(a) => a.clone(),
                })
                .collect();
        if result.delivers(d) {
            let _ = writeln!(
                out,
                "\ndelivery {} to {}: sent as {}",
                i + 1,
                to.join(", "),
                d.format
            );
            out.push_str(&render(result, d.format, &d.selection()));
        } else {
            let _ = writeln!(out, "\ndelivery {} to {}: suppressed", i + 1, to.join(", "));
        }
    }
    out
}

fn check(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("CHECKTLS_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{} differs:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(e) => failures.push(format!("{}: {e} (run with BLESS=1)", path.display())),
    }
}

#[tokio::test]
async fn every_batch_in_every_format() {
    let names = batches();
    assert!(names.len() >= 11, "{names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let result = result_of(name).await;
        for (format, ext) in Format::ALL {
            let actual = render(&result, format, &Selection::all());
            check(
                &dir().join(format!("{name}.expected.{ext}")),
                &actual,
                &mut failures,
            );
        }
        check(
            &dir().join(format!("{name}.expected.summary")),
            &summary(name, &result),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// The behaviour the issue lists for the seed's Mimecast examples, stated directly.

#[tokio::test]
async fn seed_all_hosts_114_prints_22_lines() {
    let result = result_of("01-mimecast-check-each-host").await;
    let text = render(&result, Format::Text, &Selection::all());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 22);
    assert_eq!(lines[0], "114 205.139.110.177");
    assert_eq!(lines[21], "114 205.139.110.245");
    assert!(lines.iter().all(|l| l.starts_with("114 ")));
}

#[tokio::test]
async fn seed_delivery_suppress_sends_nothing_when_all_are_114() {
    let xml = std::fs::read_to_string(dir().join("02-mimecast-delivery-suppress.xml")).unwrap();
    let batch = checktls_batch::parse(&xml).unwrap();
    let result = result_of("02-mimecast-delivery-suppress").await;
    assert!(!result.delivers(&batch.deliveries[0]));
    // One host at 112: the delivery is sent, with every line.
    let script =
        std::fs::read_to_string(dir().join("03-mimecast-only-problem-hosts.outcomes.json"))
            .unwrap();
    let executor = ScriptedExecutor::from_json(&script).unwrap();
    let result = run(&batch, &executor, &RunOptions::default(), |_| {}).await;
    assert!(result.delivers(&batch.deliveries[0]));
    assert_eq!(
        render(&result, Format::Text, &Selection::all())
            .lines()
            .count(),
        22
    );
}

#[tokio::test]
async fn seed_target_suppress_prints_only_the_expired_host() {
    for name in ["03-mimecast-only-problem-hosts", "04-mimecast-default"] {
        let result = result_of(name).await;
        assert_eq!(
            render(&result, Format::Text, &Selection::all()),
            "112 207.211.30.221\n",
            "{name}"
        );
    }
}

#[tokio::test]
async fn seed_target_suppress_prints_nothing_when_all_are_114() {
    for name in ["03-mimecast-only-problem-hosts", "04-mimecast-default"] {
        let xml = std::fs::read_to_string(dir().join(format!("{name}.xml"))).unwrap();
        let batch = checktls_batch::parse(&xml).unwrap();
        let script =
            std::fs::read_to_string(dir().join("01-mimecast-check-each-host.outcomes.json"))
                .unwrap();
        let executor = ScriptedExecutor::from_json(&script).unwrap();
        let result = run(&batch, &executor, &RunOptions::default(), |_| {}).await;
        assert_eq!(
            render(&result, Format::Text, &Selection::all()),
            "",
            "{name}"
        );
    }
}
