//! The JSON Schema of [`json`](super::json)'s output, from the report's types (schemars).
//!
//! ```text
//!   ReceiverReport and every type in it ── #[derive(JsonSchema)] (feature "schema")
//!     └─ schemars, serialize contract (what is written, not all that reads back)
//!          ├─ the fields a level leaves out are not required   (LEFT_OUT_BY_LEVELS)
//!          └─ every object closed: no property but those listed (close_objects)
//!             ─► schema/report.schema.json   (checked by tests/report_golden.rs)
//! ```

use serde_json::Value;

use crate::report::ReceiverReport;

/// Fields the report always has but [`json`](super::json) leaves out below some level:
/// (definition, property).
const LEFT_OUT_BY_LEVELS: [(&str, &str); 2] = [
    // Below `smtp` (but at `debug`).
    ("HostReport", "transcript"),
    // Below `certdetail`.
    ("CertSummary", "pem"),
];

/// The JSON Schema (draft 2020-12) of the JSON that `checktls receiver --format json` and
/// [`render`](super::render) with [`Format::Json`](super::Format::Json) write, at any level.
///
/// It describes what is written: every field the report always writes is required (but those a
/// level leaves out), and no object has a property the schema does not list. The copy checked in
/// at `schema/report.schema.json` is this, pretty-printed; `tests/report_golden.rs` keeps the two
/// equal and validates the lab's reports against it.
///
/// ```
/// let schema = checktls::output::json_schema();
/// assert_eq!(schema.get("title").and_then(|t| t.as_str()), Some("ReceiverReport"));
/// ```
pub fn json_schema() -> schemars::Schema {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<ReceiverReport>();
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        for (def, field) in LEFT_OUT_BY_LEVELS {
            if let Some(required) = defs
                .get_mut(def)
                .and_then(|d| d.get_mut("required"))
                .and_then(Value::as_array_mut)
            {
                required.retain(|r| r != field);
            }
        }
    }
    checktls_types::schema::close_objects(&mut schema);
    schema
}
