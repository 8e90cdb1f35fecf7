//! The batching writer: per-table batches, backpressure, retries, flush and close.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::BroadcastStream;

use crate::ack::{AckRun, Acks};
use crate::error::Refused;
use crate::event::{Event, EventKind, Events};
use crate::{BatchLimits, Error, Result, RetryPolicy, Sink};

mod report;
mod stats;
mod worker;

pub use report::{CloseReport, TableReport};
pub use stats::names as metric_names;
use stats::{Counter, Counters};

/// Largest buffer a writer accepts (the semaphore counts bytes in `u32` steps).
pub const MAX_BUFFER_BYTES: usize = u32::MAX as usize;

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
    /// 1024).
    pub event_capacity: usize,
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
            event_capacity: 1024,
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
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::InvalidInput("a Writer needs a tokio runtime".into()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let buffer = Arc::new(Semaphore::new(s.buffer_bytes));
        let events = Arc::new(Events::new(s.event_capacity));
        let closed = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            tx,
            buffer: Arc::clone(&buffer),
            closed: Arc::clone(&closed),
            buffer_bytes: s.buffer_bytes,
            max_bytes: s.batch.max_bytes.get(),
            dead_letter: self.dead_letter.is_some(),
            peak: AtomicUsize::new(0),
            counters: Arc::clone(&counters),
            events: Arc::clone(&events),
        });
        let worker = worker::Worker::new(worker::Parts {
            rx,
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

/// A command from the handles to the delivery task.
#[derive(Debug)]
enum Command {
    Write {
        table: Box<str>,
        record: Vec<u8>,
        permits: usize,
        ack: Option<AckRun>,
    },
    /// Cut every open batch now, without waiting.
    Cut,
    Flush(oneshot::Sender<Result<()>>),
    Close {
        deadline: Instant,
        reply: oneshot::Sender<CloseReport>,
    },
}

#[derive(Debug)]
struct Shared {
    tx: mpsc::UnboundedSender<Command>,
    buffer: Arc<Semaphore>,
    /// Set by `close`, and by the delivery task when it ends on any path.
    closed: Arc<AtomicBool>,
    buffer_bytes: usize,
    max_bytes: usize,
    dead_letter: bool,
    peak: AtomicUsize,
    counters: Arc<Counters>,
    events: Arc<Events>,
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
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.send(table, encode(record)?, None).await
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
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.send(table, encode(record)?, Some(acks)).await
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

    async fn send(&self, table: &str, record: Vec<u8>, acks: Option<&Acks>) -> Result<()> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let cost = record.len() + 1;
        if cost > s.max_bytes && !s.dead_letter {
            s.counters.add(Counter::Refused, table, 1);
            return Err(Error::TooLarge(Box::new(Refused {
                table: table.to_owned(),
                bytes: cost,
                max_bytes: s.max_bytes,
                record,
            })));
        }
        let permits = cost.min(s.buffer_bytes);
        // `permits <= buffer_bytes <= u32::MAX` (checked in `build`).
        let n = u32::try_from(permits).unwrap_or(u32::MAX);
        let permit = match s.buffer.try_acquire_many(n) {
            Ok(p) => p,
            Err(_) => s.buffer.acquire_many(n).await.map_err(|_| Error::Closed)?,
        };
        permit.forget();
        let held = s.buffer_bytes - s.buffer.available_permits();
        s.peak.fetch_max(held, Ordering::Relaxed);
        let ack = acks.map(AckRun::one);
        let sent = s.tx.send(Command::Write {
            table: table.into(),
            record,
            permits,
            ack,
        });
        if let Err(mpsc::error::SendError(command)) = sent {
            if let Command::Write { ack: Some(ack), .. } = command {
                ack.cancel();
            }
            return Err(Error::Closed);
        }
        s.counters
            .written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Hands every open batch to the sink now, without waiting for anything (a flush that
    /// does not wait). Pair it with [`Acks::settled`] to wait for one's own records only.
    pub fn send_open_batches(&self) -> Result<()> {
        self.shared.tx.send(Command::Cut).map_err(|_| Error::Closed)
    }

    /// Sends every open batch now and waits until everything written before this call has an
    /// outcome. Returns [`Error::Undelivered`] for the batches written before it that failed
    /// for good (and were not dead-lettered) since the previous flush answered: each failure is
    /// reported once, to the first flush that covers it, so one failure never fails later
    /// flushes. A writer shared by several producers should track each producer's records
    /// with [`Writer::write_tracked`] instead: a flush is a barrier over every producer.
    pub async fn flush(&self) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .tx
            .send(Command::Flush(reply))
            .map_err(|_| Error::Closed)?;
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
        self.shared
            .tx
            .send(Command::Close { deadline, reply })
            .map_err(|_| Error::Closed)?;
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
        WriterStats {
            written: load(&c.written),
            delivered: load(&c.delivered),
            delivered_batches: load(&c.delivered_batches),
            retried: load(&c.retried),
            dead_lettered: load(&c.dead_lettered),
            refused: load(&c.refused),
            failed: load(&c.failed),
            dropped: load(&c.dropped),
            abandoned: load(&c.abandoned),
            buffered_bytes: s.buffer_bytes.saturating_sub(s.buffer.available_permits()),
            peak_buffered_bytes: s.peak.load(Ordering::Relaxed),
            buffer_bytes: s.buffer_bytes,
            events_dropped: s.events.stats.dropped.load(Ordering::Relaxed),
            handler_panics: s.events.stats.handler_panics.load(Ordering::Relaxed),
        }
    }
}
