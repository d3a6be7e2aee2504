//! A long-lived checker's memory over 10,000 checks of 20 lab receivers whose postures change
//! every 1,000 checks (STARTTLS withdrawn, an expired certificate, restored): the checker
//! keeps what is stable (resolver, trust, politeness) and nothing it observed, so its memory
//! stays flat, and each changed receiver is graded by its new posture on the very next check.
//!
//! `cargo bench --bench long_lived` prints, every 1,000 checks, the process's resident memory
//! and the checker's cache sizes. It is not a criterion benchmark: it measures memory, once.

use std::ops::RangeInclusive;
use std::sync::Arc;

use checktls::tls::net::StaticConnector;
use checktls::{Checker, Target};
use checktls_lab::smtp::Posture;

#[path = "support/mod.rs"]
mod support;

const RECEIVERS: u8 = 20;
const CHECKS: usize = 10_000;
const AT_ONCE: usize = 8;

/// The posture of the receiver at an index.
type Make<'a> = Box<dyn Fn(usize) -> Posture + 'a>;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too: keep that short.
    let checks = if std::env::args().any(|a| a == "--bench") {
        CHECKS
    } else {
        200
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run(checks));
}

async fn run(checks: usize) {
    let farm = support::farm(RECEIVERS).await;
    let mut opts = support::options(farm.port, farm.dns.addr(), farm.dns.trust_anchor());
    opts.revocation = false;
    let checker = Checker::builder(opts)
        .trust(farm.trust.clone())
        .https_connector(Arc::new(StaticConnector::new()))
        .build()
        .await
        .expect("checker");
    let targets: Vec<Target> = (0..RECEIVERS)
        .map(|i| {
            format!("postmaster@d{i}.bench.test")
                .parse()
                .expect("target")
        })
        .collect();
    let expired: Vec<_> = (0..RECEIVERS)
        .map(|i| {
            farm.pki
                .expired(&format!("mx.d{i}.bench.test"))
                .expect("leaf")
        })
        .collect();
    let (rss0, _) = support::memory_kib();
    println!("checks  rss_kib  growth_kib  politeness_entries");
    let mut done = 0;
    let mut phase = 0usize;
    while done < checks {
        // Change every receiver of one parity, by phase; the next check must see it.
        let (posture_of, want): (Make<'_>, RangeInclusive<u16>) = match phase % 3 {
            0 => (
                Box::new(|i| Posture::tls(&farm.leaves[i]).expect("posture")),
                114..=114,
            ),
            // No encryption: below the 50 of a host that does not answer.
            1 => (
                Box::new(|i| {
                    Posture::tls(&farm.leaves[i])
                        .expect("posture")
                        .no_starttls()
                }),
                0..=49,
            ),
            _ => (
                Box::new(|i| Posture::tls(&expired[i]).expect("posture")),
                112..=112,
            ),
        };
        for (i, rx) in farm
            .receivers
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
        {
            rx.set_posture(posture_of(i));
        }
        let first = checker.check(&targets[0]).await.expect("report");
        assert!(
            want.contains(&first.score()),
            "phase {phase}: the change is seen at once ({} not in {want:?})",
            first.score()
        );
        let block = (checks / 10).max(1).min(checks - done);
        let mut set = tokio::task::JoinSet::new();
        for j in 0..block {
            let c = checker.clone();
            let t = targets[j % targets.len()].clone();
            set.spawn(async move { c.check(&t).await.map(|r| r.score()) });
            if set.len() >= AT_ONCE {
                let _ = set.join_next().await;
            }
        }
        while set.join_next().await.is_some() {}
        done += block;
        phase += 1;
        // The lab's receivers live in this process and record every command line; forget
        // that record so the figure is the checker's (and the allocator's), not the lab's.
        for rx in &farm.receivers {
            rx.forget_seen();
        }
        let (rss, _) = support::memory_kib();
        println!(
            "{done:>6}  {rss:>7}  {:>10}  {:>18}",
            rss.saturating_sub(rss0),
            checker.cache_sizes().addresses
        );
    }
    assert_eq!(
        checker.cache_sizes().addresses,
        0,
        "no politeness state left"
    );
}
