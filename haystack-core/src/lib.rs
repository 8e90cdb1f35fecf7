//! Project Haystack 4 values, grids, filters, units, timezones and JSON.
//!
//! ```
//! assert!(haystack_core::is_tag_name("siteRef"));
//! assert!(!haystack_core::is_tag_name("Site"));
//! ```

pub mod error;
pub mod filter;
pub mod json;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timezone;
pub mod units;
pub mod zinc;

pub use error::{Error, ParseError, Position, Result};

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
