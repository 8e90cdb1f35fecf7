//! The batching writer: per-table batches, backpressure, retries, flush and close.

use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::BroadcastStream;

use crate::ack::{AckRun, AckRuns, Acks};
use crate::batch::Records;
use crate::error::Refused;
use crate::event::{Event, EventKind, Events};
use crate::{BatchLimits, Error, Result, RetryPolicy, Sink};

mod intake;
mod report;
mod stats;
mod worker;

use intake::Intake;
pub use report::{CloseReport, TableReport};
pub use stats::names as metric_names;
use stats::{Counter, Counters};

/// Largest buffer a writer accepts (the semaphore counts bytes in `u32` steps).
pub const MAX_BUFFER_BYTES: usize = u32::MAX as usize;

/// Most events a writer keeps for slow handlers and subscribers (its ring of events is
/// allocated up front).
pub const MAX_EVENT_CAPACITY: usize = 1 << 20;

/// Settings of a [`Writer`]; plain data with defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    /// When batches are cut.
    pub batch: BatchLimits,
    /// Most encoded bytes held at once, buffered or in flight (default 8 MiB). `write` waits
    /// while the buffer is full. Must be at least `batch.max_bytes` and at most
    /// [`MAX_BUFFER_BYTES`].
    pub buffer_bytes: usize,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// Events kept for a slow handler or subscriber before the oldest are dropped (default
    /// 1024, at most [`MAX_EVENT_CAPACITY`]).
    pub event_capacity: NonZeroUsize,
    /// Most batches handed to the sink at once, over all tables (default 16). Each table has
    /// at most one batch in flight, so its order is kept.
    pub max_in_flight: NonZeroUsize,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            batch: BatchLimits::default(),
            buffer_bytes: 8 * 1024 * 1024,
            retry: RetryPolicy::default(),
            event_capacity: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            max_in_flight: NonZeroUsize::new(16).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// Builds a [`Writer`].
#[derive(Debug)]
pub struct WriterBuilder {
    sink: Arc<dyn Sink>,
    dead_letter: Option<Arc<dyn Sink>>,
    settings: WriterSettings,
}

