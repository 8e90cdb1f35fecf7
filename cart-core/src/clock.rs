//! Wall-clock time for cart timestamps, injectable for tests.

use crate::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of wall-clock time (creation, last use, leases, LRU age).
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to.
///
/// ```
/// use cart_core::{Clock, ManualClock, Timestamp};
/// let c = ManualClock::new(Timestamp::from_unix_millis(1_000));
/// c.advance(std::time::Duration::from_secs(2));
/// assert_eq!(c.now().unix_millis(), 3_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(AtomicI64::new(at.unix_millis()))
    }
    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}
