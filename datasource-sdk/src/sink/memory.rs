//! An in-memory sink: for tests, benchmarks and as a default dead-letter sink.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::Sink;
use crate::{Batch, BatchId, Error, Result};

/// Keeps every delivered batch in memory, dropping a batch whose id it has already stored.
#[derive(Debug, Default)]
pub struct MemorySink {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<BatchId>,
    /// The stored batches of each table (batches share their records: storing one is O(1)).
    tables: BTreeMap<String, Vec<Batch>>,
    batches: Vec<(BatchId, String, usize, usize)>,
    duplicates: u64,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` half-updated in a way that
        // matters to readers (each update is a few pushes), so a poisoned lock is still used.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The encoded records stored for `table`, in delivery order.
    pub fn raw_records(&self, table: &str) -> Vec<Vec<u8>> {
        self.lock()
            .tables
            .get(table)
            .map(|batches| {
                batches
                    .iter()
                    .flat_map(|b| b.records().map(<[u8]>::to_vec))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The records stored for `table`, decoded, in delivery order.
    pub fn records(&self, table: &str) -> Result<Vec<serde_json::Value>> {
        self.lock()
            .tables
            .get(table)
            .map(|batches| {
                batches
                    .iter()
                    .flat_map(Batch::records)
                    .map(|r| serde_json::from_slice(r).map_err(Error::from))
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Tables that received at least one batch.
    pub fn tables(&self) -> Vec<String> {
        self.lock().tables.keys().cloned().collect()
    }

    /// Every stored batch as `(id, table, records, bytes)`, in delivery order.
    pub fn batches(&self) -> Vec<(BatchId, String, usize, usize)> {
        self.lock().batches.clone()
    }

    /// Total records stored.
    pub fn len(&self) -> usize {
        self.lock()
            .tables
            .values()
            .flat_map(|batches| batches.iter().map(Batch::len))
            .sum()
    }

    /// Whether nothing was stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many deliveries were dropped as duplicates of a stored batch.
    pub fn duplicates(&self) -> u64 {
        self.lock().duplicates
    }
}

#[async_trait]
impl Sink for MemorySink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let mut inner = self.lock();
        if !inner.seen.insert(batch.id()) {
            inner.duplicates += 1;
            return Ok(());
        }
        inner.batches.push((
            batch.id(),
            batch.table().to_owned(),
            batch.len(),
            batch.bytes(),
        ));
        match inner.tables.get_mut(batch.table()) {
            Some(stored) => stored.push(batch.clone()),
            None => {
                inner
                    .tables
                    .insert(batch.table().to_owned(), vec![batch.clone()]);
            }
        }
        Ok(())
    }
}
