//! Batches end to end on the embedded lab: the receiver test as the batch executor, over real
//! signed DNS, real SMTP receivers and real TLS on loopback.
//!
//! The results' JSON (`json` format) is valid against its checked-in JSON Schema,
//! `checktls-batch/schema/results.schema.json`, which is held to what the types make
//! (`checktls::batch::format::json_schema()`; bless with `CHECKTLS_BLESS=1 cargo test --test
//! batch_lab`).

use std::sync::Arc;
use std::time::Duration;

use checktls::batch::eval::{BatchResult, Status};
use checktls::batch::format::render;
use checktls::batch::model::{Format, Selection};
use checktls::batch::run::{RunOptions, run};
use checktls::executor::ReceiverExecutor;
use checktls::options::ReceiverOptions;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::scenario::Scenario;

fn base(lab: &Scenario) -> ReceiverOptions {
    let mut opts = ReceiverOptions::default();
    opts.port = Some(lab.smtp_port());
    opts.timeout = Duration::from_secs(5);
    opts.resolver.nameservers = vec![lab.dns_addr()];
    opts.allow_non_global = true; // the lab lives on loopback
    opts.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    opts
}

fn trust(lab: &Scenario) -> TrustStore {
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).expect("root");
    trust
}

fn routes(lab: &Scenario) -> StaticConnector {
    let mut routes = StaticConnector::new().allowing_non_global();
    for (h, a) in lab.https_routes() {
        routes.insert(h, *a);
    }
    routes
}

fn executor(lab: &Scenario) -> ReceiverExecutor {
    ReceiverExecutor::new(base(lab))
        .trust(trust(lab))
        .https_connector(Arc::new(routes(lab)))
}

async fn run_batch(lab: &Scenario, xml: &str) -> BatchResult {
    let batch = checktls::batch::parse(xml).expect("batch parses");
    run(&batch, &executor(lab), &RunOptions::default(), |_| {}).await
}

/// The grade the receiver test gives a target on its own.
async fn receiver_grade(lab: &Scenario, target: &str) -> u16 {
    let checker = Checker::builder(base(lab))
        .trust(trust(lab))
        .https_connector(Arc::new(routes(lab)))
        .build()
        .await
        .expect("checker");
    let target: Target = target.parse().expect("target");
    checker.check(&target).await.expect("report").score()
}

#[tokio::test]
async fn a_batch_of_lab_domains_gets_the_receiver_grades_and_the_total() {
    let lab = Scenario::start().await.expect("lab");
    let domains = ["tls13.test", "tls12.test", "expired.test", "plain.test"];
    let targets: String = domains
        .iter()
        .map(|d| format!("<Target>{d}</Target>"))
        .collect();
    let xml = format!(
        r#"<BatchTest TestType="receiver">{targets}<Total Function="average"/></BatchTest>"#
    );
    let result = run_batch(&lab, &xml).await;
    let mut grades = Vec::new();
    for (t, d) in result.targets.iter().zip(domains) {
        let got = t.runs[0].score().expect("tested");
        assert_eq!(got, receiver_grade(&lab, d).await, "{d}");
        grades.push(f64::from(got));
    }
    assert_eq!(grades[0], 114.0);
    assert_eq!(grades[2], 112.0);
    let average = grades.iter().sum::<f64>() / grades.len() as f64;
    assert_eq!(result.total.value, Some(average));
    // plain.test pulls the average under 90.
    assert!(average < 90.0 && !result.total.passed);
    assert_eq!(result.status(), Status::Failed);
    let text = render(&result, Format::Text, &Selection::default());
    assert!(text.contains("114 tls13.test"), "{text}");
    assert!(text.contains("112 expired.test"), "{text}");
}

