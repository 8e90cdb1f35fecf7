//! Project Haystack 4 values, grids, filters, units, timezones and JSON.
//!
//! ```
//! use haystack_core::{Dict, Grid, Value, Number, dict};
//!
//! let site = dict! { "dis" => "HQ", "site" => Value::Marker, "area" => Number::with_unit(3702.0, "ft²") };
//! let grid = Grid::from_dicts([&site]);
//! assert_eq!(grid.rows().next().and_then(|r| r.get("dis")), Some(&Value::from("HQ")));
//! assert_eq!(site.get("area").unwrap().to_string(), "3702ft²");
//! assert!(haystack_core::is_tag_name("siteRef"));
//! assert!(!haystack_core::is_tag_name("Site"));
//! ```
//!
//! - [`Value`] is every Haystack kind; [`Dict`] and [`Grid`] are the collections.
//! - [`zinc`] reads and writes Zinc scalar literals (and writes whole values); the
//!   `haystack-zinc` crate builds full Zinc and Trio documents on top of it.

/// The crate README's Rust snippets, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "defs")]
pub mod defs;
pub mod dict;
pub mod error;
pub mod filter;
pub mod grid;
pub mod index;
pub mod json;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timezone;
pub mod units;
pub mod value;
pub mod zinc;

pub use dict::Dict;
pub use error::{Error, ParseError, Position, Result};
pub use grid::{Cells, Col, Grid, GridBuilder, Row, RowCells, Rows};
pub use value::{Coord, DateTime, Kind, Number, Ref, SmolStr, Value, XStr};

/// Whether `name` is a valid Haystack tag name: an ASCII lowercase letter followed by ASCII
/// letters, digits and underscores.
pub fn is_tag_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names() {
        for ok in ["a", "siteRef", "his_2"] {
            assert!(is_tag_name(ok), "{ok}");
        }
        for bad in ["", "A", "2a", "a-b", "é"] {
            assert!(!is_tag_name(bad), "{bad}");
        }
    }
}
