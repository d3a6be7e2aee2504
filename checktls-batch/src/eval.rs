//! Evaluation without I/O: outcomes in, suppression, the Total and the verdict out.
//!
//! ```text
//!   Batch + outcomes[target][run] ──► BatchResult
//!                                      ├── targets[]: runs[], suppressed (every Target Suppress holds)
//!                                      ├── total: TotalVerdict { value, passed, tested, not_tested }
//!                                      ├── delivers(&Delivery)   false when every Delivery Suppress holds
//!                                      └── status()              Passed | Failed | NothingTested
//! ```
//!
//! A condition rolls a field's values up over its scope with its Function and compares the
//! result with its Value. The scope of a Target's Suppress is that target's runs; the scope
//! of a Delivery's Suppress is the lines still shown. `count` counts the lines in scope. A
//! condition never holds over a missing value or an empty scope, so a target that could not
//! be tested, or a host that gave no value, is always shown.
//!
//! ```
//! use checktls_batch::eval::BatchResult;
//! use checktls_batch::report::{Outcome, TargetReport};
//! let batch = checktls_batch::parse(r#"<BatchTest TestType="receiver">
//!   <Target><Suppress Function="minimum" Test="ge" Value="114"/>DEFAULT</Target>
//!   <Target>a.example</Target><Target>b.example</Target></BatchTest>"#).unwrap();
//! let outcomes = vec![
//!     vec![Outcome::Tested(TargetReport::graded("a.example", 114))],
//!     vec![Outcome::Tested(TargetReport::graded("b.example", 112))],
//! ];
//! let result = BatchResult::evaluate(&batch, outcomes);
//! let shown: Vec<_> = result.lines().map(|l| l.target.target.as_str()).collect();
//! assert_eq!(shown, ["b.example"]);
//! ```

use std::cmp::Ordering;

use serde::Serialize;

use crate::field::Scalar;
use crate::model::{
    Batch, Delivery, Function, Suppress, Test, TestType, Total, TotalFunction, Value,
};
use crate::report::Outcome;

/// The results of a batch, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BatchResult {
    /// The batch's name.
    pub name: String,
    /// Its test type.
    pub test_type: TestType,
    /// Every target with every run's outcome, in file order.
    pub targets: Vec<TargetResult>,
    /// The Total and whether it passes.
    pub total: TotalVerdict,
    /// Whether the batch asked for a Total (`<Total>`), so the formats show it.
    pub show_total: bool,
}

/// One target's runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TargetResult {
    /// Its position among the batch's targets.
    pub index: usize,
    /// The target as written.
    pub target: String,
    /// One outcome per run (Count), in run order.
    pub runs: Vec<Outcome>,
    /// Whether its Suppress conditions hide it.
    pub suppressed: bool,
}

/// The Total: one number for the batch, and whether it passes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TotalVerdict {
    /// How the grades are rolled up.
    pub function: TotalFunction,
    /// The rolled-up grade of every tested run; none when nothing was tested.
    pub value: Option<f64>,
    /// The comparison with the threshold.
    pub test: Test,
    /// The threshold.
    pub threshold: f64,
    /// Whether something was tested and the value meets the threshold.
    pub passed: bool,
    /// Runs tested.
    pub tested: usize,
    /// Runs that could not be tested.
    pub not_tested: usize,
}

/// The verdict of a whole batch (the command's exit code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Status {
    /// The Total passes (exit 0).
    Passed,
    /// The Total does not pass (exit 1).
    Failed,
    /// Nothing could be tested (exit 3).
    NothingTested,
}

impl Status {
    /// The exit code of `checktls batch run`: 0, 1 or 3 (2 is a bad file).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Passed => 0,
            Self::Failed => 1,
            Self::NothingTested => 3,
        }
    }
}

/// One result line: one run of one target.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Line<'a> {
    /// The target.
    pub target: &'a TargetResult,
    /// The run, from 1.
    pub run: u32,
    /// Its outcome.
    pub outcome: &'a Outcome,
}

