//! Checking many addresses of one domain cheaply: a mail system about to send to 1,000
//! recipients at one domain wants each address's verdict, but the receiving side is the same
//! MX hosts for all of them.
//!
//! ```text
//!   user0@D ─┐                       ┌─ discovery of D (resolver cache: once)
//!   user1@D ─┼─ Run::check (each) ──►├─ MTA-STS policy of D (run cache: once)
//!     …      │                       ├─ one SMTP dialog per MX address (run cache: once)
//!   user999@D┘                       └─ revocation verdicts (run cache: once per leaf)
//! ```
//!
//! The dialog of a test that stops before RCPT TO (`stop_after = mailfrom`) does not depend on
//! the recipient, so a [`Run`](checktls::Run) shares it among every address of the domain:
//! 1,000 addresses cost one dialog per MX address, not 1,000. A test that goes on to RCPT TO
//! asks the server about each recipient and so holds one dialog per address.
//!
//! ```sh
//! cargo run --release --example check_many                      # 1,000 addresses on the lab
//! cargo run --release --example check_many -- example.com 1000  # real DNS and mail servers
//! ```

use std::time::Instant;

use checktls::options::StopAfter;
use checktls::{Checker, ReceiverOptions, Target};
use futures_util::stream::{self, StreamExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let domain = args.next();
    let count: usize = args.next().map_or(Ok(1000), |n| n.parse())?;

    let mut options = ReceiverOptions::default();
    options.stop_after = StopAfter::MailFrom;
    let (_lab, checker, domain) = match domain {
        Some(d) => (None, Checker::new(options.clone()).await?, d),
        None => {
            let lab = checktls_lab::scenario::Scenario::start().await?;
            options.port = Some(lab.smtp_port());
            options.resolver.nameservers = vec![lab.dns_addr()];
            options.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
            options.allow_non_global = true; // the lab lives on loopback
            let mut trust = checktls::tls::TrustStore::empty();
            trust.add_der(lab.root_ca().clone())?;
            let mut routes = checktls::tls::net::StaticConnector::new().allowing_non_global();
            for (host, addr) in lab.https_routes() {
                routes.insert(host, *addr);
            }
            let checker = Checker::builder(options.clone())
                .trust(trust)
                .https_connector(std::sync::Arc::new(routes))
                .build()
                .await?;
            (Some(lab), checker, "twomx.test".to_owned())
        }
    };

    let targets: Vec<Target> = (0..count)
        .map(|i| format!("user{i}@{domain}").parse())
        .collect::<Result<_, _>>()?;
    let run = checker.run();
    let started = Instant::now();
    // Sixteen checks in flight; the run makes the first of them dial each MX address and the
    // others wait for that dialog rather than open their own.
    let reports: Vec<_> = stream::iter(&targets)
        .map(|t| run.check(t))
        .buffered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut passed = 0;
    for report in &reports {
        let report = report.as_ref().map_err(|e| e.to_string())?;
        if report.passes(&options) {
            passed += 1;
        }
    }
    if let Some(Ok(first)) = reports.first() {
        println!(
            "{}: Confidence Factor {}",
            first.target, first.confidence_factor
        );
    }
    println!(
        "{count} addresses at {domain}: {passed} may receive protected mail \
         (Confidence Factor >= {}), in {:.2} s",
        options.min_score,
        elapsed.as_secs_f64()
    );
    println!(
        "SMTP dialogs held: {} (one per MX address, not one per address)",
        run.probes_run()
    );
    Ok(())
}
