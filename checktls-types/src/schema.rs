//! JSON Schema pieces for fields whose JSON is not their Rust type's (feature `schema`): bytes
//! written as hex or base64, a public key written as text. A field names one in
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

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

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