impl WriterBuilder {
    /// Replaces all settings.
    pub fn with_settings(mut self, settings: WriterSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Sets the batch limits.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Self {
        self.settings.batch = limits;
        self
    }

    /// Sets the buffer size in bytes (backpressure threshold).
    pub fn with_buffer_bytes(mut self, bytes: usize) -> Self {
        self.settings.buffer_bytes = bytes;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.settings.retry = retry;
        self
    }

    /// Where records go that cannot be delivered: records too large for any batch, and the
    /// records of batches that failed for good. Without one, `write` refuses a record too
    /// large for any batch ([`Error::TooLarge`], which hands it back), and the records of a
    /// batch that failed for good are counted as dropped ([`TableReport::dropped`],
    /// [`WriterStats::dropped`]), settle as failed in their [`Acks`], and a `dead-letter` event
    /// carries the reason.
    pub fn with_dead_letter(mut self, sink: impl Sink) -> Self {
        self.dead_letter = Some(Arc::new(sink));
        self
    }

    /// Starts the writer's delivery task on the current tokio runtime.
    pub fn build(self) -> Result<Writer> {
        let s = &self.settings;
        if s.buffer_bytes < s.batch.max_bytes.get() || s.buffer_bytes > MAX_BUFFER_BYTES {
            return Err(Error::InvalidInput(format!(
                "buffer_bytes must be between batch.max_bytes ({}) and {MAX_BUFFER_BYTES}",
                s.batch.max_bytes
            )));
        }
        if s.event_capacity.get() > MAX_EVENT_CAPACITY {
            return Err(Error::InvalidInput(format!(
                "event_capacity must be at most {MAX_EVENT_CAPACITY}"
            )));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::InvalidInput("a Writer needs a tokio runtime".into()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let buffer = Arc::new(Semaphore::new(s.buffer_bytes));
        let events = Arc::new(Events::new(s.event_capacity.get()));
        let closed = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let intake = Arc::new(Mutex::new(Intake::new(s.batch.clone(), tx)));
        let shared = Arc::new(Shared {
            intake: Arc::clone(&intake),
            buffer: Arc::clone(&buffer),
            closed: Arc::clone(&closed),
            buffer_bytes: s.buffer_bytes,
            max_bytes: s.batch.max_bytes.get(),
            dead_letter: self.dead_letter.is_some(),
            counters: Arc::clone(&counters),
            events: Arc::clone(&events),
        });
        let worker = worker::Worker::new(worker::Parts {
            rx,
            intake,
            sink: self.sink,
            dead_letter: self.dead_letter,
            settings: self.settings,
            events,
            buffer,
            closed,
            counters,
        });
        runtime.spawn(worker.run());
        Ok(Writer { shared })
    }
}

/// A record as JSON, into a buffer sized for a typical record (fewer reallocations).
fn encode<R: Serialize + ?Sized>(record: &R) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, record)?;
    Ok(out)
}

/// A scratch buffer larger than this is not kept for the next record.
const SCRATCH_KEEP: usize = 1 << 20;

thread_local! {
    /// Where `write` encodes a record before copying it into its batch: one buffer per thread,
    /// reused, so encoding allocates nothing.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A message to the delivery task. Sent under the intake lock (see `intake`), so their order
/// is the order of the cuts.
#[derive(Debug)]
enum Command {
    /// The first record of `table`'s open batch number `generation` arrived: cut it at
    /// `deadline` if nothing else does first.
    Opened {
        table: Arc<str>,
        deadline: Instant,
        generation: u64,
    },
    /// A batch was cut.
    Batch {
        table: Arc<str>,
        records: Records,
        acks: AckRuns,
        generation: u64,
    },
    /// A record too large for any batch, for the dead-letter sink.
    Oversize {
        table: Arc<str>,
        record: Vec<u8>,
        permits: usize,
        ack: Option<AckRun>,
    },
    Flush(oneshot::Sender<Result<()>>),
    Close {
        deadline: Instant,
        reply: oneshot::Sender<CloseReport>,
    },
}

#[derive(Debug)]
struct Shared {
    intake: Arc<Mutex<Intake>>,
    buffer: Arc<Semaphore>,
    /// Set by `close`, and by the delivery task when it ends on any path.
    closed: Arc<AtomicBool>,
    buffer_bytes: usize,
    max_bytes: usize,
    dead_letter: bool,
    counters: Arc<Counters>,
    events: Arc<Events>,
}

impl Drop for Shared {
    /// The last handle is gone: what is open is cut, and the delivery task drains it and ends.
    fn drop(&mut self) {
        intake::lock(&self.intake).release();
    }
}

impl Shared {
    /// Refuses a record too large for any batch when there is no dead-letter sink.
    fn refuse_oversize(&self, table: &str, record: &[u8]) -> Result<()> {
        let cost = record.len() + 1;
        if cost > self.max_bytes && !self.dead_letter {
            self.counters.add(Counter::Refused, table, 1);
            return Err(Error::TooLarge(Box::new(Refused {
                table: table.to_owned(),
                bytes: cost,
                max_bytes: self.max_bytes,
                record: record.to_vec(),
            })));
        }
        Ok(())
    }

    /// Bytes held now.
    fn held(&self) -> usize {
        self.buffer_bytes
            .saturating_sub(self.buffer.available_permits())
    }

    /// Appends a record that fits a batch when the buffer has room now, without waiting;
    /// `false` when the caller must wait (buffer full) or the record is too large for a batch.
    fn try_append(&self, table: &str, record: &[u8], acks: Option<&Acks>) -> Result<bool> {
        self.refuse_oversize(table, record)?;
        let cost = record.len() + 1;
        if cost > self.max_bytes {
            return Ok(false);
        }
        // `cost <= max_bytes <= buffer_bytes <= u32::MAX` (checked in `build`).
        let n = u32::try_from(cost).unwrap_or(u32::MAX);
        let Ok(permit) = self.buffer.try_acquire_many(n) else {
            return Ok(false);
        };
        permit.forget();
        self.append(table, record, cost, acks)?;
        Ok(true)
    }

    /// Appends a record whose `permits` are taken; gives them back if it is not accepted.
    fn append(
        &self,
        table: &str,
        record: &[u8],
        permits: usize,
        acks: Option<&Acks>,
    ) -> Result<()> {
        let held = self.held();
        let mut intake = intake::lock(&self.intake);
        let appended = intake.append(table, record, acks);
        if appended.is_ok() {
            intake.note_held(held);
        }
        drop(intake);
        if appended.is_err() {
            self.buffer.add_permits(permits);
        }
        appended
    }
}

/// Counters of a writer, readable at any time ([`Writer::stats`]). Every record `write`
/// accepted ends in exactly one of `delivered`, `dead_lettered`, `dropped` or `abandoned` (or
/// is still held); `refused` ones were handed back by `write`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Records accepted by `write`.
    pub written: u64,
    /// Records the sink accepted.
    pub delivered: u64,
    /// Batches the sink accepted.
    pub delivered_batches: u64,
    /// Delivery attempts that failed and were tried again.
    pub retried: u64,
    /// Records the dead-letter sink accepted.
    pub dead_lettered: u64,
    /// Records `write` refused and handed back ([`Error::TooLarge`]).
    pub refused: u64,
    /// Records in batches that failed for good in the sink (some may then be dead-lettered).
    pub failed: u64,
    /// Records that reached no sink: failed for good without a dead-letter sink, or the
    /// dead-letter sink failed too.
    pub dropped: u64,
    /// Records still held when the close deadline passed, handed back in the
    /// [`CloseReport`].
    pub abandoned: u64,
    /// Bytes held now (buffered or in flight).
    pub buffered_bytes: usize,
    /// The most bytes ever held at once.
    pub peak_buffered_bytes: usize,
    /// The configured buffer size.
    pub buffer_bytes: usize,
    /// Events lost by slow handlers or subscribers.
    pub events_dropped: u64,
    /// Event handler calls that panicked.
    pub handler_panics: u64,
}

/// Batches records per table and delivers them to a [`Sink`], at least once and in order per
/// table, holding at most its configured buffer.
///
/// Cheap to clone; all clones feed the same delivery task. Call [`Writer::close`] before the
/// program ends: it drains what is buffered and reports what could not be delivered. If every
/// clone is dropped without `close`, the delivery task still drains on its own (unreported).
#[derive(Debug, Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

impl Writer {
    /// A builder delivering to `sink`.
    pub fn builder(sink: impl Sink) -> WriterBuilder {
        WriterBuilder {
            sink: Arc::new(sink),
            dead_letter: None,
            settings: WriterSettings::default(),
        }
    }

