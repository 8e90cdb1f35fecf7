//! Batch writes with retried `UnprocessedItems`, and the mapping of SDK errors to [`Error`].

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::{Error, Result};

/// DynamoDB's limit on the number of requests in one `BatchWriteItem`.
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;

/// How deletes are batched and how `UnprocessedItems` are retried.
///
/// A batch whose items come back unprocessed is sent again (only the unprocessed items) after
/// `initial_backoff`, doubling up to `max_backoff`, each wait with jitter (up to twice the
/// base, so concurrent writers do not resend in lockstep), until everything is written or the
/// batch has been sent `max_attempts` times, which ends in [`Error::BatchIncomplete`]. The
/// resends run on `backon`, the workspace's retry crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSettings {
    /// Items per `BatchWriteItem`; values above [`MAX_BATCH_WRITE_ITEMS`] are treated as 25.
    pub batch_size: NonZeroUsize,
    /// How many times one batch may be sent in all.
    pub max_attempts: NonZeroU32,
    /// Wait before the first resend.
    pub initial_backoff: Duration,
    /// Longest wait between resends.
    pub max_backoff: Duration,
}

impl Default for BatchSettings {
    /// 25 items per batch, 10 attempts, 50 ms doubling to at most 5 s (about 20 s in all).
    fn default() -> Self {
        BatchSettings {
            batch_size: NonZeroUsize::new(MAX_BATCH_WRITE_ITEMS).unwrap_or(NonZeroUsize::MIN),
            max_attempts: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl BatchSettings {
    /// Settings with the given resend policy and 25 items per batch.
    pub fn new(max_attempts: NonZeroU32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        BatchSettings {
            max_attempts,
            initial_backoff,
            max_backoff,
            ..Self::default()
        }
    }

    /// Sets the items per batch (capped at [`MAX_BATCH_WRITE_ITEMS`]).
    pub fn with_batch_size(mut self, batch_size: NonZeroUsize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Items per batch, at most [`MAX_BATCH_WRITE_ITEMS`].
    pub fn effective_batch_size(&self) -> usize {
        self.batch_size.get().min(MAX_BATCH_WRITE_ITEMS)
    }

    /// The resend schedule as a `backon` builder: exponential, capped, with jitter.
    fn schedule(&self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.get().saturating_sub(1) as usize)
            .with_jitter()
    }

    /// The wait before resend number `retry` (1-based), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Why one send of a batch did not finish it.
enum Resend {
    /// This many items came back unprocessed (kept for the next send).
    Unprocessed(usize),
    /// `send` failed: stop.
    Failed(Error),
}

/// Sends one batch with `send` (which returns the unprocessed items) until nothing is left,
/// waiting between resends as `settings` says.
pub(crate) async fn send_batch<T, F, Fut>(
    operation: &'static str,
    settings: &BatchSettings,
    batch: Vec<T>,
    mut send: F,
) -> Result<()>
where
    T: Send,
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>>>,
{
    use backon::Retryable;
    if batch.is_empty() {
        return Ok(());
    }
    let pending = std::sync::Mutex::new(batch);
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let slot = || {
        pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let outcome = (|| {
        attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sent = send(std::mem::take(&mut *slot()));
        async {
            match sent.await {
                Ok(left) if left.is_empty() => Ok(()),
                Ok(left) => {
                    let n = left.len();
                    *slot() = left;
                    Err(Resend::Unprocessed(n))
                }
                Err(e) => Err(Resend::Failed(e)),
            }
        }
    })
    .retry(settings.schedule())
    .when(|e| matches!(e, Resend::Unprocessed(_)))
    .notify(|e, delay| {
        if let Resend::Unprocessed(n) = e {
            tracing::debug!(operation, unprocessed = n, ?delay, "resending");
        }
    })
    .await;
    match outcome {
        Ok(()) => Ok(()),
        Err(Resend::Failed(e)) => Err(e),
        Err(Resend::Unprocessed(unprocessed)) => Err(Error::BatchIncomplete {
            operation,
            unprocessed,
            attempts: attempts.load(std::sync::atomic::Ordering::Relaxed),
        }),
    }
}

/// Error codes after which the same request may succeed.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionCanceledException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Maps an SDK error to [`Error::Storage`], saying whether a retry may help.
pub(crate) fn sdk_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
        _ => false,
    };
    Error::Storage {
        operation,
        message: DisplayErrorContext(&err).to_string(),
        retryable,
        source: Some(Box::new(err)),
    }
}

/// Maps a request that could not be built (a missing required field) to [`Error::Storage`].
pub(crate) fn build_error(operation: &'static str, err: impl std::fmt::Display) -> Error {
    Error::Storage {
        operation,
        message: format!("request could not be built: {err}"),
        retryable: false,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = BatchSettings::new(
            NonZeroU32::MIN,
            Duration::from_millis(50),
            Duration::from_millis(300),
        );
        assert_eq!(s.backoff(1), Duration::from_millis(50));
        assert_eq!(s.backoff(2), Duration::from_millis(100));
        assert_eq!(s.backoff(3), Duration::from_millis(200));
        assert_eq!(s.backoff(4), Duration::from_millis(300));
        assert_eq!(s.backoff(u32::MAX), Duration::from_millis(300));
        let big = BatchSettings::default().with_batch_size(NonZeroUsize::MAX);
        assert_eq!(big.effective_batch_size(), 25);
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_items_are_resent_after_backoff() {
        let settings = BatchSettings::default();
        let calls = Cell::new(0);
        let start = tokio::time::Instant::now();
        let mut sizes = Vec::new();
        let result = send_batch("Test", &settings, (0..25).collect(), |batch: Vec<i32>| {
            calls.set(calls.get() + 1);
            sizes.push(batch.len());
            // Every call writes ten items and hands the rest back as unprocessed.
            std::future::ready(Ok(batch.into_iter().skip(10).collect()))
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(sizes, vec![25, 15, 5]);
        // 50 ms then 100 ms of backoff, each with jitter of up to as much again, on the paused
        // clock.
        let spent = start.elapsed();
        assert!(
            spent >= Duration::from_millis(150) && spent < Duration::from_millis(300),
            "{spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_never_drains_ends_in_batch_incomplete() {
        let settings = BatchSettings::new(
            NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN),
            Duration::from_millis(10),
            Duration::from_millis(15),
        );
        let start = tokio::time::Instant::now();
        let err = send_batch("Test", &settings, vec![1, 2, 3], |batch: Vec<i32>| {
            std::future::ready(Ok(batch))
        })
        .await;
        match err {
            Err(e @ Error::BatchIncomplete { .. }) => {
                assert!(e.is_retryable());
                assert!(matches!(
                    e,
                    Error::BatchIncomplete {
                        unprocessed: 3,
                        attempts: 4,
                        ..
                    }
                ));
            }
            other => panic!("expected BatchIncomplete, got {other:?}"),
        }
        let spent = start.elapsed();
        assert!(
            spent >= Duration::from_millis(10 + 15 + 15) && spent < Duration::from_millis(80),
            "{spent:?}"
        );
    }

    #[test]
    fn sdk_errors_say_whether_a_retry_may_help() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::query::QueryError;
        let service = |code: &str| {
            let err = QueryError::generic(ErrorMetadata::builder().code(code).message("m").build());
            sdk_error("Query", SdkError::<QueryError, ()>::service_error(err, ()))
        };
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
        ] {
            let err = service(code);
            assert!(err.is_retryable(), "{code}");
            assert!(matches!(
                err,
                Error::Storage {
                    operation: "Query",
                    ..
                }
            ));
        }
        assert!(!service("ResourceNotFoundException").is_retryable());
        assert!(!service("ValidationException").is_retryable());
        let timeout = SdkError::<QueryError, ()>::timeout_error("slow");
        assert!(sdk_error("Query", timeout).is_retryable());
        let construction = SdkError::<QueryError, ()>::construction_failure("bad");
        assert!(!sdk_error("Query", construction).is_retryable());
    }

    #[tokio::test]
    async fn errors_from_send_stop_the_batch() {
        let settings = BatchSettings::default();
        let err = send_batch("Test", &settings, vec![1], |_: Vec<i32>| {
            std::future::ready(Err::<Vec<i32>, _>(Error::Config("boom".into())))
        })
        .await;
        assert!(matches!(err, Err(Error::Config(_))));
    }
}
