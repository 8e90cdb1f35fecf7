//! The schedule's progress: identifiers enqueued, fetched and failed in the running cycle, and
//! the last finished cycle, shared by the workers, the logs and `GET /status`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Counters of one cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCounts {
    /// Identifiers sent to the queue by this process's schedule.
    pub enqueued: u64,
    /// Identifiers whose points this process wrote (their messages deleted).
    pub fetched: u64,
    /// Failed attempts (each message released for another try, or dead-lettered).
    pub failed: u64,
    /// Messages that failed their last allowed receive (moved to the dead-letter queue).
    pub dead_lettered: u64,
    /// Queue operations that failed and were retried or reported (receive, delete, heartbeat).
    pub queue_errors: u64,
    /// Wall time of the cycle so far, in milliseconds.
    pub elapsed_ms: u64,
}

/// What `GET /status` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Whether a cycle is running.
    pub running: bool,
    /// Cycles started since the process started.
    pub cycles_started: u64,
    /// Cycles finished.
    pub cycles_completed: u64,
    /// The running cycle's counters (the last cycle's when none runs).
    pub current: CycleCounts,
    /// The last finished cycle.
    pub last_cycle: Option<CycleCounts>,
    /// The most recent error messages (at most [`RECENT_ERRORS`]).
    pub recent_errors: Vec<String>,
}

/// How many recent error messages the status keeps.
pub const RECENT_ERRORS: usize = 20;

/// Live counters, updated by the schedule and the workers.
#[derive(Debug, Default)]
pub struct Progress {
    running: AtomicBool,
    cycles_started: AtomicU64,
    cycles_completed: AtomicU64,
    enqueued: AtomicU64,
    fetched: AtomicU64,
    failed: AtomicU64,
    dead_lettered: AtomicU64,
    queue_errors: AtomicU64,
    started: Mutex<Option<tokio::time::Instant>>,
    last: Mutex<Option<CycleCounts>>,
    recent: Mutex<std::collections::VecDeque<String>>,
}

impl Progress {
    /// Starts a cycle: the counters go back to zero.
    pub fn start_cycle(&self) {
        for c in [
            &self.enqueued,
            &self.fetched,
            &self.failed,
            &self.dead_lettered,
            &self.queue_errors,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        if let Ok(mut s) = self.started.lock() {
            *s = Some(tokio::time::Instant::now());
        }
        self.cycles_started.fetch_add(1, Ordering::Relaxed);
        self.running.store(true, Ordering::Relaxed);
    }

    /// Ends the cycle; its counters become the last cycle's.
    pub fn finish_cycle(&self) -> CycleCounts {
        let counts = self.counts();
        if let Ok(mut last) = self.last.lock() {
            *last = Some(counts.clone());
        }
        self.running.store(false, Ordering::Relaxed);
        self.cycles_completed.fetch_add(1, Ordering::Relaxed);
        counts
    }

    /// `n` identifiers enqueued.
    pub fn enqueued(&self, n: usize) {
        self.enqueued
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// One identifier fetched and durable.
    pub fn fetched(&self) {
        self.fetched.fetch_add(1, Ordering::Relaxed);
    }

    /// One failed attempt; `dead` when it was the message's last allowed receive.
    pub fn failed(&self, why: String, dead: bool) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if dead {
            self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
        self.remember(why);
    }

    /// A queue operation failed.
    pub fn queue_error(&self, why: String) {
        self.queue_errors.fetch_add(1, Ordering::Relaxed);
        self.remember(why);
    }

    fn remember(&self, why: String) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_ERRORS {
                recent.pop_front();
            }
            recent.push_back(why);
        }
    }

    /// The running cycle's counters.
    pub fn counts(&self) -> CycleCounts {
        let elapsed = self
            .started
            .lock()
            .ok()
            .and_then(|s| *s)
            .map_or(Duration::ZERO, |s| s.elapsed());
        CycleCounts {
            enqueued: self.enqueued.load(Ordering::Relaxed),
            fetched: self.fetched.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            queue_errors: self.queue_errors.load(Ordering::Relaxed),
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// A snapshot for `GET /status`.
    pub fn status(&self) -> Status {
        let running = self.running.load(Ordering::Relaxed);
        let last = self.last.lock().ok().and_then(|l| l.clone());
        let current = match (&last, running) {
            (Some(last), false) => last.clone(),
            _ => self.counts(),
        };
        Status {
            running,
            cycles_started: self.cycles_started.load(Ordering::Relaxed),
            cycles_completed: self.cycles_completed.load(Ordering::Relaxed),
            current,
            last_cycle: last,
            recent_errors: self
                .recent
                .lock()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }
}
