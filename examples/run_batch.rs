//! Run a Batch file: parse it, run every target, print the results of each Delivery in its
//! format, the Total and the verdict.
//!
//! ```sh
//! cargo run --example run_batch                         # the seed's DEFAULT example, scripted
//! cargo run --example run_batch -- BATCH.xml OUTCOMES.json
//! cargo run --example run_batch -- --lab                # real receiver tests on the embedded lab
//! ```
//!
//! OUTCOMES.json maps each target to its scripted results, e.g. `{"a.example": [114]}`. With
//! `--lab` the receiver test (`checktls::executor::ReceiverExecutor`) runs a batch of the lab's
//! domains over loopback, as `checktls batch run` does.

use checktls::batch::model::{Format, Selection};
use checktls::batch::run::{RunOptions, run};
use checktls::batch::scripted::ScriptedExecutor;
use checktls::batch::{Batch, eval::BatchResult};

const SEED: &str = include_str!("../checktls-batch/tests/golden/04-mimecast-default.xml");
const SEED_OUTCOMES: &str =
    include_str!("../checktls-batch/tests/golden/04-mimecast-default.outcomes.json");

/// The lab's domains, problem hosts only, with a Total.
const LAB: &str = r#"<BatchTest TestType="receiver">
  <Target><Suppress Function="minimum" Test="ge" Value="114"/>DEFAULT</Target>
  <Target>tls13.test</Target>
  <Target>tls12.test</Target>
  <Target>expired.test</Target>
  <Target>plain.test</Target>
  <Target>best.test</Target>
  <Total Function="average"/>
</BatchTest>"#;

async fn on_lab() -> Result<(Batch, BatchResult), Box<dyn std::error::Error>> {
    use std::sync::Arc;
    let lab = checktls_lab::scenario::Scenario::start().await?;
    let mut base = checktls::ReceiverOptions::default();
    base.port = Some(lab.smtp_port());
    base.resolver.nameservers = vec![lab.dns_addr()];
    base.allow_non_global = true; // the lab lives on loopback
    base.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    let mut trust = checktls::tls::TrustStore::empty();
    trust.add_der(lab.root_ca().clone())?;
    let mut routes = checktls::tls::net::StaticConnector::new().allowing_non_global();
    for (host, addr) in lab.https_routes() {
        routes.insert(host, *addr);
    }
    let executor = checktls::executor::ReceiverExecutor::new(base)
        .trust(trust)
        .https_connector(Arc::new(routes));
    let batch = checktls::batch::parse(LAB)?;
    let result = run(&batch, &executor, &RunOptions::default(), |p| {
        eprintln!("[{}/{}] {}", p.done, p.total, p.job.target);
    })
    .await;
    Ok((batch, result))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (batch, result) = if args.first().map(String::as_str) == Some("--lab") {
        on_lab().await?
    } else {
        let (xml, outcomes) = match &args[..] {
            [batch, outcomes] => (
                std::fs::read_to_string(batch)?,
                std::fs::read_to_string(outcomes)?,
            ),
            _ => (SEED.to_owned(), SEED_OUTCOMES.to_owned()),
        };
        let batch = checktls::batch::parse(&xml)?; // errors name line:column and what was expected
        let executor = ScriptedExecutor::from_json(&outcomes)?;
        let result = run(&batch, &executor, &RunOptions::default(), |p| {
            eprintln!("[{}/{}] {}", p.done, p.total, p.job.target);
        })
        .await;
        (batch, result)
    };

    if batch.deliveries.is_empty() {
        print!(
            "{}",
            checktls::batch::format::render(&result, Format::Text, &Selection::all())
        );
    }
    for (i, delivery) in batch.deliveries.iter().enumerate() {
        if result.delivers(delivery) {
            println!("--- delivery {} ({})", i + 1, delivery.format);
            print!(
                "{}",
                checktls::batch::format::render(&result, delivery.format, &delivery.selection())
            );
        } else {
            println!("--- delivery {}: suppressed, nothing sent", i + 1);
        }
    }
    println!(
        "--- total: {:?}, status: {:?}",
        result.total.value,
        result.status()
    );
    std::process::exit(result.status().exit_code());
}
