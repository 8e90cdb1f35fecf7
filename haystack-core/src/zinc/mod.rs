//! Zinc scalar literals: the one reader and writer of scalars, used by filters, `Display` and
//! `haystack-zinc`.
//!
//! # Reading
//! - [`Scanner`]: a byte cursor over `&str` with lazy line/column/offset tracking and error
//!   helpers ([`Scanner::expected`], [`Scanner::error_at`]). Parsers build on it.
//! - [`Scanner::read_scalar`]: reads one scalar literal at the cursor (`N M R NA T F`, numbers
//!   with units, `INF`, `-INF`, `NaN`, `"str"`, `` `uri` ``, `@ref "dis"`, `^symbol`, dates,
//!   times, datetimes with timezone, `C(lat,lng)`, `Type("xstr")`). Also
//!   [`Scanner::read_id`] (tag names), [`Scanner::read_str_literal`], [`Scanner::read_number`],
//!   [`Scanner::read_ref`], [`Scanner::read_date`], [`Scanner::read_time`].
//! - [`read_scalar`]: a whole string as one scalar.
//!
//! # Writing
//! - [`write_scalar`] / [`write_value`]: append the Zinc form of a value to a `String`
//!   (`write_value` also writes lists `[..]`, dicts `{..}` and grids `<<..>>`).
//! - [`write_number`], [`write_str`], [`write_uri`], [`write_date`], [`write_time`],
//!   [`write_datetime`], [`write_dict`], [`write_tags`], [`write_grid`], [`write_grid_header`],
//!   [`write_row`] for callers that assemble documents.
//!
//! `Display` of [`crate::Value`] and its parts uses this writer, so `value.to_string()` is Zinc.
//!
//! ```
//! use haystack_core::zinc::{read_scalar, write_scalar};
//! use haystack_core::Value;
//!
//! let v = read_scalar("2010-11-28T07:23:02.773-08:00 Los_Angeles").unwrap();
//! let mut out = String::new();
//! write_scalar(&mut out, &v);
//! assert_eq!(out, "2010-11-28T07:23:02.773-08:00 Los_Angeles");
//! assert_eq!(read_scalar("10_000.5kW").unwrap().to_string(), "10000.5kW");
//! assert_eq!(read_scalar("@p:demo:r:1 \"Site\"").unwrap().as_ref().unwrap().dis(), Some("Site"));
//! let err = read_scalar("2021-13-01").unwrap_err();
//! assert_eq!(err.to_string(), "invalid date '2021-13-01' at line 1, column 1");
//! ```

pub(crate) mod chars;
mod scalar;
mod scanner;
mod write;

pub use scalar::{is_unit_byte, offset_datetime};
pub use scanner::{Interner, Scanner, describe};
pub use write::{
    write_coord, write_date, write_datetime, write_dict, write_f64, write_grid, write_grid_header,
    write_list, write_number, write_row, write_scalar, write_sparse_row, write_str, write_tags,
    write_time, write_uri, write_value, write_xstr,
};

use crate::{Result, Value};

/// Reads `text` as exactly one Zinc scalar literal (surrounding spaces allowed).
pub fn read_scalar(text: &str) -> Result<Value> {
    let mut s = Scanner::new(text);
    s.skip_spaces();
    let v = s.read_scalar()?;
    s.skip_spaces();
    if !s.is_eof() {
        return Err(s.expected("end of input"));
    }
    Ok(v)
}

/// The Zinc form of a value (same as `value.to_string()`).
pub fn to_zinc_string(value: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, value);
    s
}

#[cfg(test)]
mod tests;
