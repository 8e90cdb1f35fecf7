//! Haystack JSON: v4 ("Hayson") and v3, both directions, and serde support for values.
//!
//! [`Value`] implements serde's `Serialize` and `Deserialize` as Hayson, so it works with
//! `serde_json` and any serde format directly. The functions here add the v3 encoding and
//! turn serde errors into this crate's [`Error`].
//!
//! ```
//! use haystack_core::{json, Number, Ref, Value, dict};
//!
//! let rec = Value::Dict(dict! {
//!     "id" => Ref::with_dis("p1", "Zone Temp"),
//!     "point" => Value::Marker,
//!     "curVal" => Number::with_unit(72.5, "°F"),
//! });
//! let v4 = json::to_string(&rec);
//! assert_eq!(
//!     v4,
//!     r#"{"id":{"_kind":"ref","val":"p1","dis":"Zone Temp"},"point":{"_kind":"marker"},"curVal":{"_kind":"number","val":72.5,"unit":"°F"}}"#
//! );
//! assert_eq!(json::from_str(&v4)?, rec);
//!
//! let v3 = json::to_string_v3(&rec);
//! assert_eq!(v3, r#"{"id":"r:p1 Zone Temp","point":"m:","curVal":"n:72.5 °F"}"#);
//! assert_eq!(json::from_str_v3(&v3)?, rec);
//! # Ok::<(), haystack_core::Error>(())
//! ```
//!
//! Decoding rules:
//! - v4 objects without `_kind` are dicts; keys that are not tag names are skipped, as the
//!   specification asks. `_kind` may appear anywhere in an object.
//! - A v4 `dateTime` without `tz` is in `GMT`. Grids get a `ver` of `"3.0"` in their meta
//!   when written.
//! - v3 strings whose second character is not `:` are Strs; Strs containing `:` are written
//!   with the `s:` prefix. A v3 object with a `cols` array and a `rows` array is a grid.
//! - Nesting is limited to 128 levels (serde_json's recursion limit) when decoding text:
//!   the 128th open array or object is an error. Values that are skipped (unknown fields of
//!   kinded objects) are checked without recursion and without that limit, as serde_json
//!   skips them.
//! - Text and byte input is read by this module's own byte-level reader (no serde in the
//!   path); [`from_reader`] and `Value`'s `Deserialize` go through serde with the same rules.

mod build;
mod de;
mod lex;
mod read;
mod ser;
mod stream;
mod v3;
mod write;

use std::io;

use serde::de::DeserializeSeed;

pub use ser::V3;
pub use stream::{GridReader, ReadOptions};

use crate::error::{Error, Result};
use crate::value::Value;

/// Which Haystack JSON encoding to read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// Haystack 3 JSON: type-prefixed strings (`"m:"`, `"n:73.2 °F"`).
    V3,
    /// Haystack 4 JSON ("Hayson"): `{"_kind": ...}` objects.
    #[default]
    V4,
}

/// The Zinc text of a scalar, from the crate's one scalar writer.
fn scalar_text(v: &Value) -> String {
    let mut s = String::new();
    crate::zinc::write_scalar(&mut s, v);
    s
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Json(e.to_string())
}

/// Writes `value` in the given JSON version, appending to `out`.
pub fn write(out: &mut String, value: &Value, version: Version) {
    write::Writer::new(out, version == Version::V3).value(value);
}

/// Appends one grid row, given as one cell per column of `cols`, as a JSON object of its
/// non-null cells in the given version: what a grid's `rows` array holds for it. Streaming
/// writers put these between the header of an empty grid and `]}`.
///
/// ```
/// use haystack_core::json::{self, Version};
/// use haystack_core::{Col, Value};
/// let cols = [Col::new("id")?, Col::new("val")?];
/// let mut out = String::new();
/// json::write_row(&mut out, &cols, &[Value::from("a"), Value::Null], Version::V4);
/// assert_eq!(out, r#"{"id":"a"}"#);
/// # Ok::<(), haystack_core::Error>(())
/// ```
pub fn write_row(out: &mut String, cols: &[crate::Col], cells: &[Value], version: Version) {
    write::Writer::new(out, version == Version::V3).row(cols, cells);
}

/// Appends one row of a grid with columns `cols`, given as a [`Row`](crate::Row) view of its
/// tags, as [`write_row`] does for a row of one cell per column. Tags in columns past the
/// end of `cols` are left out.
///
/// ```
/// use haystack_core::json::{self, Version};
/// use haystack_core::{Grid, Value};
/// let mut g = Grid::new();
/// g.add_col("id", Default::default())?;
/// g.add_col("val", Default::default())?;
/// g.push_row(vec![Value::from("a"), Value::Null])?;
/// let mut out = String::new();
/// json::write_grid_row(&mut out, g.cols(), &g.row(0).unwrap(), Version::V4);
/// assert_eq!(out, r#"{"id":"a"}"#);
/// # Ok::<(), haystack_core::Error>(())
/// ```
pub fn write_grid_row(
    out: &mut String,
    cols: &[crate::Col],
    row: &crate::Row<'_>,
    version: Version,
) {
    write::Writer::new(out, version == Version::V3).row_tags(cols, row.entries());
}

