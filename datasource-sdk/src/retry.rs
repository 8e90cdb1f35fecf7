//! Retry settings: exponential backoff with jitter, capped by attempts and total time.

use std::time::Duration;

use rand::Rng;

/// How a failed call is retried. Only errors for which [`crate::Error::is_retryable`] holds are
/// retried; the delay before retry `n` (from 1) is drawn uniformly from
/// `[d/2, d]` where `d = min(max_backoff, initial_backoff * 2^(n-1))` ("equal jitter").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts in all, the first included (default 10; 1 means no retry).
    pub max_attempts: u32,
    /// Delay before the first retry, before jitter (default 100 ms).
    pub initial_backoff: Duration,
    /// Largest delay between two attempts, before jitter (default 5 s).
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt began (default 60 s).
    pub max_elapsed: Duration,
    /// Each attempt is abandoned (as a retryable [`crate::Error::Timeout`]) after this long
    /// (default 30 s), so a stalled peer cannot hold everything behind it.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
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
        if attempts >= self.max_attempts {
            return None;
        }
        let delay = self.delay(attempts);
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return None;
        }
        Some(delay)
    }
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
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.next_delay(1, Duration::ZERO).is_some());
        assert!(p.next_delay(3, Duration::ZERO).is_none());
        assert!(p.next_delay(1, Duration::from_secs(60)).is_none());
    }
}
