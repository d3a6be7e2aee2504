//! The evaluator and the runner: conditions over fields, the Total, the status, bounded
//! concurrency, Count, timeouts and progress.
#![cfg(feature = "runtime")]

use std::time::Duration;

use checktls_batch::eval::{BatchResult, Status, holds};
use checktls_batch::field::Field;
use checktls_batch::model::{Function, Selection, Suppress, Test, Value};
use checktls_batch::report::{CertRow, MxRow, Outcome, Stage, StageRow, TargetReport, TlsVersion};
use checktls_batch::run::{Executor, Job, RunOptions, jobs, run};
use checktls_batch::scripted::ScriptedExecutor;
use checktls_batch::{Format, format::render, parse};

fn report(score: u16, rows: Vec<MxRow>) -> Outcome {
    let mut r = TargetReport::graded("t.example", score);
    r.mx = rows;
    Outcome::Tested(r)
}

fn row(days: i64, version: TlsVersion, answered: bool) -> MxRow {
    let mut r = MxRow::passing("mx.example", None, 114);
    r.cert = Some(CertRow {
        days_to_expiry: Some(days),
        expired: days < 0,
        chain_valid: true,
        name_match: Some(true),
    });
    r.tls_version = Some(version);
    if !answered {
        r.stages = vec![StageRow {
            stage: Stage::Answer,
            ok: false,
            ms: 5000,
        }];
        r.tls_version = None;
        r.cert = None;
    }
    r
}

fn cond(function: Function, field: &str, test: Test, value: Value) -> Suppress {
    let mut s = Suppress::on_score(function, test, 0.0);
    s.field = field.parse().unwrap();
    s.value = value;
    s
}

#[test]
fn conditions_on_host_fields() {
    let a = report(
        114,
        vec![
            row(90, TlsVersion::Tls13, true),
            row(40, TlsVersion::Tls12, true),
        ],
    );
    let scope = [&a];
    let days = |f, t, v: f64| {
        holds(
            &cond(f, "mx.cert_days_to_expiry", t, Value::Number(v)),
            &scope,
        )
    };
    assert!(days(Function::Minimum, Test::Ge, 40.0));
    assert!(!days(Function::Minimum, Test::Ge, 41.0));
    assert!(days(Function::Maximum, Test::Eq, 90.0));
    assert!(days(Function::Average, Test::Eq, 65.0));
    let version = |f, t, v| holds(&cond(f, "mx.tls_version", t, Value::Version(v)), &scope);
    assert!(version(Function::Minimum, Test::Ge, TlsVersion::Tls12));
    assert!(!version(Function::Minimum, Test::Ge, TlsVersion::Tls13));
    assert!(version(Function::Maximum, Test::Eq, TlsVersion::Tls13));
    let answered = cond(
        Function::Minimum,
        "mx.answered",
        Test::Eq,
        Value::Number(1.0),
    );
    assert!(holds(&answered, &scope));
    let text = cond(
        Function::Minimum,
        "mx.name",
        Test::Eq,
        Value::Text("mx.example".into()),
    );
    assert!(holds(&text, &scope));
}

#[test]
fn a_missing_value_or_an_empty_scope_never_suppresses() {
    // One host did not answer: it has no certificate and no TLS version.
    let a = report(
        114,
        vec![
            row(90, TlsVersion::Tls13, true),
            row(0, TlsVersion::Tls13, false),
        ],
    );
    for field in ["mx.cert_days_to_expiry", "mx.tls_version"] {
        let value = if field == "mx.tls_version" {
            Value::Version(TlsVersion::Ssl2)
        } else {
            Value::Number(-1000.0)
        };
        assert!(
            !holds(&cond(Function::Minimum, field, Test::Ge, value), &[&a]),
            "{field}"
        );
    }
    // A stage not reached counts as not passed.
    let secure = cond(Function::Minimum, "mx.secure", Test::Eq, Value::Number(1.0));
    assert!(!holds(&secure, &[&a]));
    // Not tested: no value.
    let nt = Outcome::not_tested("no");
    let score = Suppress::on_score(Function::Maximum, Test::Ge, 0.0);
    assert!(!holds(&score, &[&nt]));
    assert!(!holds(&score, &[]));
    // No MX rows (DNS failure): no host values.
    let none = report(0, vec![]);
    assert!(!holds(
        &cond(Function::Minimum, "mx.score", Test::Ge, Value::Number(0.0)),
        &[&none]
    ));
    let dns = cond(
        Function::Maximum,
        "dns_failure",
        Test::Eq,
        Value::Number(0.0),
    );
    assert!(holds(&dns, &[&none]));
}

#[test]
fn count_counts_lines() {
    let a = report(114, vec![]);
    let nt = Outcome::not_tested("no");
    let zero = Suppress::on_score(Function::Count, Test::Eq, 0.0);
    assert!(holds(&zero, &[]));
    assert!(!holds(&zero, &[&nt]));
    assert!(holds(
        &Suppress::on_score(Function::Count, Test::Eq, 2.0),
        &[&a, &nt]
    ));
}

#[test]
fn every_field_has_a_name_that_reads_back() {
    let all = Field::all();
    assert_eq!(all.len(), 9 + 14 + 20);
    for f in all {
        assert_eq!(f.name().parse::<Field>(), Ok(f), "{f}");
    }
}

