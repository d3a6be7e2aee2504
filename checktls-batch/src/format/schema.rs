//! The JSON Schema of the `json` format, from the result types (schemars).
//!
//! ```text
//!   {"batch": name, "test_type": TestType,
//!    "results": [ Outcome (tagged "outcome": tested | not_tested) + "target" + "run" ],
//!    "total": TotalVerdict }                                   (when the batch has a <Total>)
//!     └─ schemars, serialize contract; every object closed (close_objects)
//!        ─► checktls-batch/schema/results.schema.json   (checked by tests/batch_lab.rs)
//! ```

use schemars::JsonSchema;

use crate::eval::TotalVerdict;
use crate::model::TestType;
use crate::report::Outcome;

/// The results of a batch run in the `json` format (every field: no OnlyNode or OnlyField).
#[derive(JsonSchema)]
#[schemars(rename = "BatchResults")]
#[allow(dead_code)] // a description for schemars, never built
struct Document {
    /// The batch's name.
    batch: String,
    /// Its test type.
    test_type: TestType,
    /// One per run of each target shown (Suppress hides some), in file order.
    results: Vec<Line>,
    /// The Total, when the batch has a `<Total>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "TotalVerdict")]
    total: Option<TotalVerdict>,
}

/// One run of one target: its outcome, the target as written and the run's number.
#[derive(JsonSchema)]
#[allow(dead_code)] // a description for schemars, never built
struct Line {
    #[serde(flatten)]
    outcome: Outcome,
    /// The target as written in the batch.
    target: String,
    /// The run, from 1.
    run: u32,
}

/// The JSON Schema (draft 2020-12) of [`render`](super::render) with
/// [`Format::Json`](crate::model::Format::Json) and every field selected: what is always written
/// is required, and no object has a property the schema does not list. With OnlyNode or
/// OnlyField each result keeps only the selected keys (and `target`, `run`, `outcome`), which
/// this schema does not describe.
///
/// The copy checked in at `checktls-batch/schema/results.schema.json` is this, pretty-printed;
/// the workspace's `tests/batch_lab.rs` keeps the two equal and validates a lab batch's results
/// against it.
///
/// ```
/// let schema = checktls_batch::format::json_schema();
/// assert_eq!(schema.get("title").and_then(|t| t.as_str()), Some("BatchResults"));
/// ```
pub fn json_schema() -> schemars::Schema {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Document>();
    checktls_types::schema::close_objects(&mut schema);
    schema
}
