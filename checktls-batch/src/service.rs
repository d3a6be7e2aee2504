//! Stored runs: a batch from the history run through an executor, compared with the last run
//! or the baseline, delivered as its `ct:Alert` says, and stored, in one transaction.
//!
//! ```text
//!   Store::batch(id) ─► parse ─► begin_run(slot)  (None: another server took the slot)
//!     ─► run(executor) ─► compare each target's summary with the baseline, else the last
//!        complete run ─► changed targets
//!     ─► with a baseline: only the changed targets are reported (the others suppressed)
//!     ─► Alert: always │ change │ failure │ change-or-failure ─► deliver() or nothing
//!     ─► finish_run(results, deliveries)   one transaction
//!
//!   due_runs(now): for every stored batch with a ct:Schedule, Schedule::due(last slot, now)
//! ```
//!
//! Time is a parameter (`now`); the service's loop and the tests pass their clocks.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::delivery::{DeliveryConfig, Mailer, deliver};
use crate::error::Error;
use crate::eval::{BatchResult, Status};
use crate::history::{DeliveryRecord, summary};
use crate::model::Alert;
use crate::run::{Executor, RunOptions, run};
use crate::schedule::Schedule;
use crate::store::Store;

/// What a stored run did.
#[derive(Debug)]
#[non_exhaustive]
pub struct StoredRun {
    /// The run's id in the history.
    pub run_id: i64,
    /// The results (with a baseline: unchanged targets suppressed).
    pub result: BatchResult,
    /// The targets whose grade or findings differ from the comparison (the baseline, else the
    /// last complete run; every target on a first run).
    pub changed: Vec<String>,
    /// Whether the Alert let the deliveries go.
    pub alerted: bool,
    /// What each delivery did.
    pub deliveries: Vec<DeliveryRecord>,
}

/// Runs stored batch `batch_id` for `slot` (none: on demand). `Ok(None)` when the slot was
/// already taken by another server.
#[allow(clippy::too_many_arguments)]
pub async fn run_stored<E: Executor, M: Mailer>(
    store: &dyn Store,
    batch_id: i64,
    slot: Option<OffsetDateTime>,
    executor: &E,
    mailer: &M,
    config: &DeliveryConfig,
    options: &RunOptions,
    now: impl Fn() -> OffsetDateTime,
) -> Result<Option<StoredRun>, Error> {
    let stored = store
        .batch(batch_id)
        .await?
        .ok_or(Error::NoSuchBatch { id: batch_id })?;
    let batch = crate::parse(&stored.xml)?;
    // The comparison, read before this run exists.
    let reference = Reference::read(store, batch_id).await?;
    let Some(run_id) = store.begin_run(batch_id, slot, now()).await? else {
        return Ok(None);
    };
    let result = run(&batch, executor, options, |_| {}).await;
    let (result, changed, alerted, deliveries) =
        conclude(&batch, result, &reference, mailer, config, now()).await;
    store
        .finish_run(run_id, &result, &deliveries, now())
        .await?;
    Ok(Some(StoredRun {
        run_id,
        result,
        changed,
        alerted,
        deliveries,
    }))
}

/// What a run is compared with: the baseline when one is saved, else the last complete run.
#[derive(Debug, Default)]
pub(crate) struct Reference {
    baseline: BTreeMap<String, String>,
    previous: BTreeMap<String, String>,
}

impl Reference {
    /// Reads the comparison for a new run of `batch_id` (the runs not complete are skipped,
    /// the new one among them).
    pub(crate) async fn read(store: &dyn Store, batch_id: i64) -> Result<Self, Error> {
        let baseline = store.baseline(batch_id).await?;
        let previous = match store
            .runs(batch_id, 50)
            .await?
            .into_iter()
            .find(|r| r.status == crate::history::RunStatus::Complete)
        {
            Some(r) => store.summaries(r.id).await?,
            None => BTreeMap::new(),
        };
        Ok(Self { baseline, previous })
    }
}

/// The end of a run, whoever ran its tests: compared with the reference (with a baseline,
/// unchanged targets are suppressed), the Alert decides, and the deliveries are made.
pub(crate) async fn conclude<M: Mailer>(
    batch: &crate::Batch,
    mut result: BatchResult,
    reference: &Reference,
    mailer: &M,
    config: &DeliveryConfig,
    now: OffsetDateTime,
) -> (BatchResult, Vec<String>, bool, Vec<DeliveryRecord>) {
    let against = if reference.baseline.is_empty() {
        &reference.previous
    } else {
        &reference.baseline
    };
    let mut changed = Vec::new();
    for t in &mut result.targets {
        let differs = against.get(&t.target) != Some(&summary(t));
        if differs {
            changed.push(t.target.clone());
        } else if !reference.baseline.is_empty() {
            // Against a baseline, only what differs is reported.
            t.suppressed = true;
        }
    }
    let failed = result.status() != Status::Passed;
    let alerted = match batch.alert {
        Alert::Always => true,
        Alert::Change => !changed.is_empty(),
        Alert::Failure => failed,
        Alert::ChangeOrFailure => failed || !changed.is_empty(),
    };
    let mut deliveries = Vec::new();
    if alerted {
        for r in deliver(batch, &result, config, mailer, now).await {
            let mut detail = Vec::new();
            if let Some(f) = &r.file {
                detail.push(match f {
                    Ok(p) => format!("wrote {}", p.display()),
                    Err(e) => e.to_string(),
                });
            }
            if let Some(m) = &r.mail {
                detail.push(match m {
                    Ok(n) => format!("mailed ({n} attempt(s))"),
                    Err(e) => e.to_string(),
                });
            }
            if !r.sent {
                detail.push("suppressed".into());
            }
            deliveries.push(DeliveryRecord {
                index: r.index,
                sent: r.sent,
                ok: r.ok(),
                detail: detail.join("; "),
            });
        }
    } else {
        for index in 0..batch.deliveries.len() {
            deliveries.push(DeliveryRecord {
                index,
                sent: false,
                ok: true,
                detail: format!("nothing to alert on (ct:Alert=\"{}\")", batch.alert.name()),
            });
        }
    }
    (result, changed, alerted, deliveries)
}

/// The stored batches due at `now`, with their slots: those with a `ct:Schedule` whose latest
/// slot at or before `now` has not been run. A batch that no longer parses is skipped (and
/// logged).
pub async fn due_runs(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<Vec<(i64, OffsetDateTime)>, Error> {
    let mut due = Vec::new();
    for (id, added, schedule) in scheduled(store).await? {
        // A batch is not due for slots before it was added.
        let last = store.last_slot(id).await?.or(Some(added));
        if let Some(slot) = schedule.due(last, now) {
            due.push((id, slot));
        }
    }
    Ok(due)
}

/// The earliest slot of any stored batch after `now`: when the service should look again.
pub async fn next_slot(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, Error> {
    Ok(scheduled(store)
        .await?
        .iter()
        .filter_map(|(_, _, s)| s.next_after(now))
        .min())
}

/// Every stored batch that has a schedule: id, when it was added, its schedule.
async fn scheduled(store: &dyn Store) -> Result<Vec<(i64, OffsetDateTime, Schedule)>, Error> {
    let mut out = Vec::new();
    for b in store.batches().await? {
        let batch = match crate::parse(&b.xml) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(id = b.id, "stored batch does not parse: {e}");
                continue;
            }
        };
        let Some(spec) = &batch.schedule else {
            continue;
        };
        let Ok(schedule) = Schedule::new(spec) else {
            continue;
        };
        out.push((b.id, b.added, schedule));
    }
    Ok(out)
}
