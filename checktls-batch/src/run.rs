//! Running a batch: every target through an [`Executor`], Count times, a bounded number at
//! once, each with a time bound; every result kept.
//!
//! ```text
//!   Batch ──► jobs (run 1 of every target, then run 2, ...) ──► at most `concurrency` at once
//!               │                                                   │
//!               └── Executor::execute(&Job) ─► Outcome ◄── timeout ─┘ (NotTested "timed out")
//!   outcomes ──► BatchResult::evaluate (pure) ──► formats, Total, deliveries
//! ```
//!
//! The facade implements [`Executor`] with its receiver test; tests use
//! [`ScriptedExecutor`](crate::scripted::ScriptedExecutor). The runner opens no socket.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use checktls_batch::run::{RunOptions, run};
//! use checktls_batch::scripted::ScriptedExecutor;
//! let batch = checktls_batch::parse(r#"<BatchTest TestType="receiver">
//!   <Target>a.example</Target><Target Count="2">b.example</Target></BatchTest>"#).unwrap();
//! let executor = ScriptedExecutor::new().graded("a.example", 114).graded("b.example", 90);
//! let mut seen = 0;
//! let result = run(&batch, &executor, &RunOptions::default(), |_p| seen += 1).await;
//! assert_eq!(seen, 3);
//! assert_eq!(result.total.value, Some((114.0 + 90.0 + 90.0) / 3.0));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use crate::eval::BatchResult;
use crate::model::{Batch, Target, TargetOptions, TestType};
use crate::report::Outcome;

/// One test to carry out: a target, its effective options, which run.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Job {
    /// The target's position in the batch.
    pub index: usize,
    /// The run, from 1 to the target's Count.
    pub run: u32,
    /// The test type of the batch.
    pub test_type: TestType,
    /// The target's text as written: how the results name it.
    pub text: String,
    /// What to test (the `Host` attribute applied).
    pub target: Target,
    /// How (DEFAULT applied).
    pub options: TargetOptions,
}

/// Carries out one test. The facade's receiver test in production; a script in tests.
///
/// Implementations return [`Outcome::NotTested`] when the test could not be carried out;
/// they never panic on what a peer sends.
pub trait Executor: Send + Sync {
    /// Tests one target.
    fn execute(&self, job: &Job) -> impl Future<Output = Outcome> + Send;
}

/// How a batch is run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// At most this many tests at once. Default: 8.
    pub concurrency: usize,
    /// The longest one test may take before it counts as not tested. Default: 10 minutes.
    pub job_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            job_timeout: Duration::from_secs(600),
        }
    }
}

/// What the progress callback is told after each test.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// Tests finished so far.
    pub done: usize,
    /// Tests in the batch.
    pub total: usize,
    /// The test just finished.
    pub job: &'a Job,
    /// Its outcome.
    pub outcome: &'a Outcome,
}

/// The jobs of a batch, in the order they start: run 1 of every target in file order, then
/// run 2, ... so the repeated tests of one target are spread out.
pub fn jobs(batch: &Batch) -> Vec<Job> {
    let most = batch
        .targets
        .iter()
        .map(|t| t.options.count())
        .max()
        .unwrap_or(0);
    let mut jobs = Vec::with_capacity(batch.test_count());
    for run in 1..=most {
        for (index, spec) in batch.targets.iter().enumerate() {
            if run <= spec.options.count() {
                jobs.push(Job {
                    index,
                    run,
                    test_type: batch.test_type,
                    text: spec.text.clone(),
                    target: spec.target.clone(),
                    options: spec.options.clone(),
                });
            }
        }
    }
    jobs
}

type Running<'a> = Pin<Box<dyn Future<Output = (usize, Outcome)> + Send + 'a>>;

/// Runs a batch and evaluates it. `progress` is called after each test.
pub async fn run<E, F>(
    batch: &Batch,
    executor: &E,
    options: &RunOptions,
    mut progress: F,
) -> BatchResult
where
    E: Executor,
    F: FnMut(&Progress<'_>) + Send,
{
    let jobs = jobs(batch);
    let limit = options.concurrency.max(1);
    let timeout = options.job_timeout;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
    let mut pending = jobs.iter().enumerate();
    let mut running: Vec<Running<'_>> = Vec::with_capacity(limit);
    let mut done = 0;
    std::future::poll_fn(|cx| {
        loop {
            while running.len() < limit {
                let Some((i, job)) = pending.next() else {
                    break;
                };
                running.push(Box::pin(async move {
                    let outcome = match tokio::time::timeout(timeout, executor.execute(job)).await {
                        Ok(o) => o,
                        Err(_) => Outcome::not_tested(format!(
                            "the test took longer than {} s",
                            timeout.as_secs()
                        )),
                    };
                    (i, outcome)
                }));
            }
            if running.is_empty() {
                return Poll::Ready(());
            }
            let mut finished = false;
            let mut k = 0;
            while k < running.len() {
                let Some(fut) = running.get_mut(k) else { break };
                if let Poll::Ready((i, outcome)) = fut.as_mut().poll(cx) {
                    drop(running.swap_remove(k));
                    done += 1;
                    if let Some(job) = jobs.get(i) {
                        progress(&Progress {
                            done,
                            total: jobs.len(),
                            job,
                            outcome: &outcome,
                        });
                    }
                    if let Some(slot) = outcomes.get_mut(i) {
                        *slot = Some(outcome);
                    }
                    finished = true;
                } else {
                    k += 1;
                }
            }
            if !finished {
                return Poll::Pending;
            }
        }
    })
    .await;

    let mut per_target: Vec<Vec<(u32, Outcome)>> = vec![Vec::new(); batch.targets.len()];
    for (job, outcome) in jobs.iter().zip(outcomes) {
        if let (Some(slot), Some(outcome)) = (per_target.get_mut(job.index), outcome) {
            slot.push((job.run, outcome));
        }
    }
    let per_target = per_target
        .into_iter()
        .map(|mut runs| {
            runs.sort_by_key(|(run, _)| *run);
            runs.into_iter().map(|(_, o)| o).collect()
        })
        .collect();
    BatchResult::evaluate(batch, per_target)
}
