//! The JSON Schema of [`json`](super::json)'s output, from the report's types (schemars).
//!
//! ```text
//!   ReceiverReport and every type in it ── #[derive(JsonSchema)] (feature "schema")
//!     └─ schemars, serialize contract (what is written, not all that reads back)
//!          ├─ the fields a level leaves out are not required   (LEFT_OUT_BY_LEVELS)
//!          └─ every object closed: no property but those listed
//!             ─► schema/report.schema.json   (checked by tests/report_golden.rs)
//! ```

use serde_json::{Map, Value};

use crate::report::ReceiverReport;

/// Fields the report always has but [`json`](super::json) leaves out below some level:
/// (definition, property).
const LEFT_OUT_BY_LEVELS: [(&str, &str); 2] = [
    // Below `smtp` (but at `debug`).
    ("HostReport", "transcript"),
    // Below `certdetail`.
    ("CertSummary", "pem"),
];

/// The keywords whose subschemas describe the same instance as their parent.
const IN_PLACE: [&str; 3] = ["allOf", "anyOf", "oneOf"];

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
    if let Some(root) = schema.as_object_mut() {
        close_object(root, false);
    }
    schema
}

/// Closes every object schema under `schema`: `additionalProperties: false`, or
/// `unevaluatedProperties: false` where subschemas (`$ref`, `allOf`, `oneOf`, `anyOf`) add
/// properties of the same object. A subschema in place of an object schema is left open: its
/// parent closes it, seeing the properties of both.
fn close(schema: &mut Value, under_object: bool) {
    if let Some(obj) = schema.as_object_mut() {
        close_object(obj, under_object);
    }
}

fn close_object(obj: &mut Map<String, Value>, under_object: bool) {
    let object = obj.contains_key("properties");
    if object && !under_object && !obj.contains_key("additionalProperties") {
        let composed = obj.contains_key("$ref") || IN_PLACE.iter().any(|k| obj.contains_key(*k));
        let key = if composed {
            "unevaluatedProperties"
        } else {
            "additionalProperties"
        };
        obj.insert(key.to_owned(), Value::Bool(false));
    }
    for (key, value) in obj.iter_mut() {
        match key.as_str() {
            k if IN_PLACE.contains(&k) => {
                for sub in value.as_array_mut().into_iter().flatten() {
                    close(sub, object || under_object);
                }
            }
            "properties" | "$defs" | "patternProperties" => {
                for sub in value.as_object_mut().into_iter().flat_map(Map::values_mut) {
                    close(sub, false);
                }
            }
            "items" | "additionalProperties" | "not" => close(value, false),
            "prefixItems" => {
                for sub in value.as_array_mut().into_iter().flatten() {
                    close(sub, false);
                }
            }
            _ => {}
        }
    }
}
