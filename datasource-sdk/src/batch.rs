//! Batches and the rules that cut them: record count, encoded bytes, and time.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// When a batch is sent: whichever limit is reached first.
///
/// The size of a record is its JSON encoding plus one byte for the newline that separates records
/// (the original counted the characters of its buffered text the same way). A batch never holds
/// more than `max_records` records nor more than `max_bytes` bytes; a record that alone exceeds
/// `max_bytes` goes to the dead-letter sink instead. The timer starts when the first record of a
/// batch arrives: that record waits at most `timeout` before its batch is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most records in one batch (default 10,000; the original had no count limit).
    pub max_records: NonZeroUsize,
    /// Most encoded bytes in one batch (default 256,000, as the original).
    pub max_bytes: NonZeroUsize,
    /// How long the first record of a batch may wait (default 2 s, as the original).
    /// `Duration::MAX` means no timer: batches are cut only by size, flush and close.
    pub timeout: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_records: NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
            max_bytes: NonZeroUsize::new(256_000).unwrap_or(NonZeroUsize::MIN),
            timeout: Duration::from_secs(2),
        }
    }
}

/// The identity of a batch, stable across every retry of it, so a sink can drop duplicates.
///
/// Made of a random id of the writer that built it and the batch's sequence number in that writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId {
    /// Random id of the writer instance.
    pub writer: u64,
    /// Sequence number of the batch in that writer, from 0.
    pub seq: u64,
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:010}", self.writer, self.seq)
    }
}

/// JSON-encoded records stored end to end in one buffer, each followed by a newline (so the
/// buffer is the batch as JSON lines), with the end of each record: one allocation per batch,
/// not one per record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Records {
    /// The records, each followed by `\n`.
    data: Vec<u8>,
    /// Where each record ends in `data` (its newline's position).
    ends: Vec<usize>,
}

impl Records {
    /// Empty, with room for `bytes` bytes and `records` records.
    pub fn with_capacity(bytes: usize, records: usize) -> Self {
        Self {
            data: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(records),
        }
    }

    /// Appends one record (without newline).
    pub fn push(&mut self, record: &[u8]) {
        self.data.extend_from_slice(record);
        self.ends.push(self.data.len());
        self.data.push(b'\n');
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Encoded bytes: record lengths plus one newline each.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The records, in order.
    pub fn iter(&self) -> RecordIter<'_> {
        RecordIter {
            data: &self.data,
            ends: self.ends.iter(),
            start: 0,
        }
    }
}

/// The records of a [`Records`] buffer, in order.
#[derive(Debug, Clone)]
pub(crate) struct RecordIter<'a> {
    data: &'a [u8],
    ends: std::slice::Iter<'a, usize>,
    start: usize,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = *self.ends.next()?;
        // `start <= end <= data.len()` by construction in `Records::push`; `get` keeps even
        // a broken invariant from panicking.
        let record = self.data.get(self.start..end).unwrap_or_default();
        self.start = end + 1;
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ends.size_hint()
    }
}

impl ExactSizeIterator for RecordIter<'_> {}

/// A batch of JSON-encoded records for one table, handed to a [`crate::Sink`]. Cloning is
/// cheap: the records are shared, so a sink may keep the batch itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    id: BatchId,
    table: Arc<str>,
    created: SystemTime,
    records: Arc<Records>,
}

impl Batch {
    /// A batch from already-encoded JSON records (each one JSON value, without newline).
    pub fn new(id: BatchId, table: impl Into<Arc<str>>, records: Vec<Vec<u8>>) -> Self {
        let bytes = records.iter().map(|r| r.len() + 1).sum();
        let mut stored = Records::with_capacity(bytes, records.len());
        for r in &records {
            stored.push(r);
        }
        Self::from_records(id, table.into(), stored)
    }

    /// A batch of records gathered by the writer.
    pub(crate) fn from_records(id: BatchId, table: Arc<str>, records: Records) -> Self {
        Self {
            id,
            table,
            created: SystemTime::now(),
            records: Arc::new(records),
        }
    }

    /// The stable id of this batch.
    pub fn id(&self) -> BatchId {
        self.id
    }

    /// The table the records belong to.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The shared table name.
    pub(crate) fn table_arc(&self) -> &Arc<str> {
        &self.table
    }

