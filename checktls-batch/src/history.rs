//! The history's shared types, and its embedded backend: [`SqliteStore`], one SQLite file
//! (WAL mode, a schema version in `user_version`, migrations) behind the
//! [`Store`] trait.
//!
//! ```text
//!   batches(id, name, xml, added, updated, revision)     batch add / list / remove
//!   runs(id, batch_id, slot, owner, host, started,       begin_run: a 'running' row, committed
//!        finished, status running|complete|interrupted,   at once; UNIQUE(batch_id, slot) so two
//!        total, passed, tested, not_tested, queued,       servers never run one slot twice
//!        revision, finisher, finish_until)
//!   results(run_id, target_index, run_no, target,        finish_run: results, deliveries and the
//!           summary, outcome JSON)                        'complete' mark in ONE transaction
//!   deliveries(run_id, idx, sent, ok, detail)
//!   baselines(batch_id, target, summary)                 a run saved as the reference
//!   jobs(run_id, batch_id, revision, target_index,       the work queue (schema 2)
//!        run_no, state, worker, lease_until, attempts, outcome)
//!   workers(id, host, pid, started, last_seen, jobs_done, stopped)
//!   address_leases(address, slot, holder, expires)       fleet-wide politeness
//!   address_backoff(address, until)
//! ```
//!
//! A run started on demand whose process died (killed, crashed) stays 'running';
//! [`Store::recover`] marks it 'interrupted' at the next start.
//! What was committed before is never touched. Every call runs on tokio's blocking pool, so
//! the async callers never wait on SQLite's locks on a runtime thread.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), checktls_batch::Error> {
//! use checktls_batch::history::{RunStatus, SqliteStore};
//! use checktls_batch::store::Store;
//! use time::macros::datetime;
//!
//! let store = SqliteStore::open_in_memory()?;
//! let xml = r#"<BatchTest TestType="receiver"><Target>a.example</Target></BatchTest>"#;
//! let id = store.put_batch(None, xml, datetime!(2026-11-22 12:00 UTC)).await?;
//! let run = store.begin_run(id, None, datetime!(2026-11-22 12:01 UTC)).await?;
//! assert!(run.is_some());
//! assert_eq!(store.runs(id, 10).await?[0].status, RunStatus::Running);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use crate::error::Error;
use crate::eval::{BatchResult, TargetResult};
use crate::report::Outcome;
use crate::store::{
    Backend, CheckRow, Claim, Completion, HistoryDump, JobKey, QueueCounts, ResultLink,
    ResultRecord, RunRecord, Store, StoredCheck, WorkerInfo, WorkerRow, from_millis, millis,
    millis_after, outcome_json, read_outcome, result_rows,
};

/// The migrations, in order; the database's `user_version` is how many have been applied.
/// The PostgreSQL backend has the same list in its dialect.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        xml TEXT NOT NULL,
        added INTEGER NOT NULL,
        updated INTEGER NOT NULL
     );
     CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        batch_id INTEGER NOT NULL,
        slot INTEGER,
        owner INTEGER NOT NULL,
        started INTEGER NOT NULL,
        finished INTEGER,
        status TEXT NOT NULL,
        total REAL,
        passed INTEGER,
        tested INTEGER,
        not_tested INTEGER,
        UNIQUE (batch_id, slot)
     );
     CREATE INDEX runs_by_batch ON runs (batch_id, started);
     CREATE TABLE results (
        run_id INTEGER NOT NULL,
        target_index INTEGER NOT NULL,
        run_no INTEGER NOT NULL,
        target TEXT NOT NULL,
        summary TEXT NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (run_id, target_index, run_no)
     );
     CREATE TABLE deliveries (
        run_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
     );
     CREATE TABLE baselines (
        batch_id INTEGER NOT NULL,
        target TEXT NOT NULL,
        summary TEXT NOT NULL,
        PRIMARY KEY (batch_id, target)
     );",
    // 2: the work queue, workers, fleet-wide politeness; who ran a run, on which machine.
    "ALTER TABLE batches ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
     ALTER TABLE runs ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN finisher TEXT;
     ALTER TABLE runs ADD COLUMN finish_until INTEGER;
     CREATE TABLE jobs (
        run_id INTEGER NOT NULL,
        batch_id INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        target_index INTEGER NOT NULL,
        run_no INTEGER NOT NULL,
        state TEXT NOT NULL,
        worker TEXT,
        lease_until INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        outcome TEXT,
        PRIMARY KEY (run_id, target_index, run_no)
     );
     CREATE INDEX jobs_by_state ON jobs (state, lease_until);
     CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        jobs_done INTEGER NOT NULL DEFAULT 0,
        stopped INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE address_leases (
        address TEXT NOT NULL,
        slot INTEGER NOT NULL,
        holder TEXT NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (address, slot)
     );
     CREATE TABLE address_backoff (
        address TEXT PRIMARY KEY,
        until INTEGER NOT NULL
     );",
    // 3: the web page: checks with permanent addresses, batch owners, results links.
    "CREATE TABLE web_checks (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        target TEXT NOT NULL,
        created INTEGER NOT NULL,
        score INTEGER,
        level TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        json TEXT NOT NULL,
        xml TEXT NOT NULL
     );
     CREATE INDEX web_checks_by_owner ON web_checks (owner, created);
     CREATE TABLE batch_owners (
        batch_id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL
     );
     CREATE TABLE result_links (
        token TEXT PRIMARY KEY,
        batch_id INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        format TEXT NOT NULL,
        owner TEXT NOT NULL,
        created INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX result_links_by_batch ON result_links (batch_id);",
];

