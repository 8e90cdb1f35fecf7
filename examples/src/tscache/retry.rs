//! Retries through the data-source SDK's [`RetryPolicy`]: its backoff schedule (exponential,
//! with jitter, capped by attempts and total time) drives [`backon`], each attempt bounded by the
//! policy's attempt timeout. Only errors for which [`CacheError::is_retryable`] holds are retried.

use std::future::Future;
use std::time::Duration;

use backon::Retryable;
use datasource_sdk::RetryPolicy;

use super::CacheError;

/// Runs `op` until it succeeds, fails with an error that is not retryable, or `policy` gives up
/// (then the last error is returned). `notify` sees each retried error and the delay before the
/// next attempt (to log or count it).
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    mut op: F,
    notify: impl FnMut(&CacheError, Duration),
) -> Result<T, CacheError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CacheError>>,
{
    let limit = policy.attempt_timeout;
    (|| {
        let attempt = op();
        async move {
            match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(CacheError::Unavailable(format!(
                    "no answer within {limit:?}"
                ))),
            }
        }
    })
    .retry(policy.backoff())
    .when(CacheError::is_retryable)
    .notify(notify)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_only_what_may_succeed() {
        let policy = RetryPolicy::with_attempts(4);
        let mut calls = 0;
        let r: Result<(), _> = retry(
            &policy,
            || {
                calls += 1;
                async { Err(CacheError::Unavailable("down".into())) }
            },
            |_, _| {},
        )
        .await;
        assert!(matches!(r, Err(CacheError::Unavailable(_))));
        assert_eq!(calls, 4);
        let mut calls = 0;
        let r: Result<(), _> = retry(
            &policy,
            || {
                calls += 1;
                async { Err(CacheError::Storage("bad".into())) }
            },
            |_, _| {},
        )
        .await;
        assert!(matches!(r, Err(CacheError::Storage(_))));
        assert_eq!(calls, 1);
    }
}