    /// Encodes `record` as JSON and queues it for `table`; waits while the buffer is full.
    ///
    /// Returns [`Error::Encode`] when the record cannot be encoded, [`Error::TooLarge`] (with
    /// the record) when it is larger than any batch and there is no dead-letter sink, and
    /// [`Error::Closed`] after [`Writer::close`] or once the writer ended.
    pub async fn write<R: Serialize + ?Sized>(&self, table: &str, record: &R) -> Result<()> {
        self.write_value(table, record, None).await
    }

    /// [`Writer::write`], and the record's outcome is counted in `acks`: once
    /// [`Acks::settled`] returns, every record written with it is delivered, durably
    /// dead-lettered, or failed (end-to-end acknowledgement). Use one tracker per record for a
    /// future per write, or one per page of records for a checkpoint.
    pub async fn write_tracked<R: Serialize + ?Sized>(
        &self,
        table: &str,
        record: &R,
        acks: &Acks,
    ) -> Result<()> {
        self.write_value(table, record, Some(acks)).await
    }

    /// Queues one already-encoded JSON value for `table` (the bytes are not checked).
    pub async fn write_encoded(&self, table: &str, record: Vec<u8>) -> Result<()> {
        self.send(table, record, None).await
    }

    /// [`Writer::write_encoded`] with the outcome counted in `acks`.
    pub async fn write_encoded_tracked(
        &self,
        table: &str,
        record: Vec<u8>,
        acks: &Acks,
    ) -> Result<()> {
        self.send(table, record, Some(acks)).await
    }

    /// Encodes into this thread's scratch buffer and appends from there when the buffer has
    /// room; otherwise takes the record along to wait for room.
    async fn write_value<R: Serialize + ?Sized>(
        &self,
        table: &str,
        record: &R,
        acks: Option<&Acks>,
    ) -> Result<()> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let waiting = SCRATCH.with(|cell| -> Result<Option<Vec<u8>>> {
            // Taken only here, never across an await; a nested use cannot happen, but would
            // just encode into a buffer of its own.
            let Ok(mut buf) = cell.try_borrow_mut() else {
                return Ok(Some(encode(record)?));
            };
            buf.clear();
            let done = serde_json::to_writer(&mut *buf, record)
                .map_err(Error::from)
                .and_then(|()| s.try_append(table, &buf, acks));
            let waiting = match done {
                Ok(true) => None,
                Ok(false) => Some(buf.clone()),
                Err(e) => {
                    if buf.capacity() > SCRATCH_KEEP {
                        *buf = Vec::new();
                    }
                    return Err(e);
                }
            };
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            Ok(waiting)
        })?;
        match waiting {
            None => Ok(()),
            Some(record) => self.send(table, record, acks).await,
        }
    }