    /// When the batch was cut (wall clock); stable across retries (S3 keys use its date).
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// The JSON-encoded records, in the order they were written.
    pub fn records(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.records.iter()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encoded size: the sum of record lengths plus one newline per record.
    pub fn bytes(&self) -> usize {
        self.records.bytes()
    }

    /// The records as JSON lines (each record followed by `\n`), borrowed: the batch stores
    /// them this way.
    pub fn json_lines(&self) -> &[u8] {
        &self.records.data
    }

    /// The records as JSON lines (each record followed by `\n`), copied.
    pub fn to_json_lines(&self) -> Vec<u8> {
        self.records.data.clone()
    }

    /// Each record decoded as a JSON value.
    pub fn to_values(&self) -> crate::Result<Vec<serde_json::Value>> {
        self.records()
            .map(|r| serde_json::from_slice(r).map_err(crate::Error::from))
            .collect()
    }
}

/// Records gathered for one table until a limit cuts them into a batch.
#[derive(Debug)]
pub(crate) struct Open<T> {
    /// Records so far.
    pub records: Records,
    /// When the first record arrived plus the timeout (`None`: no timer, e.g. an unbounded
    /// timeout, or no record yet).
    pub deadline: Option<T>,
}

impl<T> Default for Open<T> {
    fn default() -> Self {
        Self {
            records: Records::default(),
            deadline: None,
        }
    }
}

impl<T> Open<T> {
    /// Whether a record of `cost` bytes (length + newline) must start a new batch: the open
    /// batch holds records and the record would take it past the byte limit.
    pub fn must_cut_before(&self, cost: usize, limits: &BatchLimits) -> bool {
        !self.records.is_empty()
            && self.records.bytes().saturating_add(cost) > limits.max_bytes.get()
    }

    /// Adds a record; `deadline` becomes the batch's deadline when it is the first record.
    /// Returns whether the batch is now full (by count or bytes) and must be cut.
    pub fn push(&mut self, record: &[u8], limits: &BatchLimits, deadline: Option<T>) -> bool {
        if self.records.is_empty() {
            self.deadline = deadline;
        }
        self.records.push(record);
        self.records.len() >= limits.max_records.get()
            || self.records.bytes() >= limits.max_bytes.get()
    }

    /// Empties the batch, returning its records. The next batch starts with room for as many
    /// as this one held (tables tend to cut batches of one size), so the buffer grows once.
    pub fn take(&mut self) -> Records {
        self.deadline = None;
        let next = Records::with_capacity(self.records.bytes(), self.records.len());
        std::mem::replace(&mut self.records, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_records: usize, max_bytes: usize) -> BatchLimits {
        BatchLimits {
            max_records: NonZeroUsize::new(max_records).unwrap(),
            max_bytes: NonZeroUsize::new(max_bytes).unwrap(),
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn defaults_match_the_original() {
        let l = BatchLimits::default();
        assert_eq!(l.max_bytes.get(), 256_000);
        assert_eq!(l.timeout, Duration::from_secs(2));
    }

    #[test]
    fn cuts_before_a_record_that_does_not_fit_and_when_full() {
        let l = limits(100, 10);
        let mut open = Open::default();
        assert!(
            !open.must_cut_before(11, &l),
            "the first record is always admitted"
        );
        assert!(!open.push(b"123", &l, Some(5u32)));
        assert!(!open.push(b"123", &l, Some(6u32)));
        assert_eq!((open.records.bytes(), open.deadline), (8, Some(5)));
        // 8 + 4 > 10: the open batch must be cut first.
        assert!(open.must_cut_before(4, &l));
        assert_eq!(open.take().len(), 2);
        assert!(!open.push(b"123", &l, None));
        // Exactly full (4 + 6 = 10).
        assert!(open.push(b"12345", &l, None));
        let l = limits(2, 1000);
        let mut open = Open::<u32>::default();
        assert!(!open.push(b"1", &l, None));
        assert!(open.push(b"1", &l, None));
    }

    #[test]
    fn batch_accessors() {
        let b = Batch::new(
            BatchId { writer: 1, seq: 2 },
            "t",
            vec![b"{\"a\":1}".to_vec(), b"2".to_vec()],
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b.bytes(), 10);
        assert_eq!(b.to_json_lines(), b"{\"a\":1}\n2\n");
        assert_eq!(b.json_lines(), b"{\"a\":1}\n2\n");
        let records = b.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records.collect::<Vec<_>>(), [&b"{\"a\":1}"[..], b"2"]);
        let empty = Batch::new(BatchId { writer: 1, seq: 3 }, "t", vec![Vec::new()]);
        assert_eq!(empty.records().collect::<Vec<_>>(), [&b""[..]]);
        assert_eq!(empty.bytes(), 1);
        assert_eq!(b.id().to_string(), "0000000000000001-0000000002");
        assert_eq!(b.to_values().unwrap()[1], serde_json::json!(2));
    }
}
