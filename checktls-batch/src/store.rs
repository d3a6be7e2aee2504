//! The history store behind one trait, with two backends: SQLite (embedded, the default; one
//! machine) and PostgreSQL (a fleet of workers on many machines sharing one database).
//!
//! ```text
//!                         ┌──────────── dyn Store (object-safe, async) ────────────┐
//!   batch add/list/run ──►│ batches, runs, results, deliveries, baselines          │
//!   monitor, /metrics  ──►│ workers, queue counts                                  │
//!   serve (scheduler)  ──►│ enqueue_run: the run row and one job per test, one tx  │
//!   worker             ──►│ claim (FOR UPDATE SKIP LOCKED) ─ heartbeat ─ complete  │
//!                         │   ─ take_finish (the last finisher) ─ finish_queued    │
//!   receiver probes    ──►│ lease_address / release_address / back_off_address     │
//!                         └───────┬──────────────────────────────┬─────────────────┘
//!                       SqliteStore (history.rs)          PgStore (postgres.rs)
//!                       rusqlite on spawn_blocking        tokio-postgres + deadpool
//! ```
//!
//! The trait is object-safe (through `async_trait`) rather than generic: the backend is
//! chosen at run time by the `--db` argument (a path or a `postgres://` URL), and the
//! monitor, the metrics and the web page hold one `Arc<dyn Store>` whatever it is. The cost
//! is one boxed future per call, nothing next to a database round trip.
//!
//! Both backends have the same schema version and the same migrations (in their dialects);
//! every statement is parameterised. Time is a parameter of every call that judges it
//! (leases, back-offs), so tests run on a fake clock; on a fleet the machines' clocks must
//! agree to well within a lease (NTP).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), checktls_batch::Error> {
//! use checktls_batch::history::SqliteStore;
//! use checktls_batch::store::{JobKey, Store};
//! use std::time::Duration;
//! use time::macros::datetime;
//!
//! let store = SqliteStore::open_in_memory()?;
//! let now = datetime!(2026-11-22 12:00 UTC);
//! let xml = r#"<BatchTest TestType="receiver"><Target>a.example</Target></BatchTest>"#;
//! let id = store.put_batch(None, xml, now).await?;
//! let run = store.enqueue_run(id, Some(now), &[JobKey { index: 0, run: 1 }], now).await?;
//! assert!(run.is_some());
//! let claims = store.claim("w1", 10, Duration::from_secs(30), now).await?;
//! assert_eq!(claims.len(), 1);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Error;
use crate::eval::BatchResult;
use crate::history::{DeliveryRecord, RunRow, StoredBatch};
use crate::report::Outcome;

/// Which database holds the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// One SQLite file (WAL): one machine.
    Sqlite,
    /// A PostgreSQL database: any number of machines.
    Postgres,
}

/// One test of a queued run: which target (its position in the batch) and which of its
/// runs (from 1 to its Count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct JobKey {
    /// The target's position in the batch.
    pub index: usize,
    /// The run, from 1.
    pub run: u32,
}

/// A job a worker holds under a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The run it belongs to.
    pub run_id: i64,
    /// The stored batch.
    pub batch_id: i64,
    /// The batch's revision when the run was queued (a replaced batch is not run under the
    /// old run's jobs).
    pub revision: i64,
    /// Which test.
    pub job: JobKey,
    /// How many times it has been claimed, this time included (more than 1: a worker died or
    /// gave it back).
    pub attempts: u32,
}

/// What completing a job did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// Stored; `remaining` jobs of the run are not done yet.
    Stored {
        /// Jobs of the run not yet done.
        remaining: usize,
    },
    /// Stored, and it was the last: this worker now holds the run's finish (it computes the
    /// Total, deliveries and alerts, then calls [`Store::finish_queued`]).
    Last,
    /// Not stored: the lease was lost (expired and taken by another worker, or released).
    Stale,
}

/// A worker as the fleet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerRow {
    /// Its name (`host-pid` unless given).
    pub id: String,
    /// The machine it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// When it started.
    pub started: OffsetDateTime,
    /// Its last heartbeat.
    pub last_seen: OffsetDateTime,
    /// Jobs it completed.
    pub jobs_done: u64,
    /// Jobs it holds now.
    pub claimed: u64,
    /// Whether it stopped cleanly (its leases given back).
    pub stopped: bool,
}

