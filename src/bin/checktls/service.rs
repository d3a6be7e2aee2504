//! `checktls batch add|list|remove|baseline|serve` and `batch run ID --db FILE`: stored
//! batches, their history, schedules and the monitor (checktls_batch::{history, service,
//! monitor}).
//!
//! ```text
//!   serve --db FILE [--listen ADDR]
//!     Store::open ─► recover (runs of dead processes ─► interrupted)
//!     ├─ monitor on ADDR (token from CHECKTLS_MONITOR_TOKEN)
//!     └─ at each slot (looking again at least every 15 s): due_runs(now) ─► run_stored(slot)
//!          ─► a fresh ReceiverExecutor run (every server tested afresh), SmtpMailer
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use checktls::ReceiverOptions;
use checktls::batch::delivery::{DeliveryConfig, Mailer};
use checktls::batch::history::{RunStatus, Store, process_alive};
use checktls::batch::monitor::MonitorConfig;
use checktls::batch::run::{Executor, RunOptions};
use checktls::batch::service::{due_runs, next_slot, run_stored};
use checktls::executor::ReceiverExecutor;
use checktls::mailer::SmtpMailer;

use crate::batch::{DeliverArgs, NoRelay, RunArgs, load, relay};
use crate::{EnvArgs, usage};

/// The environment variable holding the monitor's bearer token.
const TOKEN_VAR: &str = "CHECKTLS_MONITOR_TOKEN";

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The history database.
    #[arg(long)]
    db: PathBuf,
    /// Serve the monitor on this address (IP:PORT); the token is read from
    /// CHECKTLS_MONITOR_TOKEN.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// At most this many tests at once, per batch.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    delivery: DeliverArgs,
    #[command(flatten)]
    env: EnvArgs,
}

/// Opens the history and marks the runs of processes that are gone as interrupted.
fn open(db: &Path) -> Result<Store, String> {
    let store = Store::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
    let n = store
        .recover(process_alive)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    if n > 0 {
        eprintln!("{} run(s) found cut off and marked interrupted", n);
    }
    Ok(store)
}

pub(crate) fn add(file: &PathBuf, db: &Path, id: &str) -> ExitCode {
    let xml = match load(file) {
        Ok(_) => match std::fs::read_to_string(file) {
            Ok(x) => x,
            Err(e) => return usage(format!("{}: {e}", file.display())),
        },
        Err(e) => return usage(e),
    };
    let id = match id {
        "new" => None,
        n => match n.parse() {
            Ok(n) => Some(n),
            Err(_) => return usage(format!("--id {n:?}: expected a number or new")),
        },
    };
    let store = match open(db) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    match store.put_batch(id, &xml, OffsetDateTime::now_utc()) {
        Ok(id) => {
            println!("{id}");
            ExitCode::SUCCESS
        }
        Err(e) => usage(e),
    }
}

pub(crate) fn list(db: &Path) -> ExitCode {
    let store = match open(db) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let batches = match store.batches() {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    println!(
        "{:>4}  {:<24} {:<32} {:<12} {:>6}",
        "id", "name", "schedule", "last run", "total"
    );
    for b in batches {
        let schedule = checktls::batch::parse(&b.xml)
            .ok()
            .and_then(|p| p.schedule)
            .map(|s| format!("{} {}", s.expression, s.time_zone))
            .unwrap_or_else(|| "-".into());
        let last = store.runs(b.id, 1).ok().and_then(|r| r.into_iter().next());
        let (status, total) = match &last {
            Some(r) => (
                r.status.name().to_owned(),
                r.total
                    .map(|t| format!("{t:.1}"))
                    .unwrap_or_else(|| "-".into()),
            ),
            None => ("never".into(), "-".into()),
        };
        println!(
            "{:>4}  {:<24} {:<32} {:<12} {:>6}",
            b.id, b.name, schedule, status, total
        );
    }
    ExitCode::SUCCESS
}

pub(crate) fn remove(id: i64, db: &Path) -> ExitCode {
    match open(db).and_then(|s| s.remove_batch(id).map_err(|e| e.to_string())) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => usage(format!("no stored batch with id {id}")),
        Err(e) => usage(e),
    }
}

pub(crate) fn baseline(id: i64, db: &Path, run: Option<i64>, target: Option<&str>) -> ExitCode {
    let store = match open(db) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let run = match run {
        Some(r) => r,
        None => match store.runs(id, 100).map(|runs| {
            runs.into_iter()
                .find(|r| r.status == RunStatus::Complete)
                .map(|r| r.id)
        }) {
            Ok(Some(r)) => r,
            Ok(None) => return usage(format!("batch {id} has no complete run to save")),
            Err(e) => return usage(e),
        },
    };
    match store.set_baseline(id, run, target) {
        Ok(n) => {
            println!("baseline of batch {id}: {n} target(s) from run {run}");
            ExitCode::SUCCESS
        }
        Err(e) => usage(e),
    }
}

/// How long to sleep: until the next slot of any stored batch (a little after it), at most
/// 15 s, so batches added meanwhile are seen.
fn until_next(store: &Store) -> Duration {
    let now = OffsetDateTime::now_utc();
    let most = Duration::from_secs(15);
    match next_slot(store, now) {
        Ok(Some(next)) => {
            let wait = Duration::try_from(next - now).unwrap_or_default();
            (wait + Duration::from_millis(20)).min(most)
        }
        _ => most,
    }
}

