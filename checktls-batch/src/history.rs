//! The history: stored batches, every run, every target's result, every delivery, and
//! baselines, in one SQLite file (WAL mode, a schema version, migrations).
//!
//! ```text
//!   batches(id, name, xml, added, updated)              batch add / list / remove
//!   runs(id, batch_id, slot, owner, started, finished,  begin_run: a 'running' row, committed
//!        status running|complete|interrupted, total,     at once; UNIQUE(batch_id, slot) so two
//!        passed, tested, not_tested)                     servers never run one slot twice
//!   results(run_id, target_index, run_no, target,       finish_run: results, deliveries and the
//!           summary, outcome JSON)                       'complete' mark in ONE transaction
//!   deliveries(run_id, idx, sent, ok, detail)
//!   baselines(batch_id, target, summary)                a run saved as the reference
//! ```
//!
//! A run whose process died (killed, crashed) stays 'running'; [`Store::recover`] marks it
//! 'interrupted' at the next start. What was committed before is never touched.
//!
//! ```
//! use checktls_batch::history::{RunStatus, Store};
//! use time::macros::datetime;
//!
//! let store = Store::open_in_memory().unwrap();
//! let xml = r#"<BatchTest TestType="receiver"><Target>a.example</Target></BatchTest>"#;
//! let id = store.put_batch(None, xml, datetime!(2026-11-22 12:00 UTC)).unwrap();
//! let run = store.begin_run(id, None, datetime!(2026-11-22 12:01 UTC)).unwrap().unwrap();
//! assert_eq!(store.runs(id, 10).unwrap()[0].status, RunStatus::Running);
//! # let _ = run;
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use crate::error::Error;
use crate::eval::{BatchResult, TargetResult};
use crate::report::Outcome;

/// The migrations, in order; the database's `user_version` is how many have been applied.
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
];

/// The schema version this code writes.
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

fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_unix(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A stored batch. Its `Debug` shows the XML's size, not the XML.
#[derive(Clone, PartialEq, Eq)]
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

    fn from_name(s: &str) -> Self {
        match s {
            "complete" => Self::Complete,
            "interrupted" => Self::Interrupted,
            _ => Self::Running,
        }
    }
}

/// One run of a stored batch.
#[derive(Clone, Debug, PartialEq)]
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
                    .map(|f| f.code.as_str())
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

