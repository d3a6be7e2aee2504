//! `checktls batch add|list|remove|baseline|queue|migrate|serve`, `batch run ID --db DB`,
//! and `checktls worker` / `checktls serve`: stored batches, their history (an SQLite file or
//! a `postgres://` URL), schedules, the fleet's workers and the monitor
//! (checktls_batch::{store, service, fleet, monitor}).
//!
//! ```text
//!   --db history.db | postgres://user@host/db  ─► store::open ─► recover (this machine's
//!                                                 on-demand runs of dead processes ─► interrupted)
//!   serve [--listen ADDR] [--no-worker]
//!     ├─ monitor on ADDR (token from CHECKTLS_MONITOR_TOKEN)
//!     ├─ at each slot (looking again at least every tick): queue_due(now) ─► run row + jobs (one transaction; a slot queued once)
//!     └─ a worker in this process (unless --no-worker)
//!   worker: claims jobs, a fresh ReceiverExecutor per run, the fleet's address gate
//!   SIGTERM / SIGINT: stop claiming, let running tests end (grace), give back the leases
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use checktls::ReceiverOptions;
use checktls::batch::delivery::{DeliveryConfig, Envelope, Mailer};
use checktls::batch::fleet::{Worker, WorkerOptions, queue_due, queue_run};
use checktls::batch::history::{RunStatus, process_alive};
use checktls::batch::monitor::MonitorConfig;
use checktls::batch::run::{Executor, RunOptions};
use checktls::batch::service::{next_slot, run_stored};
use checktls::batch::store::{Store, WorkerInfo};
use checktls::executor::ReceiverExecutor;
use checktls::fleet::{AddressGate, StoreGate};
use checktls::mailer::{Relay, SmtpMailer};

use crate::batch::{DeliverArgs, NoRelay, RunArgs, load, relay};
use crate::{EnvArgs, usage};

/// The environment variable holding the monitor's bearer token.
const TOKEN_VAR: &str = "CHECKTLS_MONITOR_TOKEN";

/// How a worker claims and holds jobs.
#[derive(Args, Clone)]
pub(crate) struct WorkArgs {
    /// At most this many tests at once in this process.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// This worker's name in the fleet (default: HOST-PID).
    #[arg(long)]
    name: Option<String>,
    /// Seconds a claim holds without a heartbeat (a dead worker's jobs wait this long).
    #[arg(long, default_value_t = 60)]
    lease: u64,
    /// Milliseconds between looks at the queue when idle.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Seconds running tests may go on after SIGTERM/SIGINT before their jobs are given back.
    #[arg(long, default_value_t = 10)]
    grace: u64,
}

impl WorkArgs {
    fn options(&self) -> WorkerOptions {
        let mut o = WorkerOptions::default();
        o.concurrency = self.concurrency.max(1);
        o.lease = Duration::from_secs(self.lease.max(1));
        o.heartbeat = o.lease / 4;
        o.poll = Duration::from_millis(self.poll_ms.max(10));
        o.grace = Duration::from_secs(self.grace);
        o
    }

    fn me(&self) -> WorkerInfo {
        let mut me = WorkerInfo::this_process();
        if let Some(n) = &self.name {
            me.id.clone_from(n);
        }
        me
    }
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The history: an SQLite file, or a postgres:// URL shared by a fleet (with --demo: a
    /// new file in the temp dir unless given).
    #[arg(long, required_unless_present = "demo")]
    db: Option<String>,
    /// Serve the web page, the monitor and the metrics on this address: IP:PORT, or a port
    /// on loopback. The token is read from CHECKTLS_MONITOR_TOKEN.
    #[arg(long, value_parser = crate::serve_web::parse_listen)]
    listen: Option<std::net::SocketAddr>,
    /// The embedded lab of `checktls demo` in this process: the page tests its domains, a
    /// batch of them runs at start; listens on 127.0.0.1:8025 unless --listen; makes up a
    /// token when none is given. Needs no network.
    #[arg(long)]
    demo: bool,
    /// More users of the web page: a file of `NAME TOKEN` lines (the token of
    /// CHECKTLS_MONITOR_TOKEN is the user "admin").
    #[arg(long)]
    users: Option<PathBuf>,
    /// Receiver tests each user may start on the page per minute.
    #[arg(long, default_value_t = 10)]
    tests_per_minute: usize,
    /// Receiver tests each user may have running at once on the page.
    #[arg(long, default_value_t = 2)]
    concurrent_tests: usize,
    /// Mark the session cookie Secure (a TLS proxy in front).
    #[arg(long)]
    secure_cookie: bool,
    /// Schedule and serve only: leave the tests to `checktls worker` processes.
    #[arg(long)]
    no_worker: bool,
    /// Seconds between looks for due batches.
    #[arg(long, default_value_t = 15)]
    tick: u64,
    #[command(flatten)]
    work: WorkArgs,
    #[command(flatten)]
    delivery: DeliverArgs,
    #[command(flatten)]
    env: EnvArgs,
}

