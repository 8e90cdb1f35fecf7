//! The open batches, shared by the writer handles and the delivery task.
//!
//! `write` appends a record to its table's open batch under one short lock (a copy of its bytes,
//! no allocation), and the delivery task hears of a batch once: when its first record arrives
//! (to start its timer) and when it is cut (by size, timer, flush or close). So a record costs
//! no channel hop and no allocation of its own; a batch costs two messages.
//!
//! Every message to the delivery task is sent while the lock is held, so the channel's order is
//! the order of the cuts: the batches of a table arrive in the order they were cut, and a flush
//! or close arrives after every batch holding a record written before it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hashbrown::HashMap;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Command;
use crate::ack::{AckRun, AckRuns, Acks};
use crate::batch::{Open, Records};
use crate::{BatchLimits, Error, Result};

/// One table's open batch.
#[derive(Debug, Default)]
struct OpenTable {
    open: Open<Instant>,
    acks: AckRuns,
    /// Counts the batches cut from this table, so a timer set for one never cuts a later one.
    generation: u64,
}

/// The state behind the lock.
#[derive(Debug)]
pub(super) struct Intake {
    limits: BatchLimits,
    tables: HashMap<Arc<str>, OpenTable>,
    /// `None` once the handles are gone or the delivery task ended.
    tx: Option<mpsc::UnboundedSender<Command>>,
    /// Set by `close` and when the delivery task ends: no record is accepted after it.
    closed: bool,
    /// Records accepted.
    pub written: u64,
    /// The most bytes held at once.
    pub peak: usize,
}

/// A batch taken out of the intake when the delivery task ended.
pub(super) struct Leftover {
    pub table: Arc<str>,
    pub records: Records,
    pub acks: AckRuns,
}

impl Intake {
    pub fn new(limits: BatchLimits, tx: mpsc::UnboundedSender<Command>) -> Self {
        Self {
            limits,
            tables: HashMap::new(),
            tx: Some(tx),
            closed: false,
            written: 0,
            peak: 0,
        }
    }

    /// Whether records are still accepted.
    fn accepting(&self) -> Result<&mpsc::UnboundedSender<Command>> {
        match &self.tx {
            Some(tx) if !self.closed => Ok(tx),
            _ => Err(Error::Closed),
        }
    }

    /// Appends one record of `cost` bytes (at most the batch byte limit) to `table`'s open
    /// batch, cutting the batch before it when it would not fit and after it when full.
    pub fn append(&mut self, table: &str, record: &[u8], acks: Option<&Acks>) -> Result<()> {
        self.accepting()?;
        if !self.tables.contains_key(table) {
            self.tables.insert(Arc::from(table), OpenTable::default());
        }
        let Self {
            limits, tables, tx, ..
        } = self;
        let (Some(tx), Some((key, t))) = (tx.as_ref(), tables.get_key_value_mut(table)) else {
            return Err(Error::Closed); // Checked and inserted just above.
        };
        let cost = record.len() + 1;
        if t.open.must_cut_before(cost, limits) {
            cut(key, t, tx);
        }
        let first = t.open.records.is_empty();
        // An unbounded timeout (or one past the clock's range) means no timer.
        let deadline = if first {
            Instant::now().checked_add(limits.timeout)
        } else {
            None
        };
        let full = t.open.push(record, limits, deadline);
        if let Some(acks) = acks {
            t.acks.push_one(acks);
        }
        if let Some(deadline) = deadline {
            let _ = tx.send(Command::Opened {
                table: Arc::clone(key),
                deadline,
                generation: t.generation,
            });
        }
        if full {
            cut(key, t, tx);
        }
        self.written += 1;
        Ok(())
    }

    /// Hands a record too large for any batch to the delivery task (for the dead-letter sink).
    pub fn append_oversize(
        &mut self,
        table: &str,
        record: Vec<u8>,
        permits: usize,
        acks: Option<&Acks>,
    ) -> Result<()> {
        let tx = self.accepting()?;
        let sent = tx.send(Command::Oversize {
            table: Arc::from(table),
            record,
            permits,
            ack: acks.map(AckRun::one),
        });
        if let Err(mpsc::error::SendError(command)) = sent {
            if let Command::Oversize { ack: Some(ack), .. } = command {
                ack.cancel();
            }
            return Err(Error::Closed);
        }
        self.written += 1;
        Ok(())
    }

    /// Updates the peak of bytes held.
    pub fn note_held(&mut self, held: usize) {
        self.peak = self.peak.max(held);
    }

    /// Cuts `table`'s open batch if it is still the one of `generation` (its timer expired).
    pub fn cut_expired(&mut self, table: &str, generation: u64) {
        let Self { tables, tx, .. } = self;
        if let (Some(tx), Some((key, t))) = (tx.as_ref(), tables.get_key_value_mut(table))
            && t.generation == generation
        {
            cut(key, t, tx);
        }
    }

    /// Cuts every open batch.
    pub fn cut_all(&mut self) {
        let Self { tables, tx, .. } = self;
        if let Some(tx) = tx.as_ref() {
            for (key, t) in tables.iter_mut() {
                cut(key, t, tx);
            }
        }
    }

    /// Cuts every open batch, then sends `command` after them.
    pub fn cut_all_then(&mut self, command: Command) -> Result<()> {
        self.cut_all();
        let tx = self.tx.as_ref().ok_or(Error::Closed)?;
        tx.send(command).map_err(|_| Error::Closed)
    }

    /// Whether the delivery task can still be reached.
    pub fn has_channel(&self) -> bool {
        self.tx.is_some()
    }

    /// Stops accepting records.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// The handles are gone: cuts every open batch and closes the channel, so the delivery
    /// task drains and ends.
    pub fn release(&mut self) {
        self.cut_all();
        self.tx = None;
    }

    /// The delivery task ended: accepts nothing more and hands back what is still open.
    pub fn end(&mut self) -> Vec<Leftover> {
        self.closed = true;
        self.tx = None;
        self.tables
            .drain()
            .filter(|(_, t)| !t.open.records.is_empty())
            .map(|(table, mut t)| Leftover {
                table,
                records: t.open.take(),
                acks: std::mem::take(&mut t.acks),
            })
            .collect()
    }
}

/// Cuts `t`'s open batch (if it holds records) and sends it to the delivery task.
fn cut(key: &Arc<str>, t: &mut OpenTable, tx: &mpsc::UnboundedSender<Command>) {
    if t.open.records.is_empty() {
        return;
    }
    let records = t.open.take();
    let acks = std::mem::take(&mut t.acks);
    let generation = t.generation;
    t.generation += 1;
    // The receiver lives as long as the delivery task; if it is gone, the records are
    // dropped with the command and their acknowledgement shares settle as failed.
    let _ = tx.send(Command::Batch {
        table: Arc::clone(key),
        records,
        acks,
        generation,
    });
}

/// Locks the intake; a poisoned lock is still used (every update under it is a few pushes that
/// leave it consistent).
pub(super) fn lock(intake: &Mutex<Intake>) -> MutexGuard<'_, Intake> {
    intake.lock().unwrap_or_else(PoisonError::into_inner)
}
