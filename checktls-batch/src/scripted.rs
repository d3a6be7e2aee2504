//! A fake [`Executor`] that answers from a script: for tests, examples and golden files.
//!
//! ```text
//!   script: target text ─► [outcome of run 1, outcome of run 2, ...]   (the last repeats)
//!           JSON: {"a.example": [114], "b.example": [{"outcome": "not_tested", "reason": "..."}]}
//!           a bare number is a tested report with that grade and one passing host
//!   unknown target ─► NotTested("no script for this target")
//! ```
//!
//! It records every call and the most tests it saw at once, so tests can check the runner's
//! bounds.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use checktls_batch::scripted::ScriptedExecutor;
//! let ex = ScriptedExecutor::from_json(r#"{"a.example": [114, 112]}"#).unwrap();
//! let batch = checktls_batch::parse(r#"<BatchTest TestType="receiver"><Target Count="3">a.example</Target></BatchTest>"#).unwrap();
//! let result = checktls_batch::run::run(&batch, &ex, &Default::default(), |_| {}).await;
//! let scores: Vec<_> = result.targets[0].runs.iter().map(|o| o.score()).collect();
//! assert_eq!(scores, [Some(114), Some(112), Some(112)]);
//! # }
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;

use crate::model::Target;
use crate::report::{MxRow, Outcome, TargetReport};
use crate::run::{Executor, Job};

/// One scripted answer: a grade, or a whole outcome.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Entry {
    Score(u16),
    Outcome(Box<Outcome>),
}

/// An [`Executor`] that answers from a script.
#[derive(Debug, Default)]
pub struct ScriptedExecutor {
    script: HashMap<String, Vec<Entry>>,
    yields: usize,
    calls: Mutex<Vec<(String, u32)>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl ScriptedExecutor {
    /// An empty script: every target is not tested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a script from JSON: an object from target text to a list of entries, each a
    /// grade or an [`Outcome`].
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let script: HashMap<String, Vec<Entry>> = serde_json::from_str(json)?;
        Ok(Self {
            script,
            ..Self::default()
        })
    }

    /// Scripts a target's outcomes, one per run (the last repeats).
    pub fn with(mut self, target: &str, outcomes: impl IntoIterator<Item = Outcome>) -> Self {
        self.script.insert(
            target.to_owned(),
            outcomes
                .into_iter()
                .map(|o| Entry::Outcome(Box::new(o)))
                .collect(),
        );
        self
    }

    /// Scripts a target's grade (a tested report with one passing host).
    pub fn graded(mut self, target: &str, score: u16) -> Self {
        self.script
            .insert(target.to_owned(), vec![Entry::Score(score)]);
        self
    }

    /// Makes each test yield to the runtime this many times before it answers, so that tests
    /// overlap.
    pub fn yielding(mut self, times: usize) -> Self {
        self.yields = times;
        self
    }

    /// Every call so far: target text and run.
    pub fn calls(&self) -> Vec<(String, u32)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The most tests that were running at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    fn answer(&self, job: &Job) -> Outcome {
        let Some(entries) = self.script.get(&job.text) else {
            return Outcome::not_tested("no script for this target");
        };
        let n = usize::try_from(job.run.saturating_sub(1)).unwrap_or(usize::MAX);
        let Some(entry) = entries.get(n).or(entries.last()) else {
            return Outcome::not_tested("an empty script for this target");
        };
        match entry {
            Entry::Score(score) => Outcome::Tested(report_for(job, *score)),
            Entry::Outcome(o) => {
                let mut o = (**o).clone();
                if let Outcome::Tested(r) = &mut o
                    && r.target.is_empty()
                {
                    r.target = job.text.clone();
                }
                o
            }
        }
    }
}

/// A tested report with one passing host: the target itself for an address literal, else
/// `mx.<domain>`.
fn report_for(job: &Job, score: u16) -> TargetReport {
    let (name, address): (String, Option<IpAddr>) = match &job.target {
        Target::Ip { address, .. } => (
            job.options
                .sni
                .clone()
                .unwrap_or_else(|| address.to_string()),
            Some(*address),
        ),
        Target::Domain { domain, .. } | Target::Address { domain, .. } => {
            (format!("mx.{domain}"), None)
        }
    };
    let mut report = TargetReport::graded(job.text.clone(), score);
    let mut row = MxRow::passing(name, address, score);
    if let Some(port) = job.options.port {
        row.port = port;
    }
    report.mx.push(row);
    report
}

impl Executor for ScriptedExecutor {
    async fn execute(&self, job: &Job) -> Outcome {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((job.text.clone(), job.run));
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        for _ in 0..self.yields {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.answer(job)
    }
}

/// A [`Mailer`](crate::delivery::Mailer) for batches that deliver to files only: every
/// message is refused (permanently), so a batch that mails where none was expected shows it
/// in its delivery records.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit value, used as `NoMailer`
pub struct NoMailer;

impl crate::delivery::Mailer for NoMailer {
    async fn send(
        &self,
        _envelope: &crate::delivery::Envelope,
        _message: &[u8],
    ) -> Result<(), crate::Error> {
        Err(crate::Error::Mail {
            temporary: false,
            code: None,
            reason: "no mail relay is configured".into(),
        })
    }
}
