//! The paved path: may this address receive protected mail? (`cargo run --example
//! check_address -- postmaster@example.com`; it asks real DNS and real mail servers.)

use checktls::{Checker, ReceiverOptions, Target};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "postmaster@example.com".into());
    let target: Target = arg.parse()?;
    let checker = Checker::new(ReceiverOptions::default()).await?;
    let report = checker.check(&target).await?;
    println!(
        "{}: Confidence Factor {}",
        report.target, report.confidence_factor
    );
    for mx in &report.mx {
        let tls = mx.tls.as_ref().map_or("no TLS", |t| t.version.as_str());
        println!("  {} ({:?}) {tls}: {}", mx.name, mx.address, mx.score);
    }
    let ok = report.tested && report.score() >= 90;
    println!(
        "{}",
        if ok {
            "OK to send protected data"
        } else {
            "do not send protected data"
        }
    );
    Ok(())
}