/// The schema version this code writes (both backends).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Creates `path` readable and writable by its owner only, or makes it so.
fn owner_only(path: &Path) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::Store {
        detail: format!("{}: {e}", path.display()),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(fail)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    #[cfg(not(unix))]
    {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
    }
    Ok(())
}

fn db(e: rusqlite::Error) -> Error {
    Error::Store {
        detail: e.to_string(),
    }
}

/// SQLite integers are i64; counts and indexes here are far below its range.
fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_unix(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// This machine's name (the kernel's host name), for the runs and workers it owns.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A stored batch. Its `Debug` shows the XML's size, not the XML.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredBatch {
    /// Its id.
    pub id: i64,
    /// Its name (`ct:Name`, or `batch`).
    pub name: String,
    /// The XML as given.
    pub xml: String,
    /// When it was added.
    pub added: OffsetDateTime,
    /// When it was last replaced.
    pub updated: OffsetDateTime,
}

impl std::fmt::Debug for StoredBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredBatch")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("xml", &format_args!("<{} bytes>", self.xml.len()))
            .field("added", &self.added)
            .field("updated", &self.updated)
            .finish()
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunStatus {
    /// Under way (or its process died and no one has started since).
    Running,
    /// Every result stored.
    Complete,
    /// Its process died before it finished.
    Interrupted,
}

impl RunStatus {
    /// The name stored (`complete`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Interrupted => "interrupted",
        }
    }

    pub(crate) fn from_name(s: &str) -> Self {
        match s {
            "complete" => Self::Complete,
            "interrupted" => Self::Interrupted,
            _ => Self::Running,
        }
    }
}

/// One run of a stored batch.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunRow {
    /// Its id.
    pub id: i64,
    /// The batch.
    pub batch_id: i64,
    /// The schedule slot it ran for (none: run on demand).
    pub slot: Option<OffsetDateTime>,
    /// When it started.
    pub started: OffsetDateTime,
    /// When it finished.
    pub finished: Option<OffsetDateTime>,
    /// How it ended.
    pub status: RunStatus,
    /// The Total (none when nothing was tested, or not finished).
    pub total: Option<f64>,
    /// Whether the Total passed.
    pub passed: Option<bool>,
    /// Tests carried out.
    pub tested: Option<u32>,
    /// Tests that could not be carried out.
    pub not_tested: Option<u32>,
}

/// What happened to one Delivery of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// Its position in the batch.
    pub index: usize,
    /// Whether anything was sent.
    pub sent: bool,
    /// Whether what was due succeeded.
    pub ok: bool,
    /// A sentence (file written, attempts, the error; never a secret).
    pub detail: String,
}

/// What a target's result is compared by, between runs and against the baseline: every
/// run's grade (or "not tested") and the finding codes, sorted.
pub fn summary(target: &TargetResult) -> String {
    let mut parts = Vec::new();
    for o in &target.runs {
        match o {
            Outcome::Tested(r) => {
                let mut codes: Vec<&str> = r
                    .findings
                    .iter()
                    .map(|f| f.code.as_ref())
                    .chain(
                        r.mx.iter()
                            .filter_map(|m| m.cert.as_ref())
                            .filter(|c| c.expired)
                            .map(|_| "cert.expired"),
                    )
                    .collect();
                codes.sort_unstable();
                codes.dedup();
                parts.push(format!("{} [{}]", r.score, codes.join(",")));
            }
            Outcome::NotTested(_) => parts.push("not tested".to_owned()),
        }
    }
    parts.join("; ")
}

/// The embedded history store: one SQLite file. Cheap to clone (clones share the connection);
/// every call takes the connection's lock on tokio's blocking pool, and SQLite's own locks
/// (with a busy timeout) order writers across processes.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Sqlite>,
}

struct Sqlite {
    conn: Mutex<Connection>,
    host: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and brings its schema
    /// up to date. Blocking: call it before the runtime, or on the blocking pool (as
    /// [`store::open`](crate::store::open) does).
    ///
    /// The file (and SQLite's `-wal` and `-shm` files beside it) is readable and writable by
    /// its owner only (0600): it holds every result and the stored batches.
    pub fn open(path: &Path) -> Result<Self, Error> {
        owner_only(path)?;
        let store = Self::setup(Connection::open(path).map_err(db)?)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            if side.exists() {
                owner_only(&side)?;
            }
        }
        Ok(store)
    }

    /// A database in memory (tests, examples).
    pub fn open_in_memory() -> Result<Self, Error> {
        Self::setup(Connection::open_in_memory().map_err(db)?)
    }

    fn setup(mut conn: Connection) -> Result<Self, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > SCHEMA_VERSION {
            return Err(Error::Store {
                detail: format!(
                    "the database has schema version {version}; this program knows up to {SCHEMA_VERSION}"
                ),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).map_err(db)?;
            tx.pragma_update(None, "user_version", int(i + 1))
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(Self {
            inner: Arc::new(Sqlite {
                conn: Mutex::new(conn),
                host: host_name(),
            }),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T, Error> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = match inner.conn.lock() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            f(&mut conn, &inner.host)
        })
        .await
        .map_err(|e| Error::Store {
            detail: format!("the history's thread failed: {e}"),
        })?
    }
}