#[derive(Args)]
pub(crate) struct WorkerArgs {
    /// The history: a postgres:// URL shared by the fleet (or an SQLite file: workers on this
    /// machine only).
    #[arg(long)]
    db: String,
    #[command(flatten)]
    work: WorkArgs,
    #[command(flatten)]
    delivery: DeliverArgs,
    #[command(flatten)]
    env: EnvArgs,
}

/// Opens the history and marks this machine's on-demand runs of processes that are gone as
/// interrupted.
pub(crate) async fn open(db: &str) -> Result<Arc<dyn Store>, String> {
    let store = checktls::batch::store::open(db)
        .await
        .map_err(|e| format!("{}: {e}", shown(db)))?;
    let n = store
        .recover(process_alive)
        .await
        .map_err(|e| format!("{}: {e}", shown(db)))?;
    if n > 0 {
        eprintln!("{n} run(s) found cut off and marked interrupted");
    }
    Ok(store)
}

/// A `--db` as it may be shown: a URL without its password.
fn shown(db: &str) -> String {
    match db.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split_once(':').map_or(user, |(u, _)| u);
                format!("{scheme}://{user}:***@{host}")
            }
            None => db.to_owned(),
        },
        None => db.to_owned(),
    }
}

pub(crate) async fn add(file: &PathBuf, db: &str, id: &str) -> ExitCode {
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
    let store = match open(db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    match store.put_batch(id, &xml, OffsetDateTime::now_utc()).await {
        Ok(id) => {
            println!("{id}");
            ExitCode::SUCCESS
        }
        Err(e) => usage(e),
    }
}

pub(crate) async fn list(db: &str) -> ExitCode {
    let store = match open(db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let batches = match store.batches().await {
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
        let last = store
            .runs(b.id, 1)
            .await
            .ok()
            .and_then(|r| r.into_iter().next());
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

pub(crate) async fn remove(id: i64, db: &str) -> ExitCode {
    let store = match open(db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    match store.remove_batch(id).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => usage(format!("no stored batch with id {id}")),
        Err(e) => usage(e),
    }
}

pub(crate) async fn baseline(
    id: i64,
    db: &str,
    run: Option<i64>,
    target: Option<&str>,
) -> ExitCode {
    let store = match open(db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let run = match run {
        Some(r) => r,
        None => match store.runs(id, 100).await.map(|runs| {
            runs.into_iter()
                .find(|r| r.status == RunStatus::Complete)
                .map(|r| r.id)
        }) {
            Ok(Some(r)) => r,
            Ok(None) => return usage(format!("batch {id} has no complete run to save")),
            Err(e) => return usage(e),
        },
    };
    match store.set_baseline(id, run, target).await {
        Ok(n) => {
            println!("baseline of batch {id}: {n} target(s) from run {run}");
            ExitCode::SUCCESS
        }
        Err(e) => usage(e),
    }
}

/// How long to sleep: until the next slot of any stored batch (a little after it), at most
/// `tick`, so batches added meanwhile are seen.
async fn until_next(store: &dyn Store, tick: Duration) -> Duration {
    let now = OffsetDateTime::now_utc();
    match next_slot(store, now).await {
        Ok(Some(next)) => {
            let wait = Duration::try_from(next - now).unwrap_or_default();
            (wait + Duration::from_millis(20)).min(tick)
        }
        _ => tick,
    }
}

/// `batch queue ID --db DB`: a run on demand, left to the workers; prints the run's id.
pub(crate) async fn queue(id: i64, db: &str) -> ExitCode {
    let store = match open(db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    match queue_run(&*store, id, None, OffsetDateTime::now_utc()).await {
        Ok(Some(run)) => {
            println!("{run}");
            ExitCode::SUCCESS
        }
        Ok(None) => usage("the run was not queued"),
        Err(e) => usage(e),
    }
}

/// `batch migrate --from FILE --to URL`: copies a whole history (batches, runs, results,
/// deliveries, baselines; ids kept) into an empty store.
pub(crate) async fn migrate(from: &str, to: &str) -> ExitCode {
    let (source, target) = match (open(from).await, open(to).await) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    let dump = match source.export().await {
        Ok(d) => d,
        Err(e) => return usage(format!("{}: {e}", shown(from))),
    };
    if let Err(e) = target.import(&dump).await {
        return usage(format!("{}: {e}", shown(to)));
    }
    println!(
        "copied {} batch(es), {} run(s), {} result(s), {} delivery record(s), {} baseline target(s)",
        dump.batches.len(),
        dump.runs.len(),
        dump.results.len(),
        dump.deliveries.len(),
        dump.baselines.len()
    );
    ExitCode::SUCCESS
}

/// The base options and trust anchors from the environment options.
fn environment(env: &EnvArgs) -> Result<(ReceiverOptions, checktls::tls::TrustStore), String> {
    let mut base = ReceiverOptions::default();
    let trust = env.apply(&mut base)?;
    Ok((base, trust))
}

async fn one<E: Executor, M: Mailer>(
    store: &dyn Store,
    id: i64,
    executor: &E,
    mailer: &M,
    config: &DeliveryConfig,
    options: &RunOptions,
) -> Result<Option<checktls::batch::service::StoredRun>, String> {
    run_stored(
        store,
        id,
        None,
        executor,
        mailer,
        config,
        options,
        OffsetDateTime::now_utc,
    )
    .await
    .map_err(|e| e.to_string())
}

/// `batch run ID --db DB`: one stored run, on demand, in this process.
pub(crate) async fn run_id(a: RunArgs, db: &str) -> ExitCode {
    let Ok(id) = a.file.parse::<i64>() else {
        return usage(format!(
            "with --db, {:?} should be a stored batch's id",
            a.file
        ));
    };
    let store = match open(db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let (base, trust) = match environment(&a.env) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let executor = ReceiverExecutor::new(base).trust(trust.clone());
    let mut options = RunOptions::default();
    options.concurrency = a.concurrency.max(1);
    let config = DeliveryConfig::new(&a.delivery.results_dir, &a.delivery.from);
    let ran = match relay(&a.delivery, &trust).await {
        Ok(r) => {
            one(
                &*store,
                id,
                &executor,
                &AnyMailer::from(r),
                &config,
                &options,
            )
            .await
        }
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

/// The relay when one is given, else the refusal that records what was not sent.
enum AnyMailer {
    Smtp(Box<SmtpMailer>),
    None(NoRelay),
}

impl From<Option<Relay>> for AnyMailer {
    fn from(r: Option<Relay>) -> Self {
        match r {
            Some(r) => Self::Smtp(Box::new(SmtpMailer::new(r))),
            None => Self::None(NoRelay),
        }
    }
}

impl Mailer for AnyMailer {
    async fn send(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), checktls::batch::Error> {
        match self {
            Self::Smtp(m) => m.send(envelope, message).await,
            Self::None(m) => m.send(envelope, message).await,
        }
    }
}

/// A worker of the fleet on `store`: a fresh receiver executor per run, behind the store's
/// address gate.
async fn worker(
    store: Arc<dyn Store>,
    work: &WorkArgs,
    delivery: &DeliverArgs,
    env: &EnvArgs,
    lab: Option<&crate::serve_web::LabEnvironment>,
) -> Result<Worker<ReceiverExecutor, AnyMailer>, String> {
    let (base, trust) = match lab {
        Some(l) => (l.base.clone(), l.trust.clone()),
        None => environment(env)?,
    };
    let https = lab.map(|l| l.https.clone());
    let mailer = AnyMailer::from(relay(delivery, &trust).await?);
    let options = work.options();
    let me = work.me();
    let gate: Arc<dyn AddressGate> = Arc::new(StoreGate::new(store.clone(), &me.id, options.lease));
    let config = DeliveryConfig::new(&delivery.results_dir, &delivery.from);
    Ok(Worker::new(
        store,
        me,
        move |_run| {
            let e = ReceiverExecutor::new(base.clone())
                .trust(trust.clone())
                .address_gate(gate.clone());
            match &https {
                Some(h) => e.https_connector(h.clone()),
                None => e,
            }
        },
        mailer,
        config,
        options,
    ))
}

/// A channel that turns true at SIGTERM or SIGINT.
fn shutdown_signal() -> Result<tokio::sync::watch::Receiver<bool>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}

/// `checktls worker`: claims jobs until SIGTERM/SIGINT, then gives back its leases.
pub(crate) async fn work(a: WorkerArgs) -> ExitCode {
    let store = match open(&a.db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let stop = match shutdown_signal() {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let w = match worker(store, &a.work, &a.delivery, &a.env, None).await {
        Ok(w) => w,
        Err(e) => return usage(e),
    };
    eprintln!("worker {} on {}", a.work.me().id, shown(&a.db));
    match w.run(stop).await {
        Ok(r) => {
            eprintln!(
                "worker stopped: {} job(s) done, {} run(s) finished, {} lost to others, {} given back",
                r.completed, r.finished, r.stale, r.released
            );
            ExitCode::SUCCESS
        }
        Err(e) => usage(e),
    }
}

/// `checktls serve` / `batch serve`: the schedule loop, the web page with the monitor and
/// the metrics, and (unless `--no-worker`) a worker.
pub(crate) async fn serve(a: ServeArgs) -> ExitCode {
    let lab = if a.demo {
        eprintln!("starting the embedded lab (signed DNS, SMTP receivers, MTA-STS) ...");
        match crate::serve_web::lab().await {
            Ok(l) => Some(l),
            Err(e) => return usage(e),
        }
    } else {
        None
    };
    let db = match (&a.db, a.demo) {
        (Some(db), _) => db.clone(),
        (None, _) => std::env::temp_dir()
            .join(format!("checktls-demo-{}.db", std::process::id()))
            .to_string_lossy()
            .into_owned(),
    };
    let store = match open(&db).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let mut stop = match shutdown_signal() {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let listen = a.listen.or_else(|| {
        a.demo
            .then(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8025)))
    });
    if let Some(addr) = listen {
        let mut token = std::env::var(TOKEN_VAR).unwrap_or_default();
        if token.trim().is_empty() && a.demo {
            token = checktls_cli::web::random_token();
            eprintln!("no {TOKEN_VAR} given: the token of this demo is {token}");
        }
        if MonitorConfig::new(&token).is_none() {
            return usage(format!("--listen needs a token in {TOKEN_VAR}"));
        }
        let mut users = vec![("admin".to_owned(), token.trim().to_owned())];
        if let Some(f) = &a.users {
            match crate::serve_web::read_users(f) {
                Ok(more) => users.extend(more),
                Err(e) => return usage(e),
            }
        }
        let (base, trust) = match environment(&a.env) {
            Ok(x) => x,
            Err(e) => return usage(e),
        };
        let config = match crate::serve_web::config(
            users,
            &base,
            &trust,
            lab.as_ref(),
            a.tests_per_minute,
            a.concurrent_tests,
            a.secure_cookie,
        ) {
            Ok(c) => c,
            Err(e) => return usage(e),
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => return usage(format!("--listen {addr}: {e}")),
        };
        let bound = listener.local_addr().unwrap_or(addr);
        eprintln!(
            "web page on http://{bound}/ (log in with the token from {TOKEN_VAR}); monitor on http://{bound}/monitor/ID and http://{bound}/metrics (bearer token)"
        );
        tokio::spawn(checktls_cli::web::serve(listener, store.clone(), config));
    }
    if let Some(l) = &lab {
        match crate::serve_web::seed(&*store, &l.domains).await {
            Ok(Some(id)) => eprintln!("demo: batch {id} (the lab's domains) queued"),
            Ok(None) => {}
            Err(e) => return usage(e),
        }
    }
    let working = if a.no_worker {
        None
    } else {
        match worker(store.clone(), &a.work, &a.delivery, &a.env, lab.as_ref()).await {
            Ok(w) => {
                let stop = stop.clone();
                Some(tokio::spawn(async move { w.run(stop).await }))
            }
            Err(e) => return usage(e),
        }
    };
    eprintln!(
        "serving {}: queueing batches at their slots (looking at least every {} s){}",
        shown(&db),
        a.tick,
        if a.no_worker { ", no worker" } else { "" }
    );
    loop {
        match queue_due(&*store, OffsetDateTime::now_utc()).await {
            Ok(queued) => {
                for (id, slot, run) in queued {
                    match run {
                        Some(run) => eprintln!("batch {id}, slot {slot}: run {run} queued"),
                        None => eprintln!("batch {id}, slot {slot}: queued by another server"),
                    }
                }
            }
            Err(e) => eprintln!("{e}"),
        }
        let wait = until_next(&*store, Duration::from_secs(a.tick.max(1))).await;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    if let Some(w) = working {
        match w.await {
            Ok(Ok(r)) => eprintln!(
                "worker stopped: {} job(s) done, {} given back",
                r.completed, r.released
            ),
            Ok(Err(e)) => eprintln!("worker: {e}"),
            Err(e) => eprintln!("worker: {e}"),
        }
    }
    ExitCode::SUCCESS
}