/// The executor and trust anchors from the environment options.
fn executor(env: &EnvArgs) -> Result<(ReceiverExecutor, checktls::tls::TrustStore), String> {
    let mut base = ReceiverOptions::default();
    let trust = env.apply(&mut base)?;
    Ok((ReceiverExecutor::new(base).trust(trust.clone()), trust))
}

async fn one<E: Executor, M: Mailer>(
    store: &Store,
    id: i64,
    slot: Option<OffsetDateTime>,
    executor: &E,
    mailer: &M,
    config: &DeliveryConfig,
    options: &RunOptions,
) -> Result<Option<checktls::batch::service::StoredRun>, String> {
    run_stored(
        store,
        id,
        slot,
        executor,
        mailer,
        config,
        options,
        OffsetDateTime::now_utc,
    )
    .await
    .map_err(|e| e.to_string())
}

/// `batch run ID --db FILE`: one stored run, on demand.
pub(crate) async fn run_id(a: RunArgs, db: &Path) -> ExitCode {
    let Ok(id) = a.file.parse::<i64>() else {
        return usage(format!(
            "with --db, {:?} should be a stored batch's id",
            a.file
        ));
    };
    let store = match open(db) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let (executor, trust) = match executor(&a.env) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let mut options = RunOptions::default();
    options.concurrency = a.concurrency.max(1);
    let config = DeliveryConfig::new(&a.delivery.results_dir, &a.delivery.from);
    let ran = match relay(&a.delivery, &trust).await {
        Ok(Some(r)) => {
            one(
                &store,
                id,
                None,
                &executor,
                &SmtpMailer::new(r),
                &config,
                &options,
            )
            .await
        }
        Ok(None) => one(&store, id, None, &executor, &NoRelay, &config, &options).await,
        Err(e) => return usage(e),
    };
    match ran {
        Ok(Some(run)) => {
            let format = a.format.unwrap_or(checktls::batch::Format::Text);
            print!(
                "{}",
                checktls::batch::format::render(
                    &run.result,
                    format,
                    &checktls::batch::model::Selection::default()
                )
            );
            eprintln!(
                "run {}: {} target(s) changed; {}",
                run.run_id,
                run.changed.len(),
                if run.alerted {
                    "delivered"
                } else {
                    "nothing to alert on"
                }
            );
            ExitCode::from(u8::try_from(run.result.status().exit_code()).unwrap_or(3))
        }
        Ok(None) => ExitCode::from(3),
        Err(e) => usage(e),
    }
}

/// `batch serve`: the schedule loop and the monitor.
pub(crate) async fn serve(a: ServeArgs) -> ExitCode {
    let store = match open(&a.db) {
        Ok(s) => Arc::new(s),
        Err(e) => return usage(e),
    };
    let (executor, trust) = match executor(&a.env) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let relay = match relay(&a.delivery, &trust).await {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    if let Some(addr) = a.listen {
        let token = std::env::var(TOKEN_VAR).unwrap_or_default();
        let Some(config) = MonitorConfig::new(&token) else {
            return usage(format!("--listen needs a token in {TOKEN_VAR}"));
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => return usage(format!("--listen {addr}: {e}")),
        };
        eprintln!("monitor on http://{addr}/monitor/ID (bearer token from {TOKEN_VAR})");
        tokio::spawn(checktls::batch::monitor::serve(
            listener,
            store.clone(),
            config,
        ));
    }
    let mut options = RunOptions::default();
    options.concurrency = a.concurrency.max(1);
    let config = DeliveryConfig::new(&a.delivery.results_dir, &a.delivery.from);
    eprintln!(
        "serving {}: running batches at their slots (looking at least every 15 s)",
        a.db.display()
    );
    loop {
        match due_runs(&store, OffsetDateTime::now_utc()) {
            Ok(due) => {
                for (id, slot) in due {
                    // Each run observes every server afresh; the checkers (resolver,
                    // politeness) are kept.
                    let executor = executor.fresh().await;
                    let ran = match &relay {
                        Some(r) => {
                            let mailer = SmtpMailer::new(r.clone());
                            one(
                                &store,
                                id,
                                Some(slot),
                                &executor,
                                &mailer,
                                &config,
                                &options,
                            )
                            .await
                        }
                        None => {
                            one(
                                &store,
                                id,
                                Some(slot),
                                &executor,
                                &NoRelay,
                                &config,
                                &options,
                            )
                            .await
                        }
                    };
                    match ran {
                        Ok(Some(run)) => eprintln!(
                            "batch {id}, slot {slot}: run {} done, {} changed",
                            run.run_id,
                            run.changed.len()
                        ),
                        Ok(None) => eprintln!("batch {id}, slot {slot}: taken by another server"),
                        Err(e) => eprintln!("batch {id}, slot {slot}: {e}"),
                    }
                }
            }
            Err(e) => eprintln!("{e}"),
        }
        tokio::time::sleep(until_next(&store)).await;
    }
}