    /// Queues an owned record, waiting for room in the buffer.
    async fn send(&self, table: &str, record: Vec<u8>, acks: Option<&Acks>) -> Result<()> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        s.refuse_oversize(table, &record)?;
        let cost = record.len() + 1;
        let permits = cost.min(s.buffer_bytes);
        // `permits <= buffer_bytes <= u32::MAX` (checked in `build`).
        let n = u32::try_from(permits).unwrap_or(u32::MAX);
        let permit = match s.buffer.try_acquire_many(n) {
            Ok(p) => p,
            Err(_) => s.buffer.acquire_many(n).await.map_err(|_| Error::Closed)?,
        };
        permit.forget();
        if cost <= s.max_bytes {
            return s.append(table, &record, permits, acks);
        }
        let held = s.held();
        let mut intake = intake::lock(&s.intake);
        let sent = intake.append_oversize(table, record, permits, acks);
        if sent.is_ok() {
            intake.note_held(held);
        }
        drop(intake);
        if sent.is_err() {
            s.buffer.add_permits(permits);
        }
        sent
    }

    /// Hands every open batch to the sink now, without waiting for anything (a flush that
    /// does not wait). Pair it with [`Acks::settled`] to wait for one's own records only.
    pub fn send_open_batches(&self) -> Result<()> {
        let mut intake = intake::lock(&self.shared.intake);
        intake.cut_all();
        if intake.has_channel() {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Sends every open batch now and waits until everything written before this call has an
    /// outcome. Returns [`Error::Undelivered`] for the batches written before it that failed
    /// for good (and were not dead-lettered) since the previous flush answered: each failure is
    /// reported once, to the first flush that covers it, so one failure never fails later
    /// flushes. A writer shared by several producers should track each producer's records
    /// with [`Writer::write_tracked`] instead: a flush is a barrier over every producer.
    pub async fn flush(&self) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        intake::lock(&self.shared.intake).cut_all_then(Command::Flush(reply))?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Stops accepting records, delivers what is buffered until `deadline`, and reports what was
    /// and was not delivered. Batches still pending at the deadline are abandoned and returned
    /// in the report. A second `close` returns [`Error::Closed`].
    pub async fn close(&self, deadline: Instant) -> Result<CloseReport> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Err(Error::Closed);
        }
        let (reply, rx) = oneshot::channel();
        {
            let mut intake = intake::lock(&self.shared.intake);
            intake.close();
            intake.cut_all_then(Command::Close { deadline, reply })?;
        }
        rx.await.map_err(|_| Error::Closed)
    }

    /// Calls `handler` for every event of `kind`, on the writer's event thread. A handler that
    /// panics is counted and called again for later events; a slow one never delays delivery.
    pub fn on(&self, kind: EventKind, handler: impl Fn(&Event) + Send + Sync + 'static) {
        self.shared.events.on(kind, Arc::new(handler));
    }

    /// Every event from now on, as a stream. A subscriber that falls behind by more than the
    /// event capacity misses the oldest events (counted in [`WriterStats::events_dropped`]).
    pub fn events(&self) -> impl Stream<Item = Event> + Send + Unpin + 'static + use<> {
        let stats = Arc::clone(&self.shared.events.stats);
        BroadcastStream::new(self.shared.events.subscribe()).filter_map(move |item| {
            futures::future::ready(match item {
                Ok(event) => Some(event),
                Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                    stats.dropped.fetch_add(n, Ordering::Relaxed);
                    None
                }
            })
        })
    }

    /// Current counters.
    pub fn stats(&self) -> WriterStats {
        let s = &self.shared;
        let c = &s.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let (written, peak) = {
            let intake = intake::lock(&s.intake);
            (intake.written, intake.peak)
        };
        WriterStats {
            written,
            delivered: load(&c.delivered),
            delivered_batches: load(&c.delivered_batches),
            retried: load(&c.retried),
            dead_lettered: load(&c.dead_lettered),
            refused: load(&c.refused),
            failed: load(&c.failed),
            dropped: load(&c.dropped),
            abandoned: load(&c.abandoned),
            buffered_bytes: s.buffer_bytes.saturating_sub(s.buffer.available_permits()),
            peak_buffered_bytes: peak,
            buffer_bytes: s.buffer_bytes,
            events_dropped: s.events.stats.dropped.load(Ordering::Relaxed),
            handler_panics: s.events.stats.handler_panics.load(Ordering::Relaxed),
        }
    }
}