fn immediate(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, Error> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        batch_id: r.get(1)?,
        slot: r.get::<_, Option<i64>>(2)?.map(from_unix),
        started: from_unix(r.get(3)?),
        finished: r.get::<_, Option<i64>>(4)?.map(from_unix),
        status: RunStatus::from_name(&r.get::<_, String>(5)?),
        total: r.get(6)?,
        passed: r.get(7)?,
        tested: r.get(8)?,
        not_tested: r.get(9)?,
    })
}

const RUN_COLUMNS: &str =
    "id, batch_id, slot, started, finished, status, total, passed, tested, not_tested";

fn summaries_of(conn: &Connection, run_id: i64) -> Result<BTreeMap<String, String>, Error> {
    let mut st = conn
        .prepare("SELECT DISTINCT target, summary FROM results WHERE run_id = ?1")
        .map_err(db)?;
    let rows = st
        .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

/// Writes a finished run: results, deliveries and the 'complete' mark, inside `tx`.
fn write_finish(
    tx: &rusqlite::Transaction<'_>,
    run_id: i64,
    rows: &[ResultRecord],
    result: &BatchResult,
    deliveries: &[DeliveryRecord],
    now: OffsetDateTime,
) -> Result<(), Error> {
    for r in rows {
        tx.execute(
            "INSERT INTO results (run_id, target_index, run_no, target, summary, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run_id,
                int(r.index),
                r.run_no,
                r.target,
                r.summary,
                r.outcome_json
            ],
        )
        .map_err(db)?;
    }
    for d in deliveries {
        tx.execute(
            "INSERT INTO deliveries (run_id, idx, sent, ok, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run_id, int(d.index), d.sent, d.ok, d.detail],
        )
        .map_err(db)?;
    }
    let total = &result.total;
    tx.execute(
        "UPDATE runs SET status = 'complete', finished = ?2, total = ?3, passed = ?4,
                tested = ?5, not_tested = ?6, finisher = NULL, finish_until = NULL
         WHERE id = ?1",
        params![
            run_id,
            unix(now),
            total.value,
            total.passed,
            int(total.tested),
            int(total.not_tested)
        ],
    )
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn schema_version(&self) -> Result<usize, Error> {
        self.call(|c, _| {
            let v: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(db)?;
            Ok(usize::try_from(v).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn recover(&self, alive: fn(u32) -> bool) -> Result<usize, Error> {
        self.call(move |conn, host| {
            let tx = immediate(conn)?;
            let running: Vec<(i64, u32)> = {
                let mut st = tx
                    .prepare(
                        "SELECT id, owner FROM runs
                         WHERE status = 'running' AND queued = 0 AND host IN (?1, '')",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map(params![host], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)?
            };
            let mut n = 0;
            for (id, owner) in running {
                if !alive(owner) {
                    tx.execute(
                        "UPDATE runs SET status = 'interrupted' WHERE id = ?1",
                        params![id],
                    )
                    .map_err(db)?;
                    n += 1;
                }
            }
            tx.commit().map_err(db)?;
            Ok(n)
        })
        .await
    }

    async fn put_batch(
        &self,
        id: Option<i64>,
        xml: &str,
        now: OffsetDateTime,
    ) -> Result<i64, Error> {
        let batch = crate::store::parse_for_storage(xml)?;
        let name = batch.display_name().to_owned();
        let xml = xml.to_owned();
        self.call(move |conn, _| match id {
            None => {
                conn.execute(
                    "INSERT INTO batches (name, xml, added, updated) VALUES (?1, ?2, ?3, ?3)",
                    params![name, xml, unix(now)],
                )
                .map_err(db)?;
                Ok(conn.last_insert_rowid())
            }
            Some(id) => {
                let n = conn
                    .execute(
                        "UPDATE batches SET name = ?2, xml = ?3, updated = ?4,
                                revision = revision + 1
                         WHERE id = ?1",
                        params![id, name, xml, unix(now)],
                    )
                    .map_err(db)?;
                if n == 0 {
                    return Err(Error::NoSuchBatch { id });
                }
                Ok(id)
            }
        })
        .await
    }

    async fn batches(&self) -> Result<Vec<StoredBatch>, Error> {
        self.call(|conn, _| {
            let mut st = conn
                .prepare("SELECT id, name, xml, added, updated FROM batches ORDER BY id")
                .map_err(db)?;
            let rows = st.query_map([], batch_row).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn batch(&self, id: i64) -> Result<Option<StoredBatch>, Error> {
        self.call(move |conn, _| {
            conn.query_row(
                "SELECT id, name, xml, added, updated FROM batches WHERE id = ?1",
                params![id],
                batch_row,
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn revision(&self, id: i64) -> Result<Option<i64>, Error> {
        self.call(move |conn, _| {
            conn.query_row(
                "SELECT revision FROM batches WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn remove_batch(&self, id: i64) -> Result<bool, Error> {
        self.call(move |conn, _| {
            let n = conn
                .execute("DELETE FROM batches WHERE id = ?1", params![id])
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn begin_run(
        &self,
        batch_id: i64,
        slot: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, Error> {
        self.call(move |conn, host| {
            let n = conn
                .execute(
                    "INSERT OR IGNORE INTO runs (batch_id, slot, owner, host, started, status,
                            revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'running',
                             COALESCE((SELECT revision FROM batches WHERE id = ?1), 0))",
                    params![
                        batch_id,
                        slot.map(unix),
                        std::process::id(),
                        host,
                        unix(now)
                    ],
                )
                .map_err(db)?;
            Ok((n == 1).then(|| conn.last_insert_rowid()))
        })
        .await
    }

    async fn finish_run(
        &self,
        run_id: i64,
        result: &BatchResult,
        deliveries: &[DeliveryRecord],
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let rows = result_rows(result)?;
        let result = result.clone();
        let deliveries = deliveries.to_vec();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            write_finish(&tx, run_id, &rows, &result, &deliveries, now)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn runs(&self, batch_id: i64, limit: usize) -> Result<Vec<RunRow>, Error> {
        self.call(move |conn, _| {
            let mut st = conn
                .prepare(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE batch_id = ?1
                     ORDER BY started DESC, id DESC LIMIT ?2"
                ))
                .map_err(db)?;
            let rows = st
                .query_map(params![batch_id, int(limit)], run_row)
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn last_slot(&self, batch_id: i64) -> Result<Option<OffsetDateTime>, Error> {
        self.call(move |conn, _| {
            conn.query_row(
                "SELECT MAX(slot) FROM runs WHERE batch_id = ?1",
                params![batch_id],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|s| s.map(from_unix))
            .map_err(db)
        })
        .await
    }

    async fn results(&self, run_id: i64) -> Result<Vec<(usize, u32, String, Outcome)>, Error> {
        let rows = self
            .call(move |conn, _| {
                let mut st = conn
                    .prepare(
                        "SELECT target_index, run_no, target, outcome FROM results
                         WHERE run_id = ?1 ORDER BY target_index, run_no",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map(params![run_id], |r| {
                        Ok((
                            usize::try_from(r.get::<_, i64>(0)?).unwrap_or(usize::MAX),
                            r.get::<_, u32>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })
                    .map_err(db)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db)
            })
            .await?;
        rows.into_iter()
            .map(|(i, n, t, json)| Ok((i, n, t, read_outcome(&json)?)))
            .collect()
    }

    async fn summaries(&self, run_id: i64) -> Result<BTreeMap<String, String>, Error> {
        self.call(move |conn, _| summaries_of(conn, run_id)).await
    }

    async fn deliveries(&self, run_id: i64) -> Result<Vec<DeliveryRecord>, Error> {
        self.call(move |conn, _| {
            let mut st = conn
                .prepare(
                    "SELECT idx, sent, ok, detail FROM deliveries WHERE run_id = ?1 ORDER BY idx",
                )
                .map_err(db)?;
            let rows = st
                .query_map(params![run_id], |r| {
                    Ok(DeliveryRecord {
                        index: usize::try_from(r.get::<_, i64>(0)?).unwrap_or(usize::MAX),
                        sent: r.get(1)?,
                        ok: r.get(2)?,
                        detail: r.get(3)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn set_baseline(
        &self,
        batch_id: i64,
        run_id: i64,
        target: Option<&str>,
    ) -> Result<usize, Error> {
        let target = target.map(str::to_owned);
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let summaries = summaries_of(&tx, run_id)?;
            if target.is_none() {
                tx.execute(
                    "DELETE FROM baselines WHERE batch_id = ?1",
                    params![batch_id],
                )
                .map_err(db)?;
            }
            let mut n = 0;
            for (t, s) in &summaries {
                if target.as_ref().is_some_and(|want| want != t) {
                    continue;
                }
                tx.execute(
                    "INSERT OR REPLACE INTO baselines (batch_id, target, summary)
                     VALUES (?1, ?2, ?3)",
                    params![batch_id, t, s],
                )
                .map_err(db)?;
                n += 1;
            }
            tx.commit().map_err(db)?;
            Ok(n)
        })
        .await
    }

    async fn baseline(&self, batch_id: i64) -> Result<BTreeMap<String, String>, Error> {
        self.call(move |conn, _| {
            let mut st = conn
                .prepare("SELECT target, summary FROM baselines WHERE batch_id = ?1")
                .map_err(db)?;
            let rows = st
                .query_map(params![batch_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn enqueue_run(
        &self,
        batch_id: i64,
        slot: Option<OffsetDateTime>,
        jobs: &[JobKey],
        now: OffsetDateTime,
    ) -> Result<Option<i64>, Error> {
        let jobs = jobs.to_vec();
        self.call(move |conn, host| {
            let tx = immediate(conn)?;
            let Some(revision) = tx
                .query_row(
                    "SELECT revision FROM batches WHERE id = ?1",
                    params![batch_id],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(db)?
            else {
                return Err(Error::NoSuchBatch { id: batch_id });
            };
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO runs (batch_id, slot, owner, host, started, status,
                            queued, revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'running', 1, ?6)",
                    params![
                        batch_id,
                        slot.map(unix),
                        std::process::id(),
                        host,
                        unix(now),
                        revision
                    ],
                )
                .map_err(db)?;
            if n == 0 {
                return Ok(None);
            }
            let run_id = tx.last_insert_rowid();
            {
                let mut st = tx
                    .prepare(
                        "INSERT INTO jobs (run_id, batch_id, revision, target_index, run_no, state)
                         VALUES (?1, ?2, ?3, ?4, ?5, 'queued')",
                    )
                    .map_err(db)?;
                for j in &jobs {
                    st.execute(params![run_id, batch_id, revision, int(j.index), j.run])
                        .map_err(db)?;
                }
            }
            tx.commit().map_err(db)?;
            Ok(Some(run_id))
        })
        .await
    }

    async fn register_worker(&self, worker: &WorkerInfo, now: OffsetDateTime) -> Result<(), Error> {
        let w = worker.clone();
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO workers (id, host, pid, started, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                     started = excluded.started, last_seen = excluded.last_seen, stopped = 0",
                params![w.id, w.host, w.pid, millis(now)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<Claim>, Error> {
        let worker = worker.to_owned();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let picked: Vec<(i64, i64, i64, i64, u32, u32)> = {
                let mut st = tx
                    .prepare(
                        "SELECT run_id, batch_id, revision, target_index, run_no, attempts
                         FROM jobs
                         WHERE state = 'queued' OR (state = 'claimed' AND lease_until < ?1)
                         ORDER BY run_id, run_no, target_index LIMIT ?2",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map(params![millis(now), int(max)], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    })
                    .map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)?
            };
            let until = millis_after(now, lease);
            let mut claims = Vec::with_capacity(picked.len());
            for (run_id, batch_id, revision, index, run_no, attempts) in picked {
                tx.execute(
                    "UPDATE jobs SET state = 'claimed', worker = ?4, lease_until = ?5,
                            attempts = attempts + 1
                     WHERE run_id = ?1 AND target_index = ?2 AND run_no = ?3",
                    params![run_id, index, run_no, worker, until],
                )
                .map_err(db)?;
                claims.push(Claim {
                    run_id,
                    batch_id,
                    revision,
                    job: JobKey {
                        index: usize::try_from(index).unwrap_or(usize::MAX),
                        run: run_no,
                    },
                    attempts: attempts.saturating_add(1),
                });
            }
            tx.commit().map_err(db)?;
            Ok(claims)
        })
        .await
    }

    async fn heartbeat(
        &self,
        worker: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let worker = worker.to_owned();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let until = millis_after(now, lease);
            tx.execute(
                "UPDATE jobs SET lease_until = ?2 WHERE worker = ?1 AND state = 'claimed'",
                params![worker, until],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE runs SET finish_until = ?2 WHERE finisher = ?1 AND status = 'running'",
                params![worker, until],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE address_leases SET expires = ?2 WHERE holder = ?1",
                params![worker, until],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE workers SET last_seen = ?2 WHERE id = ?1",
                params![worker, millis(now)],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn complete(
        &self,
        worker: &str,
        claim: &Claim,
        outcome: &Outcome,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Completion, Error> {
        let worker = worker.to_owned();
        let claim = claim.clone();
        let json = outcome_json(outcome)?;
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let n = tx
                .execute(
                    "UPDATE jobs SET state = 'done', outcome = ?5, lease_until = NULL
                     WHERE run_id = ?1 AND target_index = ?2 AND run_no = ?3
                       AND state = 'claimed' AND worker = ?4",
                    params![
                        claim.run_id,
                        int(claim.job.index),
                        claim.job.run,
                        worker,
                        json
                    ],
                )
                .map_err(db)?;
            if n == 0 {
                return Ok(Completion::Stale);
            }
            tx.execute(
                "UPDATE workers SET jobs_done = jobs_done + 1 WHERE id = ?1",
                params![worker],
            )
            .map_err(db)?;
            let remaining: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM jobs WHERE run_id = ?1 AND state <> 'done'",
                    params![claim.run_id],
                    |r| r.get(0),
                )
                .map_err(db)?;
            let done = if remaining == 0 {
                let took = tx
                    .execute(
                        "UPDATE runs SET finisher = ?2, finish_until = ?3
                         WHERE id = ?1 AND status = 'running' AND finisher IS NULL",
                        params![claim.run_id, worker, millis_after(now, lease)],
                    )
                    .map_err(db)?;
                if took == 1 {
                    Completion::Last
                } else {
                    Completion::Stored { remaining: 0 }
                }
            } else {
                Completion::Stored {
                    remaining: usize::try_from(remaining).unwrap_or(usize::MAX),
                }
            };
            tx.commit().map_err(db)?;
            Ok(done)
        })
        .await
    }

    async fn release(&self, worker: &str) -> Result<usize, Error> {
        let worker = worker.to_owned();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let n = tx
                .execute(
                    "UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL
                     WHERE worker = ?1 AND state = 'claimed'",
                    params![worker],
                )
                .map_err(db)?;
            tx.execute(
                "UPDATE runs SET finisher = NULL, finish_until = NULL
                 WHERE finisher = ?1 AND status = 'running'",
                params![worker],
            )
            .map_err(db)?;
            tx.execute(
                "DELETE FROM address_leases WHERE holder = ?1",
                params![worker],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE workers SET stopped = 1 WHERE id = ?1",
                params![worker],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(n)
        })
        .await
    }

    async fn orphaned_runs(&self, now: OffsetDateTime) -> Result<Vec<i64>, Error> {
        self.call(move |conn, _| {
            let mut st = conn
                .prepare(
                    "SELECT id FROM runs r
                     WHERE status = 'running' AND queued = 1
                       AND (finisher IS NULL OR finish_until < ?1)
                       AND NOT EXISTS (SELECT 1 FROM jobs j
                                       WHERE j.run_id = r.id AND j.state <> 'done')
                     ORDER BY id",
                )
                .map_err(db)?;
            let rows = st
                .query_map(params![millis(now)], |r| r.get(0))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn take_finish(
        &self,
        run_id: i64,
        worker: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let worker = worker.to_owned();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let n = tx
                .execute(
                    "UPDATE runs SET finisher = ?2, finish_until = ?3
                     WHERE id = ?1 AND status = 'running' AND queued = 1
                       AND (finisher IS NULL OR finish_until < ?4)
                       AND NOT EXISTS (SELECT 1 FROM jobs j
                                       WHERE j.run_id = ?1 AND j.state <> 'done')",
                    params![run_id, worker, millis_after(now, lease), millis(now)],
                )
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn job_outcomes(&self, run_id: i64) -> Result<Vec<(JobKey, Outcome)>, Error> {
        let rows = self
            .call(move |conn, _| {
                let mut st = conn
                    .prepare(
                        "SELECT target_index, run_no, outcome FROM jobs
                         WHERE run_id = ?1 AND state = 'done' ORDER BY target_index, run_no",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map(params![run_id], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, u32>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    })
                    .map_err(db)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db)
            })
            .await?;
        rows.into_iter()
            .map(|(i, run, json)| {
                let key = JobKey {
                    index: usize::try_from(i).unwrap_or(usize::MAX),
                    run,
                };
                Ok((key, read_outcome(json.as_deref().unwrap_or("null"))?))
            })
            .collect()
    }

    async fn finish_queued(
        &self,
        run_id: i64,
        worker: &str,
        result: &BatchResult,
        deliveries: &[DeliveryRecord],
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let rows = result_rows(result)?;
        let result = result.clone();
        let deliveries = deliveries.to_vec();
        let worker = worker.to_owned();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let held: Option<i64> = tx
                .query_row(
                    "SELECT id FROM runs WHERE id = ?1 AND status = 'running' AND finisher = ?2",
                    params![run_id, worker],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if held.is_none() {
                return Ok(false);
            }
            write_finish(&tx, run_id, &rows, &result, &deliveries, now)?;
            tx.execute("DELETE FROM jobs WHERE run_id = ?1", params![run_id])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn run_batch(&self, run_id: i64) -> Result<Option<(i64, i64)>, Error> {
        self.call(move |conn, _| {
            conn.query_row(
                "SELECT batch_id, revision FROM runs WHERE id = ?1",
                params![run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn workers(&self) -> Result<Vec<WorkerRow>, Error> {
        self.call(|conn, _| {
            let mut st = conn
                .prepare(
                    "SELECT w.id, w.host, w.pid, w.started, w.last_seen, w.jobs_done, w.stopped,
                            (SELECT COUNT(*) FROM jobs j
                             WHERE j.worker = w.id AND j.state = 'claimed')
                     FROM workers w ORDER BY w.id",
                )
                .map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(WorkerRow {
                        id: r.get(0)?,
                        host: r.get(1)?,
                        pid: r.get(2)?,
                        started: from_millis(r.get(3)?),
                        last_seen: from_millis(r.get(4)?),
                        jobs_done: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                        stopped: r.get(6)?,
                        claimed: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn queue(&self) -> Result<QueueCounts, Error> {
        self.call(|conn, _| {
            let mut st = conn
                .prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(db)?;
            let mut q = QueueCounts::default();
            for row in rows {
                let (state, n) = row.map_err(db)?;
                let n = u64::try_from(n).unwrap_or(0);
                match state.as_str() {
                    "queued" => q.queued = n,
                    "claimed" => q.claimed = n,
                    _ => q.done = n,
                }
            }
            Ok(q)
        })
        .await
    }

    async fn lease_address(
        &self,
        address: &str,
        holder: &str,
        cap: usize,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, Error> {
        let (address, holder) = (address.to_owned(), holder.to_owned());
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let backing_off: Option<i64> = tx
                .query_row(
                    "SELECT until FROM address_backoff WHERE address = ?1 AND until > ?2",
                    params![address, millis(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if backing_off.is_some() {
                return Ok(None);
            }
            let mut got = None;
            for slot in 0..u32::try_from(cap.max(1)).unwrap_or(u32::MAX) {
                let n = tx
                    .execute(
                        "INSERT INTO address_leases (address, slot, holder, expires)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (address, slot) DO UPDATE
                         SET holder = excluded.holder, expires = excluded.expires
                         WHERE address_leases.expires < ?5",
                        params![address, slot, holder, millis_after(now, ttl), millis(now)],
                    )
                    .map_err(db)?;
                if n == 1 {
                    got = Some(slot);
                    break;
                }
            }
            tx.commit().map_err(db)?;
            Ok(got)
        })
        .await
    }

    async fn release_address(&self, address: &str, slot: u32, holder: &str) -> Result<(), Error> {
        let (address, holder) = (address.to_owned(), holder.to_owned());
        self.call(move |conn, _| {
            conn.execute(
                "DELETE FROM address_leases WHERE address = ?1 AND slot = ?2 AND holder = ?3",
                params![address, slot, holder],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn back_off_address(&self, address: &str, until: OffsetDateTime) -> Result<(), Error> {
        let address = address.to_owned();
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO address_backoff (address, until) VALUES (?1, ?2)
                 ON CONFLICT (address) DO UPDATE SET until = MAX(until, excluded.until)",
                params![address, millis(until)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn address_leases(&self, now: OffsetDateTime) -> Result<BTreeMap<String, u32>, Error> {
        self.call(move |conn, _| {
            let mut st = conn
                .prepare(
                    "SELECT address, COUNT(*) FROM address_leases WHERE expires >= ?1
                     GROUP BY address",
                )
                .map_err(db)?;
            let rows = st
                .query_map(params![millis(now)], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn export(&self) -> Result<HistoryDump, Error> {
        self.call(|conn, _| {
            let tx = conn.transaction().map_err(db)?;
            let mut dump = HistoryDump::default();
            {
                let mut st = tx
                    .prepare(
                        "SELECT id, name, xml, added, updated, revision FROM batches ORDER BY id",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map([], |r| Ok((batch_row(r)?, r.get(5)?)))
                    .map_err(db)?;
                dump.batches = rows.collect::<Result<_, _>>().map_err(db)?;
                let mut st = tx
                    .prepare(&format!(
                        "SELECT {RUN_COLUMNS}, owner, host, queued, revision FROM runs ORDER BY id"
                    ))
                    .map_err(db)?;
                let rows = st
                    .query_map([], |r| {
                        Ok(RunRecord {
                            row: run_row(r)?,
                            owner: r.get(10)?,
                            host: r.get(11)?,
                            queued: r.get(12)?,
                            revision: r.get(13)?,
                        })
                    })
                    .map_err(db)?;
                dump.runs = rows.collect::<Result<_, _>>().map_err(db)?;
                let mut st = tx
                    .prepare(
                        "SELECT run_id, target_index, run_no, target, summary, outcome
                         FROM results ORDER BY run_id, target_index, run_no",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map([], |r| {
                        Ok(ResultRecord {
                            run_id: r.get(0)?,
                            index: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(usize::MAX),
                            run_no: r.get(2)?,
                            target: r.get(3)?,
                            summary: r.get(4)?,
                            outcome_json: r.get(5)?,
                        })
                    })
                    .map_err(db)?;
                dump.results = rows.collect::<Result<_, _>>().map_err(db)?;
                let mut st = tx
                    .prepare(
                        "SELECT run_id, idx, sent, ok, detail FROM deliveries ORDER BY run_id, idx",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            DeliveryRecord {
                                index: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(usize::MAX),
                                sent: r.get(2)?,
                                ok: r.get(3)?,
                                detail: r.get(4)?,
                            },
                        ))
                    })
                    .map_err(db)?;
                dump.deliveries = rows.collect::<Result<_, _>>().map_err(db)?;
                let mut st = tx
                    .prepare(
                        "SELECT batch_id, target, summary FROM baselines ORDER BY batch_id, target",
                    )
                    .map_err(db)?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(db)?;
                dump.baselines = rows.collect::<Result<_, _>>().map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(dump)
        })
        .await
    }

    async fn import(&self, dump: &HistoryDump) -> Result<(), Error> {
        let dump = dump.clone();
        self.call(move |conn, _| {
            let tx = immediate(conn)?;
            let existing: i64 = tx
                .query_row(
                    "SELECT (SELECT COUNT(*) FROM batches) + (SELECT COUNT(*) FROM runs)",
                    [],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if existing > 0 {
                return Err(Error::Store {
                    detail: "the target history is not empty".into(),
                });
            }
            for (b, revision) in &dump.batches {
                tx.execute(
                    "INSERT INTO batches (id, name, xml, added, updated, revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        b.id,
                        b.name,
                        b.xml,
                        unix(b.added),
                        unix(b.updated),
                        revision
                    ],
                )
                .map_err(db)?;
            }
            for r in &dump.runs {
                let w = &r.row;
                tx.execute(
                    "INSERT INTO runs (id, batch_id, slot, owner, host, started, finished, status,
                            total, passed, tested, not_tested, queued, revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    params![
                        w.id,
                        w.batch_id,
                        w.slot.map(unix),
                        r.owner,
                        r.host,
                        unix(w.started),
                        w.finished.map(unix),
                        w.status.name(),
                        w.total,
                        w.passed,
                        w.tested,
                        w.not_tested,
                        r.queued,
                        r.revision
                    ],
                )
                .map_err(db)?;
            }
            for r in &dump.results {
                tx.execute(
                    "INSERT INTO results (run_id, target_index, run_no, target, summary, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        r.run_id,
                        int(r.index),
                        r.run_no,
                        r.target,
                        r.summary,
                        r.outcome_json
                    ],
                )
                .map_err(db)?;
            }
            for (run_id, d) in &dump.deliveries {
                tx.execute(
                    "INSERT INTO deliveries (run_id, idx, sent, ok, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run_id, int(d.index), d.sent, d.ok, d.detail],
                )
                .map_err(db)?;
            }
            for (batch_id, target, summary) in &dump.baselines {
                tx.execute(
                    "INSERT INTO baselines (batch_id, target, summary) VALUES (?1, ?2, ?3)",
                    params![batch_id, target, summary],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn put_check(&self, check: &StoredCheck) -> Result<(), Error> {
        let c = check.clone();
        self.call(move |conn, _| {
            conn.execute(
                "INSERT OR REPLACE INTO web_checks
                    (id, owner, target, created, score, level, html, text, json, xml)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    c.id,
                    c.owner,
                    c.target,
                    unix(c.created),
                    c.score,
                    c.level,
                    c.html,
                    c.text,
                    c.json,
                    c.xml
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn stored_check(&self, id: &str) -> Result<Option<StoredCheck>, Error> {
        let id = id.to_owned();
        self.call(move |conn, _| {
            conn.query_row(
                "SELECT id, owner, target, created, score, level, html, text, json, xml
                 FROM web_checks WHERE id = ?1",
                params![id],
                |r| {
                    Ok(StoredCheck {
                        id: r.get(0)?,
                        owner: r.get(1)?,
                        target: r.get(2)?,
                        created: from_unix(r.get(3)?),
                        score: r.get(4)?,
                        level: r.get(5)?,
                        html: r.get(6)?,
                        text: r.get(7)?,
                        json: r.get(8)?,
                        xml: r.get(9)?,
                    })
                },
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn checks(&self, owner: &str, limit: usize) -> Result<Vec<CheckRow>, Error> {
        let owner = owner.to_owned();
        self.call(move |conn, _| {
            let mut st = conn
                .prepare(
                    "SELECT id, target, created, score FROM web_checks WHERE owner = ?1
                     ORDER BY created DESC, rowid DESC LIMIT ?2",
                )
                .map_err(db)?;
            let rows = st
                .query_map(params![owner, int(limit)], |r| {
                    Ok(CheckRow {
                        id: r.get(0)?,
                        target: r.get(1)?,
                        created: from_unix(r.get(2)?),
                        score: r.get(3)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn set_batch_owner(&self, batch_id: i64, owner: &str) -> Result<(), Error> {
        let owner = owner.to_owned();
        self.call(move |conn, _| {
            conn.execute(
                "INSERT OR REPLACE INTO batch_owners (batch_id, owner) VALUES (?1, ?2)",
                params![batch_id, owner],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn batch_owner(&self, batch_id: i64) -> Result<Option<String>, Error> {
        self.call(move |conn, _| {
            conn.query_row(
                "SELECT owner FROM batch_owners WHERE batch_id = ?1",
                params![batch_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn put_link(&self, link: &ResultLink) -> Result<(), Error> {
        let l = link.clone();
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO result_links (token, batch_id, run_id, format, owner, created, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    l.token,
                    l.batch_id,
                    l.run_id,
                    l.format,
                    l.owner,
                    unix(l.created),
                    i64::from(l.revoked)
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn link(&self, token: &str) -> Result<Option<ResultLink>, Error> {
        let token = token.to_owned();
        self.call(move |conn, _| {
            conn.query_row(
                &format!("SELECT {LINK_COLUMNS} FROM result_links WHERE token = ?1"),
                params![token],
                link_row,
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn links(&self, batch_id: i64) -> Result<Vec<ResultLink>, Error> {
        self.call(move |conn, _| {
            let mut st = conn
                .prepare(&format!(
                    "SELECT {LINK_COLUMNS} FROM result_links WHERE batch_id = ?1
                     ORDER BY created DESC, rowid DESC"
                ))
                .map_err(db)?;
            let rows = st.query_map(params![batch_id], link_row).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn revoke_link(&self, token: &str) -> Result<bool, Error> {
        let token = token.to_owned();
        self.call(move |conn, _| {
            let n = conn
                .execute(
                    "UPDATE result_links SET revoked = 1 WHERE token = ?1",
                    params![token],
                )
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}

fn link_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ResultLink> {
    Ok(ResultLink {
        token: r.get(0)?,
        batch_id: r.get(1)?,
        run_id: r.get(2)?,
        format: r.get(3)?,
        owner: r.get(4)?,
        created: from_unix(r.get(5)?),
        revoked: r.get::<_, i64>(6)? != 0,
    })
}

const LINK_COLUMNS: &str = "token, batch_id, run_id, format, owner, created, revoked";

fn batch_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredBatch> {
    Ok(StoredBatch {
        id: r.get(0)?,
        name: r.get(1)?,
        xml: r.get(2)?,
        added: from_unix(r.get(3)?),
        updated: from_unix(r.get(4)?),
    })
}

/// Whether a process id is running (Linux: its /proc entry exists).
pub fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}
