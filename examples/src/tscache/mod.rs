//! The time series cache: history and forecast merged into one series.
//!
//! A schedule enqueues every identifier of the identifier table (page by page); a bounded fan-out
//! of fetch workers reads each identifier's series from an external API through a
//! `datasource-sdk` [`DataSource`](datasource_sdk::DataSource), and writes past points to the
//! history store and future points to the forecast table, each through a `datasource-sdk`
//! [`Writer`](datasource_sdk::Writer) (retries, backpressure, nothing dropped). A queue message is
//! deleted only after its points are durable; a message that keeps failing moves to a dead-letter
//! list after a bounded number of receives. The HTTP API returns one merged series.
//!
//! Backends: in-memory identifier and forecast tables and a local history directory (embedded
//! defaults); DynamoDB tables and an S3 bucket (emulator in tests).

pub mod api;
pub mod forecast;
pub mod history;
pub mod ids;
pub mod pipeline;
pub mod queue;
pub mod source;
pub mod sqs;

use std::sync::Arc;

use time::OffsetDateTime;

/// The current time, injectable so tests control it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// One point of a series: epoch seconds and a value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Epoch seconds.
    pub time: i64,
    /// The value.
    pub value: f64,
}

/// Errors of the cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// An identifier outside `[A-Za-z0-9_.-]{1,128}`.
    #[error("invalid identifier {0:?}: use 1 to 128 of A-Z a-z 0-9 _ . -")]
    InvalidIdentifier(String),
    /// A storage backend failed.
    #[error("{0}")]
    Storage(String),
    /// The external API failed.
    #[error("external API: {0}")]
    Source(String),
    /// Records could not be delivered.
    #[error(transparent)]
    Writer(#[from] datasource_sdk::Error),
}

/// Checks an identifier: 1 to 128 of `A-Z a-z 0-9 _ . -`, never `.` or `..` alone. Identifiers
/// go into object keys, so nothing else is accepted (the original interpolated them into query
/// text).
pub fn validate_identifier(id: &str) -> Result<(), CacheError> {
    let ok = (1..=128).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CacheError::InvalidIdentifier(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers() {
        for ok in ["sensor-1", "a", "A.b_c"] {
            assert!(super::validate_identifier(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a' OR '1'='1",
            "x y",
            &"a".repeat(129),
        ] {
            assert!(super::validate_identifier(bad).is_err(), "{bad}");
        }
    }
}
