//! Zinc and Trio readers and writers for Project Haystack, streaming.
//!
//! ```
//! use haystack_core::Value;
//!
//! let zinc = "ver:\"3.0\" dis:\"Sites\"\nid,dis,area\n@a \"HQ\",\"HQ\",3702ft²\n@b,\"Lab\",\n";
//! let grid = haystack_zinc::from_str(zinc).unwrap();
//! assert_eq!(grid.len(), 2);
//! assert_eq!(grid.row(0).unwrap().get("area").unwrap().to_string(), "3702ft²");
//! assert_eq!(haystack_zinc::to_string(&grid), zinc);
//!
//! // Values of any kind, nested.
//! let v = haystack_zinc::value_from_str("[1, {dis:\"x\" site}, <<ver:\"3.0\"\na\n1\n>>]").unwrap();
//! assert_eq!(v.as_list().unwrap().len(), 3);
//!
//! // Trio.
//! let recs = haystack_zinc::trio::from_str("dis: Site 1\nsite\n---\ndis: \"Site 2\"\n").unwrap();
//! assert_eq!(recs[1].get("dis"), Some(&Value::from("Site 2")));
//! ```
//!
//! - [`from_str`], [`from_slice`], [`value_from_str`]: whole documents and values.
//! - [`GridReader`]: a grid from any `io::Read`, row by row, in constant memory.
//! - [`to_string`], [`to_writer`], [`GridWriter`]: Zinc 3.0 output, streaming.
//! - [`trio`]: the Trio format; [`csv`]: CSV export.
//! - [`Limits`]: bounds on nesting depth, columns, rows and line length.
//!
//! Scalars are read and written by `haystack_core::zinc`, the one scalar codec.
//!
//! Reading rules where the specification leaves room:
//! - `ver:"3.0"` and `ver:"2.0"` are read; `ver` is syntax, not data: it is not put in the grid
//!   meta, and the writer always writes `ver:"3.0"` (never a second `ver` from the meta).
//! - Lines may end with `\n` or `\r\n`; the final newline may be missing; a byte order mark
//!   and blank lines before the grid are skipped. A blank line ends a grid; only whitespace may
//!   follow it.
//! - Empty cells and `N` are null; a row must have exactly one cell per column.
//! - Dicts take commas or spaces between tags (and a trailing comma); lists take a trailing
//!   comma; newlines may appear inside `[..]`, `{..}` and `<<..>>`.
//! - A grid with the single column `empty`, no column meta and no rows is the empty grid (no
//!   columns), which is how grids without columns are written.

/// The crate README's Rust snippets, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod csv;
mod error;
mod limits;
mod read;
mod stream;
pub mod trio;
mod write;

pub use error::{Error, Result};
pub use limits::Limits;
pub use stream::GridReader;
pub use write::{GridWriter, to_string, to_writer, value_to_string};

/// The media type of Zinc documents.
pub const MIME_TYPE: &str = "text/zinc";

/// Reads a Zinc grid document (`ver:"3.0"` or `"2.0"`).
pub fn from_str(zinc: &str) -> Result<haystack_core::Grid> {
    read::read_grid(zinc, &Limits::default())
}

/// Reads a Zinc grid document with other limits.
pub fn from_str_with(zinc: &str, limits: &Limits) -> Result<haystack_core::Grid> {
    read::read_grid(zinc, limits)
}

/// Reads a Zinc grid document from UTF-8 bytes.
pub fn from_slice(zinc: &[u8]) -> Result<haystack_core::Grid> {
    read::read_grid(utf8(zinc)?, &Limits::default())
}

/// Reads one Zinc value of any kind: a scalar, `[..]`, `{..}`, `<<..>>`, or a bare grid
/// document (starting with `ver:`).
pub fn value_from_str(zinc: &str) -> Result<haystack_core::Value> {
    read::read_value(zinc, &Limits::default())
}

/// Like [`value_from_str`] with other limits.
pub fn value_from_str_with(zinc: &str, limits: &Limits) -> Result<haystack_core::Value> {
    read::read_value(zinc, limits)
}

/// Checks UTF-8, reporting where it is invalid.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let ok = bytes.get(..e.valid_up_to()).unwrap_or_default();
        // The prefix up to `valid_up_to` is valid UTF-8.
        let s = std::str::from_utf8(ok).unwrap_or_default();
        let pos = haystack_core::zinc::Scanner::new(s).position_at(s.len());
        Error::parse(pos, "invalid UTF-8")
    })
}
