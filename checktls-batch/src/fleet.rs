//! A fleet of workers sharing one history: the scheduler queues each due slot as jobs (one
//! per test), any number of workers on any number of machines claim them under leases, and
//! whichever worker completes a run's last job finishes the run (Total, comparison, alerts,
//! deliveries) exactly once.
//!
//! ```text
//!   serve:   due_runs(now) ─► queue_run(batch, slot): run row + jobs, one transaction
//!                                                     (UNIQUE(batch, slot): queued once)
//!   worker:  ┌─ every poll: claim(free slots, lease) ─► spawn: execute(job) ─► complete()
//!            │     Completion::Last ─► finish(run): job outcomes ─► evaluate ─► conclude
//!            │                         (compare, Alert, deliver) ─► finish_queued (guarded)
//!            ├─ every heartbeat: extend leases (jobs, finish, addresses)
//!            ├─ every poll: orphaned_runs ─► take_finish (a finisher that died)
//!            └─ shutdown: stop claiming, let running jobs end (grace), release() the rest
//!   a worker that dies: its leases expire, other workers claim its jobs again (attempts+1)
//! ```
//!
//! Each run gets its own executor from the factory (no result is reused across runs); the
//! worker keeps it while the run has jobs in its hands.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), checktls_batch::Error> {
//! use std::sync::Arc;
//! use checktls_batch::delivery::DeliveryConfig;
//! use checktls_batch::fleet::{Worker, WorkerOptions, queue_run};
//! use checktls_batch::history::SqliteStore;
//! use checktls_batch::scripted::ScriptedExecutor;
//! use checktls_batch::store::{Store, WorkerInfo};
//! use time::OffsetDateTime;
//!
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory()?);
//! let xml = r#"<BatchTest TestType="receiver"><Target>a.example</Target></BatchTest>"#;
//! let id = store.put_batch(None, xml, OffsetDateTime::now_utc()).await?;
//! let run = queue_run(&*store, id, None, OffsetDateTime::now_utc()).await?.unwrap();
//! let worker = Worker::new(
//!     store.clone(),
//!     WorkerInfo::this_process(),
//!     |_run| ScriptedExecutor::new().graded("a.example", 114),
//!     checktls_batch::scripted::NoMailer,
//!     DeliveryConfig::new(std::env::temp_dir(), "c@example.invalid"),
//!     WorkerOptions::default(),
//! );
//! worker.drain().await?;
//! assert_eq!(store.runs(id, 1).await?[0].total, Some(114.0));
//! # let _ = run; Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::delivery::{DeliveryConfig, Mailer};
use crate::error::Error;
use crate::eval::BatchResult;
use crate::report::Outcome;
use crate::run::{Executor, Job, jobs};
use crate::service::{Reference, conclude, due_runs};
use crate::store::{Claim, Completion, JobKey, Store, WorkerInfo};

/// How a worker works.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// At most this many tests at once. Default: 8.
    pub concurrency: usize,
    /// How long a claim holds without a heartbeat. Default: 60 s.
    pub lease: Duration,
    /// How often leases are extended. Default: 15 s (a quarter of the lease).
    pub heartbeat: Duration,
    /// How often an idle worker looks for work. Default: 1 s.
    pub poll: Duration,
    /// The longest one test may take before it counts as not tested. Default: 10 minutes.
    pub job_timeout: Duration,
    /// On shutdown, how long running tests may go on before they are dropped and their jobs
    /// given back. Default: 10 s.
    pub grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            job_timeout: Duration::from_secs(600),
            grace: Duration::from_secs(10),
        }
    }
}

