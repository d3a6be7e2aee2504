//! The paved path: may this address receive protected mail?
//! `cargo run --example check_address -- postmaster@example.com` (real DNS, real mail servers).

use checktls::{Checker, ReceiverOptions, Target};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let target: Target = arg.ok_or("usage: check_address ADDRESS")?.parse()?;
    let options = ReceiverOptions::default();
    let checker = Checker::new(options.clone()).await?;
    let report = checker.check(&target).await?;
    let cf = &report.confidence_factor;
    println!("{}: Confidence Factor {cf}", report.target);
    for mx in &report.mx {
        let tls = mx.tls.as_ref().map_or("no TLS", |t| t.version.name());
        println!("  {} ({:?}) {tls}: {}", mx.name, mx.address, mx.score);
    }
    // Passed: tested, and the grade reaches options.min_score (90 unless you set it).
    if report.passes(&options) {
        println!("OK to send protected data");
    } else {
        println!("do not send protected data");
    }
    Ok(())
}
