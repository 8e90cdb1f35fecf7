//! Retry settings: exponential backoff with jitter, capped by attempts and total time.
//!
//! Every retry loop of the crate (the writer's deliveries, the runner's reads, the DynamoDB
//! sink's unprocessed items) runs on [`backon`], driven by the [`RetryBackoff`] schedule a
//! [`RetryPolicy`] describes.

use std::future::Future;
use std::num::NonZeroU32;
use std::time::Duration;

use backon::Retryable;
use rand::Rng;
use tokio::time::Instant;

use crate::{Error, Result};

/// How a failed call is retried. Only errors for which [`crate::Error::is_retryable`] holds are
/// retried; the delay before retry `n` (from 1) is drawn uniformly from
/// `[d/2, d]` where `d = min(max_backoff, initial_backoff * 2^(n-1))` ("equal jitter").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts in all, the first included (default 10; 1 means no retry).
    pub max_attempts: NonZeroU32,
    /// Delay before the first retry, before jitter (default 100 ms).
    pub initial_backoff: Duration,
    /// Largest delay between two attempts, before jitter (default 5 s).
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt began (default 60 s).
    pub max_elapsed: Duration,
    /// Each attempt is abandoned (as a retryable [`crate::Error::Timeout`]) after this long
    /// (default 30 s), so a stalled peer cannot hold everything behind it. `Duration::MAX`
    /// means no limit.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts (0 is taken as 1) with the other defaults.
    pub fn with_attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts: NonZeroU32::new(max_attempts).unwrap_or(NonZeroU32::MIN),
            ..Self::default()
        }
    }

    /// The delay before a retry, without jitter: `initial * 2^(retry-1)`, at most `max_backoff`.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
    }

    /// The delay before retry number `retry` (from 1), with jitter in `[base/2, base]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry);
        let low = base / 2;
        if base.is_zero() {
            return base;
        }
        let nanos = rand::rng().random_range(low.as_nanos()..=base.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The delay to wait before another attempt after `attempts` attempts that began `elapsed`
    /// ago, or `None` when the attempts or the time are used up.
    pub fn next_delay(&self, attempts: u32, elapsed: Duration) -> Option<Duration> {
        if attempts >= self.max_attempts.get() {
            return None;
        }
        let delay = self.delay(attempts);
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return None;
        }
        Some(delay)
    }

    /// The schedule of delays between attempts, starting now: a [`backon`] backoff.
    pub fn backoff(&self) -> RetryBackoff {
        RetryBackoff {
            policy: self.clone(),
            attempts: 1,
            started: Instant::now(),
        }
    }
}

/// The delays a [`RetryPolicy`] allows between attempts, as an iterator (a [`backon`] backoff).
/// Ends when the attempts or the total time are used up. Uses tokio's clock, so it follows a
/// paused test clock.
#[derive(Debug, Clone)]
pub struct RetryBackoff {
    policy: RetryPolicy,
    attempts: u32,
    started: Instant,
}

impl Iterator for RetryBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self
            .policy
            .next_delay(self.attempts, self.started.elapsed())?;
        self.attempts = self.attempts.saturating_add(1);
        Some(delay)
    }
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or `policy` gives
/// up. Each attempt is bounded by `policy.attempt_timeout`; `notify` sees each retryable error
/// and the delay before the next attempt.
pub(crate) async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    mut op: F,
    notify: impl FnMut(&Error, Duration),
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let limit = policy.attempt_timeout;
    (|| {
        let attempt = op();
        async move {
            match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout(limit)),
            }
        }
    })
    .retry(policy.backoff())
    .when(Error::is_retryable)
    .notify(notify)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.base_delay(1), Duration::from_millis(100));
        assert_eq!(p.base_delay(2), Duration::from_millis(200));
        assert_eq!(p.base_delay(4), Duration::from_millis(800));
        assert_eq!(p.base_delay(20), Duration::from_secs(5));
        assert_eq!(p.base_delay(u32::MAX), Duration::from_secs(5));
        for retry in 1..12 {
            let d = p.delay(retry);
            assert!(d >= p.base_delay(retry) / 2 && d <= p.base_delay(retry));
        }
    }

    #[test]
    fn capped_by_attempts_and_time() {
        let p = RetryPolicy::with_attempts(3);
        assert!(p.next_delay(1, Duration::ZERO).is_some());
        assert!(p.next_delay(3, Duration::ZERO).is_none());
        assert!(p.next_delay(1, Duration::from_secs(60)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_yields_one_delay_per_retry() {
        let p = RetryPolicy::with_attempts(4);
        assert_eq!(p.backoff().count(), 3);
        assert_eq!(RetryPolicy::with_attempts(1).backoff().count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_at_errors_that_are_not_retryable() {
        let p = RetryPolicy::with_attempts(5);
        let mut calls = 0;
        let r: Result<()> = retry(
            &p,
            || {
                calls += 1;
                async { Err(Error::InvalidInput("no".into())) }
            },
            |_, _| {},
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
        let mut calls = 0;
        let mut notified = 0;
        let r: Result<()> = retry(
            &p,
            || {
                calls += 1;
                async { Err(Error::Unavailable("down".into())) }
            },
            |_, _| notified += 1,
        )
        .await;
        assert!(matches!(r, Err(Error::Unavailable(_))));
        assert_eq!((calls, notified), (5, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unbounded_attempt_timeout_does_not_overflow() {
        let p = RetryPolicy {
            attempt_timeout: Duration::MAX,
            ..RetryPolicy::with_attempts(1)
        };
        let r = retry(&p, || async { Ok::<_, Error>(7) }, |_, _| {}).await;
        assert_eq!(r.unwrap(), 7);
    }
}
