//! A batching writer that loses nothing, and a connector (data source) SDK with resumable state.
//!
//! ```
//! let limits = datasource_sdk::BatchLimits::default();
//! assert_eq!(limits.max_bytes, 256_000);
//! ```

use std::time::Duration;

/// When a batch is sent: whichever limit is reached first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most encoded bytes in one batch.
    pub max_bytes: usize,
    /// How long the first record of a batch may wait.
    pub timeout: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256_000,
            timeout: Duration::from_secs(2),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_match_the_original() {
        let limits = super::BatchLimits::default();
        assert_eq!(limits.timeout.as_secs(), 2);
    }
}
