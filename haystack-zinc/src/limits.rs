//! [`Limits`]: bounds that keep hostile input from exhausting the stack or memory.

/// Bounds applied by the readers. Exceeding one is an [`crate::Error::LimitExceeded`].
///
/// ```
/// let strict = haystack_zinc::Limits { max_depth: 8, ..Default::default() };
/// let err = haystack_zinc::value_from_str_with("[[[[[[[[[[1]]]]]]]]]]", &strict).unwrap_err();
/// assert!(matches!(err, haystack_zinc::Error::LimitExceeded { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists, dicts and grids (default 128, like `serde_json`).
    pub max_depth: usize,
    /// Most columns in one grid (default 100,000).
    pub max_columns: usize,
    /// Most rows in one grid read into memory; the streaming reader is not bound by it
    /// (default unlimited).
    pub max_rows: usize,
    /// Longest line (a row, with any nested grids in it) the streaming reader buffers
    /// (default 256 MiB); this bounds its memory.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_columns: 100_000,
            max_rows: usize::MAX,
            max_line_bytes: 256 << 20,
        }
    }
}