/// Queues a run of stored batch `batch_id` (for `slot`, or on demand): one job per test.
/// `None` when that slot was already queued (by this or another server).
pub async fn queue_run(
    store: &dyn Store,
    batch_id: i64,
    slot: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Option<i64>, Error> {
    let stored = store
        .batch(batch_id)
        .await?
        .ok_or(Error::NoSuchBatch { id: batch_id })?;
    let batch = crate::parse(&stored.xml)?;
    let keys: Vec<JobKey> = jobs(&batch)
        .iter()
        .map(|j| JobKey {
            index: j.index,
            run: j.run,
        })
        .collect();
    store.enqueue_run(batch_id, slot, &keys, now).await
}

/// Queues every stored batch whose schedule is due at `now`: (batch, slot, run queued or
/// `None` when another server queued it first).
pub async fn queue_due(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<Vec<(i64, OffsetDateTime, Option<i64>)>, Error> {
    let mut out = Vec::new();
    for (id, slot) in due_runs(store, now).await? {
        out.push((id, slot, queue_run(store, id, Some(slot), now).await?));
    }
    Ok(out)
}

/// What a worker knows of one run it holds jobs of.
struct RunContext<E> {
    batch_id: i64,
    batch: Option<crate::Batch>,
    /// Why the jobs cannot be carried out (the batch was removed, replaced or broken).
    unusable: Option<String>,
    jobs: HashMap<JobKey, Job>,
    executor: Arc<E>,
}

/// What a worker did (returned by [`Worker::run`] and [`Worker::drain`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Jobs completed and stored.
    pub completed: usize,
    /// Jobs whose lease was lost before they were stored (another worker has them).
    pub stale: usize,
    /// Runs this worker finished.
    pub finished: usize,
    /// Jobs given back at shutdown.
    pub released: usize,
}

struct Shared<E, M> {
    store: Arc<dyn Store>,
    me: WorkerInfo,
    factory: Box<dyn Fn(i64) -> E + Send + Sync>,
    mailer: M,
    config: DeliveryConfig,
    options: WorkerOptions,
    contexts: Mutex<HashMap<i64, Arc<RunContext<E>>>>,
    clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

/// A worker: claims jobs from the store, carries them out with an executor made per run,
/// stores the outcomes, finishes the runs whose last job it completed.
pub struct Worker<E, M> {
    shared: Arc<Shared<E, M>>,
}

impl<E, M> std::fmt::Debug for Worker<E, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.shared.me.id)
            .finish_non_exhaustive()
    }
}

enum Done {
    /// A job: how its completion went, and whether this worker then finished its run.
    Job(Completion, bool),
    /// An orphaned finish: whether this worker finished it.
    Finished(bool),
}

impl WorkerReport {
    fn count(&mut self, done: Done) {
        match done {
            Done::Job(Completion::Stale, _) => self.stale += 1,
            Done::Job(_, finished) => {
                self.completed += 1;
                self.finished += usize::from(finished);
            }
            Done::Finished(finished) => self.finished += usize::from(finished),
        }
    }
}

