//! How a lookup's result is written in reports: `{"ok": value}` when it was answered,
//! `{"error": {...}}` when no answer could be had (the [`Error`]'s own form). Used with
//! `#[serde(with = "crate::lookup")]` on `Result<T, Error>` fields, and the `option` and `vec`
//! modules for `Option<Result<..>>` and `Vec<Result<..>>`.
//!
//! With the feature `schema`, such a field names [`Read`] in `#[schemars(with = ...)]`: its
//! schema is the same `{"ok": ..} | {"error": ..}` (`Lookup_T` in the JSON Schema).
//!
//! ```
//! # use checktls_dns::discovery::Discovery;
//! // In JSON:  "spf": {"ok": {"answer": ..., "parsed": ...}}
//! //           "dmarc": {"error": {"error": "timeout", "query": ...}}
//! //           "bimi": null            (not asked for)
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Written<'a, T> {
    Ok(&'a T),
    Error(&'a Error),
}

/// A lookup's result: `{"ok": value}` when it was answered, `{"error": error}` when no answer
/// could be had.
// Read back from the written form; its derived JSON Schema is that of the written form too.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Lookup_{T}"))]
#[serde(rename_all = "snake_case")]
pub(crate) enum Read<T> {
    Ok(T),
    Error(Error),
}

fn written<T>(r: &Result<T, Error>) -> Written<'_, T> {
    match r {
        Ok(v) => Written::Ok(v),
        Err(e) => Written::Error(e),
    }
}

fn read<T>(r: Read<T>) -> Result<T, Error> {
    match r {
        Read::Ok(v) => Ok(v),
        Read::Error(e) => Err(e),
    }
}

pub(crate) fn serialize<S: Serializer, T: Serialize>(
    r: &Result<T, Error>,
    s: S,
) -> Result<S::Ok, S::Error> {
    written(r).serialize(s)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Result<T, Error>, D::Error> {
    Read::deserialize(d).map(read)
}

/// `Option<Result<T, Error>>`: `null` when not asked for.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer, T: Serialize>(
        r: &Option<Result<T, Error>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        r.as_ref().map(written).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<Result<T, Error>>, D::Error> {
        Option::<Read<T>>::deserialize(d).map(|o| o.map(read))
    }
}

/// `Vec<Result<T, Error>>`.
pub(crate) mod vec {
    use super::*;

    pub(crate) fn serialize<S: Serializer, T: Serialize>(
        r: &[Result<T, Error>],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(r.iter().map(written))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Vec<Result<T, Error>>, D::Error> {
        Vec::<Read<T>>::deserialize(d).map(|v| v.into_iter().map(read).collect())
    }
}
