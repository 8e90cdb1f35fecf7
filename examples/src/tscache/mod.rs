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
pub mod objects;
pub mod pipeline;
pub mod progress;
pub mod queue;
pub mod retry;
pub mod source;
pub mod sqs;
mod workers;

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
    /// A storage backend failed in a way another attempt will not change.
    #[error("{0}")]
    Storage(String),
    /// A storage backend or queue is unavailable for now (network, 5xx, throttling): worth
    /// retrying.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A conditional write lost a race (HTTP 412 or 409): re-read, merge and try again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The external API failed.
    #[error("external API: {0}")]
    Source(String),
    /// Records could not be delivered.
    #[error(transparent)]
    Writer(#[from] datasource_sdk::Error),
}

impl CacheError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CacheError::Unavailable(_) | CacheError::Conflict(_) => true,
            CacheError::Writer(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Maps an AWS SDK error: network failures, timeouts, 5xx and throttling are
/// [`CacheError::Unavailable`]; 412 and 409 are [`CacheError::Conflict`]; the rest
/// [`CacheError::Storage`].
pub fn aws_error<E>(
    what: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> CacheError
where
    E: std::error::Error
        + aws_smithy_types::error::metadata::ProvideErrorMetadata
        + Send
        + Sync
        + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let message = format!(
        "{what}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(&e)
    );
    let (status, code) = match &e {
        SdkError::ServiceError(ctx) => (
            ctx.raw().status().as_u16(),
            ctx.err().code().unwrap_or_default().to_owned(),
        ),
        SdkError::ResponseError(_) | SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return CacheError::Unavailable(message);
        }
        _ => return CacheError::Storage(message),
    };
    if matches!(status, 412 | 409)
        || code == "PreconditionFailed"
        || code == "ConditionalRequestConflict"
    {
        CacheError::Conflict(message)
    } else if matches!(status, 429 | 500..=599)
        || code.contains("Throttl")
        || code.contains("RequestLimit")
        || code == "SlowDown"
    {
        CacheError::Unavailable(message)
    } else {
        CacheError::Storage(message)
    }
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
