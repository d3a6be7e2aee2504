//! Entry points for the fuzz targets (not part of the API).

use crate::eval::BatchResult;
use crate::format::render;
use crate::model::{Format, Selection};
use crate::parse::{Limits, parse_bytes};
use crate::report::{MxRow, Outcome, TargetReport};

/// Parses arbitrary bytes as a batch; when it parses, evaluates it on outcomes made from the
/// input (every third target not tested) and renders every format, with every delivery's
/// selection, checking a few invariants.
pub fn parse(data: &[u8]) {
    let limits = Limits {
        max_bytes: 1 << 16,
        max_targets: 256,
        ..Limits::default()
    };
    let batch = match parse_bytes(data, &limits) {
        Ok(b) => b,
        Err(e) => {
            // Every error has a message; none panics on Display.
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert!(!batch.targets.is_empty());
    let outcomes: Vec<Vec<Outcome>> = batch
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (0..t.options.count())
                .map(|run| {
                    let byte = data
                        .get((i + run as usize) % data.len().max(1))
                        .copied()
                        .unwrap_or(0);
                    if i % 3 == 2 {
                        Outcome::not_tested("fuzz")
                    } else {
                        let score = u16::from(byte) % 122;
                        let mut r = TargetReport::graded(t.text.clone(), score);
                        r.mx.push(MxRow::passing("mx.fuzz.example", None, score));
                        Outcome::Tested(r)
                    }
                })
                .collect()
        })
        .collect();
    let result = BatchResult::evaluate(&batch, outcomes);
    assert_eq!(result.all_lines().count(), batch.test_count());
    for (format, _) in Format::ALL {
        let _ = render(&result, format, &Selection::all());
    }
    for d in &batch.deliveries {
        let _ = result.delivers(d);
        let _ = render(&result, d.format, &d.selection());
    }
    assert!(!batch.redacted_source().is_empty());
}
