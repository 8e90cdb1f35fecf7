//! Where `updated_at` comes from.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of the current time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Whole seconds since the Unix epoch.
    fn now_seconds(&self) -> u64;
}

/// The system clock (what the original uses: `int(time.time())`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_seconds(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            // A clock set before 1970 is reported as the epoch rather than failing writes.
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; clones share the same time. For tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `seconds` since the epoch.
    pub fn new(seconds: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(seconds)))
    }

    /// Moves the clock to `seconds`.
    pub fn set(&self, seconds: u64) {
        self.0.store(seconds, Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds` (saturating) and returns the new time.
    pub fn advance(&self, seconds: u64) -> u64 {
        let mut current = self.0.load(Ordering::SeqCst);
        loop {
            let next = current.saturating_add(seconds);
            match self
                .0
                .compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }
}

impl Clock for ManualClock {
    fn now_seconds(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let clock = ManualClock::new(10);
        let other = clock.clone();
        assert_eq!(other.advance(5), 15);
        assert_eq!(clock.now_seconds(), 15);
        clock.set(u64::MAX);
        assert_eq!(clock.advance(1), u64::MAX);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_seconds() > 1_577_836_800);
    }
}
