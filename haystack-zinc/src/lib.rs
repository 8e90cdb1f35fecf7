//! Zinc and Trio readers and writers for Project Haystack, streaming.
//!
//! ```
//! assert_eq!(haystack_zinc::MIME_TYPE, "text/zinc");
//! ```

/// The media type of Zinc documents.
pub const MIME_TYPE: &str = "text/zinc";

#[cfg(test)]
mod tests {
    #[test]
    fn mime_is_zinc() {
        assert!(super::MIME_TYPE.ends_with("zinc"));
        assert!(haystack_core::is_tag_name("dis"));
    }
}
