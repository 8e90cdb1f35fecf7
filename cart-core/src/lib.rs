//! Staging archived files and streaming them out as tar carts, after Pacifica Cartd.
//!
//! ```
//! assert!(cart_core::is_safe_bundle_path("1/2/3/foo.txt"));
//! assert!(!cart_core::is_safe_bundle_path("../etc/passwd"));
//! ```

/// Whether `path` is a relative, normalized bundle path with no `..`, `.`, empty segments,
/// backslashes or NUL bytes.
pub fn is_safe_bundle_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths() {
        for bad in [
            "",
            "/etc/passwd",
            "//x",
            "a/../b",
            "a\\b",
            "a/./b",
            "a/",
            "a\0b",
        ] {
            assert!(!is_safe_bundle_path(bad), "{bad:?}");
        }
        assert!(is_safe_bundle_path("a/b/c.txt"));
    }
}
