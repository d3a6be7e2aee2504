//! JSON Schema pieces for fields whose JSON is not their Rust type's (feature `schema`): bytes
//! written as hex or base64, a public key written as text; and [`close_objects`], which makes
//! a generated schema refuse the properties serde never writes. A field names one in
//! `#[schemars(with = ...)]` beside its `#[serde(with = ...)]`:
//!
//! ```text
//!   #[serde(with = "hex_bytes")]                    Vec<u8>  ──► "3082010a…"
//!   #[schemars(with = "checktls_types::schema::Hex")]          {"type": "string", "pattern": …}
//! ```
//!
//! Each is a marker type: never built, only named.
//!
//! ```
//! use checktls_types::schema::Hex;
//!
//! let schema = schemars::SchemaGenerator::default().into_root_schema_for::<Hex>();
//! assert_eq!(schema.get("type").and_then(|t| t.as_str()), Some("string"));
//! ```

use std::borrow::Cow;
use std::collections::BTreeSet;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use crate::KeyAlgorithm;

/// Bytes as lower-case hex, two digits a byte.
#[allow(clippy::exhaustive_structs)] // a marker, never built
pub struct Hex;

impl JsonSchema for Hex {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Hex".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9a-f]{2})*$",
        })
    }
}

/// Bytes as standard base64 with padding (RFC 4648 §4).
#[allow(clippy::exhaustive_structs)] // a marker, never built
pub struct Base64;

impl JsonSchema for Base64 {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Base64".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9+/]*={0,2}$",
        })
    }
}

/// A [`PublicKeyInfo`](crate::PublicKeyInfo) in its text form: `EC 256`, `RSA 2048`.
#[allow(clippy::exhaustive_structs)] // a marker, never built
pub struct PublicKeyText;

impl JsonSchema for PublicKeyText {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "PublicKeyText".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = KeyAlgorithm::ALL.iter().map(|a| a.name()).collect();
        json_schema!({
            "type": "string",
            "pattern": format!("^({}) [0-9]+$", names.join("|")),
        })
    }
}

/// The keywords whose subschemas describe the same instance as their parent.
const IN_PLACE: [&str; 3] = ["allOf", "anyOf", "oneOf"];

/// Closes every object schema of a generated root schema: `additionalProperties: false`, or
/// `unevaluatedProperties: false` where subschemas (`$ref`, `allOf`, `oneOf`, `anyOf`) describe
/// properties of the same object. serde writes no property a type does not have, and schemars
/// leaves objects open; closed, the schema refuses a misspelt or unknown field.
///
/// A subschema that describes part of an object whose other properties stand beside it (a
/// flattened enum's variants, a definition named by `$ref` next to `properties`, such as an
/// internally tagged enum's newtype variant) is left open: the object around it is closed
/// instead, and sees the properties of both.
///
/// ```
/// let mut schema = schemars::json_schema!({
///     "type": "object",
///     "properties": {"ok": {"type": "boolean"}},
/// });
/// checktls_types::schema::close_objects(&mut schema);
/// assert_eq!(schema.get("additionalProperties"), Some(&serde_json::Value::Bool(false)));
/// ```
pub fn close_objects(schema: &mut Schema) {
    let mut extended = BTreeSet::new();
    extended_definitions(schema.as_value(), &mut extended);
    let defs = schema.get("$defs").and_then(Value::as_object);
    loop {
        let before = extended.len();
        for (name, def) in defs.into_iter().flatten() {
            if extended.contains(name) {
                in_place_refs(def, &mut extended);
            }
        }
        if extended.len() == before {
            break;
        }
    }
    if let Some(root) = schema.as_object_mut() {
        close_object(root, false, &extended);
    }
}

/// Adds the definitions named by `$ref` in place in a schema with `properties` (every JSON
/// object under `value` is taken for a schema: a property named `properties` only adds a
/// definition to leave open).
fn extended_definitions(value: &Value, extended: &mut BTreeSet<String>) {
    match value {
        Value::Object(obj) => {
            if obj.contains_key("properties") {
                in_place_refs(value, extended);
            }
            for sub in obj.values() {
                extended_definitions(sub, extended);
            }
        }
        Value::Array(items) => {
            for sub in items {
                extended_definitions(sub, extended);
            }
        }
        _ => {}
    }
}

/// The definitions named by `$ref` in `schema` and, recursively, in its in-place subschemas.
fn in_place_refs(schema: &Value, found: &mut BTreeSet<String>) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    if let Some(name) = obj
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        found.insert(name.to_owned());
    }
    for key in IN_PLACE {
        for sub in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            in_place_refs(sub, found);
        }
    }
}

fn close(schema: &mut Value, open: bool, extended: &BTreeSet<String>) {
    if let Some(obj) = schema.as_object_mut() {
        close_object(obj, open, extended);
    }
}

/// Closes `obj` unless it is `open` (part of an object described around it), then what is
/// under it.
fn close_object(obj: &mut Map<String, Value>, open: bool, extended: &BTreeSet<String>) {
    let object = obj.contains_key("properties");
    if object && !open && !obj.contains_key("additionalProperties") {
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
                    close(sub, object || open, extended);
                }
            }
            "$defs" => {
                for (name, sub) in value.as_object_mut().into_iter().flatten() {
                    close(sub, extended.contains(name), extended);
                }
            }
            "properties" | "patternProperties" => {
                for sub in value.as_object_mut().into_iter().flat_map(Map::values_mut) {
                    close(sub, false, extended);
                }
            }
            "items" | "additionalProperties" | "not" => close(value, false, extended),
            "prefixItems" => {
                for sub in value.as_array_mut().into_iter().flatten() {
                    close(sub, false, extended);
                }
            }
            _ => {}
        }
    }
}
