//! End-to-end acknowledgements: the outcome of a group of records, known once every one of
//! them is delivered, durably dead-lettered, or failed for good.
//!
//! Made on the model of Vector's end-to-end acknowledgements (`BatchNotifier`): a record written
//! with [`crate::Writer::write_tracked`] carries a share of an [`Acks`]; the writer settles that
//! share when the batch holding the record reaches an outcome, and a share dropped unsettled
//! (a writer that ended, a record abandoned at the close deadline) settles as failed, so a
//! waiter can never wait forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct State {
    written: AtomicU64,
    pending: AtomicU64,
    delivered: AtomicU64,
    dead_lettered: AtomicU64,
    failed: AtomicU64,
    failed_batches: AtomicU64,
    notify: Notify,
}

/// Tracks the outcome of the records written with it (one record for a future per write, or
/// every record of a page for a state checkpoint). Cheap to clone; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct Acks {
    state: Arc<State>,
}

/// The counts of an [`Acks`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// Records written with the tracker.
    pub written: u64,
    /// Records whose outcome is not known yet.
    pub pending: u64,
    /// Records the sink accepted.
    pub delivered: u64,
    /// Records the dead-letter sink accepted (durably) instead.
    pub dead_lettered: u64,
    /// Records that reached no sink: failed for good, or abandoned when the writer closed.
    pub failed: u64,
    /// Batches (or parts of batches) in which those records failed.
    pub failed_batches: u64,
}

impl AckSummary {
    /// Whether every record has an outcome and every one is durable somewhere (sink or
    /// dead-letter sink).
    pub fn all_acknowledged(&self) -> bool {
        self.pending == 0 && self.failed == 0
    }
}

/// How a share of records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    DeadLettered,
    Failed,
}

impl Acks {
    /// A tracker with no record yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts now.
    pub fn summary(&self) -> AckSummary {
        let s = &self.state;
        AckSummary {
            written: s.written.load(Ordering::Acquire),
            pending: s.pending.load(Ordering::Acquire),
            delivered: s.delivered.load(Ordering::Acquire),
            dead_lettered: s.dead_lettered.load(Ordering::Acquire),
            failed: s.failed.load(Ordering::Acquire),
            failed_batches: s.failed_batches.load(Ordering::Acquire),
        }
    }

    /// Whether no record written with this tracker is still pending.
    pub fn is_settled(&self) -> bool {
        self.state.pending.load(Ordering::Acquire) == 0
    }

    /// Waits until every record written with this tracker so far has an outcome.
    pub async fn settled(&self) -> AckSummary {
        loop {
            let notified = self.state.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_settled() {
                return self.summary();
            }
            notified.await;
        }
    }

    fn ptr_eq(&self, other: &Acks) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

/// `count` records of one tracker, not settled yet. Settles as failed when dropped unsettled.
#[derive(Debug)]
pub(crate) struct AckRun {
    acks: Acks,
    count: u64,
}

impl AckRun {
    /// A share of one newly written record.
    pub fn one(acks: &Acks) -> Self {
        acks.state.written.fetch_add(1, Ordering::AcqRel);
        acks.state.pending.fetch_add(1, Ordering::AcqRel);
        Self {
            acks: acks.clone(),
            count: 1,
        }
    }

    /// Takes the record back (the write was not accepted): as if it was never written.
    pub fn cancel(mut self) {
        let s = &self.acks.state;
        s.written.fetch_sub(self.count, Ordering::AcqRel);
        self.settle_as(None);
    }

    fn settle_as(&mut self, outcome: Option<Outcome>) {
        let n = std::mem::take(&mut self.count);
        if n == 0 {
            return;
        }
        let s = &self.acks.state;
        match outcome {
            Some(Outcome::Delivered) => {
                s.delivered.fetch_add(n, Ordering::AcqRel);
            }
            Some(Outcome::DeadLettered) => {
                s.dead_lettered.fetch_add(n, Ordering::AcqRel);
            }
            Some(Outcome::Failed) => {
                s.failed.fetch_add(n, Ordering::AcqRel);
                s.failed_batches.fetch_add(1, Ordering::AcqRel);
            }
            None => {}
        }
        if s.pending.fetch_sub(n, Ordering::AcqRel) == n {
            s.notify.notify_waiters();
        }
    }
}

impl Drop for AckRun {
    fn drop(&mut self) {
        self.settle_as(Some(Outcome::Failed));
    }
}

/// The shares of the records of one batch, run-length encoded (consecutive records of one
/// tracker make one run). Records written without a tracker have none.
#[derive(Debug, Default)]
pub(crate) struct AckRuns {
    runs: Vec<AckRun>,
}

impl AckRuns {
    /// Adds the share of the next record of the batch.
    pub fn push(&mut self, mut run: AckRun) {
        if let Some(last) = self.runs.last_mut()
            && last.acks.ptr_eq(&run.acks)
        {
            last.count += std::mem::take(&mut run.count);
            return;
        }
        self.runs.push(run);
    }

    /// Adds the share of one newly written record of `acks`: counted on the tracker now, and
    /// merged into the last run when it is the same tracker (no clone of the tracker then).
    pub fn push_one(&mut self, acks: &Acks) {
        if let Some(last) = self.runs.last_mut()
            && last.acks.ptr_eq(acks)
        {
            let s = &acks.state;
            s.written.fetch_add(1, Ordering::AcqRel);
            s.pending.fetch_add(1, Ordering::AcqRel);
            last.count += 1;
            return;
        }
        self.runs.push(AckRun::one(acks));
    }

    /// Settles every share with `outcome`.
    pub fn settle(&mut self, outcome: Outcome) {
        for mut run in self.runs.drain(..) {
            run.settle_as(Some(outcome));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_merge_settle_and_fail_when_dropped() {
        let a = Acks::new();
        let b = Acks::new();
        let mut runs = AckRuns::default();
        runs.push(AckRun::one(&a));
        runs.push(AckRun::one(&a));
        runs.push(AckRun::one(&b));
        runs.push_one(&b);
        assert_eq!(runs.runs.len(), 2);
        assert_eq!(a.summary().pending, 2);
        assert_eq!((b.summary().written, b.summary().pending), (2, 2));
        runs.settle(Outcome::Delivered);
        assert_eq!(a.settled().await.delivered, 2);
        assert!(b.summary().all_acknowledged());

        let mut lost = AckRuns::default();
        lost.push(AckRun::one(&a));
        assert!(!a.is_settled());
        drop(lost);
        let s = a.settled().await;
        assert_eq!((s.written, s.delivered, s.failed), (3, 2, 1));
        assert!(!s.all_acknowledged());

        let c = Acks::new();
        AckRun::one(&c).cancel();
        assert_eq!(c.summary(), AckSummary::default());
    }
}
