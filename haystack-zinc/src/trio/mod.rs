//! Trio: Haystack records as plain text, one tag per line.
//!
//! ```
//! use haystack_core::Value;
//! let text = "\
//! // sites
//! dis: \"Site 1\"
//! site
//! area: 3702ft²
//! strTag: OK if unquoted
//! summary:
//!   This is a string value that spans multiple
//!   lines with two or more space characters
//! ---
//! name: \"Site 2\"
//! children: [
//!   {fan, motor, equip},
//!   ]
//! val:Zinc:
//!   ver:\"3.0\"
//!   b,a
//!   20,10
//! ";
//! let recs = haystack_zinc::trio::from_str(text).unwrap();
//! assert_eq!(recs.len(), 2);
//! assert_eq!(recs[0].get("strTag"), Some(&Value::from("OK if unquoted")));
//! assert_eq!(recs[0].get("summary").unwrap().as_str().unwrap().lines().count(), 2);
//! assert_eq!(recs[1].get("val").unwrap().as_grid().unwrap().len(), 1);
//! let again = haystack_zinc::trio::from_str(&haystack_zinc::trio::to_string(&recs)).unwrap();
//! assert_eq!(again, recs);
//! ```

mod read;
mod write;

pub use read::{from_str, from_str_with};
pub use write::{to_string, to_writer};

/// The media type of Trio documents.
pub const MIME_TYPE: &str = "text/trio";