impl BatchResult {
    /// Evaluates the outcomes of a batch: `outcomes[i]` holds target `i`'s runs (missing
    /// targets or runs count as not tested).
    pub fn evaluate(batch: &Batch, outcomes: Vec<Vec<Outcome>>) -> Self {
        let mut outcomes = outcomes.into_iter();
        let targets: Vec<TargetResult> = batch
            .targets
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let mut runs = outcomes.next().unwrap_or_default();
                let want = spec.options.count() as usize;
                runs.truncate(want);
                while runs.len() < want {
                    runs.push(Outcome::not_tested("the test did not run"));
                }
                let scope: Vec<&Outcome> = runs.iter().collect();
                let suppressed =
                    !spec.suppress.is_empty() && spec.suppress.iter().all(|s| holds(s, &scope));
                TargetResult {
                    index,
                    target: spec.text.clone(),
                    runs,
                    suppressed,
                }
            })
            .collect();
        let total = total(batch.total.clone().unwrap_or_default(), &targets);
        Self {
            name: batch.display_name().to_owned(),
            test_type: batch.test_type,
            targets,
            total,
            show_total: batch.total.is_some(),
        }
    }

    /// Every result line, hidden ones included.
    pub fn all_lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.targets.iter().flat_map(|t| {
            t.runs.iter().zip(1u32..).map(move |(outcome, run)| Line {
                target: t,
                run,
                outcome,
            })
        })
    }

    /// The lines shown: those of targets not suppressed.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.all_lines().filter(|l| !l.target.suppressed)
    }

    /// Whether a delivery sends: false when it has Suppress conditions and all of them hold
    /// over the lines shown.
    pub fn delivers(&self, delivery: &Delivery) -> bool {
        let scope: Vec<&Outcome> = self.lines().map(|l| l.outcome).collect();
        delivery.suppress.is_empty() || !delivery.suppress.iter().all(|s| holds(s, &scope))
    }

    /// The batch's verdict.
    pub fn status(&self) -> Status {
        if self.total.tested == 0 {
            Status::NothingTested
        } else if self.total.passed {
            Status::Passed
        } else {
            Status::Failed
        }
    }
}

fn total(spec: Total, targets: &[TargetResult]) -> TotalVerdict {
    let scores: Vec<f64> = targets
        .iter()
        .flat_map(|t| &t.runs)
        .filter_map(|o| o.score().map(f64::from))
        .collect();
    let not_tested = targets.iter().map(|t| t.runs.len()).sum::<usize>() - scores.len();
    let value = if scores.is_empty() {
        None
    } else {
        Some(match spec.function {
            TotalFunction::Average => scores.iter().sum::<f64>() / scores.len() as f64,
            TotalFunction::Minimum => scores.iter().copied().fold(f64::INFINITY, f64::min),
            TotalFunction::Maximum => scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    };
    let passed = value.is_some_and(|v| {
        v.partial_cmp(&spec.threshold)
            .is_some_and(|o| spec.test.holds(o))
    });
    TotalVerdict {
        function: spec.function,
        value,
        test: spec.test,
        threshold: spec.threshold,
        passed,
        tested: scores.len(),
        not_tested,
    }
}

/// Whether a condition holds over a scope of outcomes (see the module docs).
pub fn holds(condition: &Suppress, scope: &[&Outcome]) -> bool {
    let target = match &condition.value {
        Value::Number(n) => Scalar::Number(*n),
        Value::Version(v) => Scalar::Version(*v),
        Value::Text(t) => Scalar::Text(t.clone()),
    };
    let rolled = if condition.function == Function::Count {
        Scalar::Number(scope.len() as f64)
    } else {
        let mut values = Vec::new();
        for outcome in scope {
            match outcome {
                Outcome::Tested(r) => condition.field.values(r, &mut values),
                Outcome::NotTested(_) => values.push(None),
            }
        }
        let Some(values) = values.into_iter().collect::<Option<Vec<Scalar>>>() else {
            return false;
        };
        match roll_up(condition.function, values) {
            Some(v) => v,
            None => return false,
        }
    };
    rolled
        .compare(&target)
        .is_some_and(|o| condition.test.holds(o))
}

fn roll_up(function: Function, values: Vec<Scalar>) -> Option<Scalar> {
    let pick = |want: Ordering| {
        let mut it = values.iter();
        let mut best = it.next()?.clone();
        for v in it {
            if v.compare(&best) == Some(want) {
                best = v.clone();
            }
        }
        Some(best)
    };
    match function {
        Function::Minimum => pick(Ordering::Less),
        Function::Maximum => pick(Ordering::Greater),
        Function::Average => {
            let numbers: Option<Vec<f64>> = values
                .iter()
                .map(|v| match v {
                    Scalar::Number(n) => Some(*n),
                    _ => None,
                })
                .collect();
            let numbers = numbers.filter(|n| !n.is_empty())?;
            Some(Scalar::Number(
                numbers.iter().sum::<f64>() / numbers.len() as f64,
            ))
        }
        Function::Count => Some(Scalar::Number(values.len() as f64)),
    }
}