impl<E, M> Worker<E, M>
where
    E: Executor + 'static,
    M: Mailer + 'static,
{
    /// A worker named by `me`; `factory` makes the executor of each run (given its id).
    pub fn new(
        store: Arc<dyn Store>,
        me: WorkerInfo,
        factory: impl Fn(i64) -> E + Send + Sync + 'static,
        mailer: M,
        config: DeliveryConfig,
        options: WorkerOptions,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                me,
                factory: Box::new(factory),
                mailer,
                config,
                options,
                contexts: Mutex::new(HashMap::new()),
                clock: Arc::new(OffsetDateTime::now_utc),
            }),
        }
    }

    /// The clock leases are judged by (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        if let Some(s) = Arc::get_mut(&mut self.shared) {
            s.clock = Arc::new(clock);
        }
        self
    }

    /// Works until `shutdown` turns true: then stops claiming, lets running tests end within
    /// the grace period, and gives back every lease it still holds.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<WorkerReport, Error> {
        self.work(Some(&mut shutdown)).await
    }

    /// Works until the queue is empty and nothing is running (tests, benchmarks, examples).
    pub async fn drain(&self) -> Result<WorkerReport, Error> {
        self.work(None).await
    }

    async fn work(
        &self,
        mut shutdown: Option<&mut watch::Receiver<bool>>,
    ) -> Result<WorkerReport, Error> {
        let s = &self.shared;
        let now = || (s.clock)();
        s.store.register_worker(&s.me, now()).await?;
        let heartbeat = {
            let s = s.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(s.options.heartbeat).await;
                    if let Err(e) = s
                        .store
                        .heartbeat(&s.me.id, s.options.lease, (s.clock)())
                        .await
                    {
                        tracing::warn!(worker = %s.me.id, "heartbeat: {e}");
                    }
                }
            })
        };
        let mut report = WorkerReport::default();
        let mut running: JoinSet<Result<Done, Error>> = JoinSet::new();
        let limit = s.options.concurrency.max(1);
        let mut stopping = false;
        let outcome = loop {
            // Finishes left by a finisher that died.
            if !stopping {
                match s.store.orphaned_runs(now()).await {
                    Ok(runs) => {
                        for run_id in runs {
                            if s.store
                                .take_finish(run_id, &s.me.id, s.options.lease, now())
                                .await?
                            {
                                let s = s.clone();
                                running.spawn(async move {
                                    finish(&s, run_id).await.map(Done::Finished)
                                });
                            }
                        }
                    }
                    Err(e) => tracing::warn!(worker = %s.me.id, "orphaned runs: {e}"),
                }
            }
            let mut claimed = 0;
            if !stopping && running.len() < limit {
                match s
                    .store
                    .claim(&s.me.id, limit - running.len(), s.options.lease, now())
                    .await
                {
                    Ok(claims) => {
                        claimed = claims.len();
                        for claim in claims {
                            let s = s.clone();
                            running.spawn(async move { job(&s, claim).await });
                        }
                    }
                    Err(e) => tracing::warn!(worker = %s.me.id, "claim: {e}"),
                }
            }
            if stopping && running.is_empty() {
                break Ok(());
            }
            if running.is_empty() && claimed == 0 {
                // Idle: the executors of past runs go (each run gets a fresh one).
                if let Ok(mut m) = s.contexts.lock() {
                    m.clear();
                }
            }
            if shutdown.is_none() && running.is_empty() && claimed == 0 {
                break Ok(());
            }
            let idle = tokio::time::sleep(s.options.poll);
            tokio::select! {
                joined = running.join_next(), if !running.is_empty() => {
                    match joined {
                        Some(Ok(Ok(done))) => report.count(done),
                        None => {}
                        Some(Ok(Err(e))) => tracing::warn!(worker = %s.me.id, "{e}"),
                        Some(Err(e)) => tracing::warn!(worker = %s.me.id, "a job's task: {e}"),
                    }
                }
                changed = async {
                    match shutdown.as_deref_mut() {
                        Some(rx) => rx.changed().await.is_ok() && *rx.borrow(),
                        None => std::future::pending().await,
                    }
                }, if !stopping => {
                    if changed {
                        stopping = true;
                        let grace = tokio::time::sleep(s.options.grace);
                        tokio::pin!(grace);
                        loop {
                            tokio::select! {
                                j = running.join_next() => match j {
                                    Some(Ok(Ok(done))) => report.count(done),
                                    Some(_) => {}
                                    None => break,
                                },
                                () = &mut grace => {
                                    running.abort_all();
                                    while running.join_next().await.is_some() {}
                                    break;
                                }
                            }
                        }
                    }
                }
                () = idle => {}
            }
        };
        heartbeat.abort();
        if shutdown.is_some() {
            report.released = s.store.release(&s.me.id).await?;
        }
        outcome.map(|()| report)
    }
}