/// Jobs in the queue, by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueCounts {
    /// Waiting for a worker.
    pub queued: u64,
    /// Held under a lease (expired leases included until someone claims them again).
    pub claimed: u64,
    /// Done, their run not yet finished.
    pub done: u64,
}

/// Who is running: the worker's name, its machine and process.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct WorkerInfo {
    /// Its name.
    pub id: String,
    /// Its machine.
    pub host: String,
    /// Its process id.
    pub pid: u32,
}

impl WorkerInfo {
    /// This process: `HOST-PID` on this machine.
    pub fn this_process() -> Self {
        let host = crate::history::host_name();
        let pid = std::process::id();
        Self {
            id: format!("{host}-{pid}"),
            host,
            pid,
        }
    }
}

/// A stored run row with what the history keeps beside the monitor's view: who ran it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunRecord {
    /// The run as the monitor reads it.
    pub row: RunRow,
    /// The process that started it.
    pub owner: u32,
    /// Its machine.
    pub host: String,
    /// Whether its tests went through the queue.
    pub queued: bool,
    /// The batch's revision it ran.
    pub revision: i64,
}

/// One stored result: one run of one target.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResultRecord {
    /// The run.
    pub run_id: i64,
    /// The target's position.
    pub index: usize,
    /// Which of its runs.
    pub run_no: u32,
    /// The target as written.
    pub target: String,
    /// Its summary (what change alerts compare).
    pub summary: String,
    /// The outcome, as JSON.
    pub outcome_json: String,
}

/// A whole history, as [`Store::export`] reads it and [`Store::import`] writes it: what
/// `checktls batch migrate` copies. Queue state (jobs, leases, workers) is not part of it.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct HistoryDump {
    /// Stored batches, with their revision.
    pub batches: Vec<(StoredBatch, i64)>,
    /// Every run.
    pub runs: Vec<RunRecord>,
    /// Every result.
    pub results: Vec<ResultRecord>,
    /// Every delivery: (run, record).
    pub deliveries: Vec<(i64, DeliveryRecord)>,
    /// Baselines: (batch, target, summary).
    pub baselines: Vec<(i64, String, String)>,
}

/// A receiver test run from the web page, kept so that its page has a permanent address:
/// who ran it, on what, and the report as it was rendered (HTML, text, JSON, XML).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredCheck {
    /// Its id: unguessable (at least 128 random bits, hex), the last part of its address.
    pub id: String,
    /// The user who ran it (only they see it).
    pub owner: String,
    /// The target as given.
    pub target: String,
    /// When it was started.
    pub created: OffsetDateTime,
    /// The grade; none when the test could not be carried out.
    pub score: Option<u16>,
    /// The output level it was rendered at.
    pub level: String,
    /// The report as an HTML fragment (already escaped).
    pub html: String,
    /// As text.
    pub text: String,
    /// As JSON.
    pub json: String,
    /// As XML.
    pub xml: String,
}

impl StoredCheck {
    /// A check with no report yet.
    pub fn new(id: &str, owner: &str, target: &str, created: OffsetDateTime) -> Self {
        Self {
            id: id.to_owned(),
            owner: owner.to_owned(),
            target: target.to_owned(),
            created,
            score: None,
            level: String::new(),
            html: String::new(),
            text: String::new(),
            json: String::new(),
            xml: String::new(),
        }
    }
}

impl fmt::Debug for StoredCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCheck")
            .field("owner", &self.owner)
            .field("target", &self.target)
            .field("created", &self.created)
            .field("score", &self.score)
            .finish_non_exhaustive()
    }
}

/// A stored check as listed (without its renderings).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckRow {
    /// Its id.
    pub id: String,
    /// The target.
    pub target: String,
    /// When it was started.
    pub created: OffsetDateTime,
    /// The grade.
    pub score: Option<u16>,
}

