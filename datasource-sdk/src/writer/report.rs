//! What a writer delivered and what it did not.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::Batch;

/// Record counts of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    /// Records the sink accepted.
    pub delivered: u64,
    /// Batches the sink accepted.
    pub batches: u64,
    /// Records handed to the dead-letter sink (too large, or in a batch that failed).
    pub dead_lettered: u64,
    /// Records in batches that failed for good (not retryable, or retries used up).
    pub failed: u64,
    /// Records still buffered or in flight when the close deadline passed.
    pub undelivered: u64,
    /// Records dropped because no dead-letter sink took them (too large, no dead-letter sink, or
    /// the dead-letter sink failed).
    pub dropped: u64,
}

/// The outcome of [`crate::Writer::close`].
#[derive(Debug, Clone, Default)]
pub struct CloseReport {
    /// Counts per table.
    pub tables: BTreeMap<String, TableReport>,
    /// The batches not delivered before the deadline, so the caller can keep them elsewhere.
    pub undelivered: Vec<Arc<Batch>>,
    /// Whether the deadline passed before everything was delivered.
    pub timed_out: bool,
    /// Events lost by slow handlers or stream subscribers.
    pub events_dropped: u64,
    /// Event handler calls that panicked.
    pub handler_panics: u64,
}

impl CloseReport {
    /// Whether every record written reached the sink (or, when it was too large for any batch,
    /// the dead-letter sink).
    pub fn all_delivered(&self) -> bool {
        self.tables
            .values()
            .all(|t| t.failed == 0 && t.undelivered == 0 && t.dropped == 0)
    }

    /// Sum over all tables.
    pub fn total(&self) -> TableReport {
        let mut sum = TableReport::default();
        for t in self.tables.values() {
            sum.delivered += t.delivered;
            sum.batches += t.batches;
            sum.dead_lettered += t.dead_lettered;
            sum.failed += t.failed;
            sum.undelivered += t.undelivered;
            sum.dropped += t.dropped;
        }
        sum
    }
}