/// The context of a run: its batch, its jobs and its executor, made once per run.
async fn context<E, M>(s: &Shared<E, M>, claim: &Claim) -> Result<Arc<RunContext<E>>, Error>
where
    E: Executor + 'static,
{
    if let Some(c) = s
        .contexts
        .lock()
        .ok()
        .and_then(|m| m.get(&claim.run_id).cloned())
    {
        return Ok(c);
    }
    let stored = s.store.batch(claim.batch_id).await?;
    let revision = s.store.revision(claim.batch_id).await?;
    let (batch, unusable) = match (stored, revision) {
        (Some(b), Some(r)) if r == claim.revision => match crate::parse(&b.xml) {
            Ok(batch) => (Some(batch), None),
            Err(e) => (None, Some(format!("the stored batch does not parse: {e}"))),
        },
        (Some(_), Some(_)) => (
            None,
            Some("the batch was replaced after this run was queued".to_owned()),
        ),
        _ => (
            None,
            Some("the batch was removed after this run was queued".to_owned()),
        ),
    };
    let jobs = batch
        .as_ref()
        .map(|b| {
            jobs(b)
                .into_iter()
                .map(|j| {
                    (
                        JobKey {
                            index: j.index,
                            run: j.run,
                        },
                        j,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let ctx = Arc::new(RunContext {
        batch_id: claim.batch_id,
        batch,
        unusable,
        jobs,
        executor: Arc::new((s.factory)(claim.run_id)),
    });
    if let Ok(mut m) = s.contexts.lock() {
        Ok(m.entry(claim.run_id).or_insert(ctx).clone())
    } else {
        Ok(ctx)
    }
}

/// Carries out one claimed job and stores its outcome; finishes the run when it was the last.
async fn job<E, M>(s: &Arc<Shared<E, M>>, claim: Claim) -> Result<Done, Error>
where
    E: Executor + 'static,
    M: Mailer + 'static,
{
    let ctx = context(s, &claim).await?;
    let outcome = match (&ctx.unusable, ctx.jobs.get(&claim.job)) {
        (Some(why), _) => Outcome::not_tested(why.clone()),
        (None, None) => Outcome::not_tested("the batch has no such test"),
        (None, Some(job)) => {
            match tokio::time::timeout(s.options.job_timeout, ctx.executor.execute(job)).await {
                Ok(o) => o,
                Err(_) => Outcome::not_tested(format!(
                    "the test took longer than {} s",
                    s.options.job_timeout.as_secs()
                )),
            }
        }
    };
    let done = s
        .store
        .complete(&s.me.id, &claim, &outcome, s.options.lease, (s.clock)())
        .await?;
    let finished = done == Completion::Last && finish(s, claim.run_id).await?;
    Ok(Done::Job(done, finished))
}

/// Finishes a run this worker holds the finish of: every job's outcome evaluated, compared,
/// alerted and delivered, then stored with the guard that makes it happen once.
async fn finish<E, M>(s: &Arc<Shared<E, M>>, run_id: i64) -> Result<bool, Error>
where
    E: Executor + 'static,
    M: Mailer + 'static,
{
    let (batch_id, _) = s
        .store
        .run_batch(run_id)
        .await?
        .ok_or_else(|| Error::Store {
            detail: format!("run {run_id} is not in the history"),
        })?;
    let ctx = s.contexts.lock().ok().and_then(|mut m| m.remove(&run_id));
    let batch = match ctx.and_then(|c| (c.batch_id == batch_id).then_some(c.batch.clone())) {
        Some(Some(b)) => b,
        _ => {
            let stored = s
                .store
                .batch(batch_id)
                .await?
                .ok_or(Error::NoSuchBatch { id: batch_id })?;
            crate::parse(&stored.xml)?
        }
    };
    let mut per_target: Vec<Vec<(u32, Outcome)>> = vec![Vec::new(); batch.targets.len()];
    for (key, outcome) in s.store.job_outcomes(run_id).await? {
        if let Some(t) = per_target.get_mut(key.index) {
            t.push((key.run, outcome));
        }
    }
    let per_target = per_target
        .into_iter()
        .map(|mut runs| {
            runs.sort_by_key(|(run, _)| *run);
            runs.into_iter().map(|(_, o)| o).collect()
        })
        .collect();
    let result = BatchResult::evaluate(&batch, per_target);
    let reference = Reference::read(&*s.store, batch_id).await?;
    let (result, _changed, _alerted, deliveries) = conclude(
        &batch,
        result,
        &reference,
        &s.mailer,
        &s.config,
        (s.clock)(),
    )
    .await;
    s.store
        .finish_queued(run_id, &s.me.id, &result, &deliveries, (s.clock)())
        .await
}