/// The history database. Cheap to share behind an `Arc`; every call takes the connection's
/// lock, and SQLite's own locks (with a busy timeout) order writers across processes.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and brings its schema
    /// up to date.
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
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<usize, Error> {
        let v: i64 = self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    }

    /// Marks 'interrupted' every 'running' run whose process is gone; returns how many.
    /// `alive` says whether a process id is still running (the service passes a check of
    /// the process table; tests pass their own).
    pub fn recover(&self, alive: impl Fn(u32) -> bool) -> Result<usize, Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let running: Vec<(i64, u32)> = {
            let mut st = tx
                .prepare("SELECT id, owner FROM runs WHERE status = 'running'")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
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
    }

    /// Adds a batch (`id` none: a new one, as CheckTLS's BatchUpload "new") or replaces the
    /// batch `id`. The XML must parse. Returns the id.
    /// A batch with an AUTH password in clear (`AuthPass`) is refused: stored batches name an
    /// environment variable (`ct:AuthPassEnv`) instead.
    pub fn put_batch(&self, id: Option<i64>, xml: &str, now: OffsetDateTime) -> Result<i64, Error> {
        let batch = crate::parse(xml)?;
        if let Some(t) = batch.clear_secret() {
            return Err(Error::StoredSecret { at: t.at });
        }
        let name = batch.display_name().to_owned();
        let conn = self.conn();
        match id {
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
                        "UPDATE batches SET name = ?2, xml = ?3, updated = ?4 WHERE id = ?1",
                        params![id, name, xml, unix(now)],
                    )
                    .map_err(db)?;
                if n == 0 {
                    return Err(Error::NoSuchBatch { id });
                }
                Ok(id)
            }
        }
    }

    /// Every stored batch, by id.
    pub fn batches(&self) -> Result<Vec<StoredBatch>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT id, name, xml, added, updated FROM batches ORDER BY id")
            .map_err(db)?;
        let rows = st.query_map([], batch_row).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// One stored batch.
    pub fn batch(&self, id: i64) -> Result<Option<StoredBatch>, Error> {
        self.conn()
            .query_row(
                "SELECT id, name, xml, added, updated FROM batches WHERE id = ?1",
                params![id],
                batch_row,
            )
            .optional()
            .map_err(db)
    }

    /// Removes a batch (its history stays, for the record); false when there was none.
    pub fn remove_batch(&self, id: i64) -> Result<bool, Error> {
        let n = self
            .conn()
            .execute("DELETE FROM batches WHERE id = ?1", params![id])
            .map_err(db)?;
        Ok(n > 0)
    }

    /// Starts a run: a 'running' row, committed at once. With a slot, `None` when that slot
    /// is already taken (another server ran it or is running it).
    pub fn begin_run(
        &self,
        batch_id: i64,
        slot: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, Error> {
        let conn = self.conn();
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO runs (batch_id, slot, owner, started, status)
                 VALUES (?1, ?2, ?3, ?4, 'running')",
                params![batch_id, slot.map(unix), std::process::id(), unix(now)],
            )
            .map_err(db)?;
        Ok((n == 1).then(|| conn.last_insert_rowid()))
    }

    /// Finishes a run: every result, every delivery and the 'complete' mark, in one
    /// transaction.
    pub fn finish_run(
        &self,
        run_id: i64,
        result: &BatchResult,
        deliveries: &[DeliveryRecord],
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        for t in &result.targets {
            let summary = summary(t);
            for (n, o) in t.runs.iter().enumerate() {
                let json = serde_json::to_string(o).map_err(|e| Error::Store {
                    detail: e.to_string(),
                })?;
                tx.execute(
                    "INSERT INTO results (run_id, target_index, run_no, target, summary, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![run_id, int(t.index), int(n + 1), t.target, summary, json],
                )
                .map_err(db)?;
            }
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
                    tested = ?5, not_tested = ?6 WHERE id = ?1",
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
        tx.commit().map_err(db)
    }

    /// The latest `limit` runs of a batch, newest first.
    pub fn runs(&self, batch_id: i64, limit: usize) -> Result<Vec<RunRow>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT id, batch_id, slot, started, finished, status, total, passed, tested,
                        not_tested
                 FROM runs WHERE batch_id = ?1 ORDER BY started DESC, id DESC LIMIT ?2",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![batch_id, int(limit)], |r| {
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
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// The latest schedule slot run (or being run) for a batch.
    pub fn last_slot(&self, batch_id: i64) -> Result<Option<OffsetDateTime>, Error> {
        self.conn()
            .query_row(
                "SELECT MAX(slot) FROM runs WHERE batch_id = ?1",
                params![batch_id],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|s| s.map(from_unix))
            .map_err(db)
    }

    /// The stored results of a run: (target index, run number, target, outcome).
    pub fn results(&self, run_id: i64) -> Result<Vec<(usize, u32, String, Outcome)>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT target_index, run_no, target, outcome FROM results WHERE run_id = ?1
                 ORDER BY target_index, run_no",
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
        let mut out = Vec::new();
        for row in rows {
            let (i, n, target, json) = row.map_err(db)?;
            let outcome = serde_json::from_str(&json).map_err(|e| Error::Store {
                detail: format!("a stored result does not read back: {e}"),
            })?;
            out.push((i, n, target, outcome));
        }
        Ok(out)
    }

    /// Each target's summary in a run.
    pub fn summaries(&self, run_id: i64) -> Result<BTreeMap<String, String>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT DISTINCT target, summary FROM results WHERE run_id = ?1")
            .map_err(db)?;
        let rows = st
            .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// The deliveries recorded for a run.
    pub fn deliveries(&self, run_id: i64) -> Result<Vec<DeliveryRecord>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT idx, sent, ok, detail FROM deliveries WHERE run_id = ?1 ORDER BY idx")
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
    }

    /// Saves a complete run as the batch's baseline: every target (`target` none), or one
    /// target only (re-baselining it).
    pub fn set_baseline(
        &self,
        batch_id: i64,
        run_id: i64,
        target: Option<&str>,
    ) -> Result<usize, Error> {
        let summaries = self.summaries(run_id)?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        if target.is_none() {
            tx.execute(
                "DELETE FROM baselines WHERE batch_id = ?1",
                params![batch_id],
            )
            .map_err(db)?;
        }
        let mut n = 0;
        for (t, s) in &summaries {
            if target.is_some_and(|want| want != t) {
                continue;
            }
            tx.execute(
                "INSERT OR REPLACE INTO baselines (batch_id, target, summary) VALUES (?1, ?2, ?3)",
                params![batch_id, t, s],
            )
            .map_err(db)?;
            n += 1;
        }
        tx.commit().map_err(db)?;
        Ok(n)
    }

    /// The baseline of a batch: target → summary (empty when none was saved).
    pub fn baseline(&self, batch_id: i64) -> Result<BTreeMap<String, String>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT target, summary FROM baselines WHERE batch_id = ?1")
            .map_err(db)?;
        let rows = st
            .query_map(params![batch_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }
}

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
