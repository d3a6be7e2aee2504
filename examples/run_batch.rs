//! Run a Batch file with a scripted executor: parse it, run every target, print the results
//! of each Delivery in its format, the Total and the verdict.
//!
//! ```sh
//! cargo run --example run_batch                         # the seed's DEFAULT example, built in
//! cargo run --example run_batch -- BATCH.xml OUTCOMES.json
//! ```
//!
//! OUTCOMES.json maps each target to its scripted results, e.g. `{"a.example": [114]}`. The
//! facade's receiver test takes the scripted executor's place in `checktls batch run`.

use checktls::batch::model::{Format, Selection};
use checktls::batch::run::{RunOptions, run};
use checktls::batch::scripted::ScriptedExecutor;

const SEED: &str = include_str!("../checktls-batch/tests/golden/04-mimecast-default.xml");
const SEED_OUTCOMES: &str =
    include_str!("../checktls-batch/tests/golden/04-mimecast-default.outcomes.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