#[tokio::test]
async fn target_suppress_hides_good_lines_and_default_carries_it() {
    let lab = Scenario::start().await.expect("lab");
    let xml = r#"<BatchTest TestType="receiver">
      <Target><Suppress Function="minimum" Test="ge" Value="114"/>DEFAULT</Target>
      <Target>tls13.test</Target>
      <Target>expired.test</Target>
      <Target>best.test</Target>
    </BatchTest>"#;
    let result = run_batch(&lab, xml).await;
    let text = render(&result, Format::Text, &Selection::default());
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(".test")).collect();
    assert_eq!(lines, ["112 expired.test"], "{text}");
}

#[tokio::test]
async fn delivery_suppress_sends_nothing_when_all_is_well() {
    let lab = Scenario::start().await.expect("lab");
    let delivery = r#"<Delivery><To>File</To><Format>text</Format>
        <Suppress Function="minimum" Test="ge" Value="114"/></Delivery>"#;
    let good = format!(
        r#"<BatchTest TestType="receiver"><Target>tls13.test</Target>
        <Target>best.test</Target>{delivery}</BatchTest>"#
    );
    let result = run_batch(&lab, &good).await;
    let batch = checktls::batch::parse(&good).expect("parses");
    assert!(!result.delivers(&batch.deliveries[0]));
    let bad = good.replace("best.test", "expired.test");
    let result = run_batch(&lab, &bad).await;
    let batch = checktls::batch::parse(&bad).expect("parses");
    assert!(result.delivers(&batch.deliveries[0]));
}

#[tokio::test]
async fn suppress_on_other_fields_and_target_options() {
    let lab = Scenario::start().await.expect("lab");
    // A Suppress on the TLS version hides the TLS 1.3 host; on days to expiry it hides hosts
    // whose certificate has more than 0 days left.
    let xml = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">
      <Target><Suppress Function="minimum" ct:Field="mx.tls_version" Test="ge" Value="TLSv1.3"/>tls13.test</Target>
      <Target><Suppress Function="minimum" ct:Field="mx.tls_version" Test="ge" Value="TLSv1.3"/>tls12.test</Target>
      <Target ct:StopAfter="ehlo1">tls13.test</Target>
      <Target ct:Quick="true">twomx.test</Target>
    </BatchTest>"#;
    let batch = checktls::batch::parse(xml);
    let Ok(batch) = batch else {
        panic!("{:?}", batch.err());
    };
    let result = run(&batch, &executor(&lab), &RunOptions::default(), |_| {}).await;
    assert!(result.targets[0].suppressed, "TLS 1.3 host hidden");
    assert!(!result.targets[1].suppressed, "TLS 1.2 host shown");
    // Stopped after the first EHLO: no TLS stage recorded, and a lower grade than the full test.
    let stopped = result.targets[2].runs[0].report().expect("tested");
    let stages: Vec<_> = stopped.mx[0]
        .stages
        .iter()
        .map(|s| s.stage.name())
        .collect();
    assert!(!stages.contains(&"secure"), "{stages:?}");
    assert!(stopped.score < 114);
    // Quick: the first answering MX only.
    let quick = result.targets[3].runs[0].report().expect("tested");
    assert_eq!(quick.mx.iter().filter(|m| m.answered()).count(), 1);
}

#[tokio::test]
async fn a_target_whose_options_cannot_be_used_is_not_tested_and_nothing_tested_is_status_3() {
    let lab = Scenario::start().await.expect("lab");
    // The unreachable domain is tested (a result: no host answered); a target whose password
    // variable is not set is not tested at all.
    let xml = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">
      <Target AuthUser="u" ct:AuthPassEnv="CHECKTLS_BATCH_LAB_UNSET_PASSWORD">tls13.test</Target>
    </BatchTest>"#;
    let result = run_batch(&lab, xml).await;
    assert!(result.targets[0].runs[0].report().is_none());
    assert_eq!(result.status(), Status::NothingTested);
    assert_eq!(result.status().exit_code(), 3);
    // A Host the receiver test could not use is refused where it is written, before any test:
    // the Batch reads hosts and targets with the receiver test's grammar.
    let e = checktls::batch::parse(
        r#"<BatchTest TestType="receiver">
      <Target Host="mx..test">tls13.test</Target>
    </BatchTest>"#,
    )
    .expect_err("refused");
    assert!(e.to_string().starts_with("2:21:"), "{e}");
    let result = run_batch(
        &lab,
        r#"<BatchTest TestType="receiver"><Target>unreachable.test</Target></BatchTest>"#,
    )
    .await;
    let r = result.targets[0].runs[0].report().expect("tested");
    assert!(!r.answered());
    assert_eq!(r.score, 50);
}