/// Writes `value` as Hayson (JSON v4).
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write(&mut out, value, Version::V4);
    out
}

/// Writes `value` as Haystack JSON v3.
pub fn to_string_v3(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write(&mut out, value, Version::V3);
    out
}

/// Writes `value` in the given JSON version into `out`.
pub fn to_writer<W: io::Write>(mut out: W, value: &Value, version: Version) -> Result<()> {
    let mut text = String::with_capacity(256);
    write(&mut text, value, version);
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Json(format!("write failed: {e}")))
}

/// Writes `value` in the given JSON version into a byte vector.
pub fn to_vec(value: &Value, version: Version) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    write(&mut out, value, version);
    out.into_bytes()
}

/// Reads a document from a reader with serde_json (no buffer of the whole input, so no
/// size limit beyond the reader's own).
fn decode<'de, R: serde_json::de::Read<'de>>(
    d: serde_json::Deserializer<R>,
    version: Version,
    input_len: usize,
) -> Result<Value> {
    decode_with(d, de::Ctx::new(version == Version::V3, input_len))
}

/// Decodes with the serde visitors of [`de`]: `from_reader`'s way, and the reference that the
/// tests hold the byte-level reader ([`read`]) to.
fn decode_with<'de, R: serde_json::de::Read<'de>>(
    mut d: serde_json::Deserializer<R>,
    mut ctx: de::Ctx,
) -> Result<Value> {
    let v = de::ValueSeed(&mut ctx)
        .deserialize(&mut d)
        .map_err(json_err)?;
    d.end().map_err(json_err)?;
    Ok(v)
}

/// The serde-based reader over `text` (the reference of the tests).
#[cfg(test)]
pub(crate) fn serde_from_str(text: &str, version: Version, lenient: bool) -> Result<Value> {
    let mut ctx = de::Ctx::new(version == Version::V3, text.len());
    if lenient {
        ctx = ctx.lenient();
    }
    decode_with(serde_json::Deserializer::from_str(text), ctx)
}

/// The serde-based reader over `input` (the reference of the tests).
#[cfg(test)]
pub(crate) fn serde_from_slice(input: &[u8], version: Version) -> Result<Value> {
    let ctx = de::Ctx::new(version == Version::V3, input.len());
    decode_with(serde_json::Deserializer::from_slice(input), ctx)
}

/// Reads a Hayson (JSON v4) document.
pub fn from_str(text: &str) -> Result<Value> {
    read::document(text, de::Ctx::new(false, text.len()))
}

/// Reads a Hayson (JSON v4) document, also accepting the draft kind names that some peers
/// write (shaystack's `.hayson.json` samples: `"_kind": "Ref"`, `"Num"`, `"Marker"`,
/// `"Coord"`, `"Time"`, ...). [`from_str`] is strict and rejects them.
///
/// ```
/// use haystack_core::{json, Number, Value};
/// let draft = r#"{"_kind":"Num","val":72.5,"unit":"°F"}"#;
/// assert!(json::from_str(draft).is_err());
/// assert_eq!(json::from_str_lenient(draft)?, Value::from(Number::with_unit(72.5, "°F")));
/// # Ok::<(), haystack_core::Error>(())
/// ```
pub fn from_str_lenient(text: &str) -> Result<Value> {
    read::document(text, de::Ctx::new(false, text.len()).lenient())
}

/// Reads a Hayson document from bytes (checked to be UTF-8), accepting the draft kind names
/// as [`from_str_lenient`] does.
pub fn from_slice_lenient(input: &[u8]) -> Result<Value> {
    read::document_bytes(input, de::Ctx::new(false, input.len()).lenient())
}

/// Reads a Haystack JSON v3 document.
pub fn from_str_v3(text: &str) -> Result<Value> {
    read::document(text, de::Ctx::new(true, text.len()))
}

/// Reads a JSON document of the given version from bytes (the strings it decodes checked to
/// be UTF-8).
pub fn from_slice(input: &[u8], version: Version) -> Result<Value> {
    read::document_bytes(input, de::Ctx::new(version == Version::V3, input.len()))
}

/// Reads a JSON document of the given version from a reader, with serde_json reading the
/// source as it goes (nothing is buffered whole, so no limit applies but the reader's).
pub fn from_reader<R: io::Read>(reader: R, version: Version) -> Result<Value> {
    decode(serde_json::Deserializer::from_reader(reader), version, 0)
}

#[cfg(test)]
mod tests;