/// An address that serves one run's results in one Batch format without a session, as
/// CheckTLS's results links do: it works while its token is unguessable and not revoked.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResultLink {
    /// The token (at least 128 random bits, hex): the last part of the address.
    pub token: String,
    /// The batch.
    pub batch_id: i64,
    /// The run.
    pub run_id: i64,
    /// The Batch format's name (`text`, `csv`, `pager`, `xml`, `xml-score`, `xml-matrix`,
    /// `json`).
    pub format: String,
    /// Who made it (the batch's owner).
    pub owner: String,
    /// When.
    pub created: OffsetDateTime,
    /// Revoked by the owner: it serves nothing any more.
    pub revoked: bool,
}

impl ResultLink {
    /// A live link.
    pub fn new(
        token: &str,
        batch_id: i64,
        run_id: i64,
        format: &str,
        owner: &str,
        created: OffsetDateTime,
    ) -> Self {
        Self {
            token: token.to_owned(),
            batch_id,
            run_id,
            format: format.to_owned(),
            owner: owner.to_owned(),
            created,
            revoked: false,
        }
    }
}

impl fmt::Debug for ResultLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultLink")
            .field("token", &"<redacted>")
            .field("batch_id", &self.batch_id)
            .field("run_id", &self.run_id)
            .field("format", &self.format)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