fn results_schema_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checktls-batch/schema/results.schema.json")
}

#[test]
fn the_checked_in_results_schema_is_what_the_types_make() {
    let mut text =
        serde_json::to_string_pretty(&checktls::batch::format::json_schema()).expect("json");
    text.push('\n');
    let path = results_schema_path();
    if std::env::var_os("CHECKTLS_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless first)", path.display()));
    assert!(
        want == text,
        "{} is not what the types make (bless it)",
        path.display()
    );
}

#[tokio::test]
async fn the_results_of_every_lab_domain_are_valid_against_the_results_schema() {
    let lab = Scenario::start().await.expect("lab");
    let targets: String = lab
        .domains()
        .iter()
        .map(|d| format!("<Target>{}</Target>", d.domain))
        .collect();
    // And one that cannot be tested (its password variable is not set).
    let xml = format!(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">{targets}<Target AuthUser="u" ct:AuthPassEnv="CHECKTLS_BATCH_LAB_UNSET_PASSWORD">tls13.test</Target>
        <Total Function="average"/></BatchTest>"#
    );
    let result = run_batch(&lab, &xml).await;
    let text = render(&result, Format::Json, &Selection::all());
    let results: serde_json::Value = serde_json::from_str(&text).expect("json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results_schema_path()).expect("the checked-in schema"),
    )
    .expect("schema is JSON");
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler
        .add_resource("urn:checktls:results.schema.json", schema)
        .expect("resource");
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile("urn:checktls:results.schema.json", &mut schemas)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e:#}"));
    if let Err(e) = schemas.validate(&results, index) {
        panic!("the lab's results are not valid against the schema: {e}");
    }
    let outcomes: Vec<&str> = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert_eq!(outcomes.len(), lab.domains().len() + 1);
    assert!(outcomes.contains(&"tested") && outcomes.contains(&"not_tested"));
    assert!(results.get("total").is_some());
    // The same results, broken, are not.
    for (what, at, with) in [
        (
            "an unknown outcome",
            "/results/0/outcome",
            Some(serde_json::json!("skipped")),
        ),
        ("no run number", "/results/0/run", None),
        (
            "a misspelt field",
            "/results/0/mx/0/tls_versoin",
            Some(serde_json::json!("TLSv1.3")),
        ),
        (
            "an unknown stage",
            "/results/0/mx/0/stages/0/stage",
            Some(serde_json::json!("helo")),
        ),
    ] {
        let mut value = results.clone();
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
            schemas.validate(&value, index).is_err(),
            "results with {what} ({at}) are valid against the schema"
        );
    }
}

#[tokio::test]
async fn the_host_attribute_is_the_targets_given_host() {
    let lab = Scenario::start().await.expect("lab");
    let result = run_batch(
        &lab,
        r#"<BatchTest TestType="receiver"><Target Host="mx.tls13.test">tls12.test</Target></BatchTest>"#,
    )
    .await;
    let r = result.targets[0].runs[0].report().expect("tested");
    assert_eq!(r.target, "tls12.test", "results name the target as written");
    let names: Vec<&str> = r.mx.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["mx.tls13.test"], "no MX lookup: the given host");
    assert_eq!(
        r.score,
        receiver_grade(&lab, "tls12.test[mx.tls13.test]").await,
        "the grade of the same target given to the receiver test"
    );
}
