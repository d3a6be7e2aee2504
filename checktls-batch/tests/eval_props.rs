//! Properties of evaluation: what is hidden, what is counted, and the Total's bounds.

use checktls_batch::eval::BatchResult;
use checktls_batch::format::render;
use checktls_batch::model::{Format, Selection};
use checktls_batch::parse;
use checktls_batch::report::{Outcome, TargetReport};
use proptest::prelude::*;

fn outcome() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![1 => Just(None), 4 => (0u16..=121).prop_map(Some)]
}

fn build(threshold: u16, runs: &[Vec<Option<u16>>]) -> (checktls_batch::Batch, Vec<Vec<Outcome>>) {
    let mut xml = format!(
        "<BatchTest TestType=\"receiver\"><Target><Suppress Function=\"minimum\" Test=\"ge\" Value=\"{threshold}\"/>DEFAULT</Target>"
    );
    for (i, r) in runs.iter().enumerate() {
        xml.push_str(&format!(
            "<Target Count=\"{}\">t{i}.example</Target>",
            r.len()
        ));
    }
    xml.push_str("<Total Function=\"average\"/></BatchTest>");
    let outcomes = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.iter()
                .map(|s| match s {
                    Some(s) => Outcome::Tested(TargetReport::graded(format!("t{i}.example"), *s)),
                    None => Outcome::not_tested("unreachable resolver"),
                })
                .collect()
        })
        .collect();
    (parse(&xml).unwrap(), outcomes)
}

proptest! {
    #[test]
    fn hidden_exactly_when_every_run_was_tested_and_good_enough(
        threshold in 0u16..=121,
        runs in proptest::collection::vec(proptest::collection::vec(outcome(), 1..4), 1..12),
    ) {
        let (batch, outcomes) = build(threshold, &runs);
        let result = BatchResult::evaluate(&batch, outcomes);
        for (t, r) in result.targets.iter().zip(&runs) {
            let good = r.iter().all(|s| s.is_some_and(|s| s >= threshold));
            prop_assert_eq!(t.suppressed, good);
        }
        // Shown and hidden lines add up; a line not tested is always shown.
        let shown = result.lines().count();
        let hidden: usize = result.targets.iter().filter(|t| t.suppressed).map(|t| t.runs.len()).sum();
        prop_assert_eq!(shown + hidden, result.all_lines().count());
        prop_assert!(result.lines().all(|l| !l.target.suppressed));
        prop_assert!(result.all_lines().filter(|l| l.outcome.score().is_none()).all(|l| !l.target.suppressed));
        // The text format has one line per line shown, plus the Total.
        let text = render(&result, Format::Text, &Selection::all());
        prop_assert_eq!(text.lines().count(), shown + 1);
    }

    #[test]
    fn the_total_lies_between_the_extremes(
        runs in proptest::collection::vec(proptest::collection::vec(outcome(), 1..4), 1..12),
    ) {
        let (batch, outcomes) = build(0, &runs);
        let result = BatchResult::evaluate(&batch, outcomes);
        let scores: Vec<f64> = runs.iter().flatten().flatten().map(|s| f64::from(*s)).collect();
        prop_assert_eq!(result.total.tested, scores.len());
        prop_assert_eq!(result.total.tested + result.total.not_tested, runs.iter().map(Vec::len).sum::<usize>());
        match result.total.value {
            None => prop_assert!(scores.is_empty()),
            Some(v) => {
                let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                prop_assert!(min <= v + 1e-9 && v <= max + 1e-9);
                prop_assert_eq!(result.total.passed, v >= 90.0);
            }
        }
    }

    #[test]
    fn every_format_renders_and_xml_stays_well_formed(
        runs in proptest::collection::vec(proptest::collection::vec(outcome(), 1..3), 1..6),
    ) {
        let (batch, outcomes) = build(50, &runs);
        let result = BatchResult::evaluate(&batch, outcomes);
        for (format, _) in Format::ALL {
            let out = render(&result, format, &Selection::all());
            prop_assert!(out.ends_with('\n'));
            if matches!(format, Format::Xml | Format::XmlScore | Format::XmlMatrix) {
                let mut reader = quick_xml::Reader::from_str(&out);
                loop {
                    match reader.read_event() {
                        Ok(quick_xml::events::Event::Eof) => break,
                        Ok(_) => {}
                        Err(e) => prop_assert!(false, "{e}: {out}"),
                    }
                }
            }
            if format == Format::Json {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
            }
        }
    }
}
