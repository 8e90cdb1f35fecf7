//! The writer's counters: readable at any time, and exported through the `metrics` facade when
//! the `metrics` feature is on.

use std::sync::atomic::{AtomicU64, Ordering};

/// Names of the exported metrics (feature `metrics`), each counter labelled with `table`.
pub mod names {
    /// Records accepted by `write`.
    pub const WRITTEN: &str = "datasource_writer_written_records_total";
    /// Records the sink accepted.
    pub const DELIVERED: &str = "datasource_writer_delivered_records_total";
    /// Delivery attempts that failed and were tried again.
    pub const RETRIED: &str = "datasource_writer_retried_attempts_total";
    /// Records the dead-letter sink accepted.
    pub const DEAD_LETTERED: &str = "datasource_writer_dead_lettered_records_total";
    /// Records `write` refused (too large, no dead-letter sink), handed back to the caller.
    pub const REFUSED: &str = "datasource_writer_refused_records_total";
    /// Records that reached no sink (failed for good with no dead-letter sink, or the
    /// dead-letter sink failed too).
    pub const DROPPED: &str = "datasource_writer_dropped_records_total";
    /// Bytes held now, buffered or in flight (a gauge).
    pub const BUFFERED_BYTES: &str = "datasource_writer_buffered_bytes";
}

/// Counters shared by the handles and the delivery task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub delivered: AtomicU64,
    pub delivered_batches: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub abandoned: AtomicU64,
}

/// Which counter an update goes to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Delivered,
    Retried,
    DeadLettered,
    Refused,
    Failed,
    Dropped,
    Abandoned,
}

impl Counters {
    /// Adds `n` to a counter (and to the exported metric of `table`).
    pub fn add(&self, counter: Counter, table: &str, n: u64) {
        let (cell, _name) = match counter {
            Counter::Delivered => {
                self.delivered_batches.fetch_add(1, Ordering::Relaxed);
                (&self.delivered, names::DELIVERED)
            }
            Counter::Retried => (&self.retried, names::RETRIED),
            Counter::DeadLettered => (&self.dead_lettered, names::DEAD_LETTERED),
            Counter::Refused => (&self.refused, names::REFUSED),
            Counter::Failed => (&self.failed, ""),
            Counter::Dropped => (&self.dropped, names::DROPPED),
            Counter::Abandoned => (&self.abandoned, ""),
        };
        cell.fetch_add(n, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        if !_name.is_empty() {
            metrics::counter!(_name, "table" => table.to_owned()).increment(n);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = table;
    }

    /// Exports the bytes held now (feature `metrics`; a no-op without it).
    pub fn export_buffered(&self, _buffered: usize) {
        #[cfg(feature = "metrics")]
        metrics::gauge!(names::BUFFERED_BYTES).set(_buffered as f64);
    }

    /// Exports the records `write` accepted for `table` since the last export, and the bytes
    /// held (feature `metrics`; a no-op without it).
    pub fn export_written(&self, _table: &str, _n: u64, _buffered: usize) {
        #[cfg(feature = "metrics")]
        {
            metrics::counter!(names::WRITTEN, "table" => _table.to_owned()).increment(_n);
            metrics::gauge!(names::BUFFERED_BYTES).set(_buffered as f64);
        }
    }
}