/// The history: batches, runs and their results, baselines; the work queue; the fleet's
/// politeness leases; the web page's checks, batch owners and results links. See the
/// [module documentation](self).
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The schema version of the open database.
    async fn schema_version(&self) -> Result<usize, Error>;

    /// Marks 'interrupted' every 'running' run started on demand (not through the queue) by
    /// a process of this machine that is gone; returns how many. `alive` says whether a
    /// process id still runs. Runs of other machines, and queued runs (any worker finishes
    /// them), are left alone.
    async fn recover(&self, alive: fn(u32) -> bool) -> Result<usize, Error>;

    /// Adds a batch (`id` none) or replaces the batch `id` (its revision goes up). The XML
    /// must parse, and carry no AUTH password in clear (`AuthPass`): stored batches name an
    /// environment variable (`ct:AuthPassEnv`) instead ([`Error::StoredSecret`]). Returns the
    /// id.
    async fn put_batch(
        &self,
        id: Option<i64>,
        xml: &str,
        now: OffsetDateTime,
    ) -> Result<i64, Error>;

    /// Every stored batch, by id.
    async fn batches(&self) -> Result<Vec<StoredBatch>, Error>;

    /// One stored batch.
    async fn batch(&self, id: i64) -> Result<Option<StoredBatch>, Error>;

    /// A stored batch's revision (0 when added, one more per replacement).
    async fn revision(&self, id: i64) -> Result<Option<i64>, Error>;

    /// Removes a batch (its history stays); false when there was none.
    async fn remove_batch(&self, id: i64) -> Result<bool, Error>;

    /// Starts a run on demand or for a slot, carried out by this process: a 'running' row,
    /// committed at once. With a slot, `None` when the slot is already taken.
    async fn begin_run(
        &self,
        batch_id: i64,
        slot: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, Error>;

    /// Finishes a run started with [`Store::begin_run`]: every result, every delivery and
    /// the 'complete' mark, in one transaction.
    async fn finish_run(
        &self,
        run_id: i64,
        result: &BatchResult,
        deliveries: &[DeliveryRecord],
        now: OffsetDateTime,
    ) -> Result<(), Error>;

    /// The latest `limit` runs of a batch, newest first.
    async fn runs(&self, batch_id: i64, limit: usize) -> Result<Vec<RunRow>, Error>;

    /// The latest schedule slot run (or being run) for a batch.
    async fn last_slot(&self, batch_id: i64) -> Result<Option<OffsetDateTime>, Error>;

    /// The stored results of a run: (target index, run number, target, outcome).
    async fn results(&self, run_id: i64) -> Result<Vec<(usize, u32, String, Outcome)>, Error>;

    /// Each target's summary in a run.
    async fn summaries(&self, run_id: i64) -> Result<BTreeMap<String, String>, Error>;

    /// The deliveries recorded for a run.
    async fn deliveries(&self, run_id: i64) -> Result<Vec<DeliveryRecord>, Error>;

    /// Saves a run as the batch's baseline: every target (`target` none), or one target.
    async fn set_baseline(
        &self,
        batch_id: i64,
        run_id: i64,
        target: Option<&str>,
    ) -> Result<usize, Error>;

    /// The baseline of a batch: target → summary (empty when none was saved).
    async fn baseline(&self, batch_id: i64) -> Result<BTreeMap<String, String>, Error>;

    /// Queues a run: its 'running' row and one job per test, in one transaction. With a
    /// slot, `None` when the slot is already taken (another server queued it).
    async fn enqueue_run(
        &self,
        batch_id: i64,
        slot: Option<OffsetDateTime>,
        jobs: &[JobKey],
        now: OffsetDateTime,
    ) -> Result<Option<i64>, Error>;

    /// Registers (or re-registers) a worker; its heartbeat starts now.
    async fn register_worker(&self, worker: &WorkerInfo, now: OffsetDateTime) -> Result<(), Error>;

    /// Claims up to `max` jobs for `worker` until `now + lease`: queued jobs, and jobs whose
    /// lease has expired (their worker died). Two workers never get the same job.
    async fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<Claim>, Error>;

    /// Extends every lease `worker` holds (jobs, a finish, addresses) to `now + lease`, and
    /// records its heartbeat.
    async fn heartbeat(
        &self,
        worker: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Stores a job's outcome if `worker` still holds it. The worker that completes the
    /// run's last job also takes its finish, until `now + lease`.
    async fn complete(
        &self,
        worker: &str,
        claim: &Claim,
        outcome: &Outcome,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Completion, Error>;

    /// Gives back every job and address lease `worker` holds (a clean stop) and marks it
    /// stopped; returns how many jobs went back to the queue.
    async fn release(&self, worker: &str) -> Result<usize, Error>;

    /// Queued runs whose jobs are all done but which nobody is finishing (the finisher died):
    /// their ids.
    async fn orphaned_runs(&self, now: OffsetDateTime) -> Result<Vec<i64>, Error>;

    /// Takes the finish of a run whose jobs are all done, when nobody else holds it (or its
    /// holder's lease expired). True when `worker` now holds it.
    async fn take_finish(
        &self,
        run_id: i64,
        worker: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// The outcomes stored by the jobs of a queued run: (job, outcome).
    async fn job_outcomes(&self, run_id: i64) -> Result<Vec<(JobKey, Outcome)>, Error>;

    /// Finishes a queued run held by `worker`: results, deliveries, the 'complete' mark, and
    /// its jobs removed, in one transaction; false (and nothing written) when `worker` does
    /// not hold the finish or the run is no longer running: a run completes exactly once.
    async fn finish_queued(
        &self,
        run_id: i64,
        worker: &str,
        result: &BatchResult,
        deliveries: &[DeliveryRecord],
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// The batch and revision a run was queued with.
    async fn run_batch(&self, run_id: i64) -> Result<Option<(i64, i64)>, Error>;

    /// Every worker the fleet has seen.
    async fn workers(&self) -> Result<Vec<WorkerRow>, Error>;

    /// The queue's jobs by state.
    async fn queue(&self) -> Result<QueueCounts, Error>;

    /// Takes one of the `cap` connection slots of a destination address for `holder` until
    /// `now + ttl`: `Some(slot)`, or `None` when all are held (or the address is backing
    /// off after a 421). Expired leases count as free.
    async fn lease_address(
        &self,
        address: &str,
        holder: &str,
        cap: usize,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, Error>;

    /// Gives back a connection slot.
    async fn release_address(&self, address: &str, slot: u32, holder: &str) -> Result<(), Error>;

    /// No new connection to `address` from any worker before `until` (a 421 was answered).
    async fn back_off_address(&self, address: &str, until: OffsetDateTime) -> Result<(), Error>;

    /// Connection slots held now, by address.
    async fn address_leases(&self, now: OffsetDateTime) -> Result<BTreeMap<String, u32>, Error>;

    /// Reads the whole history (not the queue).
    async fn export(&self) -> Result<HistoryDump, Error>;

    /// Writes a history read by [`Store::export`] into this store, ids kept; refused unless
    /// this store holds no batch and no run.
    async fn import(&self, dump: &HistoryDump) -> Result<(), Error>;

    /// Stores a check run from the web page (or replaces the one with its id).
    async fn put_check(&self, check: &StoredCheck) -> Result<(), Error>;

    /// A stored check by its id.
    async fn stored_check(&self, id: &str) -> Result<Option<StoredCheck>, Error>;

    /// The latest `limit` checks of `owner`, newest first.
    async fn checks(&self, owner: &str, limit: usize) -> Result<Vec<CheckRow>, Error>;

    /// Records who owns a stored batch (the web page's user who added it).
    async fn set_batch_owner(&self, batch_id: i64, owner: &str) -> Result<(), Error>;

    /// Who owns a stored batch; none for batches added from the command line.
    async fn batch_owner(&self, batch_id: i64) -> Result<Option<String>, Error>;

    /// Stores a results link.
    async fn put_link(&self, link: &ResultLink) -> Result<(), Error>;

    /// A results link by its token (revoked ones too: the caller refuses them).
    async fn link(&self, token: &str) -> Result<Option<ResultLink>, Error>;

    /// Every results link of a batch, newest first.
    async fn links(&self, batch_id: i64) -> Result<Vec<ResultLink>, Error>;

    /// Revokes a results link; false when there was none.
    async fn revoke_link(&self, token: &str) -> Result<bool, Error>;
}

/// Milliseconds since the epoch: how leases and heartbeats are stored.
/// A batch to be stored: it parses, and no target carries an AUTH password in clear.
pub(crate) fn parse_for_storage(xml: &str) -> Result<crate::Batch, Error> {
    let batch = crate::parse(xml)?;
    if let Some(t) = batch.clear_secret() {
        return Err(Error::StoredSecret { at: t.at });
    }
    Ok(batch)
}

pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`millis`].
pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `now + d` in milliseconds.
pub(crate) fn millis_after(now: OffsetDateTime, d: Duration) -> i64 {
    millis(now).saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The JSON stored for an outcome.
pub(crate) fn outcome_json(o: &Outcome) -> Result<String, Error> {
    serde_json::to_string(o).map_err(|e| Error::Store {
        detail: e.to_string(),
    })
}

/// An outcome read back.
pub(crate) fn read_outcome(json: &str) -> Result<Outcome, Error> {
    serde_json::from_str(json).map_err(|e| Error::Store {
        detail: format!("a stored result does not read back: {e}"),
    })
}

/// The rows a finished run writes: (target index, run number, target, summary, outcome JSON).
pub(crate) fn result_rows(result: &BatchResult) -> Result<Vec<ResultRecord>, Error> {
    let mut rows = Vec::new();
    for t in &result.targets {
        let summary = crate::history::summary(t);
        for (n, o) in t.runs.iter().enumerate() {
            rows.push(ResultRecord {
                run_id: 0,
                index: t.index,
                run_no: u32::try_from(n + 1).unwrap_or(u32::MAX),
                target: t.target.clone(),
                summary: summary.clone(),
                outcome_json: outcome_json(o)?,
            });
        }
    }
    Ok(rows)
}

/// Opens the store a `--db` argument names: a `postgres://` (or `postgresql://`) URL, else
/// the path of an SQLite file.
pub async fn open(db: &str) -> Result<std::sync::Arc<dyn Store>, Error> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            return Ok(std::sync::Arc::new(
                crate::postgres::PgStore::connect(db).await?,
            ));
        }
        #[cfg(not(feature = "postgres"))]
        {
            return Err(Error::Store {
                detail: "this build has no PostgreSQL support (feature \"postgres\")".into(),
            });
        }
    }
    let path = std::path::PathBuf::from(db);
    let store = tokio::task::spawn_blocking(move || crate::history::SqliteStore::open(&path))
        .await
        .map_err(|e| Error::Store {
            detail: e.to_string(),
        })??;
    Ok(std::sync::Arc::new(store))
}