#[tokio::test]
async fn several_target_conditions_must_all_hold() {
    let batch = parse(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">
  <Target><Suppress Function="minimum" Test="ge" Value="114"/><Suppress Function="minimum" Test="ge" Value="30" ct:Field="mx.cert_days_to_expiry"/>DEFAULT</Target>
  <Target>good.example</Target><Target>expiring.example</Target><Target>weak.example</Target>
</BatchTest>"#,
    )
    .unwrap();
    let ex = ScriptedExecutor::new()
        .with(
            "good.example",
            [report(114, vec![row(90, TlsVersion::Tls13, true)])],
        )
        .with(
            "expiring.example",
            [report(114, vec![row(10, TlsVersion::Tls13, true)])],
        )
        .with(
            "weak.example",
            [report(100, vec![row(90, TlsVersion::Tls12, true)])],
        );
    let result = run(&batch, &ex, &RunOptions::default(), |_| {}).await;
    assert_eq!(
        render(&result, Format::Text, &Selection::all()),
        "114 expiring.example\n100 weak.example\n"
    );
}

#[tokio::test]
async fn count_runs_every_target_that_many_times_spread_out() {
    let batch = parse(
        r#"<BatchTest TestType="receiver"><Target Count="3">a.example</Target><Target>b.example</Target><Target Count="2">c.example</Target></BatchTest>"#,
    )
    .unwrap();
    let order: Vec<(usize, u32)> = jobs(&batch).iter().map(|j| (j.index, j.run)).collect();
    assert_eq!(order, [(0, 1), (1, 1), (2, 1), (0, 2), (2, 2), (0, 3)]);
    let ex = ScriptedExecutor::new()
        .graded("a.example", 114)
        .graded("b.example", 100)
        .graded("c.example", 90);
    let mut options = RunOptions::default();
    options.concurrency = 1;
    let result = run(&batch, &ex, &options, |_| {}).await;
    assert_eq!(
        ex.calls(),
        [
            ("a.example".to_owned(), 1),
            ("b.example".into(), 1),
            ("c.example".into(), 1),
            ("a.example".into(), 2),
            ("c.example".into(), 2),
            ("a.example".into(), 3)
        ]
    );
    assert_eq!(result.targets[0].runs.len(), 3);
    assert_eq!(result.targets[2].runs.len(), 2);
    assert_eq!(
        render(&result, Format::Text, &Selection::all())
            .lines()
            .count(),
        6
    );
}

#[tokio::test]
async fn concurrency_is_bounded_and_used() {
    let targets: String = (0..40)
        .map(|i| format!("<Target>t{i}.example</Target>"))
        .collect();
    let batch = parse(&format!(
        "<BatchTest TestType=\"receiver\">{targets}</BatchTest>"
    ))
    .unwrap();
    for limit in [1, 3, 8] {
        let mut ex = ScriptedExecutor::new().yielding(3);
        for i in 0..40 {
            ex = ex.graded(&format!("t{i}.example"), 100);
        }
        let mut options = RunOptions::default();
        options.concurrency = limit;
        let mut done = Vec::new();
        let result = run(&batch, &ex, &options, |p| done.push(p.done)).await;
        assert_eq!(ex.most_in_flight(), limit, "limit {limit}");
        assert_eq!(done, (1..=40).collect::<Vec<_>>());
        assert_eq!(result.total.tested, 40);
    }
}

struct Stuck;

impl Executor for Stuck {
    async fn execute(&self, job: &Job) -> Outcome {
        if job.text == "stuck.example" {
            std::future::pending::<()>().await;
        }
        Outcome::Tested(TargetReport::graded(job.text.clone(), 114))
    }
}

#[tokio::test]
async fn a_test_that_takes_too_long_is_not_tested_and_the_rest_finish() {
    let batch = parse(
        r#"<BatchTest TestType="receiver"><Target>stuck.example</Target><Target>fine.example</Target></BatchTest>"#,
    )
    .unwrap();
    let mut options = RunOptions::default();
    options.job_timeout = Duration::from_millis(50);
    let result = run(&batch, &Stuck, &options, |_| {}).await;
    assert!(
        matches!(&result.targets[0].runs[0], Outcome::NotTested(n) if n.reason.contains("longer than"))
    );
    assert_eq!(result.targets[1].runs[0].score(), Some(114));
    assert_eq!(result.total.not_tested, 1);
    assert_eq!(result.status(), Status::Passed);
}

#[tokio::test]
async fn nothing_tested_is_its_own_status() {
    let batch =
        parse(r#"<BatchTest TestType="receiver"><Target>a.example</Target></BatchTest>"#).unwrap();
    let result = run(
        &batch,
        &ScriptedExecutor::new(),
        &RunOptions::default(),
        |_| {},
    )
    .await;
    assert_eq!(result.status(), Status::NothingTested);
    assert_eq!(result.status().exit_code(), 3);
    assert_eq!(result.total.value, None);
    assert!(!result.total.passed);
    assert_eq!(
        render(&result, Format::Text, &Selection::all()),
        "- a.example (not tested: no script for this target)\n"
    );
}

#[test]
fn total_functions_and_thresholds() {
    let batch = parse(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1"><Target>a.example</Target><Target>b.example</Target><Target>c.example</Target><Total Function="maximum" ct:Test="lt" ct:Value="100"/></BatchTest>"#,
    )
    .unwrap();
    let r = BatchResult::evaluate(
        &batch,
        vec![
            vec![report(50, vec![])],
            vec![report(99, vec![])],
            vec![Outcome::not_tested("x")],
        ],
    );
    assert_eq!(r.total.value, Some(99.0));
    assert!(r.total.passed);
    assert_eq!((r.total.tested, r.total.not_tested), (2, 1));
    // Missing outcomes count as not tested.
    let r = BatchResult::evaluate(&batch, vec![]);
    assert_eq!(r.total.not_tested, 3);
    assert_eq!(r.status(), Status::NothingTested);
}
